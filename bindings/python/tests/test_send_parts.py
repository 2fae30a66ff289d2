"""Large sends go to the library in parts as the socket takes them
(ws_send_part): a message is never copied whole into the library's queue,
and a send cut short by its write timeout leaves the rest queued."""

import asyncio
import os
import socket
import struct
import threading
import time

import pytest
from wstest_helpers import read_client_frame, read_client_message, server_frame

import wsclient
from wsclient import _ffi
from wsclient.asyncio.client import connect

BIG = 32 << 20  # far more than the kernel's socket buffers hold


def queued(conn: wsclient.Connection) -> int:
    return int(_ffi.lib.ws_conn_queued_bytes(conn._ptr))


def stalled_then_reads(big: bytes, go: threading.Event):
    """A server script: wait for `go`, then check that `big` arrives whole
    as one binary message, followed by the close."""

    def script(sock: socket.socket) -> bool:
        assert go.wait(30)
        opcode, data, _ = read_client_message(sock)
        close, _, _ = read_client_message(sock)
        sock.sendall(server_frame(8, struct.pack("!H", 1000)))
        return opcode == 2 and data == big and close == 8

    return script


def test_a_large_send_to_a_stalled_server_queues_at_most_64_kib(raw_server):
    big = os.urandom(BIG)
    go = threading.Event()
    server = raw_server(stalled_then_reads(big, go))
    threading.Timer(0.7, go.set).start()  # the client's socket fills meanwhile
    conn = wsclient.connect(server.url)
    sender = threading.Thread(target=conn.send_binary, args=(big,))
    sender.start()
    highest = 0
    while sender.is_alive():
        highest = max(highest, queued(conn))
        time.sleep(0.001)
    sender.join()
    assert highest <= (64 << 10) + 2048, f"{highest} bytes were queued"
    conn.close()
    assert server.join() is True


def test_a_large_send_past_its_write_timeout_queues_the_rest(raw_server):
    big = os.urandom(BIG)
    go = threading.Event()
    server = raw_server(stalled_then_reads(big, go))
    conn = wsclient.connect(server.url, write_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(wsclient.WebSocketTimeout):
        conn.send_binary(big)
    assert time.monotonic() - started < 5
    assert queued(conn) > BIG // 2, "the rest of the message was not queued"
    go.set()
    conn.close(timeout=30)
    assert server.join() is True


def test_asyncio_send_to_a_stalled_server_queues_at_most_64_kib(raw_server):
    big = os.urandom(BIG)
    go = threading.Event()
    server = raw_server(stalled_then_reads(big, go))

    async def main() -> int:
        async with connect(server.url) as ws:
            task = asyncio.ensure_future(ws.send(big))
            highest, started = 0, time.monotonic()
            while not task.done():
                highest = max(highest, queued(ws._conn))
                if time.monotonic() - started > 0.5:
                    go.set()
                await asyncio.sleep(0.001)
            await task
            return highest

    highest = asyncio.run(main())
    assert highest <= (64 << 10) + 2048, f"{highest} bytes were queued"
    assert server.join() is True


def test_a_cancelled_asyncio_send_leaves_the_rest_queued(raw_server):
    big = os.urandom(BIG)
    go = threading.Event()
    server = raw_server(stalled_then_reads(big, go))

    async def main() -> int:
        async with connect(server.url) as ws:
            task = asyncio.ensure_future(ws.send(big))
            await asyncio.sleep(0.3)
            assert not task.done(), "the stalled server took 32 MiB"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = queued(ws._conn)
            go.set()
            return left

    assert asyncio.run(main()) > BIG // 2
    assert server.join() is True


def test_an_asyncio_send_in_parts_goes_on_while_messages_arrive(raw_server):
    """Receiving writes queued bytes too: a send in parts waiting for the
    socket must still learn that the queue drained."""
    big = os.urandom(8 << 20)

    def script(sock: socket.socket) -> bool:
        stop = threading.Event()

        def ticks() -> None:
            while not stop.is_set():
                sock.sendall(server_frame(1, b"tick"))
                time.sleep(0.002)

        ticker = threading.Thread(target=ticks)
        ticker.start()
        try:
            opcode, data, _ = read_client_message(sock, pause=0.0005)
        finally:
            stop.set()
            ticker.join()
        while True:
            _, _, op, _ = read_client_frame(sock)
            if op == 8:
                break
        sock.sendall(server_frame(8, struct.pack("!H", 1000)))
        return opcode == 2 and data == big

    server = raw_server(script)

    async def main() -> None:
        async with connect(server.url) as ws:

            async def consume() -> None:
                async for _ in ws:
                    pass

            reader = asyncio.ensure_future(consume())
            await asyncio.wait_for(ws.send(big), 20)
            reader.cancel()

    asyncio.run(main())
    assert server.join() is True
