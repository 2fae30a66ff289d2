"""The asyncio how-tos of websockets' documentation for a client: the
consumer and producer patterns run together and stopped as soon as one
ends, several consumers behind a queue, the FAQ's headers (read from
websocket.request and .response, set with additional_headers), the
address forced with host=, and stopping on SIGTERM by closing the
connection. tests/test_ports.py runs it against websockets and, with its
imports changed, against wsclient.

    asyncio_howto.py BASE_URL      (the echo server of tests/servers)
"""

import asyncio
import json
import os
import signal
import sys
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


async def consumer_handler(websocket: ClientConnection, received: list[str]) -> None:
    async for message in websocket:
        received.append(str(message))
        if len(received) == 5:
            return


async def producer_handler(websocket: ClientConnection) -> None:
    for i in range(5):
        try:
            await websocket.send(f"produced {i}")
        except ConnectionClosed:
            break
    await asyncio.sleep(3600)  # a producer that never ends on its own


async def consumer_and_producer(uri: str) -> None:
    received: list[str] = []
    async with connect(uri) as websocket:
        consumer_task = asyncio.create_task(consumer_handler(websocket, received))
        producer_task = asyncio.create_task(producer_handler(websocket))
        done, pending = await asyncio.wait(
            [consumer_task, producer_task],
            return_when=asyncio.FIRST_COMPLETED,
        )
        for task in pending:
            task.cancel()
    print("consumer and producer:", received, consumer_task in done)


async def worker(queue: "asyncio.Queue[str]", results: list[str]) -> None:
    while True:
        message = await queue.get()
        await asyncio.sleep(0.01)  # consume slowly
        results.append(message)
        queue.task_done()


async def multiple_consumers(uri: str) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    results: list[str] = []
    workers = [asyncio.create_task(worker(queue, results)) for _ in range(4)]
    async with connect(uri) as websocket:
        for i in range(12):
            await websocket.send(f"job {i}")
        for _ in range(12):
            await queue.put(str(await websocket.recv()))
    await queue.join()
    for task in workers:
        task.cancel()
    print("multiple consumers:", sorted(results, key=lambda m: int(m.split()[1])) == [f"job {i}" for i in range(12)])


async def headers(uri: str) -> None:
    async with connect(uri + "headers", additional_headers={"Authorization": "Bearer t0ken"}) as websocket:
        sent = json.loads(str(await websocket.recv()))
        assert websocket.request is not None and websocket.response is not None
        print("authorization sent:", sent["Authorization"], websocket.request.headers["Authorization"])
        print("upgrade received:", websocket.response.headers["Upgrade"])


async def forced_address(uri: str) -> None:
    port = urlsplit(uri).port
    async with connect(f"ws://example.invalid:{port}/", host="127.0.0.1") as websocket:
        await websocket.send("forced")
        print("host=:", await websocket.recv(), websocket.remote_address[0])


async def shutdown_on_sigterm(uri: str) -> None:
    async with connect(uri) as websocket:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, loop.create_task, websocket.close())
        loop.call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
        async for message in websocket:
            print("not reached:", message)
        loop.remove_signal_handler(signal.SIGTERM)
    print("closed on SIGTERM:", websocket.close_code)


async def main(base: str) -> None:
    uri = base + "/"
    await consumer_and_producer(uri)
    await multiple_consumers(uri)
    await headers(uri)
    await forced_address(uri)
    await shutdown_on_sigterm(uri)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
