"""X-XSS-Protection: turn off the buggy legacy XSS auditor.

Helmet's ``xXssProtection`` middleware as pure data. The header takes no options:
:class:`XXssProtectionOptions` is empty and :func:`header_value` always returns ``0``.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import bad_type, warn_no_options

__all__ = ["HEADER", "OPTION", "VALUE", "XXssProtectionOptions", "header_value", "parse_options"]

HEADER: Final = "X-XSS-Protection"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_xss_protection"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
VALUE: Final = "0"
"""The only value Helmet sends. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XXssProtectionOptions:
    """Options of the X-XSS-Protection header: there are none. Added in 0.1."""


def header_value(options: XXssProtectionOptions | None = None) -> str:
    """Always ``0``. Added in 0.1."""
    return VALUE


def parse_options(value: object, option: str = OPTION) -> XXssProtectionOptions:
    """Accept an empty mapping; warn (as Helmet does) about anything else but None.

    Added in 0.1.
    """
    if isinstance(value, XXssProtectionOptions):
        return value
    if value is None:
        bad_type(option, value, "True, False or an empty dict (X-XSS-Protection takes no options)")
    if not isinstance(value, Mapping) or value:
        warn_no_options(HEADER, option)
    return XXssProtectionOptions()
