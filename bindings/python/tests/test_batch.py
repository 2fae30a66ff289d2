"""Small messages in batches: the sync and asyncio clients take every
message complete now in one call (``ws_recv_messages``, see
Driver.receive_batch), and a sync send flushes only what is left queued.
Order, data, types, decode=, a message larger than the batch buffer among
small ones, a close right after a burst, a timeout across a batch, and the
number of calls into the library."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from wstest_helpers import StartServer, read_client_frame, server_frame

from wsclient import _driver
from wsclient.asyncio.client import connect as aconnect
from wsclient.exceptions import ConnectionClosedOK
from wsclient.sync.client import connect

TEXT, BINARY = 1, 2
Sent = List[Tuple[int, bytes]]

pytestmark = pytest.mark.skipif(not _driver.BATCH, reason="the library has no ws_recv_messages")


def burst(count: int, big_at: int = -1) -> Sent:
    """`count` messages of mixed types and sizes (0 to 300 bytes, text with
    characters of 1 to 4 bytes), one of BATCH_BYTES + 3 bytes at `big_at`."""
    out: Sent = []
    for i in range(count):
        if i == big_at:
            out.append((BINARY, bytes(range(256)) * (_driver.BATCH_BYTES // 256) + b"end"))
        elif i % 3 == 0:
            out.append((BINARY, bytes((i + j) % 256 for j in range(i % 301))))
        else:
            out.append((TEXT, (f"{i}:" + "aé€😀"[i % 4] * (i % 75)).encode()))
    return out


def expected(sent: Sent) -> List[Any]:
    return [data.decode() if kind == TEXT else data for kind, data in sent]


def send_all(sock: socket.socket, sent: Sent) -> None:
    """The whole burst in one write: the client finds many messages complete."""
    sock.sendall(b"".join(server_frame(kind, data) for kind, data in sent))


def close_after(sent: Sent) -> Callable[[socket.socket], Any]:
    """A server script: the burst and a close frame in one write, then the
    client's close."""

    def script(sock: socket.socket) -> Any:
        sock.sendall(b"".join(server_frame(k, d) for k, d in sent) + server_frame(8, struct.pack("!H", 1000)))
        return read_client_frame(sock)

    return script


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, int]]:
    """How often the driver calls the batch receive, the one-message
    receive, and the flush (each wrapped)."""
    counts = {"batch": 0, "message": 0, "flush": 0}

    def counting(key: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            counts[key] += 1
            return fn(*args)

        return call

    monkeypatch.setattr(_driver, "_recv_messages_at", counting("batch", _driver._recv_messages_at))
    monkeypatch.setattr(_driver, "_recv_message_at", counting("message", _driver._recv_message_at))
    monkeypatch.setattr(_driver, "_flush_raw", counting("flush", _driver._flush_raw))
    yield counts


def test_sync_a_burst_then_a_close(raw_server: StartServer) -> None:
    sent = burst(600, big_at=300)
    server = raw_server(close_after(sent))
    with connect(server.url, ping_interval=None) as ws:
        got = [ws.recv(timeout=10) for _ in sent]
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)
    assert got == expected(sent)
    server.thread.join(10)
    assert server.error is None


def test_asyncio_a_burst_then_a_close(raw_server: StartServer) -> None:
    sent = burst(600, big_at=300)
    server = raw_server(close_after(sent))

    async def main() -> List[Any]:
        async with aconnect(server.url, ping_interval=None) as ws:
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in sent]
            with pytest.raises(ConnectionClosedOK):
                await asyncio.wait_for(ws.recv(), 10)
            return got

    assert asyncio.run(main()) == expected(sent)


def test_sync_iterating_a_burst_ends_at_the_close(raw_server: StartServer) -> None:
    sent = burst(300)
    server = raw_server(close_after(sent))
    with connect(server.url, ping_interval=None) as ws:
        assert list(ws) == expected(sent)


def test_sync_decode_across_a_batch(raw_server: StartServer) -> None:
    sent: Sent = [(TEXT, "é".encode()), (BINARY, b"bin"), (TEXT, b"t"), (BINARY, "€".encode())]
    server = raw_server(close_after(sent))
    with connect(server.url, ping_interval=None) as ws:
        time.sleep(0.2)  # all of them arrived: one batch
        assert ws.recv(decode=False) == "é".encode()
        assert ws.recv(decode=True) == "bin"
        assert ws.recv() == "t"
        assert ws.recv(decode=True) == "€"


