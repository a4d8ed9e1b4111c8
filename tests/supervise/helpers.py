"""What the ``bulletproof run`` acceptance tests share: a project folder with a file sink, the
supervisor as a subprocess, its events, and the test server (``server.py``)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import psutil
from tests.acceptance.receivers import Cli, cli_env

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.py"
BIN = Path(sys.executable).parent


def write_config(folder: Path, extra: str = "") -> None:
    (folder / "bulletproof.toml").write_text(
        'service_name = "supervised"\n'
        "[events]\n"
        'spool_dir = "spool"\n'
        'durability_lag = "50ms"\n'
        'sinks = ["file:events.jsonl"]\n' + extra,
        encoding="utf-8",
    )


def events(folder: Path, action: str | None = None) -> list[dict[str, Any]]:
    path = folder / "events.jsonl"
    if not path.exists():
        return []
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if action is None or doc["event"]["action"] == action:
            docs.append(doc)
    return docs


def details(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["bulletproof"].get("details", {}))


def get(port: int, path: str = "/", timeout: float = 1.0) -> str | None:
    """The body of GET path, or None when the server does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.read().decode() if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def server_log(folder: Path) -> list[str]:
    path = folder / "server.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def env_for(folder: Path) -> dict[str, str]:
    env = cli_env(folder, SERVER_LOG=str(folder / "server.log"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def supervise(folder: Path, *args: str) -> Cli:
    return Cli("run", "--pid-file", str(folder / "run.pid"), *args, cwd=folder, env=env_for(folder))


def stop(cli: Cli, timeout: float = 15.0) -> int:
    cli.proc.send_signal(signal.SIGTERM)
    return cli.finish(timeout).code


def zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
