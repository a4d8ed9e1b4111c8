"""An ignore file: findings the project has looked at and accepted, each with a reason and an
end (a date, or as soon as a fixed version exists).

```toml
[[ignore]]
id = "PYSEC-2023-62"              # the finding's id or any alias (CVE-..., GHSA-...)
package = "flask"                 # optional: only for this package
reason = "session cookies are not used behind a caching proxy"
expires = 2027-01-31              # after this day the finding counts again
until_fixed = true                # ... or as soon as a fixed version is published
```

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "audit-ignore.toml"
>>> _ = path.write_text('[[ignore]]\\nid = "CVE-1"\\nreason = "not reachable"\\n'
...                      'expires = 2099-01-01\\n')
>>> [rule.id for rule in read_ignores(path)]
['CVE-1']

Added in 0.1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bulletproof.audit._sources import read_toml
from bulletproof.audit._versions import canonical_name
from bulletproof.errors import ConfigError

__all__ = ["Ignore", "read_ignores"]

_KEYS: Final = ("id", "package", "reason", "expires", "until_fixed")


@dataclass(frozen=True, slots=True)
class Ignore:
    """One accepted finding. Added in 0.1."""

    id: str
    reason: str
    package: str | None = None
    expires: dt.date | None = None
    until_fixed: bool = False
    where: str = ""

    def covers(self, ids: tuple[str, ...], package: str) -> bool:
        """Whether this entry names one of ``ids`` (for ``package``). Added in 0.1."""
        return self.id in ids and (self.package is None or self.package == package)

    def ended(self, today: dt.date, fixes: tuple[str, ...]) -> str | None:
        """Why this entry no longer applies (expired, a fix exists), or None. Added in 0.1."""
        if self.expires is not None and today > self.expires:
            return f"the ignore at {self.where} expired on {self.expires.isoformat()}"
        if self.until_fixed and fixes:
            return f"the ignore at {self.where} held until a fix: {', '.join(fixes)} fixes it"
        return None


def read_ignores(path: Path) -> list[Ignore]:
    """The entries of an ignore file. Raises :class:`~bulletproof.errors.ConfigError` naming
    the entry and the key for anything missing or wrong. Added in 0.1."""
    data = read_toml(path)
    unknown = [k for k in data if k != "ignore"]
    if unknown:
        raise ConfigError(f"{path}: unknown table {unknown[0]!r}; entries are [[ignore]] tables")
    entries = data.get("ignore", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: write each entry as an [[ignore]] table")
    out: list[Ignore] = []
    for index, entry in enumerate(entries, 1):
        where = f"{path} [[ignore]] #{index}"
        extra = [k for k in entry if k not in _KEYS]
        if extra:
            raise ConfigError(f"{where}: unknown key {extra[0]!r}; keys are {', '.join(_KEYS)}")
        ident = entry.get("id")
        if not isinstance(ident, str) or not ident.strip():
            raise ConfigError(
                f'{where}: id is missing; give the finding\'s id, e.g. id = "PYSEC-2023-62"'
            )
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where} ({ident}): reason is missing; say why it is accepted")
        expires = entry.get("expires")
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        if expires is not None and not isinstance(expires, dt.date):
            raise ConfigError(
                f"{where} ({ident}): expires = {expires!r}; give a date: expires = 2027-01-31"
            )
        until_fixed = entry.get("until_fixed", False)
        if not isinstance(until_fixed, bool):
            raise ConfigError(f"{where} ({ident}): until_fixed is true or false")
        if expires is None and not until_fixed:
            raise ConfigError(
                f"{where} ({ident}): give it an end: expires = <date>, until_fixed = true, or both"
            )
        package = entry.get("package")
        if package is not None and not isinstance(package, str):
            raise ConfigError(f"{where} ({ident}): package is a project name")
        out.append(
            Ignore(
                ident.strip(),
                reason.strip(),
                canonical_name(package) if package else None,
                expires,
                until_fixed,
                where,
            )
        )
    return out
