"""Helpers shared by the route inventory tests (and by ``django_probe.py`` in its subprocess).

The inventory makes two claims per route that a real request can check: ``covered`` means the
response carries the header middleware's headers, and ``auth`` says whether an anonymous request
is turned away. :func:`assert_matches_behaviour` sends one anonymous request per route and checks
both claims against what the framework actually answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPS = Path(__file__).with_name("apps")

_REGEX_GROUP = re.compile(r"\(\?P<\w+>([^)]*)\)")
_FLASK_OR_DJANGO_PARAM = re.compile(r"<[^>]+>")
_STARLETTE_PARAM = re.compile(r"\{[^}]+\}")


@dataclass(frozen=True)
class Answer:
    """What the app answered to one anonymous request."""

    status: int
    location: str
    nosniff: bool
    frame_options: str = ""
    referrer_policy: str = ""
    hsts: str = ""


def _regex_sample(match: re.Match[str]) -> str:
    body = match[1]
    if re.fullmatch(r"\w+", body):
        return body
    return "2024" if body.endswith("{4}") else "1"


def sample_url(path: str) -> str:
    """A concrete URL for a route pattern: every parameter becomes ``1``.

    A regex group that is a plain word (Django admin's ``(?P<app_label>auth)``) keeps the word,
    ``[0-9]{4}`` becomes ``2024``; a host route ``//host/path`` becomes ``http://host/path``.
    """
    url = _REGEX_GROUP.sub(_regex_sample, path)
    url = _FLASK_OR_DJANGO_PARAM.sub("1", url)
    url = _STARLETTE_PARAM.sub("1", url)
    return f"http:{url}" if url.startswith("//") else url


def request_method(methods: list[str]) -> str:
    """The method to try a route with: its first, POST for a route taking any method."""
    return "POST" if methods[0] == "*" else methods[0]


def probes(routes: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(method, url)`` for every HTTP route (websockets are left out)."""
    return [
        (request_method(r["methods"]), sample_url(r["path"]))
        for r in routes
        if r["methods"] != ["WEBSOCKET"]
    ]


def rejected(answer: Answer) -> bool:
    """Whether an anonymous request was turned away: 401/403, a redirect to a login page, or
    FastAPI's 422 for a missing credential header. Django's admin sends an anonymous logout to
    the admin index (which asks for the login) rather than to the login page."""
    if answer.status in (401, 403, 422):
        return True
    redirect = answer.status in (301, 302, 303, 307)
    return redirect and ("login" in answer.location or answer.location == "/admin/")


def assert_matches_behaviour(
    routes: list[Mapping[str, Any]], send: Callable[[str, str], Answer]
) -> int:
    """Check every route's ``covered`` and ``auth`` against a real anonymous request.

    Returns how many routes had their auth checked (``unknown`` ones are not).
    """
    checked = 0
    for route in routes:
        if route["methods"] == ["WEBSOCKET"]:
            continue
        method, url = request_method(route["methods"]), sample_url(route["path"])
        answer = send(method, url)
        where = f"{method} {url} ({route['endpoint']}): {answer}"
        assert answer.nosniff is route["covered"], f"coverage claim wrong for {where}"
        if route["auth"] == "required":
            assert rejected(answer), f"claimed 'required' but an anonymous request got in: {where}"
            checked += 1
        elif route["auth"] == "none":
            assert not rejected(answer), f"claimed 'none' but anonymous was turned away: {where}"
            checked += 1
    return checked


def by_key(routes: list[Mapping[str, Any]]) -> dict[tuple[str, tuple[str, ...]], Mapping[str, Any]]:
    """Routes keyed by ``(path, methods)`` (a route split by auth has one entry per group)."""
    keyed = {(r["path"], tuple(r["methods"])): r for r in routes}
    assert len(keyed) == len(routes), "two routes share a path and methods"
    return keyed
