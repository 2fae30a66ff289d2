"""Pings in flight, resolved when their pong arrives.

The library records the pongs it receives (``ws_conn_pong_count`` and
``ws_conn_last_pong``); after each receive the newest pong is matched with
the pings sent, and its ping and every earlier one are resolved (a peer may
answer only the latest of several pings, RFC 6455 5.5.3).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from typing import Any, Callable, Optional, Tuple

from . import _ffi
from ._ffi import lib

SUPPORTED = _ffi.available("ws_conn_pong_count") and _ffi.available("ws_conn_last_pong")

Callback = Callable[[], None]


class PingWaiters:
    def __init__(self, driver: Any) -> None:
        self._driver = driver  # a Driver: its .ptr is the ws_conn * (None once released)
        self._waiting: "OrderedDict[bytes, Tuple[Callback, Optional[Callback]]]" = OrderedDict()
        self._seen = 0

    def add(self, payload: bytes, on_pong: Callback, on_abandon: Optional[Callback] = None) -> None:
        if payload in self._waiting:
            raise ValueError("already waiting for a pong with this payload")
        self._waiting[payload] = (on_pong, on_abandon)

    def waiting(self) -> bool:
        """Whether a ping waits for its pong."""
        return bool(self._waiting)

    def check(self) -> None:
        """Resolve the pings answered since the last check."""
        if not SUPPORTED or not self._waiting:
            return
        ptr = self._driver.ptr
        if not ptr:
            return
        count = int(lib.ws_conn_pong_count(ptr))
        if count == self._seen:
            return
        self._seen = count
        buf = ctypes.create_string_buffer(125)
        size = min(int(lib.ws_conn_last_pong(ptr, buf, 125)), 125)
        payload = buf.raw[:size]
        if payload not in self._waiting:
            return  # an unsolicited pong
        while self._waiting:
            key, (on_pong, _) = self._waiting.popitem(last=False)
            on_pong()
            if key == payload:
                break

    def abandon(self) -> None:
        """The connection is closed: no pong will come."""
        waiting, self._waiting = self._waiting, OrderedDict()
        for _, on_abandon in waiting.values():
            if on_abandon is not None:
                on_abandon()
