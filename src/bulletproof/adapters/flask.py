"""Flask: the ``BulletproofFlask`` extension.

>>> from flask import Flask
>>> from bulletproof.adapters.flask import BulletproofFlask
>>> app = Flask(__name__)
>>> ext = BulletproofFlask(app)                    # or BulletproofFlask() then ext.init_app(app)

The extension wraps ``app.wsgi_app`` in
:class:`~bulletproof.adapters.wsgi.SecureHeadersWSGIMiddleware`, so *every* response gets the
policy: views, static files, error pages (404, the 500 of an exception, ``abort()``), redirects
and streamed responses, which ``after_request`` hooks would not all see. When the policy is
dynamic the request's CSP nonce is in ``g.csp_nonce`` and templates call ``{{ csp_nonce() }}``::

    <script nonce="{{ csp_nonce() }}">...</script>

``Server``: Flask sends none; Werkzeug's development server and gunicorn add their own (gunicorn
has no setting to drop it: hide it at the reverse proxy).

Added in 0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bulletproof.adapters.wsgi import NONCE_ENVIRON_KEY, SecureHeadersWSGIMiddleware
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError

if TYPE_CHECKING:
    from flask import Flask

    from bulletproof.events.base import Emitter
    from bulletproof.headers import HeaderPolicy

__all__ = ["BulletproofFlask", "csp_nonce"]

_EXTENSION: Final = "bulletproof"


def csp_nonce() -> str:
    """The CSP nonce of the current request (the Jinja global ``csp_nonce()``); "" when none.

    Added in 0.1.
    """
    from flask import request

    return str(request.environ.get(NONCE_ENVIRON_KEY) or "")


def _nonce_to_g() -> None:
    from flask import g, request

    g.csp_nonce = request.environ.get(NONCE_ENVIRON_KEY)


class BulletproofFlask:
    """Flask extension: the policy on every response of the app, and the nonce in templates.

    ``policy`` defaults to Helmet's defaults; ``emitter`` receives CSP report and render-failure
    events. After :meth:`init_app`, ``middleware`` is the WSGI middleware installed on
    ``app.wsgi_app``.

    Added in 0.1.
    """

    def __init__(
        self,
        app: Flask | None = None,
        policy: HeaderPolicy | None = None,
        *,
        emitter: Emitter | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        self.policy = policy
        self.emitter = emitter
        self.remove_server = remove_server
        self.clock = clock
        self.middleware: SecureHeadersWSGIMiddleware | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install on ``app``: wrap ``app.wsgi_app``, set ``g.csp_nonce``, add ``csp_nonce()``."""
        from flask import Flask

        if not isinstance(app, Flask):
            raise ConfigError(
                f"BulletproofFlask.init_app: {app!r} is not a Flask app: pass the Flask() object"
            )
        if _EXTENSION in app.extensions:
            raise ConfigError(
                f"BulletproofFlask: app {app.name!r} already has bulletproof installed: "
                "call BulletproofFlask(app) or init_app(app) once per app"
            )
        middleware = SecureHeadersWSGIMiddleware(
            app.wsgi_app,
            self.policy,
            emitter=self.emitter,
            remove_server=self.remove_server,
            clock=self.clock,
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.before_request(_nonce_to_g)
        app.add_template_global(csp_nonce, "csp_nonce")
        app.extensions[_EXTENSION] = self
        if self.middleware is None:
            self.middleware = middleware
