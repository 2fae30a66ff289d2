#!/usr/bin/env python3
"""The small-message benchmark (`make bench-small`, part of `make bench`):
libwsclient's C API and Python binding beside tungstenite, Python
websockets and websocket-client and a raw-TCP floor, every client a process
of its own against a fresh cheap echo server (benches/small_server.c, a
process of its own too). Prints markdown tables with ratios; asserts nothing.

    small.py --server build/benches/small_server --c-client build/benches/small_client \\
             --tungstenite target/bench-peers/release/tungstenite_client [--rounds 5] [--messages 200000]

Workloads (issue 24; the C client also runs with a trace callback, for
issue 23's cost of tracing):
- small: --messages text messages of 128 bytes, 256 in flight: write 256
  (the C client with WS_SEND_MORE, then ws_conn_flush; tungstenite `write`
  x256, then one `flush`; raw TCP the same frames' bytes, built beforehand,
  in one write), then read the 256 echoes (the C client once with
  ws_recv_message and a handle a message, once with ws_recv_messages, every
  echo already received in one call, and once sending each batch with one
  ws_send_messages call as well); repeat. Every client below, the
  Python ones as benches/small_python.py describes.
- round trip: --rtt-messages text messages of 32 bytes, one at a time:
  send, wait for the echo (C, tungstenite, raw TCP).
- 1 MiB: --large-messages text, then binary, messages of 1 MiB, one at a
  time (C, tungstenite, raw TCP).

Each round runs every client once, in an order rotated by one each round;
figures are medians over rounds, and a ratio is the median of the ratios of
the same round (runs close together: on a shared machine a run can lose its
core). msg/s counts the timed messages over their wall time; CPU per
message is the client process's user and system time over the same span
(its own getrusage: not its start-up or connect), and the server's whole
CPU time (wait4) over the messages.

Where the kernel puts the two processes matters as much as the clients do:
a batch is a ping-pong, and waking a process on the other CPU costs far
more than on the same one (on a 2-core VM, tungstenite's 128-byte rate was
4.3 M msg/s with both on one CPU, 1.2 M on two; ours 1.45 M and 0.75 M).
Unpinned (the default, as issue 24 measured), a run gets either; --pin same
or --pin split fixes the placement for steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Set

HERE = Path(__file__).resolve().parent
PYTHON_CLIENT = HERE / "small_python.py"

SMALL_SIZE, SMALL_INFLIGHT = 128, 256
RTT_SIZE = 32
LARGE_SIZE = 1 << 20
CLIENT_TIMEOUT = 600  # seconds, per run
NOTES = """\
CPU µs/msg: the client's user + system time over its timed messages, then each part. The kernel
counts a process's run time exactly but splits it into user and system by sampling at each tick,
so on a short run the split is rough; the sum is not. Server: its whole run's CPU time (wait4)
per message. The whole client process's (start-up and connect too) is in --json."""


class Client(NamedTuple):
    name: str
    command: List[str]  # the client's command; URI, type, size, count, in flight follow


class Placement(NamedTuple):
    """The CPUs the client and the server may run on (None: any)."""
    client: Optional[Set[int]]
    server: Optional[Set[int]]


def placement(pin: str) -> Placement:
    """--pin: none (the kernel places both, as in issue 24), same (both on one
    CPU) or split (the client on one CPU, the server on another)."""
    if pin == "none":
        return Placement(None, None)
    cpus = sorted(os.sched_getaffinity(0))
    if pin == "split" and len(cpus) < 2:
        sys.exit("small: --pin split needs two CPUs")
    return Placement({cpus[0]}, {cpus[0] if pin == "same" else cpus[1]})


class Run(NamedTuple):
    messages: int
    seconds: float
    user_s: float
    sys_s: float
    process_user_s: float  # the whole client process (wait4): start-up and connect too
    process_sys_s: float
    server_s: float  # the server's user + system time (wait4)


