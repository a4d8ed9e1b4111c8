# ruff: noqa: TID253  (a test app imports the web framework it is written in)
"""ASGI entry point, without the header middleware."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bp_django_site.settings_bare")
application = get_asgi_application()
