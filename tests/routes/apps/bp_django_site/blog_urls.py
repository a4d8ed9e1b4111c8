# ruff: noqa: TID253  (a test app imports the web framework it is written in)
from __future__ import annotations

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.home, name="blog-index"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive, name="archive"),
]
