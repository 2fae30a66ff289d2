//! Result codes, their static descriptions, and the thread's last error.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};

use crate::error::{Error, ErrorKind};
use crate::ffi::conn::ws_conn;
use crate::ffi::handle;
use crate::ffi::panic::guard_value;

// Success and non-error outcomes.
/// The call succeeded.
pub const WS_OK: i32 = 0;
/// `ws_connect`: the server answered with an HTTP status other than 101.
pub const WS_HTTP_RESPONSE: i32 = 1;
/// `ws_recv_message`/`ws_recv_message_loop`: the close handshake is complete
/// (whichever side started it) and the connection is closed.
pub const WS_CLOSED: i32 = 2;
/// `ws_recv_message_loop`: the handler returned non-zero; that value is
/// `ws_last_stop_value()`.
pub const WS_STOPPED: i32 = 3;

// Caller errors (-1 .. -9).
/// *exn*: a required pointer argument is NULL.
pub const WS_ERR_NULL_ARGUMENT: i32 = -1;
/// *exn*: an argument is out of range or malformed, or a handle is of the
/// wrong type or already freed.
pub const WS_ERR_INVALID_ARGUMENT: i32 = -2;
/// *exn*: the call does not fit the connection's state (e.g. sending after
/// the close handshake started).
pub const WS_ERR_INVALID_STATE: i32 = -3;
/// *exn*: an internal error (a caught Rust panic); the message says where.
pub const WS_ERR_PANIC: i32 = -4;
/// *exn*: a map lookup (opcode, optype, reason, close code) found nothing.
pub const WS_ERR_NOT_FOUND: i32 = -5;

// Connection errors (-10 .. -19).
/// *exn*: an I/O error on the socket.
pub const WS_ERR_IO: i32 = -10;
/// *exn*: a connect, handshake, read or write timeout expired. After a
/// receive timeout the connection is still usable.
pub const WS_ERR_TIMEOUT: i32 = -11;
/// *exn*: the host name did not resolve.
pub const WS_ERR_RESOLVE: i32 = -12;
/// *exn*: no resolved address accepted a TCP connection.
pub const WS_ERR_CONNECT: i32 = -13;
/// *exn*: the server closed TCP without a close handshake.
pub const WS_ERR_CONNECTION_LOST: i32 = -14;
/// Not a failure (an *exn* code only in form): in non-blocking mode the
/// call cannot complete now (no complete message or frame has arrived, a
/// send would pass the send queue limit, or `ws_conn_flush` left bytes
/// queued). Poll `ws_conn_fd` for `ws_conn_wants` and call again; the
/// connection is usable.
pub const WS_ERR_WOULD_BLOCK: i32 = -15;

// TLS errors (-20 .. -29).
/// *exn*: TLS failed for a reason other than certificate verification.
pub const WS_ERR_TLS: i32 = -20;
/// *exn*: the server's certificate (or host name) did not verify.
pub const WS_ERR_TLS_VERIFY: i32 = -21;

// Handshake errors (-30 .. -39).
/// *exn*: the URI is not a valid ws:// or wss:// URI.
pub const WS_ERR_URI: i32 = -30;
/// *exn*: the server's opening handshake response is invalid (bad
/// `Sec-WebSocket-Accept`, missing `Upgrade`, ...).
pub const WS_ERR_HANDSHAKE: i32 = -31;
/// *fail* (close code 1010): the server's extension answer is invalid or
/// was not offered. (A subprotocol not offered is `WS_ERR_PROTOCOL`.)
pub const WS_ERR_NEGOTIATION: i32 = -32;
/// *exn*: too many redirects, or a redirect from wss:// to ws://.
pub const WS_ERR_REDIRECT: i32 = -33;
/// `ws_connect`: the proxy refused the tunnel (HTTP 407 when its
/// credentials are missing or wrong, 403, 502, ...; a SOCKS5 refusal); for
/// an HTTP proxy `*response_out`, if not NULL, receives its answer (free
/// with `ws_response_free`).
pub const WS_ERR_PROXY: i32 = -34;

