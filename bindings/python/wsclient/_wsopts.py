"""connect() options of the websockets-style APIs, translated to those of
the egg-flavoured :func:`wsclient.connect`, whose Opening both start."""

from __future__ import annotations

import os
import socket
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from ._connect import start
from ._connection import Connection
from ._observe import LoggerLike
from ._opening import Opening
from ._response import HTTPResponse
from ._util import SIZE_MAX, U64_MAX
from .exceptions import Close, ConnectionClosed, InvalidStatus

USER_AGENT = "libwsclient-python/0.1.0"

HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


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
    max_size: Optional[int],
    tls: Dict[str, Any],
    deflate: Any = None,
    compression_level: Optional[int] = None,
    logger: LoggerLike = None,
) -> Opening:
    """Start connecting (see :func:`opened` for the result)."""
    if compression not in (None, "deflate"):
        raise ValueError(f"unsupported compression: {compression!r}")
    headers = list(additional_headers.items()) if isinstance(additional_headers, Mapping) else list(additional_headers or [])
    if user_agent_header is not None and not any(n.lower() == "user-agent" for n, _ in headers):
        headers.append(("User-Agent", user_agent_header))
    limit = max_size if max_size is not None else SIZE_MAX
    return start(
        uri,
        deflate=deflate if deflate is not None else {"client_max_window_bits": True} if compression == "deflate" else None,
        compression_level=compression_level,
        headers=headers,
        origin=origin,
        subprotocols=list(subprotocols) if subprotocols is not None else None,
        connect_timeout=open_timeout,
        handshake_timeout=open_timeout,
        close_timeout=close_timeout,
        max_message_size=limit,
        max_frame_size=min(limit, U64_MAX),
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        logger=logger,
        **tls,
    )


def opened(result: Union[Connection, HTTPResponse]) -> Connection:
    """The connection of a finished Opening; InvalidStatus for a non-101 answer."""
    if isinstance(result, HTTPResponse):
        raise InvalidStatus(result)
    return result


def addresses(conn: Connection) -> Tuple[Any, Any]:
    """(local, remote) socket addresses of `conn`."""
    with socket.socket(fileno=os.dup(conn.fileno())) as s:
        return s.getsockname(), s.getpeername()


def closed_exception(conn: Connection, sent: Optional[Close], rcvd_then_sent: Optional[bool]) -> ConnectionClosed:
    """The ConnectionClosed for `conn` from what it received and `sent`."""
    code = conn.peer_close_code
    rcvd = None if code is None else Close(code, conn.peer_close_reason or "")
    if rcvd is not None and sent is None and rcvd_then_sent is None:
        # The library answered the server's close with the same code.
        sent, rcvd_then_sent = Close(rcvd.code, ""), True
    return ConnectionClosed.make(rcvd, sent, rcvd_then_sent)
