"""Per-response inputs of a header policy: the CSP nonce and the request.

When the policy has no ``{nonce}``, the adapters hand templates a :class:`MissingNonce` where the
nonce would be, so that a template asking for one is told how to fix the policy instead of
rendering ``nonce=""`` (which the browser ignores) or failing with an ``AttributeError``.

Added in 0.1.
"""

from __future__ import annotations

import binascii
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Final

from bulletproof.errors import ConfigError, HeaderRenderError

__all__ = [
    "NONCE_PLACEHOLDER",
    "HeaderContext",
    "HeaderRenderError",
    "MissingNonce",
    "check_nonce",
    "new_nonce",
]

logger = logging.getLogger("bulletproof.headers")

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


_NONCE_FIX: Final = (
    "the Content-Security-Policy has no '{nonce}' source, so this response has no nonce. Add "
    '"{nonce}" to the directive the page needs it in: in pyproject.toml, '
    "[tool.bulletproof.headers] content_security_policy = "
    '{ directives = { script-src = ["\'self\'", "{nonce}"] } }; in code, '
    'secure_headers(content_security_policy={"directives": '
    '{"script-src": ["\'self\'", "{nonce}"]}}). Or take the nonce out of the template.'
)


class MissingNonce:
    """Stands where a template looks for the CSP nonce when the policy has none.

    It is falsy (``{% if nonce %}`` skips it) and its ``repr`` is safe; rendering it (``str()``,
    an f-string, or a template's autoescaping through ``__html__``) names the fix. With
    ``raises=True`` rendering raises :class:`~bulletproof.errors.ConfigError`; with
    ``raises=False`` it renders ``""`` and logs that message as an error, once per instance (each
    adapter has its own). ``where`` names what the template used (``request.state.csp_nonce``).

    >>> missing = MissingNonce("request.state.csp_nonce", raises=True)
    >>> bool(missing)
    False
    >>> str(missing)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bulletproof.errors.ConfigError: request.state.csp_nonce: the Content-Security-Policy has no ...

    Added in 0.1.
    """

    __slots__ = ("_logged", "raises", "where")

    def __init__(self, where: str, *, raises: bool) -> None:
        self.where = where
        self.raises = raises
        self._logged = False

    def __repr__(self) -> str:
        return f"MissingNonce({self.where!r})"

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        message = f"{self.where}: {_NONCE_FIX}"
        if self.raises:
            raise ConfigError(message)
        if not self._logged:  # a race logs it twice at worst
            self._logged = True
            logger.error("%s", message)
        return ""

    def __html__(self) -> str:
        """What markupsafe (Jinja2's and Django's autoescaping) renders: as :meth:`__str__`."""
        return str(self)
