"""syslog+udp/tcp/tls: RFC 5424 frames checked by parsing what real listeners receive."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.base import Sink
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
from bulletproof.sinks import notifier_from_url, sink_from_url
from bulletproof.sinks._syslog import FACILITIES, SyslogSink, create, truncate_utf8
from bulletproof.sinks.base import SinkSpec
from bulletproof.testing import FakeClock

# --- a small, strict RFC 5424 / RFC 6587 parser for the assertions ----------------------------

_HEADER = re.compile(rb"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ")

Receivers = Callable[..., Any]  # the tcp_receiver / udp_receiver factories (conftest.py)


@dataclass
class Frame:
    pri: int
    version: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd: dict[str, dict[str, str]]
    sd_raw: bytes
    msg: bytes


def _parse_sd(data: bytes) -> tuple[dict[str, dict[str, str]], int]:
    """Parse SD-ELEMENTs at the start of ``data``; return them and where they end."""
    elements: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(data) and data[i : i + 1] == b"[":
        j = i + 1
        while data[j : j + 1] not in (b" ", b"]"):
            j += 1
        sd_id = data[i + 1 : j].decode("ascii")
        params: dict[str, str] = {}
        i = j
        while data[i : i + 1] == b" ":
            eq = data.index(b'="', i)
            name = data[i + 1 : eq].decode("ascii")
            assert re.fullmatch(r"[!-~]{1,32}", name), name
            assert not set(name) & set('= ]"'), name
            k = eq + 2
            value = bytearray()
            while data[k : k + 1] != b'"':
                if data[k : k + 1] == b"\\" and data[k + 1 : k + 2] in (b'"', b"\\", b"]"):
                    value += data[k + 1 : k + 2]
                    k += 2
                else:
                    assert data[k : k + 1] != b"]", f"unescaped ] in {data!r}"
                    value += data[k : k + 1]
                    k += 1
            params[name] = value.decode("utf-8")
            i = k + 1
        assert data[i : i + 1] == b"]", data[i:]
        elements[sd_id] = params
        i += 1
    return elements, i


def parse(message: bytes) -> Frame:
    assert not any(c in message for c in b"\r\n\x00"), message
    m = _HEADER.match(message)
    assert m, message[:120]
    rest = message[m.end() :]
    if rest.startswith(b"-"):
        sd: dict[str, dict[str, str]] = {}
        end = 1
    else:
        sd, end = _parse_sd(rest)
        assert end > 0, rest[:80]
    assert rest[end : end + 1] in (b" ", b""), rest[end:]
    return Frame(
        pri=int(m.group(1)),
        version=int(m.group(2)),
        timestamp=m.group(3).decode("ascii"),
        hostname=m.group(4).decode("ascii"),
        app=m.group(5).decode("ascii"),
        procid=m.group(6).decode("ascii"),
        msgid=m.group(7).decode("ascii"),
        sd=sd,
        sd_raw=rest[:end],
        msg=rest[end + 1 :],
    )


def split_octet_counted(data: bytes) -> list[bytes]:
    """RFC 6587 3.4.1: ``MSG-LEN SP SYSLOG-MSG``, repeated; every byte must be consumed."""
    messages = []
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        assert data[i:space].isdigit(), data[i : i + 20]
        assert not data[i:space].startswith(b"0"), data[i : i + 20]
        length = int(data[i:space])
        messages.append(data[space + 1 : space + 1 + length])
        assert len(messages[-1]) == length, "truncated frame"
        i = space + 1 + length
    return messages


# --- events -----------------------------------------------------------------------------------


def _event(n: int = 1, **kwargs: object) -> SecurityEvent:
    fields: dict[str, object] = {
        "action": "login_failed",
        "category": Category.AUTH,
        "severity": Severity.MEDIUM,
        "outcome": Outcome.FAILURE,
        "source_ip": "203.0.113.9",
        "user_name": "alice",
        "message": "3 failed logins for alice",
        "timestamp": 1_700_000_000.25 + n,
        "id": f"ev-{n}",
    }
    fields.update(kwargs)
    return SecurityEvent(**fields)  # type: ignore[arg-type]


def _line(event: SecurityEvent) -> bytes:
    return json.dumps(event.to_ecs(), separators=(",", ":"), ensure_ascii=False).encode()


def _sink(url: str, clock: FakeClock | None = None) -> SyslogSink:
    return create(SinkSpec.parse(url), clock=clock or FakeClock())


# --- format over UDP ------------------------------------------------------------------------


def test_udp_header_fields_pri_and_structured_data(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    sink = _sink(f"syslog+udp://127.0.0.1:{rx.port}?facility=local3&hostname=web-1&app=shop")
    events = [
        _event(1, severity=Severity.LOW),
        _event(2, severity=Severity.MEDIUM),
        _event(3, severity=Severity.HIGH, source_ip=None, user_name=None),
        _event(4, severity=Severity.CRITICAL, action="x" * 33),
    ]
    lines = [_line(e) for e in events]
    sink.open()
    try:
        sink.send(lines)
        frames = [parse(d) for d in rx.wait_count(4)]
    finally:
        sink.close()
    assert [f.pri for f in frames] == [19 * 8 + 5, 19 * 8 + 4, 19 * 8 + 3, 19 * 8 + 2]
    for frame, event, line in zip(frames, events, lines, strict=True):
        assert frame.version == 1
        assert frame.timestamp == event.to_ecs()["@timestamp"]
        assert frame.hostname == "web-1"
        assert frame.app == "shop"
        assert frame.procid == str(os.getpid())
        assert frame.msg == line  # the JSON line, untouched, no BOM
    assert [f.msgid for f in frames] == ["login_failed"] * 3 + ["-"]  # > 32 chars: nil
    assert frames[0].sd == {
        "bulletproof@32473": {
            "id": "ev-1",
            "category": "auth",
            "action": "login_failed",
            "severity": "low",
            "outcome": "failure",
            "srcip": "203.0.113.9",
            "user": "alice",
        }
    }
    assert "srcip" not in frames[2].sd["bulletproof@32473"]
    assert "user" not in frames[2].sd["bulletproof@32473"]
    assert frames[0].timestamp == "2023-11-14T22:13:21.250000Z"


def test_defaults_local0_machine_hostname_bulletproof_app(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    sink = _sink(f"syslog+udp://127.0.0.1:{rx.port}")
    sink.open()
    try:
        sink.send([_line(_event(action="héllo"))])
        (frame,) = (parse(d) for d in rx.wait_count(1))
    finally:
        sink.close()
    assert frame.pri == 16 * 8 + 4
    expected_host = "".join(c for c in socket.gethostname() if "!" <= c <= "~")[:255] or "-"
    assert frame.hostname == expected_host
    assert frame.app == "bulletproof"
    assert frame.msgid == "-"  # not printable ASCII
    assert frame.sd["bulletproof@32473"]["action"] == "héllo"


def test_hostile_field_values_are_escaped_and_neutralized_udp_and_tcp(
    udp_receiver: Receivers, tcp_receiver: Receivers
) -> None:
    hostile = 'a"b\\c]d\r\ne\x00f\tg <13>1 - x'
    event = _event(user_name=hostile, action='bad]"act\n', message=hostile)
    line = _line(event)
    udp = udp_receiver()
    tcp = tcp_receiver()
    text_udp = udp_receiver()
    sinks = [
        _sink(f"syslog+udp://127.0.0.1:{udp.port}"),
        _sink(f"syslog+tcp://127.0.0.1:{tcp.port}"),
        _sink(f"syslog+udp://127.0.0.1:{text_udp.port}?msg=text"),
    ]
    for sink in sinks:
        sink.open()
    try:
        for sink in sinks:
            sink.send([line, _line(_event(2))])
        datagrams = udp.wait_count(2)
        stream = split_octet_counted(tcp.wait_bytes(_framed(sinks[1], [line, _line(_event(2))])))
        texts = text_udp.wait_count(2)
    finally:
        for sink in sinks:
            sink.close()
    assert len(datagrams) == 2
    assert len(stream) == 2
    assert len(texts) == 2
    assert datagrams[0] == stream[0]
    for raw in (datagrams[0], stream[0], texts[0]):
        frame = parse(raw)  # also asserts: no raw CR, LF or NUL anywhere
        params = frame.sd["bulletproof@32473"]
        # RFC 5424 escapes undone: " \ ] are back; CR LF NUL TAB read as visible escapes.
        assert params["user"] == 'a"b\\c]d\\r\\ne\\0f\\tg <13>1 - x'
        assert params["action"] == 'bad]"act\\n'
        assert frame.msgid == "-"
        assert b'user="a\\"b\\\\c\\]d\\\\r\\\\ne\\\\0f\\\\tg <13>1 - x"' in frame.sd_raw
        assert parse(datagrams[1]).sd["bulletproof@32473"]["id"] == "ev-2"
    assert json.loads(parse(datagrams[0]).msg)["user"]["name"] == hostile
    assert parse(texts[0]).msg == b'a"b\\c]d\\r\\ne\\0f\\tg <13>1 - x'
    assert parse(texts[1]).msg == b"3 failed logins for alice"


def test_raw_control_characters_in_a_non_json_line_are_neutralized(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    sink = _sink(f"syslog+udp://127.0.0.1:{rx.port}")
    sink.open()
    try:
        sink.send([b'{"message":"x\ny\r\x00"}', b"not json\nat all"])
        first, second = (parse(d) for d in rx.wait_count(2))
    finally:
        sink.close()
    assert first.msg == b'{"message":"x\\ny\\r\\u0000"}'
    assert second.msg == b"not json\\nat all"
    assert (second.pri, second.timestamp, second.msgid, second.sd) == (16 * 8 + 5, "-", "-", {})


# --- TCP: octet counting ------------------------------------------------------------------------


def test_tcp_octet_counting_splits_a_batch_by_byte_length(tcp_receiver: Receivers) -> None:
    clock = FakeClock()
    rx = tcp_receiver()
    sink = _sink(f"syslog+tcp://127.0.0.1:{rx.port}?facility=auth&app=bp", clock)
    lines = [
        _line(_event(1, message="ünïcödé ☃ " * 20)),
        _line(_event(2, severity=Severity.CRITICAL)),
        _line(_event(3, user_name="日本語")),
    ]
    expected = [sink.message(li) for li in lines]
    sink.open()
    try:
        sink.send(lines)  # one sendall: the receiver reads the frames back to back
        data = rx.wait_bytes(sum(len(f"{len(m)} ") + len(m) for m in expected))
        assert sink.unconfirmed() == 3
        clock.advance(1)
        assert sink.unconfirmed() == 0
    finally:
        sink.close()
    assert data.startswith(f"{len(expected[0])} ".encode())
    assert len(expected[0]) > len(expected[0].decode())  # byte length, not characters
    messages = split_octet_counted(data)
    assert messages == expected
    frames = [parse(m) for m in messages]
    assert [f.pri for f in frames] == [4 * 8 + 4, 4 * 8 + 2, 4 * 8 + 4]
    assert [f.msg for f in frames] == lines
    assert frames[2].sd["bulletproof@32473"]["user"] == "日本語"


def _framed(sink: SyslogSink, lines: list[bytes]) -> int:
    """How many bytes ``lines`` take on a TCP stream (octet counting)."""
    return sum(len(f"{len(m)} ") + len(m) for m in (sink.message(li) for li in lines))


def test_tcp_receiver_closed_send_raises_and_reconnects(tcp_receiver: Receivers) -> None:
    rx = tcp_receiver()
    sink = _sink(f"syslog+tcp://127.0.0.1:{rx.port}")
    first, lost, third = (_line(_event(n)) for n in (1, 2, 3))
    sink.open()
    try:
        sink.send([first])
        rx.wait_bytes(_framed(sink, [first]))
        rx.drop_clients()
        with pytest.raises(SinkError, match="closed the connection"):
            sink.send([lost])
        sink.open()
        sink.send([third])
        data = rx.wait_bytes(_framed(sink, [first, third]))
    finally:
        sink.close()
    assert len(rx.connections) == 2
    ids = [parse(m).sd["bulletproof@32473"]["id"] for m in split_octet_counted(data)]
    assert ids == ["ev-1", "ev-3"]


def test_tls_syslog_with_trustme_ca(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    sink = _sink(f"syslog+tls://localhost:{rx.port}?ca={tls_ca.ca_file}")
    assert sink.probe() == f"TLS handshake with localhost:{rx.port} ok (certificate checked)"
    line = _line(_event(1))
    sink.open()
    try:
        sink.send([line])
        message = sink.message(line)
        data = rx.wait_bytes(len(message) + len(f"{len(message)} "))
    finally:
        sink.close()
    assert split_octet_counted(data) == [message]


def test_tls_syslog_wrong_ca(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    sink = _sink(f"syslog+tls://127.0.0.1:{rx.port}?ca={tls_ca.other_ca_file}")
    with pytest.raises(SinkUnavailableError, match="certificate"):
        sink.open()


# --- UDP truncation ---------------------------------------------------------------------------


def test_udp_truncates_on_a_utf8_boundary(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    line = _line(_event(1, message="€" * 400))  # 3-byte characters
    sizes = [480, 481, 482]
    sinks = [_sink(f"syslog+udp://127.0.0.1:{rx.port}?max_size={n}&msg=text") for n in sizes]
    full = sinks[0].formatter.format(line)
    assert len(full) > 1200
    for sink in sinks:
        sink.open()
        sink.send([line])
        sink.close()
    datagrams = rx.wait_count(3)
    cut_inside_a_char = 0
    for size, datagram in zip(sizes, sorted(datagrams, key=len), strict=True):
        assert size - 2 <= len(datagram) <= size
        assert full.startswith(datagram)
        datagram.decode("utf-8")  # whole characters only
        cut_inside_a_char += len(datagram) < size
        parse(datagram)
    assert cut_inside_a_char == 2  # of three consecutive sizes, two fall inside a "€"


def test_truncate_utf8_edges() -> None:
    assert truncate_utf8(b"abc", 3) == b"abc"
    assert truncate_utf8("a€".encode(), 3) == b"a"
    assert truncate_utf8("a€".encode(), 4) == "a€".encode()
    assert truncate_utf8("€".encode(), 2) == b""


def test_udp_default_max_size_is_8192(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    sink = _sink(f"syslog+udp://127.0.0.1:{rx.port}")
    sink.open()
    try:
        sink.send([_line(_event(1, message="x" * 20000))])
        (datagram,) = rx.wait_count(1)
    finally:
        sink.close()
    assert len(datagram) == 8192


# --- probe, unconfirmed, errors ---------------------------------------------------------------


def test_probe_udp_says_it_cannot_confirm(udp_receiver: Receivers) -> None:
    rx = udp_receiver()
    result = _sink(f"syslog+udp://127.0.0.1:{rx.port}").probe()
    assert f"127.0.0.1:{rx.port}" in result
    assert "cannot confirm delivery" in result
    assert rx.datagrams == []


def test_probe_tcp_and_refused(tcp_receiver: Receivers, closed_port: int) -> None:
    rx = tcp_receiver()
    assert _sink(f"syslog+tcp://127.0.0.1:{rx.port}").probe() == (
        f"TCP connect to 127.0.0.1:{rx.port} ok"
    )
    with pytest.raises(SinkUnavailableError, match="refused"):
        _sink(f"syslog+tcp://127.0.0.1:{closed_port}").probe()


def test_udp_unconfirmed_is_zero_and_send_needs_open() -> None:
    sink = _sink("syslog+udp://127.0.0.1:9")
    assert sink.unconfirmed() == 0
    with pytest.raises(SinkError, match="not open"):
        sink.send([b"{}"])


def test_udp_unresolvable_host_is_unavailable() -> None:
    sink = _sink("syslog+udp://no-such-host.invalid:514")
    with pytest.raises(SinkUnavailableError, match=r"cannot resolve no-such-host\.invalid:514"):
        sink.open()


def test_default_ports() -> None:
    typed: Sink = create(SinkSpec.parse("syslog+tls://logs.example.com"))  # mypy: protocol
    assert isinstance(typed, SyslogSink)
    assert _sink("syslog+tls://logs.example.com")._where == "logs.example.com:6514"
    assert _sink("syslog+udp://logs.example.com")._where == "logs.example.com:514"
    assert _sink("syslog+tcp://logs.example.com")._where == "logs.example.com:514"


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("syslog+udp://h:514?facility=lokal0", "Did you mean 'local0'"),
        ("syslog+udp://h:514?facility=local9", "unknown facility 'local9'"),
        ("syslog+udp://h:514?app=my%20app", "app='my app' must be 1 to 48 printable ASCII"),
        ("syslog+udp://h:514?app=" + "a" * 49, "must be 1 to 48"),
        ("syslog+udp://h:514?hostname=a%0Ab", "hostname="),
        ("syslog+udp://h:514?msg=xml", "msg='xml' must be json"),
        ("syslog+udp://h:514?max_size=100", "max_size='100' must be a whole number from 480"),
        ("syslog+udp://h:514?max_size=70000", "to 65507"),
        ("syslog+udp://h:514?timeout=5", "does not apply to UDP"),
        ("syslog+tcp://h:514?ca=/x.pem", "only applies to syslog+tls"),
        ("syslog+tls://h:6514?ca=/nonexistent.pem", "no such file"),
        ("syslog+tcp://h:514?colour=red", "unknown parameter 'colour'"),
        ("syslog+tcp://:514", "needs a host"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_url(url: str, expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        sink_from_url(url)
    assert url in str(info.value)
    assert expect in str(info.value)


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("syslog+tcp://h:0", "port 0 is out of range; use a port from 1 to 65535."),
        ("syslog+udp://h:0", "port 0 is out of range; use a port from 1 to 65535."),
        ("syslog+tls://[::1]:0", "port 0 is out of range; use a port from 1 to 65535."),
        ("syslog+tcp://h:00000", "port 00000 is out of range; use a port from 1 to 65535."),
        ("syslog+tcp://h:65536", "port 65536 is out of range; use a port from 1 to 65535."),
        ("syslog+tcp://h:" + "9" * 5000, "port 999999999... is out of range; use a port from 1"),
        ("syslog+tcp://h:abc", "port 'abc' is not a number; use a port from 1 to 65535."),
        ("syslog+tcp://h:-1", "port '-1' is not a number; use a port from 1 to 65535."),
        ("syslog+tcp://h:+514", "port '+514' is not a number; use a port from 1 to 65535."),
        (
            "syslog+tcp://h:\u0665\u0661\u0664",
            "port '\u0665\u0661\u0664' is not a number; use a port",
        ),
        ("logstash://127.0.0.1:0", "port 0 is out of range; use a port from 1 to 65535."),
        ("https://logs.example.com:0/in", "port 0 is out of range; use a port from 1 to 65535."),
    ],
)
def test_bad_ports_are_config_errors_with_the_accepted_range(url: str, expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        sink_from_url(url)
    message = str(info.value)
    assert message.startswith(f"sink URL {url!r} is malformed: {expect}")
    assert "Accepted forms:" in message
    assert "\n" not in message


def test_port_range_edges_for_sinks_and_notifiers() -> None:
    assert _sink("syslog+tcp://h:1")._where == "h:1"
    assert _sink("syslog+tcp://h:65535")._where == "h:65535"
    assert _sink("syslog+tcp://h:0514")._where == "h:514"
    assert SinkSpec.parse("syslog+tcp://u:p@[::1]:6514").port == 6514
    for url in (
        "smtp://mail.example.com:0?from=a@example.com&to=b@example.com",
        "webhook+https://hooks.example.com:0/services/x",
        "sms+twilio://AC0123456789abcdef:tok@api.twilio.com:0?from=+15550001111&to=+15550002222",
    ):
        with pytest.raises(
            ConfigError, match=r"port 0 is out of range; use a port from 1 to 65535"
        ):
            notifier_from_url(url)
    with pytest.raises(ConfigError) as info:
        SinkSpec.parse("syslog+tcp://bob:hunter2@h:0")
    assert str(info.value) == (
        "sink URL 'syslog+tcp://bob:***@h:0' is malformed: port 0 is out of range; use a port from "
        "1 to 65535."
    )


def test_all_facilities_map_to_rfc5424_codes() -> None:
    assert FACILITIES["kern"] == 0
    assert FACILITIES["auth"] == 4
    assert FACILITIES["authpriv"] == 10
    assert [FACILITIES[f"local{n}"] for n in range(8)] == list(range(16, 24))


# --- the real thing: rsyslogd on 127.0.0.1:5514 ----------------------------------------------


def _rsyslog_lines(path: Path, marker: str, count: int, timeout: float = 5.0) -> list[bytes]:
    """Lines of rsyslog's output file holding ``marker``, once ``count`` arrived (bounded wait)."""
    found: list[bytes] = []
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        data = path.read_bytes() if path.exists() else b""
        found = [li for li in data.split(b"\n")[:-1] if marker.encode() in li]
        if len(found) >= count:
            break
        pause.wait(0.05)
    return found


