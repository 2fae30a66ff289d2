#!/usr/bin/env python3
"""A WebSocket server written with the Python standard library only, for the
tests that must run offline and without PyPI (the Debian build's tests and
its autopkgtest, debian/tests/c-echo).

It prints "PORT n", accepts one connection, sends each text message given
on the command line, checks that the client sends it back (masked, as RFC
6455 requires of a client), then closes with 1000 "done" and waits for the
client's close frame. Exit status 0 when every message came back.

    stdlib_echo_check.py [MESSAGE ...]
"""

import base64
import hashlib
import socket
import struct
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the client closed the TCP connection")
        data += chunk
    return data


def read_frame(sock):
    """One client frame: (opcode, payload). Clients must mask."""
    b0, b1 = read_exact(sock, 2)
    if not b1 & 0x80:
        raise ValueError("unmasked client frame")
    size = b1 & 0x7F
    if size == 126:
        size = struct.unpack("!H", read_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", read_exact(sock, 8))[0]
    key = read_exact(sock, 4)
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(read_exact(sock, size)))
    if not b0 & 0x80:
        raise ValueError("fragmented client frame (not expected here)")
    return b0 & 0x0F, payload


def frame(opcode, payload):
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


def handshake(sock):
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("no upgrade request")
        request += chunk
    headers = {}
    for line in request.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest())
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def main(messages):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    sock, _ = listener.accept()
    sock.settimeout(30)
    handshake(sock)
    ok = True
    for text in messages:
        sock.sendall(frame(0x1, text.encode()))
        opcode, payload = read_frame(sock)
        print(f"got back {payload.decode()!r}" if opcode == 0x1 else f"got opcode {opcode}",
              flush=True)
        ok = ok and opcode == 0x1 and payload == text.encode()
    sock.sendall(frame(0x8, struct.pack("!H", 1000) + b"done"))
    opcode, payload = read_frame(sock)
    print(f"client closed with {struct.unpack('!H', payload[:2])[0] if payload else None}", flush=True)
    ok = ok and opcode == 0x8
    sock.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
