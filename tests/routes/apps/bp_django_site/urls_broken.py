# ruff: noqa: TID253  (a test app imports the web framework it is written in)
from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("shop/", include("bp_django_site.missing_urls"))]
