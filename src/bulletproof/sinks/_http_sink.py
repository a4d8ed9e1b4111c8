"""``http://`` and ``https://`` sink: POST each batch as one JSON array.

>>> sink = create(SinkSpec.parse("https://logs.example.com/ingest?source=web",
...                              options={"headers": {"Authorization": "Bearer t0k"}}))
>>> sink.name
'https://logs.example.com/ingest?source=web'

The URL, query string included, is the target as written. Options given beside the URL in config:
``headers`` (a table of extra request headers, for example ``Authorization`` from ``${ENV}``),
``timeout`` (seconds, default 10) and ``ca`` (a PEM bundle to trust for https). A user and password
in the URL are sent as HTTP basic auth.

A 2xx answer confirms the batch. Anything else raises :class:`~bulletproof.errors.SinkError` and the
pipeline resends with backoff (``Retry-After`` is not honoured).

Added in 0.1.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Final

from bulletproof.errors import ConfigError, SinkError
from bulletproof.sinks import _http
from bulletproof.sinks.base import SinkSpec

__all__ = ["HttpSink", "create"]

_ACCEPTED: Final = (
    " Accepted form: http(s)://host[:port]/path[?query], with options headers = {...}, "
    "timeout = seconds, ca = /path/to/ca.pem."
)
_RETRYABLE: Final = frozenset({408, 429})


class HttpSink:
    """POSTs each batch as ``[line1,line2,...]`` with ``Content-Type: application/json``.

    One connection per batch: ``open`` and ``close`` hold nothing.

    Added in 0.1.
    """

    def __init__(
        self,
        spec: SinkSpec,
        target: _http.Target,
        headers: Mapping[str, str],
        timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._spec = spec
        self._target = target
        self._headers = {"Content-Type": "application/json", **headers}
        self._timeout = timeout
        self._ssl = ssl_context

    @property
    def name(self) -> str:
        """The URL with any password masked."""
        return self._spec.name

    def open(self) -> None:
        """Nothing to do: each batch opens its own connection."""

    def send(self, lines: Sequence[bytes]) -> None:
        """POST the batch; return on 2xx, raise SinkError otherwise."""
        if not lines:
            return
        body = b"[" + b",".join(lines) + b"]"
        resp = _http.post(
            self._target.url,
            body,
            self._headers,
            timeout=self._timeout,
            ssl_context=self._ssl,
            auth=self._target.auth,
            label=self.name,
        )
        status = resp.status
        if 200 <= status < 300:
            return
        snippet = _http.one_line(resp.body.decode("utf-8", "replace"), 200)
        secret = self._target.auth[1] if self._target.auth else None
        snippet = _http.scrub(snippet, [secret])
        if status in _RETRYABLE or status >= 500:
            raise SinkError(
                f"{self.name}: the server is not taking events right now (HTTP {status}"
                f"{': ' + snippet if snippet else ''}); the batch will be sent again."
            )
        raise SinkError(
            f"{self.name}: the server rejected the batch with HTTP {status}"
            f"{': ' + snippet if snippet else ''}. Check the URL path and the 'headers' option "
            f"(for example Authorization); the batch stays in the spool and will be sent again."
        )

    def unconfirmed(self) -> int:
        """Always 0: a 2xx answer confirms the whole batch."""
        return 0

    def close(self) -> None:
        """Nothing to release."""

    def probe(self) -> str:
        """Connect to host:port (and do the TLS handshake for https); no event is sent."""
        return _http.connect_probe(
            self._target.host,
            self._target.port,
            timeout=self._timeout,
            ssl_context=self._ssl,
            label=self.name,
        )

    def __repr__(self) -> str:
        return f"HttpSink({self.name!r})"


def create(spec: SinkSpec) -> HttpSink:
    """Build an :class:`HttpSink` from an ``http://`` or ``https://`` spec.

    Raises ConfigError for a bad URL, header, timeout or CA bundle.

    Added in 0.1.
    """
    if spec.scheme not in ("http", "https"):
        raise ConfigError(f"sink URL {spec.name!r}: not an http(s) URL.{_ACCEPTED}")
    ep = _http.endpoint(spec, spec.scheme, _ACCEPTED)
    return HttpSink(spec, ep.target, ep.headers, ep.timeout, ep.ssl_context)
