"""``bulletproof audit --fix`` with the real uv resolver over a local folder of wheels: a set
the resolver refuses is never written; an accepted one is written in place, hashes included."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke

from bulletproof.audit._fix import find_uv, resolve, rewrite_requirements


def _wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal pure-Python wheel: enough for a resolver to read its metadata."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert find_uv() is not None, "the --fix tests need uv (scripts/test installs it)"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "1.4", "2.0"):
        _wheel(wheels, "demo", version)
    _wheel(wheels, "other", "1.0", ("demo<1.3",))
    _wheel(wheels, "other", "2.0", ("demo>=1.0",))
    export = tmp_path / "osv"
    export.mkdir()
    record = {
        "id": "PYSEC-T-1",
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.4"}]}
                ],
            }
        ],
    }
    (export / "PYSEC-T-1.json").write_text(json.dumps(record))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    return tmp_path


def test_a_fix_the_resolver_accepts_is_written_in_place(project: Path) -> None:
    req = project / "requirements.txt"
    req.write_text(
        "# production pins\n--no-index\n--find-links wheels\n"
        'demo[extra]==1.0 ; python_version >= "3.8"  # keep this comment\nother==2.0\n'
    )
    run = invoke("audit", "-r", "requirements.txt", "--db", "osv", "--fix")
    assert run.exit_code == 1  # the report is of the pins as they were
    assert "fix: requirements.txt: demo 1.0 -> 1.4" in run.stderr
    assert req.read_text() == (
        "# production pins\n--no-index\n--find-links wheels\n"
        'demo[extra]==1.4 ; python_version >= "3.8"  # keep this comment\nother==2.0\n'
    )
    again = invoke("audit", "-r", "requirements.txt", "--db", "osv")
    assert again.exit_code == 0


def test_a_set_the_resolver_refuses_is_never_written(project: Path) -> None:
    req = project / "requirements.txt"
    text = "--no-index\n--find-links wheels\ndemo==1.0\nother==1.0\n"  # other 1.0 needs demo<1.3
    req.write_text(text)
    run = invoke("audit", "-r", "requirements.txt", "--db", "osv", "--fix")
    assert run.exit_code == 1
    assert (
        "nothing written: uv's resolver says the fixed set cannot be installed together"
        in run.stderr
    )
    assert req.read_text() == text


def test_hashes_are_replaced_with_the_new_versions(project: Path) -> None:
    old_hash = hashlib.sha256(
        (project / "wheels" / "demo-1.0-py3-none-any.whl").read_bytes()
    ).hexdigest()
    new_hash = hashlib.sha256(
        (project / "wheels" / "demo-1.4-py3-none-any.whl").read_bytes()
    ).hexdigest()
    req = project / "requirements.txt"
    req.write_text(f"--no-index\n--find-links wheels\ndemo==1.0 \\\n    --hash=sha256:{old_hash}\n")
    run = invoke("audit", "-r", "requirements.txt", "--db", "osv", "--fix")
    assert "demo 1.0 -> 1.4" in run.stderr, run.stderr
    assert (
        req.read_text()
        == f"--no-index\n--find-links wheels\ndemo==1.4 \\\n    --hash=sha256:{new_hash}\n"
    )


def test_without_a_resolver_hashed_lines_are_flagged_not_changed() -> None:
    text = "flask==0.12 \\\n    --hash=sha256:aaaa\nclick==6.7  # cli\n"
    result = rewrite_requirements(text, {"flask": "0.12.3", "click": "8.0"}, hashes={})
    assert result.text == "flask==0.12 \\\n    --hash=sha256:aaaa\nclick==8.0  # cli\n"
    assert result.changed == [("click", "6.7", "8.0")]
    assert len(result.flagged) == 1
    assert "requirements.txt:1: flask has --hash options" in result.flagged[0]


def test_no_uv_means_unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bulletproof.audit._fix.find_uv", lambda: None)
    outcome = resolve({"demo": "1.4"})
    assert outcome.ok is None
    assert "not checked" in outcome.message


def test_fix_needs_requirements_files(project: Path) -> None:
    (project / "uv.lock").write_text("version = 1\n")
    run = invoke("audit", "--lock", "uv.lock", "--db", "osv", "--fix")
    assert run.exit_code == 2
    assert "--fix rewrites requirements files" in run.stderr
