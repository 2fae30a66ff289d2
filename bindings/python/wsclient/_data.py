"""Received messages as plain ``str``/``bytes``, for the websockets-style
APIs: one copy from the library's memory into the Python object, then the
library's message is freed at once (no Message wrapper kept alive)."""

from __future__ import annotations

import codecs
import ctypes
import itertools
from collections.abc import Iterator as _Iterator
from collections.abc import Sized as _Sized
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, Union

from . import _ffi

Data = Union[str, bytes]
#: A piece of a received message, as :meth:`Driver.receive_piece` gives
#: it: (WS_MESSAGE_TEXT or WS_MESSAGE_BINARY, its data, whether it ends
#: the message).
Piece = Tuple[int, bytes, bool]
_TEXT = _ffi.WS_MESSAGE_TEXT


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


# ---------------------------------------------------------------- received pieces


def whole_piece(msg: int) -> Piece:
    """The message at address `msg` (freed here) as one piece, for a
    library without ws_recv_part."""
    try:
        size = int(_message_size(msg))
        data = ctypes.string_at(_message_data(msg), size) if size else b""
        return (int(_message_type(msg)), data, True)
    finally:
        _message_free(msg)


def split_piece(kind: int, data: bytes, most: int) -> Iterator[bytes]:
    """`data` (a whole message of type `kind`, received whole) cut in pieces
    of at most `most` bytes (at least 4), text pieces ending between
    characters, as ws_recv_part would hand them out; each made when asked
    for."""
    size = len(data)
    if size <= most:
        yield data
        return
    view, at = memoryview(data), 0
    while at < size:
        end = min(at + most, size)
        if kind == _TEXT:
            while end < size and data[end] & 0xC0 == 0x80:  # inside a character
                end -= 1
        yield bytes(view[at:end])
        at = end


def assemble(kind: int, chunks: List[bytes], decode: Optional[bool]) -> Data:
    """A message of type `kind` from its pieces' data, as recv() returns
    it (`decode` as for :func:`take`)."""
    return convert(kind, chunks[0] if len(chunks) == 1 else b"".join(chunks), decode)


def convert(kind: int, raw: bytes, decode: Optional[bool]) -> Data:
    """A message of type `kind` with data `raw`, as recv() returns it
    (`decode` as for :func:`take`)."""
    if (kind == _TEXT and decode is not False) or decode:
        return raw.decode("utf-8")
    return raw


class PieceDecoder:
    """What recv_streaming() yields for each piece of a message of type
    `kind`: bytes, or str for text (each text piece ends between characters,
    so it decodes alone); `decode` as in websockets (False: bytes for text
    too; True: str for binary too, decoded incrementally, since a binary
    piece may end inside a character)."""

    __slots__ = ("to_str", "incremental")

    def __init__(self, kind: int, decode: Optional[bool]) -> None:
        text = kind == _TEXT
        self.to_str = text if decode is None else bool(decode)
        self.incremental = codecs.getincrementaldecoder("utf-8")() if self.to_str and not text else None

    def __call__(self, data: bytes, last: bool) -> Data:
        if not self.to_str:
            return data
        if self.incremental is not None:
            result: str = self.incremental.decode(data, last)
            return result
        return data.decode("utf-8")


# ---------------------------------------------------------------- fragments to send

#: How far send() reads ahead in an iterator of fragments (whose size it
#: cannot know otherwise) to learn the size of the message: a message that
#: ends within it goes out through ws_send_part (compressed with
#: permessage-deflate); a longer one as one frame per fragment.
LOOKAHEAD = 1 << 20

_END: Any = object()
_BYTES_LIKE = (bytes, bytearray, memoryview)


def first_fragment(item: Any, text: Optional[bool]) -> Tuple[bool, int]:
    """(whether the fragments are str, the message's type) from the first
    fragment, as websockets decides (`text` overrides)."""
    if isinstance(item, str):
        return True, _ffi.WS_MESSAGE_BINARY if text is False else _TEXT
    if isinstance(item, _BYTES_LIKE):
        return False, _TEXT if text else _ffi.WS_MESSAGE_BINARY
    raise TypeError("iterable must contain bytes or str")


def fragment_bytes(item: Any, is_str: bool) -> bytes:
    """A fragment's bytes; TypeError when its type is not that of the first."""
    if is_str:
        if isinstance(item, str):
            return item.encode("utf-8")
    elif isinstance(item, bytes):
        return item
    elif isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    raise TypeError("iterable must contain uniform types")


def fragment_size(item: Any, is_str: bool) -> int:
    """The size of a fragment's bytes, without keeping them."""
    if is_str:
        if isinstance(item, str):
            return len(item) if item.isascii() else len(item.encode("utf-8"))
    elif isinstance(item, (bytes, bytearray)):
        return len(item)
    elif isinstance(item, memoryview):
        return item.nbytes
    raise TypeError("iterable must contain uniform types")


def plan_fragments(message: Iterable[Any], text: Optional[bool]) -> Optional[Tuple[int, Optional[int], Iterator[bytes]]]:
    """How send() sends an iterable of fragments as one message: None when
    it is empty (nothing is sent, as in websockets); else (type, total,
    chunks), `chunks` the fragments' bytes in order. `total` is the
    message's size when it is known ahead: for a sized collection, which is
    iterated twice (sizes first), or an iterator that ends within
    LOOKAHEAD bytes; then `chunks` add up to it. None for a longer iterator.
    Fragments of mixed types raise TypeError before anything is sent, except
    in an iterator past LOOKAHEAD (then while iterating `chunks`)."""
    if isinstance(message, _Sized) and not isinstance(message, _Iterator):
        items = iter(message)
        first = next(items, _END)
        if first is _END:
            return None
        is_str, kind = first_fragment(first, text)
        total = fragment_size(first, is_str) + sum(fragment_size(item, is_str) for item in items)
        return kind, total, (fragment_bytes(item, is_str) for item in message)
    items = iter(message)
    first = next(items, _END)
    if first is _END:
        return None
    is_str, kind = first_fragment(first, text)
    head = [fragment_bytes(first, is_str)]
    size = len(head[0])
    while size <= LOOKAHEAD:
        item = next(items, _END)
        if item is _END:
            return kind, size, iter(head)
        raw = fragment_bytes(item, is_str)
        head.append(raw)
        size += len(raw)
    return kind, None, itertools.chain(head, (fragment_bytes(item, is_str) for item in items))
