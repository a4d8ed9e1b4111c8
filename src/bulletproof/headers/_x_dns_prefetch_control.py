"""X-DNS-Prefetch-Control: whether the browser may resolve link hosts ahead of time.

Helmet's ``xDnsPrefetchControl`` middleware as pure data.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import check_bool, check_keys, js_truthy

__all__ = ["HEADER", "OPTION", "XDnsPrefetchControlOptions", "header_value", "parse_options"]

HEADER: Final = "X-DNS-Prefetch-Control"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_dns_prefetch_control"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XDnsPrefetchControlOptions:
    """``allow=True`` sends ``on``; the default sends ``off``. Added in 0.1."""

    allow: bool = False

    def __post_init__(self) -> None:
        check_bool(self.allow, f"{OPTION}.allow")


def header_value(options: XDnsPrefetchControlOptions | None = None) -> str:
    """``on`` when prefetching is allowed, else ``off``. Added in 0.1."""
    return "on" if options is not None and options.allow else "off"


def parse_options(value: object, option: str = OPTION) -> XDnsPrefetchControlOptions:
    """Validate a user value (a mapping with snake_case keys or the options class).

    Added in 0.1.
    """
    if isinstance(value, XDnsPrefetchControlOptions):
        return value
    given = check_keys(
        value, option, ("allow",), expected="a dict of options or XDnsPrefetchControlOptions"
    )
    if "allow" not in given:
        return XDnsPrefetchControlOptions()
    # Helmet sends "on" for any truthy allow (JavaScript truthiness).
    return XDnsPrefetchControlOptions(js_truthy(given["allow"]))
