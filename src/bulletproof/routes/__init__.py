"""Route inventory: every route of an app with its methods, header coverage and authentication.

``route_inventory(app)`` asks the walker registered for the app's framework for the routes (the
walkers live in ``bulletproof.adapters.routes``, which registers them when imported; this
package imports no framework and no adapter). A walker for another framework is a
:class:`RouteWalker` given to :func:`register_walker`; what it finds is plain data that
:func:`build_inventory` judges:

>>> from bulletproof.routes import MethodAuth, RouteEntry, WalkResult, build_inventory
>>> entry = RouteEntry("/items", "shop.create", (MethodAuth("POST", "none", "no marker"),), True)
>>> walked = WalkResult("flask", (entry,), True, "add login_required", "call protect(app)")
>>> print(*build_inventory(walked).findings)
POST /items (shop.create) changes state (POST) and requires no authentication: add login_required

Added in 0.1.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulletproof.routes._inventory import (
        AuthState,
        MethodAuth,
        Route,
        RouteEntry,
        RouteInventory,
        RouteWalker,
        WalkResult,
        build_inventory,
        register_walker,
        route_inventory,
    )
    from bulletproof.routes._report import render_table

__all__ = [
    "AuthState",
    "MethodAuth",
    "Route",
    "RouteEntry",
    "RouteInventory",
    "RouteWalker",
    "WalkResult",
    "build_inventory",
    "register_walker",
    "render_table",
    "route_inventory",
]

# Loaded on first use: the config loader reads ``bulletproof.routes._settings`` in every worker,
# and a worker serving requests never needs the inventory code.
_HOME = {
    **dict.fromkeys(__all__, "_inventory"),
    "render_table": "_report",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
