"""``RequestInfo``: one HTTP request as bulletproof's checks see it, whatever the framework.

>>> r = RequestInfo("POST", "/login", "next=%2F", headers=(("cookie", "sid=1; theme=dark"),
...                 ("content-type", "application/x-www-form-urlencoded")), body=b"user=ann")
>>> r.cookies
(('sid', '1'), ('theme', 'dark'))
>>> r.content_type
'application/x-www-form-urlencoded'

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestInfo"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request, as a check or the :class:`~bulletproof.detect.Inspector` sees it.

    ``path`` is the URL path without the query string, as sent on the wire where the server
    says so (ASGI's ``raw_path``, WSGI's ``REQUEST_URI``), else as the server decoded it;
    ``query`` the raw query string (no ``?``); ``client_ip`` the peer address the server
    reports (None when unknown); ``headers`` the request headers in order, names lower-cased,
    values as sent (latin-1). ``body`` is the start of the request body the adapter read for
    inspection (empty when none was read) and ``body_truncated`` says the body went on past it.
    :attr:`cookies` and :attr:`content_type` are read from the headers.

    Added in 0.1.
    """

    method: str
    path: str
    query: str = ""
    client_ip: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_truncated: bool = False

    def header(self, name: str) -> str | None:
        """The first value of the header ``name`` (lower-case), or None. Added in 0.1."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-case, without parameters (``""``: none).

        Added in 0.1.
        """
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def cookies(self) -> tuple[tuple[str, str], ...]:
        """The ``(name, value)`` pairs of every ``Cookie`` header, values as sent.

        Added in 0.1.
        """
        pairs: list[tuple[str, str]] = []
        for key, value in self.headers:
            if key != "cookie":
                continue
            for part in value.split(";"):
                name, sep, val = part.partition("=")
                name = name.strip()
                if name or sep:
                    pairs.append((name, val.strip()))
        return tuple(pairs)
