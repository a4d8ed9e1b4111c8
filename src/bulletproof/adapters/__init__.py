"""bulletproof in every web framework: one :class:`~bulletproof.guard.Guard`, one adapter each.

* :class:`bulletproof.adapters.asgi.BulletproofMiddleware`: pure ASGI (Starlette, FastAPI,
  Django ASGI, any ASGI app); also exported here.
* :class:`bulletproof.adapters.wsgi.BulletproofWSGIMiddleware`: pure WSGI (Flask, Django WSGI,
  any WSGI app); also exported here.
* :mod:`bulletproof.adapters.django`: ``BulletproofMiddleware`` for ``MIDDLEWARE`` (settings
  ``BULLETPROOF_*``) and the ``csp_nonce`` template context processor.
* :mod:`bulletproof.adapters.flask`: the ``BulletproofFlask`` extension (``app.config``).

The adapters only translate requests into calls of the guard and its answers back into
responses; the guard holds the header policy, the CSP report endpoint and the request checks.
Every adapter builds its guard the same way: from ``policy=`` (a
:class:`~bulletproof.headers.HeaderPolicy`), from ``config=`` (a
:class:`~bulletproof.config.Config`), from ``guard=`` (a ready :class:`~bulletproof.guard.Guard`),
or, with none of them, from the project's config, :func:`bulletproof.config.load_config` (found
from the working directory, or ``BULLETPROOF_CONFIG``), with Django's settings or Flask's
``app.config`` mapped onto it: ``BULLETPROOF_HEADERS`` is the ``headers`` table, and generally
``BULLETPROOF_<SECTION>__<KEY>`` is ``<section>.<key>``, the names of the environment variables.

When the guard is built from a config whose headers set ``csp_report_path`` and no ``emitter`` is
given, the adapter starts the config's event pipeline (:func:`bulletproof.config.build_pipeline`)
for the report events: those are the only events a guard built from a config makes. Pass
``emitter=`` (your app's pipeline) to use one pipeline for everything.

All adapters follow Helmet's semantics: the policy's headers are added to each response that does
not already carry them (a header the route set itself wins, compared case-insensitively), and
the names in ``policy.remove`` (``X-Powered-By``) are stripped. The framework modules import their
framework lazily, so importing this package never imports Django, Flask or Starlette.

Added in 0.1.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.events.base import Emitter
from bulletproof.guard import Guard

if TYPE_CHECKING:
    from bulletproof.adapters.asgi import BulletproofMiddleware
    from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
    from bulletproof.config import Config
    from bulletproof.events.model import SecurityEvent
    from bulletproof.headers import HeaderPolicy
    from bulletproof.headers._report import CspReportEndpoint

__all__ = ["BulletproofMiddleware", "BulletproofWSGIMiddleware"]

_LAZY: Final = {
    "BulletproofMiddleware": "bulletproof.adapters.asgi",
    "BulletproofWSGIMiddleware": "bulletproof.adapters.wsgi",
}

_PREFIX: Final = "BULLETPROOF_"
_NOT_CONFIG: Final = frozenset({"BULLETPROOF_CONFIG", "BULLETPROOF_EMITTER"})


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bulletproof.adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Guarded:
    """What every adapter shows of its guard: ``guard`` itself, its policy, emitter, reports."""

    guard: Guard

    @property
    def policy(self) -> HeaderPolicy:
        """The header policy the guard applies. Added in 0.1."""
        return self.guard.policy

    @property
    def emitter(self) -> Emitter | None:
        """Where the guard's events go (None: they are logged). Added in 0.1."""
        return self.guard.emitter

    @property
    def csp_reports(self) -> CspReportEndpoint | None:
        """The CSP report endpoint's limits and counters (None: no endpoint). Added in 0.1."""
        return self.guard.csp_reports


def _build_guard(
    owner: str,
    *,
    policy: HeaderPolicy | None = None,
    config: Config | None = None,
    guard: Guard | None = None,
    emitter: Emitter | None = None,
    remove_server: bool = True,
    clock: Clock = system_clock,
    settings: Mapping[str, object] | None = None,
    settings_name: str = "settings",
) -> Guard:
    """The one way every adapter gets its guard; ``owner`` names the adapter in errors.

    At most one of ``policy``, ``config`` and ``guard``. With none, the project's config is
    loaded, with ``settings`` (the framework's ``BULLETPROOF_*`` values, called
    ``settings_name`` in messages) mapped onto it.
    """
    choices = (("policy", policy), ("config", config), ("guard", guard))
    given = [f"{name}=" for name, value in choices if value is not None]
    if len(given) > 1:
        raise ConfigError(
            f"{owner}: {' and '.join(given)} are given; each says the whole thing (a guard holds "
            "its policy, a config builds the guard): pass only one of them"
        )
    if guard is not None:
        if not isinstance(guard, Guard):
            raise ConfigError(
                f"{owner}: guard={guard!r} is a {type(guard).__name__}, not a "
                "bulletproof.guard.Guard: pass a Guard(...), or policy= instead"
            )
        if emitter is not None or not remove_server or clock is not system_clock:
            raise ConfigError(
                f"{owner}: guard= is given with emitter=, remove_server= or clock=, which the "
                "guard already holds: pass those to Guard(...) instead"
            )
        return guard
    if policy is not None:
        return Guard(policy, emitter=emitter, remove_server=remove_server, clock=clock)
    if config is None:
        config = _load_config(settings or {}, settings_name)
    return _guard_from_config(config, emitter=emitter, remove_server=remove_server, clock=clock)


