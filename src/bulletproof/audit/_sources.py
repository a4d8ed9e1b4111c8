"""Where a project's dependencies are written down, read as ``(name, version)`` pins.

Requirements files (``-r`` and ``-c`` followed, hashes and extras read, markers evaluated for a
chosen target Python and platform), ``pyproject.toml`` (``[project]`` dependencies, optional
dependencies, dependency groups), ``uv.lock``, ``poetry.lock``, ``Pipfile.lock``,
``pylock.toml`` and installed environments. A line that names no single version (unpinned,
a URL, a VCS checkout, an editable path, bad syntax) is a :class:`Skipped` entry saying why,
never silently dropped; a requirement whose marker is false for the target is
:attr:`Sources.not_applicable`.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "requirements.txt").write_text("flask==0.12  # old\\nrequests>=2\\n")
>>> found = read_requirements(folder / "requirements.txt")
>>> [(d.name, d.version) for d in found.dependencies]
[('flask', '0.12')]
>>> found.skipped[0].reason
'not pinned to one version (requests>=2): pin it (==) or audit the lock file or environment'

Added in 0.1.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from bulletproof.audit._versions import canonical_name
from bulletproof.errors import ConfigError

__all__ = [
    "Dependency",
    "Skipped",
    "Sources",
    "Target",
    "read_environment",
    "read_lock",
    "read_pyproject",
    "read_requirements",
    "read_source",
]

_MAX_DEPTH: Final = 32  # -r / -c nesting
_GLOBAL_OPTIONS: Final = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--no-index",
        "--pre",
        "--prefer-binary",
        "--only-binary",
        "--no-binary",
        "--trusted-host",
        "--use-feature",
        "--require-hashes",
        "--no-deps",
    }
)
_TAKES_VALUE: Final = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--only-binary",
        "--no-binary",
        "--trusted-host",
        "--use-feature",
    }
)
_VCS: Final = ("git+", "hg+", "svn+", "bzr+")
_INDEX_OPTIONS: Final = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--no-index": "--no-index",
}


@dataclass(frozen=True, slots=True)
class Target:
    """The Python and platform markers are evaluated for (``None``: this interpreter's).

    >>> Target(python_version="3.8", sys_platform="win32").environment()["python_full_version"]
    '3.8.0'

    Added in 0.1.
    """

    python_version: str | None = None
    sys_platform: str | None = None

    def environment(self) -> dict[str, str]:
        """The PEP 508 marker environment of the target. Added in 0.1."""
        from packaging.markers import default_environment

        env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
        if self.python_version:
            parts = self.python_version.split(".")
            env["python_version"] = ".".join(parts[:2])
            env["python_full_version"] = ".".join([*parts, "0", "0"][:3])
        if self.sys_platform:
            env["sys_platform"] = self.sys_platform
            env["platform_system"] = {
                "win32": "Windows",
                "darwin": "Darwin",
                "linux": "Linux",
            }.get(self.sys_platform, env["platform_system"])
            env["os_name"] = "nt" if self.sys_platform == "win32" else "posix"
        return env


@dataclass(frozen=True, slots=True)
class Dependency:
    """One pinned dependency: PEP 503 ``name``, the ``version`` pinned or installed, and where
    it was read (``file`` and ``line``; line 0 for lock files and environments).

    Added in 0.1.
    """

    name: str
    version: str
    file: str
    line: int = 0
    display: str = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line that could not be audited by version, and why. Added in 0.1."""

    file: str
    line: int
    text: str
    reason: str


@dataclass(slots=True)
class Sources:
    """What was read: the pinned :attr:`dependencies`, the :attr:`skipped` lines (the audit
    is incomplete while there are any), and :attr:`not_applicable` requirements (a marker
    false for the target). :attr:`index_options` are the index options of requirements files
    (``--index-url``, ``--find-links`` with its path made absolute, ``--no-index``...), for a
    resolver asked about the same pins. Added in 0.1."""

    dependencies: list[Dependency] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_applicable: list[Skipped] = field(default_factory=list)
    index_options: list[str] = field(default_factory=list)

    def extend(self, other: Sources) -> None:
        """Add what ``other`` read. Added in 0.1."""
        self.dependencies.extend(other.dependencies)
        self.skipped.extend(other.skipped)
        self.not_applicable.extend(other.not_applicable)
        self.index_options.extend(o for o in other.index_options if o not in self.index_options)


# -- requirements files ------------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, line)`` with continuations joined and comments removed."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = "".join(pending)
        pending = []
        if joined.lstrip().startswith("#"):
            continue
        cut = joined.find(" #")
        tab = joined.find("\t#")
        cuts = [c for c in (cut, tab) if c >= 0]
        if cuts:
            joined = joined[: min(cuts)]
        joined = joined.strip()
        if joined:
            yield start, joined
    if pending:
        joined = "".join(pending).strip()
        if joined and not joined.startswith("#"):
            yield start, joined


def _split_options(line: str) -> tuple[str, list[str]]:
    """The requirement part of a line and its per-line options (``--hash=...``)."""
    if " --" not in line and " -" not in line:
        return line, []
    for marker in (" --hash", " --config-settings", " --global-option", " -C "):
        at = line.find(marker)
        if at >= 0:
            return line[:at].strip(), line[at:].split()
    return line, []


def _pin(requirement: Requirement) -> str | None:
    """The one version ``requirement`` pins (``==X`` without a wildcard, or ``===X``)."""
    specs = list(requirement.specifier)
    pins = [
        s.version for s in specs if s.operator in ("==", "===") and not s.version.endswith(".*")
    ]
    if len(pins) == 1:
        return pins[0]
    return None


@dataclass(slots=True)
class _Reader:
    target: Target
    env: dict[str, str]
    out: Sources = field(default_factory=Sources)
    constraints: dict[str, str] = field(default_factory=dict)
    seen: set[Path] = field(default_factory=set)
    unpinned: list[tuple[Requirement, Skipped]] = field(default_factory=list)

    def applies(self, requirement: Requirement, where: Skipped) -> bool:
        if requirement.marker is None:
            return True
        try:
            if requirement.marker.evaluate(self.env):
                return True
        except (UndefinedComparison, UndefinedEnvironmentName) as exc:
            self.out.skipped.append(_with(where, f"marker cannot be evaluated: {exc}"))
            return False
        self.out.not_applicable.append(
            _with(where, f"marker {requirement.marker} is false for the target")
        )
        return False

    def read(self, path: Path, *, constraint: bool, depth: int, origin: str) -> None:
        shown = str(path)
        try:
            resolved = path.resolve()
        except OSError:
            resolved = path
        if resolved in self.seen:
            return  # included twice: read once
        if depth > _MAX_DEPTH:
            self.out.skipped.append(
                Skipped(origin, 0, shown, f"-r/-c nested over {_MAX_DEPTH} deep; not read")
            )
            return
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"{origin}: no requirements file {shown}; check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{origin}: cannot read {shown}: {exc}") from None
        self.seen.add(resolved)
        for number, line in _logical_lines(text):
            self.line(path, shown, number, line, constraint=constraint, depth=depth)

    def line(
        self, path: Path, shown: str, number: int, line: str, *, constraint: bool, depth: int
    ) -> None:
        where = Skipped(shown, number, line, "")
        if line.startswith("-"):
            try:
                words = shlex.split(line)
            except ValueError as exc:
                self.out.skipped.append(_with(where, f"cannot read the option: {exc}"))
                return
            option, _, value = words[0].partition("=")
            rest = [value] if value else words[1:]
            if option in ("-r", "--requirement", "-c", "--constraint"):
                if not rest:
                    self.out.skipped.append(_with(where, f"{option} names no file"))
                    return
                nested = (path.parent / rest[0]) if not os.path.isabs(rest[0]) else Path(rest[0])
                self.read(
                    nested,
                    constraint=constraint or option in ("-c", "--constraint"),
                    depth=depth + 1,
                    origin=f"{shown}:{number}",
                )
                return
            if option in ("-e", "--editable"):
                self.out.skipped.append(
                    _with(
                        where,
                        "an editable install: not auditable by version (audit the "
                        "environment it is installed in)",
                    )
                )
                return
            if option in _GLOBAL_OPTIONS:
                # index and install options: no dependency, but a resolver needs the index ones
                if option in _INDEX_OPTIONS:
                    value = rest[0] if rest else ""
                    if option in ("-f", "--find-links") and value and "://" not in value:
                        value = str((path.parent / value).resolve())
                    flag = _INDEX_OPTIONS[option]
                    self.out.index_options.append(f"{flag}={value}" if value else flag)
                return
            self.out.skipped.append(_with(where, f"unknown option {option}"))
            return
        requirement_text, _ = _split_options(line)
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as exc:
            lowered = requirement_text.lower()
            if "://" in lowered or lowered.startswith((*_VCS, ".", "/", "~")):
                reason = "a URL, VCS or path requirement: not auditable by version"
            else:
                reason = f"not a requirement: {exc}"
            self.out.skipped.append(_with(where, reason))
            return
        if requirement.url:
            if self.applies(requirement, where):
                self.out.skipped.append(
                    _with(
                        where,
                        f"a URL requirement ({requirement.name} @ ...): not auditable by version",
                    )
                )
            return
        name = canonical_name(requirement.name)
        version = _pin(requirement)
        if constraint:
            if version is not None and self.applies(requirement, where):
                self.constraints.setdefault(name, version)
            return
        if not self.applies(requirement, where):
            return
        if version is None:
            self.unpinned.append(
                (
                    requirement,
                    _with(
                        where,
                        f"not pinned to one version ({requirement_text}): pin it (==) or "
                        "audit the lock file or environment",
                    ),
                )
            )
            return
        self.out.dependencies.append(Dependency(name, version, shown, number, requirement.name))

    def finish(self) -> Sources:
        for requirement, where in self.unpinned:
            name = canonical_name(requirement.name)
            pinned = self.constraints.get(name)
            if pinned is not None and requirement.specifier.contains(pinned, prereleases=True):
                self.out.dependencies.append(
                    Dependency(name, pinned, where.file, where.line, requirement.name)
                )
            else:
                self.out.skipped.append(where)
        self.out.skipped.sort(key=lambda s: (s.file, s.line))  # in file order, not read order
        return self.out


