"""OSV matching for PyPI: every version-order line and every range vector, as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulletproof.audit._match import Match, group_aliases, match
from bulletproof.audit._versions import ZERO, bound, canonical_name, key

CASES = Path(__file__).parent.parent / "cases" / "audit"
VECTORS: dict[str, Any] = json.loads((CASES / "range_vectors.json").read_text())


def _order_lines() -> list[tuple[str, str, str]]:
    lines: list[tuple[str, str, str]] = []
    for name in ("pypi-version-order-handwritten.txt", "pypi-version-order-generated.txt"):
        for raw in (CASES / name).read_text().split("\n"):
            line = raw.strip()
            if line and not line.startswith("//"):
                left, op, right = line.split(" ")
                lines.append((left, op, right))
    return lines


ORDER = _order_lines()


def test_every_version_order_line_holds() -> None:
    assert len(ORDER) == 12412
    wrong = []
    for left, op, right in ORDER:
        a, b = key(left), key(right)
        holds = {"<": a < b, ">": a > b, "=": a == b}[op]
        if not holds:
            wrong.append(f"{left} {op} {right}")
    assert wrong == []


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("0.1-bulbasaur", "0.1-charmander"),  # legacy among legacy
        ("trunk", "0.0.1"),  # legacy below every PEP 440 version
        ("1.0rc1", "1.0"),
        ("1.0", "1.0+cpu"),
        ("1.0+cpu", "1.0.post1"),
        ("99.0", "1!0.1"),
    ],
)
def test_order_examples(low: str, high: str) -> None:
    assert key(low) < key(high)


def test_the_zero_bound_is_below_everything_and_other_bounds_must_be_pep440() -> None:
    assert bound("0") == ZERO
    assert ZERO < key("0.dev0") < key("0")
    assert key("0.1-bulbasaur") > ZERO
    assert bound("2019-09-12") is None  # a legacy bound: skipped, as OSV skips it
    assert bound("1.0") == key("1.0.0")


def _vector_checks() -> list[tuple[str, dict[str, Any], str, bool]]:
    checks: list[tuple[str, dict[str, Any], str, bool]] = []
    for case in VECTORS["cases"]:
        checks.extend((case["name"], case, v, True) for v in case["affected_versions"])
        checks.extend((case["name"], case, v, False) for v in case["unaffected_versions"])
    return checks


CHECKS = _vector_checks()


def test_the_vector_file_holds_162_checks() -> None:
    assert len(CHECKS) == 162


@pytest.mark.parametrize(
    ("name", "case", "version", "affected"), CHECKS, ids=[f"{c[0]}@{c[2]}" for c in CHECKS]
)
def test_range_vectors(name: str, case: dict[str, Any], version: str, affected: bool) -> None:
    record = {"id": "TEST", "affected": case["affected"]}
    got = match(record, canonical_name(case["package"]), version)
    assert (got is not None) == affected, name


def test_withdrawn_records_never_match() -> None:
    case = VECTORS["withdrawn_case"]
    for version in case["unaffected_versions"]:
        assert match(case["advisory"], "my-package", version) is None
    live = {k: v for k, v in case["advisory"].items() if k != "withdrawn"}
    assert match(live, "my-package", "1.0") is not None  # the withdrawal is what stops it


def test_aliases_merge_per_package_and_transitively() -> None:
    case = VECTORS["alias_case"]
    found = [Match(f["id"], tuple(f["aliases"]), "") for f in case["findings_for_one_package"]]
    groups = group_aliases(found)
    merged = [sorted({i for m in g for i in (m.id, *m.aliases)}) for g in groups]
    assert merged == case["expected_groups"]
    # two records sharing nothing stay apart
    assert len(group_aliases([Match("A", ("CVE-1",), ""), Match("B", ("CVE-2",), "")])) == 2


def test_an_unreadable_event_is_skipped_and_reported() -> None:
    record = {
        "id": "PYSEC-X",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2019-09-12"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "nope!"}, {"bogus": "1"}]},
                ],
            }
        ],
    }
    problems: list[str] = []
    found = match(record, "demo", "2020.1", problems)
    assert found is not None
    assert "no fix yet" in found.why
    assert any("fixed '2019-09-12' is not a PEP 440 version" in p for p in problems)
    assert any("introduced 'nope!'" in p for p in problems)
    assert any("bogus" in p for p in problems)


def test_why_names_the_window_and_fixes_are_those_past_the_version() -> None:
    record = {
        "id": "PYSEC-Y",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"fixed": "1.5"},
                            {"introduced": "1.0"},
                            {"introduced": "2.0"},
                            {"fixed": "2.3"},
                        ],
                    },
                    {"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc123"}]},
                ],
            }
        ],
    }
    found = match(record, "demo-pkg", "2.1")
    assert found is not None
    assert "at or past introduced 2.0 and before fixed 2.3" in found.why
    assert found.fixed == ("2.3",)
    assert match(record, "demo-pkg", "1.7") is None
    assert match(record, "demo-pkg", "1.4") is not None
    assert match(record, "other", "1.4") is None
