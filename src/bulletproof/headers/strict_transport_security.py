"""Strict-Transport-Security: tell browsers to use HTTPS only, for ``max_age`` seconds.

Helmet's ``strictTransportSecurity`` middleware as pure data. ``max_age`` may be a float (it is
floored, as in Helmet) but must be finite and >= 0.

Added in 0.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.headers._common import bad_type, check_bool, check_keys

__all__ = [
    "DEFAULT_MAX_AGE",
    "HEADER",
    "OPTION",
    "StrictTransportSecurityOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Strict-Transport-Security"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "strict_transport_security"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
DEFAULT_MAX_AGE: Final = 365 * 24 * 60 * 60
"""One year, Helmet's default ``max_age``. Added in 0.1."""

_FIELDS: Final = ("max_age", "include_sub_domains", "preload")


def _max_age(value: object, where: str) -> int:
    fix = (
        "Use a whole number of seconds >= 0, e.g. 31536000 (one year); 0 tells browsers to "
        "forget HSTS."
    )
    if isinstance(value, bool) or not isinstance(value, int | float):
        bad_type(where, value, "an int (seconds)", fix)
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{where}: {value!r} is not a valid max-age. {fix}")
    return math.floor(value)


@dataclass(frozen=True, slots=True)
class StrictTransportSecurityOptions:
    """``max_age`` (seconds, default one year), ``include_sub_domains`` (default True), ``preload``.

    Added in 0.1.
    """

    max_age: int = DEFAULT_MAX_AGE
    include_sub_domains: bool = True
    preload: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_age", _max_age(self.max_age, f"{OPTION}.max_age"))
        check_bool(self.include_sub_domains, f"{OPTION}.include_sub_domains")
        check_bool(self.preload, f"{OPTION}.preload")


def header_value(options: StrictTransportSecurityOptions | None = None) -> str:
    """``max-age=N[; includeSubDomains][; preload]``. Added in 0.1."""
    opts = options or StrictTransportSecurityOptions()
    text = f"max-age={opts.max_age}"
    if opts.include_sub_domains:
        text += "; includeSubDomains"
    if opts.preload:
        text += "; preload"
    return text


def parse_options(value: object, option: str = OPTION) -> StrictTransportSecurityOptions:
    """Validate a user value (a mapping with snake_case keys or the options class).

    Added in 0.1.
    """
    if isinstance(value, StrictTransportSecurityOptions):
        return value
    given = check_keys(
        value, option, _FIELDS, expected="a dict of options or StrictTransportSecurityOptions"
    )
    max_age = _max_age(given.get("max_age", DEFAULT_MAX_AGE), f"{option}.max_age")
    include = check_bool(given.get("include_sub_domains", True), f"{option}.include_sub_domains")
    preload = check_bool(given.get("preload", False), f"{option}.preload")
    return StrictTransportSecurityOptions(max_age, include, preload)
