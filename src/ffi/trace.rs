//! The trace callback, its events, and the counters: `ws_options_set_trace`,
//! `ws_trace_event_*`, `ws_conn_stat`.

use std::ffi::{c_char, c_void, CString};

use crate::ffi::conn::ws_conn;
use crate::ffi::error::{code_of, to_cstring};
use crate::ffi::handle::{self, tagged};
use crate::ffi::options::{set, ws_options};
use crate::ffi::panic::guard_value;
use crate::observe::{Field, Stat, TraceEvent, TraceKind, Tracer, Value};

/// Trace event kinds (`ws_trace_event_kind`); see the header for what each
/// event carries. New kinds get new numbers: ignore the ones you do not know.
/// A host name was looked up: `WS_TRACE_FIELD_HOST`, `_ADDRESS` (every
/// address, ", " between them), `_DURATION_US`.
pub const WS_TRACE_RESOLVED: i32 = 1;
/// A TCP attempt started: `_HOST`, `_PORT`, `_ADDRESS`.
pub const WS_TRACE_TCP_ATTEMPT: i32 = 2;
/// A TCP attempt failed (another may still succeed): `_ADDRESS`, `_MESSAGE`.
pub const WS_TRACE_TCP_FAILED: i32 = 3;
/// TCP is connected: `_ADDRESS`, `_DURATION_US` (since the first attempt).
pub const WS_TRACE_TCP_CONNECTED: i32 = 4;
/// A step of the proxy exchange (tunnel asked for, tunnel open): `_PROXY`
/// or `_DURATION_US`.
pub const WS_TRACE_PROXY: i32 = 5;
/// The TLS handshake finished: `_TLS_VERSION`, `_TLS_CIPHER`, `_ALPN`,
/// `_PEER_SUBJECT`, `_RESUMED`, `_DURATION_US`.
pub const WS_TRACE_TLS_DONE: i32 = 6;
/// The upgrade request was sent: `_HEADERS` (credentials redacted).
pub const WS_TRACE_REQUEST_SENT: i32 = 7;
/// The server's answer arrived: `_STATUS`, `_HEADERS`, `_DURATION_US`.
pub const WS_TRACE_RESPONSE: i32 = 8;
/// A redirect is followed: `_STATUS`, `_LOCATION`.
pub const WS_TRACE_REDIRECT: i32 = 9;
/// The WebSocket is open (the text names the subprotocol and extension).
pub const WS_TRACE_OPEN: i32 = 10;
/// A frame was queued for the socket: `_OPCODE`, `_LENGTH`, `_FIN`, `_RSV1`.
pub const WS_TRACE_FRAME_SENT: i32 = 11;
/// A frame's header arrived: `_OPCODE`, `_LENGTH`, `_FIN`, `_RSV1`.
pub const WS_TRACE_FRAME_RECEIVED: i32 = 12;
/// We queued a ping (the caller's or the keepalive's): `_LENGTH`.
pub const WS_TRACE_PING_SENT: i32 = 13;
/// A pong arrived: `_RTT_US` when it answers our last ping.
pub const WS_TRACE_PONG_RECEIVED: i32 = 14;
/// We queued a close frame: `_CLOSE_CODE` (absent for an empty close),
/// `_REASON`.
pub const WS_TRACE_CLOSE_SENT: i32 = 15;
/// The server's close frame arrived: `_CLOSE_CODE`, `_REASON`.
pub const WS_TRACE_CLOSE_RECEIVED: i32 = 16;
/// The connection or its connect failed: `_RESULT`, `_CLOSE_CODE` (for a
/// *fail*), `_MESSAGE`.
pub const WS_TRACE_FAILURE: i32 = 17;

