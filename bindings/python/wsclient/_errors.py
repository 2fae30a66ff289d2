"""The exception hierarchy.

The ws-client egg signals two kinds of condition, and so does this binding::

    WebSocketError                      base of everything raised by wsclient
    ├── WebSocketFailure                a *fail*: the server broke the protocol;
    │                                   the library already sent it a close frame
    │                                   (.code, .reason) and closed the connection
    └── WebSocketException              an *exn*: no close frame was sent
        ├── InvalidArgument (ValueError)        bad argument, caught by the library
        │   └── NotFound (LookupError)          a map lookup found nothing
        ├── InvalidState                        e.g. use after close, send while closing
        ├── WebSocketTimeout (TimeoutError)     a connect/handshake/read/write timeout
        ├── WouldBlock (BlockingIOError)        non-blocking mode: nothing complete yet
        ├── NetworkError (ConnectionError)      resolve, TCP connect, I/O, connection lost
        ├── TLSError
        │   └── CertificateVerifyError          the server's certificate did not verify
        ├── HandshakeError                      invalid handshake response, redirect refused
        │   ├── InvalidURI (ValueError)
        │   └── HandshakeRejected               raised by HTTPResponse (see connect())
        └── InternalError                       a panic caught inside the library

Every exception carries ``.result`` (the C library's ``WS_*`` result code,
``0`` when the error was detected in Python) and ``.message`` (the detail,
from ``ws_last_error_message()``).

Wrong Python types raise plain :class:`TypeError`, and out-of-range values
plain :class:`ValueError`, before anything reaches the C library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from ._response import HTTPResponse


class WebSocketError(Exception):
    """Base class of every error raised by wsclient."""

    #: The C library's result code (``WS_ERR_*``), 0 if raised by Python code.
    result: int
    #: The detail message.
    message: str

    def __init__(self, message: str, *, result: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


class WebSocketFailure(WebSocketError):
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
        self, message: str, *, result: int = 0, code: int = 0, reason: Optional[str] = None
    ) -> None:
        super().__init__(message, result=result)
        self.code = code
        self.reason = reason


class WebSocketException(WebSocketError):
    """An *exn* (the egg's ``(exn websocket exn)``): no close frame was sent."""


class InvalidArgument(WebSocketException, ValueError):
    """The library rejected an argument (e.g. a header name that is not a token)."""


class NotFound(InvalidArgument, LookupError):
    """A map lookup (opcode, optype, reason, close code) found nothing."""


class InvalidState(WebSocketException):
    """The call does not fit the connection's state (closed, closing)."""


class WebSocketTimeout(WebSocketException, TimeoutError):
    """A timeout expired. After a read timeout the connection is still usable."""


class WouldBlock(WebSocketException, BlockingIOError):
    """Non-blocking mode: no complete message or frame yet; the connection is
    usable. Wait until :meth:`Connection.fileno` is readable and call again."""


class NetworkError(WebSocketException, ConnectionError):
    """Name resolution, TCP connect, or the socket failed; the connection is lost."""


class TLSError(WebSocketException):
    """TLS failed."""


class CertificateVerifyError(TLSError):
    """The server's certificate did not verify (unknown CA, wrong host name, ...)."""


class HandshakeError(WebSocketException):
    """The opening handshake failed."""


class InvalidURI(HandshakeError, ValueError):
    """The URI is not a valid ws:// or wss:// URI."""


class HandshakeRejected(HandshakeError):
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


class ProxyError(HandshakeError):
    """The HTTP proxy refused the tunnel (407: credentials missing or wrong;
    403, 502, ...). ``.response`` is the proxy's answer (an HTTPResponse)."""

    #: The proxy's response, if it sent one.
    response: Optional["HTTPResponse"] = None


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
    -12: NetworkError,  # WS_ERR_RESOLVE
    -13: NetworkError,  # WS_ERR_CONNECT
    -14: NetworkError,  # WS_ERR_CONNECTION_LOST
    -15: WouldBlock,  # WS_ERR_WOULD_BLOCK
    -20: TLSError,  # WS_ERR_TLS
    -21: CertificateVerifyError,  # WS_ERR_TLS_VERIFY
    -30: InvalidURI,  # WS_ERR_URI
    -31: HandshakeError,  # WS_ERR_HANDSHAKE
    -33: HandshakeError,  # WS_ERR_REDIRECT
    -34: ProxyError,  # WS_ERR_PROXY
}


def exception_class(result: int) -> Type[WebSocketException]:
    """The *exn* class for a result code (WebSocketException if unknown)."""
    return _EXN_BY_RESULT.get(result, WebSocketException)
