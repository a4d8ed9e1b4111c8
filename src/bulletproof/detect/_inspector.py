"""The :class:`Inspector`: one request in, a verdict and its findings out.

The request is taken apart into fields (the path, each query and form parameter, each JSON
string with its key path, each GraphQL string literal, each multipart part, each cookie, the
headers that carry data), each field is decoded (:mod:`bulletproof.detect._normalize`) and
matched against the signatures of its context in one pass of a linear-time engine, and the
scores of the rules a field matched add up. A field at or over the threshold makes the request
``malicious``; a request the parser could not read cleanly, without an attack, is ``invalid``.

>>> inspector = Inspector()
>>> result = inspector.inspect(RequestInfo("GET", "/search", "q=1%27%20OR%20%271%27%3D%271"))
>>> result.verdict, result.findings[0].type, result.findings[0].location
('malicious', 'sqli', 'query:q')
>>> inspector.inspect(RequestInfo("GET", "/search", "q=O%27Brien")).verdict
'normal'

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import Any, Final, Literal, NamedTuple, TypeAlias

import re2

from bulletproof.detect._engine import Engine, compile_set
from bulletproof.detect._normalize import (
    DOUBLE_ENCODED,
    ENCODING_ERROR,
    NUL,
    OVERLONG,
    UNICODE_ESCAPE,
    evidence,
    normalize,
    percent_decode,
)
from bulletproof.detect._request import RequestInfo
from bulletproof.detect._signatures import RULES, Rule
from bulletproof.errors import ConfigError

__all__ = ["Exclusion", "Finding", "Inspection", "Inspector", "Verdict"]

Verdict: TypeAlias = Literal["normal", "invalid", "malicious"]
"""A request's verdict. Added in 0.1."""

_CORE_TYPES: Final = ("sqli", "xss", "path_traversal", "cmdi", "scanner_probe", "scanner_ua")
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TAMPERING_METHODS: Final = frozenset({"TRACE", "TRACK", "DEBUG", "CONNECT"})
_OVERRIDE_HEADERS: Final = ("x-http-method-override", "x-http-method", "x-method-override")
# Headers whose values are judged as data (others only for their shape, see _headers()).
# Standard headers whose values are lists of tokens: judged only when a character outside
# that grammar shows up.
_TOKEN_HEADERS: Final = frozenset(
    {
        "accept",
        "accept-language",
        "accept-encoding",
        "accept-charset",
        "connection",
        "cache-control",
        "pragma",
        "upgrade-insecure-requests",
        "dnt",
        "te",
        "priority",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "sec-fetch-user",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-ch-ua",
        "if-none-match",
        "if-modified-since",
        "keep-alive",
        "x-requested-with",
        "content-encoding",
        "upgrade",
        "sec-websocket-version",
    }
)
_TOKEN_CHARS: Final = (  # a character set, not a secret
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;=.*/+-_:?!"\t'  # noqa: S105
)
_HEADER_KINDS: Final = {
    **dict.fromkeys(_TOKEN_HEADERS, "token"),
    **dict.fromkeys(("authorization", "proxy-authorization", "host", "content-type"), "skip"),
    "cookie": "cookie",
    "user-agent": "ua",
    "referer": "url",
    "origin": "url",
    "content-length": "length",
    "transfer-encoding": "encoding",
}
_B64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"
_SUSPECT: Final = frozenset("/<>'\"`();|&$%\\{}[]*=!#,\n\r\t\x00")
_DATA_IMAGE: Final = (
    "data:image/png;",
    "data:image/jpeg;",
    "data:image/jpg;",
    "data:image/gif;",
    "data:image/webp;",
    "data:image/avif;",
    "data:image/bmp;",
    "data:image/x-icon;",
)
_PLAIN: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
# the same sets as bytes, for _only: str.strip(chars) searches the set for every character
# (a 4,000-character base64 value took 43 us), bytes.translate looks each one up in a table
_B64_BYTES: Final = _B64.encode()
_PLAIN_BYTES: Final = _PLAIN.encode()
_TOKEN_BYTES: Final = _TOKEN_CHARS.encode()


def _only(value: str, chars: bytes) -> bool:
    """Whether every character of ``value`` is one of ``chars`` (ASCII). Linear."""
    return value.isascii() and not value.encode("ascii").translate(None, chars)


_PART_HEAD_SAFE: Final = frozenset("<>()`|$&{}")
_MAX_HEADER: Final = 8192
_CACHE_SIZE: Final = 4096  # entries per cache (values under 1 KiB each: a few MiB at most)
_PART_CACHE_SIZE: Final = 1024  # request lines and header sets (under 8 KiB each)
_TAIL: Final = 4096  # of a value longer than max_value, the end judged beside its start
_MAX_HEADERS_TOTAL: Final = 65536
_MAX_HEADER_COUNT: Final = 100


