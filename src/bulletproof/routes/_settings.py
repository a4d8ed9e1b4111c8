"""``[tool.bulletproof.routes]``: how the route inventory judges routes.

>>> RoutesConfig(public=("/login",)).public
('/login',)

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RoutesConfig"]


@dataclass(frozen=True, slots=True)
class RoutesConfig:
    """``public`` lists paths meant to be reachable without logging in (a login form, a health
    check), so they are not reported. Added in 0.1.
    """

    public: tuple[str, ...] = ()
