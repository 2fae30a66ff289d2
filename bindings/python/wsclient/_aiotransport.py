"""The caller's transport for the asyncio client: the event loop's own
transports (``loop.create_connection``, ``create_unix_connection``,
``start_tls``: its TCP and its TLS with an ``ssl.SSLContext``) carry the
bytes of a connection opened with ``ws_connect_transport`` (see
``_transport``). A :class:`_Protocol` buffers what arrives and tells the
connection (``data_received``), which feeds it to the library; the
library's output goes to ``transport.write``, whose flow control
(``pause_writing``) holds it back in the library's queue.

:class:`FdWatch` and :class:`LoopWatch` are the two ways the asyncio
``ClientConnection`` is told when to read and write: the library's socket
(``add_reader``/``add_writer``) or such a transport.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
from typing import Any, Callable, Deque, Dict, Optional, Set, Union

from ._connection import Connection
from ._opening import Opening
from ._response import HTTPResponse
from ._transport import (
    CHUNK,
    MAX_HEAD,
    Proxy,
    Stream,
    Target,
    _enough,
    _take,
    proxy_handshake,
)
from ._errors import InvalidProxyMessage
from . import _ffi

#: Bytes buffered here (arrived, not yet taken by the library) above which
#: the transport stops reading until the library took some.
HIGH_WATER = 4 * CHUNK


def _nothing() -> None:
    pass


class _Protocol(asyncio.Protocol):
    """What the event loop's transport delivers, kept until the library
    takes it; and the transport's flow control."""

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.chunks: Deque[bytes] = collections.deque()
        self.buffered = 0
        self.eof = False
        self.error: Optional[BaseException] = None
        self.write_paused = False
        self._paused_by: Set[str] = set()  # "full": too much buffered; "queue": the connection's queue is full
        self.on_data: Callable[[], None] = _nothing
        self.on_writable: Callable[[], None] = _nothing
        self._waiter: Optional["asyncio.Future[None]"] = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER:
            self.pause("full")
        self._wake()
        self.on_data()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        self.on_data()
        # Keep writing (the close reply) over TCP; TLS transports close.
        return self.transport is not None and self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.eof = True
        self.error = exc
        self.write_paused = False
        self._wake()
        self.on_data()
        self.on_writable()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.on_writable()

    # reading, paused for two reasons

    def pause(self, why: str) -> None:
        if not self._paused_by and self.transport is not None and not self.eof:
            self.transport.pause_reading()
        self._paused_by.add(why)

    def resume(self, why: str) -> None:
        if why in self._paused_by:
            self._paused_by.discard(why)
            if not self._paused_by and self.transport is not None and not self.eof:
                self.transport.resume_reading()

    def take(self) -> Optional[bytes]:
        """What arrived (b"": nothing now), None at the end."""
        if not self.chunks:
            return None if self.eof else b""
        data = self.chunks.popleft()
        if self.chunks and len(data) < CHUNK:
            pieces = [data]
            size = len(data)
            while self.chunks and size < CHUNK:
                more = self.chunks.popleft()
                pieces.append(more)
                size += len(more)
            data = b"".join(pieces)
        self.buffered -= len(data)
        if self.buffered <= HIGH_WATER // 2:
            self.resume("full")
        return data

    async def wait_data(self) -> None:
        """Until something arrives (or the end)."""
        if self.chunks or self.eof:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _LoopLayer:
    """The bottom of a Stream over the event loop's transport (see
    ``_transport``'s layers)."""

    def __init__(self, protocol: _Protocol) -> None:
        self.protocol = protocol
        self.error: Optional[OSError] = None

    def write(self, data: bytes) -> None:
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def flush(self) -> bool:
        return not self.protocol.write_paused

    def read(self) -> Optional[bytes]:
        return self.protocol.take()

    def pending(self) -> bool:
        return self.protocol.write_paused


class LoopStream(Stream):
    """A Stream over an asyncio transport: :meth:`fileno` is -1, the event
    loop says when to read (:attr:`protocol`'s ``on_data``) and write
    (``on_writable``)."""

    def __init__(self, protocol: _Protocol) -> None:
        self.protocol = protocol
        transport = protocol.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        super().__init__(sock, _LoopLayer(protocol))

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        transport = self.protocol.transport
        if transport is not None:
            transport.close()

    def addresses(self) -> Any:
        transport = self.protocol.transport
        if transport is None:
            return None, None
        return transport.get_extra_info("sockname"), transport.get_extra_info("peername")


