#!/usr/bin/env python3
"""The small-message benchmark's Python clients (benches/small.py runs them
beside the C and tungstenite clients and prints the table).

    small_python.py CLIENT URI text|binary SIZE COUNT INFLIGHT

Echoes COUNT messages of SIZE bytes through the server at URI, INFLIGHT at
a time (write a batch, then read its echoes; the last batch may be
smaller), each client in its best batching way with its default options
(but no permessage-deflate offer; the server would refuse it anyway):

- wsclient-sync (wsclient.sync.client) and websockets-sync
  (websockets.sync.client): ``send`` x INFLIGHT, then ``recv`` x INFLIGHT.
  Neither API has a way to say that more messages follow, so every send
  is written on its own.
- wsclient-asyncio and websockets-asyncio (their ``.asyncio.client``):
  ``await send`` x INFLIGHT, then ``await recv`` x INFLIGHT.
- websocket-client: ``send`` x INFLIGHT, then ``recv`` x INFLIGHT (no
  batch send either).
- wsclient-more: libwsclient's egg-style API (``wsclient.connect``):
  ``send_text(..., more=True)`` for all but the last message of a batch,
  which writes the batch in one system call, then ``recv`` x INFLIGHT
  (``.data``, a str, as the others return). The Python counterpart of the
  C client's WS_SEND_MORE.

Every received message is checked for its type and length. One message
and its echo, checked, come first and are not counted. Prints "name value"
lines: messages, seconds, user_s, sys_s (this process's CPU time over the
counted span, every thread of it: getrusage RUSAGE_SELF).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

# This tree's binding (its loader finds the in-tree build, or WSCLIENT_LIBRARY).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))

CLIENTS = ("wsclient-sync", "wsclient-asyncio", "wsclient-more", "websockets-sync", "websockets-asyncio",
           "websocket-client")


def payload(size: int) -> bytes:
    """Printable ASCII, the same bytes as small_client.c's payload()."""
    x, out = 12345, bytearray(size)
    for i in range(size):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = 32 + (x >> 16) % 95
    return bytes(out)


class Clock:
    def __init__(self) -> None:
        self.usage = resource.getrusage(resource.RUSAGE_SELF)
        self.wall = time.perf_counter()

    def report(self, messages: int) -> None:
        wall = time.perf_counter() - self.wall
        u = resource.getrusage(resource.RUSAGE_SELF)
        print(f"messages {messages}\nseconds {wall:.6f}\nuser_s {u.ru_utime - self.usage.ru_utime:.6f}\n"
              f"sys_s {u.ru_stime - self.usage.ru_stime:.6f}", flush=True)


def batches(count: int, inflight: int):
    done = 0
    while done < count:
        batch = min(inflight, count - done)
        yield batch
        done += batch


def check(got: Any, message: Any) -> None:
    if type(got) is not type(message) or len(got) != len(message):
        sys.exit(f"small_python: not the message sent: {type(got).__name__} of {len(got)}")


def run_sync(ws: Any, message: Any, count: int, inflight: int) -> None:
    ws.send(message)
    if ws.recv() != message:
        sys.exit("small_python: not the message sent")
    send, recv = ws.send, ws.recv
    clock = Clock()
    for batch in batches(count, inflight):
        for _ in range(batch):
            send(message)
        for _ in range(batch):
            check(recv(), message)
    clock.report(count)


async def run_async(ws: Any, message: Any, count: int, inflight: int) -> None:
    await ws.send(message)
    if await ws.recv() != message:
        sys.exit("small_python: not the message sent")
    send, recv = ws.send, ws.recv
    clock = Clock()
    for batch in batches(count, inflight):
        for _ in range(batch):
            await send(message)
        for _ in range(batch):
            check(await recv(), message)
    clock.report(count)


def wsclient_sync(uri: str, message: Any, count: int, inflight: int) -> None:
    import wsclient.sync.client

    with wsclient.sync.client.connect(uri, compression=None) as ws:
        run_sync(ws, message, count, inflight)


def wsclient_asyncio(uri: str, message: Any, count: int, inflight: int) -> None:
    import wsclient.asyncio.client

    async def main() -> None:
        async with wsclient.asyncio.client.connect(uri, compression=None) as ws:
            await run_async(ws, message, count, inflight)

    asyncio.run(main())


def wsclient_more(uri: str, message: Any, count: int, inflight: int) -> None:
    import wsclient

    with wsclient.connect(uri) as ws:
        send = ws.send_text if isinstance(message, str) else ws.send_binary
        recv = ws.recv
        send(message)
        if recv().data != message:
            sys.exit("small_python: not the message sent")
        clock = Clock()
        for batch in batches(count, inflight):
            for i in range(batch):
                send(message, more=i + 1 < batch)
            for _ in range(batch):
                check(recv().data, message)
        clock.report(count)


def websockets_sync(uri: str, message: Any, count: int, inflight: int) -> None:
    import websockets.sync.client

    with websockets.sync.client.connect(uri, compression=None) as ws:
        run_sync(ws, message, count, inflight)


def websockets_asyncio(uri: str, message: Any, count: int, inflight: int) -> None:
    import websockets.asyncio.client

    async def main() -> None:
        async with websockets.asyncio.client.connect(uri, compression=None) as ws:
            await run_async(ws, message, count, inflight)

    asyncio.run(main())


def websocket_client(uri: str, message: Any, count: int, inflight: int) -> None:
    import websocket

    ws = websocket.create_connection(uri)
    try:
        run_sync(ws, message, count, inflight)
    finally:
        ws.close()


RUN: Dict[str, Callable[[str, Any, int, int], None]] = {
    "wsclient-sync": wsclient_sync,
    "wsclient-asyncio": wsclient_asyncio,
    "wsclient-more": wsclient_more,
    "websockets-sync": websockets_sync,
    "websockets-asyncio": websockets_asyncio,
    "websocket-client": websocket_client,
}


def parse(argv: list) -> Tuple[str, str, bool, int, int, int]:
    if len(argv) != 7 or argv[1] not in RUN or argv[3] not in ("text", "binary"):
        sys.exit(f"usage: {argv[0]} {{{','.join(CLIENTS)}}} URI text|binary SIZE COUNT INFLIGHT")
    return argv[1], argv[2], argv[3] == "text", int(argv[4]), int(argv[5]), max(1, int(argv[6]))


def main() -> int:
    client, uri, text, size, count, inflight = parse(sys.argv)
    data = payload(size)
    RUN[client](uri, data.decode() if text else data, count, inflight)
    return 0


if __name__ == "__main__":
    sys.exit(main())
