"""A server that exits after answering ``/crash`` (``bench/supervise.py``).

``python -I -S _crash_server.py PORT``: serves the socket ``bulletproof run --bind`` handed over
(fd 3) when there is one, else binds 127.0.0.1:PORT itself (SO_REUSEADDR, as servers do). Every
request is answered 200; after answering ``GET /crash`` it exits 1.
"""

import os
import socket
import sys

fd = os.environ.get("BULLETPROOF_SUPERVISOR_FD")
if fd:
    listener = socket.socket(fileno=int(fd))
else:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen(128)
while True:
    conn, _ = listener.accept()
    request = conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    conn.close()
    if request.startswith(b"GET /crash "):
        sys.exit(1)
