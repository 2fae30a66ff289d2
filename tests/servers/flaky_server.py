#!/usr/bin/env python3
"""A server that does not keep its connections, for the reconnection tests
(Python `websockets`).

Prints ``PORT <n>`` once it listens, then ``CONNECTION <k>`` as connection k
(from 1) opens. Each of the first --drops connections exchanges one message
and then ends the way --end says:

  drop      TCP closed without a close frame (a crash, a restart)
  CODE      a close frame with CODE (e.g. 1012 Service Restart)

The message: with --echo the first message the client sends is echoed; else
the server sends "message <k>" as soon as the connection opens. The
connections after those are kept: with --echo every message is echoed
until the client closes; else, after their message, the server closes with
1000.

With --status NNN every handshake is answered with HTTP NNN instead.
"""

import argparse
import http
import socket
import sys
import threading

from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import serve


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--drops", type=int, default=3)
    p.add_argument("--end", default="drop")
    p.add_argument("--echo", action="store_true")
    p.add_argument("--status", type=int)
    args = p.parse_args()
    lock = threading.Lock()
    count = [0]

    def process_request(connection, request):
        if args.status is None:
            return None
        status = http.HTTPStatus(args.status)
        body = f"status {status.value}\n".encode()
        headers = Headers([("Content-Length", str(len(body))), ("Content-Type", "text/plain")])
        return Response(status.value, status.phrase, headers, body)

    def handler(ws):
        with lock:
            count[0] += 1
            k = count[0]
        print(f"CONNECTION {k}", flush=True)
        if args.echo and k > args.drops:
            for message in ws:
                ws.send(message)
            return
        if args.echo:
            ws.send(ws.recv())
        else:
            ws.send(f"message {k}")
        if k > args.drops:
            ws.close(1000, "done")
        elif args.end == "drop":
            ws.socket.shutdown(socket.SHUT_RDWR)
        else:
            ws.close(int(args.end), "later")

    with serve(handler, "127.0.0.1", 0, process_request=process_request, ping_interval=None) as server:
        print(f"PORT {server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
