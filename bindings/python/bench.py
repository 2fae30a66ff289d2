#!/usr/bin/env python3
"""Echo round trips per second: wsclient vs websocket-client (`websocket`),
against the same local echo server (tests/servers/echo_server.py, Python
websockets), in one run. Not a test: it prints a table with ratios.

    .venv/bin/python bindings/python/bench.py [--seconds 1.0] [--sizes 16,1024,65536,1048576]

Each measurement sends one binary message and waits for its echo, so the
round-trip rate includes the server's time (a Python server: often the
bottleneck). The client's own CPU time per message (time.process_time of
this process; the server is another process) shows the clients' cost more
directly. Measurements alternate between the clients, --rounds times, and
the best round of each is reported, to damp noise from other processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "servers"))

import websocket  # noqa: E402  (websocket-client)
from harness import echo_server  # noqa: E402

import wsclient  # noqa: E402


def measure(roundtrip: Callable[[bytes], None], payload: bytes, seconds: float) -> Tuple[float, float]:
    """(round trips per second, client CPU microseconds per round trip)."""
    for _ in range(20):  # warm up
        roundtrip(payload)
    n = 0
    start = time.perf_counter()
    cpu0 = time.process_time()
    deadline = start + seconds
    while True:
        roundtrip(payload)
        n += 1
        now = time.perf_counter()
        if now >= deadline and n >= 10:
            return n / (now - start), (time.process_time() - cpu0) / n * 1e6


def bench_wsclient(url: str, payload: bytes, seconds: float) -> Tuple[float, float]:
    with wsclient.connect(url) as conn:
        assert wsclient.is_ws_connection(conn)

        def roundtrip(data: bytes) -> None:
            conn.send_binary(data)
            msg = conn.recv()
            assert msg is not None and msg.size == len(data)
            msg.data  # noqa: B018 - copy the data into Python, as websocket-client does

        return measure(roundtrip, payload, seconds)


def bench_websocket_client(url: str, payload: bytes, seconds: float) -> Tuple[float, float]:
    ws = websocket.create_connection(url)
    try:

        def roundtrip(data: bytes) -> None:
            ws.send_binary(data)
            got = ws.recv()
            assert len(got) == len(data)

        return measure(roundtrip, payload, seconds)
    finally:
        ws.close()


def human(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best counts")
    p.add_argument("--sizes", default="16,1024,16384,65536,1048576")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"wsclient {wsclient.__version__} (libwsclient {wsclient.library_version()}) "
          f"vs websocket-client {websocket.__version__}, Python {sys.version.split()[0]}")
    print("echo round trips, one binary message in flight, no compression, "
          f"best of {args.rounds} x {args.seconds:g} s\n")
    header = (f"{'size':>9} | {'wsclient msg/s':>14} | {'websocket-client msg/s':>22} | {'ratio':>6} "
              f"| {'client CPU us/msg: ours':>23} | {'theirs':>8} | {'ratio':>6}")
    print(header)
    print("-" * len(header))
    with echo_server() as port:
        url = f"ws://127.0.0.1:{port}/"
        for size in sizes:
            payload = os.urandom(size)
            ours = (0.0, float("inf"))
            theirs = (0.0, float("inf"))
            for _ in range(args.rounds):
                rate, cpu = bench_wsclient(url, payload, args.seconds)
                ours = (max(ours[0], rate), min(ours[1], cpu))
                rate, cpu = bench_websocket_client(url, payload, args.seconds)
                theirs = (max(theirs[0], rate), min(theirs[1], cpu))
            print(
                f"{human(size):>9} | {ours[0]:>14,.0f} | {theirs[0]:>22,.0f} | {ours[0] / theirs[0]:>5.2f}x "
                f"| {ours[1]:>23,.1f} | {theirs[1]:>8,.1f} | {theirs[1] / ours[1]:>5.2f}x",
                flush=True,
            )
    print("\nratios: wsclient relative to websocket-client, higher is better for wsclient "
          "(msg/s: ours / theirs; CPU: theirs / ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
