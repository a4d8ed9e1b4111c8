"""What the end-to-end benches share: a free port, a uvicorn server for one variant of an app
module, and a keep-alive client that reads every response whole."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def client(
    port: int, requests: list[bytes] | bytes, count: int, *, expect_200: bool = False
) -> None:
    """Send ``count`` requests on one keep-alive connection (cycling through ``requests``),
    reading each full response."""
    wire = [requests] if isinstance(requests, bytes) else requests
    with socket.create_connection(("127.0.0.1", port)) as sock:
        buf = b""
        for n in range(count):
            sock.sendall(wire[n % len(wire)])
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = buf[:head_end].lower()
                    if expect_200 and not head.startswith(b"http/1.1 200"):
                        raise SystemExit(f"unexpected response: {head[:40]!r}")
                    i = head.find(b"content-length:")
                    length = int(head[i + 15 : head.find(b"\r\n", i)]) if i >= 0 else 0
                    total = head_end + 4 + length
                    if len(buf) >= total:
                        buf = buf[total:]
                        break
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit("server closed the connection")
                buf += chunk


def serve(app: str, variant: str, port: int) -> subprocess.Popen[bytes]:
    """uvicorn (h11, asyncio) serving ``app`` (``module:attr`` in bench/) with BENCH_VARIANT."""
    env = dict(os.environ, BENCH_VARIANT=variant, PYTHONPATH=str(HERE))
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "asyncio",
        "--http",
        "h11",
    ]
    proc = subprocess.Popen(command, env=env, cwd=HERE)
    deadline = time.perf_counter() + 20
    while time.perf_counter() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"uvicorn ({variant}) did not start")
