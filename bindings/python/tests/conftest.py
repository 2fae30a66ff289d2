"""Shared fixtures: the in-tree package on sys.path, the real test servers
(tests/servers), a raw scripted server for misbehaving-peer cases, TLS
material made with the openssl CLI, and a watchdog so a hang fails the run
instead of stalling it."""

from __future__ import annotations

import faulthandler
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # bindings/python
REPO = HERE.parents[2]  # the libwsclient checkout
SERVERS = REPO / "tests" / "servers"
HEADER = REPO / "include" / "wsclient.h"

sys.path.insert(0, str(PACKAGE_ROOT))
sys.path.insert(0, str(SERVERS))

from harness import echo_server, running  # type: ignore[import-not-found]  # noqa: E402,F401
from wstest_helpers import RawServer, SilentServer, StartServer  # noqa: E402

WATCHDOG_SECONDS = 60


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """Abort the run (with every thread's traceback) if a test hangs."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def echo_port() -> Iterator[int]:
    """A plain echo server (no compression) shared by the session."""
    with echo_server() as port:
        yield port


@pytest.fixture(scope="session")
def echo_url(echo_port: int) -> str:
    return f"ws://127.0.0.1:{echo_port}"


@pytest.fixture(scope="session")
def deflate_url() -> Iterator[str]:
    """An echo server that accepts permessage-deflate with its defaults."""
    with echo_server("--deflate") as port:
        yield f"ws://127.0.0.1:{port}"


# ---------------------------------------------------------------- TLS


def _openssl(*args: Any, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for localhost/127.0.0.1 and a client
    certificate, made with the openssl CLI. Also a hashed CA directory."""
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not found")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=wsclient test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )
    (d / "server.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    (d / "wrongname.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:other.test\nextendedKeyUsage=serverAuth\n"
    )
    names = (("server", "localhost"), ("client", "wsclient test client"), ("wrongname", "other.test"))
    for name, cn in names:
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d,
        )
    # An unrelated CA, to see verification fail.
    _openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
             "-subj", "/CN=some other CA", cwd=d)
    hashed = d / "cadir"
    hashed.mkdir()
    h = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", "ca.pem"],
        cwd=d, check=True, capture_output=True, text=True,
    ).stdout.strip()
    shutil.copy(d / "ca.pem", hashed / f"{h}.0")
    return d


@pytest.fixture(scope="session")
def tls_port(pki: Path) -> Iterator[int]:
    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key") as port:
        yield port


@pytest.fixture
def raw_server() -> Iterator[StartServer]:
    servers: List[RawServer] = []

    def start(script: Any, extra_headers: Any = (), after_101: bytes = b"") -> RawServer:
        s = RawServer(script, extra_headers, after_101)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.thread.join(5)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A server that accepts TCP connections and never answers."""
    server = SilentServer()
    yield server
    server.close()
