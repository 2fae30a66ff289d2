"""The opening handshake: HTTP responses, redirects, request headers,
subprotocols, and connect errors."""

import json
import socket

import pytest
from conftest import echo_server

import wsclient


def test_403_returns_a_response(echo_url):
    r = wsclient.connect(echo_url + "/status/403")
    assert isinstance(r, wsclient.HTTPResponse)
    assert not wsclient.is_ws_connection(r)
    assert r.status == 403
    assert r.reason == "Forbidden"
    assert r.body == b"status 403\n"
    assert r.getheader("content-type") == "text/plain"
    assert r.getheader("X-Missing") is None
    assert r.getheader("X-Missing", "d") == "d"
    assert ("Content-Length", "11") in r.headers
    assert not r.is_redirect and r.location is None
    assert "403" in repr(r)


def test_response_in_a_with_statement_raises(echo_url):
    with pytest.raises(wsclient.HandshakeRejected) as info:
        with wsclient.connect(echo_url + "/status/403"):
            pass  # pragma: no cover
    assert info.value.response.status == 403
    assert isinstance(info.value, wsclient.HandshakeError)
    assert "403" in str(info.value)
    r = wsclient.connect(echo_url + "/status/500")
    with pytest.raises(wsclient.HandshakeRejected):
        r.raise_for_status()


def test_302_returns_a_response(echo_url):
    r = wsclient.connect(echo_url + "/status/302")
    assert isinstance(r, wsclient.HTTPResponse)
    assert r.status == 302
    assert r.is_redirect
    assert r.location == "/redirected"
    assert r.get_all("location") == ["/redirected"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_followed_when_asked(echo_url, status):
    conn = wsclient.connect(echo_url + f"/status/{status}", max_redirects=1)
    assert wsclient.is_ws_connection(conn)
    with conn:
        conn.send("after redirect")
        assert conn.recv().data == "after redirect"


def test_too_many_redirects(echo_url):
    # /redirected is not a redirect, so the chain has length 1: allow 0 -> response.
    r = wsclient.connect(echo_url + "/status/307", max_redirects=0)
    assert isinstance(r, wsclient.HTTPResponse) and r.status == 307


def test_headers_and_origin_reach_the_server(echo_url):
    with wsclient.connect(
        echo_url + "/headers",
        headers={"X-Token": "secret", "User-Agent": "wsclient-tests/1"},
        origin="https://example.test",
    ) as conn:
        got = json.loads(conn.recv().data)
    assert got["X-Token"] == "secret"
    assert got["User-Agent"] == "wsclient-tests/1"
    assert got["Origin"] == "https://example.test"
    assert got["Upgrade"].lower() == "websocket"
    assert got["Sec-WebSocket-Version"] == "13"


def test_headers_as_pairs(echo_url):
    with wsclient.connect(echo_url + "/headers", headers=[("X-A", "1"), ("X-B", "ünï")]) as conn:
        got = json.loads(conn.recv().data)
    assert got["X-A"] == "1"
    assert "X-B" in got


@pytest.mark.parametrize(
    "headers,exc",
    [
        ({"Bad Name": "v"}, wsclient.InvalidArgument),
        ({"X-Inject": "v\r\nEvil: 1"}, wsclient.InvalidArgument),
        ({"X-Nul": "a\0b"}, ValueError),
        ({"X-Num": 5}, TypeError),
        # Headers the handshake sends itself: libwsclient would send them twice.
        ({"Host": "evil.example"}, ValueError),
        ({"upgrade": "h2c"}, ValueError),
        ({"Sec-WebSocket-Key": "x"}, ValueError),
        ({"Sec-WebSocket-Version": "8"}, ValueError),
        ({"Sec-WebSocket-Protocol": "chat"}, ValueError),
        ({"Sec-WebSocket-Extensions": "permessage-deflate"}, ValueError),
        ({"Origin": "https://x"}, ValueError),
        ({"Connection": "close"}, ValueError),
        ("X-A: 1", TypeError),
        ([("only-name",)], TypeError),
        (5, TypeError),
    ],
)
def test_bad_headers(echo_url, headers, exc):
    with pytest.raises(exc):
        wsclient.connect(echo_url + "/headers", headers=headers)


def test_subprotocol_negotiated():
    with echo_server("--subprotocol", "chat.v2", "--subprotocol", "chat.v1") as port:
        with wsclient.connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat.v1"]) as conn:
            assert conn.subprotocol == "chat.v1"
            conn.send("hi")
            assert conn.recv().data == "hi"
        with wsclient.connect(f"ws://127.0.0.1:{port}/headers", subprotocols=["x", "chat.v2"]) as conn:
            assert conn.subprotocol == "chat.v2"
            assert json.loads(conn.recv().data)["Sec-WebSocket-Protocol"] == "x, chat.v2"


def test_subprotocol_argument_errors(echo_url):
    with pytest.raises(TypeError):
        wsclient.connect(echo_url, subprotocols="chat")
    with pytest.raises(TypeError):
        wsclient.connect(echo_url, subprotocols=[1])
    with pytest.raises(wsclient.InvalidArgument):
        wsclient.connect(echo_url, subprotocols=["not a token"])


def test_strip_host_and_absolute_form(echo_url):
    for kwargs in ({"strip_host": True}, {"absolute_form": True, "strip_host": True}):
        with wsclient.connect(echo_url + "/", **kwargs) as conn:
            conn.send("x")
            assert conn.recv().data == "x"


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "not a url", "ws://", "ws://[::1/"])
def test_invalid_uri(url):
    with pytest.raises(wsclient.InvalidURI) as info:
        wsclient.connect(url)
    assert isinstance(info.value, ValueError)
    assert info.value.result == -30


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(wsclient.NetworkError) as info:
            wsclient.connect(f"ws://127.0.0.1:{port}/", connect_timeout=5)
    assert isinstance(info.value, ConnectionError)
    assert info.value.message  # the library's detail


