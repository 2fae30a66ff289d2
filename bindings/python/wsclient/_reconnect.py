"""Reconnecting: the delays between attempts and which failures are worth
another attempt, for ``async for ws in wsclient.asyncio.client.connect(...)``
and ``for ws in wsclient.sync.client.reconnect(...)``.

The policy is that of ``websockets`` 17 (``websockets.client.backoff`` and
``websockets.asyncio.client.process_exception``), with three differences,
each documented where it applies:

- the ``WEBSOCKETS_BACKOFF_*`` variables are read when a series of delays
  starts, not once at import, and ``WSCLIENT_BACKOFF_*`` win over them;
- a certificate that does not verify is not retried (websockets retries it:
  ``ssl.SSLCertVerificationError`` is an ``OSError``), nor is a URI,
  argument or option error;
- after a connection the server ended abnormally (lost without a close
  frame, or closed with a code in :data:`TRANSIENT_CLOSE_CODES`), the next
  connect waits the first delay of a new series (a random time up to the
  initial delay, RFC 6455 7.2.3) where websockets reconnects at once.
"""

from __future__ import annotations

import logging
import math
import os
import random
import ssl
from typing import Callable, Dict, Iterator, Optional

from ._errors import HandshakeError, TLSError
from .exceptions import ConnectionClosed, InvalidStatus

__all__ = ["backoff", "process_exception"]

#: Reconnection is logged here at INFO (websockets logs to "websockets.client").
logger = logging.getLogger("wsclient.client")

#: websockets' defaults (``BACKOFF_*`` in ``websockets.client``), in seconds.
DEFAULTS: Dict[str, float] = {
    "INITIAL_DELAY": 5.0,
    "MIN_DELAY": 3.1,
    "MAX_DELAY": 90.0,
    "FACTOR": 1.618,
}

#: Environment variables, first match wins: ours, then websockets'.
ENV_PREFIXES = ("WSCLIENT_BACKOFF_", "WEBSOCKETS_BACKOFF_")

#: Answers worth another attempt: server and gateway errors that pass
#: (websockets' list; 501 and 505 would give the same answer again).
RETRY_STATUSES = frozenset({500, 502, 503, 504})

#: Close codes (1006: lost, no close frame) after which the server is going
#: away, restarting, overloaded or failing: the next connect waits.
TRANSIENT_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})

# The library's message when the server closes TCP before its answer
# (websockets retries the same case: InvalidMessage caused by EOFError).
_EOF_IN_HANDSHAKE = "the server closed the connection during the handshake"


def setting(name: str) -> float:
    """BACKOFF_`name` from the environment (WSCLIENT_, else WEBSOCKETS_),
    else websockets' default. An empty variable counts as unset."""
    for prefix in ENV_PREFIXES:
        variable = prefix + name
        raw = os.environ.get(variable, "").strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{variable} must be a number, not {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{variable} must be a finite number >= 0, not {raw!r}")
        return value
    return DEFAULTS[name]


def backoff(
    initial_delay: Optional[float] = None,
    min_delay: Optional[float] = None,
    max_delay: Optional[float] = None,
    factor: Optional[float] = None,
) -> Iterator[float]:
    """The delays in seconds between reconnection attempts, as websockets'
    ``backoff()``: first a random delay between 0 and `initial_delay` (RFC
    6455 7.2.3: clients that lost their server do not all come back at
    once), then `min_delay`, multiplied by `factor` after each attempt up to
    `max_delay`, then `max_delay` for ever.

    An argument left out comes from ``WSCLIENT_BACKOFF_INITIAL_DELAY``
    (``_MIN_DELAY``, ``_MAX_DELAY``, ``_FACTOR``), else from
    ``WEBSOCKETS_BACKOFF_...``, else websockets' defaults (5, 3.1, 90 s and
    1.618), read now, when the series starts.
    """
    initial = setting("INITIAL_DELAY") if initial_delay is None else initial_delay
    delay = setting("MIN_DELAY") if min_delay is None else min_delay
    ceiling = setting("MAX_DELAY") if max_delay is None else max_delay
    growth = setting("FACTOR") if factor is None else factor

    def delays() -> Iterator[float]:
        yield random.random() * initial
        d = delay
        while d < ceiling:
            yield d
            d *= growth
        while True:
            yield ceiling

    return delays()


def process_exception(exc: Exception) -> Optional[Exception]:
    """Whether a failed connect is worth another attempt (the default of
    `process_exception`, as websockets' function of that name): None to
    retry after the next delay, or the exception to raise, which ends the
    iteration.

    Retried: network errors (``OSError``, which includes
    :class:`~wsclient.NetworkError`: name lookup, refused or lost TCP, the
    server closing during the handshake), timeouts, TLS failures other than
    certificate verification, and the answers 500, 502, 503 and 504
    (:class:`~wsclient.exceptions.InvalidStatus`). Everything else is
    raised: other HTTP answers (4xx: the same request gets the same answer),
    a certificate that does not verify, a bad URI or option, a proxy that
    refuses, an invalid handshake.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):  # the library's or Python's (ssl=)
        return exc
    if isinstance(exc, (OSError, TimeoutError, TLSError)):
        return None
    if isinstance(exc, HandshakeError) and not isinstance(exc, InvalidStatus):
        # The library reports a server closing before its answer as a
        # handshake error; it is a network error in websockets' terms.
        return None if str(exc) == _EOF_IN_HANDSHAKE else exc
    if isinstance(exc, InvalidStatus) and exc.response.status in RETRY_STATUSES:
        return None
    return exc


def verdict(process: Callable[[Exception], Optional[Exception]], exc: Exception) -> Optional[BaseException]:
    """What `process` (a process_exception) says of `exc`: None to retry,
    else the exception to raise (`exc` itself: re-raise it). An exception
    raised by `process` counts as returned, as in websockets."""
    try:
        outcome = process(exc)
    except Exception as raised:  # noqa: BLE001 - handed back to be raised
        return raised
    if outcome is not None and not isinstance(outcome, BaseException):
        return TypeError(f"process_exception must return None or an exception, not {type(outcome).__name__}")
    return outcome


def wait_after(closed: Optional[ConnectionClosed], sent_close: bool) -> bool:
    """Whether to wait before reconnecting after a connection that ended
    with `closed` (None: still open when the loop's body ended) while we
    had (`sent_close`) or had not started the close."""
    return closed is not None and not sent_close and closed.code in TRANSIENT_CLOSE_CODES


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
