"""The private rsyslogd the syslog tests talk to (started by scripts/rsyslog.sh).

Shared by the ``rsyslog_log`` fixture (tests/sinks/conftest.py) and the acceptance tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
RSYSLOG_PORT = 5514


def _rsyslog_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", RSYSLOG_PORT), timeout=1):
            return True
    except OSError:
        return False


def ensure_rsyslog() -> Path:
    """The file the test rsyslogd writes raw messages to; starts it (scripts/rsyslog.sh) if needed.

    With ``CI`` set, a missing rsyslogd is a failure (CI must start it first); locally this runs
    ``scripts/rsyslog.sh`` itself.
    """
    directory = Path(os.environ.get("BULLETPROOF_TEST_SYSLOG_DIR", "/tmp/bulletproof-rsyslog"))
    script = _REPO / "scripts" / "rsyslog.sh"
    if not _rsyslog_answers():
        if os.environ.get("CI"):
            pytest.fail(
                f"rsyslog is not listening on 127.0.0.1:{RSYSLOG_PORT}; start it before the "
                f"tests with: bash {script.relative_to(_REPO)}",
                pytrace=False,
            )
        done = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0 or not _rsyslog_answers():
            pytest.fail(
                f"bash {script} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}",
                pytrace=False,
            )
    return directory / "messages.log"
