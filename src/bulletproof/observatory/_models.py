"""What a scan collected and what grading it found: frozen dataclasses crossing the boundary
between the fetchers (:func:`~bulletproof.observatory.scan_url`,
:func:`~bulletproof.observatory.scan_app`) and the grader
(:func:`~bulletproof.observatory.grade_scan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

from bulletproof.errors import ConfigError

if TYPE_CHECKING:
    from bulletproof.observatory._domains import PreloadList, PublicSuffixList

__all__ = [
    "OBSERVATORY_ORIGIN",
    "FetchedResponse",
    "GradeResult",
    "Scan",
    "Session",
    "TestResult",
]

OBSERVATORY_ORIGIN: Final = "https://http-observatory.security.mozilla.org"
"""The ``Origin`` the CORS preflight sends. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test's outcome: result string, score modifier, pass flag, explanation.

    ``score_modifier`` is the table value even when the bonus rule leaves it out of the total.

    Added in 0.1.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class

    result: str
    score_modifier: int
    passed: bool
    description: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "result": self.result,
            "score_modifier": self.score_modifier,
            "passed": self.passed,
            "description": self.description,
        }


@dataclass(frozen=True)
class GradeResult:
    """The score (floored at 0, not capped), the grade and the 12 tests in output order.

    Added in 0.1.
    """

    score: int
    grade: str
    tests: Mapping[str, TestResult]

    @property
    def tests_passed(self) -> int:
        """How many tests passed."""
        return sum(1 for t in self.tests.values() if t.passed)

    @property
    def tests_failed(self) -> int:
        """How many tests failed."""
        return len(self.tests) - self.tests_passed

    def to_dict(self) -> dict[str, object]:
        """``{"score", "grade", "passed", "failed", "tests": {name: {...}}}``."""
        return {
            "score": self.score,
            "grade": self.grade,
            "passed": self.tests_passed,
            "failed": self.tests_failed,
            "tests": {name: t.to_dict() for name, t in self.tests.items()},
        }


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """One response: the URL it answered, status, raw headers in wire order, decoded body.

    Added in 0.1.
    """

    url: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """Every response of one redirect chain, first request first; ``verified`` is False when
    TLS verification had to be turned off to get through.

    Added in 0.1.
    """

    responses: tuple[FetchedResponse, ...]
    verified: bool = True

    def __post_init__(self) -> None:
        if not self.responses:
            raise ConfigError("Session: a redirect chain needs at least one response.")

    @property
    def final(self) -> FetchedResponse:
        """The last response of the chain."""
        return self.responses[-1]

    @property
    def route(self) -> tuple[tuple[str, int], ...]:
        """``(url, status)`` of every response, in order."""
        return tuple((r.url, r.status) for r in self.responses)


@dataclass(frozen=True)
class Scan:
    """Everything the 12 tests read.

    ``https``/``http``: the chains started at ``https://host/path`` and ``http://host/path``
    (None when that scheme could not be reached). ``cors``: the final response to the CORS
    preflight (None if it failed). ``preload``: the HSTS preload list (None: nothing preloaded).
    ``suffixes``: the Public Suffix List (None: a built-in approximation).

    Added in 0.1.
    """

    hostname: str
    https: Session | None
    http: Session | None
    cors: FetchedResponse | None = None
    cors_origin: str = OBSERVATORY_ORIGIN
    preload: PreloadList | None = None
    suffixes: PublicSuffixList | None = None

    @property
    def auto(self) -> Session | None:
        """The chain most tests read: HTTPS when it was reachable, else HTTP."""
        return self.https if self.https is not None else self.http
