"""Received messages as plain ``str``/``bytes``, for the websockets-style
APIs: one copy from the library's memory into the Python object, then the
library's message is freed at once (no Message wrapper kept alive)."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional, Union

from . import _ffi

Data = Union[str, bytes]


def _pythonapi(name: str, restype: Any, argtypes: Any) -> Optional[Callable[..., Any]]:
    """A C-API function called with the GIL held (ctypes.pythonapi is a PyDLL)."""
    try:
        fn = getattr(ctypes.pythonapi, name)
    except AttributeError:  # pragma: no cover - not CPython
        return None
    fn.restype = restype
    fn.argtypes = argtypes
    result: Callable[..., Any] = fn
    return result


# str straight from the library's UTF-8 (validated there already): one copy
# instead of bytes-then-decode.
_decode_utf8 = _pythonapi("PyUnicode_DecodeUTF8", ctypes.py_object, [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_char_p])
_message_type = _ffi.message_type_at
_message_data = _ffi.message_data_at
_message_size = _ffi.message_size_at
_message_free = _ffi.message_free_at


def take(msg: int, decode: Optional[bool] = None) -> Data:
    """The data of the message at address `msg` (a ``ws_message *`` the
    caller owns, as :meth:`Driver.receive` gives it; freed here): str for a
    text message and bytes for a binary one, unless `decode` says otherwise
    (False: always bytes; True: always str)."""
    try:
        text = _message_type(msg) == _ffi.WS_MESSAGE_TEXT
        size = int(_message_size(msg))
        if not size:
            return "" if (text if decode is None else decode) else b""
        address = _message_data(msg)
        if (text and decode is not False) or decode:
            if _decode_utf8 is not None:
                result: str = _decode_utf8(address, size, b"strict")
                return result
            return ctypes.string_at(address, size).decode("utf-8")
        return ctypes.string_at(address, size)
    finally:
        _message_free(msg)


def discard(msg: int) -> None:
    """Free the message at address `msg` unread."""
    _message_free(msg)


def encode(message: Any, text: Optional[bool]) -> "tuple[int, bytes]":
    """(message type, payload) for send(): str is text, bytes-like binary,
    unless `text` says otherwise."""
    if isinstance(message, str):
        raw = message.encode("utf-8")
        kind = _ffi.WS_MESSAGE_BINARY if text is False else _ffi.WS_MESSAGE_TEXT
    elif isinstance(message, (bytes, bytearray, memoryview)):
        raw = message if isinstance(message, bytes) else bytes(message)
        kind = _ffi.WS_MESSAGE_TEXT if text else _ffi.WS_MESSAGE_BINARY
    else:
        raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")
    return kind, raw
