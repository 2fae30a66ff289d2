"""The exception hierarchy, one for every API of the binding, exported by
:mod:`wsclient.exceptions` (where the classes say they live, so that a
traceback names ``wsclient.exceptions.NetworkError``, not this module).

The names are those of ``websockets.exceptions`` where websockets has the
class, and each class also subclasses what a websockets program catches
(``OSError``, ``ssl.SSLError``, ``TimeoutError``, ...)::

    WebSocketException (alias: WebSocketError)      .result, .message
    ├── ConnectionClosed ... (in wsclient.exceptions)
    ├── WebSocketFailure                the server broke the protocol; the library
    │   │                               sent it a close frame (.code, .reason)
    │   ├── ProtocolError               1002, 1007, 1010
    │   └── PayloadTooBig               1009: a message or frame over the limit
    ├── InvalidURI (ValueError)
    ├── InvalidProxy (ValueError)       the proxy's URL
    ├── InvalidHandshake (alias: HandshakeError)
    │   ├── InvalidMessage              a malformed answer, or none (the server closed)
    │   ├── InvalidHeader               a 101 answer without the right headers
    │   ├── NegotiationError            an extension or subprotocol not offered
    │   ├── SecurityError               a redirect refused (wss -> ws, too many)
    │   ├── HandshakeRejected           an HTTPResponse used as a connection (egg API)
    │   │   └── InvalidStatus           .response (in wsclient.exceptions)
    │   └── ProxyError                  .response: the proxy's answer, if any
    │       ├── InvalidProxyMessage     a malformed answer, or none
    │       └── InvalidProxyStatus      a refusal (407, 403, 502, ...)
    ├── InvalidState (AssertionError)   use after close, send while closing
    ├── ConcurrencyError (RuntimeError) two recv() at once, a stream interrupted
    ├── InvalidArgument (ValueError)
    │   └── NotFound (LookupError)
    ├── WebSocketTimeout (TimeoutError)
    ├── WouldBlock (BlockingIOError)
    ├── NetworkError (ConnectionError)  .errno when the system gave one
    │   ├── NameResolutionError (socket.gaierror)
    │   ├── ConnectionRefused (ConnectionRefusedError)
    │   └── ConnectionReset (ConnectionResetError)
    ├── TLSError (ssl.SSLError)
    │   └── CertificateVerifyError (ssl.SSLCertVerificationError)
    └── InternalError                   a panic caught inside the library

The ws-client egg's two kinds of condition are: a *fail*
(:class:`WebSocketFailure`: a close frame was sent) and an *exn* (every
other class).

Every exception carries ``.result`` (the C library's ``WS_*`` result code,
``0`` when the error was detected in Python) and ``.message`` (the detail,
from ``ws_last_error_message()``). Wrong Python types raise plain
:class:`TypeError`, and out-of-range values plain :class:`ValueError`,
before anything reaches the C library.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from ._response import HTTPResponse

#: Where the classes say they live (see the module's docstring).
PUBLIC_MODULE = "wsclient.exceptions"


class WebSocketException(Exception):
    """Base class of every error raised by wsclient (websockets' name)."""

    #: The C library's result code (``WS_ERR_*``), 0 if raised by Python code.
    result: int
    #: The detail message.
    message: str

    def __init__(self, message: str = "", *, result: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


#: The binding's older name for the root, the same class.
WebSocketError = WebSocketException


class WebSocketFailure(WebSocketException):
    """A *fail* (the egg's ``(exn websocket fail)``).

    The server violated the protocol; the library has sent it a close frame
    with :attr:`code` and closed the connection. :attr:`reason` is the
    ws-client egg's symbol name of the code (``"protocol-error"`` for 1002,
    ``"invalid-frame-payload-data"`` for 1007, ``"message-too-big"`` for
    1009, ``"mandatory-ext"`` for 1010).
    """

    #: The close code sent to the server.
    code: int
    #: The ws-client egg's reason name for :attr:`code`, or None if it has none.
    reason: Optional[str]

    def __init__(
        self, message: str = "", *, result: int = 0, code: int = 0, reason: Optional[str] = None
    ) -> None:
        super().__init__(message, result=result)
        self.code = code
        self.reason = reason


class ProtocolError(WebSocketFailure):
    """The server broke the protocol (a bad frame, invalid UTF-8 in a text
    message, a missing extension): the library closed with 1002, 1007 or
    1010. The websockets-style APIs raise ConnectionClosedError with this as
    its ``__cause__``, as websockets does."""


class PayloadTooBig(WebSocketFailure):
    """A message or frame from the server was larger than the limit
    (``max_size``); the library closed with 1009."""


class InvalidArgument(WebSocketException, ValueError):
    """The library rejected an argument (e.g. a header name that is not a token)."""


class NotFound(InvalidArgument, LookupError):
    """A map lookup (opcode, optype, reason, close code) found nothing."""


class InvalidState(WebSocketException, AssertionError):
    """The call does not fit the connection's state (closed, closing)."""


class ConcurrencyError(WebSocketException, RuntimeError):
    """Receives that cannot go together (websockets' name): two ``recv()``
    (or ``recv_streaming()``) at once on one connection, from two threads or
    two asyncio tasks; or a ``recv_streaming()`` iterator resumed after the
    thread or task iterating it called ``recv()`` or ``recv_streaming()`` in
    the middle of its message, which took the connection's turn to receive
    and skipped the rest of that message."""


class WebSocketTimeout(WebSocketException, TimeoutError):
    """A timeout expired. After a read timeout the connection is still usable."""


class WouldBlock(WebSocketException, BlockingIOError):
    """Non-blocking mode: no complete message or frame yet; the connection is
    usable. Wait until :meth:`Connection.fileno` is readable and call again."""


class NetworkError(WebSocketException, ConnectionError):
    """Name resolution, TCP connect, or the socket failed; the connection is
    lost. ``errno`` is the system's error number when it gave one (e.g.
    ``errno.ECONNREFUSED``)."""

    def __init__(self, message: str = "", *, result: int = 0) -> None:
        super().__init__(message, result=result)
        number = _os_error(message)
        if number is not None:
            self.errno = number
            self.strerror = message


class NameResolutionError(NetworkError, socket.gaierror):
    """The server's (or the proxy's) name did not resolve."""


class ConnectionRefused(NetworkError, ConnectionRefusedError):
    """The server (or proxy) refused the TCP connection (``ECONNREFUSED``)."""


class ConnectionReset(NetworkError, ConnectionResetError):
    """The peer reset the connection (``ECONNRESET``)."""


class TLSError(WebSocketException, ssl.SSLError):
    """TLS failed."""


class CertificateVerifyError(TLSError, ssl.SSLCertVerificationError):
    """The server's certificate did not verify (unknown CA, wrong host name,
    ...). ``verify_message`` is the library's detail, as ssl's is."""

    def __init__(self, message: str = "", *, result: int = 0) -> None:
        super().__init__(message, result=result)
        self.verify_message = message
        self.verify_code = 0


class InvalidURI(WebSocketException, ValueError):
    """The URI is not a valid ws:// or wss:// URI."""


class InvalidProxy(WebSocketException, ValueError):
    """The proxy's URL is not valid (or its scheme not supported)."""


class InvalidHandshake(WebSocketException):
    """The opening handshake failed."""


#: The binding's older name, the same class.
HandshakeError = InvalidHandshake


class InvalidMessage(InvalidHandshake):
    """The server's answer to the opening handshake was malformed, too
    large, or never came (the server closed the connection first)."""


class InvalidHeader(InvalidHandshake):
    """The server's 101 answer lacks a header the handshake needs, or has a
    wrong one (``Upgrade``, ``Connection``, ``Sec-WebSocket-Accept``)."""


class NegotiationError(InvalidHandshake):
    """The server chose an extension or subprotocol that was not offered, or
    parameters that were not allowed."""


class SecurityError(InvalidHandshake):
    """A redirect was refused: from wss:// to ws://, or too many of them."""


class HandshakeRejected(InvalidHandshake):
    """The server answered the handshake with an HTTP status other than 101.

    :func:`wsclient.connect` *returns* an :class:`~wsclient.HTTPResponse` in
    that case, as the egg does; this exception is raised only when that
    response is used as a connection (``with connect(...) as conn``) or by
    :meth:`HTTPResponse.raise_for_status`.
    """

    #: The server's response.
    response: "HTTPResponse"

    def __init__(self, response: "HTTPResponse") -> None:
        super().__init__(
            f"the server answered the handshake with HTTP {response.status} {response.reason}",
            result=1,
        )
        self.response = response


class ProxyError(InvalidHandshake):
    """The proxy did not open the tunnel. ``.response`` is the proxy's answer
    (an HTTPResponse) when it sent one."""

    #: The proxy's response, if it sent one.
    response: Optional["HTTPResponse"] = None


class InvalidProxyMessage(ProxyError):
    """The proxy's answer was malformed, or the proxy closed the connection
    (or a SOCKS proxy answered with an error)."""


class InvalidProxyStatus(ProxyError):
    """The HTTP proxy refused the tunnel (407: credentials missing or wrong;
    403, 502, ...); ``.response`` is its answer."""


class InternalError(WebSocketException):
    """The library caught an internal panic. Please report it."""


#: Result code -> exception class for the *exn* codes.
_EXN_BY_RESULT: Dict[int, Type[WebSocketException]] = {
    -1: InvalidArgument,  # WS_ERR_NULL_ARGUMENT
    -2: InvalidArgument,  # WS_ERR_INVALID_ARGUMENT
    -3: InvalidState,  # WS_ERR_INVALID_STATE
    -4: InternalError,  # WS_ERR_PANIC
    -5: NotFound,  # WS_ERR_NOT_FOUND
    -10: NetworkError,  # WS_ERR_IO
    -11: WebSocketTimeout,  # WS_ERR_TIMEOUT
    -12: NameResolutionError,  # WS_ERR_RESOLVE
    -13: NetworkError,  # WS_ERR_CONNECT
    -14: NetworkError,  # WS_ERR_CONNECTION_LOST
    -15: WouldBlock,  # WS_ERR_WOULD_BLOCK
    -20: TLSError,  # WS_ERR_TLS
    -21: CertificateVerifyError,  # WS_ERR_TLS_VERIFY
    -30: InvalidURI,  # WS_ERR_URI
    -31: InvalidHeader,  # WS_ERR_HANDSHAKE (InvalidMessage: see exception_for)
    -32: NegotiationError,  # WS_ERR_NEGOTIATION
    -33: SecurityError,  # WS_ERR_REDIRECT
    -34: InvalidProxyMessage,  # WS_ERR_PROXY (InvalidProxyStatus with a response)
}

#: Result code -> class for the *fail* codes (others: WebSocketFailure).
_FAIL_BY_RESULT: Dict[int, Type[WebSocketFailure]] = {
    -40: ProtocolError,  # WS_ERR_PROTOCOL
    -41: ProtocolError,  # WS_ERR_INVALID_PAYLOAD
    -50: PayloadTooBig,  # WS_ERR_MESSAGE_TOO_BIG
}

#: ECONNREFUSED, ECONNRESET -> the NetworkError that is also the OSError
#: subclass Python raises for them.
_NETWORK_BY_ERRNO: Dict[int, Type[NetworkError]] = {
    errno.ECONNREFUSED: ConnectionRefused,
    errno.ECONNRESET: ConnectionReset,
}

# The library's texts (Rust's io::Error): "... (os error 111)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")

# The library's texts for a handshake answer that is malformed or missing.
_MALFORMED = ("malformed HTTP response", "handshake response exceeds", "the server closed the connection")


def _os_error(message: str) -> Optional[int]:
    found = _OS_ERROR.findall(message)
    return int(found[-1]) if found else None


def exception_class(result: int) -> Type[WebSocketException]:
    """The *exn* class for a result code (WebSocketException if unknown)."""
    return _EXN_BY_RESULT.get(result, WebSocketException)


def exception_for(result: int, message: str) -> WebSocketException:
    """The *exn* for a result code and the library's message: the class by
    code, refined by the message where the code covers several of
    websockets' cases (a refused TCP connect, a malformed answer)."""
    cls = exception_class(result)
    if cls is NetworkError:
        number = _os_error(message)
        if number is not None:
            cls = _NETWORK_BY_ERRNO.get(number, NetworkError)
    elif cls is InvalidHeader and message.startswith(_MALFORMED):
        cls = InvalidMessage
    return cls(message, result=result)


def failure_class(result: int) -> Type[WebSocketFailure]:
    """The *fail* class for a result code."""
    return _FAIL_BY_RESULT.get(result, WebSocketFailure)


for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, WebSocketException) and _cls.__module__ == __name__:
        _cls.__module__ = PUBLIC_MODULE