/// Fields (`ws_trace_event_number`): microseconds since the connect began
/// (every event).
pub const WS_TRACE_FIELD_ELAPSED_US: i32 = 1;
/// Number: how long the step took, in microseconds.
pub const WS_TRACE_FIELD_DURATION_US: i32 = 2;
/// Number: a frame's opcode.
pub const WS_TRACE_FIELD_OPCODE: i32 = 3;
/// Number: a frame's payload length as on the wire (or a ping's).
pub const WS_TRACE_FIELD_LENGTH: i32 = 4;
/// Number: 1 when the frame's FIN bit is set.
pub const WS_TRACE_FIELD_FIN: i32 = 5;
/// Number: 1 when the frame's RSV1 bit (compressed) is set.
pub const WS_TRACE_FIELD_RSV1: i32 = 6;
/// Number: an HTTP status.
pub const WS_TRACE_FIELD_STATUS: i32 = 7;
/// Number: a close code.
pub const WS_TRACE_FIELD_CLOSE_CODE: i32 = 8;
/// Number: a ping's round trip in microseconds.
pub const WS_TRACE_FIELD_RTT_US: i32 = 9;
/// Number: a failure's result code (`WS_ERR_*`).
pub const WS_TRACE_FIELD_RESULT: i32 = 10;
/// Number: 1 when the TLS session was resumed.
pub const WS_TRACE_FIELD_RESUMED: i32 = 11;
/// Number: a TCP port.
pub const WS_TRACE_FIELD_PORT: i32 = 12;
/// Fields (`ws_trace_event_string`): a host name.
pub const WS_TRACE_FIELD_HOST: i32 = 100;
/// String: an address ("192.0.2.1:443", "[::1]:443").
pub const WS_TRACE_FIELD_ADDRESS: i32 = 101;
/// String: the TLS version ("TLSv1.3").
pub const WS_TRACE_FIELD_TLS_VERSION: i32 = 102;
/// String: the TLS cipher (OpenSSL's name).
pub const WS_TRACE_FIELD_TLS_CIPHER: i32 = 103;
/// String: the ALPN protocol agreed ("" for none).
pub const WS_TRACE_FIELD_ALPN: i32 = 104;
/// String: the subject of the server's certificate ("CN=example.com").
pub const WS_TRACE_FIELD_PEER_SUBJECT: i32 = 105;
/// String: HTTP headers, one "Name: value" per line, with the values of
/// `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
/// `Sec-WebSocket-Key`, names containing "token" and the sensitive headers
/// set on the options replaced by "[redacted]".
pub const WS_TRACE_FIELD_HEADERS: i32 = 106;
/// String: a close frame's reason.
pub const WS_TRACE_FIELD_REASON: i32 = 107;
/// String: an error message.
pub const WS_TRACE_FIELD_MESSAGE: i32 = 108;
/// String: a redirect's target URI.
pub const WS_TRACE_FIELD_LOCATION: i32 = 109;
/// String: the proxy ("host:port").
pub const WS_TRACE_FIELD_PROXY: i32 = 110;

