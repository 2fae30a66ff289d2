"""connect() options of the websockets-style APIs, translated to those of
the egg-flavoured :func:`wsclient.connect`, whose Opening both start; and
which way a connect goes (:func:`route`): the library's own socket, TLS and
proxy code, or the caller's transport (``_transport``)."""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ._connect import _deflate_offers, start
from ._connection import Connection, driver_of
from ._driver import BATCH_BOUND
from ._observe import LoggerLike
from ._opening import Opening
from ._response import HTTPResponse
from ._transport import LIBRARY_PROXY_SCHEMES, Proxy, Target, proxy_for, target_of
from ._util import SIZE_MAX, U64_MAX
from .datastructures import Headers, pairs
from .exceptions import Close, ConnectionClosed, InvalidStatus
from .http11 import Request, Response

USER_AGENT = "libwsclient-python/0.1.0"

HeadersLike = Union[Headers, Mapping[str, str], Iterable[Tuple[str, str]], None]
#: ``max_size``: a limit for messages, or (messages, frames) as in websockets.
MaxSize = Union[int, None, Tuple[Optional[int], Optional[int]]]


class Route(NamedTuple):
    """How a websockets-style connect reaches the server."""

    target: Target
    #: The proxy (None: direct).
    proxy: Optional[Proxy]
    #: The library opens the connection itself (its own TCP, TLS and proxy
    #: code: the faster path); else Python does (the caller's transport).
    library: bool


def route(
    uri: str,
    *,
    sock: Optional[socket.socket],
    ssl_context: Optional[ssl.SSLContext],
    server_hostname: Optional[str],
    proxy: Union[str, bool, None],
    proxy_ssl: Optional[ssl.SSLContext],
    unix: bool,
    socket_kwargs: Mapping[str, Any],
) -> Route:
    """Which way a connect to `uri` goes: the library's own path unless the
    caller brings a socket or a TLS context, a Unix socket, arguments for
    Python's socket functions, or a proxy the library cannot reach
    (``https://``). ``proxy=True`` finds the proxy in the environment as
    websockets does."""
    target = target_of(uri)
    if ssl_context is not None and not target.secure:
        raise ValueError("ssl argument is incompatible with a ws:// URI")
    if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
        raise TypeError(f"ssl must be an ssl.SSLContext, not {type(ssl_context).__name__}")
    chosen = None if sock is not None or unix else proxy_for(proxy, target)
    if proxy_ssl is not None and (chosen is None or chosen.scheme != "https"):
        raise ValueError("proxy_ssl argument is incompatible with an http:// proxy")
    python = (
        sock is not None
        or unix
        or ssl_context is not None
        or server_hostname is not None
        or bool(socket_kwargs)
        or (chosen is not None and chosen.scheme not in LIBRARY_PROXY_SCHEMES)
    )
    return Route(target, chosen, not python)


def limits(max_size: MaxSize) -> Tuple[int, int]:
    """(message limit, frame limit) of websockets' ``max_size``."""
    if isinstance(max_size, tuple):
        message, frame = max_size
    else:
        message, frame = max_size, max_size
    message_limit = message if message is not None else SIZE_MAX
    frame_limit = frame if frame is not None else message_limit
    return message_limit, min(frame_limit, message_limit, U64_MAX)


def read_ahead(conn: Connection, max_size: MaxSize) -> Connection:
    """`conn`, its driver told whether to receive batches ahead of the
    caller (see Driver.batch_ahead): when `max_size` bounds messages to
    BATCH_BOUND."""
    driver_of(conn).batch_ahead = limits(max_size)[0] <= BATCH_BOUND
    return conn


