"""Whether an OSV record affects a version of a PyPI package, exactly as OSV defines it.

For each ``affected`` entry of the package (names compared in their PEP 503 form): each
``ECOSYSTEM`` (or ``SEMVER``) range's events are sorted by version, ``introduced: "0"``
below everything, then walked: at or past an ``introduced`` the version is affected, at or
past a ``fixed``, or past a ``last_affected``, it is not; ``limit`` events cap the range
(``"*"``: no cap). ``GIT`` ranges name commits, not versions, and are ignored. The
``versions`` list matches by PEP 440 equality, or'ed with the ranges. A withdrawn record
matches nothing. An event whose version is not PEP 440 is skipped, as OSV's matcher skips
it, and described in the ``problems`` list given to :func:`match`.

>>> record = {"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "Demo"},
...     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}
>>> match(record, "demo", "1.4").why
'1.4 is at or past introduced 0 and before fixed 2.0 (ECOSYSTEM range: introduced 0, fixed 2.0)'
>>> match(record, "demo", "2.0") is None
True

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bulletproof.audit._versions import ZERO, VersionKey, bound, canonical_name, key

__all__ = ["Match", "Matcher", "affected_entries", "group_aliases", "match"]

_EVENT_KINDS: Final = ("introduced", "fixed", "last_affected", "limit")
_ORDER: Final = {kind: rank for rank, kind in enumerate(_EVENT_KINDS)}


@dataclass(frozen=True, slots=True)
class Match:
    """One record that affects a version: why (the range and event, in words) and the
    ``fixed`` versions of the ranges that matched that are past the version.

    Added in 0.1.
    """

    id: str
    aliases: tuple[str, ...]
    why: str
    fixed: tuple[str, ...] = ()


def affected_entries(record: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The ``affected`` entries of ``record`` for the PyPI package ``name`` (PEP 503 form)."""
    out: list[Mapping[str, Any]] = []
    entries = record.get("affected")
    if not isinstance(entries, list):
        return out
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        package = entry.get("package")
        if not isinstance(package, Mapping) or package.get("ecosystem") != "PyPI":
            continue
        raw = package.get("name")
        if isinstance(raw, str) and canonical_name(raw) == name:
            out.append(entry)
    return out


def _events(
    events: Sequence[object], problems: list[str], where: str
) -> list[tuple[VersionKey, str, str]]:
    """The readable events of a range as ``(key, kind, version)``, sorted as OSV sorts them;
    an event that cannot be read is described in ``problems``."""
    out: list[tuple[VersionKey, str, str]] = []
    for event in events:
        if not isinstance(event, Mapping) or len(event) != 1:
            problems.append(f"{where}: event {event!r} is not one of {', '.join(_EVENT_KINDS)}")
            continue
        ((kind, version),) = event.items()
        if kind not in _ORDER or not isinstance(version, str):
            problems.append(f"{where}: event {event!r} is not one of {', '.join(_EVENT_KINDS)}")
            continue
        if kind == "limit" and version == "*":
            out.append(((2, ()), kind, version))  # above every version
            continue
        at = bound(version)
        if at is None:
            problems.append(f"{where}: {kind} {version!r} is not a PEP 440 version; skipped")
            continue
        if at == ZERO and kind != "introduced":
            problems.append(f"{where}: {kind} '0' bounds nothing; skipped")
            continue
        out.append((at, kind, version))
    out.sort(key=lambda e: (e[0], _ORDER[e[1]]))
    return out


def _in_range(
    version: VersionKey, events: list[tuple[VersionKey, str, str]]
) -> tuple[bool, str, str]:
    """Whether ``version`` is in the range, the event that let it in, and the event after it
    (the words of :attr:`Match.why`)."""
    affected = False
    opened = closed = ""
    for at, kind, text in events:
        if kind == "introduced" and version >= at:
            affected, opened = True, f"introduced {text}"
        elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
            affected = False
    if not affected:
        return False, "", ""
    limits = [at for at, kind, _ in events if kind == "limit"]
    if limits and not any(version < at for at in limits):
        return False, "", ""
    for at, kind, text in events:  # the first bound past the version closes its window
        if kind in ("fixed", "last_affected", "limit") and (
            version < at if kind != "last_affected" else version <= at
        ):
            closed = f"{'before' if kind != 'last_affected' else 'at or before'} {kind} {text}"
            break
    return True, opened, closed


