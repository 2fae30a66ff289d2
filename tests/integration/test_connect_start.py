"""Connecting without blocking (ws_connect_start / ws_connect_continue) over
real sockets: tests/c/test_connect_start.c under ASan, against an echo
server, a second echo server for the ticking connection, a server that
never answers, one that trickles a TLS handshake, and a dead address (a
full accept queue on [::1] at the echo server's port)."""

import socket
import subprocess

from conftest import BUILD
from harness import echo_server, running


def dead_host():
    """IPv6 loopback when there is one (the race then also alternates
    families), else another IPv4 loopback address."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return "::1"
    except OSError:
        return "127.0.0.2"


def test_connects_never_hold_up_the_event_loop():
    dead = dead_host()
    with echo_server() as echo, echo_server() as tick, \
            running("stall_server.py", "silent") as (silent, _), \
            running("stall_server.py", "trickle-tls") as (trickle, _), \
            running("stall_server.py", "full-backlog", "--host", dead, "--port", echo):
        result = subprocess.run(
            [str(BUILD / "tests" / "test_connect_start"), str(echo), str(tick), str(silent),
             str(trickle), f"[{dead}]" if ":" in dead else dead],
            capture_output=True, text=True, timeout=180,
        )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")