/// `ws_conn_stat`: WebSocket bytes read (frames with their headers; after
/// TLS and after the opening handshake).
pub const WS_STAT_BYTES_IN: i32 = 1;
/// `ws_conn_stat`: WebSocket bytes the socket took.
pub const WS_STAT_BYTES_OUT: i32 = 2;
/// `ws_conn_stat`: data bytes of the messages (or data frames) received,
/// after inflating: with `WS_STAT_BYTES_IN`, the compression ratio.
pub const WS_STAT_PAYLOAD_IN: i32 = 3;
/// `ws_conn_stat`: data bytes of the messages sent, before compressing.
pub const WS_STAT_PAYLOAD_OUT: i32 = 4;
/// `ws_conn_stat`: frames received (control frames included).
pub const WS_STAT_FRAMES_IN: i32 = 5;
/// `ws_conn_stat`: frames queued for the socket (control frames included).
pub const WS_STAT_FRAMES_OUT: i32 = 6;
/// `ws_conn_stat`: data messages received.
pub const WS_STAT_MESSAGES_IN: i32 = 7;
/// `ws_conn_stat`: data messages sent (queued).
pub const WS_STAT_MESSAGES_OUT: i32 = 8;
/// `ws_conn_stat`: pings we sent (`ws_ping` and the keepalive's).
pub const WS_STAT_PINGS_SENT: i32 = 9;
/// `ws_conn_stat`: pongs received.
pub const WS_STAT_PONGS_RECEIVED: i32 = 10;
/// `ws_conn_stat`: the round trip of the last ping answered, microseconds
/// (0 before the first).
pub const WS_STAT_RTT_LAST_US: i32 = 11;
/// `ws_conn_stat`: the smoothed round trip (each sample weighs 1/8, as
/// TCP's SRTT), microseconds.
pub const WS_STAT_RTT_SMOOTHED_US: i32 = 12;
/// `ws_conn_stat`: microseconds from the start of the connect until the
/// name was resolved (0 when none was looked up), as curl's
/// `CURLINFO_NAMELOOKUP_TIME_T`. The `WS_STAT_TIME_*` stats all count from
/// the start; after a redirect they are the last hop's.
pub const WS_STAT_TIME_RESOLVE_US: i32 = 20;
/// `ws_conn_stat`: ... until TCP was connected (to the proxy, when there is
/// one).
pub const WS_STAT_TIME_CONNECT_US: i32 = 21;
/// `ws_conn_stat`: ... until the proxy's tunnel was open (0 without proxy).
pub const WS_STAT_TIME_PROXY_US: i32 = 22;
/// `ws_conn_stat`: ... until the TLS handshake finished (0 for ws://).
pub const WS_STAT_TIME_TLS_US: i32 = 23;
/// `ws_conn_stat`: ... until the server's 101 answer arrived.
pub const WS_STAT_TIME_HTTP_US: i32 = 24;
/// `ws_conn_stat`: ... until the WebSocket was open (every hop).
pub const WS_STAT_TIME_TOTAL_US: i32 = 25;
/// `ws_conn_stat`: redirects followed on the way.
pub const WS_STAT_REDIRECTS: i32 = 26;

