"""Shared pieces of the CLI: error-to-exit-code mapping, output formats, config loading."""

from __future__ import annotations

import enum
import json
import sys
from typing import Any, Final, NoReturn

import click

from bulletproof.config import Config, load_config
from bulletproof.errors import BulletproofError

CONTEXT: Final = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class OutputFormat(enum.Enum):
    """``--format``: how a command renders its result."""

    TEXT = "text"
    JSON = "json"


FORMAT_OPTION: Final = click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in OutputFormat]),
    default=OutputFormat.TEXT.value,
    show_default=True,
    help="Output format.",
)


class BulletproofGroup(click.Group):
    """A group whose commands turn library errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, mapping BulletproofError to its exit code."""
        try:
            return super().invoke(ctx)
        except BulletproofError as exc:
            fail(str(exc), exc.exit_code)


def fail(message: str, code: int) -> NoReturn:
    """Print ``bulletproof: error: message`` to stderr and exit with ``code``."""
    click.echo(f"bulletproof: error: {message}", err=True)
    sys.exit(code)


def emit_json(data: Any) -> None:
    """Print one JSON document."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def load(ctx: click.Context, path: str | None = None) -> Config:
    """Load the config named by ``path`` or by the global ``--config`` option."""
    chosen = path if path is not None else (ctx.obj or {}).get("config_path")
    return load_config(chosen)
