"""An asyncio WebSocket client with the API of ``websockets.asyncio.client``::

    from wsclient.asyncio.client import connect

    async with connect("ws://localhost:8765") as websocket:
        await websocket.send("Hello world!")
        message = await websocket.recv()
        async for message in websocket:
            ...

As an async iterator, connect() reconnects (see :class:`connect`)::

    async for websocket in connect("ws://localhost:8765"):
        try:
            async for message in websocket:
                ...
        except ConnectionClosed:
            continue  # reconnect

The connection is driven by the event loop: the library runs in its
non-blocking mode, the socket is watched with ``loop.add_reader`` (and
``add_writer`` while sends are queued), and the library's deadlines
(keepalive ping and pong timeout, close timeout) run from ``call_later``.
No thread per connection, and none for the opening either: it is stepped
from the event loop too (name lookup, TCP, proxy, TLS, the upgrade, see
:func:`_open`); cancelling connect() (e.g. ``asyncio.wait_for`` timing out)
cancels it at once. Only a name lookup runs on a thread of the library
(getaddrinfo cannot be cancelled; an abandoned one ends on its own).

Received messages are read as soon as they arrive (so pings are answered
and keepalive pongs seen while the program does not call ``recv()``) into a
queue of at most `max_queue` items: whole messages, read for a ``recv()``
that waits, or else pieces of at most 64 KiB; when it is full, reading
pauses and TCP flow control slows the server down. ``recv()`` joins a
message's pieces; ``recv_streaming()`` hands them out as they come, so a
message of any size is received in bounded memory::

    async with connect("ws://localhost:8765", max_size=None) as websocket:
        async for piece in websocket.recv_streaming():   # str or bytes
            await sink.write(piece)
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import ctypes
import functools
import os
import ssl as ssl_module
import uuid
from typing import (
    Any,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
    overload,
)

from .. import _ffi
from .._aiotransport import open_loop_stream, open_over, watch_for
from .._connection import Connection, _close_args, driver_of
from .._data import (
    LOOKAHEAD,
    Data,
    Piece,
    PieceDecoder,
    assemble,
    convert,
    discard,
    encode,
    first_fragment,
    fragment_bytes,
    plan_fragments,
    split_piece,
    take,
    whole_piece,
)
from .._driver import AGAIN, CLOSED, PARTS, PARTS_MIN, PIECE, QUEUED, TOO_BIG, MixedReceive
from .._errors import InvalidArgument, InvalidState, WebSocketError, WebSocketFailure, WebSocketTimeout
from .._message import Frame
from .._observe import AnyLogger, LoggerLike, get_logger
from .._opening import Opening
from .._pings import PingWaiters
from .._reconnect import backoff, describe, logger, process_exception, verdict, wait_after
from .._response import HTTPResponse
from .._transport import OPEN_TIMEOUT, tls_context
from .._wsopts import (
    USER_AGENT,
    HeadersLike,
    MaxSize,
    Route,
    addresses,
    closed_exception,
    handshake_of,
    opened,
    read_ahead,
    route,
    start_connection,
)
from ..exceptions import Close, ConcurrencyError, ConnectionClosed, ConnectionClosedError
from ..http11 import Request, Response
from ..protocol import State

__all__ = ["ClientConnection", "backoff", "connect", "process_exception", "unix_connect"]

#: Results after which the connection is gone.
# A library without a send queue writes every message at once.
_SEND_QUEUED = _ffi.WS_SEND_MORE if QUEUED else 0
_LOST = {_ffi.WS_ERR_IO, _ffi.WS_ERR_CONNECTION_LOST, _ffi.WS_ERR_TIMEOUT, _ffi.WS_ERR_TLS}


class _Turn:
    """A receive's turn on the connection: a message is received by one
    call from its first piece to its last (`task`: the caller's)."""

    __slots__ = ("task", "mid", "lost")

    def __init__(self, task: "Optional[asyncio.Task[Any]]") -> None:
        self.task = task
        self.mid = False  # a stream handed out pieces of a message not ended yet
        self.lost = False  # its task received otherwise meanwhile (see _take_turn)


class ClientConnection:
    """An open connection (made by :func:`connect`). An async context
    manager (closes on exit) and an async iterator of received messages
    that ends when the connection closes normally."""

    def __init__(
        self,
        conn: Connection,
        loop: asyncio.AbstractEventLoop,
        max_queue: Union[int, None, Tuple[Optional[int], Optional[int]]] = 16,
        write_limit: Union[int, Tuple[int, Optional[int]]] = 32768,
        handshake: Optional[Tuple[Request, Response]] = None,
    ) -> None:
        self._conn = conn  # the egg's API: header, send_frame
        self.id: uuid.UUID = uuid.uuid4()  # as websockets' (the library's id: conn_id)
        self._driver = driver = driver_of(conn)  # steps the library; the loop waits
        self._loop = loop
        high = max_queue[0] if isinstance(max_queue, tuple) else max_queue
        self._max_queue = max(1, high) if high is not None else 1 << 62  # None: no limit
        # Reading resumes when the queue falls to this (websockets' low-water
        # mark, a quarter of max_queue by default): in batches, not one
        # message at a time.
        low = max_queue[1] if isinstance(max_queue, tuple) else None
        self._low_queue = min(low, self._max_queue - 1) if low is not None else self._max_queue // 4
        self._write_limit = write_limit[0] if isinstance(write_limit, tuple) else write_limit
        self._fd = conn.fileno()
        # The library's socket, or the event loop's transport (see _aiotransport).
        self._io = watch_for(driver, loop, self._fd, self._on_readable, self._on_writable)
        #: The opening handshake's request and response (websockets' attributes).
        self.request: Optional[Request] = None
        self.response: Optional[Response] = None
        if handshake is not None:
            self.request, self.response = handshake
        # Received, in order: the messages complete now, in one batch as
        # whole pieces (Driver.receive_batch); one too large for a batch
        # whole by address (read for a recv() that waits: one copy into
        # Python), else in pieces (Driver.receive_piece), so that a message
        # too large to hold is never held whole.
        self._pieces: Deque[Union[int, Piece]] = collections.deque()
        self._whole_wanted = False  # a recv() waits for a message's start
        self._in_parts = False  # the library is in the middle of a message in pieces
        self._waiters: List["asyncio.Future[None]"] = []
        self._holder: Optional[_Turn] = None  # whose turn it is to receive
        self._turn_waiters: List["asyncio.Future[None]"] = []
        self._partial: List[bytes] = []  # the message a cancelled recv() left unfinished
        self._partial_kind = _ffi.WS_MESSAGE_BINARY  # and its type
        self._skip = False  # drop pieces until the end of an abandoned message
        self._drain_waiters: List["asyncio.Future[None]"] = []
        self._writable_waiters: List["asyncio.Future[None]"] = []  # a send in parts
        self._parts_lock = asyncio.Lock()  # one message in parts at a time
        self._sent: Optional[Close] = None
        self._closed_exc: Optional[ConnectionClosed] = None
        self._closed_event = asyncio.Event()
        self._released = asyncio.Event()
        self._reading = False
        self._writing = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._pings = PingWaiters(driver)
        self.local_address, self.remote_address = addresses(conn)
        self._resume_reading()
        loop.call_soon(self._on_readable)  # the handshake may have read messages already
        self._after_io()

    # ------------------------------------------------------------ state

    @property
    def subprotocol(self) -> Optional[str]:
        return self._conn.subprotocol

    @property
    def close_code(self) -> Optional[int]:
        """The server's close code once the connection is closed, else None."""
        return None if self._closed_exc is None else self._closed_exc.code

    @property
    def close_reason(self) -> Optional[str]:
        return None if self._closed_exc is None else self._closed_exc.reason

    def response_header(self, name: str) -> Optional[str]:
        """A header of the server's 101 response, or None."""
        return self._conn.header(name)

    @property
    def state(self) -> State:
        """The connection's state, as websockets' (``wsclient.protocol.State``):
        OPEN, CLOSING once a close frame was sent or received, CLOSED."""
        driver = self._driver
        if self._closed_exc is not None or driver.ptr is None or driver.ended():
            return State.CLOSED
        if self._sent is not None or driver.eof or driver.state() == _ffi.WS_STATE_CLOSING:
            return State.CLOSING
        return State.OPEN

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        await self._closed_event.wait()

    # ------------------------------------------------------------ observing

    @property
    def logger(self) -> AnyLogger:
        """The connection's logger (``logger=`` of :func:`connect`; by
        default the logger ``wsclient``), which gets its trace at DEBUG."""
        return self._conn.logger

    @property
    def conn_id(self) -> int:
        """The library's id of the connection (``ws_conn_id``), the
        ``[conn N]`` of its log records; :attr:`id` is websockets' UUID."""
        return self._conn.conn_id

    @property
    def latency(self) -> float:
        """The round trip of the last ping answered (keepalive or
        :meth:`ping`), in seconds; 0 before the first."""
        return self._conn.latency

    @property
    def stats(self) -> Mapping[str, int]:
        """The connection's counters and timings, a read-only snapshot by
        name: ``bytes_in``, ``messages_out``, ``rtt_smoothed_us``,
        ``time_tls_us``, ... (see :attr:`wsclient.Connection.stats`)."""
        return self._conn.stats

    # ------------------------------------------------------------ the event loop's side

    def __del__(self) -> None:
        for item in getattr(self, "_pieces", ()):
            if item.__class__ is int:
                discard(item)

    def _resume_reading(self) -> None:
        if not self._reading and self._driver.ptr is not None:
            self._io.watch_read()
            self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            self._io.unwatch_read()
            self._reading = False

    def _on_readable(self) -> None:
        """Take every message (or piece of one) the library can give
        without blocking, up to max_queue queued."""
        driver = self._driver
        if driver.ptr is None:
            return
        if self._closed_exc is not None:
            # The library finishes the close (reply, the server's TCP close).
            self._flush()
            self._after_io()
            return
        got = False
        pieces = self._pieces
        try:
            # Closing, what comes is dropped: read on to the server's close.
            while len(pieces) < self._max_queue or self._sent is not None:
                try:
                    item = self._read()
                except WebSocketError as e:
                    self._set_closed(e)
                    return
                if item is True:  # a batch, queued already
                    got = True
                    continue
                if item is AGAIN:
                    break
                if item is CLOSED:
                    self._set_closed(None)
                    return
                if item.__class__ is not int:
                    self._in_parts = not item[2]
                    if self._skip:  # the rest of an abandoned message
                        self._skip = self._in_parts
                        continue
                if self._sent is None:
                    pieces.append(item)  # converted by recv(), which knows `decode`
                    got = True
                elif item.__class__ is int:
                    discard(item)  # closing: nobody will read it
        finally:
            self._pings.check()
            if got:
                self._wake(self._waiters)
            if len(pieces) >= self._max_queue and self._sent is None:
                self._pause_reading()
            self._after_io()

    def _read(self) -> Any:
        """The reader's next step: True when a batch of whole messages was
        queued; else a whole message by address, a piece, AGAIN or CLOSED."""
        driver, pieces = self._driver, self._pieces
        # A batch takes the next message whole: for a recv() that waits,
        # or ahead when messages are small enough (see Driver.batch_ahead).
        if (driver.batch_ahead or self._whole_wanted) and not self._in_parts and self._sent is None:
            try:
                got = driver.receive_batch(pieces.append, self._max_queue - len(pieces))
            except MixedReceive:  # a message is being received in pieces
                self._in_parts = True
            else:
                if got is not TOO_BIG:
                    return True if got.__class__ is int else got
        if self._whole_wanted and not pieces and not self._in_parts:
            return driver.receive()  # for the recv() that waits (a message too large for a batch)
        try:
            return driver.receive_piece()
        except MixedReceive:  # begun whole for a recv() that gave up
            return driver.receive()

    def _on_writable(self) -> None:
        self._flush()
        self._wake(self._writable_waiters)
        self._after_io()

    def _flush(self) -> None:
        try:
            self._driver.flush_step()
        except WebSocketError as e:
            self._set_closed(e)

    def _after_io(self) -> None:
        """Watch for writability while bytes are queued; wake senders when
        the queue drained; arm the timer for the library's next deadline."""
        driver = self._driver
        if driver.ptr is None:
            return
        wants = driver.wants() if QUEUED else 0
        if self._closed_exc is not None:
            if not wants:
                self._release()  # the connection is over
                return
            if wants & _ffi.WS_WANT_READ:
                self._resume_reading()
            else:
                self._pause_reading()
        if QUEUED:
            wants_write = bool(wants & _ffi.WS_WANT_WRITE)
            if self._writable_waiters and not wants_write:
                # The queue drained without _on_writable (a receive writes
                # too): a send in parts can go on now.
                self._wake(self._writable_waiters)
            if wants_write and not self._writing:
                self._io.watch_write()
                self._writing = True
            elif not wants_write and self._writing:
                self._io.unwatch_write()
                self._writing = False
            if self._drain_waiters and (not wants_write or driver.queued_bytes() <= self._write_limit):
                self._wake(self._drain_waiters)
        else:
            self._wake(self._drain_waiters)
        due = driver.timeout()
        if due is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        else:
            when = self._loop.time() + due
            # Keep a timer that fires at (about) the same time: the
            # keepalive deadline rarely moves between two messages.
            if self._timer is None or abs(self._timer.when() - when) > 0.002:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._flush()  # runs due deadlines: sends the keepalive ping, or fails the connection
        self._on_readable()

    @staticmethod
    def _wake(waiters: List["asyncio.Future[None]"]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()

    def _set_closed(self, failure: Optional[BaseException]) -> None:
        if self._closed_exc is not None:
            return
        if isinstance(failure, WebSocketFailure):
            self._closed_exc = ConnectionClosedError(None, Close(failure.code, ""), None)
        elif failure is not None:
            keepalive = isinstance(failure, WebSocketTimeout)
            sent = Close(1011, "keepalive ping timeout") if keepalive else self._sent
            self._closed_exc = ConnectionClosedError(None, sent, None)
        else:
            self._closed_exc = closed_exception(self._conn, self._sent, None if self._sent is None else False)
        self._closed_exc.__cause__ = failure
        self._pings.abandon()
        self._wake(self._waiters)
        self._wake(self._turn_waiters)
        self._wake(self._drain_waiters)
        self._wake(self._writable_waiters)
        self._closed_event.set()

    def _release(self) -> None:
        """Stop watching the socket and free the connection."""
        if self._driver.ptr is None:
            return
        self._pause_reading()
        if self._writing:
            self._io.unwatch_write()
            self._writing = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Messages already received stay readable by recv(): a library
        # message lives on after its connection.
        self._driver.release()
        if self._closed_exc is None:
            self._set_closed(None)
        self._closed_event.set()
        self._released.set()

    # ------------------------------------------------------------ receiving

    def _after_take(self) -> None:
        """An item was taken from the queue: at the low-water mark, reading
        resumes (and looks at once: the library may hold more already)."""
        if (not self._reading and self._closed_exc is None and self._driver.ptr is not None
                and len(self._pieces) <= self._low_queue):
            self._resume_reading()
            self._loop.call_soon(self._on_readable)

    async def _next_item(self, whole: bool) -> Union[int, Piece]:
        """The next item received (for the turn's holder): a whole message
        by address, or a piece; `whole`: ask the reader for a whole message
        while waiting (a recv() at a message's start). ConnectionClosed once
        none is left and the connection is closed."""
        pieces = self._pieces
        while not pieces:
            if self._closed_exc is not None:
                raise self._closed_exc
            fut = self._loop.create_future()
            self._waiters.append(fut)
            self._whole_wanted = whole
            try:
                await fut
            finally:
                self._whole_wanted = False
                if fut in self._waiters:
                    self._waiters.remove(fut)
        item = pieces.popleft()
        self._after_take()
        return item

    async def _next_piece(self) -> Piece:
        """The next piece (for a stream): a whole message comes as one."""
        item = await self._next_item(False)
        return whole_piece(item) if item.__class__ is int else item  # type: ignore[return-value]

    async def _take_turn(self) -> _Turn:
        """Take this task's turn to receive a message. Another task's recv()
        or recv_streaming() in progress is a ConcurrencyError, as in
        websockets. If this task's own stream holds the turn (its iterator
        was left in the middle of a message, e.g. by ``break``: an async
        generator is closed later), the turn is taken from it: the rest of
        its message is skipped, and the iterator raises ConcurrencyError if
        resumed."""
        task = asyncio.current_task()
        holder = self._holder
        if holder is not None:
            if holder.task is not task:
                if self._closed_exc is not None:
                    raise self._closed_exc
                raise ConcurrencyError(
                    "cannot call recv while another coroutine is already running recv or recv_streaming"
                )
            holder.lost = True
            if holder.mid:
                self._abandon()
        self._holder = turn = _Turn(task)
        return turn

    def _give_turn(self, turn: _Turn, abandoned: bool = False) -> None:
        """End `turn` (unless it was taken); `abandoned`: in the middle of a
        message, whose rest is then skipped."""
        if self._holder is turn:
            self._holder = None
            if abandoned:
                self._abandon()
            self._wake(self._turn_waiters)

    def _abandon(self) -> None:
        """Skip the rest of the message being received: its pieces queued
        now, and those still to come (dropped as they are read)."""
        pieces = self._pieces
        while pieces:
            item = pieces.popleft()
            if item.__class__ is int or item[2]:  # type: ignore[index]
                break
        else:
            # (A message received whole was handed out in pieces: nothing is left.)
            self._skip = self._in_parts
        if not self._reading and self._closed_exc is None and self._driver.ptr is not None:
            self._resume_reading()
            self._loop.call_soon(self._on_readable)

    async def recv(self, decode: Optional[bool] = None) -> Data:
        """The next message: str for text, bytes for binary (`decode`: False
        gives bytes for text too, True str for binary). Raises
        ConnectionClosedOK/ConnectionClosedError once the connection is
        closed. Cancelling a pending recv() loses no message (what arrived
        of it is kept for the next receive). A recv() or recv_streaming() of
        another task in progress meanwhile is a ConcurrencyError, as in
        websockets."""
        pieces = self._pieces
        if self._holder is None and pieces and not self._partial:
            item = pieces[0]
            if item.__class__ is int or item[2]:  # type: ignore[index]
                # A whole message is ready: no wait.
                pieces.popleft()
                self._after_take()
                if item.__class__ is int:
                    return take(item, decode)
                return convert(item[0], item[1], decode)  # type: ignore[index]
        if self._holder is None:
            self._holder = turn = _Turn(None)  # (a recv() cannot be left half-way by its own task)
        else:
            turn = await self._take_turn()
        try:
            partial = self._partial  # the connection's: kept if this is cancelled
            while True:
                # _next_item(), inlined: this is the per-message path.
                while not pieces:
                    if self._closed_exc is not None:
                        raise self._closed_exc
                    fut = self._loop.create_future()
                    self._waiters.append(fut)
                    self._whole_wanted = not partial  # at a message's start: read it whole
                    try:
                        await fut
                    finally:
                        self._whole_wanted = False
                        if fut in self._waiters:
                            self._waiters.remove(fut)
                item = pieces.popleft()
                self._after_take()
                if item.__class__ is int:  # whole (it cannot follow pieces of its own)
                    return take(item, decode)
                kind, data, last = item  # type: ignore[misc]
                partial.append(data)
                if last:
                    chunks = partial[:]
                    partial.clear()
                    break
                self._partial_kind = kind
        finally:
            if self._holder is turn:  # _give_turn(), inlined
                self._holder = None
                if self._turn_waiters:
                    self._wake(self._turn_waiters)
        return assemble(kind, chunks, decode)

    @overload
    def recv_streaming(self, decode: Literal[True]) -> AsyncIterator[str]: ...

    @overload
    def recv_streaming(self, decode: Literal[False]) -> AsyncIterator[bytes]: ...

    @overload
    def recv_streaming(self, decode: Optional[bool] = None) -> AsyncIterator[Data]: ...

    async def recv_streaming(self, decode: Optional[bool] = None) -> AsyncIterator[Data]:
        """The next message piece by piece, as it arrives: an async iterator
        of str (text) or bytes (binary) pieces, `decode` as for :meth:`recv`
        (False: bytes for text too; True: str for binary too, decoded across
        pieces). websockets' ``recv_streaming``, except that websockets
        yields each frame whole, while this yields pieces of at most 64 KiB
        (UTF-8 bytes for text, each text piece ending between characters) as
        they arrive, so memory stays bounded whatever the size of the
        message or of its frames (lift ``max_size`` for messages over it:
        ``max_size=None``). Keepalive goes on meanwhile.

        Consume the iterator to the end of the message. Leaving it earlier
        (``break``, an exception, a cancellation after the first piece)
        abandons the message: the next receive skips the rest of it
        (websockets makes the connection unusable then). Cancelling before
        the first piece loses nothing. A receive by the same task while the
        iterator is in the middle of its message (or after a ``break``,
        before the iterator is closed) takes its turn and skips the rest of
        the message; resuming the iterator then raises
        :class:`~wsclient.exceptions.ConcurrencyError`. In another task, a
        receive before the message's end is a ConcurrencyError, as for
        :meth:`recv`.

        Raises ConnectionClosedOK/ConnectionClosedError as :meth:`recv`
        (a text piece that is not UTF-8: the library closes with 1007).
        """
        turn = await self._take_turn()
        finished = False
        try:
            convert: Optional[PieceDecoder] = None
            if self._partial:  # what a cancelled recv() kept
                held = self._partial[:]
                self._partial.clear()
                convert = PieceDecoder(self._partial_kind, decode)
                turn.mid = True
                for data in held:
                    yield convert(data, False)
                    if turn.lost:
                        raise ConcurrencyError("another receive took this stream's turn")
            while True:
                kind, data, last = await self._next_piece()
                if convert is None:
                    convert = PieceDecoder(kind, decode)
                if len(data) > PIECE:  # a message received whole
                    parts = split_piece(kind, data, PIECE)
                    data = next(parts)
                    for after in parts:
                        turn.mid = True
                        yield convert(data, False)
                        if turn.lost:
                            raise ConcurrencyError("another receive took this stream's turn")
                        data = after
                if last:
                    finished = True
                    self._give_turn(turn)
                    yield convert(data, True)
                    return
                turn.mid = True
                yield convert(data, False)
                if turn.lost:
                    raise ConcurrencyError("another receive took this stream's turn")
        finally:
            if not finished:
                self._give_turn(turn, abandoned=turn.mid)

    def __aiter__(self) -> AsyncIterator[Data]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Data]:
        while True:
            try:
                yield await self.recv()
            except ConnectionClosed as e:
                if isinstance(e, ConnectionClosedError):
                    raise
                return

    # ------------------------------------------------------------ sending

    def _check_open(self) -> None:
        if self._closed_exc is not None:
            raise self._closed_exc
        if self._sent is not None or self._driver.ptr is None:
            raise ConnectionClosed.make(None, self._sent)

    async def send(
        self,
        message: Union[Data, bytearray, memoryview, Iterable[Data], AsyncIterable[Data]],
        text: Optional[bool] = None,
    ) -> None:
        """Send str as a text message and bytes-like as binary (`text`
        overrides), or an iterable or async iterable of str or of bytes as
        one message made of its fragments, as websockets does (all of one
        type: TypeError otherwise; an empty iterable sends nothing). Waits
        while more than `write_limit` bytes are queued.

        A large message goes to the library in parts as the socket takes
        them (``ws_send_part``), compressed piece by piece when
        permessage-deflate is on: never copied or compressed whole. So does
        an iterable whose size is known ahead: a sized collection (a list, a
        tuple: iterated twice, sizes first), or an iterator or async
        iterator that ends within 1 MiB; its fragments are not frames (the
        library cuts the message in frames of its own). A longer iterator (a
        generator) cannot say its size: its fragments go out one frame each,
        uncompressed, each as it comes, in memory bounded by a fragment."""
        try:
            await self._send(message, text)
        except InvalidArgument as e:
            if self._driver.ptr is None and self._closed_exc is not None:
                # Half a message could not be finished: the connection was dropped.
                raise self._closed_exc from e
            raise  # the caller's mistake: still open
        if not self._writing:
            # Arm the writer for what was queued; once armed, its callback
            # writes the queue and runs _after_io (not each of the sends
            # a task makes in a row).
            self._after_io()
        if self._writing:
            await self._drain()

    async def _send(
        self, message: Union[Data, bytearray, memoryview, Iterable[Data], AsyncIterable[Data]], text: Optional[bool]
    ) -> None:
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            kind, raw = encode(message, text)
            if len(raw) >= PARTS_MIN and PARTS:
                await self._send_parts(kind, len(raw), (raw,))
            else:
                await self._send_whole(kind, raw)
        else:
            self._check_open()
            if isinstance(message, collections.abc.Mapping):
                raise TypeError("data is a dict-like object")  # as websockets: a common mistake
            plan: Optional[_Plan]
            if isinstance(message, collections.abc.AsyncIterable):
                plan = await _plan_async_fragments(message, text)
            elif isinstance(message, collections.abc.Iterable):
                plan = plan_fragments(message, text)
            else:
                raise TypeError(f"message must be str, bytes-like or an iterable of them, not {type(message).__name__}")
            if plan is None:
                return
            kind, total, chunks = plan
            if total is None or (total >= PARTS_MIN and not PARTS) or not isinstance(chunks, collections.abc.Iterator):
                await self._send_frames(kind, chunks)
            elif total < PARTS_MIN:
                await self._send_whole(kind, b"".join(chunks))
            else:
                await self._send_parts(kind, total, chunks)

    async def _send_whole(self, kind: int, raw: bytes) -> None:
        # Queued only (WS_SEND_MORE): the writer callback _after_io arms
        # writes the queue when the task yields to the loop, so the sends a
        # task makes in a row go out in one system call, as an asyncio
        # transport's buffer would send them.
        while True:
            self._check_open()
            try:
                if self._driver.send_step(kind, raw, _SEND_QUEUED):
                    return
            except WebSocketError as e:
                self._send_failed(e)
            await self._drain()  # the library's send queue is full

    def _send_failed(self, error: WebSocketError) -> None:
        """Raise for a send's `error`, closing if it was fatal."""
        if isinstance(error, InvalidState):
            raise self._closed_exc or ConnectionClosed.make(None, self._sent) from None
        if not isinstance(error, WebSocketFailure) and error.result not in _LOST:
            raise error  # the caller's mistake (e.g. text not UTF-8): still open
        self._set_closed(error)
        raise self._closed_exc from error  # type: ignore[misc]

    async def _send_parts(self, kind: int, total: int, chunks: Iterable[bytes]) -> None:
        """A message of `total` bytes given as `chunks` (bytes adding up to
        it), each given to the library in parts as the socket takes them
        (ws_send_part; compressed piece by piece with permessage-deflate), so
        it is never copied whole. If the send is cancelled midway, the rest
        is queued whole, so the connection stays usable; chunks that do not
        add up to `total`, or text that is not UTF-8, end the connection
        (the message cannot be finished)."""
        driver = self._driver
        at, started = 0, False
        rest = iter(chunks)
        chunk, off = b"", 0  # the chunk being given, and how much of it was taken
        async with self._parts_lock:
            try:
                for chunk in rest:
                    off = 0
                    if at + len(chunk) > total:
                        raise InvalidArgument(f"the message's parts add up to more than its {total} bytes")
                    base = ctypes.cast(ctypes.c_char_p(chunk), ctypes.c_void_p).value or 0
                    while off < len(chunk):
                        self._check_open()
                        # Even a first part refused (text not UTF-8) leaves the message begun.
                        started = True
                        try:
                            taken = driver.send_part_step(kind, total, base + off, len(chunk) - off)
                        except WebSocketError as e:
                            self._send_failed(e)
                        off += taken
                        at += taken
                        if off < len(chunk):
                            fut = self._loop.create_future()
                            self._writable_waiters.append(fut)
                            self._after_io()  # watches for writability
                            await fut
                if at < total:
                    raise InvalidArgument(f"the message's parts add up to {at} of its {total} bytes")
            finally:
                if started and at < total and driver.ptr is not None:
                    if not driver.queue_rest(kind, total, at, chunk[off:], rest):
                        # Half a message cannot be finished: drop the connection.
                        self._set_closed(InvalidArgument("a message sent in parts could not be finished"))
                        self._release()

    async def _send_frames(self, kind: int, chunks: Union[Iterator[bytes], AsyncIterator[bytes]]) -> None:
        """A message of unknown size: a frame per fragment (never
        compressed), each queued when the send queue is under write_limit.
        If the fragments fail half-way (a fragment of another type, the
        iterator's own exception), the message cannot be finished and the
        connection is closed with 1011, as websockets does."""
        opcode = 1 if kind == _ffi.WS_MESSAGE_TEXT else 2
        started = False
        try:
            if isinstance(chunks, collections.abc.AsyncIterator):
                async for raw in chunks:
                    await self._queue_frame(0 if started else opcode, raw)
                    started = True
            else:
                for raw in chunks:
                    await self._queue_frame(0 if started else opcode, raw)
                    started = True
            await self._queue_frame(0 if started else opcode, b"", fin=True)
        except WebSocketError:
            raise
        except Exception:
            if started and self._closed_exc is None:
                try:
                    await self.close(1011, "error in fragmented message")
                except WebSocketError:
                    pass
            raise

    async def _queue_frame(self, opcode: int, raw: bytes, fin: bool = False) -> None:
        while True:
            self._check_open()
            try:
                if self._driver.send_frame_step(fin, opcode, raw):
                    break
            except WebSocketError as e:
                self._send_failed(e)
            await self._drain()  # the library's send queue is full
        self._after_io()
        if self._writing:
            await self._drain()

    def _send_frame(self, frame: Frame) -> None:
        self._check_open()
        try:
            self._conn.send_frame(frame)
        except InvalidState:
            raise self._closed_exc or ConnectionClosed.make(None, self._sent) from None

    async def _drain(self) -> None:
        """Wait until at most `write_limit` bytes are queued."""
        if not QUEUED or self._driver.ptr is None or not self._writing:
            return  # not watching for writability: nothing is queued
        if self._driver.queued_bytes() <= self._write_limit:
            return
        fut = self._loop.create_future()
        self._drain_waiters.append(fut)
        self._after_io()
        await fut
        if self._closed_exc is not None and self._sent is None:
            raise self._closed_exc

    async def ping(self, data: Optional[Data] = None) -> "asyncio.Future[float]":
        """Send a ping; return a future that completes when its pong arrives
        (with the latency in seconds) or raises ConnectionClosed."""
        self._check_open()
        payload = os.urandom(4) if data is None else (data.encode() if isinstance(data, str) else bytes(data))
        waiter: "asyncio.Future[float]" = self._loop.create_future()
        sent_at = self._loop.time()

        def on_pong() -> None:
            if not waiter.done():
                waiter.set_result(self._loop.time() - sent_at)

        def on_abandon() -> None:
            if not waiter.done() and self._closed_exc is not None:
                waiter.set_exception(self._closed_exc)

        self._pings.add(payload, on_pong, on_abandon)
        self._driver.ping(payload)
        self._after_io()
        if self._writing:
            await self._drain()
        return waiter

    async def pong(self, data: Data = b"") -> None:
        """Send an unsolicited pong."""
        self._send_frame(Frame(10, data.encode() if isinstance(data, str) else bytes(data)))
        self._after_io()
        if self._writing:
            await self._drain()

    # ------------------------------------------------------------ closing

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, wait for the server's (at most close_timeout),
        then release the connection. Idempotent."""
        if self._driver.ptr is None:
            return
        if self._closed_exc is None and self._sent is None:
            code_, text = _close_args(reason or None, code)
            self._sent = Close(code, reason)
            try:
                self._driver.send_close(code_, text)
            except WebSocketError as e:
                self._set_closed(e)
            if not self._reading and self._closed_exc is None:
                # Paused by a full queue: the server's close must be read.
                self._resume_reading()
                self._loop.call_soon(self._on_readable)
            self._after_io()
        try:
            # The server's close, then the library's end of the close
            # handshake (see _after_io), bounded by close_timeout.
            await asyncio.wait_for(self._released.wait(), self._driver.close_timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            if self._driver.ptr is not None:
                self._release()

    async def __aenter__(self) -> "ClientConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<wsclient.asyncio.client.ClientConnection {self._conn.url!r}>"


#: How send() sends fragments: (type, size if known, their bytes).
_Plan = Tuple[int, Optional[int], Union[Iterator[bytes], AsyncIterator[bytes]]]


async def _plan_async_fragments(message: AsyncIterable[Any], text: Optional[bool]) -> Optional[_Plan]:
    """:func:`~wsclient._data.plan_fragments` for an async iterable: read
    ahead up to LOOKAHEAD bytes; if it ends there, (type, size, chunks);
    else (type, None, an async iterator of every fragment's bytes)."""
    items = message.__aiter__()
    try:
        first = await items.__anext__()
    except StopAsyncIteration:
        return None
    is_str, kind = first_fragment(first, text)
    head = [fragment_bytes(first, is_str)]
    size = len(head[0])
    while size <= LOOKAHEAD:
        try:
            item = await items.__anext__()
        except StopAsyncIteration:
            return kind, size, iter(head)
        raw = fragment_bytes(item, is_str)
        head.append(raw)
        size += len(raw)

    async def chunks() -> AsyncIterator[bytes]:
        while head:
            yield head.pop(0)  # not kept once given
        async for item in items:
            yield fragment_bytes(item, is_str)

    return kind, None, chunks()


class connect:
    """Connect to `uri`, as ``websockets.asyncio.client.connect``: await it
    (``ws = await connect(uri)``) or use it as an async context manager
    (``async with connect(uri) as ws``). Defaults as in websockets:
    permessage-deflate offered, 1 MiB message limit, keepalive ping every
    20 s with a 20 s pong timeout, 10 s open and close timeouts, at most
    16 received messages (or pieces of at most 64 KiB of one) buffered,
    sends wait while over 32 KiB is queued.

    Raises :class:`~wsclient.exceptions.InvalidStatus` for a non-101
    answer, InvalidURI, OSError/ConnectionError, TimeoutError.

    Beyond websockets: `deflate` (the permessage-deflate offer, as in
    :func:`wsclient.connect`; overrides `compression`), `compression_level`
    (zlib 0-9), and TLS files (`ca_file`, `ca_dir`, `client_cert`,
    `client_key`). `logger`: a ``logging.Logger`` or a logger name
    (default: the logger ``wsclient``) that gets the connection's trace at
    DEBUG, when enabled for DEBUG at the connect; the records are made on
    the event loop's thread.

    Reconnecting, as websockets: ``async for websocket in connect(uri)``
    yields a connection, closes it when the loop's body ends and connects
    again. A connect that fails is retried after the next delay of
    `reconnect_delays` (default :func:`backoff`: exponential with jitter,
    websockets' defaults, ``WSCLIENT_BACKOFF_*`` or ``WEBSOCKETS_BACKOFF_*``
    from the environment) when `process_exception` (default
    :func:`process_exception`) returns None; the exception it returns is
    raised and ends the loop. A successful connect starts the delays afresh.
    An exception in the body ends the loop (catch ConnectionClosed and
    ``continue`` to reconnect), as does ``break``.

    Unlike websockets, which reconnects at once when the body ends: if the
    server ended the connection abnormally (lost without a close frame, or
    closed with 1001, 1011, 1012 Service Restart, 1013 Try Again Later or
    1014), the next connect waits the first delay of a new series (a random
    time up to the initial delay, RFC 6455 7.2.3), so that a restarting
    server does not get all its clients back at once.
    """

    def __init__(
        self,
        uri: str,
        *,
        origin: Optional[str] = None,
        extensions: None = None,
        subprotocols: Optional[Sequence[str]] = None,
        compression: Optional[str] = "deflate",
        additional_headers: HeadersLike = None,
        user_agent_header: Optional[str] = USER_AGENT,
        proxy: Union[str, bool, None] = True,
        proxy_ssl: Optional[ssl_module.SSLContext] = None,
        proxy_server_hostname: Optional[str] = None,
        process_exception: Callable[[Exception], Optional[Exception]] = process_exception,
        open_timeout: Optional[float] = 10,
        ping_interval: Optional[float] = 20,
        ping_timeout: Optional[float] = 20,
        close_timeout: Optional[float] = 10,
        max_size: MaxSize = 2**20,
        max_queue: Union[int, None, Tuple[Optional[int], Optional[int]]] = 16,
        write_limit: Union[int, Tuple[int, Optional[int]]] = 32768,
        logger: LoggerLike = None,
        create_connection: Optional[Type[ClientConnection]] = None,
        ca_file: Any = None,
        ca_dir: Any = None,
        client_cert: Any = None,
        client_key: Any = None,
        deflate: Any = None,
        compression_level: Optional[int] = None,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        **kwargs: Any,
    ) -> None:
        if extensions is not None:
            raise ValueError("extensions: only permessage-deflate is supported; use compression= or deflate=")
        self._uri = uri
        kwargs = dict(kwargs)
        unix = bool(kwargs.pop("unix", False))
        self._path = kwargs.pop("path", None) if unix else None
        ssl_context = kwargs.pop("ssl", None)
        if ssl_context is True:
            ssl_context = None  # wss:// has TLS anyway (with the system's CAs)
        server_hostname = kwargs.pop("server_hostname", None)
        # Where it goes, decided at each connect (see _create).
        self._route = functools.partial(
            route,
            uri,
            sock=kwargs.get("sock"),
            ssl_context=ssl_context,
            server_hostname=server_hostname,
            proxy=proxy,
            proxy_ssl=proxy_ssl,
            unix=unix,
            socket_kwargs={k: v for k, v in kwargs.items() if k != "sock"},
        )
        tls: Dict[str, Any] = dict(ca_file=ca_file, ca_dir=ca_dir, client_cert=client_cert, client_key=client_key)
        if ssl_context is None and uri.startswith("wss:") and any(v is not None for v in tls.values()):
            ssl_context = tls_context(tls)
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._proxy_ssl = proxy_ssl
        self._proxy_server_hostname = proxy_server_hostname
        self._user_agent = user_agent_header
        self._loop_kwargs = kwargs  # passed to loop.create_connection (host, port, sock, local_addr, ...)
        self._open_timeout = open_timeout
        self._start = functools.partial(
            start_connection,
            uri,
            origin=origin,
            subprotocols=subprotocols,
            compression=compression,
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            tls=tls,
            deflate=deflate,
            compression_level=compression_level,
            logger=logger,
        )
        self._max_size = max_size
        self._max_queue = max_queue
        self._write_limit = write_limit
        self._factory: Type[ClientConnection] = ClientConnection if create_connection is None else create_connection
        self._connection: Optional[ClientConnection] = None
        self.process_exception = process_exception
        self.reconnect_delays = reconnect_delays
        # Reconnecting is logged to `logger` when one is given, as in websockets.
        self._logger = None if logger is None else get_logger(logger)

    async def _create(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        way = self._route()  # InvalidURI, InvalidProxy
        try:
            if way.library:
                opening = self._start(open_timeout=self._open_timeout, proxy=way.proxy)
                result = await _open(opening, loop)
            else:
                result = await asyncio.wait_for(self._open_over(loop, way), self._open_timeout)
        except (asyncio.TimeoutError, WebSocketTimeout) as e:
            raise WebSocketTimeout(OPEN_TIMEOUT, result=_ffi.WS_ERR_TIMEOUT) from e
        conn = read_ahead(opened(result), self._max_size)
        handshake = handshake_of(conn, self._uri, opening.request_headers if way.library else [])
        self._connection = self._factory(conn, loop, self._max_queue, self._write_limit, handshake)
        return self._connection

    async def _open_over(self, loop: asyncio.AbstractEventLoop, way: Route) -> Union[Connection, HTTPResponse]:
        """The opening over the event loop's own transport (the caller's
        transport: see _aiotransport)."""
        stream = await open_loop_stream(
            loop,
            way.target,
            path=self._path,
            ssl_context=self._ssl,
            server_hostname=self._server_hostname,
            proxy=way.proxy,
            proxy_ssl=self._proxy_ssl,
            proxy_server_hostname=self._proxy_server_hostname,
            user_agent=self._user_agent,
            loop_kwargs=self._loop_kwargs,
        )
        try:
            opening = self._start(open_timeout=self._open_timeout, stream=stream)
        except BaseException:
            stream.close()
            raise
        return await open_over(opening, stream, loop)

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._create().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._create()

    async def __aexit__(self, *exc: Any) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def __aiter__(self) -> AsyncIterator[ClientConnection]:
        """Connections, one after the other, for ever (see the class)."""
        delays: Optional[Iterator[float]] = None
        log = logger if self._logger is None else self._logger
        while True:
            try:
                connection = await self._create()
            except Exception as exc:
                fatal = verdict(self.process_exception, exc)
                if fatal is exc:
                    raise
                if fatal is not None:
                    raise fatal from exc
                if delays is None:
                    delays = iter(self.reconnect_delays())
                delay = next(delays)
                log.info("connect failed; reconnecting in %.1f seconds: %s", delay, describe(exc))
                await asyncio.sleep(delay)
                continue
            delays = None
            async with connection:
                yield connection
                # The body ended: did the server end the connection?
                pause = wait_after(connection._closed_exc, connection._sent is not None)
            if pause:
                delays = iter(self.reconnect_delays())
                delay = next(delays)
                log.info("connection closed (%s); reconnecting in %.1f seconds", connection._closed_exc, delay)
                await asyncio.sleep(delay)


def unix_connect(path: Any = None, uri: Optional[str] = None, **kwargs: Any) -> connect:
    """:class:`connect` to a server on the Unix socket at `path` (or over
    ``sock=``, a connected Unix socket), as websockets'. `uri` (default
    ``ws://localhost/``, ``wss://localhost/`` with ``ssl=``) gives the
    request's host and path. Takes :class:`connect`'s keyword arguments."""
    if path is None and kwargs.get("sock") is None:
        raise ValueError("missing path argument")
    if path is not None and kwargs.get("sock") is not None:
        raise ValueError("path is incompatible with sock")
    if uri is None:
        uri = "ws://localhost/" if kwargs.get("ssl") is None else "wss://localhost/"
    return connect(uri, unix=True, path=path, **kwargs)


async def _open(opening: Opening, loop: asyncio.AbstractEventLoop) -> Union[Connection, HTTPResponse]:
    """Step `opening` from `loop` (each time its descriptor is ready for what
    it wants, or its deadline came) until it gives its result. Cancelling
    this cancels the connect at once."""
    done: "asyncio.Future[Union[Connection, HTTPResponse]]" = loop.create_future()
    watched = -1
    timer: Optional[asyncio.TimerHandle] = None

    def unwatch() -> None:
        nonlocal watched, timer
        if watched >= 0:
            loop.remove_reader(watched)
            loop.remove_writer(watched)
            watched = -1
        if timer is not None:
            timer.cancel()
            timer = None

    def step() -> None:
        nonlocal watched, timer
        if done.done():
            return
        # A step may close the descriptor and open another that gets the
        # same number: the loop must not watch it across a step.
        unwatch()
        try:
            result = opening.step()
        except Exception as e:
            done.set_exception(e)
            return
        if result is not None:
            done.set_result(result)
            return
        fd, wants = opening.fileno(), opening.wants()
        if fd >= 0:
            if wants & _ffi.WS_WANT_READ:
                loop.add_reader(fd, step)
            if wants & _ffi.WS_WANT_WRITE:
                loop.add_writer(fd, step)
            watched = fd
        timeout = opening.timeout()
        if timeout is not None:
            timer = loop.call_later(timeout, step)

    step()
    try:
        return await done
    finally:
        unwatch()
        opening.close()  # frees it unless it was opened
