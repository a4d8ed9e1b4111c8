"""``bulletproof check [PATH]``."""

from __future__ import annotations

import sys

import click

from bulletproof.check import Status, run_check
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json

__all__ = ["check"]

_MARK = {Status.OK: "ok", Status.FINDING: "FAIL", Status.ERROR: "ERROR", Status.SKIPPED: "skip"}


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=str))
@FORMAT_OPTION
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each probe.")
@click.pass_context
def check(ctx: click.Context, path: str | None, fmt: str, timeout: float) -> None:
    """Run every check on the project at PATH (default: the current directory).

    Exit 0 when clean, 1 with findings, 2 when the config is invalid, 3 when something could not
    be checked.
    """
    chosen = path if path is not None else (ctx.obj or {}).get("config_path")
    report = run_check(chosen, probe_timeout=timeout)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json(report.to_dict())
    else:
        click.echo(f"bulletproof check {report.target}")
        for section in report.sections:
            if not section.items:
                click.echo(f"  {section.name:<10} -     none configured")
            for item in section.items:
                mark = _MARK[item.status]
                click.echo(f"  {section.name:<10} {mark:<5} {item.name}")
                if item.detail:
                    for line in item.detail.splitlines():
                        click.echo(f"  {'':<10} {'':<5}   {line}")
        verdict = {0: "clean", 1: "findings", 2: "invalid configuration", 3: "incomplete"}
        click.echo(f"result: {verdict[report.exit_code]}")
    sys.exit(report.exit_code)
