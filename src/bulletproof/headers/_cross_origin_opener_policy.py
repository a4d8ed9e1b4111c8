"""Cross-Origin-Opener-Policy: isolate the browsing context from cross-origin openers.

Helmet's ``crossOriginOpenerPolicy`` middleware as pure data:
:class:`CrossOriginOpenerPolicyOptions` holds the options,
:func:`header_value` turns them into the header text.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import check_choice, check_keys

__all__ = [
    "DEFAULT_POLICY",
    "HEADER",
    "OPTION",
    "POLICYS",
    "CrossOriginOpenerPolicyOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Cross-Origin-Opener-Policy"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "cross_origin_opener_policy"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
POLICYS: Final = ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
"""Every value Helmet accepts for ``policy``. Added in 0.1."""
DEFAULT_POLICY: Final = "same-origin"
"""Helmet's default ``policy``. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class CrossOriginOpenerPolicyOptions:
    """Options of the Cross-Origin-Opener-Policy header.

    ``policy`` is one of ``same-origin``, ``same-origin-allow-popups``,
    ``noopener-allow-popups``, ``unsafe-none``.

    Added in 0.1.
    """

    policy: str = DEFAULT_POLICY

    def __post_init__(self) -> None:
        check_choice(self.policy, f"{OPTION}.policy", POLICYS, HEADER)


def header_value(options: CrossOriginOpenerPolicyOptions | None = None) -> str:
    """The Cross-Origin-Opener-Policy value for ``options`` (Helmet's default: ``same-origin``).

    Added in 0.1.
    """
    return (options or CrossOriginOpenerPolicyOptions()).policy


def parse_options(value: object, option: str = OPTION) -> CrossOriginOpenerPolicyOptions:
    """Validate a user value: a mapping with snake_case keys, or the options class.

    ``option`` is the name the user wrote, used in error messages. Added in 0.1.
    """
    if isinstance(value, CrossOriginOpenerPolicyOptions):
        return value
    given = check_keys(
        value, option, ("policy",), expected="a dict of options or CrossOriginOpenerPolicyOptions"
    )
    if "policy" not in given:
        return CrossOriginOpenerPolicyOptions()
    return CrossOriginOpenerPolicyOptions(
        check_choice(given["policy"], f"{option}.policy", POLICYS, HEADER)
    )
