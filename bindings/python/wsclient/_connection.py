"""Connection, the egg's ``ws-connection`` (connect() is in ``_connect``)."""

from __future__ import annotations

import ctypes
import time
from types import MappingProxyType
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple, TypeVar, Union

try:
    from typing import TypeGuard
except ImportError:  # pragma: no cover - Python < 3.10
    TypeGuard = None  # type: ignore[assignment]

from . import _ffi
from ._driver import AGAIN, CLOSED, Driver
from ._errors import InvalidArgument, WebSocketError, WouldBlock
from ._ffi import lib
from ._message import Frame, Message, adopt
from ._observe import AnyLogger, Trace, check_outside_trace, get_logger
from ._response import HTTPResponse
from ._util import BytesLike, buffer, cstr, flag, integer, seconds, type_name

T = TypeVar("T")

_STATES = {_ffi.WS_STATE_OPEN: "open", _ffi.WS_STATE_CLOSING: "closing", _ffi.WS_STATE_CLOSED: "closed"}


#: The response headers read by name from a library that cannot list them.
_KNOWN_HEADERS = (
    "Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
    "Server", "Date", "Set-Cookie",
)


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
# Looked up once: the per-message path is measured in tenths of a microsecond.
_adopt = adopt
_MORE, _UNCOMPRESSED = _ffi.WS_SEND_MORE, _ffi.WS_SEND_UNCOMPRESSED
_BINARY = _ffi.WS_MESSAGE_BINARY

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
        logger: Optional[AnyLogger] = None,
        trace: Optional[Trace] = None,
        stream: Any = None,
    ) -> None:
        # Not public: use connect(). The driver moves the bytes (and
        # waits); this class is the egg's API on top of it. `stream`: the
        # caller's transport (see _transport), None for the library's socket.
        self._trace = trace  # the trace callback (None: not logging), kept alive with the handle
        if stream is None:
            driver = Driver(ptr, self._free, write_timeout, close_timeout)
        else:
            from ._transport import TransportDriver

            driver = TransportDriver(ptr, self._free, write_timeout, close_timeout, stream)
        self._driver = driver
        driver.trace = trace
        self._logger = logger if logger is not None else get_logger(None)
        self._conn_id = int(lib.ws_conn_id(ptr))
        self._lock = driver.lock
        self._url = url
        self._read_timeout = read_timeout
        self._nonblocking = False  # the mode the user asked for
        sub = lib.ws_conn_subprotocol(ptr)
        self._subprotocol = sub.decode("utf-8") if sub else None
        self._compression = driver.compression

    def __del__(self) -> None:
        driver = getattr(self, "_driver", None)
        if driver is not None:
            driver.release()

    # -------------------------------------------------------- plumbing

    @property
    def _ptr(self) -> Any:
        """The ``ws_conn *`` (None once released), for tests and tools."""
        return self._driver.ptr

    def _handle(self) -> Any:
        return self._driver.handle()

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
    def conn_id(self) -> int:
        """The library's id of this connection (``ws_conn_id``): unique in
        the process, the ``[conn N]`` of its log records."""
        return self._conn_id

    @property
    def logger(self) -> AnyLogger:
        """The logger of this connection (``logger=`` of :func:`connect`,
        by default the ``wsclient`` logger)."""
        return self._logger

    @property
    def stats(self) -> Mapping[str, int]:
        """The connection's counters and timings, a read-only snapshot by
        name (``ws_conn_stat``): ``bytes_in``, ``bytes_out`` (on the wire),
        ``payload_in``, ``payload_out`` (message data, before compression),
        ``frames_in``, ``frames_out``, ``messages_in``, ``messages_out``,
        ``pings_sent``, ``pongs_received``, ``rtt_last_us``,
        ``rtt_smoothed_us``, ``redirects``, and the connect's phases in
        microseconds from its start: ``time_resolve_us``,
        ``time_connect_us``, ``time_proxy_us``, ``time_tls_us``,
        ``time_http_us``, ``time_total_us``. After :meth:`close`, the values
        at the close."""
        check_outside_trace(self._conn_id)
        return MappingProxyType(self._driver.stats())

    @property
    def latency(self) -> float:
        """The round trip of the last ping answered, in seconds (0 before
        any), as ``websockets``' ``latency``."""
        check_outside_trace(self._conn_id)
        return self._driver.stat(_ffi.WS_STAT_RTT_LAST_US, "rtt_last_us") / 1e6

    @property
    def peer_close_code(self) -> Optional[int]:
        """The close code the server sent (1005 if its close frame had none);
        None until its close frame arrives."""
        with self._lock:
            peer = self._driver.remember_peer_close()
            return None if peer is None else peer[0]

    @property
    def peer_close_reason(self) -> Optional[str]:
        """The close reason the server sent ("" if none); None until its
        close frame arrives through :meth:`recv`."""
        with self._lock:
            peer = self._driver.remember_peer_close()
            return None if peer is None else peer[1]

    @property
    def state(self) -> str:
        """``"open"``, ``"closing"`` (we sent a close frame) or ``"closed"``."""
        with self._lock:
            return _STATES.get(self._driver.state(), "closed")

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has released the connection."""
        return self._driver.ptr is None

    def header(self, name: str) -> Optional[str]:
        """A header of the server's 101 response (case-insensitive), or None."""
        raw_name = cstr(name, "name")
        with self._lock:
            raw = lib.ws_conn_header(self._handle(), raw_name)
            return raw.decode("utf-8", "replace") if raw is not None else None

    def response_headers(self) -> List[Tuple[str, str]]:
        """The headers of the server's 101 response, in order. (A library
        without ``ws_conn_header_count`` gives those of the handshake it
        knows by name.)"""
        with self._lock:
            ptr = self._handle()
            if _ffi.available("ws_conn_header_count"):
                return [
                    (_text(lib.ws_conn_header_name(ptr, i)), _text(lib.ws_conn_header_value(ptr, i)))
                    for i in range(int(lib.ws_conn_header_count(ptr)))
                ]
            found = []
            for name in _KNOWN_HEADERS:
                raw = lib.ws_conn_header(ptr, name.encode())
                if raw is not None:
                    found.append((name, _text(raw)))
            return found

    def fileno(self) -> int:
        """The socket's file descriptor, for select/poll.

        Note: the library buffers what it reads, so a message may be ready
        although the socket is not readable.
        """
        with self._lock:
            self._handle()
            return self._driver.fileno()

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
        # _receive(timeout, driver.receive), with the first attempt inlined:
        # most calls find a message buffered.
        if timeout is not None:
            seconds(timeout, "timeout")
        driver = self._driver
        with driver.lock:
            if driver.ptr is None:
                driver.handle()  # raises
            result = driver.receive()
            if result is CLOSED:
                return None
            if result is not AGAIN:
                return _adopt(result)
            if timeout is None:
                if self._nonblocking:
                    raise WouldBlock("no complete message yet", result=_ffi.WS_ERR_WOULD_BLOCK)
                timeout = self._read_timeout
        result = driver.run(driver.receive, timeout)
        return None if result is CLOSED else _adopt(result)

    def _receive(self, timeout: Optional[float], once: Callable[[], Any]) -> Any:
        """Call `once` (a step: its result, or AGAIN) until it has a result,
        as recv(timeout) does."""
        if timeout is not None:
            seconds(timeout, "timeout")
        driver = self._driver
        with driver.lock:
            driver.handle()  # raises once released
            if timeout is None:
                if self._nonblocking:
                    result = once()
                    if result is AGAIN:
                        raise WouldBlock("no complete message yet", result=_ffi.WS_ERR_WOULD_BLOCK)
                    return result
                timeout = self._read_timeout
            # A message already buffered needs no wait (nor a second lock).
            result = once()
            if result is not AGAIN:
                return result
        return driver.run(once, timeout)

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
        if self._driver.ptr is None:
            self._handle()  # raises: the connection was released
        if self._driver.eof:
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
        self._driver.send(kind, data, flags)

    def send_text(self, text: str, *, compress: bool = True, more: bool = False) -> None:
        """Send a text message (the egg's ``send-text-message``).

        ``compress=False`` sends it uncompressed even when permessage-deflate
        is in use. ``more=True`` says more messages follow: the message is
        only queued (until 64 KiB are) and goes out, with the others, in one
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
        driver = self._driver
        with driver.lock:
            driver.handle()
            rc = _ffi.send_message_at(driver.addr, message._ptr)
            if rc < 0:
                raise _ffi.error_from_result(rc)
        driver.flush(driver.write_timeout)

    def ping(self, data: Union[str, BytesLike] = b"") -> None:
        """Send a ping with up to 125 bytes of payload (str is sent as UTF-8).
        The pong is consumed by :meth:`recv`."""
        raw = data.encode("utf-8") if isinstance(data, str) else buffer(data, "data")
        if len(raw) > 125:
            raise ValueError(f"a ping payload has at most 125 bytes, got {len(raw)}")
        with self._lock:
            self._driver.ping(raw)
        self._driver.flush(self._driver.write_timeout)

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
            return AGAIN
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
        self._driver.flush(self._driver.write_timeout)

    # -------------------------------------------------------- closing

    def send_close(self, reason: Optional[str] = None, *, code: Optional[int] = None) -> None:
        """Send a close frame and keep the connection (the egg's ``ws-close``).

        Afterwards nothing may be sent, but :meth:`recv` still returns the
        server's remaining messages, then None when its close arrives.
        The arguments are those of :meth:`close`.
        """
        code_, text = _close_args(reason, code)
        with self._lock:
            self._driver.send_close(code_, text)
        self._driver.flush(self._driver.write_timeout)

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
        driver = self._driver
        wait = driver.close_timeout if isinstance(timeout, _Unset) else timeout
        seconds(wait, "timeout")
        with driver.lock:
            if driver.ptr is None:
                return
            release = True
            try:
                if driver.state() == _ffi.WS_STATE_OPEN:
                    try:
                        driver.send_close(code_, text)
                    except InvalidArgument:
                        release = False  # the caller's mistake: stay open
                        raise
                    except WebSocketError:
                        return  # the connection is gone
                deadline = None if wait is None else time.monotonic() + wait
                try:
                    driver.flush(wait)  # the close frame may wait in the send queue
                except WebSocketError:
                    return
                driver.drain(wait)  # until the server's close
                driver.finish(None if deadline is None else deadline - time.monotonic())
            finally:
                if release:
                    driver.release()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wsclient.Connection {self._url!r} {self.state}>"


Connection.__module__ = "wsclient"  # public there: tracebacks and reprs say so


def driver_of(conn: Connection) -> Driver:
    """The driver under `conn`: the binding's clients (wsclient.sync,
    wsclient.asyncio) drive the connection through it, never through the
    Connection's own members."""
    return conn._driver


def is_ws_connection(obj: object) -> "TypeGuard[Connection]":
    """True iff `obj` (a result of :func:`connect`) is a :class:`Connection`
    (the egg's ``ws-connection?``); False for an :class:`HTTPResponse`."""
    return isinstance(obj, Connection)
