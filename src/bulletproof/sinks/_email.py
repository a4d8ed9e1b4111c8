"""Email notifier: ``smtp://user:${PASSWORD}@host:587?from=..&to=a@x,b@y`` and ``smtps://...:465``.

``smtp://`` upgrades with STARTTLS and refuses to send credentials or mail when the server does not
offer it; ``tls=none`` turns TLS off for a local relay (and then no credentials are allowed, so a
password never crosses the network in clear text). ``smtps://`` is TLS from the first byte.

Query parameters: ``from`` (required), ``to`` (required, comma-separated), ``tls`` (``starttls``,
the default for smtp, or ``none``), ``ca`` (PEM bundle to trust), ``timeout`` (seconds, default 10).
The user name and password come from the URL (percent-decoded).

Each alert is one message: Subject is the alert's subject on one line, the body is the alert's
text, with ``Auto-Submitted: auto-generated`` so auto-responders stay quiet.

Added in 0.1.
"""

from __future__ import annotations

import email.policy
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Final

from bulletproof._text import one_line
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks import _http
from bulletproof.sinks.base import SinkSpec

if TYPE_CHECKING:
    from bulletproof.events.alerts import Alert

__all__ = ["EmailNotifier", "build_message", "create_notifier"]

_ACCEPTED: Final = (
    " Accepted forms: smtp://user:${SMTP_PASSWORD}@host:587?from=alerts@example.com"
    "&to=a@example.com,b@example.com (STARTTLS; tls=none only for a local relay without "
    "credentials), smtps://user:${SMTP_PASSWORD}@host:465?from=...&to=... (TLS)."
)
_QUERY: Final = {"from", "to", "tls", "ca", "timeout"}
_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_MAX_RECIPIENTS: Final = 100
# RFC 5322 allows 998-character lines: no folding of the Subject onto a continuation line.
_POLICY: Final = email.policy.default.clone(max_line_length=998)


def _check_address(address: str, what: str, label: str) -> str:
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise ConfigError(
            f"{label}: {what} address {address!r} is not a valid email address "
            f"(like alerts@example.com).{_ACCEPTED}"
        )
    return address


