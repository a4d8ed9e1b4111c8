"""Alert rules: pick events, group them per key, apply a cooldown, and notify people.

An :class:`AlertRule` says which events matter (category, action, minimum severity), how many of
them within how long make an alert (``threshold`` within ``within`` seconds), what to group them by
(``group_by``, a dotted ECS path such as ``source.ip``), how long to stay quiet afterwards
(``cooldown``) and whom to tell (``notify``, names of notifiers).

The :class:`AlertEngine` applies the rules. The delivery pipeline feeds it like any other sink
(``send`` receives ECS JSON lines); ``observe`` feeds it events directly. For each rule and key it
sends at most one alert per cooldown; events held back during a cooldown are counted and sent as one
digest when the cooldown ends. Failed notifications are retried with backoff and reported as
``delivery`` events through an :class:`~bulletproof.events.base.Emitter`.

>>> from bulletproof.testing import CapturingNotifier, FakeClock
>>> mail = CapturingNotifier("mail")
>>> rule = AlertRule("brute-force", categories=frozenset({Category.AUTH}), threshold=3,
...                  within=60, group_by="source.ip", notify=("mail",))
>>> engine = AlertEngine([rule], {"mail": mail}, clock=FakeClock())
>>> for t in range(3):
...     engine.observe(SecurityEvent(action="login_failed", category=Category.AUTH,
...                                  source_ip="203.0.113.9", timestamp=1000.0 + t))
>>> [(a.rule, a.key, a.count) for a in mail.alerts]
[('brute-force', '203.0.113.9', 3)]

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import os
import re
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Final, Protocol

from bulletproof._settings import (
    Context,
    Duration,
    FileOnly,
    Given,
    Names,
    NotifierConfig,
    Parse,
    Text,
    coerce,
    display,
    field_kinds,
    known_keys,
    type_error,
)
from bulletproof._text import did_you_mean, has_unsafe, one_line
from bulletproof._units import parse_duration, shown
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, SinkError
from bulletproof.events._alertlog import AlertLog
from bulletproof.events.base import Emitter, Notifier
from bulletproof.events.model import (
    Category,
    Outcome,
    SecurityEvent,
    Severity,
    _format_timestamp,
)

__all__ = [
    "Alert",
    "AlertCounter",
    "AlertEngine",
    "AlertRule",
    "AlertStats",
    "AlertsConfig",
    "Hit",
    "MemoryAlertCounter",
]

_MAX_THRESHOLD: Final = 10_000
"""The largest ``threshold`` a rule may have (it bounds the timestamps kept per key)."""

_MAX_KEY_LENGTH: Final = 200
"""Group keys come from event fields an attacker controls: longer ones are cut to this length."""

_NO_GROUP_KEY: Final = "all"
"""The key of a rule without ``group_by``: all its events form one group."""

_MISSING_KEY: Final = "-"
"""The key of an event that lacks the ``group_by`` field."""

_ERROR_MAX: Final = 500
_SEEN_MAX: Final = 10_000
"""Ids of the newest matched events, kept so that a batch a new deliverer is given again (its
predecessor died before committing it) is not counted twice."""
_REWRITE_BACKOFF: Final = 5.0
"""Seconds between tries to rewrite an alert state that could not be written."""
_BRIEF_CHARS: Final = 256
"""Fields of an event kept for a digest or a pending notification are cut to this length."""
_GROUP_BY_RE: Final = re.compile(r"[A-Za-z0-9_@\-]+(?:\.[A-Za-z0-9_@\-]+)*")


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification to send: what a rule saw for one key.

    ``event`` is the event that fired the alert (for a digest, the newest suppressed one);
    ``count`` is how many matching events this alert stands for; ``suppressed`` how many of those
    were held back by the cooldown since the previous alert for this rule and key (a digest has
    ``digest=True`` and ``suppressed == count``).

    A *summary* (``held > 0``) stands for ``held`` alerts and digests of the rule that its
    ``max_alerts`` held back, for ``keys`` (the first few of them; ``key`` says how many).

    Added in 0.1.
    """

    rule: str
    key: str
    event: SecurityEvent
    count: int
    suppressed: int
    digest: bool
    first_seen: float
    last_seen: float
    severity: Severity
    held: int = 0
    keys: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """One line, for an email subject or the first line of an SMS."""
        what = self.event.message or self.event.action
        if self.held:
            shown = ", ".join(self.keys[:3]) + (" ..." if self.held > 3 else "")
            return (
                f"[bulletproof] {self.severity.value.upper()} {self.rule}: {self.held} more "
                f"alert(s) held back by max_alerts ({shown})"
            )
        if self.digest:
            return (
                f"[bulletproof] {self.rule}: {self.suppressed} more event(s) for {self.key} "
                f"during cooldown"
            )
        return f"[bulletproof] {self.severity.value.upper()} {self.rule}: {what} ({self.key})"

    @property
    def text(self) -> str:
        """A few plain-text lines: what happened, how often, from when to when."""
        ev = self.event
        lines = [
            self.subject,
            f"rule: {self.rule}",
            f"key: {self.key}",
            f"events: {self.count}"
            + (f" ({self.suppressed} suppressed by cooldown)" if self.suppressed else ""),
            f"first: {_format_timestamp(self.first_seen)}",
            f"last: {_format_timestamp(self.last_seen)}",
            f"category: {ev.category.value}  action: {ev.action}  severity: {ev.severity.value}",
        ]
        if self.held:
            more = " ..." if self.held > len(self.keys) else ""
            lines.insert(3, f"keys: {', '.join(self.keys)}{more}")
        if ev.source_ip:
            lines.append(f"source.ip: {ev.source_ip}")
        if ev.user_name:
            lines.append(f"user.name: {ev.user_name}")
        if ev.url_path:
            lines.append(f"url.path: {ev.url_path}")
        lines.append(f"event.id: {ev.id}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def _items(label: str, field_name: str, value: object, what: str) -> list[object]:
    """``value`` as a list: a single string is one item, not its characters."""
    if value is None:
        return []
    if isinstance(value, str | Category | Severity):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise ConfigError(
        f"{label}: field {field_name!r} must be a list of {what}, got {type(value).__name__}."
    )


def _coerce_categories(label: str, value: object) -> frozenset[Category]:
    known = [c.value for c in Category]
    out: set[Category] = set()
    for item in _items(label, "categories", value, "categories"):
        if isinstance(item, Category):
            out.add(item)
            continue
        if isinstance(item, str):
            try:
                out.add(Category(item.strip().lower()))
                continue
            except ValueError:
                pass
        raise ConfigError(
            f"{label}: field 'categories' has unknown category {item!r}."
            f"{did_you_mean(str(item), known)} Known categories: {', '.join(known)}."
        )
    return frozenset(out)


def _coerce_names(label: str, field_name: str, value: object, what: str) -> tuple[str, ...]:
    out: list[str] = []
    for item in _items(label, field_name, value, what):
        if not isinstance(item, str) or not item.strip() or has_unsafe(item):
            raise ConfigError(
                f"{label}: field {field_name!r} must hold non-empty {what} without control "
                f"characters, got {item!r}."
            )
        if item not in out:
            out.append(item)
    return tuple(out)


def _coerce_severity(label: str, value: object) -> Severity:
    if isinstance(value, Severity):
        return value
    known = [s.value for s in Severity]
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return Severity(value.strip().lower())
    raise ConfigError(
        f"{label}: field 'min_severity' must be one of {', '.join(known)}, got {value!r}."
        f"{did_you_mean(str(value), known)}"
    )


def _coerce_seconds(label: str, field_name: str, value: object) -> float:
    """Seconds, written as the config file writes durations (``90``, ``"2m"``, ``"1500ms"``)."""
    what = f"{label}: field {field_name!r}"
    if isinstance(value, str | int | float):
        return parse_duration(value, what)
    raise ConfigError(
        f"{what} = {shown(value)} is not a duration: use a number of seconds >= 0 or a value "
        "like '250ms', '5s', '2m', '1h' or '1d'."
    )


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Which events alert whom, how often.

    A rule matches an event when the event's category is in ``categories`` (empty: any category
    except ``delivery``, which must be listed explicitly so that the engine's own failure reports
    cannot loop), its action is in ``actions`` (empty: any) and its severity is at least
    ``min_severity``. The rule fires when ``threshold`` matching events with the same
    ``group_by`` value arrive within ``within`` seconds of each other (threshold 1: every matching
    event). After firing for a key it stays quiet for ``cooldown`` seconds and then sends one
    digest of what it held back. ``notify`` names the notifiers to use. All keys together, the
    rule sends at most ``max_alerts`` alerts and digests within ``max_alerts_within`` seconds (a
    flood of keys an attacker chooses cannot flood the people it pages); what goes past is
    sent as one summary once the rule may send again.

    Category and severity may also be given by their string values (``"auth"``, ``"high"``), as a
    config file does; invalid fields raise :class:`~bulletproof.errors.ConfigError` naming the rule
    and the field.

    Added in 0.1.
    """

    name: str
    categories: Annotated[frozenset[Category], Names()] = frozenset()
    actions: frozenset[str] = frozenset()
    min_severity: Annotated[Severity, Text()] = Severity.LOW
    threshold: int = 1
    within: Annotated[float, Duration()] = 0.0
    group_by: str = ""
    cooldown: Annotated[float, Duration()] = 300.0
    notify: tuple[str, ...] = ()
    max_alerts: int = 20
    max_alerts_within: Annotated[float, Duration()] = 3600.0

    def __post_init__(self) -> None:
        name: object = self.name
        if not isinstance(name, str) or not name.strip() or has_unsafe(name):
            raise ConfigError(
                f"alert rule {name!r}: field 'name' must be a non-empty string without control "
                f"characters. Give each rule a short name such as 'brute-force'."
            )
        label = f"alert rule {name!r}"
        object.__setattr__(self, "categories", _coerce_categories(label, self.categories))
        actions = _coerce_names(label, "actions", self.actions, "action names")
        object.__setattr__(self, "actions", frozenset(actions))
        object.__setattr__(self, "min_severity", _coerce_severity(label, self.min_severity))
        threshold: object = self.threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not 1 <= threshold <= _MAX_THRESHOLD
        ):
            raise ConfigError(
                f"{label}: field 'threshold' must be a whole number from 1 to {_MAX_THRESHOLD} "
                f"(how many matching events fire the rule), got {threshold!r}."
            )
        within = _coerce_seconds(label, "within", self.within)
        if threshold > 1 and within <= 0:
            raise ConfigError(
                f"{label}: field 'within' must be > 0 seconds when threshold is {threshold} "
                f"(the rule fires on {threshold} events within that many seconds), got {within!r}."
            )
        object.__setattr__(self, "within", within)
        object.__setattr__(self, "cooldown", _coerce_seconds(label, "cooldown", self.cooldown))
        group_by: object = self.group_by
        if group_by is None:
            group_by = ""
        if not isinstance(group_by, str) or (group_by and not _GROUP_BY_RE.fullmatch(group_by)):
            raise ConfigError(
                f"{label}: field 'group_by' must be a dotted ECS field path such as 'source.ip' "
                f"or 'user.name' (or empty for one group), got {group_by!r}."
            )
        object.__setattr__(self, "group_by", group_by)
        notify = _coerce_names(label, "notify", self.notify, "notifier names")
        if not notify:
            raise ConfigError(
                f"{label}: field 'notify' is empty; list at least one notifier name "
                f"(defined under notifiers) to send its alerts to."
            )
        object.__setattr__(self, "notify", notify)
        most: object = self.max_alerts
        if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= _MAX_THRESHOLD:
            raise ConfigError(
                f"{label}: field 'max_alerts' must be a whole number from 1 to {_MAX_THRESHOLD} "
                f"(alerts and digests the rule may send within max_alerts_within), got {most!r}."
            )
        span = _coerce_seconds(label, "max_alerts_within", self.max_alerts_within)
        if span <= 0:
            raise ConfigError(
                f"{label}: field 'max_alerts_within' must be > 0 seconds, got {span!r}."
            )
        object.__setattr__(self, "max_alerts_within", span)

    def matches(self, event: SecurityEvent) -> bool:
        """Whether ``event`` passes this rule's category, action and severity filters."""
        if self.categories:
            if event.category not in self.categories:
                return False
        elif event.category is Category.DELIVERY:
            return False
        if self.actions and event.action not in self.actions:
            return False
        return event.severity >= self.min_severity


