"""Typed config sections, and the one loader for all of them.

Each capability declares its section of the config as a frozen dataclass beside its own code
(:class:`~bulletproof.events._settings.EventsConfig`, ``AlertsConfig``, ``HeadersConfig``,
``RoutesConfig``). A field's type says what its value is and how it may be written:

=====================================  ===========================================================
``str``                                text (``${VAR}`` references replaced)
``Path``                               a path, relative to the config file's directory
``bool``                               ``true``/``false`` (from the environment also ``yes``,
                                       ``no``, ``on``, ``off``, ``1``, ``0``)
``int``                                a whole number
``Annotated[int, Size()]``             bytes: ``1048576`` or ``"256MiB"``, ``"1GB"``
``Annotated[float, Duration()]``       seconds: ``0.1`` or ``"100ms"``, ``"5s"``, ``"2m"``, ``"1d"``
``tuple[str, ...]``                    a list of names (from the environment: a JSON array, or
                                       names separated by commas or spaces)
``Annotated[T, Parse(function)]``      anything else: ``function(given, context, parsed)``
=====================================  ===========================================================

``Annotated[..., FileOnly()]`` keeps a field out of the environment. Range checks live in the
dataclass's ``__post_init__`` and raise :class:`~bulletproof.errors.OutOfRangeError`;
:func:`load_section` reports one at the key that was written. The same fields give the
environment names (``BULLETPROOF_<SECTION>__<KEY>``, :func:`env_names`) and the display of a
loaded config (:func:`display`), so adding a section is one dataclass and one field of
:class:`~bulletproof.config.Config`.

Added in 0.1.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol, TypeVar

from bulletproof._text import has_unsafe
from bulletproof._units import parse_bool, parse_duration, parse_size, parse_whole
from bulletproof.errors import ConfigError, OutOfRangeError

__all__ = [
    "Context",
    "Duration",
    "FileOnly",
    "Given",
    "Loc",
    "Names",
    "NotifierConfig",
    "Parse",
    "Rule",
    "SinkConfig",
    "Size",
    "Text",
    "a_type",
    "check_ranges",
    "coerce",
    "display",
    "env_names",
    "field_kinds",
    "known_keys",
    "load_section",
    "type_error",
]

Origin = Literal["file", "env", "arg"]

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Where a value was given
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value was given: ``pyproject.toml: [tool.bulletproof.events] sinks[1]``.

    Added in 0.1.
    """

    head: str
    key: str = ""

    def at(self, suffix: str) -> Loc:
        """The place of a part of this value (``".url"``, ``"[0]"``)."""
        return Loc(self.head, self.key + suffix)

    @property
    def name(self) -> str:
        """The last key name of the place (``url`` for ``sinks[0].url``)."""
        parts = [p for p in self.key.replace("[", ".").replace("]", ".").split(".") if p]
        parts = [p for p in parts if not p.isdigit()]
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
class Given:
    """One value as given, before it is coerced: where, and from which layer. Added in 0.1."""

    value: object
    loc: Loc
    origin: Origin

    @property
    def lenient(self) -> bool:
        """Whether strings stand for other types (from the environment and arguments)."""
        return self.origin != "file"


# --------------------------------------------------------------------------------------------
# Field markers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Size:
    """Marks an ``int`` field as a number of bytes (``"256MiB"``). Added in 0.1."""


@dataclass(frozen=True, slots=True)
class Duration:
    """Marks a ``float`` field as a number of seconds (``"100ms"``). Added in 0.1."""


@dataclass(frozen=True, slots=True)
class Text:
    """Marks a field given as a string, whatever it becomes (an enum member). Added in 0.1."""


@dataclass(frozen=True, slots=True)
class Names:
    """Marks a ``tuple``/``frozenset`` field given as a list of names (whatever the items
    become). Added in 0.1."""


@dataclass(frozen=True, slots=True)
class FileOnly:
    """Marks a field that the environment cannot set (tables of notifiers, rules, headers).

    Added in 0.1.
    """


@dataclass(frozen=True, slots=True)
class Parse:
    """Marks a field whose value ``function(given, context, parsed)`` builds; ``parsed`` holds
    the fields of the section parsed before it. Added in 0.1."""

    function: Callable[[Given, Context, Mapping[str, Any]], Any]


Rule = tuple[str, Callable[[Any], bool], Callable[[Any], str], tuple[str, ...]]
"""``(field, holds(section), what to use(section), other fields to blame)``: one range check."""


def check_ranges(section: object, rules: Sequence[Rule]) -> None:
    """Raise :class:`OutOfRangeError` for the first rule ``section`` breaks. Added in 0.1."""
    for name, holds, rule, blame in rules:
        if not holds(section):
            raise OutOfRangeError(name, getattr(section, name), rule(section), blame)


