"""What a connection did: its trace logged to :mod:`logging`, its counters.

**Logging.** Each connect has a logger: ``logger=`` (a ``logging.Logger``,
a ``LoggerAdapter`` or a logger name, as in ``websockets``), by default the
logger ``wsclient``. When that logger is enabled for DEBUG at the time of
the connect, a :class:`Trace` is installed on the connect's options
(``ws_options_set_trace``) and every trace event of the library becomes one
or more DEBUG records, in the manner of ``websockets.client``::

    [conn 1] = connecting to 127.0.0.1:8765
    [conn 1] > GET /chat HTTP/1.1
    [conn 1] > Host: 127.0.0.1:8765
    [conn 1] < HTTP/1.1 101 Switching Protocols
    [conn 1] = connection is OPEN, permessage-deflate
    [conn 1] > TEXT [5 bytes, compressed]
    [conn 1] < TEXT [5 bytes, compressed]
    [conn 1] = close sent: 1000

``>`` is what the client sent, ``<`` what it received, ``=`` the library's
one-line text for the other events, ``!`` a failure. Each record carries
``ws_conn_id`` (the library's connection id, ``ws_conn_id``), ``ws_event``
(the event's kind: ``"frame-sent"``, ...) and ``ws_fields`` (the event's
fields: ``{"opcode": 1, "length": 5, "fin": 1, ...}``). Otherwise no
callback is installed and the library builds no event at all: logging costs
nothing unless it is on when the connection is made.

The callback runs on the thread that drives the connection (the one in
``recv()``, ``send()``, ``close()``; the event loop's thread for the
asyncio client) while the library holds the connection's lock: a handler
of these records must not use the same connection (reading its ``stats``
or ``latency`` there raises RuntimeError). An exception in a handler or a
filter never reaches the library.

**Counters.** :func:`read_stats` reads ``ws_conn_stat`` for every stat the
binding knows (names from ``ws_stat_name``: ``bytes_in``,
``rtt_smoothed_us``, ``time_tls_us``, ...).
"""

from __future__ import annotations

import _thread
import ctypes
import logging
import threading
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _ffi
from ._ffi import lib
from ._util import type_name

#: The logger of connections made without ``logger=``.
LOGGER_NAME = "wsclient"

#: What ``logger=`` takes: a Logger, a LoggerAdapter, a logger name, or None
#: (the ``wsclient`` logger).
LoggerLike = Union[logging.Logger, "logging.LoggerAdapter[Any]", str, None]
#: A logger as resolved by :func:`get_logger`.
AnyLogger = Union[logging.Logger, "logging.LoggerAdapter[Any]"]

_DEBUG = logging.DEBUG


def get_logger(logger: LoggerLike) -> AnyLogger:
    """The logger for ``logger=``: None is the ``wsclient`` logger, a str
    the logger of that name."""
    if logger is None:
        return logging.getLogger(LOGGER_NAME)
    if isinstance(logger, str):
        return logging.getLogger(logger)
    if isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
        return logger
    raise TypeError(f"logger must be a logging.Logger, a LoggerAdapter or a logger name, not {type_name(logger)}")


# ---------------------------------------------------------------- the trace

#: Field numbers -> names ("close_code"), split by type.
_NUMBER_FIELDS: List[Tuple[int, str]] = []
_STRING_FIELDS: List[Tuple[int, str]] = []
for _name, _value in sorted(vars(_ffi).items(), key=lambda kv: str(kv[0])):
    if _name.startswith("WS_TRACE_FIELD_") and isinstance(_value, int):
        (_STRING_FIELDS if _value >= 100 else _NUMBER_FIELDS).append((_value, _name[15:].lower()))
_NUMBER_FIELDS.sort()
_STRING_FIELDS.sort()

_OPCODES = {0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}
_kind_names: Dict[int, str] = {}

#: Which connection's trace callback this thread is in (0: none).
_inside = threading.local()


def in_trace_of(conn_id: int) -> bool:
    """Whether this thread runs the trace callback of connection `conn_id`
    (where the connection must not be called)."""
    return bool(conn_id) and getattr(_inside, "conn_id", 0) == conn_id


def _kind_name(kind: int) -> str:
    name = _kind_names.get(kind)
    if name is None:
        raw = lib.ws_trace_kind_name(kind)
        name = _kind_names[kind] = raw.decode("ascii", "replace") if raw else f"event-{kind}"
    return name


def _fields(event: Any) -> Dict[str, Union[int, str]]:
    fields: Dict[str, Union[int, str]] = {}
    out = ctypes.c_int64()
    ref = ctypes.byref(out)
    for number, name in _NUMBER_FIELDS:
        if lib.ws_trace_event_number(event, number, ref):
            fields[name] = out.value
    for number, name in _STRING_FIELDS:
        raw = lib.ws_trace_event_string(event, number)
        if raw is not None:
            fields[name] = raw.decode("utf-8", "replace")
    return fields


