"""Acceptance: events through the whole pipeline to a real rsyslogd over UDP and TCP.

``build_pipeline`` with a config whose sinks are ``syslog+udp://127.0.0.1:5514`` and
``syslog+tcp://127.0.0.1:5514`` (each with its own ``app=`` so the two copies of an event can be
told apart in rsyslog's output); rsyslogd (``scripts/rsyslog.sh``) writes each message it
receives, raw, as one line of its output file.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.receivers import poll, report
from tests.sinks.rsyslog import ensure_rsyslog

from bulletproof._text import one_line
from bulletproof.config import build_pipeline, load_config
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.events.pipeline import EventPipeline

pytestmark = [pytest.mark.slow, pytest.mark.syslog]

TRANSPORTS = ("udp", "tcp")
WAVE = 50  # events per wave; each wave must be in rsyslog's file before the next is emitted
SD_ID = "bulletproof@32473"
_HEADER = re.compile(rb"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


@pytest.fixture(scope="module")
def rsyslog_log() -> Path:
    """The file the test rsyslogd writes to (it is started when not running)."""
    return ensure_rsyslog()


def _sd_params(rest: bytes) -> tuple[dict[str, str], bytes]:
    """Parse one ``[SD-ID k="v" ...]`` element (RFC 5424 escapes undone); return it and the MSG."""
    assert rest.startswith(b"[" + SD_ID.encode() + b" "), rest[:80]
    i = len(SD_ID) + 1
    params: dict[str, str] = {}
    while rest[i : i + 1] == b" ":
        eq = rest.index(b'="', i)
        name = rest[i + 1 : eq].decode("ascii")
        k = eq + 2
        value = bytearray()
        while rest[k : k + 1] != b'"':
            if rest[k : k + 1] == b"\\" and rest[k + 1 : k + 2] in (b'"', b"\\", b"]"):
                value += rest[k + 1 : k + 2]
                k += 2
            else:
                assert rest[k : k + 1] != b"]", f"unescaped ] in {rest[:200]!r}"
                value += rest[k : k + 1]
                k += 1
        params[name] = value.decode("utf-8")
        i = k + 1
    assert rest[i : i + 2] == b"] ", rest[i : i + 20]
    return params, rest[i + 2 :]


def _events(marker: str, count: int) -> Iterator[SecurityEvent]:
    hostile_text = f"attempt\r\nFAKE-{marker} <13>1 - - - - - injected\x00tail\r"
    for i in range(count):
        hostile = i % 4 == 0
        yield SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            severity=Severity.HIGH if hostile else Severity.MEDIUM,
            message=f"{marker} {i} {hostile_text}" if hostile else f"{marker} {i} login failed",
            source_ip="203.0.113.9",
            user_name=f"eve\r\nFAKE-{marker}\x00" if hostile else f"user{i}",
            details={"marker": marker, "n": i, "note": "x\r\ny\x00z" if hostile else "plain"},
            id=f"{marker}-{i:04d}",
        )


@pytest.mark.timeout(60)
def test_rsyslog_gets_every_event_once_per_transport_intact(
    tmp_path: Path, rsyslog_log: Path
) -> None:
    """Acceptance line 3: "Real rsyslog receives each message intact over UDP and TCP,
    including a message whose fields contain CR/LF: one message each, fields neutralized."
    """
    marker = uuid.uuid4().hex
    (tmp_path / "bulletproof.toml").write_text(
        f"""\
