"""Settings: WhiteNoise before the header middleware, which is named by its pre-0.1 dotted path and
is not first; Django's XFrameOptionsMiddleware inside it.

WhiteNoise is not installed in the test environment, and need not be: the route inventory reads
``MIDDLEWARE`` and never imports it (so these settings are inventoried, not served).
"""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import MIDDLEWARE

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bulletproof.adapters.django.SecureHeadersMiddleware",  # the name before 0.1
    *[m for m in MIDDLEWARE if not m.startswith("bulletproof.")],
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
STATIC_URL = "assets/"
WHITENOISE_ROOT = "/srv/site/root-files"