def test_resolve_failure():
    with pytest.raises(wsclient.NetworkError):
        wsclient.connect("ws://no-such-host.invalid/", connect_timeout=5)


def test_handshake_timeout(raw_server):
    """A server that accepts TCP but never answers the handshake."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        with pytest.raises(wsclient.WebSocketTimeout):
            wsclient.connect(f"ws://127.0.0.1:{port}/", handshake_timeout=0.2)
    finally:
        listener.close()


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"url": b"ws://x/"}, TypeError),
        ({"url": None}, TypeError),
        ({"url": "ws://127.0.0.1/\0"}, ValueError),
        ({"timeout": "1"}, TypeError),
        ({"timeout": 0}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"read_timeout": True}, TypeError),
        ({"connect_timeout": 10**10}, ValueError),
        ({"origin": 5}, TypeError),
        ({"max_redirects": -1}, ValueError),
        ({"max_redirects": 2**32}, ValueError),
        ({"max_redirects": "3"}, TypeError),
        ({"max_message_size": 0}, ValueError),
        ({"max_message_size": 1.5}, TypeError),
        ({"max_frame_size": -5}, ValueError),
        ({"fragment_size": "big"}, TypeError),
        ({"danger_accept_invalid_certs": 1}, TypeError),
        ({"strip_host": "yes"}, TypeError),
        ({"auto_pong": None}, TypeError),
        ({"ca_file": 5}, TypeError),
        ({"ca_file": "a\0b"}, ValueError),
        ({"client_key": "key.pem"}, ValueError),
        ({"close_timeout": -1}, ValueError),
    ],
)
def test_connect_argument_errors(echo_url, kwargs, exc):
    kwargs = {"url": echo_url + "/", **kwargs}
    url = kwargs.pop("url")
    with pytest.raises(exc):
        wsclient.connect(url, **kwargs)


def test_positional_options_are_refused(echo_url):
    with pytest.raises(TypeError):
        wsclient.connect(echo_url, True)  # noqa: FBT003


def _redirect_once(location):
    """A plain HTTP server answering one request with 302 to `location`."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    threading.Thread(target=serve, daemon=True).start()
    return f"ws://127.0.0.1:{listener.getsockname()[1]}/"


@pytest.mark.parametrize("redirect_credentials", [False, True])
def test_sensitive_headers_stay_with_their_origin(echo_url, redirect_credentials):
    import json

    url = _redirect_once(echo_url + "/headers")  # another port: another origin
    with wsclient.connect(url, max_redirects=1, headers={"X-Plain": "p"},
                          sensitive_headers={"X-Token": "s3cret"},
                          redirect_credentials=redirect_credentials) as conn:
        sent = {k.lower(): v for k, v in json.loads(conn.recv().data).items()}
    assert sent["x-plain"] == "p"
    assert ("x-token" in sent) is redirect_credentials
