"""Connection, the egg's ``ws-connection`` (connect() is in ``_connect``)."""

from __future__ import annotations

import ctypes
import math
import os
import select
import threading
import time
from typing import Any, Callable, Iterator, Optional, Tuple, TypeVar, Union

try:
    from typing import TypeGuard
except ImportError:  # pragma: no cover - Python < 3.10
    TypeGuard = None  # type: ignore[assignment]

from . import _ffi
from ._errors import (
    InvalidArgument,
    InvalidState,
    WebSocketError,
    WebSocketTimeout,
    WouldBlock,
)
from ._ffi import lib
from ._message import Frame, Message, adopt
from ._response import HTTPResponse
from ._util import BytesLike, buffer, cstr, flag, integer, seconds, type_name

T = TypeVar("T")

_STATES = {_ffi.WS_STATE_OPEN: "open", _ffi.WS_STATE_CLOSING: "closing", _ffi.WS_STATE_CLOSED: "closed"}


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
_AGAIN: Any = object()  # a non-blocking receive found nothing complete yet
# Looked up once: the per-message path is measured in tenths of a microsecond.
_send_at = _ffi.send_at
_recv_message_at = _ffi.recv_message_at
_adopt = adopt
_MORE, _UNCOMPRESSED = _ffi.WS_SEND_MORE, _ffi.WS_SEND_UNCOMPRESSED
_WOULD_BLOCK = _ffi.WS_ERR_WOULD_BLOCK
_BINARY = _ffi.WS_MESSAGE_BINARY
_send_part_at = _ffi.send_part_at
#: From this size on, a message goes to the library in parts as the socket
#: takes them (ws_send_part): never copied whole into its queue.
_PARTS_MIN = 128 << 10
_PARTS = _ffi.available("ws_send_part")

# ---------------------------------------------------------------- connections


def _close_args(reason: Optional[str], code: Optional[int]) -> Tuple[int, Optional[bytes]]:
    """(code for ws_close, reason text) from close()'s arguments."""
    if code is not None:
        integer(code, "code", 0, 0xFFFF)
        if reason is None:
            return code, None
        text = cstr(reason, "reason")
        if len(text) > 123:
            raise ValueError(f"a close reason has at most 123 bytes of UTF-8, got {len(text)}")
        return code, text
    if reason is None:
        return 1000, None
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a reason name (str), not {type_name(reason)}")
    if reason == "no-status-rcvd":
        return 0, None  # a close frame without a code
    try:
        return int(lib.ws_reason_to_close_code(cstr(reason, "reason"))), None
    except LookupError:
        raise ValueError(
            f"unknown close reason {reason!r}: use a name of the egg's table "
            "(e.g. 'normal-closure', 'going-away') or pass code= to send a text reason"
        ) from None


