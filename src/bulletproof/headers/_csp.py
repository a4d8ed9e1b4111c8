"""Content-Security-Policy: Helmet's ``contentSecurityPolicy`` rules, plus nonces and reporting.

Directive names may be written dashed (``default-src``), camelCase (``defaultSrc``, as in Helmet)
or snake_case (``default_src``, a Python addition). A directive's value is a list of sources, a
single string (kept verbatim), ``None`` (drop a default directive), or, for ``default-src`` only,
:data:`DANGEROUSLY_DISABLE_DEFAULT_SRC`. A source may be a callable ``f(HeaderContext) -> str``,
called for every response (Helmet's function values).

Rejected, as in Helmet: a malformed or repeated directive name, ``;`` or ``,`` in a value,
keywords and nonces/hashes without their single quotes (``self`` instead of ``'self'``), no
directives at all, a missing ``default-src``. Rejected in addition: control characters and
non-ASCII text in a value. A name that looks like a typo of a known directive is sent, as in
Helmet, with a :class:`HeadersWarning`. As in Helmet, ``use_defaults`` and ``report_only`` are
read by JavaScript truthiness, and a number, boolean or None inside a directive's list is sent
as JavaScript prints it (``1``, ``true``, ``null``). A set of
sources is sorted, so every process sends the same bytes. The source ``"{nonce}"`` (or
``"'nonce-{nonce}'"``) in script-src/style-src stands for each response's nonce.

Added in 0.1.
"""

from __future__ import annotations

import difflib
import enum
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from bulletproof.errors import ConfigError
from bulletproof.headers._common import (
    HeadersWarning,
    _outside_level,
    bad_type,
    check_bool,
    check_header_text,
    check_keys,
    describe,
    js_string,
    js_truthy,
)
from bulletproof.headers._context import NONCE_PLACEHOLDER, HeaderContext, HeaderRenderError

__all__ = [
    "DANGEROUSLY_DISABLE_DEFAULT_SRC",
    "HEADER",
    "HEADER_REPORT_ONLY",
    "KNOWN_DIRECTIVES",
    "NONCE_DIRECTIVES",
    "OPTION",
    "OPTION_REPORT_ONLY",
    "REPORT_GROUP",
    "CompiledCSP",
    "ContentSecurityPolicyOptions",
    "DirectiveItem",
    "DirectiveValue",
    "check_report_path",
    "compile_csp",
    "get_default_directives",
    "header_value",
]

HEADER: Final = "Content-Security-Policy"
"""The enforced header. Added in 0.1."""
HEADER_REPORT_ONLY: Final = "Content-Security-Policy-Report-Only"
"""The report-only header. Added in 0.1."""
OPTION: Final = "content_security_policy"
"""The ``secure_headers`` option for the (enforced, unless ``report_only``) policy. Added in 0.1."""
OPTION_REPORT_ONLY: Final = "content_security_policy_report_only"
"""The ``secure_headers`` option for a second, report-only policy. Added in 0.1."""
REPORT_GROUP: Final = "bulletproof-csp"
"""The Reporting API endpoint name used by ``csp_report_path``. Added in 0.1."""


class _Disable(enum.Enum):
    DANGEROUSLY_DISABLE_DEFAULT_SRC = "DANGEROUSLY_DISABLE_DEFAULT_SRC"

    def __repr__(self) -> str:
        return "DANGEROUSLY_DISABLE_DEFAULT_SRC"


DANGEROUSLY_DISABLE_DEFAULT_SRC: Final = _Disable.DANGEROUSLY_DISABLE_DEFAULT_SRC
"""Give this as the value of ``default-src`` to send a policy without one (Helmet's
``dangerouslyDisableDefaultSrc``). Added in 0.1."""

DirectiveItem: TypeAlias = str | Callable[[HeaderContext], str]
"""One source of a directive: text, or a callable evaluated per response. Added in 0.1."""
DirectiveValue: TypeAlias = (
    str | Iterable[DirectiveItem] | Literal[_Disable.DANGEROUSLY_DISABLE_DEFAULT_SRC] | None
)
"""What a directive name maps to in ``directives``. Added in 0.1."""

