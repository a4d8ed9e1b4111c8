"""``bulletproof run -- CMD`` and ``bulletproof reload``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import click

from bulletproof.cli._common import CONTEXT, FORMAT_OPTION, emit_json, fail, load
from bulletproof.config import Config

__all__ = ["reload", "run"]


def _memory(value: str | None) -> str | None:
    """``--max-memory 512`` is 512 MiB; a value with a unit (``1GiB``) is taken as written."""
    if value is None:
        return None
    return f"{value}MiB" if value.strip().isdigit() else value


@click.command(context_settings={**CONTEXT, "allow_interspersed_args": False})
@click.option(
    "--bind",
    metavar="HOST:PORT",
    help="Own the listening socket; the server gets it "
    "as fd 3 (uvicorn --fd 3, gunicorn --bind fd://3). Reloads then drop nothing.",
)
@click.option(
    "--health-url",
    metavar="URL",
    help="Probe this URL (http:// or https://); a hung server is restarted.",
)
@click.option("--health-interval", metavar="DURATION", help="Time between probes [5s].")
@click.option(
    "--health-timeout",
    metavar="DURATION",
    help="Time a probe may take, at most the interval [500ms, or half the interval].",
)
@click.option("--health-failures", metavar="N", help="Misses in a row that mean hung [3].")
@click.option(
    "--start-timeout",
    metavar="DURATION",
    help="Time a new instance has to pass its first check [60s].",
)
@click.option(
    "--heartbeat",
    metavar="pipe|FILE",
    help="Servers without HTTP: the app calls "
    "bulletproof.supervise.heartbeat() (a pipe, or a file it touches).",
)
@click.option("--heartbeat-timeout", metavar="DURATION", help="Silence that means hung [30s].")
@click.option(
    "--max-memory",
    metavar="MB",
    help="Restart gracefully when the process tree's "
    "RSS passes this (MiB, or a size such as 1GiB).",
)
@click.option("--memory-interval", metavar="DURATION", help="Time between samples [2s].")
@click.option(
    "--stop-timeout",
    metavar="DURATION",
    help="Time a stopping server gets before its process group is killed [10s].",
)
@click.option(
    "--drain",
    metavar="DURATION",
    help="Time an instance being replaced keeps "
    "serving, closing keep-alive connections (protect(app) on ASGI), before its "
    "SIGTERM [1s].",
)
@click.option(
    "--backoff-min",
    metavar="DURATION",
    help="Wait after the second crash in a row, doubling each time [500ms].",
)
@click.option("--backoff-max", metavar="DURATION", help="The longest wait [30s].")
@click.option("--healthy-after", metavar="DURATION", help="Uptime that resets the backoff [30s].")
@click.option(
    "--max-restarts",
    metavar="N",
    help="Give up (exit 3) after N restarts within --within (default: never give up).",
)
@click.option(
    "--within", "restarts_within", metavar="DURATION", help="The window of --max-restarts [5m]."
)
@click.option("--stdout-log", metavar="FILE", help="Also write the server's stdout here.")
@click.option("--stderr-log", metavar="FILE", help="Also write the server's stderr here.")
@click.option("--log-max-size", metavar="SIZE", help="Rotate the logs at this size (e.g. 50MiB).")
@click.option("--log-rotate", metavar="DURATION", help="Rotate the logs this often (e.g. 1d).")
@click.option("--log-backups", metavar="N", help="Rotated logs kept, gzipped [5].")
@click.option("--pid-file", metavar="FILE", help="Where bulletproof reload finds this supervisor.")
@FORMAT_OPTION
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
@click.pass_context
def run(ctx: click.Context, /, command: tuple[str, ...], fmt: str, **flags: Any) -> None:
    """Start CMD and keep it up: restart it when it crashes, hangs or outgrows --max-memory,
    reload it on SIGHUP (or bulletproof reload), stop it and its whole process tree on
    SIGTERM or SIGINT. Every start, exit, restart, hang and give-up is a security event.

    What it does is printed to stderr, a line per event (--format json: the event's ECS
    JSON), and sent to the configured sinks and alert rules.

    Exit status: 0 stopped, 2 the command cannot start or bad options, 3 gave up.

    \b
    Examples:
      bulletproof run --bind 127.0.0.1:8000 -- uvicorn shop.app:app --fd 3
      bulletproof run --bind 127.0.0.1:8000 --health-url http://127.0.0.1:8000/ \\
          -- gunicorn -w 4 --bind fd://3 shop.wsgi:app
    """
    flags["max_memory"] = _memory(flags.get("max_memory"))
    overrides = {f"run.{key}": value for key, value in flags.items() if value is not None}
    chosen = (ctx.obj or {}).get("config_path")
    from bulletproof.config import load_config

    config = load_config(chosen, overrides=overrides)
    argv = command or config.run.command
    if not argv:
        fail(
            "run: no command: give one after -- (bulletproof run -- uvicorn app:app --fd 3) "
            "or set command in [tool.bulletproof.run]",
            2,
        )
    raise SystemExit(_supervise(config, argv, as_json=fmt == "json"))


def _say(line: str) -> None:
    """One line to stderr; a closed or broken stderr must not stop the supervisor."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


def _line(text: str, as_json: bool) -> None:
    from bulletproof._text import one_line

    if as_json:
        _say(json.dumps({"message": text}, ensure_ascii=False))
    else:
        _say(f"bulletproof run: {one_line(text)}")


def _supervise(config: Config, argv: tuple[str, ...], *, as_json: bool) -> int:
    from bulletproof.config import build_pipeline
    from bulletproof.events.model import SecurityEvent
    from bulletproof.supervise import supervise

    pipeline = build_pipeline(config).start()

    def emit(event: SecurityEvent) -> None:
        if as_json:
            _say(json.dumps(event.to_ecs(), ensure_ascii=False))
        else:
            _line(event.message, as_json)
        pipeline.emit(event)

    try:
        return supervise(
            config.run, argv, emit=emit, root=config.root, report=lambda t: _line(t, as_json)
        )
    finally:
        if not pipeline.close(timeout=10.0):
            click.echo(
                "bulletproof run: some events wait in the spool (a sink did not confirm in 10 s)",
                err=True,
            )


@click.command(context_settings=CONTEXT)
@FORMAT_OPTION
@click.option(
    "--pid-file",
    metavar="FILE",
    help="The supervisor's pid file (default: the "
    "config's pid_file, else the one bulletproof run uses for this project).",
)
@click.pass_context
def reload(ctx: click.Context, fmt: str, pid_file: str | None) -> None:
    """Reload the server that bulletproof run keeps up: with --bind, a new instance starts,
    passes its check, and only then is the old one stopped."""
    from bulletproof.supervise import default_pid_file, read_pid_file

    config = load(ctx)
    if pid_file is not None:
        path = Path(pid_file)
    elif config.run.pid_file:
        path = config.root / Path(config.run.pid_file).expanduser()
    else:
        path = default_pid_file(config.root)
    pid = read_pid_file(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        fail(f"reload: the supervisor (pid {pid}, from {path}) is gone", 3)
    if fmt == "json":
        emit_json({"pid": pid, "pid_file": str(path), "signal": "SIGHUP"})
    else:
        click.echo(f"bulletproof: reload asked of the supervisor (pid {pid})", err=True)
