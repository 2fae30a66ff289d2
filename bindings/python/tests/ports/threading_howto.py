"""The threading API as websockets' documentation uses it for a client: a
thread that consumes messages while the main thread produces, recv() with
a timeout, ping() waited for without a thread in recv(), the connection's
state, request and response, a close from another thread ending the
consumer's loop, and reconnecting. tests/test_ports.py runs it against
websockets and, with its imports changed, against wsclient.

    threading_howto.py BASE_URL      (the echo server of tests/servers)
"""

import sys
import threading

from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect


def consumer(websocket: ClientConnection, received: list[str]) -> None:
    for message in websocket:
        received.append(str(message))


def consumer_and_producer(uri: str) -> None:
    received: list[str] = []
    with connect(uri) as websocket:
        thread = threading.Thread(target=consumer, args=(websocket, received))
        thread.start()
        for i in range(10):
            websocket.send(f"produced {i}")
        pong = websocket.ping()
        print("pong while another thread receives:", pong.wait(10))
        while len(received) < 10 and thread.is_alive():
            thread.join(0.01)
        websocket.close()  # ends the consumer's loop
        thread.join(10)
    print("consumer:", received == [f"produced {i}" for i in range(10)], thread.is_alive())


def waiting(uri: str) -> None:
    with connect(uri) as websocket:
        print("state:", websocket.state is State.OPEN, websocket.state.name)
        print("response:", websocket.response is not None and websocket.response.status_code)
        try:
            websocket.recv(timeout=0.1)
        except TimeoutError:
            print("recv timed out, the connection is still", websocket.state.name)
        print("pong without a thread in recv:", websocket.ping().wait(10))
        websocket.send("after the pings")
        print("next:", websocket.recv(timeout=10))
    print("state after close:", websocket.state.name)
    try:
        websocket.send("too late")
    except ConnectionClosedOK as exc:
        print("send after close:", type(exc).__name__)


def closing_from_another_thread(uri: str) -> None:
    with connect(uri) as websocket:
        timer = threading.Timer(0.1, websocket.close)
        timer.start()
        try:
            websocket.recv()
        except ConnectionClosed as exc:
            print("recv ended by a close from another thread:", type(exc).__name__)
        timer.join()


if __name__ == "__main__":
    base = sys.argv[1]
    consumer_and_producer(base + "/")
    waiting(base + "/")
    closing_from_another_thread(base + "/")
