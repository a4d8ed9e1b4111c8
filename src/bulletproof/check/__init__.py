"""``bulletproof check``: every check that exists, in one report.

The report's sections, in order: ``config`` (the config is valid), then one per capability, each
contributed by a :class:`~bulletproof.check._base.SectionSource` listed in
:data:`~bulletproof.check._sources.SOURCES`: ``sinks`` and ``notifiers`` (each is reachable,
probed without sending an event), ``headers`` (the app's headers graded as the MDN Observatory
grades a site, and what Django's settings do to them) and ``routes`` (the app's route
inventory). A new capability adds its section with a source of its own; the runner,
:func:`run_check`, does not change.

What the result says (:attr:`CheckReport.exit_code`): 0 clean, 1 findings, 2 invalid config,
3 could not check everything. A section that does not apply to the project (``headers`` and
``routes`` when the config names no ``app``) says so in a ``skipped`` item and does not change
the result; one that applies but could not run (the app does not import, the grader fails) has
an ``error`` item, and the report is incomplete: exit 3, or 1 when there are findings too
(:attr:`CheckReport.incomplete` names those sections either way).

Added in 0.1.
"""

from __future__ import annotations

from bulletproof.check._base import (
    CheckContext,
    CheckItem,
    CheckReport,
    CheckSection,
    Probe,
    SectionSource,
    Status,
)
from bulletproof.check._run import run_check
from bulletproof.check._sources import SOURCES

__all__ = [
    "SOURCES",
    "CheckContext",
    "CheckItem",
    "CheckReport",
    "CheckSection",
    "Probe",
    "SectionSource",
    "Status",
    "run_check",
]
