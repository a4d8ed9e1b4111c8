"""Fix versions, pre-releases of affected releases, and the ignore file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bulletproof.audit import Dependency, Sources, audit_records, read_ignores
from bulletproof.errors import ConfigError


def _record(
    ident: str, events: list[dict[str, str]], aliases: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "id": ident,
        "aliases": list(aliases),
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


RECORDS = [
    _record("PYSEC-A", [{"introduced": "0"}, {"fixed": "1.2"}], ("CVE-A",)),
    # 1.2 fixes A but B affects 1.2 up to 1.4 (and 2.0rc1 fixes B on another branch)
    _record("PYSEC-B", [{"introduced": "1.1"}, {"fixed": "1.4"}, {"fixed": "2.0rc1"}], ("CVE-B",)),
    _record("PYSEC-C", [{"introduced": "2.3.0"}, {"fixed": "2.3.2"}]),
]


def _audit(version: str, **kwargs: Any) -> Any:
    sources = Sources([Dependency("demo", version, "requirements.txt", 1)])
    (dep,) = audit_records(sources, {"demo": RECORDS}, **kwargs).dependencies
    return dep


def test_the_fix_is_the_smallest_version_no_record_affects() -> None:
    dep = _audit("1.1.5")
    assert [f.id for f in dep.findings] == ["PYSEC-A", "PYSEC-B"]
    assert dep.findings[0].fix_versions == ("1.2",)
    assert dep.fix == "1.4"  # 1.2 fixes A, but B still affects it
    assert _audit("2.3.1").fix == "2.3.2"
    assert _audit("1.4").findings == ()
    assert _audit("1.4").fix is None


def test_a_prerelease_is_proposed_only_for_a_prerelease_pin() -> None:
    only_pre = [_record("PYSEC-P", [{"introduced": "0"}, {"fixed": "3.0rc1"}])]
    sources = Sources([Dependency("demo", "2.0", "r.txt", 1)])
    (dep,) = audit_records(sources, {"demo": only_pre}).dependencies
    assert dep.fix is None  # 3.0rc1 is the only fixed version: not proposed for a final pin
    sources = Sources([Dependency("demo", "3.0a1", "r.txt", 1)])
    (dep,) = audit_records(sources, {"demo": only_pre}).dependencies
    assert dep.fix == "3.0rc1"


def test_a_prerelease_of_an_affected_release_is_reported_not_clean() -> None:
    dep = _audit("2.3.0rc1")  # OSV's order puts it before introduced 2.3.0
    (finding,) = dep.findings
    assert finding.id == "PYSEC-C"
    assert finding.why[0].startswith(
        "PYSEC-C: 2.3.0rc1 is a pre-release of 2.3.0, which is affected"
    )
    assert _audit("2.4.0rc1").findings == ()  # 2.4.0 is not affected


def _ignore_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "audit-ignore.toml"
    path.write_text(body)
    return path


def test_an_ignore_moves_the_finding_aside_until_it_ends(tmp_path: Path) -> None:
    path = _ignore_file(
        tmp_path,
        """
[[ignore]]
id = "CVE-A"
reason = "the vulnerable call is never made"
expires = 2027-01-31

[[ignore]]
id = "PYSEC-B"
package = "demo"
reason = "waiting for upstream"
until_fixed = true
""",
    )
    ignores = read_ignores(path)
    before = _audit("1.1.5", ignores=ignores, today=dt.date(2026, 12, 3))
    assert [f.id for f in before.findings] == ["PYSEC-B"]  # B has a fix (1.4): its ignore ended
    assert [(f.id, f.ignored) for f in before.ignored] == [
        ("PYSEC-A", "the vulnerable call is never made")
    ]
    after = _audit("1.1.5", ignores=ignores, today=dt.date(2027, 2, 1))
    assert [f.id for f in after.findings] == ["PYSEC-A", "PYSEC-B"]
    sources = Sources([Dependency("demo", "1.1.5", "requirements.txt", 1)])
    report = audit_records(sources, {"demo": RECORDS}, ignores=ignores, today=dt.date(2027, 2, 1))
    assert any("expired on 2027-01-31" in note for note in report.notes)
    assert any("held until a fix: 1.4" in note for note in report.notes)


def test_an_ignore_for_another_package_does_not_apply(tmp_path: Path) -> None:
    path = _ignore_file(
        tmp_path,
        '[[ignore]]\nid = "PYSEC-A"\npackage = "other"\nreason = "x"\nexpires = 2099-01-01\n',
    )
    dep = _audit("1.0", ignores=read_ignores(path))
    assert [f.id for f in dep.findings] == ["PYSEC-A"]
    assert dep.ignored == ()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[[ignore]]\nid = "X"\nexpires = 2027-01-01\n', "reason is missing"),
        ('[[ignore]]\nid = "X"\nreason = "r"\n', "give it an end"),
        ('[[ignore]]\nreason = "r"\nuntil_fixed = true\n', "id is missing"),
        ('[[ignore]]\nid = "X"\nreason = "r"\nexpires = "soon"\n', "give a date"),
        ('[[ignore]]\nid = "X"\nreason = "r"\nuntil_fixed = true\nwhy = 1\n', "unknown key 'why'"),
        ('[[ignores]]\nid = "X"\n', "unknown table 'ignores'"),
        ("[[ignore]\n", "not valid TOML"),
    ],
)
def test_a_bad_ignore_file_names_the_entry_and_the_fix(
    tmp_path: Path, body: str, words: str
) -> None:
    path = _ignore_file(tmp_path, body)
    with pytest.raises(ConfigError, match=words) as info:
        read_ignores(path)
    assert str(path) in str(info.value)


def test_a_cvss_v4_vector_is_scored_and_the_highest_score_wins() -> None:
    record = _record("PYSEC-V4", [{"introduced": "0"}])
    record["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"},
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        },
    ]
    sources = Sources([Dependency("demo", "1.0", "r.txt", 1)])
    (dep,) = audit_records(sources, {"demo": [record]}).dependencies
    (finding,) = dep.findings
    assert (finding.score, finding.severity) == (9.3, "critical")
    assert (
        audit_records(sources, {"demo": [record]}, min_severity="critical").dependencies[0].findings
    )
