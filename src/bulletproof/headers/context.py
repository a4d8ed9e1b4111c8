"""Per-response inputs of a header policy: the CSP nonce and the request.

Added in 0.1.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from typing import Final

from bulletproof.errors import HeaderRenderError

__all__ = ["NONCE_PLACEHOLDER", "HeaderContext", "HeaderRenderError", "check_nonce", "new_nonce"]

NONCE_PLACEHOLDER: Final = "{nonce}"
"""The text a policy holds where each response's nonce goes. Added in 0.1."""

# CSP's base64-value (both alphabets, up to two '=' of padding); 16..128 characters.
_NONCE = re.compile(r"[A-Za-z0-9+/_-]{16,128}={0,2}")
_is_nonce = _NONCE.fullmatch


@dataclass(frozen=True, slots=True)
class HeaderContext:
    """What a callable CSP directive value receives for one response.

    ``nonce`` is this response's nonce (None when the policy uses none); ``request`` is whatever
    the adapter passes (the ASGI scope, the WSGI environ, a framework request), or None.

    Added in 0.1.
    """

    nonce: str | None = None
    request: object | None = None


def new_nonce() -> str:
    """A fresh CSP nonce: 128 random bits from :func:`secrets.token_bytes`, standard base64.

    >>> len(new_nonce())
    24

    Added in 0.1.
    """
    return binascii.b2a_base64(secrets.token_bytes(16), newline=False).decode("ascii")


def check_nonce(nonce: object) -> str:
    """Return ``nonce`` if it is a valid CSP nonce, else raise :class:`HeaderRenderError`.

    Added in 0.1.
    """
    if not isinstance(nonce, str) or _is_nonce(nonce) is None:
        shown = repr(nonce)[:60]
        raise HeaderRenderError(
            f"render(nonce=...): {shown} is not a CSP nonce; use bulletproof.headers.new_nonce() "
            "(16 to 128 base64 characters, no spaces, quotes or line breaks)."
        )
    return nonce
