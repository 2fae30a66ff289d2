"""ctypes declarations for every function of ``include/wsclient.h``.

Modelled on wasmtime-py's ``_ffi.py``: the library is loaded once (see
:mod:`wsclient._loader`), each opaque C type gets its own ``Structure`` so
that ctypes refuses to pass a message where a connection is expected, and
every function has ``argtypes`` and ``restype``. Functions that return a
result code or a new handle get an ``errcheck`` that turns a negative code
(or NULL) into an exception from :mod:`wsclient._errors`, with the detail
from ``ws_last_error_message()``.

The test ``tests/test_header.py`` parses the header and checks that every
function and constant is declared here, with matching types.

Conventions used below:

- ``const char *`` inputs are ``c_char_p`` (bytes, NUL-terminated; callers
  must reject embedded NULs before the call, see ``_util.cstr``);
- ``const uint8_t *`` inputs (buffers followed by their length) are also
  ``c_char_p`` so that ``bytes`` pass without a copy;
- ``const uint8_t *`` results are ``c_void_p`` (an address to copy from
  with ``ctypes.string_at``);
- ``uintptr_t`` is ``c_size_t``.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_bool,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _loader
from ._errors import WebSocketError, exception_for, failure_class

lib, library_path = _loader.load()

# Constants (the header's #defines).
WSCLIENT_VERSION = "0.1.0"
WSCLIENT_VERSION_MAJOR = 0
WSCLIENT_VERSION_MINOR = 1
WSCLIENT_VERSION_PATCH = 0
WS_STATE_OPEN = 0
WS_STATE_CLOSING = 1
WS_STATE_CLOSED = 2
WS_STATE_CONNECTING = 3
WS_SEND_UNCOMPRESSED = 1
WS_SEND_MORE = 2
WS_SEND_ALL = 4
WS_WANT_READ = 1
WS_WANT_WRITE = 2
WS_OK = 0
WS_HTTP_RESPONSE = 1
WS_CLOSED = 2
WS_STOPPED = 3
WS_ERR_NULL_ARGUMENT = -1
WS_ERR_INVALID_ARGUMENT = -2
WS_ERR_INVALID_STATE = -3
WS_ERR_PANIC = -4
WS_ERR_NOT_FOUND = -5
WS_ERR_IO = -10
WS_ERR_TIMEOUT = -11
WS_ERR_RESOLVE = -12
WS_ERR_CONNECT = -13
WS_ERR_CONNECTION_LOST = -14
WS_ERR_WOULD_BLOCK = -15
WS_ERR_TLS = -20
WS_ERR_TLS_VERIFY = -21
WS_ERR_URI = -30
WS_ERR_HANDSHAKE = -31
WS_ERR_NEGOTIATION = -32
WS_ERR_REDIRECT = -33
WS_ERR_PROXY = -34
WS_ERR_PROTOCOL = -40
WS_ERR_INVALID_PAYLOAD = -41
WS_ERR_MESSAGE_TOO_BIG = -50
WS_MESSAGE_TEXT = 1
WS_MESSAGE_BINARY = 2
WS_TLS_DEFAULT = 0
WS_TLS_1_2 = 0x0303
WS_TLS_1_3 = 0x0304
# Trace events, their fields, and the counters (ws_conn_stat).
WS_TRACE_RESOLVED = 1
WS_TRACE_TCP_ATTEMPT = 2
WS_TRACE_TCP_FAILED = 3
WS_TRACE_TCP_CONNECTED = 4
WS_TRACE_PROXY = 5
WS_TRACE_TLS_DONE = 6
WS_TRACE_REQUEST_SENT = 7
WS_TRACE_RESPONSE = 8
WS_TRACE_REDIRECT = 9
WS_TRACE_OPEN = 10
WS_TRACE_FRAME_SENT = 11
WS_TRACE_FRAME_RECEIVED = 12
WS_TRACE_PING_SENT = 13
WS_TRACE_PONG_RECEIVED = 14
WS_TRACE_CLOSE_SENT = 15
WS_TRACE_CLOSE_RECEIVED = 16
WS_TRACE_FAILURE = 17
WS_TRACE_FIELD_ELAPSED_US = 1
WS_TRACE_FIELD_DURATION_US = 2
WS_TRACE_FIELD_OPCODE = 3
WS_TRACE_FIELD_LENGTH = 4
WS_TRACE_FIELD_FIN = 5
WS_TRACE_FIELD_RSV1 = 6
WS_TRACE_FIELD_STATUS = 7
WS_TRACE_FIELD_CLOSE_CODE = 8
WS_TRACE_FIELD_RTT_US = 9
WS_TRACE_FIELD_RESULT = 10
WS_TRACE_FIELD_RESUMED = 11
WS_TRACE_FIELD_PORT = 12
WS_TRACE_FIELD_HOST = 100
WS_TRACE_FIELD_ADDRESS = 101
WS_TRACE_FIELD_TLS_VERSION = 102
WS_TRACE_FIELD_TLS_CIPHER = 103
WS_TRACE_FIELD_ALPN = 104
WS_TRACE_FIELD_PEER_SUBJECT = 105
WS_TRACE_FIELD_HEADERS = 106
WS_TRACE_FIELD_REASON = 107
WS_TRACE_FIELD_MESSAGE = 108
WS_TRACE_FIELD_LOCATION = 109
WS_TRACE_FIELD_PROXY = 110
WS_STAT_BYTES_IN = 1
WS_STAT_BYTES_OUT = 2
WS_STAT_PAYLOAD_IN = 3
WS_STAT_PAYLOAD_OUT = 4
WS_STAT_FRAMES_IN = 5
WS_STAT_FRAMES_OUT = 6
WS_STAT_MESSAGES_IN = 7
WS_STAT_MESSAGES_OUT = 8
WS_STAT_PINGS_SENT = 9
WS_STAT_PONGS_RECEIVED = 10
WS_STAT_RTT_LAST_US = 11
WS_STAT_RTT_SMOOTHED_US = 12
WS_STAT_TIME_RESOLVE_US = 20
WS_STAT_TIME_CONNECT_US = 21
WS_STAT_TIME_PROXY_US = 22
WS_STAT_TIME_TLS_US = 23
WS_STAT_TIME_HTTP_US = 24
WS_STAT_TIME_TOTAL_US = 25
WS_STAT_REDIRECTS = 26


# Opaque handle types.
class ws_conn(ctypes.Structure):
    """``typedef struct ws_conn ws_conn;``"""


class ws_frame(ctypes.Structure):
    """``typedef struct ws_frame ws_frame;``"""


class ws_message(ctypes.Structure):
    """``typedef struct ws_message ws_message;``"""


class ws_options(ctypes.Structure):
    """``typedef struct ws_options ws_options;``"""


class ws_response(ctypes.Structure):
    """``typedef struct ws_response ws_response;``"""


class ws_trace_event(ctypes.Structure):
    """``typedef struct ws_trace_event ws_trace_event;``"""


conn_p = POINTER(ws_conn)
frame_p = POINTER(ws_frame)
message_p = POINTER(ws_message)
options_p = POINTER(ws_options)
response_p = POINTER(ws_response)
trace_event_p = POINTER(ws_trace_event)

#: ``typedef int32_t (*ws_message_handler)(ws_conn *, const ws_message *, void *);``
ws_message_handler = CFUNCTYPE(c_int32, conn_p, message_p, c_void_p)
#: ``typedef void (*ws_trace_callback)(const ws_trace_event *, void *);``
ws_trace_callback = CFUNCTYPE(None, trace_event_p, c_void_p)


# Error handling.
def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def _raw(name: str, restype: Any, argtypes: List[Any]) -> Any:
    """A second function object for `name` with no errcheck, for internal
    use on the error path (CDLL.__getitem__ returns a fresh object)."""
    fn = lib[name]
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_last_message = _raw("ws_last_error_message", c_char_p, [])
_last_close_code = _raw("ws_last_error_close_code", c_uint16, [])
_is_fail = _raw("ws_result_is_fail", c_bool, [c_int32])
_result_string = _raw("ws_result_string", c_char_p, [c_int32])
_reason_of = _raw("ws_close_code_to_reason", c_char_p, [c_uint16])


# Receives without errcheck, for the hot path of a waiting receive: a
# WS_ERR_WOULD_BLOCK there is expected and not worth an exception.
recv_message_raw = _raw("ws_recv_message", c_int32, [conn_p, POINTER(message_p)])
recv_frame_raw = _raw("ws_recv_frame", c_int32, [conn_p, POINTER(frame_p)])


def _raw_if_exported(name: str, restype: Any, argtypes: List[Any]) -> Any:
    try:
        return _raw(name, restype, argtypes)
    except AttributeError:
        return None


# The connect's step without errcheck: WS_ERR_WOULD_BLOCK is its usual answer.
connect_continue_raw = _raw_if_exported("ws_connect_continue", c_int32, [conn_p, POINTER(response_p)])

# Flushes without errcheck, for loops where WS_ERR_WOULD_BLOCK is expected.
flush_raw = _raw_if_exported("ws_conn_flush", c_int32, [conn_p])


def error_from_result(result: int) -> WebSocketError:
    """The exception for a failed call's `result`, from this thread's last
    error (read at once: the next failing call overwrites it)."""
    message = _text(_last_message()) or _text(_result_string(result))
    if _is_fail(result):
        code = int(_last_close_code())
        reason = _text(_reason_of(code)) or None
        return failure_class(result)(message, result=result, code=code, reason=reason)
    return exception_for(result, message)


def _check_result(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """errcheck for ``int32_t`` results: negative -> exception."""
    if result < 0:
        raise error_from_result(result)
    return result


def _check_handle(result: Any, func: Any, args: Tuple[Any, ...]) -> Any:
    """errcheck for constructors and lookups that return NULL on error."""
    if not result:
        code = int(lib.ws_last_error_code())
        raise error_from_result(code if code < 0 else WS_ERR_INVALID_ARGUMENT)
    return result


def _check_lookup(result: Any, func: Any, args: Tuple[Any, ...]) -> Any:
    """errcheck for the map lookups that return NULL when nothing matches.

    The result is always WS_ERR_NOT_FOUND: ws_last_error_code() says
    WS_ERR_INVALID_ARGUMENT after these (a library inconsistency)."""
    if not result:
        raise error_from_result(WS_ERR_NOT_FOUND)
    return result


# Every function of the header: name -> (restype, argtypes, errcheck).
FUNCTIONS: Dict[str, Tuple[Any, List[Any], Optional[Callable[..., Any]]]] = {
    "ws_version": (c_char_p, [], None),
    # Connections.
    "ws_connect": (c_int32, [c_char_p, options_p, POINTER(conn_p), POINTER(response_p)], _check_result),
    "ws_connect_start": (c_int32, [c_char_p, options_p, POINTER(conn_p)], _check_result),
    "ws_connect_continue": (c_int32, [conn_p, POINTER(response_p)], _check_result),
    "ws_conn_free": (None, [conn_p], None),
    "ws_conn_state": (c_int32, [conn_p], None),
    "ws_conn_fd": (c_int32, [conn_p], None),
    "ws_conn_set_nonblocking": (c_int32, [conn_p, c_bool], _check_result),
    "ws_conn_set_timeouts": (c_int32, [conn_p, c_uint32, c_uint32], _check_result),
    "ws_conn_flush": (c_int32, [conn_p], _check_result),
    "ws_conn_wants": (c_uint32, [conn_p], None),
    "ws_conn_next_timeout_ms": (c_int64, [conn_p], None),
    "ws_conn_id": (c_uint64, [conn_p], None),
    "ws_conn_stat": (c_uint64, [conn_p, c_int32], None),
    "ws_stat_name": (c_char_p, [c_int32], None),
    # Tracing.
    "ws_options_set_trace": (c_int32, [options_p, ws_trace_callback, c_void_p], _check_result),
    "ws_trace_event_kind": (c_int32, [trace_event_p], None),
    "ws_trace_event_conn_id": (c_uint64, [trace_event_p], None),
    "ws_trace_event_text": (c_char_p, [trace_event_p], None),
    "ws_trace_event_number": (c_bool, [trace_event_p, c_int32, POINTER(c_int64)], None),
    "ws_trace_event_string": (c_char_p, [trace_event_p, c_int32], None),
    "ws_trace_kind_name": (c_char_p, [c_int32], None),
    "ws_conn_queued_bytes": (c_size_t, [conn_p], None),
    "ws_conn_pong_count": (c_uint64, [conn_p], None),
    "ws_conn_last_pong": (c_size_t, [conn_p, c_void_p, c_size_t], None),
    "ws_conn_subprotocol": (c_char_p, [conn_p], None),
    "ws_conn_compression": (c_bool, [conn_p], None),
    "ws_conn_tls_resumed": (c_bool, [conn_p], None),
    "ws_conn_header": (c_char_p, [conn_p, c_char_p], None),
    "ws_conn_header_count": (c_size_t, [conn_p], None),
    "ws_conn_header_name": (c_char_p, [conn_p, c_size_t], None),
    "ws_conn_header_value": (c_char_p, [conn_p, c_size_t], None),
    "ws_conn_peer_close_code": (c_uint16, [conn_p], None),
    "ws_conn_peer_close_reason": (c_char_p, [conn_p], None),
    "ws_conn_errmsg": (c_char_p, [conn_p], None),
    "ws_conn_errmsg_copy": (c_size_t, [conn_p, c_void_p, c_size_t], None),
    "ws_conn_error_close_code": (c_uint16, [conn_p], None),
    "ws_recv_message": (c_int32, [conn_p, POINTER(message_p)], _check_result),
    # The caller's transport.
    "ws_connect_transport": (c_int32, [c_char_p, options_p, POINTER(conn_p)], _check_result),
    "ws_conn_transport_out": (c_int32, [conn_p, c_void_p, c_size_t, POINTER(c_size_t)], _check_result),
    "ws_conn_transport_in": (c_int32, [conn_p, c_char_p, c_size_t, POINTER(c_size_t)], _check_result),
    "ws_conn_transport_eof": (c_int32, [conn_p], _check_result),
    "ws_conn_transport_done": (c_bool, [conn_p], None),
    "ws_recv_part": (
        c_int32,
        [conn_p, c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_int32), POINTER(c_bool)],
        _check_result,
    ),
    "ws_recv_messages": (
        c_int32,
        [conn_p, c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_int32), c_size_t, POINTER(c_size_t)],
        _check_result,
    ),
    "ws_recv_message_loop": (c_int32, [conn_p, ws_message_handler, c_void_p], _check_result),
    "ws_send_message": (c_int32, [conn_p, message_p], _check_result),
    "ws_send_text": (c_int32, [conn_p, c_char_p, c_size_t], _check_result),
    "ws_send_binary": (c_int32, [conn_p, c_char_p, c_size_t], _check_result),
    "ws_send": (c_int32, [conn_p, c_int32, c_char_p, c_size_t, c_uint32], _check_result),
    "ws_send_part": (c_int32, [conn_p, c_int32, c_uint64, c_char_p, c_size_t, c_uint32, POINTER(c_size_t)], _check_result),
    "ws_send_messages": (
        c_int32,
        [conn_p, c_char_p, POINTER(c_size_t), POINTER(c_int32), c_size_t, c_uint32, POINTER(c_size_t)],
        _check_result,
    ),
    "ws_ping": (c_int32, [conn_p, c_char_p, c_size_t], _check_result),
    "ws_close": (c_int32, [conn_p, c_uint16, c_char_p], _check_result),
    "ws_recv_frame": (c_int32, [conn_p, POINTER(frame_p)], _check_result),
    "ws_send_frame": (c_int32, [conn_p, frame_p], _check_result),
    # Errors.
    "ws_result_string": (c_char_p, [c_int32], None),
    "ws_result_is_fail": (c_bool, [c_int32], None),
    "ws_result_is_retryable": (c_bool, [c_int32, c_uint16, c_uint16], None),
    "ws_last_error_message": (c_char_p, [], None),
    "ws_last_error_copy": (c_size_t, [c_void_p, c_size_t], None),
    "ws_last_error_code": (c_int32, [], None),
    "ws_last_error_close_code": (c_uint16, [], None),
    "ws_last_stop_value": (c_int32, [], None),
    # Frames.
    "ws_frame_new": (frame_p, [c_bool, c_uint8, c_uint8, c_char_p, c_size_t], _check_handle),
    "ws_frame_free": (None, [frame_p], None),
    "ws_frame_fin": (c_bool, [frame_p], None),
    "ws_frame_rsv": (c_uint8, [frame_p], None),
    "ws_frame_rsv_bit": (c_bool, [frame_p, c_uint8], None),
    "ws_frame_opcode": (c_uint8, [frame_p], None),
    "ws_frame_optype": (c_char_p, [frame_p], None),
    "ws_frame_mask": (c_bool, [frame_p], None),
    "ws_frame_payload_length": (c_uint64, [frame_p], None),
    "ws_frame_payload_data": (c_void_p, [frame_p], None),
    # Maps.
    "ws_opcode_to_optype": (c_char_p, [c_uint8], _check_lookup),
    "ws_optype_to_opcode": (c_int32, [c_char_p], _check_result),
    "ws_reason_to_close_code": (c_int32, [c_char_p], _check_result),
    "ws_close_code_to_reason": (c_char_p, [c_uint16], _check_lookup),
    # Messages.
    "ws_message_new": (message_p, [c_int32, c_char_p, c_size_t], _check_handle),
    "ws_message_free": (None, [message_p], None),
    "ws_message_type": (c_int32, [message_p], None),
    "ws_message_data": (c_void_p, [message_p], None),
    "ws_message_size": (c_size_t, [message_p], None),
    "ws_message_compressed": (c_bool, [message_p], None),
    "ws_message_frame_count": (c_size_t, [message_p], None),
    "ws_message_frame": (frame_p, [message_p, c_size_t], None),
    # Options.
    "ws_options_new": (options_p, [], _check_handle),
    "ws_options_free": (None, [options_p], None),
    "ws_options_add_deflate_offer": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_strip_host": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_set_absolute_form": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_add_header": (c_int32, [options_p, c_char_p, c_char_p], _check_result),
    "ws_options_add_sensitive_header": (c_int32, [options_p, c_char_p, c_char_p], _check_result),
    "ws_options_set_redirect_credentials": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_set_origin": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_add_subprotocol": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_max_message_size": (c_int32, [options_p, c_size_t], _check_result),
    "ws_options_set_max_frame_size": (c_int32, [options_p, c_uint64], _check_result),
    "ws_options_set_handshake_limits": (c_int32, [options_p, c_size_t, c_size_t], _check_result),
    "ws_options_set_timeouts": (c_int32, [options_p, c_uint32, c_uint32, c_uint32, c_uint32], _check_result),
    "ws_options_set_close_timeout": (c_int32, [options_p, c_uint32], _check_result),
    "ws_options_set_max_redirects": (c_int32, [options_p, c_uint32], _check_result),
    "ws_options_set_tls_ca_file": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls_ca_dir": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls_keylog_file": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls_keylog_env": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_set_tls_client_cert": (c_int32, [options_p, c_char_p, c_char_p], _check_result),
    "ws_options_set_tls_danger_accept_invalid_certs": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_set_tls_min_version": (c_int32, [options_p, c_int32], _check_result),
    "ws_options_set_tls_ciphers": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls13_ciphersuites": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls_pinned_public_key": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_tls_server_name": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_set_fragment_size": (c_int32, [options_p, c_size_t], _check_result),
    "ws_options_set_compression_level": (c_int32, [options_p, c_int32], _check_result),
    "ws_options_set_auto_pong": (c_int32, [options_p, c_bool], _check_result),
    "ws_options_set_keepalive": (c_int32, [options_p, c_uint32, c_uint32], _check_result),
    "ws_options_set_send_queue_limit": (c_int32, [options_p, c_size_t], _check_result),
    "ws_options_set_proxy": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_add_resolve": (c_int32, [options_p, c_char_p], _check_result),
    "ws_options_use_env_proxy": (c_int32, [options_p, c_bool], _check_result),
    # Responses.
    "ws_response_free": (None, [response_p], None),
    "ws_response_status": (c_uint16, [response_p], None),
    "ws_response_reason": (c_char_p, [response_p], None),
    "ws_response_header_count": (c_size_t, [response_p], None),
    "ws_response_header_name": (c_char_p, [response_p, c_size_t], None),
    "ws_response_header_value": (c_char_p, [response_p, c_size_t], None),
    "ws_response_header": (c_char_p, [response_p, c_char_p], None),
    "ws_response_body": (c_void_p, [response_p], None),
    "ws_response_body_length": (c_size_t, [response_p], None),
}


#: Functions of the header that the loaded library does not export (an
#: older build): calling them raises; the test suite requires this be empty.
MISSING: List[str] = []


def available(name: str) -> bool:
    """Whether the loaded library exports `name` and it is declared here
    (for calls newer than some builds of the library)."""
    return name in FUNCTIONS and name not in MISSING


def _missing(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        raise AttributeError(
            f"{name} is not exported by {library_path}: the library is older than "
            "this binding; rebuild or upgrade libwsclient"
        )

    return call


def _declare() -> None:
    for name, (restype, argtypes, errcheck) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            MISSING.append(name)
            setattr(lib, name, _missing(name))
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        if errcheck is not None:
            fn.errcheck = errcheck


_declare()


def address(ptr: Any) -> Optional[int]:
    """A handle's address as an int (None for NULL), for the ``*_at`` calls."""
    return ctypes.cast(ptr, c_void_p).value


