"""recv_streaming() on the sync and asyncio clients, and large sends in parts
with compression, over real sockets.

The large messages come from tests/servers/stream_server.py, a websockets
server in another process that makes them from a deterministic pattern
(tests/servers/pattern.py) and checks what it receives the same way, so the
test process never holds one whole: tracemalloc's peak shows what the
client holds. Misbehaving or precisely timed peers are raw scripted servers
(wstest_helpers.RawServer).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Sequence
from typing import Any, AsyncIterator, Callable, Coroutine, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

import pytest
from harness import running  # type: ignore[import-not-found]
from pattern import TEXT, TEXT_PERIOD, Expected, chunks, text_size  # type: ignore[import-not-found]
from wstest_helpers import StartServer, read_client_frame, read_client_message, server_frame

from wsclient.asyncio.client import connect as aconnect
from wsclient.exceptions import Close, ConcurrencyError, ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from wsclient.sync.client import connect

T = TypeVar("T")
SIZE = 64 << 20  # the large messages
PIECE = 64 << 10  # the most a piece holds
BOUND = 8 << 20  # the most the client may hold in Python meanwhile (tracemalloc's peak)
TEXT_SIZE = text_size(SIZE)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 50))


@pytest.fixture(scope="module")
def streams() -> Iterator[Dict[bool, str]]:
    """The stream servers by deflate (True: offers permessage-deflate)."""
    with running("stream_server.py") as (plain, _), running("stream_server.py", "--deflate") as (deflate, _):
        yield {False: f"ws://127.0.0.1:{plain}", True: f"ws://127.0.0.1:{deflate}"}


def size_of(kind: str, size: int) -> int:
    return text_size(size) if kind == "text" else size


class Checker:
    """Checks the pieces of a message of `kind` against the pattern as they
    come: their type, their size (at most PIECE; empty only at the end) and
    their bytes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.expected = Expected(kind, PIECE)
        self.offset = 0
        self.count = 0
        self.empty = 0

    def __call__(self, piece: Union[str, bytes]) -> None:
        assert isinstance(piece, str if self.kind == "text" else bytes), type(piece)
        data = piece.encode() if isinstance(piece, str) else piece
        assert len(data) <= PIECE, f"a piece of {len(data)} bytes"
        self.empty += not data
        assert data == self.expected.at(self.offset, len(data)), f"piece {self.count} at offset {self.offset}"
        self.offset += len(data)
        self.count += 1


