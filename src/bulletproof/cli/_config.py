"""``bulletproof config show``."""

from __future__ import annotations

import click

from bulletproof.cli._common import FORMAT_OPTION, OutputFormat, emit_json, load
from bulletproof.config import config_as_dict

__all__ = ["config"]


@click.group()
def config() -> None:
    """Inspect the configuration."""


def _render(value: object, indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(sub, dict | list) and sub:
                lines.append(f"{pad}{key}:")
                lines.extend(_render(sub, indent + 1))
            else:
                lines.append(f"{pad}{key}: {sub if sub not in ({}, []) else '(none)'}")
    elif isinstance(value, list):
        for sub in value:
            if isinstance(sub, dict):
                lines.append(f"{pad}-")
                lines.extend(_render(sub, indent + 1))
            else:
                lines.append(f"{pad}- {sub}")
    else:
        lines.append(f"{pad}{value}")
    return lines


@config.command("show")
@FORMAT_OPTION
@click.pass_context
def show(ctx: click.Context, fmt: str) -> None:
    """Print the effective configuration, with secrets masked."""
    data = config_as_dict(load(ctx))
    if OutputFormat(fmt) is OutputFormat.JSON:
        emit_json(data)
    else:
        click.echo("\n".join(_render(data)))