@pytest.mark.syslog
def test_real_rsyslog_receives_each_message_once_and_intact(rsyslog_log: Path) -> None:
    marker = uuid.uuid4().hex
    hostile = f"{marker}\r\nFAKE <13>1 - - - - - injected\x00"

    def ev(kind: str, n: int, **kw: object) -> SecurityEvent:
        return _event(n, id=f"{marker}-{kind}-{n}", **kw)

    plan = {
        "udp": [ev("udp", 1), ev("udp", 2, user_name=hostile, severity=Severity.CRITICAL)],
        "tcp": [
            ev("tcp", 1, message="é" * 3000),  # > 8 KiB of UTF-8: fine over TCP (64k max)
            ev("tcp", 2, user_name=hostile, message=hostile),
            ev("tcp", 3),
        ],
        "text": [ev("text", 1, message=hostile, user_name="bob")],
    }
    urls = {
        "udp": "syslog+udp://127.0.0.1:5514?app=bp-test&facility=local5",
        "tcp": "syslog+tcp://127.0.0.1:5514?app=bp-test&facility=local5",
        "text": "syslog+tcp://127.0.0.1:5514?app=bp-test&facility=local5&msg=text",
    }
    sent: dict[str, tuple[SecurityEvent, bytes]] = {}
    for kind, events in plan.items():
        sink = _sink(urls[kind])
        sink.open()
        try:
            sink.send([_line(e) for e in events])
        finally:
            sink.close()
        for e in events:
            sent[e.id] = (e, sink.message(_line(e)))

    lines = _rsyslog_lines(rsyslog_log, marker, len(sent))
    by_id: dict[str, list[bytes]] = {}
    for raw in lines:
        frame = parse(raw)  # one line each: no raw CR/LF/NUL reached the file
        by_id.setdefault(frame.sd["bulletproof@32473"]["id"], []).append(raw)
    assert sorted(by_id) == sorted(sent), f"missing or extra messages in {rsyslog_log}"
    for event_id, (event, message) in sent.items():
        assert len(by_id[event_id]) == 1, f"{event_id} arrived {len(by_id[event_id])} times"
        raw = by_id[event_id][0]
        assert raw == message, f"{event_id} was changed on the way"
        for escaped_by_rsyslog in (b"#015", b"#012", b"#000"):
            assert escaped_by_rsyslog not in raw
        frame = parse(raw)
        assert frame.pri == 21 * 8 + event.severity.syslog
        assert (frame.app, frame.msgid) == ("bp-test", "login_failed")
        if not event_id.startswith(f"{marker}-text"):
            assert json.loads(frame.msg) == event.to_ecs()
    hostile_user = sent[f"{marker}-udp-2"][1]
    assert f'user="{marker}\\\\r\\\\nFAKE <13>1 - - - - - injected\\\\0"'.encode() in hostile_user
    text = parse(sent[f"{marker}-text-1"][1]).msg
    assert text == f"{marker}\\r\\nFAKE <13>1 - - - - - injected\\0".encode()
    assert not any(li.startswith(b"FAKE") for li in rsyslog_log.read_bytes().split(b"\n"))
