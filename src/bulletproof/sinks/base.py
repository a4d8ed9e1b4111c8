"""What every sink and notifier module is built from: a parsed, validated :class:`SinkSpec`.

Each module under ``bulletproof.sinks`` exposes ``create(spec) -> Sink`` and/or
``create_notifier(spec) -> Notifier``; :mod:`bulletproof.sinks` picks the module by URL scheme.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from bulletproof._sensitive import is_secret_name
from bulletproof._text import did_you_mean
from bulletproof._units import BOOL_WORDS, parse_duration, parse_whole, shown
from bulletproof.errors import ConfigError

__all__ = ["SinkSpec", "mask_url"]

_USERINFO = re.compile(r"^([a-z][a-z0-9+.\-]*://)([^@/?#]*)@", re.IGNORECASE)
_MAX_PORT = 65535


def mask_url(url: str, *, hide_path: bool = False) -> str:
    """Hide the secrets of a URL: the password of ``scheme://user:password@host``, the values of
    query parameters whose names hold secrets (``token``, ``api_key``, ...), and with
    ``hide_path`` everything after the first path segment (webhook URLs carry their secret there).

    >>> mask_url("smtp://bob:hunter2@mail.example.com:587?to=a@b.c")
    'smtp://bob:***@mail.example.com:587?to=a@b.c'
    >>> mask_url("https://logs.example.com/in?token=abc&env=prod")
    'https://logs.example.com/in?token=***&env=prod'
    >>> mask_url("webhook+https://hooks.slack.com/services/T0/B1/XYZ", hide_path=True)
    'webhook+https://hooks.slack.com/services/***'

    Added in 0.1.
    """
    m = _USERINFO.match(url)
    if m and ":" in m.group(2):
        user = m.group(2).split(":", 1)[0]
        url = f"{m.group(1)}{user}:***@{url[m.end() :]}"
    head, qmark, query = url.partition("?")
    if hide_path:
        scheme, sep, rest = head.partition("://")
        host, slash, path = rest.partition("/")
        first, more, _tail = path.partition("/")
        if sep and slash and more:
            head = f"{scheme}://{host}/{first}/***"
        elif sep and slash and first:
            head = f"{scheme}://{host}/***"
    if qmark:
        parts = query.split("&")
        for i, part in enumerate(parts):
            name, eq, _value = part.partition("=")
            if eq and is_secret_name(name):
                parts[i] = f"{name}=***"
        query = "&".join(parts)
    return f"{head}{qmark}{query}"


def _port(netloc: str, url: str, accepted: str) -> int | None:
    """The port of ``netloc`` (None when it has none); ConfigError unless it is 1 to 65535.

    The port text is found as :func:`urllib.parse.urlsplit` finds it (after the last ``@``, after
    the ``]`` of an IPv6 address), but checked here so that port 0 is refused too and a long
    digit string costs linear time and gets a message naming the URL and the accepted range.
    """
    hostinfo = netloc.rpartition("@")[2]
    _, bracket, rest = hostinfo.partition("[")
    text = rest.partition("]")[2].partition(":")[2] if bracket else hostinfo.partition(":")[2]
    if not text:
        return None
    shown = text if len(text) <= 12 else text[:9] + "..."
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(
            f"sink URL {mask_url(url)!r} is malformed: port {shown!r} is not a number; use a "
            f"port from 1 to {_MAX_PORT}.{accepted}"
        )
    digits = text.lstrip("0") or "0"
    port = int(digits) if len(digits) <= 5 else _MAX_PORT + 1  # no int() of a long string
    if not 1 <= port <= _MAX_PORT:
        raise ConfigError(
            f"sink URL {mask_url(url)!r} is malformed: port {shown} is out of range; use a port "
            f"from 1 to {_MAX_PORT}.{accepted}"
        )
    return port


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """A sink or notifier URL, split once, plus the options given beside it in config.

    ``base_dir`` is the directory relative paths (``file:events.jsonl``) are resolved against:
    the directory of the config file that named the sink.

    Added in 0.1.
    """

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    username: str | None
    password: str | None
    query: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def name(self) -> str:
        """The URL with its password masked: safe to print and log."""
        return mask_url(self.url)

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        options: Mapping[str, Any] | None = None,
        base_dir: Path | None = None,
        accepted: str = "",
    ) -> SinkSpec:
        """Split ``url``; raise ConfigError naming the URL and ``accepted`` forms when malformed."""
        if any(c in url for c in "\r\n\x00") or not url.strip():
            raise ConfigError(
                f"sink URL {mask_url(url)!r} is empty or has control characters.{accepted}"
            )
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigError(
                f"sink URL {mask_url(url)!r} is malformed ({exc}).{accepted}"
            ) from None
        port = _port(parts.netloc, url, accepted)
        if not parts.scheme:
            raise ConfigError(f"sink URL {mask_url(url)!r} has no scheme.{accepted}")
        query: dict[str, str] = {}
        pairs = [p.partition("=") for p in parts.query.split("&") if p]
        for key, value in ((unquote(k), unquote(v)) for k, _, v in pairs):
            if key in query:
                query[key] = f"{query[key]},{value}"
            else:
                query[key] = value
        return cls(
            url=url,
            scheme=parts.scheme.lower(),
            host=parts.hostname or "",
            port=port,
            path=parts.path,
            username=parts.username,
            password=parts.password,
            query=query,
            options=dict(options or {}),
            base_dir=base_dir or Path.cwd(),
        )

    def require_host_port(self, accepted: str, default_port: int | None = None) -> tuple[str, int]:
        """``(host, port)``, or ConfigError naming the URL when either is missing."""
        port = self.port if self.port is not None else default_port
        if not self.host or port is None:
            raise ConfigError(
                f"sink URL {self.name!r} needs a host and a port (like {self.scheme}://host:port)."
                f"{accepted}"
            )
        return self.host, port

    def check_query(self, allowed: set[str], accepted: str = "") -> None:
        """Raise ConfigError for a query parameter the sink does not know."""
        for key in self.query:
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ConfigError(
                    f"sink URL {self.name!r}: unknown parameter {key!r}."
                    f"{did_you_mean(key, allowed)} Known parameters: {known}.{accepted}"
                )

    def with_path_quoted(self) -> str:
        """The path, percent-encoded (for building request lines)."""
        return quote(self.path or "/", safe="/%:@!$&'()*+,;=")

    def timeout(
        self, accepted: str = "", *, default: float = 10.0, from_options: bool = False
    ) -> float:
        """The ``timeout`` parameter (from the URL query, or ``options`` with ``from_options``)
        in seconds: a duration above 0 and at most an hour, written as the config file writes
        durations (``10``, ``1500ms``, ``2m``); ``default`` when absent; else ConfigError.
        """
        raw: object = self.options.get("timeout") if from_options else self.query.get("timeout")
        if raw is None:
            return default
        value = -1.0
        if isinstance(raw, str | int | float):
            with contextlib.suppress(ConfigError):
                value = parse_duration(raw, "timeout")
        if not 0 < value <= 3600:
            # An option is written as TOML (timeout = 10), a URL parameter as ?timeout=10.
            where, example = (
                (f"{self.name}: timeout {shown(raw)}", "timeout = 10")
                if from_options
                else (f"sink URL {self.name!r}: timeout={shown(raw)}", "?timeout=10")
            )
            raise ConfigError(
                f"{where} is not a number of seconds above 0 and at most 3600, nor a duration "
                f"like '1500ms' or '2m'; for example {example}.{accepted}"
            )
        return value

    def tls_context(
        self, *, verify: bool = True, accepted: str = "", from_options: bool = False
    ) -> ssl.SSLContext:
        """A client TLS context: the system CAs, or the PEM bundle named by ``ca`` (from the URL
        query, or ``options`` with ``from_options``, for sinks whose query belongs to the target);
        SNI and host name checked. A relative ``ca`` is resolved against ``base_dir``.
        ``verify=False`` turns every certificate check off (anyone on the path can then read and
        change the stream), so it cannot be combined with ``ca``.
        """
        ca: object = self.options.get("ca") if from_options else self.query.get("ca")
        cafile: Path | None = None
        if ca is not None and ca != "":
            if not isinstance(ca, str):
                raise ConfigError(
                    f"sink URL {self.name!r}: ca={shown(ca)} must be the path of a PEM file of CA "
                    f"certificates.{accepted}"
                )
            if not verify:
                raise ConfigError(
                    f"sink URL {self.name!r}: ca= and verify=false contradict each other; keep "
                    f"ca= and drop verify=false.{accepted}"
                )
            cafile = Path(ca).expanduser()
            if not cafile.is_absolute():
                cafile = self.base_dir / cafile
            if not cafile.is_file():
                raise ConfigError(
                    f"sink URL {self.name!r}: ca={ca!r}: no such file; the CA bundle {cafile} "
                    f"does not exist. Give the path of the PEM bundle of the CA that signed the "
                    f"receiver's certificate.{accepted}"
                )
        try:
            ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"sink URL {self.name!r}: ca={ca!r} could not be loaded as a PEM CA bundle "
                f"({exc}).{accepted}"
            ) from None
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def flag(self, key: str, default: bool, accepted: str = "") -> bool:
        """Query parameter ``key`` as a flag, written as the config file writes flags
        (true/false, yes/no, on/off, 1/0, any case); ``default`` when absent; else ConfigError.
        """
        raw = self.query.get(key)
        if raw is None:
            return default
        value = BOOL_WORDS.get(raw.strip().lower())
        if value is None:
            raise ConfigError(
                f"sink URL {self.name!r}: {key}={shown(raw)} must be true or false (or yes/no, "
                f"on/off, 1/0).{accepted}"
            )
        return value

    def whole(self, key: str, default: int, low: int, high: int, accepted: str = "") -> int:
        """Query parameter ``key`` as a whole number within ``[low, high]``; ``default`` when
        absent; else ConfigError naming the URL and the range.
        """
        raw = self.query.get(key)
        if raw is None:
            return default
        try:
            return parse_whole(raw, key, low=low, high=high)
        except ConfigError:
            raise ConfigError(
                f"sink URL {self.name!r}: {key}={shown(raw)} must be a whole number from {low} "
                f"to {high}.{accepted}"
            ) from None
