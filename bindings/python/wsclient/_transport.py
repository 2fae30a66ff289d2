"""The caller's transport: a connection over bytes Python carries
(``ws_connect_transport``), for ``sock=``, ``ssl=`` (an ``ssl.SSLContext``),
``server_hostname=``, ``unix_connect()``, the socket arguments passed
through (``address=``, ``source_address=``; ``host=``/``port=`` in
asyncio) and proxies the library cannot reach itself (``https://``,
``proxy_ssl=``).

The library does no I/O for such a connection: it hands out the bytes to
send and takes the bytes received. A :class:`Stream` carries them: a
non-blocking socket with, for TLS, Python's ``ssl`` over memory BIOs (one
layer per TLS session: TLS to an ``https://`` proxy, then TLS to the server
inside the tunnel). :meth:`Stream.drain` moves the library's output to it
and :meth:`Stream.feed` what arrived into the library; neither waits.

:class:`TransportOpening` (the opening handshake) and
:class:`TransportDriver` (the open connection) are the binding's one connect
driver and one connection driver (``_opening``, ``_driver``) with their
steps moving the bytes first, so every wait loop written for the library's
own socket drives them unchanged: the sync clients wait in poll() on the
socket, the asyncio client on its event loop (``_aiotransport``).

Without any of these arguments the library opens the connection itself
(its own TCP, TLS and proxy code), the faster path.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import ipaddress
import math
import os
import select
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Generator, List, Mapping, NamedTuple, Optional, Union

from . import _ffi
from ._connection import Connection
from ._data import Piece
from ._driver import AGAIN, Driver
from ._errors import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus, InvalidURI, WebSocketTimeout
from ._ffi import lib
from ._opening import Opening
from ._response import HTTPResponse
from .http11 import Request, Response, parse_request, parse_response

#: websockets' text for an opening that took longer than ``open_timeout``.
OPEN_TIMEOUT = "timed out during opening handshake"
#: The largest read, and the largest piece of output taken at once.
CHUNK = 64 << 10
#: The longest HTTP head (request, response, proxy answer) kept.
MAX_HEAD = 64 << 10

_transport_in = _ffi.lib.ws_conn_transport_in
_transport_out = _ffi.lib.ws_conn_transport_out
_OK, _WOULD_BLOCK = _ffi.WS_OK, _ffi.WS_ERR_WOULD_BLOCK
_STATE_OPEN = _ffi.WS_STATE_OPEN


class Deadline:
    """The end of the opening (``open_timeout`` seconds from now; None: no
    end). :meth:`left` raises websockets' TimeoutError once it passed."""

    def __init__(self, timeout: Optional[float]) -> None:
        self.at = None if timeout is None else time.monotonic() + timeout

    def left(self) -> Optional[float]:
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise WebSocketTimeout(OPEN_TIMEOUT, result=_ffi.WS_ERR_TIMEOUT)
        return left


# ---------------------------------------------------------------- layers


