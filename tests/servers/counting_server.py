#!/usr/bin/env python3
"""A WebSocket echo server that counts the bytes of each connection exactly,
for the tests that check a client's counters against it.

Written on raw sockets (TLS with --cert/--key), so nothing hides a byte:
after its 101 answer it counts every byte read and written, until the client
closes TCP, then prints ``COUNT in=<n> out=<n> frames_in=<n> frames_out=<n>
messages_in=<n> messages_out=<n> pings=<n>`` on stdout. It echoes data
messages (compressed with permessage-deflate when the client offers it,
without context takeover either way), answers pings, and answers a close
with the same code and closes TCP. Prints ``PORT <n>`` once it listens.
"""

import argparse
import base64
import hashlib
import socket
import ssl
import struct
import sys
import threading
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Counted:
    """A socket whose reads and writes after the handshake are counted."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.counting = False
        self.read_bytes = 0
        self.written = 0

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        if self.counting:
            self.read_bytes += len(data)
        self.buf += data

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)
        if self.counting:
            self.written += len(data)


def handshake(conn):
    while b"\r\n\r\n" not in conn.buf:
        conn.fill()
    head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
    # Bytes after the request belong to the WebSocket.
    conn.read_bytes = len(conn.buf)
    headers = {}
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(
        hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
    deflate = "permessage-deflate" in headers.get("sec-websocket-extensions", "")
    answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n")
    if deflate:
        answer += ("Sec-WebSocket-Extensions: permessage-deflate; "
                   "server_no_context_takeover; client_no_context_takeover\r\n")
    conn.send((answer + "\r\n").encode())
    conn.counting = True
    return deflate


def frame(opcode, payload, rsv1=False):
    b0 = 0x80 | opcode | (0x40 if rsv1 else 0)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def serve(raw, tls):
    counts = dict(frames_in=0, frames_out=0, messages_in=0, messages_out=0, pings=0)
    conn = None
    try:
        sock = tls.wrap_socket(raw, server_side=True) if tls else raw
        conn = Counted(sock)
        deflate = handshake(conn)
        message, compressed, kind = b"", False, 0
        while True:
            b0, b1 = conn.take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", conn.take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", conn.take(8))[0]
            key = conn.take(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(conn.take(n)))
            counts["frames_in"] += 1
            opcode = b0 & 0x0F
            if opcode == 0x9:
                counts["pings"] += 1
                conn.send(frame(0xA, payload))
                counts["frames_out"] += 1
            elif opcode == 0x8:
                conn.send(frame(0x8, payload[:2]))
                counts["frames_out"] += 1
                break  # the server closes TCP first (RFC 6455 section 7.1.1)
            elif opcode in (0x0, 0x1, 0x2):
                if opcode:
                    kind, compressed, message = opcode, bool(b0 & 0x40), b""
                message += payload
                if b0 & 0x80:
                    counts["messages_in"] += 1
                    if compressed:
                        message = zlib.decompressobj(-15).decompress(message + b"\0\0\xff\xff")
                    if deflate:
                        c = zlib.compressobj(wbits=-15)
                        body = c.compress(message) + c.flush(zlib.Z_SYNC_FLUSH)
                        conn.send(frame(kind, body[:-4], rsv1=True))
                    else:
                        conn.send(frame(kind, message))
                    counts["frames_out"] += 1
                    counts["messages_out"] += 1
    except (EOFError, OSError, ValueError):
        pass
    finally:
        if conn is not None and conn.counting:
            extra = " ".join(f"{k}={v}" for k, v in counts.items())
            print(f"COUNT in={conn.read_bytes} out={conn.written} {extra}", flush=True)
        raw.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=serve, args=(raw, tls), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
