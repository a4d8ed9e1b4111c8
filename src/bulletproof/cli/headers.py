"""``bulletproof headers show`` and ``bulletproof headers check``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import click

from bulletproof.apploader import load_app
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json, fail
from bulletproof.errors import BulletproofError, ConfigError
from bulletproof.headers import Preset, secure_headers
from bulletproof.headers.fetch import DEFAULT_TIMEOUT, scan_url
from bulletproof.headers.grade import (
    GRADES,
    GradeResult,
    PreloadList,
    PublicSuffixList,
    Scan,
    grade_rank,
    grade_scan,
)

__all__ = ["headers"]

SYSTEM_SUFFIX_LIST: Final = Path("/usr/share/publicsuffix/public_suffix_list.dat")
_CONTROL: Final = dict.fromkeys([*range(32), 127], " ")


def _safe(text: str) -> str:
    """One printable line: a server-supplied value never splits the output."""
    return text.translate(_CONTROL)


@click.group()
def headers() -> None:
    """Security headers: print the header set, grade a site or an app like the Observatory."""


@headers.command("show")
@click.option(
    "--preset",
    type=click.Choice([p.value for p in Preset]),
    default=Preset.HELMET.value,
    show_default=True,
    help="helmet: Helmet 8.3's defaults; strict: the best Observatory score from headers "
    "alone; api: for JSON APIs.",
)
@FORMAT_OPTION
def show(preset: str, fmt: str) -> None:
    """Print the headers a preset sets, in wire order (JSON: a list of [name, value])."""
    policy = secure_headers(preset=preset)
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json([[name, value] for name, value in policy.headers])
        return
    for name, value in policy.headers:
        click.echo(f"{name}: {value}")
    if policy.remove:
        click.echo(f"(removed from every response: {', '.join(policy.remove)})")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{what} {str(path)!r}: cannot read it ({exc.__class__.__name__})."
        ) from None


def _suffixes(path: Path | None) -> PublicSuffixList | None:
    if path is not None:
        return PublicSuffixList.parse(_read(path, "--public-suffix-list"))
    if SYSTEM_SUFFIX_LIST.is_file():
        try:
            return PublicSuffixList.parse(SYSTEM_SUFFIX_LIST.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _render_text(target: str, scan: Scan, result: GradeResult, assumed: tuple[str, ...]) -> None:
    click.echo(f"bulletproof headers check {_safe(target)}")
    for label, session in (("https", scan.https), ("http", scan.http)):
        if session is None:
            click.echo(f"  {label:<5} unreachable")
            continue
        hops = " -> ".join(f"{_safe(url)} {status}" for url, status in session.route)
        note = "" if session.verified else "  (certificate did not verify)"
        click.echo(f"  {label:<5} {hops}{note}")
    for line in assumed:
        click.echo(f"  assumed: {line}")
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
    redirects each), plus a CORS preflight; an explicit port belongs to the URL's scheme. With
    --app MODULE:APP the app is called in-process, as if served over https behind a proxy.
    Prints each test's result, the score and the grade.

    Exit 0 when the check ran, 1 when the grade is below --min-grade, 2 for bad input (a bad URL,
    an app that cannot be imported), 3 when the URL could not be fetched or graded.
    """
    try:
        if (url is None) == (app_spec is None):
            raise ConfigError("give either a URL or --app MODULE:APP (exactly one of them).")
        preload = (
            PreloadList.from_chromium_json(_read(hsts_preload_list, "--hsts-preload-list"))
            if hsts_preload_list is not None
            else None
        )
        suffixes = _suffixes(public_suffix_list)
        assumed: tuple[str, ...] = ()
        if url is not None:
            if app_path != "/" or app_host != "localhost":
                raise ConfigError("--path and --host go with --app; put them in the URL instead.")
            target = url
            scan = scan_url(
                url,
                timeout=timeout,
                cafile=cafile,
                http_port=http_port,
                https_port=https_port,
                preload=preload,
                suffixes=suffixes,
            )
        else:
            from bulletproof.adapters.inprocess import ASSUMPTIONS, scan_app

            if any(v is not None for v in (cafile, http_port, https_port)):
                raise ConfigError(
                    "--cafile, --http-port and --https-port go with a URL, not --app."
                )
            target = f"--app {app_spec}"
            app = load_app(str(app_spec))
            scan = scan_app(
                app,
                path=app_path,
                host=app_host,
                timeout=timeout,
                preload=preload,
                suffixes=suffixes,
                label=app_spec,
            )
            assumed = ASSUMPTIONS
        result = grade_scan(scan)
    except BulletproofError as exc:
        fail(str(exc), exc.exit_code)
    if OutputFormat(fmt) is OutputFormat.JSON:
        doc = result.to_dict()
        auto = scan.auto
        doc["url"] = auto.final.url if auto is not None else None
        if assumed:
            doc["assumed"] = list(assumed)
        emit_json(doc)
    else:
        _render_text(target, scan, result, assumed)
    if min_grade is not None and grade_rank(result.grade) > grade_rank(min_grade):
        click.echo(f"bulletproof: grade {result.grade} is below --min-grade {min_grade}", err=True)
        sys.exit(1)
    sys.exit(0)