def _with(where: Skipped, reason: str) -> Skipped:
    return Skipped(where.file, where.line, where.text, reason)


def read_requirements(path: Path, target: Target | None = None) -> Sources:
    """The pins of a requirements file and every file it includes (``-r``), with the versions
    of its constraint files (``-c``) applied to its unpinned lines. Raises
    :class:`~bulletproof.errors.ConfigError` when the file cannot be read.

    Added in 0.1.
    """
    target = target or Target()
    reader = _Reader(target, target.environment())
    reader.read(path, constraint=False, depth=0, origin=str(path))
    return reader.finish()


# -- pyproject.toml ----------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file, or a :class:`~bulletproof.errors.ConfigError` naming it. Added in 0.1."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no file {path}; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def read_pyproject(path: Path, target: Target | None = None) -> Sources:
    """The pins of ``pyproject.toml``: ``[project]`` dependencies and optional dependencies,
    and ``[dependency-groups]`` (``include-group`` followed). An unpinned requirement is
    skipped, naming the lock file to audit instead. Added in 0.1."""
    target = target or Target()
    reader = _Reader(target, target.environment())
    data = read_toml(path)
    shown = str(path)
    given = data.get("project")
    project: dict[str, Any] = given if isinstance(given, dict) else {}
    entries: list[tuple[str, object]] = []
    entries.extend(("project.dependencies", item) for item in project.get("dependencies") or ())
    optional = project.get("optional-dependencies") or {}
    if isinstance(optional, dict):
        for extra, items in optional.items():
            entries.extend(
                (f"project.optional-dependencies.{extra}", item)
                for item in (items if isinstance(items, list) else ())
            )
    groups = data.get("dependency-groups") or {}
    if isinstance(groups, dict):
        for group in groups:
            entries.extend(
                (f"dependency-groups.{group}", item) for item in _group_items(groups, group, set())
            )
    for where, item in entries:
        if not isinstance(item, str):
            reader.out.skipped.append(
                Skipped(shown, 0, repr(item), f"{where}: not a requirement string")
            )
            continue
        reader.line(path, f"{shown} [{where}]", 0, item, constraint=False, depth=0)
    return reader.finish()