/// The C constants and what they name: the numbers C callers pass are
/// looked up here, so a constant can never drift from its meaning.
const KINDS: [(i32, TraceKind); 17] = [
    (WS_TRACE_RESOLVED, TraceKind::Resolved),
    (WS_TRACE_TCP_ATTEMPT, TraceKind::TcpAttempt),
    (WS_TRACE_TCP_FAILED, TraceKind::TcpFailed),
    (WS_TRACE_TCP_CONNECTED, TraceKind::TcpConnected),
    (WS_TRACE_PROXY, TraceKind::Proxy),
    (WS_TRACE_TLS_DONE, TraceKind::TlsDone),
    (WS_TRACE_REQUEST_SENT, TraceKind::RequestSent),
    (WS_TRACE_RESPONSE, TraceKind::Response),
    (WS_TRACE_REDIRECT, TraceKind::Redirect),
    (WS_TRACE_OPEN, TraceKind::Open),
    (WS_TRACE_FRAME_SENT, TraceKind::FrameSent),
    (WS_TRACE_FRAME_RECEIVED, TraceKind::FrameReceived),
    (WS_TRACE_PING_SENT, TraceKind::PingSent),
    (WS_TRACE_PONG_RECEIVED, TraceKind::PongReceived),
    (WS_TRACE_CLOSE_SENT, TraceKind::CloseSent),
    (WS_TRACE_CLOSE_RECEIVED, TraceKind::CloseReceived),
    (WS_TRACE_FAILURE, TraceKind::Failure),
];
const FIELDS: [(i32, Field); 23] = [
    (WS_TRACE_FIELD_ELAPSED_US, Field::ElapsedUs),
    (WS_TRACE_FIELD_DURATION_US, Field::DurationUs),
    (WS_TRACE_FIELD_OPCODE, Field::Opcode),
    (WS_TRACE_FIELD_LENGTH, Field::Length),
    (WS_TRACE_FIELD_FIN, Field::Fin),
    (WS_TRACE_FIELD_RSV1, Field::Rsv1),
    (WS_TRACE_FIELD_STATUS, Field::Status),
    (WS_TRACE_FIELD_CLOSE_CODE, Field::CloseCode),
    (WS_TRACE_FIELD_RTT_US, Field::RttUs),
    (WS_TRACE_FIELD_RESULT, Field::Result),
    (WS_TRACE_FIELD_RESUMED, Field::Resumed),
    (WS_TRACE_FIELD_PORT, Field::Port),
    (WS_TRACE_FIELD_HOST, Field::Host),
    (WS_TRACE_FIELD_ADDRESS, Field::Address),
    (WS_TRACE_FIELD_TLS_VERSION, Field::TlsVersion),
    (WS_TRACE_FIELD_TLS_CIPHER, Field::TlsCipher),
    (WS_TRACE_FIELD_ALPN, Field::Alpn),
    (WS_TRACE_FIELD_PEER_SUBJECT, Field::PeerSubject),
    (WS_TRACE_FIELD_HEADERS, Field::Headers),
    (WS_TRACE_FIELD_REASON, Field::Reason),
    (WS_TRACE_FIELD_MESSAGE, Field::Message),
    (WS_TRACE_FIELD_LOCATION, Field::Location),
    (WS_TRACE_FIELD_PROXY, Field::Proxy),
];
const STATS: [(i32, Stat); 19] = [
    (WS_STAT_BYTES_IN, Stat::BytesIn),
    (WS_STAT_BYTES_OUT, Stat::BytesOut),
    (WS_STAT_PAYLOAD_IN, Stat::PayloadIn),
    (WS_STAT_PAYLOAD_OUT, Stat::PayloadOut),
    (WS_STAT_FRAMES_IN, Stat::FramesIn),
    (WS_STAT_FRAMES_OUT, Stat::FramesOut),
    (WS_STAT_MESSAGES_IN, Stat::MessagesIn),
    (WS_STAT_MESSAGES_OUT, Stat::MessagesOut),
    (WS_STAT_PINGS_SENT, Stat::PingsSent),
    (WS_STAT_PONGS_RECEIVED, Stat::PongsReceived),
    (WS_STAT_RTT_LAST_US, Stat::RttLastUs),
    (WS_STAT_RTT_SMOOTHED_US, Stat::RttSmoothedUs),
    (WS_STAT_TIME_RESOLVE_US, Stat::TimeResolveUs),
    (WS_STAT_TIME_CONNECT_US, Stat::TimeConnectUs),
    (WS_STAT_TIME_PROXY_US, Stat::TimeProxyUs),
    (WS_STAT_TIME_TLS_US, Stat::TimeTlsUs),
    (WS_STAT_TIME_HTTP_US, Stat::TimeHttpUs),
    (WS_STAT_TIME_TOTAL_US, Stat::TimeTotalUs),
    (WS_STAT_REDIRECTS, Stat::Redirects),
];

fn field_of(n: i32) -> Option<Field> {
    FIELDS.iter().find(|(c, _)| *c == n).map(|(_, f)| *f)
}

/// A trace callback: `event` is valid only during the call. It runs on
/// whichever thread drives the connection (the one in `ws_connect`,
/// `ws_connect_continue`, a send, a receive, `ws_close`, `ws_conn_free`),
/// while that connection is locked: it must not call functions of this
/// library on the same connection (`ws_conn_*`, sends, receives), and
/// should return quickly. Two threads using one connection may call it at
/// the same time.
pub type ws_trace_callback =
    Option<unsafe extern "C" fn(event: *const ws_trace_event, userdata: *mut c_void)>;

/// One trace event, handed to a `ws_trace_callback`; read it with the
/// `ws_trace_event_*` functions during the callback.
///
/// Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_trace_event {
    tag: u64,
    event: *const TraceEvent,
    text: CString,
    strings: Vec<(Field, CString)>,
}
tagged!(ws_trace_event, 0x7773_7472_6163_6576);

