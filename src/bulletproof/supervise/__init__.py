"""Keep a server up: ``bulletproof run -- CMD`` restarts it when it crashes, hangs or outgrows
its memory, reloads it without dropping a request, and leaves no orphan behind.

The decisions live in :class:`Machine` (no I/O, time injected); :func:`supervise` carries them
out; :class:`RunConfig` is ``[tool.bulletproof.run]``; :func:`heartbeat` is the app's side of
``heartbeat``.

>>> from bulletproof.supervise import RunConfig
>>> RunConfig(bind="127.0.0.1:8000", health_url="http://127.0.0.1:8000/healthz").health_failures
3

Added in 0.1.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bulletproof.supervise._heartbeat import heartbeat
from bulletproof.supervise._settings import RunConfig, parse_bind

if TYPE_CHECKING:
    from bulletproof.supervise._machine import GAVE_UP, ExitStatus, Machine
    from bulletproof.supervise._runner import default_pid_file, read_pid_file, supervise

# Loaded on first use: the config loader imports this package for its section's dataclass.
_LAZY = {
    "GAVE_UP": "_machine",
    "ExitStatus": "_machine",
    "Machine": "_machine",
    "default_pid_file": "_runner",
    "read_pid_file": "_runner",
    "supervise": "_runner",
}

__all__ = [
    "GAVE_UP",
    "ExitStatus",
    "Machine",
    "RunConfig",
    "default_pid_file",
    "heartbeat",
    "parse_bind",
    "read_pid_file",
    "supervise",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"bulletproof.supervise.{module}"), name)
    globals()[name] = value
    return value
