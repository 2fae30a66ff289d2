#!/usr/bin/env python3
"""`make demo`: start a local WebSocket server, run the C echo example
against it, and show the messages that came back through it; then (given
its path) pipe two lines through wsclient-cat."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "servers"))
from harness import running  # noqa: E402

GREETINGS = ["Hello from the server", "Grüße, ünïcödé", "{\"json\": [1, 2, 3]}"]


def main():
    client = sys.argv[1]
    args = ["--deflate"]
    for g in GREETINGS:
        args += ["--greet", g]
    with running("echo_server.py", *args) as (port, server):
        uri = f"ws://127.0.0.1:{port}/greet"
        print(f"demo: server listening on {uri}", flush=True)
        rc = subprocess.run([client, uri], timeout=60).returncode
        server.kill()
        out, _ = server.communicate(timeout=10)
        print(out, end="")
        echoed = out.count("server: got back ")
        print(f"demo: {echoed} of {len(GREETINGS)} messages echoed through the C client")
    if rc != 0 or echoed != len(GREETINGS):
        return 1
    if len(sys.argv) > 2:
        return cat_demo(sys.argv[2])
    return 0


def cat_demo(cat):
    """Two lines through wsclient-cat, as JSON events."""
    with running("echo_server.py", "--deflate") as (port, _):
        uri = f"ws://127.0.0.1:{port}/"
        print(f"demo: printf 'one\\ntwo\\n' | wsclient-cat --json --deflate {uri}", flush=True)
        return subprocess.run([cat, "--json", "--deflate", uri], input="one\ntwo\n", text=True,
                              timeout=60).returncode


if __name__ == "__main__":
    sys.exit(main())
