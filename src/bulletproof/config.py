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
import dataclasses
import json
import os
import re
import stat
import sys
import tomllib
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, unquote

from bulletproof._sensitive import is_secret_name
from bulletproof._settings import (
    Given,
    Loc,
    NotifierConfig,
    SinkConfig,
    a_type,
    coerce,
    display,
    env_names,
    known_keys,
    load_section,
    type_error,
)
from bulletproof._text import UNSAFE, did_you_mean
from bulletproof._units import parse_duration
from bulletproof.audit._settings import AuditConfig
from bulletproof.clock import Clock, system_clock
from bulletproof.detect._settings import ShieldConfig
from bulletproof.errors import ConfigError
from bulletproof.events._settings import DEFAULT_SINK, DEFAULT_SPOOL_DIR, EventsConfig
from bulletproof.events.alerts import AlertEngine, AlertsConfig
from bulletproof.events.base import Emitter, Sink
from bulletproof.events.model import SecurityEvent
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.headers._settings import HeadersConfig
from bulletproof.routes._settings import RoutesConfig
from bulletproof.sinks import (
    NOTIFIER_SCHEMES,
    SINK_SCHEMES,
    mask_url,
    notifier_from_url,
    sink_from_url,
)
from bulletproof.supervise._settings import RunConfig

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
    "pipeline_options",
]

# Where a value came from: the file, the environment, or a keyword argument.
_Origin = Literal["file", "env", "arg"]


# --------------------------------------------------------------------------------------------
# The config: top-level keys, then one section per capability
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Top:
    """The keys at the top level of the config (beside the sections)."""

    service_name: str = ""
    app: str = ""
    check_path: str = "/"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration.

    ``root`` is the directory holding the config file (relative paths resolve against it);
    ``source`` says where the settings came from, for people (``"pyproject.toml
    [tool.bulletproof] + environment"``, ``"defaults"``). Each section is a typed dataclass
    beside its capability's code; a field here whose type is such a dataclass is a section of
    the file (``[tool.bulletproof.<name>]``): adding a section is its dataclass and one field.

    Added in 0.1.
    """

    service_name: str
    root: Path
    source: str
    headers: HeadersConfig = field(default_factory=HeadersConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    routes: RoutesConfig = field(default_factory=RoutesConfig)
    shield: ShieldConfig = field(default_factory=ShieldConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    run: RunConfig = field(default_factory=RunConfig)
    app: str | None = None
    check_path: str = "/"


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(Config)
        if isinstance(hints[f.name], type) and dataclasses.is_dataclass(hints[f.name])
    }


_SECTIONS: Final[Mapping[str, type]] = _sections()
_ENV_PREFIX: Final = "BULLETPROOF_"
# Not settings: test switches, and what `bulletproof run` tells the server it starts.
_ENV_IGNORED: Final = ("BULLETPROOF_TEST_", "BULLETPROOF_SUPERVISOR_")
_ENV_NAMES: Final[Mapping[str, str]] = env_names(_ENV_PREFIX, {"": _Top, **_SECTIONS})


def _whole_table(cls: type) -> str | None:
    """The field that takes a section's whole table, for free-form sections (headers)."""
    name = getattr(cls, "whole_table", None)
    return name if isinstance(name, str) else None


def _settings() -> list[str]:
    """Every dotted key arguments may set, in order."""
    keys = list(known_keys(_Top))
    for section, cls in _SECTIONS.items():
        if _whole_table(cls):
            keys.append(section)
        else:
            keys.extend(f"{section}.{key}" for key in known_keys(cls))
    return keys


_SETTINGS: Final = _settings()

_HTTP_OPTIONS: Final = frozenset({"headers", "timeout", "ca"})
_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "http": _HTTP_OPTIONS,
    "https": _HTTP_OPTIONS,
    "webhook+http": _HTTP_OPTIONS,
    "webhook+https": _HTTP_OPTIONS,
}
"""Options a sink or notifier takes beside its URL, by scheme (the others take none)."""

_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHOLE_REF: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")
_USERINFO: Final = re.compile(r"^([a-z][a-z0-9+.\-]*://)([^@/?#]*)@", re.IGNORECASE)
_NOTIFIER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def _is_secret(name: str) -> bool:
    return is_secret_name(name)


def _has_ref(text: str) -> bool:
    return "${" in text


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
            f"{label}: tool.bulletproof is {a_type(table)}; expected a table "
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


# --------------------------------------------------------------------------------------------
# Layers: the file, the environment, arguments
# --------------------------------------------------------------------------------------------


def _known(section: str) -> list[str]:
    if not section:
        return known_keys(_Top) + list(_SECTIONS)
    return known_keys(_SECTIONS[section])


