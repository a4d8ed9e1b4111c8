"""Fixtures shared by the event tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bulletproof.events.pipeline import EventPipeline


@pytest.fixture
def pipelines() -> Iterator[list[EventPipeline]]:
    """Pipelines a test started; closed at the end whatever happened."""
    made: list[EventPipeline] = []
    yield made
    for pipe in made:
        pipe.close(timeout=0.2)
