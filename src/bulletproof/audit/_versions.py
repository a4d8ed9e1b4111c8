"""Versions and names as OSV orders and matches them for the PyPI ecosystem.

A version is read as PEP 440 (``packaging``); one that is not PEP 440 (``0.1-bulbasaur``,
``2013-01-21T20:33:09+0100``, ``trunk``) is a *legacy* version, ordered as setuptools and
``packaging`` before 22 ordered them: below every PEP 440 version, and among themselves by
their numeric and alphabetic parts. The OSV bound ``"0"`` of an ``introduced`` event is below
everything, ``0.dev0`` included.

>>> key("1.0") == key("1.0.0") == key("v1.0")
True
>>> key("1.0+cpu") > key("1.0") > key("1.0rc1") > key("0.1-bulbasaur") > ZERO
True
>>> canonical_name("JW_Util") == canonical_name("jw.util")
True

Added in 0.1.
"""

from __future__ import annotations

import functools
from typing import Final, TypeAlias

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["ZERO", "VersionKey", "bound", "canonical_name", "key", "pep440"]

# (rank, value): rank -1 for the OSV "0" bound, 0 for legacy versions, 1 for PEP 440 ones, so
# keys of different kinds compare by rank alone and values only meet values of their kind
VersionKey: TypeAlias = tuple[int, object]

ZERO: Final[VersionKey] = (-1, ())
"""The ``introduced: "0"`` bound: below every version. Added in 0.1."""

_LEGACY_WORDS: Final = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}


def canonical_name(name: str) -> str:
    """The PEP 503 form of a project name (``JW_Util`` and ``jw.util`` are ``jw-util``).

    Added in 0.1.
    """
    return str(canonicalize_name(name))


def pep440(text: str) -> Version | None:
    """``text`` as a PEP 440 version, or None when it is not one. Added in 0.1."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _legacy_parts(text: str) -> list[str]:
    """The parts of a legacy version: runs of digits (zero-padded to compare as numbers), runs
    of letters and the separators between them (marked ``*``), then ``*final``. One pass over
    the text, no regular expression."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        j = i + 1
        if c.isdigit():
            while j < n and text[j].isdigit():
                j += 1
        elif c.isalpha() and c.isascii():
            while j < n and text[j].isalpha() and text[j].isascii():
                j += 1
        elif c not in ".-":
            while j < n and not (text[j].isascii() and text[j].isalnum()) and text[j] not in ".-":
                j += 1
        part = _LEGACY_WORDS.get(text[i:j], text[i:j])
        i = j
        if part == ".":
            continue
        parts.append(part.zfill(8) if part[0].isdigit() else "*" + part)
    parts.append("*final")
    return parts


def _legacy_key(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in _legacy_parts(text.lower()):
        if part.startswith("*"):
            if part < "*final":  # a pre-release word: drop the "final-" markers before it
                while out and out[-1] == "*final-":
                    out.pop()
            while out and out[-1] == "00000000":  # 1.0 == 1.0.0
                out.pop()
        out.append(part)
    return tuple(out)


@functools.lru_cache(maxsize=1 << 16)  # records repeat their bounds; parsing one costs ~5 us
def key(text: str) -> VersionKey:
    """The sort key of a package's version, PEP 440 or legacy. Added in 0.1."""
    version = pep440(text)
    if version is not None:
        return (1, version)
    return (0, _legacy_key(text))


@functools.lru_cache(maxsize=1 << 16)
def bound(text: str) -> VersionKey | None:
    """The sort key of an OSV event's version: ``"0"`` is :data:`ZERO`; a bound that is not
    PEP 440 is None (OSV's own matcher skips such an event; the audit reports it).

    Added in 0.1.
    """
    if text == "0":
        return ZERO
    version = pep440(text)
    return None if version is None else (1, version)
