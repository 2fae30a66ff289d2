"""The examples run against the real servers."""

import os
import subprocess
import sys

from conftest import PACKAGE_ROOT, running

EXAMPLES = PACKAGE_ROOT / "examples"


def test_echo_client_example():
    with running("echo_server.py", "--greet", "hello", "--greet", "wörld ✓") as (port, server):
        r = subprocess.run(
            [sys.executable, str(EXAMPLES / "echo_client.py"), f"ws://127.0.0.1:{port}/greet"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        assert r.returncode == 0, r.stderr
        assert "echo_client: echoing hello" in r.stdout
        assert "echo_client: echoing wörld ✓" in r.stdout
        assert "echo_client: server closed with 1000 done" in r.stdout
        server.kill()
        out = server.stdout.read()
    assert "server: got back hello" in out
    assert "server: got back wörld ✓" in out


def test_echo_client_example_http_response(echo_port):
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "echo_client.py"), f"ws://127.0.0.1:{echo_port}/status/403"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "HTTP 403 Forbidden" in r.stderr


def test_autobahn_client_without_server():
    """No fuzzing server: a clear message and exit status 1, no traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, str(EXAMPLES / "autobahn_client.py"), f"ws://127.0.0.1:{port}", "agent"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 1
    assert "cannot get the case count" in r.stderr
    assert "Traceback" not in r.stderr
