"""Start the test servers as subprocesses and stop them reliably."""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


@contextmanager
def running(script, *args, timeout=30):
    """Run tests/servers/<script> with `args`; yield (port, process)."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"{script} did not start: {line!r} {proc.stderr.read()}")
        yield int(line.split()[1]), proc
    finally:
        proc.kill()
        proc.wait(timeout=timeout)


@contextmanager
def echo_server(*args):
    """The websockets echo server; yields its port."""
    with running("echo_server.py", *args) as (port, _proc):
        yield port


class ProxyServer:
    """A running proxy_server.py: its port, URL, and the tunnels it opened."""

    def __init__(self, port, proc):
        self.port = port
        self._lines = []
        self._reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._reader.start()

    def _read(self, proc):
        for line in proc.stdout:
            self._lines.append(line.strip())

    def url(self, userinfo=None):
        """``http://[userinfo@]127.0.0.1:port``."""
        auth = f"{userinfo}@" if userinfo else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def tunnel_count(self, authority):
        """How many tunnels to `authority` the proxy has reported so far."""
        return self._lines.count(f"CONNECT {authority}")

    def tunnelled_to(self, authority, wait=5.0):
        """Whether the proxy reported ``CONNECT authority`` (it prints the line
        before connecting upstream; the pipe may lag a little)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if f"CONNECT {authority}" in self._lines:
                return True
            time.sleep(0.02)
        return False


@contextmanager
def proxy_server(basic_auth=None):
    """proxy.py on 127.0.0.1:0 (see proxy_server.py); yields a ProxyServer."""
    args = ["--basic-auth", basic_auth] if basic_auth else []
    with running("proxy_server.py", *args) as (port, proc):
        yield ProxyServer(port, proc)


def make_pki(directory):
    """A test CA (ca.pem) and a server certificate for localhost and
    127.0.0.1 (server.pem, server.key) in `directory`, by the openssl CLI."""
    d = Path(directory)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=wsclient test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return d


@contextmanager
def socks_server(user=None, password=None):
    """microsocks (Debian's SOCKS5 server) on 127.0.0.1; yields (port, log)
    where log() returns what it printed so far ("connected to HOST:PORT" per
    tunnel). microsocks cannot report an ephemeral port, so a free one is
    picked first (and another if that one is taken meanwhile)."""
    import socket
    import tempfile

    for _attempt in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ["microsocks", "-i", "127.0.0.1", "-p", str(port)]
        if user is not None:
            args += ["-u", user, "-P", password]
        log = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
        log.close()
    else:
        raise RuntimeError("microsocks did not start")

    def read_log():
        log.seek(0)
        return log.read()

    try:
        yield port, read_log
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()
