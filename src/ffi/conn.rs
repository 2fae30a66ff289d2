//! `ws_conn`: connect, send, receive, close.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::client::{
    connect, Batch, Connected, Connection, Interest, Opening, Options, State, Step,
};
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::error::{
    null_argument, set_last_error, set_last_stop_value, to_cstring, WS_CLOSED,
    WS_ERR_INVALID_ARGUMENT, WS_HTTP_RESPONSE, WS_OK, WS_STOPPED,
};
use crate::ffi::frame::{store_frame, ws_frame};
use crate::ffi::handle::{self, bytes, c_str, tagged, try_code, write_out};
use crate::ffi::message::{message_type, ws_message, ws_message_free};
use crate::ffi::options::ws_options;
use crate::ffi::panic::{guard, guard_value};
use crate::ffi::response::ws_response;
use crate::transport::Pipe;

/// `ws_conn_state`: open.
pub const WS_STATE_OPEN: i32 = 0;
/// `ws_conn_state`: we sent a close frame and wait for the server's.
pub const WS_STATE_CLOSING: i32 = 1;
/// `ws_conn_state`: closed; the socket is shut. Also a connection whose
/// connect (`ws_connect_continue`) failed or was answered with another
/// HTTP status.
pub const WS_STATE_CLOSED: i32 = 2;
/// `ws_conn_state`: opened with `ws_connect_start` and not yet open; drive
/// it with `ws_connect_continue`.
pub const WS_STATE_CONNECTING: i32 = 3;

/// `ws_send` flag: send this message uncompressed even when
/// permessage-deflate is in use.
pub const WS_SEND_UNCOMPRESSED: u32 = 1;
/// `ws_send` flag: more messages follow. The message is only queued, and
/// written with what else is queued in one system call by the next send
/// without this flag, `ws_conn_flush`, or a receive before it waits (a
/// cork, like `MSG_MORE`). Once 64 KiB are queued they are written at once,
/// so a long batch is never held whole.
pub const WS_SEND_MORE: u32 = 2;
/// `ws_send_part` flag: take all of the part now, queueing what the socket
/// does not take (as `ws_send` does), e.g. to finish a message when the
/// caller cannot wait.
pub const WS_SEND_ALL: u32 = 4;

/// `ws_conn_wants` bit: wait until the socket is readable, then receive.
pub const WS_WANT_READ: u32 = 1;
/// `ws_conn_wants` bit: wait until the socket is writable, then
/// `ws_conn_flush`.
pub const WS_WANT_WRITE: u32 = 2;

/// A WebSocket connection: open, or (from `ws_connect_start`) connecting.
///
/// The tag comes first (`repr(C)`) so a handle of another type can be told
/// apart without reading past it. Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_conn {
    tag: u64,
    /// Set once the WebSocket is open (at once by `ws_connect`). Shared by
    /// the threads that use the handle: all of it is `Sync`.
    open: OnceLock<Opened>,
    /// While connecting: the opening (boxed: an open connection keeps only
    /// the pointer, and idle connections are many).
    connecting: Mutex<Option<Box<Connecting>>>,
    /// This handle's last error: (result code, close code, message).
    error: Mutex<ConnError>,
    /// Set once, when the server's close arrives; stable from then on.
    peer_reason: OnceLock<CString>,
    /// The caller's transport (`ws_connect_transport`), from the start of
    /// the connect.
    pub(super) pipe: Option<Pipe>,
}

/// An open connection, and what the handle hands out about it.
pub(super) struct Opened {
    pub(super) conn: Connection,
    subprotocol: Option<CString>,
    /// The 101 response's headers (name, value) as C strings, made once.
    headers: Vec<(CString, CString)>,
}

impl Opened {
    fn new(conn: Connection) -> Opened {
        let subprotocol = conn.subprotocol().map(to_cstring);
        let headers = conn
            .response_headers()
            .iter()
            .map(|(n, v)| (to_cstring(n), to_cstring(v)))
            .collect();
        Opened {
            conn,
            subprotocol,
            headers,
        }
    }
}

impl Connecting {
    /// Take the first step of `opening` now; its outcome waits for the
    /// first `ws_connect_continue`.
    pub(super) fn begin(mut opening: Opening) -> Box<Connecting> {
        let parked = match opening.advance(Instant::now()) {
            Ok(Step::Pending) => None,
            other => Some(other),
        };
        Box::new(Connecting { opening, parked })
    }
}

/// A connection being opened by `ws_connect_continue`.
pub(super) struct Connecting {
    pub(super) opening: Opening,
    /// The outcome of the step `ws_connect_start` took, for the next
    /// `ws_connect_continue` to report.
    pub(super) parked: Option<Result<Step>>,
}
tagged!(ws_conn, 0x7773_636f_6e6e_6563);

struct ConnError {
    code: i32,
    close_code: u16,
    message: CString,
}

impl ws_conn {
    fn new(open: Option<Opened>, connecting: Option<Box<Connecting>>) -> ws_conn {
        let cell = OnceLock::new();
        if let Some(o) = open {
            let _ = cell.set(o);
        }
        ws_conn {
            tag: <ws_conn as handle::Tagged>::TAG,
            open: cell,
            connecting: Mutex::new(connecting),
            error: Mutex::new(ConnError {
                code: WS_OK,
                close_code: 0,
                message: CString::default(),
            }),
            peer_reason: OnceLock::new(),
            pipe: None,
        }
    }

    /// A connection being opened over the caller's transport.
    pub(super) fn over(connecting: Box<Connecting>, pipe: Pipe) -> ws_conn {
        ws_conn {
            pipe: Some(pipe),
            ..ws_conn::new(None, Some(connecting))
        }
    }

    /// The open connection; `WS_ERR_INVALID_STATE` while connecting or when
    /// the connect failed.
    pub(super) fn conn(&self) -> Result<&Connection> {
        if let Some(o) = self.open.get() {
            return Ok(&o.conn);
        }
        Err(Error::exn(
            ErrorKind::InvalidState,
            if self.is_connecting() {
                "the connection is still connecting: call ws_connect_continue until it returns WS_OK"
            } else {
                "the connection never opened: its connect failed or was answered with another \
                 HTTP status"
            },
        ))
    }

    /// The connection's id (its trace events'), also while connecting.
    pub(super) fn id(&self) -> u64 {
        match self.open.get() {
            Some(o) => o.conn.id(),
            None => self.with_connecting(0, |k| k.opening.id()),
        }
    }

