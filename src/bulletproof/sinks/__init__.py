"""Sinks and notifiers, chosen by URL scheme.

>>> sink = sink_from_url("stdout:")
>>> sink.name
'stdout:'

Added in 0.1.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from bulletproof._text import did_you_mean
from bulletproof.errors import ConfigError
from bulletproof.events.base import Notifier, Sink
from bulletproof.sinks.base import SinkSpec, mask_url

__all__ = [
    "NOTIFIER_SCHEMES",
    "SINK_SCHEMES",
    "SinkSpec",
    "mask_url",
    "notifier_from_url",
    "sink_from_url",
]

SINK_SCHEMES: Final[Mapping[str, str]] = {
    "file": "bulletproof.sinks._file",
    "stdout": "bulletproof.sinks._file",
    "syslog+udp": "bulletproof.sinks._syslog",
    "syslog+tcp": "bulletproof.sinks._syslog",
    "syslog+tls": "bulletproof.sinks._syslog",
    "logstash": "bulletproof.sinks._logstash",
    "logstash+tls": "bulletproof.sinks._logstash",
    "http": "bulletproof.sinks._http_sink",
    "https": "bulletproof.sinks._http_sink",
}

NOTIFIER_SCHEMES: Final[Mapping[str, str]] = {
    "smtp": "bulletproof.sinks._email",
    "smtps": "bulletproof.sinks._email",
    "sms+twilio": "bulletproof.sinks._sms",
    "webhook+http": "bulletproof.sinks._webhook",
    "webhook+https": "bulletproof.sinks._webhook",
}

_SINK_FORMS: Final = (
    " Accepted forms: file:///abs/path.jsonl or file:relative/path.jsonl, stdout:, "
    "syslog+udp://host:port, syslog+tcp://host:port, syslog+tls://host:port, "
    "logstash://host:port, logstash+tls://host:port, http(s)://host[:port]/path."
)
_NOTIFIER_FORMS: Final = (
    " Accepted forms: smtp://user:${PASSWORD}@host:587?to=a@example.com&from=b@example.com "
    "(STARTTLS), smtps://...:465 (TLS), sms+twilio://ACCOUNT_SID:${TOKEN}@api.twilio.com"
    "?from=+15550001111&to=+15550002222, webhook+https://hooks.example.com/path."
)


def _scheme_of(url: str) -> str:
    head, sep, _ = url.partition(":")
    return head.lower() if sep else ""


def sink_from_url(
    url: str, *, options: Mapping[str, Any] | None = None, base_dir: Path | None = None
) -> Sink:
    """Build the sink for ``url``. Raises ConfigError naming the URL and the accepted forms.

    Added in 0.1.
    """
    scheme = _scheme_of(url)
    module_name = SINK_SCHEMES.get(scheme)
    if module_name is None:
        hint = did_you_mean(scheme, SINK_SCHEMES) if scheme else ""
        raise ConfigError(
            f"sink URL {mask_url(url)!r}: unknown scheme {scheme!r}.{hint}{_SINK_FORMS}"
        )
    spec = SinkSpec.parse(url, options=options, base_dir=base_dir, accepted=_SINK_FORMS)
    module = importlib.import_module(module_name)
    sink: Sink = module.create(spec)
    return sink


def notifier_from_url(
    url: str, *, options: Mapping[str, Any] | None = None, base_dir: Path | None = None
) -> Notifier:
    """Build the notifier for ``url``. Raises ConfigError naming the URL and the accepted forms.

    Added in 0.1.
    """
    scheme = _scheme_of(url)
    module_name = NOTIFIER_SCHEMES.get(scheme)
    if module_name is None:
        hint = did_you_mean(scheme, NOTIFIER_SCHEMES) if scheme else ""
        raise ConfigError(
            f"notifier URL {mask_url(url)!r}: unknown scheme {scheme!r}.{hint}{_NOTIFIER_FORMS}"
        )
    spec = SinkSpec.parse(url, options=options, base_dir=base_dir, accepted=_NOTIFIER_FORMS)
    module = importlib.import_module(module_name)
    notifier: Notifier = module.create_notifier(spec)
    return notifier
