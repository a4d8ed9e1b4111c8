"""The sms+twilio:// notifier against a local HTTP server playing the Twilio REST API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trustme
from tests.sinks.httpserver import RecordingHTTPServer, Reply, free_port

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.alerts import Alert
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.sinks import SinkSpec, notifier_from_url
from bulletproof.sinks._sms import MAX_BODY_CHARS, SmsNotifier, create_notifier, sms_body

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tw-t0ken-s3cret"  # noqa: S105 - test credential
FROM = "+15550001111"
TO1, TO2 = "+15550002222", "+442071838750"
CREATED = json.dumps({"sid": "SM1", "status": "queued"}).encode()


def _alert(message: str = "5 failed logins", *, event_id: str = "e-1") -> Alert:
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        severity=Severity.CRITICAL,
        message=message,
        source_ip="203.0.113.9",
        timestamp=1_700_000_100.0,
        id=event_id,
    )
    return Alert(
        rule="brute-force",
        key="203.0.113.9",
        event=event,
        count=5,
        suppressed=0,
        digest=False,
        first_seen=1_700_000_000.0,
        last_seen=1_700_000_100.0,
        severity=Severity.CRITICAL,
    )


@pytest.fixture
def twilio() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer(default=_reply_created()) as srv:
        yield srv


def _reply_created() -> Reply:
    return Reply(201, CREATED)


def _url(server: RecordingHTTPServer, to: str = f"{TO1},{TO2}", extra: str = "") -> str:
    return (
        f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={to}"
        f"&base_url={server.url}{extra}"
    )


def _notifier(url: str) -> SmsNotifier:
    notifier = notifier_from_url(url)
    assert isinstance(notifier, SmsNotifier)
    return notifier


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("ascii"), strict_parsing=True).items()}


def test_one_request_per_recipient_in_twilio_shape(twilio: RecordingHTTPServer) -> None:
    alert = _alert()
    notifier = _notifier(_url(twilio))
    assert TOKEN not in notifier.name
    notifier.notify(alert)
    requests = twilio.requests
    assert len(requests) == 2
    expected_auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    for req, to in zip(requests, [TO1, TO2], strict=True):
        assert req.method == "POST"
        assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
        assert req.headers["authorization"] == expected_auth
        assert req.headers["content-type"] == "application/x-www-form-urlencoded"
        form = _form(req.body)
        assert form == {"To": to, "From": FROM, "Body": sms_body(alert)}
        assert form["Body"].startswith(alert.subject + "\n")
        assert "source.ip: 203.0.113.9" in form["Body"]


def test_body_is_capped_at_1600_characters() -> None:
    alert = _alert("x" * 3000)
    body = sms_body(alert)
    assert len(body) == MAX_BODY_CHARS
    assert body == alert.subject[:MAX_BODY_CHARS]
    short = _alert("short")
    assert sms_body(short) == short.text  # subject once, then the details
    assert len(sms_body(short, limit=60)) == 60


def test_unauthorized_raises_sink_error_without_token(twilio: RecordingHTTPServer) -> None:
    twilio.reply(401, json.dumps({"code": 20003, "message": "Authenticate"}).encode())
    with pytest.raises(SinkError, match="rejected the account SID") as info:
        _notifier(_url(twilio)).notify(_alert())
    assert TOKEN not in str(info.value)
    assert len(twilio.requests) == 1  # the second recipient is not tried with bad credentials
    assert not isinstance(info.value, SinkUnavailableError)


def test_twilio_error_message_is_reported(twilio: RecordingHTTPServer) -> None:
    twilio.reply(
        400,
        json.dumps(
            {"code": 21211, "message": "The 'To' number +15550002222 is not valid.", "status": 400}
        ).encode(),
    )
    with pytest.raises(SinkError) as info:
        _notifier(_url(twilio, to=TO1)).notify(_alert())
    message = str(info.value)
    assert "HTTP 400" in message
    assert "The 'To' number +15550002222 is not valid. (Twilio error 21211)" in message


def test_non_json_error_body_is_reported(twilio: RecordingHTTPServer) -> None:
    twilio.reply(503, b"upstream down\r\nInjected: 1", {"Content-Type": "text/plain"})
    with pytest.raises(SinkError, match=r"HTTP 503 for \+15550002222: upstream down\\r\\nInjected"):
        _notifier(_url(twilio, to=TO1)).notify(_alert())


def test_retry_skips_recipients_that_already_got_the_alert(twilio: RecordingHTTPServer) -> None:
    notifier = _notifier(_url(twilio))
    alert = _alert()
    twilio.reply(201, CREATED)  # TO1 ok
    twilio.reply(500, b"{}")  # TO2 fails
    with pytest.raises(SinkError, match=r"1 of 2 recipients failed"):
        notifier.notify(alert)
    notifier.notify(alert)  # the retry
    sent_to = [_form(r.body)["To"] for r in twilio.requests]
    assert sent_to == [TO1, TO2, TO2]
    notifier.notify(_alert(event_id="e-2"))  # a new alert goes to everyone again
    assert [_form(r.body)["To"] for r in twilio.requests][3:] == [TO1, TO2]


def test_refused_is_unavailable_and_stops_early() -> None:
    url = (
        f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={TO1},{TO2}"
        f"&base_url=http://127.0.0.1:{free_port()}"
    )
    notifier = _notifier(url)
    with pytest.raises(SinkUnavailableError, match="refused") as info:
        notifier.notify(_alert())
    assert TOKEN not in str(info.value)
    with pytest.raises(SinkUnavailableError):
        notifier.probe()


def test_probe_ok(twilio: RecordingHTTPServer) -> None:
    twilio.reply(200, json.dumps({"sid": SID, "status": "active"}).encode())
    result = _notifier(_url(twilio)).probe()
    assert "credentials accepted" in result
    (req,) = twilio.requests
    assert req.method == "GET"
    assert req.path == f"/2010-04-01/Accounts/{SID}.json"
    assert req.headers["authorization"].startswith("Basic ")


def test_probe_rejected_credentials(twilio: RecordingHTTPServer) -> None:
    twilio.reply(401, b'{"code": 20003, "message": "Authenticate"}')
    with pytest.raises(SinkError, match="rejected the credentials") as info:
        _notifier(_url(twilio)).probe()
    assert TOKEN not in str(info.value)


def test_probe_other_status(twilio: RecordingHTTPServer) -> None:
    twilio.reply(404, b'{"code": 20404, "message": "not found"}')
    with pytest.raises(SinkError, match="HTTP 404: not found"):
        _notifier(_url(twilio)).probe()


def test_https_base_url_with_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with RecordingHTTPServer(tls=ca, default=_reply_created()) as server:
        notifier = _notifier(_url(server, to=TO1, extra=f"&ca={ca_file}"))
        notifier.notify(_alert())
        assert _form(server.requests[0].body)["To"] == TO1


def test_default_base_is_twilio_over_https() -> None:
    notifier = _notifier(f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={TO1}")
    assert notifier._messages_url == (
        f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    )
    bare = create_notifier(SinkSpec.parse(f"sms+twilio://{SID}:{TOKEN}@?from={FROM}&to={TO1}"))
    assert bare._account_url == f"https://api.twilio.com/2010-04-01/Accounts/{SID}.json"


def test_percent_encoded_plus_is_accepted() -> None:
    notifier = _notifier(f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from=%2B15550001111&to={TO1}")
    assert notifier._sender == FROM


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        (f"from={FROM}&to=+1555", "'+1555'"),
        (f"from={FROM}&to={TO1},15550002222", "'15550002222'"),
        (f"from={FROM}&to=+1555000222a", "'+1555000222a'"),
        (f"from=+1234567890123456&to={TO1}", "'+1234567890123456'"),
    ],
)
def test_bad_number_is_a_config_error_naming_it(query: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"E\.164") as info:
        notifier_from_url(f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?{query}")
    assert bad in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (f"sms+twilio://{SID}@api.twilio.com?from={FROM}&to={TO1}", "ACCOUNT_SID:TOKEN"),
        (f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?to={TO1}", "from= is required"),
        (f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}", "to= is required"),
        (f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={TO1}&x=1", "unknown"),
        (
            f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={TO1}"
            f"&base_url=http://gateway.example.com",
            "unencrypted",
        ),
        (
            f"sms+twilio://{SID}:{TOKEN}@api.twilio.com?from={FROM}&to={TO1}"
            f"&base_url=ftp://127.0.0.1",
            "base_url",
        ),
        (f"sms+twilio://AC%2F..:{TOKEN}@api.twilio.com?from={FROM}&to={TO1}", "letters"),
    ],
)
def test_bad_urls_are_config_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        notifier_from_url(url)
    assert TOKEN not in str(info.value)
