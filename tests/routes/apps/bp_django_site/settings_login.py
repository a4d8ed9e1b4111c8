"""Settings: Django 5.1+ LoginRequiredMiddleware (through a project subclass), DRF's
DEFAULT_PERMISSION_CLASSES set to IsAuthenticated, and no header middleware."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import MIDDLEWARE

MIDDLEWARE = [
    *[m for m in MIDDLEWARE if not m.startswith("bulletproof.")],
    "bp_django_site.middleware.StrictLoginMiddleware",
]
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
