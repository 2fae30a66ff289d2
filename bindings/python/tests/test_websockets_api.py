"""The websockets-style API against websockets 17's documented one, item
by item of issue 25's observed list: connection attributes, one exception
hierarchy with websockets' names and the OSError/ssl classes programs catch,
and the behaviours (ConcurrencyError, repeated header names, the sync
client's keepalive without a thread in recv())."""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import socket
import ssl
import threading
import time
import traceback
import uuid
from typing import Any, List

import pytest
import websockets.asyncio.client
import websockets.datastructures
import websockets.exceptions
import websockets.protocol
import websockets.sync.client
from test_keepalive import MISS_TIMEOUT, PingServer
from wstest_helpers import SilentServer, StartServer, read_client_frame, server_frame

import wsclient
import wsclient.asyncio.client as aclient
import wsclient.egg
import wsclient.exceptions as wexc
import wsclient.sync.client as sclient
from wsclient.datastructures import Headers, MultipleValuesError
from wsclient.http11 import Request, Response
from wsclient.protocol import State

MODES = ["sync", "asyncio"]


# ---------------------------------------------------------------- attributes


def test_sync_connection_attributes(echo_url: str) -> None:
    with sclient.connect(echo_url + "/", logger="attrs.sync") as ws:
        assert ws.state is State.OPEN and int(ws.state) == int(websockets.protocol.State.OPEN)
        assert isinstance(ws.id, uuid.UUID)
        assert isinstance(ws.logger, logging.Logger) and ws.logger.name == "attrs.sync"
        assert ws.local_address[0] == "127.0.0.1" and ws.remote_address[1] == int(echo_url.rsplit(":", 1)[1])
        assert isinstance(ws.request, Request) and isinstance(ws.response, Response)
        assert isinstance(ws.request.headers, Headers) and isinstance(ws.response.headers, Headers)
        assert ws.request.path == "/"
        assert ws.request.headers["Host"] == echo_url.split("//", 1)[1]
        assert ws.request.headers["User-Agent"] and ws.request.headers["Sec-WebSocket-Version"] == "13"
        assert ws.response.status_code == 101
        assert ws.response.headers["Upgrade"].lower() == "websocket" and "Sec-WebSocket-Accept" in ws.response.headers
        # Every header, in order, as the library kept them (ws_conn_header_count, ...).
        assert [n.lower() for n, _ in ws.response.headers.raw_items()] == [
            "date", "upgrade", "connection", "sec-websocket-accept", "server"]
        assert ws.response.headers["Server"].startswith("Python/")
        assert ws.latency == 0
        assert ws.ping().wait(10)
        assert ws.latency > 0
    assert state_of(ws) is State.CLOSED


def state_of(ws: Any) -> State:
    """`ws.state` (read again: not narrowed by an earlier assert)."""
    state: State = ws.state
    return state


def test_asyncio_connection_attributes(echo_url: str) -> None:
    async def main() -> None:
        async with aclient.connect(echo_url + "/", logger="attrs.asyncio") as ws:
            assert ws.state is State.OPEN
            assert isinstance(ws.id, uuid.UUID) and ws.logger.name == "attrs.asyncio"
            assert ws.local_address[0] == "127.0.0.1" and ws.remote_address[0] == "127.0.0.1"
            assert ws.request is not None and ws.response is not None
            assert ws.request.headers["Host"] == echo_url.split("//", 1)[1]
            assert ws.response.headers["Connection"].lower() == "upgrade"
            latency = await asyncio.wait_for(await ws.ping(), 10)
            assert latency > 0 and ws.latency > 0
            close = asyncio.create_task(ws.close())
            await asyncio.sleep(0)
            assert state_of(ws) in (State.CLOSING, State.CLOSED)
            await close
        assert state_of(ws) is State.CLOSED

    asyncio.run(main())


def test_state_values_are_websockets() -> None:
    assert [(s.name, s.value) for s in State] == [(s.name, s.value) for s in websockets.protocol.State]


def test_create_connection_subclass(echo_url: str) -> None:
    class Mine(sclient.ClientConnection):
        def hello(self) -> str:
            self.send("hello")
            return str(self.recv())

    with sclient.connect(echo_url + "/", create_connection=Mine) as ws:
        assert isinstance(ws, Mine) and ws.hello() == "hello"

    class AMine(aclient.ClientConnection):
        pass

    async def main() -> None:
        async with aclient.connect(echo_url + "/", create_connection=AMine) as ws:
            assert isinstance(ws, AMine)

    asyncio.run(main())