def _lookup(node: object, parts: Sequence[str]) -> tuple[bool, object]:
    """Walk a dotted path; also accepts flattened keys (``{"source.ip": ...}``)."""
    if not parts:
        return True, node
    if not isinstance(node, Mapping):
        return False, None
    for i in range(1, len(parts) + 1):
        key = ".".join(parts[:i])
        if key in node:
            found, value = _lookup(node[key], parts[i:])
            if found:
                return True, value
    return False, None


def _clean_key(value: object) -> str:
    """A group key safe to print: control characters escaped, length bounded.

    >>> _clean_key("10.0.0.1\\r\\nBcc: x")
    '10.0.0.1\\\\r\\\\nBcc: x'

    Added in 0.1.
    """
    if value is None:
        return _MISSING_KEY
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        try:
            text = json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
            )
        except (TypeError, ValueError):
            text = repr(value)
    if not text:
        return _MISSING_KEY
    text = one_line(text[: _MAX_KEY_LENGTH * 2])
    if len(text) > _MAX_KEY_LENGTH:
        text = text[: _MAX_KEY_LENGTH - 1] + "\u2026"
    return text


def _group_key(doc: Mapping[str, Any], group_by: str) -> str:
    """The group key of an ECS document for a rule's ``group_by`` path.

    ``""`` puts every event in one group (key ``"all"``); a missing or empty field gives ``"-"``.

    >>> _group_key({"source": {"ip": "203.0.113.9"}}, "source.ip")
    '203.0.113.9'
    >>> _group_key({}, "user.name")
    '-'

    Added in 0.1.
    """
    if not group_by:
        return _NO_GROUP_KEY
    found, value = _lookup(doc, group_by.split("."))
    return _clean_key(value) if found else _MISSING_KEY


