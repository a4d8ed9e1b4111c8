# ruff: noqa: TID253  (a test app imports the web framework it is written in)
# mypy: disable-error-code="import-untyped,misc,untyped-decorator"
"""A small real Flask app for the route inventory tests (every Flask-Login marker, MethodView,
a blueprint with a before_request hook, an explicit OPTIONS route, static files).

``app`` is protected with ``bulletproof.protect`` (the BulletproofFlask extension, which adds
a before_request hook of its own); ``proxied`` has the WSGI middleware under Werkzeug's ProxyFix
on ``wsgi_app``; ``outer`` is the WSGI middleware around a whole Flask app; ``bare`` has none;
``clean`` has no finding at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask
from flask.views import MethodView
from flask_login import (
    LoginManager,
    fresh_login_required,
    login_required,
)
from werkzeug.middleware.proxy_fix import ProxyFix

from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.protect import protect


def audited(view: Callable[..., Any]) -> Callable[..., Any]:
    """An unrelated decorator of the app's own, stacked on top of login_required."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


class Notes(MethodView):
    def get(self) -> str:
        return "notes"

    @login_required
    def post(self) -> str:
        return "created"


class Users(MethodView):
    decorators = [login_required]  # noqa: RUF012

    def get(self) -> str:
        return "users"

    def delete(self) -> str:
        return "deleted"


def nobody(user_id: str) -> None:
    """Flask-Login's user loader: no session names a user, every request is anonymous."""
    return None


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"  # noqa: S105
    LoginManager(app).user_loader(nobody)

    @app.get("/")
    def index() -> str:
        return "home"

    @app.route("/items", methods=["GET", "POST"])
    @login_required
    def items() -> str:
        return "items"

    @app.post("/comments")
    def comment() -> str:
        return "thanks"

    @app.get("/account")
    @audited
    @fresh_login_required
    def account() -> str:
        return "account"

    @app.route("/cors", methods=["GET", "OPTIONS"])
    def cors() -> str:
        return "cors"

    app.add_url_rule("/notes", view_func=Notes.as_view("notes"))
    app.add_url_rule("/admin/users", view_func=Users.as_view("users"))

    api = Blueprint("api", __name__, url_prefix="/api")

    @api.before_request
    def check_token() -> None:
        return None

    @api.get("/ping")
    def ping() -> str:
        return "pong"

    @api.post("/jobs")
    def jobs() -> str:
        return "queued"

    app.register_blueprint(api)
    return app


app = protect(create_app())
proxied = create_app()
proxied.wsgi_app = ProxyFix(BulletproofWSGIMiddleware(proxied.wsgi_app))  # type: ignore[method-assign]
outer = BulletproofWSGIMiddleware(create_app())
bare = create_app()


def create_clean_app() -> Flask:
    clean = Flask("bp_flask_clean")
    clean.secret_key = "test-only"  # noqa: S105
    LoginManager(clean).user_loader(nobody)

    @clean.get("/")
    def index() -> str:
        return "home"

    @clean.post("/orders")
    @login_required
    def order() -> str:
        return "ordered"

    return clean


clean = protect(create_clean_app())
