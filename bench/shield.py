"""The shield end to end: throughput of headers + inspection against headers alone, same run.

    uv run python bench/shield.py [--requests 20000] [--rounds 5]

uvicorn (h11, asyncio loop) serving a Starlette hello world behind BulletproofMiddleware, two
variants served one after another, interleaved over rounds: ``headers`` (the guard with the
security headers only) and ``shield`` (the same guard with the Shield in block mode). The load
is 4 client processes on keep-alive connections sending browser-like requests: each client has
its own session cookie and sends the same headers every time (a User-Agent, Accept headers,
a Referer), as a browser does, and every request has a query string of its own (no two request
lines are alike, so nothing of the request line is remembered from one request to the next).
Printed per variant: requests per second (wall clock,
median of rounds) and server CPU per request (user+system of the server process, psutil).
Target (issue 8): shield throughput >= 0.85x of headers alone.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import _load as load
import psutil

VARIANTS = ("headers", "shield")
REQUEST = (
    b"GET /search?q=running+shoes+%(n)d&size=42&sort=price_asc HTTP/1.1\r\n"
    b"Host: shop.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/126.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Cookie: session=MDAkmI2ry0xYbeIE6Yqh%(client)d; theme=dark\r\n"
    b"Referer: https://shop.example.com/home\r\n\r\n"
)


def _client(port: int, count: int, client: int = 0) -> None:
    """One client: its own session cookie, a query string of its own on every request."""
    requests = [REQUEST % {b"n": n, b"client": client} for n in range(count)]
    load.client(port, requests, count, expect_200=True)


def measure(variant: str, requests: int, clients: int = 4) -> tuple[float, float]:
    """(requests per second, server CPU microseconds per request) for one round."""
    port = load.free_port()
    proc = load.serve("_shield_app:app", variant, port)
    try:
        _client(port, 300)  # warm up (the inspector's DFA fills its cache)
        ps = psutil.Process(proc.pid)
        before = ps.cpu_times()
        ctx = multiprocessing.get_context("spawn")
        per = requests // clients
        workers = [
            ctx.Process(target=_client, args=(port, per, client)) for client in range(clients)
        ]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - start
        after = ps.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return per * clients / wall, used / (per * clients) * 1e6
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rps: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            r, c = measure(variant, args.requests)
            rps[variant].append(r)
            cpu[variant].append(c)
    med_rps = {v: statistics.median(xs) for v, xs in rps.items()}
    med_cpu = {v: statistics.median(xs) for v, xs in cpu.items()}
    for v in VARIANTS:
        print(
            f"{v:<8}: {med_rps[v]:8.0f} requests/s, server CPU {med_cpu[v]:6.1f} us/request "
            f"(rounds: {', '.join(f'{x:.0f}' for x in rps[v])} requests/s)"
        )
    ratio = med_rps["shield"] / med_rps["headers"]
    print(
        f"throughput, shield / headers alone: {ratio:.3f}x  target >= 0.85x: "
        f"{'PASS' if ratio >= 0.85 else 'FAIL'}"
    )
    print(
        f"server CPU, shield - headers alone: {med_cpu['shield'] - med_cpu['headers']:.1f} us "
        f"per request ({med_cpu['shield'] / med_cpu['headers']:.3f}x)"
    )


if __name__ == "__main__":
    main()