def _file_layer(table: Mapping[str, Any], label: str, prefix: tuple[str, ...]) -> dict[str, Given]:
    out: dict[str, Given] = {}

    def parts_of(section: str) -> list[str]:
        return [*prefix, *([section] if section else [])]

    def header(section: str) -> str:
        parts = parts_of(section)
        return f"{label}: [{'.'.join(parts)}]" if parts else f"{label}:"

    def walk(section: str, tbl: Mapping[str, Any]) -> None:
        known = _known(section)
        for key, value in tbl.items():
            parts = parts_of(section)
            if key not in known:
                where = f"[{'.'.join(parts)}]" if parts else "the top level"
                raise ConfigError(
                    f"{label}: unknown key {'.'.join([*parts, key])!r} ({key!r} in {where})."
                    f"{did_you_mean(key, known)} Known keys there: {', '.join(known)}."
                )
            if not section and key in _SECTIONS:
                whole = _whole_table(_SECTIONS[key])
                if whole is not None:
                    out[key] = Given(value, Loc(header(section), key), "file")
                    continue
                if not isinstance(value, Mapping):
                    raise ConfigError(
                        f"{header(section)} {key} is {a_type(value)}; expected a table "
                        f"([{'.'.join([*parts, key])}] with keys below it)."
                    )
                walk(key, value)
            else:
                dotted = f"{section}.{key}" if section else key
                out[dotted] = Given(value, Loc(header(section), key), "file")

    walk("", table)
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Given]:
    out: dict[str, Given] = {}
    for name in sorted(env):
        if not name.startswith(_ENV_PREFIX):
            continue
        if name == "BULLETPROOF_CONFIG" or name.startswith(_ENV_IGNORED):
            continue
        key = _ENV_NAMES.get(name)
        if key is None:
            section = name[len(_ENV_PREFIX) :].partition("__")[0].lower()
            cls = _SECTIONS.get(section)
            if (
                cls is not None
                and not _whole_table(cls)
                and not any(v.startswith(section + ".") for v in _ENV_NAMES.values())
            ):
                raise ConfigError(
                    f"environment variable {name}: the {section} section cannot be set from "
                    f"the environment; define it in the config file ([tool.bulletproof."
                    f"{section}] or [{section}] in bulletproof.toml) and keep its secrets in "
                    "environment variables referenced as ${NAME}."
                )
            raise ConfigError(
                f"unknown environment variable {name}.{did_you_mean(name, _ENV_NAMES)} "
                f"Known: {', '.join(_ENV_NAMES)} (plus BULLETPROOF_CONFIG, the config path). "
                "Unset it or fix its spelling."
            )
        out[key] = Given(env[name], Loc(f"environment variable {name}"), "env")
    return out


def _arg_layer(overrides: Mapping[str, Any]) -> dict[str, Given]:
    out: dict[str, Given] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _SETTINGS:
            raise ConfigError(
                f"argument {key!r} is not a setting.{did_you_mean(str(key), _SETTINGS)} "
                f"Known settings: {', '.join(_SETTINGS)}."
            )
        if _nesting_exceeds(value, _MAX_DEPTH - 1):  # a cycle, too, nests without end
            raise _too_deep(f"argument {key!r}")
        out[key] = Given(value, Loc("argument", key), "arg")
    return out


