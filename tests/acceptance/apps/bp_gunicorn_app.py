"""A WSGI app for the gunicorn acceptance tests, set up the way the README shows: the pipeline
is built from the project's config and started at import (so with ``--preload`` it is started in
the master, before the workers fork).

``GET /login?n=N`` emits one ``login_failed`` event (id ``login-N``) from one IP; every answer
is the worker's pid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from bulletproof.config import build_pipeline, load_config
from bulletproof.events import Category, SecurityEvent, Severity

pipeline = build_pipeline(load_config()).start()  # BULLETPROOF_CONFIG names the directory


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/login":
        n = environ.get("QUERY_STRING", "").removeprefix("n=")
        pipeline.emit(
            SecurityEvent(
                action="login_failed",
                category=Category.AUTH,
                severity=Severity.MEDIUM,
                message=f"login failed ({n})",
                source_ip="203.0.113.9",
                user_name="alice",
                details={"n": n, "pid": os.getpid()},
                id=f"login-{n}",
            )
        )
    body = str(os.getpid()).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