# --------------------------------------------------------------------------------------------
# Endpoints: sinks and notifiers as configured
# --------------------------------------------------------------------------------------------


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


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

    def to_display(self) -> dict[str, Any]:
        """The sink as written: URL and options, secrets as their ``${VAR}``."""
        return {"url": self.display, "options": display(self.display_options)}


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

    def to_display(self) -> dict[str, Any]:
        """The notifier as written: URL and options, secrets as their ``${VAR}``."""
        return {"url": self.display, "options": display(self.display_options)}


class Context(Protocol):
    """What the config loader offers a section's fields: the root, ``${VAR}`` replacement,
    environment-style lists, safe message forms, and sinks and notifiers built from their
    entries (with the secret rules of :mod:`bulletproof.config`). Added in 0.1."""

    @property
    def root(self) -> Path:
        """The config file's directory (relative paths resolve against it)."""
        ...

    def interp(self, text: str, loc: Loc) -> tuple[str, bool]:
        """``text`` with ``${VAR}`` references replaced, and whether it had any."""
        ...

    def split(self, text: str, loc: Loc, sep: str, example: str) -> list[object]:
        """An environment-style list: a JSON array, or items separated by ``sep``."""
        ...

    def brief(self, name: str, value: object) -> str:
        """A short form of a value for a message (secrets masked)."""
        ...

    def sinks(self, given: Given) -> tuple[SinkConfig, ...]:
        """Sinks built (to validate them) from a list of entries."""
        ...

    def notifiers(self, given: Given) -> tuple[NotifierConfig, ...]:
        """Notifiers built (to validate them) from a table of named entries."""
        ...


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------

_EXPECTED: Final[Mapping[str, str]] = {
    "str": "a string",
    "path": "a path (a string)",
    "int": "a whole number",
    "bool": "true or false",
    "size": "a size: a number of bytes or a string like '512KiB', '256MiB', '1GB'",
    "duration": (
        "a duration: a number of seconds or a string like '250ms', '5s', '2m', '1h', '1d'"
    ),
    "names": "a list of strings",
}


def a_type(value: object) -> str:
    """``"a whole number"``, ``"a table"``...: what a value is, for a message. Added in 0.1."""
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


def type_error(loc: Loc, value: object, expected: str, ctx: Context) -> ConfigError:
    """``{loc} = {value} is a string; expected a whole number.`` Added in 0.1."""
    shown = ctx.brief(loc.name, value)
    hint = ""
    if isinstance(value, str) and expected in (_EXPECTED["int"], _EXPECTED["bool"]):
        hint = " Write it without quotes."
    return ConfigError(f"{loc} = {shown} is {a_type(value)}; expected {expected}.{hint}")


# --------------------------------------------------------------------------------------------
# Kinds of fields
# --------------------------------------------------------------------------------------------

_Kind = Literal["str", "path", "int", "bool", "size", "duration", "names", "parse", "raw"]


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    kind: _Kind
    env: bool
    parse: Parse | None


def _specs(cls: type) -> tuple[_Spec, ...]:
    """The fields of a section dataclass, with their kinds."""
    cached: tuple[_Spec, ...] | None = _SPEC_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, include_extras=True)
    out: list[_Spec] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        hint = hints[f.name]
        extras: tuple[object, ...] = ()
        if typing.get_origin(hint) is typing.Annotated:
            hint, *rest = typing.get_args(hint)
            extras = tuple(rest)
        parse = next((e for e in extras if isinstance(e, Parse)), None)
        env = not any(isinstance(e, FileOnly) for e in extras)
        kind: _Kind
        if parse is not None:
            kind = "parse"
        elif any(isinstance(e, Text) for e in extras):
            kind = "str"
        elif any(isinstance(e, Size) for e in extras):
            kind = "size"
        elif any(isinstance(e, Duration) for e in extras):
            kind = "duration"
        elif hint is bool:
            kind = "bool"
        elif hint is int or hint == (int | None):
            kind = "int"
        elif hint is str or hint == (str | None):
            kind = "str"
        elif hint is Path:
            kind = "path"
        elif any(isinstance(e, Names) for e in extras) or (
            typing.get_origin(hint) in (tuple, frozenset) and str in typing.get_args(hint)
        ):
            kind = "names"
        else:
            kind = "raw"
        out.append(_Spec(f.name, kind, env, parse))
    specs = tuple(out)
    _SPEC_CACHE[cls] = specs
    return specs


_SPEC_CACHE: dict[type, tuple[_Spec, ...]] = {}


def known_keys(cls: type) -> list[str]:
    """The keys a section takes, in order. Added in 0.1."""
    return [s.name for s in _specs(cls)]


def field_kinds(cls: type) -> dict[str, str]:
    """Each key of a section or table dataclass and the kind :func:`coerce` gives it.

    Added in 0.1.
    """
    return {s.name: s.kind for s in _specs(cls)}


def env_names(prefix: str, sections: Mapping[str, type]) -> dict[str, str]:
    """``BULLETPROOF_EVENTS__SPOOL_DIR`` -> ``events.spool_dir`` for every field the
    environment may set (a section named ``""`` is the top level). Added in 0.1."""
    out: dict[str, str] = {}
    for section, cls in sections.items():
        for spec in _specs(cls):
            if not spec.env:
                continue
            dotted = f"{section}.{spec.name}" if section else spec.name
            out[prefix + dotted.upper().replace(".", "__")] = dotted
    return out


