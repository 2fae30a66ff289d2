//! A transport the caller brings: `ws_connect_transport` and the calls that
//! move the connection's bytes between the library and the caller's own
//! transport (see `transport::Pipe`).

use std::ffi::c_char;

use crate::client::Opening;
use crate::ffi::conn::{options_of, with_conn, ws_conn, Connecting};
use crate::ffi::error::{null_argument, set_last_error, WS_OK};
use crate::ffi::handle::{self, bytes, c_str, try_code, write_out};
use crate::ffi::options::ws_options;
use crate::ffi::panic::{guard, guard_value};
use crate::transport::Pipe;

/// Open a WebSocket over a transport the caller brings: its own socket
/// (TCP, Unix), its own TLS library, a QUIC stream, anything that carries
/// bytes both ways in order. The library does no I/O for this connection:
/// it hands out the bytes to send (`ws_conn_transport_out`) and takes the
/// bytes received (`ws_conn_transport_in`), the opening handshake's
/// included, and never blocks. `uri` names the origin (its host and path
/// make the request; `wss://` only says the caller runs TLS); proxies,
/// TLS options and redirects do not apply (a redirect is an answer).
///
/// Returns `WS_OK` with `*conn_out` in `WS_STATE_CONNECTING`, the upgrade
/// request ready to send; a bad URI (`WS_ERR_URI`) or option
/// (`WS_ERR_INVALID_ARGUMENT`) is reported here. Then, until `ws_connect_continue` returns
/// something other than `WS_ERR_WOULD_BLOCK` (as after `ws_connect_start`):
/// send what `ws_conn_transport_out` gives, pass what arrives to
/// `ws_conn_transport_in`, and call `ws_connect_continue`. Once open, the
/// connection is in non-blocking mode for good (`ws_conn_set_nonblocking`
/// refuses blocking), every message, frame, close and error call works as
/// usual, and `ws_conn_wants` says what to do: `WS_WANT_WRITE`, call
/// `ws_conn_transport_out` and send; `WS_WANT_READ`, feed what arrives,
/// then receive until `WS_ERR_WOULD_BLOCK`. `ws_conn_next_timeout_ms` and
/// the timers (keepalive, the close timeout, the handshake timeout) work
/// as for a socket: call `ws_conn_transport_out` (or `ws_conn_flush`) when
/// they are due. `ws_conn_fd` is -1. When the peer closes its side, call
/// `ws_conn_transport_eof`; when `ws_conn_transport_done` says so, close
/// the transport.
///
/// # Safety
/// `uri`: a NUL-terminated string; `opts`: NULL or a live options handle
/// (only read during the call); `conn_out`: writable.
#[no_mangle]
pub unsafe extern "C" fn ws_connect_transport(
    uri: *const c_char,
    opts: *const ws_options,
    conn_out: *mut *mut ws_conn,
) -> i32 {
    guard(|| {
        if conn_out.is_null() {
            return null_argument("conn_out");
        }
        // SAFETY: forwarded contract.
        let uri = try_code!(unsafe { c_str(uri, "uri") });
        // SAFETY: forwarded contract.
        let options = try_code!(unsafe { options_of(opts) });
        let pipe = Pipe::new();
        let opening = match Opening::over(uri, &options, pipe.clone()) {
            Ok(o) => o,
            Err(e) => return set_last_error(&e),
        };
        let handle = handle::into_raw(ws_conn::over(Connecting::begin(opening), pipe));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(conn_out, handle) };
        WS_OK
    })
}

/// The caller's transport of `conn`, or the error for a connection that has
/// none.
fn pipe_of(c: &ws_conn) -> std::result::Result<&Pipe, i32> {
    c.pipe.as_ref().ok_or_else(|| {
        set_last_error(&crate::error::Error::invalid_state(
            "the connection runs over its own socket (ws_connect), not the caller's transport",
        ))
    })
}

/// Copy up to `cap` bytes to send to the peer into `buf` and say how many
/// in `*len_out` (0: nothing now). What is queued moves to the transport
/// first, and due timers run, as `ws_conn_flush` does. Send them all, in
/// order, before the next bytes.
///
/// # Safety
/// `conn`: NULL or a live connection; `buf`: `cap` writable bytes;
/// `len_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_transport_out(
    conn: *mut ws_conn,
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> i32 {
    // SAFETY: `len_out` is NULL or writable (the caller's contract).
    unsafe { write_out(len_out, 0) };
    if buf.is_null() {
        return null_argument("buf");
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let pipe = try_code!(pipe_of(c));
            // SAFETY: the caller promises `cap` writable bytes at `buf`.
            let buf = std::slice::from_raw_parts_mut(buf, cap);
            let n = match c.open_or(None, |k| Some(k.transport_out(buf))) {
                Some(r) => try_code!(c.check(r)),
                None => pipe.pull_output(buf),
            };
            write_out(len_out, n);
            WS_OK
        })
    }
}

/// Give the bytes that arrived from the peer (`len` of them at `data`).
/// `*taken_out` says how many were taken: fewer when 64 KiB wait already
/// (receive messages, or `ws_connect_continue`, then give the rest). Then,
/// while connecting, call `ws_connect_continue`; once open, receive until
/// `WS_ERR_WOULD_BLOCK`.
///
/// # Safety
/// `conn`: NULL or a live connection; `data`: `len` readable bytes;
/// `taken_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_transport_in(
    conn: *mut ws_conn,
    data: *const u8,
    len: usize,
    taken_out: *mut usize,
) -> i32 {
    // SAFETY: `taken_out` is NULL or writable (the caller's contract).
    unsafe { write_out(taken_out, 0) };
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let pipe = try_code!(pipe_of(c));
            let data = try_code!(bytes(data, len, "data"));
            write_out(taken_out, pipe.push_input(data));
            WS_OK
        })
    }
}

/// The peer closed its side of the transport (a read returned end of
/// file): the connection sees it as a socket's EOF.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_transport_eof(conn: *mut ws_conn) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            try_code!(pipe_of(c)).input_eof();
            WS_OK
        })
    }
}

/// Whether the caller should close its transport now: the connection is
/// over (closed, failed, or its connect answered or failed) and its last
/// bytes were taken. False for NULL and for connections over their own
/// socket.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_transport_done(conn: *const ws_conn) -> bool {
    guard_value(false, || {
        // SAFETY: forwarded contract.
        let Ok(c) = (unsafe { handle::borrow(conn, "conn") }) else {
            return false;
        };
        let Some(pipe) = c.pipe.as_ref() else {
            return false;
        };
        match c.open_or(None, |k| Some(k.transport_done())) {
            Some(done) => done,
            // Connecting: done once the connect is over.
            None => !c.is_connecting_now() && pipe.output_len() == 0,
        }
    })
}
