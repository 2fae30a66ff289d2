#!/usr/bin/env python3
"""The scale benchmark (`make bench-scale`, part of `make bench`): 10,000
connections from one thread, libwsclient's C API on epoll (benches/scale.c)
beside Python `websockets` on asyncio (benches/scale_websockets.py) and
this project's asyncio binding (benches/scale_wsclient_asyncio.py), each
against a fresh local echo server in another process
(examples/scale_server.rs: one thread, epoll). Prints a table with ratios;
asserts nothing.

    scale.py --client build/benches/scale --server target/release/examples/scale_server

Each client opens N connections (at most SCALE_INFLIGHT connecting at once)
with keepalive on, then sits idle while the keepalive pings go out: each
connection pings ROUNDS times in the idle window, which runs one second
past the last ping due. The C client's connect phase is shorter than the
interval, so it sends no ping while opening; websockets' is longer, so it
starts keepalive once all are open (see scale_websockets.py). A keepalive
round's CPU is the window's CPU time per N pongs received.

Environment: SCALE_CONNS (10000), SCALE_INFLIGHT (256),
SCALE_KEEPALIVE_MS (3000), SCALE_ROUNDS (1).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The goals of the issue.
HEAP_GOAL = 8 << 10       # bytes of heap per idle ws:// connection
CONNECT_RATE_GOAL = 5.0   # our connects per second / websockets'
ASYNCIO_RATE_GOAL = 1.0   # our asyncio binding's connects per second / websockets'


def env_int(name, default):
    return int(os.environ.get(name, default))


def server_cpu_s(pid):
    """User + system time of a process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(name, command, server, n, interval, rounds, inflight):
    """Start a fresh server, run one client against it: its figures."""
    srv = subprocess.Popen([server], stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        if not line.startswith("PORT "):
            sys.exit(f"scale: the server did not start ({line!r})")
        uri = f"ws://127.0.0.1:{int(line.split()[1])}/"
        print(f"scale: {name}: {n} connections ...", flush=True)
        cpu0 = server_cpu_s(srv.pid)
        result = subprocess.run([*command, uri, str(n), str(interval), str(rounds), str(inflight)],
                                capture_output=True, text=True, timeout=300)
        server_cpu = server_cpu_s(srv.pid) - cpu0
    finally:
        srv.kill()
        srv.wait()
    sys.stderr.write(result.stderr)
    figures = {k: float(v) for k, v in (l.split() for l in result.stdout.splitlines() if l.strip())}
    if result.returncode != 0 or figures.get("failed", 1) != 0:
        print(f"scale: {name} exited with {result.returncode}; its figures: {figures}")
    figures["server_cpu_s"] = server_cpu
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--client", required=True, help="the C client (build/benches/scale)")
    p.add_argument("--server", required=True, help="the echo server (scale_server)")
    args = p.parse_args()
    n = env_int("SCALE_CONNS", 10000)
    inflight = env_int("SCALE_INFLIGHT", 256)
    interval = env_int("SCALE_KEEPALIVE_MS", 3000)
    rounds = env_int("SCALE_ROUNDS", 1)

    print(f"\n## Scale: {n:,} connections from one thread\n")
    ours = run_client("wsclient (C, epoll)", [args.client], args.server, n, interval, rounds, inflight)
    theirs = run_client("websockets (asyncio)", [sys.executable, str(HERE / "scale_websockets.py")],
                        args.server, n, interval, rounds, inflight)
    binding = run_client("wsclient.asyncio", [sys.executable, str(HERE / "scale_wsclient_asyncio.py")],
                         args.server, n, interval, rounds, inflight)

    def per_round(f):
        """CPU seconds per keepalive round: n pings sent and answered."""
        return f["window_cpu_s"] / (f["pongs"] / n) if f["pongs"] else float("nan")

    def figures(f):
        return [n / f["connect_s"], f["connect_cpu_s"] / n * 1e6, f.get("heap_bytes", 0) / n / 1024 or None,
                f.get("heap_window_bytes", 0) / n / 1024 or None, f["rss_bytes"] / n / 1024, per_round(f) * 1e3]

    labels = [
        # (figure, unit format, True when higher is better)
        ("connections opened per second", "{:,.0f}", True),
        ("client CPU per connection opened (µs)", "{:,.0f}", False),
        ("heap per idle connection (KiB, mallinfo2)", "{:.2f}", False),
        ("  the same after its keepalive pings", "{:.2f}", False),
        ("RSS per idle connection (KiB, VmRSS)", "{:.2f}", False),
        (f"CPU per keepalive round (ms, {n:,} pings)", "{:,.1f}", False),
    ]
    head = ["", "wsclient (C)", "wsclient.asyncio", "websockets", "C vs websockets", "asyncio vs websockets"]
    table = [head]
    for (label, fmt, higher), a, c, b in zip(labels, figures(ours), figures(binding), figures(theirs)):
        def ratio(x):
            return "" if x is None or b is None else f"{(x / b if higher else b / x):.1f}x"

        def shown(x):
            return "-" if x is None else fmt.format(x)

        table.append([label, shown(a), shown(c), shown(b), ratio(a), ratio(c)])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for k, r in enumerate(table):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))

    print(f"\n  {inflight} connecting at once; keepalive every {interval} ms; idle window "
          f"{ours['window_s']:.1f} s (C) and {theirs['window_s']:.1f} s (websockets); pongs per "
          f"connection in it: at least {ours['min_pongs']:.0f} (C), {theirs['min_pongs']:.0f} (websockets).")
    def kernel(f, phase):
        return f"{f[phase + '_sys_s'] / f[phase + '_cpu_s']:.0%}" if f[phase + "_cpu_s"] else "-"

    print(f"  Client CPU in the kernel: connect {kernel(ours, 'connect')} (C), {kernel(theirs, 'connect')} "
          f"(websockets); keepalive {kernel(ours, 'window')} (C), {kernel(theirs, 'window')} (websockets).")
    print(f"  Server CPU over each run: {ours['server_cpu_s']:.2f} s (C run), "
          f"{theirs['server_cpu_s']:.2f} s (websockets run). websockets offers no compression here, as the C client.")
    print("  Heap: malloc'd bytes held (mallinfo2: allocated chunks + mmapped) after opening minus before, per "
          "connection;\n  websockets' objects live in pymalloc's mmapped arenas, so only its RSS is comparable. "
          "Kernel socket buffers count in neither.")
    if ours["connect_s"] * 1000 > interval:
        print("  Note: the C connect phase outlasted the keepalive interval: pings began before "
              "all were open (raise SCALE_KEEPALIVE_MS).")

    heap = ours["heap_bytes"] / n
    rate = (n / ours["connect_s"]) / (n / theirs["connect_s"])
    heap_verdict = "met" if heap <= HEAP_GOAL else f"missed by {heap - HEAP_GOAL:,.0f} bytes ({heap / HEAP_GOAL - 1:.0%})"
    rate_verdict = "met" if rate >= CONNECT_RATE_GOAL else f"missed ({rate / CONNECT_RATE_GOAL:.0%} of the goal)"
    arate = binding["connect_s"] and theirs["connect_s"] / binding["connect_s"]
    arate_verdict = "met" if arate >= ASYNCIO_RATE_GOAL else f"missed ({arate:.0%} of websockets')"
    print(f"\n  Goal: heap per idle ws:// connection <= 8 KiB: {heap / 1024:.2f} KiB, {heap_verdict}.")
    print(f"  Goal: connect rate >= 5x websockets': {rate:.1f}x, {rate_verdict}.")
    print(f"  Goal: the asyncio binding's connect rate >= websockets': {arate:.1f}x, {arate_verdict}.")
    failed = int(ours.get("failed", 1) + theirs.get("failed", 1) + binding.get("failed", 1))
    if failed:
        print(f"  {failed} connections failed: see above.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
