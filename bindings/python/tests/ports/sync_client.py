"""A client written for websockets' sync API. tests/test_ports.py runs it as
it is (against websockets) and with its imports changed to wsclient: both
runs must print the same lines.

    sync_client.py BASE_URL      (the echo server of tests/servers)
"""

import sys

from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect


def main(base: str) -> None:
    with connect(base + "/") as websocket:
        websocket.send("Hello world!")
        print("text:", websocket.recv())
        websocket.send(b"\x00\x01\x02")
        print("binary:", websocket.recv())
        websocket.send("as bytes")
        print("decode=False:", websocket.recv(decode=False))
        websocket.send(["frag", "men", "ted"])
        print("fragments:", websocket.recv())
        websocket.send(iter([b"gen", b"erated"]))
        print("generated fragments:", websocket.recv())
        websocket.send(["stre", "amed"])
        print("recv_streaming:", "".join(websocket.recv_streaming(decode=True)))
        websocket.send("bytes")
        print("recv_streaming(decode=False):", b"".join(websocket.recv_streaming(decode=False)))
        try:
            websocket.recv(timeout=0.2)
        except TimeoutError:
            print("timeout: nothing came")
        for i in range(3):
            websocket.send(f"message {i}")
        print("in order:", [websocket.recv() for _ in range(3)])
        big = bytes(range(256)) * 1024
        websocket.send(big)
        print("256 KiB echoed intact:", websocket.recv() == big)
    print("close code after close():", websocket.close_code)
    try:
        websocket.send("too late")
    except ConnectionClosedOK as exc:
        print("send after close:", type(exc).__name__, exc.sent and exc.sent.code)

    with connect(base + "/close/1000") as websocket:
        print("iteration ends at a normal close:", list(websocket))
        try:
            websocket.recv()
        except ConnectionClosedOK as exc:
            print("recv after the close:", exc.rcvd and (exc.rcvd.code, exc.rcvd.reason))

    with connect(base + "/close/4000") as websocket:
        try:
            for _ in websocket:
                pass
        except ConnectionClosedError as exc:
            print("iteration raises at an error close:", exc.rcvd and (exc.rcvd.code, exc.rcvd.reason))

    try:
        connect(base + "/status/403")
    except InvalidStatus as exc:
        print("rejected:", exc.response.status_code)

    websocket = connect(base + "/")
    websocket.close(4321, "any reason text")
    try:
        websocket.recv()
    except ConnectionClosed as exc:
        print("our close:", exc.sent and (exc.sent.code, exc.sent.reason), type(exc).__name__)


if __name__ == "__main__":
    main(sys.argv[1])
