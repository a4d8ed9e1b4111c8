"""The ``run`` section of ``bulletproof check``: is the server kept up, and would a hang be seen?

With no ``[tool.bulletproof.run]`` section the section does not apply (one skipped item saying
how to set it up). Otherwise, items: ``supervisor`` (the section names a command that
``bulletproof run`` can start: a finding when there is none, or when it is not found),
``health check`` (a finding when neither ``health_url`` nor ``heartbeat`` is set: a hung server
would never be restarted), ``reload`` (with ``bind`` reloads drop nothing; without it SIGHUP
goes to the server) and ``memory`` (the ``max_memory`` cap, if any).

Added in 0.1.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from bulletproof.check._base import CheckContext, CheckItem, Probe, Status
from bulletproof.supervise._settings import RunConfig, parse_bind

__all__ = ["SupervisorSource"]


def _found(program: str, root: Path) -> str | None:
    """Where ``program`` would be started from, as ``bulletproof run`` looks it up."""
    if os.sep in program:
        path = Path(program) if Path(program).is_absolute() else root / program
        return str(path) if os.access(path, os.X_OK) and path.is_file() else None
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(program, path=search)


class SupervisorSource:
    """Check ``[tool.bulletproof.run]``. Added in 0.1."""

    name: Final = "run"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """The supervisor's items. Added in 0.1."""
        run = context.config.run
        if run == RunConfig():
            return (
                CheckItem(
                    "supervisor",
                    Status.SKIPPED,
                    "does not apply: no [tool.bulletproof.run] section. To keep the server up "
                    "through crashes, hangs and leaks, set command (and health_url, bind) there "
                    "and start it with bulletproof run",
                ),
            )
        items = [self._supervisor(run, context.config.root)]
        items.append(self._health(run))
        items.append(self._reload(run))
        if run.max_memory is not None:
            items.append(
                CheckItem(
                    "memory",
                    Status.OK,
                    f"restarted gracefully past {run.max_memory / 2**20:g} MiB (RSS of the "
                    "process tree)",
                )
            )
        else:
            items.append(CheckItem("memory", Status.OK, "no limit (set max_memory to cap a leak)"))
        return items

    @staticmethod
    def _supervisor(run: RunConfig, root: Path) -> CheckItem:
        if not run.command:
            return CheckItem(
                "supervisor",
                Status.FINDING,
                "no command in [tool.bulletproof.run]: nothing restarts the server when it "
                'crashes; set command = ["uvicorn", "app:app", "--fd", "3"] and start it with '
                "bulletproof run",
            )
        where = _found(run.command[0], root)
        shown = " ".join(run.command)
        if where is None:
            return CheckItem(
                "supervisor",
                Status.FINDING,
                f"bulletproof run would fail: {run.command[0]!r} is not found (PATH, or "
                f"relative to {root}); install it or fix command",
            )
        return CheckItem("supervisor", Status.OK, f"bulletproof run starts: {shown}")

    @staticmethod
    def _health(run: RunConfig) -> CheckItem:
        if run.health_url is not None:
            detail = (
                f"{run.health_url} every {run.health_interval:g} s; "
                f"{run.health_failures} misses in a row restart it"
            )
            if run.bind is not None:
                _, port = parse_bind(run.bind)
                parts = urlsplit(run.health_url)
                if parts.port not in (None, port) or (parts.port is None and port != 80):
                    return CheckItem(
                        "health check",
                        Status.FINDING,
                        f"{run.health_url} is not on the bound port {port}: the check must "
                        "reach the server through bind to prove a new instance serves",
                    )
            return CheckItem("health check", Status.OK, detail)
        if run.heartbeat is not None:
            return CheckItem(
                "health check",
                Status.OK,
                f"heartbeat ({run.heartbeat}): silence for {run.heartbeat_timeout:g} s restarts it",
            )
        return CheckItem(
            "health check",
            Status.FINDING,
            "none: a hung server is never restarted; set health_url (an HTTP page the server "
            "answers while healthy) or heartbeat",
        )

    @staticmethod
    def _reload(run: RunConfig) -> CheckItem:
        if run.bind is not None:
            return CheckItem(
                "reload",
                Status.OK,
                f"bulletproof owns {run.bind} (fd 3 in the server): a reload starts a new "
                "instance and stops the old one once the new one passed, dropping nothing",
            )
        return CheckItem(
            "reload",
            Status.OK,
            "no bind: SIGHUP (bulletproof reload) is passed to the server, which reloads "
            "itself (gunicorn) or exits and is restarted; set bind to reload without dropping "
            "requests",
        )
