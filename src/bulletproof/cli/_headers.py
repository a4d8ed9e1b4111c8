"""``bulletproof headers show`` and ``bulletproof headers check``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bulletproof._text import one_line
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json, fail, load
from bulletproof.config import build_header_policy
from bulletproof.errors import BulletproofError
from bulletproof.headers import Preset, secure_headers
from bulletproof.observatory import (
    DEFAULT_TIMEOUT,
    GRADES,
    SYSTEM_SUFFIX_LIST,
    CheckResult,
    read_preload_list,
    read_suffix_list,
)
from bulletproof.observatory import check as check_headers

__all__ = ["headers"]


@click.group()
def headers() -> None:
    """Security headers: print the header set, grade a site or an app like the Observatory."""


@headers.command("show")
@click.option(
    "--preset",
    type=click.Choice([p.value for p in Preset]),
    default=None,
    help="helmet: Helmet 8.3's defaults; strict: the best Observatory score from headers "
    "alone; api: for JSON APIs. Default: the project's own header set, from its config.",
)
@FORMAT_OPTION
@click.pass_context
def show(ctx: click.Context, preset: str | None, fmt: str) -> None:
    """Print the headers the project sends, or a preset's, in wire order (JSON: a list of
    [name, value]).

    Without --preset, the header set is the one the project's config describes (its headers
    table, [tool.bulletproof.headers] in pyproject.toml), the config found through --config,
    else BULLETPROOF_CONFIG, else the current directory; stderr says which config it was.
    """
    try:
        if preset is None:
            config = load(ctx)
            policy = build_header_policy(config)
            click.echo(
                f"bulletproof: the project's header set, from its config "
                f"({one_line(f'{config.source}, in {config.root}')}); --preset NAME shows a preset "
                "instead",
                err=True,
            )
        else:
            policy = secure_headers(preset=preset)
    except BulletproofError as exc:
        fail(str(exc), exc.exit_code)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json([[name, value] for name, value in policy.headers])
        return
    for name, value in policy.headers:
        click.echo(f"{name}: {value}")
    if policy.remove:
        click.echo(f"(removed from every response: {', '.join(policy.remove)})")


def _render_text(target: str, checked: CheckResult) -> None:
    scan, result = checked.scan, checked.result
    click.echo(f"bulletproof headers check {one_line(target)}")
    for label, session in (("https", scan.https), ("http", scan.http)):
        if session is None:
            click.echo(f"  {label:<5} unreachable")
            continue
        hops = " -> ".join(f"{one_line(url)} {status}" for url, status in session.route)
        note = "" if session.verified else "  (certificate did not verify)"
        click.echo(f"  {label:<5} {hops}{note}")
    for line in checked.assumed:
        click.echo(f"  assumed: {one_line(line)}")
    click.echo("")
    for name, test in result.tests.items():
        mark = "pass" if test.passed else "FAIL"
        click.echo(f"  {name:<30} {test.score_modifier:>4}  {mark}  {test.result}")
        click.echo(f"  {'':<30} {'':>4}        {test.description}")
    click.echo("")
    click.echo(
        f"score: {result.score}  grade: {result.grade}  "
        f"({result.tests_passed} passed, {result.tests_failed} failed)"
    )


@headers.command("check")
@click.argument("url", required=False)
@click.option(
    "--app", "app_spec", metavar="MODULE:APP", help="Grade this ASGI/WSGI app in-process."
)
@click.option("--path", "app_path", default="/", show_default=True, help="Path to request (--app).")
@click.option("--host", "app_host", default="localhost", show_default=True, help="Host (--app).")
@FORMAT_OPTION
@click.option(
    "--min-grade",
    type=click.Choice(GRADES),
    default=None,
    help="Exit 1 when the grade is below this one (default: never).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=300),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Deadline in seconds for each fetch (the https chain, the http chain, the CORS "
    "preflight), every redirect, connecting and reading included.",
)
@click.option(
    "--cafile",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="PEM bundle of CA certificates to trust instead of the system's.",
)
@click.option("--http-port", type=click.IntRange(1, 65535), default=None, help="Port for http://.")
@click.option(
    "--https-port", type=click.IntRange(1, 65535), default=None, help="Port for https://."
)
@click.option(
    "--hsts-preload-list",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Chromium's transport_security_state_static.json (default: no host is preloaded).",
)
@click.option(
    "--public-suffix-list",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"public_suffix_list.dat (default: {SYSTEM_SUFFIX_LIST} if present, else a built-in "
    "approximation).",
)
def check(
    url: str | None,
    app_spec: str | None,
    app_path: str,
    app_host: str,
    fmt: str,
    min_grade: str | None,
    timeout: float,
    cafile: str | None,
    http_port: int | None,
    https_port: int | None,
    hsts_preload_list: Path | None,
    public_suffix_list: Path | None,
) -> None:
    """Grade URL's response headers (or an app's, with --app) as the MDN HTTP Observatory does.

    URL is fetched over https and http from the same host and path (following up to 10
    redirects each), plus a CORS preflight; an explicit port belongs to the URL's scheme, and
    without a scheme to plain http (localhost:8000 is http://localhost:8000/), 443 excepted.
    With --app MODULE:APP the app is called in-process, as if served over https behind a proxy.
    Prints each test's result, the score and the grade.

    Exit 0 when the check ran, 1 when the grade is below --min-grade, 2 for bad input (a bad URL,
    an app that cannot be imported), 3 when the URL could not be fetched or graded.
    """
    try:
        checked = check_headers(
            url,
            app=app_spec,
            path=app_path,
            host=app_host,
            timeout=timeout,
            cafile=cafile,
            http_port=http_port,
            https_port=https_port,
            preload=read_preload_list(hsts_preload_list),
            suffixes=read_suffix_list(public_suffix_list),
        )
    except BulletproofError as exc:
        fail(str(exc), exc.exit_code)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json(checked.to_dict())
    else:
        _render_text(url if url is not None else f"--app {app_spec}", checked)
    if min_grade is not None and not checked.meets(min_grade):
        grade = checked.result.grade
        click.echo(f"bulletproof: grade {grade} is below --min-grade {min_grade}", err=True)
        sys.exit(1)
    sys.exit(0)