    pub(super) fn is_connecting_now(&self) -> bool {
        self.is_connecting()
    }

    fn is_connecting(&self) -> bool {
        self.with_connecting(false, |_| true)
    }

    /// `f` of the opening while connecting, else `fallback`.
    fn with_connecting<T>(&self, fallback: T, f: impl FnOnce(&Connecting) -> T) -> T {
        match self.connecting.lock() {
            Ok(slot) => slot.as_deref().map_or(fallback, f),
            Err(_) => fallback,
        }
    }

    /// `f` of the open connection, or `fallback` (connecting, or never opened).
    pub(super) fn open_or<T>(&self, fallback: T, f: impl FnOnce(&Connection) -> T) -> T {
        self.open.get().map_or(fallback, |o| f(&o.conn))
    }

    /// Record `r`'s error on the handle and the thread.
    pub(super) fn check<T>(&self, r: Result<T>) -> std::result::Result<T, i32> {
        r.map_err(|e| {
            let code = set_last_error(&e);
            if let Ok(mut slot) = self.error.lock() {
                // Keep the string when it is unchanged (an event loop sees
                // WS_ERR_WOULD_BLOCK often): fewer allocations, and a pointer
                // another thread holds stays valid.
                if slot.code != code || slot.message.as_bytes() != e.message().as_bytes() {
                    slot.message = to_cstring(e.message());
                }
                slot.code = code;
                slot.close_code = e.close_code().unwrap_or(0);
            }
            code
        })
    }

    /// Run `f` on this handle's last error message, under its lock.
    pub(super) fn with_errmsg<R>(&self, f: impl FnOnce(&std::ffi::CStr) -> R) -> R {
        match self.error.lock() {
            Ok(e) => f(&e.message),
            Err(_) => f(c""),
        }
    }

    fn remember_peer_reason(&self) {
        let reason = self
            .open_or(None, Connection::peer_close)
            .map(|f| f.reason)
            .unwrap_or_default();
        let _ = self.peer_reason.set(to_cstring(&reason));
    }
}

/// Run `f` on the connection behind `conn` (shared: several threads may);
/// a panic inside poisons the connection for every later call.
pub(super) unsafe fn with_conn(conn: *mut ws_conn, f: impl FnOnce(&ws_conn) -> i32) -> i32 {
    // SAFETY: the caller passes NULL or a live connection.
    unsafe { handle::guarded(conn, "conn", f) }
}

/// Connect to `uri` (ws:// or wss://) and perform the opening handshake.
///
/// - `WS_OK`: `*conn_out` is a new connection (free with `ws_conn_free`).
/// - `WS_HTTP_RESPONSE`: the server answered with another status (e.g. a
///   redirect or 403); `*response_out`, if not NULL, receives it (free with
///   `ws_response_free`). This is not an error, as in the ws-client egg.
/// - negative: an error; `ws_last_error_message()` says why ("certificate
///   verify failed: ...", "cannot connect to ..."). For `WS_ERR_PROXY` (the
///   proxy refused the tunnel, e.g. 407) `*response_out`, if not NULL,
///   receives the proxy's answer.
///
/// `opts` may be NULL for the defaults; it is only read during the call.
///
/// # Safety
/// `uri`: a NUL-terminated string; `opts`: NULL or a live options handle;
/// `conn_out`: writable; `response_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_connect(
    uri: *const c_char,
    opts: *const ws_options,
    conn_out: *mut *mut ws_conn,
    response_out: *mut *mut ws_response,
) -> i32 {
    guard(|| {
        if conn_out.is_null() {
            return null_argument("conn_out");
        }
        // SAFETY: forwarded contract.
        let uri = try_code!(unsafe { c_str(uri, "uri") });
        let default = Options::default();
        let options = if opts.is_null() {
            &default
        } else {
            // SAFETY: forwarded contract.
            &try_code!(unsafe { handle::borrow(opts, "opts") }).inner
        };
        match connect(uri, options) {
            Ok(Connected::Upgraded(c)) => {
                let handle = handle::into_raw(ws_conn::new(Some(Opened::new(*c)), None));
                // SAFETY: checked non-NULL above.
                unsafe { write_out(conn_out, handle) };
                WS_OK
            }
            Ok(Connected::Response(r)) => {
                if !response_out.is_null() {
                    // SAFETY: non-NULL and writable per the contract.
                    unsafe { write_out(response_out, handle::into_raw(ws_response::new(r))) };
                }
                WS_HTTP_RESPONSE
            }
            Err(e) => {
                // SAFETY: NULL or writable per the contract.
                unsafe { ws_response::hand_out(response_out, e.response()) };
                set_last_error(&e)
            }
        }
    })
}

/// The options behind `opts` (NULL: the defaults), cloned.
///
/// # Safety
/// `opts`: NULL or a live options handle.
pub(super) unsafe fn options_of(opts: *const ws_options) -> std::result::Result<Options, i32> {
    if opts.is_null() {
        return Ok(Options::default());
    }
    // SAFETY: forwarded contract.
    Ok(unsafe { handle::borrow(opts, "opts") }?.inner.clone())
}

/// Start connecting to `uri` without blocking: the same connect as
/// `ws_connect` (name lookup, TCP, proxy, TLS, the upgrade, redirects),
/// driven by your event loop. It checks its arguments (a bad URI or option
/// is reported here), starts the first step, and returns `WS_OK` with
/// `*conn_out` a connection in `WS_STATE_CONNECTING`, in non-blocking mode.
/// Then wait on `ws_conn_fd` for `ws_conn_wants`, at most
/// `ws_conn_next_timeout_ms`, and call `ws_connect_continue` until it
/// returns something other than `WS_ERR_WOULD_BLOCK`. While connecting,
/// `ws_conn_fd` is one descriptor from start to end (an epoll descriptor
/// watching whatever the current step waits for), and `ws_conn_wants` is
/// `WS_WANT_READ`; once `ws_connect_continue` returns `WS_OK` the
/// descriptor is the socket's: read `ws_conn_fd` again then, and register
/// the new one. Name lookups run on a helper thread (getaddrinfo cannot be
/// cancelled); addresses pinned with `ws_options_add_resolve` and IP
/// literals need none. The handshake timeout bounds the whole connect.
///
/// `ws_conn_free` cancels a connect at once, whatever step it is in (a
/// lookup in progress is abandoned, not waited for). Until it is open,
/// calls that need an open connection (send, receive, flush, close,
/// `ws_conn_set_nonblocking`, `ws_conn_set_timeouts`) return
/// `WS_ERR_INVALID_STATE`.
///
/// # Safety
/// `uri`: a NUL-terminated string; `opts`: NULL or a live options handle
/// (only read during the call); `conn_out`: writable.
#[no_mangle]
pub unsafe extern "C" fn ws_connect_start(
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
        let opening = match Opening::start(uri, &options, false) {
            Ok(o) => o,
            Err(e) => return set_last_error(&e),
        };
        let handle = handle::into_raw(ws_conn::new(None, Some(Connecting::begin(opening))));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(conn_out, handle) };
        WS_OK
    })
}

