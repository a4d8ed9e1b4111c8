"""``[tool.bulletproof.shield]``: request inspection in the guard.

>>> ShieldConfig().mode, ShieldConfig().body_limit
('monitor', 65536)

```toml
[tool.bulletproof.shield]
mode = "block"                      # or "monitor" (the default): log only
threshold = 5                       # the score that makes a request malicious
body_limit = "64KiB"                # the start of a body that is read and inspected
sample_traffic = "traffic.jsonl"    # requests `bulletproof check` replays (see docs/detect.md)
disabled_rules = ["bp-942280"]      # rule ids or family prefixes, off everywhere
exclusions = [
  { path = "/cms/*", rules = ["bp-941"] },          # XSS rules off on the CMS
  { path = "/api/search", fields = ["query:q"] },   # one field not judged there
  { path = "/healthz" },                            # not inspected at all
]
```

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

from bulletproof._settings import (
    Context,
    FileOnly,
    Given,
    Parse,
    Rule,
    Size,
    check_ranges,
    type_error,
)
from bulletproof.clock import Clock, system_clock
from bulletproof.detect._inspector import Exclusion, Inspector
from bulletproof.detect._shield import Shield
from bulletproof.errors import ConfigError

if TYPE_CHECKING:
    from bulletproof.events.base import Emitter

__all__ = ["MODES", "ShieldConfig"]

MODES: Final = ("monitor", "block")
"""The shield's modes: ``monitor`` logs, ``block`` also refuses malicious requests (403)."""

_KIB: Final = 1024
_EXCLUSION_KEYS: Final = ("path", "rules", "fields")


def _names(value: object, loc: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{loc}.{key} = {value!r}: use a list of strings, e.g. ["bp-941"]')
    return tuple(value)


def _exclusions(given: Given, ctx: Context, parsed: Mapping[str, Any]) -> tuple[Exclusion, ...]:
    if not isinstance(given.value, list | tuple):
        raise type_error(
            given.loc,
            given.value,
            'a list of tables: [{ path = "/cms/*", rules = ["bp-941"] }]',
            ctx,
        )
    out: list[Exclusion] = []
    for index, entry in enumerate(given.value):
        loc = str(given.loc.at(f"[{index}]"))
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"{loc} = {entry!r}: each exclusion is a table with path and optionally rules "
                'and fields: { path = "/cms/*", rules = ["bp-941"] }'
            )
        unknown = [k for k in entry if k not in _EXCLUSION_KEYS]
        if unknown:
            raise ConfigError(
                f"{loc}: unknown key {unknown[0]!r}; an exclusion has path, rules and fields"
            )
        path = entry.get("path")
        if not isinstance(path, str):
            raise ConfigError(f'{loc}: path is missing; give the URL path glob, e.g. "/cms/*"')
        try:
            out.append(
                Exclusion(
                    path,
                    rules=_names(entry.get("rules", ()), loc, "rules"),
                    fields=_names(entry.get("fields", ()), loc, "fields"),
                )
            )
        except ConfigError as exc:
            raise ConfigError(f"{loc}: {exc}") from None
    return tuple(out)


_RULES: Final[tuple[Rule, ...]] = (
    (
        "mode",
        lambda o: o.mode in MODES,
        lambda o: "use 'monitor' (log only, the default) or 'block' (403 before the app runs)",
        (),
    ),
    (
        "threshold",
        lambda o: 1 <= o.threshold <= 100,
        lambda o: "use from 1 to 100 (5: one strong signature)",
        (),
    ),
    (
        "body_limit",
        lambda o: 0 <= o.body_limit <= 16 * _KIB * _KIB,
        lambda o: "use from 0 (bodies not inspected) to 16MiB",
        (),
    ),
)


@dataclass(frozen=True, slots=True)
class ShieldConfig:
    """Request inspection: on (``enabled``), how (``mode``), and its tuning.

    ``enabled`` runs the :class:`~bulletproof.detect.Inspector` on every request;
    ``mode`` is ``monitor`` (a ``SecurityEvent`` per malicious or invalid request, nothing
    refused) or ``block`` (malicious requests are answered 403, naming the event id, before the
    app runs). ``body_limit`` is how much of a body is read for inspection (the app still gets
    all of it); ``app_errors`` makes a 4xx that the app answered an ``invalid_request`` event.
    ``threshold``, ``disabled_rules`` and ``exclusions`` tune the inspector.
    ``sample_traffic`` names a JSON-lines file of recorded requests (relative to the config's
    directory) that ``bulletproof check`` replays to show what the shield would catch.

    Added in 0.1.
    """

    enabled: bool = True
    mode: str = "monitor"
    threshold: int = 5
    body_limit: Annotated[int, Size()] = 64 * _KIB
    app_errors: bool = True
    disabled_rules: tuple[str, ...] = ()
    exclusions: Annotated[tuple[Exclusion, ...], Parse(_exclusions), FileOnly()] = ()
    sample_traffic: str | None = None

    def __post_init__(self) -> None:
        check_ranges(self, _RULES)

    def inspector(self) -> Inspector:
        """The :class:`~bulletproof.detect.Inspector` this section describes. Added in 0.1."""
        return Inspector(
            threshold=self.threshold,
            disabled_rules=self.disabled_rules,
            exclusions=self.exclusions,
        )

    def build(self, emitter: Emitter | None, *, clock: Clock = system_clock) -> Shield | None:
        """The :class:`~bulletproof.detect.Shield` this section describes (None when not
        ``enabled``), emitting to ``emitter``. Added in 0.1."""
        if not self.enabled:
            return None
        return Shield(
            self.inspector(),
            mode=self.mode,
            emitter=emitter,
            body_limit=self.body_limit,
            app_errors=self.app_errors,
            clock=clock,
        )
