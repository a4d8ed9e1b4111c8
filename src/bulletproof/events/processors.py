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
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import unquote_plus

from bulletproof._sensitive import SECRET_NAMES, has_secret_fragment, normalize_name
from bulletproof._text import one_line

if TYPE_CHECKING:
    from bulletproof.events.model import SecurityEvent

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "REDACTED",
    "CapProcessor",
    "EnrichProcessor",
    "EventEncoder",
    "NeutralizeProcessor",
    "Processor",
    "RedactProcessor",
    "SimpleEventEncoder",
    "default_processors",
]

Processor: TypeAlias = Callable[[dict[str, Any]], dict[str, Any] | None]
"""A processor takes the event dict and returns it (changed in place or new), or None to drop it."""

REDACTED: Final = "[REDACTED]"

_CACHE_MAX: Final = 4096
_UNCAPPED: Final = frozenset({"@timestamp", "event.id"})


# ``name=value`` where name starts the text or follows ``?``, ``&``, ``;``, ``#`` or a space: the
# parameters of a query string, of a URL inside a longer text, of a cookie header or a fragment.
# Character classes only and no nested quantifiers: linear time.
_PARAM: Final = re.compile(r"(^|[?&;#\s])([^\s=&;#?]+)=([^\s&;#?]*)")
# ``Name: value`` at the start of a line: a header block or a config dump kept as one string.
_HEADER_LINE: Final = re.compile(r"(^|[\r\n])([A-Za-z0-9_-]+)([ \t]*:[ \t]*)([^\r\n]*)")
# ``"name": "value"``: a JSON document kept as one string (a request body).
_JSON_MEMBER: Final = re.compile(r'"([^"\\]{1,128})"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
# Top-level fields that to_ecs() fills with fixed names and values chosen by bulletproof itself.
_NOT_WALKED: Final = frozenset({"@timestamp", "ecs", "event", "service", "host"})
# Where a URL's authority ends: the first of these after ``scheme://``. One character class.
_AUTHORITY_END: Final = re.compile(r"[/?#\s]")


def _redact_userinfo(text: str) -> str:
    """Replace the credentials of every URL in ``text`` (``scheme://user:pass@host``).

    The whole userinfo goes (a token is often written as the user name); linear time.

    >>> _redact_userinfo("db at postgres://app:S3cret@db/x, see https://h/")
    'db at postgres://[REDACTED]@db/x, see https://h/'

    Added in 0.1.
    """
    if "@" not in text:
        return text
    i = text.find("://")
    if i < 0:
        return text
    parts: list[str] = []
    pos = 0
    while i >= 0:
        start = i + 3
        m = _AUTHORITY_END.search(text, start)
        end = m.start() if m else len(text)
        at = text.rfind("@", start, end)
        if at > start:
            parts.append(text[pos:start])
            parts.append(REDACTED)
            pos = at
        i = text.find("://", max(end, start))
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


_MAX_REDACT_DEPTH: Final = 64


class RedactProcessor:
    """Replace secrets with ``[REDACTED]``.

    Secrets are: values of keys named like Authorization, Cookie, Set-Cookie, password, token,
    secret, api_key (any case, ``-``/``_`` ignored, also as parts: ``db_password``,
    ``X-Api-Key``), at any depth of ``bulletproof.details`` (and of ``http``, ``user`` and any
    top-level field a processor added), in header lists of ``[name, value]`` pairs, and the values
    of such parameters wherever a string holds ``name=value`` pairs: query strings (``url.query``,
    ``url.original``, ``url.full``, details keys such as ``query``), URLs and request lines inside
    any detail or the message, fragments (``#access_token=...``) and path parameters
    (``;jsessionid=...``); likewise ``Name: value`` lines of a header block and
    ``"name": "value"`` members of a JSON body kept as one string; and the credentials of any URL
    (``postgres://app:S3cret@db/x`` becomes ``postgres://[REDACTED]@db/x``) in every string of
    the event but its id, timestamp and kind. Parameter names are compared after
    percent-decoding. ``extra_fields`` adds names.

    Added in 0.1.
    """

    __slots__ = ("_cache", "_exact")

    def __init__(self, extra_fields: Iterable[str] = ()) -> None:
        self._exact = SECRET_NAMES | {normalize_name(f) for f in extra_fields}
        self._cache: dict[str, bool] = {}

    def is_secret(self, name: str) -> bool:
        """Whether a field or parameter of this name holds a secret."""
        known = self._cache.get(name)
        if known is not None:
            return known
        n = normalize_name(name)
        secret = n in self._exact or has_secret_fragment(n)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()  # names come from requests: keep the cache bounded
        self._cache[name] = secret
        return secret

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        for key, value in list(doc.items()):
            if key in _NOT_WALKED:
                continue
            if key != "bulletproof" and self.is_secret(str(key)):
                doc[key] = REDACTED
            else:
                doc[key] = self._walk(value, 0)
        return doc

    def redact_text(self, text: str) -> str:
        """Redact secret values in free text.

        That is the values of secret ``name=value`` parameters anywhere (query strings, URLs,
        cookies, fragments), of ``Name: value`` lines (a header block) and of ``"name": "value"``
        members (a JSON body kept as a string).

        >>> RedactProcessor().redact_text("GET /login?user=bob&Pass%77ord=x HTTP/1.1")
        'GET /login?user=bob&Pass%77ord=[REDACTED] HTTP/1.1'

        Added in 0.1.
        """
        if "@" in text:
            text = _redact_userinfo(text)
        if "=" in text:
            text = _PARAM.sub(self._param, text)
        if ":" in text:
            text = _HEADER_LINE.sub(self._header, text)
            if '"' in text:
                text = _JSON_MEMBER.sub(self._member, text)
        return text

    def _param(self, match: re.Match[str]) -> str:
        if self.is_secret(unquote_plus(match.group(2))):
            return f"{match.group(1)}{match.group(2)}={REDACTED}"
        return match.group()

    def _header(self, match: re.Match[str]) -> str:
        if match.group(4) and self.is_secret(match.group(2)):
            return f"{match.group(1)}{match.group(2)}{match.group(3)}{REDACTED}"
        return match.group()

    def _member(self, match: re.Match[str]) -> str:
        if self.is_secret(match.group(1)):
            return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'
        return match.group()

    def redact_query(self, text: str, *, whole: bool = True) -> str:
        """Redact secret parameters in a query string (or in the part after ``?`` of a URL)."""
        if whole:
            return self.redact_text(text)
        cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
        if cut < 0:
            return text
        return text[:cut] + self.redact_text(text[cut:])

    def _walk(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            # (a URL with credentials holds ":" in its "://")
            return self.redact_text(value) if "=" in value or ":" in value else value
        if kind is int or kind is float or kind is bool or value is None:
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if depth > _MAX_REDACT_DEPTH:
            # Deeper than any cap keeps: do not let a secret through unexamined.
            return "[too deep]" if isinstance(value, Mapping | list | tuple) else value
        if kind is dict or isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            is_secret = self.is_secret
            for k, v in value.items():
                name = k.decode("latin-1") if isinstance(k, bytes) else k
                if type(name) is str and is_secret(name):
                    out[k] = REDACTED
                else:
                    out[k] = self._walk(v, depth + 1)
            return out
        if kind is list or kind is tuple or isinstance(value, list | tuple):
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

    Unsafe characters (:mod:`bulletproof._text`: C0, C1, DEL, U+2028/U+2029, bidi controls)
    become visible escapes; invalid UTF-8 in bytes becomes ``\\xNN``; lone surrogates become
    ``\\udcNN``; values JSON cannot hold (sets, objects, NaN, integers too long to print)
    become strings. Keys are neutralized too; keys that are not strings become the text JSON
    would give them (``true``, ``null``, ``1``).

    Added in 0.1.
    """

    __slots__ = ()

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Process one event dict."""
        out: dict[str, Any] = self._walk(doc, 0)
        return out

    def _walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return one_line(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if value.bit_length() <= _MAX_INT_BITS else _BIG_INT
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Mapping):
            if depth > _MAX_NEUTRALIZE_DEPTH:
                return "[too deep]"
            return {_key(k): self._walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            if depth > _MAX_NEUTRALIZE_DEPTH:
                return "[too deep]"
            return [self._walk(v, depth + 1) for v in value]
        if isinstance(value, bytes | bytearray | memoryview):
            return one_line(bytes(value).decode("utf-8", "backslashreplace"))
        return one_line(_text(value))


_MAX_NEUTRALIZE_DEPTH: Final = 32
# Python refuses to print integers of more than 4300 digits (about 14,284 bits).
_MAX_INT_BITS: Final = 14_000
_BIG_INT: Final = "[integer too large]"


def _text(value: object) -> str:
    """``str(value)``, or its type name when its ``__str__`` fails."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the event
        return f"<{type(value).__name__}>"


def _key(key: object) -> str:
    """A dict key as the string JSON would write, neutralized."""
    if isinstance(key, str):
        return one_line(key)
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        return int.__repr__(key) if key.bit_length() <= _MAX_INT_BITS else _BIG_INT
    if isinstance(key, float):
        return float.__repr__(key) if math.isfinite(key) else str(key)
    if isinstance(key, bytes | bytearray | memoryview):
        return one_line(bytes(key).decode("utf-8", "backslashreplace"))
    return one_line(_text(key))


class CapProcessor:
    """Bound an event's size: long strings are cut, big containers trimmed, deep nesting flattened.

    Strings (values and keys) longer than ``max_chars`` are cut, except ``@timestamp`` and
    ``event.id``; dicts and lists keep their first ``max_items`` items; containers at depth
    ``max_depth`` (the event itself is depth 0) become ``"[too deep]"``. Every cut field's dotted
    path is listed in ``bulletproof.truncated`` so readers know.

    Added in 0.1.
    """

    __slots__ = ("max_chars", "max_depth", "max_items")

    def __init__(self, max_chars: int = 8192, max_items: int = 256, max_depth: int = 8) -> None:
        if max_chars < 16:
            raise ValueError(f"CapProcessor max_chars={max_chars!r}: use at least 16")
        if max_items < 1 or max_depth < 1:
            raise ValueError(
                f"CapProcessor max_items={max_items!r}, max_depth={max_depth!r}: use at least 1"
            )
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
                paths = [p[: self.max_chars] for p in dict.fromkeys(cut)]
                bp["truncated"] = paths[: self.max_items]
        result: dict[str, Any] = out
        return result

    def _cut(self, text: str) -> str:
        return text[: self.max_chars] + f"...[{len(text) - self.max_chars} chars cut]"

    def _walk(self, value: Any, path: str, depth: int, cut: list[str]) -> Any:
        if isinstance(value, str):
            if len(value) > self.max_chars and path not in _UNCAPPED:
                cut.append(path)
                return self._cut(value)
            return value
        if isinstance(value, dict):
            if depth >= self.max_depth:
                cut.append(path)
                return "[too deep]"
            items = list(value.items())
            if len(items) > self.max_items:
                cut.append(path)
                items = items[: self.max_items]
            out: dict[Any, Any] = {}
            for k, v in items:
                key = k
                if isinstance(k, str) and len(k) > self.max_chars:
                    key = self._cut(k)
                    cut.append(f"{path}.{key}" if path else key)
                out[key] = self._walk(v, f"{path}.{key}" if path else str(key), depth + 1, cut)
            return out
        if isinstance(value, list | tuple):
            if depth >= self.max_depth:
                cut.append(path)
                return "[too deep]"
            if len(value) > self.max_items:
                cut.append(path)
                value = value[: self.max_items]
            return [self._walk(v, path, depth + 1, cut) for v in value]
        return value


DEFAULT_MAX_EVENT_BYTES: Final = 64 * 1024
"""The default bound on one serialized event (``events.max_event_bytes``). Added in 0.1."""
_MIN_EVENT_BYTES: Final = 1024
_MAX_CUT_PATHS: Final = 64
# Never cut: what identifies the event and what bulletproof itself sets.
_KEEP_TOP: Final = frozenset({"@timestamp", "ecs", "event"})
_KEEP_BP: Final = frozenset({"category", "severity", "truncated", "truncated_bytes"})


def _string_leaves(doc: dict[str, Any]) -> list[tuple[str, Any, str, Any]]:
    """``(path, container, text, key)`` for every string an oversized event may have cut."""
    out: list[tuple[str, Any, str, Any]] = []
    stack: list[tuple[str, Any, int]] = []
    for key, value in doc.items():
        if key in _KEEP_TOP:
            continue
        stack.append((str(key), value, 0))
        if isinstance(value, str) and len(value) > 64:
            out.append((str(key), doc, value, key))
    while stack:
        path, node, depth = stack.pop()
        if depth > _MAX_NEUTRALIZE_DEPTH:
            continue
        items: Iterable[tuple[Any, Any]]
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for name, item in items:
            if path == "bulletproof" and name in _KEEP_BP:
                continue
            sub = f"{path}.{name}" if isinstance(node, dict) else path
            if isinstance(item, str):
                if len(item) > 64:
                    out.append((sub, node, item, name))
            else:
                stack.append((sub, item, depth + 1))
    return out


def _cuttable_fields(doc: dict[str, Any]) -> list[tuple[str, Any, int, Any]]:
    """``(path, container, serialized size, key)`` of the fields an oversized event may lose."""
    fields: list[tuple[str, Any, int, Any]] = []

    def weight(value: Any) -> int:
        return len(json.dumps(value, ensure_ascii=False, default=str))

    for key, value in doc.items():
        if key in _KEEP_TOP or key == "bulletproof":
            continue
        fields.append((str(key), doc, weight(value), key))
    bp = doc.get("bulletproof")
    if isinstance(bp, dict):
        for key, value in bp.items():
            if key in _KEEP_BP:
                continue
            details = value if key == "details" and isinstance(value, dict) else None
            if details:
                fields.extend(
                    (f"bulletproof.details.{k}", details, weight(v), k) for k, v in details.items()
                )
            else:
                fields.append((f"bulletproof.{key}", bp, weight(value), key))
    return fields


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


# Scalar types whose JSON form CapProcessor and NeutralizeProcessor never change (floats are not
# here: NaN and infinities are, so a container holding a float is looked into).
_FLAT_SCALARS: Final = frozenset({str, int, bool, type(None)})
_STR_ONLY: Final = frozenset({str})
_SUSPECT_UTF8: Final = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def _load_orjson() -> Callable[[Any], bytes] | None:
    """``orjson.dumps`` when the optional ``fast`` extra is installed (10x faster than json)."""
    try:
        import orjson
    except ImportError:
        return None
    dumps: Callable[[Any], bytes] = orjson.dumps
    return dumps


# In serialized JSON, C0 control characters show up as escapes (a backslash); C1 controls, DEL, the
# Unicode separators, the bidi controls and surrogates show up raw. One character class: linear.
_SUSPECT_RAW: Final = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class EventEncoder:
    """Serialize an event dict to one JSON line, neutralized and capped.

    The result always decodes to what ``json`` gives for
    ``CapProcessor(NeutralizeProcessor(doc))``. With the optional ``fast`` extra installed,
    ``orjson`` serializes (about 10x faster than ``json``; ``use_orjson=False`` turns it off), with
    ``json`` as the fallback. The fast path serializes once and checks that those walks could not
    change anything: the text has no escape (so no value holds a C0 control character) and no raw
    DEL, C1, U+2028/U+2029 or surrogate, it is at most ``max_chars`` long (so no string is), every
    value is a plain JSON type (finite floats), every key a string, and no container is wider than
    ``max_items`` or as deep as ``max_depth``. Otherwise both walks run and the dict is
    serialized again.

    >>> import json
    >>> json.loads(EventEncoder().encode({"message": "a\\nb"}))["message"] == "a" + chr(92) + "nb"
    True

    Added in 0.1.
    """

    __slots__ = (
        "_cap",
        "_dumps",
        "_fast_dumps",
        "_neutralize",
        "_orjson",
        "max_chars",
        "max_event_bytes",
    )

    def __init__(
        self,
        max_chars: int = 8192,
        max_items: int = 256,
        max_depth: int = 8,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        use_orjson: bool | None = None,
    ) -> None:
        if max_event_bytes < _MIN_EVENT_BYTES:
            raise ValueError(
                f"EventEncoder max_event_bytes={max_event_bytes!r}: use at least {_MIN_EVENT_BYTES}"
            )
        self.max_chars = max_chars
        self.max_event_bytes = max_event_bytes
        self._orjson = _load_orjson() if use_orjson is not False else None
        if use_orjson and self._orjson is None:
            raise ValueError(
                "EventEncoder(use_orjson=True): orjson is not installed; "
                "pip install 'bulletproof[fast]'"
            )
        self._neutralize = NeutralizeProcessor()
        self._cap = CapProcessor(max_chars, max_items, max_depth)
        # No ``default``: anything that is not a plain JSON type sends the event to the slow path.
        self._fast_dumps = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode
        self._dumps = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_text
        ).encode

    def encode(self, doc: dict[str, Any]) -> bytes:
        """One JSON line (no trailing newline), UTF-8."""
        fast = self._orjson
        if fast is not None:
            try:
                data: bytes = fast(doc)
            except (TypeError, ValueError, RecursionError):
                data = b""
            if (
                data
                and len(data) <= self.max_chars
                and len(data) <= self.max_event_bytes
                and b"\\" not in data
                and ((data.isascii() and b"\x7f" not in data) or _SUSPECT_UTF8.search(data) is None)
                and self._plain(doc, 0)
            ):
                return data
        else:
            try:
                text = self._fast_dumps(doc)
            except (ValueError, TypeError, RecursionError):
                text = ""
            if (
                text
                and len(text) <= self.max_chars
                and len(text) * 4 <= self.max_event_bytes
                and "\\" not in text
                and ((text.isascii() and "\x7f" not in text) or _SUSPECT_RAW.search(text) is None)
                and self._plain(doc, 0)
            ):
                return text.encode("utf-8")
        safe = self._cap(self._neutralize(doc))
        out = self._serialize(safe)
        if len(out) > self.max_event_bytes:
            out = self._shrink(safe, len(out))
        return out

    def _serialize(self, safe: dict[str, Any]) -> bytes:
        fast = self._orjson
        if fast is not None:
            try:
                data: bytes = fast(safe)
            except (TypeError, ValueError, RecursionError):
                pass
            else:
                return data
        return self._dumps(safe).encode("utf-8")

    def _shrink(self, doc: dict[str, Any], size: int) -> bytes:
        """Cut an event that serializes to more than ``max_event_bytes`` down to that bound.

        The longest strings are cut first (each keeps its start and says how much was cut);
        then whole fields, largest first, become ``"[cut: N bytes]"``; the event's identity
        (``@timestamp``, ``event``, ``ecs``, category and severity) always stays. The paths of
        what was cut are listed in ``bulletproof.truncated`` and the original size in
        ``bulletproof.truncated_bytes``, so a reader knows. Never drops the event.
        """
        limit = self.max_event_bytes
        cut: list[str] = []
        bp = doc.setdefault("bulletproof", {})
        if not isinstance(bp, dict):
            bp = doc["bulletproof"] = {"details": bp}
        original = bp.get("truncated")
        if isinstance(original, list):
            cut.extend(str(p) for p in original)

        def finish() -> bytes:
            bp["truncated"] = list(dict.fromkeys(cut))[:_MAX_CUT_PATHS]
            bp["truncated_bytes"] = size
            return self._serialize(doc)

        out = finish()
        for _ in range(8):  # strings, longest first; each round re-measures
            excess = len(out) - limit
            if excess <= 0:
                return out
            leaves = sorted(_string_leaves(doc), key=lambda leaf: -len(leaf[2]))
            progress = False
            for path, parent, text, key in leaves:
                if excess <= 0:
                    break
                keep = max(len(text) - excess - 64, 32)
                if keep >= len(text) - 32:
                    continue
                parent[key] = f"{text[:keep]}...[{len(text) - keep} chars cut]"
                excess -= len(text[keep:].encode("utf-8", "surrogatepass")) - 24
                cut.append(path)
                progress = True
            out = finish()
            if not progress:
                break
        # Whole fields, largest first: the caller's top-level fields, then each detail.
        fields = _cuttable_fields(doc)
        fields.sort(key=lambda f: -f[2])
        for path, parent, weight, key in fields:
            if len(out) <= limit:
                return out
            parent[key] = f"[cut: {weight} bytes]"
            cut.append(path)
            out = finish()
        if len(out) <= limit:
            return out
        # Nothing else left to cut: the identity of the event alone.
        skeleton: dict[str, Any] = {
            k: doc[k] for k in ("@timestamp", "message", "ecs", "event") if k in doc
        }
        if isinstance(skeleton.get("message"), str) and len(skeleton["message"]) > 256:
            skeleton["message"] = skeleton["message"][:256] + "...[cut]"
        skeleton["bulletproof"] = {
            k: bp[k] for k in ("category", "severity") if k in bp and isinstance(bp[k], str)
        }
        doc.clear()
        doc.update(skeleton)
        bp = doc["bulletproof"]
        cut[:] = ["*"]
        return finish()

    def _plain(self, value: dict[str, Any] | list[Any] | tuple[Any, ...], depth: int) -> bool:
        """Whether CapProcessor and NeutralizeProcessor leave ``value`` as it is, given that its
        serialized text showed no unsafe character: every key a string, every value a plain JSON
        type (finite floats), no container wider than ``max_items`` or as deep as ``max_depth``.
        """
        cap = self._cap
        if depth >= cap.max_depth or len(value) > cap.max_items:
            return False
        if type(value) is dict:
            for key in value:
                if type(key) is not str:
                    return False
            items: Iterable[Any] = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is float:
                if item - item != 0.0:  # NaN and infinities
                    return False
                continue
            if kind is dict:
                # Most containers are flat: check them at C speed without recursing.
                if (
                    depth + 1 < cap.max_depth
                    and len(item) <= cap.max_items
                    and _STR_ONLY.issuperset(map(type, item))
                    and _FLAT_SCALARS.issuperset(map(type, item.values()))
                ):
                    continue
                if not self._plain(item, depth + 1):
                    return False
                continue
            if kind is list or kind is tuple:
                if (
                    depth + 1 < cap.max_depth
                    and len(item) <= cap.max_items
                    and _FLAT_SCALARS.issuperset(map(type, item))
                ):
                    continue
                if not self._plain(item, depth + 1):
                    return False
                continue
            return False
        return True


class SimpleEventEncoder:
    """The standard chain (enrich, redact, encode) for the common event, without walking it.

    Most events have flat ``details`` and short strings with nothing to redact. For those,
    :meth:`encode` checks that directly (types, secret names, the few strings redaction looks
    at) and serializes once; it returns ``None`` for any other event, which then takes the full
    chain. When it returns bytes they are exactly what the full chain gives (a property test
    holds it to that).

    Added in 0.1.
    """

    __slots__ = ("_encoder", "_enrich", "_fast", "_redact")

    def __init__(
        self, enrich: EnrichProcessor, redact: RedactProcessor, encoder: EventEncoder
    ) -> None:
        self._enrich = enrich
        self._redact = redact
        self._encoder = encoder
        self._fast = encoder._orjson

    def encode(self, event: SecurityEvent) -> bytes | None:
        """One JSON line, or None when the event needs the full chain."""
        fast = self._fast
        if fast is None:
            return None
        details = event.details
        redact = self._redact
        if details:
            if (
                type(details) is not dict
                or len(details) > self._encoder._cap.max_items
                or not _STR_ONLY.issuperset(map(type, details))
                or not _FLAT_SCALARS.issuperset(map(type, details.values()))
            ):
                return None
            is_secret = redact.is_secret
            for key, value in details.items():
                if is_secret(key) or (
                    type(value) is str
                    and ("=" in value or ":" in value)
                    and redact.redact_text(value) != value
                ):
                    return None
        # The strings redaction walks (the rest of the event is not walked: _NOT_WALKED).
        for text in (
            event.message,
            event.url_path,
            event.url_query,
            event.http_method,
            event.user_name,
            event.source_ip,
            event.user_agent,
            event.rule_id,
            event.rule_name,
        ):
            if text is None:
                continue
            if type(text) is not str:
                return None
            if ("=" in text or ":" in text) and redact.redact_text(text) != text:
                return None
        for other in (event.action, event.kind, event.id):
            if type(other) is not str:
                return None
        code = event.status_code
        if code is not None and type(code) is not int:
            return None
        if type(event.types) is not tuple or not _STR_ONLY.issuperset(map(type, event.types)):
            return None
        if type(event.timestamp) is not float and type(event.timestamp) is not int:
            return None
        doc = self._enrich(event.to_ecs())
        try:
            data: bytes = fast(doc)
        except (TypeError, ValueError):
            return None
        if (
            len(data) <= self._encoder.max_chars
            and len(data) <= self._encoder.max_event_bytes
            and b"\\" not in data
            and ((data.isascii() and b"\x7f" not in data) or _SUSPECT_UTF8.search(data) is None)
        ):
            return data
        return None


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
