"""Referrer-Policy: how much of the page URL the browser sends along with requests.

Helmet's ``referrerPolicy`` middleware as pure data. ``policy`` is one token or a list of
tokens (browsers use the last one they understand, so a list gives a fallback).

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bulletproof._text import did_you_mean
from bulletproof.errors import ConfigError
from bulletproof.headers._common import bad_type, check_keys

__all__ = ["HEADER", "OPTION", "TOKENS", "ReferrerPolicyOptions", "header_value", "parse_options"]

HEADER: Final = "Referrer-Policy"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "referrer_policy"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
TOKENS: Final = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
    "",
)
"""Every token Helmet accepts (the empty token included, as in Helmet). Added in 0.1."""


def _tokens(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        tokens: tuple[object, ...] = (value,)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        tokens = tuple(value)
    else:
        bad_type(where, value, "a str or a list of str (Referrer-Policy tokens)")
    if not tokens:
        raise ConfigError(
            f"{where}: the list of Referrer-Policy tokens is empty. Give at least one, e.g. "
            "'no-referrer', or pass referrer_policy=False to send no Referrer-Policy header."
        )
    seen: set[str] = set()
    for token in tokens:
        if not isinstance(token, str):
            bad_type(where, token, "a str Referrer-Policy token")
        if token not in TOKENS:
            hint = did_you_mean(token.lower(), TOKENS[:-1])
            raise ConfigError(
                f"{where}: {token!r} is not a Referrer-Policy token. Use one of "
                f"{', '.join(repr(t) for t in TOKENS[:-1])}.{hint}"
            )
        if token in seen:
            raise ConfigError(f"{where}: the token {token!r} is listed twice. Remove the repeat.")
        seen.add(token)
    return tokens  # type: ignore[return-value]  # every item was checked to be a str


@dataclass(frozen=True, slots=True)
class ReferrerPolicyOptions:
    """``policy``: one token or a sequence of tokens; default ``no-referrer``. Added in 0.1."""

    policy: str | Sequence[str] = "no-referrer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", _tokens(self.policy, f"{OPTION}.policy"))


def header_value(options: ReferrerPolicyOptions | None = None) -> str:
    """The tokens joined with ``,`` (no space, as Helmet). Added in 0.1."""
    return ",".join((options or ReferrerPolicyOptions()).policy)


def parse_options(value: object, option: str = OPTION) -> ReferrerPolicyOptions:
    """Validate a user value (a mapping with snake_case keys or the options class).

    Added in 0.1.
    """
    if isinstance(value, ReferrerPolicyOptions):
        return value
    given: Mapping[str, object] = check_keys(
        value, option, ("policy",), expected="a dict of options or ReferrerPolicyOptions"
    )
    if "policy" not in given:
        return ReferrerPolicyOptions()
    return ReferrerPolicyOptions(_tokens(given["policy"], f"{option}.policy"))
