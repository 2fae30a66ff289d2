#!/usr/bin/env python3
"""The scale benchmark's third client (benches/scale.py runs it): this
project's asyncio binding (`wsclient.asyncio`, websockets' API over the C
library) doing what scale_websockets.py does, printing the same
"name value" lines.

    scale_wsclient_asyncio.py URI N INTERVAL_MS ROUNDS INFLIGHT

Opens N connections, at most INFLIGHT connecting at once, no compression,
keepalive (the library's: ping_interval) on from the start; then sits idle
for ROUNDS intervals and a second, counting the pongs the library
recorded. Memory is VmRSS growth; CPU is the process's user + system time.
"""

import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bindings" / "python"))

from scale_websockets import cpu_s, raise_fd_limit, rss_bytes  # noqa: E402

from wsclient._ffi import lib  # noqa: E402
from wsclient.asyncio.client import connect  # noqa: E402


def pongs_of(conn) -> int:
    # The library counts the pongs; the binding keeps its handle private.
    return int(lib.ws_conn_pong_count(conn._conn._ptr))


async def main(uri: str, n: int, interval_ms: int, rounds: int, inflight: int) -> int:
    raise_fd_limit(n + inflight + 64)

    def open_one():
        return connect(uri, compression=None, ping_interval=interval_ms / 1000, ping_timeout=10)

    async with open_one():
        pass
    gc.collect()
    conns: list = []
    errors: list = []
    active = [0]

    async def opener() -> None:
        while len(conns) + len(errors) + active[0] < n:
            active[0] += 1
            try:
                conns.append(await open_one())
            except Exception as e:  # noqa: BLE001 (reported, then counted)
                errors.append(e)
            finally:
                active[0] -= 1

    rss0, cpu0, sys0, t0 = rss_bytes(), cpu_s(), cpu_s(True), time.perf_counter()
    await asyncio.gather(*(opener() for _ in range(min(inflight, n))))
    connect_s, connect_cpu, connect_sys = time.perf_counter() - t0, cpu_s() - cpu0, cpu_s(True) - sys0
    gc.collect()
    print(f"connect_s {connect_s:.6f}\nconnect_cpu_s {connect_cpu:.6f}\nconnect_sys_s {connect_sys:.6f}")
    print(f"rss_bytes {rss_bytes() - rss0}")
    if errors:
        print(f"scale_wsclient_asyncio: {len(errors)} connects failed, first: {errors[0]!r}", file=sys.stderr)

    before = [pongs_of(c) for c in conns]
    cpu_w, sys_w, t_w = cpu_s(), cpu_s(True), time.perf_counter()
    await asyncio.sleep(interval_ms * rounds / 1000 + 1)
    window_s, window_cpu, window_sys = time.perf_counter() - t_w, cpu_s() - cpu_w, cpu_s(True) - sys_w
    pongs = [pongs_of(c) - b for c, b in zip(conns, before)]
    lost = sum(c.close_code is not None for c in conns)
    print(f"window_s {window_s:.3f}\nwindow_cpu_s {window_cpu:.6f}\nwindow_sys_s {window_sys:.6f}")
    print(f"pongs {sum(pongs)}\nmin_pongs {min(pongs, default=0)}")
    print(f"failed {len(errors) + lost}", flush=True)
    return 0 if not errors and not lost else 1


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: scale_wsclient_asyncio.py URI N INTERVAL_MS ROUNDS INFLIGHT")
    uri, *numbers = sys.argv[1:]
    sys.exit(asyncio.run(main(uri, *map(int, numbers))))
