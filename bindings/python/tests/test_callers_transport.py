"""The websockets-style clients over a transport Python brings (issue 25):
``ssl=`` (an ``ssl.SSLContext``), ``server_hostname=``, ``sock=``,
``unix_connect()``, the socket arguments passed through, and proxies
(``proxy=``, ``proxy_ssl=``), each with the sync and the asyncio client.
The library runs the WebSocket over those bytes (``ws_connect_transport``);
without any of them it opens the connection itself."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
from harness import echo_server, proxy_server, running  # type: ignore[import-not-found]

import wsclient.asyncio.client as aclient
import wsclient.sync.client as sclient
from wsclient import _ffi
from wsclient.exceptions import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus

MODES = ["sync", "asyncio"]


def roundtrip(mode: str, uri: str, **kwargs: Any) -> List[Any]:
    """Connect with `kwargs`, echo two messages, close; what came back, the
    connection's request Host header and the close code."""

    async def main() -> List[Any]:
        async with aclient.connect(uri, **kwargs) as ws:
            await ws.send("over the caller's transport ✓")
            text = await ws.recv()
            await ws.send(b"\x00" * 70_000)
            data = await ws.recv()
            assert ws.request is not None
            host = ws.request.headers["Host"]
        return [text, data, host, ws.close_code]

    if mode == "asyncio":
        return asyncio.run(main())
    with sclient.connect(uri, **kwargs) as ws:
        ws.send("over the caller's transport ✓")
        text = ws.recv()
        ws.send(b"\x00" * 70_000)
        data = ws.recv()
        assert ws.request is not None
        host = ws.request.headers["Host"]
    return [text, data, host, ws.close_code]


def over_python(connection: Any) -> bool:
    """Whether the connection runs over a transport of Python's."""
    return hasattr(connection._driver, "stream")


EXPECTED = ["over the caller's transport ✓", b"\x00" * 70_000]


# ---------------------------------------------------------------- ssl=, server_hostname=


@pytest.mark.parametrize("mode", MODES)
def test_ssl_context_of_the_caller(mode: str, pki: Path, tls_port: int) -> None:
    # The test CA is only in this context: the library's TLS (system CAs) would refuse.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki / "ca.pem")
    got = roundtrip(mode, f"wss://localhost:{tls_port}/", ssl=context)
    assert got == [*EXPECTED, f"localhost:{tls_port}", 1000]


@pytest.mark.parametrize("mode", MODES)
def test_untrusted_certificate_is_ssl_cert_verification_error(mode: str, tls_port: int) -> None:
    context = ssl.create_default_context()  # the system's CAs: not the test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        roundtrip(mode, f"wss://localhost:{tls_port}/", ssl=context)
    # The library's own TLS says the same, in the same words.
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        roundtrip(mode, f"wss://localhost:{tls_port}/")
    assert isinstance(info.value, ssl.SSLError) and isinstance(info.value, OSError)


@pytest.mark.parametrize("mode", MODES)
def test_server_hostname(mode: str, pki: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with echo_server("--cert", pki / "wrongname.pem", "--key", pki / "wrongname.key") as port:
        # The certificate names other.test: the host of the URI does not verify...
        with pytest.raises(ssl.SSLCertVerificationError):
            roundtrip(mode, f"wss://localhost:{port}/", ssl=context)
        # ...server_hostname does, and the request still names the URI's host.
        got = roundtrip(mode, f"wss://localhost:{port}/", ssl=context, server_hostname="other.test")
        assert got == [*EXPECTED, f"localhost:{port}", 1000]


def test_ssl_with_ws_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="incompatible"):
        sclient.connect("ws://localhost:1/", ssl=ssl.create_default_context())


# ---------------------------------------------------------------- sock=, unix_connect(), socket arguments


