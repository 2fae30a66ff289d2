#!/usr/bin/env python3
"""Echo round trips per second and client CPU per message: wsclient's sync
and asyncio APIs beside websocket-client and websockets (sync and asyncio),
against the same local echo server (tests/servers/echo_server.py, Python
websockets), in one run. Not a test: it prints a table.

    .venv/bin/python bindings/python/bench.py [--seconds 1.0] [--rounds 3] [--sizes 16,1024,65536,1048576]

Each measurement sends one binary message and waits for its echo, so the
rate includes the server's time (a Python server: often the bottleneck at
small sizes). The client's own CPU time per round trip (time.process_time
of this process; the server is another process) shows the clients' cost
more directly. Clients alternate, --rounds times; the best round counts.
No compression, no size limit, keepalive off, for every client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "servers"))

import websocket  # noqa: E402  (websocket-client)
import websockets  # noqa: E402
import websockets.asyncio.client  # noqa: E402
import websockets.sync.client  # noqa: E402
from harness import echo_server  # noqa: E402

import wsclient  # noqa: E402
import wsclient.asyncio.client  # noqa: E402
import wsclient.sync.client  # noqa: E402

Result = Tuple[float, float]  # (round trips per second, client CPU us per round trip)


def measure(roundtrip: Callable[[bytes], None], payload: bytes, seconds: float) -> Result:
    for _ in range(10):  # warm up
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


async def ameasure(roundtrip: Callable[[bytes], Awaitable[None]], payload: bytes, seconds: float) -> Result:
    for _ in range(10):
        await roundtrip(payload)
    n = 0
    start = time.perf_counter()
    cpu0 = time.process_time()
    deadline = start + seconds
    while True:
        await roundtrip(payload)
        n += 1
        now = time.perf_counter()
        if now >= deadline and n >= 10:
            return n / (now - start), (time.process_time() - cpu0) / n * 1e6


def wsclient_sync(url: str, payload: bytes, seconds: float) -> Result:
    with wsclient.sync.client.connect(url, compression=None, max_size=None, ping_interval=None) as ws:

        def roundtrip(data: bytes) -> None:
            ws.send(data)
            assert len(ws.recv()) == len(data)

        return measure(roundtrip, payload, seconds)


def wsclient_asyncio(url: str, payload: bytes, seconds: float) -> Result:
    async def main() -> Result:
        async with wsclient.asyncio.client.connect(url, compression=None, max_size=None, ping_interval=None) as ws:

            async def roundtrip(data: bytes) -> None:
                await ws.send(data)
                assert len(await ws.recv()) == len(data)

            return await ameasure(roundtrip, payload, seconds)

    return asyncio.run(main())


def websocket_client(url: str, payload: bytes, seconds: float) -> Result:
    ws = websocket.create_connection(url)
    try:

        def roundtrip(data: bytes) -> None:
            ws.send_binary(data)
            assert len(ws.recv()) == len(data)

        return measure(roundtrip, payload, seconds)
    finally:
        ws.close()


def websockets_sync(url: str, payload: bytes, seconds: float) -> Result:
    with websockets.sync.client.connect(url, compression=None, max_size=None, ping_interval=None) as ws:

        def roundtrip(data: bytes) -> None:
            ws.send(data)
            assert len(ws.recv()) == len(data)

        return measure(roundtrip, payload, seconds)


def websockets_asyncio(url: str, payload: bytes, seconds: float) -> Result:
    async def main() -> Result:
        async with websockets.asyncio.client.connect(url, compression=None, max_size=None, ping_interval=None) as ws:

            async def roundtrip(data: bytes) -> None:
                await ws.send(data)
                assert len(await ws.recv()) == len(data)

            return await ameasure(roundtrip, payload, seconds)

    return asyncio.run(main())


CLIENTS: Dict[str, Callable[[str, bytes, float], Result]] = {
    "wsclient sync": wsclient_sync,
    "wsclient asyncio": wsclient_asyncio,
    "websockets sync": websockets_sync,
    "websockets asyncio": websockets_asyncio,
    "websocket-client": websocket_client,
}


def human(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best counts")
    p.add_argument("--sizes", default="16,1024,65536,1048576")
    p.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated, of: " + ", ".join(CLIENTS))
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"wsclient {wsclient.__version__} (libwsclient {wsclient.library_version()}), "
        f"websockets {websockets.__version__}, websocket-client {websocket.__version__}, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"echo round trips, one binary message in flight, best of {args.rounds} x {args.seconds:g} s\n")
    names = [n.strip() for n in args.clients.split(",")]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown:
        p.error(f"unknown clients: {unknown}")
    header = f"{'size':>7} | {'client':<18} | {'msg/s':>8} | {'CPU us/msg':>10} | vs websockets (same API): msg/s, CPU"
    print(header)
    print("-" * len(header))
    with echo_server("--max-size", str(64 << 20)) as port:
        url = f"ws://127.0.0.1:{port}/"
        for size in sizes:
            payload = os.urandom(size)
            best: Dict[str, Result] = {n: (0.0, float("inf")) for n in names}
            for _ in range(args.rounds):
                for name in names:
                    rate, cpu = CLIENTS[name](url, payload, args.seconds)
                    best[name] = (max(best[name][0], rate), min(best[name][1], cpu))
            rows: List[str] = []
            for name in names:
                rate, cpu = best[name]
                ratio = ""
                peer_name = "websockets " + name.split()[-1]
                if name.startswith("wsclient") and peer_name in best:
                    peer = best[peer_name]
                    ratio = f"{rate / peer[0]:.2f}x, {peer[1] / cpu:.2f}x less CPU"
                rows.append(f"{human(size):>7} | {name:<18} | {rate:>8,.0f} | {cpu:>10,.1f} | {ratio}")
            print("\n".join(rows), flush=True)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
