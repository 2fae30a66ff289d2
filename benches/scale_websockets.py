#!/usr/bin/env python3
"""The scale benchmark's peer client (benches/scale.py runs it): Python
`websockets` (asyncio) doing what benches/scale.c does with libwsclient,
and printing the same "name value" lines.

    scale_websockets.py URI N INTERVAL_MS ROUNDS INFLIGHT

Opens N connections, at most INFLIGHT connecting at once, no compression
offered (as the C client); then turns keepalive on (websockets'
ping_interval), and sits idle for ROUNDS intervals (and a second),
counting the pongs. Keepalive starts only once all are open because this
client's connect phase outlasts a short interval: pings would then be
counted as connect time, and fall outside the idle window. So its first
pings go out together, where the C client's are spread over its (short)
connect phase.

Memory is VmRSS growth, keepalive tasks included (Python's object
allocator takes its arenas from mmap, not malloc, so mallinfo2 would miss
most of it); CPU is the process's user + system time.
"""

import asyncio
import gc
import os
import resource
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State


class CountingConnection(ClientConnection):
    """Counts the pongs that answer our pings (websockets keeps no count).
    The counter appears with the first pong, after memory was measured."""

    def acknowledge_pings(self, data: bytes) -> None:
        if data in self.pending_pings:
            self.pongs = getattr(self, "pongs", 0) + 1
        super().acknowledge_pings(data)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def cpu_s(system_only: bool = False) -> float:
    """CPU time of the process: user + system, or system only."""
    t = os.times()
    return t.system if system_only else t.user + t.system


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"scale_websockets: {need} descriptors needed, the hard limit is {hard}: lower SCALE_CONNS")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


async def main(uri: str, n: int, interval_ms: int, rounds: int, inflight: int) -> int:
    raise_fd_limit(n + inflight + 64)

    def open_one():
        return connect(uri, compression=None, ping_interval=None, create_connection=CountingConnection)

    # One connection first, so that one-time costs are not counted per connection.
    async with open_one():
        pass
    gc.collect()
    conns: list = []
    errors: list = []

    async def opener() -> None:
        # A few workers, not N tasks at once: N pending tasks would
        # inflate the memory measured.
        while len(conns) + len(errors) + active[0] < n:
            active[0] += 1
            try:
                conns.append(await open_one())
            except Exception as e:  # noqa: BLE001 (reported, then counted)
                errors.append(e)
            finally:
                active[0] -= 1

    active = [0]
    rss0, cpu0, sys0, t0 = rss_bytes(), cpu_s(), cpu_s(True), time.perf_counter()
    await asyncio.gather(*(opener() for _ in range(min(inflight, n))))
    connect_s, connect_cpu, connect_sys = time.perf_counter() - t0, cpu_s() - cpu0, cpu_s(True) - sys0
    for c in conns:
        # What connect(ping_interval=..., ping_timeout=10) does once open.
        c.ping_interval, c.ping_timeout = interval_ms / 1000, 10
        c.start_keepalive()
    gc.collect()
    print(f"connect_s {connect_s:.6f}\nconnect_cpu_s {connect_cpu:.6f}\nconnect_sys_s {connect_sys:.6f}")
    print(f"rss_bytes {rss_bytes() - rss0}")
    if errors:
        print(f"scale_websockets: {len(errors)} connects failed, first: {errors[0]!r}", file=sys.stderr)

    cpu_w, sys_w, t_w = cpu_s(), cpu_s(True), time.perf_counter()
    # As scale.c: `rounds` pings per connection, and a second for the last pongs.
    await asyncio.sleep(interval_ms * rounds / 1000 + 1)
    window_s, window_cpu, window_sys = time.perf_counter() - t_w, cpu_s() - cpu_w, cpu_s(True) - sys_w
    pongs = [getattr(c, "pongs", 0) for c in conns]
    lost = sum(c.state is not State.OPEN for c in conns)
    print(f"window_s {window_s:.3f}\nwindow_cpu_s {window_cpu:.6f}\nwindow_sys_s {window_sys:.6f}")
    print(f"pongs {sum(pongs)}\nmin_pongs {min(pongs, default=0)}")
    print(f"failed {len(errors) + lost}", flush=True)
    for c in conns:
        c.transport.abort()
    return 0 if not errors and not lost else 1


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: scale_websockets.py URI N INTERVAL_MS ROUNDS INFLIGHT")
    uri, *numbers = sys.argv[1:]
    sys.exit(asyncio.run(main(uri, *map(int, numbers))))
