"""Large sends go to the library in parts as the socket takes them
(ws_send_part): a message is never copied whole into the library's queue,
and a send cut short by its write timeout leaves the rest queued."""

import os
import socket
import struct
import threading
import time
from typing import Tuple

import pytest
from wstest_helpers import _recv_exact, read_client_frame, server_frame

import wsclient
from wsclient import _ffi

BIG = 32 << 20  # far more than the kernel's socket buffers hold


def read_big_frame(sock: socket.socket) -> Tuple[int, bytes]:
    """One client frame, unmasked at memory speed: (opcode, payload)."""
    b0, b1 = _recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _recv_exact(sock, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _recv_exact(sock, 8))
    key = _recv_exact(sock, 4)
    masked = bytearray(n)
    view, got = memoryview(masked), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError
        got += k
    keys = (key * (n // 4 + 1))[:n]
    data = (int.from_bytes(masked, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")
    return b0 & 0x0F, data


def queued(conn: wsclient.Connection) -> int:
    return int(_ffi.lib.ws_conn_queued_bytes(conn._ptr))


def test_a_large_send_to_a_stalled_server_queues_at_most_64_kib(raw_server):
    big = os.urandom(BIG)

    def script(sock: socket.socket) -> bool:
        time.sleep(0.7)  # the client's socket fills meanwhile
        opcode, data = read_big_frame(sock)
        fin, _, close, _ = read_client_frame(sock)
        sock.sendall(server_frame(8, struct.pack("!H", 1000)))
        return opcode == 2 and data == big and close == 8

    server = raw_server(script)
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

    def script(sock: socket.socket) -> bool:
        assert go.wait(30)
        opcode, data = read_big_frame(sock)
        _, _, close, _ = read_client_frame(sock)
        sock.sendall(server_frame(8, struct.pack("!H", 1000)))
        return opcode == 2 and data == big and close == 8

    server = raw_server(script)
    conn = wsclient.connect(server.url, write_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(wsclient.WebSocketTimeout):
        conn.send_binary(big)
    assert time.monotonic() - started < 5
    assert queued(conn) > BIG // 2, "the rest of the message was not queued"
    go.set()
    conn.close(timeout=30)
    assert server.join() is True
