"""Messages, frames, and the egg's opcode/optype and reason/close-code maps."""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Tuple, Union

from . import _ffi
from ._ffi import lib
from ._util import buffer, cstr, integer, type_name

_TYPES = {_ffi.WS_MESSAGE_TEXT: "text", _ffi.WS_MESSAGE_BINARY: "binary"}
_TYPE_CODES = {"text": _ffi.WS_MESSAGE_TEXT, "binary": _ffi.WS_MESSAGE_BINARY}


def _copy(address: Optional[int], size: int) -> bytes:
    if not size or not address:
        return b""
    return ctypes.string_at(address, size)


# ---------------------------------------------------------------- maps


def opcode_to_optype(opcode: int) -> str:
    """The optype of `opcode` (the egg's ``opcode->optype``).

    ``0x0`` "continuation", ``0x1`` "text", ``0x2`` "binary",
    ``0x8`` "connection-close", ``0x9`` "ping", ``0xA`` "pong".
    Raises :class:`~wsclient.NotFound` for a reserved opcode.
    """
    integer(opcode, "opcode", 0, 15)
    return str(lib.ws_opcode_to_optype(opcode).decode("ascii"))


def optype_to_opcode(optype: str) -> int:
    """The opcode of `optype` (the egg's ``optype->opcode``); NotFound if unknown."""
    return int(lib.ws_optype_to_opcode(cstr(optype, "optype")))


def reason_to_close_code_int(reason: str) -> int:
    """The close code of `reason` as an int (``"normal-closure"`` -> 1000)."""
    return int(lib.ws_reason_to_close_code(cstr(reason, "reason")))


def reason_to_close_code(reason: str) -> bytes:
    """The close code of `reason` as 2 big-endian bytes, as the egg's
    ``reason->close-code`` returns a u8vector (``"normal-closure"`` ->
    ``b"\\x03\\xe8"``), ready to put into a close frame's payload.
    Raises :class:`~wsclient.NotFound` for an unknown reason."""
    return reason_to_close_code_int(reason).to_bytes(2, "big")


def close_code_to_reason(code: Union[int, bytes, bytearray]) -> str:
    """The reason name of close `code` (the egg's ``close-code->reason``).

    `code` is an int or the 2-byte form returned by
    :func:`reason_to_close_code`. Raises :class:`~wsclient.NotFound` for a
    code outside the egg's table.
    """
    if isinstance(code, (bytes, bytearray)):
        if len(code) != 2:
            raise ValueError(f"a close code in bytes form has 2 bytes, got {len(code)}")
        code = int.from_bytes(code, "big")
    integer(code, "code", 0, 0xFFFF)
    return str(lib.ws_close_code_to_reason(code).decode("ascii"))


# ---------------------------------------------------------------- frames


