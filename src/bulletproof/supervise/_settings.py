"""``[tool.bulletproof.run]``: what ``bulletproof run`` starts and how it keeps it up.

>>> RunConfig().stop_timeout, RunConfig(max_memory=512 * 2**20).max_memory
(10.0, 536870912)
>>> parse_bind("127.0.0.1:8000"), parse_bind("[::1]:0")
(('127.0.0.1', 8000), ('::1', 0))

```toml
[tool.bulletproof.run]
command = ["uvicorn", "shop.app:app", "--fd", "3"]   # what `bulletproof run` starts
bind = "127.0.0.1:8000"        # the supervisor owns the socket: fd 3 in the server
health_url = "http://127.0.0.1:8000/healthz"
health_interval = "5s"         # a probe every 5 s ...
health_timeout = "500ms"       # ... that must answer within this (at most the interval)
health_failures = 3            # 3 misses in a row: the server is hung, restart it
start_timeout = "60s"          # a new instance must pass a check within this
heartbeat = "pipe"             # or a file the app touches (servers without HTTP)
heartbeat_timeout = "30s"
max_memory = "1GiB"            # RSS of the whole process tree
stop_timeout = "10s"           # SIGTERM, then SIGKILL to the process group
drain = "1s"                   # a replaced instance closes keep-alive connections first
backoff_min = "500ms"          # the second crash in a row waits this, then doubles ...
backoff_max = "30s"            # ... up to this
healthy_after = "30s"          # an instance up this long resets the backoff
max_restarts = 10              # give up (exit 3) after 10 restarts ...
restarts_within = "5m"         # ... within 5 minutes (default: never give up)
stdout_log = "logs/server.log" # the server's output, also passed through
stderr_log = "logs/server.log"
log_max_size = "50MiB"         # rotate at this size ...
log_rotate = "1d"              # ... and/or every day (UTC midnight)
log_backups = 7                # rotated files kept, gzipped
pid_file = "/run/shop/bulletproof.pid"  # read by `bulletproof reload`
```

Relative paths are relative to the config file's directory; the command's flags win over
this section.

Added in 0.1.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Final

from bulletproof._settings import Duration, Rule, Size, check_ranges
from bulletproof.errors import ConfigError

__all__ = ["RunConfig", "parse_bind"]

_MIB: Final = 2**20


def parse_bind(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8000"`` for IPv6) as ``(host, port)``; a clear
    :class:`~bulletproof.errors.ConfigError` otherwise. Added in 0.1."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f"bind = {text!r} is not HOST:PORT: use an address such as '127.0.0.1:8000', "
            "'0.0.0.0:8000' or '[::1]:8000' (port 0: any free port)"
        )
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"bind = {text!r}: {host!r} is not an IP address: give the address to listen "
                "on, such as 127.0.0.1, 0.0.0.0 or ::"
            ) from None
    return host, int(port)


def _bind_problem(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_bind(value)
    except ConfigError as exc:
        return str(exc).partition(": ")[2]
    return None


_RULES: Final[tuple[Rule, ...]] = (
    (
        "command",
        lambda o: all(isinstance(a, str) and a and "\0" not in a for a in o.command),
        lambda o: 'give the command as a list of non-empty strings, e.g. ["uvicorn", "app:app"]',
        (),
    ),
    (
        "bind",
        lambda o: _bind_problem(o.bind) is None,
        lambda o: str(_bind_problem(o.bind)),
        (),
    ),
    (
        "health_url",
        lambda o: o.health_url is None or o.health_url.startswith(("http://", "https://")),
        lambda o: (
            "the health check speaks HTTP: give an http:// or https:// URL, or use "
            "heartbeat for a server without HTTP"
        ),
        (),
    ),
    (
        "health_interval",
        lambda o: o.health_interval >= 0.05,
        lambda o: "probe at most every 50ms",
        (),
    ),
    (
        "health_timeout",
        lambda o: o.health_timeout is None or 0 < o.health_timeout <= o.health_interval,
        lambda o: f"use a timeout above 0 and at most the interval ({o.health_interval:g} s)",
        ("health_interval",),
    ),
    (
        "health_failures",
        lambda o: 1 <= o.health_failures <= 1000,
        lambda o: "use a number of misses from 1 to 1000",
        (),
    ),
    (
        "heartbeat_timeout",
        lambda o: o.heartbeat_timeout >= 0.1,
        lambda o: "use at least 100ms",
        (),
    ),
    (
        "heartbeat",
        lambda o: o.heartbeat is None or (bool(o.heartbeat) and "\0" not in o.heartbeat),
        lambda o: 'use "pipe" or the path of a file the app touches',
        (),
    ),
    (
        "max_memory",
        lambda o: o.max_memory is None or o.max_memory >= _MIB,
        lambda o: "use at least 1MiB",
        (),
    ),
    (
        "memory_interval",
        lambda o: o.memory_interval >= 0.1,
        lambda o: "sample at most every 100ms",
        (),
    ),
    (
        "start_timeout",
        lambda o: o.start_timeout >= 0.5,
        lambda o: "give a new instance at least 500ms to pass its first check",
        (),
    ),
    (
        "backoff_min",
        lambda o: o.backoff_min >= 0.01,
        lambda o: "use at least 10ms: a crash loop must not spin a core",
        (),
    ),
    (
        "backoff_max",
        lambda o: o.backoff_max >= o.backoff_min,
        lambda o: (
            f"backoff_max must be at least backoff_min ({o.backoff_min:g} s): raise "
            "backoff_max or lower backoff_min"
        ),
        ("backoff_min",),
    ),
    (
        "max_restarts",
        lambda o: o.max_restarts is None or o.max_restarts >= 1,
        lambda o: "use at least 1 (or leave it out: never give up)",
        (),
    ),
    (
        "restarts_within",
        lambda o: o.restarts_within > 0,
        lambda o: "use a window above 0 seconds",
        (),
    ),
    (
        "log_backups",
        lambda o: 0 <= o.log_backups <= 1000,
        lambda o: "keep from 0 to 1000 rotated files",
        (),
    ),
    (
        "log_max_size",
        lambda o: o.log_max_size == 0 or o.log_max_size >= 4096,
        lambda o: "use at least 4KiB (or 0: no size rotation)",
        (),
    ),
    (
        "log_rotate",
        lambda o: o.log_rotate is None or o.log_rotate >= 1,
        lambda o: "rotate at most every second",
        (),
    ),
)


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How ``bulletproof run`` keeps a server up.

    ``command`` is what it starts when the command line gives none after ``--``. ``bind``
    makes the supervisor own the listening socket (fd 3 in the server) so that reloads drop
    nothing. A hang is found by ``health_url`` (``health_failures`` probes in a row missed,
    each ``health_interval`` apart, each given ``health_timeout``) or by ``heartbeat``
    (``"pipe"``, or a file the app touches; none for ``heartbeat_timeout``). ``max_memory``
    caps the RSS of the whole process tree, sampled every ``memory_interval``. Crashes restart
    at once the first time, then after ``backoff_min`` doubling up to ``backoff_max``, with
    jitter; an instance up ``healthy_after`` resets it. With ``max_restarts``, more restarts
    than that within ``restarts_within`` make it give up. ``stop_timeout`` is how long a
    stopping server gets before its process group is killed; ``drain`` how long an instance
    being replaced keeps serving first, answering with ``Connection: close`` (``protect(app)``
    on ASGI does this). ``stdout_log`` and
    ``stderr_log`` copy the output to files rotated at ``log_max_size`` bytes and/or every
    ``log_rotate`` seconds, ``log_backups`` kept, gzipped. ``pid_file`` is where
    ``bulletproof reload`` finds the supervisor.

    Added in 0.1.
    """

    command: tuple[str, ...] = ()
    bind: str | None = None
    health_url: str | None = None
    health_interval: Annotated[float, Duration()] = 5.0
    health_timeout: Annotated[float | None, Duration()] = None
    health_failures: int = 3
    start_timeout: Annotated[float, Duration()] = 60.0
    heartbeat: str | None = None
    heartbeat_timeout: Annotated[float, Duration()] = 30.0
    max_memory: Annotated[int | None, Size()] = None
    memory_interval: Annotated[float, Duration()] = 2.0
    stop_timeout: Annotated[float, Duration()] = 10.0
    drain: Annotated[float, Duration()] = 1.0
    backoff_min: Annotated[float, Duration()] = 0.5
    backoff_max: Annotated[float, Duration()] = 30.0
    healthy_after: Annotated[float, Duration()] = 30.0
    max_restarts: int | None = None
    restarts_within: Annotated[float, Duration()] = 300.0
    stdout_log: str | None = None
    stderr_log: str | None = None
    log_max_size: Annotated[int, Size()] = 0
    log_rotate: Annotated[float | None, Duration()] = None
    log_backups: int = 5
    pid_file: str | None = None

    def __post_init__(self) -> None:
        check_ranges(self, _RULES)

    @property
    def probe_timeout(self) -> float:
        """``health_timeout``, or by default 500ms (at most half the interval): a hang is
        then found within ``health_interval * health_failures`` plus this."""
        if self.health_timeout is not None:
            return self.health_timeout
        return min(0.5, self.health_interval / 2)
