"""Opening: the one connect driver of the binding.

The library opens a connection without blocking (``ws_connect_start``,
then ``ws_connect_continue`` whenever the descriptor it names is ready or
its deadline passed: name lookup, TCP, proxy, TLS, the upgrade, redirects).
:class:`Opening` wraps that handle and never waits; the waits are the
caller's: :meth:`Opening.wait` for blocking callers (the egg-style and the
sync connect), ``add_reader``/``add_writer``/``call_later`` for the asyncio
client (:func:`wsclient.asyncio.client.connect`).
"""

from __future__ import annotations

import ctypes
import math
import select
import time
from typing import Any, List, Optional, Tuple, Union

from . import _ffi
from ._connection import Connection
from ._errors import InvalidProxyStatus, InvalidState, ProxyError
from ._ffi import lib
from ._message import _copy
from ._observe import AnyLogger, Trace
from ._response import HTTPResponse

#: Longest single wait of :meth:`Opening.wait`. A signal can be delivered to
#: another thread (the library's name lookup thread): Python runs its handler
#: (Ctrl-C's KeyboardInterrupt) only once the main thread is back from poll().
WAIT_SLICE = 0.1

_continue = _ffi.connect_continue_raw
_WOULD_BLOCK = _ffi.WS_ERR_WOULD_BLOCK


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def _response_of(ptr: Any) -> HTTPResponse:
    """A copy of the ws_response at `ptr`."""
    count = int(lib.ws_response_header_count(ptr))
    headers = [
        (_text(lib.ws_response_header_name(ptr, i)), _text(lib.ws_response_header_value(ptr, i)))
        for i in range(count)
    ]
    return HTTPResponse(
        int(lib.ws_response_status(ptr)),
        _text(lib.ws_response_reason(ptr)),
        headers,
        _copy(lib.ws_response_body(ptr), int(lib.ws_response_body_length(ptr))),
    )


class Opening:
    """A connection being opened to `raw_url` with the options handle `opts`
    (only read during the constructor, which raises for a bad URI or option).

    Step it with :meth:`step` until that returns the :class:`Connection` (or
    the :class:`HTTPResponse` when the server answered with another status);
    in between, wait until :meth:`fileno` is ready for :meth:`wants`, at
    most :meth:`timeout` seconds. While connecting the descriptor is one
    epoll descriptor; the open connection's is the socket's. :meth:`close` (or losing the last
    reference) cancels the connect at once.
    """

    _free = staticmethod(lib.ws_conn_free)  # still there when __del__ runs at exit

    def __init__(
        self,
        raw_url: bytes,
        opts: Any,
        url: str,
        read_timeout: Optional[float],
        close_timeout: Optional[float],
        write_timeout: Optional[float],
        logger: Optional[AnyLogger] = None,
        trace: Optional[Trace] = None,
    ) -> None:
        self._ptr: Any = None
        # The trace callback set on `opts` (None: not logging): alive as long
        # as the handle, then the Connection's.
        self._trace = trace
        self._logger = logger
        ptr = _ffi.conn_p()
        self._begin(raw_url, opts, ptr)
        self._ptr = ptr
        self._response = _ffi.response_p()
        self._url = url
        self._timeouts = (read_timeout, close_timeout, write_timeout)
        #: The extra request headers asked for (the websockets-style ``request``).
        self.request_headers: List[Tuple[str, str]] = []

    def _begin(self, raw_url: bytes, opts: Any, out: Any) -> None:
        """Start the connect into the ``ws_conn *`` `out`."""
        lib.ws_connect_start(raw_url, opts, ctypes.byref(out))

    def _open(self, ptr: Any) -> Connection:
        """The Connection of the handle `ptr`, open."""
        read_timeout, close_timeout, write_timeout = self._timeouts
        return Connection(ptr, self._url, read_timeout, close_timeout, write_timeout, self._logger, self._trace)

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the connect (a lookup in progress is abandoned, not waited
        for). Idempotent; nothing to do once :meth:`step` gave its result."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            self._free(ptr)

    def step(self) -> Union[Connection, HTTPResponse, None]:
        """Go as far as possible without waiting: the open Connection, the
        server's HTTPResponse, or None when it has to wait. Raises the
        connect's error (a ProxyError carries the proxy's ``.response``);
        after a result or an error the handle is taken or freed."""
        ptr = self._ptr
        if ptr is None:
            raise InvalidState("the connect is over", result=_ffi.WS_ERR_INVALID_STATE)
        rc = _continue(ptr, ctypes.byref(self._response))
        if rc == _WOULD_BLOCK:
            return None
        if rc == _ffi.WS_OK:
            self._ptr = None  # the Connection owns it now
            return self._open(ptr)
        # This thread's last error first: a later library call may replace it.
        error = None if rc == _ffi.WS_HTTP_RESPONSE else _ffi.error_from_result(rc)
        response = self._take_response()
        self.close()
        if error is None and response is not None:
            return response
        if error is None:
            error = _ffi.error_from_result(_ffi.WS_ERR_HANDSHAKE)
        if isinstance(error, ProxyError) and response is not None:
            # The proxy answered: a refusal (407, 502, ...), with its answer.
            error = InvalidProxyStatus(error.message, result=error.result)
            error.response = response
        raise error

    def _take_response(self) -> Optional[HTTPResponse]:
        raw, self._response = self._response, _ffi.response_p()
        if not raw:
            return None
        try:
            return _response_of(raw)
        finally:
            lib.ws_response_free(raw)

    def fileno(self) -> int:
        """The descriptor to wait on now; -1: step again at once (or over)."""
        return int(lib.ws_conn_fd(self._ptr)) if self._ptr is not None else -1

    def wants(self) -> int:
        """What to wait for on :meth:`fileno`: WS_WANT_READ | WS_WANT_WRITE."""
        return int(lib.ws_conn_wants(self._ptr)) if self._ptr is not None else 0

    def timeout(self) -> Optional[float]:
        """Seconds until :meth:`step` must run even if nothing is ready (a
        connect timeout, the next Happy Eyeballs attempt); None: no deadline."""
        if self._ptr is None:
            return None
        ms = int(lib.ws_conn_next_timeout_ms(self._ptr))
        return None if ms < 0 else ms / 1000

    def wait(self) -> Union[Connection, HTTPResponse]:
        """Step until the connect is over, waiting in poll() in between (at
        most WAIT_SLICE at a time, so that Ctrl-C ends the wait at once).
        The library's timeouts bound it; an exception (the connect's error,
        KeyboardInterrupt) cancels the connect."""
        try:
            while True:
                result = self.step()
                if result is not None:
                    return result
                fd, wants, timeout = self.fileno(), self.wants(), self.timeout()
                wait = WAIT_SLICE if timeout is None else min(timeout, WAIT_SLICE)
                if fd < 0:
                    if wait > 0:
                        time.sleep(wait)
                    continue
                events = (select.POLLIN if wants & _ffi.WS_WANT_READ else 0) | (
                    select.POLLOUT if wants & _ffi.WS_WANT_WRITE else 0
                )
                p = select.poll()
                p.register(fd, events)
                p.poll(math.ceil(wait * 1000))
        finally:
            self.close()
