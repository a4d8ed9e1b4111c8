# ruff: noqa: TID253  (a test app imports the web framework it is written in)
"""The project's own middleware."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware

from bulletproof.adapters.django import BulletproofMiddleware


class StrictLoginMiddleware(LoginRequiredMiddleware):
    """A project subclass: still Django's LoginRequiredMiddleware for the route inventory."""

    redirect_field_name = "continue"


class ProjectHeaders(BulletproofMiddleware):
    """A project subclass: still bulletproof's header middleware for the route inventory."""
