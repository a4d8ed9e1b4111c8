"""``bulletproof check``: every check that exists, in one report.

At this stage: the configuration is valid, and every configured sink and notifier is reachable
(probed without sending an event). Later parts add their sections.

Added in 0.1.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulletproof import config as config_mod
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import BulletproofError, ConfigError
from bulletproof.sinks import notifier_from_url, sink_from_url

__all__ = ["CheckItem", "CheckReport", "CheckSection", "Status", "run_check"]


class Status(enum.Enum):
    """The outcome of one check item. Added in 0.1."""

    OK = "ok"
    FINDING = "finding"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One thing checked. Added in 0.1."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class CheckSection:
    """A group of items (config, sinks, notifiers, ...). Added in 0.1."""

    name: str
    items: tuple[CheckItem, ...]


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``bulletproof check`` found. Added in 0.1."""

    target: str
    sections: tuple[CheckSection, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings, 2 bad input (invalid config), 3 could not check everything."""
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
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


def _probe_all(
    targets: Sequence[tuple[str, Callable[[], str]]], timeout: float, clock: Clock
) -> tuple[CheckItem, ...]:
    """Run every probe at once, each on a daemon thread; give up on the stragglers after
    ``timeout`` seconds in all. A probe stuck in its own (longer) network timeout is abandoned,
    so neither this call nor the process exit waits for it.
    """
    if not targets:
        return ()
    results: dict[int, CheckItem] = {}
    arrived = threading.Condition()

    def run(index: int, name: str, probe: Callable[[], str]) -> None:
        try:
            item = CheckItem(name, Status.OK, probe())
        except BulletproofError as exc:
            item = CheckItem(name, Status.FINDING, str(exc))
        except Exception as exc:  # noqa: BLE001 - a probe bug must not hide the other checks
            item = CheckItem(name, Status.ERROR, f"{type(exc).__name__}: {exc}")
        with arrived:
            results[index] = item
            arrived.notify_all()

    for index, (name, probe) in enumerate(targets):
        threading.Thread(
            target=run, args=(index, name, probe), name=f"bulletproof-probe-{index}", daemon=True
        ).start()
    deadline = clock.monotonic() + timeout
    with arrived:
        while len(results) < len(targets):
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            arrived.wait(remaining)
        done = dict(results)
    late = f"no answer within {timeout:g}s"
    return tuple(
        done.get(index, CheckItem(name, Status.FINDING, late))
        for index, (name, _) in enumerate(targets)
    )


def run_check(
    path: str | Path | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    probe_timeout: float = 10.0,
    clock: Clock = system_clock,
) -> CheckReport:
    """Run every check on the project at ``path`` (a directory or a config file).

    The sinks and notifiers are probed in parallel; ``probe_timeout`` bounds the wait for all of
    them, and a probe that has not answered by then is a finding.

    Added in 0.1.
    """
    if not (probe_timeout > 0 and math.isfinite(probe_timeout)):
        raise ConfigError(
            f"probe timeout {probe_timeout!r}: use a positive number of seconds (like --timeout 10)"
        )
    target = str(path) if path is not None else "."

    def invalid(exc: ConfigError) -> CheckReport:
        return CheckReport(
            target, (CheckSection("config", (CheckItem("config", Status.FINDING, str(exc)),)),)
        )

    try:
        cfg = config_mod.load_config(path, env=env, overrides=overrides)
        targets: list[tuple[str, Callable[[], str]]] = []
        for sink_cfg in cfg.events.sinks:
            sink = sink_from_url(sink_cfg.url, options=sink_cfg.options, base_dir=cfg.root)
            targets.append((sink_cfg.display, sink.probe))
        for n_cfg in cfg.alerts.notifiers:
            notifier = notifier_from_url(n_cfg.url, options=n_cfg.options, base_dir=cfg.root)
            targets.append((f"{n_cfg.name} ({n_cfg.display})", notifier.probe))
    except ConfigError as exc:
        return invalid(exc)
    items = _probe_all(targets, probe_timeout, clock)  # all at once: one timeout in total
    split = len(cfg.events.sinks)
    sections = (
        CheckSection("config", (CheckItem("config", Status.OK, f"valid ({cfg.source})"),)),
        CheckSection("sinks", items[:split]),
        CheckSection("notifiers", items[split:]),
        *_app_sections(cfg, probe_timeout),
    )
    return CheckReport(target, sections)


def _app_sections(cfg: config_mod.Config, timeout: float) -> tuple[CheckSection, ...]:
    """The headers and routes sections: the app named by ``app`` in the config, graded
    in-process as the MDN Observatory grades a site, and its route inventory."""
    if cfg.app is None:
        skipped = CheckItem(
            "app", Status.SKIPPED, "no app configured: set app = 'module:attr' in the config"
        )
        return CheckSection("headers", (skipped,)), CheckSection("routes", (skipped,))
    from bulletproof.adapters.routes import route_inventory
    from bulletproof.apploader import load_app
    from bulletproof.observatory import check as check_headers

    try:
        app = load_app(cfg.app, cwd=cfg.root)
    except ConfigError as exc:
        bad = CheckItem(cfg.app, Status.FINDING, str(exc))
        return CheckSection("headers", (bad,)), CheckSection("routes", (bad,))
    try:
        checked = check_headers(app=app, timeout=timeout, label=cfg.app)
        result = checked.result
        good = checked.meets("A")
        failed = [name for name, test in result.tests.items() if not test.passed]
        detail = f"grade {result.grade} (score {result.score})" + (
            f"; failing: {', '.join(failed)}" if failed else ""
        )
        headers = CheckItem(cfg.app, Status.OK if good else Status.FINDING, detail)
    except BulletproofError as exc:
        headers = CheckItem(cfg.app, Status.ERROR, str(exc))
    try:
        inventory = route_inventory(app, public=cfg.routes.public)
        summary = f"{len(inventory.routes)} route(s), {inventory.framework}, header middleware " + (
            "installed" if inventory.middleware_installed else "NOT installed"
        )
        route_items = [CheckItem(cfg.app, Status.OK, summary)]
        route_items.extend(CheckItem("route", Status.FINDING, f) for f in inventory.findings)
    except BulletproofError as exc:
        route_items = [CheckItem(cfg.app, Status.ERROR, str(exc))]
    return CheckSection("headers", (headers,)), CheckSection("routes", tuple(route_items))