/// The caller's `userdata`, handed back as given.
struct UserData(*mut c_void);
// SAFETY: the pointer is only passed back to the caller's callback, on the
// threads that drive its connections; the header says so.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it.
unsafe impl Sync for UserData {}

/// Call `callback` for each trace event of the connections made with these
/// options (`ws_connect`, `ws_connect_start`, `ws_connect_transport`):
/// every step of the connect, each frame sent and received, pings, pongs
/// with their round trip, closes, and the failure that ended a connection.
/// See `ws_trace_callback` for the thread rules. NULL turns tracing off;
/// without a callback nothing is traced and nothing costs.
///
/// The kinds (`ws_trace_event_kind`; `ws_trace_kind_name` gives the name
/// in brackets) and the fields each carries, besides
/// `WS_TRACE_FIELD_ELAPSED_US` (microseconds since the connect began):
/// - `WS_TRACE_RESOLVED` ("resolved"): `_HOST`, `_ADDRESS` (every address),
///   `_DURATION_US`.
/// - `WS_TRACE_TCP_ATTEMPT` ("tcp-attempt"), `WS_TRACE_TCP_FAILED`
///   ("tcp-failed", with `_MESSAGE`), `WS_TRACE_TCP_CONNECTED`
///   ("tcp-connected", with `_DURATION_US`): `_HOST`, `_PORT`, `_ADDRESS`.
/// - `WS_TRACE_PROXY` ("proxy"): the tunnel asked for (`_PROXY`), then open
///   (`_DURATION_US`).
/// - `WS_TRACE_TLS_DONE` ("tls-done"): `_TLS_VERSION`, `_TLS_CIPHER`,
///   `_ALPN`, `_PEER_SUBJECT`, `_RESUMED`, `_DURATION_US`.
/// - `WS_TRACE_REQUEST_SENT` ("request-sent"): `_HEADERS`, credentials
///   redacted.
/// - `WS_TRACE_RESPONSE` ("response"): `_STATUS`, `_HEADERS`,
///   `_DURATION_US`.
/// - `WS_TRACE_REDIRECT` ("redirect"): `_STATUS`, `_LOCATION`.
/// - `WS_TRACE_OPEN` ("open"): the subprotocol and extension in the text.
/// - `WS_TRACE_FRAME_SENT` ("frame-sent", when queued) and
///   `WS_TRACE_FRAME_RECEIVED` ("frame-received"): `_OPCODE`, `_LENGTH`,
///   `_FIN`, `_RSV1`; never the payload.
/// - `WS_TRACE_PING_SENT` ("ping-sent"): `_LENGTH`.
/// - `WS_TRACE_PONG_RECEIVED` ("pong-received"): `_RTT_US` when it answers
///   our last ping.
/// - `WS_TRACE_CLOSE_SENT` ("close-sent"), `WS_TRACE_CLOSE_RECEIVED`
///   ("close-received"): `_CLOSE_CODE` (none for an empty close),
///   `_REASON`.
/// - `WS_TRACE_FAILURE` ("failure"): `_RESULT` (the `WS_ERR_*` code),
///   `_CLOSE_CODE` for a *fail*, `_MESSAGE`.
///
/// # Safety
/// `opts`: a live options handle. `callback` and `userdata` must stay
/// usable for as long as connections made with these options live.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_trace(
    opts: *mut ws_options,
    callback: ws_trace_callback,
    userdata: *mut c_void,
) -> i32 {
    let tracer = callback.map(|f| {
        let userdata = UserData(userdata);
        Tracer::new(move |event: &TraceEvent| {
            let ud = &userdata;
            deliver(f, event, ud.0)
        })
    });
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.tracer = tracer) }
}

