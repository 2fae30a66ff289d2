"""Keepalive (the library's pings and pong deadline) through the
websockets-style APIs, on by default there as in websockets."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from typing import Callable, List, Optional

import pytest
from wstest_helpers import StartServer, read_client_frame, server_frame

from wsclient import _ffi
from wsclient.asyncio.client import connect as aconnect
from wsclient.exceptions import ConnectionClosedError
from wsclient.sync.client import PUMP_EVERY, connect

pytestmark = pytest.mark.skipif(
    not _ffi.available("ws_options_set_keepalive"), reason="the library has no keepalive"
)


def swallow_pings(sock: socket.socket) -> List[int]:
    """Read the client's frames, answer none, until it gives up (EOF)."""
    seen: List[int] = []
    try:
        while True:
            seen.append(read_client_frame(sock)[2])
    except (EOFError, OSError):
        return seen


class PingServer:
    """A raw-server script that answers the client's pings (pongs with their
    payloads) and echoes its texts (if `echo`), until it has answered
    `answer` pings or `stop` is set: from then on it answers nothing (it
    reads on, until EOF). It sends "kept" when ping number `announce`
    arrives and answers the client's close (unless stopped).

    The library sends its next keepalive ping only once the pong for the
    previous one came back (one ping in flight): ping N+1 reaching the
    server proves that the client saw pong N, whatever the timing."""

    def __init__(self, answer: Optional[int] = None, announce: Optional[int] = None, echo: bool = True) -> None:
        self.answer = answer
        self.announce = announce
        self.echo = echo
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.pings = 0  # received
        self.pongs = 0  # sent
        self.opcodes: List[int] = []
        self.texts: List[bytes] = []
        self.close_payload: Optional[bytes] = None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def __call__(self, sock: socket.socket) -> List[int]:
        try:
            while True:
                _, _, opcode, payload = read_client_frame(sock)
                with self.changed:
                    self.opcodes.append(opcode)
                    if opcode == 9:
                        self.pings += 1
                        if self.pongs == self.answer:
                            self.stop.set()
                        if not self.stop.is_set():
                            sock.sendall(server_frame(10, payload))
                            self.pongs += 1
                        if self.pings == self.announce:
                            sock.sendall(server_frame(1, b"kept"))
                    elif opcode == 1:
                        self.texts.append(payload)
                        if self.echo and not self.stop.is_set():
                            sock.sendall(server_frame(1, payload))
                    elif opcode == 8:
                        self.close_payload = payload
                        if not self.stop.is_set():
                            sock.sendall(server_frame(8, payload))
                            return self.opcodes
                    self.changed.notify_all()
        except (EOFError, OSError):
            return self.opcodes
        finally:
            with self.changed:
                self.changed.notify_all()


# Pongs that come back must arrive within ping_timeout however loaded the
# machine is: it is generous. Where a pong is withheld on purpose, the test
# waits for that timeout (2 s) to pass.
KEEP_TIMEOUT = 10
MISS_TIMEOUT = 2


def test_sync_missing_pong_closes_the_connection(raw_server: StartServer) -> None:
    script = PingServer(answer=2)  # then it stops answering
    server = raw_server(script)
    with connect(server.url, ping_interval=0.05, ping_timeout=MISS_TIMEOUT, close_timeout=0.5) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=30)  # TimeoutError if the keepalive never gives up
        assert info.value.rcvd is None
    server.join()
    # Two pongs kept it (a third ping went out); the missing third ended it.
    assert (script.pings, script.pongs) == (3, 2)
    assert script.close_payload is not None and script.close_payload[:2] == (1011).to_bytes(2, "big")