// Protocol errors from the peer (-40 .. -49): always a *fail*.
/// *fail* (close code 1002): the server broke the protocol: the framing
/// (masked frame, bad opcode, reserved bit, fragmented control frame, ...)
/// or, in its 101 answer, chose a subprotocol that was not offered.
pub const WS_ERR_PROTOCOL: i32 = -40;
/// *fail* (close code 1007): a text message or close reason is not valid
/// UTF-8.
pub const WS_ERR_INVALID_PAYLOAD: i32 = -41;

// Limits (-50 .. -59).
/// *fail* (close code 1009): a frame or message, after decompression, is
/// over the configured limit.
pub const WS_ERR_MESSAGE_TOO_BIG: i32 = -50;

pub fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => WS_ERR_INVALID_ARGUMENT,
        ErrorKind::InvalidState => WS_ERR_INVALID_STATE,
        ErrorKind::Io => WS_ERR_IO,
        ErrorKind::Timeout => WS_ERR_TIMEOUT,
        ErrorKind::WouldBlock => WS_ERR_WOULD_BLOCK,
        ErrorKind::Resolve => WS_ERR_RESOLVE,
        ErrorKind::Connect => WS_ERR_CONNECT,
        ErrorKind::ConnectionLost => WS_ERR_CONNECTION_LOST,
        ErrorKind::Tls => WS_ERR_TLS,
        ErrorKind::TlsVerify => WS_ERR_TLS_VERIFY,
        ErrorKind::Uri => WS_ERR_URI,
        ErrorKind::Handshake => WS_ERR_HANDSHAKE,
        ErrorKind::Negotiation => WS_ERR_NEGOTIATION,
        ErrorKind::Protocol => WS_ERR_PROTOCOL,
        ErrorKind::InvalidPayload => WS_ERR_INVALID_PAYLOAD,
        ErrorKind::MessageTooBig => WS_ERR_MESSAGE_TOO_BIG,
        ErrorKind::Redirect => WS_ERR_REDIRECT,
        ErrorKind::Proxy => WS_ERR_PROXY,
        ErrorKind::Panic => WS_ERR_PANIC,
    }
}

/// The kind behind an error code (None for the codes of no kind: success
/// and outcomes, `WS_ERR_NULL_ARGUMENT`, `WS_ERR_NOT_FOUND`, unknown).
pub fn kind_of(code: i32) -> Option<ErrorKind> {
    Some(match code {
        WS_ERR_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
        WS_ERR_INVALID_STATE => ErrorKind::InvalidState,
        WS_ERR_IO => ErrorKind::Io,
        WS_ERR_TIMEOUT => ErrorKind::Timeout,
        WS_ERR_WOULD_BLOCK => ErrorKind::WouldBlock,
        WS_ERR_RESOLVE => ErrorKind::Resolve,
        WS_ERR_CONNECT => ErrorKind::Connect,
        WS_ERR_CONNECTION_LOST => ErrorKind::ConnectionLost,
        WS_ERR_TLS => ErrorKind::Tls,
        WS_ERR_TLS_VERIFY => ErrorKind::TlsVerify,
        WS_ERR_URI => ErrorKind::Uri,
        WS_ERR_HANDSHAKE => ErrorKind::Handshake,
        WS_ERR_NEGOTIATION => ErrorKind::Negotiation,
        WS_ERR_PROTOCOL => ErrorKind::Protocol,
        WS_ERR_INVALID_PAYLOAD => ErrorKind::InvalidPayload,
        WS_ERR_MESSAGE_TOO_BIG => ErrorKind::MessageTooBig,
        WS_ERR_REDIRECT => ErrorKind::Redirect,
        WS_ERR_PROXY => ErrorKind::Proxy,
        WS_ERR_PANIC => ErrorKind::Panic,
        _ => return None,
    })
}

