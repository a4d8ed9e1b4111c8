"""Named starting points for :func:`~bulletproof.headers.secure_headers`.

- ``helmet`` (the default): exactly Helmet 8.3's defaults.
- ``strict``: the highest score the MDN HTTP Observatory gives to response headers alone. A CSP
  with ``default-src 'none'`` (+10) that also sets ``frame-ancestors 'none'`` (counts as
  X-Frame-Options, +5), ``base-uri 'none'``, ``form-action 'self'`` and ``object-src 'none'``
  with nothing ``unsafe-*``; COEP ``require-corp`` (+10), COOP ``same-origin`` (+10), CORP
  ``same-origin`` (+10), ``Referrer-Policy: no-referrer`` (+5), HSTS for two years with
  includeSubDomains and preload, ``X-Frame-Options: DENY``, ``nosniff``, and a
  Permissions-Policy that denies powerful features. Pages must load their scripts and styles
  through added directives (e.g. ``script-src`` with ``{nonce}``).
- ``api``: for JSON APIs. ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``,
  ``Cross-Origin-Resource-Policy: same-origin``, HSTS and ``nosniff``; none of the headers that
  only matter to HTML documents (COOP, Origin-Agent-Cluster, Referrer-Policy, X-Frame-Options,
  X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection).

An option given with a preset replaces the preset's value for that option. For the CSP options,
``use_defaults`` merges the directives given over the *preset's* directives.

Added in 0.1.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.headers._common import bad_type, suggest
from bulletproof.headers._csp import get_default_directives
from bulletproof.headers._permissions import DEFAULT_FEATURES

__all__ = ["Preset", "PresetSpec", "preset_spec"]


class Preset(enum.Enum):
    """The built-in presets. Added in 0.1."""

    HELMET = "helmet"
    STRICT = "strict"
    API = "api"


@dataclass(frozen=True)
class PresetSpec:
    """What a preset changes: its CSP directives and its value for each option it sets.

    An option not in ``options`` keeps Helmet's default. Added in 0.1.
    """

    csp_directives: Mapping[str, tuple[str, ...]]
    options: Mapping[str, object] = field(default_factory=dict)


def _frozen(directives: Mapping[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({name: tuple(items) for name, items in directives.items()})


_SPECS: Final[Mapping[Preset, PresetSpec]] = MappingProxyType(
    {
        Preset.HELMET: PresetSpec(_frozen(get_default_directives())),
        Preset.STRICT: PresetSpec(
            _frozen(
                {
                    "default-src": ["'none'"],
                    "base-uri": ["'none'"],
                    "form-action": ["'self'"],
                    "frame-ancestors": ["'none'"],
                    "object-src": ["'none'"],
                    "upgrade-insecure-requests": [],
                }
            ),
            MappingProxyType(
                {
                    "cross_origin_embedder_policy": {"policy": "require-corp"},
                    "strict_transport_security": {
                        "max_age": 2 * 365 * 24 * 60 * 60,
                        "include_sub_domains": True,
                        "preload": True,
                    },
                    "x_frame_options": {"action": "deny"},
                    "permissions_policy": DEFAULT_FEATURES,
                }
            ),
        ),
        Preset.API: PresetSpec(
            _frozen({"default-src": ["'none'"], "frame-ancestors": ["'none'"]}),
            MappingProxyType(
                {
                    "cross_origin_opener_policy": False,
                    "origin_agent_cluster": False,
                    "referrer_policy": False,
                    "x_dns_prefetch_control": False,
                    "x_download_options": False,
                    "x_frame_options": False,
                    "x_permitted_cross_domain_policies": False,
                    "x_xss_protection": False,
                }
            ),
        ),
    }
)


def preset_spec(preset: object) -> PresetSpec:
    """The spec of ``preset`` (a :class:`Preset` or its name). Raises ConfigError.

    Added in 0.1.
    """
    if isinstance(preset, Preset):
        return _SPECS[preset]
    names = [p.value for p in Preset]
    if not isinstance(preset, str):
        bad_type("preset", preset, f"a str, one of {', '.join(map(repr, names))}, or a Preset")
    try:
        return _SPECS[Preset(preset.lower())]
    except ValueError:
        raise ConfigError(
            f"preset: unknown preset {preset!r}. Use one of {', '.join(map(repr, names))}."
            f"{suggest(preset.lower(), names)}"
        ) from None
