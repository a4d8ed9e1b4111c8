"""How the inventory finds the framework walkers: a registry in ``bulletproof.routes`` that
``bulletproof.adapters.routes`` fills when imported, so the framework-neutral inventory never
imports an adapter, not even by name at run time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bulletproof.adapters import routes as walkers
from bulletproof.adapters.routes import route_inventory
from bulletproof.errors import ConfigError
from bulletproof.routes import _inventory as inventory
from bulletproof.routes._inventory import RouteWalker, WalkResult, register_walker

FRAMEWORKS = ("django", "flask", "starlette", "fastapi", "werkzeug", "whitenoise")


def fresh(code: str, cwd: Path) -> object:
    """Run ``code`` in a new interpreter (nothing imported yet); return what it prints as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_inventory_alone_imports_no_adapter(tmp_path: Path) -> None:
    code = """if True:
        import json, sys
        import flask
        from bulletproof.errors import ConfigError
        from bulletproof.routes import route_inventory
        try:
            route_inventory(flask.Flask("shop"))
            message = None
        except ConfigError as exc:
            message = str(exc)
        loaded = sorted(m for m in sys.modules if m.startswith("bulletproof.adapters.routes"))
        print(json.dumps([message, loaded]))
    """
    assert fresh(code, tmp_path) == [
        "no route walker is registered: import bulletproof.adapters.routes first (it registers "
        "the Flask, Django, Starlette and FastAPI walkers), or call its route_inventory",
        [],
    ]


def test_importing_the_walkers_registers_them_and_imports_no_framework(tmp_path: Path) -> None:
    code = f"""if True:
        import json, sys
        import bulletproof.adapters.routes
        from bulletproof.routes._inventory import registered_walkers
        frameworks = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})
        print(json.dumps([frameworks, [w.name for w in registered_walkers()]]))
    """
    assert fresh(code, tmp_path) == [[], ["flask", "django", "starlette"]]


def test_the_walkers_package_registers_its_walkers_and_reexports_the_inventory() -> None:
    assert [w.name for w in inventory.registered_walkers()][:3] == ["flask", "django", "starlette"]
    assert inventory.registered_walkers()[:3] == walkers._WALKERS
    assert route_inventory is inventory.route_inventory


def fake_walker(name: str, framework: str, label: str) -> RouteWalker:
    def walk(app: object, *, covered: bool) -> WalkResult:
        return WalkResult(framework, (), covered, "hint", "install")

    return RouteWalker(name, (label,), lambda app: isinstance(app, dict), walk)


def test_the_first_registered_walker_that_recognises_the_app_lists_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inventory, "_WALKERS", dict(inventory._WALKERS))
    register_walker(fake_walker("first", "one", "One"))
    register_walker(fake_walker("second", "two", "Two"))
    assert route_inventory({}).framework == "one"
    register_walker(fake_walker("first", "uno", "Uno"))  # the same name: replaced, in place
    assert route_inventory({}).framework == "uno"
    names = [w.name for w in inventory.registered_walkers()]
    assert names == ["flask", "django", "starlette", "first", "second"]
    with pytest.raises(ConfigError) as caught:
        route_inventory(object())
    assert str(caught.value).startswith(
        "builtins.object is not a Flask, Django, Starlette, FastAPI, Uno or Two app: point at "
    )


def test_with_no_walker_registered_the_error_says_what_to_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inventory, "_WALKERS", {})
    with pytest.raises(ConfigError, match=r"^no route walker is registered: import "):
        route_inventory(object())