/// Advance a connection from `ws_connect_start` as far as it goes without
/// waiting.
///
/// - `WS_OK`: it is open, an ordinary connection in non-blocking mode
///   whose `ws_conn_fd` is now the socket (another descriptor than while
///   connecting: register it instead). Receive until `WS_ERR_WOULD_BLOCK`
///   first: the server's first messages may have come with its answer.
///   Calling again returns `WS_OK`.
/// - `WS_ERR_WOULD_BLOCK`: still connecting; wait until `ws_conn_fd` is
///   readable, at most `ws_conn_next_timeout_ms`, then call again.
/// - `WS_HTTP_RESPONSE`: the server answered with another status (after
///   any redirects followed); `*response_out`, if not NULL, receives it.
/// - negative: the connect failed (`WS_ERR_TIMEOUT` when the handshake or
///   connect timeout passed); `ws_conn_errmsg` says why. For
///   `WS_ERR_PROXY`, `*response_out` receives the proxy's answer.
///
/// After `WS_HTTP_RESPONSE` or an error the connect is over
/// (`WS_STATE_CLOSED`): free the connection.
///
/// # Safety
/// `conn`: NULL or a live connection; `response_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_connect_continue(
    conn: *mut ws_conn,
    response_out: *mut *mut ws_response,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            if c.open.get().is_some() {
                return WS_OK;
            }
            let Ok(mut slot) = c.connecting.lock() else {
                return c
                    .check::<()>(Err(Error::exn(
                        ErrorKind::Panic,
                        "the connection is unusable: an earlier call panicked while using it",
                    )))
                    .err()
                    .unwrap_or(WS_OK);
            };
            let Some(connecting) = slot.as_mut() else {
                // Over (failed or answered): c.conn() says which, and takes
                // this lock itself.
                drop(slot);
                return c.check::<()>(c.conn().map(|_| ())).err().unwrap_or(WS_OK);
            };
            let step = match connecting.parked.take() {
                Some(step) => step,
                None => connecting.opening.advance(Instant::now()),
            };
            if let Ok(Step::Pending) = step {
                let doing = connecting.opening.doing();
                let e = Error::exn(ErrorKind::WouldBlock, format!("still connecting: {doing}"));
                return c.check::<()>(Err(e)).err().unwrap_or(WS_OK);
            }
            *slot = None;
            drop(slot);
            match step {
                Ok(Step::Open(k)) => {
                    let _ = k.set_nonblocking(true);
                    let _ = c.open.set(Opened::new(*k));
                    WS_OK
                }
                Ok(Step::Response(r)) => {
                    if !response_out.is_null() {
                        // SAFETY: non-NULL and writable per the contract.
                        write_out(response_out, handle::into_raw(ws_response::new(r)));
                    }
                    WS_HTTP_RESPONSE
                }
                Ok(Step::Pending) => unreachable!("handled above"),
                Err(e) => {
                    // SAFETY: NULL or writable per the contract.
                    ws_response::hand_out(response_out, e.response());
                    c.check::<()>(Err(e)).err().unwrap_or(WS_OK)
                }
            }
        })
    }
}

/// Close the socket (with TLS close_notify) and free the connection; NULL
/// is a no-op. For a clean close, call `ws_close` and receive until
/// `WS_CLOSED` first.
///
/// # Safety
/// `conn` must be NULL or a connection not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_free(conn: *mut ws_conn) {
    // SAFETY: forwarded contract.
    guard_value((), || unsafe { handle::free(conn) })
}

/// `WS_STATE_CONNECTING`, `WS_STATE_OPEN`, `WS_STATE_CLOSING` or
/// `WS_STATE_CLOSED` (also for NULL).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_state(conn: *const ws_conn) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, WS_STATE_CLOSED, |c| match c.open.get() {
            Some(o) => match o.conn.state() {
                State::Open => WS_STATE_OPEN,
                State::CloseSent => WS_STATE_CLOSING,
                State::Closed => WS_STATE_CLOSED,
            },
            None if c.is_connecting() => WS_STATE_CONNECTING,
            None => WS_STATE_CLOSED,
        })
    }
}

/// The file descriptor to wait on, for poll/select/epoll (-1 for NULL).
/// Once open, the socket's, for the connection's life. While connecting
/// (`ws_connect_start`), one epoll descriptor from start to end that is
/// readable when `ws_connect_continue` can go on; it is another descriptor
/// than the socket's, so read `ws_conn_fd` again when the connect returns
/// `WS_OK`. -1 once a connect failed or was answered.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_fd(conn: *const ws_conn) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, -1, |c| match c.open.get() {
            Some(o) => o.conn.fd(),
            None if c.pipe.is_some() => -1,
            None => c.with_connecting(-1, |k| k.opening.raw_fd()),
        })
    }
}

