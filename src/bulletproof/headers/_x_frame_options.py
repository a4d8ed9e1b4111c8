"""X-Frame-Options: who may show the page in a frame (legacy; CSP frame-ancestors supersedes it).

Helmet's ``xFrameOptions`` middleware as pure data. ``action`` is case-insensitive and
``same-origin`` is accepted for ``SAMEORIGIN``, as in Helmet; ``ALLOW-FROM`` is obsolete and
rejected.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.headers._common import bad_type, check_keys

__all__ = ["HEADER", "OPTION", "XFrameOptionsOptions", "header_value", "parse_options"]

HEADER: Final = "X-Frame-Options"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "x_frame_options"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""

_ACTIONS: Final = {"DENY": "DENY", "SAMEORIGIN": "SAMEORIGIN", "SAME-ORIGIN": "SAMEORIGIN"}


def _action(value: object, where: str) -> str:
    if not isinstance(value, str):
        bad_type(where, value, "a str, 'deny' or 'sameorigin'")
    found = _ACTIONS.get(value.upper())
    if found is None:
        fix = ""
        if value.strip().upper() in _ACTIONS:
            fix = f" Remove the surrounding spaces: {value.strip()!r}."
        elif value.upper().startswith("ALLOW-FROM"):
            fix = (
                " ALLOW-FROM is obsolete and ignored by browsers; use the CSP directive "
                "frame-ancestors instead."
            )
        raise ConfigError(
            f"{where}: {value!r} is not an X-Frame-Options action. Use 'deny' or 'sameorigin' "
            f"(any case).{fix}"
        )
    return found


@dataclass(frozen=True, slots=True)
class XFrameOptionsOptions:
    """``action``: ``deny`` or ``sameorigin`` (the default), any case. Added in 0.1."""

    action: str = "sameorigin"

    def __post_init__(self) -> None:
        _action(self.action, f"{OPTION}.action")


def header_value(options: XFrameOptionsOptions | None = None) -> str:
    """``DENY`` or ``SAMEORIGIN``. Added in 0.1."""
    return _action((options or XFrameOptionsOptions()).action, f"{OPTION}.action")


def parse_options(value: object, option: str = OPTION) -> XFrameOptionsOptions:
    """Validate a user value (a mapping with snake_case keys or the options class).

    Added in 0.1.
    """
    if isinstance(value, XFrameOptionsOptions):
        return value
    given = check_keys(
        value, option, ("action",), expected="a dict of options or XFrameOptionsOptions"
    )
    if "action" not in given:
        return XFrameOptionsOptions()
    action = given["action"]
    _action(action, f"{option}.action")
    return XFrameOptionsOptions(str(action))
