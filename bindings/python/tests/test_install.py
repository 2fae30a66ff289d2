"""The path a package takes to an index and to a Python user, as `make
wheel` runs it (scripts/python-dist.py): the sdist, a wheel built from that
sdist alone (so the sdist is complete), `auditwheel repair` (a manylinux
tag, OpenSSL inside the wheel) and `twine check`; then the repaired wheel
is installed into a fresh venv and echoes, over ws:// and wss://, with no
WSCLIENT_LIBRARY and no LD_LIBRARY_PATH: the library and the OpenSSL it
uses must come from inside the wheel; and once more as on a system whose
CA certificates are not where Debian keeps them.

Slow (it compiles the library again and makes a venv: 20 s to a minute on
2 cores when `make` has built the dependencies into target/): deselect
with ``-m "not slow"``; ``make test`` and ``make check`` run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

VERSION = "0.1.0"

# `import ssl` first (asyncio does it too): Python's _ssl maps the system's
# OpenSSL, so the wheel's copy has to work beside it in one process.
ECHO = """
import ssl, sys, wsclient
from wsclient.sync.client import connect
print(wsclient.library_path())
with connect(sys.argv[1]) as ws:
    ws.send("installed")
    print(ws.recv())
with connect(sys.argv[2], ca_file=sys.argv[3]) as ws:
    ws.send("over TLS")
    print(ws.recv().replace(" ", "_"))
maps = open("/proc/self/maps").read().split()
print(sorted({p for p in maps if "libssl" in p or "libcrypto" in p}))
"""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("WSCLIENT_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build/dist/python as `make wheel` makes it, in a temporary directory."""
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "python-dist.py"), str(out)],
        env=clean_env(), capture_output=True, text=True, timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-6000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (whl,) = dist.glob("*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the repaired wheel installed; its python."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return py


def test_sdist_carries_the_crate_and_not_the_checkout(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.name == f"libwsclient-{VERSION}.tar.gz"
    top = f"libwsclient-{VERSION}/"
    names = {n[len(top):] for n in tarfile.open(sdist).getnames() if n.startswith(top)}
    need = {"rust/Cargo.toml", "rust/Cargo.lock", "rust/build.rs", "rust/src/lib.rs", "rust/benches/echo.rs",
            "rust/LICENSE", "pyproject.toml", "setup.py", "LICENSE", "wsclient/_loader.py", "wsclient/py.typed"}
    assert need <= names, need - names
    assert not [n for n in names if n.startswith(("rust/target/", "tests/")) or "__pycache__" in n]


def test_wheel_is_manylinux_and_carries_library_and_openssl(wheel: Path) -> None:
    # auditwheel chose the most compatible tag that the glibc symbols allow.
    assert wheel.name.startswith(f"libwsclient-{VERSION}-py3-none-manylinux_2_"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "wsclient/_libwsclient.so" in names
    assert "wsclient/py.typed" in names
    assert {"wsclient/sync/client.py", "wsclient/asyncio/client.py", "wsclient/exceptions.py"} <= set(names)
    assert f"libwsclient-{VERSION}.dist-info/licenses/LICENSE" in names
    grafted = sorted(n.split("/")[1].split("-")[0] for n in names if n.startswith("libwsclient.libs/") and n[-1] != "/")
    assert grafted == ["libcrypto", "libssl"], grafted  # libz is on the manylinux list: the system's
    meta = zipfile.ZipFile(wheel).read(f"libwsclient-{VERSION}.dist-info/METADATA").decode()
    for line in ("License-Expression: BSD-3-Clause", "Requires-Python: >=3.9",
                 "Project-URL: Source, ", "Classifier: Development Status :: "):
        assert line in meta, line
    assert "Classifier: License ::" not in meta  # PEP 639: the expression only


def test_auditwheel_show_agrees(wheel: Path) -> None:
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    r = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "is consistent with the following platform tag: \"manylinux_2_" in text, text


def test_fresh_venv_install_echoes_without_environment(
    installed: Path, tmp_path: Path, echo_url: str, tls_port: int, pki: Path
) -> None:
    py = installed
    env = clean_env()
    # Run from an empty directory so that the checkout's package cannot be imported.
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = subprocess.run(
        [str(py), "-c", ECHO, echo_url + "/", f"wss://localhost:{tls_port}/", str(pki / "ca.pem")],
        env=env, cwd=work, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    loaded, echoed, over_tls, openssl = r.stdout.split(None, 3)
    site = next((py.parent.parent / "lib").glob("python3*/site-packages"))
    assert loaded == str(site / "wsclient" / "_libwsclient.so")
    assert (echoed, over_tls) == ("installed", "over_TLS")
    # The library uses the OpenSSL in the wheel (the system's, mapped by
    # Python's _ssl, is there too).
    assert str(site / "libwsclient.libs" / "libssl-") in openssl, openssl
    assert str(site / "libwsclient.libs" / "libcrypto-") in openssl, openssl


ELSEWHERE = """
import os, sys, wsclient
from wsclient.sync.client import connect
with connect(sys.argv[1]) as ws:
    ws.send("system CAs")
    print(ws.recv().replace(" ", "_"), os.environ.get("SSL_CERT_FILE"))
"""


def unshare_works() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not unshare_works(), reason="needs root and unshare -m (a mount namespace)")
def test_bundled_openssl_finds_the_system_cas_off_debian(
    installed: Path, tmp_path: Path, tls_port: int, pki: Path
) -> None:
    """The wheel's OpenSSL looks for CAs where Debian keeps them
    (/usr/lib/ssl). Seen as on a system without that directory (an empty
    one mounted over it, in a mount namespace of its own) and whose CA
    bundle is the test CA, wss:// without ca_file verifies against that
    bundle: the loader points SSL_CERT_FILE at it."""
    env = {k: v for k, v in clean_env().items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    empty, certs = tmp_path / "empty", tmp_path / "certs"
    empty.mkdir()
    certs.mkdir()
    shutil.copy(pki / "ca.pem", certs / "ca-certificates.crt")
    script = (
        'mount --bind "$1" /usr/lib/ssl && mount --bind "$2" /etc/ssl/certs && shift 2 && exec "$@"'
    )
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(empty), str(certs),
         str(installed), "-c", ELSEWHERE, f"wss://localhost:{tls_port}/"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["system_CAs", "/etc/ssl/certs/ca-certificates.crt"]
