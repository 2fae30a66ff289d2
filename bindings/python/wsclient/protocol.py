"""The connection's state as websockets names it (``websockets.protocol``):
``websocket.state`` of the websockets-style clients. It needs no library."""

from __future__ import annotations

import enum

__all__ = ["State", "CONNECTING", "OPEN", "CLOSING", "CLOSED"]


class State(enum.IntEnum):
    """A WebSocket connection's state (RFC 6455 4.1, 7.1.3), with websockets'
    values."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2  # a close frame sent or received, the close handshake not over
    CLOSED = 3


CONNECTING = State.CONNECTING
OPEN = State.OPEN
CLOSING = State.CLOSING
CLOSED = State.CLOSED
