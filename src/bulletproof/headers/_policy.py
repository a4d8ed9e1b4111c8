"""The header policy: every header computed and validated once, rendered per response cheaply.

:func:`secure_headers` is Helmet's ``helmet()``; the functions named after a header
(:func:`strict_transport_security`, ...) are Helmet's standalone middlewares, each giving a
policy with that one header.

Added in 0.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bulletproof.errors import ConfigError
from bulletproof.headers import _csp
from bulletproof.headers import _permissions as _pp
from bulletproof.headers._common import bad_type, check_header_text, suggest
from bulletproof.headers._context import (
    NONCE_PLACEHOLDER,
    HeaderContext,
    check_nonce,
    new_nonce,
)
from bulletproof.headers._cross_origin_embedder_policy import HEADER as _COEP
from bulletproof.headers._cross_origin_embedder_policy import header_value as _coep_value
from bulletproof.headers._cross_origin_embedder_policy import parse_options as _coep_parse
from bulletproof.headers._cross_origin_opener_policy import HEADER as _COOP
from bulletproof.headers._cross_origin_opener_policy import header_value as _coop_value
from bulletproof.headers._cross_origin_opener_policy import parse_options as _coop_parse
from bulletproof.headers._cross_origin_resource_policy import HEADER as _CORP
from bulletproof.headers._cross_origin_resource_policy import header_value as _corp_value
from bulletproof.headers._cross_origin_resource_policy import parse_options as _corp_parse
from bulletproof.headers._origin_agent_cluster import HEADER as _OAC
from bulletproof.headers._origin_agent_cluster import header_value as _oac_value
from bulletproof.headers._origin_agent_cluster import parse_options as _oac_parse
from bulletproof.headers._presets import Preset, PresetSpec, preset_spec
from bulletproof.headers._referrer_policy import HEADER as _RP
from bulletproof.headers._referrer_policy import header_value as _rp_value
from bulletproof.headers._referrer_policy import parse_options as _rp_parse
from bulletproof.headers._strict_transport_security import HEADER as _HSTS
from bulletproof.headers._strict_transport_security import header_value as _hsts_value
from bulletproof.headers._strict_transport_security import parse_options as _hsts_parse
from bulletproof.headers._x_content_type_options import HEADER as _XCTO
from bulletproof.headers._x_content_type_options import header_value as _xcto_value
from bulletproof.headers._x_content_type_options import parse_options as _xcto_parse
from bulletproof.headers._x_dns_prefetch_control import HEADER as _XDNS
from bulletproof.headers._x_dns_prefetch_control import header_value as _xdns_value
from bulletproof.headers._x_dns_prefetch_control import parse_options as _xdns_parse
from bulletproof.headers._x_download_options import HEADER as _XDO
from bulletproof.headers._x_download_options import header_value as _xdo_value
from bulletproof.headers._x_download_options import parse_options as _xdo_parse
from bulletproof.headers._x_frame_options import HEADER as _XFO
from bulletproof.headers._x_frame_options import header_value as _xfo_value
from bulletproof.headers._x_frame_options import parse_options as _xfo_parse
from bulletproof.headers._x_permitted_cross_domain_policies import HEADER as _XPCDP
from bulletproof.headers._x_permitted_cross_domain_policies import header_value as _xpcdp_value
from bulletproof.headers._x_permitted_cross_domain_policies import parse_options as _xpcdp_parse
from bulletproof.headers._x_powered_by import REMOVE as _XPB_REMOVE
from bulletproof.headers._x_powered_by import parse_options as _xpb_parse
from bulletproof.headers._x_xss_protection import HEADER as _XXSS
from bulletproof.headers._x_xss_protection import header_value as _xxss_value
from bulletproof.headers._x_xss_protection import parse_options as _xxss_parse

__all__ = [
    "REPORTING_ENDPOINTS",
    "HeaderEntry",
    "HeaderPolicy",
    "content_security_policy",
    "cross_origin_embedder_policy",
    "cross_origin_opener_policy",
    "cross_origin_resource_policy",
    "origin_agent_cluster",
    "permissions_policy",
    "referrer_policy",
    "secure_headers",
    "strict_transport_security",
    "x_content_type_options",
    "x_dns_prefetch_control",
    "x_download_options",
    "x_frame_options",
    "x_permitted_cross_domain_policies",
    "x_powered_by",
    "x_xss_protection",
]

REPORTING_ENDPOINTS: Final = "Reporting-Endpoints"
"""The header that names the CSP report endpoint for the Reporting API. Added in 0.1."""

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Helmet's options in Helmet's header order, with their legacy aliases.
_ALIASES: Final[Mapping[str, str]] = {
    "strict_transport_security": "hsts",
    "x_content_type_options": "no_sniff",
    "x_dns_prefetch_control": "dns_prefetch_control",
    "x_download_options": "ie_no_open",
    "x_frame_options": "frameguard",
    "x_permitted_cross_domain_policies": "permitted_cross_domain_policies",
    "x_powered_by": "hide_powered_by",
    "x_xss_protection": "xss_filter",
}
_EXTRA: Final = ("content_security_policy_report_only", "permissions_policy", "csp_report_path")
_ALL_OPTIONS: Final = (
    "content_security_policy",
    "cross_origin_embedder_policy",
    "cross_origin_opener_policy",
    "cross_origin_resource_policy",
    "origin_agent_cluster",
    "referrer_policy",
    "strict_transport_security",
    "x_content_type_options",
    "x_dns_prefetch_control",
    "x_download_options",
    "x_frame_options",
    "x_permitted_cross_domain_policies",
    "x_powered_by",
    "x_xss_protection",
    *_ALIASES.values(),
    *_EXTRA,
)
_ABSENT: Final = object()


@dataclass(frozen=True, slots=True)
class _Simple:
    option: str
    header: str
    parse: Callable[[object, str], object]
    value: Callable[[Any], str]
    helmet_on: bool


# Helmet's order after Content-Security-Policy (X-Powered-By is handled apart: it only removes).
_SIMPLE: Final = (
    _Simple("cross_origin_embedder_policy", _COEP, _coep_parse, _coep_value, False),
    _Simple("cross_origin_opener_policy", _COOP, _coop_parse, _coop_value, True),
    _Simple("cross_origin_resource_policy", _CORP, _corp_parse, _corp_value, True),
    _Simple("origin_agent_cluster", _OAC, _oac_parse, _oac_value, True),
    _Simple("referrer_policy", _RP, _rp_parse, _rp_value, True),
    _Simple("strict_transport_security", _HSTS, _hsts_parse, _hsts_value, True),
    _Simple("x_content_type_options", _XCTO, _xcto_parse, _xcto_value, True),
    _Simple("x_dns_prefetch_control", _XDNS, _xdns_parse, _xdns_value, True),
    _Simple("x_download_options", _XDO, _xdo_parse, _xdo_value, True),
    _Simple("x_frame_options", _XFO, _xfo_parse, _xfo_value, True),
    _Simple("x_permitted_cross_domain_policies", _XPCDP, _xpcdp_parse, _xpcdp_value, True),
    None,
    _Simple("x_xss_protection", _XXSS, _xxss_parse, _xxss_value, True),
)


@dataclass(frozen=True, slots=True)
class HeaderEntry:
    """One header of a policy.

    ``value`` is the text sent, with ``{nonce}`` where each response's nonce goes
    (``uses_nonce``); ``renderer``, when set, computes the value per response (a CSP with
    callable sources) and ``value`` is only what is shown.

    Added in 0.1.
    """

    name: str
    value: str
    uses_nonce: bool = False
    renderer: Callable[[HeaderContext], str] | None = None

    @property
    def dynamic(self) -> bool:
        """True when the value differs per response. Added in 0.1."""
        return self.uses_nonce or self.renderer is not None

    def render(self, context: HeaderContext) -> str:
        """The value for one response. Added in 0.1."""
        if self.renderer is not None:
            return self.renderer(context)
        if self.uses_nonce and context.nonce is not None:
            return self.value.replace(NONCE_PLACEHOLDER, context.nonce)
        return self.value


@dataclass(frozen=True)
class HeaderPolicy:
    """A validated set of response headers, in wire order, plus the headers to strip.

    Build one with :func:`secure_headers` (or a standalone function such as
    :func:`strict_transport_security`); it is immutable and safe to share between threads.
    ``headers`` shows the policy (a nonce as ``'nonce-{nonce}'``); :meth:`render` gives the
    headers for one response; ``asgi_static`` holds them pre-encoded when nothing is dynamic.

    Added in 0.1.
    """

    entries: tuple[HeaderEntry, ...] = ()
    remove: tuple[str, ...] = ()
    csp_report_path: str | None = None
    dynamic: bool = field(init=False)
    uses_nonce: bool = field(init=False)
    asgi_static: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)
    _shown: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    _shown_bytes: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)
    _dynamic: tuple[tuple[int, HeaderEntry], ...] = field(init=False, repr=False, compare=False)
    # For a policy whose only dynamic part is the nonce: (index, name, value split on {nonce}).
    _nonce_parts: tuple[tuple[int, str, tuple[str, ...]], ...] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for entry in self.entries:
            if not isinstance(entry, HeaderEntry):
                bad_type("HeaderPolicy.entries item", entry, "a HeaderEntry")
            if not _TOKEN.fullmatch(entry.name):
                raise ConfigError(
                    f"HeaderPolicy: {entry.name!r} is not a header name (letters, digits and "
                    "-!#$%&'*+.^_`|~ only)."
                )
            if entry.name.lower() in seen:
                raise ConfigError(f"HeaderPolicy: the header {entry.name!r} is listed twice.")
            seen.add(entry.name.lower())
            check_header_text(entry.value, f"HeaderPolicy: the {entry.name} value")
        removed: tuple[object, ...] = self.remove
        for name in removed:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name) or name != name.lower():
                raise ConfigError(
                    f"HeaderPolicy.remove: {name!r} must be a lower-case header name."
                )
        shown = tuple((e.name, e.value) for e in self.entries)
        shown_bytes = tuple((e.name.lower().encode(), e.value.encode()) for e in self.entries)
        dynamic = tuple((i, e) for i, e in enumerate(self.entries) if e.dynamic)
        set_ = object.__setattr__
        set_(self, "_shown", shown)
        set_(self, "_shown_bytes", shown_bytes)
        set_(self, "_dynamic", dynamic)
        needs_context = any(e.renderer is not None for _, e in dynamic)
        nonce_parts = None
        if not needs_context:
            nonce_parts = tuple(
                (i, e.name, tuple(e.value.split(NONCE_PLACEHOLDER))) for i, e in dynamic
            )
        set_(self, "_nonce_parts", nonce_parts)
        set_(self, "dynamic", bool(dynamic))
        set_(self, "uses_nonce", any(e.uses_nonce for e in self.entries))
        set_(self, "asgi_static", () if dynamic else shown_bytes)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs in wire order (a new list each time). Added in 0.1."""
        return list(self._shown)

    def _nonce(self, nonce: str | None, context: HeaderContext | None) -> str | None:
        if nonce is None and context is not None:
            nonce = context.nonce
        if not self.uses_nonce:
            return nonce
        return new_nonce() if nonce is None else check_nonce(nonce)

    @staticmethod
    def _context(nonce: str | None, context: HeaderContext | None) -> HeaderContext:
        if context is not None and context.nonce == nonce:
            return context
        return HeaderContext(nonce, context.request if context is not None else None)

    def render(
        self, *, nonce: str | None = None, context: HeaderContext | None = None
    ) -> list[tuple[str, str]]:
        """The headers for one response: the nonce filled in, callable sources called.

        ``nonce`` (or ``context.nonce``) is the response's nonce; when the policy uses one and
        none is given, a fresh one is made. Raises :class:`HeaderRenderError` when a callable
        fails or returns an invalid source, or the nonce is not a valid CSP nonce.

        Added in 0.1.
        """
        out = list(self._shown)
        if not self._dynamic:
            return out
        nonce = self._nonce(nonce, context)
        if self._nonce_parts is not None and nonce is not None:
            for index, name, parts in self._nonce_parts:
                out[index] = (name, nonce.join(parts))
            return out
        ctx = self._context(nonce, context)
        for index, entry in self._dynamic:
            out[index] = (entry.name, entry.render(ctx))
        return out

    def render_asgi(
        self, *, nonce: str | None = None, context: HeaderContext | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Like :meth:`render`, as ASGI ``(lower-case name, value)`` bytes. Added in 0.1."""
        out = list(self._shown_bytes)
        if not self._dynamic:
            return out
        nonce = self._nonce(nonce, context)
        if self._nonce_parts is not None and nonce is not None:
            for index, _, parts in self._nonce_parts:
                out[index] = (out[index][0], nonce.join(parts).encode())
            return out
        ctx = self._context(nonce, context)
        for index, entry in self._dynamic:
            out[index] = (out[index][0], entry.render(ctx).encode())
        return out


# -- building ---------------------------------------------------------------------------------


def _static(name: str, value: str) -> HeaderEntry:
    return HeaderEntry(name, value)


def _csp_entry(compiled: _csp.CompiledCSP) -> HeaderEntry:
    renderer = compiled.render if compiled.dynamic else None
    return HeaderEntry(compiled.header, compiled.text, compiled.uses_nonce, renderer)


def _wanted(value: object, option: str, preset_value: object) -> object:
    """Resolve on/off: None for off, True for the defaults, else the options to parse."""
    if value is _ABSENT:
        value = preset_value
        if value is _ABSENT:
            return _ABSENT
    if value is False:
        return None
    if value is True:
        keeps = preset_value is not _ABSENT and not isinstance(preset_value, bool)
        return preset_value if keeps else True
    if value is None:
        raise ConfigError(
            f"{option}=None: pass True for the defaults, False to turn the header off, or a "
            "dict of options."
        )
    return value


def secure_headers(*, preset: str | Preset = "helmet", **options: object) -> HeaderPolicy:
    """Build a header policy: Helmet 8.3's ``helmet(options)`` in Python naming.

    With no options the headers, their values and their order are exactly Helmet's defaults.
    Each option takes ``False`` (no header), ``True`` or ``{}`` (its defaults) or a dict of its
    options (snake_case keys); a legacy alias (``hsts``, ``frameguard``, ...) works like its
    canonical name, but giving both is an error. Beyond Helmet: ``permissions_policy`` (feature
    -> allowlist), ``content_security_policy_report_only`` (a second, report-only policy),
    ``csp_report_path`` (adds ``report-uri``/``report-to`` to each CSP and a
    ``Reporting-Endpoints`` header) and ``preset`` (``helmet``, ``strict``, ``api``; options
    given override the preset's).

    Raises :class:`~bulletproof.errors.ConfigError` naming the option, the value and the fix.

    Added in 0.1.
    """
    spec = preset_spec(preset)
    for name in options:
        if name not in _ALL_OPTIONS:
            raise ConfigError(
                f"secure_headers: unknown option {name!r}.{suggest(name, _ALL_OPTIONS)} "
                "Options are Helmet's in snake_case (e.g. strict_transport_security), their "
                "legacy aliases, permissions_policy, content_security_policy_report_only, "
                "csp_report_path and preset."
            )
    for canonical, alias in _ALIASES.items():
        if canonical in options and alias in options:
            raise ConfigError(
                f"secure_headers: {canonical} and its legacy alias {alias} are both given; they "
                f"set the same header. Remove {alias}."
            )
    return _build(spec, options)


def _pick(options: Mapping[str, object], canonical: str) -> tuple[object, str]:
    if canonical in options:
        return options[canonical], canonical
    alias = _ALIASES.get(canonical)
    if alias is not None and alias in options:
        return options[alias], alias
    return _ABSENT, canonical


def _build(spec: PresetSpec, options: Mapping[str, object]) -> HeaderPolicy:
    report_path = options.get("csp_report_path")
    if report_path is not None:
        report_path = _csp.check_report_path(report_path, "csp_report_path")
    entries: list[HeaderEntry] = []
    remove: list[str] = []

    def preset(option: str, helmet_on: bool = True) -> object:
        value = spec.options.get(option, _ABSENT)
        if value is _ABSENT and helmet_on:
            return True
        return value

    # Content-Security-Policy, then the optional second, report-only policy.
    csps: list[_csp.CompiledCSP] = []
    value, name = _pick(options, "content_security_policy")
    wanted = _wanted(value, name, preset("content_security_policy"))
    if wanted is not None:
        csps.append(
            _csp.compile_csp(
                wanted, option=name, defaults=spec.csp_directives, report_path=report_path
            )
        )
    value, name = _pick(options, "content_security_policy_report_only")
    wanted = _wanted(value, name, _ABSENT)
    if wanted is not None and wanted is not _ABSENT:
        extra = _csp.compile_csp(
            wanted,
            option=name,
            defaults=spec.csp_directives,
            report_only=True,
            report_path=report_path,
        )
        if csps and csps[0].header == extra.header:
            raise ConfigError(
                "content_security_policy has report_only=True and "
                "content_security_policy_report_only is given too: both would send "
                f"{extra.header}. Make content_security_policy the enforced policy "
                "(report_only=False) or merge the two."
            )
        csps.append(extra)
    if report_path is not None and not csps:
        raise ConfigError(
            f"csp_report_path={report_path!r} but no Content-Security-Policy is sent. Turn a CSP "
            "on (content_security_policy=True) or leave csp_report_path out."
        )
    entries.extend(_csp_entry(c) for c in csps)

    for item in _SIMPLE:
        if item is None:  # X-Powered-By's place in Helmet's order
            value, name = _pick(options, "x_powered_by")
            wanted = _wanted(value, name, preset("x_powered_by"))
            if wanted is not None:
                _xpb_parse({} if wanted is True else wanted, name)
                remove.append(_XPB_REMOVE)
            continue
        value, name = _pick(options, item.option)
        wanted = _wanted(value, name, preset(item.option, item.helmet_on))
        if wanted is None or wanted is _ABSENT:
            continue
        parsed = item.parse({} if wanted is True else wanted, name)
        entries.append(_static(item.header, item.value(parsed)))

    value, name = _pick(options, "permissions_policy")
    wanted = _wanted(value, name, preset("permissions_policy", helmet_on=False))
    if wanted is not None and wanted is not _ABSENT:
        _, text = _pp.parse_options(_pp.DEFAULT_FEATURES if wanted is True else wanted, name)
        entries.append(_static(_pp.HEADER, text))
    if report_path is not None:
        entries.append(_static(REPORTING_ENDPOINTS, f'{_csp.REPORT_GROUP}="{report_path}"'))
    return HeaderPolicy(tuple(entries), tuple(remove), report_path)


# -- Helmet's standalone middlewares ------------------------------------------------------------


def content_security_policy(**options: object) -> HeaderPolicy:
    """Only the Content-Security-Policy header (Helmet's ``contentSecurityPolicy(options)``).

    Options: ``directives``, ``use_defaults``, ``report_only``. Added in 0.1.
    """
    return HeaderPolicy((_csp_entry(_csp.compile_csp(dict(options))),))


def cross_origin_embedder_policy(**options: object) -> HeaderPolicy:
    """Only Cross-Origin-Embedder-Policy (option ``policy``). Added in 0.1."""
    return _one(_COEP, _coep_value(_coep_parse(dict(options))))


def cross_origin_opener_policy(**options: object) -> HeaderPolicy:
    """Only Cross-Origin-Opener-Policy (option ``policy``). Added in 0.1."""
    return _one(_COOP, _coop_value(_coop_parse(dict(options))))


def cross_origin_resource_policy(**options: object) -> HeaderPolicy:
    """Only Cross-Origin-Resource-Policy (option ``policy``). Added in 0.1."""
    return _one(_CORP, _corp_value(_corp_parse(dict(options))))


def origin_agent_cluster() -> HeaderPolicy:
    """Only ``Origin-Agent-Cluster: ?1``. Added in 0.1."""
    return _one(_OAC, _oac_value())


def referrer_policy(**options: object) -> HeaderPolicy:
    """Only Referrer-Policy (option ``policy``: a token or a list). Added in 0.1."""
    return _one(_RP, _rp_value(_rp_parse(dict(options))))


def strict_transport_security(**options: object) -> HeaderPolicy:
    """Only Strict-Transport-Security (``max_age``, ``include_sub_domains``, ``preload``).

    Added in 0.1.
    """
    return _one(_HSTS, _hsts_value(_hsts_parse(dict(options))))


def x_content_type_options() -> HeaderPolicy:
    """Only ``X-Content-Type-Options: nosniff``. Added in 0.1."""
    return _one(_XCTO, _xcto_value())


def x_dns_prefetch_control(**options: object) -> HeaderPolicy:
    """Only X-DNS-Prefetch-Control (option ``allow``). Added in 0.1."""
    return _one(_XDNS, _xdns_value(_xdns_parse(dict(options))))


def x_download_options() -> HeaderPolicy:
    """Only ``X-Download-Options: noopen``. Added in 0.1."""
    return _one(_XDO, _xdo_value())


def x_frame_options(**options: object) -> HeaderPolicy:
    """Only X-Frame-Options (option ``action``: ``deny`` or ``sameorigin``). Added in 0.1."""
    return _one(_XFO, _xfo_value(_xfo_parse(dict(options))))


def x_permitted_cross_domain_policies(**options: object) -> HeaderPolicy:
    """Only X-Permitted-Cross-Domain-Policies (option ``permitted_policies``). Added in 0.1."""
    return _one(_XPCDP, _xpcdp_value(_xpcdp_parse(dict(options))))


def x_powered_by() -> HeaderPolicy:
    """No header; removes X-Powered-By from every response. Added in 0.1."""
    return HeaderPolicy((), (_XPB_REMOVE,))


def x_xss_protection() -> HeaderPolicy:
    """Only ``X-XSS-Protection: 0``. Added in 0.1."""
    return _one(_XXSS, _xxss_value())


def permissions_policy(features: Mapping[str, object] | None = None) -> HeaderPolicy:
    """Only Permissions-Policy for ``features`` (default: deny powerful features).

    Added in 0.1.
    """
    _, text = _pp.parse_options(_pp.DEFAULT_FEATURES if features is None else features)
    return _one(_pp.HEADER, text)


def _one(name: str, value: str) -> HeaderPolicy:
    return HeaderPolicy((_static(name, value),))
