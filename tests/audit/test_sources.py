"""Reading pins: requirements files with every syntax pip accepts, pyproject.toml, the four
lock formats and installed environments. Nothing is dropped without a reason."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bulletproof.audit import (
    Target,
    read_environment,
    read_lock,
    read_pyproject,
    read_requirements,
    read_source,
)
from bulletproof.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _pins(found: object) -> list[tuple[str, str]]:
    return sorted((d.name, d.version) for d in found.dependencies)  # type: ignore[attr-defined]


TRICKY = """
    # a comment line
    --index-url https://pypi.example/simple
    --extra-index-url=https://mirror.example/simple
    -r base.txt
    -c constraints.txt
    Django==2.2.1 \\
        --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef \\
        --hash=sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210
    requests[security,socks] == 2.19.0  # extras and spaces
    urllib3===1.24.1
    pyyaml==5.1 ; python_version >= "3.6"
    pywin32==223 ; sys_platform == "win32"
    numpy==1.16.0+cpu
    sqlalchemy==1.3.*
    jinja2
    celery>=4,<5
    -e ./vendored/pkg
    git+https://github.com/example/project.git@v1.0#egg=project
    mylib @ https://files.example/mylib-1.0-py3-none-any.whl
    ./local/path
    this is not a requirement !!
    --frobnicate
    Pillow==5.0.0	# tab before the comment
"""


def test_a_file_full_of_tricky_syntax(tmp_path: Path) -> None:
    _write(tmp_path / "base.txt", "flask==0.12\n-r more/extra.txt\n")
    _write(tmp_path / "more" / "extra.txt", "werkzeug==0.14.1\n-r ../base.txt\n")  # a cycle
    _write(tmp_path / "constraints.txt", "jinja2==2.10\ncelery==4.1.0\nnot-used==1.0\n")
    req = _write(tmp_path / "requirements.txt", TRICKY)
    found = read_requirements(req, Target(python_version="3.11", sys_platform="linux"))
    assert _pins(found) == [
        ("celery", "4.1.0"),  # unpinned, versioned by the constraints file
        ("django", "2.2.1"),
        ("flask", "0.12"),
        ("jinja2", "2.10"),
        ("numpy", "1.16.0+cpu"),
        ("pillow", "5.0.0"),
        ("pyyaml", "5.1"),
        ("requests", "2.19.0"),
        ("urllib3", "1.24.1"),
        ("werkzeug", "0.14.1"),
    ]
    lines = {d.name: d.line for d in found.dependencies}
    assert lines["django"] == 6  # the first line of a continued line
    reasons = {s.text.split()[0]: s.reason for s in found.skipped}
    assert set(reasons) == {
        "sqlalchemy==1.3.*",
        "-e",
        "git+https://github.com/example/project.git@v1.0#egg=project",
        "mylib",
        "./local/path",
        "this",
        "--frobnicate",
    }
    assert reasons["sqlalchemy==1.3.*"].startswith("not pinned to one version")
    assert "editable" in reasons["-e"]
    assert "not auditable by version" in reasons["mylib"]
    assert "not auditable by version" in reasons["./local/path"]
    assert reasons["this"].startswith("not a requirement")
    assert reasons["--frobnicate"] == "unknown option --frobnicate"
    assert [s.text for s in found.not_applicable] == ['pywin32==223 ; sys_platform == "win32"']
    assert all(s.file == str(req) for s in found.skipped)


def test_markers_are_evaluated_for_the_chosen_target(tmp_path: Path) -> None:
    req = _write(
        tmp_path / "requirements.txt",
        """
        pywin32==223 ; sys_platform == "win32"
        dataclasses==0.6 ; python_version < "3.7"
        typing-extensions==3.7.4 ; python_version < "3.8" and platform_system == "Windows"
        """,
    )
    windows36 = read_requirements(req, Target(python_version="3.6", sys_platform="win32"))
    assert _pins(windows36) == [
        ("dataclasses", "0.6"),
        ("pywin32", "223"),
        ("typing-extensions", "3.7.4"),
    ]
    linux311 = read_requirements(req, Target(python_version="3.11", sys_platform="linux"))
    assert _pins(linux311) == []
    assert len(linux311.not_applicable) == 3
    assert linux311.skipped == []


def test_a_missing_include_names_the_line_that_asked_for_it(tmp_path: Path) -> None:
    req = _write(tmp_path / "requirements.txt", "flask==1.0\n-r nowhere.txt\n")
    with pytest.raises(
        ConfigError, match=r"requirements.txt:2: no requirements file .*nowhere.txt"
    ):
        read_requirements(req)


def test_pyproject_dependencies_extras_and_groups(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "app"
        version = "1"
        dependencies = ["fastapi==0.65.1", "pydantic>=1.8"]
        [project.optional-dependencies]
        server = ["uvicorn==0.13.4"]
        [dependency-groups]
        test = ["pytest==6.2.0", {include-group = "lint"}]
        lint = ["black==22.1.0"]
        """,
    )
    found = read_pyproject(path)
    assert _pins(found) == [
        ("black", "22.1.0"),
        ("black", "22.1.0"),  # in lint and, through include-group, in test
        ("fastapi", "0.65.1"),
        ("pytest", "6.2.0"),
        ("uvicorn", "0.13.4"),
    ]
    assert [s.text for s in found.skipped] == ["pydantic>=1.8"]
    assert "lock file" in found.skipped[0].reason
    assert "[project.dependencies]" in found.skipped[0].file