class Frame:
    """A WebSocket frame (the egg's ``ws-frame``).

    Frames come from :meth:`Connection.recv_frame`, from
    :attr:`Message.frames`, or are built to send with
    :meth:`Connection.send_frame`::

        Frame("ping", b"hi")                 # optype or opcode
        Frame(0x1, b"part", fin=False)       # first frame of a fragmented text
        Frame("continuation", b"end")

    Frames are immutable. A frame built here is sent exactly as given
    (masked with a fresh key; no RSV bit added for you).
    """

    __slots__ = ("_fin", "_rsv", "_opcode", "_mask", "_length", "_data")

    def __init__(
        self,
        opcode: Union[int, str],
        payload_data: Union[bytes, bytearray, memoryview] = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
    ) -> None:
        if isinstance(opcode, str):
            opcode = optype_to_opcode(opcode)
        else:
            integer(opcode, "opcode", 0, 15)
        if not isinstance(fin, bool):
            raise TypeError(f"fin must be bool, not {type_name(fin)}")
        integer(rsv, "rsv", 0, 7)
        data = buffer(payload_data, "payload_data")
        self._fin = fin
        self._rsv = rsv
        self._opcode = opcode
        self._mask = True
        self._length = len(data)
        self._data = data

    @classmethod
    def _from_ptr(cls, ptr: Any) -> "Frame":
        """Copy a C frame (borrowed; the caller frees it if it owns it)."""
        frame = cls.__new__(cls)
        frame._fin = bool(lib.ws_frame_fin(ptr))
        frame._rsv = int(lib.ws_frame_rsv(ptr))
        frame._opcode = int(lib.ws_frame_opcode(ptr))
        frame._mask = bool(lib.ws_frame_mask(ptr))
        frame._length = int(lib.ws_frame_payload_length(ptr))
        frame._data = _copy(lib.ws_frame_payload_data(ptr), frame._length)
        return frame

    @property
    def fin(self) -> bool:
        """True iff the FIN bit is set."""
        return self._fin

    @property
    def rsv(self) -> int:
        """The three RSV bits as an integer (RSV1 = 4, RSV2 = 2, RSV3 = 1)."""
        return self._rsv

    def rsv_bit(self, bit: int) -> bool:
        """True iff ``rsv & bit`` is non-zero (``rsv_bit(4)`` tests RSV1)."""
        integer(bit, "bit", 0, 0xFF)
        return bool(self._rsv & bit)

    @property
    def opcode(self) -> int:
        """The 4-bit opcode."""
        return self._opcode

    @property
    def optype(self) -> Optional[str]:
        """The optype name ("text", "connection-close", ...); None if reserved."""
        try:
            return opcode_to_optype(self._opcode)
        except LookupError:
            return None

    @property
    def mask(self) -> bool:
        """The MASK bit: True for frames we send, False for received frames."""
        return self._mask

    @property
    def payload_length(self) -> int:
        """The payload length from the frame header (for a frame of a
        compressed message: the compressed length)."""
        return self._length

    @property
    def payload_data(self) -> bytes:
        """The (unmasked) payload."""
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (self._fin, self._rsv, self._opcode, self._data) == (
            other._fin,
            other._rsv,
            other._opcode,
            other._data,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        optype = self.optype or f"0x{self._opcode:x}"
        return (
            f"<Frame {optype} fin={self._fin} rsv={self._rsv} "
            f"payload_length={self._length}>"
        )


# ---------------------------------------------------------------- messages


class Message:
    """A WebSocket message (the egg's ``ws-message``).

    Received with :meth:`Connection.recv`, or built to send with
    :meth:`Connection.send_message`::

        Message("text", "hello")
        Message("binary", b"\\x00\\x01")

    A received message keeps its C object (data and frames) until it is
    garbage-collected, so echoing it with ``conn.send_message(msg)`` copies
    nothing into Python.
    """

    # _ptr is the C message's address (an int, for the ``*_at`` calls);
    # _type is read from it on first use.
    __slots__ = ("_ptr", "_type", "_data", "_frames")

    def __init__(self, type: str, data: Union[str, bytes, bytearray, memoryview]) -> None:
        if not isinstance(type, str):
            raise TypeError(f"type must be 'text' or 'binary', not {type_name(type)}")
        if type not in _TYPE_CODES:
            raise ValueError(f"type must be 'text' or 'binary', not {type!r}")
        if type == "text":
            if not isinstance(data, str):
                raise TypeError(f"a text message's data must be str, not {type_name(data)}")
            try:
                raw = data.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"text is not encodable as UTF-8: {e}") from None
        else:
            raw = buffer(data, "data")
        self._ptr: Optional[int] = None
        self._ptr = _ffi.address(lib.ws_message_new(_TYPE_CODES[type], raw, len(raw)))
        self._type: Optional[str] = type
        self._data: Union[str, bytes, None] = None
        self._frames: Optional[Tuple[Frame, ...]] = None

    @classmethod
    def _adopt(cls, address: Optional[int]) -> "Message":
        """Wrap a message the caller owns (from ws_recv_message), by address."""
        return adopt(address)

    def __del__(self) -> None:
        try:
            ptr = self._ptr
        except AttributeError:  # __init__ refused its arguments
            return
        if ptr:
            self._ptr = None
            _message_free_at(ptr)

    @property
    def type(self) -> str:
        """``"text"`` or ``"binary"`` (the opcode of the first frame)."""
        if self._type is None:
            self._type = _TYPES.get(_ffi.message_type_at(self._ptr), "binary")
        return self._type

    @property
    def data_bytes(self) -> bytes:
        """The (decompressed) data as bytes (the egg's ``message-data*``)."""
        return _copy(_ffi.message_data_at(self._ptr), _ffi.message_size_at(self._ptr))

    @property
    def data(self) -> Union[str, bytes]:
        """The data as str for a text message, bytes for a binary one (the
        egg's ``message-data``)."""
        if self._data is None:
            raw = self.data_bytes
            self._data = raw.decode("utf-8") if self.type == "text" else raw
        return self._data

    @property
    def size(self) -> int:
        """The size of the data in bytes (UTF-8 bytes for text)."""
        return int(_ffi.message_size_at(self._ptr))

    @property
    def compressed(self) -> bool:
        """Whether the message arrived compressed (permessage-deflate)."""
        return bool(_ffi.message_compressed_at(self._ptr))

    @property
    def frames(self) -> Tuple[Frame, ...]:
        """The frames the message was assembled from (empty for a message
        built with ``Message(...)``). For a compressed message the frames
        carry the compressed bytes."""
        if self._frames is None:
            count = int(_ffi.message_frame_count_at(self._ptr))
            self._frames = tuple(
                Frame._from_ptr(_ffi.message_frame_at(self._ptr, i)) for i in range(count)
            )
        return self._frames

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.type == other.type and self.data_bytes == other.data_bytes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Message {self.type} size={self.size}>"


_new_message = Message.__new__
_message_free_at = _ffi.message_free_at


def adopt(address: Optional[int]) -> Message:
    """Wrap a message the caller owns (from ws_recv_message), by address: the
    per-message path of a receive, so a plain function."""
    msg = _new_message(Message)
    msg._ptr = address
    msg._type = None
    msg._data = None
    msg._frames = None
    return msg


for _cls in (Frame, Message,):
    _cls.__module__ = "wsclient"  # public there: tracebacks and reprs say so