def _group_items(groups: Mapping[str, Any], name: str, seen: set[str]) -> Iterator[object]:
    if name in seen:
        return
    seen.add(name)
    items = groups.get(name)
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("include-group"), str):
            yield from _group_items(groups, item["include-group"], seen)
        else:
            yield item


# -- lock files ----------------------------------------------------------------------------------


def _locked(
    out: Sources,
    shown: str,
    name: object,
    version: object,
    source: object,
    env: dict[str, str],
    marker: object = None,
) -> None:
    if not isinstance(name, str):
        out.skipped.append(Skipped(shown, 0, repr(name), "a package entry without a name"))
        return
    if isinstance(marker, str) and marker:
        try:
            if not Marker(marker).evaluate(env):
                out.not_applicable.append(
                    Skipped(shown, 0, name, f"marker {marker} is false for the target")
                )
                return
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
            out.skipped.append(
                Skipped(shown, 0, name, f"marker {marker!r} cannot be evaluated: {exc}")
            )
            return
    if isinstance(source, Mapping):
        kinds = [
            k
            for k in ("git", "url", "path", "directory", "editable", "virtual", "vcs", "archive")
            if k in source
        ]
        if kinds and "registry" not in source:
            out.skipped.append(
                Skipped(
                    shown,
                    0,
                    f"{name} ({kinds[0]})",
                    f"installed from a {kinds[0]}: not auditable by version",
                )
            )
            return
    if not isinstance(version, str) or not version:
        out.skipped.append(Skipped(shown, 0, name, "no version in the lock file"))
        return
    out.dependencies.append(Dependency(canonical_name(name), version, shown, 0, name))


