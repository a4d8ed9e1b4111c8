"""Chat webhook notifier: ``webhook+https://hooks.example.com/path`` (Slack-compatible JSON).

Each alert is one POST of::

    {"text": "<alert text>", "bulletproof": {"rule": ..., "key": ..., "count": ...,
     "suppressed": ..., "digest": ..., "severity": ..., "event_id": ..., ...}}

``text`` starts with the alert's subject line, then the alert's detail lines. ``&``, ``<`` and
``>`` are escaped as Slack asks, so an attacker-chosen user name such as ``<!channel>`` cannot
turn into a mention or a link. The rest of the URL (``https://...``, query string included) is
the target as written. Options beside the URL: ``headers``, ``timeout`` (default 10),
``ca`` (PEM bundle for https). A user and password in the URL are sent as HTTP basic auth.

Added in 0.1.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from bulletproof.errors import ConfigError, SinkError
from bulletproof.events.model import _format_timestamp
from bulletproof.sinks import _http
from bulletproof.sinks.base import SinkSpec, mask_url

if TYPE_CHECKING:
    from bulletproof.events.alerts import Alert

__all__ = ["WebhookNotifier", "create_notifier", "payload"]

_ACCEPTED: Final = (
    " Accepted form: webhook+https://hooks.example.com/path (or webhook+http:// for a local "
    "endpoint), with options headers = {...}, timeout = seconds, ca = /path/to/ca.pem."
)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(alert: Alert) -> dict[str, Any]:
    """The JSON object posted for ``alert``. Added in 0.1."""
    subject, text = alert.subject, alert.text
    # Alert.text already starts with the subject line; do not repeat it.
    message = text if text.startswith(subject) else f"{subject}\n{text}"
    return {
        "text": _slack_escape(message),
        "bulletproof": {
            "rule": alert.rule,
            "key": alert.key,
            "count": alert.count,
            "suppressed": alert.suppressed,
            "digest": alert.digest,
            "severity": alert.severity.value,
            "event_id": alert.event.id,
            "action": alert.event.action,
            "category": alert.event.category.value,
            "first_seen": _format_timestamp(alert.first_seen),
            "last_seen": _format_timestamp(alert.last_seen),
        },
    }


class WebhookNotifier:
    """POSTs one Slack-compatible JSON message per alert. Added in 0.1."""

    def __init__(
        self,
        spec: SinkSpec,
        target: _http.Target,
        headers: Mapping[str, str],
        timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._spec = spec
        self._target = target
        self._headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        self._timeout = timeout
        self._ssl = ssl_context

    @property
    def name(self) -> str:
        """The URL with its password and its path (where webhook secrets live) masked."""
        return mask_url(self._spec.url, hide_path=True)

    def notify(self, alert: Alert) -> None:
        """POST the alert; raise SinkError unless the answer is 2xx."""
        body = json.dumps(payload(alert), ensure_ascii=False).encode("utf-8")
        resp = _http.post(
            self._target.url,
            body,
            self._headers,
            timeout=self._timeout,
            ssl_context=self._ssl,
            auth=self._target.auth,
            label=self.name,
        )
        if 200 <= resp.status < 300:
            return
        snippet = _http.one_line(resp.body.decode("utf-8", "replace"), 200)
        snippet = _http.scrub(snippet, [self._target.auth[1] if self._target.auth else None])
        raise SinkError(
            f"{self.name}: the webhook answered HTTP {resp.status}"
            f"{': ' + snippet if snippet else ''}. Check the webhook URL and headers."
        )

    def probe(self) -> str:
        """Connect to host:port (and do the TLS handshake for https); nothing is posted."""
        return _http.connect_probe(
            self._target.host,
            self._target.port,
            timeout=self._timeout,
            ssl_context=self._ssl,
            label=self.name,
        )

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r})"


def create_notifier(spec: SinkSpec) -> WebhookNotifier:
    """Build a :class:`WebhookNotifier` from a ``webhook+http(s)://`` spec.

    Added in 0.1.
    """
    if spec.scheme not in ("webhook+http", "webhook+https"):
        raise ConfigError(f"notifier URL {spec.name!r}: not a webhook URL.{_ACCEPTED}")
    inner = spec.scheme.removeprefix("webhook+")
    ep = _http.endpoint(spec, inner, _ACCEPTED)
    return WebhookNotifier(spec, ep.target, ep.headers, ep.timeout, ep.ssl_context)
