"""A client written for websockets' asyncio API. tests/test_ports.py runs it
as it is (against websockets) and with its imports changed to wsclient:
both runs must print the same lines.

    asyncio_client.py BASE_URL      (the echo server of tests/servers)

Its reconnection waits follow WEBSOCKETS_BACKOFF_* (the test sets them
small): the same variables serve both libraries.
"""

import asyncio
import sys
from typing import AsyncIterator

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus


async def main(base: str) -> None:
    async with connect(base + "/") as websocket:
        await websocket.send("Hello world!")
        print("text:", await websocket.recv())
        await websocket.send(b"\x00\x01\x02")
        print("binary:", await websocket.recv())
        await websocket.send("as bytes")
        print("decode=False:", await websocket.recv(decode=False))
        await websocket.send(["frag", "men", "ted"])
        print("fragments:", await websocket.recv())

        async def fragments() -> AsyncIterator[bytes]:
            yield b"async "
            yield b"fragments"

        await websocket.send(fragments())
        print("async iterable:", await websocket.recv())
        await websocket.send(["stre", "amed"])
        print("recv_streaming:", "".join([p async for p in websocket.recv_streaming(decode=True)]))
        await websocket.send("bytes")
        print("recv_streaming(decode=False):", b"".join([p async for p in websocket.recv_streaming(decode=False)]))
        try:
            await asyncio.wait_for(websocket.recv(), 0.2)
        except TimeoutError:
            print("timeout: nothing came, no message lost")
        await websocket.send("after the timeout")
        print("next:", await websocket.recv())
        for i in range(3):
            await websocket.send(f"message {i}")
        print("in order:", [await websocket.recv() for _ in range(3)])
        big = bytes(range(256)) * 4096
        await websocket.send(big)
        print("1 MiB echoed intact:", await websocket.recv() == big)

        async def reader() -> list[str]:
            return [str(await websocket.recv()) for _ in range(20)]

        task = asyncio.create_task(reader())
        for i in range(20):
            await websocket.send(f"concurrent {i}")
        got = await task
        print("concurrent send and recv:", got == [f"concurrent {i}" for i in range(20)])
    print("close code after close():", websocket.close_code)
    try:
        await websocket.send("too late")
    except ConnectionClosedOK as exc:
        print("send after close:", type(exc).__name__, exc.sent and exc.sent.code)

    async with connect(base + "/close/1000") as websocket:
        print("iteration ends at a normal close:", [m async for m in websocket])
        try:
            await websocket.recv()
        except ConnectionClosedOK as exc:
            print("recv after the close:", exc.rcvd and (exc.rcvd.code, exc.rcvd.reason))

    async with connect(base + "/close/4000") as websocket:
        try:
            async for _ in websocket:
                pass
        except ConnectionClosedError as exc:
            print("iteration raises at an error close:", exc.rcvd and (exc.rcvd.code, exc.rcvd.reason))

    try:
        await connect(base + "/status/403")
    except InvalidStatus as exc:
        print("rejected:", exc.response.status_code)

    websocket = await connect(base + "/")
    await websocket.close(4321, "any reason text")
    try:
        await websocket.recv()
    except ConnectionClosed as exc:
        print("our close:", exc.sent and (exc.sent.code, exc.sent.reason), type(exc).__name__)

    # Reconnecting: `async for` connects again when the body ends.
    codes = []
    async for websocket in connect(base + "/close/1012"):
        try:
            await websocket.recv()
        except ConnectionClosed as exc:
            codes.append(exc.rcvd and exc.rcvd.code)
        if len(codes) == 3:
            break
    print("reconnected after 1012:", codes)

    try:
        async for websocket in connect(base + "/status/403"):
            print("not reached")
    except InvalidStatus as exc:
        print("reconnecting stops at:", exc.response.status_code)

    seen = []

    def retry_twice(exc: Exception) -> Exception | None:
        seen.append(type(exc).__name__)
        return exc if len(seen) == 3 else None

    try:
        async for websocket in connect(base + "/status/503", process_exception=retry_twice):
            print("not reached")
    except InvalidStatus as exc:
        print("process_exception:", exc.response.status_code, seen)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
