"""``protect(app)``: bulletproof around any ASGI or WSGI app, in one line.

>>> from bulletproof.protect import protect
>>> def wsgi_app(environ, start_response): ...
>>> protected = protect(wsgi_app)
>>> type(protected).__name__
'BulletproofWSGIMiddleware'

What it wraps: an ASGI app (Starlette, FastAPI, Django's ``get_asgi_application()``, any async
callable taking ``scope, receive, send``) in
:class:`~bulletproof.adapters.asgi.BulletproofMiddleware`; a WSGI app (Django's
``get_wsgi_application()``, any callable taking ``environ, start_response``) in
:class:`~bulletproof.adapters.wsgi.BulletproofWSGIMiddleware`; a Flask app is changed in place
(its ``wsgi_app`` is wrapped, see :class:`~bulletproof.adapters.flask.BulletproofFlask`, which
also reads ``app.config["BULLETPROOF_HEADERS"]``) and returned. Wrap the outermost app, so error
pages made by the framework get the headers too.

Where the settings come from: with no ``policy`` (nor ``config``), the project's config,
:func:`bulletproof.config.load_config` (``[tool.bulletproof]`` in the working directory's
``pyproject.toml`` or ``bulletproof.toml``, or the path in ``BULLETPROOF_CONFIG``, with the
``BULLETPROOF_*`` environment variables), built once, here: ``[tool.bulletproof.headers]`` is
the header policy. When those headers set ``csp_report_path`` and no ``emitter`` is given,
``protect`` also starts the config's event pipeline (:func:`bulletproof.config.build_pipeline`),
so that the CSP reports reach the configured sinks; otherwise it starts nothing. To send
everything through one pipeline, pass the app's own: ``protect(app, emitter=pipeline)``.

Added in 0.1.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

from bulletproof.errors import ConfigError

if TYPE_CHECKING:
    from bulletproof.config import Config
    from bulletproof.events.base import Emitter
    from bulletproof.guard import Guard
    from bulletproof.headers import HeaderPolicy

__all__ = ["protect"]


def _positional_count(app: Any) -> int | None:
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in signature.parameters.values() if p.kind in kinds)


def _is_asgi(app: Any) -> bool | None:
    """True for ASGI, False for WSGI, None when it cannot tell."""
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return True
    count = _positional_count(app)
    if count == 3:
        return True
    if count == 2:
        return False
    return None


def protect(
    app: Any,
    policy: HeaderPolicy | None = None,
    *,
    config: Config | None = None,
    guard: Guard | None = None,
    emitter: Emitter | None = None,
) -> Any:
    """Wrap ``app`` in bulletproof's guard: ``policy`` on every HTTP response, and more.

    The guard is built from ``policy``, from ``config`` (a loaded
    :class:`~bulletproof.config.Config`), is ``guard`` itself, or, with none of them, comes from
    the project's config (see the module). Returns the wrapped app (a Flask app comes back
    itself, with ``wsgi_app`` wrapped). ``emitter`` receives the CSP report and render-failure
    events. Raises :class:`~bulletproof.errors.ConfigError` for something that is not an ASGI
    or WSGI app, an app that is already protected, or an invalid config.

    Added in 0.1.
    """
    from bulletproof.adapters.asgi import BulletproofMiddleware
    from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware

    if isinstance(app, BulletproofMiddleware | BulletproofWSGIMiddleware):
        raise ConfigError(
            f"protect: {app!r} is already protected: call protect() once, on the outermost app"
        )
    options: dict[str, Any] = {"config": config, "guard": guard, "emitter": emitter}
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from bulletproof.adapters.flask import BulletproofFlask

        BulletproofFlask(app, policy, **options)
        return app
    if not callable(app):
        raise ConfigError(
            f"protect: {app!r} is a {type(app).__name__}, not a web app: pass an ASGI app "
            "(async scope, receive, send) or a WSGI app (environ, start_response)"
        )
    kind = _is_asgi(app)
    if kind is None:
        raise ConfigError(
            f"protect: cannot tell whether {app!r} is an ASGI or a WSGI app (it takes neither "
            "3 nor 2 positional arguments): wrap it yourself with "
            "bulletproof.adapters.BulletproofMiddleware (ASGI) or BulletproofWSGIMiddleware"
        )
    if kind:
        return BulletproofMiddleware(app, policy, **options)
    return BulletproofWSGIMiddleware(app, policy, **options)
