#!/usr/bin/env python3
"""A websockets server for the streaming tests: it sends and checks large
messages made from tests/servers/pattern.py, so that the test process never
holds one whole.

Prints ``PORT <n>`` on stdout once it listens, then serves until killed.
``--deflate`` offers permessage-deflate. Paths:

  /send/KIND/SIZE/frame   send one KIND ("text" or "binary") message of SIZE
                          bytes (text: whole periods, see pattern.text_size)
                          in one frame, then the text "end", then echo
  /send/KIND/SIZE/frags   the same message in fragments of 1 MiB (one frame
                          each), then "end", then echo
  /sink                   receive one message, check it against the pattern
                          of its type as it arrives, and answer the text
                          "ok SIZE" or "bad OFFSET", then echo
"""

import argparse
import sys

from pattern import Expected, chunks, whole
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.sync.server import serve


def sink(ws):
    offset, expected = 0, None
    for fragment in ws.recv_streaming():
        if expected is None:
            expected = Expected("text" if isinstance(fragment, str) else "binary")
        data = fragment.encode() if isinstance(fragment, str) else fragment
        for at in range(0, len(data), 1 << 20):
            part = data[at : at + (1 << 20)]
            if part != expected.at(offset, len(part)):
                ws.send(f"bad {offset}")
                return
            offset += len(part)
    ws.send(f"ok {offset}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--deflate", action="store_true")
    args = p.parse_args()

    def handler(ws):
        path = ws.request.path.split("/")
        if path[1] == "send":
            kind, size, how = path[2], int(path[3]), path[4]
            ws.send(whole(kind, size) if how == "frame" else chunks(kind, size))
            ws.send("end")
        elif path[1] == "sink":
            sink(ws)
        for message in ws:
            ws.send(message)

    extensions = [ServerPerMessageDeflateFactory()] if args.deflate else None
    with serve(
        handler, "127.0.0.1", 0, compression=None, extensions=extensions, max_size=None, ping_interval=None
    ) as server:
        print(f"PORT {server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
