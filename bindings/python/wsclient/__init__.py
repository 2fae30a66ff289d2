"""wsclient: a WebSocket client (RFC 6455, permessage-deflate RFC 7692) over
libwsclient (distribution ``libwsclient``), with three APIs:

- :mod:`wsclient.sync.client` and :mod:`wsclient.asyncio.client`: the API of
  ``websockets`` (str/bytes messages, ConnectionClosed at the close, see
  :mod:`wsclient.exceptions`)::

      from wsclient.sync.client import connect

      with connect("ws://localhost:9001") as ws:
          ws.send("hello")
          print(ws.recv())

- :mod:`wsclient.egg` (also here at the top level): the API of the CHICKEN
  egg ``ws-client`` (Message and Frame objects, its reason names).

The library is found by :mod:`wsclient._loader` (the copy bundled in the
wheel, ``WSCLIENT_LIBRARY``, the in-tree build, then the SONAME
``libwsclient.so.0.1``).
"""

from __future__ import annotations

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
    ProxyError,
    TLSError,
    WebSocketError,
    WebSocketException,
    WebSocketFailure,
    WebSocketTimeout,
    WouldBlock,
)
from ._ffi import library_path as _library_path
from ._ffi import version as _library_version
from ._connect import connect
from ._connection import Connection, HTTPResponse, is_ws_connection
from ._message import (
    Frame,
    Message,
    close_code_to_reason,
    opcode_to_optype,
    optype_to_opcode,
    reason_to_close_code,
    reason_to_close_code_int,
)

__version__ = "0.1.0"

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
    "library_version",
    "library_path",
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
    "ProxyError",
    "InternalError",
]


def library_version() -> str:
    """The version of the loaded libwsclient (``ws_version()``)."""
    return _library_version()


def library_path() -> str:
    """The path or name libwsclient was loaded from."""
    return _library_path