/// Change the read and write timeouts of an open connection, in
/// milliseconds (0: wait as long as it takes). They bound each blocking
/// call: a receive that times out returns `WS_ERR_TIMEOUT` and leaves the
/// connection usable; a send that times out returns `WS_ERR_TIMEOUT` with
/// the message still queued (it is written by later calls, never lost or
/// cut). Safe to call from any thread.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_set_timeouts(
    conn: *mut ws_conn,
    read_ms: u32,
    write_ms: u32,
) -> i32 {
    let millis = |ms: u32| (ms > 0).then(|| std::time::Duration::from_millis(ms as u64));
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let r = c
                .conn()
                .and_then(|k| k.set_timeouts(millis(read_ms), millis(write_ms)));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Non-blocking mode: from now on no call on this connection waits.
///
/// - Receives return `WS_ERR_WOULD_BLOCK` when no whole message (or frame)
///   has arrived; partial input is kept. Receive until `WS_ERR_WOULD_BLOCK`
///   before waiting, also right after connecting: bytes already read (the
///   server's first messages often come with its handshake response) or
///   buffered by TLS do not make the socket readable.
/// - Sends, pings and closes are queued and written as far as the socket
///   takes them now; the rest waits for `ws_conn_flush`. A message that
///   would push the queue past its limit (`ws_options_set_send_queue_limit`)
///   is refused whole with `WS_ERR_WOULD_BLOCK`; a message is never cut or
///   lost, and one message always fits an empty queue.
/// - After the close handshake (`WS_CLOSED`) or an error that closed the
///   connection, what is left of the close (writing our close frame, the
///   wait for the server's TCP close, bounded by the close timeout) goes on
///   through `ws_conn_flush` (a receive does the same, and returns
///   `WS_ERR_INVALID_STATE`) while `ws_conn_wants` is not 0; then free it.
///
/// Drive it with `ws_conn_fd`, `ws_conn_wants` and `ws_conn_next_timeout_ms`.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_set_nonblocking(conn: *mut ws_conn, nonblocking: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let r = c.conn().and_then(|k| k.set_nonblocking(nonblocking));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Write what is queued and act on due deadlines: send a keepalive ping,
/// fail a connection whose pong or close answer is overdue
/// (`WS_ERR_TIMEOUT`), end the wait for the server's TCP close.
///
/// - `WS_OK`: nothing is left queued.
/// - `WS_ERR_WOULD_BLOCK` (non-blocking mode): bytes remain; wait until
///   `ws_conn_fd` is writable and call again.
/// - blocking mode: waits until the queue is empty, at most the write
///   timeout (`WS_ERR_TIMEOUT`).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_flush(conn: *mut ws_conn) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let r = c.conn().and_then(Connection::flush);
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// What an event loop should wait for on `ws_conn_fd`: `WS_WANT_READ`
/// (then receive until `WS_ERR_WOULD_BLOCK`) and/or `WS_WANT_WRITE` (then
/// `ws_conn_flush`), at most `ws_conn_next_timeout_ms` (then
/// `ws_conn_flush`). Once a receive returned `WS_CLOSED` or an error that
/// closed the connection, only the rest of the close is left: call
/// `ws_conn_flush` on each event or timeout instead of receiving. 0 when
/// nothing is left to do: the connection is over and can be freed (also
/// when `conn` is NULL or invalid). A loop that follows this ends.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_wants(conn: *const ws_conn) -> u32 {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, 0, |c| {
            let i = match c.open.get() {
                Some(o) => o.conn.wants(),
                None => c.with_connecting(Interest::default(), |k| match k.parked {
                    // Something to report: call now (the timeout is 0).
                    Some(_) => Interest {
                        read: true,
                        write: false,
                    },
                    None => Interest {
                        // Over the caller's transport: the request to send.
                        write: c.pipe.as_ref().is_some_and(|p| p.output_len() > 0),
                        ..k.opening.wants()
                    },
                }),
            };
            (if i.read { WS_WANT_READ } else { 0 }) | (if i.write { WS_WANT_WRITE } else { 0 })
        })
    }
}

/// Milliseconds until the connection's next deadline (keepalive ping, pong
/// timeout, close timeout, end of the wait for the server's TCP close),
/// rounded up; -1 when there is none. When it passes, call
/// `ws_conn_flush`. Use it as the timeout of poll/epoll_wait, in the style
/// of libcurl's `curl_multi_timeout`.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_next_timeout_ms(conn: *const ws_conn) -> i64 {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, -1, |c| {
            let timeout = match c.open.get() {
                Some(o) => o.conn.next_timeout(),
                None => c.with_connecting(None, |k| match k.parked {
                    Some(_) => Some(std::time::Duration::ZERO),
                    None => k
                        .opening
                        .next_deadline()
                        .map(|d| d.saturating_duration_since(Instant::now())),
                }),
            };
            match timeout {
                Some(t) => t.as_micros().div_ceil(1000).min(i64::MAX as u128) as i64,
                None => -1,
            }
        })
    }
}

/// Bytes queued for the socket and not yet written (0 for NULL).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_queued_bytes(conn: *const ws_conn) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.open_or(0, Connection::queued_bytes)) }
}

/// The subprotocol the server chose, or NULL. Owned by the connection.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_subprotocol(conn: *const ws_conn) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, std::ptr::null(), |c| {
            c.open
                .get()
                .and_then(|o| o.subprotocol.as_ref())
                .map_or(std::ptr::null(), |s| s.as_ptr())
        })
    }
}

/// Whether permessage-deflate was negotiated.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_compression(conn: *const ws_conn) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, false, |c| c.open_or(false, |k| k.deflate().is_some())) }
}

/// Whether the TLS handshake resumed an earlier session. A resumed
/// handshake is abbreviated (no certificate exchange): it used a TLS 1.3
/// ticket or a TLS 1.2 session from an earlier connection to the same host
/// and port made with the same TLS settings (CA, client certificate,
/// verification, versions, ciphers, pins, server name). The library keeps
/// the latest session per settings and per host and port, in the process,
/// and never offers one under other settings. false for ws://, for a full
/// handshake, and before the connection is open.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_tls_resumed(conn: *const ws_conn) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, false, |c| c.open_or(false, Connection::tls_resumed)) }
}

/// A header of the server's 101 response (case-insensitive), or NULL.
/// Owned by the connection (valid until `ws_conn_free`).
///
/// # Safety
/// `conn`: NULL or a live connection; `name`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_header(
    conn: *const ws_conn,
    name: *const c_char,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        let (Ok(c), Ok(name)) = (unsafe { handle::borrow(conn, "conn") }, unsafe {
            c_str(name, "name")
        }) else {
            return std::ptr::null();
        };
        let Some(open) = c.open.get() else {
            return std::ptr::null();
        };
        open.headers
            .iter()
            .find(|(n, _)| n.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// The number of headers of the server's 101 response: with
/// `ws_conn_header_name` and `ws_conn_header_value`, every one in order, a
/// repeated name as often as it came (`ws_conn_header` gives the first).
/// 0 for NULL and while connecting.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_header_count(conn: *const ws_conn) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.open.get().map_or(0, |o| o.headers.len())) }
}

/// The name of header `index` of the server's 101 response (NULL if out of
/// range), owned by the connection (valid until `ws_conn_free`).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_header_name(conn: *const ws_conn, index: usize) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { header_at(conn, index, |(name, _)| name) }
}

/// The value of header `index` of the server's 101 response (NULL if out
/// of range), owned by the connection (valid until `ws_conn_free`).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_header_value(conn: *const ws_conn, index: usize) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { header_at(conn, index, |(_, value)| value) }
}

