#!/usr/bin/env python3
"""An Autobahn Testsuite testee: runs every case of a fuzzingserver,
echoing each message back, then asks the server to write its reports.

    autobahn_client.py [BASE_URI] [AGENT]   (default ws://127.0.0.1:9001 wsclient-python)

Like examples-c/autobahn_client.c: every connection offers
permessage-deflate ("client_no_context_takeover; client_max_window_bits",
compression level 1) so that sections 12 and 13 run.
"""

import sys
from pathlib import Path
from typing import Optional

if (Path(__file__).resolve().parents[1] / "wsclient").is_dir():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree

import wsclient

DEFLATE = {"client_no_context_takeover": True, "client_max_window_bits": True}


def open_conn(uri: str) -> Optional[wsclient.Connection]:
    try:
        conn = wsclient.connect(uri, deflate=DEFLATE, compression_level=1)
    except wsclient.WebSocketError as e:
        print(f"autobahn_client: {uri}: {e}", file=sys.stderr)
        return None
    if isinstance(conn, wsclient.HTTPResponse):
        print(f"autobahn_client: {uri}: HTTP {conn.status} {conn.reason}", file=sys.stderr)
        return None
    return conn


def case_count(base: str) -> int:
    conn = open_conn(f"{base}/getCaseCount")
    if conn is None:
        return -1
    with conn:
        msg = conn.recv()
        return int(msg.data) if msg is not None else -1


def run_and_wait(uri: str) -> None:
    conn = open_conn(uri)
    if conn is None:
        return
    with conn:
        try:
            for msg in conn:
                conn.send_message(msg)
        except wsclient.WebSocketError:
            pass  # a *fail* was answered with a close frame by the library


def main() -> int:
    base = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:9001"
    agent = sys.argv[2] if len(sys.argv) > 2 else "wsclient-python"
    count = case_count(base)
    if count < 0:
        print("autobahn_client: cannot get the case count", file=sys.stderr)
        return 1
    print(f"autobahn_client: running {count} cases", flush=True)
    for i in range(1, count + 1):
        run_and_wait(f"{base}/runCase?case={i}&agent={agent}")
    run_and_wait(f"{base}/updateReports?agent={agent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
