"""The smtp:// and smtps:// notifier against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.sinks.httpserver import free_port

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.alerts import Alert
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.sinks import SinkSpec, notifier_from_url
from bulletproof.sinks._email import EmailNotifier, create_notifier
from bulletproof.testing import FakeClock

USER = "alerts"
PASSWORD = "c0rrect-h0rse:@%"  # noqa: S105 - a test password with URL-special characters
QUERY = "from=bp@example.com&to=ops@example.com,sec+alerts@example.com"


def _alert(message: str = "5 failed logins") -> Alert:
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        severity=Severity.HIGH,
        message=message,
        source_ip="203.0.113.9",
        timestamp=1_700_000_100.0,
        id="0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
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
        severity=Severity.HIGH,
    )


@dataclass
class Inbox:
    """aiosmtpd handler and authenticator: keeps messages and login attempts."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self.lock:
            self.logins.append((mechanism, login, password))
        ok = login == USER and password == PASSWORD
        # handled=False: aiosmtpd answers "535 Authentication credentials invalid" itself
        return AuthResult(success=ok, handled=False)

    def parsed(self, index: int = 0) -> EmailMessage:
        msg = email.message_from_bytes(self.messages[index][2], policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: learn the real port before the start-up self-test."""

    def _trigger_server(self) -> None:
        sockets = getattr(self.server, "sockets", None)
        assert sockets, "aiosmtpd did not start listening"
        self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    return Tls(ca_file, server)


SmtpFactory = Callable[..., tuple[Inbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpFactory]:
    """Factory: start aiosmtpd with the given SMTP keyword arguments; returns (inbox, port)."""
    started: list[_Controller] = []

    def start(**kwargs: Any) -> tuple[Inbox, int]:
        inbox = Inbox()
        kwargs.setdefault("authenticator", inbox)
        controller = _Controller(
            inbox, hostname="127.0.0.1", port=0, server_hostname="mx.test", **kwargs
        )
        controller.start()
        started.append(controller)
        return inbox, controller.port

    yield start
    for controller in started:
        controller.stop()


def _notifier(url: str) -> EmailNotifier:
    notifier = notifier_from_url(url)
    assert isinstance(notifier, EmailNotifier)
    return notifier


def _starttls_url(port: int, ca_file: Path, password: str = PASSWORD) -> str:
    return f"smtp://{USER}:{quote(password, safe='')}@127.0.0.1:{port}?{QUERY}&ca={ca_file}"


def test_plain_relay_with_tls_none(smtp_server: SmtpFactory) -> None:
    inbox, port = smtp_server()
    clock = FakeClock(start=1_700_000_200.0)
    notifier = create_notifier(
        SinkSpec.parse(f"smtp://127.0.0.1:{port}?{QUERY}&tls=none"), clock=clock
    )
    alert = _alert()
    notifier.notify(alert)
    ((mail_from, rcpts, _),) = inbox.messages
    assert mail_from == "bp@example.com"
    assert rcpts == ["ops@example.com", "sec+alerts@example.com"]  # '+' stays a plus sign
    msg = inbox.parsed()
    assert msg["Subject"] == alert.subject
    assert msg["From"] == "bp@example.com"
    assert msg["To"] == "ops@example.com, sec+alerts@example.com"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == datetime.fromtimestamp(1_700_000_200.0, UTC)
    assert msg["Message-ID"].endswith("@example.com>")
    body = msg.get_body()
    assert body is not None
    assert isinstance(body, EmailMessage)
    assert body.get_content().splitlines() == alert.text.splitlines()
    assert inbox.logins == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_and_auth(smtp_server: SmtpFactory, tls: Tls, mechanism: str) -> None:
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    inbox, port = smtp_server(
        tls_context=tls.server,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=[other],
    )
    notifier = _notifier(_starttls_url(port, tls.ca_file))
    assert PASSWORD not in notifier.name
    notifier.notify(_alert())
    assert inbox.logins == [(mechanism, USER, PASSWORD)]
    assert len(inbox.messages) == 1
    assert inbox.parsed()["Subject"] == _alert().subject


def test_wrong_password_is_a_sink_error_without_the_password(
    smtp_server: SmtpFactory, tls: Tls
) -> None:
    inbox, port = smtp_server(tls_context=tls.server, require_starttls=True, auth_required=True)
    wrong = "wr0ng-Secret-42"
    notifier = _notifier(_starttls_url(port, tls.ca_file, password=wrong))
    with pytest.raises(SinkError) as info:
        notifier.notify(_alert())
    message = str(info.value)
    assert message.startswith(f"SMTP server 127.0.0.1:{port} rejected the login for user 'alerts'")
    assert wrong not in message
    assert quote(wrong, safe="") not in message
    assert not isinstance(info.value, SinkUnavailableError)
    assert inbox.messages == []
    assert {login[2] for login in inbox.logins} == {wrong}  # it did try, over TLS
    with pytest.raises(SinkError, match="rejected the login"):
        notifier.probe()


def test_no_starttls_offered_refuses_to_send_credentials_or_mail(smtp_server: SmtpFactory) -> None:
    # The server would accept AUTH in clear text: the notifier must not even try.
    inbox, port = smtp_server(auth_require_tls=False)
    notifier = _notifier(f"smtp://{USER}:{PASSWORD.replace('%', '%25')}@127.0.0.1:{port}?{QUERY}")
    with pytest.raises(SinkError, match="does not offer STARTTLS") as info:
        notifier.notify(_alert())
    assert PASSWORD not in str(info.value)
    assert inbox.logins == []
    assert inbox.messages == []
    with pytest.raises(SinkError, match="does not offer STARTTLS"):
        notifier.probe()


def test_no_starttls_offered_refuses_mail_even_without_credentials(
    smtp_server: SmtpFactory,
) -> None:
    inbox, port = smtp_server()
    with pytest.raises(SinkError, match="tls=none"):
        _notifier(f"smtp://127.0.0.1:{port}?{QUERY}").notify(_alert())
    assert inbox.messages == []


def test_subject_with_crlf_cannot_inject_headers(smtp_server: SmtpFactory) -> None:
    inbox, port = smtp_server()
    notifier = _notifier(f"smtp://127.0.0.1:{port}?{QUERY}&tls=none")
    notifier.notify(_alert("hi\r\nBcc: victim@evil.example\nX-Injected: 1\rX-Other: 2\x00"))
    ((_, rcpts, raw),) = inbox.messages
    assert rcpts == ["ops@example.com", "sec+alerts@example.com"]
    msg = inbox.parsed()
    assert msg["Bcc"] is None
    assert msg["X-Injected"] is None
    assert msg["X-Other"] is None
    assert "Bcc: victim@evil.example" in msg["Subject"]
    assert "\n" not in msg["Subject"]
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers
    assert b"\r\nX-Injected:" not in headers
    assert b"\rX-Other" not in headers
    assert b"\x00" not in raw


def test_implicit_tls_smtps(smtp_server: SmtpFactory, tls: Tls) -> None:
    inbox, port = smtp_server(ssl_context=tls.server, auth_require_tls=False)
    url = f"smtps://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}?{QUERY}&ca={tls.ca_file}"
    notifier = _notifier(url)
    notifier.notify(_alert())
    assert inbox.logins == [("PLAIN", USER, PASSWORD)]
    assert len(inbox.messages) == 1
    assert notifier.probe().startswith(f"connected to 127.0.0.1:{port}, TLS (certificate verified)")


def test_untrusted_certificate_is_refused(smtp_server: SmtpFactory, tls: Tls) -> None:
    inbox, port = smtp_server(tls_context=tls.server, require_starttls=True)
    notifier = _notifier(f"smtp://127.0.0.1:{port}?{QUERY}")  # no ca=: system CAs only
    with pytest.raises(SinkUnavailableError, match=r"not trusted.*ca=PATH"):
        notifier.notify(_alert())
    assert inbox.messages == []


def test_probe_verifies_tls_and_login_and_sends_nothing(smtp_server: SmtpFactory, tls: Tls) -> None:
    inbox, port = smtp_server(tls_context=tls.server, require_starttls=True, auth_required=True)
    result = _notifier(_starttls_url(port, tls.ca_file)).probe()
    assert result == (
        f"connected to 127.0.0.1:{port}, STARTTLS (certificate verified), "
        f"login as 'alerts' accepted; no mail sent"
    )
    assert inbox.messages == []
    assert len(inbox.logins) == 1


def test_probe_plain_relay(smtp_server: SmtpFactory) -> None:
    inbox, port = smtp_server()
    result = _notifier(f"smtp://127.0.0.1:{port}?{QUERY}&tls=none").probe()
    assert "no TLS (tls=none)" in result
    assert inbox.messages == []


def test_refused_connection_is_unavailable() -> None:
    port = free_port()
    notifier = _notifier(f"smtp://127.0.0.1:{port}?{QUERY}&tls=none&timeout=2")
    with pytest.raises(SinkUnavailableError, match=rf"127\.0\.0\.1:{port} refused"):
        notifier.notify(_alert())
    with pytest.raises(SinkUnavailableError):
        notifier.probe()


def test_recipient_refused_is_a_sink_error(smtp_server: SmtpFactory) -> None:
    class Picky(Inbox):
        async def handle_RCPT(  # noqa: N802
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            return "550 no such user"

    picky = Picky()
    controller = _Controller(picky, hostname="127.0.0.1", port=0, server_hostname="mx.test")
    controller.start()
    try:
        notifier = _notifier(f"smtp://127.0.0.1:{controller.port}?{QUERY}&tls=none")
        with pytest.raises(SinkError, match="refused every recipient"):
            notifier.notify(_alert())
    finally:
        controller.stop()
    assert picky.messages == []


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("smtp://mail.example.com?to=a@example.com", "from= is required"),
        ("smtp://mail.example.com?from=b@example.com", "to= is required"),
        ("smtp://mail.example.com?from=b@example.com&to=a@example.com,nope", "'nope'"),
        ("smtp://mail.example.com?from=b@@example.com&to=a@example.com", "from address"),
        ("smtp://mail.example.com?from=b@example.com&to=a@example.com&tls=maybe", "tls='maybe'"),
        ("smtp://mail.example.com?from=b@example.com&to=a@example.com&too=1", "unknown param"),
        ("smtps://mail.example.com?from=b@example.com&to=a@example.com&tls=none", "always TLS"),
        ("smtp://u:p@mail.example.com?from=b@example.com&to=a@example.com&tls=none", "clear"),
        ("smtp://u@mail.example.com?from=b@example.com&to=a@example.com", "no password"),
        ("smtp://mail.example.com?from=b@example.com&to=a@example.com&timeout=0", "timeout"),
        ("smtp://?from=b@example.com&to=a@example.com", "needs a host"),
    ],
)
def test_bad_urls_are_config_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        notifier_from_url(url)


def test_config_error_masks_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        notifier_from_url("smtp://u:topsecret@mail.example.com?from=b@example.com&to=x")
    assert "topsecret" not in str(info.value)


def test_default_ports() -> None:
    q = "from=b@example.com&to=a@example.com"
    assert _notifier(f"smtp://mail.example.com?{q}")._port == 587
    assert _notifier(f"smtps://mail.example.com?{q}")._port == 465