def peak_of(fn: Callable[[], T]) -> Tuple[T, int]:
    """fn()'s result and the peak of Python allocations while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def apeak_of(coro: Coroutine[Any, Any, T]) -> Tuple[T, int]:
    tracemalloc.start()
    try:
        result = await coro
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def compressed(headers: Optional[str]) -> bool:
    return headers is not None and "permessage-deflate" in headers


# ---------------------------------------------------------------- 64 MiB, piece by piece


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("kind", ["binary", "text"])
def test_sync_recv_streaming_64_mib_in_one_frame(streams: Dict[bool, str], kind: str, deflate: bool) -> None:
    check = Checker(kind)
    url = f"{streams[deflate]}/send/{kind}/{SIZE}/frame"
    with connect(url, max_size=None, compression="deflate" if deflate else None) as ws:
        assert compressed(ws.response_header("Sec-WebSocket-Extensions")) is deflate

        def stream() -> None:
            for piece in ws.recv_streaming():
                check(piece)

        _, peak = peak_of(stream)
        assert ws.recv(timeout=30) == "end"  # the next message, whole
        bytes_in = ws.stats["bytes_in"]
    assert check.offset == size_of(kind, SIZE) and check.empty <= 1
    assert check.count >= SIZE // PIECE
    assert peak < BOUND, f"{peak} bytes held"
    if deflate and kind == "text":
        assert bytes_in < SIZE // 50  # it did arrive compressed


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("kind", ["binary", "text"])
def test_asyncio_recv_streaming_64_mib_in_one_frame(streams: Dict[bool, str], kind: str, deflate: bool) -> None:
    check = Checker(kind)
    url = f"{streams[deflate]}/send/{kind}/{SIZE}/frame"

    async def main() -> Tuple[int, int]:
        async with aconnect(url, max_size=None, compression="deflate" if deflate else None) as ws:
            assert compressed(ws.response_header("Sec-WebSocket-Extensions")) is deflate

            async def stream() -> None:
                async for piece in ws.recv_streaming():
                    check(piece)

            _, peak = await apeak_of(stream())
            assert await ws.recv() == "end"
            return peak, ws.stats["bytes_in"]

    peak, bytes_in = run(main())
    assert check.offset == size_of(kind, SIZE) and check.empty <= 1
    assert peak < BOUND, f"{peak} bytes held"
    if deflate and kind == "text":
        assert bytes_in < SIZE // 50


@pytest.mark.parametrize("api", ["sync", "asyncio"])
@pytest.mark.parametrize("kind", ["binary", "text"])
def test_recv_streaming_of_a_message_in_many_frames(streams: Dict[bool, str], api: str, kind: str) -> None:
    """websockets sends an iterable as one frame per fragment (1 MiB each,
    compressed each, and an empty last frame): pieces are cut the same way."""
    size = 8 << 20
    check = Checker(kind)
    url = f"{streams[True]}/send/{kind}/{size}/frags"
    if api == "sync":
        with connect(url, max_size=None) as ws:
            for piece in ws.recv_streaming():
                check(piece)
            assert ws.recv(timeout=30) == "end"
    else:

        async def main() -> None:
            async with aconnect(url, max_size=None) as ws:
                async for piece in ws.recv_streaming():
                    check(piece)
                assert await ws.recv() == "end"

        run(main())
    assert check.offset == size_of(kind, size)


def test_the_message_limit_applies_to_streamed_messages(streams: Dict[bool, str]) -> None:
    check = Checker("binary")
    with connect(f"{streams[False]}/send/binary/{4 << 20}/frame", max_size=1 << 20) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            for piece in ws.recv_streaming():
                check(piece)
    assert info.value.sent == Close(1009, "")
    assert check.offset <= 1 << 20


# ---------------------------------------------------------------- decode= and mixing with recv()


def binary_utf8_then_text(sock: socket.socket) -> List[int]:
    """A server script: a binary message of UTF-8 in frames cut inside
    characters, then a text message of 80,000 bytes; then the close."""
    raw = ("κόσμε 𝄞 " * 8000).encode()
    sock.sendall(
        server_frame(2, raw[:1001], fin=False) + server_frame(0, raw[1001:70003], fin=False) + server_frame(0, raw[70003:])
    )
    sock.sendall(server_frame(1, ("é" * 40000).encode()))
    return answer_close(sock)


def answer_close(sock: socket.socket) -> List[int]:
    """Read the client's frames until its close, answer it; their opcodes."""
    opcodes = []
    while True:
        fin, _, opcode, data = read_client_frame(sock)
        opcodes.append(opcode)
        if opcode == 8:
            sock.sendall(server_frame(8, data[:2]))
            return opcodes


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_decode_as_in_websockets(raw_server: StartServer, api: str) -> None:
    server = raw_server(binary_utf8_then_text)
    if api == "sync":
        with connect(server.url) as ws:
            texts = list(ws.recv_streaming(decode=True))
            raws = list(ws.recv_streaming(decode=False))
    else:

        async def main() -> Tuple[List[Any], List[Any]]:
            async with aconnect(server.url) as ws:
                return [p async for p in ws.recv_streaming(decode=True)], [p async for p in ws.recv_streaming(decode=False)]

        texts, raws = run(main())
    # Binary decoded across pieces cut inside characters; text left as bytes.
    assert all(isinstance(t, str) for t in texts) and "".join(texts) == "κόσμε 𝄞 " * 8000
    assert all(isinstance(r, bytes) for r in raws) and b"".join(raws) == ("é" * 40000).encode()
    assert len(raws) >= 2 and all(len(r) <= PIECE for r in raws)
    assert server.join()[-1] == 8


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_recv_and_recv_streaming_take_messages_in_turn(echo_url: str, api: str) -> None:
    big = os.urandom(300_000)
    if api == "sync":
        # Keepalive on (the default): sends read ahead what arrived.
        with connect(echo_url + "/", max_size=None) as ws:
            for message in ("one", big, "three", "four"):
                ws.send(message)
            assert ws.recv(timeout=10) == "one"
            pieces = list(ws.recv_streaming(decode=False))
            assert ws.recv(timeout=10) == "three"
            assert list(ws.recv_streaming()) == ["four"]
    else:

        async def main() -> List[bytes]:
            async with aconnect(echo_url + "/", max_size=None) as ws:
                for message in ("one", big, "three", "four"):
                    await ws.send(message)
                assert await ws.recv() == "one"
                pieces = [p async for p in ws.recv_streaming(decode=False)]
                assert await ws.recv() == "three"
                assert [p async for p in ws.recv_streaming()] == ["four"]
                return pieces

        pieces = run(main())
    assert b"".join(pieces) == big and len(pieces) >= 5


