"""The install path a Python user takes: build the wheel from this checkout,
install it into a fresh venv, and echo with no WSCLIENT_LIBRARY and no
LD_LIBRARY_PATH: the library must come from inside the wheel.

Slow (it compiles the Rust library and makes a venv): deselect with
``-m "not slow"``; ``make test`` runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import PACKAGE_ROOT, REPO

pytestmark = pytest.mark.slow

ECHO = """
import sys, wsclient
from wsclient.sync import connect
print(wsclient.library_path())
with connect(sys.argv[1]) as ws:
    ws.send("installed")
    print(ws.recv())
"""


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WSCLIENT_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    # Build into the checkout's target directory: the dependencies `make`
    # compiled are reused, only the library itself is linked again.
    env["CARGO_TARGET_DIR"] = str(REPO / "target")
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(PACKAGE_ROOT)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_named_libwsclient_and_carries_the_library(wheel: Path) -> None:
    assert wheel.name.startswith("libwsclient-0.1.0-py3-none-linux_")
    names = zipfile.ZipFile(wheel).namelist()
    assert "wsclient/_libwsclient.so" in names
    assert "wsclient/py.typed" in names
    assert {"wsclient/sync/client.py", "wsclient/asyncio/client.py", "wsclient/exceptions.py"} <= set(names)
    assert "libwsclient-0.1.0.dist-info/licenses/LICENSE" in names
    meta = zipfile.ZipFile(wheel).read("libwsclient-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in meta


def test_fresh_venv_install_echoes_without_environment(wheel: Path, tmp_path: Path, echo_url: str) -> None:
    env_dir = tmp_path / "v"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    env = clean_env()
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # Run from an empty directory so that the checkout's package cannot be imported.
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = subprocess.run(
        [str(py), "-c", ECHO, echo_url + "/"], env=env, cwd=work, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    loaded, echoed = r.stdout.split()
    assert loaded.startswith(str(env_dir)) and loaded.endswith("wsclient/_libwsclient.so")
    assert echoed == "installed"