def build_message(
    alert: Alert, sender: str, recipients: list[str], clock: Clock = system_clock
) -> EmailMessage:
    """The message sent for ``alert``; control characters never reach a header.

    Added in 0.1.
    """
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = one_line(alert.subject)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(clock.time(), usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    body = alert.text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    msg.set_content(body)
    return msg


class EmailNotifier:
    """Sends one email per alert through an SMTP submission server. Added in 0.1."""

    def __init__(
        self,
        spec: SinkSpec,
        *,
        host: str,
        port: int,
        implicit_tls: bool,
        starttls: bool,
        user: str | None,
        password: str | None,
        sender: str,
        recipients: list[str],
        timeout: float,
        ssl_context: ssl.SSLContext | None,
        clock: Clock = system_clock,
    ) -> None:
        self._spec = spec
        self._host = host
        self._port = port
        self._implicit_tls = implicit_tls
        self._starttls = starttls
        self._user = user
        self._password = password
        self._sender = sender
        self._recipients = recipients
        self._timeout = timeout
        self._ssl = ssl_context
        self._clock = clock
        self._local_hostname = _local_hostname()

    @property
    def name(self) -> str:
        """The URL with the password masked."""
        return self._spec.name

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    def _clean(self, text: str) -> str:
        return _http.scrub(_http.one_line(text, 300), [self._password])

    def _reply(self, exc: smtplib.SMTPResponseException) -> str:
        raw = exc.smtp_error
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return f"{exc.smtp_code} {self._clean(text)}".strip()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self._implicit_tls:
                return smtplib.SMTP_SSL(
                    self._host,
                    self._port,
                    local_hostname=self._local_hostname,
                    timeout=self._timeout,
                    context=self._ssl,
                )
            return smtplib.SMTP(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
            )
        except smtplib.SMTPConnectError as exc:
            raise SinkUnavailableError(
                f"{self.name}: SMTP server {self._where} refused the session ({self._reply(exc)})."
            ) from None
        except smtplib.SMTPServerDisconnected:
            raise SinkUnavailableError(
                f"{self.name}: SMTP server {self._where} closed the connection before greeting. "
                f"Check the port (587 for smtp://, 465 for smtps://)."
            ) from None
        except OSError as exc:
            raise _http.connect_error(
                exc, self.name, self._host, self._port, self._timeout
            ) from None

    @contextmanager
    def _session(self, steps: list[str]) -> Iterator[smtplib.SMTP]:
        """Connect, EHLO, TLS, login; yield the session; QUIT. Errors become SinkErrors."""
        smtp = self._connect()
        steps.append(f"connected to {self._where}")
        if self._implicit_tls:
            steps.append("TLS (certificate verified)")
        try:
            try:
                smtp.ehlo()
                if self._starttls:
                    if not smtp.has_extn("starttls"):
                        raise SinkError(
                            f"{self.name}: SMTP server {self._where} does not offer STARTTLS, so "
                            f"bulletproof refuses to send credentials or mail in clear text. "
                            f"Enable STARTTLS on the server, use smtps:// (port 465), or add "
                            f"tls=none for a local relay that needs no password."
                        )
                    try:
                        smtp.starttls(context=self._ssl)
                    except ssl.SSLError as exc:
                        raise _http.connect_error(
                            exc, self.name, self._host, self._port, self._timeout
                        ) from None
                    smtp.ehlo()
                    steps.append("STARTTLS (certificate verified)")
                elif not self._implicit_tls:
                    steps.append("no TLS (tls=none)")
                if self._user is not None:
                    try:
                        smtp.login(self._user, self._password or "")
                    except smtplib.SMTPAuthenticationError as exc:
                        raise SinkError(
                            f"SMTP server {self._where} rejected the login for user "
                            f"{self._user!r} ({self._reply(exc)}). Check the user name and the "
                            f"password in the environment variable ({self.name})."
                        ) from None
                    except smtplib.SMTPNotSupportedError:
                        raise SinkError(
                            f"{self.name}: SMTP server {self._where} does not offer AUTH; remove "
                            f"the user and password from the URL, or use the submission port."
                        ) from None
                    steps.append(f"login as {self._user!r} accepted")
                yield smtp
            except smtplib.SMTPRecipientsRefused as exc:
                refused = ", ".join(sorted(exc.recipients))
                raise SinkError(
                    f"{self.name}: SMTP server {self._where} refused every recipient "
                    f"({self._clean(refused)}). Check the to= addresses."
                ) from None
            except smtplib.SMTPSenderRefused as exc:
                raise SinkError(
                    f"{self.name}: SMTP server {self._where} refused the sender "
                    f"{self._sender!r} ({self._reply(exc)}). Check from= and that the user may "
                    f"send as that address."
                ) from None
            except smtplib.SMTPResponseException as exc:
                raise SinkError(
                    f"{self.name}: SMTP server {self._where} answered {self._reply(exc)}."
                ) from None
            except smtplib.SMTPServerDisconnected as exc:
                raise SinkError(
                    f"{self.name}: SMTP server {self._where} closed the connection "
                    f"({self._clean(str(exc))})."
                ) from None
            except smtplib.SMTPException as exc:
                raise SinkError(
                    f"{self.name}: SMTP with {self._where} failed ({self._clean(str(exc))})."
                ) from None
            except TimeoutError:
                raise SinkError(
                    f"{self.name}: SMTP server {self._where} stopped answering for "
                    f"{self._timeout:g} s."
                ) from None
            except OSError as exc:
                raise SinkError(
                    f"{self.name}: SMTP with {self._where} failed "
                    f"({self._clean(exc.strerror or str(exc))})."
                ) from None
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        finally:
            smtp.close()

    def notify(self, alert: Alert) -> None:
        """Send one email for ``alert``; raise SinkError (never showing the password)."""
        msg = build_message(alert, self._sender, self._recipients, self._clock)
        with self._session([]) as smtp:
            # Recipients refused one by one are not retried: the others already have the mail.
            smtp.send_message(msg, self._sender, self._recipients)

    def probe(self) -> str:
        """Connect, EHLO, TLS, login if configured, QUIT; no mail is sent."""
        steps: list[str] = []
        with self._session(steps):
            pass
        return ", ".join(steps) + "; no mail sent"

    def __repr__(self) -> str:
        return f"EmailNotifier({self.name!r})"


def _local_hostname() -> str:
    # smtplib would call socket.getfqdn(), which can block on reverse DNS for seconds.
    name = socket.gethostname()
    return name if name and re.fullmatch(r"[A-Za-z0-9.\-]+", name) else "localhost"


def create_notifier(spec: SinkSpec, *, clock: Clock = system_clock) -> EmailNotifier:
    """Build an :class:`EmailNotifier` from an ``smtp://`` or ``smtps://`` spec.

    Raises ConfigError naming the URL for a missing or bad address, an unknown parameter, or
    credentials that would travel without TLS.

    Added in 0.1.
    """
    if spec.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"notifier URL {spec.name!r}: not an smtp URL.{_ACCEPTED}")
    spec.check_query(_QUERY, _ACCEPTED)
    query = spec.query
    implicit = spec.scheme == "smtps"
    host, port = spec.require_host_port(_ACCEPTED, default_port=465 if implicit else 587)

    sender = query.get("from", "").strip()
    if not sender:
        raise ConfigError(f"{spec.name}: from= is required (the sender address).{_ACCEPTED}")
    _check_address(sender, "from", spec.name)
    recipients = [a.strip() for a in query.get("to", "").split(",") if a.strip()]
    if not recipients:
        raise ConfigError(
            f"{spec.name}: to= is required (one or more comma-separated addresses).{_ACCEPTED}"
        )
    if len(recipients) > _MAX_RECIPIENTS:
        raise ConfigError(f"{spec.name}: at most {_MAX_RECIPIENTS} to= addresses are allowed.")
    for address in recipients:
        _check_address(address, "to", spec.name)

    tls = query.get("tls", "").strip().lower()
    if implicit and tls:
        raise ConfigError(
            f"{spec.name}: smtps:// is always TLS; remove tls= (or use smtp:// with "
            f"tls=starttls or tls=none).{_ACCEPTED}"
        )
    if tls not in ("", "starttls", "none"):
        raise ConfigError(
            f"{spec.name}: tls={tls!r} is not known; use tls=starttls (the default) or tls=none."
        )
    starttls = not implicit and tls != "none"

    user, password = _http.userinfo(spec)
    if password is not None and not user:
        raise ConfigError(f"{spec.name}: a password needs a user name (smtp://user:pass@host).")
    if user is not None and password is None:
        raise ConfigError(
            f"{spec.name}: user {user!r} has no password; write "
            f"smtp://{user}:${{SMTP_PASSWORD}}@host with the password in the environment."
        )
    if tls == "none" and user is not None:
        raise ConfigError(
            f"{spec.name}: tls=none with a user and password would send the password in clear "
            f"text; use STARTTLS (drop tls=none) or smtps://, or drop the credentials for a "
            f"local relay."
        )
    for part in (user, password):
        if part is not None and any(c in part for c in "\r\n\x00"):
            raise ConfigError(f"{spec.name}: the user name or password has a CR, LF or NUL.")
    if tls == "none" and query.get("ca"):
        raise ConfigError(f"{spec.name}: ca= has no effect with tls=none; remove one of them.")

    timeout = spec.timeout(_ACCEPTED)
    context = spec.tls_context(accepted=_ACCEPTED) if (implicit or starttls) else None
    return EmailNotifier(
        spec,
        host=host,
        port=port,
        implicit_tls=implicit,
        starttls=starttls,
        user=user,
        password=password,
        sender=sender,
        recipients=recipients,
        timeout=timeout,
        ssl_context=context,
        clock=clock,
    )
