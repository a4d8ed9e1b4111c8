"""Settings whose URLconf includes a module that fails to import."""

from __future__ import annotations

from .settings import *  # noqa: F403

ROOT_URLCONF = "bp_django_site.urls_broken"