def _guard_from_config(
    config: Config, *, emitter: Emitter | None, remove_server: bool, clock: Clock
) -> Guard:
    from bulletproof.config import build_header_policy, build_pipeline

    policy = build_header_policy(config)
    if emitter is None and policy.csp_report_path is not None:
        emitter = build_pipeline(config, clock=clock).start()
    elif emitter is None and config.shield.enabled:
        emitter = _LazyPipeline(config, clock)
    shield = config.shield.build(emitter, clock=clock)
    if config.audit.at_startup:
        from bulletproof.audit._runtime import start_startup_audit

        if emitter is None:
            emitter = _LazyPipeline(config, clock)
        start_startup_audit(config.audit, config.root, emitter)
    return Guard(policy, emitter=emitter, shield=shield, remove_server=remove_server, clock=clock)


class _LazyPipeline:
    """The config's event pipeline, started by the first event (most processes of a healthy
    service never see one, and a guard must not start threads and spools just in case)."""

    def __init__(self, config: Config, clock: Clock) -> None:
        import threading

        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._pipeline: Emitter | None = None
        self._failed = False

    def emit(self, event: SecurityEvent) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            pipeline = self._start()
            if pipeline is None:  # logged instead, so the event is not lost from sight
                import logging

                logging.getLogger("bulletproof.shield").warning(
                    "%s [%s] %s", event.action, event.id, event.message
                )
                return
        pipeline.emit(event)

    def _start(self) -> Emitter | None:
        import logging

        from bulletproof.config import build_pipeline

        with self._lock:
            if self._pipeline is None and not self._failed:
                try:
                    self._pipeline = build_pipeline(self._config, clock=self._clock).start()
                except Exception:  # the request goes on; the failure is logged once
                    self._failed = True
                    logging.getLogger("bulletproof.shield").exception(
                        "the event pipeline could not start; shield events are logged only"
                    )
            return self._pipeline


def _load_config(settings: Mapping[str, object], settings_name: str) -> Config:
    """The project's config with the framework's ``BULLETPROOF_*`` settings as overrides."""
    from bulletproof.config import load_config

    overrides: dict[str, object] = {}
    for name, value in settings.items():
        if not name.startswith(_PREFIX) or name in _NOT_CONFIG:
            continue
        overrides[name[len(_PREFIX) :].lower().replace("__", ".")] = value
    headers = overrides.get("headers")
    if headers is not None:
        where = f"{settings_name}.BULLETPROOF_HEADERS"
        if not isinstance(headers, Mapping):
            raise ConfigError(
                f"{where}={headers!r} is a {type(headers).__name__}: use a dict of "
                "bulletproof.headers.secure_headers() options, e.g. "
                '{"x_frame_options": {"action": "deny"}}'
            )
        bad = [key for key in headers if not isinstance(key, str)]
        if bad:
            raise ConfigError(
                f"{where} has a key that is not a string: {bad[0]!r}; use the option names of "
                "bulletproof.headers.secure_headers()"
            )
    path = settings.get("BULLETPROOF_CONFIG")
    if path is not None and not isinstance(path, str | os.PathLike):
        raise ConfigError(
            f"{settings_name}.BULLETPROOF_CONFIG={path!r} is a {type(path).__name__}: use the "
            "path of the project directory or of its TOML config file"
        )
    try:
        return load_config(path, overrides=overrides)
    except ConfigError as exc:
        if not overrides:
            raise
        names = ", ".join(
            f"{settings_name}.{name}"
            for name in settings
            if name.startswith(_PREFIX) and name not in _NOT_CONFIG
        )
        raise ConfigError(f"{exc} (the config was loaded with {names} as overrides)") from None


def _emitter_setting(value: object, where: str) -> Emitter | None:
    """A framework setting's emitter: an Emitter, the dotted path of one, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        module_name, _, attr = value.rpartition(".")
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(
                f"{where}={value!r} cannot be imported ({exc}): "
                "use the dotted path of an object with an emit(event) method"
            ) from exc
    if not isinstance(value, Emitter):
        raise ConfigError(
            f"{where}={value!r} has no emit(event) method: "
            "use an EventPipeline (bulletproof.build_pipeline) or another Emitter"
        )
    return value
