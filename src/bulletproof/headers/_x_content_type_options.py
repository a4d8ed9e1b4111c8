"""X-Content-Type-Options: forbid MIME type sniffing.

Helmet's ``xContentTypeOptions`` middleware as pure data. The header takes no options:
:class:`XContentTypeOptionsOptions` is empty and :func:`header_value` always returns ``nosniff``.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import bad_type, warn_no_options

__all__ = [
    "HEADER",
    "OPTION",
    "VALUE",
    "XContentTypeOptionsOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "X-Content-Type-Options"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_content_type_options"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
VALUE: Final = "nosniff"
"""The only value Helmet sends. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XContentTypeOptionsOptions:
    """Options of the X-Content-Type-Options header: there are none. Added in 0.1."""


def header_value(options: XContentTypeOptionsOptions | None = None) -> str:
    """Always ``nosniff``. Added in 0.1."""
    return VALUE


def parse_options(value: object, option: str = OPTION) -> XContentTypeOptionsOptions:
    """Accept an empty mapping; warn (as Helmet does) about anything else but None.

    Added in 0.1.
    """
    if isinstance(value, XContentTypeOptionsOptions):
        return value
    if value is None:
        bad_type(
            option, value, "True, False or an empty dict (X-Content-Type-Options takes no options)"
        )
    if not isinstance(value, Mapping) or value:
        warn_no_options(HEADER, option)
    return XContentTypeOptionsOptions()
