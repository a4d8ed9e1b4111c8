"""Fixtures for the adapter tests: a project directory holding a bulletproof config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.adapters.common import PROJECT_HEADERS


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
