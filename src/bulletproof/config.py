"""Configuration: one frozen :class:`Config` from a TOML file, the environment and arguments.

Where settings come from, later ones winning:

1. a file: ``bulletproof.toml`` (top-level keys) or the ``[tool.bulletproof]`` table of
   ``pyproject.toml``. Given a directory, :func:`load_config` looks for ``bulletproof.toml``
   first and then for ``pyproject.toml``: when both exist, **bulletproof.toml wins** (and the
   ``source`` says the pyproject table was ignored);
2. ``BULLETPROOF_*`` environment variables: ``BULLETPROOF_SERVICE_NAME``,
   ``BULLETPROOF_EVENTS__SPOOL_DIR``, ``BULLETPROOF_EVENTS__SINKS`` (a JSON array, or URLs
   separated by whitespace)... section and key joined by a double underscore, upper case;
3. arguments: ``overrides={"events.spool_dir": "/var/spool/bp"}`` (dotted keys).

::

    [tool.bulletproof]
    service_name = "shop"
    [tool.bulletproof.events]
    spool_max_bytes = "256MiB"
    durability_lag = "100ms"
    sinks = [
      "file:logs/events.jsonl",
      { url = "https://logs.example.com/in", headers = { Authorization = "Bearer ${TOKEN}" } },
    ]
    [tool.bulletproof.alerts.notifiers]
    oncall = "smtp://bp:${SMTP_PASSWORD}@smtp.example.com:587?from=bp@example.com&to=me@example.com"
    [[tool.bulletproof.alerts.rules]]
    name = "brute-force"
    categories = ["auth"]
    threshold = 5
    within = "60s"
    group_by = "source.ip"
    notify = ["oncall"]

Unknown keys are errors with a "did you mean" hint. Secrets come only from the environment,
through ``${VAR}`` (or ``${VAR:-default}``; ``$$`` is a literal ``$``) in any string value: a
password, token or API key written literally in the file is an error. Inside a URL, a
variable's value is percent-encoded (so a password may hold ``@/:%#``); a string that is
entirely ``${VAR}`` is inserted as it is. :func:`config_as_dict` shows sinks and notifiers only
as written, so no secret read from the environment can appear in it.

>>> import tempfile
>>> cfg = load_config(tempfile.mkdtemp(), env={})
>>> cfg.source, [s.display for s in cfg.events.sinks]
('defaults', ['file:.bulletproof/events.jsonl'])

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, unquote

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, did_you_mean
from bulletproof.events.alerts import AlertEngine, AlertRule
from bulletproof.events.base import Emitter, Notifier, Sink
from bulletproof.events.model import SecurityEvent
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.events.processors import RedactProcessor
from bulletproof.sinks import (
    NOTIFIER_SCHEMES,
    SINK_SCHEMES,
    mask_url,
    notifier_from_url,
    sink_from_url,
)
from bulletproof.sinks.file import parse_size
from bulletproof.text import UNSAFE

if TYPE_CHECKING:
    from bulletproof.headers import HeaderPolicy

__all__ = [
    "DEFAULT_SINK",
    "DEFAULT_SPOOL_DIR",
    "AlertsConfig",
    "Config",
    "EventsConfig",
    "HeadersConfig",
    "NotifierConfig",
    "RoutesConfig",
    "SinkConfig",
    "build_alert_engine",
    "build_header_policy",
    "build_pipeline",
    "build_sinks",
    "config_as_dict",
    "load_config",
    "parse_duration",
    "pipeline_options",
]

_MIB: Final = 1024 * 1024
DEFAULT_SINK: Final = "file:.bulletproof/events.jsonl"
"""The sink used when none is configured: a JSON-lines file under the root. Added in 0.1."""

DEFAULT_SPOOL_DIR: Final = ".bulletproof/spool"
"""The spool directory used when none is configured, relative to the root. Added in 0.1."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


# --------------------------------------------------------------------------------------------
# The config objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class SinkConfig:
    """One configured sink.

    ``url`` and ``options`` are what the sink is built from, with ``${VAR}`` references already
    replaced (they may hold secrets: never print them). ``display`` is the URL as written, with
    references kept and any literal password masked; ``display_options`` likewise shows the
    options as written, secret values only as their ``${VAR}`` template (or ``***``).

    Added in 0.1.
    """

    url: str
    options: Mapping[str, Any]
    display: str
    display_options: Mapping[str, Any] = field(default_factory=_empty)

    def __repr__(self) -> str:
        return f"SinkConfig({self.display!r})"


@dataclass(frozen=True, slots=True, repr=False)
class NotifierConfig:
    """One named notifier (email, SMS, webhook); fields as in :class:`SinkConfig`.

    Added in 0.1.
    """

    name: str
    url: str
    options: Mapping[str, Any]
    display: str
    display_options: Mapping[str, Any] = field(default_factory=_empty)

    def __repr__(self) -> str:
        return f"NotifierConfig({self.name!r}, {self.display!r})"


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """How events are spooled and where they go. Sizes in bytes, times in seconds.

    Relative paths are already resolved against the config's root. :func:`load_config` gives
    one ``file:.bulletproof/events.jsonl`` sink when none is configured.

    Added in 0.1.
    """

    spool_dir: Path
    spool_max_bytes: int = 256 * _MIB
    segment_bytes: int = 8 * _MIB
    durability_lag: float = 0.1
    fsync: bool = True
    max_pending: int = 100_000
    backoff_max: float = 10.0
    sinks: tuple[SinkConfig, ...] = ()
    redact_fields: tuple[str, ...] = ()
    max_field_chars: int = 8192
    max_event_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Named notifiers and the alert rules that use them. Added in 0.1."""

    notifiers: tuple[NotifierConfig, ...] = ()
    rules: tuple[AlertRule, ...] = ()


@dataclass(frozen=True, slots=True)
class HeadersConfig:
    """Options for the security headers, as :func:`bulletproof.headers.secure_headers` takes them.

    ``[tool.bulletproof.headers]`` holds ``preset`` and any header option (``x_frame_options =
    {action = "deny"}``, ``content_security_policy = {directives = {...}}``); they are validated
    by building the policy once at load time.

    Added in 0.1.
    """

    options: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class RoutesConfig:
    """How the route inventory judges routes: ``public`` lists paths meant to be reachable without
    logging in (a login form, a health check), so they are not reported. Added in 0.1.
    """

    public: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration.

    ``root`` is the directory holding the config file (relative paths resolve against it);
    ``source`` says where the settings came from, for people (``"pyproject.toml
    [tool.bulletproof] + environment"``, ``"defaults"``).

    Added in 0.1.
    """

    service_name: str
    root: Path
    source: str
    events: EventsConfig
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    headers: HeadersConfig = field(default_factory=HeadersConfig)
    routes: RoutesConfig = field(default_factory=RoutesConfig)
    app: str | None = None


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------