def _check_notify(rule: AlertRule, notifiers: Iterable[str]) -> None:
    """Raise ConfigError when ``rule`` names a notifier that is not in ``notifiers``.

    Added in 0.1.
    """
    known_names = list(notifiers)
    for wanted in rule.notify:
        if wanted not in known_names:
            known = ", ".join(sorted(known_names)) or "none are defined"
            raise ConfigError(
                f"alert rule {rule.name!r}: field 'notify' names unknown notifier "
                f"{wanted!r}.{did_you_mean(wanted, known_names)} Known notifiers: {known}."
            )


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertStats:
    """Counters of an :class:`AlertEngine` since it was created.

    ``matched``: (rule, event) matches; ``alerts_sent``: alerts issued (each goes to all the
    rule's notifiers); ``digests_sent``: cooldown digests issued; ``suppressed``: events held back
    by a cooldown; ``failures``: failed notification attempts; ``pending_retries``: notifications
    waiting for a retry; ``skipped_lines``: lines given to ``send`` that were not events.

    Added in 0.1.
    """

    matched: int
    alerts_sent: int
    digests_sent: int
    suppressed: int
    failures: int
    pending_retries: int
    skipped_lines: int
    rate_limited: int = 0
    """Alerts and digests a rule's ``max_alerts`` held back (each sent in a summary)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """What one matching event did to the count of its (rule, key).

    ``fired``: ``threshold`` events fell within ``within`` seconds and this caller claimed the
    cooldown, so it sends the alert (``first_seen``/``last_seen`` span those events);
    ``cooling_until``: a cooldown started by anyone sharing the counter runs until then (wall
    time), so the event is held back for the digest; neither: it was counted.

    Added in 0.1.
    """

    fired: bool = False
    cooling_until: float | None = None
    first_seen: float = 0.0
    last_seen: float = 0.0


class AlertCounter(Protocol):
    """Where an :class:`AlertEngine` counts matching events per (rule, key).

    On one machine the engine runs in the one process that delivers for the spool directory,
    which every worker writes, so :class:`MemoryAlertCounter` counts the events of all of them.
    Across machines, a counter their engines share (the Redis store of the behaviour rules; one
    atomic script per call) makes one alert for an attack spread over them. Called with the
    engine's lock held, from the delivery thread, never on a request's path.

    Added in 0.1.
    """

    def hit(
        self,
        rule: str,
        key: str,
        timestamp: float,
        *,
        threshold: int,
        within: float,
        now: float,
        cooldown: float,
    ) -> Hit:
        """Count one matching event (stamped ``timestamp``) at wall time ``now``, atomically:
        held back while a cooldown runs; else counted, and when that makes ``threshold`` within
        ``within`` seconds, the count restarts and a cooldown of ``cooldown`` seconds begins."""
        ...


class MemoryAlertCounter:
    """:class:`AlertCounter` in this process's memory, for at most ``max_keys`` keys (the least
    recently used go first). Added in 0.1.
    """

    __slots__ = ("_cooldowns", "_max_keys", "_times")

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._times: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._cooldowns: OrderedDict[tuple[str, str], float] = OrderedDict()

    def hit(
        self,
        rule: str,
        key: str,
        timestamp: float,
        *,
        threshold: int,
        within: float,
        now: float,
        cooldown: float,
    ) -> Hit:
        """See :meth:`AlertCounter.hit`."""
        k = (rule, key)
        until = self._cooldowns.get(k)
        if until is not None:
            if now < until:
                return Hit(cooling_until=until)
            del self._cooldowns[k]
        times = self._times.get(k)
        if times is None or times.maxlen != threshold:
            times = self._times[k] = deque(maxlen=threshold)
            while len(self._times) > self._max_keys:
                self._times.popitem(last=False)
        else:
            self._times.move_to_end(k)
        times.append(timestamp)
        if len(times) < threshold:
            return Hit()
        oldest, newest = min(times), max(times)
        if newest - oldest > within:
            return Hit()
        del self._times[k]
        if cooldown > 0:
            self._cooldowns[k] = now + cooldown
            while len(self._cooldowns) > self._max_keys:
                self._cooldowns.popitem(last=False)
        return Hit(fired=True, first_seen=oldest, last_seen=newest)

    def _export(self, rule: str, key: str) -> tuple[list[float], int, float | None]:
        """The counted timestamps, their bound, and the cooldown end (wall time) of a key."""
        times = self._times.get((rule, key))
        if times is None:
            return [], 0, self._cooldowns.get((rule, key))
        return list(times), times.maxlen or 0, self._cooldowns.get((rule, key))

    def _import(
        self, rule: str, key: str, times: Sequence[float], bound: int, until: float | None
    ) -> None:
        """Put back what :meth:`_export` gave (from the alert state a deliverer left)."""
        k = (rule, key)
        if times and bound > 0:
            self._times[k] = deque(times[-bound:], maxlen=bound)
            while len(self._times) > self._max_keys:
                self._times.popitem(last=False)
        if until is not None:
            self._cooldowns[k] = until
            while len(self._cooldowns) > self._max_keys:
                self._cooldowns.popitem(last=False)


class _KeyState:
    """What the engine remembers about one (rule, key)."""

    __slots__ = (
        "cooldown_seq",
        "cooldown_until",
        "first_seen",
        "last_seen",
        "max_severity",
        "newest",
        "suppressed",
    )

    def __init__(self) -> None:
        self.cooldown_until: float | None = None
        self.cooldown_seq = 0
        self.suppressed = 0
        self.first_seen = 0.0
        self.last_seen = 0.0
        self.max_severity = Severity.LOW
        self.newest: SecurityEvent | None = None


@dataclass(slots=True)
class _Retry:
    """One (notifier, alert) to send: at once, or again after a failure."""

    id: int
    notifier: str
    rule: str
    alert: Alert
    failures: int = 0
    error: str = ""
    due: float = 0.0
    """When to try again, as wall time (what the alert state keeps)."""


def _brief(event: SecurityEvent) -> SecurityEvent:
    """What an alert tells of ``event``, and no more: kept for a digest or a pending
    notification, in memory and on disk, so its size is bounded whatever the event carried."""
    n = _BRIEF_CHARS

    def cut(text: str | None) -> str | None:
        return None if text is None else text[:n]

    return replace(
        event,
        message=event.message[:n],
        source_ip=cut(event.source_ip),
        user_name=cut(event.user_name),
        url_path=cut(event.url_path),
        url_query=None,
        user_agent=None,
        details={},
        action=event.action[:n],
    )


def _event_record(ev: SecurityEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "a": ev.action,
        "c": ev.category.value,
        "s": ev.severity.value,
        "m": ev.message,
        "ip": ev.source_ip,
        "u": ev.user_name,
        "p": ev.url_path,
        "t": ev.timestamp,
    }


def _event_from(rec: Mapping[str, Any]) -> SecurityEvent:
    def text(name: str) -> str | None:
        value = rec.get(name)
        return value[:_BRIEF_CHARS] if isinstance(value, str) else None

    return SecurityEvent(
        action=text("a") or "unknown",
        category=Category(rec["c"]),
        severity=Severity(rec["s"]),
        message=text("m") or "",
        source_ip=text("ip"),
        user_name=text("u"),
        url_path=text("p"),
        timestamp=float(rec["t"]),
        id=text("id") or "",
    )


def _alert_record(alert: Alert) -> dict[str, Any]:
    return {
        "r": alert.rule,
        "k": alert.key,
        "e": _event_record(alert.event),
        "n": alert.count,
        "sup": alert.suppressed,
        "dg": alert.digest,
        "f": alert.first_seen,
        "l": alert.last_seen,
        "s": alert.severity.value,
        "held": alert.held,
        "keys": list(alert.keys),
    }


def _alert_from(rec: Mapping[str, Any]) -> Alert:
    return Alert(
        rule=str(rec["r"]),
        key=str(rec["k"]),
        event=_event_from(rec["e"]),
        count=int(rec["n"]),
        suppressed=int(rec["sup"]),
        digest=bool(rec["dg"]),
        first_seen=float(rec["f"]),
        last_seen=float(rec["l"]),
        severity=Severity(rec["s"]),
        held=int(rec.get("held", 0)),
        keys=tuple(str(k) for k in rec.get("keys", ()))[:_HELD_KEYS],
    )


_Fired = tuple[AlertRule, Alert]

_HELD_KEYS: Final = 10
"""Keys a rule's summary names (the first ones held back)."""