/// A part (`pick`) of header `index` of the 101 response, or NULL.
///
/// # Safety
/// `conn`: NULL or a live connection.
unsafe fn header_at(
    conn: *const ws_conn,
    index: usize,
    pick: fn(&(CString, CString)) -> &CString,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, std::ptr::null(), |c| {
            c.open
                .get()
                .and_then(|o| o.headers.get(index))
                .map_or(std::ptr::null(), |h| pick(h).as_ptr())
        })
    }
}

/// The close code the server sent: 0 before its close frame arrives, 1005
/// if its close frame had no code.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_peer_close_code(conn: *const ws_conn) -> u16 {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, 0, |c| {
            // Without the opaque step the optimiser loads the code field of
            // an absent (uninitialised) close frame before checking that
            // there is one: harmless, but valgrind reports every such call.
            let close = std::hint::black_box(c.open_or(None, Connection::peer_close));
            close.map_or(0, |f| f.code.unwrap_or(1005))
        })
    }
}

/// The close reason the server sent ("" if none). Owned by the connection.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_peer_close_reason(conn: *const ws_conn) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, std::ptr::null(), |c| {
            c.peer_reason.get().map_or(c"".as_ptr(), |r| r.as_ptr())
        })
    }
}

/// The message of this connection's last error ("" if none). Owned by the
/// connection until its next failing call (by any thread; a program that
/// uses the connection from several threads should read the per-thread
/// `ws_last_error_message` instead).
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_errmsg(conn: *const ws_conn) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, std::ptr::null(), |c| {
            c.error.lock().map_or(c"".as_ptr(), |e| e.message.as_ptr())
        })
    }
}

/// For a *fail*: the close code this connection sent to the server; 0 for
/// an *exn* or no error.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_error_close_code(conn: *const ws_conn) -> u16 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.error.lock().map_or(0, |e| e.close_code)) }
}

/// Receive the next message, answering pings on the way.
///
/// - `WS_OK`: `*msg_out` is a new message (free with `ws_message_free`).
/// - `WS_CLOSED`: the server closed the connection; the close was answered
///   (see `ws_conn_peer_close_code`). Do not receive again (a receive now
///   returns `WS_ERR_INVALID_STATE`); in non-blocking mode, serve the rest
///   of the close with `ws_conn_flush` while `ws_conn_wants` is not 0.
/// - `WS_ERR_TIMEOUT`: the read timeout expired; the connection is usable.
/// - a *fail* (`ws_result_is_fail`): the server broke the protocol; a close
///   frame with `ws_conn_error_close_code` was sent and the connection closed.
/// - other negative codes: an *exn*, e.g. `WS_ERR_CONNECTION_LOST`.
///
/// # Safety
/// `conn`: NULL or a live connection; `msg_out`: writable.
#[no_mangle]
pub unsafe extern "C" fn ws_recv_message(conn: *mut ws_conn, msg_out: *mut *mut ws_message) -> i32 {
    if msg_out.is_null() {
        return null_argument("msg_out");
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let r = c.conn().and_then(Connection::recv_message);
            match try_code!(c.check(r)) {
                Some(m) => {
                    write_out(msg_out, handle::into_raw(ws_message::new(m)));
                    WS_OK
                }
                None => {
                    c.remember_peer_reason();
                    WS_CLOSED
                }
            }
        })
    }
}

/// Receive the next piece of a data message into `buf` (`cap` bytes, at
/// least 4), as it arrives: the streaming mirror of `ws_send_part`, for
/// messages of any size in bounded memory (libcurl's `curl_ws_recv` with
/// its bytes-left, but after inflating and UTF-8 validation).
///
/// - `WS_OK`: `*len_out` bytes (at most `cap`; 0 only for an empty
///   message or the empty end of one) of a message of type `*type_out`
///   (`WS_MESSAGE_TEXT` or `WS_MESSAGE_BINARY`) are in `buf`; `*last_out`
///   says whether they end the message. A text piece ends on a character
///   boundary (a character cut by `cap` starts the next piece). A piece is
///   returned when `buf` is full, the message ends, or what has arrived is
///   handed out: a blocking call does not wait for `cap` bytes.
/// - `WS_CLOSED`, `WS_ERR_TIMEOUT`, *fail* and *exn* results as for
///   `ws_recv_message`; `WS_ERR_WOULD_BLOCK` in non-blocking mode when no
///   byte of a message is ready. Pings are answered on the way.
///
/// Memory: `cap` plus one read of at most 64 KiB plus the inflate window,
/// whatever the message's size. The limits still apply to streamed
/// messages: a frame over the frame limit, or a message whose data (after
/// inflating) passes the message limit, fails with 1009 (as a whole
/// message would); a caller that streams can lift both
/// (`ws_options_set_max_message_size`, `ws_options_set_max_frame_size`)
/// without lifting the memory bound. Receiving one message partly with
/// this call and partly with `ws_recv_message` or `ws_recv_frame` is
/// `WS_ERR_INVALID_STATE`. `len_out`, `type_out` and `last_out` may be NULL.
///
/// # Safety
/// `conn`: NULL or a live connection; `buf`: `cap` writable bytes;
/// `len_out`, `type_out`, `last_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_recv_part(
    conn: *mut ws_conn,
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
    type_out: *mut i32,
    last_out: *mut bool,
) -> i32 {
    if buf.is_null() {
        return null_argument("buf");
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            // SAFETY: the caller promises `cap` writable bytes at `buf`.
            let buf = std::slice::from_raw_parts_mut(buf, cap);
            let r = c.conn().and_then(|k| k.recv_part(buf));
            match try_code!(c.check(r)) {
                Some(part) => {
                    write_out(len_out, part.len);
                    write_out(type_out, part.kind.opcode() as i32);
                    write_out(last_out, part.last);
                    WS_OK
                }
                None => {
                    c.remember_peer_reason();
                    WS_CLOSED
                }
            }
        })
    }
}

