"""The ``shield`` section of ``bulletproof check``: is request inspection on, and what would it
have caught in the project's sample traffic (``[tool.bulletproof.shield] sample_traffic``).

Items: ``shield`` (a finding when ``enabled = false``: nothing inspects requests), then, when a
sample is configured, ``sample traffic`` (how many requests were replayed, how many each verdict
got, the attack types caught) and one error item per line that is not a request record. With
no sample configured, ``sample traffic`` is skipped and says how to add one.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bulletproof.check._base import CheckContext, CheckItem, Probe, Status
from bulletproof.detect._replay import replay_file

__all__ = ["ShieldSource"]


class ShieldSource:
    """Report the shield's mode and replay the sample traffic. Added in 0.1."""

    name: Final = "shield"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """The shield's state, then the replay. Added in 0.1."""
        section = context.config.shield
        if not section.enabled:
            return (
                CheckItem(
                    "shield",
                    Status.FINDING,
                    "off: requests are not inspected; remove enabled = false from "
                    "[tool.bulletproof.shield] (monitor mode only logs)",
                ),
            )
        mode = (
            "block: malicious requests are refused (403) before the app runs"
            if section.mode == "block"
            else "monitor: malicious and invalid requests are logged, none refused "
            "(mode = 'block' refuses the malicious ones)"
        )
        items: list[CheckItem] = [CheckItem("shield", Status.OK, f"on, {mode}")]
        if section.sample_traffic is None:
            items.append(
                CheckItem(
                    "sample traffic",
                    Status.SKIPPED,
                    "does not apply: set sample_traffic = 'FILE.jsonl' in "
                    "[tool.bulletproof.shield] to replay recorded requests",
                )
            )
            return items
        path = context.config.root / section.sample_traffic
        replay = replay_file(path, section.inspector())
        caught = ", ".join(f"{kind} {n}" for kind, n in sorted(replay.types.items())) or "none"
        verdicts = replay.verdicts
        items.append(
            CheckItem(
                "sample traffic",
                Status.OK,
                f"{replay.total} requests from {section.sample_traffic}: "
                f"{verdicts['malicious']} malicious ({caught}), {verdicts['invalid']} invalid, "
                f"{verdicts['normal']} normal",
            )
        )
        items.extend(CheckItem("sample traffic", Status.ERROR, bad) for bad in replay.bad_lines)
        return items
