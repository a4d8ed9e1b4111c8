r"""Send events as RFC 5424 syslog messages over UDP, TCP or TLS.

URL forms::

    syslog+udp://loghost:514
    syslog+tcp://loghost:514
    syslog+tls://loghost:6514?ca=/etc/bulletproof/syslog-ca.pem

Papertrail accepts exactly this format over TLS: use the host and port of your log destination,
``syslog+tls://logsN.papertrailapp.com:PORT`` (its certificate is signed by a public CA, so no
``ca=`` is needed).

Each event becomes one message::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [bulletproof@32473 id=".." ...] MSG

``PRI`` is facility * 8 + severity (low: 5 notice, medium: 4 warning, high: 3 error, critical: 2
critical); ``TIMESTAMP`` is the event's ``@timestamp``; ``MSGID`` its ``event.action``; the
structured data element carries ``id``, ``category``, ``action``, ``severity``, ``outcome``,
``srcip`` and ``user`` when present (SD-ID under the documentation enterprise number 32473); MSG is
the event's JSON line (or its human ``message`` with ``msg=text``). A CR, LF or NUL never appears
raw anywhere in a message: JSON escapes them, and in structured data and text messages they become
the visible two characters ``\r``, ``\n``, ``\0``. No BOM is sent.

Over UDP each event is one datagram, truncated to ``max_size`` bytes on a UTF-8 character
boundary. **UDP cannot confirm delivery**: datagrams lost on the way are lost for good, and
``unconfirmed()`` is always 0. Over TCP and TLS messages are framed by octet counting
(``LEN SP MSG``, RFC 6587 3.4.1), one ``sendall`` per batch, and ``unconfirmed()`` reports the
lines the receiver may not have read yet (see :mod:`bulletproof.sinks._stream`).

Query parameters: ``facility`` (``local0`` default .. ``local7``, ``user``, ``daemon``, ``auth``,
``authpriv``, ...), ``app`` (APP-NAME, default ``bulletproof``), ``hostname`` (default: this
machine's name), ``msg`` (``json`` default, or ``text``), ``max_size`` (bytes per message: default
8192 for UDP; for TCP/TLS no limit unless given), ``timeout`` (seconds, default 10; TCP/TLS),
``ca`` (PEM CA bundle for TLS), ``replay_bytes`` (TCP/TLS, default 8 MiB).

Added in 0.1.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bulletproof._text import did_you_mean, one_line
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.model import Severity
from bulletproof.sinks._stream import DEFAULT_REPLAY_BYTES, StreamConnection
from bulletproof.sinks.base import SinkSpec

__all__ = ["FACILITIES", "SD_ID", "SyslogFormat", "SyslogSink", "create", "truncate_utf8"]

_ACCEPTED: Final = (
    " Accepted forms: syslog+udp://host:514, syslog+tcp://host:514, "
    "syslog+tls://host:6514?ca=/path/to/ca.pem (parameters: facility, app, hostname, msg, "
    "max_size, timeout, ca, replay_bytes)."
)
_PARAMS: Final = frozenset(
    {"facility", "app", "hostname", "msg", "max_size", "timeout", "ca", "replay_bytes"}
)
_DEFAULT_PORTS: Final = {"syslog+udp": 514, "syslog+tcp": 514, "syslog+tls": 6514}
_UDP_DEFAULT_MAX: Final = 8192
_UDP_MAX: Final = 65_507
_MIN_SIZE: Final = 480  # RFC 5424 6.1: every receiver accepts this much
_STREAM_MAX: Final = 16 * 1024 * 1024

SD_ID: Final = "bulletproof@32473"
"""The SD-ID of the structured-data element (32473 is the documentation enterprise number).

