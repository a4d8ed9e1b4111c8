"""Fixtures for the route inventory tests."""

from __future__ import annotations

import pytest
from tests.routes.helpers import APPS


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test apps' directory first on sys.path (restored afterwards)."""
    monkeypatch.syspath_prepend(str(APPS))