_Kind = Literal[
    "str",
    "path",
    "int",
    "bool",
    "size",
    "duration",
    "names",
    "sinks",
    "notifiers",
    "rules",
    "headers",
]

_KINDS: Final[Mapping[str, _Kind]] = {
    "service_name": "str",
    "app": "str",
    "events.spool_dir": "path",
    "events.spool_max_bytes": "size",
    "events.segment_bytes": "size",
    "events.durability_lag": "duration",
    "events.fsync": "bool",
    "events.max_pending": "int",
    "events.backoff_max": "duration",
    "events.sinks": "sinks",
    "events.redact_fields": "names",
    "events.max_field_chars": "int",
    "events.max_event_bytes": "size",
    "alerts.notifiers": "notifiers",
    "alerts.rules": "rules",
    "headers": "headers",
    "routes.public": "names",
}
_SECTIONS: Final = ("events", "alerts", "routes")
_NOT_FROM_ENV: Final = frozenset({"alerts.notifiers", "alerts.rules", "headers"})
_ENV_PREFIX: Final = "BULLETPROOF_"
_ENV_NAMES: Final[Mapping[str, str]] = {
    _ENV_PREFIX + key.upper().replace(".", "__"): key for key in _KINDS if key not in _NOT_FROM_ENV
}

_RULE_KINDS: Final[Mapping[str, _Kind]] = {
    "name": "str",
    "categories": "names",
    "actions": "names",
    "min_severity": "str",
    "threshold": "int",
    "within": "duration",
    "group_by": "str",
    "cooldown": "duration",
    "notify": "names",
}

_HTTP_OPTIONS: Final = frozenset({"headers", "timeout", "ca"})
_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "http": _HTTP_OPTIONS,
    "https": _HTTP_OPTIONS,
    "webhook+http": _HTTP_OPTIONS,
    "webhook+https": _HTTP_OPTIONS,
}
"""Options a sink or notifier takes beside its URL, by scheme (the others take none)."""

_EXPECTED: Final[Mapping[_Kind, str]] = {
    "str": "a string",
    "path": "a path (a string)",
    "int": "a whole number",
    "bool": "true or false",
    "size": "a size: a number of bytes or a string like '512KiB', '256MiB', '1GB'",
    "duration": (
        "a duration: a number of seconds or a string like '250ms', '5s', '2m', '1h', '1d'"
    ),
    "names": "a list of strings",
    "sinks": "a list of sink URLs (strings, or tables with url = ... and options)",
    "notifiers": "a table of name = notifier URL (or name = { url = ..., options })",
    "rules": "a list of rule tables ([[...alerts.rules]])",
    "headers": "a table of header options ([tool.bulletproof.headers])",
}
_BOOLS: Final[Mapping[str, bool]] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "on": True,
    "off": False,
}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS: Final[Mapping[str, float]] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DIGITS: Final = re.compile(r"[+-]?[0-9]+")
"""A whole number as an environment variable or argument string usually gives it."""
_MAX_PENDING: Final = 10_000_000
"""The largest ``events.max_pending``: more events than that waiting in memory is no bound."""
_MAX_FIELD_CHARS: Final = 1 << 24
"""The largest ``events.max_field_chars``: an event is at most 16MiB anyway."""
_MAX_DURATION: Final = 365 * 86400.0
"""The longest duration :func:`parse_duration` accepts: a year. Longer is a mistake, and far
longer ones would overflow the waits of threads and sockets."""
_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHOLE_REF: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")
_USERINFO: Final = re.compile(r"^([a-z][a-z0-9+.\-]*://)([^@/?#]*)@", re.IGNORECASE)
_UNSAFE: Final = UNSAFE
_NOTIFIER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_REDACT: Final = RedactProcessor()


def _is_secret(name: str) -> bool:
    return _REDACT.is_secret(name)


def parse_duration(value: str | float, what: str) -> float:
    """Seconds from a number of seconds or a string like ``"250ms"``, ``"5s"``, ``"2m"``,
    ``"1h"``, ``"1d"`` (a bare number string is seconds), from 0 to 365 days. Raises
    ConfigError naming ``what``.

    >>> parse_duration("250ms", "durability_lag"), parse_duration("2m", "cooldown")
    (0.25, 120.0)

    Added in 0.1.
    """
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        # Clamped first: float() of a huge int raises OverflowError.
        number = float(max(-1, min(value, int(_MAX_DURATION) + 1)))
    elif isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:  # float() takes linear time; a long digit string becomes inf: out of range
            number = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()]
    if number is None or number < 0:
        raise ConfigError(
            f"{what} = {_brief('', value)} is not a duration: use a number of seconds >= 0 or a "
            "value like '250ms', '5s', '2m', '1h' or '1d'."
        )
    if number > _MAX_DURATION:
        raise ConfigError(
            f"{what} = {_brief('', value)} is out of range: use a duration from 0 to 365d "
            f"({int(_MAX_DURATION)} seconds)."
        )
    return number


# --------------------------------------------------------------------------------------------
# Locations and values as given
# --------------------------------------------------------------------------------------------

_Origin = Literal["file", "env", "arg"]


@dataclass(frozen=True, slots=True)
class _Loc:
    """Where a value was given: ``pyproject.toml: [tool.bulletproof.events] sinks[1]``."""

    head: str
    key: str = ""

    def at(self, suffix: str) -> _Loc:
        return _Loc(self.head, self.key + suffix)

    @property
    def name(self) -> str:
        parts = [p for p in re.split(r"[.\[\]]", self.key) if p and not p.isdigit()]
        return parts[-1] if parts else ""

    def __str__(self) -> str:
        if not self.key:
            return self.head
        if not self.head:
            return self.key
        if self.key[0] in "[.":
            return f"{self.head}{self.key}"
        return f"{self.head} {self.key}"


@dataclass(frozen=True, slots=True)
class _Given:
    value: object
    loc: _Loc
    origin: _Origin


def _a_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _brief(name: str, value: object) -> str:
    """A short repr of a value for a message: secrets masked, long text cut."""
    if isinstance(value, str):
        if _is_secret(name) and value and not _has_ref(value):
            return "'***'"
        text = _display_url(value)
        if len(text) > 80:
            text = text[:77] + "..."
        return repr(text)
    if _is_secret(name) and not isinstance(value, bool):
        return "'***'"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return "(a number of more than 30 digits)"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "{...}"
    if isinstance(value, list | tuple):
        return f"[...] ({len(value)} items)"
    return type(value).__name__


def _type_error(loc: _Loc, value: object, expected: str) -> ConfigError:
    shown = _brief(loc.name, value)
    hint = ""
    if isinstance(value, str) and expected in (_EXPECTED["int"], _EXPECTED["bool"]):
        hint = " Write it without quotes."
    return ConfigError(f"{loc} = {shown} is {_a_type(value)}; expected {expected}.{hint}")


def _has_ref(text: str) -> bool:
    return "${" in text


