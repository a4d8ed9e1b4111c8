"""Send events to Logstash as JSON lines over TCP or TLS.

URL forms::

    logstash://logstash.internal:5000
    logstash+tls://logstash.internal:5000?ca=/etc/bulletproof/logstash-ca.pem

On the Logstash side, use the ``tcp`` input with the ``json_lines`` codec (add ``ssl_enabled =>
true`` and a certificate for ``logstash+tls``)::

    input { tcp { port => 5000 codec => json_lines } }

Query parameters:

``timeout``
    seconds for connecting, the TLS handshake and each send (default 10).
``ca``
    path of a PEM bundle with the CA that signed Logstash's certificate (``logstash+tls`` only;
    relative paths are resolved against the directory of the config file). Without it the system
    CAs are used. The host name in the URL must match the certificate (SNI is sent).
``verify``
    ``true`` (default). **``verify=false`` turns off every certificate check: anyone who can
    reach the network path can then impersonate Logstash, read every event (IP addresses, user
    names) and change or drop them. Use it only against a throwaway test receiver, never in
    production; give ``ca=`` instead.**
``replay_bytes``
    how many bytes the receiver's kernel may hold unread (default 8 MiB); see
    :mod:`bulletproof.sinks._stream` for how delivery is confirmed.

Each event is one line: the JSON object followed by ``\\n``. One ``sendall`` per batch.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.sinks._stream import DEFAULT_REPLAY_BYTES, StreamConnection
from bulletproof.sinks.base import SinkSpec

__all__ = ["LogstashSink", "create", "frame_line"]

_ACCEPTED: Final = (
    " Accepted forms: logstash://host:port, logstash+tls://host:port?ca=/path/to/ca.pem "
    "(parameters: timeout, ca, verify, replay_bytes)."
)
_PARAMS: Final = frozenset({"timeout", "ca", "verify", "replay_bytes"})
_TLS_ONLY: Final = ("ca", "verify")


def frame_line(line: bytes) -> bytes:
    r"""One JSON line, newline-terminated; a raw CR, LF or NUL inside becomes its JSON escape.

    >>> frame_line(b'{"a":"x\ny"}')
    b'{"a":"x\\ny"}\n'

    Added in 0.1.
    """
    if b"\n" in line or b"\r" in line or b"\0" in line:
        line = line.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\0", b"\\u0000")
    return line + b"\n"


class LogstashSink:
    """JSON lines to a Logstash ``tcp`` input, plain or TLS, with delivery accounting.

    ``unconfirmed()`` reports the lines Logstash may not have read yet (see
    :class:`~bulletproof.sinks._stream.StreamConnection`); it raises SinkError when the connection
    is down.

    Added in 0.1.
    """

    def __init__(self, spec: SinkSpec, *, clock: Clock = system_clock) -> None:
        spec.check_query(set(_PARAMS), _ACCEPTED)
        self._spec = spec
        self._host, self._port = spec.require_host_port(_ACCEPTED)
        self._tls_on = spec.scheme == "logstash+tls"
        if not self._tls_on:
            for key in _TLS_ONLY:
                if key in spec.query:
                    raise ConfigError(
                        f"sink URL {spec.name!r}: {key}= only applies to logstash+tls://; use "
                        f"logstash+tls://{self._host}:{self._port} or drop {key}=.{_ACCEPTED}"
                    )
        timeout = spec.timeout(_ACCEPTED)
        replay = spec.whole("replay_bytes", DEFAULT_REPLAY_BYTES, 0, 1 << 34, _ACCEPTED)
        self._verify = spec.flag("verify", True, _ACCEPTED)
        self._tls = (
            spec.tls_context(verify=self._verify, accepted=_ACCEPTED) if self._tls_on else None
        )
        self._timeout = timeout
        self._conn = StreamConnection(
            self._host,
            self._port,
            tls=self._tls,
            server_hostname=self._host,
            timeout=timeout,
            replay_bytes=replay,
            clock=clock,
            label=spec.name,
        )

    @property
    def name(self) -> str:
        """The URL (no secrets in it)."""
        return self._spec.name

    def open(self) -> None:
        """Connect (and handshake); raise SinkUnavailableError naming host:port if it fails."""
        self._conn.connect()

    def send(self, lines: Sequence[bytes]) -> None:
        """Send the batch as JSON lines with one sendall; raise SinkError on failure."""
        if not lines:
            return
        self._conn.send(b"".join(frame_line(line) for line in lines), len(lines))

    def unconfirmed(self) -> int:
        """How many of the latest lines Logstash may not have read yet."""
        return self._conn.unconfirmed()

    def close(self) -> None:
        """Close the connection. Never raises."""
        self._conn.close()

    def probe(self) -> str:
        """Connect (and handshake for TLS), then close; say what was checked."""
        probe = StreamConnection(
            self._host,
            self._port,
            tls=self._tls,
            server_hostname=self._host,
            timeout=self._timeout,
            label=self._spec.name,
        )
        probe.connect()
        probe.close()
        where = probe.address
        if self._tls_on:
            checked = "certificate checked" if self._verify else "certificate NOT checked"
            return f"TLS handshake with {where} ok ({checked})"
        return f"TCP connect to {where} ok"


def create(spec: SinkSpec, *, clock: Clock = system_clock) -> LogstashSink:
    """Build the sink for a ``logstash://`` or ``logstash+tls://`` URL. Added in 0.1."""
    if spec.scheme not in ("logstash", "logstash+tls"):
        raise ConfigError(f"sink URL {spec.name!r} is not a logstash URL.{_ACCEPTED}")
    return LogstashSink(spec, clock=clock)