def _after_colon(text: str) -> str:
    return text.partition(": ")[2] or text


def lines(kind: int, text: str, fields: Dict[str, Any]) -> List[str]:
    """The log lines of one event, websockets-style (see the module)."""
    if kind in (_ffi.WS_TRACE_FRAME_SENT, _ffi.WS_TRACE_FRAME_RECEIVED):
        opcode = int(fields.get("opcode", -1))
        meta = [f"{fields.get('length', 0)} bytes"]
        if not fields.get("fin", 1):
            meta.append("continued")
        if fields.get("rsv1"):
            meta.append("compressed")
        arrow = ">" if kind == _ffi.WS_TRACE_FRAME_SENT else "<"
        return [f"{arrow} {_OPCODES.get(opcode, f'OPCODE {opcode:#x}')} [{', '.join(meta)}]"]
    if kind == _ffi.WS_TRACE_REQUEST_SENT:
        head = [f"> {_after_colon(text)}"]
        return head + [f"> {h}" for h in str(fields.get("headers", "")).splitlines()]
    if kind == _ffi.WS_TRACE_RESPONSE:
        head = [f"< HTTP/1.1 {_after_colon(text)}"]
        return head + [f"< {h}" for h in str(fields.get("headers", "")).splitlines()]
    if kind == _ffi.WS_TRACE_OPEN:
        return ["= connection is OPEN" + (text[4:] if text.startswith("open") else f" ({text})")]
    if kind == _ffi.WS_TRACE_FAILURE:
        return [f"! {text}"]
    line = f"= {text}"
    if "duration_us" in fields:
        line += f" ({int(fields['duration_us']) / 1000:.3f} ms)"
    return [line]


class Trace:
    """The trace callback of one connect's options: each event of its
    connection logged to `logger` at DEBUG. The ctypes callback must live as
    long as the connection does: the Opening, then the Connection and its
    driver keep this object."""

    __slots__ = ("logger", "callback")

    def __init__(self, logger: AnyLogger) -> None:
        self.logger = logger
        log = logger.debug
        enabled = logger.isEnabledFor

        def on_event(event: Any, _userdata: Any) -> None:
            conn_id = 0
            outer = getattr(_inside, "conn_id", 0)
            try:
                if not enabled(_DEBUG):  # turned down since the connect
                    return
                kind = int(lib.ws_trace_event_kind(event))
                conn_id = int(lib.ws_trace_event_conn_id(event))
                _inside.conn_id = conn_id
                raw = lib.ws_trace_event_text(event)
                text = raw.decode("utf-8", "replace") if raw else ""
                fields = _fields(event)
                extra = {"ws_conn_id": conn_id, "ws_event": _kind_name(kind), "ws_fields": fields}
                for line in lines(kind, text, fields):
                    log("[conn %d] %s", conn_id, line, extra=extra)
            except KeyboardInterrupt:
                # Ctrl-C during the callback: raised again once the library
                # returns, instead of being lost in C.
                _thread.interrupt_main()
            except BaseException:  # noqa: B036 - nothing may propagate into C
                pass
            finally:
                if conn_id:
                    _inside.conn_id = outer

        self.callback = _ffi.ws_trace_callback(on_event)

    def install(self, opts: Any) -> None:
        """Set the callback on the options handle `opts`."""
        lib.ws_options_set_trace(opts, self.callback, None)


def trace_for(logger: AnyLogger) -> Optional[Trace]:
    """A Trace for a connect logging to `logger`, or None when the logger
    is not enabled for DEBUG (then nothing is traced: no cost)."""
    return Trace(logger) if logger.isEnabledFor(_DEBUG) else None


# ---------------------------------------------------------------- counters

_stats: Optional[List[Tuple[str, int]]] = None


def stat_ids() -> List[Tuple[str, int]]:
    """(name, WS_STAT_*) of every stat of the binding the library names."""
    global _stats
    if _stats is None:
        found = []
        for name, value in vars(_ffi).items():
            if name.startswith("WS_STAT_") and isinstance(value, int):
                raw = lib.ws_stat_name(value)
                if raw:
                    found.append((raw.decode("ascii"), value))
        _stats = sorted(found, key=lambda nv: nv[1])
    return _stats


def read_stats(ptr: Any) -> Dict[str, int]:
    """Every stat of the live ``ws_conn *`` `ptr`, by name."""
    stat = lib.ws_conn_stat
    return {name: int(stat(ptr, which)) for name, which in stat_ids()}


def check_outside_trace(conn_id: int) -> None:
    """RuntimeError inside the trace callback of connection `conn_id`: the
    library holds its lock there."""
    if in_trace_of(conn_id):
        raise RuntimeError(
            "a connection's stats cannot be read while it logs (from a handler of its trace records)"
        )
