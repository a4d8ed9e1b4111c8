"""Host names: the Public Suffix List, the HSTS preload list, and the small helpers both need."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from bulletproof.errors import ConfigError

__all__ = ["PreloadList", "PublicSuffixList", "is_ip", "registrable", "scheme_host"]

_APPROX_SECOND_LEVEL: Final = frozenset(
    {"ac", "co", "com", "edu", "go", "gob", "gov", "gv", "mil", "ne", "net", "nic", "or", "org"}
)


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 literal (brackets allowed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _idna(label_path: str) -> str:
    try:
        return label_path.encode("idna").decode("ascii")
    except UnicodeError:
        return label_path


class PublicSuffixList:
    """The Public Suffix List (publicsuffix.org) for registrable-domain lookups.

    Build it with :meth:`parse` from the text of ``public_suffix_list.dat``. Rules from the
    ICANN section are used for the subresource-integrity test (as the Observatory does); rules
    from both sections for refusing a cookie ``Domain`` that is a public suffix.

    >>> psl = PublicSuffixList.parse("// ===BEGIN ICANN DOMAINS===\\nuk\\nco.uk\\n")
    >>> psl.registrable_domain("www.example.co.uk")
    'example.co.uk'

    Added in 0.1.
    """

    __slots__ = ("_rules",)

    def __init__(self, rules: Mapping[str, tuple[str, bool]]) -> None:
        # rule text ("co.uk", "*.ck", "!www.ck") -> (kind, icann)
        self._rules = dict(rules)

    @classmethod
    def parse(cls, text: str) -> PublicSuffixList:
        """Read the list's text format (comments, blank lines, ``*.`` and ``!`` rules)."""
        rules: dict[str, tuple[str, bool]] = {}
        icann = True
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("//"):
                if "===BEGIN PRIVATE DOMAINS===" in line:
                    icann = False
                elif "===BEGIN ICANN DOMAINS===" in line:
                    icann = True
                continue
            if not line:
                continue
            rule = line.split()[0].lower()
            kind = "exception" if rule.startswith("!") else "normal"
            rule = rule.lstrip("!")
            rules.setdefault(_idna(rule), (kind, icann))
        return cls(rules)

    def _suffix_len(self, labels: list[str], icann_only: bool) -> int:
        best = 1  # the implicit "*" rule: the last label
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            count = len(labels) - i
            for rule in (
                candidate,
                "*." + ".".join(labels[i + 1 :]) if i + 1 < len(labels) else "",
            ):
                found = self._rules.get(rule) if rule else None
                if found is None or (icann_only and not found[1]):
                    continue
                if found[0] == "exception":
                    return count - 1
                best = max(best, count)
        return best

    def registrable_domain(self, host: str, *, icann_only: bool = True) -> str | None:
        """The public suffix plus one label, or None (IP address, single label, a suffix)."""
        labels = _host_labels(host)
        if labels is None:
            return None
        size = self._suffix_len(labels, icann_only)
        if size >= len(labels):
            return None
        return ".".join(labels[-(size + 1) :])


_MAX_HOST: Final = 253  # DNS limit; also bounds the label loops below (quadratic in labels)


def _host_labels(host: str) -> list[str] | None:
    name = host.lower().rstrip(".")
    if not name or len(name) > _MAX_HOST or is_ip(name):
        return None
    labels = name.split(".")
    if len(labels) < 2 or "" in labels:
        return None
    return labels


def registrable(host: str, suffixes: PublicSuffixList | None, icann_only: bool) -> str | None:
    """The registrable domain of ``host``: from ``suffixes``, else the built-in approximation."""
    if suffixes is not None:
        return suffixes.registrable_domain(host, icann_only=icann_only)
    labels = _host_labels(host)
    if labels is None:
        return None
    size = 2 if len(labels[-1]) == 2 and labels[-2] in _APPROX_SECOND_LEVEL else 1
    return ".".join(labels[-(size + 1) :]) if len(labels) > size else None


class PreloadList:
    """Chromium's HSTS preload list: which hosts browsers always reach over HTTPS.

    A host is preloaded if its own entry is ``force-https``, or a parent's entry is
    ``force-https`` with ``include_subdomains``.

    >>> PreloadList({"example.org": True}).is_preloaded("www.example.org")
    True

    Added in 0.1.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, bool]) -> None:
        """``entries``: lower-case host -> include_subdomains, ``force-https`` entries only."""
        self._entries = {k.lower(): bool(v) for k, v in entries.items()}

    @classmethod
    def from_chromium_json(cls, text: str) -> PreloadList:
        """Read ``transport_security_state_static.json`` (``//`` comment lines allowed)."""
        kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        try:
            data = json.loads(kept)
            entries = data["entries"]
            out = {
                str(e["name"]).lower(): bool(e.get("include_subdomains", False))
                for e in entries
                if e.get("mode") == "force-https"
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                "HSTS preload list: not Chromium's transport_security_state_static.json "
                f"(expected an object with an 'entries' list): {exc}"
            ) from None
        return cls(out)

    def is_preloaded(self, host: str) -> bool:
        """Whether ``host`` is preloaded (dot-less hosts and IP literals never are)."""
        name = host.lower().rstrip(".")
        if "." not in name or len(name) > _MAX_HOST or is_ip(name):
            return False
        if name in self._entries:
            return True
        labels = name.split(".")
        return any(self._entries.get(".".join(labels[i:])) is True for i in range(1, len(labels)))


def scheme_host(url: str) -> tuple[str, str]:
    """Lower-case scheme and host of ``url`` (empty strings when it does not parse)."""
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return "", ""
