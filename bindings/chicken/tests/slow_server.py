#!/usr/bin/env python3
"""A WebSocket server over raw sockets that misbehaves on purpose, for the
egg's green-thread tests (the `websockets` library would answer closes and
read at full speed by itself).

Prints ``PORT <n>`` once it listens on 127.0.0.1, then serves until killed.

  /slow-reader   reads slowly (a bounded rate, so big sends must wait for
                 the socket); checks that every data message holds the bytes
                 i mod 251 and answers "ok SIZE" or "bad OFFSET"; answers
                 pings and the close handshake
  /no-close      reads and drops everything; never sends a byte (no close
                 answer, no pong) and never closes TCP while the client keeps
                 it open
  /no-read       never reads: the client's sends fill the socket buffers
"""

import base64
import hashlib
import socket
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHUNK = 128 << 10  # bytes per read of /slow-reader
PAUSE = 0.002  # seconds between its reads
PATTERN = bytes(i % 251 for i in range(251)) * (CHUNK // 251 + 2)


def handshake(sock):
    """Read the HTTP upgrade request, answer 101; return (path, leftover)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            raise ConnectionError("closed during the handshake")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    return path, rest


def frame(opcode, payload):
    """An unmasked server frame (payloads here are under 126 bytes)."""
    return bytes([0x80 | opcode, len(payload)]) + payload


class SlowReader:
    def __init__(self, sock, leftover):
        self.sock = sock
        self.buf = bytearray(leftover)

    def fill(self, n):
        """Make the buffer hold at least n bytes, one bounded read at a time."""
        while len(self.buf) < n:
            time.sleep(PAUSE)
            more = self.sock.recv(CHUNK)
            if not more:
                raise ConnectionError("closed")
            self.buf += more

    def take(self, n):
        self.fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def header(self):
        b0, b1 = self.take(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", self.take(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", self.take(8))
        mask = self.take(4) if b1 & 0x80 else b"\0\0\0\0"
        return b0 & 0x80, b0 & 0x0F, n, mask

    def serve(self):
        size = 0  # of the message being received
        bad = None
        while True:
            fin, opcode, n, mask = self.header()
            if opcode >= 8:
                payload = unmask(self.take(n), mask, 0)
                if opcode == 9:
                    self.sock.sendall(frame(10, payload))
                elif opcode == 8:
                    self.sock.sendall(frame(8, payload[:2]))
                    return
                continue
            done = 0
            while done < n:
                self.fill(1)
                part = self.take(min(n - done, len(self.buf)))
                got = unmask(part, mask, done)
                at = size % 251
                if bad is None and got != PATTERN[at : at + len(got)]:
                    bad = size + next(i for i in range(len(got)) if got[i] != (size + i) % 251)
                done += len(part)
                size += len(part)
            if fin:
                answer = f"ok {size}" if bad is None else f"bad {bad}"
                self.sock.sendall(frame(1, answer.encode()))
                size, bad = 0, None


def unmask(data, mask, offset):
    k = offset % 4
    key = (mask[k:] + mask[:k]) * (len(data) // 4 + 1)
    x = int.from_bytes(data, "little") ^ int.from_bytes(key[: len(data)], "little")
    return x.to_bytes(len(data), "little")


def serve(sock):
    with sock:
        try:
            path, leftover = handshake(sock)
            if path == "/slow-reader":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                SlowReader(sock, leftover).serve()
            elif path == "/no-close":
                while sock.recv(65536):
                    pass
            elif path == "/no-read":
                time.sleep(3600)
        except (ConnectionError, OSError):
            pass


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
