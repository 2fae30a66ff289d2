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
wait releases the GIL and can be interrupted by a signal (Ctrl-C).
"""

from __future__ import annotations

import collections
import os
import socket
import ssl as ssl_module
import threading
import time
import uuid
import weakref
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Type, Union

from .. import _ffi
from .._connection import Connection, driver_of
from .._data import Data, discard, encode, take
from .._driver import AGAIN, CLOSED
from .._errors import ConcurrencyError, InvalidState, NetworkError, WebSocketError, WebSocketFailure, WebSocketTimeout
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
    route,
    start_connection,
)
from ..exceptions import Close, ConnectionClosed, ConnectionClosedError
from ..http11 import Request, Response
from ..protocol import State
from .._pings import PingWaiters
from .._reconnect import backoff, describe, logger, process_exception, verdict, wait_after

__all__ = ["ClientConnection", "backoff", "connect", "process_exception", "reconnect", "unix_connect"]

#: ConnectionClosed.sent after the keepalive pong did not come in time (as websockets).
_KEEPALIVE_CLOSE = Close(1011, "keepalive ping timeout")


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
        self._inbox: Deque[int] = collections.deque()  # messages by address
        self._inbox_error: Optional[BaseException] = None
        self._receivers = 0
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
        # Keeps the connection alive while no thread receives (see _keeper).
        # (By weak references: a connection dropped unclosed is collected.)
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
        inbox = getattr(self, "_inbox", ())
        while inbox:
            discard(inbox.popleft())

    def _pump(self, always: bool = False) -> None:
        """Keepalive for a program that sends and does not receive: while no
        thread receives, read what arrived, so that the library sees the
        pongs (and answers pings); messages wait in an inbox (at most
        max_queue; then reading stops, as websockets' does) for recv()."""
        driver = self._driver
        if not (self._keepalive or always) or self._receivers or self._inbox_error is not None or driver.eof:
            return
        with driver.lock:
            while not self._receivers and len(self._inbox) < self._max_queue:
                try:
                    got = driver.receive()
                except WebSocketError as e:
                    self._inbox_error = e  # for recv() to raise
                    break
                if got is AGAIN or got is CLOSED:
                    break
                self._inbox.append(got)
            self._pings.check()

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
            return self._closed_exc

    def _closing(self) -> ConnectionClosed:
        """The exception for a send on a closing connection."""
        return self._closed_exc or ConnectionClosed.make(None, self._sent)

    # ------------------------------------------------------------ receiving

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message: str for text, bytes for binary (`decode`: False
        gives bytes for text too, True str for binary).

        Raises TimeoutError after `timeout` seconds (the connection stays
        usable), :class:`~wsclient.exceptions.ConnectionClosedOK` once the
        connection closed normally and
        :class:`~wsclient.exceptions.ConnectionClosedError` otherwise.
        """
        if self._closed_exc is not None:
            raise self._closed_exc
        if timeout is not None:
            seconds(timeout, "timeout")
        driver = self._driver

        def once() -> Any:
            if self._inbox:
                return take(self._inbox.popleft(), decode)
            if self._inbox_error is not None:
                error, self._inbox_error = self._inbox_error, None
                raise error
            try:
                got = driver.receive()
            finally:
                self._pings.check()
            if got is CLOSED:
                return None
            if got is AGAIN:
                return AGAIN
            return take(got, decode)

        with driver.lock:
            if self._receivers:
                raise ConcurrencyError(
                    "cannot call recv while another thread is already running recv or recv_streaming"
                )
            self._receivers += 1
        try:
            driver.handle()  # InvalidState once released
            data = driver.run(once, timeout)
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
        if data is None:
            raise self._closed()
        result: Data = data
        return result

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
        overrides), or an iterable of str or of bytes as one fragmented
        message. Raises ConnectionClosed once the connection is closing."""
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
        self._pump()

    def _send_fragments(self, fragments: Iterable[Data], text: Optional[bool]) -> None:
        if isinstance(fragments, (dict,)) or not hasattr(fragments, "__iter__"):
            raise TypeError(f"message must be str, bytes-like or an iterable of them, not {type(fragments).__name__}")
        opcode = None
        for fragment in fragments:
            kind, raw = encode(fragment, text)
            if opcode is None:
                opcode = 1 if kind == _ffi.WS_MESSAGE_TEXT else 2
                self._conn.send_frame(Frame(opcode, raw, fin=False))
            else:
                self._conn.send_frame(Frame(0, raw, fin=False))
        if opcode is not None:
            self._conn.send_frame(Frame(0, b"", fin=True))

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
        conn = opened(opening.wait())
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
