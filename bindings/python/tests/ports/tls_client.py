"""websockets' TLS client example (a custom ssl.SSLContext that trusts the
server's certificate), with the threading and the asyncio API, and what an
untrusted certificate raises. tests/test_ports.py runs it against
websockets and, with its imports changed, against wsclient.

    tls_client.py WSS_URL CA_FILE     (a TLS echo server of tests/servers)
"""

import asyncio
import ssl
import sys

from websockets.asyncio.client import connect as async_connect
from websockets.sync.client import connect


def hello(uri: str, ssl_context: ssl.SSLContext) -> None:
    with connect(uri, ssl=ssl_context) as websocket:
        websocket.send("Hello over TLS")
        print(f"<<< {str(websocket.recv())}")


async def async_hello(uri: str, ssl_context: ssl.SSLContext) -> None:
    async with async_connect(uri, ssl=ssl_context) as websocket:
        await websocket.send("Hello over TLS, from asyncio")
        print(f"<<< {str(await websocket.recv())}")


def untrusted(uri: str) -> None:
    try:
        with connect(uri, ssl=ssl.create_default_context()):
            print("not reached")
    except ssl.SSLCertVerificationError as exc:
        print("untrusted:", isinstance(exc, ssl.SSLError), bool(exc.verify_message))


if __name__ == "__main__":
    uri, ca_file = sys.argv[1], sys.argv[2]
    ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ssl_context.load_verify_locations(ca_file)
    hello(uri, ssl_context)
    asyncio.run(async_hello(uri, ssl_context))
    untrusted(uri)