class _SocketLayer:
    """The bottom of a Stream: a non-blocking socket. A socket error ends
    the stream as the peer's EOF would (the library then reports the
    connection lost); the error is kept as :attr:`error`."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.out = bytearray()
        self.error: Optional[OSError] = None

    def write(self, data: bytes) -> None:
        if self.error is None:
            self.out += data

    def flush(self) -> bool:
        """Write what the socket takes now; True when nothing is left."""
        out = self.out
        while out:
            try:
                n = self.sock.send(out)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as e:
                self.error = e
                out.clear()
                return True
            del out[:n]
        return True

    def read(self) -> Optional[bytes]:
        """What arrived (b"": nothing now), None at the end."""
        if self.error is not None:
            return None
        try:
            data = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as e:
            self.error = e
            return None
        return data or None

    def pending(self) -> bool:
        return bool(self.out)


class _TLSLayer:
    """TLS by Python's ssl module (an SSLObject over memory BIOs) on top of
    the layer `below`."""

    def __init__(self, below: Any, context: ssl.SSLContext, server_hostname: Optional[str]) -> None:
        self.below = below
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self.ended = False  # the end below was passed on
        self.closed = False  # no more to read here

    def _push(self) -> None:
        data = self.outgoing.read()
        if data:
            self.below.write(data)

    def write(self, data: bytes) -> None:
        if not self.closed:
            try:
                self.obj.write(data)
            except ssl.SSLError:
                self.closed = True
        self._push()

    def flush(self) -> bool:
        self._push()
        return bool(self.below.flush())

    def read(self) -> Optional[bytes]:
        if self.closed:
            return None
        data = self.below.read()
        if data is None:
            if not self.ended:
                self.incoming.write_eof()
                self.ended = True
        elif data:
            self.incoming.write(data)
        chunks: List[bytes] = []
        try:
            while True:
                chunk = self.obj.read(CHUNK)
                if not chunk:
                    self.closed = True
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:  # the peer's close_notify, or its end without one
            self.closed = True
        self._push()  # e.g. a TLS 1.3 key update's answer
        if chunks:
            return b"".join(chunks)
        return None if self.closed or self.ended else b""

    def pending(self) -> bool:
        return bool(self.below.pending())


# ---------------------------------------------------------------- the stream


class Stream:
    """The bytes of one connection over a socket of Python's, with TLS
    layers added by :meth:`start_tls`. During the opening (before the
    library) it also waits: :meth:`send_all`, :meth:`recv_some`; then the
    library's bytes move through :meth:`drain` and :meth:`feed`, which never
    wait (wait on :meth:`fileno` for :meth:`wants_write`)."""

    def __init__(self, sock: Any, bottom: Any = None) -> None:
        self.sock = sock
        self._bottom = _SocketLayer(sock) if bottom is None else bottom
        self._top: Any = self._bottom
        self.pending = b""  # arrived, not yet taken by the library
        self.eof_given = False
        self._buf = ctypes.create_string_buffer(CHUNK)
        self._len = ctypes.c_size_t()
        self._len_ref = ctypes.byref(self._len)
        # The handshake's request and response as they went by, until whole.
        self._request: Optional[bytearray] = bytearray()
        self._response: Optional[bytearray] = bytearray()
        self.request: Optional[Request] = None
        self.response: Optional[Response] = None

    def fileno(self) -> int:
        return int(self.sock.fileno())

    @property
    def error(self) -> Optional[OSError]:
        """The socket error that ended the stream, if one did."""
        return self._bottom.error

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------ the opening (waits)

    def _wait(self, events: int, deadline: Deadline) -> None:
        left = deadline.left()
        p = select.poll()
        p.register(self.fileno(), events)
        if not p.poll(None if left is None else max(1, math.ceil(left * 1000))):
            deadline.left()  # raises once it passed

    def send_all(self, data: bytes, deadline: Deadline) -> None:
        self._top.write(data)
        while not self._top.flush():
            self._wait(select.POLLOUT, deadline)
        if self.error is not None:
            raise self.error

    def recv_some(self, deadline: Deadline) -> Optional[bytes]:
        """What arrives next (waiting for it); None at the end."""
        while True:
            data = self._top.read()
            if data is None and self.error is not None:
                raise self.error
            if data is None or data:
                return data
            self._wait(select.POLLIN, deadline)

    def start_tls(self, context: ssl.SSLContext, server_hostname: Optional[str], deadline: Deadline) -> None:
        """TLS over what the stream is now (the handshake done here: a
        certificate that does not verify raises ssl.SSLCertVerificationError)."""
        layer = _TLSLayer(self._top, context, server_hostname)
        below = layer.below
        while True:
            try:
                layer.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            layer._push()
            while not below.flush():
                self._wait(select.POLLOUT, deadline)
            data = below.read()
            if data is None:
                if self.error is not None:
                    raise self.error
                raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "the server closed the connection during the TLS handshake")
            if data:
                layer.incoming.write(data)
            else:
                self._wait(select.POLLIN, deadline)
        layer._push()
        while not below.flush():
            self._wait(select.POLLOUT, deadline)
        self._top = layer

    # ------------------------------------------------------------ the library's bytes (no waits)

    def feed(self, ptr: Any) -> bool:
        """Give the library what arrived (what it did not take last time,
        else one read); the end, once. True if it took something."""
        data = self.pending
        if not data:
            if self.eof_given:
                return False
            data = self._top.read()
            if data is None:
                lib.ws_conn_transport_eof(ptr)
                self.eof_given = True
                return True
            if not data:
                return False
            if self._response is not None:
                self._saw(self._response, data, False)
        _transport_in(ptr, data, len(data), self._len_ref)
        taken = self._len.value
        self.pending = data[taken:] if taken < len(data) else b""
        return taken > 0

    def drain(self, ptr: Any) -> bool:
        """Move the library's output into the stream and write what the
        socket takes; True when all of it is out."""
        top = self._top
        while top.flush():
            _transport_out(ptr, self._buf, CHUNK, self._len_ref)
            n = self._len.value
            if not n:
                return True
            data = ctypes.string_at(self._buf, n)
            if self._request is not None:
                self._saw(self._request, data, True)
            top.write(data)
        return False

    def wants_write(self) -> bool:
        """Whether bytes wait for the socket to take them."""
        return bool(self._top.pending())

    def _saw(self, head: bytearray, data: bytes, out: bool) -> None:
        """Keep the handshake's request (`out`) or response until its end."""
        head += data[: MAX_HEAD - len(head)]
        end = head.find(b"\r\n\r\n")
        if end < 0 and len(head) < MAX_HEAD:
            return
        raw = bytes(head[: end + 4] if end >= 0 else head)
        if out:
            self.request, self._request = parse_request(raw), None
        else:
            self.response, self._response = parse_response(raw), None


