#!/usr/bin/env python3
"""A real WebSocket server for the tests: Python `websockets`, echoing.

Prints ``PORT <n>`` on stdout once it listens (bind to port 0 by default),
then serves until killed. Paths change behaviour:

  /             echo every message back
  /greet        send --greet messages first, print what comes back, close 1000
  /headers      send the request headers as one JSON text message, then echo
  /status/NNN   answer the handshake with HTTP NNN (Location: /redirected for 3xx)
  /redirected   echo (the target of the redirects)
  /close/CODE   close at once with CODE and reason "bye"
  /drop         send "hello", then cut TCP (no close frame)
  /silent       accept the handshake, then never send anything
  /big/N        send one message of N bytes, made as it is sent, then echo:
                binary, byte i being i mod 251; with ?text, UTF-8 text,
                TEXT_UNIT repeated (N rounded down to whole units). It goes
                in frames of 65537 bytes (?frame=F: F bytes; frames of text
                may cut characters), held whole only when it fits one frame;
                with ?ping, a ping between frames, then the text "pongs K"
                once the K pings are answered; with ?cut=K, websockets' close
                (1011) after K frames, in the middle of the message

Options select a Unix socket (--unix PATH), TLS (with an optional required client certificate),
permessage-deflate parameters, subprotocols and the bind address.
"""

import argparse
import http
import json
import socket
import ssl
import sys
import threading
import urllib.parse

from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Response
from websockets.sync.server import serve, unix_serve


# /big/N's text: 17 bytes (so frames and pieces of a power of two cut it
# anywhere) with characters of 1, 2, 3 and 4 bytes.
TEXT_UNIT = "a✓é🙂 wörld".encode()
BIG_FRAME = 65537


class Cut(Exception):
    """/big/N?cut=K: stop in the middle of the message."""


def big_message(ws, target):
    """/big/N: send the message, generated frame by frame; False if cut."""
    url = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    size = int(url.path.split("/")[2])
    text = "text" in query
    unit = TEXT_UNIT if text else bytes(range(251))
    if text:
        size -= size % len(unit)
    frame = int(query.get("frame", [BIG_FRAME])[0])
    pattern = unit * (frame // len(unit) + 2)

    def piece(offset, length):
        start = offset % len(unit)
        return pattern[start : start + length]

    if size <= frame:
        ws.send(piece(0, size), text=text)
        return True
    pings = []
    cut = int(query["cut"][0]) if "cut" in query else None

    def frames():
        for index, offset in enumerate(range(0, size, frame)):
            if index == cut:
                raise Cut()
            if offset and "ping" in query:
                pings.append(ws.ping())
            yield piece(offset, min(frame, size - offset))

    try:
        ws.send(frames(), text=text)
    except Cut:
        return False  # websockets closed with 1011, "error in fragmented message"
    if "ping" in query:
        answered = sum(1 for p in pings if p.wait(10))
        ws.send(f"pongs {answered}")
    return True


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--unix", help="serve on this Unix socket path instead (prints PORT 0)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", help="PEM certificate chain: serve wss")
    p.add_argument("--key", help="PEM key for --cert")
    p.add_argument("--client-ca", help="require a client certificate signed by this CA")
    p.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    p.add_argument("--server-max-window-bits", type=int)
    p.add_argument("--client-max-window-bits", type=int)
    p.add_argument("--server-no-context-takeover", action="store_true")
    p.add_argument("--client-no-context-takeover", action="store_true")
    p.add_argument("--subprotocol", action="append", default=[])
    p.add_argument("--max-size", type=int, default=64 << 20)
    p.add_argument("--greet", action="append", default=[])
    return p.parse_args()


def main():
    args = parse_args()
    extensions = []
    if args.deflate:
        extensions.append(
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=args.server_no_context_takeover,
                client_no_context_takeover=args.client_no_context_takeover,
                server_max_window_bits=args.server_max_window_bits,
                client_max_window_bits=args.client_max_window_bits,
            )
        )
    ssl_context = None
    if args.cert:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ssl_context.verify_mode = ssl.CERT_REQUIRED
            ssl_context.load_verify_locations(args.client_ca)

    def process_request(connection, request):
        if request.path.startswith("/status/"):
            status = http.HTTPStatus(int(request.path.split("/")[2]))
            headers = Headers()
            if 300 <= status < 400:
                headers["Location"] = "/redirected"
            body = f"status {status.value}\n".encode()
            headers["Content-Length"] = str(len(body))
            headers["Content-Type"] = "text/plain"
            return Response(status.value, status.phrase, headers, body)
        return None

    def handler(ws):
        path = ws.request.path
        if path.startswith("/close/"):
            ws.close(int(path.split("/")[2]), "bye")
            return
        if path == "/drop":
            ws.send("hello")
            ws.socket.shutdown(socket.SHUT_RDWR)
            return
        if path == "/silent":
            threading.Event().wait(3600)
            return
        if path == "/headers":
            ws.send(json.dumps({k: v for k, v in ws.request.headers.raw_items()}))
        if path.startswith("/big/") and not big_message(ws, path):
            return
        if path == "/greet":
            for text in args.greet:
                ws.send(text)
                print(f"server: got back {ws.recv()}", flush=True)
            ws.close(1000, "done")
            return
        for message in ws:
            ws.send(message)

    where = ((args.unix,) if args.unix else (args.host, args.port))
    with (unix_serve if args.unix else serve)(
        handler,
        *where,
        ssl=ssl_context,
        compression=None,
        extensions=extensions or None,
        subprotocols=args.subprotocol or None,
        process_request=process_request,
        max_size=args.max_size,
        ping_interval=None,
    ) as server:
        port = 0 if args.unix else server.socket.getsockname()[1]
        print(f"PORT {port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
