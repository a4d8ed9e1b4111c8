"""A small HTTP server that misbehaves on purpose, for ``bulletproof run`` tests.

``python server.py MODE [PORT]``: serves on fd 3 when ``bulletproof run --bind`` handed a socket
over (``BULLETPROOF_SUPERVISOR_FD``), else on 127.0.0.1:PORT. Every start appends its pid to
``$SERVER_LOG`` (if set), and a SIGTERM it received is noted there too, so tests can tell a
graceful stop from a kill. Modes:

* ``ok``: answers 200 with its pid.
* ``crash-after-first``: answers one request, then exits 1.
* ``exit``: exits 1 at once (a crash loop).
* ``hang``: ``/hang`` blocks the (single-threaded) server forever.
* ``leak``: grows by 8 MiB every 50 ms.
* ``ignore-term``: ignores SIGTERM.
* ``tree``: starts a child process that sleeps (a worker), then serves.
* ``beat``: gives a heartbeat every 100 ms for 1 s, then stops beating (but keeps serving).
* ``escape``: starts a child in a session of its own (it leaves the process group), then serves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

MODE = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
LOG = os.environ.get("SERVER_LOG")


def note(text: str) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(f"{text} {os.getpid()}\n")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if MODE == "hang" and self.path == "/hang":
            threading.Event().wait()
        body = f"ok {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if MODE == "crash-after-first":
            os._exit(1)

    def log_message(self, format: str, *args: object) -> None:
        pass


def on_term(signum: int, frame: object) -> None:
    note("term")
    if MODE != "ignore-term":
        os._exit(0)


def main() -> None:
    note("start")
    if MODE == "exit":
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_term)
    if MODE in ("tree", "escape"):
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(3600)"],
            start_new_session=MODE == "escape",
        )
        note(f"child-{child.pid}")
    if MODE == "leak":
        hoard = []

        def grow() -> None:
            while True:
                hoard.append(bytearray(8 * 2**20))
                time.sleep(0.05)

        threading.Thread(target=grow, daemon=True).start()
    if MODE == "beat":
        from bulletproof.supervise import heartbeat

        def beat() -> None:
            for _ in range(10):
                heartbeat()
                time.sleep(0.1)

        threading.Thread(target=beat, daemon=True).start()
    if "BULLETPROOF_SUPERVISOR_FD" in os.environ:
        server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=int(os.environ["BULLETPROOF_SUPERVISOR_FD"]))
    else:
        server = HTTPServer(("127.0.0.1", PORT), Handler)
    sys.stdout.write(f"serving {os.getpid()}\n")
    sys.stdout.flush()
    server.serve_forever()


main()
