"""Grade a site or an app the way the MDN HTTP Observatory does (scoring algorithm v6).

:func:`check` is what ``bulletproof headers check`` runs: fetch a URL over https and http
(:func:`scan_url`) or call an ASGI/WSGI app in-process (:func:`scan_app`), then grade the
:class:`Scan` with :func:`grade_scan`: the 12 tests in the Observatory's output order, each with
its result string, score modifier and pass flag, the total score and the letter grade.
:func:`grade_headers` grades one header list with the context the reference grades assume
(https, verified certificate, ``http -> https`` redirect on the same host, not preloaded, no CORS,
the given body).

Behaviour is modelled on the MDN HTTP Observatory (github.com/mdn/mdn-http-observatory, MPL-2.0);
this is an independent re-implementation written from a prose description, no code is copied.
Known, documented differences: the HSTS preload list and the Public Suffix List are not bundled
(pass a :class:`PreloadList` / :class:`PublicSuffixList`; without a preload list no host counts
as preloaded, without a suffix list a small built-in approximation is used), and a CORS response
that reflects the Origin we sent with credentials is reported as universal access (the upstream
code means to, but in production cannot).

Every parser here runs in linear time on attacker-controlled input: no backtracking regular
expressions, bounded slices as upstream. Its modules, one per concern: ``_models`` (what a scan
collected, what grading found), ``_scoring`` (result table, bonus rule, grade chart), ``_grade``
(the 12 tests in order), one module per test family (``_csp``, ``_cookies``, ``_isolation``,
``_cors``, ``_https``, ``_framing``, ``_html``) with the parsers each needs (``_js``,
``_domains``), ``_fetch`` (the network fetcher), ``_inprocess`` (the in-process client) and
``_check`` (the one call). Import every name from this package.

>>> result = grade_headers([("X-Content-Type-Options", "nosniff")])
>>> result.tests["x-content-type-options"].result
'x-content-type-options-nosniff'
>>> result.score, result.grade
(35, 'D')

Added in 0.1.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from bulletproof.observatory._check import (
    SYSTEM_SUFFIX_LIST,
    CheckResult,
    check,
    read_preload_list,
    read_suffix_list,
)
from bulletproof.observatory._cookies import CookieJar, StoredCookie
from bulletproof.observatory._domains import PreloadList, PublicSuffixList
from bulletproof.observatory._fetch import (
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    MAX_REDIRECTS,
    Target,
    parse_target,
    scan_url,
)
from bulletproof.observatory._grade import grade_headers, grade_scan
from bulletproof.observatory._models import (
    OBSERVATORY_ORIGIN,
    FetchedResponse,
    GradeResult,
    Scan,
    Session,
    TestResult,
)
from bulletproof.observatory._scoring import (
    ALGORITHM_VERSION,
    GRADES,
    MINIMUM_SCORE_FOR_EXTRA_CREDIT,
    RESULT_DESCRIPTIONS,
    SCORE_MODIFIERS,
    TEST_NAMES,
    grade_for_score,
    grade_rank,
)

if TYPE_CHECKING:
    from bulletproof.observatory._inprocess import ASSUMPTIONS, scan_app

__all__ = [
    "ALGORITHM_VERSION",
    "ASSUMPTIONS",
    "DEFAULT_TIMEOUT",
    "GRADES",
    "MAX_BODY_BYTES",
    "MAX_REDIRECTS",
    "MINIMUM_SCORE_FOR_EXTRA_CREDIT",
    "OBSERVATORY_ORIGIN",
    "RESULT_DESCRIPTIONS",
    "SCORE_MODIFIERS",
    "SYSTEM_SUFFIX_LIST",
    "TEST_NAMES",
    "CheckResult",
    "CookieJar",
    "FetchedResponse",
    "GradeResult",
    "PreloadList",
    "PublicSuffixList",
    "Scan",
    "Session",
    "StoredCookie",
    "Target",
    "TestResult",
    "check",
    "grade_for_score",
    "grade_headers",
    "grade_rank",
    "grade_scan",
    "parse_target",
    "read_preload_list",
    "read_suffix_list",
    "scan_app",
    "scan_url",
]

# The in-process client loads asyncio: imported on first use, so the CLI starts without it.
_LAZY: Final = dict.fromkeys(
    ("ASSUMPTIONS", "scan_app"),
    "bulletproof.observatory._inprocess",
)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bulletproof.observatory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