class Finding(NamedTuple):
    """One thing the inspector found (immutable; a named tuple: the inspector makes one per
    finding on the request path, and a frozen dataclass costs 2.4x as much to build).

    ``type`` is the attack family (``sqli``, ``xss``, ``path_traversal``, ``cmdi``,
    ``scanner_probe``, ``scanner_ua``, ``ssrf``, ``nosql``, ``ldap``, ``xxe``, ``ssti``, or
    ``protocol`` for a malformed request), ``location`` where (``query:q``, ``form:name``,
    ``json:user.name``, ``cookie:sid``, ``header:user-agent``, ``path``, ``body``, ``request``),
    ``evidence`` the matched text (decoded, at most 80 characters, control characters escaped:
    safe to log), ``rule`` the rule id and ``score`` its weight.

    Added in 0.1.
    """

    type: str
    location: str
    evidence: str
    rule: str
    score: int


class Inspection(NamedTuple):
    """The verdict on one request, its score (the highest field score) and its findings
    (immutable; a named tuple, built once per request).

    Added in 0.1.
    """

    verdict: Verdict
    score: int
    findings: tuple[Finding, ...] = ()

    @property
    def type(self) -> str | None:
        """The attack family of the highest-scoring finding (None when there is none).

        Added in 0.1.
        """
        best: Finding | None = None
        for finding in self.findings:
            if best is None or finding.score > best.score:
                best = finding
        return best.type if best is not None else None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: ``verdict``, ``score``, ``findings``. Added in 0.1."""
        return {
            "verdict": self.verdict,
            "score": self.score,
            "findings": [
                {
                    "type": f.type,
                    "location": f.location,
                    "rule": f.rule,
                    "score": f.score,
                    "evidence": f.evidence,
                }
                for f in self.findings
            ],
        }


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Tuning for some routes: rules or fields not judged there, as CRS users tune.

    ``path`` is a glob on the URL path (``/api/cms/*``; ``*`` crosses ``/``); ``rules`` are
    rule ids or their prefixes (``bp-941`` turns off the XSS family); ``fields`` are locations
    or globs (``json:body``, ``form:*``, ``cookie:tracking``). With no rules and no fields the
    route is not inspected at all.

    >>> Exclusion("/cms/*", rules=("bp-941",)).applies("/cms/page/1")
    True

    Added in 0.1.
    """

    path: str
    rules: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        path: object = self.path
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(
                f"shield exclusion path {self.path!r}: give a URL path glob starting with '/', "
                "such as '/api/cms/*'"
            )

    def applies(self, path: str) -> bool:
        """Whether this exclusion covers the URL ``path``. Added in 0.1."""
        return _glob(self.path).fullmatch(path) is not None

    def drops(self, finding: Finding) -> bool:
        """Whether ``finding`` is tuned away by this exclusion. Added in 0.1."""
        if not self.rules and not self.fields:
            return True
        if any(finding.rule.startswith(rule) for rule in self.rules):
            return True
        return any(_glob(f).fullmatch(finding.location) is not None for f in self.fields)


_GLOBS: dict[str, re2._Regexp[str]] = {}


def _glob(pattern: str) -> re2._Regexp[str]:
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        regex = translate(pattern)  # (?s:...)\Z: RE2 spells the end \z
        compiled = re2.compile(regex.replace(r"\Z", r"\z"))
        if len(_GLOBS) < 1024:
            _GLOBS[pattern] = compiled
    return compiled


# A field: (location, normalized text, decoding flags, context letter). A plain tuple: building
# a NamedTuple costs a Python-level call per field.
_Field: TypeAlias = tuple[str, str, int, str]
# a raw piece of a request (a query pair, a cookie, a header) and the fields it gave, by their
# indexes in the field list: (the clean-piece memory it belongs in, its key, start, end)
_Mark: TypeAlias = tuple[dict[Any, bool], Any, int, int]
_NO_MEMORY: Final[dict[Any, bool]] = {}  # fields(): every piece is read afresh


class _Context:
    """The rules for one field context, compiled into one engine."""

    def __init__(self, rules: Sequence[Rule], engine: str) -> None:
        self.rules = tuple(rules)
        self.engine: Engine = compile_set([r.pattern for r in rules], engine)


def _disposition(header: str, key: str) -> str | None:
    """The ``key`` parameter of a Content-Disposition value, quoted or not (a quoted value may
    hold ``;``: ``filename="a.jpg; curl x|sh"``)."""
    lowered = header.lower()
    start = 0
    while True:
        at = lowered.find(key + "=", start)
        if at < 0:
            return None
        before = lowered[at - 1 : at] if at else ";"
        start = at + len(key) + 1
        if before in (";", " ", "\t"):
            break
    rest = header[start:].lstrip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[1:end] if end > 0 else rest[1:]
    return rest.split(";", 1)[0].strip()


def _keep(found: list[Finding], exclusions: list[Exclusion]) -> list[Finding]:
    """``found`` without the findings an exclusion tunes away."""
    if not exclusions:
        return found
    return [f for f in found if not any(e.drops(f) for e in exclusions)]


