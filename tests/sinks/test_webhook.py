"""The webhook+http(s):// notifier against a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tests.sinks.httpserver import RecordingHTTPServer, free_port

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.alerts import Alert
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.sinks import SinkSpec, notifier_from_url
from bulletproof.sinks._webhook import WebhookNotifier, create_notifier


def _alert(*, user: str = "alice", digest: bool = False) -> Alert:
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        severity=Severity.HIGH,
        message="5 failed logins",
        source_ip="203.0.113.9",
        user_name=user,
        timestamp=1_700_000_100.0,
        id="0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    )
    return Alert(
        rule="brute-force",
        key="203.0.113.9",
        event=event,
        count=7 if digest else 5,
        suppressed=7 if digest else 2,
        digest=digest,
        first_seen=1_700_000_000.0,
        last_seen=1_700_000_100.0,
        severity=Severity.HIGH,
    )


@pytest.fixture
def server() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as srv:
        yield srv


def _notifier(url: str, **options: object) -> WebhookNotifier:
    notifier = notifier_from_url(url, options=options)
    assert isinstance(notifier, WebhookNotifier)
    return notifier


def test_posts_slack_shaped_json(server: RecordingHTTPServer) -> None:
    alert = _alert()
    notifier = _notifier(f"webhook+http://127.0.0.1:{server.port}/services/T0/B0/xyz")
    notifier.notify(alert)
    (req,) = server.requests
    assert req.method == "POST"
    assert req.path == "/services/T0/B0/xyz"
    assert req.headers["content-type"].startswith("application/json")
    doc = req.json()
    assert doc["text"].startswith(alert.subject + "\n")
    assert doc["text"] == alert.text  # the subject line once, then the details
    assert "source.ip: 203.0.113.9" in doc["text"]
    assert doc["bulletproof"] == {
        "rule": "brute-force",
        "key": "203.0.113.9",
        "count": 5,
        "suppressed": 2,
        "digest": False,
        "severity": "high",
        "event_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "action": "login_failed",
        "category": "auth",
        "first_seen": "2023-11-14T22:13:20.000000Z",
        "last_seen": "2023-11-14T22:15:00.000000Z",
    }


def test_digest_flag_is_carried(server: RecordingHTTPServer) -> None:
    _notifier(f"webhook+http://127.0.0.1:{server.port}/hook").notify(_alert(digest=True))
    doc = server.requests[0].json()
    assert doc["bulletproof"]["digest"] is True
    assert "during cooldown" in doc["text"]


def test_attacker_text_cannot_become_a_slack_mention(server: RecordingHTTPServer) -> None:
    _notifier(f"webhook+http://127.0.0.1:{server.port}/hook").notify(
        _alert(user="<!channel> & <https://evil.example|click>")
    )
    text = server.requests[0].json()["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text


def test_query_string_and_headers_go_to_the_target(server: RecordingHTTPServer) -> None:
    notifier = _notifier(
        f"webhook+http://127.0.0.1:{server.port}/hook?token=abc",
        headers={"X-Signature": "s1"},
    )
    notifier.notify(_alert())
    req = server.requests[0]
    assert req.path == "/hook?token=abc"
    assert req.headers["x-signature"] == "s1"


@pytest.mark.parametrize("status", [400, 404, 500])
def test_error_status_raises(server: RecordingHTTPServer, status: int) -> None:
    server.reply(status, b"no_such_channel")
    notifier = _notifier(f"webhook+http://127.0.0.1:{server.port}/hook")
    with pytest.raises(SinkError, match=rf"HTTP {status}: no_such_channel"):
        notifier.notify(_alert())


def test_redirect_is_not_success(server: RecordingHTTPServer) -> None:
    server.reply(302, b"", {"Location": "http://elsewhere.example/"})
    with pytest.raises(SinkError, match="HTTP 302"):
        _notifier(f"webhook+http://127.0.0.1:{server.port}/hook").notify(_alert())


def test_refused_is_unavailable() -> None:
    notifier = _notifier(f"webhook+http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(SinkUnavailableError, match="refused"):
        notifier.notify(_alert())
    with pytest.raises(SinkUnavailableError, match="refused"):
        notifier.probe()


def test_probe_only_connects(server: RecordingHTTPServer) -> None:
    result = _notifier(f"webhook+http://127.0.0.1:{server.port}/hook").probe()
    assert "accepted" in result
    assert server.requests == []


def test_https_with_private_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with RecordingHTTPServer(tls=ca) as tls_server:
        url = f"webhook+https://localhost:{tls_server.port}/hook"
        notifier = _notifier(url, ca=str(ca_file))
        notifier.notify(_alert())
        assert tls_server.requests[0].json()["bulletproof"]["rule"] == "brute-force"
        assert "certificate verified" in notifier.probe()
        with pytest.raises(SinkUnavailableError, match="not trusted"):
            _notifier(url).notify(_alert())


def test_bad_header_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CR, LF or NUL"):
        _notifier("webhook+https://hooks.example.com/x", headers={"X-A": "1\r\nX-B: 2"})


def test_create_rejects_other_schemes() -> None:
    with pytest.raises(ConfigError, match="not a webhook URL"):
        create_notifier(SinkSpec.parse("https://hooks.example.com/x"))