def test_the_four_lock_formats(tmp_path: Path) -> None:
    uv = _write(
        tmp_path / "uv" / "uv.lock",
        """
        version = 1
        requires-python = ">=3.11"
        [[package]]
        name = "app"
        version = "0.1.0"
        source = { editable = "." }
        [[package]]
        name = "Jinja2"
        version = "2.10"
        source = { registry = "https://pypi.org/simple" }
        [[package]]
        name = "tool"
        version = "1.0"
        source = { git = "https://github.com/example/tool?rev=abc#abc" }
        """,
    )
    found = read_lock(uv)
    assert _pins(found) == [("jinja2", "2.10")]
    assert [s.text for s in found.skipped] == ["tool (git)"]
    assert [s.text for s in found.not_applicable] == ["app"]

    poetry = _write(
        tmp_path / "poetry" / "poetry.lock",
        """
        [[package]]
        name = "flask"
        version = "0.12.2"
        [[package]]
        name = "local"
        version = "1.0"
        [package.source]
        type = "directory"
        url = "../local"
        [metadata]
        lock-version = "2.0"
        """,
    )
    found = read_lock(poetry)
    assert _pins(found) == [("flask", "0.12.2")]
    assert [s.text for s in found.skipped] == ["local (directory)"]

    pipfile = tmp_path / "pipenv" / "Pipfile.lock"
    pipfile.parent.mkdir()
    pipfile.write_text(
        '{"_meta": {}, "default": {"requests": {"version": "==2.19.0"}, '
        '"pywin32": {"version": "==223", "markers": "sys_platform == \'win32\'"}, '
        '"vendored": {"git": "https://github.com/x/y", "ref": "abc"}}, '
        '"develop": {"pytest": {"version": "==3.0.0"}}}'
    )
    found = read_lock(pipfile, Target(sys_platform="linux"))
    assert _pins(found) == [("pytest", "3.0.0"), ("requests", "2.19.0")]
    assert [s.text for s in found.skipped] == ["vendored (git)"]
    assert [s.text for s in found.not_applicable] == ["pywin32"]

    pylock = _write(
        tmp_path / "pep751" / "pylock.toml",
        """
        lock-version = "1.0"
        created-by = "test"
        [[packages]]
        name = "urllib3"
        version = "1.24.1"
        [[packages]]
        name = "colorama"
        version = "0.4.0"
        marker = "sys_platform == 'win32'"
        [[packages]]
        name = "mine"
        [packages.directory]
        path = "."
        """,
    )
    found = read_lock(pylock, Target(sys_platform="linux"))
    assert _pins(found) == [("urllib3", "1.24.1")]
    assert [s.text for s in found.skipped] == ["mine (directory)"]
    assert [s.text for s in found.not_applicable] == ["colorama"]


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("uv.lock", "version = 1\n[[package]\n", "not valid TOML"),
        ("Pipfile.lock", "{not json", "not a readable Pipfile.lock"),
        ("other.lock.toml", "x = 1\n", "not a lock file bulletproof reads"),
    ],
)
def test_a_broken_lock_file_is_named(tmp_path: Path, name: str, body: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(ConfigError, match=words) as info:
        read_lock(path)
    assert str(path) in str(info.value)


def test_an_installed_environment_is_read_from_its_dist_info(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    site = next(venv.glob("lib/python*/site-packages"))
    for name, version in (("Flask", "0.12"), ("Jinja2", "2.10")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    editable = site / "mine-1.0.dist-info"
    editable.mkdir()
    (editable / "METADATA").write_text("Metadata-Version: 2.1\nName: mine\nVersion: 1.0\n")
    (editable / "direct_url.json").write_text(
        '{"url": "file:///src", "dir_info": {"editable": true}}'
    )
    found = read_environment(venv)
    assert _pins(found) == [("flask", "0.12"), ("jinja2", "2.10")]
    assert [s.text for s in found.not_applicable] == ["mine 1.0"]
    assert _pins(read_source(venv)) == _pins(found)
    with pytest.raises(ConfigError, match="not a virtual environment"):
        read_environment(tmp_path / "venv" / "bin")


def test_the_running_environment_holds_this_test_run() -> None:
    names = {d.name for d in read_environment(None).dependencies}
    assert {"pytest", "packaging", "click"} <= names
