"""wsclient.sync.client: websockets' client test ideas over real sockets
(close codes, iteration, timeouts, threads, Ctrl-C)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any, List, Optional, Type

import pytest
from conftest import PACKAGE_ROOT
from wstest_helpers import ClientFrame, SilentServer, StartServer, read_client_frame, server_frame

from wsclient import _ffi, _pings
from wsclient.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus, InvalidURI
from wsclient.sync.client import connect


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def test_echo_text_binary_and_decode(echo_url: str) -> None:
    with connect(echo_url + "/") as ws:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send(b"\xff\x00")
        assert ws.recv() == b"\xff\x00"
        ws.send(bytearray(b"ab"))
        assert ws.recv(decode=True) == "ab"
        ws.send("text")
        assert ws.recv(decode=False) == b"text"
        ws.send("")
        assert ws.recv() == ""
        ws.send(b"")
        assert ws.recv() == b""
        ws.send(["a", "b", "c"])
        assert ws.recv() == "abc"
        ws.send(iter([b"x", b"y"]))
        assert ws.recv() == b"xy"
        with pytest.raises(TypeError):
            ws.send({"not": "data"})
        with pytest.raises(TypeError):
            ws.send(42)  # type: ignore[arg-type]


def test_close_code_and_reason_reach_the_server(raw_server: StartServer) -> None:
    def script(sock: Any) -> ClientFrame:
        frame = read_client_frame(sock)
        sock.sendall(server_frame(8, frame[3]))
        return frame

    server = raw_server(script)
    ws = connect(server.url)
    ws.close(4000, "any text, ✓")
    assert server.join() == (True, 0, 8, close_payload(4000, "any text, ✓".encode()))
    with pytest.raises(ConnectionClosedError) as info:
        ws.recv()
    assert info.value.sent is not None and info.value.sent.code == 4000
    assert info.value.rcvd is not None and info.value.rcvd.code == 4000
    assert info.value.rcvd_then_sent is False
    ws.close()  # idempotent


@pytest.mark.parametrize(
    "code,reason,kind",
    [(1000, b"", ConnectionClosedOK), (1001, b"bye", ConnectionClosedOK), (None, b"", ConnectionClosedOK),
     (1011, b"oops", ConnectionClosedError), (4000, b"x", ConnectionClosedError)],
)
def test_server_close_codes(
    raw_server: StartServer, code: Optional[int], reason: bytes, kind: Type[ConnectionClosed]
) -> None:
    """The server closes first: iteration ends for 1000/1001/1005, raises
    otherwise; recv() raises the same afterwards; our answer echoes the code."""

    def script(sock: Any) -> ClientFrame:
        sock.sendall(server_frame(1, b"last") + server_frame(8, b"" if code is None else close_payload(code, reason)))
        return read_client_frame(sock)

    server = raw_server(script)
    with connect(server.url) as ws:
        got: List[Any] = []
        if kind is ConnectionClosedOK:
            got.extend(ws)
        else:
            with pytest.raises(ConnectionClosedError):
                got.extend(ws)
        assert got == ["last"]
        with pytest.raises(kind) as info:
            ws.recv()
        assert info.value.code == (1005 if code is None else code)
        assert info.value.reason == reason.decode()
        assert info.value.rcvd_then_sent is True
        assert ws.close_code == info.value.code
        answer = server.join()  # answered at recv(), not at close()
    assert answer[2] == 8 and answer[3] == (b"" if code is None else close_payload(code))


def test_protocol_violation_is_connection_closed_error(raw_server: StartServer) -> None:
    def script(sock: Any) -> ClientFrame:
        sock.sendall(server_frame(1, b"\xff\xfe"))  # invalid UTF-8
        return read_client_frame(sock)

    server = raw_server(script)
    with connect(server.url) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv()
        assert info.value.rcvd is None and info.value.sent is not None and info.value.sent.code == 1007
        with pytest.raises(ConnectionClosedError):
            ws.send("after the failure")
        # The close frame went out at the failure, not at close().
        assert server.join()[3][:2] == close_payload(1007)


def test_connection_lost_is_connection_closed_error(raw_server: StartServer) -> None:
    server = raw_server(lambda sock: None)  # closes TCP without a close frame
    with connect(server.url) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv()
        assert info.value.code == 1006
    server.join()


def test_invalid_status_and_uri(echo_url: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(echo_url + "/status/403")
    assert info.value.response.status_code == 403
    assert info.value.response.body == b"status 403\n"
    with pytest.raises(InvalidURI):
        connect("http://example.invalid/")
    with pytest.raises(OSError):
        connect("ws://127.0.0.1:1/")


def test_recv_timeout_keeps_the_connection(echo_url: str) -> None:
    with connect(echo_url + "/") as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.05)
        ws.send("still there")
        assert ws.recv(timeout=10) == "still there"


def test_one_thread_receives_while_others_send(echo_url: str) -> None:
    """Several senders, big and small messages, one receiver: every echo
    arrives intact and in each sender's order."""
    big = os.urandom(1 << 20)
    with connect(echo_url + "/", max_size=None) as ws:
        got: List[Any] = []
        reader = threading.Thread(target=lambda: got.extend(ws.recv(timeout=30) for _ in range(4 * 21)))
        reader.start()

        def sender(n: int) -> None:
            for i in range(20):
                ws.send(f"{n}:{i}")
            ws.send(bytes([n]) + big)

        senders = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(60)
        reader.join(60)
        assert not reader.is_alive()
    texts = [m for m in got if isinstance(m, str)]
    for n in range(4):
        assert [m for m in texts if m.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(20)]
    blobs = sorted(m for m in got if isinstance(m, bytes))
    assert [b[0] for b in blobs] == [0, 1, 2, 3] and all(b[1:] == big for b in blobs)