# --------------------------------------------------------------------------------------------
# Interpolation, and sinks and notifiers built from their entries
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

    loc: Loc
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
    """The :class:`~bulletproof._settings.Context` of one load: a root and an environment for
    ``${VAR}``, and sinks and notifiers checked for secrets and built."""

    def __init__(self, env: Mapping[str, str], root: Path) -> None:
        self.env = env
        self._root = root

    @property
    def root(self) -> Path:
        """The config file's directory."""
        return self._root

    def brief(self, name: str, value: object) -> str:
        """A short form of a value for a message (secrets masked)."""
        return _brief(name, value)

    # -- ${VAR} ------------------------------------------------------------------------------

    def interp(
        self,
        text: str,
        loc: Loc,
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

    def deep_interp(self, value: object, loc: Loc) -> object:
        if isinstance(value, str):
            return self.interp(value, loc)[0]
        if isinstance(value, Mapping):
            return {str(k): self.deep_interp(v, loc.at(f".{k}")) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep_interp(v, loc.at(f"[{i}]")) for i, v in enumerate(value)]
        return value

    def split(self, text: str, loc: Loc, sep: str, example: str) -> list[object]:
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

    # -- sinks and notifiers -----------------------------------------------------------------

    def endpoint(
        self, item: object, loc: Loc, origin: _Origin, what: Literal["sink", "notifier"]
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
            raise type_error(loc, item, f"a {what} URL (a string) or a table with url = ...", self)
        if not isinstance(template, str):
            raise type_error(loc.at(".url"), template, f"a {what} URL (a string)", self)
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

    def refuse_literal_secrets(self, template: str, written: Mapping[str, Any], loc: Loc) -> None:
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

    def sinks(self, given: Given) -> tuple[SinkConfig, ...]:
        """Sinks from a list of entries (URLs, or tables with ``url``), each built once."""
        raw = given.value
        if isinstance(raw, str) and given.origin != "file":
            items = self.split(
                raw, given.loc, "whitespace", '["file:events.jsonl", {"url": "https://..."}]'
            )
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise type_error(
                given.loc,
                raw,
                "a list of sink URLs (strings, or tables with url = ... and options)",
                self,
            )
        out: list[SinkConfig] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            loc = given.loc.at(f"[{i}]")
            ep = self.endpoint(item, loc, given.origin, "sink")
            with ep.building():
                sink = sink_from_url(ep.url, options=ep.options, base_dir=self._root)
            if sink.name in seen:
                raise ConfigError(
                    f"{loc}: the sink {ep.display!r} is already listed as {seen[sink.name]}; "
                    "list each sink once."
                )
            seen[sink.name] = f"sinks[{i}]"
            out.append(ep.sink_config())
        return tuple(out)

    def notifiers(self, given: Given) -> tuple[NotifierConfig, ...]:
        """Notifiers from a table of ``name = entry``, each built once."""
        raw = given.value
        if not isinstance(raw, Mapping):
            raise type_error(
                given.loc,
                raw,
                "a table of name = notifier URL (or name = { url = ..., options })",
                self,
            )
        configs: list[NotifierConfig] = []
        for name, item in raw.items():
            loc = given.loc.at(f".{name}")
            if not isinstance(name, str) or not _NOTIFIER_NAME.fullmatch(name):
                raise ConfigError(
                    f"{given.loc}: notifier name {str(name)[:80]!r} is not valid: use up to 64 "
                    "letters, digits, '_', '-' or '.', starting with a letter or digit."
                )
            ep = self.endpoint(item, loc, given.origin, "notifier")
            with ep.building():
                notifier_from_url(ep.url, options=ep.options, base_dir=self._root)
            configs.append(ep.notifier_config(name))
        return tuple(configs)


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
    layers: dict[str, Given] = {}
    if found.table is not None:
        layers.update(_file_layer(found.table, found.label, found.prefix))
    from_env = _env_layer(environ)
    from_args = _arg_layer(overrides or {})
    layers.update(from_env)
    layers.update(from_args)
    b = _Builder(environ, found.root)

    top = {k: g for k, g in layers.items() if "." not in k and k not in _SECTIONS}
    given_name = top.get("service_name")
    default_name = found.project_name or found.root.name or "service"
    service_name = coerce("str", given_name, b).strip() if given_name is not None else default_name
    if not service_name or UNSAFE.search(service_name) or len(service_name) > 200:
        where = str(given_name.loc) if given_name is not None else "service_name"
        raise ConfigError(
            f"{where} = {_brief('', service_name)} is out of range: give a non-empty name of "
            "at most 200 characters without control characters."
        )
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        whole = _whole_table(cls)
        if whole is not None:
            given = {whole: layers[name]} if name in layers else {}
        else:
            given = {k.partition(".")[2]: g for k, g in layers.items() if k.startswith(name + ".")}
        sections[name] = load_section(cls, given, b, default_key=name)
    source = found.source
    if from_env:
        source += " + environment"
    if from_args:
        source += " + arguments"
    return Config(
        service_name=service_name,
        root=found.root,
        source=source,
        app=_app_spec(top.get("app"), b),
        check_path=_check_path(top.get("check_path"), b),
        **sections,
    )


def _app_spec(given: Given | None, ctx: _Builder) -> str | None:
    if given is None:
        return None
    value = given.value
    if not isinstance(value, str):
        raise type_error(given.loc, value, "a string like 'module:app'", ctx)
    module, colon, attr = value.strip().partition(":")
    if not module or (colon and not attr) or any(c.isspace() for c in value.strip()):
        raise ConfigError(
            f"{given.loc} = {value!r}: expected 'module:attribute' (like 'app:app' or "
            "'mysite.asgi:application'), relative to the config file's directory."
        )
    return value.strip()


def _check_path(given: Given | None, ctx: _Builder) -> str:
    """The path ``bulletproof check`` grades: a URL path, starting with ``/``."""
    if given is None:
        return "/"
    value = str(coerce("str", given, ctx)).strip()
    if not value.startswith("/") or len(value) > 2000 or UNSAFE.search(value) or " " in value:
        raise ConfigError(
            f"{given.loc} = {_brief('', value)}: expected a URL path starting with '/' (like '/' "
            "or '/login'), without spaces or control characters."
        )
    return value


def build_header_policy(config: Config) -> HeaderPolicy:
    """The :class:`~bulletproof.headers.HeaderPolicy` the config describes. Added in 0.1."""
    return config.headers.policy()


def config_as_dict(config: Config) -> dict[str, Any]:
    """A JSON-able view for ``bulletproof config show``.

    Sinks and notifiers appear as written, with ``${VAR}`` references kept (never their values)
    and any literal password masked; everything else appears as loaded.

    Added in 0.1.
    """
    out: dict[str, Any] = {
        "service_name": config.service_name,
        "root": str(config.root),
        "source": config.source,
    }
    for name in _SECTIONS:
        out[name] = display(getattr(config, name))
    out["app"] = config.app
    out["check_path"] = config.check_path
    return out


def pipeline_options(config: Config) -> PipelineOptions:
    """The :class:`~bulletproof.events.pipeline.PipelineOptions` for ``config``.

    Added in 0.1.
    """
    return config.events.to_options(service=config.service_name)


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