KNOWN_DIRECTIVES: Final = frozenset(
    {
        "base-uri",
        "block-all-mixed-content",
        "child-src",
        "connect-src",
        "default-src",
        "fenced-frame-src",
        "font-src",
        "form-action",
        "frame-ancestors",
        "frame-src",
        "img-src",
        "manifest-src",
        "media-src",
        "navigate-to",
        "object-src",
        "plugin-types",
        "prefetch-src",
        "referrer",
        "report-to",
        "report-uri",
        "require-sri-for",
        "require-trusted-types-for",
        "sandbox",
        "script-src",
        "script-src-attr",
        "script-src-elem",
        "style-src",
        "style-src-attr",
        "style-src-elem",
        "trusted-types",
        "upgrade-insecure-requests",
        "webrtc",
        "worker-src",
    }
)
"""Directive names bulletproof knows. Another well-formed name is accepted (browsers ignore
unknown directives, and new ones appear) unless it is close to one of these: then it is
taken as a typo. Added in 0.1."""

NONCE_DIRECTIVES: Final = ("script-src", "script-src-elem", "style-src", "style-src-elem")
"""The directives where the ``{nonce}`` placeholder may appear. Added in 0.1."""

_SHOULD_BE_QUOTED: Final = frozenset(
    {
        "none",
        "self",
        "strict-dynamic",
        "report-sample",
        "inline-speculation-rules",
        "unsafe-inline",
        "unsafe-eval",
        "unsafe-hashes",
        "wasm-unsafe-eval",
    }
)
_QUOTED_PREFIXES: Final = ("nonce-", "sha256-", "sha384-", "sha512-")
_HELMET_NAME: Final = re.compile(r"[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_SNAKE_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_UPPER: Final = re.compile(r"[A-Z]")
_NONCE_SOURCE: Final = f"'nonce-{NONCE_PLACEHOLDER}'"
_DYNAMIC_SHOWN: Final = "{dynamic}"
_REPORT_PATH: Final = re.compile(r"(?:/(?!/)|https://)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+=%]*")
_FIELDS: Final = ("directives", "use_defaults", "report_only")
_TYPO_CUTOFF: Final = 0.75


def get_default_directives() -> dict[str, list[str]]:
    """Helmet 8.3's default directives, in Helmet's order (a fresh copy each call).

    Added in 0.1.
    """
    return {
        "default-src": ["'self'"],
        "base-uri": ["'self'"],
        "font-src": ["'self'", "https:", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "script-src": ["'self'"],
        "script-src-attr": ["'none'"],
        "style-src": ["'self'", "https:", "'unsafe-inline'"],
        "upgrade-insecure-requests": [],
    }


@dataclass(frozen=True)
class ContentSecurityPolicyOptions:
    """Options of the Content-Security-Policy header, as in Helmet.

    ``directives`` maps directive names to values (see the module docstring); with
    ``use_defaults`` (the default) they are merged over the defaults; ``report_only`` sends
    ``Content-Security-Policy-Report-Only`` instead. The directives are validated when the
    policy is built (:func:`compile_csp`).

    Added in 0.1.
    """

    directives: Mapping[str, DirectiveValue] | None = None
    use_defaults: bool = True
    report_only: bool = False

    def __post_init__(self) -> None:
        _check_fields(self.directives, self.use_defaults, self.report_only, OPTION)


def _check_fields(
    directives: object, use_defaults: object, report_only: object, where: str
) -> None:
    if directives is not None and not isinstance(directives, Mapping):
        bad_type(
            f"{where}.directives",
            directives,
            "a dict of directive name -> value",
            "E.g. {'script-src': [\"'self'\", 'cdn.example.com']}.",
        )
    check_bool(use_defaults, f"{where}.use_defaults")
    check_bool(report_only, f"{where}.report_only")


def _dashify(name: str) -> str:
    return _UPPER.sub(lambda m: "-" + m.group().lower(), name)


def _directive_name(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        bad_type(f"{where}.directives", raw, "keyed by str directive names")
    if _SNAKE_NAME.fullmatch(raw):
        name = raw.replace("_", "-")
    elif _HELMET_NAME.fullmatch(raw):
        name = _dashify(raw)
    else:
        guess = _dashify(raw.strip().replace("_", "-")).lower().strip("-")
        hint = ""
        if guess in KNOWN_DIRECTIVES:
            hint = f" Did you mean {guess!r}?"
        raise ConfigError(
            f"{where}.directives: {raw!r} is not a valid directive name. Write it dashed "
            "('default-src'), camelCase ('defaultSrc') or snake_case ('default_src'): lower-case "
            f"ASCII letters, digits and one separator style, starting with a letter.{hint}"
        )
    if name not in KNOWN_DIRECTIVES:
        close = difflib.get_close_matches(name, KNOWN_DIRECTIVES, n=1, cutoff=_TYPO_CUTOFF)
        if close:
            # Helmet sends any well-formed name; a likely typo only earns a warning.
            warnings.warn(
                HeadersWarning(
                    f"{where}.directives: unknown directive {raw!r} (sent as {name!r}). Did you "
                    f"mean {close[0]!r}?"
                ),
                stacklevel=_outside_level(),
            )
    return name


class _JsScalar(str):
    """A source Helmet got as a non-string (a number, a boolean, null): it then builds every
    directive the per-request way, each source prefixed by a space."""

    __slots__ = ()


def _check_source(name: str, item: str, where: str) -> str:
    """Validate one text source; return it with the nonce placeholder normalised."""
    label = f"{where}.directives[{name!r}]"
    check_header_text(item, label)
    if ";" in item or "," in item:
        raise ConfigError(
            f"{label}: {item!r} contains {';' if ';' in item else ','!r}, which would end the "
            "directive (or the policy) early. Give each directive under its own key and each "
            "source as a separate list item."
        )
    if item in _SHOULD_BE_QUOTED or item.startswith(_QUOTED_PREFIXES):
        raise ConfigError(
            f"{label}: {item!r} must be quoted: write \"'{item}'\". Without the single quotes a "
            "browser reads it as a host name."
        )
    if NONCE_PLACEHOLDER in item:
        if item not in (NONCE_PLACEHOLDER, _NONCE_SOURCE):
            raise ConfigError(
                f"{label}: {item!r} mixes the {NONCE_PLACEHOLDER} placeholder with other text. "
                f"Give it as its own list item: {NONCE_PLACEHOLDER!r} or {_NONCE_SOURCE!r}."
            )
        if name not in NONCE_DIRECTIVES:
            raise ConfigError(
                f"{label}: a nonce only works in {', '.join(NONCE_DIRECTIVES)}. Move "
                f"{item!r} to script-src or style-src."
            )
        return _NONCE_SOURCE
    return item


def _items(name: str, raw: object, where: str) -> tuple[DirectiveItem, ...]:
    label = f"{where}.directives[{name!r}]"
    expected = "a list of str sources (or callables), a str, or None to drop the directive"
    if isinstance(raw, str):
        values: tuple[object, ...] = (raw,)
    elif isinstance(raw, bytes | bytearray | Mapping):
        bad_type(label, raw, expected)
    elif isinstance(raw, Set):
        # A set's iteration order depends on the process's hash seed: sort it, so every worker
        # sends the same bytes (django-csp's directive order differs between processes).
        if not all(isinstance(v, str) for v in raw):
            bad_type(label, raw, "a list (not a set) when it holds callables")
        values = tuple(sorted(raw))
    elif isinstance(raw, Iterable):
        values = tuple(raw)
    elif not raw:
        raise ConfigError(
            f"{label}: {describe(raw)} is not a directive value. Give {expected}; for a "
            "directive without sources (e.g. upgrade-insecure-requests) give []."
        )
    else:
        bad_type(label, raw, expected)
    items: list[DirectiveItem] = []
    for value in values:
        if isinstance(value, str):
            items.append(_check_source(name, value, where))
        elif callable(value):
            items.append(value)
        elif value is None or isinstance(value, bool | int | float):
            # Helmet sends a JSON scalar as JavaScript prints it (null, true, 1.5).
            items.append(_JsScalar(js_string(value)))
        else:
            bad_type(f"{label} item", value, "a str source or a callable returning one")
    return tuple(items)


def check_report_path(path: object, where: str) -> str:
    """Validate a CSP report endpoint: a path (``/csp-report``) or an ``https://`` URL.

    Added in 0.1.
    """
    if not isinstance(path, str):
        bad_type(where, path, "a str path such as '/csp-report'")
    check_header_text(path, where)
    if _REPORT_PATH.fullmatch(path) is None or NONCE_PLACEHOLDER in path:
        raise ConfigError(
            f"{where}: {path!r} is not a report endpoint. Give a path starting with one '/' "
            "(e.g. '/csp-report') or an https:// URL, without spaces, quotes, ';', ',' or "
            "backslashes."
        )
    return path


def _static_text(directives: Iterable[tuple[str, tuple[DirectiveItem, ...]]]) -> str:
    """Helmet's precomputed form: sources joined by one space, directives by ';'."""
    parts = []
    for name, items in directives:
        joined = " ".join(item if isinstance(item, str) else _DYNAMIC_SHOWN for item in items)
        parts.append(f"{name} {joined}" if joined else name)
    return ";".join(parts)


def _dynamic_text(name: str, items: tuple[DirectiveItem, ...]) -> str:
    """Helmet's per-request form: each source is prefixed by a space."""
    return name + "".join(" " + item for item in items if isinstance(item, str))


@dataclass(frozen=True)
class CompiledCSP:
    """A validated policy: its header name, ordered directives and text.

    ``text`` is the exact header value when the policy has no callable sources; the nonce
    shows as ``'nonce-{nonce}'`` and a callable source as ``{dynamic}``.

    Added in 0.1.
    """

    header: str
    directives: tuple[tuple[str, tuple[DirectiveItem, ...]], ...]
    text: str
    uses_nonce: bool
    dynamic: bool
    _pieces: tuple[str | tuple[str, tuple[DirectiveItem, ...]], ...] = field(
        default=(), repr=False, compare=False
    )

    def render(self, context: HeaderContext) -> str:
        """The header value for one response: callables called, nonce filled in.

        Raises :class:`HeaderRenderError` if a callable raises or returns an invalid source.
        Added in 0.1.
        """
        if not self.dynamic:
            text = self.text
        else:
            parts = []
            for piece in self._pieces:
                if isinstance(piece, str):
                    parts.append(piece)
                    continue
                name, items = piece
                value = ""
                for item in items:
                    value += " " + (item if isinstance(item, str) else _call(name, item, context))
                parts.append(name + value)
            text = ";".join(parts)
        if self.uses_nonce and context.nonce is not None:
            text = text.replace(NONCE_PLACEHOLDER, context.nonce)
        return text


def _call(name: str, item: Callable[[HeaderContext], str], context: HeaderContext) -> str:
    where = f"{HEADER}: the callable {getattr(item, '__name__', 'source')!s} for {name!r}"
    try:
        value = item(context)
    except Exception as exc:
        raise HeaderRenderError(f"{where} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(value, str):
        raise HeaderRenderError(f"{where} returned {describe(value)}; it must return a str source.")
    try:
        _check_source(name, value, OPTION)
    except ConfigError as exc:
        raise HeaderRenderError(f"{where} returned an invalid source: {exc}") from None
    return value


def _parse_options(
    value: object, where: str, *, report_only: bool | None
) -> tuple[Mapping[object, object], bool, bool]:
    if value is True:
        return {}, True, bool(report_only)
    if isinstance(value, ContentSecurityPolicyOptions):
        given: Mapping[str, object] = {
            "directives": value.directives,
            "use_defaults": value.use_defaults,
            "report_only": value.report_only,
        }
        if report_only is not None and not value.report_only:
            given = {**given, "report_only": report_only}
    else:
        given = check_keys(
            value,
            where,
            _FIELDS,
            expected="True, False, a dict of options or ContentSecurityPolicyOptions",
        )
        if report_only is not None and "report_only" in given:
            raise ConfigError(
                f"{where}: remove 'report_only'; this option always sends "
                f"{HEADER_REPORT_ONLY} (use {OPTION} for the enforced policy)."
            )
        # As Helmet: on/off options by JavaScript truthiness (useDefaults only when given).
        return (
            _helmet_directives(given.get("directives"), where),
            js_truthy(given.get("use_defaults", True)),
            js_truthy(given.get("report_only", bool(report_only))),
        )
    directives = given.get("directives")
    use_defaults = given.get("use_defaults", True)
    ro = given.get("report_only", bool(report_only))
    _check_fields(directives, use_defaults, ro, where)
    return (directives or {}), bool(use_defaults), bool(ro)  # type: ignore[return-value]


def _helmet_directives(value: object, where: str) -> Mapping[object, object]:
    """``directives`` as Helmet reads it: a mapping, else the keys a for-in loop would see."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str | list | tuple) and value:
        # Helmet loops over the indexes ("0", "1", ...): never a valid directive name.
        raise ConfigError(
            f"{where}.directives must be a dict of directive name -> value, got "
            f"{describe(value)}. E.g. {{'script-src': [\"'self'\", 'cdn.example.com']}}."
        )
    if value is not None:
        warnings.warn(
            HeadersWarning(
                f"{where}.directives: {describe(value)} holds no directives; the defaults are "
                "used. Give a dict of directive name -> value."
            ),
            stacklevel=_outside_level(),
        )
    return {}


def compile_csp(
    options: object = True,
    *,
    option: str = OPTION,
    defaults: Mapping[str, Iterable[str]] | None = None,
    report_only: bool | None = None,
    report_path: str | None = None,
) -> CompiledCSP:
    """Validate CSP options once and build the header.

    ``options`` is True (the defaults), a mapping with snake_case keys or
    :class:`ContentSecurityPolicyOptions`; ``option`` is the name used in messages;
    ``defaults`` are the directives ``use_defaults`` merges over (Helmet's unless a preset
    gives its own); ``report_only=True`` forces the report-only header; ``report_path`` adds
    ``report-uri`` and ``report-to`` directives. Raises :class:`ConfigError`.

    Added in 0.1.
    """
    raw_directives, use_defaults, as_report_only = _parse_options(
        options, option, report_only=report_only
    )
    base = get_default_directives() if defaults is None else defaults
    result: dict[str, tuple[DirectiveItem, ...]] = {}
    if use_defaults:
        result = {name: tuple(items) for name, items in base.items()}
    disabled_default_src = False
    seen: dict[str, object] = {}
    for raw_name, raw_value in raw_directives.items():
        name = _directive_name(raw_name, option)
        if name in seen:
            raise ConfigError(
                f"{option}.directives: {raw_name!r} and {seen[name]!r} are the same directive "
                f"{name!r}. Keep one of them."
            )
        seen[name] = raw_name
        if raw_value is None:
            if name == "default-src":
                raise ConfigError(
                    f"{option}.directives: default-src is None, which would remove it. A policy "
                    "needs a default-src; give one (e.g. [\"'self'\"]), or, if you really mean "
                    "to send none, use DANGEROUSLY_DISABLE_DEFAULT_SRC."
                )
            result.pop(name, None)
            continue
        if raw_value is DANGEROUSLY_DISABLE_DEFAULT_SRC:
            if name != "default-src":
                raise ConfigError(
                    f"{option}.directives[{name!r}]: DANGEROUSLY_DISABLE_DEFAULT_SRC only applies "
                    f"to default-src. To leave {name} out, omit the key (or give None to drop a "
                    "default)."
                )
            disabled_default_src = True
            result.pop(name, None)
            continue
        result[name] = _items(name, raw_value, option)
    if not result:
        raise ConfigError(
            f"{option}: the policy has no directives. Set some (e.g. directives={{'default-src': "
            f"[\"'self'\"]}}) or turn the header off with {option}=False."
        )
    if "default-src" not in result and not disabled_default_src:
        raise ConfigError(
            f"{option}: the policy has no default-src. Add one (e.g. 'default-src': [\"'self'\"]), "
            "keep use_defaults=True, or, if you really mean to send none, set default-src to "
            "DANGEROUSLY_DISABLE_DEFAULT_SRC."
        )
    if report_path is not None:
        for name in ("report-uri", "report-to"):
            if name in result:
                raise ConfigError(
                    f"{option}.directives: {name} is set and csp_report_path would set it too. "
                    f"Remove {name} from the directives or leave csp_report_path out."
                )
        result["report-uri"] = (report_path,)
        result["report-to"] = (REPORT_GROUP,)
    directives = tuple(result.items())
    uses_nonce = any(item == _NONCE_SOURCE for _, items in directives for item in items)
    dynamic = any(callable(item) for _, items in directives for item in items)
    pieces: tuple[str | tuple[str, tuple[DirectiveItem, ...]], ...] = ()
    if dynamic:
        pieces = tuple(
            (name, items) if any(callable(i) for i in items) else _dynamic_text(name, items)
            for name, items in directives
        )
    text = _static_text(directives)
    if any(isinstance(item, _JsScalar) for _, items in directives for item in items):
        # Helmet's per-request form: a directive of only "" reads "name " here, "name" above.
        text = ";".join(_dynamic_text(name, items) for name, items in directives)
    return CompiledCSP(
        header=HEADER_REPORT_ONLY if as_report_only else HEADER,
        directives=directives,
        text=text,
        uses_nonce=uses_nonce,
        dynamic=dynamic,
        _pieces=pieces,
    )


def header_value(options: ContentSecurityPolicyOptions | None = None) -> str:
    """The header text for ``options`` (Helmet's default policy when None).

    A nonce shows as ``'nonce-{nonce}'``, a callable source as ``{dynamic}``. Added in 0.1.
    """
    return compile_csp(options if options is not None else True).text
