"""Flask: the ``BulletproofFlask`` extension.

>>> from flask import Flask
>>> from bulletproof.adapters.flask import BulletproofFlask
>>> app = Flask(__name__)
>>> app.config["BULLETPROOF_HEADERS"] = {"x_frame_options": {"action": "deny"}}
>>> ext = BulletproofFlask(app)                    # or BulletproofFlask() then ext.init_app(app)
>>> ("X-Frame-Options", "DENY") in ext.middleware.policy.headers
True

The extension wraps ``app.wsgi_app`` in
:class:`~bulletproof.adapters.wsgi.BulletproofWSGIMiddleware`, so *every* response gets the
policy: views, static files, error pages (404, the 500 of an exception, ``abort()``), redirects
and streamed responses, which ``after_request`` hooks would not all see. Without ``policy=``,
``config=`` or ``guard=``, :meth:`BulletproofFlask.init_app` builds the guard from the project's
config (:func:`bulletproof.config.load_config`: the working directory's ``pyproject.toml``, or
``BULLETPROOF_CONFIG``) with the app's ``BULLETPROOF_*`` config keys mapped onto it:
``app.config["BULLETPROOF_HEADERS"]`` (a dict of :func:`~bulletproof.headers.secure_headers`
options) replaces ``[tool.bulletproof.headers]``, ``BULLETPROOF_<SECTION>__<KEY>`` sets
``<section>.<key>``, ``BULLETPROOF_CONFIG`` is the config's path and ``BULLETPROOF_EMITTER`` an
emitter (or its dotted path) for the report events.

When the policy is dynamic the request's CSP nonce is in ``g.csp_nonce`` and templates call
``{{ csp_nonce() }}``::

    <script nonce="{{ csp_nonce() }}">...</script>

When the policy has no nonce, ``csp_nonce()`` renders ``""`` as before (a ``<script src>`` with
an empty nonce still loads under ``script-src 'self'``) and the first call logs an error naming
the fix; ``g.csp_nonce`` is a :class:`~bulletproof.headers._context.MissingNonce` that does the
same.

``Server``: Flask sends none; Werkzeug's development server and gunicorn add their own (gunicorn
has no setting to drop it: hide it at the reverse proxy).

Added in 0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bulletproof.adapters import _build_guard, _emitter_setting
from bulletproof.adapters.wsgi import NONCE_ENVIRON_KEY, BulletproofWSGIMiddleware
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.headers._context import MissingNonce

if TYPE_CHECKING:
    from flask import Flask

    from bulletproof.config import Config
    from bulletproof.events.base import Emitter
    from bulletproof.guard import Guard
    from bulletproof.headers import HeaderPolicy

__all__ = ["BulletproofFlask", "csp_nonce"]

_EXTENSION: Final = "bulletproof"
_UNPROTECTED: Final = MissingNonce("Flask csp_nonce()", raises=False)


def csp_nonce() -> str:
    """The CSP nonce of the current request (the Jinja global ``csp_nonce()``).

    ``""`` when the policy has no nonce, and the first such call per app logs an error naming
    the fix.

    Added in 0.1.
    """
    from flask import g, request

    nonce = request.environ.get(NONCE_ENVIRON_KEY)
    if nonce is not None:
        return str(nonce)
    return str(g.get("csp_nonce", _UNPROTECTED))


class BulletproofFlask:
    """Flask extension: the guard on every response of the app, and the nonce in templates.

    The guard comes from ``policy`` (a :class:`~bulletproof.headers.HeaderPolicy`), ``config``
    (a :class:`~bulletproof.config.Config`), ``guard``, or, with none of them, the project's
    config with the app's ``BULLETPROOF_*`` keys mapped onto it (see the module). ``emitter``
    receives CSP report and render-failure events. After :meth:`init_app`, ``middleware`` is
    the WSGI middleware installed on ``app.wsgi_app`` (of the first app).

    Added in 0.1.
    """

    def __init__(
        self,
        app: Flask | None = None,
        policy: HeaderPolicy | None = None,
        *,
        config: Config | None = None,
        guard: Guard | None = None,
        emitter: Emitter | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        self.policy = policy
        self.config = config
        self.guard = guard
        self.emitter = emitter
        self.remove_server = remove_server
        self.clock = clock
        self.middleware: BulletproofWSGIMiddleware | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install on ``app``: wrap ``app.wsgi_app``, set ``g.csp_nonce``, add ``csp_nonce()``."""
        from flask import Flask, g, request

        if not isinstance(app, Flask):
            raise ConfigError(
                f"BulletproofFlask.init_app: {app!r} is not a Flask app: pass the Flask() object"
            )
        if _EXTENSION in app.extensions:
            raise ConfigError(
                f"BulletproofFlask: app {app.name!r} already has bulletproof installed: "
                "call BulletproofFlask(app) or init_app(app) once per app"
            )
        values = {
            name: value for name, value in app.config.items() if name.startswith("BULLETPROOF_")
        }
        emitter = self.emitter
        if emitter is None and self.guard is None:
            emitter = _emitter_setting(
                values.get("BULLETPROOF_EMITTER"), "app.config['BULLETPROOF_EMITTER']"
            )
        guard = _build_guard(
            "BulletproofFlask",
            policy=self.policy,
            config=self.config,
            guard=self.guard,
            emitter=emitter,
            remove_server=self.remove_server,
            clock=self.clock,
            settings=values,
            settings_name="app.config",
        )
        middleware = BulletproofWSGIMiddleware(app.wsgi_app, guard=guard)
        missing = MissingNonce(f"Flask app {app.name!r}: csp_nonce() / g.csp_nonce", raises=False)

        def nonce_to_g() -> None:
            g.csp_nonce = request.environ.get(NONCE_ENVIRON_KEY) or missing

        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.before_request(nonce_to_g)
        app.add_template_global(csp_nonce, "csp_nonce")
        app.extensions[_EXTENSION] = self
        if self.middleware is None:
            self.middleware = middleware
