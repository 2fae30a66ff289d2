#!/usr/bin/env python3
"""The Autobahn gate: run a testee client against `kosoku -m fuzzingserver`
and fail unless every case's `behavior` and `behaviorClose` are OK or
INFORMATIONAL (NON-STRICT counts as a miss).

    gate.py --name c [--case '1.*' ...] [--exclude '12.*' ...] [--proxy] -- CMD... {url} {agent} [{proxy}]

`{url}` and `{agent}` in CMD are replaced by the server's base URI and the
agent name. With --proxy an HTTP proxy (tests/servers/proxy_server.py, with
Basic authentication) runs too, `{proxy}` is its URL, and the gate also fails
unless every case's connection went through it. The report goes to
target/autobahn/<name>/index.json.
"""

import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSING = {"OK", "INFORMATIONAL"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("kosoku exited before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("kosoku did not start listening")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True, help="report folder and agent name")
    parser.add_argument("--case", action="append", default=[], help="kosoku -i pattern")
    parser.add_argument("--exclude", action="append", default=[], help="kosoku -x pattern")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--proxy", action="store_true", help="run the testee through a proxy")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    outdir = ROOT / "target" / "autobahn" / args.name
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    port = free_port()
    kosoku = shutil.which("kosoku", path=str(Path(sys.executable).parent)) or "kosoku"
    server_cmd = [kosoku, "-m", "fuzzingserver", f"127.0.0.1:{port}", "-o", str(outdir)]
    for case in args.case:
        server_cmd += ["-i", case]
    for case in args.exclude:
        server_cmd += ["-x", case]
    agent = f"libwsclient-{args.name}"
    with open(outdir / "server.log", "w") as log, ExitStack() as stack:
        proxy_url = ""
        if args.proxy:
            sys.path.insert(0, str(ROOT / "tests" / "servers"))
            from harness import proxy_server

            proxy = stack.enter_context(proxy_server("autobahn:gate pass"))
            proxy_url = proxy.url("autobahn:gate%20pass")
        server = subprocess.Popen(server_cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, server)
            url = f"ws://127.0.0.1:{port}"
            cmd = [
                c.replace("{url}", url).replace("{agent}", agent).replace("{proxy}", proxy_url)
                for c in args.command
            ]
            started = time.monotonic()
            rc = subprocess.run(cmd, timeout=args.timeout, env=os.environ).returncode
            elapsed = time.monotonic() - started
            # The server writes index.json after the updateReports session.
            deadline = time.monotonic() + 120
            while not (outdir / "index.json").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
    index = outdir / "index.json"
    if not index.exists():
        print(f"autobahn[{args.name}]: no report written (testee exit {rc})")
        return 1
    results = json.loads(index.read_text()).get(agent, {})
    if args.proxy:
        # getCaseCount, every case, updateReports: all through the proxy.
        tunnels = proxy.tunnel_count(f"127.0.0.1:{port}")
        print(f"autobahn[{args.name}]: {tunnels} connections through the proxy")
        if tunnels < len(results) + 2:
            print(f"autobahn[{args.name}]: fewer tunnels than cases: the proxy was bypassed")
            return 1
    counts = collections.Counter()
    misses = []
    for case, r in sorted(results.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
        b, bc = r["behavior"], r["behaviorClose"]
        counts[b] += 1
        if b not in PASSING or bc not in PASSING:
            misses.append(f"  {case}: behavior={b} behaviorClose={bc}")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"autobahn[{args.name}]: {len(results)} cases in {elapsed:.0f}s: {summary}")
    print("\n".join(misses))
    ok = len(results) - len(misses)
    print(f"autobahn[{args.name}]: {ok} passed, {len(misses)} failed")
    if rc != 0:
        print(f"autobahn[{args.name}]: testee exited with {rc}")
    return 0 if results and not misses and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
