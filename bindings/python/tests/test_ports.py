"""Scripts written for websockets run against wsclient with only their
imports changed (``websockets`` -> ``wsclient``), print the same, and are
mypy --strict clean against wsclient."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PACKAGE_ROOT

PORTS = Path(__file__).resolve().parent / "ports"
SCRIPTS = ["sync_client.py", "asyncio_client.py"]
#: The tests of the websockets-style APIs (the older egg tests are untyped).
TYPED_TESTS = ["test_sync_client.py", "test_asyncio_client.py", "test_keepalive.py", "test_ports.py",
               "test_install.py", "test_reconnect.py", "test_observe.py", "conftest.py", "wstest_helpers.py",
               "test_callers_transport.py", "test_websockets_api.py"]


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


def run(path: Path, url: str) -> str:
    # Small reconnection delays, under websockets' names (read by both).
    delays = {f"WEBSOCKETS_BACKOFF_{name}": "0.02" for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY")}
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), **delays}
    for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY", "FACTOR"):
        env.pop(f"WSCLIENT_BACKOFF_{name}", None)
    r = subprocess.run([sys.executable, str(path), url], capture_output=True, text=True, timeout=60, env=env)
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


def test_mypy_strict_on_package_examples_ports_and_tests(tmp_path: Path) -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed")
    files = [str(ported(s, tmp_path)) for s in SCRIPTS]
    files += [str(p) for p in (PACKAGE_ROOT / "examples").glob("*.py")]
    files += [str(Path(__file__).parent / t) for t in TYPED_TESTS]
    r = subprocess.run(
        [mypy, "--strict", "--no-incremental", "--cache-dir", os.devnull, "wsclient", *files],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": f"{PACKAGE_ROOT}:{PACKAGE_ROOT / 'tests'}"}, cwd=PACKAGE_ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