def _names(given: Given, ctx: Context) -> tuple[str, ...]:
    raw = given.value
    if isinstance(raw, str) and given.lenient:
        items = ctx.split(raw, given.loc, "commas or whitespace", '["a", "b"]')
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise type_error(given.loc, raw, _EXPECTED["names"], ctx)
    out: list[str] = []
    for i, item in enumerate(items):
        iloc = given.loc.at(f"[{i}]")
        if not isinstance(item, str):
            raise type_error(iloc, item, _EXPECTED["str"], ctx)
        text = ctx.interp(item, iloc)[0].strip()
        if not text or has_unsafe(text):
            raise ConfigError(
                f"{iloc} = {ctx.brief(iloc.name, item)} is empty or has control characters."
            )
        out.append(text)
    return tuple(out)


def coerce(kind: str, given: Given, ctx: Context) -> Any:
    """A given value as ``kind`` wants it (``str``, ``path``, ``int``, ``bool``, ``size``,
    ``duration``, ``names``; ``raw``: unchanged). Added in 0.1."""
    if kind == "names":
        return _names(given, ctx)
    if kind == "raw":
        return given.value
    loc = given.loc
    value = given.value
    lenient = given.lenient
    if isinstance(value, str):
        value, had_ref = ctx.interp(value, loc)
        lenient = lenient or had_ref
    expected = _EXPECTED[kind]
    if kind in ("str", "path"):
        if not isinstance(value, str):
            raise type_error(loc, value, expected, ctx)
        if kind == "path":
            if not value.strip() or "\x00" in value:
                raise ConfigError(f"{loc} is empty or has a NUL character; give a path.")
            return Path(value).expanduser()
        return value
    if kind == "int":
        if isinstance(value, str) and lenient:
            try:
                return parse_whole(value, str(loc))
            except ConfigError:
                raise ConfigError(
                    f"{loc} = {ctx.brief(loc.name, value)} is not {expected}."
                ) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise type_error(loc, value, expected, ctx)
        return value
    if kind == "bool":
        if isinstance(value, str) and lenient:
            try:
                return parse_bool(value, str(loc))
            except ConfigError:
                raise ConfigError(
                    f"{loc} = {ctx.brief(loc.name, value)} is not {expected} "
                    "(accepted: true, false, 1, 0, yes, no, on, off)."
                ) from None
        if not isinstance(value, bool):
            raise type_error(loc, value, expected, ctx)
        return value
    if kind == "size":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise type_error(loc, value, expected, ctx)
        return parse_size(value, str(loc))
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise type_error(loc, value, expected, ctx)
    return parse_duration(value, str(loc))


# --------------------------------------------------------------------------------------------
# Loading a section
# --------------------------------------------------------------------------------------------


def load_section(
    cls: type[T],
    given: Mapping[str, Given],
    ctx: Context,
    *,
    default_key: str = "",
) -> T:
    """The section ``cls`` from the values given for its keys (the others keep their defaults).

    Each value is coerced by its field's type; relative paths resolve against ``ctx.root``;
    an :class:`OutOfRangeError` from ``__post_init__`` is reported at the key that was written
    (``default_key`` names the section in a message when the key was not). Added in 0.1.
    """
    specs = _specs(cls)
    kwargs: dict[str, Any] = {}
    for spec in specs:
        g = given.get(spec.name)
        if g is None:
            continue
        if spec.parse is not None:
            kwargs[spec.name] = spec.parse.function(g, ctx, kwargs)
        else:
            kwargs[spec.name] = coerce(spec.kind, g, ctx)
    try:
        section = cls(**kwargs)
    except OutOfRangeError as exc:
        # Blame the key that was written: the rule's own, else the first other one it names
        # (showing that key's value, as written).
        written = next((n for n in (exc.setting, *exc.blame) if n in given), None)
        if written is None:
            label = f"{default_key}.{exc.setting}" if default_key else exc.setting
            value = exc.value
        else:
            label = str(given[written].loc)
            value = exc.value if written == exc.setting else given[written].value
        raise ConfigError(
            f"{label} = {ctx.brief('', value)} is out of range: {exc.rule}."
        ) from None
    relative = {
        s.name: ctx.root / getattr(section, s.name)
        for s in specs
        if s.kind == "path" and not getattr(section, s.name).is_absolute()
    }
    return dataclasses.replace(section, **relative) if relative else section  # type: ignore[type-var]


# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------


def display(value: object) -> Any:
    """A loaded config value as JSON-able data, secrets never included (sinks and notifiers
    show what was written). Added in 0.1."""
    to_display = getattr(value, "to_display", None)
    if callable(to_display) and not isinstance(value, type):
        return to_display()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: display(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping | types.MappingProxyType):
        return {str(k): display(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(display(v) for v in value)
    if isinstance(value, list | tuple):
        return [display(v) for v in value]
    return value
