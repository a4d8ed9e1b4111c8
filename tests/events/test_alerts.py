"""The alert engine: thresholds, grouping, cooldown digests, retries, bounded state."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bulletproof.errors import ConfigError, SinkError
from bulletproof.events.alerts import (
    Alert,
    AlertEngine,
    AlertRule,
    Hit,
    MemoryAlertCounter,
    _group_key,
)
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.testing import CapturingNotifier, FakeClock


class ListEmitter:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    def emit(self, event: SecurityEvent) -> None:
        self.events.append(event)

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.events]


class BrokenNotifier:
    """A notifier with a bug: raises something that is not a SinkError."""

    def __init__(self) -> None:
        self.attempts = 0

    @property
    def name(self) -> str:
        return "broken:"

    def notify(self, alert: Alert) -> None:
        self.attempts += 1
        raise RuntimeError("boom")

    def probe(self) -> str:
        raise RuntimeError("probe boom")


def event(
    clock: FakeClock,
    *,
    action: str = "login_failed",
    category: Category = Category.AUTH,
    severity: Severity = Severity.MEDIUM,
    ip: str | None = "203.0.113.9",
    user: str | None = None,
    at: float | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    return SecurityEvent(
        action=action,
        category=category,
        severity=severity,
        source_ip=ip,
        user_name=user,
        details=details or {},
        timestamp=clock.time() if at is None else at,
    )


def line(ev: SecurityEvent, **extra: Any) -> bytes:
    doc = ev.to_ecs()
    doc.update(extra)
    return json.dumps(doc).encode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def email() -> CapturingNotifier:
    return CapturingNotifier("smtp://ops@mail.example.com:587")


@pytest.fixture
def sms() -> CapturingNotifier:
    return CapturingNotifier("sms+twilio://AC123:***@api.twilio.com")


def engine_with(
    clock: FakeClock, notifier: CapturingNotifier, *rules: AlertRule, **kw: Any
) -> AlertEngine:
    return AlertEngine(rules, {"email": notifier}, clock=clock, **kw)


# -- acceptance ---------------------------------------------------------------------------------


def test_thousand_events_give_one_alert_then_one_digest_per_notifier(
    clock: FakeClock, email: CapturingNotifier, sms: CapturingNotifier
) -> None:
    rule = AlertRule(
        "flood", categories=frozenset({Category.AUTH}), cooldown=60, notify=("email", "sms")
    )
    engine = AlertEngine([rule], {"email": email, "sms": sms}, clock=clock)
    start = clock.time()
    events = []
    for _ in range(1000):
        ev = event(clock)
        events.append(ev)
        engine.observe(ev)
        clock.advance(0.01)  # 1,000 events over 10 s

    for notifier in (email, sms):
        assert len(notifier.alerts) == 1
        first = notifier.alerts[0]
        assert (first.digest, first.count, first.suppressed) == (False, 1, 0)
        assert first.rule == "flood"
        assert first.key == "all"
        assert first.event == events[0]

    clock.advance(49.0)  # 59 s after the first event: still cooling down
    engine.tick()
    assert len(email.alerts) == len(sms.alerts) == 1

    clock.advance(1.5)  # 60.5 s: cooldown over
    engine.tick()
    for notifier in (email, sms):
        assert len(notifier.alerts) == 2
        digest = notifier.alerts[1]
        assert digest.digest is True
        assert digest.count == digest.suppressed == 999
        assert digest.event == events[-1]
        assert digest.first_seen == pytest.approx(start + 0.01)
        assert digest.last_seen == pytest.approx(start + 9.99)
        assert "999 more event(s)" in digest.subject
        assert "events: 999 (999 suppressed by cooldown)" in digest.text

    clock.advance(61)  # a second cooldown with no events: nothing more, the key is forgotten
    engine.tick()
    clock.advance(61)
    engine.tick()
    assert len(email.alerts) == len(sms.alerts) == 2

    stats = engine.stats()
    assert stats.matched == 1000
    assert stats.alerts_sent == 1
    assert stats.digests_sent == 1
    assert stats.suppressed == 999
    assert stats.failures == 0

    engine.observe(event(clock))  # forgotten key: the next event alerts at once
    assert len(email.alerts) == 3
    assert email.alerts[2].digest is False


# -- threshold and grouping ---------------------------------------------------------------------


def brute_force(**kw: Any) -> AlertRule:
    fields: dict[str, Any] = {
        "categories": frozenset({Category.AUTH}),
        "threshold": 5,
        "within": 60,
        "group_by": "source.ip",
        "notify": ("email",),
    }
    fields.update(kw)
    return AlertRule("brute-force", **fields)


def test_threshold_fires_on_fifth_event_within_window(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    engine = engine_with(clock, email, brute_force())
    t0 = clock.time()
    for i in range(4):
        engine.observe(event(clock, at=t0 + 10 * i))
    assert email.alerts == []
    engine.observe(event(clock, at=t0 + 50))
    assert len(email.alerts) == 1
    alert = email.alerts[0]
    assert (alert.key, alert.count, alert.digest, alert.suppressed) == ("203.0.113.9", 5, False, 0)
    assert (alert.first_seen, alert.last_seen) == (t0, t0 + 50)
    assert alert.severity is Severity.MEDIUM


def test_threshold_spread_over_two_minutes_does_not_fire(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    engine = engine_with(clock, email, brute_force())
    t0 = clock.time()
    for i in range(7):  # 30 s apart: any 5 consecutive span 120 s
        engine.observe(event(clock, at=t0 + 30 * i))
    assert email.alerts == []
    assert engine.stats().matched == 7


def test_threshold_uses_event_timestamps_even_out_of_order(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    engine = engine_with(clock, email, brute_force(threshold=3, within=10))
    t0 = clock.time()
    for offset in (5, 0, 9):
        engine.observe(event(clock, at=t0 + offset))
    assert len(email.alerts) == 1
    assert (email.alerts[0].first_seen, email.alerts[0].last_seen) == (t0, t0 + 9)


def test_different_keys_alert_independently(clock: FakeClock, email: CapturingNotifier) -> None:
    engine = engine_with(clock, email, brute_force(threshold=2, within=60))
    for _ in range(2):
        engine.observe(event(clock, ip="198.51.100.1"))
    engine.observe(event(clock, ip="198.51.100.2"))
    assert [a.key for a in email.alerts] == ["198.51.100.1"]
    engine.observe(event(clock, ip="198.51.100.1"))  # cooling down: suppressed
    engine.observe(event(clock, ip="198.51.100.2"))  # second of its own: fires
    assert [a.key for a in email.alerts] == ["198.51.100.1", "198.51.100.2"]
    assert engine.stats().suppressed == 1


def test_group_by_other_fields_and_missing_field(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    by_user = AlertRule("per-user", group_by="user.name", notify=("email",))
    by_detail = AlertRule("per-detail", group_by="bulletproof.details.tenant", notify=("email",))
    engine = engine_with(clock, email, by_user, by_detail)
    engine.observe(event(clock, user="alice", details={"tenant": "acme"}))
    engine.observe(event(clock, user=None, details={}))
    keys = sorted((a.rule, a.key) for a in email.alerts)
    assert keys == [
        ("per-detail", "-"),
        ("per-detail", "acme"),
        ("per-user", "-"),
        ("per-user", "alice"),
    ]


def test_group_key_escapes_control_characters_and_bounds_length() -> None:
    doc = {"source": {"ip": "1.2.3.4\r\nBcc: evil@example.com"}, "user": {"name": "x" * 5000}}
    key = _group_key(doc, "source.ip")
    assert "\r" not in key
    assert "\n" not in key
    assert key == "1.2.3.4\\r\\nBcc: evil@example.com"  # escaped as every one-line text is
    assert len(_group_key(doc, "user.name")) == 200
    assert _group_key({"source.ip": "5.6.7.8"}, "source.ip") == "5.6.7.8"  # flattened form
    assert (
        _group_key({"http": {"response": {"status_code": 404}}}, "http.response.status_code")
        == "404"
    )
    assert _group_key(doc, "") == "all"
    flags = {
        "bulletproof": {"details": {"flag": True, "empty": "", "none": None, "tags": ["b", "a"]}}
    }
    assert _group_key(flags, "bulletproof.details.flag") == "true"
    assert _group_key(flags, "bulletproof.details.empty") == "-"
    assert _group_key(flags, "bulletproof.details.none") == "-"
    assert _group_key(flags, "bulletproof.details.tags") == '["b","a"]'
    assert _group_key(flags, "bulletproof.details.flag.deeper") == "-"


def test_crlf_in_grouped_field_does_not_reach_alert_key(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    engine = engine_with(clock, email, brute_force(threshold=1, within=0))
    engine.observe(event(clock, ip="10.0.0.1\r\nSubject: injected"))
    assert len(email.alerts) == 1
    assert "\n" not in email.alerts[0].key
    assert "\n" not in email.alerts[0].subject.replace(email.alerts[0].event.message, "")


# -- filters ------------------------------------------------------------------------------------


def test_min_severity_filter(clock: FakeClock, email: CapturingNotifier) -> None:
    engine = engine_with(
        clock,
        email,
        AlertRule("serious", min_severity=Severity.HIGH, cooldown=0, notify=("email",)),
    )
    engine.observe(event(clock, severity=Severity.LOW))
    engine.observe(event(clock, severity=Severity.MEDIUM))
    assert email.alerts == []
    engine.observe(event(clock, severity=Severity.HIGH))
    engine.observe(event(clock, severity=Severity.CRITICAL))
    assert [a.severity for a in email.alerts] == [Severity.HIGH, Severity.CRITICAL]


def test_category_and_action_filters(clock: FakeClock, email: CapturingNotifier) -> None:
    rule = AlertRule(
        "sqli",
        categories=frozenset({Category.MALICIOUS_TRAFFIC}),
        actions=frozenset({"sql_injection", "xss"}),
        cooldown=0,
        notify=("email",),
    )
    engine = engine_with(clock, email, rule)
    engine.observe(event(clock, category=Category.AUTH, action="sql_injection"))
    engine.observe(event(clock, category=Category.MALICIOUS_TRAFFIC, action="path_traversal"))
    assert email.alerts == []
    engine.observe(event(clock, category=Category.MALICIOUS_TRAFFIC, action="xss"))
    engine.observe(event(clock, category=Category.MALICIOUS_TRAFFIC, action="sql_injection"))
    assert [a.event.action for a in email.alerts] == ["xss", "sql_injection"]


def test_strings_accepted_for_categories_and_severity() -> None:
    rule = AlertRule(
        "from-config",
        categories=["auth", "Delivery"],  # type: ignore[arg-type]
        actions="login_failed",  # type: ignore[arg-type]
        min_severity="high",  # type: ignore[arg-type]
        notify="email",  # type: ignore[arg-type]
    )
    assert rule.categories == frozenset({Category.AUTH, Category.DELIVERY})
    assert rule.actions == frozenset({"login_failed"})
    assert rule.min_severity is Severity.HIGH
    assert rule.notify == ("email",)


def test_delivery_events_only_match_when_listed(clock: FakeClock, email: CapturingNotifier) -> None:
    any_rule = AlertRule("anything", cooldown=0, notify=("email",))
    delivery_rule = AlertRule(
        "delivery", categories=frozenset({Category.DELIVERY}), cooldown=0, notify=("email",)
    )
    engine = engine_with(clock, email, any_rule, delivery_rule)
    engine.observe(event(clock, category=Category.DELIVERY, action="notification_failed"))
    assert [a.rule for a in email.alerts] == ["delivery"]
    engine.observe(event(clock, category=Category.PROCESS, action="crashed"))
    assert [a.rule for a in email.alerts] == ["delivery", "anything"]


# -- retries ------------------------------------------------------------------------------------


def test_failed_notification_is_retried_with_backoff_then_recovers(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    emitter = ListEmitter()
    engine = engine_with(
        clock, email, AlertRule("r", notify=("email",)), emitter=emitter, retry_delays=(1, 2, 4)
    )
    email.fail = True
    engine.observe(event(clock))
    assert email.attempts == 1
    assert emitter.actions == ["notification_failed"]
    first = emitter.events[0]
    assert first.category is Category.DELIVERY
    assert first.severity is Severity.HIGH
    assert first.details["notifier"] == email.name
    assert first.details["rule"] == "r"
    assert first.details["attempt"] == 1
    assert first.details["will_retry"] is True
    assert "CapturingNotifier.fail is set" in first.details["error"]
    assert engine.stats().pending_retries == 1

    clock.advance(0.9)
    engine.tick()
    assert email.attempts == 1  # not due yet
    clock.advance(0.1)
    engine.tick()
    assert email.attempts == 2
    assert emitter.actions == ["notification_failed", "notification_failed"]
    assert emitter.events[1].details["attempt"] == 2

    email.fail = False
    clock.advance(1.9)
    engine.tick()
    assert email.attempts == 2  # second delay is 2 s
    clock.advance(0.1)
    engine.tick()
    assert email.attempts == 3
    assert len(email.alerts) == 1
    assert emitter.actions == [
        "notification_failed",
        "notification_failed",
        "notification_recovered",
    ]
    recovered = emitter.events[2]
    assert recovered.severity is Severity.LOW
    assert recovered.details == {"notifier": email.name, "rule": "r", "attempt": 3}
    stats = engine.stats()
    assert (stats.failures, stats.pending_retries) == (2, 0)


def test_notification_abandoned_after_last_delay(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    emitter = ListEmitter()
    engine = engine_with(
        clock, email, AlertRule("r", notify=("email",)), emitter=emitter, retry_delays=(1, 2)
    )
    email.fail = True
    engine.observe(event(clock))
    clock.advance(1)
    engine.tick()
    clock.advance(2)
    engine.tick()
    assert email.attempts == 3
    assert emitter.actions == [
        "notification_failed",
        "notification_failed",
        "notification_failed",
        "notification_abandoned",
    ]
    assert [e.details["will_retry"] for e in emitter.events[:3]] == [True, True, False]
    abandoned = emitter.events[3]
    assert abandoned.severity is Severity.CRITICAL
    assert abandoned.details["attempt"] == 3
    assert abandoned.details["rule"] == "r"
    clock.advance(3600)
    engine.tick()
    assert email.attempts == 3
    assert engine.stats().pending_retries == 0


def test_notifier_bug_is_caught_and_retried(clock: FakeClock) -> None:
    emitter = ListEmitter()
    broken = BrokenNotifier()
    engine = AlertEngine(
        [AlertRule("r", notify=("bad",))],
        {"bad": broken},
        clock=clock,
        emitter=emitter,
        retry_delays=(1,),
    )
    engine.observe(event(clock))  # must not raise
    clock.advance(1)
    engine.tick()
    assert broken.attempts == 2
    assert emitter.actions == [
        "notification_failed",
        "notification_failed",
        "notification_abandoned",
    ]
    assert emitter.events[0].details["error"] == "boom"


def test_retry_queue_is_bounded(clock: FakeClock, email: CapturingNotifier) -> None:
    emitter = ListEmitter()
    rule = AlertRule("r", group_by="source.ip", notify=("email",))
    engine = engine_with(clock, email, rule, emitter=emitter, max_pending_retries=2)
    email.fail = True
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        engine.observe(event(clock, ip=ip))
    assert engine.stats().pending_retries == 2
    abandoned = [e for e in emitter.events if e.action == "notification_abandoned"]
    assert len(abandoned) == 1
    assert abandoned[0].details["reason"] == "retry queue full"
    email.fail = False
    clock.advance(1)
    engine.tick()
    assert sorted(a.key for a in email.alerts) == ["192.0.2.2", "192.0.2.3"]


def test_broken_emitter_does_not_stop_alerts(clock: FakeClock, email: CapturingNotifier) -> None:
    class Raising:
        def emit(self, event: SecurityEvent) -> None:
            raise RuntimeError("emitter down")

    engine = engine_with(clock, email, AlertRule("r", notify=("email",)), emitter=Raising())
    email.fail = True
    engine.observe(event(clock))
    email.fail = False
    clock.advance(1)
    engine.tick()
    assert len(email.alerts) == 1


# -- bounded state ------------------------------------------------------------------------------


def test_max_keys_eviction_sends_pending_digest(clock: FakeClock, email: CapturingNotifier) -> None:
    rule = AlertRule("per-ip", group_by="source.ip", cooldown=60, notify=("email",))
    engine = engine_with(clock, email, rule, max_keys=2)
    engine.observe(event(clock, ip="192.0.2.1"))
    engine.observe(event(clock, ip="192.0.2.1"))  # suppressed
    engine.observe(event(clock, ip="192.0.2.2"))
    engine.observe(event(clock, ip="192.0.2.3"))  # evicts 192.0.2.1 (least recently used)
    summary = [(a.key, a.digest, a.count) for a in email.alerts]
    assert summary == [
        ("192.0.2.1", False, 1),
        ("192.0.2.2", False, 1),
        ("192.0.2.1", True, 1),
        ("192.0.2.3", False, 1),
    ]
    engine.observe(event(clock, ip="192.0.2.4"))  # evicts 192.0.2.2, nothing pending
    assert [a.key for a in email.alerts][-1] == "192.0.2.4"
    assert len(email.alerts) == 5
    clock.advance(61)
    engine.tick()
    assert len(email.alerts) == 5  # no digests: nothing was suppressed by the remaining keys


def test_eviction_is_least_recently_used(clock: FakeClock, email: CapturingNotifier) -> None:
    rule = AlertRule("per-ip", group_by="source.ip", cooldown=60, notify=("email",))
    engine = engine_with(clock, email, rule, max_keys=2)
    engine.observe(event(clock, ip="192.0.2.1"))
    engine.observe(event(clock, ip="192.0.2.2"))
    engine.observe(event(clock, ip="192.0.2.1"))  # touches .1: .2 is now least recently used
    engine.observe(event(clock, ip="192.0.2.3"))  # evicts .2, which suppressed nothing
    assert [(a.key, a.digest) for a in email.alerts] == [
        ("192.0.2.1", False),
        ("192.0.2.2", False),
        ("192.0.2.3", False),
    ]
    clock.advance(60)
    engine.tick()
    assert [(a.key, a.digest, a.count) for a in email.alerts][-1] == ("192.0.2.1", True, 1)
    assert len(email.alerts) == 4


def test_many_keys_stay_bounded(clock: FakeClock, email: CapturingNotifier) -> None:
    rule = AlertRule("per-ip", group_by="source.ip", threshold=3, within=10, notify=("email",))
    engine = engine_with(clock, email, rule, max_keys=50)
    for i in range(2000):
        engine.observe(event(clock, ip=f"10.0.{i // 256}.{i % 256}"))
    assert len(engine._states) <= 50
    assert email.alerts == []


def test_cooldown_bookkeeping_stays_bounded_under_key_churn(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    rule = AlertRule(
        "per-ip", group_by="source.ip", cooldown=60, notify=("email",), max_alerts=10_000
    )
    engine = engine_with(clock, email, rule, max_keys=10)
    for i in range(1000):
        engine.observe(event(clock, ip=f"10.1.{i // 256}.{i % 256}"))
    assert len(email.alerts) == 1000
    assert len(engine._states) == 10
    assert len(engine._cooldowns) <= 2 * 10 + 64 + 1
    clock.advance(60)
    engine.tick()
    assert len(engine._states) == 0
    assert len(email.alerts) == 1000


def test_evicted_key_old_cooldown_does_not_cut_a_new_one_short(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    rule = AlertRule("per-ip", group_by="source.ip", cooldown=60, notify=("email",))
    engine = engine_with(clock, email, rule, max_keys=1)
    engine.observe(event(clock, ip="192.0.2.1"))  # t=0: alert, cooldown until 60
    clock.advance(10)
    engine.observe(event(clock, ip="192.0.2.2"))  # evicts .1
    clock.advance(10)
    engine.observe(event(clock, ip="192.0.2.1"))  # t=20: alert again, cooldown until 80
    clock.advance(42)
    engine.observe(event(clock, ip="192.0.2.1"))  # t=62: first cooldown entry is stale
    assert [(a.key, a.digest) for a in email.alerts] == [
        ("192.0.2.1", False),
        ("192.0.2.2", False),
        ("192.0.2.1", False),
    ]
    clock.advance(19)
    engine.tick()  # t=81
    assert [(a.key, a.digest, a.count) for a in email.alerts][-1] == ("192.0.2.1", True, 1)


# -- configuration errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"within": -1}, "within"),
        ({"threshold": 3, "within": 0}, "within"),
        ({"cooldown": -5}, "cooldown"),
        ({"cooldown": float("nan")}, "cooldown"),
        ({"notify": ()}, "notify"),
        ({"group_by": "source ip"}, "group_by"),
        ({"categories": frozenset({"auht"})}, "categories"),
        ({"min_severity": "hgih"}, "min_severity"),
        ({"actions": frozenset({""})}, "actions"),
    ],
)
def test_bad_rule_names_rule_and_field(fields: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {"notify": ("email",), **fields}
    with pytest.raises(ConfigError) as info:
        AlertRule("my-rule", **kwargs)
    message = str(info.value)
    assert "'my-rule'" in message
    assert f"'{field}'" in message


def test_bad_rule_hints() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'auth'"):
        AlertRule("r", categories=frozenset({"auht"}), notify=("email",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Did you mean 'high'"):
        AlertRule("r", min_severity="hgih", notify=("email",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'name'"):
        AlertRule("", notify=("email",))
    with pytest.raises(ConfigError, match="'name'"):
        AlertRule("bad\nname", notify=("email",))


def test_unknown_notifier_name_suggests_closest(email: CapturingNotifier) -> None:
    rule = AlertRule("brute-force", notify=("emial",))
    with pytest.raises(ConfigError) as info:
        AlertEngine([rule], {"email": email, "sms": email})
    message = str(info.value)
    assert "'brute-force'" in message
    assert "'emial'" in message
    assert "Did you mean 'email'?" in message
    assert "email, sms" in message


def test_duplicate_rule_names_rejected(email: CapturingNotifier) -> None:
    rule = AlertRule("dup", notify=("email",))
    with pytest.raises(ConfigError, match="'dup' is defined twice"):
        AlertEngine([rule, rule], {"email": email})


def test_bad_engine_settings(email: CapturingNotifier) -> None:
    rule = AlertRule("r", notify=("email",))
    with pytest.raises(ConfigError, match="max_keys"):
        AlertEngine([rule], {"email": email}, max_keys=0)
    with pytest.raises(ConfigError, match="retry_delays"):
        AlertEngine([rule], {"email": email}, retry_delays=(1, -2))


# -- the Sink face ------------------------------------------------------------------------------


def test_send_skips_garbage_lines_and_counts_them(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    engine = engine_with(clock, email, AlertRule("r", cooldown=0, notify=("email",)))
    assert engine.name == "alerts"
    engine.open()
    good = event(clock)
    engine.send(
        [
            b"not json",
            b"[1, 2]",
            b"{}",
            b'{"event": {"action": "x"}}',
            b"\xff\xfe\x00",
            b'{"event": [], "bulletproof": 7}',
            line(good),
        ]
    )
    assert engine.stats().skipped_lines == 6
    assert len(email.alerts) == 1
    assert email.alerts[0].event == good
    assert engine.unconfirmed() == 0
    engine.close()


def test_send_groups_by_fields_only_in_the_document(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    rule = AlertRule("per-country", group_by="source.geo.country_iso_code", notify=("email",))
    engine = engine_with(clock, email, rule)
    ev = event(clock)
    doc = ev.to_ecs()
    doc["source"]["geo"] = {"country_iso_code": "NL"}  # as an enrich processor would add
    engine.send([json.dumps(doc).encode(), json.dumps(doc).encode()])
    assert [a.key for a in email.alerts] == ["NL"]
    assert engine.stats().suppressed == 1


def test_close_flushes_pending_digests(clock: FakeClock, email: CapturingNotifier) -> None:
    engine = engine_with(clock, email, AlertRule("r", cooldown=600, notify=("email",)))
    for _ in range(3):
        engine.observe(event(clock))
    engine.close()
    assert [(a.digest, a.count) for a in email.alerts] == [(False, 1), (True, 2)]
    clock.advance(601)
    engine.tick()
    assert len(email.alerts) == 2


def test_probe_reports_every_notifier(email: CapturingNotifier, sms: CapturingNotifier) -> None:
    rule = AlertRule("r", notify=("email",))
    engine = AlertEngine([rule], {"email": email, "sms": sms})
    summary = engine.probe()
    assert "2 notifier(s) reachable" in summary
    assert "email: in memory" in summary
    sms.fail = True
    with pytest.raises(SinkError) as info:
        engine.probe()
    assert "sms" in str(info.value)
    assert "email (" not in str(info.value)
    engine_broken = AlertEngine([rule], {"email": email, "bad": BrokenNotifier()})
    with pytest.raises(SinkError, match="probe boom"):
        engine_broken.probe()


# -- send_test ----------------------------------------------------------------------------------


def test_send_test_bypasses_threshold_and_cooldown(
    clock: FakeClock, email: CapturingNotifier, sms: CapturingNotifier
) -> None:
    rule = AlertRule(
        "brute-force",
        categories=frozenset({Category.ACCOUNT_ANOMALY, Category.AUTH}),
        actions=frozenset({"login_failed"}),
        min_severity=Severity.HIGH,
        threshold=10,
        within=60,
        notify=("email", "sms"),
    )
    emitter = ListEmitter()
    engine = AlertEngine([rule], {"email": email, "sms": sms}, clock=clock, emitter=emitter)
    sms.fail = True
    results = engine.send_test("brute-force")
    assert results[0] == ("email", None)
    assert results[1][0] == "sms"
    assert results[1][1] is not None
    assert "CapturingNotifier.fail is set" in results[1][1]
    alert = email.alerts[0]
    assert (
        alert.event.message == "bulletproof alerts test: this is a test alert for rule brute-force"
    )
    assert alert.event.category is Category.AUTH  # first in the enum's order
    assert alert.event.action == "login_failed"
    assert alert.event.severity is Severity.HIGH
    assert rule.matches(alert.event)
    assert engine.send_test("brute-force")[0] == ("email", None)  # no cooldown
    assert len(email.alerts) == 2
    assert engine.stats().pending_retries == 0  # no retries
    assert emitter.events == []


def test_send_test_unknown_rule(email: CapturingNotifier) -> None:
    engine = AlertEngine([AlertRule("brute-force", notify=("email",))], {"email": email})
    with pytest.raises(ConfigError, match="Did you mean 'brute-force'"):
        engine.send_test("brute-forse")


# -- robustness ---------------------------------------------------------------------------------


def test_notifiers_are_called_without_the_lock(clock: FakeClock) -> None:
    engine: AlertEngine

    class Reentrant:
        name = "reentrant:"
        lock_free: list[bool] = []  # noqa: RUF012

        def notify(self, alert: Alert) -> None:
            worker = threading.Thread(target=engine.stats)
            worker.start()
            worker.join(2.0)
            self.lock_free.append(not worker.is_alive())

        def probe(self) -> str:
            return "ok"

    notifier = Reentrant()
    engine = AlertEngine([AlertRule("r", cooldown=0, notify=("n",))], {"n": notifier}, clock=clock)
    engine.observe(event(clock))
    engine.send([line(event(clock))])
    assert notifier.lock_free == [True, True]


def test_concurrent_observers_keep_counts_exact(clock: FakeClock, email: CapturingNotifier) -> None:
    engine = engine_with(clock, email, AlertRule("r", cooldown=60, notify=("email",)))

    def feed() -> None:
        for _ in range(500):
            engine.observe(event(clock))

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clock.advance(60)
    engine.tick()
    assert [(a.digest, a.count) for a in email.alerts] == [(False, 1), (True, 1999)]


def test_internal_error_is_reported_not_raised(
    clock: FakeClock, email: CapturingNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitter = ListEmitter()
    engine = engine_with(clock, email, AlertRule("r", notify=("email",)), emitter=emitter)

    def explode(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(engine, "_process_locked", explode)
    engine.observe(event(clock))
    engine.send([line(event(clock))])
    assert emitter.actions == ["alert_engine_error", "alert_engine_error"]
    assert emitter.events[0].details == {"where": "observe", "error": "bug"}


# -- the counting seam ---------------------------------------------------------------------------


def test_engines_sharing_a_counter_alert_once_for_an_attack_spread_over_them(
    clock: FakeClock,
) -> None:
    """Two machines, one shared counter (here the in-memory one, standing in for Redis): a brute
    force split between them alerts once; the other engine holds back and digests what it saw."""
    shared = MemoryAlertCounter()
    mails = [CapturingNotifier("a"), CapturingNotifier("b")]
    engines = [engine_with(clock, mail, brute_force(), counter=shared) for mail in mails]
    for i in range(20):
        engines[i % 2].observe(event(clock))  # alternate: neither sees 5 within 60 s alone ...
        clock.advance(1)
    alerts = [a for mail in mails for a in mail.alerts]
    assert [(a.count, a.digest) for a in alerts] == [(5, False)]  # ... together they alert once
    clock.advance(600)
    for engine in engines:
        engine.tick()
    digests = [a for mail in mails for a in mail.alerts if a.digest]
    assert sum(d.suppressed for d in digests) == 15  # every later event is in one digest


def test_memory_counter_is_bounded_and_restarts_its_count_once_it_fired() -> None:
    counter = MemoryAlertCounter(max_keys=3)

    def hit(key: str, ts: float, now: float = 0.0, cooldown: float = 60.0) -> Hit:
        return counter.hit("r", key, ts, threshold=2, within=10.0, now=now, cooldown=cooldown)

    assert hit("k", 0.0) == Hit()
    assert hit("k", 5.0) == Hit(fired=True, first_seen=0.0, last_seen=5.0)
    assert hit("k", 6.0, now=59.0) == Hit(cooling_until=60.0)  # held back: cooling
    assert hit("k", 7.0, now=60.0) == Hit()  # the cooldown ended: a fresh count
    for n in range(10):
        hit(f"key{n}", 0.0)
        hit(f"key{n}", 1.0)
    assert len(counter._times) <= 3
    assert len(counter._cooldowns) <= 3
    assert hit("x", 0.0, cooldown=0) == Hit()
    assert hit("x", 1.0, cooldown=0).fired
    assert hit("x", 2.0, cooldown=0) == Hit()  # no cooldown: counting goes on at once


def test_rule_durations_take_the_config_forms() -> None:
    # Typed float for Python callers; text is accepted as the config file writes it.
    rule = AlertRule("r", threshold=5, within="1500ms", cooldown="2m", notify=("email",))  # type: ignore[arg-type]
    assert (rule.within, rule.cooldown) == (1.5, 120.0)
    for bad in ("soon", -1, True, float("nan"), [60]):
        with pytest.raises(ConfigError, match=r"field 'cooldown' = .* is not a duration"):
            AlertRule("r", cooldown=bad, notify=("email",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="out of range"):
        AlertRule("r", cooldown="400d", notify=("email",))  # type: ignore[arg-type]


# -- max_alerts: a flood of keys an attacker chooses -------------------------------------------


def test_a_flood_of_keys_gives_max_alerts_then_one_summary_when_the_rule_may_send_again(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    rule = AlertRule(
        "stuffing",
        categories=frozenset({Category.AUTH}),
        group_by="user.name",
        notify=("email",),
    )
    assert (rule.max_alerts, rule.max_alerts_within) == (20, 3600.0)
    engine = engine_with(clock, email, rule)
    for i in range(1002):  # one failed login for each of 1,002 names
        engine.observe(event(clock, user=f"user{i:04d}"))
    assert len(email.alerts) == 20
    assert engine.stats().rate_limited == 982
    clock.advance(3599)
    engine.tick()
    assert len(email.alerts) == 20  # not before the hour of the first alert is over
    clock.advance(1)
    engine.tick()
    summary = email.alerts[-1]
    assert len(email.alerts) == 21
    assert (summary.held, summary.count, summary.key) == (982, 982, "*")
    assert summary.keys == tuple(f"user{i:04d}" for i in range(20, 30))
    assert "982 more alert(s) held back by max_alerts (user0020, user0021, user0022 ...)" in (
        summary.subject
    )
    assert "\n" not in summary.subject
    assert "keys: user0020," in summary.text
    clock.advance(3600)
    engine.tick()
    assert len(email.alerts) == 21  # nothing more was held back


def test_max_alerts_counts_digests_too_and_each_rule_on_its_own(
    clock: FakeClock, email: CapturingNotifier
) -> None:
    capped = AlertRule(
        "capped",
        categories=frozenset({Category.AUTH}),
        group_by="source.ip",
        cooldown=60,
        notify=("email",),
        max_alerts=2,
        max_alerts_within=600,
    )
    other = AlertRule(
        "other",
        categories=frozenset({Category.AUTH}),
        notify=("email",),
        cooldown=0,
    )
    engine = engine_with(clock, email, capped, other)
    for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):  # an alert, a held event, an alert
        engine.observe(event(clock, ip=ip))
    assert [(a.rule, a.key) for a in email.alerts if a.rule == "capped"] == [
        ("capped", "10.0.0.1"),
        ("capped", "10.0.0.2"),
    ]
    assert sum(a.rule == "other" for a in email.alerts) == 3  # not held by the other's cap
    clock.advance(61)
    engine.tick()  # 10.0.0.1's digest is due: the cap holds it
    assert [a.digest for a in email.alerts if a.rule == "capped"] == [False, False]
    clock.advance(600)
    engine.tick()
    last = [a for a in email.alerts if a.rule == "capped"][-1]
    assert (last.held, last.keys) == (1, ("10.0.0.1",))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("max_alerts", 0, "'max_alerts' must be a whole number from 1 to 10000"),
        ("max_alerts", True, "'max_alerts' must be a whole number from 1 to 10000"),
        ("max_alerts", 10_001, "'max_alerts' must be a whole number from 1 to 10000"),
        ("max_alerts_within", 0, "'max_alerts_within' must be > 0 seconds"),
    ],
)
def test_bad_max_alerts_is_a_clear_error(field: str, value: Any, says: str) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ConfigError, match=says) as info:
        AlertRule("r", notify=("email",), **kwargs)
    assert "alert rule 'r'" in str(info.value)
