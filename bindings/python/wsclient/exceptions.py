"""The exceptions of every API of wsclient, one hierarchy, named as in
``websockets.exceptions`` so that ``except
websockets.exceptions.ConnectionClosedOK`` ports by changing the import
only, and subclassing what a websockets program catches besides (a refused
connection is a ``ConnectionRefusedError``, an untrusted certificate an
``ssl.SSLCertVerificationError``, a timeout a ``TimeoutError``)::

    WebSocketException (alias: WebSocketError)
    ├── ConnectionClosed            .rcvd, .sent (Close or None), .code, .reason
    │   ├── ConnectionClosedOK      both sides closed with 1000, 1001 or 1005
    │   └── ConnectionClosedError   anything else (a protocol error, 1006, ...)
    ├── WebSocketFailure            the server broke the protocol (the egg's *fail*)
    │   ├── ProtocolError
    │   └── PayloadTooBig
    ├── InvalidURI (ValueError)
    ├── InvalidProxy (ValueError)
    ├── InvalidHandshake (alias: HandshakeError)
    │   ├── InvalidMessage, InvalidHeader, NegotiationError, SecurityError
    │   ├── HandshakeRejected
    │   │   └── InvalidStatus       .response: the server's non-101 answer
    │   └── ProxyError
    │       ├── InvalidProxyMessage
    │       └── InvalidProxyStatus  .response: the proxy's answer
    ├── InvalidState (AssertionError)
    ├── ConcurrencyError (RuntimeError)   two recv() at once; a recv_streaming() iterator
    │                                     resumed after its thread or task received otherwise
    ├── InvalidArgument (ValueError), NotFound (LookupError)
    ├── WebSocketTimeout (TimeoutError), WouldBlock (BlockingIOError)
    ├── NetworkError (ConnectionError)
    │   ├── NameResolutionError (socket.gaierror)
    │   ├── ConnectionRefused (ConnectionRefusedError)
    │   └── ConnectionReset (ConnectionResetError)
    ├── TLSError (ssl.SSLError)
    │   └── CertificateVerifyError (ssl.SSLCertVerificationError)
    └── InternalError

With ``ssl=`` (an ``ssl.SSLContext``) TLS is Python's, and its errors are
``ssl``'s own (``ssl.SSLCertVerificationError``, ...), as in websockets.
The egg's API (:mod:`wsclient.egg`) raises the same classes; its *fail* is
:class:`WebSocketFailure`, its *exn* any other class.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from ._errors import (
    PUBLIC_MODULE,
    CertificateVerifyError,
    ConcurrencyError,
    ConnectionRefused,
    ConnectionReset,
    HandshakeError,
    HandshakeRejected,
    InternalError,
    InvalidArgument,
    InvalidHandshake,
    InvalidHeader,
    InvalidMessage,
    InvalidProxy,
    InvalidProxyMessage,
    InvalidProxyStatus,
    InvalidState,
    InvalidURI,
    NameResolutionError,
    NegotiationError,
    NetworkError,
    NotFound,
    PayloadTooBig,
    ProtocolError,
    ProxyError,
    SecurityError,
    TLSError,
    WebSocketError,
    WebSocketException,
    WebSocketFailure,
    WebSocketTimeout,
    WouldBlock,
)
from ._response import HTTPResponse
from .http11 import Response

__all__ = [
    "Close",
    "WebSocketException",
    "WebSocketError",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "WebSocketFailure",
    "ProtocolError",
    "PayloadTooBig",
    "InvalidURI",
    "InvalidProxy",
    "InvalidHandshake",
    "HandshakeError",
    "InvalidMessage",
    "InvalidHeader",
    "NegotiationError",
    "SecurityError",
    "HandshakeRejected",
    "InvalidStatus",
    "ProxyError",
    "InvalidProxyMessage",
    "InvalidProxyStatus",
    "InvalidState",
    "ConcurrencyError",
    "InvalidArgument",
    "NotFound",
    "WebSocketTimeout",
    "WouldBlock",
    "NetworkError",
    "NameResolutionError",
    "ConnectionRefused",
    "ConnectionReset",
    "TLSError",
    "CertificateVerifyError",
    "InternalError",
]

#: Close codes that end a connection normally (websockets' OK_CLOSE_CODES).
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


class Close:
    """A close frame: its code (1005 when it had none) and reason text."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Close):
            return NotImplemented
        return (self.code, self.reason) == (other.code, other.reason)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.code} ({self.reason})" if self.reason else str(self.code)

    def __repr__(self) -> str:
        return f"Close(code={self.code}, reason={self.reason!r})"


class ConnectionClosed(WebSocketException):
    """The connection is closed: raised by ``recv()`` and ``send()`` after
    the close, and when it was lost.

    ``rcvd`` is the server's close frame and ``sent`` ours (None when there
    was none, e.g. the TCP connection was lost). ``code``/``reason`` are
    those of ``rcvd`` (1006 and "" without one).
    """

    rcvd: Optional[Close]
    sent: Optional[Close]
    rcvd_then_sent: Optional[bool]

    def __init__(
        self, rcvd: Optional[Close], sent: Optional[Close], rcvd_then_sent: Optional[bool] = None
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.rcvd is None and self.sent is None:
            return "no close frame received or sent"
        if self.rcvd is None:
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    @property
    def code(self) -> int:
        """The server's close code; 1006 if no close frame was received."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The server's close reason; "" if no close frame was received."""
        return "" if self.rcvd is None else self.rcvd.reason

    @staticmethod
    def make(
        rcvd: Optional[Close], sent: Optional[Close], rcvd_then_sent: Optional[bool] = None
    ) -> "ConnectionClosed":
        """ConnectionClosedOK or ConnectionClosedError, as websockets decides."""
        ok = rcvd is not None and sent is not None and rcvd.code in OK_CLOSE_CODES and sent.code in OK_CLOSE_CODES
        cls = ConnectionClosedOK if ok else ConnectionClosedError
        return cls(rcvd, sent, rcvd_then_sent)


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed properly (1000, 1001 or 1005 both ways)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error code, or was lost."""


class InvalidStatus(HandshakeRejected):
    """The server answered the opening handshake with a status other than
    101. ``response`` is the answer, as websockets has it
    (:class:`wsclient.http11.Response`: ``status_code``, ``reason_phrase``,
    ``headers``, a :class:`~wsclient.datastructures.Headers`, ``body``)."""

    response: Any  # a wsclient.http11.Response

    def __init__(self, response: Union[HTTPResponse, Response]) -> None:
        super().__init__(response)  # type: ignore[arg-type]
        self.response = response if isinstance(response, Response) else Response.of(response)
        self.args = (f"server rejected WebSocket connection: HTTP {response.status}",)


for _cls in (Close, ConnectionClosed, ConnectionClosedOK, ConnectionClosedError, InvalidStatus):
    _cls.__module__ = PUBLIC_MODULE