def _dotted(path: str) -> bool:
    """A path segment starting with a dot (``/.env``, ``/.git/``), other than ``.well-known``."""
    for segment in path.split("/"):
        if (
            len(segment) > 1
            and segment[0] == "."
            and segment not in ("..", ".well-known")
            and segment[1] not in "./\\"
        ):
            return True
    return False


def _label(name: str) -> str:
    """A parameter, cookie or header name as a finding's location: safe to log, bounded."""
    if len(name) <= 40 and name.isprintable():
        return name
    return evidence(name, limit=40)


def _skippable(value: str) -> bool:
    """A value no signature needs to read: a data: image, a base64 blob, a JWT."""
    if value.startswith(_DATA_IMAGE):
        head, _, tail = value.partition(",")
        return head.endswith(";base64") and _only(tail, _B64_BYTES)
    if len(value) >= 24 and _only(value, _B64_BYTES):
        return True  # base64, base64url, a JWT segment
    # a JWT
    return (
        value.startswith("eyJ")
        and value.count(".") == 2
        and _only(value.replace(".", ""), _B64_BYTES)
    )


@functools.lru_cache(maxsize=16)
def _compiled(disabled: tuple[str, ...], engine: str) -> dict[str, _Context]:
    """The rules of each field context, compiled once per process for each set of rules off
    (compiling takes ~50 ms; every guard built from the same config shares them)."""
    rules = [r for r in RULES if not any(r.id.startswith(d) for d in disabled)]
    return {
        # the User-Agent is judged as a value too (injections ride in it)
        where: _Context(
            [r for r in rules if where in r.where or (where == "u" and "v" in r.where)], engine
        )
        for where in "vpunx"
    }