/// A static description of a result code (never NULL).
#[no_mangle]
pub extern "C" fn ws_result_string(code: i32) -> *const c_char {
    let s: &'static str = match code {
        WS_OK => "ok\0",
        WS_HTTP_RESPONSE => "the server answered with an HTTP response\0",
        WS_CLOSED => "the connection is closed: the close handshake is complete\0",
        WS_STOPPED => "the message handler stopped the loop\0",
        WS_ERR_NULL_ARGUMENT => "a required argument is NULL\0",
        WS_ERR_INVALID_ARGUMENT => "invalid argument\0",
        WS_ERR_INVALID_STATE => "invalid state for this call\0",
        WS_ERR_PANIC => "internal error\0",
        WS_ERR_NOT_FOUND => "not found\0",
        WS_ERR_IO => "I/O error\0",
        WS_ERR_TIMEOUT => "timed out\0",
        WS_ERR_RESOLVE => "host name resolution failed\0",
        WS_ERR_CONNECT => "TCP connect failed\0",
        WS_ERR_CONNECTION_LOST => "connection lost\0",
        WS_ERR_WOULD_BLOCK => "would block\0",
        WS_ERR_TLS => "TLS error\0",
        WS_ERR_TLS_VERIFY => "TLS certificate verification failed\0",
        WS_ERR_URI => "invalid WebSocket URI\0",
        WS_ERR_HANDSHAKE => "invalid handshake response\0",
        WS_ERR_NEGOTIATION => "extension negotiation failed\0",
        WS_ERR_REDIRECT => "redirect refused\0",
        WS_ERR_PROXY => "the proxy refused the connection\0",
        WS_ERR_PROTOCOL => "protocol error\0",
        WS_ERR_INVALID_PAYLOAD => "invalid frame payload data\0",
        WS_ERR_MESSAGE_TOO_BIG => "message too big\0",
        _ => "unknown result code\0",
    };
    s.as_ptr().cast()
}

/// Whether `code` is a *fail* (the connection was failed with a close frame
/// to the peer), as opposed to an *exn*.
#[no_mangle]
pub extern "C" fn ws_result_is_fail(code: i32) -> bool {
    matches!(
        code,
        WS_ERR_PROTOCOL | WS_ERR_INVALID_PAYLOAD | WS_ERR_MESSAGE_TOO_BIG | WS_ERR_NEGOTIATION
    )
}

/// Whether to connect again after a connection (or a connect) ended with
/// `code`. True when a new attempt may succeed (after a backoff delay with
/// jitter: see examples-c/reconnect_client.c), false when it would fail
/// the same way, or nothing failed.
///
/// - `close_code`, when not 0 (`ws_conn_peer_close_code`: the server sent a
///   close frame), decides: retry after 1001 Going Away, 1011 Internal
///   Error, 1012 Service Restart, 1013 Try Again Later, 1014 Bad Gateway
///   and 1006 (abnormal closure, for callers that record it); not after
///   1000 Normal Closure, 1005 (no code), 1008 Policy Violation, the other
///   codes that blame the client (1002, 1003, 1007, 1009, 1010) or an
///   application's code (3000-4999).
/// - `WS_HTTP_RESPONSE` (and `WS_ERR_PROXY`, with the proxy's answer):
///   `http_status` decides (`ws_response_status`; 0 for a SOCKS5 refusal):
///   retry after 500, 502, 503 and 504, not after any other status, 4xx
///   included (429 Too Many Requests too: its `Retry-After` header says
///   when; see `ws_response_header`).
/// - Retry after network errors and timeouts: `WS_ERR_IO`,
///   `WS_ERR_TIMEOUT`, `WS_ERR_RESOLVE`, `WS_ERR_CONNECT`,
///   `WS_ERR_CONNECTION_LOST` (the server dropped TCP, over ws:// or
///   wss://), and `WS_ERR_TLS` (TLS failed on the way; a configuration
///   that can never work fails the same way each time, which the backoff
///   keeps cheap).
/// - Not after anything else: the caller's mistakes (`WS_ERR_NULL_ARGUMENT`,
///   `WS_ERR_INVALID_ARGUMENT`, `WS_ERR_INVALID_STATE`, `WS_ERR_URI`), a
///   certificate that did not verify (`WS_ERR_TLS_VERIFY`), an invalid
///   handshake answer (`WS_ERR_HANDSHAKE`, also when the server closed the
///   connection before its answer: the Python and CHICKEN bindings retry
///   that one, told by its message) or a refused redirect, a *fail* (the
///   server broke the protocol), and outcomes that are not failures
///   (`WS_OK`, `WS_STOPPED`, `WS_CLOSED` without a close code,
///   `WS_ERR_WOULD_BLOCK`).
///
/// These are the rules of Python `websockets`' reconnecting `connect()`
/// and of this library's bindings (network errors, TLS failures other than
/// verification, timeouts, and 500, 502, 503 and 504 are retried), with
/// the server's close code taken into account.
#[no_mangle]
pub extern "C" fn ws_result_is_retryable(code: i32, http_status: u16, close_code: u16) -> bool {
    guard_value(false, || {
        if close_code != 0 {
            return crate::proto::close::is_retryable(close_code);
        }
        match code {
            WS_HTTP_RESPONSE | WS_ERR_PROXY => crate::http::is_retryable_status(http_status),
            _ => kind_of(code).is_some_and(ErrorKind::is_retryable),
        }
    })
}

