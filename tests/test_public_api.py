"""The public API: what ``__all__`` promises exists, is documented, and nothing else is public."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import subprocess
import sys
from importlib.metadata import version as dist_version
from types import ModuleType

import pytest

import bulletproof

ROOT_API = {
    "SecurityEvent",
    "protect",
    "Category",
    "Severity",
    "Outcome",
    "EventPipeline",
    "PipelineOptions",
    "Config",
    "load_config",
    "build_pipeline",
    "BulletproofError",
    "ConfigError",
    "SinkError",
    "SpoolError",
    "__version__",
}
EVENTS_API = {
    "ECS_VERSION",
    "Category",
    "Emitter",
    "Notifier",
    "Outcome",
    "SecurityEvent",
    "Severity",
    "Sink",
    "new_event_id",
}
TESTING_API = {"CapturingNotifier", "CapturingSink", "FakeClock"}


def public_names(module: ModuleType) -> set[str]:
    """Names bound in ``module`` that a user would take as public.

    Not public: underscored names, submodules, ``from __future__`` features, and things a plain
    module merely imported from elsewhere (``Any``, ``Sequence``, another package's errors). A
    package's re-exports from its own submodules count as public.
    """
    names: set[str] = set()
    package = module.__name__
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if isinstance(value, __future__._Feature):
            continue
        origin = getattr(value, "__module__", None)
        if (inspect.isclass(value) or inspect.isfunction(value)) and origin is not None:
            if origin != package and not origin.startswith(f"{package}."):
                continue
        elif origin in ("typing", "collections.abc", "typing_extensions"):
            continue
        names.add(name)
    return names


def own_doc(obj: object) -> str:
    """The docstring written for ``obj`` itself (a class must not just inherit one)."""
    if inspect.isclass(obj):
        return str(vars(obj).get("__doc__") or "")
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize(
    ("module_name", "expected"),
    [
        ("bulletproof", ROOT_API),
        ("bulletproof.events", EVENTS_API),
        ("bulletproof.testing", TESTING_API),
    ],
)
def test_all_is_exactly_the_public_api(module_name: str, expected: set[str]) -> None:
    module = importlib.import_module(module_name)
    declared = list(module.__all__)
    assert len(declared) == len(set(declared)), f"{module_name}.__all__ has duplicates"
    assert set(declared) == expected
    for name in declared:
        getattr(module, name)  # resolves (lazily for the root package)
    assert public_names(module) <= set(declared), (
        f"{module_name} has public names missing from __all__: "
        f"{sorted(public_names(module) - set(declared))}"
    )
    assert set(declared) <= set(dir(module))


@pytest.mark.parametrize(
    ("module_name", "name"),
    sorted(
        [("bulletproof", n) for n in ROOT_API - {"__version__"}]
        + [("bulletproof.events", n) for n in EVENTS_API - {"ECS_VERSION"}]
        + [("bulletproof.testing", n) for n in TESTING_API]
    ),
)
def test_every_public_name_is_documented(module_name: str, name: str) -> None:
    obj = getattr(importlib.import_module(module_name), name)
    doc = own_doc(obj)
    assert doc.strip(), f"{module_name}.{name} has no docstring"
    assert "Added in 0.1." in doc, f"{module_name}.{name}: docstring does not say 'Added in 0.1.'"


def test_root_reexports_are_the_real_objects() -> None:
    from bulletproof import config, errors
    from bulletproof.events import model, pipeline

    assert bulletproof.SecurityEvent is model.SecurityEvent
    assert bulletproof.EventPipeline is pipeline.EventPipeline
    assert bulletproof.PipelineOptions is pipeline.PipelineOptions
    assert bulletproof.load_config is config.load_config
    assert bulletproof.build_pipeline is config.build_pipeline
    assert bulletproof.Config is config.Config
    assert bulletproof.ConfigError is errors.ConfigError
    assert issubclass(bulletproof.ConfigError, bulletproof.BulletproofError)
    assert issubclass(bulletproof.SinkError, bulletproof.BulletproofError)
    assert issubclass(bulletproof.SpoolError, bulletproof.BulletproofError)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        bulletproof.nope  # noqa: B018
    assert not hasattr(bulletproof, "_LAZY_nothing")


def test_version_is_the_installed_one() -> None:
    assert isinstance(bulletproof.__version__, str)
    assert bulletproof.__version__ == dist_version("bulletproof")


def test_import_is_cheap_and_has_no_cycle() -> None:
    """``import bulletproof`` in a fresh interpreter works and does not load config or click."""
    code = (
        "import sys, bulletproof\n"
        "loaded = sorted(m for m in ('bulletproof.config', 'click', 'bulletproof.events.pipeline')"
        " if m in sys.modules)\n"
        "print(','.join(loaded))\n"
        "from bulletproof import *\n"
        "print(load_config.__module__, SecurityEvent.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == ""
    assert second == "bulletproof.config bulletproof.events.model"


@pytest.mark.parametrize(
    "module_name",
    sorted(
        m.name
        for m in pkgutil.walk_packages(bulletproof.__path__, "bulletproof.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    ),
)
def test_every_module_all_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{module_name} has no __all__"
    missing = [name for name in declared if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it does not define: {missing}"