# ---------------------------------------------------------------- control frames, errors, the end


def pings_between_fragments(sock: socket.socket) -> List[bytes]:
    """A server script: a text message in three frames with a ping before
    the second and the third; returns the pongs' payloads (until the close)."""
    sock.sendall(server_frame(1, "part one, ".encode(), fin=False) + server_frame(9, b"p1"))
    time.sleep(0.05)
    sock.sendall(server_frame(0, "part twö, ".encode(), fin=False) + server_frame(9, b"p2"))
    time.sleep(0.05)
    sock.sendall(server_frame(0, "end".encode()))
    pongs = []
    while True:
        _, _, opcode, data = read_client_frame(sock)
        if opcode == 10:
            pongs.append(data)
        elif opcode == 8:
            sock.sendall(server_frame(8, data[:2]))
            return pongs


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_pings_between_fragments_are_answered(raw_server: StartServer, api: str) -> None:
    server = raw_server(pings_between_fragments)
    if api == "sync":
        with connect(server.url) as ws:
            pieces = list(ws.recv_streaming(decode=True))
    else:

        async def main() -> List[str]:
            async with aconnect(server.url) as ws:
                return [p async for p in ws.recv_streaming(decode=True)]

        pieces = run(main())
    assert "".join(pieces) == "part one, part twö, end"
    # Each answered between pieces; a pong not written yet may be replaced
    # by the answer to the next ping (RFC 6455 5.5.3), on a busy machine.
    pongs = server.join()
    assert pongs in ([b"p1", b"p2"], [b"p2"])


def invalid_utf8(sock: socket.socket) -> Optional[bytes]:
    """A server script: a text message whose second frame is not UTF-8;
    returns the payload of the client's close frame."""
    sock.sendall(server_frame(1, b"valid start, ", fin=False))
    time.sleep(0.05)
    sock.sendall(server_frame(0, b"then \xff\xfe"))
    while True:
        try:
            _, _, opcode, data = read_client_frame(sock)
        except EOFError:
            return None
        if opcode == 8:
            sock.sendall(server_frame(8, data[:2]))
            return data


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_invalid_utf8_closes_with_1007(raw_server: StartServer, api: str) -> None:
    server = raw_server(invalid_utf8)
    pieces: List[Any] = []
    if api == "sync":
        with connect(server.url) as ws:
            with pytest.raises(ConnectionClosedError) as info:
                for piece in ws.recv_streaming():
                    pieces.append(piece)
    else:

        async def main() -> None:
            async with aconnect(server.url) as ws:
                async for piece in ws.recv_streaming():
                    pieces.append(piece)

        with pytest.raises(ConnectionClosedError) as info:
            run(main())
    assert info.value.sent == Close(1007, "")
    assert "".join(pieces) == "valid start, "[: len("".join(pieces))]  # what came before, if anything
    payload = server.join()
    assert payload is not None and payload[:2] == struct.pack("!H", 1007)


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_recv_streaming_raises_connection_closed_at_the_end(echo_url: str, api: str) -> None:
    if api == "sync":
        with connect(echo_url + "/close/1000") as ws:
            with pytest.raises(ConnectionClosedOK):
                list(ws.recv_streaming())
            with pytest.raises(ConnectionClosedOK):
                list(ws.recv_streaming())
    else:

        async def main() -> None:
            async with aconnect(echo_url + "/close/1000") as ws:
                for _ in range(2):
                    with pytest.raises(ConnectionClosedOK):
                        async for _piece in ws.recv_streaming():
                            pass

        run(main())


