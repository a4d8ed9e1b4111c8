"""X-Download-Options: stop old Internet Explorer from opening downloads in the site's context.

Helmet's ``xDownloadOptions`` middleware as pure data. The header takes no options:
:class:`XDownloadOptionsOptions` is empty and :func:`header_value` always returns ``noopen``.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import bad_type, warn_no_options

__all__ = ["HEADER", "OPTION", "VALUE", "XDownloadOptionsOptions", "header_value", "parse_options"]

HEADER: Final = "X-Download-Options"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_download_options"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
VALUE: Final = "noopen"
"""The only value Helmet sends. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XDownloadOptionsOptions:
    """Options of the X-Download-Options header: there are none. Added in 0.1."""


def header_value(options: XDownloadOptionsOptions | None = None) -> str:
    """Always ``noopen``. Added in 0.1."""
    return VALUE


def parse_options(value: object, option: str = OPTION) -> XDownloadOptionsOptions:
    """Accept an empty mapping; warn (as Helmet does) about anything else but None.

    Added in 0.1.
    """
    if isinstance(value, XDownloadOptionsOptions):
        return value
    if value is None:
        bad_type(
            option, value, "True, False or an empty dict (X-Download-Options takes no options)"
        )
    if not isinstance(value, Mapping) or value:
        warn_no_options(HEADER, option)
    return XDownloadOptionsOptions()
