"""Argument checks done in Python, before anything reaches the C library.

Wrong types raise TypeError; wrong values (embedded NUL, out of range)
raise ValueError. The C library checks again, but a ctypes call cannot
tell it about a str with a NUL in the middle (it would be cut silently) or
an int that does not fit the C type (it would wrap).
"""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any, Union

BytesLike = Union[bytes, bytearray, memoryview]

U16_MAX = 0xFFFF
U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


def type_name(value: Any) -> str:
    return type(value).__name__


def cstr(value: Any, what: str) -> bytes:
    """A str argument as UTF-8 for a ``const char *`` parameter."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type_name(value)}")
    if "\0" in value:
        raise ValueError(f"{what} must not contain NUL characters")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what} is not encodable as UTF-8: {e}") from None


def cpath(value: Any, what: str) -> bytes:
    """A file system path (str, bytes or os.PathLike) for a ``const char *``."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a path (str, bytes or os.PathLike), not {type_name(value)}")
    raw = os.fsencode(value)
    if b"\0" in raw:
        raise ValueError(f"{what} must not contain NUL characters")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} must be valid UTF-8 (the library takes UTF-8 paths)") from None
    return raw


def buffer(value: Any, what: str) -> bytes:
    """A bytes-like argument as bytes (bytes themselves are not copied)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        raise TypeError(f"{what} must be bytes-like, not str (encode it, or send it as text)")
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError(f"{what} must be bytes-like, not {type_name(value)}") from None


def integer(value: Any, what: str, lo: int, hi: int) -> int:
    """An int in [lo, hi]; bool is refused (it is almost always a mistake)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {type_name(value)}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be in {lo}..{hi}, got {value}")
    return value


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be bool, not {type_name(value)}")
    return value


def seconds(value: Any, what: str) -> None:
    """Check that `value` is None or a number of seconds >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, not {type_name(value)}")
    if not value >= 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")


def millis(value: Any, what: str) -> int:
    """Seconds (int or float, > 0) as milliseconds for the C API; None: 0 (block)."""
    seconds(value, what)
    if value is None:
        return 0
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number of seconds or None, got {value!r}")
    ms = max(1, int(math.ceil(value * 1000)))
    if ms > U32_MAX:
        raise ValueError(f"{what} is too large ({value!r} s)")
    return ms
