"""Replay option sets recorded against the real Helmet 8.3.0 (tests/cases/helmet/differential.json).

Each case holds Helmet's options (camelCase JSON) and what Helmet did with them: the response
headers in wire order, or the error it threw. Our ``secure_headers`` must send the same headers
(X-Powered-By, which Helmet's recording server set, stays only when we do not remove it) or
raise ConfigError. The few cases where we differ on purpose are listed in ``EXCEPTIONS`` with
the reason, and checked for our own documented behaviour instead.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers

DATA = json.loads(
    (Path(__file__).parent.parent / "cases" / "helmet" / "differential.json").read_text("ascii")
)
TABLE: list[list[str]] = DATA["header_table"]
CASES: list[dict[str, Any]] = DATA["cases"]
POWERED_BY = ("X-Powered-By", "Helmet test")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")

# Deliberate differences (see the headers package docs), by reason.
NONE_TOP_LEVEL = (
    "we reject None for a top-level option (Helmet's `?? default` reads null as 'not given'); "
    "pass True for the defaults or False to turn the header off"
)
SNAKE_CASE_DIRECTIVE = (
    "we accept snake_case directive names (default_src) as a Python spelling; Helmet rejects them"
)


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def to_python(options: dict[str, Any]) -> dict[str, Any]:
    """Helmet's option object as ``secure_headers`` keyword arguments."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, dict):
            value = {key if key == "directives" else _snake(key): v for key, v in value.items()}
        out[_snake(name)] = value
    return out


# Every case where we answer differently from Helmet, on purpose.
EXCEPTIONS: dict[str, str] = {
    "d0017": NONE_TOP_LEVEL,  # xDnsPrefetchControl: null
    "d0331": NONE_TOP_LEVEL,  # xssFilter: null
    "d0575": NONE_TOP_LEVEL,  # xPermittedCrossDomainPolicies: null
    "d1289": NONE_TOP_LEVEL,  # xPermittedCrossDomainPolicies: null
    "d1351": NONE_TOP_LEVEL,  # xXssProtection: null
    "d2100": NONE_TOP_LEVEL,  # ieNoOpen: null
    "d2312": SNAKE_CASE_DIRECTIVE,  # directives: {"default_src": ...}
    "d2788": NONE_TOP_LEVEL,  # noSniff: null
    "d2940": NONE_TOP_LEVEL,  # hidePoweredBy: null
    "d2989": NONE_TOP_LEVEL,  # xDownloadOptions: null
}


def build(case: dict[str, Any]) -> list[tuple[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Helmet accepts these with a console warning too
        policy = secure_headers(**to_python(case["options"]))
    headers = policy.headers
    if "x-powered-by" not in policy.remove:
        headers.insert(0, POWERED_BY)
    return headers


def test_the_recording_is_what_it_claims() -> None:
    assert DATA["meta"]["recorded_with"].startswith("helmet 8.3.0")
    assert DATA["meta"]["cases"] == len(CASES) >= 2000
    accepted = sum("headers" in case for case in CASES)
    assert 1000 <= accepted <= len(CASES) - 1000  # both answers well represented
    assert set(EXCEPTIONS) <= {case["id"] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_same_answer_as_helmet(case: dict[str, Any]) -> None:
    reason = EXCEPTIONS.get(case["id"])
    if reason == NONE_TOP_LEVEL:
        # Helmet sends its defaults for this header; we ask for True or False instead.
        assert "headers" in case
        assert None in case["options"].values()
        with pytest.raises(ConfigError, match=r"=None: pass True for the defaults"):
            build(case)
    elif reason == SNAKE_CASE_DIRECTIVE:
        # Helmet rejects the name; we read it as the dashed directive.
        assert case["error"].startswith(
            "Content-Security-Policy received an invalid directive name"
        )
        directives = case["options"]["contentSecurityPolicy"]["directives"]
        snake = [name for name in directives if "_" in name]
        assert snake
        csp = dict(build(case))["Content-Security-Policy"]
        for name in snake:
            assert f";{name.replace('_', '-')}" in f";{csp}"
    elif "error" in case:
        with pytest.raises(ConfigError):
            build(case)
    else:
        expected = [(TABLE[i][0], TABLE[i][1]) for i in case["headers"]]
        assert build(case) == expected