def read_lock(path: Path, target: Target | None = None) -> Sources:
    """The pins of ``uv.lock``, ``poetry.lock``, ``Pipfile.lock`` or ``pylock.toml`` (PEP
    751), by file name. Packages installed from git, a URL or a path are skipped, naming the
    source. Added in 0.1."""
    env = (target or Target()).environment()
    out = Sources()
    shown = str(path)
    name = path.name
    if name == "Pipfile.lock":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no file {path}; check the path") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path} is not a readable Pipfile.lock: {exc}") from None
        for section in ("default", "develop"):
            for package, entry in (data.get(section) or {}).items():
                if not isinstance(entry, dict):
                    continue
                version = entry.get("version", "")
                source = {k: entry[k] for k in ("git", "path", "file") if k in entry}
                if source:
                    kind = next(iter(source))
                    out.skipped.append(
                        Skipped(
                            shown,
                            0,
                            f"{package} ({kind})",
                            f"installed from a {kind}: not auditable by version",
                        )
                    )
                    continue
                pinned = (
                    version[2:] if isinstance(version, str) and version.startswith("==") else None
                )
                _locked(out, shown, package, pinned, None, env, entry.get("markers"))
        return out
    data = read_toml(path)
    if name == "uv.lock" or (
        name.endswith(".lock")
        and "version" in data
        and "package" in data
        and "metadata" not in data
    ):
        for entry in data.get("package") or ():
            source = entry.get("source")
            if isinstance(source, Mapping) and ("editable" in source or "virtual" in source):
                out.not_applicable.append(
                    Skipped(
                        shown, 0, str(entry.get("name")), "the project itself (editable or virtual)"
                    )
                )
                continue
            _locked(out, shown, entry.get("name"), entry.get("version"), source, env)
        return out
    if name == "poetry.lock":
        for entry in data.get("package") or ():
            source = entry.get("source")
            if isinstance(source, Mapping) and source.get("type") in (
                "git",
                "url",
                "file",
                "directory",
            ):
                out.skipped.append(
                    Skipped(
                        shown,
                        0,
                        f"{entry.get('name')} ({source.get('type')})",
                        f"installed from a {source.get('type')}: not auditable by version",
                    )
                )
                continue
            _locked(out, shown, entry.get("name"), entry.get("version"), None, env)
        return out
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        for entry in data.get("packages") or ():
            source = {k: entry[k] for k in ("vcs", "directory", "archive") if k in entry}
            _locked(
                out,
                shown,
                entry.get("name"),
                entry.get("version"),
                source or None,
                env,
                entry.get("marker"),
            )
        return out
    raise ConfigError(
        f"{path}: not a lock file bulletproof reads (uv.lock, poetry.lock, Pipfile.lock, "
        "pylock.toml)"
    )


