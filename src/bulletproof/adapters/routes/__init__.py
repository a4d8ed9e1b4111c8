"""The route walkers: how :func:`bulletproof.routes.route_inventory` reads each framework's routes.

Importing this package registers the Flask, Django and Starlette/FastAPI walkers with
:func:`bulletproof.routes._inventory.register_walker`, in that order; the inventory itself imports
no adapter. :func:`route_inventory` is the inventory's own function, re-exported so that one
import both registers the walkers and gives it::

    from bulletproof.adapters.routes import route_inventory
    inventory = route_inventory(app)

Each walker module imports its framework lazily, inside its functions, so importing this package
imports no web framework.

Added in 0.1.
"""

from __future__ import annotations

from typing import Final

from bulletproof.adapters.routes import _django as django
from bulletproof.adapters.routes import _flask as flask
from bulletproof.adapters.routes import _starlette as starlette
from bulletproof.routes._inventory import RouteWalker, register_walker, route_inventory

__all__ = ["route_inventory"]

_WALKERS: Final[tuple[RouteWalker, ...]] = (flask.WALKER, django.WALKER, starlette.WALKER)
"""The walkers this package registers, in the order the inventory asks them. Added in 0.1."""

for _walker in _WALKERS:
    register_walker(_walker)
