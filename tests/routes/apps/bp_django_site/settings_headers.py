"""Settings: the header middleware first (a project subclass), with Django's SecurityMiddleware
and XFrameOptionsMiddleware inside it, so that the values they set win: HSTS on, and
``BULLETPROOF_HEADERS`` agreeing with Django's Referrer-Policy (so that one is no finding)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import MIDDLEWARE

MIDDLEWARE = [
    "bp_django_site.middleware.ProjectHeaders",
    "django.middleware.security.SecurityMiddleware",
    *[m for m in MIDDLEWARE if not m.startswith("bulletproof.")],
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
SECURE_HSTS_SECONDS = 3600
BULLETPROOF_HEADERS = {"referrer_policy": {"policy": "same-origin"}}