class _Held:
    """The alerts and digests of one rule that its ``max_alerts`` held back."""

    __slots__ = ("events", "first_seen", "held", "keys", "last_seen", "newest", "severity")

    def __init__(self, newest: SecurityEvent) -> None:
        self.held = 0
        self.events = 0
        self.keys: list[str] = []
        self.first_seen = float("inf")
        self.last_seen = float("-inf")
        self.severity = Severity.LOW
        self.newest = newest

    def add(self, alert: Alert) -> None:
        self.held += 1
        self.events += alert.count
        if alert.key not in self.keys and len(self.keys) < _HELD_KEYS:
            self.keys.append(alert.key)
        self.first_seen = min(self.first_seen, alert.first_seen)
        self.last_seen = max(self.last_seen, alert.last_seen)
        self.severity = max(self.severity, alert.severity)
        self.newest = alert.event

    def record(self) -> dict[str, Any]:
        return {
            "n": self.held,
            "ev": self.events,
            "keys": self.keys,
            "f": self.first_seen,
            "l": self.last_seen,
            "s": self.severity.value,
            "e": _event_record(self.newest),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> _Held:
        held = cls(_event_from(rec["e"]))
        held.held = int(rec["n"])
        held.events = int(rec["ev"])
        held.keys = [str(k) for k in rec["keys"]][:_HELD_KEYS]
        held.first_seen = float(rec["f"])
        held.last_seen = float(rec["l"])
        held.severity = Severity(rec["s"])
        return held

    def summary(self, rule: str) -> Alert:
        return Alert(
            rule=rule,
            key="*",
            event=self.newest,
            count=self.events,
            suppressed=0,
            digest=False,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            severity=self.severity,
            held=self.held,
            keys=tuple(self.keys),
        )


_engines: weakref.WeakSet[AlertEngine] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for engine in list(_engines):
        with contextlib.suppress(Exception):
            engine._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _same(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return doc


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:_ERROR_MAX]


class AlertEngine:
    """Applies :class:`AlertRule` s to events and sends :class:`Alert` s through notifiers.

    It is a :class:`~bulletproof.events.base.Sink` (named ``alerts``) that the delivery pipeline
    feeds with ECS JSON lines, and ``observe`` takes events directly. ``send``, ``observe`` and
    ``tick`` never raise. It counts through ``counter`` (a :class:`MemoryAlertCounter` by
    default, which keeps at most ``threshold`` timestamps per rule and key; give a shared one to
    count across machines), and keeps at most ``max_keys`` (rule, key) states overall, evicting
    the least recently used (an evicted key's pending digest is sent first). Failed
    notifications are retried after each of ``retry_delays`` seconds in turn (at most
    ``max_pending_retries`` wait at once) and reported as
    ``notification_failed`` / ``notification_recovered`` / ``notification_abandoned`` events
    through ``emitter``. Rules do not match those ``delivery`` events unless they list the
    category.

    Call ``tick`` periodically (the pipeline does): it ends cooldowns, sends digests and runs
    due retries. Notifiers are always called without the engine's lock held.

    Added in 0.1.
    """

    def __init__(
        self,
        rules: Iterable[AlertRule],
        notifiers: Mapping[str, Notifier],
        *,
        emitter: Emitter | None = None,
        clock: Clock = system_clock,
        max_keys: int = 100_000,
        retry_delays: Sequence[float] = (1, 2, 4, 8, 16, 32, 60),
        max_pending_retries: int = 10_000,
        counter: AlertCounter | None = None,
    ) -> None:
        self._notifiers: dict[str, Notifier] = dict(notifiers)
        rule_list: list[AlertRule] = []
        by_name: dict[str, AlertRule] = {}
        for rule in rules:
            if not isinstance(rule, AlertRule):
                raise ConfigError(f"alert rules must be AlertRule objects, got {rule!r}.")
            if rule.name in by_name:
                raise ConfigError(
                    f"alert rule {rule.name!r} is defined twice; rule names must be unique."
                )
            _check_notify(rule, self._notifiers)
            by_name[rule.name] = rule
            rule_list.append(rule)
        for label, value in (("max_keys", max_keys), ("max_pending_retries", max_pending_retries)):
            number: object = value
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ConfigError(f"alerts: {label} must be a whole number >= 1, got {number!r}.")
        self._rules: tuple[AlertRule, ...] = tuple(rule_list)
        self._rule_by_name = by_name
        self._delays = tuple(_coerce_seconds("alerts", "retry_delays", d) for d in retry_delays)
        self._emitter = emitter
        self._clock = clock
        self._max_keys = max_keys
        self._max_pending = max_pending_retries
        self._own_counter = counter is None
        self._counter: AlertCounter = counter or MemoryAlertCounter(max_keys)

        self._lock = threading.Lock()
        self._log: AlertLog | None = None
        self._seen_max = _SEEN_MAX
        self._rewrite_at = float("-inf")
        self._reset_locked()
        _engines.add(self)

    def _reset_locked(self) -> None:
        """Forget every key, cooldown and pending notification (and this engine's counts)."""
        self._seq = itertools.count(1)
        self._states: OrderedDict[tuple[str, str], _KeyState] = OrderedDict()
        self._cooldowns: list[tuple[float, int, str, str]] = []
        self._retries: OrderedDict[int, _Retry] = OrderedDict()
        self._retry_heap: list[tuple[float, int]] = []
        self._inflight: dict[int, _Retry] = {}  # being made now (not in _retries meanwhile)
        self._dirty: set[tuple[str, str]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._notes = 0  # notifications made (each has an id: its retry and its record)
        self._spent: dict[str, deque[float]] = {}  # per rule: when it last sent (max_alerts)
        self._held: dict[str, _Held] = {}  # per rule: what max_alerts held back
        self._dirty_rules: set[str] = set()
        self._rate_limited = 0
        if self._own_counter:
            self._counter = MemoryAlertCounter(self._max_keys)
        self._matched = 0
        self._alerts_sent = 0
        self._digests_sent = 0
        self._suppressed = 0
        self._failures = 0
        self._skipped = 0

    def _after_fork(self) -> None:
        """In a forked child (run by an at-fork hook): a lock of its own (the parent's may be
        held by a thread that did not follow the fork). An attached engine also drops all of
        the parent's state: the parent goes on alerting for it; the child, should it deliver
        one day, reads the state on disk then."""
        self._lock = threading.Lock()
        if self._log is not None:
            self._log.close()
            self._log = None
            self._reset_locked()

    # -- the state on disk --------------------------------------------------------------------

    def attach(self, path: Path, *, fsync: bool = True, batch_lines: int = 2000) -> None:
        """Go on from the alert state at ``path`` and keep it there from now on.

        The pipeline calls this when its process takes over delivery (the state file lives in
        the spool directory). Cooldowns, held-back events, counts towards a threshold and
        notifications not yet sent are read back; so a deliverer that exits or dies hands them
        on. What this engine knew before is replaced. ``batch_lines``: the most lines one
        :meth:`send` is given (the ids of twice as many matched events are kept, so a batch
        given again after a crash is not counted twice). Never raises.
        """
        try:
            log = AlertLog(path, fsync=fsync)
            records = log.load()
            with self._lock:
                if self._log is not None:
                    self._log.close()
                self._reset_locked()
                self._seen_max = max(_SEEN_MAX, 2 * batch_lines)
                dropped = self._restore_locked(records)
                self._log = log
                self._compact_locked(self._clock.monotonic())
            for old in dropped:
                self._abandon(old.notifier, old.rule, old.failures, old.error, "retry queue full")
        except Exception as exc:  # noqa: BLE001 - delivery must start even so
            self._internal_error("attach", exc)

    @property
    def attached(self) -> bool:
        """Whether the engine keeps its state on disk (see :meth:`attach`)."""
        return self._log is not None

    def detach(self) -> None:
        """Stop keeping the state on disk (this process no longer delivers). Never raises."""
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _key_record(self, rule: str, key: str, mono: float, wall: float) -> dict[str, Any]:
        state = self._states.get((rule, key))
        if state is None:
            return {"t": "x", "r": rule, "k": key}
        rec: dict[str, Any] = {"t": "k", "r": rule, "k": key}
        if state.cooldown_until is not None:
            rec["u"] = wall + (state.cooldown_until - mono)
        if state.suppressed and state.newest is not None:
            rec["n"] = state.suppressed
            rec["f"] = state.first_seen
            rec["l"] = state.last_seen
            rec["s"] = state.max_severity.value
            rec["e"] = _event_record(state.newest)
        counter = self._counter
        if self._own_counter and isinstance(counter, MemoryAlertCounter):
            times, bound, until = counter._export(rule, key)
            if times:
                rec["ct"] = times
                rec["cb"] = bound
            if until is not None:
                rec["cu"] = until
        return rec

    def _rule_record(self, rule: str, mono: float, wall: float) -> dict[str, Any]:
        """When a rule last sent (for its max_alerts) and what that held back."""
        rec: dict[str, Any] = {
            "t": "b",
            "r": rule,
            "ts": [wall + (t - mono) for t in self._spent.get(rule, ())],
        }
        held = self._held.get(rule)
        if held is not None:
            rec["h"] = held.record()
        return rec

    @staticmethod
    def _note_record(note: _Retry) -> dict[str, Any]:
        return {
            "t": "o",
            "id": note.id,
            "to": note.notifier,
            "al": _alert_record(note.alert),
            "fail": note.failures,
            "err": note.error,
            "due": note.due,
        }

    def _journal_locked(self, notes: Sequence[_Retry], ids: Sequence[str]) -> None:
        """Write what changed (keys, new notifications, newly seen events) before notifying."""
        log = self._log
        if log is None:
            self._dirty.clear()
            return
        mono = self._clock.monotonic()
        if log.stale:
            # A write failed: only a whole rewrite makes the file right again; try one now and
            # then (each writes everything, so what changed meanwhile needs no record).
            self._dirty.clear()
            if mono >= self._rewrite_at:
                self._compact_locked(mono)
            return
        if log.due:
            self._compact_locked(mono)
            return
        wall = self._clock.time()
        records = [self._key_record(r, k, mono, wall) for r, k in self._dirty]
        self._dirty.clear()
        records.extend(self._rule_record(r, mono, wall) for r in self._dirty_rules)
        self._dirty_rules.clear()
        records.extend(self._note_record(n) for n in notes)
        if ids:
            records.append({"t": "s", "ids": list(ids)})
        log.append(records)

    def _compact_locked(self, mono: float) -> None:
        """Rewrite the state file with everything this engine knows now."""
        log = self._log
        if log is None:
            return
        wall = self._clock.time()
        self._dirty.clear()
        self._dirty_rules.clear()
        records: list[dict[str, Any]] = [
            self._key_record(r, k, mono, wall) for r, k in self._states
        ]
        records.extend(self._rule_record(r, mono, wall) for r in self._spent.keys() | self._held)
        records.extend(self._note_record(n) for n in self._retries.values())
        records.extend(self._note_record(n) for n in self._inflight.values())
        if self._seen:
            records.append({"t": "s", "ids": list(self._seen)})
        if not log.rewrite(records):
            self._rewrite_at = mono + _REWRITE_BACKOFF

    def _restore_locked(self, records: Sequence[Mapping[str, Any]]) -> list[_Retry]:
        """Rebuild the state from ``records``; return the notifications left over the bound."""
        mono, wall = self._clock.monotonic(), self._clock.time()
        keys: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        notes: dict[int, Mapping[str, Any] | None] = {}
        seen: list[str] = []
        budgets: dict[str, Mapping[str, Any]] = {}
        for rec in records:
            kind = rec.get("t")
            if kind in ("k", "x"):
                skey = (str(rec.get("r")), str(rec.get("k")))
                keys.pop(skey, None)  # the newest record goes last: least recently used first
                keys[skey] = rec if kind == "k" else None
            elif kind == "o" and isinstance(rec.get("id"), int):
                notes[rec["id"]] = rec
            elif kind == "d" and isinstance(rec.get("id"), int):
                notes[rec["id"]] = None
            elif kind == "s" and isinstance(rec.get("ids"), list):
                seen.extend(str(i) for i in rec["ids"])
            elif kind == "b":
                budgets[str(rec.get("r"))] = rec
        counter = self._counter if self._own_counter else None
        for (rule_name, key), krec in keys.items():
            rule = self._rule_by_name.get(rule_name)
            if krec is None or rule is None:
                continue  # gone, or a rule this configuration no longer has
            try:
                state = _KeyState()
                until = krec.get("u")
                if "n" in krec:
                    state.suppressed = int(krec["n"])
                    state.first_seen = float(krec["f"])
                    state.last_seen = float(krec["l"])
                    state.max_severity = Severity(krec["s"])
                    state.newest = _event_from(krec["e"])
                if isinstance(counter, MemoryAlertCounter):
                    times = [float(t) for t in krec.get("ct", ())]
                    cu = krec.get("cu")
                    # A cooldown is never longer than the rule's now (it may have changed).
                    cool = (
                        None
                        if cu is None or rule.cooldown <= 0
                        else min(float(cu), wall + rule.cooldown)
                    )
                    counter._import(rule_name, key, times, int(krec.get("cb", 0)), cool)
            except (KeyError, TypeError, ValueError):
                continue  # a record this version cannot read: that key starts afresh
            while len(self._states) >= self._max_keys:
                self._states.popitem(last=False)
            self._states[(rule_name, key)] = state
            if isinstance(until, int | float):
                left = float(until) - wall
                if left > 0:
                    self._start_cooldown_locked(rule, key, state, mono, left)
                elif state.suppressed:
                    # Its cooldown ended while nobody delivered: the digest is due now.
                    self._start_cooldown_locked(rule, key, state, mono, 0.0)
        for rule_name, brec in budgets.items():
            rule = self._rule_by_name.get(rule_name)
            if rule is None:
                continue
            try:
                times = sorted(float(t) for t in brec.get("ts", ()))
                held = _Held.from_record(brec["h"]) if "h" in brec else None
            except (KeyError, TypeError, ValueError):
                continue
            spent: deque[float] = deque(maxlen=rule.max_alerts)
            spent.extend(mono + (t - wall) for t in times)
            self._spent[rule_name] = spent
            if held is not None:
                self._held[rule_name] = held
        self._notes = max(notes, default=0)  # ids are never reused, whatever is kept
        kept: list[_Retry] = []
        for note_id in sorted(notes):
            nrec = notes[note_id]
            if nrec is None:
                continue
            try:
                alert = _alert_from(nrec["al"])
                note = _Retry(
                    note_id,
                    str(nrec["to"]),
                    alert.rule,
                    alert,
                    int(nrec.get("fail", 0)),
                    str(nrec.get("err", "")),
                    float(nrec.get("due", 0.0)),
                )
            except (KeyError, TypeError, ValueError):
                continue
            if note.notifier not in self._notifiers or note.rule not in self._rule_by_name:
                continue
            kept.append(note)
        over = max(len(kept) - self._max_pending, 0)  # the oldest go, as when they wait here
        for note in kept[over:]:
            self._retries[note.id] = note
            heapq.heappush(self._retry_heap, (mono + max(note.due - wall, 0.0), note.id))
        for event_id in seen[-self._seen_max :]:
            self._seen[event_id] = None
        return kept[:over]

    # -- Sink protocol ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Always ``"alerts"``."""
        return "alerts"

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """The rules, in the order given."""
        return self._rules

    def open(self) -> None:
        """Nothing to connect: notifiers connect per alert."""

    def send(self, lines: Sequence[bytes]) -> None:
        """Apply the rules to a batch of ECS JSON events. Never raises.

        A line that is not an event is skipped and counted in ``stats().skipped_lines``.
        """
        try:
            decoded: list[tuple[SecurityEvent, Mapping[str, Any]]] = []
            skipped = 0
            for line in lines:
                try:
                    doc = json.loads(line)
                    if not isinstance(doc, dict):
                        raise TypeError("not a JSON object")
                    decoded.append((SecurityEvent.from_ecs(doc), doc))
                except Exception:  # noqa: BLE001 - any malformed line is skipped, never fatal
                    skipped += 1
            now = self._clock.monotonic()
            with self._lock:
                self._skipped += skipped
                fired = self._expire_locked(now)
                ids: list[str] = []
                seen = self._seen if self._log is not None else None
                for event, doc in decoded:
                    if seen is not None and event.id in seen:
                        continue  # counted before its batch was committed: given again now
                    if self._process_locked(event, functools.partial(_same, doc), now, fired):
                        ids.append(event.id)
                        if seen is not None:
                            seen[event.id] = None
                if seen is not None:
                    while len(seen) > self._seen_max:
                        seen.popitem(last=False)
                todo = self._notes_locked(fired, now, ids)
            self._run(todo)
        except Exception as exc:  # noqa: BLE001 - the delivery path must never die
            self._internal_error("send", exc)

    def unconfirmed(self) -> int:
        """Always 0: lines are processed when ``send`` returns."""
        return 0

    def close(self) -> None:
        """Send the pending digests now (for shutdown). Never raises."""
        self.flush()

    def probe(self) -> str:
        """Probe every notifier; raise SinkError naming each one that fails."""
        ok: list[str] = []
        bad: list[str] = []
        for key, notifier in self._notifiers.items():
            try:
                what = notifier.probe()
            except Exception as exc:  # noqa: BLE001 - report every failing notifier
                bad.append(f"{key} ({notifier.name}): {_error_text(exc)}")
            else:
                ok.append(f"{key}: {what}")
        if bad:
            raise SinkError(
                f"alert notifier(s) failing: {'; '.join(bad)}. Check their URLs and "
                f"credentials, then send a test with `bulletproof alerts test RULE`."
            )
        if not ok:
            return "no notifiers configured"
        return f"{len(ok)} notifier(s) reachable: {'; '.join(ok)}"

    # -- direct use ---------------------------------------------------------------------------

    def observe(self, event: SecurityEvent) -> None:
        """Apply the rules to one event (also runs :meth:`tick`). Never raises."""
        try:
            cache: list[Mapping[str, Any]] = []

            def doc() -> Mapping[str, Any]:
                if not cache:
                    cache.append(event.to_ecs())
                return cache[0]

            now = self._clock.monotonic()
            with self._lock:
                fired = self._expire_locked(now)
                self._process_locked(event, doc, now, fired)
                todo = self._notes_locked(fired, now, ())
            self._run(todo)
        except Exception as exc:  # noqa: BLE001 - the delivery path must never die
            self._internal_error("observe", exc)

    def tick(self) -> None:
        """End expired cooldowns (sending digests) and run due retries. Never raises."""
        try:
            now = self._clock.monotonic()
            with self._lock:
                fired = self._expire_locked(now)
                todo = self._notes_locked(fired, now, ())
            self._run(todo)
        except Exception as exc:  # noqa: BLE001 - the delivery path must never die
            self._internal_error("tick", exc)

    def flush(self) -> None:
        """Send every pending digest now and restart those cooldowns. Never raises."""
        try:
            now = self._clock.monotonic()
            fired: list[_Fired] = []
            with self._lock:
                for (rule_name, key), state in self._states.items():
                    if state.suppressed:
                        rule = self._rule_by_name[rule_name]
                        fired.append((rule, self._digest_locked(rule_name, key, state)))
                        self._start_cooldown_locked(rule, key, state, now)
                        self._dirty.add((rule_name, key))
                todo = self._notes_locked(fired, now, (), due=False)
            self._run(todo)
        except Exception as exc:  # noqa: BLE001 - close must never raise
            self._internal_error("flush", exc)

    def send_test(self, rule_name: str) -> list[tuple[str, str | None]]:
        """Send a synthetic alert for ``rule_name`` to each of its notifiers, now, once.

        Bypasses threshold and cooldown and does not retry. Returns ``(notifier, None)`` per
        success and ``(notifier, error text)`` per failure. Unknown rule: ConfigError.
        """
        rule = self._rule_by_name.get(rule_name)
        if rule is None:
            known = ", ".join(self._rule_by_name) or "none are defined"
            raise ConfigError(
                f"unknown alert rule {rule_name!r}.{did_you_mean(rule_name, self._rule_by_name)} "
                f"Defined rules: {known}."
            )
        category = next((c for c in Category if c in rule.categories), Category.MALICIOUS_TRAFFIC)
        action = min(rule.actions) if rule.actions else "alert_test"
        now = self._clock.time()
        event = SecurityEvent(
            action=action,
            category=category,
            severity=rule.min_severity,
            message=f"bulletproof alerts test: this is a test alert for rule {rule.name}",
            details={"test": True},
            timestamp=now,
        )
        alert = Alert(
            rule=rule.name,
            key="test",
            event=event,
            count=1,
            suppressed=0,
            digest=False,
            first_seen=now,
            last_seen=now,
            severity=rule.min_severity,
        )
        results: list[tuple[str, str | None]] = []
        for key in rule.notify:
            try:
                self._notifiers[key].notify(alert)
            except Exception as exc:  # noqa: BLE001 - report, do not raise
                results.append((key, _error_text(exc)))
            else:
                results.append((key, None))
        return results

    def stats(self) -> AlertStats:
        """A snapshot of the counters."""
        with self._lock:
            return AlertStats(
                matched=self._matched,
                alerts_sent=self._alerts_sent,
                digests_sent=self._digests_sent,
                suppressed=self._suppressed,
                failures=self._failures,
                pending_retries=len(self._retries),
                skipped_lines=self._skipped,
                rate_limited=self._rate_limited,
            )

    # -- rule state (call with the lock held) -------------------------------------------------

    def _process_locked(
        self,
        event: SecurityEvent,
        doc: Callable[[], Mapping[str, Any]],
        now: float,
        fired: list[_Fired],
    ) -> bool:
        """Apply the rules to one event; True when any rule matched it."""
        matched = False
        for rule in self._rules:
            if not rule.matches(event):
                continue
            matched = True
            self._matched += 1
            key = _group_key(doc(), rule.group_by) if rule.group_by else _NO_GROUP_KEY
            skey = (rule.name, key)
            self._dirty.add(skey)
            state = self._states.get(skey)
            if state is None:
                while len(self._states) >= self._max_keys:
                    (old_rule, old_key), old = self._states.popitem(last=False)
                    self._dirty.add((old_rule, old_key))
                    if old.suppressed:
                        fired.append(
                            (
                                self._rule_by_name[old_rule],
                                self._digest_locked(old_rule, old_key, old),
                            )
                        )
                state = _KeyState()
                self._states[skey] = state
            else:
                self._states.move_to_end(skey)
            ts = event.timestamp
            if state.cooldown_until is not None and now < state.cooldown_until:
                self._suppress_locked(state, event, ts)
                continue
            wall = self._clock.time()
            hit = self._counter.hit(
                rule.name,
                key,
                ts,
                threshold=rule.threshold,
                within=rule.within,
                now=wall,
                cooldown=rule.cooldown,
            )
            if hit.cooling_until is not None:
                # Another engine sharing the counter alerted for this key: hold back like it,
                # until its cooldown ends, and digest what was held back then.
                self._start_cooldown_locked(rule, key, state, now, hit.cooling_until - wall)
                self._suppress_locked(state, event, ts)
                continue
            if not hit.fired:
                continue
            oldest, newest = hit.first_seen, hit.last_seen
            self._alerts_sent += 1
            fired.append(
                (
                    rule,
                    Alert(
                        rule=rule.name,
                        key=key,
                        event=event,
                        count=rule.threshold,
                        suppressed=0,
                        digest=False,
                        first_seen=oldest,
                        last_seen=newest,
                        severity=event.severity,
                    ),
                )
            )
            self._start_cooldown_locked(rule, key, state, now)
        return matched

    def _suppress_locked(self, state: _KeyState, event: SecurityEvent, ts: float) -> None:
        """Hold ``event`` back for the digest at the end of the cooldown."""
        if state.suppressed:
            state.first_seen = min(state.first_seen, ts)
            state.last_seen = max(state.last_seen, ts)
            state.max_severity = max(state.max_severity, event.severity)
        else:
            state.first_seen = state.last_seen = ts
            state.max_severity = event.severity
        state.suppressed += 1
        state.newest = _brief(event)
        self._suppressed += 1

    def _start_cooldown_locked(
        self,
        rule: AlertRule,
        key: str,
        state: _KeyState,
        now: float,
        length: float | None = None,
    ) -> None:
        length = rule.cooldown if length is None else max(min(length, rule.cooldown), 0.001)
        if rule.cooldown <= 0:
            state.cooldown_until = None
            state.cooldown_seq = 0
            return
        seq = next(self._seq)
        state.cooldown_until = now + length
        state.cooldown_seq = seq
        heapq.heappush(self._cooldowns, (state.cooldown_until, seq, rule.name, key))
        if len(self._cooldowns) > 2 * len(self._states) + 64:
            # Entries of evicted keys are skipped lazily; rebuild when they pile up.
            self._cooldowns = [
                (s.cooldown_until, s.cooldown_seq, r, k)
                for (r, k), s in self._states.items()
                if s.cooldown_until is not None
            ]
            heapq.heapify(self._cooldowns)

    def _digest_locked(self, rule_name: str, key: str, state: _KeyState) -> Alert:
        newest = state.newest
        if newest is None:  # pragma: no cover - suppressed > 0 always sets newest
            raise RuntimeError("digest without a suppressed event")
        alert = Alert(
            rule=rule_name,
            key=key,
            event=newest,
            count=state.suppressed,
            suppressed=state.suppressed,
            digest=True,
            first_seen=state.first_seen,
            last_seen=state.last_seen,
            severity=state.max_severity,
        )
        state.suppressed = 0
        state.newest = None
        self._digests_sent += 1
        return alert

    def _expire_locked(self, now: float) -> list[_Fired]:
        fired: list[_Fired] = []
        heap = self._cooldowns
        while heap and heap[0][0] <= now:
            _, seq, rule_name, key = heapq.heappop(heap)
            state = self._states.get((rule_name, key))
            if state is None or state.cooldown_seq != seq:
                continue
            rule = self._rule_by_name[rule_name]
            self._dirty.add((rule_name, key))
            if state.suppressed:
                fired.append((rule, self._digest_locked(rule_name, key, state)))
                self._start_cooldown_locked(rule, key, state, now)
                heap = self._cooldowns
            else:
                # Quiet through its cooldown (and cooldowns never record times): forget the key.
                del self._states[(rule_name, key)]
        return fired

    def _notes_locked(
        self, fired: list[_Fired], now: float, ids: Sequence[str], *, due: bool = True
    ) -> list[_Retry]:
        """The notifications to make now: one per fired alert and notifier (each with an id),
        then the retries that are due; what changed is written down before any is made."""
        notes: list[_Retry] = []
        wall = self._clock.time()
        sending: list[_Fired] = []
        for name in list(self._held):  # summaries first: what was held back came before
            rule = self._rule_by_name[name]
            if self._spend_locked(rule, now):
                sending.append((rule, self._held.pop(name).summary(name)))
        for rule, alert in fired:
            brief = replace(alert, event=_brief(alert.event))
            if self._spend_locked(rule, now):
                sending.append((rule, brief))
                continue
            held = self._held.get(rule.name)
            if held is None:
                held = self._held[rule.name] = _Held(brief.event)
            held.add(brief)
            self._dirty_rules.add(rule.name)
            self._rate_limited += 1
        for rule, alert in sending:
            for key in rule.notify:
                self._notes += 1
                notes.append(_Retry(self._notes, key, rule.name, alert, due=wall))
        for note in notes:
            self._inflight[note.id] = note  # so a rewrite instead of the record keeps them
        self._journal_locked(notes, ids)
        if due:
            for note in self._take_due_locked(now):
                self._inflight[note.id] = note
                notes.append(note)
        return notes

    def _spend_locked(self, rule: AlertRule, now: float) -> bool:
        """Take one of the rule's ``max_alerts`` if one is free now."""
        spent = self._spent.get(rule.name)
        if spent is None:
            spent = self._spent[rule.name] = deque(maxlen=rule.max_alerts)
        if len(spent) >= rule.max_alerts and now - spent[0] < rule.max_alerts_within:
            return False
        spent.append(now)
        self._dirty_rules.add(rule.name)
        return True

    def _take_due_locked(self, now: float) -> list[_Retry]:
        due: list[_Retry] = []
        while self._retry_heap and self._retry_heap[0][0] <= now:
            _, seq = heapq.heappop(self._retry_heap)
            retry = self._retries.pop(seq, None)
            if retry is not None:
                due.append(retry)
        return due

    # -- delivery (call without the lock) -----------------------------------------------------

    def _run(self, notes: list[_Retry]) -> None:
        for note in notes:
            self._attempt(note)

    def _attempt(self, note: _Retry) -> None:
        notifier = self._notifiers[note.notifier]
        try:
            notifier.notify(note.alert)
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not stop delivery
            self._on_failure(note, exc)
            return
        self._done(note.id)
        if note.failures:
            self._emit(
                self._delivery_event(
                    "notification_recovered",
                    Severity.LOW,
                    Outcome.SUCCESS,
                    f"alert notifier {notifier.name} recovered: rule {note.rule} delivered "
                    f"on attempt {note.failures + 1}",
                    {"notifier": notifier.name, "rule": note.rule, "attempt": note.failures + 1},
                )
            )

    def _done(self, *note_ids: int) -> None:
        """These notifications were made or given up: a deliverer taking over skips them."""
        with self._lock:
            for i in note_ids:
                self._inflight.pop(i, None)
            if self._log is not None and note_ids and not self._log.stale:
                # Not synced: lost only at a power cut, and then the alert is made once more.
                self._log.append([{"t": "d", "id": i} for i in note_ids], sync=False)

    def _on_failure(self, note: _Retry, exc: BaseException) -> None:
        error = _error_text(exc)
        failures = note.failures + 1
        rule_name = note.rule
        will_retry = failures <= len(self._delays)
        label = self._notifiers[note.notifier].name
        dropped: list[_Retry] = []
        with self._lock:
            self._failures += 1
            if will_retry:
                self._inflight.pop(note.id, None)
                while len(self._retries) >= self._max_pending:
                    dropped.append(self._retries.popitem(last=False)[1])
                delay = self._delays[failures - 1]
                retry = _Retry(
                    note.id,
                    note.notifier,
                    rule_name,
                    note.alert,
                    failures,
                    error,
                    self._clock.time() + delay,
                )
                self._retries[note.id] = retry
                heapq.heappush(self._retry_heap, (self._clock.monotonic() + delay, note.id))
                if len(self._retry_heap) > 2 * len(self._retries) + 64:
                    live = set(self._retries)
                    self._retry_heap = [item for item in self._retry_heap if item[1] in live]
                    heapq.heapify(self._retry_heap)
                if self._log is not None and not self._log.stale:
                    self._log.append(  # unsynced: a power cut only brings the retry forward
                        [self._note_record(retry)] + [{"t": "d", "id": d.id} for d in dropped],
                        sync=False,
                    )
        details: dict[str, Any] = {
            "notifier": label,
            "rule": rule_name,
            "attempt": failures,
            "error": error,
            "will_retry": will_retry,
        }
        if will_retry:
            details["retry_in"] = self._delays[failures - 1]
        self._emit(
            self._delivery_event(
                "notification_failed",
                Severity.HIGH,
                Outcome.FAILURE,
                f"alert notifier {label} failed for rule {rule_name} (attempt {failures})"
                + (f"; retrying in {details['retry_in']:g}s" if will_retry else ""),
                details,
            )
        )
        if not will_retry:
            self._done(note.id)
            self._abandon(note.notifier, rule_name, failures, error, "no retries left")
        for old in dropped:
            self._abandon(old.notifier, old.rule, old.failures, old.error, "retry queue full")

    def _abandon(self, key: str, rule_name: str, attempts: int, error: str, reason: str) -> None:
        label = self._notifiers[key].name
        self._emit(
            self._delivery_event(
                "notification_abandoned",
                Severity.CRITICAL,
                Outcome.FAILURE,
                f"alert for rule {rule_name} via {label} abandoned after {attempts} attempt(s) "
                f"({reason})",
                {
                    "notifier": label,
                    "rule": rule_name,
                    "attempt": attempts,
                    "error": error,
                    "reason": reason,
                },
            )
        )

    def _delivery_event(
        self,
        action: str,
        severity: Severity,
        outcome: Outcome,
        message: str,
        details: dict[str, Any],
    ) -> SecurityEvent:
        return SecurityEvent(
            action=action,
            category=Category.DELIVERY,
            severity=severity,
            outcome=outcome,
            message=message,
            rule_name=details.get("rule"),
            details=details,
            timestamp=self._clock.time(),
        )

    def _emit(self, event: SecurityEvent) -> None:
        if self._emitter is None:
            return
        with contextlib.suppress(Exception):  # emit must not raise; a broken one cannot stop us
            self._emitter.emit(event)

    def _internal_error(self, where: str, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._emit(
                self._delivery_event(
                    "alert_engine_error",
                    Severity.HIGH,
                    Outcome.FAILURE,
                    f"alert engine error in {where}: {type(exc).__name__}",
                    {"where": where, "error": _error_text(exc)},
                )
            )

    def __repr__(self) -> str:
        return f"AlertEngine(rules={[r.name for r in self._rules]!r})"


# --------------------------------------------------------------------------------------------
# [tool.bulletproof.alerts]
# --------------------------------------------------------------------------------------------


def _notifiers(given: Given, ctx: Context, parsed: Mapping[str, Any]) -> tuple[NotifierConfig, ...]:
    return ctx.notifiers(given)


def _rules(given: Given, ctx: Context, parsed: Mapping[str, Any]) -> tuple[AlertRule, ...]:
    """Rules from ``[[alerts.rules]]`` tables, checked against the notifiers parsed before."""
    raw = given.value
    if not isinstance(raw, list | tuple):
        raise type_error(given.loc, raw, "a list of rule tables ([[...alerts.rules]])", ctx)
    kinds = field_kinds(AlertRule)
    known = known_keys(AlertRule)
    notifiers = [n.name for n in parsed.get("notifiers", ())]
    out: list[AlertRule] = []
    names: dict[str, int] = {}
    for i, item in enumerate(raw):
        loc = given.loc.at(f"[{i}]")
        if not isinstance(item, Mapping):
            raise type_error(loc, item, "a rule table (name = ..., notify = [...], ...)", ctx)
        kwargs: dict[str, Any] = {}
        for key, value in item.items():
            kind = kinds.get(str(key))
            if kind is None:
                raise ConfigError(
                    f"{loc}: unknown key {str(key)!r} in an alert rule."
                    f"{did_you_mean(str(key), known)} Known keys: {', '.join(known)}."
                )
            kwargs[str(key)] = coerce(kind, Given(value, loc.at(f".{key}"), given.origin), ctx)
        if "name" not in kwargs:
            raise ConfigError(
                f'{loc}: the rule has no name; add name = "..." (a unique short name such '
                'as "brute-force").'
            )
        try:
            rule = AlertRule(**kwargs)
            _check_notify(rule, notifiers)
        except ConfigError as exc:
            raise ConfigError(f"{loc}: {exc}") from None
        if rule.name in names:
            raise ConfigError(
                f"{loc}: alert rule {rule.name!r} is already defined as rules"
                f"[{names[rule.name]}]; rule names must be unique."
            )
        names[rule.name] = i
        out.append(rule)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """``[tool.bulletproof.alerts]``: named notifiers and the alert rules that use them.

    Added in 0.1.
    """

    notifiers: Annotated[tuple[NotifierConfig, ...], Parse(_notifiers), FileOnly()] = ()
    rules: Annotated[tuple[AlertRule, ...], Parse(_rules), FileOnly()] = ()

    def to_display(self) -> dict[str, Any]:
        """Notifiers by name, as written; rules with every field."""
        return {
            "notifiers": {n.name: n.to_display() for n in self.notifiers},
            "rules": [display(rule) for rule in self.rules],
        }