# ---------------------------------------------------------------- the library's side


class TransportDriver(Driver):
    """The connection driver (see ``_driver``) of a connection over a
    :class:`Stream`: each step moves the bytes first."""

    def __init__(
        self, ptr: Any, free: Any, write_timeout: Optional[float], close_timeout: Optional[float], stream: Stream
    ) -> None:
        self.stream = stream
        super().__init__(ptr, free, write_timeout, close_timeout)

    def fileno(self) -> int:
        return -1 if self.ptr is None else self.stream.fileno()

    def wait_events(self) -> int:
        return select.POLLIN | (select.POLLOUT if self.stream.wants_write() else 0)

    def wants(self) -> int:
        if self.ptr is None:
            return 0
        wants = int(lib.ws_conn_wants(self.ptr))
        return wants | (_ffi.WS_WANT_WRITE if self.stream.wants_write() else 0)

    def receive(self) -> Any:
        return self._fed(super().receive)

    def receive_piece(self) -> Any:
        return self._fed(super().receive_piece)

    def receive_batch(self, put: Callable[[Piece], None], most: int) -> Any:
        return self._fed(functools.partial(super().receive_batch, put, most))

    def left_queued(self) -> bool:
        return True  # the stream may hold bytes too: the flush moves them out

    def _fed(self, step: Any) -> Any:
        """`step` (a receive), with what arrived given to the library until
        it has a result or nothing more came."""
        got = step()
        if got is not AGAIN:
            return got
        ptr, stream = self.ptr, self.stream
        while True:
            stream.drain(ptr)  # pongs and close replies go out
            if not stream.feed(ptr):
                return AGAIN
            got = step()
            if got is not AGAIN:
                return got

    def flush_step(self) -> bool:
        ptr = self.ptr
        if ptr is None:
            return True
        while True:
            rc = _ffi.flush_raw(ptr)  # runs the deadlines; reports a failure
            error = None if rc in (_OK, _WOULD_BLOCK) else _ffi.error_from_result(rc)
            out = self.stream.drain(ptr)  # the failure's close frame included
            if error is not None:
                raise error
            # Closing: the peer's close frame, then its end, which the next
            # flush sees (the library then lets the transport go).
            if int(lib.ws_conn_state(ptr)) == _STATE_OPEN or not self.stream.feed(ptr):
                return rc == _OK and out

    def send_part_step(self, kind: int, total: int, address: int, size: int, flags: int = 0) -> int:
        taken = super().send_part_step(kind, total, address, size, flags)
        self.stream.drain(self.ptr)
        return taken

    def release(self) -> None:
        had = self.ptr is not None
        super().release()
        if had:
            self.stream.close()


