# ruff: noqa: TID253  (a test app imports the web framework it is written in)
"""WSGI entry points: ``application`` bare, ``protected`` inside the header middleware."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from bulletproof.protect import protect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bp_django_site.settings_bare")
application = get_wsgi_application()
protected = protect(application)
