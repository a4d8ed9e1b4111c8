"""Fixing pins: whether the fixed set installs together (asked of uv's resolver), and a
requirements file rewritten with the fixed versions, everything else kept.

The rewrite changes only the version of each fixed pin, in place: comments, order, spacing,
extras, markers and the other lines stay as they were. A line with ``--hash`` options is
given the new version's hashes when the resolver gave them; otherwise it is left unchanged and
reported (a pin with stale hashes would not install).

Added in 0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement

from bulletproof.audit._versions import canonical_name

__all__ = ["FixResult", "Resolution", "find_uv", "resolve", "rewrite_requirements"]

_TIMEOUT: Final = 300.0


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the resolver said of a set of pins: ``ok`` (None: no resolver, unchecked), its
    ``message`` when it refused, and the ``hashes`` of each pinned distribution it found.

    Added in 0.1.
    """

    ok: bool | None
    message: str = ""
    hashes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def find_uv() -> str | None:
    """uv's executable: ``$UV``, else on ``PATH``, else the one the ``uv`` package ships.

    Added in 0.1.
    """
    given = os.environ.get("UV")
    if given and Path(given).is_file():
        return given
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def resolve(
    pins: Mapping[str, str],
    *,
    python_version: str | None = None,
    index_options: Sequence[str] = (),
    uv: str | None = None,
) -> Resolution:
    """Ask uv whether ``pins`` (name to version), with their dependencies, install together
    for ``python_version``. Added in 0.1."""
    uv = uv or find_uv()
    if uv is None:
        return Resolution(None, "uv is not installed: the fixed set was not checked")
    with tempfile.TemporaryDirectory(prefix="bulletproof-fix-") as folder:
        wanted = Path(folder) / "requirements.in"
        wanted.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        command = [
            uv,
            "pip",
            "compile",
            str(wanted),
            "--generate-hashes",
            "--no-header",
            "--no-annotate",
            "--quiet",
            *index_options,
        ]
        if python_version:
            command += ["--python-version", python_version]
        try:
            done = subprocess.run(  # noqa: S603 - our own argument list
                command, capture_output=True, text=True, timeout=_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Resolution(None, f"uv could not be run ({exc}): the fixed set was not checked")
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return Resolution(False, " ".join(lines[-6:])[:1000] or f"uv exited {done.returncode}")
    return Resolution(True, "", _hashes(done.stdout))


def _hashes(compiled: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    name = ""
    for raw in compiled.replace("\\\n", " ").split("\n"):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if "==" in words[0]:
            name = canonical_name(words[0].split("==", 1)[0].split("[", 1)[0])
            out[name] = tuple(w.split("=", 1)[1] for w in words[1:] if w.startswith("--hash="))
    return out


@dataclass(slots=True)
class FixResult:
    """A rewritten requirements file: its ``text``, the ``changed`` pins (name, old, new) and
    the ``flagged`` lines left as they were, with why. Added in 0.1."""

    text: str
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def _pin_span(line: str, version: str) -> tuple[int, int] | None:
    """Where ``version`` follows ``==`` (or ``===``) in ``line``."""
    start = 0
    while (at := line.find("==", start)) >= 0:
        end = at + 2
        if line.startswith("=", end):
            end += 1
        cursor = end
        while cursor < len(line) and line[cursor] in " \t":
            cursor += 1
        if line.startswith(version, cursor):
            after = cursor + len(version)
            if after == len(line) or not (line[after].isalnum() or line[after] in ".+*"):
                return cursor, after
        start = end
    return None


def rewrite_requirements(
    text: str,
    fixes: Mapping[str, str],
    *,
    hashes: Mapping[str, tuple[str, ...]] | None = None,
    name: str = "requirements.txt",
) -> FixResult:
    """``text`` (a requirements file) with each pin of ``fixes`` (PEP 503 name to version)
    set to its new version. Added in 0.1."""
    physical = text.split("\n")
    result = FixResult(text)
    index = 0
    while index < len(physical):
        first = index
        while physical[index].rstrip("\r").endswith("\\") and index + 1 < len(physical):
            index += 1
        last = index
        index += 1
        logical = " ".join(p.rstrip("\r").removesuffix("\\") for p in physical[first : last + 1])
        body = logical.split(" #", 1)[0].strip()
        if not body or body.startswith(("#", "-")):
            continue
        requirement_text = body.split(" --", 1)[0].strip()
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            continue
        package = canonical_name(requirement.name)
        new = fixes.get(package)
        if new is None:
            continue
        old = next((s.version for s in requirement.specifier if s.operator in ("==", "===")), None)
        span = _pin_span(physical[first], old) if old else None
        where = f"{name}:{first + 1}"
        if old is None or span is None:
            result.flagged.append(
                f"{where}: {requirement.name} is not pinned on this line; not changed"
            )
            continue
        has_hashes = "--hash" in logical
        new_hashes = (hashes or {}).get(package, ())
        if has_hashes and not new_hashes:
            result.flagged.append(
                f"{where}: {requirement.name} has --hash options and the new version's hashes "
                "are unknown (no resolver); not changed: update it by hand"
            )
            continue
        line = physical[first]
        physical[first] = line[: span[0]] + new + line[span[1] :]
        if has_hashes:
            indent = "    "
            head = physical[first].split(" --hash", 1)[0].rstrip().removesuffix("\\").rstrip()
            keep_comment = ""
            tail = physical[last]
            if " #" in tail.split("--hash")[-1]:
                keep_comment = "  #" + tail.split("--hash")[-1].split(" #", 1)[1]
            block = [f"{head} \\"] + [f"{indent}--hash={h} \\" for h in new_hashes]
            block[-1] = block[-1].removesuffix(" \\") + keep_comment
            physical[first : last + 1] = block
            index = first + len(block)
        result.changed.append((requirement.name, old, new))
    result.text = "\n".join(physical)
    return result
