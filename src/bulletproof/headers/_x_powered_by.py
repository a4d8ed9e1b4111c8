"""X-Powered-By: removed from every response, so the stack is not advertised.

Helmet's ``xPoweredBy`` middleware as pure data. It sets nothing; it names a header to strip.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import bad_type, warn_no_options

__all__ = ["HEADER", "OPTION", "REMOVE", "XPoweredByOptions", "parse_options"]

HEADER: Final = "X-Powered-By"
"""The header removed. Added in 0.1."""
OPTION: Final = "x_powered_by"
"""The ``secure_headers`` option that controls the removal. Added in 0.1."""
REMOVE: Final = "x-powered-by"
"""The lower-case name a policy lists in ``HeaderPolicy.remove``. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XPoweredByOptions:
    """Options of the X-Powered-By removal: there are none. Added in 0.1."""


def parse_options(value: object, option: str = OPTION) -> XPoweredByOptions:
    """Accept an empty mapping; warn (as Helmet does) about anything else but None.

    Added in 0.1.
    """
    if isinstance(value, XPoweredByOptions):
        return value
    if value is None:
        bad_type(option, value, "True, False or an empty dict (X-Powered-By takes no options)")
    if not isinstance(value, Mapping) or value:
        warn_no_options(HEADER, option)
    return XPoweredByOptions()
