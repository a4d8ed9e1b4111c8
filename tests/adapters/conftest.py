"""Fixtures for the adapter tests: a project directory holding a bulletproof config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.adapters.common import PROJECT_HEADERS


@pytest.fixture(scope="package", autouse=True)
def _own_working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The adapter tests run in a directory of their own: a guard built from the default config
    writes its events (the shield reports a 404 as an invalid request) under the working
    directory, and module-scoped apps are built before any per-test fixture runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("adapters-cwd"))
        yield


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BULLETPROOF_* variable from the developer's shell reaches load_config()."""
    for name in [n for n in os.environ if n.startswith("BULLETPROOF_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """The working directory is a project whose pyproject.toml sets PROJECT_HEADERS."""
    (tmp_path / "pyproject.toml").write_text(PROJECT_HEADERS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def empty_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """The working directory holds no bulletproof config at all."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
