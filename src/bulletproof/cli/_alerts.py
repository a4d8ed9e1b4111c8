"""``bulletproof alerts test RULE``."""

from __future__ import annotations

import sys

import click

from bulletproof._delivery import test_alert_rule
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json, load

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Work with alert rules."""


@alerts.command("test")
@click.argument("rule")
@FORMAT_OPTION
@click.pass_context
def test(ctx: click.Context, rule: str, fmt: str) -> None:
    """Send a test alert for RULE to each of its notifiers now (exit 3 if one fails)."""
    results = test_alert_rule(load(ctx), rule)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json({"rule": rule, "notifiers": [{"name": n, "error": e} for n, e in results]})
    else:
        for name, error in results:
            click.echo(
                f"{'ok  ' if error is None else 'FAIL'} {name}" + (f": {error}" if error else "")
            )
    sys.exit(3 if any(e is not None for _, e in results) else 0)