def pinned(cpus: Optional[Set[int]]):
    """A preexec_fn that runs the child on `cpus` (None: where the kernel likes)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def run_once(client: Client, server: str, kind: str, size: int, count: int, inflight: int,
             placement: Placement) -> Optional[Run]:
    """A fresh server, one run of the client against it: its figures, or
    None when it failed (its output is shown)."""
    srv = subprocess.Popen([server], stdout=subprocess.PIPE, text=True, preexec_fn=pinned(placement.server))
    try:
        line = srv.stdout.readline() if srv.stdout else ""
        if not line.startswith("PORT "):
            sys.exit(f"small: the server did not start ({line!r})")
        uri = f"ws://127.0.0.1:{int(line.split()[1])}/"
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([*client.command, uri, kind, str(size), str(count), str(inflight)],
                                    stdout=out, stderr=err, preexec_fn=pinned(placement.client))
            timer = threading.Timer(CLIENT_TIMEOUT, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            output, errors = out.read(), err.read()
    finally:
        srv.send_signal(signal.SIGTERM)
        _, _, server_usage = os.wait4(srv.pid, 0)
        srv.returncode = 0
        if srv.stdout:
            srv.stdout.close()
    figures: Dict[str, float] = {}
    for row in output.splitlines():
        parts = row.split()
        if len(parts) == 2:
            try:
                figures[parts[0]] = float(parts[1])
            except ValueError:
                pass
    if proc.returncode != 0 or not {"messages", "seconds", "user_s", "sys_s"} <= figures.keys():
        print(f"small: {client.name} failed (exit {proc.returncode}):\n{errors}{output}", file=sys.stderr)
        return None
    return Run(int(figures["messages"]), figures["seconds"], figures["user_s"], figures["sys_s"],
               usage.ru_utime, usage.ru_stime, server_usage.ru_utime + server_usage.ru_stime)


def rounds(clients: List[Client], server: str, kind: str, size: int, count: int, inflight: int,
           n_rounds: int, label: str, placement: Placement) -> Dict[str, List[Optional[Run]]]:
    """results[client][round]; each round runs every client once, rotated."""
    results: Dict[str, List[Optional[Run]]] = {c.name: [] for c in clients}
    for r in range(n_rounds):
        print(f"small: {label}: round {r + 1} of {n_rounds} ...", file=sys.stderr, flush=True)
        for k in range(len(clients)):
            c = clients[(k + r) % len(clients)]
            results[c.name].append(run_once(c, server, kind, size, count, inflight, placement))
    return results


def rate(run: Optional[Run]) -> Optional[float]:
    return run.messages / run.seconds if run and run.seconds > 0 else None


def median(values: List[Optional[float]]) -> Optional[float]:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def paired(results: Dict[str, List[Optional[Run]]], ours: str, theirs: str) -> Optional[float]:
    """The median over rounds of ours' rate / theirs' in the same round."""
    if ours not in results or theirs not in results:
        return None
    ratios = []
    for a, b in zip(results[ours], results[theirs]):
        ra, rb = rate(a), rate(b)
        if ra and rb:
            ratios.append(ra / rb)
    return statistics.median(ratios) if ratios else None


def per_message_us(runs: List[Optional[Run]], field: str) -> Optional[float]:
    """The median over rounds of a CPU time (`cpu_s`: user + system) per message."""
    def value(r: Run) -> float:
        return r.user_s + r.sys_s if field == "cpu_s" else getattr(r, field)

    return median([value(r) / r.messages * 1e6 if r and r.messages else None for r in runs])


def si(x: Optional[float]) -> str:
    if x is None:
        return "failed"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}" if x < 100 * scale else f"{x / scale:.0f} {unit}"
    return f"{x:.3g}"


def times(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def us(x: Optional[float]) -> str:
    return "-" if x is None else (f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}")


def table(results: Dict[str, List[Optional[Run]]], baselines: List[str], peers: Dict[str, List[str]],
          size: int) -> str:
    """A markdown table: a line per client, ratios against each baseline
    (and, where given, a client's own peers)."""
    head = ["client", "msg/s"]
    if size >= 1 << 20:
        head.append("MB/s")
    head += [f"vs {b}" for b in baselines]
    if peers:
        head.append("vs Python peers")
    head += ["CPU µs/msg", "user µs/msg", "sys µs/msg", "server µs/msg"]
    rows = [head, ["---"] * len(head)]
    for name, runs in results.items():
        r = median([rate(x) for x in runs])
        row = [name, si(r)]
        if size >= 1 << 20:
            row.append("failed" if r is None else f"{r * size / 1e6:,.0f}")
        row += ["1.00" if name == b else times(paired(results, name, b)) for b in baselines]
        if peers:
            row.append(", ".join(f"{times(paired(results, name, p))}× {p}" for p in peers.get(name, [])))
        row += [us(per_message_us(runs, "cpu_s")), us(per_message_us(runs, "user_s")), us(per_message_us(runs, "sys_s")),
                us(per_message_us(runs, "server_s"))]
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def goal(label: str, ratio: Optional[float], target: float) -> str:
    if ratio is None:
        return f"- {label}: no figure (a client failed)."
    verdict = "met" if ratio >= target else f"missed ({ratio / target:.0%} of it)"
    return f"- {label} ≥ {target:g}×: {ratio:.2f}×, {verdict}."


def versions(python: str) -> str:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    lock = HERE / "peers" / "Cargo.lock"
    tung = "?"
    if lock.exists():
        text = lock.read_text()
        at = text.find('name = "tungstenite"\nversion = "')
        if at >= 0:
            tung = text[at:].split('"')[3]
    py = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                        text=True).stdout.strip()
    return (f"tungstenite {tung}, websockets {version('websockets')}, websocket-client "
            f"{version('websocket-client')}, Python {py}")


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--server", required=True, help="the echo server (build/benches/small_server)")
    p.add_argument("--c-client", required=True, help="the C client (build/benches/small_client)")
    p.add_argument("--tungstenite", required=True, help="the tungstenite client (benches/peers)")
    p.add_argument("--python", default=sys.executable, help="the Python with websockets and websocket-client")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--messages", type=int, default=200_000, help="128-byte messages per client and round")
    p.add_argument("--rtt-messages", type=int, default=50_000, help="32-byte round trips per client and round")
    p.add_argument("--large-messages", type=int, default=500, help="1 MiB messages per client, round and type")
    p.add_argument("--workloads", default="small,rtt,large", help="comma-separated, of: small, rtt, large")
    p.add_argument("--no-python", action="store_true", help="leave the Python clients out")
    p.add_argument("--pin", choices=["none", "same", "split"], default="none",
                   help="where the client and the server run: anywhere (the default), both on one CPU, or on two")
    p.add_argument("--json", help="write every run's figures here")
    args = p.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(workloads) - {"small", "rtt", "large"}
    if unknown or args.rounds < 1:
        p.error(f"unknown workloads {sorted(unknown)}" if unknown else "--rounds must be at least 1")

    raw = Client("raw TCP, same bytes", [args.c_client, "raw"])
    tungstenite = Client("tungstenite", [args.tungstenite])
    ours = Client("libwsclient C", [args.c_client, "ws"])
    batch = Client("libwsclient C, ws_recv_messages", [args.c_client, "ws-batch"])
    batches = Client("libwsclient C, ws_send_messages + ws_recv_messages", [args.c_client, "ws-batches"])
    traced = Client("libwsclient C, traced", [args.c_client, "ws-traced"])
    natives = [raw, tungstenite, ours]

    def py(name: str, mode: str) -> Client:
        return Client(name, [args.python, str(PYTHON_CLIENT), mode])

    pythons = [
        py("libwsclient Python sync", "wsclient-sync"),
        py("libwsclient Python asyncio", "wsclient-asyncio"),
        py("libwsclient Python more=True", "wsclient-more"),
        py("websockets sync", "websockets-sync"),
        py("websockets asyncio", "websockets-asyncio"),
        py("websocket-client", "websocket-client"),
    ]
    python_peers = {
        "libwsclient Python sync": ["websocket-client", "websockets sync"],
        "libwsclient Python asyncio": ["websockets asyncio"],
        "libwsclient Python more=True": ["websocket-client", "websockets sync"],
    }

    where = placement(args.pin)
    load_before = os.getloadavg()
    print(f"\n## Small messages (issue 24), {args.rounds} round{'s' if args.rounds > 1 else ''}, medians\n")
    cpu = {"client": min(where.client or {-1}), "server": min(where.server or {-1})}
    pins = {"none": "client and server unpinned", "same": f"client and server on CPU {cpu['client']}",
            "split": f"client on CPU {cpu['client']}, server on CPU {cpu['server']}"}[args.pin]
    print(f"{versions(args.python)}. Load average before: {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}; {pins}.")
    everything: Dict[str, Dict[str, List[Optional[Run]]]] = {}
    goals: List[str] = []

    if "small" in workloads:
        clients = natives + [batch, batches, traced] + ([] if args.no_python else pythons)
        res = rounds(clients, args.server, "text", SMALL_SIZE, args.messages, SMALL_INFLIGHT, args.rounds,
                     "128-byte text", where)
        everything["small"] = res
        print(f"\n### {args.messages:,} text messages of {SMALL_SIZE} bytes, {SMALL_INFLIGHT} in flight\n")
        print(table(res, ["tungstenite"], {} if args.no_python else python_peers, SMALL_SIZE))
        goals.append(goal("128-byte text, C (ws_recv_message) vs tungstenite",
                          paired(res, ours.name, tungstenite.name), 1.5))
        goals.append(goal("128-byte text, C (ws_recv_messages) vs tungstenite",
                          paired(res, batch.name, tungstenite.name), 1.5))
        goals.append(goal("128-byte text, C (ws_send_messages + ws_recv_messages) vs tungstenite",
                          paired(res, batches.name, tungstenite.name), 1.5))
        cost = paired(res, traced.name, ours.name)
        print(f"\nTracing (issue 23): a counting trace callback, two events a message, runs at "
              f"{cost:.2f}× the untraced rate." if cost else "\nTracing: no figure (a client failed).")
        if not args.no_python:
            goals.append(goal("128-byte text, Python sync vs websocket-client",
                              paired(res, "libwsclient Python sync", "websocket-client"), 5))
            goals.append(goal("128-byte text, Python sync vs websockets sync",
                              paired(res, "libwsclient Python sync", "websockets sync"), 2.5))
            goals.append(goal("128-byte text, Python asyncio vs websockets asyncio",
                              paired(res, "libwsclient Python asyncio", "websockets asyncio"), 2))

    if "rtt" in workloads:
        res = rounds(natives, args.server, "text", RTT_SIZE, args.rtt_messages, 1, args.rounds, "round trip",
                     where)
        everything["rtt"] = res
        print(f"\n### Round trip: {args.rtt_messages:,} text messages of {RTT_SIZE} bytes, one at a time\n")
        print(table(res, [raw.name, "tungstenite"], {}, RTT_SIZE))
        goals.append(goal("32-byte round trip, C vs raw TCP", paired(res, ours.name, raw.name), 0.97))

    if "large" in workloads:
        for kind, target in (("text", 0.8), ("binary", 0.85)):
            res = rounds(natives, args.server, kind, LARGE_SIZE, args.large_messages, 1, args.rounds,
                         f"1 MiB {kind}", where)
            everything[f"large-{kind}"] = res
            print(f"\n### {args.large_messages:,} {kind} messages of 1 MiB, one at a time\n")
            print(table(res, [raw.name, "tungstenite"], {}, LARGE_SIZE))
            goals.append(goal(f"1 MiB {kind}, C vs raw TCP", paired(res, ours.name, raw.name), target))

    load_after = os.getloadavg()
    print("\nGoals of issue 24 (benchmark figures, not tests):")
    print("\n".join(goals))
    print(f"\nLoad average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} "
          f"({os.cpu_count()} CPUs).")
    print(NOTES)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({w: {c: [r._asdict() if r else None for r in runs] for c, runs in res.items()}
                       for w, res in everything.items()}, f, indent=1)
    failed = sum(r is None for res in everything.values() for runs in res.values() for r in runs)
    if failed:
        print(f"\n{failed} run(s) failed: see above.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
