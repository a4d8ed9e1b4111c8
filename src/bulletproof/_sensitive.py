"""Which names hold secrets: one rule for redacting events and masking config values.

A name holds a secret when, lower-cased and without ``-`` and ``_``, it is one of
:data:`SECRET_NAMES` (``Authorization``, ``Cookie``, ``X-Api-Key``, ``pass``...) or contains
one of :data:`SECRET_FRAGMENTS` (``db_password``, ``refresh_token``, ``client_secret``).

>>> is_secret_name("X-Api-Key"), is_secret_name("smtp_password"), is_secret_name("user")
(True, True, False)

Added in 0.1.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "SECRET_FRAGMENTS",
    "SECRET_NAMES",
    "has_secret_fragment",
    "is_secret_name",
    "normalize_name",
]

SECRET_NAMES: Final = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "pwd",
        "passwd",
        "pass",
        "session",
        "sessionid",
        "sid",
        "csrftoken",
        "xcsrftoken",
        "xapikey",
        "apikey",
        "auth",
    }
)
"""Names (normalized) that always hold a secret. Added in 0.1."""

SECRET_FRAGMENTS: Final = (
    "authorization",
    "cookie",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "signature",
    "sessionid",
)
"""Parts of a (normalized) name that make it hold a secret. Added in 0.1."""

_FRAGMENT_RE: Final = re.compile("|".join(SECRET_FRAGMENTS))


def normalize_name(name: str) -> str:
    """``name`` lower-cased without ``-`` and ``_``: ``X-Api-Key`` -> ``xapikey``. Added in 0.1."""
    return name.lower().replace("-", "").replace("_", "")


def has_secret_fragment(normalized: str) -> bool:
    """Whether a normalized name contains a secret fragment. Added in 0.1."""
    return _FRAGMENT_RE.search(normalized) is not None


def is_secret_name(name: str) -> bool:
    """Whether a field, option or parameter called ``name`` holds a secret. Added in 0.1."""
    n = normalize_name(name)
    return n in SECRET_NAMES or has_secret_fragment(n)