# -- environments --------------------------------------------------------------------------------


def _site_dirs(path: Path) -> list[Path]:
    if (path / "pyvenv.cfg").exists() or (path / "lib").is_dir() or (path / "Lib").is_dir():
        found = sorted(path.glob("lib/python*/site-packages")) + sorted(
            path.glob("Lib/site-packages")
        )
        if found:
            return found
    if any(path.glob("*.dist-info")):
        return [path]  # a site-packages folder itself
    raise ConfigError(
        f"{path} is not a virtual environment or a site-packages folder (no lib/python*/"
        "site-packages, no *.dist-info); give the venv's folder"
    )


def read_environment(path: Path | None = None) -> Sources:
    """The distributions installed in the venv (or site-packages folder) at ``path``, or in
    this interpreter's environment when None. Added in 0.1."""
    out = Sources()
    if path is None:
        dists: Iterable[metadata.Distribution] = metadata.distributions()
        shown = sys.prefix
    else:
        if not path.exists():
            raise ConfigError(f"no environment at {path}; give the venv's folder")
        dists = metadata.distributions(path=[str(p) for p in _site_dirs(path)])
        shown = str(path)
    seen: set[tuple[str, str]] = set()
    for dist in dists:
        name = dist.metadata["Name"] if dist.metadata else None
        version = dist.version
        if not name:
            out.skipped.append(
                Skipped(shown, 0, str(getattr(dist, "_path", "?")), "a distribution without a name")
            )
            continue
        key = (canonical_name(name), version)
        if key in seen:
            continue
        seen.add(key)
        direct = dist.read_text("direct_url.json")
        if direct:
            try:
                info = json.loads(direct)
            except ValueError:
                info = {}
            if isinstance(info, dict) and (info.get("dir_info", {}) or {}).get("editable"):
                out.not_applicable.append(
                    Skipped(shown, 0, f"{name} {version}", "an editable install")
                )
                continue
        out.dependencies.append(Dependency(key[0], version, shown, 0, name))
    return out


def read_source(path: Path, target: Target | None = None) -> Sources:
    """Whatever ``path`` is, by its name: a lock file, ``pyproject.toml``, a venv folder, or
    a requirements file. Added in 0.1."""
    if path.is_dir():
        return read_environment(path)
    if path.name in ("uv.lock", "poetry.lock", "Pipfile.lock") or (
        path.name.startswith("pylock.") and path.suffix == ".toml"
    ):
        return read_lock(path, target)
    if path.name == "pyproject.toml":
        return read_pyproject(path, target)
    return read_requirements(path, target)
