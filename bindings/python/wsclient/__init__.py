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
``libwsclient.so.0.1``) and loaded on first use of a name that needs it:
``import wsclient.exceptions`` and the exception classes here do not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, List

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
from ._response import HTTPResponse

if TYPE_CHECKING:  # pragma: no cover - what __getattr__ loads, for type checkers
    from ._connect import connect
    from ._connection import Connection, is_ws_connection
    from ._message import (
        Frame,
        Message,
        close_code_to_reason,
        opcode_to_optype,
        optype_to_opcode,
        reason_to_close_code,
        reason_to_close_code_int,
    )

#: Names that need the library: imported (and it loaded) on first use.
_LAZY = {
    "connect": "._connect",
    "Connection": "._connection",
    "is_ws_connection": "._connection",
    "Frame": "._message",
    "Message": "._message",
    "close_code_to_reason": "._message",
    "opcode_to_optype": "._message",
    "optype_to_opcode": "._message",
    "reason_to_close_code": "._message",
    "reason_to_close_code_int": "._message",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    from . import _ffi

    return _ffi.version()


def library_path() -> str:
    """The path or name libwsclient was loaded from."""
    from . import _ffi

    return _ffi.library_path
