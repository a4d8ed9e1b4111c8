"""``bulletproof inspect FILE.jsonl``."""

from __future__ import annotations

import json
import sys
from typing import IO

import click

from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, fail
from bulletproof.detect import Inspection, Inspector
from bulletproof.detect._records import record_request
from bulletproof.errors import ConfigError

__all__ = ["inspect"]


def _line(record_id: object, result: Inspection) -> str:
    return json.dumps(
        {
            "id": record_id,
            "verdict": result.verdict,
            "score": result.score,
            "findings": [
                {"type": f.type, "location": f.location, "rule": f.rule, "evidence": f.evidence}
                for f in result.findings
            ],
        },
        ensure_ascii=False,
    )


def _text(record_id: object, result: Inspection) -> str:
    if not result.findings:
        return f"{record_id}  {result.verdict}"
    found = ", ".join(f"{f.type} in {f.location} ({f.rule})" for f in result.findings[:4])
    more = f", +{len(result.findings) - 4} more" if len(result.findings) > 4 else ""
    return f"{record_id}  {result.verdict} (score {result.score}): {found}{more}"


@click.command()
@click.argument("file", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@FORMAT_OPTION
def inspect(file: IO[str], fmt: str) -> None:
    """Judge each request recorded in FILE (JSON lines; '-' reads standard input).

    Each line is an object with method, path (raw), query (raw, no '?'), headers (an object or
    [name, value] pairs) and body (text); an id is echoed back. Prints one line per request:
    its verdict (normal, invalid, malicious), score and findings; with --format json, one JSON
    object per line. A progress bar shows on a terminal.

    Exit 0 when every request is normal, 1 when any is not, 2 when FILE cannot be read, 3 when
    some lines could not be judged (each is named on standard error).
    """
    as_json = OutputFormat(fmt) is OutputFormat.JSON
    inspector = Inspector()
    flagged = bad = 0
    name = getattr(file, "name", "FILE")
    try:
        lines = file.readlines()
    except OSError as exc:
        fail(f"inspect: cannot read {name}: {exc}", 2)
    show_bar = sys.stderr.isatty() and len(lines) > 1000
    with click.progressbar(
        lines, label="inspecting", file=sys.stderr, hidden=not show_bar
    ) as progress:
        for number, raw in enumerate(progress, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                request = record_request(record)
            except (ValueError, ConfigError) as exc:
                bad += 1
                click.echo(
                    f"{name}:{number}: not a request record: {exc}; fix or remove the line",
                    err=True,
                )
                continue
            result = inspector.inspect(request)
            record_id = record.get("id", number)
            click.echo(_line(record_id, result) if as_json else _text(record_id, result))
            flagged += result.verdict != "normal"
    if bad:
        sys.exit(3)
    sys.exit(1 if flagged else 0)
