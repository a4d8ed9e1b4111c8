"""Recorded requests (one JSON object per line) as :class:`RequestInfo`.

The record format is the one of bulletproof's detection corpora and of ``bulletproof inspect``:
``id``, ``method``, ``path`` (raw, as on the wire), ``query`` (raw, no ``?``), ``headers``
(an object, or a list of ``[name, value]`` pairs), ``body`` (text), and optionally
``client_ip``. Other keys (labels) are ignored.

>>> record_request({"method": "GET", "path": "/", "headers": {"User-Agent": "x"}}).headers
(('user-agent', 'x'),)

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping

from bulletproof.detect._request import RequestInfo
from bulletproof.errors import ConfigError

__all__ = ["record_request"]


def _text(record: Mapping[str, object], key: str, default: str = "") -> str:
    value = record.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ConfigError(f"{key!r} is a {type(value).__name__}, not a string")
    return value


def record_request(record: Mapping[str, object]) -> RequestInfo:
    """The request a record describes. Raises :class:`ConfigError` naming the bad key.

    Added in 0.1.
    """
    if not isinstance(record, Mapping):
        raise ConfigError(f"a record is a JSON object, not {type(record).__name__}")
    raw_headers = record.get("headers") or {}
    pairs: list[tuple[str, str]] = []
    if isinstance(raw_headers, Mapping):
        items = list(raw_headers.items())
    elif isinstance(raw_headers, list):
        items = []
        for item in raw_headers:
            if not (isinstance(item, list) and len(item) == 2):
                raise ConfigError("'headers' as a list holds [name, value] pairs")
            items.append((item[0], item[1]))
    else:
        raise ConfigError("'headers' is an object of name: value, or a list of pairs")
    for name, value in items:
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigError(f"header {name!r}: names and values are strings")
        pairs.append((name.lower(), value))
    body = _text(record, "body")
    client = record.get("client_ip")
    return RequestInfo(
        method=_text(record, "method", "GET") or "GET",
        path=_text(record, "path", "/") or "/",
        query=_text(record, "query"),
        client_ip=client if isinstance(client, str) else None,
        headers=tuple(pairs),
        body=body.encode("utf-8", "surrogatepass"),
    )
