"""``bulletproof audit``: the JSON shape, and exit codes 0 clean, 1 vulnerable, 2 bad input,
3 incomplete (lines not auditable, data missing or too old)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke, run_script

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def _req(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_json_has_the_documented_shape_and_exit_1_when_vulnerable(tmp_path: Path) -> None:
    req = _req(tmp_path, "flask==0.12\nclick==8.1.7\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--format", "json")
    assert run.exit_code == 1, run.stderr
    data = json.loads(run.stdout)
    assert set(data) >= {"db", "dependencies", "skipped"}
    assert set(data["db"]) == {"source", "sha256", "date"}
    by_name = {d["name"]: d for d in data["dependencies"]}
    assert by_name["click"]["findings"] == []
    assert [f["id"] for f in by_name["flask"]["findings"]] == [
        "PYSEC-2018-66",
        "PYSEC-2019-179",
        "PYSEC-2023-62",
    ]
    for finding in by_name["flask"]["findings"]:
        assert set(finding) >= {"id", "aliases", "severity", "fix_versions", "why"}


def test_clean_is_0_and_the_text_names_the_data(tmp_path: Path) -> None:
    req = _req(tmp_path, "click==8.1.7\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT))
    assert run.exit_code == 0, run.stderr
    assert "sha256 3b989ad8840da8d6" in run.stdout
    assert "1 dependencies audited: none vulnerable" in run.stdout


def test_a_line_that_cannot_be_audited_makes_it_incomplete(tmp_path: Path) -> None:
    req = _req(tmp_path, "click==8.1.7\nrequests>=2\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT))
    assert run.exit_code == 3
    assert f"skipped {req}:2: requests>=2: not pinned to one version" in run.stdout
    relaxed = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--allow-incomplete")
    assert relaxed.exit_code == 0
    assert "skipped" in relaxed.stdout  # still listed


def test_the_project_file_is_found_when_none_is_given(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(
        'version = 1\n[[package]]\nname = "jinja2"\nversion = "2.10"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
    )
    _req(tmp_path, "click==8.1.7\n")  # uv.lock comes first
    run = invoke("audit", "--db", str(SNAPSHOT), "--format", "json")
    assert run.exit_code == 1
    assert [d["name"] for d in json.loads(run.stdout)["dependencies"]] == ["jinja2"]


def test_nothing_to_audit_is_a_usage_error(tmp_path: Path) -> None:
    run = invoke("audit", "--db", str(SNAPSHOT))
    assert run.exit_code == 2
    assert "nothing to audit here" in run.stderr


def test_a_missing_requirements_file_is_bad_input(tmp_path: Path) -> None:
    run = invoke("audit", "-r", "nope.txt", "--db", str(SNAPSHOT))
    assert run.exit_code == 2
    assert "no requirements file nope.txt" in run.stderr


def test_no_data_is_incomplete_and_says_where_to_get_it(tmp_path: Path) -> None:
    req = _req(tmp_path, "click==8.1.7\n")
    run = invoke("audit", "-r", str(req))
    assert run.exit_code == 3
    assert "no vulnerability data" in run.stderr
    assert "PyPI/all.zip" in run.stderr


def test_the_cached_export_is_used_when_present(tmp_path: Path) -> None:
    cached = tmp_path / "cache" / "osv" / "PyPI-all.zip"
    cached.parent.mkdir(parents=True)
    shutil.copy(SNAPSHOT, cached)
    req = _req(tmp_path, "flask==0.12\n")
    run = invoke("audit", "-r", str(req))
    assert run.exit_code == 1
    assert str(cached) in run.stdout


def test_a_damaged_db_given_by_the_user_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    req = _req(tmp_path, "click==8.1.7\n")
    run = invoke("audit", "-r", str(req), "--db", str(bad))
    assert run.exit_code == 2
    assert str(bad) in run.stderr
    assert "not a readable OSV export" in run.stderr


def test_data_older_than_max_db_age_fails(tmp_path: Path) -> None:
    req = _req(tmp_path, "click==8.1.7\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--max-db-age", "30")
    assert run.exit_code == 3
    assert "days old, over --max-db-age 30" in run.stderr
    fresh_enough = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--max-db-age", "100000")
    assert fresh_enough.exit_code == 0


def test_markers_follow_the_chosen_target(tmp_path: Path) -> None:
    req = _req(tmp_path, 'flask==0.12 ; sys_platform == "win32"\n')
    on_linux = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--platform", "linux")
    assert on_linux.exit_code == 0
    on_windows = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--platform", "win32")
    assert on_windows.exit_code == 1


def test_the_console_script_audits_without_a_traceback(tmp_path: Path) -> None:
    req = _req(tmp_path, "Jinja2==2.10\n")
    run = run_script(
        "audit", "-r", str(req), "--db", str(SNAPSHOT), "--format", "json", cwd=tmp_path
    )
    assert run.exit_code == 1, run.stderr
    assert [f["id"] for f in json.loads(run.stdout)["dependencies"][0]["findings"]] == [
        "PYSEC-2019-217",
        "PYSEC-2021-66",
    ]


def test_the_audit_section_gives_the_defaults_and_flags_win(tmp_path: Path) -> None:
    shutil.copy(SNAPSHOT, tmp_path / "osv.zip")
    _req(tmp_path, "flask==0.12\n", "prod.txt")
    _req(tmp_path, "click==8.1.7\n", "requirements.txt")  # not read: the section names prod.txt
    (tmp_path / "bulletproof.toml").write_text(
        '[audit]\nsources = ["prod.txt"]\ndb = "osv.zip"\nmax_db_age = "30d"\n'
    )
    run = invoke("audit", "--format", "json")
    assert run.exit_code == 3, run.stdout  # the snapshot is older than 30 days
    assert "over --max-db-age 30" in run.stderr
    (tmp_path / "bulletproof.toml").write_text('[audit]\nsources = ["prod.txt"]\ndb = "osv.zip"\n')
    run = invoke("audit", "--format", "json")
    assert run.exit_code == 1
    assert [d["name"] for d in json.loads(run.stdout)["dependencies"]] == ["flask"]
    flag = invoke("audit", "-r", "requirements.txt", "--format", "json")
    assert flag.exit_code == 0
    assert [d["name"] for d in json.loads(flag.stdout)["dependencies"]] == ["click"]


def test_a_bad_audit_section_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "bulletproof.toml").write_text('[audit]\nmin_severity = "severe"\n')
    run = invoke("audit", "-r", "x.txt")
    assert run.exit_code == 2
    assert "[audit] min_severity = 'severe' is out of range" in run.stderr


def test_an_ignore_file_accepts_a_finding_with_its_reason(tmp_path: Path) -> None:
    req = _req(tmp_path, "jinja2==2.10\n")
    ignore = tmp_path / "audit-ignore.toml"
    ignore.write_text(
        '[[ignore]]\nid = "CVE-2019-10906"\nreason = "no untrusted templates"\n'
        "expires = 2099-01-01\n"
        '[[ignore]]\nid = "PYSEC-2021-66"\nreason = "ReDoS on input we never pass"\n'
        "expires = 2099-01-01\n"
    )
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--ignore-file", str(ignore))
    assert run.exit_code == 0, run.stdout
    assert "ignored jinja2 2.10 PYSEC-2019-217: no untrusted templates" in run.stdout
    data = json.loads(
        invoke(
            "audit",
            "-r",
            str(req),
            "--db",
            str(SNAPSHOT),
            "--ignore-file",
            str(ignore),
            "--format",
            "json",
        ).stdout
    )
    (dep,) = data["dependencies"]
    assert dep["findings"] == []
    assert [f["ignored"] for f in dep["ignored"]] == [
        "no untrusted templates",
        "ReDoS on input we never pass",
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[ignore]]\nid = "X"\n')
    broken = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--ignore-file", str(bad))
    assert broken.exit_code == 2
    assert "reason is missing" in broken.stderr


def test_emit_sends_one_dependency_event_per_finding(tmp_path: Path) -> None:
    (tmp_path / "bulletproof.toml").write_text(
        'service_name = "shop"\n[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n'
    )
    req = _req(tmp_path, "jinja2==2.10\nclick==8.1.7\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--emit")
    assert run.exit_code == 1
    assert "2 vulnerable_dependency event(s) delivered" in run.stderr
    lines = (tmp_path / "events.jsonl").read_text().strip().split("\n")
    events = [json.loads(line) for line in lines]
    assert sorted(e["rule"]["id"] for e in events) == ["PYSEC-2019-217", "PYSEC-2021-66"]
    for event in events:
        assert event["bulletproof"]["category"] == "dependency"
        assert event["event"]["action"] == "vulnerable_dependency"
        assert event["bulletproof"]["details"]["package"] == "jinja2"
        assert event["bulletproof"]["details"]["fix"] == "2.11.3"


def test_text_is_a_table_and_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    req = _req(tmp_path, "jinja2==2.10\nbad\x1b[31mline\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--why")
    assert run.exit_code == 1
    lines = run.stdout.split("\n")
    header = next(line for line in lines if line.startswith("package"))
    assert header.split() == [
        "package",
        "version",
        "vulnerability",
        "severity",
        "fixed",
        "in",
        "aliases",
    ]
    assert any(
        line.split()[:4] == ["jinja2", "2.10", "PYSEC-2019-217", "unknown"] for line in lines
    )
    assert f"jinja2 2.10 ({req}:1): upgrade to 2.11.3" in run.stdout
    assert "PYSEC-2019-217: 2.10 is at or past introduced 0 and before fixed 2.10.1" in run.stdout
    assert "\x1b" not in run.stdout
    assert "bad\\x1b[31mline" in run.stdout


def test_when_every_line_is_skipped_the_audit_is_incomplete_not_clean(tmp_path: Path) -> None:
    req = _req(tmp_path, "requests>=2\nsqlalchemy==1.3.*\n-e ./local\n")
    run = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--format", "json")
    assert run.exit_code == 3
    data = json.loads(run.stdout)
    assert data["dependencies"] == []
    assert [s["line"] for s in data["skipped"]] == [1, 2, 3]