service_name = "e2e-{marker[:8]}"
[events]
spool_dir = "spool"
sinks = [
  "syslog+udp://127.0.0.1:5514?app=bp-e2e-udp",
  "syslog+tcp://127.0.0.1:5514?app=bp-e2e-tcp",
]
""",
        encoding="utf-8",
    )
    config = load_config(tmp_path, env={})
    start = rsyslog_log.stat().st_size if rsyslog_log.exists() else 0

    def ours() -> list[bytes]:
        with rsyslog_log.open("rb") as f:
            f.seek(start)
            data = f.read()
        return [line for line in data.split(b"\n") if marker.encode() in line]

    events = list(_events(marker, 200))
    pipeline: EventPipeline = build_pipeline(config).start()
    try:
        for wave in range(0, len(events), WAVE):
            for event in events[wave : wave + WAVE]:
                pipeline.emit(event)
            want = len(TRANSPORTS) * min(wave + WAVE, len(events))

            def arrived(want: int = want) -> bool:
                return len(ours()) >= want

            assert poll(arrived, 15), (
                f"rsyslog wrote {len(ours())} of {want} lines for this run to {rsyslog_log}"
            )
        assert pipeline.drain(10), pipeline.stats()
    finally:
        pipeline.close(timeout=5)
    stats = pipeline.stats()
    # A duplicate (a resend after the end) would show up within this bounded wait.
    poll(lambda: len(ours()) > len(TRANSPORTS) * len(events), 0.5)
    lines = ours()
    report(
        f"rsyslog: {len(lines)} lines for {len(events)} events x {len(TRANSPORTS)} transports; "
        f"pipeline {stats}"
    )

    by_id: dict[tuple[str, str], list[bytes]] = {}
    for raw in lines:
        # One message per line: no raw CR, LF or NUL, and nothing rsyslog had to escape.
        assert not any(c in raw for c in b"\r\n\x00"), raw[:200]
        for escaped_by_rsyslog in (b"#015", b"#012", b"#000"):
            assert escaped_by_rsyslog not in raw, raw[:300]
        header = _HEADER.match(raw)
        assert header, f"not an RFC 5424 message: {raw[:200]!r}"
        app = header.group(4).decode()
        assert app in ("bp-e2e-udp", "bp-e2e-tcp"), raw[:200]
        params, _msg = _sd_params(raw[header.end() :])
        by_id.setdefault((app.rsplit("-", 1)[1], params["id"]), []).append(raw)
    # No injected text started a message (or a line) of its own.
    assert not any(line.startswith(f"FAKE-{marker}".encode()) for line in lines)
    assert not any(b"injected" in line[:200] for line in lines if not line.startswith(b"<"))

    expected = {(t, e.id) for t in TRANSPORTS for e in events}
    assert set(by_id) == expected, (
        f"missing: {sorted(expected - set(by_id))[:5]}, extra: {sorted(set(by_id) - expected)[:5]}"
    )
    repeated = {key: len(v) for key, v in by_id.items() if len(v) != 1}
    assert not repeated, f"events that arrived more than once: {repeated}"

    for event in events:
        for transport in TRANSPORTS:
            (raw,) = by_id[(transport, event.id)]
            header = _HEADER.match(raw)
            assert header is not None
            assert int(header.group(1)) == 16 * 8 + event.severity.syslog  # local0
            assert header.group(6) == b"login_failed"  # MSGID
            params, msg = _sd_params(raw[header.end() :])
            assert event.user_name is not None
            assert params == {
                "id": event.id,
                "category": "auth",
                "action": "login_failed",
                "severity": event.severity.value,
                "outcome": "unknown",
                "srcip": "203.0.113.9",
                "user": one_line(event.user_name),
            }, raw[:400]
            doc = json.loads(msg)
            assert doc["event"]["id"] == event.id
            assert doc["message"] == one_line(event.message or "")
            assert doc["user"]["name"] == one_line(event.user_name)
            details = doc["bulletproof"]["details"]
            assert details["note"] == one_line(str(event.details["note"]))
            assert details["n"] == event.details["n"]
            if event.details["note"] != "plain":
                # CR/LF/NUL arrive as the visible two-character escapes, never raw.
                assert "\\r\\n" in doc["message"]
                assert "\\0" in doc["message"]
                assert params["user"] == f"eve\\r\\nFAKE-{marker}\\0"
