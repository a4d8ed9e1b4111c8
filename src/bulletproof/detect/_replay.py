"""Replaying recorded requests through an inspector: what would have been caught.

>>> import tempfile, json, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
>>> _ = path.write_text(json.dumps({"path": "/.env"}) + "\\n" + json.dumps({"path": "/"}) + "\\n")
>>> replay = replay_file(path, Inspector())
>>> replay.total, replay.verdicts["malicious"], replay.types["scanner_probe"]
(2, 1, 1)

Added in 0.1.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bulletproof.detect._inspector import Inspector
from bulletproof.detect._records import record_request
from bulletproof.errors import ConfigError

__all__ = ["Replay", "replay_file"]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a replay found: requests judged, verdict counts, attack types among the malicious
    ones, and the lines that were not request records (``file:line: why``). Added in 0.1."""

    total: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    bad_lines: tuple[str, ...] = ()


def replay_file(path: Path, inspector: Inspector, *, limit: int = 100_000) -> Replay:
    """Judge every record of the JSON-lines file ``path`` (at most ``limit`` of them).

    Raises :class:`~bulletproof.errors.ConfigError` when the file cannot be read.

    Added in 0.1.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise ConfigError(
            f"shield.sample_traffic = {str(path)!r} cannot be read ({exc.strerror or exc}): "
            "give a JSON-lines file of recorded requests, relative to the config's directory"
        ) from None
    verdicts: Counter[str] = Counter()
    types: Counter[str] = Counter()
    bad: list[str] = []
    total = 0
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is text
        if not line.strip():
            continue
        if total >= limit:
            break
        try:
            request = record_request(json.loads(line))
        except (ValueError, ConfigError) as exc:
            bad.append(f"{path.name}:{number}: not a request record: {exc}")
            continue
        total += 1
        result = inspector.inspect(request)
        verdicts[result.verdict] += 1
        if result.verdict == "malicious" and result.type is not None:
            types[result.type] += 1
    return Replay(total, verdicts, types, tuple(bad))
