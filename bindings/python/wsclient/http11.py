"""The opening handshake's request and response as websockets has them
(``websockets.http11``): a connection's ``request`` and ``response``, and
the ``response`` of :class:`~wsclient.exceptions.InvalidStatus`. It needs
no library."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from .datastructures import Headers

__all__ = ["Request", "Response"]


class Request:
    """The opening handshake's request: its request-target (``path``, with
    the query) and ``headers``."""

    __slots__ = ("path", "headers")

    def __init__(self, path: str, headers: Headers) -> None:
        self.path = path
        self.headers = headers

    def __repr__(self) -> str:
        return f"Request(path={self.path!r}, headers={self.headers!r})"


class Response:
    """An HTTP response to the opening handshake: ``status_code``,
    ``reason_phrase``, ``headers`` (:class:`~wsclient.datastructures.Headers`)
    and ``body`` (``b""`` for a 101). ``status``, ``reason`` and
    :meth:`getheader` are the egg API's names (:class:`wsclient.HTTPResponse`)."""

    __slots__ = ("status_code", "reason_phrase", "headers", "body")

    def __init__(self, status_code: int, reason_phrase: str, headers: Headers, body: bytes = b"") -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.body = body

    @classmethod
    def of(cls, response: Any) -> "Response":
        """A Response from the egg API's :class:`~wsclient.HTTPResponse`."""
        return cls(response.status, response.reason, Headers(response.headers), response.body)

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def reason(self) -> str:
        return self.reason_phrase

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of header `name`, or `default`."""
        values = self.headers.get_all(name)
        return values[0] if values else default

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, reason_phrase={self.reason_phrase!r}, headers={self.headers!r})"


def _head(raw: bytes) -> Tuple[str, List[Tuple[str, str]]]:
    """The start line and header pairs of an HTTP message head."""
    text = raw.decode("iso-8859-1")
    lines = text.split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def parse_request(raw: bytes) -> Request:
    """The Request of a message head (``GET /path HTTP/1.1`` ...)."""
    start, headers = _head(raw)
    parts = start.split(" ")
    return Request(parts[1] if len(parts) > 1 else "", Headers(headers))


def parse_response(raw: bytes) -> Response:
    """The Response of a message head (``HTTP/1.1 101 Switching Protocols`` ...)."""
    start, headers = _head(raw)
    parts = start.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return Response(code, parts[2] if len(parts) > 2 else "", Headers(headers))