/// Make the C view of `event`, registered for the call, and call `f`.
fn deliver(
    f: unsafe extern "C" fn(*const ws_trace_event, *mut c_void),
    event: &TraceEvent,
    userdata: *mut c_void,
) {
    let view = ws_trace_event {
        tag: <ws_trace_event as handle::Tagged>::TAG,
        event,
        text: to_cstring(&event.text),
        strings: event
            .fields
            .iter()
            .filter_map(|(field, value)| match value {
                Value::Text(s) => Some((*field, to_cstring(s))),
                Value::Number(_) => None,
            })
            .collect(),
    };
    let ptr: *const ws_trace_event = &view;
    handle::register_view(ptr);
    // SAFETY: `f` is the caller's callback; `ptr` is valid for the call.
    unsafe { f(ptr, userdata) };
    handle::unregister_view(ptr);
}

/// Run `f` on the event behind `event`, or return `fallback` (NULL, not an
/// event being delivered now).
unsafe fn with_event<T: Copy>(
    event: *const ws_trace_event,
    fallback: T,
    f: impl FnOnce(&ws_trace_event, &TraceEvent) -> T,
) -> T {
    // SAFETY: the caller passes NULL or an event handed to its callback;
    // `read` checks it against the registry before use.
    unsafe {
        handle::read(event, fallback, |view| {
            // SAFETY: `view.event` points at the event being delivered,
            // which outlives the view (see `deliver`).
            f(view, &*view.event)
        })
    }
}

/// The event's kind (`WS_TRACE_*`); 0 for NULL or an event whose callback
/// returned.
///
/// # Safety
/// `event`: NULL or the event of a running callback.
#[no_mangle]
pub unsafe extern "C" fn ws_trace_event_kind(event: *const ws_trace_event) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_event(event, 0, |_, e| e.kind as i32) }
}

/// The id of the connection the event is about (as `ws_conn_id`), the same
/// from its first lookup to its last frame; 0 for NULL.
///
/// # Safety
/// `event`: NULL or the event of a running callback.
#[no_mangle]
pub unsafe extern "C" fn ws_trace_event_conn_id(event: *const ws_trace_event) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { with_event(event, 0, |_, e| e.conn) }
}

/// A one-line description of the event ("frame sent: text, 5 bytes,
/// FIN"), for a log; "" for NULL. Valid during the callback.
///
/// # Safety
/// `event`: NULL or the event of a running callback.
#[no_mangle]
pub unsafe extern "C" fn ws_trace_event_text(event: *const ws_trace_event) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { with_event(event, c"".as_ptr(), |view, _| view.text.as_ptr()) }
}

/// A number field of the event (`WS_TRACE_FIELD_*`): true and the value in
/// `*value_out` when the event has it, false otherwise (also for NULL, a
/// string field, or a field this version does not know).
///
/// # Safety
/// `event`: NULL or the event of a running callback; `value_out`: NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ws_trace_event_number(
    event: *const ws_trace_event,
    field: i32,
    value_out: *mut i64,
) -> bool {
    // SAFETY: forwarded contract.
    let found = unsafe {
        with_event(event, None, |_, e| {
            if field == WS_TRACE_FIELD_RESULT {
                return e.error.map(|k| i64::from(code_of(k)));
            }
            let field = field_of(field)?;
            e.fields.iter().find_map(|(f, v)| match v {
                Value::Number(n) if *f == field => Some(*n),
                _ => None,
            })
        })
    };
    if let Some(n) = found {
        // SAFETY: forwarded contract.
        unsafe { handle::write_out(value_out, n) };
    }
    found.is_some()
}

/// A string field of the event (`WS_TRACE_FIELD_*`), or NULL when it has
/// none. Valid during the callback.
///
/// # Safety
/// `event`: NULL or the event of a running callback.
#[no_mangle]
pub unsafe extern "C" fn ws_trace_event_string(
    event: *const ws_trace_event,
    field: i32,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        with_event(event, std::ptr::null(), |view, _| {
            let Some(field) = field_of(field) else {
                return std::ptr::null();
            };
            view.strings
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(std::ptr::null(), |(_, s)| s.as_ptr())
        })
    }
}