def keepalive_during_a_message(sock: socket.socket) -> int:
    """A server script: the first frame of a message, then pongs for the
    client's pings; after the fourth ping, the end of the message. Returns
    the number of pings (until the close)."""
    sock.sendall(server_frame(2, b"a" * 100, fin=False))
    pings = 0
    while True:
        _, _, opcode, data = read_client_frame(sock)
        if opcode == 9:
            pings += 1
            sock.sendall(server_frame(10, data))
            if pings == 4:
                sock.sendall(server_frame(0, b"b" * 100))
        elif opcode == 8:
            sock.sendall(server_frame(8, data[:2]))
            return pings


def test_sync_keepalive_goes_on_while_a_stream_waits(raw_server: StartServer) -> None:
    server = raw_server(keepalive_during_a_message)
    with connect(server.url, ping_interval=0.05, ping_timeout=5) as ws:
        assert b"".join(ws.recv_streaming(decode=False)) == b"a" * 100 + b"b" * 100
    assert server.join() >= 4


def test_asyncio_keepalive_goes_on_while_the_consumer_is_busy(raw_server: StartServer) -> None:
    """The consumer takes its time over the first piece: the event loop
    reads the pongs meanwhile, and the pings go on."""
    server = raw_server(keepalive_during_a_message)

    async def main() -> bytes:
        async with aconnect(server.url, ping_interval=0.05, ping_timeout=0.5) as ws:
            got: List[bytes] = []
            async for piece in ws.recv_streaming(decode=False):
                if not got:
                    await asyncio.sleep(1)  # two pong timeouts
                got.append(piece)
            return b"".join(got)

    assert run(main()) == b"a" * 100 + b"b" * 100
    assert server.join() >= 4


# ---------------------------------------------------------------- leaving a stream early


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_leaving_a_stream_early_skips_the_rest_of_its_message(echo_url: str, api: str) -> None:
    big = os.urandom(1 << 20)
    if api == "sync":
        with connect(echo_url + "/", max_size=None) as ws:
            ws.send(big)
            ws.send("next")
            for first in ws.recv_streaming(decode=False):
                break
            assert ws.recv(timeout=10) == "next"
    else:

        async def main() -> bytes:
            async with aconnect(echo_url + "/", max_size=None) as ws:
                await ws.send(big)
                await ws.send("next")
                async for piece in ws.recv_streaming(decode=False):
                    break  # the async generator is closed later: recv() takes its turn
                assert await ws.recv() == "next"
                return piece

        first = run(main())
    assert big.startswith(first) and 0 < len(first) < len(big)


def test_sync_receiving_in_the_middle_of_a_stream(echo_url: str) -> None:
    """A recv() by the stream's own thread takes the turn (resuming the
    stream is a ConcurrencyError); another thread's is a ConcurrencyError
    while the stream is in its message, as in websockets."""
    big = os.urandom(1 << 20)
    with connect(echo_url + "/", max_size=None) as ws:
        ws.send(big)
        ws.send("next")
        stream = ws.recv_streaming(decode=False)
        assert big.startswith(next(stream))
        assert ws.recv(timeout=10) == "next"
        with pytest.raises(ConcurrencyError):
            next(stream)

        ws.send(big)
        ws.send("after")
        stream = ws.recv_streaming(decode=False)
        got = [next(stream)]
        errors: List[BaseException] = []

        def receive(timeout: Optional[float]) -> None:
            try:
                ws.recv(timeout=timeout)
            except BaseException as e:  # noqa: BLE001 - checked below
                errors.append(e)

        thread = threading.Thread(target=receive, args=(20,))
        thread.start()
        thread.join(20)
        assert len(errors) == 1 and type(errors[0]) is ConcurrencyError
        got.extend(stream)
        assert b"".join(got) == big and ws.recv(timeout=20) == "after"

        # Closing in the middle of a stream does not wait.
        ws.send(big)
        stream = ws.recv_streaming(decode=False)
        next(stream)
        started = time.monotonic()
        ws.close()
        assert time.monotonic() - started < 5
        assert ws.close_code == 1000  # the close handshake went through the rest of the message
        with pytest.raises(ConnectionClosed):
            next(stream)


