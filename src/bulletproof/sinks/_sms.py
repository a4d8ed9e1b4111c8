"""SMS notifier through the Twilio REST API.

``sms+twilio://ACCOUNT_SID:${TWILIO_TOKEN}@api.twilio.com?from=+15550001111&to=+15550002222,+1555...``

For each recipient: ``POST {base}/2010-04-01/Accounts/{SID}/Messages.json`` with the form fields
``To``, ``From`` and ``Body`` (the alert's subject, then as much of its text as fits in 1600
characters), authenticated with HTTP basic auth ``SID:TOKEN``. ``base`` is ``https://{host}``
(``api.twilio.com`` when the URL has no host); query ``base_url=`` points at a Twilio-compatible
gateway (plain ``http://`` only on a loopback address, since the token travels with each request).

Query parameters: ``from`` (required), ``to`` (required, comma-separated), ``base_url``, ``ca``,
``timeout`` (seconds, default 10). Numbers are E.164: ``+`` then 8 to 15 digits. In the URL a ``+``
means a plus sign.

A retry of the same alert skips the recipients that already got it.

Added in 0.1.
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
from collections import OrderedDict
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlencode, urlsplit

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks import _http
from bulletproof.sinks.base import SinkSpec

if TYPE_CHECKING:
    from bulletproof.events.alerts import Alert

__all__ = ["MAX_BODY_CHARS", "SmsNotifier", "create_notifier", "sms_body"]

MAX_BODY_CHARS: Final = 1600
"""Twilio's limit for one message body. Added in 0.1."""

_ACCEPTED: Final = (
    " Accepted form: sms+twilio://ACCOUNT_SID:${TWILIO_AUTH_TOKEN}@api.twilio.com"
    "?from=+15550001111&to=+15550002222,+15550003333 (optional base_url=, ca=, timeout=)."
)
_QUERY: Final = {"from", "to", "base_url", "ca", "timeout"}
_E164: Final = re.compile(r"\+[0-9]{8,15}")
_SID: Final = re.compile(r"[A-Za-z0-9]{2,64}")
_MAX_RECIPIENTS: Final = 50
_REMEMBERED_ALERTS: Final = 256