def test_sync_answered_pings_keep_the_connection(raw_server: StartServer) -> None:
    script = PingServer(announce=4)  # "kept" when the fourth ping arrives
    server = raw_server(script)
    with connect(server.url, ping_interval=0.05, ping_timeout=KEEP_TIMEOUT) as ws:
        assert ws.recv(timeout=30) == "kept"  # three pongs were seen while recv() waited
        ws.send("alive")
        assert ws.recv(timeout=30) == "alive"
    server.join()
    assert script.pings >= 4 and script.pongs == script.pings and script.opcodes[-1] == 8


def test_asyncio_missing_pong_closes_the_connection(raw_server: StartServer) -> None:
    script = PingServer()
    server = raw_server(script)

    async def main() -> None:
        async with aconnect(server.url, ping_interval=0.05, ping_timeout=MISS_TIMEOUT, close_timeout=0.5) as ws:
            assert await asyncio.to_thread(script.wait_for, lambda: script.pongs >= 2)
            script.stop.set()  # no more pongs
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(ws.recv(), 30)

    asyncio.run(main())
    server.join()
    assert script.pings == script.pongs + 1  # it waited for the pong of its last ping
    assert script.close_payload is not None and script.close_payload[:2] == (1011).to_bytes(2, "big")


def test_asyncio_answered_pings_keep_the_connection(raw_server: StartServer) -> None:
    script = PingServer(announce=4)
    server = raw_server(script)

    async def main() -> None:
        async with aconnect(server.url, ping_interval=0.05, ping_timeout=KEEP_TIMEOUT) as ws:
            # No recv() meanwhile: the reader still sees the pongs.
            assert await asyncio.to_thread(script.wait_for, lambda: script.pings >= 4)
            await ws.send("alive")
            assert await asyncio.wait_for(ws.recv(), 30) == "kept"
            assert await asyncio.wait_for(ws.recv(), 30) == "alive"

    asyncio.run(main())
    server.join()
    assert script.pongs == script.pings and script.opcodes[-1] == 8


def test_keepalive_is_on_by_default(raw_server: StartServer) -> None:
    """connect() without options pings every 20 s, as websockets does (the
    library reports the deadline)."""
    server = raw_server(swallow_pings)
    ws = connect(server.url, close_timeout=0.5)
    try:
        due = ws._driver.timeout()
        assert due is not None and 19 <= due <= 20
    finally:
        ws.close()
    server.join()


def test_sync_program_that_only_sends_stays_connected(raw_server: StartServer) -> None:
    """Without a receiving thread, sends read the pongs (and keep what
    arrived for recv()); without that, no pong is seen, no further ping
    goes out, and the pong timeout ends the connection."""
    script = PingServer(echo=False)
    server = raw_server(script)
    with connect(server.url, ping_interval=0.05, ping_timeout=KEEP_TIMEOUT) as ws:
        sent: List[str] = []
        deadline = time.monotonic() + 30
        # Sends (which also send the pings that are due) until the fifth
        # ping: the client read four pongs. The wait only paces the loop.
        while not script.wait_for(lambda: script.pings >= 5, 0.05):
            assert time.monotonic() < deadline, "no fifth ping"
            sent.append(str(len(sent)))
            ws.send(sent[-1])
        assert ws._conn.state == "open"
    server.join()
    assert script.pings >= 5 and script.pongs == script.pings
    assert script.texts == [t.encode() for t in sent] and script.opcodes[-1] == 8


def test_sync_messages_read_by_sends_arrive_in_order(echo_url: str) -> None:
    # Keepalive on (every PUMP_EVERY-th send reads what arrived) but no
    # ping in the test's time.
    count = PUMP_EVERY
    with connect(echo_url + "/", ping_interval=60, ping_timeout=60) as ws:
        for i in range(count - 1):
            ws.send(f"m{i}")
        assert select.select([ws.fileno()], [], [], 30)[0]  # echoes arrived
        time.sleep(0.1)
        ws.send(f"m{count - 1}")  # reads what arrived: the echoes of the earlier ones
        assert ws._inbox  # read by the send
        assert [ws.recv(timeout=10) for _ in range(count)] == [f"m{i}" for i in range(count)]
