"""A blocking WebSocket client with the API of ``websockets.sync.client``::

    from wsclient.sync.client import connect

    with connect("ws://localhost:8765") as websocket:
        websocket.send("Hello world!")
        message = websocket.recv()      # str or bytes

To reconnect after a drop, iterate :func:`reconnect` (``connect()``'s
connection iterates messages, so it cannot also iterate connections)::

    for websocket in reconnect("ws://localhost:8765"):
        try:
            for message in websocket:
                ...
        except ConnectionClosed:
            continue  # reconnect

Porting a websockets script means changing its imports only
(``websockets.sync.client`` -> ``wsclient.sync.client``,
``websockets.exceptions`` -> ``wsclient.exceptions``).

Threads: one thread may wait in :meth:`ClientConnection.recv` while
others :meth:`~ClientConnection.send`, :meth:`~ClientConnection.ping` or
:meth:`~ClientConnection.close`; the library serialises the writes. Every
wait releases the GIL and can be interrupted by a signal (Ctrl-C). While
no thread receives, a background thread of the connection keeps it alive
(keepalive pings and their pongs, the server's pings answered, the pongs
of :meth:`~ClientConnection.ping`), as websockets' does.

A message too large to hold can be received piece by piece as it arrives,
in bounded memory (:meth:`ClientConnection.recv_streaming`)::

    with connect("ws://localhost:8765", max_size=None) as websocket:
        for piece in websocket.recv_streaming():   # str or bytes, <= 64 KiB
            sink.write(piece)
"""

from __future__ import annotations