def _at(name: str, restype: Any, *argtypes: Any) -> Any:
    """`name` taking its handle by address (an int): an int converts in a
    third of the time a typed pointer takes, which matters on the per-message
    path. No errcheck: the caller reads the result code."""
    try:
        return _raw(name, restype, [c_void_p, *argtypes])
    except AttributeError:
        return _missing(name)


# The per-message path, by address.
send_at = _at("ws_send", c_int32, c_int32, c_char_p, c_size_t, c_uint32)
send_message_at = _at("ws_send_message", c_int32, c_void_p)
# data by address, so that a part starts anywhere in the caller's bytes.
send_part_at = _at("ws_send_part", c_int32, c_int32, c_uint64, c_void_p, c_size_t, c_uint32, c_void_p)
recv_message_at = _at("ws_recv_message", c_int32, c_void_p)
# buf, cap, len_out, type_out, last_out: every pointer by address.
recv_part_at = _at("ws_recv_part", c_int32, c_void_p, c_size_t, c_void_p, c_void_p, c_void_p)
# buf, cap, lens, types, max, count_out: every pointer by address.
recv_messages_at = _at("ws_recv_messages", c_int32, c_void_p, c_size_t, c_void_p, c_void_p, c_size_t, c_void_p)
flush_at = _at("ws_conn_flush", c_int32)
queued_bytes_at = _at("ws_conn_queued_bytes", c_size_t)
message_free_at = _at("ws_message_free", None)
message_type_at = _at("ws_message_type", c_int32)
message_data_at = _at("ws_message_data", c_void_p)
message_size_at = _at("ws_message_size", c_size_t)
message_compressed_at = _at("ws_message_compressed", c_bool)
message_frame_count_at = _at("ws_message_frame_count", c_size_t)
message_frame_at = _at("ws_message_frame", frame_p, c_size_t)


def version() -> str:
    """The loaded library's version string (``ws_version()``)."""
    return _text(lib.ws_version())


def result_string(result: int) -> str:
    """The library's description of a result code (``ws_result_string``)."""
    return _text(lib.ws_result_string(result))