def test_asyncio_decode_across_a_batch(raw_server: StartServer) -> None:
    sent: Sent = [(TEXT, "é".encode()), (BINARY, b"bin"), (TEXT, b"t"), (BINARY, "€".encode())]
    server = raw_server(close_after(sent))

    async def main() -> List[Any]:
        async with aconnect(server.url, ping_interval=None) as ws:
            await asyncio.sleep(0.2)
            return [await ws.recv(decode=False), await ws.recv(decode=True), await ws.recv(), await ws.recv(True)]

    assert asyncio.run(main()) == ["é".encode(), "bin", "t", "€"]


def test_sync_recv_timeout_across_a_batch(raw_server: StartServer) -> None:
    first, last = burst(5), [(TEXT, b"last")]

    def script(sock: socket.socket) -> Any:
        send_all(sock, first)
        read_client_frame(sock)  # the client timed out: it asks for more
        send_all(sock, last)
        return read_client_frame(sock)

    server = raw_server(script)
    with connect(server.url, ping_interval=None) as ws:
        assert [ws.recv(timeout=10) for _ in first] == expected(first)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        ws.send("more")
        assert ws.recv(timeout=10) == "last"


def test_sync_recv_takes_a_batch_in_one_call(raw_server: StartServer, calls: Dict[str, int]) -> None:
    sent = burst(200)
    server = raw_server(close_after(sent))
    with connect(server.url, ping_interval=None, max_queue=64) as ws:
        time.sleep(0.3)  # all of them arrived
        assert [ws.recv(timeout=10) for _ in sent] == expected(sent)
        # At most 64 a batch (max_queue); none received one by one.
        assert calls["message"] == 0
        assert 200 // 64 <= calls["batch"] <= 200 // 64 + 2


def test_asyncio_recv_takes_a_batch_in_one_call(raw_server: StartServer, calls: Dict[str, int]) -> None:
    sent = burst(200)
    server = raw_server(close_after(sent))

    async def main() -> List[Any]:
        async with aconnect(server.url, ping_interval=None, max_queue=64) as ws:
            await asyncio.sleep(0.3)
            return [await ws.recv() for _ in sent]

    assert asyncio.run(main()) == expected(sent)
    assert calls["message"] == 0
    # A batch when the queue falls to its low-water mark (16), up to 48 at
    # a time (and a call that finds nothing, now and then).
    assert calls["batch"] <= 200 // 10


def test_sync_a_small_send_is_written_without_a_flush(echo_url: str, calls: Dict[str, int]) -> None:
    with connect(echo_url + "/", ping_interval=None) as ws:
        for i in range(100):
            ws.send(f"m{i}")
        assert calls["flush"] == 0  # written by the send itself: nothing was left queued
        assert [ws.recv(timeout=10) for _ in range(100)] == [f"m{i}" for i in range(100)]


def test_sync_sends_read_ahead_within_max_queue(echo_url: str) -> None:
    # Keepalive on: every PUMP_EVERY-th send reads what arrived, in a batch
    # no larger than the room left under max_queue.
    from wsclient.sync.client import PUMP_EVERY

    with connect(echo_url + "/", ping_interval=60, ping_timeout=60, max_queue=4) as ws:
        for r in range(3):
            for i in range(PUMP_EVERY):
                ws.send(f"{r}.{i}")
            time.sleep(0.1)
            assert len(ws._inbox) <= 4
        got = [ws.recv(timeout=10) for _ in range(3 * PUMP_EVERY)]
    assert got == [f"{r}.{i}" for r in range(3) for i in range(PUMP_EVERY)]


def test_sync_a_stream_after_a_batch(raw_server: StartServer) -> None:
    # Small messages taken in a batch, then a message larger than the batch
    # buffer received in pieces, then small ones again.
    big = bytes(range(256)) * 1024  # 256 KiB
    sent: Sent = burst(20) + [(BINARY, big)] + burst(20)
    server = raw_server(close_after(sent))
    with connect(server.url, ping_interval=None, max_size=None) as ws:
        assert [ws.recv(timeout=10) for _ in range(20)] == expected(sent[:20])
        pieces = list(ws.recv_streaming())
        assert len(pieces) > 1 and b"".join(pieces) == big  # type: ignore[arg-type]
        assert [ws.recv(timeout=10) for _ in range(20)] == expected(sent[21:])