# --------------------------------------------------------------------------------------------
# Secrets: literal ones in files, display forms, scrubbing messages
# --------------------------------------------------------------------------------------------


def _split_query(url: str) -> tuple[str, str, str] | None:
    """``(before, query, fragment-with-#)`` or None when the URL has no query."""
    before, q, rest = url.partition("?")
    if not q:
        return None
    query, hash_, frag = rest.partition("#")
    return before, query, hash_ + frag


def _literal_secret_in_url(template: str) -> str | None:
    """What part of a URL as written holds a literal secret, or None."""
    if _WHOLE_REF.fullmatch(template):
        return None
    m = _USERINFO.match(template)
    if m and ":" in m.group(2):
        password = m.group(2).split(":", 1)[1]
        if password and not _has_ref(password):
            return "the password"
    parts = _split_query(template)
    if parts is not None:
        for pair in parts[1].split("&"):
            name, _, value = pair.partition("=")
            if value and not _has_ref(value) and _is_secret(unquote(name)):
                return f"parameter {unquote(name)!r}"
    return None


def _literal_secret_in(value: object, path: str, secret: bool) -> str | None:
    """The path of the first option holding a literal secret, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _literal_secret_in(item, f"{path}.{key}", secret or _is_secret(str(key)))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _literal_secret_in(item, f"{path}[{i}]", secret)
            if found is not None:
                return found
        return None
    if not secret or isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return path if value.strip() and not _has_ref(value) else None
    return path


def _env_word(text: str) -> str:
    word = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return word or "SECRET"


def _display_url(template: str) -> str:
    """The URL as written with literal secrets (password, secret parameters) masked."""
    if _WHOLE_REF.fullmatch(template):
        return template
    shown = template
    m = _USERINFO.match(shown)
    if m and ":" in m.group(2) and not _has_ref(m.group(2).split(":", 1)[1]):
        shown = mask_url(shown)
    parts = _split_query(shown)
    if parts is None:
        return shown
    before, query, frag = parts
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and not _has_ref(value) and _is_secret(unquote(name)):
            pair = f"{name}=***"
        pairs.append(pair)
    return f"{before}?{'&'.join(pairs)}{frag}"


def _display_value(value: object, secret: bool) -> Any:
    """Options as written, JSON-able, secret values only as their ``${VAR}`` template."""
    if isinstance(value, Mapping):
        return {str(k): _display_value(v, secret or _is_secret(str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_display_value(v, secret) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if secret:
        return value if isinstance(value, str) and _has_ref(value) else "***"
    if isinstance(value, str | int | float):
        return value
    return str(value)


def _secret_values(
    url: str, options: Mapping[str, Any], inserted: Iterable[tuple[str, str]] = ()
) -> list[str]:
    """The secrets in a built URL and options, to scrub from error messages.

    Besides passwords and secret-named parameters and options: longer values inserted from the
    environment into the parts of a URL that can carry credentials (a webhook's path).
    """
    found: list[str] = []
    for part, value in inserted:
        if part in _SECRET_PARTS and len(value) >= 8:
            found += [value, quote(value, safe=_URL_SAFE[part])]
    m = _USERINFO.match(url)
    if m and ":" in m.group(2):
        password = m.group(2).split(":", 1)[1]
        found += [password, unquote(password)]
    parts = _split_query(url)
    if parts is not None:
        for pair in parts[1].split("&"):
            name, _, value = pair.partition("=")
            if _is_secret(unquote(name)):
                found += [value, unquote(value)]

    def walk(value: object, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, secret or _is_secret(str(k)))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str):
            found.append(value)
            found.extend(value.split())

    walk(options, False)
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _freeze(value: object) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------


_MAX_DEPTH: Final = 64
"""How many levels tables and arrays may nest in a config (bulletproof's settings need a few)."""

_KEY_PART: Final = r"""(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_LONG_KEY: Final = re.compile(
    r"(?:^|(?<=[{,\[]))[ \t]*+"
    + _KEY_PART
    + r"(?:[ \t]*+\.[ \t]*+"
    + _KEY_PART
    + rf"){{{_MAX_DEPTH},}}",
    re.MULTILINE,
)
"""A dotted key (``a.b.c = 1``, ``[a.b.c]``) of more than ``_MAX_DEPTH`` parts: each part is a
level of tables, and tomllib takes quadratic time in the number of parts of one key, so such keys
are refused before parsing. Linear: it is tried only where a key can start (a line's start, after
``[``, ``{`` or ``,``), gives up there after at most ``_MAX_DEPTH`` parts (possessive, so without
backtracking into them), and the first match ends the search."""

_SPECIAL_FILES: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(label: str, mode: int, origin: str) -> ConfigError:
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "not a regular file")
    return ConfigError(
        f"config file {label!r}{origin} is {kind}; it must be a regular file (TOML text): "
        "replace it with one, or remove or rename it."
    )


def _too_deep(where: str, what: str = "tables and arrays (inline tables included)") -> ConfigError:
    return ConfigError(
        f"{where}: nested too deeply: {what} may nest at most {_MAX_DEPTH} levels; flatten the "
        "structure (bulletproof's settings need only a few)."
    )


def _nesting_exceeds(value: object, limit: int) -> bool:
    """Whether tables and lists nest more than ``limit`` levels below ``value``.

    Iterative, so that a deep document cannot exhaust the stack here; linear in its size. The
    code that walks a config (interpolation, freezing, display) recurses once per level, so
    documents are checked with this before any of it runs.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _present(path: Path) -> bool:
    """Whether anything (a file, a directory, a FIFO, a dangling link...) is at ``path``."""
    return os.path.lexists(path)


def _read_toml(path: Path, origin: str = "") -> dict[str, Any]:
    label = str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(label, mode, origin)
        # O_NONBLOCK: should the file have become a FIFO since the stat, open() does not wait
        # for a writer (and fstat refuses it).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(label, mode, origin)
            data = file.read()
    except FileNotFoundError:
        if path.is_symlink():
            raise ConfigError(
                f"config file {label!r}{origin} is a symbolic link to a missing file; point it "
                "at a TOML file, or remove it."
            ) from None
        raise ConfigError(f"config file {label!r}{origin} does not exist.") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {label!r}{origin}: {exc.strerror or exc}; check its "
            "permissions."
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{label}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8."
        ) from None
    long_key = _LONG_KEY.search(text)
    if long_key is not None:
        line = text.count("\n", 0, long_key.start()) + 1
        raise _too_deep(f"{label}, line {line}", "the parts of a dotted key (a level each)")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if m:
            where = f"{label}, line {m.group(1)}, column {m.group(2)}"
            message = message[: m.start()] + message[m.end() :]
        else:
            where = label
        raise ConfigError(
            f"{where}: TOML syntax error: {message}. Fix the syntax there (see https://toml.io)."
        ) from None
    except RecursionError:  # tomllib recurses once or more per level of arrays and inline tables
        raise _too_deep(label) from None
    except ValueError as exc:  # tomllib lets int()'s refusal of over 4300 digits through
        if "digits" not in str(exc):  # pragma: no cover - no other ValueError is known
            raise ConfigError(f"{label}: TOML syntax error: {exc}.") from None
        raise ConfigError(
            f"{label}: a number has too many digits (whole numbers of at most "
            f"{sys.get_int_max_str_digits()} digits can be read, and no setting takes one near "
            "that); write a sensible value."
        ) from None
    if _nesting_exceeds(doc, _MAX_DEPTH):  # dotted keys nest without recursing in tomllib
        raise _too_deep(label)
    return doc


@dataclass(frozen=True, slots=True)
class _Found:
    root: Path
    label: str
    table: Mapping[str, Any] | None
    prefix: tuple[str, ...]
    project_name: str | None
    source: str


def _project_name(doc: Mapping[str, Any] | None) -> str | None:
    if doc is None:
        return None
    project = doc.get("project")
    name = project.get("name") if isinstance(project, Mapping) else None
    return name if isinstance(name, str) and name.strip() else None


def _tool_table(doc: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
    tool = doc.get("tool")
    if not isinstance(tool, Mapping) or "bulletproof" not in tool:
        return None
    table = tool["bulletproof"]
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{label}: tool.bulletproof is {_a_type(table)}; expected a table "
            "([tool.bulletproof] with keys below it)."
        )
    return table


def _locate(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> _Found:
    origin = ""
    if path is None and env.get("BULLETPROOF_CONFIG"):
        path = env["BULLETPROOF_CONFIG"]
        origin = " (from BULLETPROOF_CONFIG)"
    given = Path(path) if path is not None else Path(".")
    if given.is_dir():
        root = given.resolve()
        own = given / "bulletproof.toml"
        pyproject = given / "pyproject.toml"
        # Anything at these names is read, so that a directory or FIFO there is an error rather
        # than silently ignored.
        if given.suffix.lower() == ".toml" and not _present(own) and not _present(pyproject):
            raise ConfigError(
                f"config path {str(given)!r}{origin} is a directory holding neither "
                "bulletproof.toml nor pyproject.toml; a config file must be a regular file: give "
                "the TOML file itself, or the project directory."
            )
        project_doc = _read_toml(pyproject, origin) if _present(pyproject) else None
        if _present(own):
            source = str(own)
            if project_doc is not None and _tool_table(project_doc, str(pyproject)) is not None:
                source += f" ({pyproject} [tool.bulletproof] ignored)"
            doc = _read_toml(own, origin)
            return _Found(root, str(own), doc, (), _project_name(project_doc), source)
        if project_doc is not None:
            table = _tool_table(project_doc, str(pyproject))
            if table is not None:
                return _Found(
                    root,
                    str(pyproject),
                    table,
                    ("tool", "bulletproof"),
                    _project_name(project_doc),
                    f"{pyproject} [tool.bulletproof]",
                )
        return _Found(root, str(given), None, (), _project_name(project_doc), "defaults")
    if _present(given):  # a file, or something else that _read_toml refuses by name
        doc = _read_toml(given, origin)
        root = given.resolve().parent
        if given.name == "pyproject.toml":
            table = _tool_table(doc, str(given))
            if table is None:
                return _Found(root, str(given), None, (), _project_name(doc), "defaults")
            return _Found(
                root,
                str(given),
                table,
                ("tool", "bulletproof"),
                _project_name(doc),
                f"{given} [tool.bulletproof]",
            )
        beside = root / "pyproject.toml"
        project_doc = _read_toml(beside, origin) if _present(beside) else None
        return _Found(root, str(given), doc, (), _project_name(project_doc), str(given))
    raise ConfigError(
        f"config path {str(given)!r}{origin} does not exist; give a directory holding "
        "bulletproof.toml or pyproject.toml, or the path of a TOML config file."
    )


def _table_keys(section: str) -> list[str]:
    if not section:
        return [k for k in _KINDS if "." not in k] + list(_SECTIONS)
    return [k.split(".", 1)[1] for k in _KINDS if k.startswith(section + ".")]


def _file_layer(table: Mapping[str, Any], label: str, prefix: tuple[str, ...]) -> dict[str, _Given]:
    out: dict[str, _Given] = {}

    def parts_of(section: str) -> list[str]:
        return [*prefix, *([section] if section else [])]

    def header(section: str) -> str:
        parts = parts_of(section)
        return f"{label}: [{'.'.join(parts)}]" if parts else f"{label}:"

    def walk(section: str, tbl: Mapping[str, Any]) -> None:
        known = _table_keys(section)
        for key, value in tbl.items():
            parts = parts_of(section)
            if key not in known:
                where = f"[{'.'.join(parts)}]" if parts else "the top level"
                raise ConfigError(
                    f"{label}: unknown key {'.'.join([*parts, key])!r} ({key!r} in {where})."
                    f"{did_you_mean(key, known)} Known keys there: {', '.join(known)}."
                )
            dotted = f"{section}.{key}" if section else key
            if dotted in _SECTIONS:
                if not isinstance(value, Mapping):
                    raise ConfigError(
                        f"{header(section)} {key} is {_a_type(value)}; expected a table "
                        f"([{'.'.join([*parts, key])}] with keys below it)."
                    )
                walk(dotted, value)
            else:
                out[dotted] = _Given(value, _Loc(header(section), key), "file")

    walk("", table)
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, _Given]:
    out: dict[str, _Given] = {}
    for name in sorted(env):
        if not name.startswith(_ENV_PREFIX):
            continue
        if name == "BULLETPROOF_CONFIG" or name.startswith("BULLETPROOF_TEST_"):
            continue
        key = _ENV_NAMES.get(name)
        if key is None:
            if name.startswith("BULLETPROOF_ALERTS"):
                raise ConfigError(
                    f"environment variable {name}: alert notifiers and rules cannot be set from "
                    "the environment; define them in the config file ([tool.bulletproof.alerts] "
                    "or [alerts] in bulletproof.toml) and keep their secrets in environment "
                    "variables referenced as ${NAME}."
                )
            raise ConfigError(
                f"unknown environment variable {name}.{did_you_mean(name, _ENV_NAMES)} "
                f"Known: {', '.join(_ENV_NAMES)} (plus BULLETPROOF_CONFIG, the config path). "
                "Unset it or fix its spelling."
            )
        out[key] = _Given(env[name], _Loc(f"environment variable {name}"), "env")
    return out


def _arg_layer(overrides: Mapping[str, Any]) -> dict[str, _Given]:
    out: dict[str, _Given] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _KINDS:
            raise ConfigError(
                f"argument {key!r} is not a setting.{did_you_mean(str(key), _KINDS)} "
                f"Known settings: {', '.join(_KINDS)}."
            )
        if _nesting_exceeds(value, _MAX_DEPTH - 1):  # a cycle, too, nests without end
            raise _too_deep(f"argument {key!r}")
        out[key] = _Given(value, _Loc("argument", key), "arg")
    return out


# --------------------------------------------------------------------------------------------
# Turning given values into typed ones
# --------------------------------------------------------------------------------------------


_URL_SAFE: Final[Mapping[str, str]] = {
    "scheme": "+.-",
    "userinfo": "",
    "host": ":[]",
    "path": "/",
    "query": "",
    "fragment": "",
}
_SECRET_PARTS: Final = frozenset({"userinfo", "path", "query", "fragment"})


def _url_parts(template: str) -> Callable[[int], str]:
    """Which part of the URL ``template`` each index falls in (references count as opaque)."""
    masked = re.sub(r"\$\$|\$\{[^}]*\}", lambda m: "x" * len(m.group()), template)
    colon = masked.find(":")
    has_scheme = colon > 0 and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", masked[:colon])
    start = colon + 1 if has_scheme else 0
    user_end = host_start = host_end = start
    if masked.startswith("//", start):
        auth_start = start + 2
        stop = re.search(r"[/?#]", masked[auth_start:])
        host_end = auth_start + stop.start() if stop else len(masked)
        at = masked.rfind("@", auth_start, host_end)
        user_end = at if at >= 0 else auth_start
        host_start = at + 1 if at >= 0 else auth_start
    hash_at = masked.find("#", host_end)
    frag = hash_at if hash_at >= 0 else len(masked)
    question = masked.find("?", host_end, frag)
    path_end = question if question >= 0 else frag

    def part_at(index: int) -> str:
        if has_scheme and index < colon:
            return "scheme"
        if index < user_end:
            return "userinfo"
        if host_start <= index < host_end:
            return "host"
        if index < path_end:
            return "path"
        return "query" if index < frag else "fragment"

    return part_at


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """A sink or notifier entry, checked and interpolated, ready to build."""

    loc: _Loc
    url: str
    options: dict[str, Any]
    display: str
    display_options: Any
    secrets: list[str]

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Prefix a build error with the key path; scrub any secret from it."""
        try:
            yield
        except (ValueError, TypeError) as exc:  # ConfigError is a ValueError
            message = str(exc).replace(mask_url(self.url), self.display)
            message = _scrub(message.replace(self.url, self.display), self.secrets)
            raise ConfigError(f"{self.loc}: {message}") from None

    def sink_config(self) -> SinkConfig:
        return SinkConfig(
            self.url, _freeze(self.options), self.display, _freeze(self.display_options)
        )

    def notifier_config(self, name: str) -> NotifierConfig:
        return NotifierConfig(
            name, self.url, _freeze(self.options), self.display, _freeze(self.display_options)
        )


class _Builder:
    """Interpolates, coerces and validates given values against one root and environment."""

    def __init__(self, env: Mapping[str, str], root: Path) -> None:
        self.env = env
        self.root = root

    # -- ${VAR} ------------------------------------------------------------------------------

    def interp(
        self,
        text: str,
        loc: _Loc,
        *,
        url: bool = False,
        record: list[tuple[str, str]] | None = None,
    ) -> tuple[str, bool]:
        """``text`` with references replaced, and whether it had any.

        With ``url``, a value inserted into part of a URL is percent-encoded for that part (all
        of ``@:/%#?&`` in the userinfo, query and fragment; ``/`` kept in the path; ``:`` kept in
        the host); ``record`` receives ``(part, value)`` for each insertion.
        """
        if "$" not in text:
            return text, False
        whole = _WHOLE_REF.fullmatch(text) is not None
        part_at = _url_parts(text) if url and not whole else None
        out: list[str] = []
        had = False
        i = 0
        while True:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            following = text[j + 1 : j + 2]
            if following == "$":
                out.append("$")
                i = j + 2
                continue
            if following != "{":
                out.append("$")
                i = j + 1
                continue
            end = text.find("}", j + 2)
            if end < 0:
                raise ConfigError(
                    f"{loc}: '${{' without a closing '}}'. Write ${{NAME}} to use the "
                    "environment variable NAME, or $$ for a literal $."
                )
            name, sep, default = text[j + 2 : end].partition(":-")
            if not _VAR_NAME.fullmatch(name):
                raise ConfigError(
                    f"{loc}: {('${' + name[:40] + '}')!r} is not a valid reference: a variable "
                    "name is letters, digits and _ (not starting with a digit), as in "
                    "${LOG_TOKEN} or ${LOG_TOKEN:-default}. Write $$ for a literal $."
                )
            value = self.env.get(name)
            if not value and sep:
                value = default
            if value is None:
                raise ConfigError(
                    f"{loc} uses ${{{name}}}, but the environment variable {name} is not set. "
                    f"Set it (export {name}=...), or give a default with ${{{name}:-value}}."
                )
            part = "url" if part_at is None else part_at(j)
            if record is not None:
                record.append((part, value))
            if part_at is not None:
                value = quote(value, safe=_URL_SAFE[part])
            out.append(value)
            had = True
            i = end + 1
        return "".join(out), had

    def deep_interp(self, value: object, loc: _Loc) -> object:
        if isinstance(value, str):
            return self.interp(value, loc)[0]
        if isinstance(value, Mapping):
            return {str(k): self.deep_interp(v, loc.at(f".{k}")) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep_interp(v, loc.at(f"[{i}]")) for i, v in enumerate(value)]
        return value

    # -- scalars and lists -------------------------------------------------------------------

    def value(self, kind: _Kind, raw: object, loc: _Loc, lenient: bool) -> Any:
        """A scalar or list of strings; ``lenient``: strings are parsed as env values are."""
        if kind == "names":
            return self.names(raw, loc, lenient)
        value = raw
        if isinstance(raw, str):
            value, had_ref = self.interp(raw, loc)
            lenient = lenient or had_ref
        expected = _EXPECTED[kind]
        if kind in ("str", "path"):
            if not isinstance(value, str):
                raise _type_error(loc, value, expected)
            if kind == "path":
                if not value.strip() or "\x00" in value:
                    raise ConfigError(f"{loc} is empty or has a NUL character; give a path.")
                path = Path(value).expanduser()
                return path if path.is_absolute() else self.root / path
            return value
        if kind == "int":
            if isinstance(value, str) and lenient:
                text = value.strip()
                if _DIGITS.fullmatch(text):
                    # More than 30 digits is beyond any range: skip int(), which takes more
                    # than linear time on long digit strings (and refuses over 4300 digits);
                    # the range check that follows names the key and the accepted range.
                    sign = -1 if text.startswith("-") else 1
                    core = text.lstrip("+-").lstrip("0") or "0"
                    return sign * (10**30 if len(core) > 30 else int(core))
                try:
                    return int(text)
                except ValueError:
                    raise ConfigError(
                        f"{loc} = {_brief(loc.name, value)} is not {expected}."
                    ) from None
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(loc, value, expected)
            return value
        if kind == "bool":
            if isinstance(value, str) and lenient:
                flag = _BOOLS.get(value.strip().lower())
                if flag is None:
                    raise ConfigError(
                        f"{loc} = {_brief(loc.name, value)} is not {expected} "
                        "(accepted: true, false, 1, 0, yes, no, on, off)."
                    )
                return flag
            if not isinstance(value, bool):
                raise _type_error(loc, value, expected)
            return value
        if kind == "size":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise _type_error(loc, value, expected)
            return parse_size(value, str(loc))
        if kind == "duration":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _type_error(loc, value, expected)
            return parse_duration(value, str(loc))
        raise ConfigError(f"{loc}: internal error: unknown kind {kind!r}")  # pragma: no cover

    def split(self, text: str, loc: _Loc, sep: str, example: str) -> list[object]:
        """An env-style list: a JSON array, or items separated by ``sep``."""
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                items: list[object] = json.loads(stripped)  # "[..." parses to a list or fails
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{loc}: not a valid JSON array ({exc.msg} at character {exc.pos}). Write "
                    f"a JSON array such as {example}, or the items separated by {sep}."
                ) from None
            except RecursionError:
                raise _too_deep(str(loc)) from None
            if _nesting_exceeds(items, _MAX_DEPTH - 1):  # the array is a level itself
                raise _too_deep(str(loc))
            return items
        pattern = r"\s+" if sep == "whitespace" else r"[\s,]+"
        return [item for item in re.split(pattern, stripped) if item]

    def names(self, raw: object, loc: _Loc, lenient: bool) -> tuple[str, ...]:
        if isinstance(raw, str) and lenient:
            items = self.split(raw, loc, "commas or whitespace", '["a", "b"]')
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise _type_error(loc, raw, _EXPECTED["names"])
        out: list[str] = []
        for i, item in enumerate(items):
            iloc = loc.at(f"[{i}]")
            if not isinstance(item, str):
                raise _type_error(iloc, item, _EXPECTED["str"])
            text = self.interp(item, iloc)[0].strip()
            if not text or _UNSAFE.search(text):
                raise ConfigError(
                    f"{iloc} = {_brief(iloc.name, item)} is empty or has control characters."
                )
            out.append(text)
        return tuple(out)

    # -- sinks and notifiers -----------------------------------------------------------------

    def endpoint(
        self, item: object, loc: _Loc, origin: _Origin, what: Literal["sink", "notifier"]
    ) -> _Endpoint:
        """Check one sink or notifier entry and interpolate it (building is the caller's)."""
        if isinstance(item, str):
            template: object = item
            written: dict[str, Any] = {}
        elif isinstance(item, Mapping):
            if "url" not in item:
                keys = ", ".join(str(k) for k in item) or "none"
                raise ConfigError(
                    f'{loc}: a {what} table needs url = "..." (the {what} URL); it has keys: '
                    f"{keys}."
                )
            template = item["url"]
            written = {str(k): v for k, v in item.items() if k != "url"}
        else:
            raise _type_error(loc, item, f"a {what} URL (a string) or a table with url = ...")
        if not isinstance(template, str):
            raise _type_error(loc.at(".url"), template, f"a {what} URL (a string)")
        if origin == "file":
            self.refuse_literal_secrets(template, written, loc)
        inserted: list[tuple[str, str]] = []
        url = self.interp(template, loc, url=True, record=inserted)[0]
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        registry = SINK_SCHEMES if what == "sink" else NOTIFIER_SCHEMES
        if scheme in registry:
            allowed = _OPTIONS.get(scheme, frozenset())
            for key in written:
                if key in allowed:
                    continue
                if allowed:
                    raise ConfigError(
                        f"{loc}: unknown option {key!r} for a {scheme}: {what}."
                        f"{did_you_mean(key, allowed)} Known options: "
                        f"{', '.join(sorted(allowed))}."
                    )
                raise ConfigError(
                    f"{loc}: unknown option {key!r}: a {scheme}: {what} takes no options beside "
                    "its URL; give its parameters in the URL's query string (?name=value)."
                )
        options: dict[str, Any] = {
            key: self.deep_interp(value, loc.at(f".{key}")) for key, value in written.items()
        }
        timeout = options.get("timeout")
        if isinstance(timeout, str):
            options["timeout"] = parse_duration(timeout, str(loc.at(".timeout")))
        return _Endpoint(
            loc=loc,
            url=url,
            options=options,
            display=_display_url(template),
            display_options=_display_value(written, False),
            secrets=_secret_values(url, options, inserted),
        )

    def refuse_literal_secrets(self, template: str, written: Mapping[str, Any], loc: _Loc) -> None:
        part = _literal_secret_in_url(template)
        if part is not None:
            scheme = template.partition(":")[0].lower()
            if part != "the password":
                suggestion = _env_word(part.split("'")[1])
            elif "twilio" in scheme:
                suggestion = "TWILIO_AUTH_TOKEN"
            else:
                suggestion = _env_word(scheme.rpartition("+")[2]) + "_PASSWORD"
            raise ConfigError(
                f"{loc}: {part} in URL {_display_url(template)!r} holds a secret written in the "
                f"file; put it in an environment variable and write ${{{suggestion}}} there "
                "instead."
            )
        path = _literal_secret_in(written, "", False)
        if path is not None:
            name = re.split(r"[.\[]", path.rstrip("]"))[-1]
            example = (
                'Authorization = "Bearer ${API_TOKEN}"'
                if name.lower() == "authorization"
                else f'{name} = "${{{_env_word(name)}}}"'
            )
            raise ConfigError(
                f"{loc.at(path)} holds a secret written in the file; put it in an environment "
                f"variable and write ${{NAME}} instead, as in {example}."
            )

    def sinks(self, given: _Given | None) -> tuple[SinkConfig, ...]:
        if given is None:
            return (SinkConfig(DEFAULT_SINK, _empty(), DEFAULT_SINK),)
        raw = given.value
        if isinstance(raw, str) and given.origin != "file":
            items = self.split(
                raw, given.loc, "whitespace", '["file:events.jsonl", {"url": "https://..."}]'
            )
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise _type_error(given.loc, raw, _EXPECTED["sinks"])
        out: list[SinkConfig] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            loc = given.loc.at(f"[{i}]")
            ep = self.endpoint(item, loc, given.origin, "sink")
            with ep.building():
                sink = sink_from_url(ep.url, options=ep.options, base_dir=self.root)
            if sink.name in seen:
                raise ConfigError(
                    f"{loc}: the sink {ep.display!r} is already listed as {seen[sink.name]}; "
                    "list each sink once."
                )
            seen[sink.name] = f"sinks[{i}]"
            out.append(ep.sink_config())
        return tuple(out)

    def notifiers(
        self, given: _Given | None
    ) -> tuple[tuple[NotifierConfig, ...], dict[str, Notifier]]:
        if given is None:
            return (), {}
        raw = given.value
        if not isinstance(raw, Mapping):
            raise _type_error(given.loc, raw, _EXPECTED["notifiers"])
        configs: list[NotifierConfig] = []
        built: dict[str, Notifier] = {}
        for name, item in raw.items():
            loc = given.loc.at(f".{name}")
            if not isinstance(name, str) or not _NOTIFIER_NAME.fullmatch(name):
                raise ConfigError(
                    f"{given.loc}: notifier name {str(name)[:80]!r} is not valid: use up to 64 "
                    "letters, digits, '_', '-' or '.', starting with a letter or digit."
                )
            ep = self.endpoint(item, loc, given.origin, "notifier")
            with ep.building():
                built[name] = notifier_from_url(ep.url, options=ep.options, base_dir=self.root)
            configs.append(ep.notifier_config(name))
        return tuple(configs), built

    def rules(
        self, given: _Given | None, notifiers: Mapping[str, Notifier]
    ) -> tuple[AlertRule, ...]:
        if given is None:
            return ()
        raw = given.value
        if not isinstance(raw, list | tuple):
            raise _type_error(given.loc, raw, _EXPECTED["rules"])
        lenient = given.origin != "file"
        out: list[AlertRule] = []
        names: dict[str, int] = {}
        for i, item in enumerate(raw):
            loc = given.loc.at(f"[{i}]")
            if not isinstance(item, Mapping):
                raise _type_error(loc, item, "a rule table (name = ..., notify = [...], ...)")
            kwargs: dict[str, Any] = {}
            for key, value in item.items():
                kind = _RULE_KINDS.get(str(key))
                if kind is None:
                    raise ConfigError(
                        f"{loc}: unknown key {str(key)!r} in an alert rule."
                        f"{did_you_mean(str(key), _RULE_KINDS)} Known keys: "
                        f"{', '.join(_RULE_KINDS)}."
                    )
                kwargs[str(key)] = self.value(kind, value, loc.at(f".{key}"), lenient)
            if "name" not in kwargs:
                raise ConfigError(
                    f'{loc}: the rule has no name; add name = "..." (a unique short name such '
                    'as "brute-force").'
                )
            try:
                rule = AlertRule(**kwargs)
            except ConfigError as exc:
                raise ConfigError(f"{loc}: {exc}") from None
            if rule.name in names:
                raise ConfigError(
                    f"{loc}: alert rule {rule.name!r} is already defined as rules"
                    f"[{names[rule.name]}]; rule names must be unique."
                )
            names[rule.name] = i
            try:
                AlertEngine([rule], notifiers)
            except ConfigError as exc:
                raise ConfigError(f"{loc}: {exc}") from None
            out.append(rule)
        return tuple(out)


def _out_of_range(given: _Given | None, key: str, value: object, rule: str) -> ConfigError:
    where = str(given.loc) if given is not None else key
    return ConfigError(f"{where} = {_brief('', value)} is out of range: {rule}.")


# --------------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load, validate and freeze the configuration.

    ``path`` is a directory (``bulletproof.toml`` is used if present, else the
    ``[tool.bulletproof]`` table of ``pyproject.toml``, else defaults) or a file
    (``pyproject.toml``: its ``[tool.bulletproof]`` table; any other name: top-level TOML).
    Without ``path``: ``BULLETPROOF_CONFIG`` from ``env``, else the current directory.
    ``env`` (default ``os.environ``) supplies ``BULLETPROOF_*`` settings and ``${VAR}`` values.
    ``overrides`` maps dotted keys (``"events.spool_dir"``) to values, checked as file values
    are, except that a string for a number, flag, size, duration or list is parsed as an
    environment value would be; ``None`` values are skipped. Relative paths, from any source,
    resolve against the root.

    Every sink and notifier is built once to validate it (nothing connects). Raises
    :class:`~bulletproof.errors.ConfigError` naming the file, key and value (secrets masked).

    Added in 0.1.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    found = _locate(path, environ)
    layers: dict[str, _Given] = {}
    if found.table is not None:
        layers.update(_file_layer(found.table, found.label, found.prefix))
    from_env = _env_layer(environ)
    from_args = _arg_layer(overrides or {})
    layers.update(from_env)
    layers.update(from_args)

    b = _Builder(environ, found.root)

    def get(key: str, default: Any) -> Any:
        given = layers.get(key)
        if given is None:
            return default
        return b.value(_KINDS[key], given.value, given.loc, given.origin != "file")

    default_name = found.project_name or found.root.name or "service"
    service_name = get("service_name", default_name).strip()
    if not service_name or _UNSAFE.search(service_name) or len(service_name) > 200:
        raise _out_of_range(
            layers.get("service_name"),
            "service_name",
            service_name,
            "give a non-empty name of at most 200 characters without control characters",
        )

    spool_max_bytes: int = get("events.spool_max_bytes", 256 * _MIB)
    segment_bytes: int = get("events.segment_bytes", 8 * _MIB)
    durability_lag: float = get("events.durability_lag", 0.1)
    max_pending: int = get("events.max_pending", 100_000)
    backoff_max: float = get("events.backoff_max", 10.0)
    max_field_chars: int = get("events.max_field_chars", 8192)
    max_event_bytes: int = get("events.max_event_bytes", 64 * 1024)
    checks: list[tuple[str, object, bool, str]] = [
        ("events.segment_bytes", segment_bytes, segment_bytes >= 4096, "use at least 4KiB"),
        (
            "events.spool_max_bytes",
            spool_max_bytes,
            spool_max_bytes >= 2 * segment_bytes,
            f"use at least twice segment_bytes ({segment_bytes} bytes)",
        ),
        ("events.durability_lag", durability_lag, durability_lag > 0, "use more than 0s"),
        ("events.max_pending", max_pending, max_pending >= 1, "use at least 1"),
        (
            "events.max_pending",
            max_pending,
            max_pending <= _MAX_PENDING,
            f"use from 1 to {_MAX_PENDING} (events waiting in memory for the spool writer)",
        ),
        ("events.backoff_max", backoff_max, backoff_max >= 0.1, "use at least 100ms"),
        ("events.max_field_chars", max_field_chars, max_field_chars >= 16, "use at least 16"),
        (
            "events.max_field_chars",
            max_field_chars,
            max_field_chars <= _MAX_FIELD_CHARS,
            f"use from 16 to {_MAX_FIELD_CHARS} (16Mi characters)",
        ),
        (
            "events.max_event_bytes",
            max_event_bytes,
            1024 <= max_event_bytes <= 16 * _MIB,
            "use from 1KiB to 16MiB (an event longer than that, serialized, is cut to it)",
        ),
    ]
    for key, value, ok, rule in checks:
        if not ok:
            given = layers.get(key)
            if given is None and key == "events.spool_max_bytes":
                given = layers.get("events.segment_bytes")
            raise _out_of_range(given, key, value, rule)

    events = EventsConfig(
        spool_dir=get("events.spool_dir", found.root / DEFAULT_SPOOL_DIR),
        spool_max_bytes=spool_max_bytes,
        segment_bytes=segment_bytes,
        durability_lag=durability_lag,
        fsync=get("events.fsync", True),
        max_pending=max_pending,
        backoff_max=backoff_max,
        sinks=b.sinks(layers.get("events.sinks")),
        redact_fields=get("events.redact_fields", ()),
        max_field_chars=max_field_chars,
        max_event_bytes=max_event_bytes,
    )
    notifier_configs, notifiers = b.notifiers(layers.get("alerts.notifiers"))
    alerts = AlertsConfig(
        notifiers=notifier_configs,
        rules=b.rules(layers.get("alerts.rules"), notifiers),
    )
    headers = _headers_config(layers.get("headers"))
    source = found.source
    if from_env:
        source += " + environment"
    if from_args:
        source += " + arguments"
    return Config(
        service_name=service_name,
        root=found.root,
        source=source,
        events=events,
        alerts=alerts,
        headers=headers,
        routes=RoutesConfig(public=get("routes.public", ())),
        app=_app_spec(layers.get("app")),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _app_spec(given: _Given | None) -> str | None:
    if given is None:
        return None
    value = given.value
    if not isinstance(value, str):
        raise _type_error(given.loc, value, "a string like 'module:app'")
    module, colon, attr = value.strip().partition(":")
    if not module or (colon and not attr) or any(c.isspace() for c in value.strip()):
        raise ConfigError(
            f"{given.loc} = {value!r}: expected 'module:attribute' (like 'app:app' or "
            "'mysite.asgi:application'), relative to the config file's directory."
        )
    return value.strip()


def _headers_config(given: _Given | None) -> HeadersConfig:
    if given is None:
        return HeadersConfig()
    if not isinstance(given.value, Mapping):
        raise _type_error(given.loc, given.value, _EXPECTED["headers"])
    options = _plain(given.value)
    from bulletproof.headers import secure_headers

    try:
        secure_headers(**options)
    except ConfigError as exc:
        raise ConfigError(f"{given.loc}: {exc}") from None
    except TypeError as exc:  # an option name that is not a keyword at all
        raise ConfigError(f"{given.loc}: {exc}") from None
    frozen: Mapping[str, Any] = _freeze(options)
    return HeadersConfig(options=frozen)


def build_header_policy(config: Config) -> HeaderPolicy:
    """The :class:`~bulletproof.headers.HeaderPolicy` the config describes. Added in 0.1."""
    from bulletproof.headers import secure_headers

    policy: HeaderPolicy = secure_headers(**_plain(config.headers.options))
    return policy


def config_as_dict(config: Config) -> dict[str, Any]:
    """A JSON-able view for ``bulletproof config show``.

    Sinks and notifiers appear only in their display forms (URLs as written, secret options as
    their ``${VAR}`` templates), so no secret read from the environment can appear.

    Added in 0.1.
    """
    ev = config.events
    return {
        "service_name": config.service_name,
        "root": str(config.root),
        "source": config.source,
        "events": {
            "spool_dir": str(ev.spool_dir),
            "spool_max_bytes": ev.spool_max_bytes,
            "segment_bytes": ev.segment_bytes,
            "durability_lag": ev.durability_lag,
            "fsync": ev.fsync,
            "max_pending": ev.max_pending,
            "backoff_max": ev.backoff_max,
            "sinks": [
                {"url": s.display, "options": _display_value(s.display_options, False)}
                for s in ev.sinks
            ],
            "redact_fields": list(ev.redact_fields),
            "max_field_chars": ev.max_field_chars,
            "max_event_bytes": ev.max_event_bytes,
        },
        "app": config.app,
        "headers": _plain(config.headers.options),
        "routes": {"public": list(config.routes.public)},
        "alerts": {
            "notifiers": {
                n.name: {"url": n.display, "options": _display_value(n.display_options, False)}
                for n in config.alerts.notifiers
            },
            "rules": [
                {
                    "name": r.name,
                    "categories": sorted(c.value for c in r.categories),
                    "actions": sorted(r.actions),
                    "min_severity": r.min_severity.value,
                    "threshold": r.threshold,
                    "within": r.within,
                    "group_by": r.group_by,
                    "cooldown": r.cooldown,
                    "notify": list(r.notify),
                }
                for r in config.alerts.rules
            ],
        },
    }


def pipeline_options(config: Config) -> PipelineOptions:
    """The :class:`~bulletproof.events.pipeline.PipelineOptions` for ``config``.

    Added in 0.1.
    """
    ev = config.events
    return PipelineOptions(
        spool_dir=ev.spool_dir,
        spool_max_bytes=ev.spool_max_bytes,
        segment_bytes=ev.segment_bytes,
        durability_lag=ev.durability_lag,
        fsync=ev.fsync,
        max_pending=ev.max_pending,
        backoff_max=ev.backoff_max,
        service=config.service_name,
        redact_fields=ev.redact_fields,
        max_field_chars=ev.max_field_chars,
        max_event_bytes=ev.max_event_bytes,
    )


def build_sinks(config: Config) -> list[Sink]:
    """New sink objects for ``config.events.sinks`` (not opened). Added in 0.1."""
    return [
        sink_from_url(s.url, options=s.options, base_dir=config.root) for s in config.events.sinks
    ]


def build_alert_engine(
    config: Config, emitter: Emitter | None, *, clock: Clock = system_clock
) -> AlertEngine | None:
    """The alert engine for ``config.alerts``, or None when no rules are configured.

    ``emitter`` receives the engine's own ``delivery`` events (failed notifications).

    Added in 0.1.
    """
    if not config.alerts.rules:
        return None
    notifiers = {
        n.name: notifier_from_url(n.url, options=n.options, base_dir=config.root)
        for n in config.alerts.notifiers
    }
    return AlertEngine(config.alerts.rules, notifiers, emitter=emitter, clock=clock)


class _Forward:
    """An emitter that forwards to the pipeline once it exists (the engine is built first)."""

    __slots__ = ("target",)

    def __init__(self) -> None:
        self.target: Emitter | None = None

    def emit(self, event: SecurityEvent) -> None:
        target = self.target
        if target is not None:
            with contextlib.suppress(Exception):
                target.emit(event)


def build_pipeline(config: Config, *, clock: Clock = system_clock) -> EventPipeline:
    """The event pipeline for ``config``: its sinks, options and alert engine. Not started.

    The alert engine reports failed notifications back into the same pipeline.

    Added in 0.1.
    """
    forward = _Forward()
    engine = build_alert_engine(config, forward, clock=clock)
    pipeline = EventPipeline(
        build_sinks(config), options=pipeline_options(config), alerts=engine, clock=clock
    )
    forward.target = pipeline
    return pipeline