import collections
import collections.abc
import os
import socket
import ssl as ssl_module
import threading
import time
import uuid
import weakref
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
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
from .._connection import Connection, driver_of
from .._data import Data, Piece, PieceDecoder, assemble, convert, encode, plan_fragments, split_piece, take, whole_piece
from .._driver import AGAIN, CLOSED, PARTS, PARTS_MIN, PIECE, TOO_BIG, MixedReceive
from .._errors import InvalidArgument, InvalidState, NetworkError, WebSocketError, WebSocketFailure, WebSocketTimeout
from .._keeper import IDLE, Keeper
from .._message import Frame
from .._observe import AnyLogger, LoggerLike, get_logger
from .._transport import OPEN_TIMEOUT, Deadline, open_stream, tls_context
from .._util import seconds
from .._wsopts import (
    USER_AGENT,
    HeadersLike,
    MaxSize,
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
from .._pings import PingWaiters
from .._reconnect import backoff, describe, logger, process_exception, verdict, wait_after

__all__ = ["ClientConnection", "backoff", "connect", "process_exception", "reconnect", "unix_connect"]

#: ConnectionClosed.sent after the keepalive pong did not come in time (as websockets).
_KEEPALIVE_CLOSE = Close(1011, "keepalive ping timeout")

_get_ident = threading.get_ident

#: While no thread receives, a send reads what arrived once every this many
#: sends (see _pump), not at each: a program that only sends still sees
#: its pongs and answers pings, without a system call per message.
PUMP_EVERY = 64


class _Turn:
    """A receive's turn on the connection: a message is received by one
    call from its first piece to its last (`thread`: the caller's)."""

    __slots__ = ("thread", "mid", "lost")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.mid = False  # a stream handed out pieces of a message not ended yet
        self.lost = False  # its thread received otherwise meanwhile (see _take_turn)


class ClientConnection:
    """An open connection (made by :func:`connect`). A context manager
    (closes on exit) and an iterator of received messages that ends when
    the connection closes normally."""

    def __init__(
        self,
        conn: Connection,
        keepalive: bool = False,
        max_queue: Union[int, None, Tuple[Optional[int], Optional[int]]] = 16,
        handshake: Optional[Tuple[Request, Response]] = None,
    ) -> None:
        self._conn = conn  # the egg's API: header, send_frame, ping, close
        self.id: uuid.UUID = uuid.uuid4()  # as websockets' (the library's id: conn_id)
        self._driver = driver_of(conn)  # receives and sends without blocking; waits
        self._lock = threading.Lock()
        # While no thread receives, sends read what arrived (see _pump).
        self._keepalive = keepalive
        high = max_queue[0] if isinstance(max_queue, tuple) else max_queue
        self._max_queue = max(1, high) if high is not None else 1 << 62  # None: no limit
        # recv() takes the messages complete now in one batch
        # (Driver.receive_batch) into the inbox, as whole pieces, and so
        # does _pump when messages are small (Driver.batch_ahead); a message
        # too large for a batch, recv() takes whole (Driver.receive: one
        # copy into Python), recv_streaming() and _pump in pieces
        # (Driver.receive_piece), so that a message too large to hold is
        # never held whole. A message begun one way is finished that way
        # (see _read_piece).
        self._inbox: Deque[Piece] = collections.deque()  # read, not handed out yet
        self._sends = 0  # sends since _pump last read
        self._in_parts = False  # the library is in the middle of a message in pieces
        self._inbox_error: Optional[BaseException] = None
        self._receivers = 0  # threads waiting in poll() for a piece
        # The turn to receive: held (acquired) while a call receives a
        # message. Threads that find it taken wait on _turn (reentrant: a
        # stream's generator may be finalised, and give its turn, by a
        # garbage collection at any point).
        self._turn_taken = threading.Lock()
        self._turn = threading.Condition(threading.RLock())
        self._turn_waiting = 0  # threads waiting on _turn
        self._holder: Optional[_Turn] = None  # whose turn it is
        self._partial: List[bytes] = []  # the message recv() left unfinished (a timeout)
        self._partial_kind = _ffi.WS_MESSAGE_BINARY  # and its type
        self._skip = False  # drop pieces until the end of an abandoned message
        self._sent: Optional[Close] = None
        self._closed_exc: Optional[ConnectionClosed] = None
        self._pings = PingWaiters(self._driver)
        self.local_address, self.remote_address = addresses(conn)
        #: The opening handshake's request and response (websockets' attributes).
        self.request: Optional[Request] = None
        self.response: Optional[Response] = None
        if handshake is not None:
            self.request, self.response = handshake
        self._last_recv = time.monotonic()
        # Keeps the connection alive while no thread receives (see _keeper),
        # by weak references: a connection dropped unclosed is collected.
        keep, watch, alive = (weakref.WeakMethod(m) for m in (self._keep, self._watch, self._alive))
        self._keeper = Keeper(
            self._driver,
            lambda: _call(keep, None),
            lambda: bool(_call(watch, False)),
            lambda: bool(_call(alive, False)),
            f"wsclient keepalive {conn.conn_id}",
        )
        self._keeper.start()

    def __del__(self) -> None:
        keeper = getattr(self, "_keeper", None)
        if keeper is not None:
            keeper.stop(timeout=0)

    def _pump(self, always: bool = False) -> None:
        """Keepalive for a program that sends and does not receive (run every
        PUMP_EVERY sends, at each while a ping() waits for its pong, and by
        the keeper): while no thread waits to receive, read what arrived, so
        that the library sees the pongs (and answers pings); the messages
        (or their pieces) wait in an inbox (at most max_queue; then reading
        stops, as websockets' does) for recv() or recv_streaming()."""
        driver = self._driver
        self._sends = 0
        if not (self._keepalive or always) or self._receivers or self._inbox_error is not None or driver.eof:
            return
        with driver.lock:
            while not self._receivers and len(self._inbox) < self._max_queue:
                try:
                    got = self._read_ahead()
                except WebSocketError as e:
                    self._inbox_error = e  # for recv() to raise
                    break
                if got is AGAIN or got is CLOSED:
                    break
                if got.__class__ is not int:  # a piece (else a batch, in the inbox already)
                    self._inbox.append(got)
            self._pings.check()

    def _read_ahead(self) -> Any:
        """What _pump reads (under the driver's lock): a batch of whole
        messages put in the inbox (their count) when messages are small
        enough (see Driver.batch_ahead), else the next piece; AGAIN or
        CLOSED."""
        if self._driver.batch_ahead and not self._in_parts:
            try:
                got = self._driver.receive_batch(self._inbox.append, self._max_queue - len(self._inbox))
            except MixedReceive:  # a message is being received in pieces
                self._in_parts = True
            else:
                if got is not TOO_BIG:
                    return got
        return self._read_piece()

    def _keep(self) -> None:
        """The keeper's step (see _keeper): while no thread receives, read
        what arrived, then let the library act on its due deadlines (send
        the keepalive ping; fail the connection when its pong is late)."""
        driver = self._driver
        with driver.lock:
            if self._receivers or driver.ptr is None:
                return
            self._pump(always=True)
            if self._receivers or self._inbox_error is not None:
                return
            due = driver.timeout()
            if due is not None and due <= 0:
                try:
                    driver.flush_step()
                except WebSocketError as e:
                    self._inbox_error = e  # for recv() to raise
                self._pings.check()

    def _alive(self) -> bool:
        """Whether the keeper has work: the connection is not over."""
        driver = self._driver
        return self._closed_exc is None and not (driver.eof or driver.ended())

    def _watch(self) -> bool:
        """Whether the keeper reads as soon as something arrives: no thread
        receives, there is room in the inbox, and a ping waits for its pong
        or the connection has been idle for a while."""
        if self._receivers or self._inbox_error is not None or self._driver.eof or len(self._inbox) >= self._max_queue:
            return False
        return self._pings.waiting() or time.monotonic() - self._last_recv >= IDLE

    # ------------------------------------------------------------ state

    @property
    def state(self) -> State:
        """The connection's state, as websockets' (``wsclient.protocol.State``):
        OPEN, CLOSING once a close frame was sent or received, CLOSED."""
        if self._closed_exc is not None:
            return State.CLOSED
        driver = self._driver
        with driver.lock:
            if driver.ptr is None or driver.ended():
                return State.CLOSED
            if driver.eof or driver.state() == _ffi.WS_STATE_CLOSING:
                return State.CLOSING
            return State.OPEN


    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol the server chose, or None."""
        return self._conn.subprotocol

    @property
    def close_code(self) -> Optional[int]:
        """The server's close code once the connection is closed, else None."""
        return None if self._closed_exc is None else self._closed_exc.code

    @property
    def close_reason(self) -> Optional[str]:
        """The server's close reason once the connection is closed, else None."""
        return None if self._closed_exc is None else self._closed_exc.reason

    def response_header(self, name: str) -> Optional[str]:
        """A header of the server's 101 response, or None."""
        return self._conn.header(name)

    def fileno(self) -> int:
        return self._conn.fileno()

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

    def _closed(self, failure: Optional[BaseException] = None) -> ConnectionClosed:
        """Record that the connection ended (`failure`: how it was lost);
        return its ConnectionClosed."""
        with self._lock:
            if self._closed_exc is None:
                if isinstance(failure, WebSocketFailure):
                    # The library failed the connection and sent this code.
                    self._closed_exc = ConnectionClosedError(None, Close(failure.code, ""), None)
                elif isinstance(failure, WebSocketTimeout):
                    # The keepalive pong did not come: the library sent 1011.
                    self._closed_exc = ConnectionClosedError(None, _KEEPALIVE_CLOSE, None)
                elif failure is not None:
                    self._closed_exc = ConnectionClosedError(None, self._sent, None)
                else:
                    rcvd_then_sent = None if self._sent is None else False
                    self._closed_exc = closed_exception(self._conn, self._sent, rcvd_then_sent)
                self._closed_exc.__cause__ = failure
                self._pings.abandon()
            exc = self._closed_exc
        with self._turn:
            self._turn.notify_all()  # threads waiting for a stream's turn: the connection is over
        return exc

    def _closing(self) -> ConnectionClosed:
        """The exception for a send on a closing connection."""
        return self._closed_exc or ConnectionClosed.make(None, self._sent)

    # ------------------------------------------------------------ receiving

    def _read_piece(self) -> Any:
        """The next piece from the library (under the driver's lock), AGAIN
        or CLOSED; the rest of an abandoned message is dropped here. A
        message the library has begun receiving whole (a recv() that timed
        out) comes whole, as one piece."""
        driver = self._driver
        while True:
            try:
                got = driver.receive_piece()
            except MixedReceive:
                got = driver.receive()
                if got is not AGAIN and got is not CLOSED:
                    got = whole_piece(got)
            if got is AGAIN or got is CLOSED:
                return got
            self._in_parts = not got[2]
            if not self._skip:
                return got
            if got[2]:
                self._skip = False

    def _piece_step(self) -> Any:
        """A step for Driver.run: the next piece (the inbox's first), AGAIN,
        or None once the server closed."""
        if self._inbox:
            return self._inbox.popleft()
        if self._inbox_error is not None:
            error, self._inbox_error = self._inbox_error, None
            raise error
        try:
            got = self._read_piece()
        finally:
            self._pings.check()
        return None if got is CLOSED else got

    def _receive(self, step: Callable[[], Any], timeout: Optional[float]) -> Any:
        """Run `step` until it has a result, waiting at most `timeout`
        seconds; the connection's errors become ConnectionClosed."""
        driver = self._driver
        with driver.lock:
            self._receivers += 1
        try:
            driver.handle()  # InvalidState once released
            result = driver.run(step, timeout)
        except WebSocketTimeout as e:
            if not driver.ended():
                raise  # a read timeout: still usable
            raise self._closed(e) from e  # the keepalive pong did not come
        except InvalidState:
            raise self._closing() from None
        except (WebSocketFailure, NetworkError) as e:
            raise self._closed(e) from e
        finally:
            with driver.lock:
                self._receivers -= 1
                self._last_recv = time.monotonic()
        if result is None:
            raise self._closed()
        return result

    def _take_turn(self, timeout: Optional[float]) -> _Turn:
        """Take this thread's turn to receive a message. Another thread's
        recv() or recv_streaming() in progress is a ConcurrencyError, as in
        websockets. If this thread's own stream holds the turn (its
        iterator was left in the middle of a message), the turn is taken
        from it: the rest of its message is skipped, and the iterator
        raises ConcurrencyError if resumed. (The turn changing hands
        meanwhile is waited for, at most `timeout` seconds.)"""
        me = _get_ident()
        if self._turn_taken.acquire(False):  # the usual case: nobody else receives
            self._holder = turn = _Turn(me)
            return turn
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._turn:
            self._turn_waiting += 1
            try:
                # Counted as waiting before each try: _give_turn releases,
                # then notifies if anyone waits, so no wake-up is lost.
                while not self._turn_taken.acquire(False):
                    holder = self._holder
                    if holder is not None and holder.thread == me:
                        holder.lost = True  # taken over: the turn stays taken
                        if holder.mid:
                            self._abandon()
                        break
                    if self._closed_exc is not None:
                        raise self._closed_exc
                    if holder is not None:
                        raise ConcurrencyError(
                            "cannot call recv while another thread is already running recv or recv_streaming"
                        )
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError("timed out waiting for another thread's receive")
                    self._turn.wait(0.01 if left is None else min(left, 0.01))  # changing hands
            finally:
                self._turn_waiting -= 1
            self._holder = turn = _Turn(me)
            return turn

    def _give_turn(self, turn: _Turn, abandoned: bool = False) -> None:
        """End `turn` (unless it was taken); `abandoned`: in the middle of a
        message, whose rest is then skipped."""
        if self._holder is not turn:
            return
        self._holder = None
        if abandoned:
            self._abandon()
        self._turn_taken.release()
        if self._turn_waiting:
            with self._turn:
                self._turn.notify()

    def _abandon(self) -> None:
        """Skip the rest of the message being received: its pieces in the
        inbox now, and those still to come."""
        with self._driver.lock:
            inbox = self._inbox
            while inbox:
                if inbox.popleft()[2]:
                    return
            # (A message received whole was handed out in pieces: nothing is left.)
            self._skip = self._in_parts

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message: str for text, bytes for binary (`decode`: False
        gives bytes for text too, True str for binary).

        Raises TimeoutError after `timeout` seconds (the connection stays
        usable; what arrived of a message is kept for the next receive),
        :class:`~wsclient.exceptions.ConnectionClosedOK` once the
        connection closed normally and
        :class:`~wsclient.exceptions.ConnectionClosedError` otherwise.
        A recv() or recv_streaming() of another thread in progress meanwhile
        is a :class:`~wsclient.exceptions.ConcurrencyError`, as in websockets.
        """
        if self._closed_exc is not None:
            raise self._closed_exc
        if timeout is not None:
            seconds(timeout, "timeout")
        inbox = self._inbox
        if inbox and inbox[0][2] and not self._partial and self._turn_taken.acquire(False):
            # A whole message read already (a batch): no call, no wait; the
            # turn held just for the pop.
            try:
                kind, data, _ = inbox.popleft()
            finally:
                self._turn_taken.release()
                if self._turn_waiting:
                    with self._turn:
                        self._turn.notify()
            return convert(kind, data, decode)
        return self._recv(timeout, decode)

    def _recv(self, timeout: Optional[float], decode: Optional[bool]) -> Data:
        """recv() but for its fast path: the turn taken, a wait if need be."""
        deadline = None if timeout is None else time.monotonic() + timeout
        partial = self._partial  # never rebound: the list of the connection
        driver = self._driver

        def once() -> Any:
            # The message: whole, (True, its address); or from its pieces
            # (when some came already), (False, its type) with the data in
            # `partial`, kept there if the wait ends first. AGAIN when it
            # is not complete yet, None once the server closed.
            while True:
                if not (partial or self._inbox or self._in_parts or self._inbox_error is not None):
                    try:
                        # The messages complete now, into the inbox; one
                        # too large for a batch whole.
                        got = driver.receive_batch(self._inbox.append, self._max_queue)
                        if got is TOO_BIG:
                            got = driver.receive()
                            if got is not AGAIN and got is not CLOSED:
                                return True, got
                    except MixedReceive:  # pieces came meanwhile
                        self._in_parts = True
                        continue
                    finally:
                        self._pings.check()
                    if got is AGAIN or got is CLOSED:
                        return None if got is CLOSED else AGAIN
                    continue  # the batch is in the inbox
                got = self._piece_step()
                if got is AGAIN or got is None:
                    return got
                kind, data, last = got
                partial.append(data)
                if last:
                    return False, kind
                self._partial_kind = kind

        # _take_turn() and _give_turn(), their usual case inlined: this is
        # the per-message path.
        if self._turn_taken.acquire(False):
            self._holder = turn = _Turn(_get_ident())
        else:
            turn = self._take_turn(timeout)
        try:
            inbox = self._inbox
            if inbox and not partial and inbox[0][2]:
                # A whole message read already (a batch; or by another
                # thread's _pump meanwhile).
                kind, data, _ = inbox.popleft()
                return convert(kind, data, decode)
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            whole, got = self._receive(once, left)
            if whole:
                return take(got, decode)
            chunks = partial[:]
            partial.clear()
        finally:
            if self._holder is turn:
                self._holder = None
                self._turn_taken.release()
                if self._turn_waiting:
                    with self._turn:
                        self._turn.notify()
        return assemble(got, chunks, decode)

    @overload
    def recv_streaming(self, decode: Literal[True]) -> Iterator[str]: ...

    @overload
    def recv_streaming(self, decode: Literal[False]) -> Iterator[bytes]: ...

    @overload
    def recv_streaming(self, decode: Optional[bool] = None) -> Iterator[Data]: ...

    def recv_streaming(self, decode: Optional[bool] = None) -> Iterator[Data]:
        """The next message piece by piece, as it arrives: an iterator of
        str (text) or bytes (binary) pieces, `decode` as for :meth:`recv`
        (False: bytes for text too; True: str for binary too, decoded
        across pieces). websockets' ``recv_streaming``, except that
        websockets yields each frame whole, while this yields pieces of at
        most 64 KiB (UTF-8 bytes for text, each text piece ending between
        characters) as they arrive, so memory stays bounded whatever the
        size of the message or of its frames (lift ``max_size`` for
        messages over it: ``max_size=None``).

        Consume the iterator to the end of the message. Leaving it earlier
        (``break``, an exception) abandons the message: the next receive
        skips the rest of it (websockets makes the connection unusable
        then). A receive by the same thread while the iterator is in the
        middle of its message does the same, and resuming the iterator then
        raises :class:`~wsclient.exceptions.ConcurrencyError`; in another
        thread, a receive before the message's end is a ConcurrencyError,
        as for :meth:`recv`.

        Raises ConnectionClosedOK/ConnectionClosedError as :meth:`recv`
        (a text piece that is not UTF-8: the library closes with 1007).
        """
        if self._closed_exc is not None:
            raise self._closed_exc
        turn = self._take_turn(None)
        finished = False
        try:
            convert: Optional[PieceDecoder] = None
            if self._partial:  # what a recv() that timed out kept
                held = self._partial[:]
                self._partial.clear()
                convert = PieceDecoder(self._partial_kind, decode)
                turn.mid = True
                for data in held:
                    yield convert(data, False)
                    if turn.lost:
                        raise ConcurrencyError("another receive took this stream's turn")
            step = self._piece_step
            while True:
                kind, data, last = self._receive(step, None)
                if convert is None:
                    convert = PieceDecoder(kind, decode)
                if len(data) > PIECE:  # a message received whole (see _read_piece)
                    pieces = split_piece(kind, data, PIECE)
                    data = next(pieces)
                    for after in pieces:
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

    def __iter__(self) -> Iterator[Data]:
        """Messages until the connection closes: a normal close ends the
        loop, an abnormal one raises ConnectionClosedError."""
        while True:
            try:
                yield self.recv()
            except ConnectionClosed as e:
                if isinstance(e, ConnectionClosedError):
                    raise
                return

    # ------------------------------------------------------------ sending

    def send(self, message: Union[Data, bytearray, memoryview, Iterable[Data]], text: Optional[bool] = None) -> None:
        """Send str as a text message and bytes-like as binary (`text`
        overrides), or an iterable of str or of bytes as one message made of
        its fragments, as websockets does (all of one type: TypeError
        otherwise; an empty iterable sends nothing). Raises ConnectionClosed
        once the connection is closing.

        A large message goes to the library in parts as the socket takes
        them (``ws_send_part``), compressed piece by piece when
        permessage-deflate is on: never copied or compressed whole. So does
        an iterable whose size is known ahead: a sized collection (a list, a
        tuple: iterated twice, sizes first), or an iterator that ends within
        1 MiB; its fragments are not frames (the library cuts the message in
        frames of its own). A longer iterator (a generator) cannot say its
        size: its fragments go out one frame each, uncompressed, each as it
        comes, in memory bounded by a fragment."""
        if self._closed_exc is not None:
            raise self._closed_exc
        try:
            if isinstance(message, (str, bytes, bytearray, memoryview)):
                kind, raw = encode(message, text)
                self._driver.send(kind, raw)
            else:
                self._send_fragments(message, text)
        except InvalidState:
            raise self._closing() from None
        except (WebSocketFailure, NetworkError) as e:
            raise self._closed(e) from e
        except WebSocketTimeout as e:
            if self._driver.ended():
                raise self._closed(e) from e  # the keepalive pong did not come
            raise
        except InvalidArgument as e:
            if self._driver.ptr is None:
                # Half a message could not be finished: the driver dropped the connection.
                raise self._closed(e) from e
            raise  # the caller's mistake: still open
        self._sends += 1
        if self._sends >= PUMP_EVERY or self._pings.waiting():
            self._pump()

    def _send_fragments(self, fragments: Iterable[Data], text: Optional[bool]) -> None:
        if isinstance(fragments, collections.abc.Mapping):
            raise TypeError("data is a dict-like object")  # as websockets: a common mistake
        if not hasattr(fragments, "__iter__"):
            raise TypeError(f"message must be str, bytes-like or an iterable of them, not {type(fragments).__name__}")
        plan = plan_fragments(fragments, text)
        if plan is None:
            return
        kind, total, chunks = plan
        driver = self._driver
        if total is None or (total >= PARTS_MIN and not PARTS):
            self._send_frames(kind, chunks)
        elif total < PARTS_MIN:
            driver.send(kind, b"".join(chunks))
        else:
            try:
                driver.send_parts(kind, total, chunks)
            except Exception as e:
                if driver.ptr is None and not isinstance(e, WebSocketError):
                    # Half a message could not be finished: the driver dropped the connection.
                    raise self._closed(e) from e
                raise

    def _send_frames(self, kind: int, chunks: Iterator[bytes]) -> None:
        """A message of unknown size: a frame per fragment (never
        compressed). If the fragments fail half-way (a fragment of another
        type, the iterator's own exception), the message cannot be finished
        and the connection is closed with 1011, as websockets does."""
        opcode = 1 if kind == _ffi.WS_MESSAGE_TEXT else 2
        started = False
        try:
            for raw in chunks:
                self._conn.send_frame(Frame(0 if started else opcode, raw, fin=False))
                started = True
            self._conn.send_frame(Frame(0 if started else opcode, b"", fin=True))
        except WebSocketError:
            raise
        except Exception:
            if started:
                try:
                    self.close(1011, "error in fragmented message")
                except WebSocketError:
                    pass
            raise

    def ping(self, data: Optional[Data] = None) -> threading.Event:
        """Send a ping; the returned Event is set when its pong arrives
        (read by a thread in recv(), or else by the connection's background
        thread). `data`: 4 random bytes by default."""
        if self._closed_exc is not None:
            raise self._closed_exc
        payload = os.urandom(4) if data is None else (data.encode() if isinstance(data, str) else bytes(data))
        event = threading.Event()
        self._pings.add(payload, event.set)
        try:
            self._conn.ping(payload)
        except InvalidState:
            raise self._closing() from None
        self._pump()
        self._keeper.wake()  # watches for the pong
        return event

    def pong(self, data: Data = b"") -> None:
        """Send an unsolicited pong."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        try:
            self._conn.send_frame(Frame(10, raw))
        except InvalidState:
            raise self._closing() from None

    # ------------------------------------------------------------ closing

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection: send a close frame with `code` and `reason`,
        wait for the server's (at most close_timeout), release the
        connection. Idempotent."""
        conn = self._conn
        if conn.closed:
            return
        self._keeper.stop()
        with self._lock:
            if self._closed_exc is None and conn.state == "open":
                self._sent = Close(code, reason)
        conn.close(code=code, reason=reason or None)
        self._closed()

    def __enter__(self) -> "ClientConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wsclient.sync.client.ClientConnection {self._conn.url!r}>"


def _call(method: "weakref.WeakMethod[Callable[[], Any]]", otherwise: Any) -> Any:
    """Call a method by its weak reference; `otherwise` once it is gone."""
    bound = method()
    return otherwise if bound is None else bound()


def connect(
    uri: str,
    *,
    sock: Optional[socket.socket] = None,
    ssl: Optional[ssl_module.SSLContext] = None,
    server_hostname: Optional[str] = None,
    origin: Optional[str] = None,
    extensions: None = None,
    subprotocols: Optional[Sequence[str]] = None,
    compression: Optional[str] = "deflate",
    additional_headers: HeadersLike = None,
    user_agent_header: Optional[str] = USER_AGENT,
    proxy: Union[str, bool, None] = True,
    proxy_ssl: Optional[ssl_module.SSLContext] = None,
    proxy_server_hostname: Optional[str] = None,
    open_timeout: Optional[float] = 10,
    ping_interval: Optional[float] = 20,
    ping_timeout: Optional[float] = 20,
    close_timeout: Optional[float] = 10,
    max_size: MaxSize = 2**20,
    max_queue: Union[int, None, Tuple[Optional[int], Optional[int]]] = 16,
    logger: LoggerLike = None,
    create_connection: Optional[Type[ClientConnection]] = None,
    ca_file: Any = None,
    ca_dir: Any = None,
    client_cert: Any = None,
    client_key: Any = None,
    deflate: Any = None,
    compression_level: Optional[int] = None,
    **kwargs: Any,
) -> ClientConnection:
    """Open a WebSocket connection to `uri` (ws:// or wss://), as
    ``websockets.sync.client.connect`` does, with the same arguments and
    defaults (permessage-deflate offered, 1 MiB message limit, keepalive
    ping every 20 s with a 20 s pong timeout, 10 s open and close timeouts,
    16 messages read ahead, the proxy of the environment).

    Where it goes: with none of `sock`, `ssl`, `server_hostname` nor
    socket arguments, the library opens the connection itself (its own TCP,
    TLS with the system's CAs or `ca_file`/`ca_dir`/`client_cert`/
    `client_key`, and proxy: ``http://`` or ``socks5://``), the faster
    path. Otherwise Python does, and the library runs over it: `sock` (a
    connected socket), a Unix socket (:func:`unix_connect`), TCP by
    ``socket.create_connection`` with the other keyword arguments (e.g.
    ``address=(host, port)``, ``source_address``), TLS for wss:// by
    Python's ssl module with `ssl` (an ``ssl.SSLContext``) and
    `server_hostname`, an ``https://`` proxy with `proxy_ssl` and
    `proxy_server_hostname`.

    Raises :class:`~wsclient.exceptions.InvalidStatus` (``.response``) when
    the server answers with another status than 101, InvalidURI,
    InvalidProxy, OSError (a refused connection is a
    ConnectionRefusedError), ssl errors (an untrusted certificate is an
    ssl.SSLCertVerificationError), TimeoutError ("timed out during opening
    handshake"). The wait can be interrupted (Ctrl-C): that cancels the
    connect. `create_connection`: a subclass of :class:`ClientConnection`
    to make the connection with (its constructor takes the same arguments).
    Beyond websockets: `deflate` (the permessage-deflate offer, as in
    :func:`wsclient.connect`; overrides `compression`) and
    `compression_level` (zlib 0-9). `logger`: a ``logging.Logger`` or a
    logger name (default: the logger ``wsclient``) that gets the
    connection's trace at DEBUG (handshake, frames, pings, close), when
    enabled for DEBUG at the connect.
    """
    if extensions is not None:
        raise ValueError("extensions: only permessage-deflate is supported; use compression= or deflate=")
    unix = bool(kwargs.pop("unix", False))
    path = kwargs.pop("path", None)
    way = route(
        uri,
        sock=sock,
        ssl_context=ssl,
        server_hostname=server_hostname,
        proxy=proxy,
        proxy_ssl=proxy_ssl,
        unix=unix,
        socket_kwargs=kwargs,
    )
    tls: Dict[str, Any] = dict(ca_file=ca_file, ca_dir=ca_dir, client_cert=client_cert, client_key=client_key)
    deadline = Deadline(open_timeout)
    stream = None
    if not way.library:
        if ssl is None and way.target.secure and any(v is not None for v in tls.values()):
            ssl = tls_context(tls)
        stream = open_stream(
            way.target,
            sock=sock,
            path=path if unix else None,
            ssl_context=ssl,
            server_hostname=server_hostname,
            proxy=way.proxy,
            proxy_ssl=proxy_ssl,
            proxy_server_hostname=proxy_server_hostname,
            user_agent=user_agent_header,
            socket_kwargs=kwargs,
            deadline=deadline,
        )
    try:
        opening = start_connection(
            uri,
            origin=origin,
            subprotocols=subprotocols,
            compression=compression,
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
            open_timeout=deadline.left(),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            tls=tls,
            deflate=deflate,
            compression_level=compression_level,
            logger=logger,
            proxy=way.proxy if way.library else None,
            stream=stream,
        )
    except BaseException:
        if stream is not None:
            stream.close()
        raise
    try:
        conn = read_ahead(opened(opening.wait()), max_size)
    except WebSocketTimeout as e:
        raise WebSocketTimeout(OPEN_TIMEOUT, result=e.result) from e
    handshake = handshake_of(conn, uri, opening.request_headers)
    factory = ClientConnection if create_connection is None else create_connection
    return factory(conn, keepalive=ping_interval is not None, max_queue=max_queue, handshake=handshake)


def unix_connect(path: Any = None, uri: Optional[str] = None, **kwargs: Any) -> ClientConnection:
    """:func:`connect` to a server on the Unix socket at `path` (or over
    ``sock=``, a connected Unix socket), as websockets'. `uri` (default
    ``ws://localhost/``, ``wss://localhost/`` with ``ssl=``) gives the
    request's host and path. Takes :func:`connect`'s keyword arguments."""
    if path is None and kwargs.get("sock") is None:
        raise ValueError("missing path argument")
    if path is not None and kwargs.get("sock") is not None:
        raise ValueError("path is incompatible with sock")
    if uri is None:
        uri = "ws://localhost/" if kwargs.get("ssl") is None else "wss://localhost/"
    return connect(uri, unix=True, path=path, **kwargs)


def reconnect(
    uri: str,
    *,
    process_exception: Callable[[Exception], Optional[Exception]] = process_exception,
    reconnect_delays: Callable[[], Iterator[float]] = backoff,
    **kwargs: Any,
) -> Iterator[ClientConnection]:
    """Connections to `uri`, one after the other, for ever: the blocking
    twin of ``async for websocket in wsclient.asyncio.client.connect(uri)``,
    with the same policy. `kwargs` are those of :func:`connect`.

    Each connection is closed when the loop's body ends (or leaves with
    ``break`` or an exception, which end the loop), then the next one is
    made. A connect that fails is retried after the next delay of
    `reconnect_delays` (default :func:`backoff`: exponential with jitter,
    websockets' defaults, ``WSCLIENT_BACKOFF_*`` or ``WEBSOCKETS_BACKOFF_*``
    from the environment) when `process_exception` (default
    :func:`process_exception`: network errors, timeouts and HTTP 500, 502,
    503, 504) returns None; the exception it returns is raised. A successful
    connect starts the delays afresh. After a connection the server ended
    abnormally (lost, or closed with 1001, 1011, 1012, 1013 or 1014) the next
    connect waits the first delay of a new series; after any other end it
    is made at once, as websockets does. The waits can be interrupted
    (Ctrl-C).
    """
    delays: Optional[Iterator[float]] = None
    # Reconnecting is logged to connect's `logger` when one is given, as in websockets.
    log = logger if kwargs.get("logger") is None else get_logger(kwargs["logger"])
    while True:
        try:
            connection = connect(uri, **kwargs)
        except Exception as exc:
            fatal = verdict(process_exception, exc)
            if fatal is exc:
                raise
            if fatal is not None:
                raise fatal from exc
            if delays is None:
                delays = iter(reconnect_delays())
            delay = next(delays)
            log.info("connect failed; reconnecting in %.1f seconds: %s", delay, describe(exc))
            time.sleep(delay)
            continue
        delays = None
        with connection:
            yield connection
            # The body ended: did the server end the connection?
            pause = wait_after(connection._closed_exc, connection._sent is not None)
        if pause:
            delays = iter(reconnect_delays())
            delay = next(delays)
            log.info("connection closed (%s); reconnecting in %.1f seconds", connection._closed_exc, delay)
            time.sleep(delay)
