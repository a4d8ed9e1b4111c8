"""``bulletproof check [PATH]``."""

from __future__ import annotations

import sys

import click

from bulletproof.check import CheckReport, Status, run_check
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json

__all__ = ["check"]

_MARK = {Status.OK: "ok", Status.FINDING: "FAIL", Status.ERROR: "ERROR", Status.SKIPPED: "n/a"}


def _verdict(report: CheckReport) -> str:
    """The last line of the text report: the result, and what could not be checked."""
    code = report.exit_code
    if code == 2:
        return "result: invalid configuration"
    missing = report.incomplete
    unchecked = f"incomplete: {', '.join(missing)} could not be checked" if missing else ""
    if code == 1:
        return "result: findings" + (f"; {unchecked}" if unchecked else "")
    if code == 3:
        return f"result: {unchecked}"
    return "result: clean"


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option(
    "--path",
    "check_path",
    metavar="URL_PATH",
    default=None,
    help="The path of the app whose headers are graded, like /login (default: /).",
)
@FORMAT_OPTION
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each probe.")
@click.pass_context
def check(
    ctx: click.Context, path: str | None, check_path: str | None, fmt: str, timeout: float
) -> None:
    """Run every check on the project at PATH (default: the current directory).

    Exit 0 when clean, 1 with findings, 2 when the config is invalid, 3 when something that
    applies could not be checked. A section that does not apply (headers and routes when the
    config names no app) says so and does not change the result.
    """
    chosen = path if path is not None else (ctx.obj or {}).get("config_path")
    report = run_check(chosen, probe_timeout=timeout, check_path=check_path)
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
        click.echo(_verdict(report))
    sys.exit(report.exit_code)