class Inspector:
    """Judges requests: :meth:`inspect` returns an :class:`Inspection`. Thread-safe.

    ``threshold`` is the score that makes a field malicious (5: any strong rule; lower is
    stricter). ``disabled_rules`` are rule ids or prefixes never applied; ``exclusions`` tune
    routes (:class:`Exclusion`). ``max_fields`` bounds the fields judged per request (more is
    itself a ``protocol`` finding), ``max_depth`` the JSON nesting read, ``max_value`` the
    characters of one value judged from its start (a longer one is judged on its start and its
    last 4,096 characters).
    ``engine`` is the matcher (``re2``).

    Added in 0.1.
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        disabled_rules: Iterable[str] = (),
        exclusions: Iterable[Exclusion] = (),
        max_fields: int = 512,
        max_depth: int = 32,
        max_value: int = 16384,
        engine: str = "re2",
    ) -> None:
        value: object = threshold
        if isinstance(value, bool) or not isinstance(value, int) or threshold < 1:
            raise ConfigError(
                f"shield.threshold = {threshold!r}: give a whole number of at least 1 "
                "(5, the default, is one strong signature)"
            )
        self.threshold = threshold
        self.disabled = tuple(disabled_rules)
        for rule in self.disabled:
            given: object = rule
            if not isinstance(given, str) or not rule:
                raise ConfigError(
                    f"shield.disabled_rules holds {rule!r}: give rule ids or prefixes such as "
                    "'bp-942280' or 'bp-941'"
                )
        self.exclusions = tuple(exclusions)
        self.max_fields = max_fields
        self.max_depth = max_depth
        self.max_value = max_value
        self._contexts = _compiled(self.disabled, engine)
        # what repeats from request to request (headers, cookies, common values): normalized
        # forms and the rules a field matched. Plain dicts: a get or a set is atomic in
        # CPython, so threads share them safely; each is cleared when it reaches its bound.
        self._norm_cache: dict[tuple[str, bool], tuple[str, int]] = {}
        self._match_cache: dict[tuple[str, str], tuple[int, ...]] = {}
        self._part_cache: dict[tuple[object, ...], tuple[list[Finding], int]] = {}
        self._tokens: dict[str, bool] = {}  # token-list header values: within their grammar?
        # raw pieces that gave no finding: query and form pairs, cookies, header lines
        self._clean_pairs: dict[Any, bool] = {}
        self._clean_cookies: dict[Any, bool] = {}
        self._clean_headers: dict[Any, bool] = {}
        self.engine = engine

    def __repr__(self) -> str:
        return f"Inspector(threshold={self.threshold}, engine={self.engine!r})"

    # -- the fields of a request ---------------------------------------------------------------

    def _pairs(
        self,
        text: str,
        prefix: str,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None = None,
    ) -> None:
        """``a=1&b=2`` (a query or a form body) as fields, names and values decoded. A pair
        known to be clean is skipped; with ``marks``, each pair read is marked for
        :meth:`_mark`."""
        clean = self._clean_pairs if marks is not None else _NO_MEMORY
        for index, part in enumerate(text.split("&", self.max_fields)):
            if index >= self.max_fields:
                problems.append(
                    Finding(
                        "protocol", prefix, f"over {self.max_fields} parameters", "bp-920380", 3
                    )
                )
                return
            if not part or part in clean:
                continue
            start = len(out)
            name, _, value = part.partition("=")
            if not (name.isascii() and name.isalnum()) and not _only(name, _PLAIN_BYTES):
                # not a plain identifier: decode it, maybe judge it
                name, name_flags = normalize(name, plus=True)
                if not _SUSPECT.isdisjoint(name):
                    out.append((f"{prefix}:{_label(name)}", name, name_flags, "n"))
                elif name_flags:
                    out.append((f"{prefix}:{_label(name)}", "", name_flags, "n"))
            self._value(f"{prefix}:{_label(name)}", value, out, plus=True)
            if marks is not None and len(part) < 1024:
                marks.append((clean, part, start, len(out)))

    def _value(
        self,
        label: str,
        raw: str,
        out: list[_Field],
        *,
        plus: bool = False,
        decode: bool = True,
        lenient: bool = False,
    ) -> None:
        """One value as a field. ``decode`` percent-decodes it (``plus``: ``+`` is a space);
        ``lenient`` for text that was never URL-encoded (a JSON string): a stray ``%`` is no
        anomaly there."""
        if not raw:
            return
        if len(raw) < 256 and ((raw.isascii() and raw.isalnum()) or _only(raw, _PLAIN_BYTES)):
            # letters, digits, '_', '.', '-': nothing to decode; judged as it is, lower-cased
            out.append((label, raw.lower(), 0, "v"))
            return
        flags = 0
        if len(raw) > self.max_value:
            # the start and the end are judged (padding in the middle hides nothing there);
            # a long value is no anomaly (a blog post, a base64 upload), so no flag
            raw = raw[: self.max_value] + "\n" + raw[-_TAIL:]
        if decode and ("%" in raw or (plus and "+" in raw)):
            raw, decoded = percent_decode(raw, plus=plus)
            flags |= decoded & ~ENCODING_ERROR if lenient else decoded
        if "\n" in raw and len(raw) <= 128 and " " not in raw:
            # a newline in a short value of one token separates shell commands (host%0aid)
            raw = raw.replace("\r", "").replace("\n", ";")
        if _skippable(raw):
            if flags:
                out.append((label, "", flags, "v"))
            return
        text, more = normalize(raw, decode=False)
        out.append((label, text, flags | more, "v"))

    def _json(self, body: str, prefix: str, out: list[_Field], problems: list[Finding]) -> None:
        try:
            doc = json.loads(body)
        except RecursionError:
            problems.append(Finding("protocol", prefix, "JSON nested too deep", "bp-920330", 3))
            return
        except ValueError as exc:
            problems.append(
                Finding("protocol", prefix, evidence(f"malformed JSON: {exc}"), "bp-920330", 3)
            )
            return
        stack: list[tuple[str, object, int]] = [("", doc, 0)]
        count = 0
        while stack:
            path, node, depth = stack.pop()
            count += 1
            if count > self.max_fields * 4:
                problems.append(Finding("protocol", prefix, "too many JSON values", "bp-920380", 3))
                return
            if isinstance(node, str):
                label = f"{prefix}:{path}" if path else prefix
                if path == "query" and depth == 1 and "{" in node:
                    self._graphql(node, label, out)
                else:
                    self._value(label, node, out, decode=True, lenient=True)
            elif isinstance(node, dict):
                if depth >= self.max_depth:
                    problems.append(
                        Finding("protocol", prefix, "JSON nested too deep", "bp-920330", 3)
                    )
                    continue
                for key, value in node.items():
                    key_path = f"{path}.{key}" if path else str(key)
                    if len(key_path) > 60 or not key_path.isprintable():
                        key_path = evidence(key_path, limit=60)
                    if not (key.isascii() and key.isidentifier()) and not _SUSPECT.isdisjoint(key):
                        text, flags = normalize(key, decode=False)
                        out.append((f"{prefix}:{key_path}", text, flags, "n"))
                    stack.append((key_path, value, depth + 1))
            elif isinstance(node, list):
                if depth >= self.max_depth:
                    problems.append(
                        Finding("protocol", prefix, "JSON nested too deep", "bp-920330", 3)
                    )
                    continue
                for i, value in enumerate(node[: self.max_fields]):
                    stack.append((f"{path}[{i}]", value, depth + 1))

    def _graphql(self, document: str, label: str, out: list[_Field]) -> None:
        """Each string literal of a GraphQL document, judged on its own."""
        document = document[: self.max_value]
        i, n, index = 0, len(document), 0
        while i < n and index < self.max_fields:
            start = document.find('"', i)
            if start < 0:
                break
            end = start + 1
            while end < n and document[end] != '"':
                end += 2 if document[end] == "\\" else 1
            literal = document[start + 1 : end]
            with contextlib.suppress(ValueError):
                literal = json.loads(f'"{literal}"')
            self._value(f"{label}[{index}]", literal, out, decode=False)
            index += 1
            i = end + 1

    def _multipart(
        self, request: RequestInfo, body: str, out: list[_Field], problems: list[Finding]
    ) -> None:
        content_type = request.header("content-type") or ""
        boundary = ""
        for param in content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "boundary":
                boundary = value.strip().strip('"')
        if not boundary or len(boundary) > 200:
            problems.append(
                Finding("protocol", "body", "multipart body without a boundary", "bp-920340", 3)
            )
            return
        delimiter = "--" + boundary
        parts = body.split(delimiter)
        if len(parts) < 2 or (not request.body_truncated and "--" + boundary + "--" not in body):
            problems.append(
                Finding("protocol", "body", "multipart body not terminated", "bp-920340", 3)
            )
        for index, part in enumerate(parts[1 : self.max_fields + 1]):
            if part.startswith("--"):
                break
            head, sep, content = part.partition("\r\n\r\n")
            if not sep:
                head, sep, content = part.partition("\n\n")
            name, filename, part_type = f"part{index}", None, ""
            for line in head.splitlines():
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "content-type":
                    part_type = value.strip().lower()
                elif key == "content-disposition":
                    name = _disposition(value, "name") or name
                    filename = _disposition(value, "filename")
            label = f"multipart:{_label(name)}"
            if not _PART_HEAD_SAFE.isdisjoint(head):  # markup or shell in the part's headers
                text, flags = normalize(head.replace("\r\n", " "), decode=False)
                out.append((f"{label}:headers", text, flags, "v"))
            content = content.removesuffix("\r\n").removesuffix("\n")
            if filename is None:
                self._value(label, content, out, decode=False)
                continue
            self._value(f"{label}:filename", filename, out, decode=True)
            # a file is the app's business, but markup that a parser will read is judged: XML
            # (and SVG, HTML) for external entities, an SVG also for scripts
            lowered = filename.lower()
            if (
                "xml" in part_type
                or "svg" in part_type
                or "html" in part_type
                or (lowered.endswith((".svg", ".xml", ".html", ".htm", ".xhtml")))
            ):
                text, flags = normalize(content[: self.max_value], decode=False)
                out.append((f"{label}:content", text, flags, "x"))  # entities in any of them
                if "svg" in part_type or lowered.endswith(".svg"):
                    # an SVG is an image a browser runs scripts in; an HTML document's markup
                    # is the file itself (a CMS import), not an injection into a page
                    out.append((f"{label}:content", text, flags, "v"))

    def _body(
        self,
        request: RequestInfo,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None = None,
    ) -> None:
        if not request.body:
            return
        text = request.body.decode("utf-8", "replace")
        if "\ufffd" in text and not request.body_truncated:
            problems.append(Finding("protocol", "body", "body is not UTF-8", "bp-920250", 2))
        kind = request.content_type
        if not kind:
            stripped = text.lstrip()
            kind = (
                "application/json"
                if stripped[:1] in ("{", "[")
                else "application/xml"
                if stripped.startswith("<")
                else "application/x-www-form-urlencoded"
                if "=" in stripped
                else "text/plain"
            )
        if kind == "application/x-www-form-urlencoded":
            self._pairs(text, "form", out, problems, marks)
        elif kind == "application/json" or kind.endswith("+json"):
            if request.body_truncated:
                self._value("json", text, out, decode=False)
            else:
                self._json(text, "json", out, problems)
        elif kind == "application/graphql":
            self._graphql(text, "graphql", out)
        elif kind.startswith("multipart/"):
            self._multipart(request, text, out, problems)
        elif kind in ("application/xml", "text/xml") or kind.endswith("+xml"):
            normalized, flags = normalize(text, decode=False)
            out.append(("body", normalized, flags, "x"))
        elif kind.startswith("text/"):
            self._value("body", text, out, decode=False)

    def _headers(
        self,
        request: RequestInfo,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None = None,
    ) -> None:
        known = self._clean_headers if marks is not None else _NO_MEMORY
        total = 0
        cookies = 0  # cookies read so far (-1: too many, no more are read)
        lengths: list[str] = []
        encodings: list[str] = []
        for header in request.headers:
            name, value = header
            total += len(name) + len(value)
            if header in known:
                if name == "cookie" and cookies >= 0:  # counted still, against max_fields
                    cookies += value.count(";", 0, self.max_value) + 1
                    if cookies > self.max_fields:
                        cookies = self._cookie_line("", self.max_fields, out, problems, marks)
                continue
            start = len(out)
            if len(value) > _MAX_HEADER:
                problems.append(
                    Finding(
                        "protocol",
                        f"header:{_label(name)}",
                        f"header of {len(value)} bytes",
                        "bp-920310",
                        3,
                    )
                )
                value = value[:_MAX_HEADER]
            kind = _HEADER_KINDS.get(name)
            if kind is None:  # any other header: judged when it holds markup or code
                if not _SUSPECT.isdisjoint(value):
                    text, flags = normalize(value, decode=False)
                    out.append((f"header:{_label(name)}", text, flags, "v"))
                if name in _OVERRIDE_HEADERS:
                    method = value.strip().upper()
                    score = 5 if method in _TAMPERING_METHODS else 1 if method in _METHODS else 2
                    problems.append(
                        Finding(
                            "protocol",
                            f"header:{name}",
                            evidence(value, limit=40),
                            "bp-920210",
                            score,
                        )
                    )
            elif kind == "token":
                clean = self._tokens.get(value)
                if clean is None:
                    clean = _only(value, _TOKEN_BYTES)
                    if len(value) < 1024:
                        if len(self._tokens) >= _CACHE_SIZE:
                            self._tokens.clear()
                        self._tokens[value] = clean
                if not clean:
                    text, flags = normalize(value, decode=False)
                    out.append((f"header:{name}", text, flags, "v"))
            elif kind == "cookie":
                if cookies < 0:
                    continue
                cookies = self._cookie_line(value, cookies, out, problems, marks)
                if cookies < 0:
                    continue  # its finding is made every time: never remembered as clean
            elif kind == "ua":
                text, flags = self._normalized(value, False)
                out.append(("header:user-agent", text, flags, "u"))
            elif kind == "url":
                text, flags = self._normalized(value, True)
                out.append((f"header:{name}", text, flags, "v"))
            elif kind == "length":
                lengths.append(value)
                continue  # judged with the others: never remembered as clean
            elif kind == "encoding":
                encodings.append(value)
                continue
            if marks is not None and len(value) < 1024 and name not in _OVERRIDE_HEADERS:
                marks.append((known, header, start, len(out)))
        if len(request.headers) > _MAX_HEADER_COUNT:
            problems.append(
                Finding("protocol", "request", f"over {_MAX_HEADER_COUNT} headers", "bp-920310", 3)
            )
        if total > _MAX_HEADERS_TOTAL:
            problems.append(
                Finding("protocol", "request", f"headers of {total} bytes", "bp-920310", 3)
            )
        if lengths or encodings:
            self._smuggling(lengths, encodings, problems)

    @staticmethod
    def _smuggling(lengths: list[str], encodings: list[str], problems: list[Finding]) -> None:
        if encodings and lengths:
            problems.append(
                Finding(
                    "protocol",
                    "header:transfer-encoding",
                    "Transfer-Encoding with Content-Length",
                    "bp-921100",
                    5,
                )
            )
        for value in encodings:
            if value.strip().lower() != "chunked":
                problems.append(  # noqa: PERF401 - one finding per bad header
                    Finding(
                        "protocol",
                        "header:transfer-encoding",
                        evidence(value, limit=40),
                        "bp-921110",
                        5,
                    )
                )
        values = {v.strip() for v in lengths}
        if len(values) > 1:
            problems.append(
                Finding(
                    "protocol",
                    "header:content-length",
                    "conflicting Content-Length values",
                    "bp-921120",
                    5,
                )
            )
        for value in values:
            if not (value.isascii() and value.isdigit()):
                problems.append(  # noqa: PERF401 - one finding per bad header
                    Finding(
                        "protocol",
                        "header:content-length",
                        evidence(value, limit=40),
                        "bp-920160",
                        3,
                    )
                )

    def fields(self, request: RequestInfo) -> tuple[list[_Field], list[Finding]]:
        """Every field of ``request`` (normalized) and the protocol findings met on the way."""
        out: list[_Field] = []
        problems: list[Finding] = []
        self._line(request, out, problems)
        self._headers(request, out, problems)
        self._safe_body(request, out, problems)
        return out, problems

    def _line(
        self,
        request: RequestInfo,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None = None,
    ) -> None:
        """The method, the path and the query string."""
        method = request.method.upper()
        if method in _TAMPERING_METHODS:
            problems.append(
                Finding("protocol", "method", evidence(method, limit=20), "bp-920200", 5)
            )
        elif method not in _METHODS:
            problems.append(
                Finding("protocol", "method", evidence(method, limit=20), "bp-920200", 2)
            )
        path = request.path
        if path and not path.startswith("/") and path != "*":
            problems.append(Finding("protocol", "path", evidence(path, limit=40), "bp-920320", 3))
        text, flags = normalize(path)
        if text != "/":
            out.append(("path", text, flags, "p"))
            if not _SUSPECT.isdisjoint(text.replace("/", "")):
                # a segment with code characters is judged as a value too: /users/1' or 1=1--
                out.extend(
                    ("path", segment, 0, "v")
                    for segment in text.split("/", self.max_fields)[1:]
                    if segment and not _SUSPECT.isdisjoint(segment)
                )
            if _dotted(text):
                problems.append(
                    Finding("scanner_probe", "path", evidence(text, limit=80), "bp-913230", 5)
                )
        if request.query:
            self._pairs(request.query, "query", out, problems, marks)

    def _safe_body(
        self,
        request: RequestInfo,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None = None,
    ) -> None:
        try:
            self._body(request, out, problems, marks)
        except (ValueError, UnicodeError, RecursionError) as exc:  # pragma: no cover - defensive
            problems.append(Finding("protocol", "body", evidence(str(exc)), "bp-920330", 3))

    def _normalized(self, value: str, decode: bool) -> tuple[str, int]:
        """``normalize(value)``, remembered: browsers send the same User-Agent and Referer on
        request after request. Bounded (cleared when full); only values under 1 KiB."""
        key = (value, decode)
        cached = self._norm_cache.get(key)
        if cached is None:
            cached = normalize(value, decode=decode)
            if len(value) < 1024:
                if len(self._norm_cache) >= _CACHE_SIZE:
                    self._norm_cache.clear()
                self._norm_cache[key] = cached
        return cached

    def _cookie_line(
        self,
        line: str,
        count: int,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark] | None,
    ) -> int:
        """The cookies of one ``Cookie`` header as fields; ``count`` cookies came before it.
        Returns the new count, or -1 past ``max_fields`` (then no more cookies are read)."""
        clean = self._clean_cookies if marks is not None else _NO_MEMORY
        for part in line[: self.max_value].split(";", self.max_fields):
            count += 1
            if count > self.max_fields:
                problems.append(
                    Finding(
                        "protocol",
                        "header:cookie",
                        f"over {self.max_fields} cookies",
                        "bp-920380",
                        3,
                    )
                )
                return -1
            if part in clean:
                continue
            start = len(out)
            name, _, value = part.partition("=")
            self._value(f"cookie:{_label(name.strip())}", value.strip(), out)
            if marks is not None and len(part) < 1024:
                marks.append((clean, part, start, len(out)))
        return count

    # -- judging ------------------------------------------------------------------------------

    @staticmethod
    def _flag_findings(field: _Field) -> list[Finding]:
        findings: list[Finding] = []
        location, _, flags, _ = field
        if flags & OVERLONG:
            findings.append(Finding("protocol", location, "overlong UTF-8", "bp-920260", 5))
        if flags & DOUBLE_ENCODED:
            findings.append(
                Finding("protocol", location, "double percent-encoding", "bp-920230", 3)
            )
        if flags & UNICODE_ESCAPE:
            findings.append(Finding("protocol", location, "%u escape", "bp-920240", 3))
        if flags & NUL:
            findings.append(Finding("protocol", location, "NUL byte", "bp-920270", 3))
        if flags & ENCODING_ERROR:
            findings.append(Finding("protocol", location, "malformed encoding", "bp-920220", 2))
        return findings

    def _judge(
        self, fields: list[_Field], exclusions: list[Exclusion]
    ) -> tuple[list[Finding], int]:
        """The findings of the fields and the highest field score. A field whose text was met
        before is judged from memory; the others, per context, are matched in one pass, one
        per line, and only when that pass finds something is each matched on its own.
        Exclusions drop findings before a field is scored."""
        results: list[Finding] = []
        best = 0
        budget = 3  # precise evidence for this many findings; the rest quote the field
        contexts = self._contexts
        cache = self._match_cache
        pending: dict[str, list[tuple[_Field, tuple[str, str]]]] | None = None
        for field in fields:
            text = field[1]
            if not text:
                if field[2]:  # flags alone (a value not matched, such as a base64 blob)
                    found = _keep(self._flag_findings(field), exclusions)
                    results.extend(found)
                    best = max(best, sum([f.score for f in found]))
                continue
            key = (field[3], text)
            known = cache.get(key)
            if known is None:
                if pending is None:
                    pending = {field[3]: [(field, key)]}
                else:
                    group = pending.get(field[3])
                    if group is None:
                        pending[field[3]] = [(field, key)]
                    else:
                        group.append((field, key))
            elif known or field[2]:
                found, budget = self._found(contexts[field[3]], field, known, budget)
                if exclusions:
                    found = _keep(found, exclusions)
                if found:
                    results.extend(found)
                    best = max(best, sum([f.score for f in found]))
        if pending is None:
            return results, best
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        for where, group in pending.items():
            context = contexts[where]
            engine = context.engine
            encoded = [field[1].encode() for field, _ in group]
            if len(group) > 1 and not engine.match(b"\n".join(encoded)):
                for field, key in group:
                    if len(key[1]) < 1024:
                        cache[key] = ()
                    if field[2]:
                        found = _keep(self._flag_findings(field), exclusions)
                        results.extend(found)
                        best = max(best, sum([f.score for f in found]))
                continue
            for (field, key), data in zip(group, encoded, strict=True):
                matched = tuple(engine.match(data))
                if len(key[1]) < 1024:
                    cache[key] = matched
                if matched or field[2]:
                    found, budget = self._found(context, field, matched, budget, data)
                    if exclusions:
                        found = _keep(found, exclusions)
                    if found:
                        results.extend(found)
                        best = max(best, sum([f.score for f in found]))
        return results, best

    def _header_part(
        self,
        request: RequestInfo,
        out: list[_Field],
        problems: list[Finding],
        marks: list[_Mark],
    ) -> None:
        self._headers(request, out, problems, marks)

    def _part(
        self,
        key: tuple[object, ...],
        collect: Callable[[RequestInfo, list[_Field], list[Finding], list[_Mark]], None],
        request: RequestInfo,
    ) -> tuple[list[Finding], int]:
        """The findings and best score of one part of ``request`` (its fields gathered by
        ``collect``), remembered for the part's text when it is under 8 KiB."""
        cached = self._part_cache.get(key)
        if cached is not None:
            return cached
        out: list[_Field] = []
        problems: list[Finding] = []
        marks: list[_Mark] = []
        collect(request, out, problems, marks)
        found, best = self._judge(out, [])
        if marks:
            self._mark(marks, out)
        result = (problems + found, max(best, max((f.score for f in problems), default=0)))
        if sum(len(f[1]) for f in out) < 8192:
            cache = self._part_cache
            if len(cache) >= _PART_CACHE_SIZE:
                cache.clear()
            cache[key] = result
        return result

    def _mark(self, marks: list[_Mark], fields: list[_Field]) -> None:
        """Remember as clean each piece whose fields (just judged) matched no rule and carry
        no decoding flag: the next request holding the same raw piece skips it unread.
        Conservative: a field whose match was not remembered keeps its piece unmarked."""
        cache = self._match_cache
        for memory, key, start, end in marks:
            for index in range(start, end):
                field = fields[index]
                if field[2] or cache.get((field[3], field[1])) != ():
                    break
            else:
                if len(memory) >= _CACHE_SIZE:
                    memory.clear()
                memory[key] = True

    def _remember(self, where: str, text: str, matched: tuple[int, ...]) -> None:
        if len(text) < 1024:
            cache = self._match_cache
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[(where, text)] = matched

    def _found(
        self,
        context: _Context,
        field: _Field,
        matched: tuple[int, ...],
        budget: int,
        data: bytes | None = None,
    ) -> tuple[list[Finding], int]:
        """The findings of one field: its decoding flags and the rules it matched."""
        location, text, flags, _ = field
        found = self._flag_findings(field) if flags else []
        for index in matched:
            rule = context.rules[index]
            quoted = None
            if budget > 0:
                budget -= 1
                data = data if data is not None else text.encode()
                span = context.engine.span(index, data)
                if span is not None:
                    quoted = evidence(data[span[0] : span[1]].decode("utf-8", "replace"))
            found.append(
                Finding(rule.type, location, quoted or evidence(text), rule.id, rule.score)
            )
        return found, budget

    def inspect(self, request: RequestInfo) -> Inspection:
        """The verdict on ``request``. Never raises on request data. Added in 0.1."""
        try:
            return self._inspect(request)
        except Exception as exc:  # noqa: BLE001 - a bug must not become a 500 on every request
            return Inspection(
                "invalid",
                0,
                (
                    Finding(
                        "protocol",
                        "request",
                        evidence(f"inspector failed: {exc!r}"),
                        "bp-920000",
                        0,
                    ),
                ),
            )

    def _inspect(self, request: RequestInfo) -> Inspection:
        exclusions = (
            [e for e in self.exclusions if e.applies(request.path)] if self.exclusions else []
        )
        if any(not e.rules and not e.fields for e in exclusions):
            return Inspection("normal", 0)
        if exclusions:  # tuned routes: every part judged afresh, exclusions applied per field
            fields, problems = self.fields(request)
            findings = _keep(problems, exclusions)
            best = max((f.score for f in findings), default=0)
            found, field_best = self._judge(fields, exclusions)
            findings.extend(found)
            best = max(best, field_best)
        else:
            # The request line and the headers repeat from request to request (a browser sends
            # the same headers each time): each part's findings are remembered by its text.
            findings, best = self._part(
                ("l", request.method, request.path, request.query), self._line, request
            )
            more, part_best = self._part(("h", request.headers), self._header_part, request)
            findings = findings + more
            best = max(best, part_best)
            if request.body:
                out: list[_Field] = []
                body_problems: list[Finding] = []
                marks: list[_Mark] = []
                self._safe_body(request, out, body_problems, marks)
                found, field_best = self._judge(out, [])
                if marks:
                    self._mark(marks, out)
                findings = findings + body_problems + found
                best = max(best, field_best, max((f.score for f in body_problems), default=0))
        if best >= self.threshold:
            verdict: Verdict = "malicious"
        elif any(f.type == "protocol" and f.score >= 2 for f in findings):
            verdict = "invalid"
        else:
            verdict = "normal"
        return Inspection(verdict, best, tuple(findings))


def core_types() -> tuple[str, ...]:
    """The six attack types the accuracy targets are set on. Added in 0.1."""
    return _CORE_TYPES


def iter_types(findings: Iterable[Finding]) -> Iterator[str]:
    """Each distinct finding type, in order of first appearance. Added in 0.1."""
    seen: set[str] = set()
    for finding in findings:
        if finding.type not in seen:
            seen.add(finding.type)
            yield finding.type