/// The details of the last error on this thread.
pub struct LastError {
    pub code: i32,
    pub close_code: u16,
    pub message: CString,
}

thread_local! {
    static LAST_STOP_VALUE: Cell<i32> = const { Cell::new(0) };
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError {
        code: WS_OK,
        close_code: 0,
        message: CString::default(),
    });
}

pub fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// Record `error` as this thread's last error and return its code.
pub fn set_last_error(error: &Error) -> i32 {
    record(code_of(error.kind()), error)
}

/// Record `error` under `code`, for results that have no `ErrorKind`.
pub fn record(code: i32, error: &Error) -> i32 {
    LAST_ERROR.with(|last| {
        *last.borrow_mut() = LastError {
            code,
            close_code: error.close_code().unwrap_or(0),
            message: to_cstring(error.message()),
        }
    });
    code
}

pub fn null_argument(name: &str) -> i32 {
    record(
        WS_ERR_NULL_ARGUMENT,
        &Error::invalid_argument(format!("{name} is NULL")),
    )
}

/// The message of the last failing call on this thread ("" if none). Valid
/// until the next failing call on this thread: in an expression that also
/// makes a call that can fail (an argument of the same `printf`, say) it
/// may already be gone. `ws_last_error_copy` copies it into your buffer.
#[no_mangle]
pub extern "C" fn ws_last_error_message() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().message.as_ptr())
}

/// Copy `message` into `buf` as snprintf does: at most `cap - 1` bytes and
/// a NUL; nothing with a NULL `buf` or 0 `cap`. Returns its whole length.
///
/// # Safety
/// `buf`: NULL or `cap` writable bytes.
pub unsafe fn copy_message(message: &CStr, buf: *mut c_char, cap: usize) -> usize {
    let bytes = message.to_bytes();
    if !buf.is_null() && cap > 0 {
        let n = bytes.len().min(cap - 1);
        // SAFETY: `buf` has `cap` writable bytes and `n < cap`; the
        // message is ours, so the two cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, n);
            *buf.add(n) = 0;
        }
    }
    bytes.len()
}

/// Copy the message of the last failing call on this thread into `buf`,
/// as `snprintf` would: at most `cap - 1` bytes and a terminating NUL
/// (cut short when it does not fit; nothing is written when `buf` is NULL
/// or `cap` is 0). Returns the message's whole length, without the NUL: a
/// result `>= cap` means it was cut. Copying is not a failing call: the
/// message stays as it was. Like curl's error buffer, the copy is yours:
/// it stays valid whatever later calls do. E.g. after a failed
/// `ws_connect`: `char why[256]; ws_last_error_copy(why, sizeof why);`.
///
/// # Safety
/// `buf`: NULL or `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_last_error_copy(buf: *mut c_char, cap: usize) -> usize {
    guard_value(0, || {
        // SAFETY: forwarded contract.
        LAST_ERROR.with(|last| unsafe { copy_message(&last.borrow().message, buf, cap) })
    })
}

/// Copy the message of the last error on `conn` into `buf`, as
/// `ws_last_error_copy` does (at most `cap - 1` bytes and a NUL; returns
/// the whole length). The copy is taken under the connection's lock, so it
/// is whole even while other threads use the connection; it is the
/// connection's latest error, which with several threads may be another
/// thread's: a thread's own error is `ws_last_error_copy`. NULL or an
/// invalid `conn` copies "" and returns 0.
///
/// # Safety
/// `conn`: NULL or a live connection; `buf`: NULL or `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_errmsg_copy(
    conn: *const ws_conn,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    guard_value(0, || {
        // SAFETY: forwarded contract (NULL is not looked up, so it leaves
        // the thread's last error alone).
        let copied = unsafe {
            (!conn.is_null())
                .then(|| handle::borrow(conn, "conn").ok())
                .flatten()
                .map(|c| c.with_errmsg(|m| copy_message(m, buf, cap)))
        };
        copied.unwrap_or_else(|| {
            // SAFETY: forwarded contract.
            unsafe { copy_message(c"", buf, cap) }
        })
    })
}

