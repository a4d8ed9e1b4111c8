"""Acceptance: the pipeline under real gunicorn workers.

* ``--preload -w 2``: the pipeline is started in the master at import, before the workers fork;
  every event a worker emits arrives, once, after a graceful stop.
* ``-w 4``: 300 failed logins from one IP, spread by gunicorn over four workers, give exactly
  one alert and, after the cooldown, one digest (a real aiosmtpd); with the sink down, SIGKILL of
  three workers, then the sink back: every event they spooled is delivered.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest
from tests.acceptance.receivers import (
    JsonLinesReceiver,
    SmtpInbox,
    closed_port,
    poll,
    report,
    start_smtp,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

GUNICORN = Path(sys.executable).parent / "gunicorn"
APPS = Path(__file__).parent / "apps"
REPO = Path(__file__).resolve().parents[2]


class Gunicorn:
    """``gunicorn bp_gunicorn_app:app`` on 127.0.0.1, output to files; killed at the end."""

    def __init__(self, config_dir: Path, *args: str) -> None:
        self.port = closed_port()
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
        env["BULLETPROOF_CONFIG"] = str(config_dir)
        env["PYTHONPATH"] = os.pathsep.join([str(APPS), str(REPO / "src")])
        self.proc = subprocess.Popen(
            [
                str(GUNICORN),
                *args,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "10",
                "bp_gunicorn_app:app",
            ],
            cwd=config_dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not poll(self._listening, 30, 0.05):
            self.stop()
            pytest.fail(f"gunicorn did not start:\n{self.log()}", pytrace=False)

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            return True
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def get(self, path: str) -> int:
        """GET ``path`` on a new connection; the answering worker's pid."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (resp.status, body)
            return int(body)
        finally:
            conn.close()

    def logins(self, first: int, count: int) -> Counter[int]:
        """``count`` failed logins, 8 at a time; how many each worker pid served."""
        with ThreadPoolExecutor(8) as pool:
            pids = list(pool.map(lambda n: self.get(f"/login?n={n}"), range(first, first + count)))
        return Counter(pids)

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


@pytest.fixture
def servers() -> Iterator[list[Gunicorn]]:
    made: list[Gunicorn] = []
    yield made
    for g in made:
        if g.proc.poll() is None:
            g.stop(signal.SIGKILL)


def _events(path: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in sorted(path.parent.glob(path.name + "*")):
        docs.extend(json.loads(line) for line in f.read_text().splitlines() if line)
    return docs


def test_preload_two_workers_every_event_arrives_once(
    tmp_path: Path, servers: list[Gunicorn]
) -> None:
    (tmp_path / "bulletproof.toml").write_text(
        'service_name = "preload"\n[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n'
    )
    server = Gunicorn(tmp_path, "--preload", "--workers", "2")
    servers.append(server)
    served: Counter[int] = Counter()
    sent = 0
    while len(served) < 2 and sent < 4000:  # until both workers answered
        served += server.logins(sent, 200)
        sent += 200
    assert len(served) == 2, f"one worker served everything: {served}"
    code = server.stop()
    assert code == 0, server.log()
    docs = _events(tmp_path / "events.jsonl")
    logins = [d for d in docs if d["event"]["action"] == "login_failed"]
    got = Counter(d["event"]["id"] for d in logins)
    pids = Counter(d["bulletproof"]["details"]["pid"] for d in logins)
    report(f"preload -w 2: {sent} requests, served by {dict(served)}; events by pid {dict(pids)}")
    assert set(got) == {f"login-{n}" for n in range(sent)}
    assert set(got.values()) == {1}
    assert set(pids) == set(served)  # the events came from the forked workers themselves


def _mails(inbox: SmtpInbox) -> list[str]:
    subjects = []
    for raw in inbox.raw():
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        subjects.append(" ".join(str(msg["Subject"]).split()))
    return subjects


def _spooled(spool: Path) -> set[str]:
    """Event ids of the login events in the spool's records (what the workers spooled)."""
    from bulletproof.events._spool import parse_record

    found = set()
    for seg in spool.glob("slot-*/*.seg"):
        for line in seg.read_bytes().split(b"\n"):
            rec = parse_record(line)
            if rec is not None:
                doc = json.loads(rec[1])
                if doc["event"]["action"] == "login_failed":
                    found.add(doc["event"]["id"])
    return found


def test_four_workers_one_alert_one_digest_and_sigkill_loses_nothing_spooled(
    tmp_path: Path, servers: list[Gunicorn]
) -> None:
    logins = 300
    with start_smtp() as (inbox, smtp_port):
        rx = JsonLinesReceiver()
        port = rx.port
        rx.kill()  # the log sink is down until the end
        (tmp_path / "bulletproof.toml").write_text(
            f"""\
service_name = "four"
[events]
spool_dir = "spool"
durability_lag = "50ms"
sinks = ["logstash://127.0.0.1:{port}"]
[alerts.notifiers]
mail = "smtp://127.0.0.1:{smtp_port}?from=bp@example.com&to=ops@example.com&tls=none"
[[alerts.rules]]
name = "brute-force"
categories = ["auth"]
actions = ["login_failed"]
threshold = 5
within = "60s"
group_by = "source.ip"
cooldown = "4s"
notify = ["mail"]
"""
        )
        server = Gunicorn(tmp_path, "--workers", "4")
        servers.append(server)
        served = server.logins(0, logins)
        report(f"-w 4: {logins} failed logins served by {dict(served)}")
        assert len(served) >= 2, f"gunicorn gave everything to one worker: {served}"
        assert poll(lambda: inbox.count() >= 1, 20), server.log()
        # The cooldown ends 4 s after the alert: one digest for everything held back.
        assert poll(lambda: inbox.count() >= 2, 20), (_mails(inbox), server.log())
        assert not poll(lambda: inbox.count() > 2, 3)  # and nothing more
        subjects = _mails(inbox)
        report(f"-w 4: mails {subjects}")
        assert "brute-force" in subjects[0]
        assert "during cooldown" not in subjects[0]
        assert f"{logins - 5} more event(s)" in subjects[1]

        # The sink is still down: every event waits in the spool. Kill three workers hard.
        spool = tmp_path / "spool"
        assert poll(lambda: len(_spooled(spool)) == logins, 10)
        victims = sorted(served)[:3]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        rx.start()  # the sink comes back on the same port
        try:
            ok = rx.wait_for(
                lambda s: {f"login-{n}" for n in range(logins)} <= set(s.ids), timeout=30
            )
            got = {i for i in rx.store.ids if i.startswith("login-")}
            report(
                f"-w 4: killed {victims}; sink back: {len(got)}/{logins} login events, "
                f"{rx.store.lines} lines, other events {dict(rx.store.actions)}"
            )
            assert ok, (sorted({f"login-{n}" for n in range(logins)} - got)[:10], server.log())
            assert not rx.store.bad
        finally:
            code = server.stop()
            rx.close()
        assert code == 0, server.log()