async def open_loop_stream(
    loop: asyncio.AbstractEventLoop,
    target: Target,
    *,
    path: Any,
    ssl_context: Optional[ssl.SSLContext],
    server_hostname: Optional[str],
    proxy: Optional[Proxy],
    proxy_ssl: Optional[ssl.SSLContext],
    proxy_server_hostname: Optional[str],
    user_agent: Optional[str],
    loop_kwargs: Dict[str, Any],
) -> LoopStream:
    """A LoopStream to the server: a Unix socket at `path` (or
    ``loop_kwargs["sock"]``), else TCP through `proxy` (a tunnel asked for,
    then TLS by ``loop.start_tls``), else ``loop.create_connection`` with
    `loop_kwargs` (``host``, ``port``, ``sock``, ``local_addr``, ...: the
    server's host and port by default); TLS with `ssl_context` for wss://."""
    protocol = _Protocol()
    kwargs = dict(loop_kwargs)
    tls: Optional[ssl.SSLContext] = None
    if target.secure:
        tls = ssl_context if ssl_context is not None else ssl.create_default_context()
    if path is not None or kwargs.get("unix"):
        kwargs.pop("unix", None)
        hostname = (server_hostname or target.host) if tls is not None else None
        transport, _ = await loop.create_unix_connection(
            lambda: protocol, path, ssl=tls, server_hostname=hostname, **kwargs
        )
    elif proxy is not None:
        proxy_tls = None
        if proxy.scheme == "https":
            proxy_tls = proxy_ssl if proxy_ssl is not None else ssl.create_default_context()
        transport, _ = await loop.create_connection(
            lambda: protocol,
            proxy.host,
            proxy.port,
            ssl=proxy_tls,
            server_hostname=(proxy_server_hostname or proxy.host) if proxy_tls is not None else None,
            local_addr=kwargs.get("local_addr"),
        )
        try:
            address = None
            if proxy.scheme == "socks5":  # resolved here (socks5h: by the proxy)
                infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
                address = str(infos[0][4][0])
            await _run_handshake(protocol, proxy_handshake(proxy, target, user_agent, address))
            if tls is not None:
                new = await loop.start_tls(transport, protocol, tls, server_hostname=server_hostname or target.host)
                if new is None:  # pragma: no cover - the loop closed it
                    raise ConnectionResetError("the connection closed during the TLS handshake")
                transport = new
                protocol.transport = transport
        except BaseException:
            transport.close()
            raise
    else:
        if kwargs.get("sock") is None:
            kwargs.setdefault("host", target.host)
            kwargs.setdefault("port", target.port)
        if tls is not None:
            kwargs.setdefault("ssl", tls)
            if kwargs.get("server_hostname") is None:
                kwargs["server_hostname"] = server_hostname or target.host
        transport, _ = await loop.create_connection(lambda: protocol, **kwargs)
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        except OSError:
            pass
    return LoopStream(protocol)


async def _run_handshake(protocol: _Protocol, handshake: Any) -> None:
    """Run a proxy's handshake (see ``_transport.Handshake``) over `protocol`."""
    buffer = bytearray()
    answer: Any = None
    try:
        while True:
            want = handshake.send(answer)
            answer = None
            if isinstance(want, bytes):
                assert protocol.transport is not None
                protocol.transport.write(want)
                continue
            while not _enough(buffer, want):
                data = protocol.take()
                if data is None:
                    raise InvalidProxyMessage("the proxy closed the connection", result=_ffi.WS_ERR_PROXY)
                if data:
                    buffer += data
                else:
                    await protocol.wait_data()
            answer = _take(buffer, want)
    except StopIteration:
        return


async def open_over(opening: Opening, stream: LoopStream, loop: asyncio.AbstractEventLoop) -> Union[Connection, HTTPResponse]:
    """Step `opening` (a TransportOpening over `stream`) each time bytes
    arrive or can be written, or its deadline came, until it gives its
    result. Cancelling this cancels the connect at once."""
    done: "asyncio.Future[Union[Connection, HTTPResponse]]" = loop.create_future()
    timer: Optional[asyncio.TimerHandle] = None
    protocol = stream.protocol

    def step() -> None:
        nonlocal timer
        if done.done():
            return
        if timer is not None:
            timer.cancel()
            timer = None
        try:
            result = opening.step()
        except Exception as e:
            done.set_exception(e)
            return
        if result is not None:
            done.set_result(result)
            return
        timeout = opening.timeout()
        if timeout is not None:
            timer = loop.call_later(timeout, step)

    protocol.on_data = step
    protocol.on_writable = step
    step()
    try:
        return await done
    finally:
        protocol.on_data = _nothing
        protocol.on_writable = _nothing
        if timer is not None:
            timer.cancel()
        opening.close()  # closes the stream unless the connection has it


class FdWatch:
    """Read and write readiness of the library's socket (its descriptor),
    from the event loop (``add_reader``/``add_writer``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, on_readable: Callable[[], None], on_writable: Callable[[], None]) -> None:
        self._loop = loop
        self._fd = fd
        self._on_readable = on_readable
        self._on_writable = on_writable

    def watch_read(self) -> None:
        self._loop.add_reader(self._fd, self._on_readable)

    def unwatch_read(self) -> None:
        self._loop.remove_reader(self._fd)

    def watch_write(self) -> None:
        self._loop.add_writer(self._fd, self._on_writable)

    def unwatch_write(self) -> None:
        self._loop.remove_writer(self._fd)


class LoopWatch:
    """The same over an asyncio transport: reading is paused and resumed on
    the transport; writing is wanted until the library's output is out,
    each time the transport accepts more (not paused)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stream: LoopStream, on_readable: Callable[[], None], on_writable: Callable[[], None]) -> None:
        self._loop = loop
        self._protocol = protocol = stream.protocol
        self._on_writable = on_writable
        self._wanted = False
        self._scheduled = False
        protocol.on_data = on_readable
        protocol.on_writable = self._writable

    def watch_read(self) -> None:
        self._protocol.resume("queue")

    def unwatch_read(self) -> None:
        self._protocol.pause("queue")

    def watch_write(self) -> None:
        self._wanted = True
        self._schedule()

    def unwatch_write(self) -> None:
        self._wanted = False

    def _schedule(self) -> None:
        if not self._scheduled and self._wanted and not self._protocol.write_paused:
            self._scheduled = True
            self._loop.call_soon(self._writable)

    def _writable(self) -> None:
        self._scheduled = False
        if self._wanted:
            self._on_writable()
            self._schedule()


def watch_for(
    driver: Any, loop: asyncio.AbstractEventLoop, fd: int, on_readable: Callable[[], None], on_writable: Callable[[], None]
) -> Union[FdWatch, LoopWatch]:
    """How the connection of `driver` learns when to read and write."""
    stream = getattr(driver, "stream", None)
    if isinstance(stream, LoopStream):
        return LoopWatch(loop, stream, on_readable, on_writable)
    return FdWatch(loop, fd, on_readable, on_writable)