def test_asyncio_close_in_the_middle_of_a_stream(echo_url: str) -> None:
    async def main() -> None:
        async with aconnect(echo_url + "/", max_size=None) as ws:
            await ws.send(os.urandom(1 << 20))
            stream = ws.recv_streaming(decode=False)
            await stream.__anext__()
            await asyncio.wait_for(ws.close(), 5)
            assert ws.close_code == 1000
            with pytest.raises(ConnectionClosed):
                async for _ in stream:
                    pass

    run(main())


def test_asyncio_another_task_during_a_stream_is_a_concurrency_error(echo_url: str) -> None:
    big = os.urandom(1 << 20)

    async def main() -> None:
        async with aconnect(echo_url + "/", max_size=None) as ws:
            await ws.send(big)
            await ws.send("after")
            stream = ws.recv_streaming(decode=False)
            got = [await stream.__anext__()]
            with pytest.raises(ConcurrencyError):
                await asyncio.ensure_future(ws.recv())
            got.extend([p async for p in stream])
            assert await ws.recv() == "after"
            assert b"".join(got) == big

    run(main())


LONG_TEXT = "κόσμε 𝄞 " * 14000  # 224,000 bytes of UTF-8


def first_frame_then_the_rest(go: threading.Event, delay: float = 0) -> Callable[[socket.socket], List[int]]:
    """A server script: after `delay` seconds, the first 1,001 bytes of
    LONG_TEXT (a frame cut inside a character), then, once `go` is set, the
    rest."""
    raw = LONG_TEXT.encode()

    def script(sock: socket.socket) -> List[int]:
        time.sleep(delay)
        sock.sendall(server_frame(1, raw[:1001], fin=False))
        assert go.wait(10)
        sock.sendall(server_frame(0, raw[1001:]))
        return answer_close(sock)

    return script


@pytest.mark.parametrize("begun", ["whole", "in-pieces"])
@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_a_stream_after_a_recv_that_gave_up(raw_server: StartServer, api: str, begun: str) -> None:
    """A recv() that timed out (or was cancelled) in the middle of a message
    keeps what came: a recv_streaming() then hands out the whole message,
    in pieces. `begun`: "whole" when the recv() waited as the message began
    (the library receives it whole), "in-pieces" when its start was read
    before (by a send: keepalive; by the asyncio reader)."""
    go = threading.Event()
    server = raw_server(first_frame_then_the_rest(go, delay=0.3 if begun == "whole" else 0))
    if api == "sync":
        with connect(server.url) as ws:
            if begun == "in-pieces":
                time.sleep(0.2)
                ws.send("read what came")
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.6)
            go.set()
            pieces = list(ws.recv_streaming(decode=True))
    else:

        async def main() -> List[str]:
            async with aconnect(server.url) as ws:
                if begun == "in-pieces":
                    await asyncio.sleep(0.2)
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.6)
                go.set()
                return [p async for p in ws.recv_streaming(decode=True)]

        pieces = run(main())
    assert "".join(pieces) == LONG_TEXT
    assert len(pieces) >= 4 and all(len(p.encode()) <= PIECE for p in pieces)
    assert server.join()[-1] == 8


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_a_recv_after_a_recv_that_gave_up(raw_server: StartServer, api: str) -> None:
    go = threading.Event()
    server = raw_server(first_frame_then_the_rest(go))
    if api == "sync":
        with connect(server.url) as ws:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
            go.set()
            assert ws.recv(timeout=10) == LONG_TEXT
    else:

        async def main() -> None:
            async with aconnect(server.url) as ws:
                await asyncio.sleep(0.2)
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)
                go.set()
                assert await ws.recv() == LONG_TEXT

        run(main())
    server.join()


