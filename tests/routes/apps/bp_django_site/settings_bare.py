"""Settings: no header middleware (the WSGI/ASGI entry points wrap the handler instead)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("bulletproof.")]
