"""The C API through a real HTTP CONNECT proxy (PyPI's proxy.py): tests/c/test_proxy.c
under ASan, then, from the proxies' own reports, which connections went through
which proxy (so a client that silently connected directly would fail here)."""

import re
import subprocess
import time

from conftest import BUILD
from harness import echo_server, make_pki, proxy_server, socks_server

USER, PASSWORD = "alice", "s3cr t"
USERINFO = "alice:s3cr%20t"


def test_c_through_proxies(tmp_path):
    pki = make_pki(tmp_path)
    tls_args = ("--cert", pki / "server.pem", "--key", pki / "server.key")
    with echo_server() as a, echo_server() as b, echo_server(*tls_args) as tls, \
            proxy_server() as open_proxy, proxy_server(f"{USER}:{PASSWORD}") as auth_proxy:
        result = subprocess.run(
            [str(BUILD / "tests" / "test_proxy"), str(a), str(b), str(tls), str(pki / "ca.pem"),
             open_proxy.url(), auth_proxy.url(), USERINFO],
            capture_output=True, text=True, timeout=120,
        )
        print(result.stdout, result.stderr)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(", 0 failed")
        # Explicit proxies, ws and wss, with and without authentication.
        for proxy in (open_proxy, auth_proxy):
            assert proxy.tunnelled_to(f"localhost:{a}")
            assert proxy.tunnelled_to(f"localhost:{tls}")
        # From the environment: http_proxy for ws, HTTPS_PROXY for wss...
        assert open_proxy.tunnelled_to(f"127.0.0.1:{b}")
        assert auth_proxy.tunnelled_to(f"127.0.0.1:{tls}")
        # ...but neither without ws_options_use_env_proxy nor for no_proxy hosts.
        assert not open_proxy.tunnelled_to(f"127.0.0.1:{a}", wait=0.5)
        assert not open_proxy.tunnelled_to(f"localhost:{b}", wait=0.5)


def wait_for_log(log, *patterns, timeout=10.0):
    """What log() returns once every regex in `patterns` is in it, or after
    `timeout` seconds (the server writes its lines as it goes)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log()
        if all(re.search(p, text) for p in patterns) or time.monotonic() >= deadline:
            return text
        time.sleep(0.02)


def test_socks5_through_microsocks(tmp_path):
    """A real SOCKS5 server (microsocks, username/password) carries ws and wss;
    a wrong password is refused. Driven through wsclient-cat (public C API)."""
    pki = make_pki(tmp_path)
    cat = str(BUILD / "bin" / "wsclient-cat")
    with echo_server() as ws_port, \
            echo_server("--cert", pki / "server.pem", "--key", pki / "server.key") as wss_port, \
            socks_server(USER, "pw") as (socks_port, log):
        runs = {
            url: subprocess.run(
                [cat, "--cacert", str(pki / "ca.pem"), "-x", f"{scheme}://{USER}:pw@127.0.0.1:{socks_port}",
                 url], input="via socks\n", capture_output=True, text=True, timeout=60)
            for scheme, url in (("socks5h", f"ws://localhost:{ws_port}/"),
                                ("socks5", f"wss://localhost:{wss_port}/"))
        }
        denied = subprocess.run([cat, "-x", f"socks5h://{USER}:wrong@127.0.0.1:{socks_port}",
                                 f"ws://localhost:{ws_port}/"], capture_output=True, text=True,
                                timeout=60)
        # socks5h sends the name; socks5 resolves it here and sends an address.
        text = wait_for_log(log, rf"connected to localhost:{ws_port}\b",
                            rf"connected to (127\.0\.0\.1|::1):{wss_port}\b")
    for url, run in runs.items():
        assert (run.returncode, run.stdout) == (0, "via socks\n"), run.stderr
    assert re.search(rf"connected to localhost:{ws_port}\b", text), text
    assert re.search(rf"connected to (127\.0\.0\.1|::1):{wss_port}\b", text), text
    assert denied.returncode == 1
    assert "refused the user name and password" in denied.stderr
