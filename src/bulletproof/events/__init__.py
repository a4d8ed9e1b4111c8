"""Security events: the model, the processors, the spool and the delivery pipeline.

Added in 0.1.
"""

from bulletproof.events.base import Emitter, Notifier, Sink
from bulletproof.events.model import (
    ECS_VERSION,
    Category,
    Outcome,
    SecurityEvent,
    Severity,
    new_event_id,
)

__all__ = [
    "ECS_VERSION",
    "Category",
    "Emitter",
    "Notifier",
    "Outcome",
    "SecurityEvent",
    "Severity",
    "Sink",
    "new_event_id",
]
