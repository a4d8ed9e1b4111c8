"""The sections ``bulletproof check`` runs, in report order: one source per capability.

A capability that adds a section to the report writes a
:class:`~bulletproof.check._base.SectionSource` in its own module and adds it here; the runner
(:func:`bulletproof.check.run_check`) does not change.

Added in 0.1.
"""

from __future__ import annotations

from typing import Final

from bulletproof.check._app import HeadersSource, RoutesSource
from bulletproof.check._audit import AuditSource
from bulletproof.check._base import SectionSource
from bulletproof.check._delivery import NotifiersSource, SinksSource
from bulletproof.check._shield import ShieldSource
from bulletproof.check._supervise import SupervisorSource

__all__ = ["SOURCES"]

SOURCES: Final[tuple[SectionSource, ...]] = (
    SinksSource(),
    NotifiersSource(),
    HeadersSource(),
    RoutesSource(),
    ShieldSource(),
    AuditSource(),
    SupervisorSource(),
)
"""Every section after ``config``, in report order. Added in 0.1."""
