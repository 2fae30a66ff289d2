"""HTTPResponse: the server's answer when it was not 101 (made by the
connect driver, ``_opening``). It needs no library: ``wsclient.exceptions``
imports it."""

from __future__ import annotations

from typing import Any, List, NoReturn, Optional, Tuple

from ._errors import HandshakeRejected
from ._util import type_name


class HTTPResponse:
    """The server's answer to the opening handshake when it was not
    ``101 Switching Protocols`` (e.g. 403, or a redirect not followed).

    :func:`connect` returns it instead of raising, as the egg's
    ``ws-connect`` does; check with ``isinstance(r, wsclient.HTTPResponse)``
    or :func:`is_ws_connection`. Using it as a connection in a ``with``
    statement, or calling :meth:`raise_for_status`, raises
    :class:`~wsclient.HandshakeRejected`.
    """

    __slots__ = ("status", "reason", "headers", "body")

    #: The HTTP status code.
    status: int
    #: The reason phrase.
    reason: str
    #: The headers in order, as (name, value) pairs.
    headers: List[Tuple[str, str]]
    #: The body (up to the library's limit, 1 MiB).
    body: bytes

    def __init__(self, status: int, reason: str, headers: List[Tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of header `name` (case-insensitive), or `default`."""
        if not isinstance(name, str):
            raise TypeError(f"name must be str, not {type_name(name)}")
        lower = name.lower()
        for n, v in self.headers:
            if n.lower() == lower:
                return v
        return default

    def get_all(self, name: str) -> List[str]:
        """Every value of header `name` (case-insensitive), in order."""
        if not isinstance(name, str):
            raise TypeError(f"name must be str, not {type_name(name)}")
        lower = name.lower()
        return [v for n, v in self.headers if n.lower() == lower]

    @property
    def status_code(self) -> int:
        """The HTTP status code (websockets' name for :attr:`status`)."""
        return self.status

    @property
    def reason_phrase(self) -> str:
        """The reason phrase (websockets' name for :attr:`reason`)."""
        return self.reason

    @property
    def is_redirect(self) -> bool:
        """True for 301, 302, 303, 307 and 308 with a Location header."""
        return self.status in (301, 302, 303, 307, 308) and self.location is not None

    @property
    def location(self) -> Optional[str]:
        """The Location header, if any."""
        return self.getheader("Location")

    def raise_for_status(self) -> NoReturn:
        """Raise :class:`~wsclient.HandshakeRejected` (always: this is not a
        WebSocket connection)."""
        raise HandshakeRejected(self)

    def __enter__(self) -> NoReturn:
        raise HandshakeRejected(self)

    def __exit__(self, *exc: Any) -> None:  # pragma: no cover - never entered
        return None

    def __repr__(self) -> str:
        return f"<HTTPResponse {self.status} {self.reason!r}>"


for _cls in (HTTPResponse,):
    _cls.__module__ = "wsclient"  # public there: tracebacks and reprs say so