/// The result code of the last failing call on this thread.
#[no_mangle]
pub extern "C" fn ws_last_error_code() -> i32 {
    LAST_ERROR.with(|last| last.borrow().code)
}

/// For a *fail*: the close code sent to the peer (1002, 1007, 1009, 1010).
/// 0 for an *exn*.
#[no_mangle]
pub extern "C" fn ws_last_error_close_code() -> u16 {
    LAST_ERROR.with(|last| last.borrow().close_code)
}

pub fn set_last_stop_value(value: i32) {
    LAST_STOP_VALUE.with(|v| v.set(value));
}

/// The non-zero value the handler returned to stop the last
/// `ws_recv_message_loop` on this thread that returned `WS_STOPPED` (0
/// before any).
#[no_mangle]
pub extern "C" fn ws_last_stop_value() -> i32 {
    LAST_STOP_VALUE.with(|v| v.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_maps_back_to_its_kind() {
        for code in -60..0 {
            if let Some(kind) = kind_of(code) {
                assert_eq!(code_of(kind), code, "{kind:?}");
            }
        }
        assert_eq!(kind_of(WS_ERR_NULL_ARGUMENT), None);
        assert_eq!(kind_of(WS_OK), None);
        assert_eq!(kind_of(WS_CLOSED), None);
    }

    #[test]
    fn the_classifier_retries_network_errors_server_errors_and_a_restarting_server() {
        let retry = ws_result_is_retryable;
        for code in [
            WS_ERR_IO,
            WS_ERR_TIMEOUT,
            WS_ERR_RESOLVE,
            WS_ERR_CONNECT,
            WS_ERR_CONNECTION_LOST,
            WS_ERR_TLS,
        ] {
            assert!(retry(code, 0, 0), "{code}");
        }
        for code in [
            WS_OK,
            WS_STOPPED,
            WS_CLOSED,
            WS_ERR_NULL_ARGUMENT,
            WS_ERR_INVALID_ARGUMENT,
            WS_ERR_INVALID_STATE,
            WS_ERR_PANIC,
            WS_ERR_NOT_FOUND,
            WS_ERR_WOULD_BLOCK,
            WS_ERR_TLS_VERIFY,
            WS_ERR_URI,
            WS_ERR_HANDSHAKE,
            WS_ERR_NEGOTIATION,
            WS_ERR_REDIRECT,
            WS_ERR_PROXY,
            WS_ERR_PROTOCOL,
            WS_ERR_INVALID_PAYLOAD,
            WS_ERR_MESSAGE_TOO_BIG,
            -99,
            99,
        ] {
            assert!(!retry(code, 0, 0), "{code}");
        }
        // The answer's status decides for an HTTP answer or a proxy's.
        for code in [WS_HTTP_RESPONSE, WS_ERR_PROXY] {
            assert!(retry(code, 503, 0) && retry(code, 500, 0), "{code}");
            assert!(!retry(code, 403, 0) && !retry(code, 429, 0), "{code}");
            assert!(!retry(code, 501, 0), "{code}");
            assert!(!retry(code, 0, 0), "{code}");
        }
        // A status means nothing with other results.
        assert!(!retry(WS_ERR_TLS_VERIFY, 503, 0));
        // The server's close code decides, whatever the result.
        assert!(retry(WS_CLOSED, 0, 1012) && retry(WS_CLOSED, 0, 1013));
        assert!(retry(WS_CLOSED, 0, 1001) && retry(WS_ERR_CONNECTION_LOST, 0, 1006));
        assert!(!retry(WS_CLOSED, 0, 1008) && !retry(WS_CLOSED, 0, 1000));
        assert!(!retry(WS_ERR_CONNECTION_LOST, 0, 1008));
        assert!(retry(WS_ERR_PROTOCOL, 0, 1012));
    }
}
