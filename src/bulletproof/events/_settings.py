"""``[tool.bulletproof.events]``: how events are spooled and where they go.

>>> EventsConfig().durability_lag, EventsConfig().sinks[0].display
(0.1, 'file:.bulletproof/events.jsonl')

Added in 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

from bulletproof._settings import (
    Context,
    Duration,
    Given,
    Parse,
    Rule,
    SinkConfig,
    Size,
    check_ranges,
)

if TYPE_CHECKING:
    from bulletproof.events.pipeline import PipelineOptions

__all__ = ["COMMON_RULES", "DEFAULT_SINK", "DEFAULT_SPOOL_DIR", "EventsConfig"]

_KIB: Final = 1024
_MIB: Final = 1024 * 1024
MAX_PENDING: Final = 10_000_000
"""The largest ``max_pending``: more events than that waiting in memory is no bound."""
MAX_FIELD_CHARS: Final = 1 << 24
"""The largest ``max_field_chars``: an event is at most 16MiB anyway."""

DEFAULT_SINK: Final = "file:.bulletproof/events.jsonl"
"""The sink used when none is configured: a JSON-lines file under the root. Added in 0.1."""

DEFAULT_SPOOL_DIR: Final = ".bulletproof/spool"
"""The spool directory used when none is configured, relative to the root. Added in 0.1."""

COMMON_RULES: Final[tuple[Rule, ...]] = (
    ("segment_bytes", lambda o: o.segment_bytes >= 4096, lambda o: "use at least 4KiB", ()),
    (
        "spool_max_bytes",
        lambda o: o.spool_max_bytes >= 2 * o.segment_bytes,
        lambda o: f"use at least twice segment_bytes ({o.segment_bytes} bytes)",
        ("segment_bytes",),
    ),
    (
        "durability_lag",
        lambda o: math.isfinite(o.durability_lag) and o.durability_lag > 0,
        lambda o: "use more than 0s",
        (),
    ),
    ("max_pending", lambda o: o.max_pending >= 1, lambda o: "use at least 1", ()),
    (
        "max_pending",
        lambda o: o.max_pending <= MAX_PENDING,
        lambda o: f"use from 1 to {MAX_PENDING} (events waiting in memory for the spool writer)",
        (),
    ),
    ("max_field_chars", lambda o: o.max_field_chars >= 16, lambda o: "use at least 16", ()),
    (
        "max_field_chars",
        lambda o: o.max_field_chars <= MAX_FIELD_CHARS,
        lambda o: f"use from 16 to {MAX_FIELD_CHARS} (16Mi characters)",
        (),
    ),
    (
        "max_event_bytes",
        lambda o: 1024 <= o.max_event_bytes <= 16 * _MIB,
        lambda o: "use from 1KiB to 16MiB (an event longer than that, serialized, is cut to it)",
        (),
    ),
)
"""The range checks the config section and the pipeline's options share. Added in 0.1."""

_RULES: Final[tuple[Rule, ...]] = (
    *COMMON_RULES,
    ("backoff_max", lambda o: o.backoff_max >= 0.1, lambda o: "use at least 100ms", ()),
)


def _sinks(given: Given, ctx: Context, parsed: Mapping[str, Any]) -> tuple[SinkConfig, ...]:
    return ctx.sinks(given)


def _default_sinks() -> tuple[SinkConfig, ...]:
    return (SinkConfig(DEFAULT_SINK, {}, DEFAULT_SINK),)


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """How events are spooled and where they go. Sizes in bytes, times in seconds.

    Relative paths are resolved against the config's root when loaded. With no sink
    configured, one ``file:.bulletproof/events.jsonl`` sink.

    Added in 0.1.
    """

    spool_dir: Path = Path(DEFAULT_SPOOL_DIR)
    spool_max_bytes: Annotated[int, Size()] = 256 * _MIB
    segment_bytes: Annotated[int, Size()] = 8 * _MIB
    durability_lag: Annotated[float, Duration()] = 0.1
    fsync: bool = True
    max_pending: int = 100_000
    backoff_max: Annotated[float, Duration()] = 10.0
    sinks: Annotated[tuple[SinkConfig, ...], Parse(_sinks)] = field(default_factory=_default_sinks)
    redact_fields: tuple[str, ...] = ()
    max_field_chars: int = 8192
    max_event_bytes: Annotated[int, Size()] = 64 * _KIB

    def __post_init__(self) -> None:
        check_ranges(self, _RULES)

    def to_options(self, service: str = "") -> PipelineOptions:
        """The :class:`~bulletproof.events.pipeline.PipelineOptions` for this section."""
        from bulletproof.events.pipeline import PipelineOptions

        return PipelineOptions(
            spool_dir=self.spool_dir,
            spool_max_bytes=self.spool_max_bytes,
            segment_bytes=self.segment_bytes,
            durability_lag=self.durability_lag,
            fsync=self.fsync,
            max_pending=self.max_pending,
            backoff_max=self.backoff_max,
            service=service,
            redact_fields=self.redact_fields,
            max_field_chars=self.max_field_chars,
            max_event_bytes=self.max_event_bytes,
        )