# ---------------------------------------------------------------- large sends with compression


class LazyText(Sequence[str]):
    """A sized collection of the pattern's text fragments, each made when
    asked for: send() sizes it, then sends it in parts."""

    def __init__(self, size: int, chunk: int = 256 << 10) -> None:
        self.periods = text_size(size) // TEXT_PERIOD
        self.per_chunk = chunk // TEXT_PERIOD

    def __len__(self) -> int:
        return int(-(-self.periods // self.per_chunk))

    def __getitem__(self, i: Any) -> Any:
        if not isinstance(i, int) or not 0 <= i < len(self):
            raise IndexError(i)
        return TEXT * min(self.per_chunk, self.periods - i * self.per_chunk)


def sent_ok(reply: Any, size: int) -> None:
    assert reply == f"ok {size}"


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_a_large_sized_iterable_goes_compressed_in_bounded_memory(streams: Dict[bool, str], api: str) -> None:
    url = f"{streams[True]}/sink"
    if api == "sync":
        with connect(url) as ws:
            _, peak = peak_of(lambda: ws.send(LazyText(SIZE)))
            sent_ok(ws.recv(timeout=30), TEXT_SIZE)
            stats = ws.stats
    else:

        async def main() -> Tuple[int, Any]:
            async with aconnect(url) as ws:
                _, peak = await apeak_of(ws.send(LazyText(SIZE)))
                sent_ok(await ws.recv(), TEXT_SIZE)
                return peak, ws.stats

        peak, stats = run(main())
    assert peak < BOUND, f"{peak} bytes held"
    assert stats["payload_out"] >= TEXT_SIZE and stats["bytes_out"] < TEXT_SIZE // 50  # compressed


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_a_large_generator_goes_a_frame_per_fragment_in_bounded_memory(streams: Dict[bool, str], api: str) -> None:
    """A generator cannot say its size: past 1 MiB its fragments go out one
    frame each, uncompressed, as they come."""
    url = f"{streams[True]}/sink"
    if api == "sync":
        with connect(url) as ws:
            _, peak = peak_of(lambda: ws.send(chunks("binary", SIZE, chunk=256 << 10)))
            sent_ok(ws.recv(timeout=30), SIZE)
    else:

        async def agen() -> AsyncIterator[bytes]:
            for chunk in chunks("binary", SIZE, chunk=256 << 10):
                yield chunk

        async def main() -> int:
            async with aconnect(url) as ws:
                _, peak = await apeak_of(ws.send(agen()))
                sent_ok(await ws.recv(), SIZE)
                return peak

        peak = run(main())
    assert peak < BOUND, f"{peak} bytes held"


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_a_short_generator_goes_compressed(streams: Dict[bool, str], api: str) -> None:
    """A generator that ends within 1 MiB is sized by reading it ahead: one
    compressed message (and one async generator the same way)."""
    url = f"{streams[True]}/sink"
    size = text_size(900_000)
    if api == "sync":
        with connect(url) as ws:
            ws.send(chunks("text", size, chunk=100_000))
            sent_ok(ws.recv(timeout=30), size)
            stats = ws.stats
    else:

        async def agen() -> AsyncIterator[str]:
            for chunk in chunks("text", size, chunk=100_000):
                yield chunk

        async def main() -> Any:
            async with aconnect(url) as ws:
                await ws.send(agen())
                sent_ok(await ws.recv(), size)
                return ws.stats

        stats = run(main())
    assert stats["bytes_out"] < size // 20


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_fragments_of_mixed_types(echo_url: str, api: str) -> None:
    """A collection of mixed types is refused before anything is sent (the
    connection stays usable); a long generator that turns to another type
    half-way cannot finish its message: closed with 1011, as websockets."""

    def mixed_late() -> Iterator[Any]:
        yield b"x" * (2 << 20)
        yield "text"

    if api == "sync":
        with connect(echo_url + "/", max_size=None) as ws:
            with pytest.raises(TypeError):
                ws.send([b"a", "b"])
            with pytest.raises(TypeError):
                ws.send(iter([b"a", "b"]))  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                ws.send({"a": 1})
            ws.send(["still ", "open"])
            assert ws.recv(timeout=10) == "still open"
            with pytest.raises(TypeError):
                ws.send(mixed_late())
            with pytest.raises(ConnectionClosed):
                ws.send("late")
            sent = ws._sent
    else:

        async def main() -> Any:
            async with aconnect(echo_url + "/", max_size=None) as ws:
                with pytest.raises(TypeError):
                    await ws.send([b"a", "b"])
                with pytest.raises(TypeError):
                    await ws.send({"a": 1})
                await ws.send(["still ", "open"])
                assert await ws.recv() == "still open"
                with pytest.raises(TypeError):
                    await ws.send(mixed_late())
                with pytest.raises(ConnectionClosed):
                    await ws.send("late")
                return ws._sent

        sent = run(main())
    assert sent == Close(1011, "error in fragmented message")


@pytest.mark.parametrize("api", ["sync", "asyncio"])
def test_text_that_is_not_utf8(echo_url: str, api: str) -> None:
    """send(bytes, text=True) of bytes that are not UTF-8: a small message is
    refused whole (the connection stays open); a large one, sent in parts,
    is refused part-way, when its message cannot be finished: the
    connection is dropped (ConnectionClosedError), never left stuck."""
    large = [b"a" * (200 << 10), b"\xff" + b"a" * (200 << 10)]
    if api == "sync":
        with connect(echo_url + "/", max_size=None) as ws:
            with pytest.raises(ValueError):
                ws.send(b"\xff", text=True)
            ws.send("still open")
            assert ws.recv(timeout=10) == "still open"
            with pytest.raises(ConnectionClosedError) as info:
                ws.send(large, text=True)
            with pytest.raises(ConnectionClosedError):
                ws.send("late")
    else:

        async def main() -> Any:
            async with aconnect(echo_url + "/", max_size=None) as ws:
                with pytest.raises(ValueError):
                    await ws.send(b"\xff", text=True)
                await ws.send("still open")
                assert await ws.recv() == "still open"
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.send(large, text=True)
                with pytest.raises(ConnectionClosedError):
                    await ws.send("late")
                return info

        info = run(main())
    assert isinstance(info.value.__cause__, ValueError)


def stalled_deflate_reader(go: threading.Event, size: int) -> Callable[[socket.socket], bytes]:
    """A server script that negotiated permessage-deflate: wait for `go`,
    then read one message slowly and inflate it; returns its data."""

    def script(sock: socket.socket) -> bytes:
        assert go.wait(30)
        inflate = zlib.decompressobj(-15)
        opcode, rsv = 0, 0
        payload: List[bytes] = []
        while True:
            fin, frame_rsv, op, data = read_client_frame(sock)
            if op >= 8:
                continue
            if not payload and not opcode:
                opcode, rsv = op, frame_rsv
            payload.append(inflate.decompress(data))
            if fin:
                break
        payload.append(inflate.decompress(b"\x00\x00\xff\xff"))
        assert rsv & 4, "not compressed"
        read_client_message(sock)  # the close
        sock.sendall(server_frame(8, struct.pack("!H", 1000)))
        return b"".join(payload)

    return script


def test_a_large_compressed_send_queues_at_most_a_little(raw_server: StartServer) -> None:
    """A large message sent whole with permessage-deflate goes to the library
    in parts, compressed piece by piece: to a server that does not read yet,
    at most 64 KiB of it waits in the library's queue."""
    big = os.urandom(32 << 20)  # does not compress: the output is as large
    go = threading.Event()
    server = raw_server(
        stalled_deflate_reader(go, len(big)), extra_headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]
    )
    threading.Timer(0.7, go.set).start()
    ws = connect(server.url, max_size=None, ping_interval=None)
    sender = threading.Thread(target=ws.send, args=(big,))
    sender.start()
    highest = 0
    while sender.is_alive():
        highest = max(highest, ws._driver.queued_bytes())
        time.sleep(0.001)
    sender.join()
    ws.close()
    assert server.join() == big
    assert highest <= (64 << 10) + 4096, f"{highest} bytes were queued"