/// Receive every message that is complete now, at most `max` of them and
/// `cap` bytes of data, in one call: the batch form of `ws_recv_message`
/// for streams of small messages (one call and one lock a batch, no handle
/// a message).
///
/// - `WS_OK`: `*count_out` messages (at least 1, at most `max`) are in
///   `buf`, one after the other: message `i` has `lens[i]` bytes and type
///   `types[i]` (`WS_MESSAGE_TEXT` or `WS_MESSAGE_BINARY`) and starts where
///   message `i - 1` ends. The first message is waited for as by
///   `ws_recv_message` (blocking mode, read timeout); the others are those
///   already received: the call never waits or reads the socket for them.
/// - `WS_ERR_INVALID_ARGUMENT` with `*count_out` 0: the next message does
///   not fit in `cap` bytes; `lens[0]` is its size. It stays queued: call
///   again with a larger buffer, or take it with `ws_recv_message`. (Also
///   for NULL `buf` or `lens`, or `max` 0, with the connection untouched.)
/// - `WS_CLOSED`, `WS_ERR_TIMEOUT`, `WS_ERR_WOULD_BLOCK`, *fail* and *exn*
///   results as for `ws_recv_message`; `*count_out` is 0.
///
/// Messages are validated, inflated and limited as for `ws_recv_message`,
/// and pings are answered on the way; this call and `ws_recv_message` mix
/// freely. `types` and `count_out` may be NULL.
///
/// # Safety
/// `conn`: NULL or a live connection; `buf`: `cap` writable bytes; `lens`
/// (and `types` unless NULL): `max` writable elements; `count_out`: NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ws_recv_messages(
    conn: *mut ws_conn,
    buf: *mut u8,
    cap: usize,
    lens: *mut usize,
    types: *mut i32,
    max: usize,
    count_out: *mut usize,
) -> i32 {
    // SAFETY: `count_out` is NULL or writable (the contract).
    unsafe { write_out(count_out, 0) };
    if buf.is_null() {
        return null_argument("buf");
    }
    if lens.is_null() {
        return null_argument("lens");
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            // SAFETY: the caller promises `cap` writable bytes at `buf` and
            // `max` writable elements at `lens` and `types` (unless NULL).
            let buf = std::slice::from_raw_parts_mut(buf, cap);
            let lens = std::slice::from_raw_parts_mut(lens, max);
            let mut types = (!types.is_null()).then(|| std::slice::from_raw_parts_mut(types, max));
            let mut count = 0;
            let r = c.conn().and_then(|k| {
                k.recv_batch(buf, max, |kind, len| {
                    lens[count] = len;
                    if let Some(types) = types.as_deref_mut() {
                        types[count] = kind.opcode() as i32;
                    }
                    count += 1;
                })
            });
            match try_code!(c.check(r)) {
                Batch::Messages(n) => {
                    write_out(count_out, n);
                    WS_OK
                }
                Batch::TooBig(len) => {
                    lens[0] = len;
                    let e = Error::invalid_argument(format!(
                        "the next message has {len} bytes, more than the {cap} the buffer holds"
                    ));
                    let _ = c.check::<()>(Err(e)); // the message for ws_conn_errmsg
                    WS_ERR_INVALID_ARGUMENT
                }
                Batch::Closed => {
                    c.remember_peer_reason();
                    WS_CLOSED
                }
            }
        })
    }
}

/// Called by `ws_recv_message_loop` for each message. `msg` is valid only
/// during the call. Return 0 to go on; any other value stops the loop (see
/// `ws_recv_message_loop`). The handler must return normally: see there.
pub type ws_message_handler = Option<
    unsafe extern "C" fn(conn: *mut ws_conn, msg: *const ws_message, userdata: *mut c_void) -> i32,
>;

/// Receive messages and call `handler` on each until the connection closes,
/// the handler stops the loop or an error occurs. It returns:
/// - the server closes the connection: `WS_CLOSED`;
/// - the handler returns non-zero: `WS_STOPPED`, and that value is
///   `ws_last_stop_value()` on this thread (so it never collides with the
///   library's own codes, e.g. a handler's 1 with `WS_HTTP_RESPONSE`);
/// - an error: its code (for a *fail* the close frame has been sent);
/// - the handler freed the connection: `WS_ERR_INVALID_STATE`, detected
///   through the registry of live handles, without touching freed memory
///   (freeing it from the handler is allowed; use it no more).
///
/// The handler may use the connection (send, ping, close) and must return
/// normally. Unwinding out of it, a C++ exception, a Rust panic or a
/// `longjmp`, is forbidden: the handler is called through the C ABI, where
/// unwinding into Rust frames is undefined behaviour (a Rust build aborts
/// on it at best), and a `longjmp` would skip the loop's cleanup, leaking
/// the message and leaving the connection mid-call. Catch inside the
/// handler, return non-zero, and rethrow after the loop.
///
/// # Safety
/// `conn`: NULL or a live connection; `handler`: a valid function;
/// `userdata` is passed through untouched.
#[no_mangle]
pub unsafe extern "C" fn ws_recv_message_loop(
    conn: *mut ws_conn,
    handler: ws_message_handler,
    userdata: *mut c_void,
) -> i32 {
    let Some(handler) = handler else {
        return guard(|| null_argument("handler"));
    };
    loop {
        let mut msg: *mut ws_message = std::ptr::null_mut();
        // SAFETY: forwarded contract; `msg` is a local out-pointer.
        let rc = unsafe { ws_recv_message(conn, &mut msg) };
        if rc != WS_OK {
            return rc;
        }
        let generation = handle::generation(conn);
        // SAFETY: the handler is a valid C function; no Rust borrow of
        // `conn` is live across the call, so it may use (or free) it.
        let stop = unsafe { handler(conn, msg, userdata) };
        // SAFETY: `msg` came from ws_recv_message and belongs to the loop.
        unsafe { ws_message_free(msg) };
        if handle::generation(conn) != generation {
            return set_last_error(&Error::exn(
                ErrorKind::InvalidState,
                "the message handler freed the connection",
            ));
        }
        if stop != 0 {
            set_last_stop_value(stop);
            return WS_STOPPED;
        }
    }
}

/// Send `msg` (e.g. echo a received message).
///
/// # Safety
/// `conn`: NULL or a live connection; `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_send_message(conn: *mut ws_conn, msg: *const ws_message) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let m = try_code!(handle::borrow(msg, "msg"));
            let r = c.conn().and_then(|k| k.send_message(&m.inner));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Send a text message of `len` bytes of UTF-8 (not NUL-terminated).
///
/// # Safety
/// `conn`: NULL or a live connection; `text`: `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_send_text(conn: *mut ws_conn, text: *const c_char, len: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        ws_send(
            conn,
            crate::ffi::message::WS_MESSAGE_TEXT,
            text.cast(),
            len,
            0,
        )
    }
}

/// Send a binary message of `len` bytes.
///
/// # Safety
/// `conn`: NULL or a live connection; `data`: `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_send_binary(conn: *mut ws_conn, data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { ws_send(conn, crate::ffi::message::WS_MESSAGE_BINARY, data, len, 0) }
}

