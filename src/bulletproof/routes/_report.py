"""Render a :class:`~bulletproof.routes._inventory.RouteInventory` as a readable table.

Every value goes through :func:`~bulletproof._text.one_line`, so a route path or an
evidence text holding CR, LF or other control characters cannot split or forge a line.

Added in 0.1.
"""

from __future__ import annotations

from typing import Final

from bulletproof._text import one_line
from bulletproof.routes._inventory import ANY_METHOD, RouteInventory

__all__ = ["render_table"]

_HEADINGS: Final = ("METHODS", "PATH", "AUTH", "HEADERS", "ENDPOINT", "EVIDENCE")


def render_table(inventory: RouteInventory) -> str:
    """The inventory as aligned columns, then the findings, one per line. Added in 0.1."""
    if inventory.middleware_installed:
        state = "installed (covers every route)"
    elif any(route.covered for route in inventory.routes):
        state = "installed on part of the app"
    else:
        state = "not installed"
    lines = [f"framework: {inventory.framework}    header middleware: {state}"]
    rows: list[tuple[str, ...]] = [
        (
            ",".join("ANY" if m == ANY_METHOD else m for m in route.methods),
            route.path,
            route.auth,
            "yes" if route.covered else "NO",
            route.endpoint,
            route.auth_evidence,
        )
        for route in inventory.routes
    ]
    rows = [tuple(one_line(cell) for cell in row) for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(_HEADINGS)]
    for row in [_HEADINGS, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    count = len(inventory.routes)
    noun = "route" if count == 1 else "routes"
    if inventory.findings:
        lines.append(f"{count} {noun}, {len(inventory.findings)} findings:")
        lines.extend(f"  - {one_line(finding)}" for finding in inventory.findings)
    else:
        lines.append(f"{count} {noun}, no findings")
    return "\n".join(lines)
