"""``bulletproof inspect FILE.jsonl``: one verdict per record, JSON lines, exit codes
(0 all normal, 1 some not, 2 unreadable file, 3 lines that are not records)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_main import invoke

RECORDS = [
    {"id": "a", "method": "GET", "path": "/search", "query": "q=shoes", "headers": {}, "body": ""},
    {
        "id": "b",
        "method": "GET",
        "path": "/search",
        "query": "q=1%27%20or%201%3D1--",
        "headers": {"User-Agent": "Mozilla/5.0"},
        "body": "",
    },
    {
        "id": "c",
        "method": "POST",
        "path": "/api",
        "query": "",
        "headers": {"Content-Type": "application/json"},
        "body": '{"name": "<script>x</script>"}',
    },
]


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_lines_name_the_verdict_and_findings_of_each_request(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(r) for r in RECORDS])
    run = invoke("inspect", str(path), "--format", "json")
    assert run.exit_code == 1
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c"]
    assert [o["verdict"] for o in out] == ["normal", "malicious", "malicious"]
    assert {(f["type"], f["location"]) for f in out[1]["findings"]} >= {("sqli", "query:q")}
    assert {(f["type"], f["location"]) for f in out[2]["findings"]} >= {("xss", "json:name")}
    assert all(f["rule"].startswith("bp-") for o in out for f in o["findings"])


def test_all_normal_exits_0_and_the_table_says_so(tmp_path: Path) -> None:
    run = invoke("inspect", str(_write(tmp_path, [json.dumps(RECORDS[0])])))
    assert (run.exit_code, run.stdout.strip()) == (0, "a  normal")


def test_a_line_that_is_not_a_record_is_named_and_the_rest_still_judged(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(RECORDS[0]), "{not json", '{"headers": 7}'])
    run = invoke("inspect", str(path), "--format", "json")
    assert run.exit_code == 3
    assert json.loads(run.stdout.splitlines()[0])["verdict"] == "normal"
    assert "requests.jsonl:2: not a request record" in run.stderr
    assert "requests.jsonl:3: not a request record: 'headers'" in run.stderr


def test_standard_input_and_a_missing_file(tmp_path: Path) -> None:
    run = invoke("inspect", "-", input=json.dumps(RECORDS[1]) + "\n")
    assert run.exit_code == 1
    assert "malicious" in run.stdout
    missing = invoke("inspect", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2
    assert "nope.jsonl" in missing.stderr
