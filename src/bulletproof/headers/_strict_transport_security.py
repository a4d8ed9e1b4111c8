"""Strict-Transport-Security: tell browsers to use HTTPS only, for ``max_age`` seconds.

Helmet's ``strictTransportSecurity`` middleware as pure data. ``max_age`` may be a float (it is
floored, as in Helmet) but must be finite and >= 0; it is printed as Helmet prints the number
(``1e+21`` from 10**21 on). ``include_sub_domains`` and ``preload`` are read by JavaScript
truthiness, as in Helmet.

Added in 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.headers._common import (
    bad_type,
    check_bool,
    check_keys,
    describe,
    js_string,
    js_truthy,
)

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
    try:
        valid = value >= 0 and math.isfinite(value)
    except OverflowError:  # an int beyond a double: JavaScript reads it as Infinity
        valid = False
    if not valid:
        raise ConfigError(f"{where}: {describe(value)} is not a valid max-age. {fix}")
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
    # As Helmet prints the number: a double, so 1e21 and above in exponent form.
    text = f"max-age={js_string(opts.max_age)}"
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
    if not isinstance(value, Mapping | list | tuple) and value is not None:
        # Helmet's `"maxage" in options` throws on a primitive (a list is an object: defaults).
        bad_type(
            option,
            value,
            "True, False or a dict of options (max_age, include_sub_domains, preload)",
        )
    given = check_keys(
        value, option, _FIELDS, expected="a dict of options or StrictTransportSecurityOptions"
    )
    max_age = _max_age(given.get("max_age", DEFAULT_MAX_AGE), f"{option}.max_age")
    # Helmet tests these for JavaScript truthiness (includeSubDomains: only when given).
    include = js_truthy(given.get("include_sub_domains", True))
    preload = js_truthy(given.get("preload", False))
    return StrictTransportSecurityOptions(max_age, include, preload)
