"""``bulletproof events send-test`` and ``bulletproof events tail``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from bulletproof._delivery import read_events, send_test_events
from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, load
from bulletproof.events.model import Category

__all__ = ["events"]


@click.group()
def events() -> None:
    """Send, read and follow security events."""


@events.command("send-test")
@click.option("--to", "to", required=True, help="Sink URL, e.g. logstash://127.0.0.1:5000.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--spool",
    "spool",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=(
        "Spool directory (default: one per sink under <events.spool_dir>/send-test). "
        "Reuse it to resume."
    ),
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for delivery.")
@FORMAT_OPTION
@click.pass_context
def send_test(
    ctx: click.Context, to: str, count: int, spool: Path | None, timeout: float, fmt: str
) -> None:
    """Emit test events to one sink and wait until they are delivered.

    SIGTERM or Ctrl-C stops emitting; what was accepted is flushed to the spool and delivered, or
    left there for the next run with the same --spool. Exit 0 when the sink confirmed every
    event, 3 when some were dropped or still wait in the spool.
    """
    cfg = load(ctx)
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    old_term = signal.signal(signal.SIGTERM, _stop)
    old_int = signal.signal(signal.SIGINT, _stop)
    try:
        result = send_test_events(cfg, to, count=count, spool_dir=spool, timeout=timeout, stop=stop)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    if OutputFormat(fmt) is OutputFormat.JSON:
        click.echo(json.dumps(result.to_dict()))
    else:
        rate = result.delivered / result.seconds if result.seconds > 0 else 0.0
        click.echo(
            f"emitted {result.emitted}, delivered {result.delivered} to {result.sink} "
            f"in {result.seconds:.2f}s ({rate:,.0f}/s)"
            + (" [interrupted]" if result.interrupted else "")
        )
        for reason, n in sorted(result.dropped.items()):
            click.echo(f"{n} event(s) dropped ({reason.replace('_', ' ')})", err=True)
        if result.pending:
            click.echo(
                f"{result.pending} event(s) wait in the spool; run again with the same --spool "
                "to deliver them",
                err=True,
            )
    sys.exit(0 if result.complete else 3)


def _field(doc: dict[str, Any], *path: str) -> Any:
    """``doc[a][b]...``, or None where a level is missing or not an object (files can be odd)."""
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _readable(doc: dict[str, Any]) -> str:
    parts = [
        str(_field(doc, "@timestamp") or "-"),
        str(_field(doc, "bulletproof", "severity") or "-").upper(),
        str(_field(doc, "bulletproof", "category") or "-"),
        str(_field(doc, "event", "action") or "-"),
    ]
    for label, path in (
        ("ip", ("source", "ip")),
        ("user", ("user", "name")),
        ("path", ("url", "path")),
    ):
        value = _field(doc, *path)
        if value:
            parts.append(f"{label}={value}")
    line = " ".join(parts)
    message = _field(doc, "message")
    if message and message != _field(doc, "event", "action"):
        line += f"  {message}"
    # Values were neutralized by the pipeline; a file written by anything else may not be.
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in line
    )


@events.command("tail")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive.")
@click.option(
    "--category",
    type=click.Choice([c.value for c in Category]),
    multiple=True,
    help="Only events of this bulletproof.category (repeatable).",
)
@FORMAT_OPTION
def tail(file: Path, follow: bool, category: tuple[str, ...], fmt: str) -> None:
    """Print the events in FILE (a file sink's .jsonl, or a rotated .gz)."""
    stop = threading.Event()
    as_json = OutputFormat(fmt) is OutputFormat.JSON
    bad = 0
    try:
        for line in read_events(file, follow=follow, stop=stop):
            if line.doc is None:
                bad += 1
                click.echo(
                    f"bulletproof: warning: {line.source}:{line.number}: {line.error}", err=True
                )
                continue
            if category and _field(line.doc, "bulletproof", "category") not in category:
                continue
            click.echo(line.raw if as_json else _readable(line.doc))
    except KeyboardInterrupt:
        stop.set()
    if bad:
        click.echo(f"bulletproof: warning: {bad} line(s) were not bulletproof events", err=True)
