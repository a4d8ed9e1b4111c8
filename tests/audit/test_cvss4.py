"""CVSS v4.0 scores: every reference vector scores exactly its expected value, as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulletproof.audit._cvss4 import (
    _MACRO_SCORES,
    _effective,
    _key,
    _macro_vector,
    _parse,
    score_v4,
)

CASES = Path(__file__).parent.parent / "cases" / "audit"
DATA: dict[str, Any] = json.loads((CASES / "cvss4_vectors.json").read_text())
VECTORS: list[dict[str, Any]] = DATA["vectors"]

BASE = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


@pytest.mark.parametrize("case", VECTORS, ids=[case["vector"] for case in VECTORS])
def test_reference_vector(case: dict[str, Any]) -> None:
    assert score_v4(case["vector"]) == case["score"]


def test_the_data_names_its_sources() -> None:
    assert DATA["source"]
    assert {case["from"] for case in VECTORS} <= set(DATA["sources"])
    assert len({case["vector"] for case in VECTORS}) == len(VECTORS) >= 40


def test_the_data_covers_every_macrovector_and_the_no_impact_case() -> None:
    reached = set()
    for case in VECTORS:
        metrics = _parse(case["vector"])
        assert metrics is not None
        reached.add(_key(_macro_vector(_effective(metrics))))
    assert reached == set(_MACRO_SCORES)
    assert any(case["score"] == 0.0 for case in VECTORS)


def test_the_lookup_table_has_every_macrovector() -> None:
    assert len(_MACRO_SCORES) == 270
    assert _MACRO_SCORES["000000"] == 10.0
    assert all(0.0 <= score <= 10.0 for score in _MACRO_SCORES.values())


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "CVSS:4.0",
        "CVSS:4.0/",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        BASE.replace("CVSS:4.0", "CVSS:3.1"),
        BASE.replace("CVSS:4.0", "cvss:4.0"),
        BASE.removeprefix("CVSS:4.0/"),
        BASE.replace("AV:N/", ""),  # AV missing
        BASE.replace("/SA:N", ""),  # SA missing
        BASE + "/AV:N",  # duplicate
        BASE + "/E:A/E:A",  # duplicate optional metric
        BASE.replace("AV:N", "AV:X"),  # base metrics have no Not Defined
        BASE.replace("AV:N", "AV:Q"),  # bad value
        BASE.replace("AV:N", "AV:"),
        BASE.replace("AV:N", "AV"),
        BASE.replace("AV:N", "AV:N:N"),
        BASE.replace("SC:N", "SC:S"),  # Safety is for MSI and MSA only
        BASE + "/MSC:S",
        BASE + "/JJ:H",  # unknown metric
        BASE + "/CVSS:4.0",
        BASE + "/E:X/",
        BASE + "/U:red",  # values are case-sensitive
        BASE + "/CR:N",
        BASE + " ",
    ],
)
def test_malformed_vector_is_none(vector: str) -> None:
    assert score_v4(vector) is None


def test_metric_order_does_not_matter() -> None:
    ordered = BASE + "/E:P/CR:L/MAV:A/MSI:S/AU:Y"
    prefix, *parts = ordered.split("/")
    shuffled = "/".join([prefix, *reversed(parts)])
    assert score_v4(shuffled) == score_v4(ordered) is not None


def test_not_defined_is_the_default() -> None:
    explicit = BASE + "/E:X/CR:X/IR:X/AR:X/MAV:X/MVC:X/MSI:X/S:X/U:X"
    assert score_v4(explicit) == score_v4(BASE + "/E:A/CR:H/IR:H/AR:H") == score_v4(BASE) == 9.3


def test_modified_metrics_replace_base_metrics() -> None:
    modified = BASE + "/MAV:P/MAC:H/MAT:P/MPR:H/MUI:A/MVC:L/MVI:L/MVA:L/MSC:H/MSI:H/MSA:H"
    rewritten = "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:H/SI:H/SA:H"
    assert score_v4(modified) == score_v4(rewritten) == 2.4  # FIRST calculator: 2.4 for both
    # impact modified away entirely is no impact
    assert score_v4(BASE + "/MVC:N/MVI:N/MVA:N") == 0.0
    # and impact modified into a no-impact vector is scored
    assert score_v4(BASE.replace(":H", ":N") + "/MSI:S") == 8.9  # FIRST calculator: 8.9


def test_supplemental_metrics_do_not_change_the_score() -> None:
    assert score_v4(BASE + "/S:P/AU:Y/R:I/V:C/RE:H/U:Red") == score_v4(BASE)
