"""bulletproof: make a Python web service hard to break.

The names below are the public API; each is imported on first use, so ``import bulletproof``
stays cheap and the configuration layer is not loaded until it is needed.

>>> import bulletproof
>>> bulletproof.Severity.HIGH > bulletproof.Severity.LOW
True

Added in 0.1.
"""

from __future__ import annotations

import importlib
import typing

__version__ = "0.1.0"

# Eager, so the name is the function even once the submodule ``bulletproof.protect`` is imported
# (importing a submodule sets the package attribute to the module). The module is light: it
# loads the adapters only when called.
from bulletproof.protect import protect

if typing.TYPE_CHECKING:
    from bulletproof.config import Config, build_pipeline, load_config
    from bulletproof.errors import BulletproofError, ConfigError, SinkError, SpoolError
    from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
    from bulletproof.events.pipeline import EventPipeline, PipelineOptions

__all__ = [
    "BulletproofError",
    "Category",
    "Config",
    "ConfigError",
    "EventPipeline",
    "Outcome",
    "PipelineOptions",
    "SecurityEvent",
    "Severity",
    "SinkError",
    "SpoolError",
    "__version__",
    "build_pipeline",
    "load_config",
    "protect",
]

_LAZY: typing.Final[dict[str, str]] = {
    "BulletproofError": "bulletproof.errors",
    "ConfigError": "bulletproof.errors",
    "SinkError": "bulletproof.errors",
    "SpoolError": "bulletproof.errors",
    "Category": "bulletproof.events.model",
    "Outcome": "bulletproof.events.model",
    "SecurityEvent": "bulletproof.events.model",
    "Severity": "bulletproof.events.model",
    "EventPipeline": "bulletproof.events.pipeline",
    "PipelineOptions": "bulletproof.events.pipeline",
    "Config": "bulletproof.config",
    "build_pipeline": "bulletproof.config",
    "load_config": "bulletproof.config",
}


def __getattr__(name: str) -> typing.Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bulletproof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
