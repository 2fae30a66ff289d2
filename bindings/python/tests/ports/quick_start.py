"""The quick start of websockets' documentation (its client examples: the
threading client, the asyncio client and their "hello" variants), with the
name given on the command line instead of asked for. tests/test_ports.py
runs it as it is (against websockets) and with its imports changed to
wsclient: both runs must print the same lines.

    quick_start.py BASE_URL NAME      (the echo server of tests/servers)
"""

import asyncio
import sys

from websockets.asyncio.client import connect as async_connect
from websockets.sync.client import connect


def hello(uri: str, name: str) -> None:
    with connect(uri) as websocket:
        websocket.send(name)
        print(f">>> {name}")

        greeting = str(websocket.recv())
        print(f"<<< {greeting}")


async def async_hello(uri: str, name: str) -> None:
    async with async_connect(uri) as websocket:
        await websocket.send(name)
        print(f">>> {name}")

        greeting = str(await websocket.recv())
        print(f"<<< {greeting}")


def hello_world(uri: str) -> None:
    with connect(uri) as websocket:
        websocket.send("Hello world!")
        message = websocket.recv()
        print(message)


async def async_hello_world(uri: str) -> None:
    async with async_connect(uri) as websocket:
        await websocket.send("Hello world!")
        message = await websocket.recv()
        print(message)


if __name__ == "__main__":
    base, name = sys.argv[1], sys.argv[2]
    hello(base + "/", name)
    asyncio.run(async_hello(base + "/", name))
    hello_world(base + "/")
    asyncio.run(async_hello_world(base + "/"))
