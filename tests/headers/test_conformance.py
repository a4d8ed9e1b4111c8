"""Helmet 8.3's own test cases, run against the Python port.

``tests/cases/helmet/helmet-conformance.json`` holds 275 cases recorded from helmet@8.3.0 on
Node (options in, wire headers or the error out). Each case's JavaScript arguments are mapped to
a Python call: top-level option names and option sub-keys camelCase -> snake_case, directive
names kept as written, ``middleware: "helmet"`` -> ``secure_headers``, any other middleware ->
the standalone function of the same name. The markers of ``meta.encoding`` become:

- ``$undefined`` -> the key is left out (what Helmet does with ``undefined``);
- ``$nullproto`` -> a plain dict (a Python dict has no prototype);
- ``$symbol`` -> ``DANGEROUSLY_DISABLE_DEFAULT_SRC``;
- ``$fn`` -> a callable taking the HeaderContext that returns the value or raises;
- ``$set`` -> a Python set; ``$iterable_empty`` -> an empty iterator;
- ``$num`` -> float nan / inf / -inf / -0.0; ``$bigint`` -> int;
- ``$boxed`` (``new String("x")``, an object that is not a string but prints as one) -> an
  object whose ``str()`` is the text and that is not a ``str``.

Expected: ``status: 200`` -> the headers of a response that held ``X-Powered-By: Helmet test``
after the policy's ``remove`` and ``render()`` are applied, in wire order; ``throws`` -> a
ConfigError while building; ``status: 500`` -> a ConfigError while building, or a
HeaderRenderError from ``render()`` (Helmet calls ``next(err)`` per request for a function value).
Error messages are our own, but each must name every quoted value Helmet's message names.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import bulletproof.headers as h
from bulletproof.errors import ConfigError
from bulletproof.headers import (
    DANGEROUSLY_DISABLE_DEFAULT_SRC,
    HeaderContext,
    HeaderPolicy,
    HeaderRenderError,
    HeadersWarning,
)

DATA = Path(__file__).parent.parent / "cases" / "helmet" / "helmet-conformance.json"
SUITE = json.loads(DATA.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = SUITE["cases"]
POWERED_BY = ("X-Powered-By", "Helmet test")

# Cases that only exist in JavaScript, or where the Python API differs on purpose. Each one is
# also checked below for what Python does instead (test_not_applicable_behaviour).
NOT_APPLICABLE: dict[str, str] = {
    "top-007": (
        "`app.use(helmet)` misuse: passing an http.IncomingMessage as the options object. In "
        "Python secure_headers() takes keyword arguments only, so a request object cannot be "
        "passed where options go (TypeError)."
    ),
    "csp-013": (
        "inherited (prototype) properties of the directives object: Python mappings have no "
        "prototype chain, so there is nothing to ignore."
    ),
    "csp-029": (
        "'default_src' is rejected by Helmet, but the issue asks for snake_case directive names "
        "in Python: here it means default-src (a deliberate extension)."
    ),
    "csp-057": (
        "a directive set to `undefined` (as opposed to null): Python has only None, which means "
        "null (drop the directive); an absent key is Python's undefined."
    ),
    "hsts-021": (
        "maxAge as BigInt 123n: Helmet rejects it only because Number.isFinite(123n) is false. "
        "Python's int is both JS number and BigInt; 123 is a valid max-age."
    ),
}


class Boxed:
    """JavaScript's ``new String(text)``: prints as the text but is not a string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Boxed({self.text!r})"


class _Undefined:
    pass


UNDEFINED = _Undefined()


class NotMappableError(Exception):
    """The case uses a JavaScript-only input with no Python counterpart."""


def _function(spec: Mapping[str, Any]) -> Callable[[HeaderContext], str]:
    if spec["$fn"] == "return":
        value = spec["value"]

        def returns(context: HeaderContext) -> str:
            assert isinstance(context, HeaderContext)
            return str(value)

        return returns
    message = spec["message"]

    def raises(context: HeaderContext) -> str:
        raise ValueError(message)

    return raises


def decode(value: Any) -> Any:
    """JSON with markers -> the Python value (dicts keep UNDEFINED values for the caller)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$fn" in value:
        return _function(value)
    if len(value) == 1:
        ((marker, inner),) = value.items()
        if marker == "$undefined":
            return UNDEFINED
        if marker == "$nullproto":
            return decode(inner)
        if marker == "$symbol":
            return DANGEROUSLY_DISABLE_DEFAULT_SRC
        if marker == "$set":
            return {decode(v) for v in inner}
        if marker == "$iterable_empty":
            return iter(())
        if marker == "$boxed":
            return Boxed(inner)
        if marker == "$bigint":
            return int(inner)
        if marker == "$num":
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}[
                inner
            ]
        if marker in ("$inherited", "$request_like"):
            raise NotMappableError(marker)
    return {k: decode(v) for k, v in value.items()}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def option_dict(value: Any, *, keep_keys: bool = False) -> Any:
    """snake_case the keys of an option dict (one level), dropping undefined ones."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if item is UNDEFINED:
            continue
        if keep_keys:
            out[key] = item
        elif key == "directives":
            out["directives"] = option_dict(item, keep_keys=True)
        else:
            out[snake(key)] = item
    return out


def call(case: Mapping[str, Any]) -> HeaderPolicy:
    """Build the policy the case describes (may raise ConfigError, or NotMappableError)."""
    args = [decode(a) for a in case["args"]]
    given = args[0] if args else {}
    if given is UNDEFINED:
        given = {}
    middleware = case["middleware"]
    if middleware == "helmet":
        kwargs = {snake(k): option_dict(v) for k, v in given.items() if v is not UNDEFINED}
        return h.secure_headers(**kwargs)
    factory = getattr(h, snake(middleware))
    return factory(**option_dict(given))  # type: ignore[no-any-return]