class TransportOpening(Opening):
    """The opening handshake over a :class:`Stream` (``ws_connect_transport``;
    the Stream is open, its TLS done): the request goes out, the response
    comes in, and :meth:`step` gives the Connection as :class:`Opening`'s
    does."""

    def __init__(self, raw_url: bytes, opts: Any, url: str, *args: Any, stream: Stream, **kwargs: Any) -> None:
        self._stream: Optional[Stream] = stream
        super().__init__(raw_url, opts, url, *args, **kwargs)

    def _begin(self, raw_url: bytes, opts: Any, out: Any) -> None:
        lib.ws_connect_transport(raw_url, opts, ctypes.byref(out))

    def _open(self, ptr: Any) -> Connection:
        stream, self._stream = self._stream, None
        read_timeout, close_timeout, write_timeout = self._timeouts
        return Connection(
            ptr, self._url, read_timeout, close_timeout, write_timeout, self._logger, self._trace, stream=stream
        )

    def close(self) -> None:
        super().close()
        stream, self._stream = getattr(self, "_stream", None), None
        if stream is not None:
            stream.close()

    def step(self) -> Any:
        stream, ptr = self._stream, self._ptr
        if stream is None or ptr is None:
            return super().step()  # raises: over
        stream.drain(ptr)
        while True:
            moved = stream.feed(ptr)
            result = super().step()
            if result is not None or not moved:
                if result is None and self._ptr is not None:
                    stream.drain(self._ptr)
                return result

    def fileno(self) -> int:
        return -1 if self._stream is None else self._stream.fileno()

    def wants(self) -> int:
        if self._stream is None:
            return 0
        return _ffi.WS_WANT_READ | (_ffi.WS_WANT_WRITE if self._stream.wants_write() else 0)


# ---------------------------------------------------------------- where to connect


class Target(NamedTuple):
    """What a ws:// or wss:// URI says of the server."""

    secure: bool
    host: str
    port: int


