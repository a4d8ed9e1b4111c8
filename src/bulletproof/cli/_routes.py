"""``bulletproof routes APP``."""

from __future__ import annotations

import sys

import click

from bulletproof._apploader import load_app
from bulletproof.adapters.routes import route_inventory  # importing it registers the walkers
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json, load
from bulletproof.routes import render_table

__all__ = ["routes"]


@click.command()
@click.argument("app", metavar="APP")
@click.option(
    "--public",
    multiple=True,
    help="A path meant to be reachable without logging in (repeatable); added to "
    "[tool.bulletproof.routes] public.",
)
@FORMAT_OPTION
@click.pass_context
def routes(ctx: click.Context, app: str, public: tuple[str, ...], fmt: str) -> None:
    """List every route of APP with its methods, header coverage and authentication.

    APP is 'module:attribute' (a Flask, Starlette or FastAPI app, a Django WSGI/ASGI handler such
    as 'mysite.wsgi:application'), 'module' for its attribute app or application, or a Django
    settings module; it is imported from the current directory. Findings: routes that change
    state without authentication, routes the header middleware does not cover.

    Exit 0 when clean, 1 with findings, 2 when APP cannot be loaded.
    """
    deliberate = (*load(ctx).routes.public, *public)
    inventory = route_inventory(load_app(app), public=deliberate)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json(inventory.to_dict())
    else:
        click.echo(render_table(inventory))
    sys.exit(1 if inventory.findings else 0)
