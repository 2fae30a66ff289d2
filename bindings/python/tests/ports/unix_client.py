"""A client of a server on a Unix socket, as websockets' documentation
shows it (unix_connect), with the threading and the asyncio API.
tests/test_ports.py runs it against websockets and, with its imports
changed, against wsclient.

    unix_client.py SOCKET_PATH      (the echo server of tests/servers, --unix)
"""

import asyncio
import sys

from websockets.asyncio.client import unix_connect as async_unix_connect
from websockets.sync.client import unix_connect


def hello(path: str) -> None:
    with unix_connect(path) as websocket:
        websocket.send("Hello over a Unix socket")
        print(f"<<< {str(websocket.recv())}")
        print("host:", websocket.request.headers["Host"] if websocket.request else None)


async def async_hello(path: str) -> None:
    async with async_unix_connect(path, "ws://localhost/chat") as websocket:
        await websocket.send("Hello over a Unix socket, from asyncio")
        print(f"<<< {str(await websocket.recv())}")
        print("path:", websocket.request.path if websocket.request else None)


if __name__ == "__main__":
    hello(sys.argv[1])
    asyncio.run(async_hello(sys.argv[1]))
