"""Exceptions of the websockets-style API (:mod:`wsclient.sync.client`,
:mod:`wsclient.asyncio.client`), named as in ``websockets.exceptions`` so
that ``except websockets.exceptions.ConnectionClosedOK`` ports by changing
the import only::

    WebSocketError (wsclient's root; alias: WebSocketException here)
    ├── ConnectionClosed            .rcvd, .sent (Close or None), .code, .reason
    │   ├── ConnectionClosedOK      both sides closed with 1000, 1001 or 1005
    │   └── ConnectionClosedError   anything else (a protocol error, 1006, ...)
    ├── ConcurrencyError (RuntimeError)  a recv_streaming() iterator resumed
    │                               after its thread or task received otherwise
    └── ... HandshakeError (alias: InvalidHandshake)
            ├── InvalidURI
            └── HandshakeRejected
                └── InvalidStatus   .response: the server's non-101 answer

The egg-flavoured exceptions (``WebSocketFailure`` and the other
``wsclient.WebSocketException`` subclasses) stay in :mod:`wsclient` for the
egg's API; note that there ``WebSocketException`` means the egg's *exn*.
"""

from __future__ import annotations

from typing import Optional

from ._errors import HandshakeError, HandshakeRejected, InvalidURI, WebSocketError
from ._response import HTTPResponse

__all__ = [
    "Close",
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "InvalidHandshake",
    "InvalidStatus",
    "InvalidURI",
    "WebSocketException",
]

#: The base of every wsclient error (websockets' name for its root).
WebSocketException = WebSocketError
#: websockets' name for a failed opening handshake.
InvalidHandshake = HandshakeError

#: Close codes that end a connection normally (websockets' OK_CLOSE_CODES).
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


class Close:
    """A close frame: its code (1005 when it had none) and reason text."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Close):
            return NotImplemented
        return (self.code, self.reason) == (other.code, other.reason)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.code} ({self.reason})" if self.reason else str(self.code)

    def __repr__(self) -> str:
        return f"Close(code={self.code}, reason={self.reason!r})"


class ConnectionClosed(WebSocketError):
    """The connection is closed: raised by ``recv()`` and ``send()`` after
    the close, and when it was lost.

    ``rcvd`` is the server's close frame and ``sent`` ours (None when there
    was none, e.g. the TCP connection was lost). ``code``/``reason`` are
    those of ``rcvd`` (1006 and "" without one).
    """

    rcvd: Optional[Close]
    sent: Optional[Close]
    rcvd_then_sent: Optional[bool]

    def __init__(
        self, rcvd: Optional[Close], sent: Optional[Close], rcvd_then_sent: Optional[bool] = None
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.rcvd is None and self.sent is None:
            return "no close frame received or sent"
        if self.rcvd is None:
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    @property
    def code(self) -> int:
        """The server's close code; 1006 if no close frame was received."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The server's close reason; "" if no close frame was received."""
        return "" if self.rcvd is None else self.rcvd.reason

    @staticmethod
    def make(
        rcvd: Optional[Close], sent: Optional[Close], rcvd_then_sent: Optional[bool] = None
    ) -> "ConnectionClosed":
        """ConnectionClosedOK or ConnectionClosedError, as websockets decides."""
        ok = rcvd is not None and sent is not None and rcvd.code in OK_CLOSE_CODES and sent.code in OK_CLOSE_CODES
        cls = ConnectionClosedOK if ok else ConnectionClosedError
        return cls(rcvd, sent, rcvd_then_sent)


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed properly (1000, 1001 or 1005 both ways)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error code, or was lost."""


class ConcurrencyError(WebSocketError, RuntimeError):
    """Receives that cannot go together (websockets' name): a
    ``recv_streaming()`` iterator resumed after the thread or task iterating
    it called ``recv()`` or ``recv_streaming()`` in the middle of its
    message, which took the connection's turn to receive and skipped the
    rest of that message."""


class InvalidStatus(HandshakeRejected):
    """The server answered the opening handshake with a status other than
    101. ``response`` is the answer (``status_code``, ``reason_phrase``,
    ``headers``, ``body``)."""

    def __init__(self, response: HTTPResponse) -> None:
        super().__init__(response)
        self.args = (f"server rejected WebSocket connection: HTTP {response.status}",)
