"""Keepalive (the library's pings and pong deadline) through the
websockets-style APIs, on by default there as in websockets."""

from __future__ import annotations

import asyncio
import socket
from typing import List

import pytest
from wstest_helpers import StartServer, read_client_frame

from wsclient import _ffi
from wsclient.asyncio.client import connect as aconnect
from wsclient.exceptions import ConnectionClosedError
from wsclient.sync.client import connect

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


def test_sync_missing_pong_closes_the_connection(raw_server: StartServer) -> None:
    server = raw_server(swallow_pings)
    with connect(server.url, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.5) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv()
        assert info.value.rcvd is None
    assert 9 in server.join()  # it did ping


def test_sync_answered_pings_keep_the_connection(echo_url: str) -> None:
    with connect(echo_url + "/", ping_interval=0.05, ping_timeout=0.5) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.6)  # several pings went out and were answered
        ws.send("alive")
        assert ws.recv(timeout=10) == "alive"


def test_asyncio_missing_pong_closes_the_connection(raw_server: StartServer) -> None:
    server = raw_server(swallow_pings)

    async def main() -> None:
        async with aconnect(server.url, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.5) as ws:
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(ws.recv(), 30)

    asyncio.run(main())
    assert 9 in server.join()


def test_asyncio_answered_pings_keep_the_connection(echo_url: str) -> None:
    async def main() -> None:
        async with aconnect(echo_url + "/", ping_interval=0.05, ping_timeout=0.5) as ws:
            await asyncio.sleep(0.6)  # no recv() meanwhile: the reader still sees the pongs
            await ws.send("alive")
            assert await asyncio.wait_for(ws.recv(), 10) == "alive"

    asyncio.run(main())


def test_keepalive_is_on_by_default(raw_server: StartServer) -> None:
    """connect() without options pings every 20 s, as websockets does (the
    library reports the deadline)."""
    server = raw_server(swallow_pings)
    ws = connect(server.url, close_timeout=0.5)
    try:
        due = ws._conn._next_timer()
        assert due is not None and 19 <= due <= 20
    finally:
        ws.close()
    server.join()


def test_sync_program_that_only_sends_stays_connected(echo_url: str) -> None:
    """Without a receiving thread, sends read the pongs (and keep what
    arrived for recv()); without that, the pong timeout would end the
    connection."""
    import time

    with connect(echo_url + "/silent", ping_interval=0.05, ping_timeout=0.3) as ws:
        for i in range(8):
            ws.send(f"{i}")
            time.sleep(0.1)  # two pings per pause
        assert ws._conn.state == "open"


def test_sync_messages_read_by_sends_arrive_in_order(echo_url: str) -> None:
    import time

    with connect(echo_url + "/", ping_interval=0.05, ping_timeout=0.3) as ws:
        for i in range(5):
            ws.send(f"m{i}")
            time.sleep(0.05)
        assert [ws.recv(timeout=10) for _ in range(5)] == [f"m{i}" for i in range(5)]
