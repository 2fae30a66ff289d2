"""Through an HTTP CONNECT proxy (PyPI's proxy.py, tests/servers/proxy_server.py),
which reports each tunnel it opens so the tests see the traffic went through it."""

import asyncio

import pytest
from harness import proxy_server

import wsclient

AUTH = "alice:s3cret"


@pytest.fixture(scope="module")
def open_proxy():
    with proxy_server() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def auth_proxy():
    with proxy_server(basic_auth=AUTH) as proxy:
        yield proxy


@pytest.mark.parametrize("auth", [False, True])
@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_echo_through_the_proxy(request, pki, echo_port, tls_port, auth, scheme):
    proxy = request.getfixturevalue("auth_proxy" if auth else "open_proxy")
    port = tls_port if scheme == "wss" else echo_port
    with wsclient.connect(
        f"{scheme}://localhost:{port}/",
        proxy=proxy.url(AUTH if auth else None),
        ca_file=pki / "ca.pem",
    ) as conn:
        conn.send("proxied ✓")
        assert conn.recv().data == "proxied ✓"
    assert conn.peer_close_code == 1000
    assert proxy.tunnelled_to(f"localhost:{port}")


def test_wrong_password_raises_proxy_error_with_the_407(auth_proxy, echo_port):
    with pytest.raises(wsclient.ProxyError) as info:
        wsclient.connect(f"ws://127.0.0.1:{echo_port}/", proxy=auth_proxy.url("alice:nope"))
    e = info.value
    assert isinstance(e, wsclient.HandshakeError)
    assert e.result == -34 and "HTTP 407" in e.message
    assert "nope" not in e.message
    assert e.response.status == 407
    assert e.response.getheader("Proxy-Authenticate") is not None


def test_env_proxy_only_when_asked_and_no_proxy_honoured(monkeypatch, open_proxy, echo_port):
    monkeypatch.setenv("http_proxy", open_proxy.url())
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    # Off by default: direct, the proxy sees nothing.
    with wsclient.connect(f"ws://127.0.0.1:{echo_port}/direct") as conn:
        conn.send("x")
        conn.recv()
    with wsclient.connect(f"ws://localhost:{echo_port}/", use_env_proxy=True) as conn:
        conn.send("y")
        assert conn.recv().data == "y"
    assert open_proxy.tunnelled_to(f"localhost:{echo_port}")
    assert not open_proxy.tunnelled_to(f"127.0.0.1:{echo_port}", wait=0.5)
    monkeypatch.setenv("NO_PROXY", "example.com, 127.0.0.0/8")
    with wsclient.connect(f"ws://127.0.0.1:{echo_port}/", use_env_proxy=True) as conn:
        conn.send("z")
        assert conn.recv().data == "z"
    assert not open_proxy.tunnelled_to(f"127.0.0.1:{echo_port}", wait=0.5)


def test_bad_proxy_url_is_invalid_argument():
    with pytest.raises(wsclient.InvalidArgument) as info:
        wsclient.connect("ws://127.0.0.1:1/", proxy="https://127.0.0.1:3128")
    assert "use http://" in info.value.message


def test_the_event_loop_drives_a_connect_through_the_proxy(pki, tls_port, auth_proxy):
    """The asyncio client's connect driver (its connect() takes no proxy
    option yet): the tunnel, TLS inside it, and a refusal with its 407."""
    from wsclient._connect import start
    from wsclient.asyncio.client import _open

    url = f"wss://localhost:{tls_port}/"

    async def main():
        loop = asyncio.get_running_loop()
        with await _open(start(url, proxy=auth_proxy.url(AUTH), ca_file=pki / "ca.pem"), loop) as conn:
            conn.send("through the loop")
            assert conn.recv().data == "through the loop"
        with pytest.raises(wsclient.ProxyError) as info:
            await _open(start(url, proxy=auth_proxy.url("alice:nope")), loop)
        assert info.value.response.status == 407

    asyncio.run(asyncio.wait_for(main(), 30))
    assert auth_proxy.tunnel_count(f"localhost:{tls_port}") >= 1