def start_connection(
    uri: str,
    *,
    origin: Optional[str],
    subprotocols: Optional[Sequence[str]],
    compression: Optional[str],
    additional_headers: HeadersLike,
    user_agent_header: Optional[str],
    open_timeout: Optional[float],
    ping_interval: Optional[float],
    ping_timeout: Optional[float],
    close_timeout: Optional[float],
    max_size: MaxSize,
    tls: Dict[str, Any],
    deflate: Any = None,
    compression_level: Optional[int] = None,
    logger: LoggerLike = None,
    proxy: Optional[Proxy] = None,
    stream: Any = None,
) -> Opening:
    """Start connecting (see :func:`opened` for the result): over `stream`
    (the caller's transport) when given, else by the library (through
    `proxy`, if any)."""
    if compression not in (None, "deflate"):
        raise ValueError(f"unsupported compression: {compression!r}")
    headers = pairs(additional_headers)  # a Headers' repeated names kept
    if user_agent_header is not None and not any(n.lower() == "user-agent" for n, _ in headers):
        headers.append(("User-Agent", user_agent_header))
    message_limit, frame_limit = limits(max_size)
    if stream is not None:
        tls = {}  # TLS is Python's (see _transport)
    offer = {"client_max_window_bits": True} if compression == "deflate" else None
    opening = start(
        uri,
        deflate=deflate if deflate is not None else offer,
        compression_level=compression_level,
        headers=headers,
        origin=origin,
        subprotocols=list(subprotocols) if subprotocols is not None else None,
        connect_timeout=open_timeout,
        handshake_timeout=open_timeout,
        close_timeout=close_timeout,
        max_message_size=message_limit,
        max_frame_size=frame_limit,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        logger=logger,
        proxy=None if proxy is None else proxy.url,
        stream=stream,
        **tls,
    )
    if stream is None:
        # The request the library sends, but for its Sec-WebSocket-Key (see
        # handshake_of); over the caller's transport it is seen whole.
        opening.request_headers = _request_headers(
            uri, origin, subprotocols, _deflate_offers(deflate if deflate is not None else offer), headers
        )
    return opening


def _request_headers(
    uri: str,
    origin: Optional[str],
    subprotocols: Optional[Sequence[str]],
    offers: List[str],
    headers: List[Tuple[str, str]],
) -> List[Tuple[str, str]]:
    """The opening request's headers as the library writes them, in its
    order, without Sec-WebSocket-Key (which it does not tell)."""
    target = target_of(uri)
    host = f"[{target.host}]" if ":" in target.host else target.host
    if target.port != (443 if target.secure else 80):
        host = f"{host}:{target.port}"
    out = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")]
    if origin is not None:
        out.append(("Origin", origin))
    if subprotocols:
        out.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if offers:
        out.append(("Sec-WebSocket-Extensions", ", ".join(
            "permessage-deflate" + (f"; {o}" if o else "") for o in offers
        )))
    return out + list(headers)


def opened(result: Union[Connection, HTTPResponse]) -> Connection:
    """The connection of a finished Opening; InvalidStatus for a non-101 answer."""
    if isinstance(result, HTTPResponse):
        raise InvalidStatus(result)
    return result


def addresses(conn: Connection) -> Tuple[Any, Any]:
    """(local, remote) socket addresses of `conn` (None where there is none)."""
    driver = driver_of(conn)
    stream = getattr(driver, "stream", None)
    if stream is not None and stream.sock is not None:
        s = stream.sock
        return _name(s.getsockname), _name(s.getpeername)
    fd = conn.fileno()
    if fd < 0:
        return None, None
    with socket.socket(fileno=os.dup(fd)) as s:
        return _name(s.getsockname), _name(s.getpeername)


def _name(get: Any) -> Any:
    try:
        return get()
    except OSError:
        return None


def handshake_of(conn: Connection, uri: str, headers: Sequence[Tuple[str, str]]) -> Tuple[Request, Response]:
    """The opening handshake's request and response: as they went by over
    the caller's transport; over the library's socket, the request as it was
    asked for and the response's headers the library kept."""
    stream = getattr(driver_of(conn), "stream", None)
    if stream is not None and stream.request is not None and stream.response is not None:
        return stream.request, stream.response
    return Request(_path_of(uri), Headers(headers)), Response(101, "Switching Protocols", Headers(conn.response_headers()))


def _path_of(uri: str) -> str:
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def closed_exception(conn: Connection, sent: Optional[Close], rcvd_then_sent: Optional[bool]) -> ConnectionClosed:
    """The ConnectionClosed for `conn` from what it received and `sent`."""
    code = conn.peer_close_code
    rcvd = None if code is None else Close(code, conn.peer_close_reason or "")
    if rcvd is not None and sent is None and rcvd_then_sent is None:
        # The library answered the server's close with the same code.
        sent, rcvd_then_sent = Close(rcvd.code, ""), True
    return ConnectionClosed.make(rcvd, sent, rcvd_then_sent)
