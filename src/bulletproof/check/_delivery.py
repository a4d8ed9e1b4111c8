"""The ``sinks`` and ``notifiers`` sections of ``bulletproof check``: every sink and notifier the
config names is reachable, probed without sending an event.

Each is a :class:`~bulletproof.check._base.Probe`: the runner probes all of them at once, under
one deadline. A sink or notifier URL that is not valid is an invalid config (exit 2). Neither
section can be skipped: with none configured, the section is empty ("none configured").

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bulletproof.check._base import CheckContext, CheckItem, Probe
from bulletproof.sinks import notifier_from_url, sink_from_url

__all__ = ["NotifiersSource", "SinksSource"]


class SinksSource:
    """Probe every sink of ``[tool.bulletproof.events] sinks``. Added in 0.1."""

    name: Final = "sinks"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """One probe per sink, named as the config shows it (secrets masked). Added in 0.1."""
        cfg = context.config
        probes: list[CheckItem | Probe] = []
        for sink_cfg in cfg.events.sinks:
            sink = sink_from_url(sink_cfg.url, options=sink_cfg.options, base_dir=cfg.root)
            probes.append(Probe(sink_cfg.display, sink.probe))
        return probes


class NotifiersSource:
    """Probe every notifier of ``[tool.bulletproof.alerts.notifiers]``. Added in 0.1."""

    name: Final = "notifiers"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """One probe per notifier, named ``name (url)`` (secrets masked). Added in 0.1."""
        cfg = context.config
        probes: list[CheckItem | Probe] = []
        for n_cfg in cfg.alerts.notifiers:
            notifier = notifier_from_url(n_cfg.url, options=n_cfg.options, base_dir=cfg.root)
            probes.append(Probe(f"{n_cfg.name} ({n_cfg.display})", notifier.probe))
        return probes
