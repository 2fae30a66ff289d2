#!/usr/bin/env python3
"""TCP servers that never finish a connection's opening, for connect timeouts.

Prints ``PORT <n>`` on stdout once it is ready, then serves until killed.

  stall_server.py silent        accept, read and drop what comes, never answer
  stall_server.py trickle-tls   accept, send a TLS record header announcing a
                                16 KiB handshake record, then one byte of it
                                every 200 ms, forever
  stall_server.py full-backlog --host ::1 --port N
                                listen with backlog 0 and fill the queue with
                                connections never accepted: Linux then drops
                                every new SYN, so a connect neither succeeds
                                nor fails (a dead address, for Happy Eyeballs)
"""

import argparse
import select
import socket
import sys
import threading
import time

# A TLS record: handshake (22), TLS 1.2, 16 KiB long.
TLS_RECORD_HEADER = bytes([22, 3, 3, 0x40, 0x00])


def drain(conn):
    with conn:
        while conn.recv(4096):
            pass


def trickle(conn):
    with conn:
        try:
            conn.sendall(TLS_RECORD_HEADER)
            while True:
                time.sleep(0.2)
                conn.sendall(b"\x02")
        except OSError:
            pass


def serve(listener, handler):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def connects_within(addr, family, seconds):
    """A socket connected to `addr` within `seconds`, or None (the socket
    closed) when the connect is still pending or failed."""
    s = socket.socket(family)
    s.setblocking(False)
    s.connect_ex(addr)
    _, writable, _ = select.select([], [s], [], seconds)
    if writable and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
        return s
    s.close()
    return None


def fill_backlog(listener, family):
    """Connect until a connect hangs (the accept queue is full); the
    connections are kept open (returned) so it stays full."""
    addr = listener.getsockname()
    held = []
    for _ in range(16):
        s = connects_within(addr, family, 0.3)
        if s is None:
            return held
        held.append(s)
    raise RuntimeError("the accept queue never filled")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["silent", "trickle-tls", "full-backlog"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    listener.bind((args.host, args.port))
    if args.mode == "full-backlog":
        listener.listen(0)
        held = fill_backlog(listener, family)  # noqa: F841 (kept open)
        print(f"PORT {listener.getsockname()[1]}", flush=True)
        threading.Event().wait()
        return 0
    listener.listen(128)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    serve(listener, drain if args.mode == "silent" else trickle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