Added in 0.1.
"""

FACILITIES: Final[Mapping[str, int]] = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "security": 13,
    "console": 14,
    "solaris-cron": 15,
    **{f"local{n}": 16 + n for n in range(8)},
}
"""Facility names accepted by ``?facility=`` and their numbers. Added in 0.1."""

_TIMESTAMP: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})", re.ASCII
)
_SD_MAX_VALUE: Final = 512
_SD_FIELDS: Final = (
    ("id", ("event", "id")),
    ("category", ("bulletproof", "category")),
    ("action", ("event", "action")),
    ("severity", ("bulletproof", "severity")),
    ("outcome", ("event", "outcome")),
    ("srcip", ("source", "ip")),
    ("user", ("user", "name")),
)
_SD_SPECIAL: Final = str.maketrans({'"': '\\"', "\\": "\\\\", "]": "\\]"})


def _text(value: str) -> str:
    """``value`` with every unsafe character replaced by its visible escape."""
    return one_line(value)


def _sd_value(value: str) -> str:
    """PARAM-VALUE escaping (RFC 5424 6.3.3) of the neutralized value.

    An escape like ``\\r`` is written with its backslash escaped, so a parser that undoes the
    RFC 5424 escaping reads the two characters backslash and r.
    """
    if len(value) > _SD_MAX_VALUE:
        value = value[:_SD_MAX_VALUE] + "..."
    return one_line(value).translate(_SD_SPECIAL)


def _header_field(value: str, limit: int) -> str:
    """Printable US-ASCII without spaces, at most ``limit`` characters, ``-`` when empty."""
    cleaned = "".join(ch for ch in value if "!" <= ch <= "~")[:limit]
    return cleaned or "-"


def _valid_header(value: str, limit: int) -> bool:
    return 0 < len(value) <= limit and all("!" <= ch <= "~" for ch in value)


def _lookup(doc: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if isinstance(node, bool) or node is None:
        return None
    if isinstance(node, str | int | float):
        return str(node)
    return None


def _severity(doc: Mapping[str, Any] | None) -> int:
    if doc is None:
        return Severity.LOW.syslog
    name = _lookup(doc, ("bulletproof", "severity"))
    if name is not None:
        try:
            return Severity(name).syslog
        except ValueError:
            pass
    number = _lookup(doc, ("event", "severity"))
    if number is not None:
        try:
            return Severity.from_ecs(int(float(number))).syslog
        except (ValueError, OverflowError):
            pass
    return Severity.LOW.syslog


def truncate_utf8(data: bytes, limit: int) -> bytes:
    """The longest prefix of ``data`` of at most ``limit`` bytes that does not split a character.

    >>> truncate_utf8("aé".encode(), 2)
    b'a'

    Added in 0.1.
    """
    if len(data) <= limit:
        return data
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return data[:cut]


class SyslogFormat:
    """Turns one ECS JSON line into one RFC 5424 message (bytes, no framing, no BOM).

    >>> fmt = SyslogFormat(facility=16, hostname="web1", app="bulletproof", procid="42")
    >>> line = (b'{"@timestamp":"2024-01-02T03:04:05.000000Z","message":"m",'
    ...         b'"event":{"id":"e1","action":"login_failed"},"bulletproof":{"severity":"high"}}')
    >>> header, sd = fmt.format(line).split(b" [")
    >>> header
    b'<131>1 2024-01-02T03:04:05.000000Z web1 bulletproof 42 login_failed'
    >>> sd[:50]
    b'bulletproof@32473 id="e1" action="login_failed" se'

    Added in 0.1.
    """

    def __init__(
        self,
        *,
        facility: int = FACILITIES["local0"],
        hostname: str | None = None,
        app: str = "bulletproof",
        procid: str | None = None,
        text: bool = False,
    ) -> None:
        self.facility = facility
        self.hostname = _header_field(hostname or socket.gethostname(), 255)
        self.app = _header_field(app, 48)
        self._procid = procid
        self.text = text

    def format(self, line: bytes) -> bytes:
        """The message for ``line`` (a JSON object; anything else is sent as best it can)."""
        doc: Mapping[str, Any] | None
        try:
            loaded = json.loads(line)
        except ValueError:
            loaded = None
        doc = loaded if isinstance(loaded, Mapping) else None
        pri = self.facility * 8 + _severity(doc)
        stamp = "-"
        msgid = "-"
        sd = "-"
        if doc is not None:
            ts = _lookup(doc, ("@timestamp",))
            if ts is not None and _TIMESTAMP.fullmatch(ts):
                stamp = ts
            action = _lookup(doc, ("event", "action"))
            if action is not None and _valid_header(action, 32):
                msgid = action
            params = []
            for name, path in _SD_FIELDS:
                value = _lookup(doc, path)
                if value is not None:
                    params.append(f' {name}="{_sd_value(value)}"')
            if params:
                sd = f"[{SD_ID}{''.join(params)}]"
        procid = self._procid or str(os.getpid())
        header = f"<{pri}>1 {stamp} {self.hostname} {self.app} {procid} {msgid} {sd} "
        return header.encode("utf-8", "backslashreplace") + self._msg(line, doc)

    def _msg(self, line: bytes, doc: Mapping[str, Any] | None) -> bytes:
        if self.text:
            message = _lookup(doc, ("message",)) if doc is not None else None
            if message is None:
                message = line.decode("utf-8", "replace")
            return _text(message).encode("utf-8", "backslashreplace")
        if b"\n" in line or b"\r" in line or b"\0" in line:
            line = line.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\0", b"\\u0000")
        return line


class SyslogSink:
    """RFC 5424 messages over UDP (one datagram each) or TCP/TLS (octet counting).

    Added in 0.1.
    """

    def __init__(self, spec: SinkSpec, *, clock: Clock = system_clock) -> None:
        spec.check_query(set(_PARAMS), _ACCEPTED)
        if spec.scheme not in _DEFAULT_PORTS:
            raise ConfigError(f"sink URL {spec.name!r} is not a syslog URL.{_ACCEPTED}")
        self._spec = spec
        self._transport = spec.scheme.removeprefix("syslog+")
        self._host, self._port = spec.require_host_port(_ACCEPTED, _DEFAULT_PORTS[spec.scheme])
        self._format = SyslogFormat(
            facility=_facility(spec),
            hostname=_checked_header(spec, "hostname", 255),
            app=_checked_header(spec, "app", 48) or "bulletproof",
            text=_msg_mode(spec),
        )
        udp = self._transport == "udp"
        for key in ("timeout", "replay_bytes", "ca"):
            if udp and key in spec.query:
                raise ConfigError(
                    f"sink URL {spec.name!r}: {key}= does not apply to UDP; use "
                    f"syslog+tcp:// or syslog+tls://, or drop {key}=.{_ACCEPTED}"
                )
        if self._transport == "tcp" and "ca" in spec.query:
            raise ConfigError(
                f"sink URL {spec.name!r}: ca= only applies to syslog+tls://.{_ACCEPTED}"
            )
        if udp:
            self._max_size: int | None = spec.whole(
                "max_size", _UDP_DEFAULT_MAX, _MIN_SIZE, _UDP_MAX, _ACCEPTED
            )
        elif "max_size" in spec.query:
            self._max_size = spec.whole("max_size", 0, _MIN_SIZE, _STREAM_MAX, _ACCEPTED)
        else:
            self._max_size = None
        self._udp: socket.socket | None = None
        self._tls = spec.tls_context(accepted=_ACCEPTED) if self._transport == "tls" else None
        self._timeout = spec.timeout(_ACCEPTED)
        self._conn = StreamConnection(
            self._host,
            self._port,
            tls=self._tls,
            server_hostname=self._host,
            timeout=self._timeout,
            replay_bytes=spec.whole("replay_bytes", DEFAULT_REPLAY_BYTES, 0, 1 << 34, _ACCEPTED),
            clock=clock,
            label=spec.name,
        )

    @property
    def name(self) -> str:
        """The URL (no secrets in it)."""
        return self._spec.name

    @property
    def formatter(self) -> SyslogFormat:
        """The message formatter this sink uses."""
        return self._format

    def message(self, line: bytes) -> bytes:
        """The RFC 5424 message for one line, truncated to ``max_size`` (no framing)."""
        msg = self._format.format(line)
        if self._max_size is not None:
            msg = truncate_utf8(msg, self._max_size)
        return msg

    def open(self) -> None:
        """Connect (TCP/TLS), or resolve and connect the UDP socket."""
        if self._transport == "udp":
            self.close()
            self._udp = self._udp_socket()
        else:
            self._conn.connect()

    def send(self, lines: Sequence[bytes]) -> None:
        """Send the batch: one datagram per line (UDP) or one sendall (TCP/TLS)."""
        if self._transport != "udp":
            if lines:
                data = b"".join(
                    b"%d %s" % (len(msg), msg) for msg in (self.message(li) for li in lines)
                )
                self._conn.send(data, len(lines))
            return
        sock = self._udp
        if sock is None:
            raise SinkError(f"{self.name}: not open (call open() first).")
        for line in lines:
            try:
                sock.send(self.message(line))
            except OSError as exc:
                raise SinkError(
                    f"{self.name}: sending a datagram to {self._where} failed: {exc}. A refused "
                    "datagram means nothing listens on that UDP port."
                ) from None

    def unconfirmed(self) -> int:
        """0 for UDP (it cannot confirm anything); for TCP/TLS the lines still at risk."""
        if self._transport == "udp":
            return 0
        return self._conn.unconfirmed()

    def close(self) -> None:
        """Close the socket. Never raises."""
        sock, self._udp = self._udp, None
        if sock is not None:
            sock.close()
        self._conn.close()

    def probe(self) -> str:
        """Resolve and connect (UDP: no packet is sent; TCP/TLS: connect and handshake)."""
        if self._transport == "udp":
            sock = self._udp_socket()
            try:
                peer = sock.getpeername()[0]
            finally:
                sock.close()
            return (
                f"UDP socket to {self._where} ({peer}) ready; UDP cannot confirm delivery, so "
                "this does not prove a receiver is listening"
            )
        probe = StreamConnection(
            self._host,
            self._port,
            tls=self._tls,
            server_hostname=self._host,
            timeout=self._timeout,
            label=self.name,
        )
        probe.connect()
        probe.close()
        if self._tls is not None:
            return f"TLS handshake with {self._where} ok (certificate checked)"
        return f"TCP connect to {self._where} ok"

    @property
    def _where(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    def _udp_socket(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise SinkUnavailableError(
                f"{self.name}: cannot resolve {self._where}: {exc}. Check the host name."
            ) from None
        last: OSError | None = None
        for family, kind, proto, _canon, addr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.connect(addr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            return sock
        raise SinkUnavailableError(f"{self.name}: cannot use UDP to {self._where}: {last}.")


def _facility(spec: SinkSpec) -> int:
    name = spec.query.get("facility", "local0").strip().lower()
    if name not in FACILITIES:
        raise ConfigError(
            f"sink URL {spec.name!r}: unknown facility {name!r}.{did_you_mean(name, FACILITIES)} "
            f"Known: {', '.join(FACILITIES)}.{_ACCEPTED}"
        )
    return FACILITIES[name]


def _checked_header(spec: SinkSpec, key: str, limit: int) -> str | None:
    value = spec.query.get(key)
    if value is None:
        return None
    if not _valid_header(value, limit):
        raise ConfigError(
            f"sink URL {spec.name!r}: {key}={value!r} must be 1 to {limit} printable ASCII "
            f"characters without spaces.{_ACCEPTED}"
        )
    return value


def _msg_mode(spec: SinkSpec) -> bool:
    mode = spec.query.get("msg", "json").strip().lower()
    if mode not in ("json", "text"):
        raise ConfigError(
            f"sink URL {spec.name!r}: msg={mode!r} must be json (the event as JSON, default) or "
            f"text (its human message).{_ACCEPTED}"
        )
    return mode == "text"


def create(spec: SinkSpec, *, clock: Clock = system_clock) -> SyslogSink:
    """Build the sink for a ``syslog+udp://``, ``syslog+tcp://`` or ``syslog+tls://`` URL.

    Added in 0.1.
    """
    return SyslogSink(spec, clock=clock)