/// Send a message of `type` (`WS_MESSAGE_TEXT` or `WS_MESSAGE_BINARY`)
/// with `flags` (`WS_SEND_UNCOMPRESSED`, `WS_SEND_MORE`, or both).
///
/// Blocking mode: returns `WS_OK` once every byte of the message reached
/// the kernel, or an error (the connection's, when the message was lost
/// with it). A message of 128 KiB or more that goes out uncompressed is
/// masked and written 32 KiB at a time as the socket takes it: at most
/// 64 KiB of it is queued, whatever its size, and pongs and pings pass
/// between its frames. Other threads' messages wait their turn. When the
/// write timeout passes first, the rest is queued whole and the call
/// returns `WS_ERR_TIMEOUT`; later calls write it. Non-blocking mode:
/// `WS_OK` once queued (`WS_ERR_WOULD_BLOCK` when the send queue is full).
///
/// # Safety
/// `conn`: NULL or a live connection; `data`: `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_send(
    conn: *mut ws_conn,
    r#type: i32,
    data: *const u8,
    len: usize,
    flags: u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let data = try_code!(bytes(data, len, "data"));
            let Some(kind) = message_type(r#type) else {
                return set_last_error(&Error::invalid_argument(
                    "type must be WS_MESSAGE_TEXT or WS_MESSAGE_BINARY",
                ));
            };
            let compress = flags & WS_SEND_UNCOMPRESSED == 0;
            let more = flags & WS_SEND_MORE != 0;
            let r = c
                .conn()
                .and_then(|k| k.send_more(kind, data, compress, more));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Send `count` messages in one call, one after the other in `buf`:
/// message `i` is `lens[i]` bytes of type `types[i]` (`WS_MESSAGE_TEXT` or
/// `WS_MESSAGE_BINARY`) and starts where message `i - 1` ends. The batch
/// form of `ws_send`, the mirror of `ws_recv_messages`: as many messages as
/// the cork takes are queued under one lock, and the batch is written in as
/// few system calls as the socket allows.
///
/// `flags`: `WS_SEND_UNCOMPRESSED` for every message; `WS_SEND_MORE` to
/// leave the batch queued (a cork, as for `ws_send`). Blocking mode:
/// `WS_OK` once every byte of every message reached the kernel (at most
/// the write timeout, as `ws_send`). Non-blocking mode: `WS_OK` once all
/// are queued; `WS_ERR_WOULD_BLOCK` when the send queue filled first.
/// `*sent_out` (unless NULL) says how many messages were taken, also on an
/// error: a text message that is not UTF-8 is `WS_ERR_INVALID_ARGUMENT`
/// with the messages before it taken (and written by the next call that
/// writes) and none after it. A bad `types[i]` is refused before anything
/// is sent.
///
/// # Safety
/// `conn`: NULL or a live connection; `lens` and `types`: `count` readable
/// elements; `buf`: as many readable bytes as `lens` adds up to; `sent_out`:
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_send_messages(
    conn: *mut ws_conn,
    buf: *const u8,
    lens: *const usize,
    types: *const i32,
    count: usize,
    flags: u32,
    sent_out: *mut usize,
) -> i32 {
    // SAFETY: `sent_out` is NULL or writable (the contract).
    unsafe { write_out(sent_out, 0) };
    if count > 0 && (lens.is_null() || types.is_null()) {
        return null_argument(if lens.is_null() { "lens" } else { "types" });
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let (lens, types) = match count {
                0 => (&[][..], &[][..]),
                // SAFETY: the caller promises `count` readable elements at both.
                _ => (
                    std::slice::from_raw_parts(lens, count),
                    std::slice::from_raw_parts(types, count),
                ),
            };
            let Some(total) = lens.iter().try_fold(0usize, |sum, &n| sum.checked_add(n)) else {
                return set_last_error(&Error::invalid_argument("lens add up past SIZE_MAX"));
            };
            let buf = try_code!(bytes(buf, total, "buf"));
            let mut kinds = Vec::with_capacity(count);
            for &t in types {
                let Some(kind) = message_type(t) else {
                    return set_last_error(&Error::invalid_argument(
                        "types must be WS_MESSAGE_TEXT or WS_MESSAGE_BINARY",
                    ));
                };
                kinds.push(kind);
            }
            let mut at = 0;
            let messages = kinds.into_iter().zip(lens).map(|(kind, &n)| {
                at += n;
                (kind, &buf[at - n..at])
            });
            let compress = flags & WS_SEND_UNCOMPRESSED == 0;
            let more = flags & WS_SEND_MORE != 0;
            let (sent, r) = match c.conn() {
                Ok(k) => k.send_batch(messages, compress, more),
                Err(e) => (0, Err(e)),
            };
            write_out(sent_out, sent);
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Send one message in parts, so that a large message is never copied whole:
/// an event loop gives the library what the socket can take, then waits.
///
/// The first call starts the message (`type` and `total`, its size in bytes);
/// later calls give the next bytes, with the same `type` and `total`, until
/// `total` bytes were given. `*taken` (if not NULL) is set to how many bytes
/// of `data` were taken; the next call starts with the first byte not taken.
/// With permessage-deflate the message goes out compressed (unless
/// `WS_SEND_UNCOMPRESSED` is in `flags`), each 32 KiB piece compressed as
/// it is given, so memory stays bounded whatever the message's size;
/// otherwise uncompressed. Frames hold at most the fragment size (128 KiB
/// by default). Pongs and pings pass between its frames;
/// other messages sent meanwhile, and the close, follow it: finish the
/// message before anything else is due. A connection has one message in
/// parts at a time, and the library cannot tell whose part a call gives:
/// threads that send in parts take turns.
///
/// - Non-blocking mode: takes what fits now (at most 64 KiB of the message
///   wait for the socket) and returns `WS_OK`, or `WS_ERR_WOULD_BLOCK` when
///   nothing fit: wait until the socket is writable (`ws_conn_wants`).
/// - Blocking mode: waits its turn behind another thread's large message,
///   takes all of `data`, waiting for the socket as needed; the last part
///   returns `WS_OK` once the whole message reached the kernel.
///   `WS_ERR_TIMEOUT` when the write timeout passes first (`*taken` says how
///   far it got).
/// - `WS_SEND_ALL` in `flags`: take all of `data` now, queueing what the
///   socket does not take.
/// - Text is checked as it comes: a part that cannot continue valid UTF-8, or
///   that ends the message inside a character, is `WS_ERR_INVALID_ARGUMENT`
///   (what came before the bad 32 KiB piece is taken); the message stays open.
/// - More bytes than remain, or another `type` or `total` while a message is
///   under way: `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `conn`: NULL or a live connection; `data`: `len` readable bytes;
/// `taken`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_send_part(
    conn: *mut ws_conn,
    r#type: i32,
    total: u64,
    data: *const u8,
    len: usize,
    flags: u32,
    taken: *mut usize,
) -> i32 {
    // SAFETY: `taken` is NULL or writable (the caller's contract).
    unsafe { write_out(taken, 0) };
    let send = |c: &ws_conn| -> i32 {
        // SAFETY: `data` is NULL or `len` readable bytes (the caller's contract).
        let data = try_code!(unsafe { bytes(data, len, "data") });
        let Some(kind) = message_type(r#type) else {
            return set_last_error(&Error::invalid_argument(
                "type must be WS_MESSAGE_TEXT or WS_MESSAGE_BINARY",
            ));
        };
        let (n, r) = match c.conn() {
            Ok(k) => k.send_part(
                kind,
                total,
                data,
                flags & WS_SEND_ALL != 0,
                flags & WS_SEND_UNCOMPRESSED == 0,
            ),
            Err(e) => (0, Err(e)),
        };
        // SAFETY: as above, `taken` is NULL or writable.
        unsafe { write_out(taken, n) };
        try_code!(c.check(r));
        WS_OK
    };
    // SAFETY: `conn` is NULL or a live connection (the caller's contract).
    unsafe { with_conn(conn, send) }
}

/// Send a ping with up to 125 bytes of payload.
///
/// # Safety
/// `conn`: NULL or a live connection; `data`: `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_ping(conn: *mut ws_conn, data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let data = try_code!(bytes(data, len, "data"));
            let r = c.conn().and_then(|k| k.ping(data));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Start the close handshake with `code` (0: a close frame without a code)
/// and an optional UTF-8 `reason` (NULL: none; cut to fit 123 bytes; a
/// reason without a code is `WS_ERR_INVALID_ARGUMENT`). Sending is no
/// longer allowed; keep receiving until `WS_CLOSED`. Our close frame goes
/// after the messages already queued. The close timeout (5 s by default),
/// counted from this call, bounds the whole close: in blocking mode this
/// call waits until our close frame is written, and returns
/// `WS_ERR_TIMEOUT` with the connection abandoned (TCP closed) when even
/// that does not happen in time (a server that stopped reading); the
/// server's close is due by the same deadline: a receive past it returns
/// `WS_ERR_TIMEOUT` and the connection is closed, however the server
/// trickles frames meanwhile. A read timeout shorter than that only ends
/// one receive (`WS_ERR_TIMEOUT`, receive again).
///
/// # Safety
/// `conn`: NULL or a live connection; `reason`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_close(conn: *mut ws_conn, code: u16, reason: *const c_char) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let reason = if reason.is_null() {
                ""
            } else {
                try_code!(c_str(reason, "reason"))
            };
            let r = c
                .conn()
                .and_then(|k| k.close((code != 0).then_some(code), reason));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

