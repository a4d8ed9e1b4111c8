"""Cross-Origin-Resource-Policy: who may embed this resource.

Helmet's ``crossOriginResourcePolicy`` middleware as pure data:
:class:`CrossOriginResourcePolicyOptions` holds the options,
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
    "CrossOriginResourcePolicyOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Cross-Origin-Resource-Policy"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "cross_origin_resource_policy"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
POLICYS: Final = ("same-origin", "same-site", "cross-origin")
"""Every value Helmet accepts for ``policy``. Added in 0.1."""
DEFAULT_POLICY: Final = "same-origin"
"""Helmet's default ``policy``. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class CrossOriginResourcePolicyOptions:
    """Options of the Cross-Origin-Resource-Policy header.

    ``policy`` is one of ``same-origin``, ``same-site``, ``cross-origin``.

    Added in 0.1.
    """

    policy: str = DEFAULT_POLICY

    def __post_init__(self) -> None:
        check_choice(self.policy, f"{OPTION}.policy", POLICYS, HEADER)


def header_value(options: CrossOriginResourcePolicyOptions | None = None) -> str:
    """The Cross-Origin-Resource-Policy value for ``options`` (Helmet's default: ``same-origin``).

    Added in 0.1.
    """
    return (options or CrossOriginResourcePolicyOptions()).policy


def parse_options(value: object, option: str = OPTION) -> CrossOriginResourcePolicyOptions:
    """Validate a user value: a mapping with snake_case keys, or the options class.

    ``option`` is the name the user wrote, used in error messages. Added in 0.1.
    """
    if isinstance(value, CrossOriginResourcePolicyOptions):
        return value
    given = check_keys(
        value, option, ("policy",), expected="a dict of options or CrossOriginResourcePolicyOptions"
    )
    if "policy" not in given:
        return CrossOriginResourcePolicyOptions()
    return CrossOriginResourcePolicyOptions(
        check_choice(given["policy"], f"{option}.policy", POLICYS, HEADER)
    )