def _describe(events: list[tuple[VersionKey, str, str]], kind: str) -> str:
    return f"{kind} range: " + ", ".join(f"{k} {t}" for _, k, t in events)


class Matcher:
    """One record read once for one package, then asked about many versions (the audit asks
    about the pinned version, its release when it is a pre-release, and each candidate fix).
    :attr:`problems` describes the events that could not be read. Added in 0.1."""

    __slots__ = ("aliases", "entries", "id", "problems", "withdrawn")

    def __init__(self, record: Mapping[str, Any], name: str) -> None:
        self.withdrawn = bool(record.get("withdrawn"))
        self.id = str(record.get("id", "?"))
        aliases = record.get("aliases")
        self.aliases = (
            tuple(a for a in aliases if isinstance(a, str)) if isinstance(aliases, list) else ()
        )
        self.problems: list[str] = []
        self.entries: list[
            tuple[list[tuple[str, list[tuple[VersionKey, str, str]]]], set[VersionKey]]
        ] = []
        if self.withdrawn:
            return
        for entry in affected_entries(record, name):
            parsed: list[tuple[str, list[tuple[VersionKey, str, str]]]] = []
            ranges = entry.get("ranges")
            for index, spec in enumerate(ranges if isinstance(ranges, list) else ()):
                if not isinstance(spec, Mapping) or spec.get("type") not in ("ECOSYSTEM", "SEMVER"):
                    continue  # GIT ranges name commits
                raw = spec.get("events")
                events = _events(
                    raw if isinstance(raw, list) else [], self.problems, f"{self.id} range {index}"
                )
                parsed.append((str(spec["type"]), events))
            listed = entry.get("versions")
            keys = (
                {key(v) for v in listed if isinstance(v, str)}
                if isinstance(listed, list)
                else set()
            )
            self.entries.append((parsed, keys))

    def match(self, version: str) -> Match | None:
        """The :class:`Match` at ``version``, or None. Added in 0.1."""
        if self.withdrawn:
            return None
        here = key(version)
        why = ""
        fixed: set[str] = set()
        for parsed, listed in self.entries:
            for kind, events in parsed:
                inside, opened, closed = _in_range(here, events)
                if inside:
                    why = why or (
                        f"{version} is at or past {opened}"
                        + (f" and {closed}" if closed else " (no fix yet)")
                        + f" ({_describe(events, kind)})"
                    )
                    fixed.update(t for at, k, t in events if k == "fixed" and at > here)
            if not why and here in listed:
                why = f"{version} is listed in the record's affected versions"
        if not why:
            return None
        return Match(self.id, self.aliases, why, tuple(sorted(fixed, key=key)))


def match(
    record: Mapping[str, Any], name: str, version: str, problems: list[str] | None = None
) -> Match | None:
    """The :class:`Match` of ``record`` for package ``name`` (PEP 503 form) at ``version``,
    or None when it does not affect it. Events that cannot be read are skipped and described
    in ``problems``. Added in 0.1."""
    matcher = Matcher(record, name)
    if problems is not None:
        problems.extend(matcher.problems)
    return matcher.match(version)


def group_aliases(matches: Iterable[Match]) -> list[list[Match]]:
    """The matches of one package grouped where their ids and aliases meet (transitively):
    two records naming the same CVE are one finding. Never across packages: call it per
    package. Added in 0.1."""
    items = list(matches)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, item in enumerate(items):
        for ident in (item.id, *item.aliases):
            other = owner.setdefault(ident, index)
            if other != index:
                parent[root(index)] = root(other)
    groups: dict[int, list[Match]] = {}
    for index, item in enumerate(items):
        groups.setdefault(root(index), []).append(item)
    return list(groups.values())
