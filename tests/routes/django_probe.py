"""Run in a subprocess by ``test_django.py``: Django can be configured once per process.

``python django_probe.py GROUP...``: each GROUP is comma-separated SPECs that share one Django
configuration. Django's modules are imported once, then one child is forked per GROUP (the
groups run in parallel and the import is paid once); each child loads its SPECs from the
current directory in turn. Prints one JSON object: SPEC -> ``{"inventory": ..., "answers":
{"METHOD URL": {...}}}``, or ``{"error": message}`` for a ConfigError. A SPEC written ``SPEC!``
gets no requests (inventory only). Each SPEC also reports ``settings_findings`` (as dicts).

The answers come from anonymous requests sent through the real Django WSGI handler (the app
itself when it is a WSGI callable), with a matching CSRF cookie and header so that CSRF
protection does not look like authentication.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import traceback
import types
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.routes.helpers import probes

from bulletproof._apploader import load_app
from bulletproof.adapters.routes import route_inventory
from bulletproof.adapters.routes._django import settings_findings
from bulletproof.errors import ConfigError

CSRF_SECRET = "a" * 32


def call(app: Any, method: str, url: str) -> dict[str, Any]:
    """One request through the WSGI callable ``app``: status, Location and a few headers.

    A URL may start with ``https://testserver``: the request is then a secure one.
    """
    parts = urlsplit(url)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": f"csrftoken={CSRF_SECRET}",
        "HTTP_X_CSRFTOKEN": CSRF_SECRET,
        "CONTENT_LENGTH": "0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = int(status.split()[0])
        seen["headers"] = {name.lower(): value for name, value in headers}
        return lambda data: None

    result = app(environ, start_response)
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    headers = seen["headers"]
    return {
        "status": seen["status"],
        "location": headers.get("location", ""),
        "nosniff": headers.get("x-content-type-options") == "nosniff",
        "frame_options": headers.get("x-frame-options", ""),
        "referrer_policy": headers.get("referrer-policy", ""),
        "hsts": headers.get("strict-transport-security", ""),
    }


def probe(spec: str, *, send_requests: bool) -> dict[str, Any]:
    try:
        app = load_app(spec, cwd=Path.cwd())
        inventory = route_inventory(app).to_dict()
        findings = [dataclasses.asdict(finding) for finding in settings_findings(app)]
    except ConfigError as exc:
        return {"error": str(exc)}
    answers: dict[str, Any] = {}
    if send_requests:
        if isinstance(app, types.ModuleType):
            from django.core.wsgi import get_wsgi_application

            app = get_wsgi_application()
        for method, url in [*probes(inventory["routes"]), ("GET", "https://testserver/about/")]:
            answers[f"{method} {url}"] = call(app, method, url)
    return {"inventory": inventory, "answers": answers, "settings_findings": findings}


def run_group(specs: list[str]) -> dict[str, Any]:
    return {spec: probe(spec.rstrip("!"), send_requests=not spec.endswith("!")) for spec in specs}


def preimport() -> None:
    """What every child needs and can import before Django is configured."""
    import django.contrib.auth.decorators
    import django.core.handlers.asgi
    import django.core.handlers.wsgi
    import django.db.models
    import django.forms
    import django.http
    import django.template
    import django.urls
    import django.views.generic  # noqa: F401

    import bulletproof.adapters.django  # noqa: F401


def main() -> int:
    groups = [arg.split(",") for arg in sys.argv[1:]]
    preimport()
    children = []
    for specs in groups:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: probe, report through the pipe, leave without cleanup
            os.close(read)
            try:
                payload = json.dumps(run_group(specs))
            except BaseException:  # noqa: BLE001 - reported to the test, which fails on it
                payload = json.dumps({",".join(specs): {"crash": traceback.format_exc()}})
            with os.fdopen(write, "w") as out:
                out.write(payload)
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    results: dict[str, Any] = {}
    for pid, read in children:
        with os.fdopen(read) as pipe:
            results.update(json.loads(pipe.read()))
        os.waitpid(pid, 0)
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
