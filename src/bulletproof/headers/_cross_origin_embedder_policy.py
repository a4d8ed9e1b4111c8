"""Cross-Origin-Embedder-Policy: which cross-origin resources a document may load.

Helmet's ``crossOriginEmbedderPolicy`` middleware as pure data:
:class:`CrossOriginEmbedderPolicyOptions` holds the options,
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
    "CrossOriginEmbedderPolicyOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Cross-Origin-Embedder-Policy"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "cross_origin_embedder_policy"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
POLICYS: Final = ("require-corp", "credentialless", "unsafe-none")
"""Every value Helmet accepts for ``policy``. Added in 0.1."""
DEFAULT_POLICY: Final = "require-corp"
"""Helmet's default ``policy``. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class CrossOriginEmbedderPolicyOptions:
    """Options of the Cross-Origin-Embedder-Policy header.

    ``policy`` is one of ``require-corp``, ``credentialless``, ``unsafe-none``.

    Added in 0.1.
    """

    policy: str = DEFAULT_POLICY

    def __post_init__(self) -> None:
        check_choice(self.policy, f"{OPTION}.policy", POLICYS, HEADER)


def header_value(options: CrossOriginEmbedderPolicyOptions | None = None) -> str:
    """The Cross-Origin-Embedder-Policy value for ``options`` (Helmet's default: ``require-corp``).

    Added in 0.1.
    """
    return (options or CrossOriginEmbedderPolicyOptions()).policy


def parse_options(value: object, option: str = OPTION) -> CrossOriginEmbedderPolicyOptions:
    """Validate a user value: a mapping with snake_case keys, or the options class.

    ``option`` is the name the user wrote, used in error messages. Added in 0.1.
    """
    if isinstance(value, CrossOriginEmbedderPolicyOptions):
        return value
    given = check_keys(
        value, option, ("policy",), expected="a dict of options or CrossOriginEmbedderPolicyOptions"
    )
    if "policy" not in given:
        return CrossOriginEmbedderPolicyOptions()
    return CrossOriginEmbedderPolicyOptions(
        check_choice(given["policy"], f"{option}.policy", POLICYS, HEADER)
    )
