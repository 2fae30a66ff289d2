"""wsclient.asyncio.client: websockets' client test ideas over real sockets
(close codes, iteration, cancellation, timeouts, concurrency, backpressure)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Coroutine, List, Type, TypeVar

import pytest
from wstest_helpers import ClientFrame, StartServer, read_client_frame, server_frame

from wsclient import _pings
from wsclient.asyncio.client import connect
from wsclient.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def test_echo_and_iteration(echo_url: str) -> None:
    async def main() -> None:
        async with connect(echo_url + "/") as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00" * 70000)
            assert await ws.recv() == b"\x00" * 70000
            await ws.send("t")
            assert await ws.recv(decode=False) == b"t"
            await ws.send([b"a", b"b"])
            assert await ws.recv() == b"ab"
        assert ws.close_code == 1000
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        with pytest.raises(ConnectionClosedOK):
            await ws.send("late")
        await ws.close()  # idempotent

    run(main())


def test_cancelled_recv_loses_no_message(echo_url: str) -> None:
    async def main() -> None:
        async with connect(echo_url + "/") as ws:
            pending = asyncio.ensure_future(ws.recv())
            await asyncio.sleep(0.05)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.05)
            await ws.send("after the cancellations")
            assert await ws.recv() == "after the cancellations"

    run(main())


def test_concurrent_tasks_send_and_one_receives(echo_url: str) -> None:
    async def main() -> None:
        async with connect(echo_url + "/", max_size=None) as ws:
            big = os.urandom(1 << 20)

            async def sender(n: int) -> None:
                for i in range(10):
                    await ws.send(f"{n}:{i}")
                await ws.send(bytes([n]) + big)

            async def receiver() -> List[Any]:
                return [await ws.recv() for _ in range(4 * 11)]

            got = (await asyncio.gather(receiver(), *(sender(n) for n in range(4))))[0]
        for n in range(4):
            assert [m for m in got if isinstance(m, str) and m.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(10)]
        blobs = sorted(m for m in got if isinstance(m, bytes))
        assert [b[0] for b in blobs] == [0, 1, 2, 3] and all(b[1:] == big for b in blobs)

    run(main())


def test_server_burst_with_a_small_queue_arrives_in_order(raw_server: StartServer) -> None:
    """More messages than max_queue: reading pauses and resumes, nothing is
    lost or reordered."""

    def script(sock: Any) -> ClientFrame:
        sock.sendall(b"".join(server_frame(1, f"m{i}".encode()) for i in range(200)))
        sock.sendall(server_frame(8, close_payload(1000)))
        return read_client_frame(sock)

    server = raw_server(script)

    async def main() -> None:
        async with connect(server.url, max_queue=2) as ws:
            got: List[Any] = []
            async for message in ws:
                got.append(message)
                await asyncio.sleep(0)
            assert got == [f"m{i}" for i in range(200)]

    run(main())
    assert server.join()[2] == 8


@pytest.mark.parametrize("code,kind", [(1000, ConnectionClosedOK), (1001, ConnectionClosedOK), (4001, ConnectionClosedError)])
def test_server_close_codes(raw_server: StartServer, code: int, kind: Type[ConnectionClosed]) -> None:
    def script(sock: Any) -> ClientFrame:
        sock.sendall(server_frame(8, close_payload(code, b"why")))
        return read_client_frame(sock)

    server = raw_server(script)

    async def main() -> None:
        async with connect(server.url) as ws:
            if kind is ConnectionClosedOK:
                assert [m async for m in ws] == []
            else:
                with pytest.raises(ConnectionClosedError):
                    async for _ in ws:
                        pass
            with pytest.raises(kind) as info:
                await ws.recv()
            assert (info.value.code, info.value.reason) == (code, "why")

    run(main())
    assert server.join()[3] == close_payload(code)


def test_our_close_code_and_reason(raw_server: StartServer) -> None:
    def script(sock: Any) -> ClientFrame:
        frame = read_client_frame(sock)
        sock.sendall(server_frame(8, frame[3]))
        return frame

    server = raw_server(script)

    async def main() -> None:
        ws = await connect(server.url)
        await ws.close(4002, "done here")
        await ws.wait_closed()
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.sent is not None
        assert (info.value.sent.code, info.value.sent.reason) == (4002, "done here")

    run(main())
    assert server.join()[3] == close_payload(4002, b"done here")


def test_protocol_violation(raw_server: StartServer) -> None:
    def script(sock: Any) -> ClientFrame:
        sock.sendall(server_frame(1, b"ok") + server_frame(0xB, b""))  # reserved opcode
        return read_client_frame(sock)

    server = raw_server(script)

    async def main() -> None:
        async with connect(server.url) as ws:
            assert await ws.recv() == "ok"
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.sent is not None and info.value.sent.code == 1002

    run(main())
    assert server.join()[3][:2] == close_payload(1002)


def test_invalid_status(echo_url: str) -> None:
    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(echo_url + "/status/404"):
                pass
        assert info.value.response.status_code == 404

    run(main())


def test_no_thread_per_connection(echo_url: str) -> None:
    import threading

    def threads() -> List[threading.Thread]:
        # Not counting the executor's, which run the handshakes.
        return [t for t in threading.enumerate() if not t.name.startswith("asyncio")]

    async def main() -> None:
        first = await connect(echo_url + "/")
        before = threads()
        others = [await connect(echo_url + "/") for _ in range(5)]
        for ws in others:
            await ws.send("x")
        assert [await ws.recv() for ws in others] == ["x"] * 5
        assert threads() == before
        for ws in [first, *others]:
            await ws.close()

    run(main())


@pytest.mark.skipif(not _pings.SUPPORTED, reason="the library does not record pongs")
def test_ping_future_completes_with_the_pong(echo_url: str) -> None:
    async def main() -> None:
        async with connect(echo_url + "/") as ws:
            waiter = await ws.ping()
            latency = await asyncio.wait_for(waiter, 10)
            assert latency >= 0

    run(main())


def test_messages_before_the_close_stay_readable(raw_server: StartServer) -> None:
    """Messages read ahead before the server's close are still returned
    after the connection finished closing."""

    def script(sock: Any) -> ClientFrame:
        sock.sendall(b"".join(server_frame(1, f"m{i}".encode()) for i in range(3)) + server_frame(8, close_payload(1000)))
        return read_client_frame(sock)

    server = raw_server(script)

    async def main() -> None:
        async with connect(server.url) as ws:
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert [await ws.recv() for _ in range(3)] == ["m0", "m1", "m2"]
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()

    run(main())
    assert server.join()[3] == close_payload(1000)
