"""wsclient.asyncio.client: websockets' client test ideas over real sockets
(close codes, iteration, cancellation, timeouts, concurrency, backpressure)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any, Coroutine, List, Set, Type, TypeVar

import pytest
from wstest_helpers import ClientFrame, SilentServer, StartServer, read_client_frame, server_frame

from wsclient import CertificateVerifyError, _pings
from wsclient.asyncio.client import ClientConnection, connect
from wsclient.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus, InvalidURI


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
    """Nor one for the opening handshake (an IP address: no name lookup)."""

    async def main() -> None:
        before = threading.enumerate()
        first = await connect(echo_url + "/")
        others = [await connect(echo_url + "/") for _ in range(5)]
        for ws in others:
            await ws.send("x")
        assert [await ws.recv() for ws in others] == ["x"] * 5
        assert threading.enumerate() == before
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


# ---------------------------------------------------------------- the opening, on the event loop


def helper_threads() -> Set[str]:
    """Threads that would run a connect off the loop: the default
    executor's (asyncio_N) and the library's (wsclient-resolve; the kernel
    keeps 15 characters of a thread's name)."""
    names = {t.name for t in threading.enumerate() if t.name.startswith("asyncio") or "wsclient" in t.name}
    tasks = Path("/proc/self/task")
    if tasks.is_dir():
        for task in tasks.iterdir():
            try:
                comm = (task / "comm").read_text().strip()
            except OSError:
                continue  # ended meanwhile
            if comm.startswith("wsclient"):
                names.add(f"{comm} ({task.name})")
    return names


def test_cancelled_connects_are_freed_at_once(silent_server: SilentServer) -> None:
    """Twenty connects to a server that never answers, each given up by
    wait_for after 0.5 s (the open timeout is 10 s): asyncio.run() returns
    right after, no executor thread is left finishing a blocking connect,
    and the server sees every connection closed."""
    before = helper_threads()

    async def attempt() -> BaseException:
        try:
            await asyncio.wait_for(connect(silent_server.url), 0.5)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            return e
        raise AssertionError("the silent server cannot be connected to")

    async def main() -> List[BaseException]:
        results = await asyncio.gather(*(attempt() for _ in range(20)))
        assert helper_threads() <= before
        return results

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert all(isinstance(e, asyncio.TimeoutError) for e in results), results
    assert elapsed < 2, f"asyncio.run() took {elapsed:.2f} s"
    assert helper_threads() <= before
    assert silent_server.closed_by_clients(20, timeout=5)


def test_a_thousand_concurrent_connects(echo_url: str) -> None:
    async def main() -> None:
        sockets = await asyncio.gather(*(connect(echo_url + "/", ping_interval=None) for _ in range(1000)))
        try:
            await asyncio.gather(*(ws.send(str(i)) for i, ws in enumerate(sockets)))
            assert await asyncio.gather(*(ws.recv() for ws in sockets)) == [str(i) for i in range(1000)]
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
        assert all(ws.close_code == 1000 for ws in sockets)

    asyncio.run(asyncio.wait_for(main(), 50))


def test_open_timeout(silent_server: SilentServer) -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            await connect(silent_server.url, open_timeout=0.2)

    run(main())
    assert silent_server.closed_by_clients(1, timeout=5)


def test_connect_errors() -> None:
    async def main() -> None:
        with pytest.raises(InvalidURI):
            await connect("http://example.invalid/")
        with pytest.raises(OSError):
            await connect("ws://127.0.0.1:1/")

    run(main())


def test_redirect_is_an_invalid_status(echo_url: str) -> None:
    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            await connect(echo_url + "/status/302")
        assert info.value.response.status_code == 302
        assert info.value.response.getheader("Location") == "/redirected"

    run(main())


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tls(pki: Path, tls_port: int, host: str) -> None:
    async def main() -> None:
        url = f"wss://{host}:{tls_port}/"
        async with connect(url, ca_file=pki / "ca.pem") as ws:
            await ws.send("over tls ✓")
            assert await ws.recv() == "over tls ✓"
        with pytest.raises(CertificateVerifyError):
            await connect(url, ca_file=pki / "other.pem")

    run(main())


def test_messages_sent_with_the_101_are_received(raw_server: StartServer) -> None:
    """Messages in the same packet as the server's 101 are read with it:
    the socket never becomes readable for them."""
    server = raw_server(read_client_frame, after_101=server_frame(1, b"first") + server_frame(1, b"second"))

    async def main() -> None:
        ws: ClientConnection = await connect(server.url)
        assert [await ws.recv(), await ws.recv()] == ["first", "second"]
        await ws.close()

    run(main())
    server.join()