def sms_body(alert: Alert, limit: int = MAX_BODY_CHARS) -> str:
    """The alert's subject, then as much of its detail lines as fits in ``limit`` characters.

    Added in 0.1.
    """
    subject, text = alert.subject, alert.text
    rest = text[len(subject) :].lstrip("\n") if text.startswith(subject) else text
    body = subject if not rest else f"{subject}\n{rest}"
    return body[:limit]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error_detail(body: bytes) -> str:
    """Twilio's ``message`` (and ``code``) from a JSON error body, else the body's start."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return _http.one_line(text.strip(), 200)
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        code = doc.get("code")
        suffix = f" (Twilio error {code})" if isinstance(code, int | str) and code else ""
        return _http.one_line(doc["message"], 200) + suffix
    return _http.one_line(text.strip(), 200)


class _CredentialsRejectedError(SinkError):
    """HTTP 401: no other recipient will work either."""


class SmsNotifier:
    """Sends each alert as one SMS to every recipient. Added in 0.1."""

    def __init__(
        self,
        spec: SinkSpec,
        *,
        base: str,
        sid: str,
        token: str,
        sender: str,
        recipients: list[str],
        timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._spec = spec
        self._base = base
        self._sid = sid
        self._auth = (sid, token)
        self._sender = sender
        self._recipients = recipients
        self._timeout = timeout
        self._ssl = ssl_context
        account = f"{base}/2010-04-01/Accounts/{quote(sid, safe='')}"
        self._messages_url = f"{account}/Messages.json"
        self._account_url = f"{account}.json"
        # alert identity -> recipients that already have it (so a retry does not repeat them)
        self._delivered: OrderedDict[tuple[object, ...], set[str]] = OrderedDict()

    @property
    def name(self) -> str:
        """The URL with the token masked."""
        return self._spec.name

    def _clean(self, text: str) -> str:
        return _http.scrub(text, [self._auth[1]])

    def _send_one(self, to: str, body: str) -> None:
        form = urlencode({"To": to, "From": self._sender, "Body": body}).encode("ascii")
        resp = _http.post(
            self._messages_url,
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            timeout=self._timeout,
            ssl_context=self._ssl,
            auth=self._auth,
            label=self.name,
        )
        if resp.status in (200, 201):
            return
        detail = self._clean(_error_detail(resp.body))
        if resp.status == 401:
            raise _CredentialsRejectedError(
                f"{self.name}: Twilio rejected the account SID {self._sid!r} and its auth token "
                f"(HTTP 401{': ' + detail if detail else ''}). Check the SID and the token in the "
                f"environment variable."
            )
        raise SinkError(
            f"{self.name}: Twilio answered HTTP {resp.status} for {to}"
            f"{': ' + detail if detail else ''}."
        )

    def notify(self, alert: Alert) -> None:
        """Send the alert to every recipient not yet served; raise SinkError if any failed."""
        key: tuple[object, ...] = (
            alert.rule,
            alert.key,
            alert.event.id,
            alert.count,
            alert.digest,
            alert.last_seen,
        )
        done = self._delivered.get(key)
        if done is None:
            done = set()
            self._delivered[key] = done
            while len(self._delivered) > _REMEMBERED_ALERTS:
                self._delivered.popitem(last=False)
        body = sms_body(alert)
        failures: list[SinkError] = []
        for to in self._recipients:
            if to in done:
                continue
            try:
                self._send_one(to, body)
            except (SinkUnavailableError, _CredentialsRejectedError):
                raise  # no other recipient would work either
            except SinkError as exc:
                failures.append(exc)
                continue
            done.add(to)
        if failures:
            more = f" ({len(failures)} of {len(self._recipients)} recipients failed)"
            raise SinkError(f"{failures[0]}{more if len(self._recipients) > 1 else ''}")

    def probe(self) -> str:
        """GET the account resource with the credentials; no message is sent."""
        resp = _http.get(
            self._account_url,
            {"Accept": "application/json"},
            timeout=self._timeout,
            ssl_context=self._ssl,
            auth=self._auth,
            label=self.name,
        )
        if resp.status == 200:
            return f"{self._base}: account {self._sid!r} credentials accepted; no message sent"
        detail = self._clean(_error_detail(resp.body))
        if resp.status == 401:
            raise SinkError(
                f"{self.name}: Twilio rejected the credentials of account {self._sid!r} "
                f"(HTTP 401). Check the SID and the token in the environment variable."
            )
        raise SinkError(
            f"{self.name}: checking account {self._sid!r} answered HTTP {resp.status}"
            f"{': ' + detail if detail else ''}."
        )

    def __repr__(self) -> str:
        return f"SmsNotifier({self.name!r})"


def _check_number(number: str, what: str, label: str) -> str:
    if not _E164.fullmatch(number):
        raise ConfigError(
            f"{label}: {what} number {number!r} is not in E.164 form (+ then 8 to 15 digits, "
            f"like +15550001111). In a URL write it as +15550001111 or %2B15550001111."
            f"{_ACCEPTED}"
        )
    return number


def _base_url(spec: SinkSpec, value: str | None) -> tuple[str, str]:
    """``(base, scheme)`` without a trailing slash."""
    if not value:
        host = spec.host or "api.twilio.com"
        netloc = f"[{host}]" if ":" in host else host
        if spec.port is not None:
            netloc = f"{netloc}:{spec.port}"
        return f"https://{netloc}", "https"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        port, parts = None, urlsplit("")
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if (
        scheme not in ("http", "https")
        or not host
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(c in value for c in " \t\r\n\x00")
    ):
        raise ConfigError(
            f"{spec.name}: base_url={value!r} must be http(s)://host[:port][/path] without "
            f"credentials or query.{_ACCEPTED}"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"{spec.name}: base_url={value!r} would send the auth token unencrypted; use "
            f"https:// (plain http:// is allowed only for 127.0.0.1, ::1 or localhost)."
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}", scheme


def create_notifier(spec: SinkSpec) -> SmsNotifier:
    """Build an :class:`SmsNotifier` from an ``sms+twilio://`` spec.

    Raises ConfigError naming the URL for missing credentials, a bad phone number or base URL.

    Added in 0.1.
    """
    if spec.scheme != "sms+twilio":
        raise ConfigError(f"notifier URL {spec.name!r}: not an sms+twilio URL.{_ACCEPTED}")
    spec.check_query(_QUERY, _ACCEPTED)
    query = spec.query
    sid, token = _http.userinfo(spec)
    if not sid or not token:
        raise ConfigError(
            f"{spec.name}: needs the account SID and auth token as ACCOUNT_SID:TOKEN@ in the "
            f"URL (put the token in an environment variable).{_ACCEPTED}"
        )
    if not _SID.fullmatch(sid):
        raise ConfigError(f"{spec.name}: account SID {sid!r} must be letters and digits only.")
    if any(c in token for c in "\r\n\x00"):
        raise ConfigError(f"{spec.name}: the auth token has a CR, LF or NUL character.")

    sender = query.get("from", "").strip()
    if not sender:
        raise ConfigError(f"{spec.name}: from= is required (the sending number).{_ACCEPTED}")
    _check_number(sender, "from", spec.name)
    recipients = [n.strip() for n in query.get("to", "").split(",") if n.strip()]
    if not recipients:
        raise ConfigError(
            f"{spec.name}: to= is required (one or more comma-separated numbers).{_ACCEPTED}"
        )
    if len(recipients) > _MAX_RECIPIENTS:
        raise ConfigError(f"{spec.name}: at most {_MAX_RECIPIENTS} to= numbers are allowed.")
    for number in recipients:
        _check_number(number, "to", spec.name)
    recipients = list(dict.fromkeys(recipients))

    base, scheme = _base_url(spec, query.get("base_url"))
    if scheme == "http" and query.get("ca"):
        raise ConfigError(f"{spec.name}: ca= applies to an https base URL only.")
    timeout = spec.timeout(_ACCEPTED)
    context = spec.tls_context(accepted=_ACCEPTED) if scheme == "https" else None
    return SmsNotifier(
        spec,
        base=base,
        sid=sid,
        token=token,
        sender=sender,
        recipients=recipients,
        timeout=timeout,
        ssl_context=context,
    )
