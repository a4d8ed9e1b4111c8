"""What a section of ``bulletproof check`` is made of, and the interface each capability implements.

A capability adds its section to the report with a :class:`SectionSource`: a ``name`` and
``collect(context)``, which returns the section's items. An item is either a :class:`CheckItem`
already decided, or a :class:`Probe` (a check that waits on something outside the process: a
sink, a notifier), which the runner starts with every other probe of the run and waits for under
one deadline. The :class:`CheckContext` gives every source the loaded config, the timeout, the
clock, the path to grade, and the app, imported once for all sources.

How a source says what happened:

* the section does not apply to this project (nothing is configured for it): one item
  :attr:`Status.SKIPPED` whose detail says why and what would make it apply. It does not change
  the result;
* the section applies but could not run (the app does not import, a grader error): an item
  :attr:`Status.ERROR` saying why. The report is then incomplete (exit 3, unless there are
  findings);
* the config is wrong for the section (a sink URL that is not valid): raise
  :class:`~bulletproof.errors.ConfigError`; the report is then "invalid configuration" (exit 2);
* nothing to check (no sink configured): no items.

A source that raises anything else is reported as an :attr:`Status.ERROR` of its section, so a
bug in one capability never hides the others.

Added in 0.1.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulletproof.clock import Clock
from bulletproof.config import Config
from bulletproof.errors import ConfigError

__all__ = [
    "CheckContext",
    "CheckItem",
    "CheckReport",
    "CheckSection",
    "Probe",
    "SectionSource",
    "Status",
]


class Status(enum.Enum):
    """The outcome of one check item. Added in 0.1."""

    OK = "ok"
    """Checked, and nothing is wrong."""
    FINDING = "finding"
    """Checked, and something is wrong (exit 1; in the ``config`` section: exit 2)."""
    ERROR = "error"
    """It applies, but could not be checked (exit 3 unless there are findings)."""
    SKIPPED = "skipped"
    """It does not apply to this project (the detail says why); it does not change the result."""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One thing checked. Added in 0.1."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class Probe:
    """A check that waits on something outside the process, run in parallel with the others.

    ``run()`` returns the detail of a success; a :class:`~bulletproof.errors.BulletproofError`
    it raises is a finding (its message is the detail), any other exception an error. A probe
    that has not answered by the run's deadline is a finding ("no answer within ...").

    Added in 0.1.
    """

    name: str
    run: Callable[[], str]


@dataclass(frozen=True, slots=True)
class CheckSection:
    """A group of items (config, sinks, notifiers, ...). Added in 0.1."""

    name: str
    items: tuple[CheckItem, ...]

    @property
    def incomplete(self) -> bool:
        """Whether an item of this section applies but could not be checked. Added in 0.1."""
        return any(item.status is Status.ERROR for item in self.items)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``bulletproof check`` found. Added in 0.1."""

    target: str
    sections: tuple[CheckSection, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings, 2 bad input (invalid config), 3 could not check everything.

        A :attr:`Status.SKIPPED` item (it does not apply) counts as clean; an
        :attr:`Status.ERROR` one (it applies, but could not be checked) makes the report
        incomplete. Findings win over incompleteness: exit 1 says there is something to fix
        (and :attr:`incomplete` still names what could not be checked).

        Added in 0.1.
        """
        statuses = [i.status for s in self.sections for i in s.items]
        config_bad = any(
            i.status is Status.FINDING for s in self.sections if s.name == "config" for i in s.items
        )
        if config_bad:
            return 2
        if Status.FINDING in statuses:
            return 1
        if Status.ERROR in statuses:
            return 3
        return 0

    @property
    def incomplete(self) -> tuple[str, ...]:
        """The sections that apply but could not be (completely) checked. Added in 0.1."""
        return tuple(section.name for section in self.sections if section.incomplete)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form. Added in 0.1."""
        return {
            "target": self.target,
            "exit_code": self.exit_code,
            "sections": [
                {
                    "name": s.name,
                    "items": [
                        {"name": i.name, "status": i.status.value, "detail": i.detail}
                        for i in s.items
                    ],
                }
                for s in self.sections
            ],
        }


class CheckContext:
    """What every :class:`SectionSource` of one run gets.

    ``config`` is the loaded config; ``timeout`` the seconds each probe, fetch or call to the
    app may take; ``clock`` the clock to time them with; ``check_path`` the path whose headers
    are graded (``"/"`` unless asked). :meth:`app` imports the configured app once for all the
    sources of the run.

    Added in 0.1.
    """

    __slots__ = ("_app", "_lock", "check_path", "clock", "config", "timeout")

    def __init__(self, config: Config, *, timeout: float, clock: Clock, check_path: str = "/"):
        self.config = config
        self.timeout = timeout
        self.clock = clock
        self.check_path = check_path
        self._lock = threading.Lock()
        self._app: tuple[object, ConfigError | None] | None = None

    def app(self) -> object:
        """The app the config's ``app`` names, imported (from the config's directory) on the
        first call; later calls return it, or raise the same ConfigError again.

        Raises ConfigError when no app is configured (check ``config.app`` first: then the
        section does not apply) or when the app does not import.

        Added in 0.1.
        """
        spec = self.config.app
        if spec is None:
            raise ConfigError("no app configured: set app = 'module:attr' in [tool.bulletproof]")
        with self._lock:
            if self._app is None:
                from bulletproof._apploader import load_app

                try:
                    self._app = (load_app(spec, cwd=self.config.root), None)
                except ConfigError as exc:
                    self._app = (None, exc)
            app, error = self._app
        if error is not None:
            raise error
        return app


class SectionSource(Protocol):
    """One section of ``bulletproof check``: what a capability contributes to the report.

    ``name`` is the section's name in the report; ``collect`` returns its items in order
    (decided :class:`CheckItem`\\ s and :class:`Probe`\\ s to run). See the module's docstring
    for how a source says that its section does not apply, could not run, or meets an invalid
    config.

    Added in 0.1.
    """

    @property
    def name(self) -> str:
        """The section's name in the report. Added in 0.1."""

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """The section's items. Added in 0.1."""
