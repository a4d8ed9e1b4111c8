"""X-Permitted-Cross-Domain-Policies: cross-domain policy files for Adobe clients.

Helmet's ``xPermittedCrossDomainPolicies`` middleware as pure data:
:class:`XPermittedCrossDomainPoliciesOptions` holds the options,
:func:`header_value` turns them into the header text.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import check_choice, check_keys

__all__ = [
    "DEFAULT_PERMITTED_POLICY",
    "HEADER",
    "OPTION",
    "PERMITTED_POLICIES",
    "XPermittedCrossDomainPoliciesOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "X-Permitted-Cross-Domain-Policies"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_permitted_cross_domain_policies"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
PERMITTED_POLICIES: Final = ("none", "master-only", "by-content-type", "all")
"""Every value Helmet accepts for ``permitted_policies``. Added in 0.1."""
DEFAULT_PERMITTED_POLICY: Final = "none"
"""Helmet's default ``permitted_policies``. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class XPermittedCrossDomainPoliciesOptions:
    """Options of the X-Permitted-Cross-Domain-Policies header.

    ``permitted_policies`` is one of ``none``, ``master-only``, ``by-content-type``, ``all``.

    Added in 0.1.
    """

    permitted_policies: str = DEFAULT_PERMITTED_POLICY

    def __post_init__(self) -> None:
        check_choice(
            self.permitted_policies, f"{OPTION}.permitted_policies", PERMITTED_POLICIES, HEADER
        )


def header_value(options: XPermittedCrossDomainPoliciesOptions | None = None) -> str:
    """The X-Permitted-Cross-Domain-Policies value for ``options`` (Helmet's default: ``none``).

    Added in 0.1.
    """
    return (options or XPermittedCrossDomainPoliciesOptions()).permitted_policies


def parse_options(value: object, option: str = OPTION) -> XPermittedCrossDomainPoliciesOptions:
    """Validate a user value: a mapping with snake_case keys, or the options class.

    ``option`` is the name the user wrote, used in error messages. Added in 0.1.
    """
    if isinstance(value, XPermittedCrossDomainPoliciesOptions):
        return value
    given = check_keys(
        value,
        option,
        ("permitted_policies",),
        expected="a dict of options or XPermittedCrossDomainPoliciesOptions",
    )
    if "permitted_policies" not in given:
        return XPermittedCrossDomainPoliciesOptions()
    return XPermittedCrossDomainPoliciesOptions(
        check_choice(
            given["permitted_policies"], f"{option}.permitted_policies", PERMITTED_POLICIES, HEADER
        )
    )