def response_headers(policy: HeaderPolicy) -> list[tuple[str, str]]:
    """What a server that set X-Powered-By and then applied the policy sends."""
    headers = [POWERED_BY]
    headers = [(n, v) for n, v in headers if n.lower() not in policy.remove]
    return headers + policy.render()


def quoted(message: str) -> list[str]:
    return [json.loads(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', message)]


def run_case(case: Mapping[str, Any]) -> None:
    """Assert the case; raises AssertionError with the reason when it fails."""
    expect = case["expect"]
    wants_error = "throws" in expect or expect.get("status") == 500
    helmet_message = expect.get("throws") or expect.get("body", "")
    error: ConfigError | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            policy = call(case)
        except ConfigError as exc:
            error = exc
    if error is not None:
        message = str(error)
        assert wants_error, f"rejected an input Helmet accepts: {message}"
        for text in quoted(helmet_message):
            assert text in message, f"message does not name {text!r}: {message}"
        assert "\n" not in message
        assert "\r" not in message
        return
    assert "throws" not in expect, f"accepted an input Helmet rejects: {expect['throws']!r}"
    if expect["status"] == 500:
        with pytest.raises(HeaderRenderError) as info:
            policy.render()
        for text in quoted(helmet_message):
            assert text in str(info.value), f"message does not name {text!r}: {info.value}"
        return
    assert expect["status"] == 200
    expected = [tuple(pair) for pair in expect["headers"]]
    assert response_headers(policy) == expected
    ours = [w for w in caught if issubclass(w.category, HeadersWarning)]
    if "warns" in expect:
        assert len(ours) == len(expect["warns"]), [str(w.message) for w in ours]
        for warning, helmet_warning in zip(ours, expect["warns"], strict=True):
            assert helmet_warning.split(" does not take options")[0] in str(warning.message)
    else:
        assert ours == [], [str(w.message) for w in ours]


APPLICABLE = [c for c in CASES if c["id"] not in NOT_APPLICABLE]


@pytest.mark.parametrize("case", APPLICABLE, ids=[c["id"] for c in APPLICABLE])
def test_helmet_case(case: dict[str, Any]) -> None:
    run_case(case)


def test_conformance_tally(
    request: pytest.FixtureRequest, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every case either passes or is listed as not applicable; report the tally."""
    passed, failed = 0, []
    for case in CASES:
        if case["id"] in NOT_APPLICABLE:
            continue
        try:
            run_case(case)
        except (AssertionError, NotMappableError, pytest.fail.Exception) as exc:
            failed.append(f"{case['id']}: {exc}")
        else:
            passed += 1
    total = len(CASES)
    tally = (
        f"Helmet 8.3 conformance: {passed}/{total} passed, {len(NOT_APPLICABLE)} not "
        f"applicable ({', '.join(sorted(NOT_APPLICABLE))}), {len(failed)} failed"
    )
    record_property("helmet_conformance", tally)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # absent on xdist workers
        with capsys.disabled():
            reporter.write_line(f"\n{tally}")
    assert total == SUITE["count"] == 275
    assert failed == []
    assert passed + len(NOT_APPLICABLE) == total


def test_not_applicable_list_is_small_and_real() -> None:
    ids = {c["id"] for c in CASES}
    assert len(NOT_APPLICABLE) <= 15
    assert set(NOT_APPLICABLE) <= ids
    assert all(len(reason) > 40 for reason in NOT_APPLICABLE.values())


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def test_not_applicable_behaviour() -> None:
    """What Python does for each case that has no JavaScript-identical meaning."""
    # top-007: options are keyword-only; a request object cannot take their place.
    with pytest.raises(TypeError):
        h.secure_headers(object())  # type: ignore[call-arg, arg-type]
    with pytest.raises(NotMappableError):
        call(_case("top-007"))
    # csp-013: no prototype chain; the marker is refused by the harness.
    with pytest.raises(NotMappableError):
        call(_case("csp-013"))
    # csp-029: snake_case is accepted and means the dashed directive.
    policy = call(_case("csp-029"))
    assert "default-src value;" in policy.headers[0][1]
    # csp-057: None drops a directive (JS null), so default-src None is still an error...
    with pytest.raises(ConfigError, match="default-src"):
        h.content_security_policy(directives={"defaultSrc": None})
    # ...and an absent key keeps the default (JS undefined key absent).
    assert call(_case("csp-004")).headers == h.content_security_policy().headers
    # hsts-021: 123 is a valid max-age; hsts-015 (-123) is still rejected.
    assert call(_case("hsts-021")).headers == [
        ("Strict-Transport-Security", "max-age=123; includeSubDomains")
    ]
    run_case(_case("hsts-015"))


def test_markers_are_all_mapped() -> None:
    """Every marker the data uses is handled (a new marker would fail here, not silently)."""
    seen: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            seen.update(k for k in value if k.startswith("$"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for case in CASES:
        walk(case["args"])
    handled = {
        "$undefined",
        "$nullproto",
        "$symbol",
        "$fn",
        "$set",
        "$iterable_empty",
        "$boxed",
        "$bigint",
        "$num",
        "$inherited",
        "$request_like",
    }
    assert seen <= handled
    for marker in re.findall(r"\$\w+", SUITE["meta"]["encoding"]):
        assert marker in handled


def test_boxed_strings_are_refused_not_coerced() -> None:
    """Boxed text is rejected because it is not a str, not because of its content."""
    with pytest.raises(ConfigError, match="must be a str"):
        h.x_frame_options(action=Boxed("DENY"))
    assert h.x_frame_options(action="DENY").headers == [("X-Frame-Options", "DENY")]
