"""Connecting without blocking (ws_connect_start / ws_connect_continue) over
real sockets: tests/c/test_connect_start.c under ASan, against an echo
server, a second echo server for the ticking connection, a server that
never answers, one that trickles a TLS handshake, and a dead address (a
full accept queue on [::1] at the echo server's port)."""

import subprocess

from conftest import BUILD
from harness import echo_server, running


def test_connects_never_hold_up_the_event_loop():
    with echo_server() as echo, echo_server() as tick, \
            running("stall_server.py", "silent") as (silent, _), \
            running("stall_server.py", "trickle-tls") as (trickle, _), \
            running("stall_server.py", "full-backlog", "--host", "::1", "--port", echo):
        result = subprocess.run(
            [str(BUILD / "tests" / "test_connect_start"), str(echo), str(tick), str(silent),
             str(trickle)],
            capture_output=True, text=True, timeout=180,
        )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")