@pytest.mark.parametrize("mode", MODES)
def test_sock(mode: str, echo_port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", echo_port))
    got = roundtrip(mode, "ws://example.invalid/", sock=sock)
    assert got == [*EXPECTED, "example.invalid", 1000]
    assert sock.fileno() == -1  # closed with the connection, as websockets does


def test_sock_tls_with_the_library_options(pki: Path, tls_port: int) -> None:
    """Over sock=, wss:// TLS is Python's; ca_file= still says whom to trust."""
    sock = socket.create_connection(("127.0.0.1", tls_port))
    got = roundtrip("sync", f"wss://localhost:{tls_port}/", sock=sock, ca_file=pki / "ca.pem")
    assert got == [*EXPECTED, f"localhost:{tls_port}", 1000]


@pytest.fixture(scope="module")
def unix_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = str(tmp_path_factory.mktemp("unix") / "ws.sock")
    with running("echo_server.py", "--unix", path):
        yield path


@pytest.mark.parametrize("mode", MODES)
def test_unix_connect(mode: str, unix_path: str) -> None:
    async def main() -> List[Any]:
        async with aclient.unix_connect(unix_path) as ws:
            await ws.send("unix ✓")
            assert over_python(ws) and ws.remote_address == unix_path
            return [await ws.recv(), ws.request and ws.request.headers["Host"]]

    if mode == "asyncio":
        got = asyncio.run(main())
    else:
        with sclient.unix_connect(unix_path) as ws:
            ws.send("unix ✓")
            assert over_python(ws) and ws.remote_address == unix_path
            got = [ws.recv(), ws.request and ws.request.headers["Host"]]
    assert got == ["unix ✓", "localhost"]


def test_unix_connect_arguments(unix_path: str) -> None:
    with pytest.raises(ValueError, match="missing path"):
        sclient.unix_connect()
    with pytest.raises(ValueError, match="missing path"):
        aclient.unix_connect()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(unix_path)
        with sclient.unix_connect(sock=s, uri="ws://unix.test/chat") as ws:
            ws.send("over a connected Unix socket")
            assert ws.recv() == "over a connected Unix socket"
            assert ws.request is not None and ws.request.path == "/chat"


@pytest.mark.parametrize("mode", MODES)
def test_host_and_port_passed_through(mode: str, echo_port: int) -> None:
    """websockets' FAQ: the address to connect to, the URI's host in the
    request (sync: socket.create_connection's `address`; asyncio:
    loop.create_connection's `host` and `port`)."""
    if mode == "sync":
        kwargs: Any = dict(address=("127.0.0.1", echo_port), source_address=("127.0.0.1", 0))
    else:
        kwargs = dict(host="127.0.0.1", port=echo_port, local_addr=("127.0.0.1", 0))
    got = roundtrip(mode, "ws://example.invalid:8765/", **kwargs)
    assert got == [*EXPECTED, "example.invalid:8765", 1000]


@pytest.mark.parametrize("mode", MODES)
def test_refused_over_python_is_connection_refused_error(mode: str) -> None:
    kwargs: Any = dict(address=("127.0.0.1", 1)) if mode == "sync" else dict(host="127.0.0.1", port=1)
    with pytest.raises(ConnectionRefusedError):
        roundtrip(mode, "ws://example.invalid/", **kwargs)


def test_the_library_path_when_nothing_is_brought(echo_url: str) -> None:
    with sclient.connect(echo_url + "/") as ws:
        assert not over_python(ws)

    async def main() -> None:
        async with aclient.connect(echo_url + "/") as ws:
            assert not over_python(ws)

    asyncio.run(main())


# ---------------------------------------------------------------- larger traffic, the close


@pytest.mark.parametrize("mode", MODES)
def test_many_and_large_messages_with_deflate_over_tls(mode: str, pki: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    big = os.urandom(1 << 20) * 2
    count = 300

    async def main() -> List[bool]:
        async with aclient.connect(f"wss://localhost:{port}/", ssl=context, max_size=None) as ws:
            for i in range(count):
                await ws.send(f"m{i}")
            ok = [await ws.recv() for _ in range(count)] == [f"m{i}" for i in range(count)]
            await ws.send(big)
            return [ok, await ws.recv() == big, ws._conn.compression]

    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key", "--deflate") as port:
        if mode == "asyncio":
            got = asyncio.run(main())
        else:
            with sclient.connect(f"wss://localhost:{port}/", ssl=context, max_size=None) as ws:
                for i in range(count):
                    ws.send(f"m{i}")
                ok = [ws.recv() for _ in range(count)] == [f"m{i}" for i in range(count)]
                ws.send(big)
                got = [ok, ws.recv() == big, ws._conn.compression]
    assert got == [True, True, True]


@pytest.mark.parametrize("mode", MODES)
def test_recv_streaming_over_tls(mode: str, pki: Path, tls_port: int) -> None:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    big = os.urandom(3 << 20)

    async def main() -> List[bytes]:
        async with aclient.connect(f"wss://localhost:{tls_port}/", ssl=context, max_size=None) as ws:
            await ws.send(big)
            return [p async for p in ws.recv_streaming(decode=False)]

    if mode == "asyncio":
        pieces = asyncio.run(main())
    else:
        with sclient.connect(f"wss://localhost:{tls_port}/", ssl=context, max_size=None) as ws:
            ws.send(big)
            pieces = list(ws.recv_streaming(decode=False))
    assert len(pieces) > 1 and b"".join(pieces) == big


@pytest.mark.parametrize("mode", MODES)
def test_server_close_over_python(mode: str, echo_port: int) -> None:
    from wsclient.exceptions import ConnectionClosedOK

    async def main() -> Any:
        async with aclient.connect(f"ws://example.invalid/close/1000", host="127.0.0.1", port=echo_port) as ws:
            with pytest.raises(ConnectionClosedOK) as info:
                await ws.recv()
            return info.value.rcvd

    if mode == "asyncio":
        rcvd = asyncio.run(main())
    else:
        with sclient.connect("ws://example.invalid/close/1000", address=("127.0.0.1", echo_port)) as ws:
            with pytest.raises(ConnectionClosedOK) as info:
                ws.recv()
            rcvd = info.value.rcvd
    assert rcvd is not None and (rcvd.code, rcvd.reason) == (1000, "bye")


# ---------------------------------------------------------------- proxies


@pytest.fixture(scope="module")
def http_proxy() -> Iterator[Any]:
    with proxy_server() as proxy:
        yield proxy


@pytest.mark.parametrize("mode", MODES)
def test_proxy_argument(mode: str, http_proxy: Any, echo_port: int) -> None:
    """proxy= on the websockets-style API: the library's own tunnel."""
    got = roundtrip(mode, f"ws://localhost:{echo_port}/", proxy=http_proxy.url())
    assert got == [*EXPECTED, f"localhost:{echo_port}", 1000]
    assert http_proxy.tunnelled_to(f"localhost:{echo_port}")


@pytest.mark.parametrize("mode", MODES)
def test_proxy_from_the_environment_by_default(
    mode: str, http_proxy: Any, echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY", "ws_proxy", "WS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", http_proxy.url())
    before = http_proxy.tunnel_count(f"localhost:{echo_port}")
    roundtrip(mode, f"ws://localhost:{echo_port}/env")
    assert http_proxy.tunnelled_to(f"localhost:{echo_port}")
    assert http_proxy.tunnel_count(f"localhost:{echo_port}") == before + 1
    roundtrip(mode, f"ws://localhost:{echo_port}/direct", proxy=None)  # off
    monkeypatch.setenv("no_proxy", "localhost")
    roundtrip(mode, f"ws://localhost:{echo_port}/bypassed")
    assert http_proxy.tunnel_count(f"localhost:{echo_port}") == before + 1


@pytest.mark.parametrize("mode", MODES)
def test_ssl_through_an_http_proxy(mode: str, http_proxy: Any, pki: Path, tls_port: int) -> None:
    """ssl= and a proxy: the tunnel asked for by Python, TLS inside it."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    got = roundtrip(mode, f"wss://localhost:{tls_port}/", proxy=http_proxy.url(), ssl=context)
    assert got == [*EXPECTED, f"localhost:{tls_port}", 1000]
    assert http_proxy.tunnelled_to(f"localhost:{tls_port}")


class TunnelProxy:
    """A small CONNECT proxy for the tests, over TLS when given a context
    (an https:// proxy): it tunnels to the requested address, or answers
    `refuse` (e.g. 403), or `garbage`."""

    def __init__(self, context: Optional[ssl.SSLContext] = None, refuse: int = 0, garbage: bool = False) -> None:
        self.context = context
        self.refuse = refuse
        self.garbage = garbage
        self.tunnels: List[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://localhost:{self.port}"

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        try:
            if self.context is not None:
                client = self.context.wrap_socket(client, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            target = head.split(b" ")[1].decode()
            if self.garbage:
                client.sendall(b"SSH-2.0-not a proxy\r\n\r\n")
                return
            if self.refuse:
                client.sendall(f"HTTP/1.1 {self.refuse} Forbidden\r\nContent-Length: 0\r\n\r\n".encode())
                return
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            self.tunnels.append(target)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._pipe(client, upstream)
        except OSError:
            pass
        finally:
            client.close()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with b:
            while True:
                ready, _, _ = select.select([a, b], [], [], 30)
                if not ready:
                    return
                for src in ready:
                    dst = b if src is a else a
                    try:
                        data = src.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not data:
                        return
                    dst.sendall(data)
                if isinstance(a, ssl.SSLSocket):
                    while a.pending():
                        b.sendall(a.recv(65536))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_https_proxy_with_proxy_ssl(mode: str, scheme: str, pki: Path, echo_port: int, tls_port: int) -> None:
    """TLS to the proxy (proxy_ssl=), and for wss:// TLS to the server inside
    it: TLS in TLS."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki / "server.pem", pki / "server.key")
    proxy = TunnelProxy(server_context)
    client_context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    port = tls_port if scheme == "wss" else echo_port
    try:
        kwargs: Any = dict(proxy=proxy.url(), proxy_ssl=client_context)
        if scheme == "wss":
            kwargs["ssl"] = client_context
        got = roundtrip(mode, f"{scheme}://localhost:{port}/", **kwargs)
    finally:
        proxy.close()
    assert got == [*EXPECTED, f"localhost:{port}", 1000]
    assert proxy.tunnels == [f"localhost:{port}"]


@pytest.mark.parametrize("mode", MODES)
def test_proxy_refusal_and_garbage(mode: str) -> None:
    refusing, garbage = TunnelProxy(refuse=403), TunnelProxy(garbage=True)
    try:
        context = ssl.create_default_context()
        with pytest.raises(InvalidProxyStatus) as info:
            roundtrip(mode, "wss://localhost:1/", proxy=refusing.url(), ssl=context)
        assert info.value.response is not None and info.value.response.status == 403
        assert str(info.value) == "proxy rejected connection: HTTP 403"
        with pytest.raises(InvalidProxyMessage):
            roundtrip(mode, "wss://localhost:1/", proxy=garbage.url(), ssl=context)
    finally:
        refusing.close()
        garbage.close()


def test_invalid_proxy() -> None:
    for bad in ("ftp://proxy.test", "http://", "http://u@proxy.test", "http://proxy.test/path"):
        with pytest.raises(InvalidProxy):
            sclient.connect("ws://localhost:1/", proxy=bad)
    assert issubclass(InvalidProxy, ValueError)
    with pytest.raises(ValueError, match="proxy_ssl"):
        sclient.connect("ws://localhost:1/", proxy="http://proxy.test", proxy_ssl=ssl.create_default_context())


def test_the_library_refusal_is_invalid_proxy_status(echo_port: int) -> None:
    with proxy_server(basic_auth="alice:s3cret") as proxy:
        with pytest.raises(InvalidProxyStatus) as info:
            sclient.connect(f"ws://localhost:{echo_port}/", proxy=proxy.url("alice:nope"))
    assert info.value.response is not None and info.value.response.status == 407


def test_request_headers_over_python(echo_port: int) -> None:
    """The request as it went out, headers and all, over the caller's transport."""
    with sclient.connect(
        "ws://example.invalid/headers", address=("127.0.0.1", echo_port), additional_headers={"X-Test": "1"}
    ) as ws:
        sent = json.loads(str(ws.recv()))
        assert ws.request is not None and ws.response is not None
        assert dict(ws.request.headers.raw_items()) == sent
        assert ws.response.status_code == 101 and ws.response.headers["Upgrade"].lower() == "websocket"


def test_transport_functions_are_declared() -> None:
    for name in ("ws_connect_transport", "ws_conn_transport_out", "ws_conn_transport_in",
                 "ws_conn_transport_eof", "ws_conn_transport_done"):
        assert _ffi.available(name)
