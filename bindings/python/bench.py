#!/usr/bin/env python3
"""Echo round trips per second and client CPU per message: wsclient's sync
and asyncio APIs beside websocket-client and websockets (sync and asyncio),
and a raw-TCP client (a socket, a length prefix) as the floor, against the
same local servers, in one run; then bursts of small messages. Not a test:
it prints tables.

    .venv/bin/python bindings/python/bench.py [--seconds 1.0] [--rounds 3] [--sizes 16,1024,65536,1048576]

The servers (--server cheap, the default) are the Rust bench's cheap
WebSocket echo and length-prefixed raw echo (examples/bench_servers.rs,
built with cargo on first use), so the clients set the pace; --server
websockets uses the Python websockets test server instead (no raw TCP).
Each round trip sends one binary message and waits for its echo. The
client's own CPU time per round trip (time.process_time of this process)
shows the clients' cost more directly. Clients alternate, --rounds times;
the best round counts. No compression, no size limit, keepalive off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple

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
ROOT = HERE.parents[1]
BATCH, BATCH_SIZE = 256, 128


@contextlib.contextmanager
def cheap_servers() -> Iterator[Tuple[int, int]]:
    """The Rust bench's echo servers: (WebSocket port, raw TCP port)."""
    exe = ROOT / "target" / "release" / "examples" / "bench_servers"
    subprocess.run(["cargo", "build", "-q", "--release", "--example", "bench_servers"], cwd=ROOT, check=True)
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ports = dict(proc.stdout.readline().split() for _ in range(2))
        yield int(ports["WS"]), int(ports["RAW"])
    finally:
        proc.kill()
        proc.wait()


def raw_tcp(port: int, payload: bytes, seconds: float) -> Result:
    """The floor: the same bytes with a 4-byte length prefix, no framing."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        frame = len(payload).to_bytes(4, "little") + payload
        back = bytearray(len(frame))
        view = memoryview(back)

        def roundtrip(_: bytes) -> None:
            s.sendall(frame)
            got = 0
            while got < len(frame):
                got += s.recv_into(view[got:])

        return measure(roundtrip, payload, seconds)


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


def batched(burst: Callable[[], None], seconds: float) -> float:
    """Messages per second over bursts of BATCH sends then BATCH receives."""
    burst()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        burst()
        n += BATCH
    return n / (time.perf_counter() - start)


def ws_bursts(send: Callable[[bytes, bool], None], recv: Callable[[], Any], seconds: float) -> float:
    """batched() for a WebSocket client: `send(payload, more)`, where `more`
    says another message of the burst follows (for clients that can batch)."""
    payload = os.urandom(BATCH_SIZE)

    def burst() -> None:
        for i in range(BATCH):
            send(payload, i + 1 < BATCH)
        for _ in range(BATCH):
            recv()

    return batched(burst, seconds)


def batched_wsclient(url: str, raw_port: Optional[int], seconds: float) -> float:
    with wsclient.connect(url) as ws:
        return ws_bursts(lambda data, more: ws.send_binary(data, more=more), ws.recv, seconds)


def batched_websocket_client(url: str, raw_port: Optional[int], seconds: float) -> float:
    ws = websocket.create_connection(url)
    try:
        return ws_bursts(lambda data, _: ws.send_binary(data), ws.recv, seconds)
    finally:
        ws.close()


def batched_websockets(url: str, raw_port: Optional[int], seconds: float) -> float:
    with websockets.sync.client.connect(url, compression=None, max_size=None, ping_interval=None) as ws:
        return ws_bursts(lambda data, _: ws.send(data), ws.recv, seconds)


def batched_raw(url: str, raw_port: Optional[int], seconds: float) -> float:
    assert raw_port is not None
    with socket.create_connection(("127.0.0.1", raw_port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        frame = BATCH_SIZE.to_bytes(4, "little") + os.urandom(BATCH_SIZE)
        batch = frame * BATCH
        back = bytearray(len(batch))
        view = memoryview(back)

        def burst() -> None:
            s.sendall(batch)
            got = 0
            while got < len(batch):
                got += s.recv_into(view[got:])

        return batched(burst, seconds)


BATCHED: Dict[str, Callable[[str, Optional[int], float], float]] = {
    "wsclient (more=)": batched_wsclient,
    "websockets sync": batched_websockets,
    "websocket-client": batched_websocket_client,
    "raw TCP": batched_raw,
}

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
    p.add_argument("--server", choices=["cheap", "websockets"], default="cheap")
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
    header = f"{'size':>7} | {'client':<18} | {'msg/s':>8} | {'CPU us/msg':>10} | vs websockets (same API): msg/s, CPU | vs raw TCP"
    print(header)
    print("-" * len(header))
    with contextlib.ExitStack() as stack:
        raw_port: Optional[int] = None
        if args.server == "cheap":
            port, raw_port = stack.enter_context(cheap_servers())
        else:
            port = stack.enter_context(echo_server("--max-size", str(64 << 20)))
        url = f"ws://127.0.0.1:{port}/"
        for size in sizes:
            payload = os.urandom(size)
            best: Dict[str, Result] = {n: (0.0, float("inf")) for n in names}
            raw_best = 0.0
            for _ in range(args.rounds):
                for name in names:
                    rate, cpu = CLIENTS[name](url, payload, args.seconds)
                    best[name] = (max(best[name][0], rate), min(best[name][1], cpu))
                if raw_port is not None:
                    raw_best = max(raw_best, raw_tcp(raw_port, payload, args.seconds)[0])
            rows: List[str] = []
            for name in names:
                rate, cpu = best[name]
                ratio = ""
                peer_name = "websockets " + name.split()[-1]
                if name.startswith("wsclient") and peer_name in best:
                    peer = best[peer_name]
                    ratio = f"{rate / peer[0]:.2f}x, {peer[1] / cpu:.2f}x less CPU"
                vs_raw = f"{rate / raw_best:.2f}" if raw_best else ""
                rows.append(f"{human(size):>7} | {name:<18} | {rate:>8,.0f} | {cpu:>10,.1f} | {ratio:<36} | {vs_raw}")
            if raw_best:
                rows.append(f"{human(size):>7} | {'raw TCP (socket)':<18} | {raw_best:>8,.0f} |")
            print("\n".join(rows), flush=True)
            print()
        print(f"{BATCH} messages of {BATCH_SIZE} B sent as a burst, then their echoes received; best of {args.rounds}")
        rates: Dict[str, float] = {}
        for _ in range(args.rounds):
            for name, fn in BATCHED.items():
                if name == "raw TCP" and raw_port is None:
                    continue
                rates[name] = max(rates.get(name, 0.0), fn(url, raw_port, args.seconds))
        ours = rates["wsclient (more=)"]
        for name, rate in rates.items():
            print(f"{name:<18} | {rate:>10,.0f} msg/s | wsclient/this {ours / rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
