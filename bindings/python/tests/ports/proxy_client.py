"""A client through an HTTP proxy, as websockets' proxy documentation
describes it: the proxy=argument, the proxy of the environment used by
default (http_proxy, https_proxy), proxy=None to go direct. With the
threading and the asyncio API. tests/test_ports.py runs it against
websockets and, with its imports changed, against wsclient, and counts
the tunnels the proxy opened.

    proxy_client.py BASE_URL PROXY_URL      (the echo server, the proxy of tests/servers)
"""

import asyncio
import os
import sys

from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import InvalidProxy
from websockets.sync.client import connect


def through(uri: str, proxy: str) -> None:
    with connect(uri, proxy=proxy) as websocket:
        websocket.send("Hello through the proxy")
        print(f"<<< {str(websocket.recv())}")


async def async_through(uri: str, proxy: str) -> None:
    async with async_connect(uri, proxy=proxy) as websocket:
        await websocket.send("Hello through the proxy, from asyncio")
        print(f"<<< {str(await websocket.recv())}")


def from_the_environment(uri: str) -> None:
    with connect(uri) as websocket:
        websocket.send("Hello through the proxy of the environment")
        print(f"<<< {str(websocket.recv())}")
    with connect(uri, proxy=None) as websocket:
        websocket.send("Hello, directly")
        print(f"<<< {str(websocket.recv())}")


def invalid(uri: str) -> None:
    try:
        connect(uri, proxy="ftp://proxy.invalid")
    except InvalidProxy as exc:
        print("invalid proxy:", type(exc).__name__)


if __name__ == "__main__":
    base, proxy = sys.argv[1], sys.argv[2]
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "ws_proxy", "wss_proxy"):
        os.environ.pop(name, None)
    through(base + "/", proxy)
    asyncio.run(async_through(base + "/", proxy))
    os.environ["http_proxy"] = proxy
    from_the_environment(base + "/")
    invalid(base + "/")
