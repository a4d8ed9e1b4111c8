"""Origin-Agent-Cluster: ask for an origin-keyed agent cluster.

Helmet's ``originAgentCluster`` middleware as pure data. The header takes no options:
:class:`OriginAgentClusterOptions` is empty and :func:`header_value` always returns ``?1``.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bulletproof.headers._common import bad_type, warn_no_options

__all__ = [
    "HEADER",
    "OPTION",
    "VALUE",
    "OriginAgentClusterOptions",
    "header_value",
    "parse_options",
]

HEADER: Final = "Origin-Agent-Cluster"
"""The header name, spelled as Helmet sends it. Added in 0.1."""
OPTION: Final = "origin_agent_cluster"
"""The ``secure_headers`` option that configures this header. Added in 0.1."""
VALUE: Final = "?1"
"""The only value Helmet sends. Added in 0.1."""


@dataclass(frozen=True, slots=True)
class OriginAgentClusterOptions:
    """Options of the Origin-Agent-Cluster header: there are none. Added in 0.1."""


def header_value(options: OriginAgentClusterOptions | None = None) -> str:
    """Always ``?1``. Added in 0.1."""
    return VALUE


def parse_options(value: object, option: str = OPTION) -> OriginAgentClusterOptions:
    """Accept an empty mapping; warn (as Helmet does) about anything else but None.

    Added in 0.1.
    """
    if isinstance(value, OriginAgentClusterOptions):
        return value
    if value is None:
        bad_type(
            option, value, "True, False or an empty dict (Origin-Agent-Cluster takes no options)"
        )
    if not isinstance(value, Mapping) or value:
        warn_no_options(HEADER, option)
    return OriginAgentClusterOptions()
