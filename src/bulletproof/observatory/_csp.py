"""Content-Security-Policy: the parser (every policy, header and ``<meta>``, merged the way the
Observatory merges them) and the analysis that gives the CSP test its result.

Linear in the size of the policies but for the re-sorting of many policies, which is bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote

from bulletproof.observatory._js import JS_WS_RUN, NodeHeaders, trim
from bulletproof.observatory._scoring import RESULTS

__all__ = ["CspOutcome", "analyze_csp"]

_DUP_KEY: Final = " duplicate directives"  # cannot collide: directive names hold no spaces
_COLLATION: Final = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_RANK: Final = {c: i for i, c in enumerate(_COLLATION)}


def _collation_key(text: str) -> tuple[int, ...]:
    """Sort key reproducing ICU "en" collation for lower-case ASCII sources."""
    base = len(_COLLATION)
    return tuple(_RANK.get(c, base + ord(c)) for c in text)


class _Source:
    __slots__ = ("keep", "policy", "text")

    def __init__(self, text: str, policy: int, keep: bool) -> None:
        self.text = text
        self.policy = policy
        self.keep = keep


def _path_part_match(a: str, b: str) -> bool:
    if a == "" or (a == "/" and b == ""):
        return True
    exact = not a.endswith("/")
    a_parts = a.split("/")
    b_parts = b.split("/")
    if exact and len(a_parts) != len(b_parts):
        return False
    if not exact:
        a_parts.pop()
    if len(a_parts) > len(b_parts):
        return False
    return all(unquote(x) == unquote(y) for x, y in zip(a_parts, b_parts, strict=False))


_CSP_WORK_LIMIT: Final = 1_000_000
"""Characters the source lists may total over all the sorts of one parse. Each policy after the
first re-sorts the sources kept so far, so many policies cost quadratic time; past this budget
(far beyond any real policy: a hostile header) the CSP counts as invalid."""


def _parse_csp(policies: Sequence[str]) -> dict[str, set[str]] | None:
    """Directive -> sources over every policy (their "intersection"), or None if invalid."""
    cleaned = [trim(p.replace("\r", "").replace("\n", "")) for p in policies]
    if not cleaned:
        return {}
    if any(len(p) < 6 for p in cleaned):
        return None
    many = len(cleaned) > 1
    work = 0
    keys: dict[str, tuple[int, ...]] = {}

    def sort_key(text: str) -> tuple[int, ...]:
        found = keys.get(text)
        if found is None:
            found = keys[text] = _collation_key(text)
        return found

    stored: dict[str, list[_Source]] = {}
    duplicates: set[str] = set()
    for index, policy in enumerate(cleaned):
        seen: set[str] = set()
        for entry in policy.split(";"):
            tokens = [t for t in JS_WS_RUN.split(trim(entry)) if t]
            if not tokens:
                continue
            directive = tokens[0].lower()
            if directive in seen:
                if directive not in ("report-uri", "report-to"):
                    return None
                duplicates.add(directive)
            seen.add(directive)
            values = [trim(t).lower() for t in tokens[1:]]
            if not values and directive.endswith("-src"):
                values = ["'none'"]
            fresh = [_Source(v, index, index == 0) for v in values]
            sources = fresh if index == 0 else [*stored.get(directive, []), *fresh]
            work += sum(len(s.text) + 1 for s in sources)
            if work > _CSP_WORK_LIMIT:
                return None  # pathological: many policies re-sort their growing lists
            sources.sort(key=lambda s: sort_key(s.text))
            for prev, cur in itertools.pairwise(sources):
                if prev.policy == cur.policy:
                    if cur.text.startswith(prev.text):
                        cur.keep = False
                elif _path_part_match(prev.text, cur.text):
                    cur.keep = True
            kept = [s for s in sources if s.keep]
            stored[directive] = kept
            if index == 0 and many:
                for s in kept:
                    s.keep = False
    out: dict[str, set[str]] = {
        name: ({s.text for s in srcs} or {"'none'"}) for name, srcs in stored.items()
    }
    if duplicates:
        out[_DUP_KEY] = duplicates
    return out


def _split_policies(values: Iterable[str]) -> list[str]:
    return [trim(piece) for value in values for piece in value.split(",")]


_BROAD: Final = frozenset(
    {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
)
_INLINE: Final = frozenset({"'unsafe-inline'", "data:"})
_NONCE_HASH: Final = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
_INSECURE: Final = ("http:", "ftp:")


@dataclass(frozen=True, slots=True)
class CspOutcome:
    result: str
    directives: Mapping[str, frozenset[str]] | None  # None when the analysis stopped early


def analyze_csp(headers: NodeHeaders, meta_policies: Sequence[str], is_https: bool) -> CspOutcome:
    """The CSP test's result, and the merged directives (for the framing test)."""
    header_value = headers.get("content-security-policy")
    header_policies = _split_policies([header_value] if header_value is not None else [])
    meta = _split_policies(meta_policies)
    csp = _parse_csp(header_policies + meta)
    if csp is None:
        return CspOutcome("csp-header-invalid", None)
    # Only the sizes of these two matter (frame-ancestors from the header alone feeds an
    # unscored flag); without meta policies the header-only parse is the combined one.
    header_only = (_parse_csp(header_policies) or {}) if meta else csp
    meta_only = (_parse_csp(meta) or {}) if meta else {}
    for banned in ("frame-ancestors", "report-uri", "sandbox"):
        meta_only.pop(banned, None)
    if len(header_only) + len(meta_only) == 0:
        if headers.get("content-security-policy-report-only"):
            return CspOutcome("csp-not-implemented-but-reporting-enabled", None)
        return CspOutcome("csp-not-implemented", None)

    def effective(name: str) -> set[str]:
        # The same set object as in ``csp`` (aliasing on purpose: removals are shared).
        found = csp.get(name)
        if found is None:
            found = csp.get("default-src")
        return found if found is not None else {"*"}

    script, style, obj = effective("script-src"), effective("style-src"), effective("object-src")
    result: str | None = None

    def has_nonce_or_hash(sources: set[str]) -> bool:
        return any(s.startswith(_NONCE_HASH) for s in sources)

    for sources in (script, style):
        if has_nonce_or_hash(sources):
            sources.discard("'unsafe-inline'")
    if has_nonce_or_hash(script) and "'strict-dynamic'" in script:
        for s in list(script):
            if s.startswith(("ftp:", "http:", "https:", "*")) or s in ("'self'", "'unsafe-inline'"):
                script.discard(s)
    elif "'strict-dynamic'" in script:
        result = "csp-header-invalid"

    active: set[str] = set(script)
    for name, sources in csp.items():
        if name not in ("img-src", "media-src", "script-src", _DUP_KEY):
            active |= sources
    passive: set[str] = set()
    for name in ("img-src", "media-src"):
        chosen = csp.get(name)
        if chosen is None:
            chosen = csp.get("default-src")
        if chosen is not None:
            passive |= chosen

    checks = (
        (
            bool(script & (_BROAD | _INLINE)) or bool(obj & _BROAD),
            "csp-implemented-with-unsafe-inline",
        ),
        (
            is_https and any(s.startswith(_INSECURE) for s in active),
            "csp-implemented-with-insecure-scheme",
        ),
        ("'unsafe-eval'" in script or "'unsafe-eval'" in style, "csp-implemented-with-unsafe-eval"),
        (
            is_https and any(s.startswith(_INSECURE) for s in passive),
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
        ),
        (bool(style & (_BROAD | _INLINE)), "csp-implemented-with-unsafe-inline-in-style-src-only"),
        (csp.get("default-src") == {"'none'"}, "csp-implemented-with-no-unsafe-default-src-none"),
        (True, "csp-implemented-with-no-unsafe"),
    )
    for hit, name in checks:
        if result is None and hit:
            result = name
    if result is None:  # pragma: no cover - the last check always hits
        result = "csp-implemented-with-no-unsafe"
    if RESULTS[result][1] and _DUP_KEY in csp:
        result = "csp-implemented-but-duplicate-directives"
    directives = {k: frozenset(v) for k, v in csp.items() if k != _DUP_KEY}
    return CspOutcome(result, MappingProxyType(directives))
