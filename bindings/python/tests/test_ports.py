"""Scripts written for websockets run against wsclient with only their
imports changed (``websockets`` -> ``wsclient``), print the same, and are
mypy --strict clean against wsclient."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PACKAGE_ROOT
from harness import proxy_server, running  # type: ignore[import-not-found]

PORTS = Path(__file__).resolve().parent / "ports"
SCRIPTS = ["sync_client.py", "asyncio_client.py"]
#: The client examples of websockets' documentation (issue 25).
DOC_SCRIPTS = ["quick_start.py", "asyncio_howto.py", "threading_howto.py", "tls_client.py", "unix_client.py",
               "proxy_client.py"]
#: The tests of the websockets-style APIs (the older egg tests are untyped).
TYPED_TESTS = ["test_sync_client.py", "test_asyncio_client.py", "test_keepalive.py", "test_ports.py",
               "test_install.py", "test_reconnect.py", "test_observe.py", "test_streaming.py", "conftest.py",
               "wstest_helpers.py", "test_callers_transport.py", "test_websockets_api.py", "test_batch.py"]


def ported(script: str, dest: Path) -> Path:
    """`script` with every import line's `websockets` changed to `wsclient`."""
    text = (PORTS / script).read_text()
    out = re.sub(r"^(from|import) websockets\b", r"\1 wsclient", text, flags=re.M)
    assert out != text
    assert [l for l in text.splitlines() if not l.startswith(("from ", "import "))] == [
        l for l in out.splitlines() if not l.startswith(("from ", "import "))
    ]
    path = dest / script
    path.write_text(out)
    return path


def run(path: Path, *args: str) -> str:
    # Small reconnection delays, under websockets' names (read by both).
    delays = {f"WEBSOCKETS_BACKOFF_{name}": "0.02" for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY")}
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), **delays}
    for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY", "FACTOR"):
        env.pop(f"WSCLIENT_BACKOFF_{name}", None)
    r = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_websockets_script_runs_with_only_the_imports_changed(script: str, echo_url: str, tmp_path: Path) -> None:
    theirs = run(PORTS / script, echo_url)
    ours = run(ported(script, tmp_path), echo_url)
    assert ours == theirs
    assert "rejected: 403" in ours and "iteration ends at a normal close: []" in ours
    if script == "asyncio_client.py":
        assert "reconnected after 1012: [1012, 1012, 1012]" in ours
        assert "process_exception: 503 ['InvalidStatus', 'InvalidStatus', 'InvalidStatus']" in ours


def both(script: str, tmp_path: Path, *args: str) -> str:
    """`script` run against websockets, then ported to wsclient: the same
    output; it."""
    theirs = run(PORTS / script, *args)
    ours = run(ported(script, tmp_path), *args)
    assert ours == theirs
    return ours


def test_quick_start(echo_url: str, tmp_path: Path) -> None:
    out = both("quick_start.py", tmp_path, echo_url, "Ada")
    assert out == ">>> Ada\n<<< Ada\n" * 2 + "Hello world!\n" * 2


def test_asyncio_howto(echo_url: str, tmp_path: Path) -> None:
    out = both("asyncio_howto.py", tmp_path, echo_url)
    assert "consumer and producer: ['produced 0', 'produced 1', 'produced 2', 'produced 3', 'produced 4'] True" in out
    assert "multiple consumers: True" in out and "authorization sent: Bearer t0ken Bearer t0ken" in out
    assert "host=: forced 127.0.0.1" in out and "closed on SIGTERM: 1000" in out


def test_threading_howto(echo_url: str, tmp_path: Path) -> None:
    out = both("threading_howto.py", tmp_path, echo_url)
    assert "consumer: True False" in out and "pong without a thread in recv: True" in out
    assert "recv timed out, the connection is still OPEN" in out and "state after close: CLOSED" in out


def test_tls_client_with_a_custom_ssl_context(pki: Path, tls_port: int, tmp_path: Path) -> None:
    out = both("tls_client.py", tmp_path, f"wss://localhost:{tls_port}/", str(pki / "ca.pem"))
    assert out == "<<< Hello over TLS\n<<< Hello over TLS, from asyncio\nuntrusted: True True\n"


def test_unix_socket_client(tmp_path: Path) -> None:
    path = str(tmp_path / "ws.sock")
    with running("echo_server.py", "--unix", path):
        out = both("unix_client.py", tmp_path, path)
    assert out == ("<<< Hello over a Unix socket\nhost: localhost\n"
                   "<<< Hello over a Unix socket, from asyncio\npath: /chat\n")


def test_client_through_a_proxy(echo_url: str, tmp_path: Path) -> None:
    authority = echo_url.split("//", 1)[1]
    with proxy_server() as proxy:
        out = both("proxy_client.py", tmp_path, echo_url, proxy.url())
        # Through the proxy: two connections by proxy=, one by the
        # environment; direct: one; for each library.
        assert proxy.tunnelled_to(authority)
        deadline = time.monotonic() + 5
        while proxy.tunnel_count(authority) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.tunnel_count(authority) == 6
    assert out.count("<<< Hello") == 4 and "invalid proxy: InvalidProxy" in out


def test_mypy_strict_on_package_examples_ports_and_tests(tmp_path: Path) -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed")
    files = [str(ported(s, tmp_path)) for s in SCRIPTS + DOC_SCRIPTS]
    files += [str(p) for p in (PACKAGE_ROOT / "examples").glob("*.py")]
    files += [str(Path(__file__).parent / t) for t in TYPED_TESTS]
    r = subprocess.run(
        [mypy, "--strict", "--no-incremental", "--cache-dir", os.devnull, "wsclient", *files],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": f"{PACKAGE_ROOT}:{PACKAGE_ROOT / 'tests'}"}, cwd=PACKAGE_ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
