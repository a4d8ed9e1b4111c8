"""The report's other shapes: Markdown, SARIF 2.1.0, CycloneDX 1.5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"


@pytest.fixture
def requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "requirements.txt"
    path.write_text("click==8.1.7\napache-skywalking==0.5.0\njinja2==2.10\nrequests>=2\n")
    return path


def _run(requirements: Path, fmt: str) -> str:
    run = invoke("audit", "-r", str(requirements), "--db", str(SNAPSHOT), "--format", fmt)
    assert run.exit_code == 1, run.stderr
    return run.stdout


def test_sarif_has_one_result_per_finding_at_the_pinning_line(requirements: Path) -> None:
    log = json.loads(_run(requirements, "sarif"))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "bulletproof-audit"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == [
        "PYSEC-2019-217",
        "PYSEC-2020-342",
        "PYSEC-2021-66",
    ]
    assert set(rules) == {r["ruleId"] for r in results}
    by_rule = {r["ruleId"]: r for r in results}
    skywalking = by_rule["PYSEC-2020-342"]
    assert skywalking["level"] == "error"  # CVSS 9.8
    assert rules["PYSEC-2020-342"]["properties"]["security-severity"] == "9.8"
    location = skywalking["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == str(requirements)
    assert location["region"]["startLine"] == 2
    assert by_rule["PYSEC-2019-217"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert "upgrade to" in by_rule["PYSEC-2019-217"]["message"]["text"]
    assert rules["PYSEC-2021-66"]["helpUri"] == "https://osv.dev/vulnerability/PYSEC-2021-66"


def test_cyclonedx_lists_every_component_and_links_each_vulnerability(requirements: Path) -> None:
    bom = json.loads(_run(requirements, "cyclonedx"))
    assert (bom["bomFormat"], bom["specVersion"], bom["version"]) == ("CycloneDX", "1.5", 1)
    assert bom["serialNumber"].startswith("urn:uuid:")
    refs = {c["bom-ref"] for c in bom["components"]}
    assert refs == {
        "pkg:pypi/click@8.1.7",
        "pkg:pypi/apache-skywalking@0.5.0",
        "pkg:pypi/jinja2@2.10",
    }
    assert all(c["purl"] == c["bom-ref"] for c in bom["components"])
    ids = sorted(v["id"] for v in bom["vulnerabilities"])
    assert ids == ["PYSEC-2019-217", "PYSEC-2020-342", "PYSEC-2021-66"]
    for vulnerability in bom["vulnerabilities"]:
        assert {a["ref"] for a in vulnerability["affects"]} <= refs
    sky = next(v for v in bom["vulnerabilities"] if v["id"] == "PYSEC-2020-342")
    assert sky["ratings"] == [{"score": 9.8, "severity": "critical", "method": "CVSSv31"}]
    assert {r["id"] for r in sky["references"]} == {"CVE-2020-13921"}


def test_markdown_is_a_table_with_links_and_the_lines_not_audited(requirements: Path) -> None:
    text = _run(requirements, "markdown")
    assert text.startswith("# Dependency audit\n")
    assert "**3 known vulnerabilities in 2**" in text
    assert (
        "| jinja2 | 2.10 | [PYSEC-2019-217](https://osv.dev/vulnerability/PYSEC-2019-217)" in text
    )
    assert "| apache-skywalking | 0.5.0 |" in text
    assert "critical" in text
    assert "## Not audited" in text
    assert "`requests>=2`: not pinned to one version" in text


def test_a_pipe_in_a_field_does_not_break_the_table(tmp_path: Path) -> None:
    from bulletproof.audit import Dependency, Sources, audit_records
    from bulletproof.audit._formats import markdown

    record = {
        "id": "PYSEC-X",
        "aliases": ["CVE|1"],  # data is not trusted to be table-safe
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    report = audit_records(Sources([Dependency("demo", "1.0", "r.txt", 1)]), {"demo": [record]})
    row = next(line for line in markdown(report).split("\n") if line.startswith("| demo"))
    assert row.count(" | ") == 5
