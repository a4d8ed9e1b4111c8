"""Permissions-Policy: which browser features the page (and the frames it embeds) may use.

Not part of Helmet. Given as a mapping of feature name to allowlist::

    {"camera": [], "geolocation": ["self", "https://maps.example.com"], "fullscreen": ["*"]}
    -> Permissions-Policy: camera=(), geolocation=(self "https://maps.example.com"), fullscreen=*

An allowlist holds ``self``, ``src``, ``*`` (alone) or origins (``https://host[:port]``, with
or without the double quotes of the header syntax); an empty list denies the feature everywhere.
Feature names may use ``_`` for ``-``.

Added in 0.1.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.headers._common import bad_type, check_header_text, describe

__all__ = [
    "DEFAULT_FEATURES",
    "HEADER",
    "KNOWN_FEATURES",
    "OPTION",
    "PermissionsPolicyOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Permissions-Policy"
"""The header name. Added in 0.1."""
OPTION: Final = "permissions_policy"
"""The ``secure_headers`` option. Added in 0.1."""

KNOWN_FEATURES: Final = frozenset(
    {
        "accelerometer",
        "ambient-light-sensor",
        "attribution-reporting",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "captured-surface-control",
        "clipboard-read",
        "clipboard-write",
        "compute-pressure",
        "cross-origin-isolated",
        "deferred-fetch",
        "deferred-fetch-minimal",
        "digital-credentials-get",
        "direct-sockets",
        "display-capture",
        "document-domain",
        "encrypted-media",
        "execution-while-not-rendered",
        "execution-while-out-of-viewport",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "identity-credentials-get",
        "idle-detection",
        "interest-cohort",
        "join-ad-interest-group",
        "keyboard-map",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "otp-credentials",
        "payment",
        "picture-in-picture",
        "private-state-token-issuance",
        "private-state-token-redemption",
        "publickey-credentials-create",
        "publickey-credentials-get",
        "run-ad-auction",
        "screen-wake-lock",
        "serial",
        "shared-storage",
        "shared-storage-select-url",
        "speaker-selection",
        "storage-access",
        "sync-xhr",
        "unload",
        "usb",
        "web-share",
        "window-management",
        "xr-spatial-tracking",
    }
)
"""Feature names bulletproof knows. Another well-formed name is accepted (browsers ignore
unknown features, and new ones appear) unless it is close to one of these: then it is taken as
a typo. Added in 0.1."""

DEFAULT_FEATURES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    dict.fromkeys(
        (
            "accelerometer",
            "browsing-topics",
            "camera",
            "display-capture",
            "geolocation",
            "gyroscope",
            "magnetometer",
            "microphone",
            "payment",
            "usb",
        ),
        (),
    )
)
"""``permissions_policy=True``: deny powerful features nobody needs by default. Added in 0.1."""

_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_ORIGIN: Final = re.compile(
    r"https?://(?:\*\.)?"
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::[0-9]{1,5})?",
    re.IGNORECASE,
)
_TYPO_CUTOFF: Final = 0.8


def _feature(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        bad_type(where, raw, "keyed by str feature names")
    name = raw.replace("_", "-")
    if _NAME.fullmatch(name) is None:
        raise ConfigError(
            f"{where}: {raw!r} is not a feature name. Use the lower-case name from the "
            "Permissions-Policy spec, e.g. 'camera' or 'display-capture'."
        )
    if name not in KNOWN_FEATURES:
        close = difflib.get_close_matches(name, KNOWN_FEATURES, n=1, cutoff=_TYPO_CUTOFF)
        if close:
            raise ConfigError(f"{where}: unknown feature {raw!r}. Did you mean {close[0]!r}?")
    return name


def _origin(item: str, label: str) -> str:
    bare = item[1:-1] if len(item) >= 2 and item[0] == item[-1] == '"' else item
    if _ORIGIN.fullmatch(bare) is None:
        fix = ""
        if bare.startswith(("http://", "https://")) and "/" in bare.split("://", 1)[1]:
            fix = " Remove the path: an origin is scheme://host[:port]."
        raise ConfigError(
            f"{label}: {item!r} is not an allowlist entry. Use 'self', 'src', '*' or an origin "
            f"such as 'https://example.com' (an empty list denies the feature).{fix}"
        )
    return f'"{bare}"'


def _allowlist(feature: str, raw: object, where: str) -> str:
    label = f"{where}[{feature!r}]"
    if isinstance(raw, str):
        bad_type(
            label, raw, "a list of allowlist entries", f"E.g. [{raw!r}]; [] denies the feature."
        )
    if isinstance(raw, Set):
        if not all(isinstance(v, str) for v in raw):
            bad_type(label, raw, "a list of str allowlist entries")
        items: tuple[object, ...] = tuple(sorted(raw))
    elif isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
        items = tuple(raw)
    else:
        bad_type(label, raw, "a list of allowlist entries", "E.g. ['self']; [] denies the feature.")
    tokens: list[str] = []
    for item in items:
        if not isinstance(item, str):
            bad_type(f"{label} item", item, "a str allowlist entry")
        check_header_text(item, label)
        if item in ("self", "src", "*"):
            token = item
        elif item in ("'self'", "'src'", "'none'", "none", "()"):
            fix = (
                "use [] to deny the feature"
                if "none" in item or item == "()"
                else (f"write {item.strip(chr(39))!r} without the single quotes")
            )
            raise ConfigError(f"{label}: {item!r} is CSP syntax, not Permissions-Policy: {fix}.")
        else:
            token = _origin(item, label)
        if token in tokens:
            raise ConfigError(f"{label}: {item!r} is listed twice. Remove the repeat.")
        tokens.append(token)
    if "*" in tokens:
        if len(tokens) > 1:
            raise ConfigError(f"{label}: '*' already allows every origin; give it alone (['*']).")
        return "*"
    return "(" + " ".join(tokens) + ")"


@dataclass(frozen=True)
class PermissionsPolicyOptions:
    """The features of a Permissions-Policy header: feature name -> allowlist.

    Added in 0.1.
    """

    features: Mapping[str, Sequence[str]]

    def __post_init__(self) -> None:
        _render(self.features, OPTION)


def _render(features: object, where: str) -> str:
    if not isinstance(features, Mapping):
        bad_type(
            where,
            features,
            "a dict of feature -> allowlist",
            "E.g. {'camera': [], 'geolocation': ['self']}.",
        )
    if not features:
        raise ConfigError(
            f"{where}: no features given. Name at least one (e.g. {{'camera': []}}) or pass "
            f"{where}=False for no header."
        )
    seen: dict[str, object] = {}
    parts = []
    for raw, allow in features.items():
        name = _feature(raw, where)
        if name in seen:
            raise ConfigError(
                f"{where}: {raw!r} and {seen[name]!r} are the same feature. Keep one of them."
            )
        seen[name] = raw
        parts.append(f"{name}={_allowlist(name, allow, where)}")
    return ", ".join(parts)


def header_value(options: PermissionsPolicyOptions) -> str:
    """``feature=(allowlist), ...`` in the order given. Added in 0.1."""
    return _render(options.features, OPTION)


def parse_options(value: object, option: str = OPTION) -> tuple[PermissionsPolicyOptions, str]:
    """Validate a mapping (or :class:`PermissionsPolicyOptions`); return it and the header text.

    Added in 0.1.
    """
    if isinstance(value, PermissionsPolicyOptions):
        return value, _render(value.features, option)
    if not isinstance(value, Mapping):
        bad_type(
            option,
            value,
            "a dict of feature -> allowlist, True, or False",
            f"E.g. {option}={{'camera': [], 'geolocation': ['self']}}; got {describe(value)}.",
        )
    text = _render(value, option)
    return PermissionsPolicyOptions(dict(value)), text
