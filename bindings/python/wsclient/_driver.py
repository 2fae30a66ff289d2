"""Driver: the one connection driver of the binding, after the opening
(:class:`~wsclient._opening.Opening` is the one before it).

The library runs in its non-blocking mode underneath: no call into it ever
waits. A :class:`Driver` wraps the ``ws_conn *`` of one open connection and
offers two kinds of methods:

- *steps*, which never wait: :meth:`~Driver.receive`,
  :meth:`~Driver.receive_piece`, :meth:`~Driver.receive_batch` (every
  message complete now, in one call), :meth:`~Driver.flush_step`,
  :meth:`~Driver.send_step`, :meth:`~Driver.send_part_step`, ... with what
  to wait for before the next step (:meth:`~Driver.fileno`,
  :meth:`~Driver.wants`, :meth:`~Driver.timeout`). The asyncio client waits
  in its event loop.
- *waits* in poll(), for blocking callers (the egg-style
  :class:`~wsclient.Connection` and the sync client): :meth:`~Driver.run`,
  :meth:`~Driver.flush`, :meth:`~Driver.send`, :meth:`~Driver.send_parts`,
  :meth:`~Driver.drain`, :meth:`~Driver.finish`. They wait without
  :attr:`~Driver.lock`, so that other threads can send or close meanwhile.

What a receive's result means (a message, nothing yet, the server's close,
an error mapped to the binding's exceptions, with the close frame of a
*fail* written at once) is decided here, once.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import select
import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from . import _ffi
from ._data import Piece, whole_piece
from ._errors import InvalidArgument, InvalidState, WebSocketError, WebSocketTimeout, WouldBlock
from ._ffi import lib
from ._observe import read_stats

#: The library queues sends in non-blocking mode, says what it waits for and
#: has deadlines to run (an older library may lack these).
QUEUED = all(_ffi.available(n) for n in ("ws_conn_flush", "ws_conn_next_timeout_ms", "ws_conn_wants"))
#: The library takes a message in parts (ws_send_part).
PARTS = _ffi.available("ws_send_part")
#: From this size on, a message goes to the library in parts as the socket
#: takes them (ws_send_part): never copied whole into its queue.
PARTS_MIN = 128 << 10
#: The library hands out a received message in pieces (ws_recv_part).
RECV_PARTS = _ffi.available("ws_recv_part")
#: The most data a received piece holds: the buffer ws_recv_part fills
#: (UTF-8 bytes for text; a text piece ends between characters).
PIECE = 64 << 10
#: The library hands out every message complete now in one call
#: (ws_recv_messages): one crossing a batch of small messages.
BATCH = _ffi.available("ws_recv_messages")
#: The buffer a batch is received into, as large as a piece (so a batch
#: holds no more memory than a piece does); a larger message comes another
#: way (:data:`TOO_BIG`).
BATCH_BYTES = PIECE
#: The most messages one batch holds.
BATCH_COUNT = 256
#: A batch takes its first message whole: a message that would be received
#: in pieces (recv_streaming) is held whole by the library meanwhile. So
#: the clients read batches ahead of the caller (not for a recv() that
#: waits) only when their message limit is at most this: about what a
#: queue of 16 pieces holds.
BATCH_BOUND = 1 << 20


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


class MixedReceive(InvalidState):
    """The library holds part of a message received another way (whole with
    :meth:`Driver.receive`, in pieces with :meth:`Driver.receive_piece`, or
    as frames): receive the rest of it that way. The connection is fine."""


#: A step found nothing complete yet: wait for :meth:`Driver.wants`.
AGAIN: Any = _Sentinel("AGAIN")
#: The server closed the connection (its close was answered), or the
#: connection was released meanwhile.
CLOSED: Any = _Sentinel("CLOSED")
#: A batch receive found the next message larger than its buffer: receive
#: it another way (whole, or in pieces).
TOO_BIG: Any = _Sentinel("TOO_BIG")

# Looked up once: the per-message path is measured in tenths of a microsecond.
_recv_message_at = _ffi.recv_message_at
_recv_part_at = _ffi.recv_part_at
_recv_messages_at = _ffi.recv_messages_at
_queued_bytes_at = _ffi.queued_bytes_at
_string_at = ctypes.string_at
_send_at = _ffi.send_at
_send_part_at = _ffi.send_part_at
_flush_raw = _ffi.flush_raw
_message_free_at = _ffi.message_free_at
_OK, _WOULD_BLOCK, _CLOSED = _ffi.WS_OK, _ffi.WS_ERR_WOULD_BLOCK, _ffi.WS_CLOSED
_SEND_ALL, _UNCOMPRESSED, _MORE = _ffi.WS_SEND_ALL, _ffi.WS_SEND_UNCOMPRESSED, _ffi.WS_SEND_MORE
_STATE_CLOSED = _ffi.WS_STATE_CLOSED
_INVALID_STATE = _ffi.WS_ERR_INVALID_STATE
_INVALID_ARGUMENT = _ffi.WS_ERR_INVALID_ARGUMENT


class _PieceBuffer:
    """Where ws_recv_part puts a piece: PIECE bytes and the three outputs,
    each by address (allocated at a connection's first receive in pieces)."""

    __slots__ = ("data", "length", "kind", "last", "addresses")

    def __init__(self) -> None:
        self.data = ctypes.create_string_buffer(PIECE)
        self.length = ctypes.c_size_t()
        self.kind = ctypes.c_int32()
        self.last = ctypes.c_bool()
        self.addresses = tuple(ctypes.addressof(x) for x in (self.data, self.length, self.kind, self.last))


class _BatchBuffer:
    """Where ws_recv_messages puts a batch: BATCH_BYTES of data, the sizes
    and types of BATCH_COUNT messages and their count, each by address, and
    views to read them without a ctypes access per item (allocated at a
    connection's first batch)."""

    __slots__ = ("data", "lens", "kinds", "count", "view", "lens_view", "kinds_view", "addresses")

    def __init__(self) -> None:
        self.data = ctypes.create_string_buffer(BATCH_BYTES)
        self.lens = (ctypes.c_size_t * BATCH_COUNT)()
        self.kinds = (ctypes.c_int32 * BATCH_COUNT)()
        self.count = ctypes.c_size_t()
        self.view = memoryview(self.data).cast("B")
        self.lens_view = memoryview(self.lens).cast("B").cast("P")  # size_t: pointer-sized
        self.kinds_view = memoryview(self.kinds).cast("B").cast("i")
        self.addresses = tuple(ctypes.addressof(x) for x in (self.data, self.lens, self.kinds, self.count))


class Driver:
    """The ``ws_conn *`` `ptr` of an open connection, driven without blocking
    (see the module's docstring). `free` frees the handle (once, at
    :meth:`release`); the timeouts are those of the connect (seconds, None:
    no limit).

    Threads: :attr:`lock` serialises the calls into the library; steps
    expect the caller to hold it when threads share the connection (the
    asyncio client has one thread and does not take it); waits take it
    themselves.
    """

    def __init__(
        self, ptr: Any, free: Callable[[Any], None], write_timeout: Optional[float], close_timeout: Optional[float]
    ) -> None:
        self.ptr: Any = ptr  # None once released
        self.addr: Optional[int] = _ffi.address(ptr)  # for the *_at calls
        self.lock = threading.RLock()
        self.parts_lock = threading.Lock()  # one message in parts at a time
        self.eof = False  # the server's close arrived (and was answered)
        self.write_timeout = write_timeout  # bounds the wait for the send queue
        self.close_timeout = close_timeout
        self.peer_close: Optional[Tuple[int, str]] = None  # (code, reason) once known
        self.trace: Any = None  # the trace callback (see _observe), alive while the handle is
        self.final_stats: Dict[str, int] = {}  # the counters at the release
        self._free = free
        self._out = ctypes.c_void_p()  # where a receive puts the message
        self._out_ref = ctypes.byref(self._out)
        self._piece: Optional[_PieceBuffer] = None  # where a receive in pieces puts one
        self._batch: Optional[_BatchBuffer] = None  # where a batch receive puts messages
        #: Whether the clients may receive batches ahead of the caller (see
        #: BATCH_BOUND; set from their max_size).
        self.batch_ahead = False
        # Waits happen in poll() in Python, where a signal (Ctrl-C)
        # interrupts them and timeouts are exact.
        try:
            lib.ws_conn_set_nonblocking(ptr, True)
        except BaseException:
            self.release()
            raise
        self.compression = bool(lib.ws_conn_compression(ptr))

    # ------------------------------------------------------------ the handle

    def handle(self) -> Any:
        """The ``ws_conn *``; InvalidState once released."""
        if self.ptr is None:
            raise InvalidState("the connection is closed", result=_ffi.WS_ERR_INVALID_STATE)
        return self.ptr

    def release(self) -> None:
        """Free the handle (no close handshake), keeping its counters for
        :meth:`stats`. Idempotent."""
        ptr, self.ptr, self.addr = self.ptr, None, None
        if ptr:
            try:
                self.final_stats = read_stats(ptr)
            except Exception:  # at interpreter exit: the module may be gone
                pass
            self._free(ptr)

    def stats(self) -> Dict[str, int]:
        """The connection's counters and timings by name (``ws_conn_stat``);
        once released, those it had then."""
        with self.lock:
            return self.final_stats if self.ptr is None else read_stats(self.ptr)

    def stat(self, which: int, name: str) -> int:
        """One stat (WS_STAT_*, also known as `name` once released)."""
        with self.lock:
            if self.ptr is None:
                return self.final_stats.get(name, 0)
            return int(lib.ws_conn_stat(self.ptr, which))

    def state(self) -> int:
        """WS_STATE_OPEN, _CLOSING or _CLOSED (also once released)."""
        return _STATE_CLOSED if self.ptr is None else int(lib.ws_conn_state(self.ptr))

    def ended(self) -> bool:
        """Whether the connection is over: released, or ended by the library
        (the close handshake done, a keepalive pong missed, a failure)."""
        return self.ptr is None or lib.ws_conn_state(self.ptr) == _STATE_CLOSED

    def remember_peer_close(self) -> Optional[Tuple[int, str]]:
        """(code, reason) of the server's close frame, kept for after the
        release; None until it arrives."""
        if self.peer_close is None and self.ptr is not None:
            code = int(lib.ws_conn_peer_close_code(self.ptr))
            if code:
                raw = lib.ws_conn_peer_close_reason(self.ptr)
                self.peer_close = (code, raw.decode("utf-8", "replace") if raw else "")
        return self.peer_close

    # ------------------------------------------------------------ steps

    def receive(self) -> Any:
        """One receive without waiting: the address of a message (the caller
        owns it: wrap it or free it), AGAIN, or CLOSED (the server's close
        was answered, or the connection was released meanwhile). Raises the
        receive's error; after a *fail* the library's close frame is written
        first."""
        if self.eof or self.addr is None:
            return CLOSED
        rc = _recv_message_at(self.addr, self._out_ref)
        if rc == _OK:
            return self._out.value
        if rc == _WOULD_BLOCK:
            return AGAIN
        return self.receive_ended(rc)

    def receive_piece(self) -> Any:
        """The next piece of a data message without waiting
        (``ws_recv_part``): a :data:`~wsclient._data.Piece` ``(type, data,
        last)`` of at most :data:`PIECE` bytes, inflated and validated (a
        text piece ends between characters, so it decodes alone), handed
        out as it arrives; AGAIN or CLOSED as for :meth:`receive`, whose
        errors it raises. Pings are answered on the way. A message begun
        here is received here to its end (:meth:`receive` raises
        :class:`MixedReceive` meanwhile, and so does this method while
        :meth:`receive` has part of a message). A library without
        ws_recv_part gives each message whole, as one piece."""
        if self.eof or self.addr is None:
            return CLOSED
        if not RECV_PARTS:
            got = self.receive()
            return got if got is AGAIN or got is CLOSED else whole_piece(got)
        buf = self._piece
        if buf is None:
            buf = self._piece = _PieceBuffer()
        data, length, kind, last = buf.addresses
        rc = _recv_part_at(self.addr, data, PIECE, length, kind, last)
        if rc == _OK:
            n = buf.length.value
            piece: Piece = (buf.kind.value, _string_at(data, n) if n else b"", buf.last.value)
            return piece
        if rc == _WOULD_BLOCK:
            return AGAIN
        return self.receive_ended(rc)

    def receive_batch(self, put: Callable[[Piece], None], most: int) -> Any:
        """Every message complete now, at most `most` (and BATCH_COUNT) of
        them, in one call without waiting (``ws_recv_messages``): each is
        given to `put` as a whole :data:`~wsclient._data.Piece` ``(type,
        data, True)``, in order; returns how many. AGAIN or CLOSED as for
        :meth:`receive`, whose errors it raises; :data:`TOO_BIG` when the
        next message is larger than the buffer (or the library has no
        batch call): receive it another way. Pings are answered on the
        way. While the library holds part of a message received in pieces,
        raises :class:`MixedReceive`, as :meth:`receive` does."""
        if self.eof or self.addr is None:
            return CLOSED
        if not BATCH:
            return TOO_BIG
        buf = self._batch
        if buf is None:
            buf = self._batch = _BatchBuffer()
        data, lens, kinds, count = buf.addresses
        rc = _recv_messages_at(self.addr, data, BATCH_BYTES, lens, kinds, min(most, BATCH_COUNT), count)
        if rc == _OK:
            n: int = buf.count.value
            view, at = buf.view, 0
            for kind, size in zip(buf.kinds_view[:n].tolist(), buf.lens_view[:n].tolist()):
                put((kind, view[at : at + size].tobytes(), True))
                at += size
            return n
        if rc == _WOULD_BLOCK:
            return AGAIN
        if rc == _INVALID_ARGUMENT and buf.lens[0] > BATCH_BYTES:
            return TOO_BIG  # (it stays queued in the library)
        return self.receive_ended(rc)

    def receive_ended(self, rc: int) -> Any:
        """After a receive's result `rc` other than a message or
        WS_ERR_WOULD_BLOCK: CLOSED when the server closed, else raises."""
        if rc == _CLOSED:
            self.eof = True
            self.remember_peer_close()
            self.flush_nowait()  # the close reply goes out now
            return CLOSED
        error = _ffi.error_from_result(rc)
        if rc == _INVALID_STATE and self.ptr is not None and lib.ws_conn_state(self.ptr) != _STATE_CLOSED:
            # Not the end of the connection: a message is partly received another way.
            raise MixedReceive(error.message, result=rc)
        self.flush_nowait()  # after a *fail*: the close frame goes out now
        raise error

    def flush_step(self) -> bool:
        """Write what is queued without waiting, and act on due deadlines
        (send the keepalive ping, fail the connection when its pong is
        late). True when nothing is left queued; raises when the connection
        is lost."""
        if not QUEUED or self.ptr is None:
            return True
        rc = _flush_raw(self.ptr)
        if rc == _OK:
            return True
        if rc == _WOULD_BLOCK:
            return False
        raise _ffi.error_from_result(rc)

    def flush_nowait(self) -> None:
        """:meth:`flush_step`, ignoring errors (the connection is ending)."""
        try:
            self.flush_step()
        except WebSocketError:
            pass

    def send_step(self, kind: int, data: bytes, flags: int = 0) -> bool:
        """Queue a message (WS_MESSAGE_TEXT or _BINARY) with WS_SEND_*
        `flags`; False: the send queue is full (flush first, then again)."""
        if self.addr is None:
            self.handle()  # raises
        rc = _send_at(self.addr, kind, data, len(data), flags)
        if rc == _OK:
            return True
        if rc == _WOULD_BLOCK:
            return False
        raise _ffi.error_from_result(rc)

    def send_part_step(self, kind: int, total: int, address: int, size: int, flags: int = 0) -> int:
        """Give the library `size` bytes at `address` of a message of `total`
        bytes (ws_send_part), as many as the socket takes now (all of them
        with WS_SEND_ALL); returns how many it took."""
        if self.addr is None:
            self.handle()  # raises
        taken = ctypes.c_size_t()
        rc = _send_part_at(self.addr, kind, total, address, size, flags, ctypes.byref(taken))
        if rc not in (_OK, _WOULD_BLOCK):
            raise _ffi.error_from_result(rc)
        return taken.value

    def send_frame_step(self, fin: bool, opcode: int, data: bytes) -> bool:
        """Queue one frame exactly as given (``ws_send_frame``: no RSV bit,
        never compressed), without waiting; False: the send queue is full
        (flush first, then again)."""
        ptr = self.handle()
        frame = lib.ws_frame_new(fin, 0, opcode, data, len(data))
        try:
            lib.ws_send_frame(ptr, frame)
        except WouldBlock:
            return False
        finally:
            lib.ws_frame_free(frame)
        return True

    def ping(self, payload: bytes) -> None:
        """Queue a ping."""
        lib.ws_ping(self.handle(), payload, len(payload))

    def send_close(self, code: int, reason: Optional[bytes]) -> None:
        """Queue a close frame (`code` 0: one without a code): the close
        handshake starts."""
        lib.ws_close(self.handle(), code, reason)

    # ------------------------------------------------------------ what to wait for

    def fileno(self) -> int:
        """The socket's descriptor; -1 once released."""
        return -1 if self.ptr is None else int(lib.ws_conn_fd(self.ptr))

    def wait_events(self) -> int:
        """What a receive waits for on :meth:`fileno` (poll events)."""
        return _POLLIN

    def wants(self) -> int:
        """What the library waits for: WS_WANT_READ | WS_WANT_WRITE; 0 once
        the connection is over."""
        if self.ptr is None:
            return 0
        if not QUEUED:
            return _ffi.WS_WANT_READ
        return int(lib.ws_conn_wants(self.ptr))

    def timeout(self) -> Optional[float]:
        """Seconds to the library's next deadline (keepalive ping, pong
        timeout, close deadline), when :meth:`flush_step` must run; None: none."""
        if not QUEUED or self.ptr is None:
            return None
        ms = int(lib.ws_conn_next_timeout_ms(self.ptr))
        return None if ms < 0 else ms / 1000

    def left_queued(self) -> bool:
        """After a send step (under the lock, the handle alive): whether
        bytes are left to write, which :meth:`flush` waits for. One cheap
        call, where a flush would also try to write."""
        return QUEUED and bool(_queued_bytes_at(self.addr))

    def queued_bytes(self) -> int:
        """Bytes the library has queued for the socket."""
        return 0 if not QUEUED or self.ptr is None else int(lib.ws_conn_queued_bytes(self.ptr))

    # ------------------------------------------------------------ waits

    def run(self, step: Callable[[], Any], timeout: Optional[float]) -> Any:
        """Call `step` (under the lock) until it gives something other than
        AGAIN, waiting in poll() in between (without the lock, so that other
        threads can send or close) for at most `timeout` seconds (None: no
        limit); runs the library's deadlines on the way. `step` sees when
        the connection was released meanwhile. WebSocketTimeout when the
        time is up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_fd = -1
        try:
            while True:
                with self.lock:
                    # Receive first: what the library (or TLS) has buffered
                    # does not make the socket readable.
                    result = step()
                    if result is not AGAIN:
                        return result
                    if wait_fd < 0:
                        # A duplicate, so that a close() by another thread
                        # cannot leave us polling a reused descriptor (its
                        # shutdown wakes us).
                        wait_fd = os.dup(self.fileno())
                    due = self.timeout()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WebSocketTimeout("timed out", result=_ffi.WS_ERR_TIMEOUT)
                wait = left if due is None else due if left is None else min(left, due)
                if not _readable(wait_fd, wait, self.wait_events()) and due is not None and (left is None or due < left):
                    self.run_timers()
        finally:
            if wait_fd >= 0:
                os.close(wait_fd)

    def run_timers(self) -> None:
        """A deadline is due: let the library act on it."""
        with self.lock:
            self.flush_step()

    def flush(self, timeout: Optional[float]) -> None:
        """Wait until what the library queued is written, at most `timeout`
        seconds (WebSocketTimeout then). The wait, in poll(), does not hold
        the lock: a receiving thread goes on."""
        if not QUEUED:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_fd = -1
        try:
            while True:
                with self.lock:
                    if self.ptr is None or self.flush_step():
                        return
                    if wait_fd < 0:
                        wait_fd = os.dup(self.fileno())
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WebSocketTimeout("write timed out", result=_ffi.WS_ERR_TIMEOUT)
                _wait_fd(wait_fd, select.POLLOUT, left)
        finally:
            if wait_fd >= 0:
                os.close(wait_fd)

    def send(self, kind: int, data: bytes, flags: int = 0) -> None:
        """Send a message and wait until it is written (unless WS_SEND_MORE),
        at most the write timeout: a large one in parts (compressed piece by
        piece with permessage-deflate, unless WS_SEND_UNCOMPRESSED), so
        that the library never copies or compresses it whole."""
        more = flags & _MORE
        if len(data) >= PARTS_MIN and not more and PARTS:
            self.send_parts(kind, len(data), (data,), flags & _UNCOMPRESSED)
            return
        with self.lock:
            accepted = self.send_step(kind, data, flags)
            # A send without WS_SEND_MORE wrote what the socket took: flush
            # (wait) only when some is left queued.
            if accepted and (more or not self.left_queued()):
                return
        while not accepted:
            self.flush(self.write_timeout)  # the send queue is full: write some of it first
            with self.lock:
                accepted = self.send_step(kind, data, flags)
        if not more:
            self.flush(self.write_timeout)

    def send_parts(self, kind: int, total: int, chunks: Iterable[bytes], flags: int = 0) -> None:
        """Send one message of `total` bytes given as `chunks` (bytes, in
        order, adding up to `total`), each given to the library in parts as
        the socket takes them (``ws_send_part``; compressed piece by piece
        with permessage-deflate, unless WS_SEND_UNCOMPRESSED is in `flags`),
        so that it is never copied whole: memory stays bounded by a chunk.
        Waits in poll() without the lock (a receiving thread goes on), for
        at most the write timeout; if the wait ends early (timeout, Ctrl-C),
        the rest is queued whole, as any send that times out leaves it, and
        later calls write it. Chunks that do not add up to `total`, or text
        that is not UTF-8, end the connection (the library cannot finish
        the message, nor send anything after it): InvalidArgument, with the
        connection released."""
        flags &= _UNCOMPRESSED
        if total <= 0:
            self.send(kind, b"", flags)
            return
        deadline = None if self.write_timeout is None else time.monotonic() + self.write_timeout
        at, wait_fd, started = 0, -1, False
        rest = iter(chunks)
        chunk, off = b"", 0  # the chunk being given, and how much of it was taken
        with self.parts_lock:
            try:
                for chunk in rest:
                    off = 0
                    if at + len(chunk) > total:
                        raise InvalidArgument(
                            f"the message's parts add up to more than its {total} bytes",
                            result=_ffi.WS_ERR_INVALID_ARGUMENT,
                        )
                    base = ctypes.cast(ctypes.c_char_p(chunk), ctypes.c_void_p).value or 0
                    while off < len(chunk):
                        with self.lock:
                            # Even a first part refused (text not UTF-8) leaves the message begun.
                            started = True
                            taken = self.send_part_step(kind, total, base + off, len(chunk) - off, flags)
                            off += taken
                            at += taken
                            if off >= len(chunk):
                                break
                            if wait_fd < 0:
                                wait_fd = os.dup(self.fileno())
                        left = None if deadline is None else deadline - time.monotonic()
                        if left is not None and left <= 0:
                            raise WebSocketTimeout(
                                "write timed out; the rest of the message is queued", result=_ffi.WS_ERR_TIMEOUT
                            )
                        _wait_fd(wait_fd, select.POLLOUT, left)
                if at < total:
                    raise InvalidArgument(
                        f"the message's parts add up to {at} of its {total} bytes",
                        result=_ffi.WS_ERR_INVALID_ARGUMENT,
                    )
            finally:
                if wait_fd >= 0:
                    os.close(wait_fd)
                if started and at < total and not self.queue_rest(kind, total, at, chunk[off:], rest, flags):
                    with self.lock:
                        self.release()  # half a message cannot be finished: drop the connection
        self.flush(self.write_timeout)

    def queue_rest(self, kind: int, total: int, at: int, head: bytes, rest: Any, flags: int = 0) -> bool:
        """After a send in parts of a message of `total` bytes ended early,
        `at` bytes into it: queue the rest whole (`head`, then the chunks
        left in `rest`), as any send cut short leaves it. False when the
        message cannot be finished (the chunks end short, run over, or
        fail): the connection cannot send anything after it."""
        try:
            for chunk in itertools.chain((head,), rest):
                if at + len(chunk) > total:
                    return False
                with self.lock:
                    if self.addr is None:
                        return True  # released meanwhile: nothing to finish
                    base = ctypes.cast(ctypes.c_char_p(chunk), ctypes.c_void_p).value or 0
                    at += self.send_part_step(kind, total, base, len(chunk), flags | _SEND_ALL)
        except InvalidArgument:  # text that is not UTF-8: the message cannot go on
            return False
        except WebSocketError:
            return True  # the connection is lost: the send's error says so
        except Exception:  # the caller's chunks failed
            return False
        return at == total

    def drain(self, timeout: Optional[float]) -> None:
        """Receive and drop messages until the server's close arrives (or
        the connection ends, or an error), at most `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.eof and not self.ended():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self.run(self._discard_step, left)
            except WebSocketError:
                return

    def _discard_step(self) -> Any:
        """A step of :meth:`drain`: receive and drop a message, or a piece
        of one when the library is in the middle of a message in pieces;
        AGAIN, CLOSED, or None (dropped)."""
        try:
            got = self.receive()
        except MixedReceive:
            got = self.receive_piece()
            return got if got is AGAIN or got is CLOSED else None
        if got is AGAIN or got is CLOSED:
            return got
        _message_free_at(got)  # an address: the typed ws_message_free refuses an int
        return None

    def finish(self, timeout: Optional[float]) -> None:
        """After the close handshake (or a failure), before the handle is
        freed: let the library write the close reply and see the server
        close TCP, as long as it asks (:meth:`wants`), at most `timeout`
        seconds (the library's own close deadline bounds it too)."""
        if not QUEUED or self.ptr is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.fileno()
        while True:
            try:
                self.flush_step()
            except WebSocketError:
                return
            wants = self.wants()
            left = None if deadline is None else deadline - time.monotonic()
            if not wants or fd < 0 or (left is not None and left <= 0):
                return
            due = self.timeout()
            wait = left if due is None else due if left is None else min(left, due)
            events = (select.POLLIN if wants & _ffi.WS_WANT_READ else 0) | (
                select.POLLOUT if wants & _ffi.WS_WANT_WRITE else 0
            )
            _wait_fd(fd, events, wait)


def _wait_fd(fd: int, events: int, timeout: Optional[float]) -> bool:
    """Wait for `events` on `fd` (or an error or hang-up), at most `timeout`
    seconds; signals interrupt the wait (PEP 475)."""
    p = select.poll()
    p.register(fd, events)
    return bool(p.poll(None if timeout is None else max(1, math.ceil(timeout * 1000))))


_POLLIN = select.POLLIN | select.POLLPRI


def _readable(fd: int, timeout: Optional[float], events: int = _POLLIN) -> bool:
    """Wait until `fd` is readable (or has an error or hang-up; or another
    of `events`), at most `timeout` seconds (None: no limit). Signals
    interrupt the wait: their handlers run, and an exception they raise
    propagates (PEP 475)."""
    if hasattr(select, "poll"):
        p = select.poll()
        p.register(fd, events)
        return bool(p.poll(None if timeout is None else max(1, math.ceil(timeout * 1000))))
    r, _, _ = select.select([fd], [], [], timeout)  # pragma: no cover
    return bool(r)
