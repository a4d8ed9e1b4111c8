"""The runner of ``bulletproof check``: load the config, ask each section source, run probes."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bulletproof import config as config_mod
from bulletproof._text import one_line
from bulletproof.check._base import (
    CheckContext,
    CheckItem,
    CheckReport,
    CheckSection,
    Probe,
    SectionSource,
    Status,
)
from bulletproof.check._sources import SOURCES
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import BulletproofError, ConfigError

__all__ = ["run_check"]


def _probe_all(probes: Sequence[Probe], timeout: float, clock: Clock) -> tuple[CheckItem, ...]:
    """Run every probe at once, each on a daemon thread; give up on the stragglers after
    ``timeout`` seconds in all. A probe stuck in its own (longer) network timeout is abandoned,
    so neither this call nor the process exit waits for it.
    """
    if not probes:
        return ()
    results: dict[int, CheckItem] = {}
    arrived = threading.Condition()

    def run(index: int, probe: Probe) -> None:
        try:
            item = CheckItem(probe.name, Status.OK, probe.run())
        except BulletproofError as exc:
            item = CheckItem(probe.name, Status.FINDING, str(exc))
        except Exception as exc:  # noqa: BLE001 - a probe bug must not hide the other checks
            item = CheckItem(probe.name, Status.ERROR, f"{type(exc).__name__}: {exc}")
        with arrived:
            results[index] = item
            arrived.notify_all()

    for index, probe in enumerate(probes):
        threading.Thread(
            target=run, args=(index, probe), name=f"bulletproof-probe-{index}", daemon=True
        ).start()
    deadline = clock.monotonic() + timeout
    with arrived:
        while len(results) < len(probes):
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            arrived.wait(remaining)
        done = dict(results)
    late = f"no answer within {timeout:g}s"
    return tuple(
        done.get(index, CheckItem(probe.name, Status.FINDING, late))
        for index, probe in enumerate(probes)
    )


def _collect(source: SectionSource, context: CheckContext) -> list[CheckItem | Probe]:
    """The source's items; an exception other than ConfigError is an error of its section."""
    try:
        return list(source.collect(context))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - one capability's bug must not hide the others
        detail = f"could not run: {type(exc).__name__}: {one_line(str(exc))}"
        return [CheckItem(source.name, Status.ERROR, detail)]


def run_check(
    path: str | Path | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    probe_timeout: float = 10.0,
    check_path: str | None = None,
    sources: Sequence[SectionSource] | None = None,
    clock: Clock = system_clock,
) -> CheckReport:
    """Run every check on the project at ``path`` (a directory or a config file).

    The report's first section, ``config``, says whether the config is valid; then each of
    ``sources`` (default: :data:`bulletproof.check.SOURCES`) adds its section. Every probe
    (sinks, notifiers) runs in parallel; ``probe_timeout`` bounds the wait for all of them, and
    a probe that has not answered by then is a finding. It is also the timeout of each request
    the headers grader sends to the app.

    ``check_path`` is the path whose headers are graded (default: the config's ``check_path``,
    itself ``"/"`` by default); giving one when the config names no app is a ConfigError, as is
    a path that does not start with ``/``.

    Added in 0.1.
    """
    if not (probe_timeout > 0 and math.isfinite(probe_timeout)):
        raise ConfigError(
            f"probe timeout {probe_timeout!r}: use a positive number of seconds (like --timeout 10)"
        )
    if check_path is not None and not check_path.startswith("/"):
        raise ConfigError(
            f"check path {one_line(check_path, 300)!r} must start with '/', e.g. '/' or '/login'"
        )
    target = str(path) if path is not None else "."
    chosen = SOURCES if sources is None else tuple(sources)

    def invalid(exc: ConfigError) -> CheckReport:
        return CheckReport(
            target, (CheckSection("config", (CheckItem("config", Status.FINDING, str(exc)),)),)
        )

    try:
        cfg = config_mod.load_config(path, env=env, overrides=overrides)
    except ConfigError as exc:
        return invalid(exc)
    if check_path is not None and cfg.app is None:
        raise ConfigError(
            f"check path {one_line(check_path, 300)!r}: the config ({cfg.source}) names no app to "
            "grade: set app = 'module:attr' in [tool.bulletproof], or leave the path out"
        )
    graded = check_path if check_path is not None else cfg.check_path
    context = CheckContext(cfg, timeout=probe_timeout, clock=clock, check_path=graded)
    collected: list[tuple[str, list[CheckItem | Probe]]] = []
    for source in chosen:
        try:
            collected.append((source.name, _collect(source, context)))
        except ConfigError as exc:
            return invalid(exc)
    probes = [item for _, items in collected for item in items if isinstance(item, Probe)]
    probed = iter(_probe_all(probes, probe_timeout, clock))  # all at once: one timeout in total
    sections = [CheckSection("config", (CheckItem("config", Status.OK, f"valid ({cfg.source})"),))]
    for name, items in collected:
        decided = tuple(next(probed) if isinstance(i, Probe) else i for i in items)
        sections.append(CheckSection(name, decided))
    return CheckReport(target, tuple(sections))