def test_every_documented_connect_parameter_exists() -> None:
    """websockets 17's connect() parameters (its signature), in ours; the
    ones left out are in the README's table of differences."""
    differ = {"legacy", "extensions"}  # see the README; extensions=None is accepted
    for ours, theirs in ((sclient.connect, websockets.sync.client.connect),
                         (aclient.connect, websockets.asyncio.client.connect)):
        mine = set(inspect.signature(ours).parameters)
        for name in inspect.signature(theirs).parameters:
            if name not in differ and name != "kwargs":
                assert name in mine, f"{ours.__module__}.connect lacks {name}"
    assert callable(sclient.unix_connect) and callable(aclient.unix_connect)


# ---------------------------------------------------------------- exceptions


def test_one_hierarchy_without_duplicate_names() -> None:
    modules = [wsclient, wsclient.egg, wexc]
    names = set().union(*(getattr(m, "__all__") for m in modules))
    for name in names:
        found = {id(getattr(m, name)) for m in modules if hasattr(m, name) and name in getattr(m, "__all__")}
        assert len(found) == 1, f"{name} names {len(found)} objects"
    assert wsclient.WebSocketException is wexc.WebSocketException is wsclient.egg.WebSocketException
    assert wexc.WebSocketError is wexc.WebSocketException and wexc.HandshakeError is wexc.InvalidHandshake
    for name in wexc.__all__:
        value = getattr(wexc, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, wexc.WebSocketException), name


def test_public_classes_name_public_modules() -> None:
    for name in wexc.__all__:
        assert getattr(wexc, name).__module__ == "wsclient.exceptions", name
    for cls in (wsclient.Connection, wsclient.HTTPResponse, wsclient.Message, wsclient.Frame):
        assert cls.__module__ == "wsclient"
    try:
        sclient.connect("ws://127.0.0.1:1/")
    except OSError as e:
        text = "".join(traceback.format_exception_only(type(e), e))
    assert text.startswith("wsclient.exceptions.ConnectionRefused: [Errno 111] "), text


def test_websockets_names_with_websockets_bases() -> None:
    """Each class websockets has, here with the same bases (by name)."""
    for name in ["ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError", "InvalidURI",
                 "InvalidProxy", "InvalidHandshake", "SecurityError", "ProxyError", "InvalidProxyMessage",
                 "InvalidProxyStatus", "InvalidMessage", "InvalidStatus", "InvalidHeader", "NegotiationError",
                 "ProtocolError", "PayloadTooBig", "InvalidState", "ConcurrencyError"]:
        theirs = getattr(websockets.exceptions, name)
        ours = getattr(wexc, name)
        for base in theirs.__mro__[1:]:
            if base.__module__ == "websockets.exceptions":
                assert issubclass(ours, getattr(wexc, base.__name__)), (name, base.__name__)
            elif base is not object:
                assert issubclass(ours, base), (name, base.__name__)


@pytest.mark.parametrize("api", ["sync", "asyncio", "egg"])
def test_refused_is_connection_refused_error_with_errno(api: str) -> None:
    url = "ws://127.0.0.1:1/"
    with pytest.raises(ConnectionRefusedError) as info:
        if api == "sync":
            sclient.connect(url)
        elif api == "asyncio":
            asyncio.run(_aconnect(url))
        else:
            wsclient.connect(url)
    assert info.value.errno == errno.ECONNREFUSED
    assert isinstance(info.value, wexc.NetworkError)


async def _aconnect(url: str, **kwargs: Any) -> None:
    ws = await aclient.connect(url, **kwargs)
    await ws.close()


def test_name_that_does_not_resolve_is_gaierror() -> None:
    with pytest.raises(socket.gaierror):
        sclient.connect("ws://name-that-does-not-exist.invalid/")