/// Low-level: receive one whole frame, without reassembly or automatic
/// replies (answer pings and closes yourself). Frames are checked by the
/// same rules as messages (a *fail* ends the connection) and the payload of
/// a compressed message's frames is given inflated (RSV1 shows it was
/// compressed). Between messages, frames and messages can be received in
/// any order; while a message is partly received one way, the other way is
/// refused with `WS_ERR_INVALID_STATE` (the connection stays usable).
/// `*frame_out` is a new frame (free with `ws_frame_free`).
///
/// # Safety
/// `conn`: NULL or a live connection; `frame_out`: writable.
#[no_mangle]
pub unsafe extern "C" fn ws_recv_frame(conn: *mut ws_conn, frame_out: *mut *mut ws_frame) -> i32 {
    if frame_out.is_null() {
        return null_argument("frame_out");
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let r = c.conn().and_then(Connection::recv_frame);
            let frame = try_code!(c.check(r));
            if frame.opcode == crate::proto::OpCode::Close as u8 {
                c.remember_peer_reason();
            }
            store_frame(frame_out, frame)
        })
    }
}

/// Low-level: send `frame` exactly as built (masked with a fresh key; no
/// RSV bit added). Sending a close frame starts the close handshake (with
/// the close timeout, as `ws_close`), or completes it when the server's
/// close was received with `ws_recv_frame`.
///
/// # Safety
/// `conn`: NULL or a live connection; `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_send_frame(conn: *mut ws_conn, frame: *const ws_frame) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_conn(conn, |c| {
            let f = try_code!(handle::borrow(frame, "frame"));
            let (fin, rsv, opcode, payload) = f.parts();
            let r = c
                .conn()
                .and_then(|k| k.send_frame(fin, rsv, opcode, payload));
            try_code!(c.check(r));
            WS_OK
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{WS_ERR_CONNECT, WS_ERR_INVALID_STATE, WS_ERR_WOULD_BLOCK};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A connect that failed, continued again, says it never opened (it
    /// once deadlocked on its own lock). On a thread, so a hang fails.
    #[test]
    fn continue_after_a_failed_connect_reports_it_never_opened() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (done, results) = mpsc::channel();
        std::thread::spawn(move || {
            let uri = CString::new(format!("ws://127.0.0.1:{port}/")).unwrap();
            let mut conn = std::ptr::null_mut();
            // SAFETY: valid string and out-pointer; conn is live until freed.
            unsafe {
                assert_eq!(
                    ws_connect_start(uri.as_ptr(), std::ptr::null(), &mut conn),
                    WS_OK
                );
                let mut rc = WS_ERR_WOULD_BLOCK;
                for _ in 0..1000 {
                    rc = ws_connect_continue(conn, std::ptr::null_mut());
                    if rc != WS_ERR_WOULD_BLOCK {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                let again = ws_connect_continue(conn, std::ptr::null_mut());
                let state = ws_conn_state(conn);
                ws_conn_free(conn);
                done.send((rc, again, state)).unwrap();
            }
        });
        let (first, again, state) = results
            .recv_timeout(Duration::from_secs(10))
            .expect("ws_connect_continue hung");
        assert_eq!(first, WS_ERR_CONNECT);
        assert_eq!(again, WS_ERR_INVALID_STATE);
        assert_eq!(state, WS_STATE_CLOSED);
    }
}
