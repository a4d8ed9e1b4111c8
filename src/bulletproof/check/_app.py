"""The ``headers`` and ``routes`` sections of ``bulletproof check``: the app named by ``app`` in
the config, graded in-process as the MDN HTTP Observatory grades a site, and its route inventory.

Both apply only when the config names an app (``[tool.bulletproof] app = "module:attr"``);
without one, each is one :attr:`~bulletproof.check._base.Status.SKIPPED` item saying so, and the
result does not change. An app that does not import, a grader or walker error, is an
:attr:`~bulletproof.check._base.Status.ERROR` (could not check: exit 3 unless there are findings).

``headers``: the grade of the check path (``"/"`` unless asked), a finding below A; for a Django
app, also what its settings do to the headers (bulletproof's middleware not first in
``MIDDLEWARE``; Django's ``SecurityMiddleware`` or ``XFrameOptionsMiddleware`` sending their
values instead of the policy's), one finding per setting to change, named ``settings.NAME``.
``routes``: a summary, then one finding per route problem (state-changing routes without
authentication, routes the header middleware does not cover), without repeating the Django
settings findings that ``headers`` reports.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bulletproof._text import one_line
from bulletproof.check._base import CheckContext, CheckItem, Probe, Status
from bulletproof.errors import BulletproofError

__all__ = ["HeadersSource", "RoutesSource"]

_NO_APP: Final = (
    "does not apply: no app configured; set app = 'module:attr' in [tool.bulletproof] to"
)


def _load(context: CheckContext, spec: str) -> object | CheckItem:
    """The app, or the error item that says it could not be imported."""
    try:
        return context.app()
    except BulletproofError as exc:
        return CheckItem(spec, Status.ERROR, f"could not load the app: {exc}")


def _django_findings(app: object) -> tuple[CheckItem, ...]:
    """What a Django app's settings do to the headers (nothing for any other app).

    Static files that WhiteNoise serves before the middleware are the routes section's (as the
    routes they leave uncovered); the others are reported here.
    """
    from bulletproof.adapters.routes import _django as django
    from bulletproof.routes._inventory import unwrap_app

    inner, _ = unwrap_app(app)
    if not django.WALKER.recognises(inner):
        return ()
    try:
        found = django.settings_findings(app)
    except BulletproofError as exc:
        return (CheckItem("settings", Status.ERROR, str(exc)),)
    return tuple(
        CheckItem(f"settings.{finding.setting}", Status.FINDING, finding.message)
        for finding in found
        if finding.issue is not django.SettingsIssue.WHITENOISE_FIRST
    )


class HeadersSource:
    """Grade the configured app's headers at the check path; a finding below A. Added in 0.1."""

    name: Final = "headers"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """The grade, then the Django settings findings. Added in 0.1."""
        spec = context.config.app
        if spec is None:
            return (CheckItem("app", Status.SKIPPED, f"{_NO_APP} grade its headers"),)
        app = _load(context, spec)
        if isinstance(app, CheckItem):
            return (app,)
        return (self._grade(context, app, spec), *_django_findings(app))

    @staticmethod
    def _grade(context: CheckContext, app: object, spec: str) -> CheckItem:
        from bulletproof.observatory import check as check_headers

        path = context.check_path
        try:
            checked = check_headers(
                app=app, path=path, timeout=context.timeout, label=spec, clock=context.clock
            )
        except BulletproofError as exc:
            return CheckItem(spec, Status.ERROR, str(exc))
        result = checked.result
        failed = [name for name, test in result.tests.items() if not test.passed]
        detail = f"grade {result.grade} (score {result.score}) for {path}" + (
            f"; failing: {', '.join(failed)}" if failed else ""
        )
        return CheckItem(spec, Status.OK if checked.meets("A") else Status.FINDING, detail)


class RoutesSource:
    """List the configured app's routes; one finding per route problem. Added in 0.1."""

    name: Final = "routes"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """A summary item, then the inventory's findings. Added in 0.1."""
        spec = context.config.app
        if spec is None:
            return (CheckItem("app", Status.SKIPPED, f"{_NO_APP} list its routes"),)
        app = _load(context, spec)
        if isinstance(app, CheckItem):
            return (app,)
        from bulletproof.adapters.routes import route_inventory

        try:
            inventory = route_inventory(app, public=context.config.routes.public)
        except BulletproofError as exc:
            return (CheckItem(spec, Status.ERROR, str(exc)),)
        summary = f"{len(inventory.routes)} route(s), {inventory.framework}, header middleware " + (
            "installed" if inventory.middleware_installed else "NOT installed"
        )
        said = {one_line(item.detail) for item in _django_findings(app)}
        return (
            CheckItem(spec, Status.OK, summary),
            *(CheckItem("route", Status.FINDING, f) for f in inventory.findings if f not in said),
        )