def test_untrusted_certificate_egg(tls_port: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        wsclient.connect(f"wss://localhost:{tls_port}/")
    assert isinstance(info.value, wexc.CertificateVerifyError) and info.value.verify_message


@pytest.mark.parametrize("mode", MODES)
def test_open_timeout_text(mode: str, silent_server: SilentServer) -> None:
    with pytest.raises(TimeoutError) as info:
        if mode == "sync":
            sclient.connect(silent_server.url, open_timeout=0.2)
        else:
            asyncio.run(_aconnect(silent_server.url, open_timeout=0.2))
    assert str(info.value) == "timed out during opening handshake"


@pytest.mark.parametrize("mode", MODES)
def test_open_timeout_text_over_python(mode: str, silent_server: SilentServer) -> None:
    with pytest.raises(TimeoutError) as info:
        if mode == "sync":
            sclient.connect("ws://silent.test/", address=("127.0.0.1", silent_server.port), open_timeout=0.2)
        else:
            asyncio.run(_aconnect("ws://silent.test/", host="127.0.0.1", port=silent_server.port, open_timeout=0.2))
    assert str(info.value) == "timed out during opening handshake"


def _failure(mode: str, raw_server: StartServer, frames: bytes, **kwargs: Any) -> wexc.ConnectionClosedError:
    def script(sock: socket.socket) -> int:
        sock.sendall(frames)
        return read_client_frame(sock)[2]

    server = raw_server(script)

    async def main() -> None:
        async with aclient.connect(server.url, **kwargs) as ws:
            await ws.recv()

    with pytest.raises(wexc.ConnectionClosedError) as info:
        if mode == "sync":
            with sclient.connect(server.url, **kwargs) as ws:
                ws.recv()
        else:
            asyncio.run(main())
    assert server.join() == 8
    return info.value


@pytest.mark.parametrize("mode", MODES)
def test_payload_too_big(mode: str, raw_server: StartServer) -> None:
    e = _failure(mode, raw_server, server_frame(2, b"x" * 2000), max_size=1000)
    assert isinstance(e.__cause__, wexc.PayloadTooBig) and e.sent is not None and e.sent.code == 1009


@pytest.mark.parametrize("mode", MODES)
def test_protocol_error(mode: str, raw_server: StartServer) -> None:
    e = _failure(mode, raw_server, server_frame(3, b"reserved opcode"))
    assert isinstance(e.__cause__, wexc.ProtocolError) and e.sent is not None and e.sent.code == 1002


class GarbageServer:
    """Answers the opening handshake with something that is not HTTP."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        with self.listener:
            for _ in range(2):
                conn, _ = self.listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def test_invalid_message() -> None:
    server = GarbageServer()
    with pytest.raises(wexc.InvalidMessage):
        sclient.connect(server.url)
    with pytest.raises(wexc.InvalidMessage):
        sclient.connect("ws://garbage.test/", address=("127.0.0.1", server.port))


@pytest.mark.parametrize("mode", MODES)
def test_invalid_status_response_has_headers(mode: str, echo_url: str) -> None:
    with pytest.raises(wexc.InvalidStatus) as info:
        if mode == "sync":
            sclient.connect(echo_url + "/status/302")
        else:
            asyncio.run(_aconnect(echo_url + "/status/302"))
    response = info.value.response
    assert isinstance(response, Response) and isinstance(response.headers, Headers)
    assert response.status_code == 302 and "Location" in response.headers
    assert response.headers["location"] == "/redirected" and response.body == b"status 302\n"
    assert str(info.value) == "server rejected WebSocket connection: HTTP 302"


def test_invalid_state_is_assertion_error(echo_url: str) -> None:
    conn = wsclient.connect(echo_url + "/")
    assert isinstance(conn, wsclient.Connection)
    conn.close()
    with pytest.raises(wexc.InvalidState) as info:
        conn.send("late")
    assert isinstance(info.value, AssertionError)


# ---------------------------------------------------------------- behaviour


def test_sync_concurrent_recv_is_concurrency_error(echo_url: str) -> None:
    with sclient.connect(echo_url + "/") as ws:
        reader = threading.Thread(target=lambda: ws.recv(timeout=10))
        reader.start()
        deadline = time.monotonic() + 10
        while not ws._receivers and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(wexc.ConcurrencyError) as info:
            ws.recv(timeout=1)
        assert isinstance(info.value, RuntimeError)
        ws.send("for the reader")
        reader.join(10)
        ws.send("then mine")
        assert ws.recv(timeout=10) == "then mine"


def test_asyncio_concurrent_recv_is_concurrency_error(echo_url: str) -> None:
    async def main() -> None:
        async with aclient.connect(echo_url + "/") as ws:
            first = asyncio.create_task(ws.recv())
            await asyncio.sleep(0.05)
            with pytest.raises(wexc.ConcurrencyError):
                await ws.recv()
            await ws.send("for the first")
            assert await asyncio.wait_for(first, 10) == "for the first"

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["wsclient", "websockets"])
@pytest.mark.parametrize("mode", MODES)
def test_repeated_header_names_in_additional_headers(kind: str, mode: str, raw_server: StartServer) -> None:
    make = Headers if kind == "wsclient" else websockets.datastructures.Headers
    headers = make()
    headers["X-Tag"] = "one"
    headers["X-Tag"] = "two"
    headers["Cookie"] = "a=1"
    server = raw_server(lambda sock: read_client_frame(sock)[2])

    async def main() -> None:
        async with aclient.connect(server.url, additional_headers=headers):
            pass

    if mode == "sync":
        with sclient.connect(server.url, additional_headers=headers):
            pass
    else:
        asyncio.run(main())
    server.join()
    lines = server.request.decode().split("\r\n")
    assert lines.count("X-Tag: one") == 1 and lines.count("X-Tag: two") == 1 and "Cookie: a=1" in lines


def test_headers_type() -> None:
    h = Headers([("Set-Cookie", "a"), ("set-cookie", "b")], Server="x")
    with pytest.raises(MultipleValuesError):
        h["Set-Cookie"]
    assert h.get_all("SET-COOKIE") == ["a", "b"] and h["server"] == "x" and "SERVER" in h
    assert list(h) == ["set-cookie", "server"] and len(h) == 2
    assert list(h.raw_items()) == [("Set-Cookie", "a"), ("set-cookie", "b"), ("Server", "x")]
    del h["set-cookie"]
    assert list(h.raw_items()) == [("Server", "x")] and h.serialize() == b"Server: x\r\n\r\n"
    assert h == Headers(server="x") and h.copy() == h


def test_sync_keepalive_without_a_receiving_thread(raw_server: StartServer) -> None:
    """No recv(), no send(): the background thread sees the pongs (the
    library sends its next ping only once the previous pong came back)."""
    script = PingServer(echo=False)
    server = raw_server(script)
    with sclient.connect(server.url, ping_interval=0.05, ping_timeout=10) as ws:
        assert script.wait_for(lambda: script.pings >= 5, 30)
        assert ws.state is State.OPEN and ws.latency > 0
    server.join()


def test_sync_ping_wait_without_a_receiving_thread(echo_url: str) -> None:
    with sclient.connect(echo_url + "/", ping_interval=None) as ws:
        for _ in range(3):
            assert ws.ping().wait(10)
        ws.send("still in order")
        assert ws.recv(timeout=10) == "still in order"


def test_sync_keepalive_failure_reports_the_1011_sent(raw_server: StartServer) -> None:
    script = PingServer(answer=1)  # then silent
    server = raw_server(script)
    with sclient.connect(server.url, ping_interval=0.05, ping_timeout=MISS_TIMEOUT, close_timeout=0.5) as ws:
        assert script.wait_for(lambda: script.close_payload is not None, 30)  # failed in the background
        with pytest.raises(wexc.ConnectionClosedError) as info:
            ws.recv(timeout=10)
    server.join()
    e = info.value
    assert e.rcvd is None and e.sent is not None and (e.sent.code, e.sent.reason) == (1011, "keepalive ping timeout")
    assert str(e) == "sent 1011 (keepalive ping timeout); no close frame received"
    assert isinstance(e.__cause__, TimeoutError)


def test_sync_max_queue(echo_url: str) -> None:
    with sclient.connect(echo_url + "/", max_queue=2) as ws:
        for i in range(6):
            ws.send(f"m{i}")
        time.sleep(1.0)  # idle: the background thread reads, up to max_queue
        assert len(ws._inbox) == 2
        assert [ws.recv(timeout=10) for _ in range(6)] == [f"m{i}" for i in range(6)]
    with sclient.connect(echo_url + "/", max_queue=None) as ws:
        for i in range(20):
            ws.send(f"m{i}")
        assert [ws.recv(timeout=10) for _ in range(20)] == [f"m{i}" for i in range(20)]


def test_sync_connection_dropped_unclosed_is_collected(echo_url: str) -> None:
    """The background thread holds the connection weakly."""
    import gc
    import weakref

    ws = sclient.connect(echo_url + "/")
    ref = weakref.ref(ws)
    threads = threading.active_count()
    del ws
    gc.collect()
    assert ref() is None
    deadline = time.monotonic() + 5
    while threading.active_count() >= threads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() < threads
