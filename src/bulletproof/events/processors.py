"""Processors: plain callables that take an event's ECS dict and return it (or None to drop it).

They run on the pipeline's writer thread, never on the caller's, in this order by default:
:class:`EnrichProcessor` (service and host), :class:`RedactProcessor` (secrets),
:class:`NeutralizeProcessor` (control characters, invalid text), :class:`CapProcessor` (sizes).

>>> doc = {"message": "bad\\r\\nline", "url": {"query": "q=1&password=hunter2"},
...        "bulletproof": {"details": {"headers": {"Authorization": "Bearer abc"}}}}
>>> for p in (RedactProcessor(), NeutralizeProcessor()):
...     doc = p(doc)
>>> doc["message"], doc["url"]["query"], doc["bulletproof"]["details"]["headers"]["Authorization"]
('bad\\\\r\\\\nline', 'q=1&password=[REDACTED]', '[REDACTED]')

Added in 0.1.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeAlias

__all__ = [
    "REDACTED",
    "CapProcessor",
    "EnrichProcessor",
    "EventEncoder",
    "NeutralizeProcessor",
    "Processor",
    "RedactProcessor",
    "default_processors",
    "neutralize_text",
]

Processor: TypeAlias = Callable[[dict[str, Any]], dict[str, Any] | None]
"""A processor takes the event dict and returns it (changed in place or new), or None to drop it."""

REDACTED: Final = "[REDACTED]"

# Exact names (lowercase, without - and _) that always hold a secret, and fragments that do.
_SECRET_NAMES: Final = frozenset(
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
_SECRET_FRAGMENTS: Final = (
    "password",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "signature",
)
_UNCAPPED: Final = frozenset({"@timestamp", "event.id"})
_QUERY_FIELDS: Final = frozenset({"query", "querystring", "qs", "rawquery"})

# One character class: linear time, no backtracking. C0 and C1 controls, DEL, the Unicode line and
# paragraph separators, and lone surrogates (from invalid UTF-8 decoded with surrogateescape).
_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED: Final = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\x00": "\\0"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralize_text(text: str) -> str:
    """Replace control characters with visible escapes so text stays on one log line.

    >>> neutralize_text("a\\r\\nb\\x00c\\u2028")
    'a\\\\r\\\\nb\\\\0c\\\\u2028'

    Added in 0.1.
    """
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


class RedactProcessor:
    """Replace secrets with ``[REDACTED]``.

    Secrets are: values of keys named like Authorization, Cookie, Set-Cookie, password, token,
    secret, api_key (any case, ``-``/``_`` ignored, also as parts: ``db_password``), in
    ``bulletproof.details`` at any depth, in header lists of ``[name, value]`` pairs, and the
    values of such parameters in query strings (``url.query``, ``url.original``, ``url.full``
    and details keys named ``query``/``query_string``). ``extra_fields`` adds names.

    Added in 0.1.
    """

    __slots__ = ("_exact",)

    def __init__(self, extra_fields: Iterable[str] = ()) -> None:
        self._exact = _SECRET_NAMES | {_norm(f) for f in extra_fields}

    def is_secret(self, name: str) -> bool:
        """Whether a field or parameter of this name holds a secret."""
        n = _norm(name)
        return n in self._exact or any(f in n for f in _SECRET_FRAGMENTS)

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        url = doc.get("url")
        if isinstance(url, dict):
            for key in ("query", "original", "full"):
                value = url.get(key)
                if isinstance(value, str) and "=" in value:
                    url[key] = self.redact_query(value, whole=key == "query")
        bp = doc.get("bulletproof")
        if isinstance(bp, dict) and "details" in bp:
            bp["details"] = self._walk(bp["details"], 0)
        return doc

    def redact_query(self, text: str, *, whole: bool = True) -> str:
        """Redact secret parameters in a query string (or in the part after ``?`` of a URL)."""
        if whole:
            head, sep, query = "", "", text
        else:
            head, sep, query = text.partition("?")
            if not sep:
                return text
        fragment = ""
        if "#" in query:
            query, _, frag = query.partition("#")
            fragment = "#" + frag
        parts = query.split("&")
        changed = False
        for i, part in enumerate(parts):
            name, eq, _ = part.partition("=")
            if eq and self.is_secret(name):
                parts[i] = f"{name}={REDACTED}"
                changed = True
        if not changed:
            return text
        return f"{head}{sep}{'&'.join(parts)}{fragment}"

    def _walk(self, value: Any, depth: int) -> Any:
        if depth > 16:
            return value
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                if isinstance(k, str) and self.is_secret(k):
                    out[k] = REDACTED
                elif isinstance(k, str) and _norm(k) in _QUERY_FIELDS and isinstance(v, str):
                    out[k] = self.redact_query(v)
                else:
                    out[k] = self._walk(v, depth + 1)
            return out
        if isinstance(value, list | tuple):
            if (
                len(value) == 2
                and isinstance(value[0], str | bytes)
                and self.is_secret(
                    value[0].decode("latin-1") if isinstance(value[0], bytes) else value[0]
                )
            ):
                return [value[0], REDACTED]
            return [self._walk(v, depth + 1) for v in value]
        return value


class NeutralizeProcessor:
    """Make every value safe for one-line logs and JSON.

    Control characters (CR, LF, NUL, the rest of C0 and C1, DEL, U+2028/U+2029) become visible
    escapes; invalid UTF-8 in bytes becomes ``\\xNN``; lone surrogates become ``\\udcNN``; values
    JSON cannot hold (sets, objects, NaN) become strings. Keys are neutralized too.

    Added in 0.1.
    """

    __slots__ = ()

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        out: dict[str, Any] = self._walk(doc, 0)
        return out

    def _walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return neutralize_text(value)
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            if depth > 32:
                return "[too deep]"
            return {
                neutralize_text(k) if isinstance(k, str) else neutralize_text(str(k)): self._walk(
                    v, depth + 1
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            if depth > 32:
                return "[too deep]"
            return [self._walk(v, depth + 1) for v in value]
        if isinstance(value, bytes | bytearray | memoryview):
            return neutralize_text(bytes(value).decode("utf-8", "backslashreplace"))
        return neutralize_text(str(value))


class CapProcessor:
    """Bound an event's size: long strings are cut, big containers trimmed, deep nesting flattened.

    Every cut field's dotted path is listed in ``bulletproof.truncated`` so readers know.

    Added in 0.1.
    """

    __slots__ = ("max_chars", "max_depth", "max_items")

    def __init__(self, max_chars: int = 8192, max_items: int = 256, max_depth: int = 8) -> None:
        if max_chars < 16:
            raise ValueError(f"CapProcessor max_chars={max_chars!r}: use at least 16")
        self.max_chars = max_chars
        self.max_items = max_items
        self.max_depth = max_depth

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        cut: list[str] = []
        out = self._walk(doc, "", 0, cut)
        if cut:
            bp = out.setdefault("bulletproof", {})
            if isinstance(bp, dict):
                bp["truncated"] = list(dict.fromkeys(cut))[: self.max_items]
        result: dict[str, Any] = out
        return result

    def _walk(self, value: Any, path: str, depth: int, cut: list[str]) -> Any:
        if isinstance(value, str):
            if len(value) > self.max_chars and path not in _UNCAPPED:
                cut.append(path)
                return value[: self.max_chars] + f"...[{len(value) - self.max_chars} chars cut]"
            return value
        if isinstance(value, dict):
            if depth >= self.max_depth:
                cut.append(path)
                return "[too deep]"
            items = list(value.items())
            if len(items) > self.max_items:
                cut.append(path)
                items = items[: self.max_items]
            return {
                k: self._walk(v, f"{path}.{k}" if path else str(k), depth + 1, cut)
                for k, v in items
            }
        if isinstance(value, list):
            if depth >= self.max_depth:
                cut.append(path)
                return "[too deep]"
            if len(value) > self.max_items:
                cut.append(path)
                value = value[: self.max_items]
            return [self._walk(v, path, depth + 1, cut) for v in value]
        return value


class EnrichProcessor:
    """Add ``service.name`` and ``host.hostname`` when they are not set.

    Added in 0.1.
    """

    __slots__ = ("hostname", "service")

    def __init__(self, service: str, hostname: str) -> None:
        self.service = service
        self.hostname = hostname

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        if self.service and "service" not in doc:
            doc["service"] = {"name": self.service}
        if self.hostname and "host" not in doc:
            doc["host"] = {"hostname": self.hostname}
        return doc


# In serialized JSON, C0 control characters show up as escapes (a backslash); C1 controls, DEL, the
# Unicode separators and surrogates show up raw. One character class: linear time.
_SUSPECT_RAW: Final = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class EventEncoder:
    """Serialize an event dict to one JSON line, neutralized and capped.

    The fast path serializes once and checks the text: when no value holds a control character,
    the whole line is shorter than ``max_chars`` and ``bulletproof.details`` is flat, the
    :class:`NeutralizeProcessor` and :class:`CapProcessor` walks could not change anything and are
    skipped. Otherwise both run and the dict is serialized again.

    >>> import json
    >>> json.loads(EventEncoder().encode({"message": "a\\nb"}))["message"] == "a" + chr(92) + "nb"
    True

    Added in 0.1.
    """

    __slots__ = ("_cap", "_dumps", "_neutralize", "max_chars")

    def __init__(self, max_chars: int = 8192, max_items: int = 256, max_depth: int = 8) -> None:
        self.max_chars = max_chars
        self._neutralize = NeutralizeProcessor()
        self._cap = CapProcessor(max_chars, max_items, max_depth)
        self._dumps = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
        ).encode

    def encode(self, doc: dict[str, Any]) -> bytes:
        """One JSON line (no trailing newline), UTF-8."""
        try:
            text = self._dumps(doc)
        except (ValueError, TypeError):
            text = ""
        if (
            text
            and len(text) <= self.max_chars
            and "\\" not in text
            and ((text.isascii() and "\x7f" not in text) or _SUSPECT_RAW.search(text) is None)
        ):
            details = doc.get("bulletproof", {}).get("details")
            if not details or not any(isinstance(v, dict | list) for v in details.values()):
                return text.encode("utf-8")
        doc = self._cap(self._neutralize(doc))
        return self._dumps(doc).encode("utf-8")


def default_processors(
    *,
    service: str = "",
    hostname: str = "",
    redact_fields: Iterable[str] = (),
    max_field_chars: int = 8192,
) -> list[Processor]:
    """The standard chain before encoding: enrich, redact.

    Neutralizing and capping happen in :class:`EventEncoder`, which the pipeline always applies
    last, so no processor can bring back a raw control character or an oversized field.

    Added in 0.1.
    """
    del max_field_chars  # applied by EventEncoder
    return [EnrichProcessor(service, hostname), RedactProcessor(redact_fields)]