/// The name of a trace event kind ("frame-sent"), or NULL for a number
/// that is not one. Static.
#[no_mangle]
pub extern "C" fn ws_trace_kind_name(kind: i32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        KINDS
            .iter()
            .find(|(c, _)| *c == kind)
            .map_or(std::ptr::null(), |(_, k)| static_cstr(k.name()))
    })
}

/// The name of a stat ("bytes_in"), or NULL for a number that is not one.
/// Static.
#[no_mangle]
pub extern "C" fn ws_stat_name(stat: i32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        STATS
            .iter()
            .find(|(c, _)| *c == stat)
            .map_or(std::ptr::null(), |(_, s)| static_cstr(s.name()))
    })
}

/// A NUL-terminated copy of a static name, made once per name.
fn static_cstr(name: &'static str) -> *const c_char {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static std::ffi::CStr>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let Ok(mut names) = names.lock() else {
        return std::ptr::null();
    };
    let c = names
        .entry(name)
        .or_insert_with(|| Box::leak(to_cstring(name).into_boxed_c_str()));
    c.as_ptr()
}

/// A counter or timing of the connection (`WS_STAT_*`; `ws_stat_name`
/// gives the name in brackets). 0 for NULL, a connection still connecting,
/// or a stat this version does not know. May be called from any thread,
/// but not from the trace callback of the same connection.
/// - `WS_STAT_BYTES_IN` ("bytes_in"), `WS_STAT_BYTES_OUT` ("bytes_out"):
///   WebSocket bytes read, and taken by the socket (frames with their
///   headers; after TLS, after the opening handshake).
/// - `WS_STAT_PAYLOAD_IN` ("payload_in"), `WS_STAT_PAYLOAD_OUT`
///   ("payload_out"): data bytes of the messages received (after
///   inflating) and sent (before compressing): with the two above, the
///   compression ratio.
/// - `WS_STAT_FRAMES_IN`, `WS_STAT_FRAMES_OUT` ("frames_in", "frames_out"):
///   frames received and queued, control frames included.
/// - `WS_STAT_MESSAGES_IN`, `WS_STAT_MESSAGES_OUT` ("messages_in",
///   "messages_out"): data messages.
/// - `WS_STAT_PINGS_SENT` ("pings_sent", ours and the keepalive's),
///   `WS_STAT_PONGS_RECEIVED` ("pongs_received").
/// - `WS_STAT_RTT_LAST_US` ("rtt_last_us"), `WS_STAT_RTT_SMOOTHED_US`
///   ("rtt_smoothed_us"): the last ping round trip, and its smoothed value
///   (each sample weighs 1/8), in microseconds.
/// - `WS_STAT_TIME_RESOLVE_US`, `_CONNECT_US`, `_PROXY_US`, `_TLS_US`,
///   `_HTTP_US`, `_TOTAL_US` ("time_resolve_us", ...): microseconds from
///   the start of the connect until the name was resolved, TCP connected,
///   the proxy's tunnel open, TLS done, the 101 in, and the WebSocket open
///   (0 for a step that did not happen), as curl's `CURLINFO_*_TIME_T`.
/// - `WS_STAT_REDIRECTS` ("redirects"): redirects followed.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_stat(conn: *const ws_conn, stat: i32) -> u64 {
    let Some(&(_, stat)) = STATS.iter().find(|(c, _)| *c == stat) else {
        return 0;
    };
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.open_or(0, |k| k.stat(stat))) }
}

/// The connection's id: unique in the process, never 0, the one its trace
/// events carry (also while connecting). 0 for NULL.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_id(conn: *const ws_conn) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.id()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_are_the_enums_numbers() {
        assert_eq!(KINDS.len(), TraceKind::ALL.len());
        for (c, k) in KINDS {
            assert_eq!(c, k as i32);
        }
        for (c, f) in FIELDS {
            assert_eq!(c, f as i32);
        }
        assert_eq!(STATS.len(), Stat::ALL.len());
        for (c, s) in STATS {
            assert_eq!(c, s as i32);
        }
    }
}