def wait_until_polling(thread: threading.Thread, timeout: float = 20) -> bool:
    """Whether `thread` reached the poll() of a receive (wsclient's
    `_readable`) within `timeout` seconds: it waits there for the socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident or -1)
        while frame is not None:
            if frame.f_code.co_name == "_readable" and "wsclient" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        time.sleep(0.005)
    return False


def test_close_from_another_thread_ends_iteration(echo_url: str) -> None:
    ws = connect(echo_url + "/silent")
    result: List[Any] = []
    t = threading.Thread(target=lambda: result.append(list(ws)), daemon=True)
    t.start()
    assert wait_until_polling(t)  # the iteration waits in recv() for a message
    ws.close()
    t.join(30)
    assert not t.is_alive()
    assert result == [[]]
    with pytest.raises(ConnectionClosedOK):
        ws.recv()


@pytest.mark.skipif(not _pings.SUPPORTED, reason="the library does not record pongs")
def test_ping_event_is_set_by_the_pong(echo_url: str) -> None:
    with connect(echo_url + "/") as ws:
        waiter = ws.ping(b"marco")
        ws.send("x")
        assert ws.recv() == "x"
        assert waiter.wait(10)


def test_ping_is_sent_and_answered(raw_server: StartServer) -> None:
    def script(sock: Any) -> ClientFrame:
        frame = read_client_frame(sock)
        sock.sendall(server_frame(10, frame[3]) + server_frame(1, b"after pong"))
        read_client_frame(sock)
        sock.sendall(server_frame(8, close_payload(1000)))
        return frame

    server = raw_server(script)
    with connect(server.url) as ws:
        ws.ping("polo")
        assert ws.recv() == "after pong"
    assert server.join()[2:] == (9, b"polo")


CTRL_C = """
import signal, sys, time
# A shell that starts a job in the background without job control hands it
# SIGINT ignored, and Python then never raises KeyboardInterrupt: restore it.
signal.signal(signal.SIGINT, signal.default_int_handler)
{imports}
try:
    print("waiting", flush=True)
    {wait}
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""

WAITS = {
    "sync": ("from wsclient.sync.client import connect\nws = connect(sys.argv[1])", "ws.recv()"),
    "egg": ("import wsclient\nws = wsclient.connect(sys.argv[1])", "ws.recv()"),
    "asyncio": (
        "import asyncio\nfrom wsclient.asyncio.client import connect\n"
        "async def main():\n    async with connect(sys.argv[1]) as ws:\n        await ws.recv()",
        "asyncio.run(main())",
    ),
}


