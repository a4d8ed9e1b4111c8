"""The ``bulletproof`` command: a thin shell over the library.

Each command parses flags, calls one library function and renders the result. Library errors map
to exit codes: 0 clean, 1 findings, 2 usage or bad input, 3 could not check everything.

Added in 0.1.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bulletproof import __version__
from bulletproof.cli import _common
from bulletproof.cli._alerts import alerts
from bulletproof.cli._audit import audit
from bulletproof.cli._check import check
from bulletproof.cli._config import config
from bulletproof.cli._events import events
from bulletproof.cli._headers import headers
from bulletproof.cli._inspect import inspect
from bulletproof.cli._routes import routes
from bulletproof.cli._run import reload, run

__all__ = ["cli", "main"]


@click.group(cls=_common.BulletproofGroup, context_settings=_common.CONTEXT)
@click.version_option(__version__, prog_name="bulletproof")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=True, path_type=str),
    default=None,
    help="Config file or project directory (default: BULLETPROOF_CONFIG, else the current "
    "directory's bulletproof.toml or pyproject.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Harden a Python web service: security events, alerts, checks."""
    ctx.obj = {"config_path": config_path}


cli.add_command(check)
cli.add_command(config)
cli.add_command(events)
cli.add_command(alerts)
cli.add_command(headers)
cli.add_command(routes)
cli.add_command(inspect)
cli.add_command(audit)
cli.add_command(run)
cli.add_command(reload)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``bulletproof`` console script. Added in 0.1."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="bulletproof")