def target_of(uri: str) -> Target:
    """The server of `uri` (InvalidURI if it is not a WebSocket URI)."""
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError as e:
        raise InvalidURI(f"{uri} isn't a valid URI: {e}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidURI(f"{uri} isn't a valid URI: not a ws:// or wss:// URI with a host")
    secure = parts.scheme == "wss"
    return Target(secure, parts.hostname, port or (443 if secure else 80))


class Proxy(NamedTuple):
    """A proxy's URL, checked."""

    url: str
    scheme: str
    host: str
    port: int
    username: Optional[str]
    password: Optional[str]


#: What the library reaches itself; ``https`` (TLS to the proxy) is Python's.
LIBRARY_PROXY_SCHEMES = ("http", "socks5", "socks5h")


def parse_proxy(url: str) -> Proxy:
    """`url` as a Proxy; InvalidProxy when it is not a proxy's URL."""
    if not isinstance(url, str):
        raise TypeError(f"proxy must be a str, True or None, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidProxy(f"{url} isn't a valid proxy: {e}") from None
    if parts.scheme not in ("http", "https", "socks5", "socks5h"):
        raise InvalidProxy(f"{url} isn't a valid proxy: scheme {parts.scheme or '(none)'} isn't supported")
    if not parts.hostname:
        raise InvalidProxy(f"{url} isn't a valid proxy: hostname isn't provided")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidProxy(f"{url} isn't a valid proxy: path, query and fragment are meaningless")
    username = password = None
    if parts.username is not None:
        if parts.password is None:
            raise InvalidProxy(f"{url} isn't a valid proxy: username provided without password")
        username = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password)
    default = 443 if parts.scheme == "https" else 1080 if parts.scheme.startswith("socks") else 80
    return Proxy(url, parts.scheme, parts.hostname, port or default, username, password)


def proxy_for(proxy: Union[str, bool, None], target: Target) -> Optional[Proxy]:
    """The proxy to use: `proxy` itself, none (None), or with True the one
    the environment names for `target` as websockets finds it
    (``urllib.request``: ``no_proxy`` first, then ``wss_proxy``/``ws_proxy``,
    a SOCKS proxy, ``https_proxy``, and for ws:// ``http_proxy``)."""
    if proxy is None or proxy is False:
        return None
    if proxy is not True:
        return parse_proxy(proxy)
    if urllib.request.proxy_bypass(f"{target.host}:{target.port}"):
        return None
    found: Mapping[str, str] = urllib.request.getproxies()
    schemes = ["wss", "socks", "https"] if target.secure else ["ws", "socks", "https", "http"]
    for scheme in schemes:
        url = found.get(scheme)
        if url:
            if scheme == "socks" and url.startswith("http://"):
                url = "socks5h://" + url[len("http://"):]
            return parse_proxy(url)
    return None


def _authority(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def http_connect(proxy: Proxy, target: Target, user_agent: Optional[str]) -> Handshake:
    """Ask an HTTP proxy for a tunnel to `target` (CONNECT): a
    :data:`Handshake`. InvalidProxyStatus for a refusal, InvalidProxyMessage
    for an answer that is not HTTP."""
    authority = _authority(target.host, target.port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if user_agent is not None:
        lines.append(f"User-Agent: {user_agent}")
    if proxy.username is not None:
        token = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    yield ("\r\n".join(lines) + "\r\n\r\n").encode()
    head = yield None
    end = head.find(b"\r\n\r\n") + 4
    answer = parse_response(head[:end])
    if not answer.status_code or not head.startswith(b"HTTP/1."):
        raise InvalidProxyMessage("the proxy's answer is not HTTP", result=_ffi.WS_ERR_PROXY)
    if not 200 <= answer.status_code < 300:
        error = InvalidProxyStatus(f"proxy rejected connection: HTTP {answer.status_code}", result=_ffi.WS_ERR_PROXY)
        error.response = HTTPResponse(
            answer.status_code, answer.reason_phrase, list(answer.headers.raw_items()), head[end:]
        )
        raise error
    if len(head) > end:
        raise InvalidProxyMessage("the proxy sent data after opening the tunnel", result=_ffi.WS_ERR_PROXY)


def socks5_connect(proxy: Proxy, target: Target, address: Optional[str]) -> Handshake:
    """Ask a SOCKS5 proxy for a connection to `target` (RFC 1928;
    username/password authentication, RFC 1929): a :data:`Handshake`.
    ``socks5h`` sends the name, ``socks5`` the `address` resolved by the
    caller."""
    methods = b"\x00\x02" if proxy.username is not None else b"\x00"
    yield b"\x05" + bytes([len(methods)]) + methods
    version, method = yield 2
    if version != 5 or method not in methods:
        raise InvalidProxyMessage("the SOCKS proxy accepts none of our authentication methods", result=_ffi.WS_ERR_PROXY)
    if method == 2:
        user, password = (proxy.username or "").encode(), (proxy.password or "").encode()
        yield b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
        status = yield 2
        if status[1] != 0:
            raise InvalidProxyMessage("the SOCKS proxy refused the username and password", result=_ffi.WS_ERR_PROXY)
    host = address if address is not None else target.host
    try:
        ip = ipaddress.ip_address(host)
        where = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
    except ValueError:
        name = host.encode("idna")
        where = b"\x03" + bytes([len(name)]) + name
    yield b"\x05\x01\x00" + where + target.port.to_bytes(2, "big")
    _, reply, _, kind = yield 4
    if reply != 0:
        raise InvalidProxyMessage(f"the SOCKS proxy could not connect (reply {reply})", result=_ffi.WS_ERR_PROXY)
    size = {1: 4, 4: 16}.get(kind)
    if size is None:
        size = (yield 1)[0]  # a name: its length first
    yield size + 2  # the bound address and port


def proxy_handshake(proxy: Proxy, target: Target, user_agent: Optional[str], address: Optional[str]) -> Handshake:
    """The tunnel's handshake for `proxy` (HTTP CONNECT or SOCKS5)."""
    if proxy.scheme.startswith("socks"):
        return socks5_connect(proxy, target, address)
    return http_connect(proxy, target, user_agent)


def run_handshake(stream: Stream, handshake: Handshake, deadline: Deadline) -> None:
    """Run a :data:`Handshake` over `stream`, waiting (until `deadline`)."""
    buffer = bytearray()
    answer: Any = None
    try:
        while True:
            want = handshake.send(answer)
            answer = None
            if isinstance(want, bytes):
                stream.send_all(want, deadline)
                continue
            while not _enough(buffer, want):
                data = stream.recv_some(deadline)
                if data is None:
                    raise InvalidProxyMessage("the proxy closed the connection", result=_ffi.WS_ERR_PROXY)
                buffer += data
            answer = _take(buffer, want)
    except StopIteration:
        return


#: A proxy's handshake, sans I/O: a generator that yields bytes to send, an
#: int to be sent that many bytes, or None to be sent an HTTP head (what
#: arrived up to its empty line, and the bytes after it).
Handshake = Generator[Union[bytes, int, None], Any, None]


def _enough(buffer: bytearray, want: Optional[int]) -> bool:
    if want is None:
        if len(buffer) > MAX_HEAD:
            raise InvalidProxyMessage("the proxy's answer is too long", result=_ffi.WS_ERR_PROXY)
        return b"\r\n\r\n" in buffer
    return len(buffer) >= want


def _take(buffer: bytearray, want: Optional[int]) -> bytes:
    n = len(buffer) if want is None else want
    got = bytes(buffer[:n])
    del buffer[:n]
    return got


def tls_context(tls: Dict[str, Any]) -> ssl.SSLContext:
    """The context for TLS by Python when the caller gave none: the system's
    CAs, or the library's options ``ca_file``/``ca_dir``/``client_cert``/``client_key``."""
    context = ssl.create_default_context(cafile=tls.get("ca_file"), capath=tls.get("ca_dir"))
    if tls.get("client_cert") is not None:
        context.load_cert_chain(tls["client_cert"], tls.get("client_key"))
    return context


def open_stream(
    target: Target,
    *,
    sock: Optional[socket.socket],
    path: Any,
    ssl_context: Optional[ssl.SSLContext],
    server_hostname: Optional[str],
    proxy: Optional[Proxy],
    proxy_ssl: Optional[ssl.SSLContext],
    proxy_server_hostname: Optional[str],
    user_agent: Optional[str],
    socket_kwargs: Dict[str, Any],
    deadline: Deadline,
) -> Stream:
    """A Stream to the server, waiting (at most until `deadline`): `sock`
    as it is, else a Unix socket at `path`, else TCP (to the proxy, through
    which a tunnel is asked for; else ``socket.create_connection`` with
    `socket_kwargs`, ``address`` by default the server's); then TLS with
    `ssl_context` for wss://."""
    try:
        if sock is None:
            if path is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(deadline.left())
                    sock.connect(os.fspath(path))
                except BaseException:
                    sock.close()
                    raise
            elif proxy is not None:
                source = socket_kwargs.get("source_address")
                sock = socket.create_connection((proxy.host, proxy.port), deadline.left(), source)
            else:
                kwargs = dict(socket_kwargs)
                kwargs.setdefault("address", (target.host, target.port))
                kwargs.setdefault("timeout", deadline.left())
                sock = socket.create_connection(**kwargs)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        stream = Stream(sock)
        try:
            if proxy is not None and path is None:
                if proxy.scheme == "https":
                    context = proxy_ssl if proxy_ssl is not None else ssl.create_default_context()
                    stream.start_tls(context, proxy_server_hostname or proxy.host, deadline)
                address = None
                if proxy.scheme == "socks5":  # resolved here (socks5h: by the proxy)
                    address = str(socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)[0][4][0])
                run_handshake(stream, proxy_handshake(proxy, target, user_agent, address), deadline)
            if target.secure:
                context = ssl_context if ssl_context is not None else ssl.create_default_context()
                stream.start_tls(context, server_hostname or target.host, deadline)
        except BaseException:
            stream.close()
            raise
        return stream
    except socket.timeout:
        raise WebSocketTimeout(OPEN_TIMEOUT, result=_ffi.WS_ERR_TIMEOUT) from None