def interrupted(code: str, url: str) -> None:
    """Run `code` (prints "waiting", then waits) with `url`; Ctrl-C it."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
        time.sleep(0.5)  # into the wait
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert out == "interrupted\n", err
    assert proc.returncode == 0


@pytest.mark.parametrize("api", sorted(WAITS))
def test_ctrl_c_interrupts_a_waiting_recv(api: str, echo_url: str) -> None:
    imports, wait = WAITS[api]
    interrupted(CTRL_C.format(imports=imports, wait=wait), echo_url + "/silent")


@pytest.mark.skipif(not _ffi.available("ws_conn_flush"), reason="sends block inside the library")
def test_ctrl_c_interrupts_a_send_to_a_server_that_does_not_read(raw_server: StartServer) -> None:
    stop = threading.Event()
    server = raw_server(lambda sock: stop.wait(60))
    imports = "from wsclient.sync.client import connect\nws = connect(sys.argv[1], max_size=None)"
    try:
        interrupted(CTRL_C.format(imports=imports, wait="ws.send(bytes(64 << 20))"), server.url)
    finally:
        stop.set()
    server.join()


CONNECTS = {
    "sync": ("from wsclient.sync.client import connect", "connect(sys.argv[1], open_timeout=60)"),
    "egg": ("import wsclient", "wsclient.connect(sys.argv[1], timeout=60)"),
    # A name to look up: the library's lookup thread runs too.
    "egg-localhost": ("import wsclient", "wsclient.connect(sys.argv[1].replace('127.0.0.1', 'localhost'), timeout=60)"),
}


@pytest.mark.parametrize("api", sorted(CONNECTS))
def test_ctrl_c_interrupts_a_connect(api: str, silent_server: SilentServer) -> None:
    """A connect waiting for a server that never answers (60 s timeout)
    ends with KeyboardInterrupt right after Ctrl-C, and the connection is
    closed."""
    imports, wait = CONNECTS[api]
    code = CTRL_C.format(imports=imports, wait=wait)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, silent_server.url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
        # Into the connect: the server has the connection (on a loaded
        # machine that can take longer than any fixed pause).
        deadline = time.monotonic() + 10
        while not silent_server.accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        latency = time.monotonic() - sent
        line = proc.stdout.readline() if ready else "(nothing after 10 s)"
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert line == "interrupted\n", err
    assert latency < 1, f"KeyboardInterrupt {latency:.2f} s after SIGINT"
    assert proc.returncode == 0
    assert silent_server.closed_by_clients(1, timeout=5)


def test_a_pong_resolves_its_ping_and_the_earlier_ones(raw_server: StartServer) -> None:
    """RFC 6455 5.5.3: a peer may answer only the latest ping. An
    unsolicited pong resolves nothing."""

    def script(sock: Any) -> None:
        pings = [read_client_frame(sock)[3] for _ in range(3)]
        sock.sendall(server_frame(10, b"unsolicited") + server_frame(1, b"1"))
        read_client_frame(sock)  # the client's "next"
        sock.sendall(server_frame(10, pings[1]) + server_frame(1, b"2"))
        read_client_frame(sock)
        sock.sendall(server_frame(8, close_payload(1000)))

    server = raw_server(script)
    with connect(server.url) as ws:
        events = [ws.ping(name) for name in ("a", "b", "c")]
        assert ws.recv() == "1"
        assert not any(e.is_set() for e in events)
        ws.send("next")
        assert ws.recv() == "2"
        assert [e.is_set() for e in events] == [True, True, False]
        ws.send("bye")
        with pytest.raises(ConnectionClosedOK):
            ws.recv()
    server.join()


def test_compression_options(deflate_url: str) -> None:
    with connect(deflate_url + "/") as ws:  # websockets' default: offered
        assert "permessage-deflate" in (ws.response_header("Sec-WebSocket-Extensions") or "")
    with connect(deflate_url + "/", compression=None) as ws:
        assert ws.response_header("Sec-WebSocket-Extensions") is None
    with connect(deflate_url + "/", deflate={"client_no_context_takeover": True}, compression_level=1) as ws:
        assert "client_no_context_takeover" in (ws.response_header("Sec-WebSocket-Extensions") or "")
        ws.send("z" * 10000)
        assert ws.recv() == "z" * 10000
