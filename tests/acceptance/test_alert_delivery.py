"""Acceptance: an alert rule with a cooldown, through the pipeline, to real SMTP and HTTP servers.

The notifiers are built from a config file: ``smtp://`` to an aiosmtpd server on 127.0.0.1
(``tls=none``, no auth) and ``sms+twilio://`` whose ``base_url`` points at a local HTTP server
playing Twilio. The alert engine's cooldown runs on a FakeClock; delivery runs in real time.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from tests.acceptance.receivers import SmtpInbox, poll, report, start_smtp
from tests.sinks.httpserver import RecordingHTTPServer, Reply

from bulletproof.config import build_pipeline, load_config
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.testing import FakeClock

pytestmark = pytest.mark.slow

TOKEN = "tw-secret-token-0123456789"  # noqa: S105 - a test token, passed only through env
IP = "203.0.113.9"
EVENTS = 1000
SPREAD = 10.0  # seconds of fake time the events are spread over
QUIET = 1.0  # real seconds with no new message that count as "nothing more arrives"


def _mails(inbox: SmtpInbox) -> list[EmailMessage]:
    out = []
    for raw in inbox.raw():
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def _sms_bodies(server: RecordingHTTPServer) -> list[str]:
    bodies = []
    for request in server.requests:
        assert request.method == "POST", request
        assert request.path == "/2010-04-01/Accounts/AC123/Messages.json", request
        form = parse_qs(request.body.decode("ascii"), strict_parsing=True)
        assert form["To"] == ["+15550002222"], form
        assert form["From"] == ["+15550001111"], form
        (body,) = form["Body"]
        bodies.append(body)
    return bodies


def _subject(msg: EmailMessage) -> str:
    """The Subject as a reader sees it (a long one is folded onto a continuation line)."""
    return " ".join(str(msg["Subject"]).split())


def _counts(inbox: SmtpInbox, server: RecordingHTTPServer) -> tuple[int, int]:
    return inbox.count(), len(server.requests)


def _stays(inbox: SmtpInbox, server: RecordingHTTPServer, expected: tuple[int, int]) -> None:
    """Fail if any email or SMS beyond ``expected`` arrives within QUIET real seconds."""
    more = poll(lambda: _counts(inbox, server) != expected, QUIET)
    assert not more, f"expected {expected} (emails, SMS), got {_counts(inbox, server)}"


@pytest.mark.timeout(60)
def test_1000_events_in_10s_give_one_email_one_sms_then_one_digest(tmp_path: Path) -> None:
    """Acceptance line 4: "1,000 matching events in 10 s under a rule with a 60 s cooldown
    produce exactly one email and one SMS request, then one digest after the cooldown that
    counts the 999 suppressed."
    """
    twilio_reply = Reply(201, b'{"sid": "SM1", "status": "queued"}')
    with start_smtp() as (inbox, smtp_port), RecordingHTTPServer(default=twilio_reply) as twilio:
        (tmp_path / "bulletproof.toml").write_text(
            f"""\
service_name = "shop"
[events]
spool_dir = "spool"
sinks = ["file:events.jsonl"]

[alerts.notifiers]
mail = "smtp://127.0.0.1:{smtp_port}?from=bp@example.com&to=ops@example.com&tls=none"
sms = "sms+twilio://AC123:${{TWILIO_TOKEN}}@api.twilio.com?from=+15550001111&to=+15550002222&base_url=http://127.0.0.1:{twilio.port}"

[[alerts.rules]]
name = "brute-force"
categories = ["auth"]
actions = ["login_failed"]
threshold = 1
cooldown = "60s"
group_by = "source.ip"
notify = ["mail", "sms"]
""",
            encoding="utf-8",
        )
        config = load_config(tmp_path, env={"TWILIO_TOKEN": TOKEN})
        clock = FakeClock(start=1_700_000_000.0)
        pipeline = build_pipeline(config, clock=clock).start()
        engine = pipeline.alerts
        assert engine is not None
        try:
            step = SPREAD / EVENTS
            for i in range(EVENTS):
                clock.advance(step)
                pipeline.emit(
                    SecurityEvent(
                        action="login_failed",
                        category=Category.AUTH,
                        severity=Severity.MEDIUM,
                        message=f"login failed for user{i}",
                        source_ip=IP,
                        user_name=f"user{i}",
                        timestamp=clock.time(),
                    )
                )
            # Every event reached the engine; exactly one email and one SMS went out.
            assert poll(lambda: engine.stats().matched >= EVENTS, 20), engine.stats()
            assert poll(lambda: _counts(inbox, twilio) >= (1, 1), 10), _counts(inbox, twilio)
            _stays(inbox, twilio, (1, 1))
            stats = engine.stats()
            assert (stats.matched, stats.alerts_sent, stats.suppressed) == (EVENTS, 1, 999), stats

            # The cooldown ends (fake time): one digest by email and by SMS, counting 999.
            clock.advance(61.0)
            assert poll(lambda: _counts(inbox, twilio) >= (2, 2), 10), _counts(inbox, twilio)
            _stays(inbox, twilio, (2, 2))
            assert engine.stats().digests_sent == 1, engine.stats()
            assert engine.stats().failures == 0, engine.stats()
        finally:
            pipeline.close(timeout=5)
        mails = _mails(inbox)
        bodies = _sms_bodies(twilio)
        auth = {r.headers.get("authorization") for r in twilio.requests}
        events_file = (tmp_path / "events.jsonl").read_text(encoding="utf-8")
    report(
        "alerts: emails "
        + " | ".join(_subject(m) for m in mails)
        + "; SMS "
        + " | ".join(b.splitlines()[0] for b in bodies)
    )
    assert len(mails) == 2, [_subject(m) for m in mails]
    assert len(bodies) == 2, bodies
    first, digest = mails
    assert _subject(first) == f"[bulletproof] MEDIUM brute-force: login failed for user0 ({IP})"
    assert "999" not in _subject(first)
    expected_digest = f"[bulletproof] brute-force: 999 more event(s) for {IP} during cooldown"
    assert _subject(digest) == expected_digest
    digest_body = digest.get_body()
    assert isinstance(digest_body, EmailMessage)
    assert "events: 999 (999 suppressed by cooldown)" in digest_body.get_content()
    assert bodies[0].splitlines()[0] == _subject(first)
    assert bodies[1].splitlines()[0] == expected_digest
    assert "events: 999 (999 suppressed by cooldown)" in bodies[1]
    # The token travels only in the Authorization header, never in a message or an event.
    assert len(auth) == 1
    assert TOKEN not in "".join(bodies)
    assert all(TOKEN.encode() not in raw for raw in inbox.raw())
    assert TOKEN not in events_file
    assert events_file.count('"action":"login_failed"') == EVENTS