class Connection:
    """An open WebSocket connection (the egg's ``ws-connection``).

    Made by :func:`connect`. A context manager (``close()`` on exit) and an
    iterator of received :class:`Message` objects, ending when the server
    closes the connection::

        with wsclient.connect("ws://localhost:9001") as conn:
            conn.send("hello")
            for msg in conn:
                print(msg.data)

    Threads: calls into the library are serialised by a lock, so a
    connection may be shared between threads. A thread waiting in
    :meth:`recv` does not hold the lock (it waits in ``poll()``), so other
    threads can send meanwhile, or :meth:`close` the connection, which ends
    the wait (``recv`` returns None). The GIL is released during every
    library call and every wait.
    """

    _free = staticmethod(lib.ws_conn_free)

    def __init__(
        self,
        ptr: Any,
        url: str,
        read_timeout: Optional[float],
        close_timeout: Optional[float],
        write_timeout: Optional[float] = None,
    ) -> None:
        # Not public: use connect().
        self._ptr: Any = ptr
        self._addr: Optional[int] = _ffi.address(ptr)  # for the *_at calls
        self._out = ctypes.c_void_p()  # where a receive puts the message
        self._out_ref = ctypes.byref(self._out)
        self._url = url
        self._lock = threading.RLock()
        self._parts_lock = threading.Lock()  # one message in parts at a time
        self._read_timeout = read_timeout
        self._close_timeout = close_timeout
        self._write_timeout = write_timeout  # bounds the wait for the send queue
        self._eof = False
        self._nonblocking = False  # the mode the user asked for
        # The library's receives never block: waits happen in poll() here,
        # where a signal (Ctrl-C) interrupts them and timeouts are exact.
        try:
            lib.ws_conn_set_nonblocking(ptr, True)
        except BaseException:
            self._release()
            raise
        sub = lib.ws_conn_subprotocol(ptr)
        self._subprotocol = sub.decode("utf-8") if sub else None
        self._compression = bool(lib.ws_conn_compression(ptr))
        self._peer_close_code: Optional[int] = None
        self._peer_close_reason: Optional[str] = None

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr:
            self._ptr = None
            self._free(ptr)

    # -------------------------------------------------------- plumbing

    def _handle(self) -> Any:
        if self._ptr is None:
            raise InvalidState("the connection is closed", result=_ffi.WS_ERR_INVALID_STATE)
        return self._ptr

    def _remember_peer_close(self) -> None:
        code = int(lib.ws_conn_peer_close_code(self._ptr))
        if code:
            self._peer_close_code = code
            raw = lib.ws_conn_peer_close_reason(self._ptr)
            self._peer_close_reason = raw.decode("utf-8", "replace") if raw else ""

    def _release(self) -> None:
        ptr, self._ptr, self._addr = self._ptr, None, None
        if ptr:
            self._free(ptr)

    # -------------------------------------------------------- properties

    @property
    def url(self) -> str:
        """The URL given to :func:`connect`."""
        return self._url

    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol the server chose, or None."""
        return self._subprotocol

    @property
    def compression(self) -> bool:
        """Whether permessage-deflate was negotiated."""
        return self._compression

    @property
    def peer_close_code(self) -> Optional[int]:
        """The close code the server sent (1005 if its close frame had none);
        None until its close frame arrives."""
        with self._lock:
            if self._peer_close_code is None and self._ptr is not None:
                self._remember_peer_close()
            return self._peer_close_code

    @property
    def peer_close_reason(self) -> Optional[str]:
        """The close reason the server sent ("" if none); None until its
        close frame arrives through :meth:`recv`."""
        with self._lock:
            if self._peer_close_code is None and self._ptr is not None:
                self._remember_peer_close()
            return self._peer_close_reason

    @property
    def state(self) -> str:
        """``"open"``, ``"closing"`` (we sent a close frame) or ``"closed"``."""
        with self._lock:
            if self._ptr is None:
                return "closed"
            return _STATES.get(int(lib.ws_conn_state(self._ptr)), "closed")

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has released the connection."""
        return self._ptr is None

    def header(self, name: str) -> Optional[str]:
        """A header of the server's 101 response (case-insensitive), or None."""
        raw_name = cstr(name, "name")
        with self._lock:
            raw = lib.ws_conn_header(self._handle(), raw_name)
            return raw.decode("utf-8", "replace") if raw is not None else None

    def fileno(self) -> int:
        """The socket's file descriptor, for select/poll.

        Note: the library buffers what it reads, so a message may be ready
        although the socket is not readable.
        """
        with self._lock:
            return int(lib.ws_conn_fd(self._handle()))

    # -------------------------------------------------------- receiving

    def recv(self, timeout: Optional[float] = None) -> Optional[Message]:
        """Receive the next message, answering pings on the way (the egg's
        ``recv-message``).

        Returns None when the server closed the connection (the close was
        answered; see :attr:`peer_close_code`), or when another thread
        closed it with :meth:`close` during the wait; later calls return
        None again, until :meth:`close` (then they raise InvalidState).

        `timeout` (seconds) bounds this call; None (the default) uses
        ``read_timeout`` of :func:`connect` (by default: wait as long as it
        takes), or in non-blocking mode raises :class:`~wsclient.WouldBlock`
        at once when no message is complete. A wait can be interrupted by a
        signal (KeyboardInterrupt); the connection stays usable. Other
        threads may send on the connection during the wait.

        Raises :class:`~wsclient.WebSocketTimeout` when a timeout expires
        (the connection stays usable), :class:`~wsclient.WebSocketFailure`
        when the server broke the protocol (the library sent the close
        frame), and other :class:`~wsclient.WebSocketException` errors.
        """
        # _receive(timeout, self._recv_once), with the first attempt inlined:
        # most calls find a message buffered.
        if timeout is not None:
            seconds(timeout, "timeout")
        with self._lock:
            if self._ptr is None:
                self._handle()  # raises
            if self._eof:
                return None
            rc = _recv_message_at(self._addr, self._out_ref)
            if rc == 0:
                return _adopt(self._out.value)
            if rc != _WOULD_BLOCK:
                self._recv_ended(rc)  # raises unless the server closed
                return None
            if timeout is None:
                if self._nonblocking:
                    raise WouldBlock("no complete message yet", result=_ffi.WS_ERR_WOULD_BLOCK)
                timeout = self._read_timeout
        result: Optional[Message] = self._wait(timeout, self._recv_once)
        return result

    def _recv_once(self) -> Any:
        """One non-blocking attempt (under the lock): a Message, None (closed)
        or _AGAIN."""
        if self._addr is None or self._eof:
            return None  # closed by another thread while we waited
        rc = _recv_message_at(self._addr, self._out_ref)
        if rc == 0:
            return _adopt(self._out.value)
        if rc == _ffi.WS_ERR_WOULD_BLOCK:
            return _AGAIN
        self._recv_ended(rc)  # raises unless the server closed
        return None

    def _recv_ended(self, rc: int) -> None:
        """After a receive's result `rc` other than a message or
        WS_ERR_WOULD_BLOCK: returns when the server closed, else raises."""
        if rc == _ffi.WS_CLOSED:
            self._eof = True
            self._remember_peer_close()
            self._flush_nowait()  # the close reply goes out now
            return None
        error = _ffi.error_from_result(rc)
        self._flush_nowait()  # after a *fail*: the close frame goes out now
        raise error

    def _receive(self, timeout: Optional[float], once: Callable[[], Any]) -> Any:
        """Call `once` until it has a result, as recv(timeout) does."""
        if timeout is not None:
            seconds(timeout, "timeout")
        with self._lock:
            if self._ptr is None:
                self._handle()  # raises
            if timeout is None:
                if self._nonblocking:
                    result = once()
                    if result is _AGAIN:
                        raise WouldBlock("no complete message yet", result=_ffi.WS_ERR_WOULD_BLOCK)
                    return result
                timeout = self._read_timeout
            # A message already buffered needs no wait (nor a second lock).
            result = once()
            if result is not _AGAIN:
                return result
        return self._wait(timeout, once)

    def _wait(self, timeout: Optional[float], once: Callable[[], Any]) -> Any:
        """Call `once` (under the lock) until it has a result, waiting in
        poll() in between (without the lock, so that other threads can send
        or close), for at most `timeout` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_fd = -1
        try:
            while True:
                with self._lock:
                    # Receive first: what the library (or TLS) has buffered
                    # does not make the socket readable.
                    result = once()
                    if result is not _AGAIN:
                        return result
                    if wait_fd < 0:
                        # A duplicate, so that a close() by another thread
                        # cannot leave us polling a reused descriptor (its
                        # shutdown wakes us).
                        wait_fd = os.dup(int(lib.ws_conn_fd(self._ptr)))
                    due = self._next_timer()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WebSocketTimeout("timed out", result=_ffi.WS_ERR_TIMEOUT)
                wait = left if due is None else due if left is None else min(left, due)
                if not _readable(wait_fd, wait) and due is not None and (left is None or due < left):
                    self._run_timers()
        finally:
            if wait_fd >= 0:
                os.close(wait_fd)

    def _flush_nowait(self) -> None:
        if _QUEUED_SENDS and self._ptr is not None:
            try:
                lib.ws_conn_flush(self._ptr)
            except WebSocketError:
                pass

    def _finish(self, timeout: Optional[float]) -> None:
        """After the close handshake (or a failure), before the handle is
        freed: let the library write the close reply and see the server
        close TCP, as long as it asks (``ws_conn_wants``), at most `timeout`
        seconds (the library's own close deadline bounds it too)."""
        if not _QUEUED_SENDS or self._ptr is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = int(lib.ws_conn_fd(self._ptr))
        while True:
            try:
                lib.ws_conn_flush(self._ptr)
            except WouldBlock:
                pass
            except WebSocketError:
                return
            wants = int(lib.ws_conn_wants(self._ptr))
            left = None if deadline is None else deadline - time.monotonic()
            if not wants or fd < 0 or (left is not None and left <= 0):
                return
            due = self._next_timer()
            wait = left if due is None else due if left is None else min(left, due)
            events = (select.POLLIN if wants & _ffi.WS_WANT_READ else 0) | (
                select.POLLOUT if wants & _ffi.WS_WANT_WRITE else 0
            )
            _wait_fd(fd, events, wait)

    def _next_timer(self) -> Optional[float]:
        """Seconds to the library's next deadline (keepalive ping, pong
        timeout, close deadline); None: none (or an older library)."""
        if not _QUEUED_SENDS or self._ptr is None:
            return None
        ms = int(lib.ws_conn_next_timeout_ms(self._ptr))
        return None if ms < 0 else ms / 1000

    def _run_timers(self) -> None:
        """A deadline is due: let the library act on it (ws_conn_flush sends
        the keepalive ping, or fails the connection when the pong is late)."""
        with self._lock:
            if self._ptr is not None:
                try:
                    lib.ws_conn_flush(self._ptr)
                except WouldBlock:
                    pass

    def set_nonblocking(self, nonblocking: bool) -> None:
        """Non-blocking mode: :meth:`recv` and :meth:`recv_frame` without a
        `timeout` raise :class:`~wsclient.WouldBlock` instead of waiting
        (partial input is kept). Receive until WouldBlock before waiting for
        :meth:`fileno` to become readable: data the library already read
        does not make the socket readable. Sends still complete before
        returning."""
        flag(nonblocking, "nonblocking")
        with self._lock:
            self._handle()
            self._nonblocking = nonblocking

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        if self._ptr is None:
            self._handle()  # raises: the connection was released
        if self._eof:
            raise StopIteration
        msg = self.recv()
        if msg is None:
            raise StopIteration
        return msg

    def recv_message_loop(self, handler: Callable[[Message], Optional[T]]) -> Optional[T]:
        """Call `handler` on each received message until the server closes
        the connection (the egg's ``recv-message-loop``); return None then.

        If `handler` returns something other than None, the loop stops and
        returns it. Errors propagate (for a *fail* the library has already
        sent the close frame).
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type_name(handler)}")
        for msg in self:
            result = handler(msg)
            if result is not None:
                return result
        return None

    # -------------------------------------------------------- sending

    def _send(self, kind: int, data: bytes, compress: bool, more: bool = False) -> None:
        # Per message: the checks are identity tests, the call is by address.
        if compress is True:
            flags = 0
        else:
            flags = _UNCOMPRESSED if not flag(compress, "compress") else 0
        if more is True:
            flags |= _MORE
        elif more is not False:
            flag(more, "more")
        if len(data) >= _PARTS_MIN and not more and _PARTS and not (flags == 0 and self._compression):
            self._send_in_parts(kind, data)
            return
        while True:
            with self._lock:
                if self._addr is None:
                    self._handle()  # raises
                rc = _send_at(self._addr, kind, data, len(data), flags)
                if rc == 0:
                    break
                if rc != _WOULD_BLOCK:
                    raise _ffi.error_from_result(rc)
            # The send queue is full: write some of it first.
            self._flush(self._write_timeout)
        if not more:
            self._flush(self._write_timeout)

    def _send_in_parts(self, kind: int, data: bytes) -> None:
        """A large uncompressed message, given to the library in parts as the
        socket takes them, so that it is never copied whole. Waits in poll()
        without the lock (a receiving thread goes on), for at most the write
        timeout; if the wait ends early (timeout, Ctrl-C), the rest is queued
        whole, as any send that times out leaves it, and later calls write it."""
        total = len(data)
        base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        taken = ctypes.c_size_t()
        ref = ctypes.byref(taken)
        deadline = None if self._write_timeout is None else time.monotonic() + self._write_timeout
        at, started, wait_fd = 0, False, -1
        with self._parts_lock:
            try:
                while at < total:
                    with self._lock:
                        if self._addr is None:
                            self._handle()  # raises
                        rc = _send_part_at(self._addr, kind, total, base + at, total - at, 0, ref)
                        at += taken.value
                        if rc not in (0, _WOULD_BLOCK):
                            raise _ffi.error_from_result(rc)
                        started = started or rc == 0 or at > 0
                        if at >= total:
                            break
                        if wait_fd < 0:
                            wait_fd = os.dup(int(lib.ws_conn_fd(self._ptr)))
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise WebSocketTimeout(
                            "write timed out; the rest of the message is queued", result=_ffi.WS_ERR_TIMEOUT
                        )
                    _wait_fd(wait_fd, select.POLLOUT, left)
            finally:
                if wait_fd >= 0:
                    os.close(wait_fd)
                if started and at < total:
                    with self._lock:
                        if self._addr is not None:
                            _send_part_at(self._addr, kind, total, base + at, total - at, _ffi.WS_SEND_ALL, ref)
        self._flush(self._write_timeout)

    def _flush(self, timeout: Optional[float]) -> None:
        """Wait until what the library queued is written (non-blocking
        mode queues what the socket does not take at once). The wait, in
        poll(), does not hold the lock: a receiving thread goes on."""
        if not _QUEUED_SENDS:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_fd = -1
        try:
            while True:
                with self._lock:
                    if self._ptr is None:
                        return
                    rc = _ffi.flush_raw(self._ptr)
                    if rc == _ffi.WS_OK:
                        return
                    if rc != _ffi.WS_ERR_WOULD_BLOCK:
                        raise _ffi.error_from_result(rc)
                    if wait_fd < 0:
                        wait_fd = os.dup(int(lib.ws_conn_fd(self._ptr)))
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WebSocketTimeout("write timed out", result=_ffi.WS_ERR_TIMEOUT)
                _wait_fd(wait_fd, select.POLLOUT, left)
        finally:
            if wait_fd >= 0:
                os.close(wait_fd)

    def send_text(self, text: str, *, compress: bool = True, more: bool = False) -> None:
        """Send a text message (the egg's ``send-text-message``).

        ``compress=False`` sends it uncompressed even when permessage-deflate
        is in use. ``more=True`` says more messages follow: the message is
        only queued (until 4 KiB are) and goes out, with the others, in one
        system call at the next send without ``more`` or before a receive
        waits."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type_name(text)}")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"text is not encodable as UTF-8: {e}") from None
        self._send(_ffi.WS_MESSAGE_TEXT, data, compress, more)

    def send_binary(self, data: BytesLike, *, compress: bool = True, more: bool = False) -> None:
        """Send a binary message (the egg's ``send-binary-message``);
        ``compress`` and ``more`` as for :meth:`send_text`."""
        if data.__class__ is not bytes:
            data = buffer(data, "data")
        self._send(_BINARY, data, compress, more)

    def send(self, data: Union[str, BytesLike], *, compress: bool = True, more: bool = False) -> None:
        """Send a text message for str, a binary message for bytes-like data;
        ``compress`` and ``more`` as for :meth:`send_text`."""
        if isinstance(data, str):
            self.send_text(data, compress=compress, more=more)
            return
        if data.__class__ is not bytes:
            data = buffer(data, "data")
        self._send(_BINARY, data, compress, more)

    def send_message(self, message: Message) -> None:
        """Send a :class:`Message`, e.g. echo a received one (the egg's
        ``send-message``)."""
        if not isinstance(message, Message):
            raise TypeError(f"message must be a wsclient.Message, not {type_name(message)}")
        with self._lock:
            self._handle()
            rc = _ffi.send_message_at(self._addr, message._ptr)
            if rc < 0:
                raise _ffi.error_from_result(rc)
        self._flush(self._write_timeout)

    def ping(self, data: Union[str, BytesLike] = b"") -> None:
        """Send a ping with up to 125 bytes of payload (str is sent as UTF-8).
        The pong is consumed by :meth:`recv`."""
        raw = data.encode("utf-8") if isinstance(data, str) else buffer(data, "data")
        if len(raw) > 125:
            raise ValueError(f"a ping payload has at most 125 bytes, got {len(raw)}")
        with self._lock:
            lib.ws_ping(self._handle(), raw, len(raw))
        self._flush(self._write_timeout)

    # -------------------------------------------------------- frames

    def recv_frame(self, timeout: Optional[float] = None) -> Frame:
        """Low-level: receive one whole frame, without reassembly or
        automatic replies (answer pings and closes yourself). `timeout` as
        for :meth:`recv`."""
        frame: Frame = self._receive(timeout, self._recv_frame_once)
        return frame

    def _recv_frame_once(self) -> Any:
        ptr = self._handle()  # raises if another thread closed it meanwhile
        out = _ffi.frame_p()
        rc = _ffi.recv_frame_raw(ptr, ctypes.byref(out))
        if rc == _ffi.WS_ERR_WOULD_BLOCK:
            return _AGAIN
        if rc < 0:
            raise _ffi.error_from_result(rc)
        try:
            return Frame._from_ptr(out)
        finally:
            lib.ws_frame_free(out)

    def send_frame(self, frame: Frame) -> None:
        """Low-level: send `frame` exactly as built (masked with a fresh key;
        no RSV bit added). Sending a close frame starts the close handshake."""
        if not isinstance(frame, Frame):
            raise TypeError(f"frame must be a wsclient.Frame, not {type_name(frame)}")
        data = frame.payload_data
        with self._lock:
            ptr = self._handle()
            c_frame = lib.ws_frame_new(frame.fin, frame.rsv, frame.opcode, data, len(data))
            try:
                lib.ws_send_frame(ptr, c_frame)
            finally:
                lib.ws_frame_free(c_frame)
        self._flush(self._write_timeout)

    # -------------------------------------------------------- closing

    def send_close(self, reason: Optional[str] = None, *, code: Optional[int] = None) -> None:
        """Send a close frame and keep the connection (the egg's ``ws-close``).

        Afterwards nothing may be sent, but :meth:`recv` still returns the
        server's remaining messages, then None when its close arrives.
        The arguments are those of :meth:`close`.
        """
        code_, text = _close_args(reason, code)
        with self._lock:
            lib.ws_close(self._handle(), code_, text)
        self._flush(self._write_timeout)

    def close(
        self,
        reason: Optional[str] = None,
        *,
        code: Optional[int] = None,
        timeout: Union[float, None, _Unset] = _UNSET,
    ) -> None:
        """Close the connection cleanly and release it. Idempotent.

        - ``close()``: close code 1000 ("normal-closure"), no reason text.
        - ``close("going-away")``: `reason` is a name of the egg's table
          (see :func:`reason_to_close_code`); its code is sent without text.
          ``"no-status-rcvd"`` sends a close frame without a code.
        - ``close(code=4000, reason="bye")``: any sendable code (1000-1003,
          1007-1014, 3000-4999) with an optional text reason (at most 123
          bytes of UTF-8).

        If the connection is open, the close frame is sent; then messages
        are received and dropped until the server's close frame arrives, for
        at most `timeout` seconds (default: ``close_timeout`` of
        :func:`connect`; None: no limit). Finally the socket is closed.

        Invalid arguments raise (and leave the connection open). Network
        errors during the close are ignored: the connection is gone anyway.
        """
        code_, text = _close_args(reason, code)
        wait = self._close_timeout if isinstance(timeout, _Unset) else timeout
        seconds(wait, "timeout")
        with self._lock:
            if self._ptr is None:
                return
            release = True
            try:
                if lib.ws_conn_state(self._ptr) == _ffi.WS_STATE_OPEN:
                    try:
                        lib.ws_close(self._ptr, code_, text)
                    except InvalidArgument:
                        release = False  # the caller's mistake: stay open
                        raise
                    except WebSocketError:
                        return  # the connection is gone
                deadline = None if wait is None else time.monotonic() + wait
                try:
                    self._flush(wait)  # the close frame may wait in the send queue
                except WebSocketError:
                    return
                self._drain(wait)
                self._finish(None if deadline is None else deadline - time.monotonic())
            finally:
                if release:
                    self._release()

    def _drain(self, timeout: Optional[float]) -> None:
        """Receive and drop messages until the server's close arrives."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._eof and lib.ws_conn_state(self._ptr) != _ffi.WS_STATE_CLOSED:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self._wait(left, self._recv_once)
            except WebSocketError:
                return

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wsclient.Connection {self._url!r} {self.state}>"


#: The library queues sends in non-blocking mode and has deadlines to run.
_QUEUED_SENDS = _ffi.available("ws_conn_flush") and _ffi.available("ws_conn_next_timeout_ms")


def _wait_fd(fd: int, events: int, timeout: Optional[float]) -> bool:
    """Wait for `events` on `fd` (or an error or hang-up), at most `timeout`
    seconds; signals interrupt the wait (PEP 475)."""
    p = select.poll()
    p.register(fd, events)
    return bool(p.poll(None if timeout is None else max(1, math.ceil(timeout * 1000))))


def _readable(fd: int, timeout: Optional[float]) -> bool:
    """Wait until `fd` is readable (or has an error or hang-up), at most
    `timeout` seconds (None: no limit). Signals interrupt the wait: their
    handlers run, and an exception they raise propagates (PEP 475)."""
    if hasattr(select, "poll"):
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        return bool(p.poll(None if timeout is None else max(1, math.ceil(timeout * 1000))))
    r, _, _ = select.select([fd], [], [], timeout)  # pragma: no cover
    return bool(r)


def is_ws_connection(obj: object) -> "TypeGuard[Connection]":
    """True iff `obj` (a result of :func:`connect`) is a :class:`Connection`
    (the egg's ``ws-connection?``); False for an :class:`HTTPResponse`."""
    return isinstance(obj, Connection)
