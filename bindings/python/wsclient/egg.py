"""The API of the CHICKEN egg ``ws-client`` (its names): connect()
returning a Connection or the server's HTTPResponse, Message and Frame
objects, the reason-name table, and the egg's two kinds of error. The same
names are also in :mod:`wsclient` itself, where they have always been::

    from wsclient.egg import connect, is_ws_connection

New code that wants str/bytes messages and exceptions at the close, as in
websockets, uses :mod:`wsclient.sync.client` or :mod:`wsclient.asyncio.client`.
"""

from ._connect import connect
from ._connection import Connection, is_ws_connection
from ._errors import (
    CertificateVerifyError,
    HandshakeError,
    HandshakeRejected,
    InternalError,
    InvalidArgument,
    InvalidState,
    InvalidURI,
    NetworkError,
    NotFound,
    TLSError,
    WebSocketError,
    WebSocketException,
    WebSocketFailure,
    WebSocketTimeout,
    WouldBlock,
)
from ._message import (
    Frame,
    Message,
    close_code_to_reason,
    opcode_to_optype,
    optype_to_opcode,
    reason_to_close_code,
    reason_to_close_code_int,
)
from ._response import HTTPResponse

__all__ = [
    "connect",
    "is_ws_connection",
    "Connection",
    "HTTPResponse",
    "Message",
    "Frame",
    "opcode_to_optype",
    "optype_to_opcode",
    "reason_to_close_code",
    "reason_to_close_code_int",
    "close_code_to_reason",
    "WebSocketError",
    "WebSocketFailure",
    "WebSocketException",
    "InvalidArgument",
    "NotFound",
    "InvalidState",
    "WebSocketTimeout",
    "WouldBlock",
    "NetworkError",
    "TLSError",
    "CertificateVerifyError",
    "HandshakeError",
    "InvalidURI",
    "HandshakeRejected",
    "InternalError",
]
