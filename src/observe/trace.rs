//! Trace events: one callback, called as each step of a connection's life
//! happens (libcurl's `CURLOPT_DEBUGFUNCTION`, the `websockets.client`
//! logger). Events carry a one-line text and typed fields, so a binding can
//! log the text and a program can match on the fields.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::proto::frame::{FrameHeader, RSV1};
use crate::proto::OpCode;

/// What happened. The values are the C API's `WS_TRACE_*` constants: new
/// kinds get new numbers, old ones never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum TraceKind {
    /// A host name was looked up (its addresses, the time it took).
    Resolved = 1,
    /// A TCP connection attempt started (to the origin or the proxy).
    TcpAttempt = 2,
    /// A TCP attempt failed (another may still succeed).
    TcpFailed = 3,
    /// TCP is connected.
    TcpConnected = 4,
    /// A step of the proxy exchange (request sent, tunnel open).
    Proxy = 5,
    /// The TLS handshake finished (version, cipher, ALPN, resumed, subject).
    TlsDone = 6,
    /// The upgrade request was sent (its headers, secrets redacted).
    RequestSent = 7,
    /// The server's HTTP answer arrived (status, headers).
    Response = 8,
    /// A redirect is followed (its target).
    Redirect = 9,
    /// The WebSocket is open.
    Open = 10,
    /// A frame was queued for the socket (opcode, length, FIN, RSV1).
    FrameSent = 11,
    /// A frame's header arrived (opcode, length, FIN, RSV1).
    FrameReceived = 12,
    /// We queued a ping (the caller's or the keepalive's).
    PingSent = 13,
    /// A pong arrived; with the round trip time when it answers our ping.
    PongReceived = 14,
    /// We queued a close frame (code, reason).
    CloseSent = 15,
    /// The server's close frame arrived (code, reason).
    CloseReceived = 16,
    /// The connection or its opening failed (result, close code, message).
    Failure = 17,
}

impl TraceKind {
    pub const ALL: [TraceKind; 17] = [
        TraceKind::Resolved,
        TraceKind::TcpAttempt,
        TraceKind::TcpFailed,
        TraceKind::TcpConnected,
        TraceKind::Proxy,
        TraceKind::TlsDone,
        TraceKind::RequestSent,
        TraceKind::Response,
        TraceKind::Redirect,
        TraceKind::Open,
        TraceKind::FrameSent,
        TraceKind::FrameReceived,
        TraceKind::PingSent,
        TraceKind::PongReceived,
        TraceKind::CloseSent,
        TraceKind::CloseReceived,
        TraceKind::Failure,
    ];

    pub fn from_i32(n: i32) -> Option<TraceKind> {
        TraceKind::ALL.into_iter().find(|k| *k as i32 == n)
    }

    /// A short name, the same in every binding ("frame-sent").
    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Resolved => "resolved",
            TraceKind::TcpAttempt => "tcp-attempt",
            TraceKind::TcpFailed => "tcp-failed",
            TraceKind::TcpConnected => "tcp-connected",
            TraceKind::Proxy => "proxy",
            TraceKind::TlsDone => "tls-done",
            TraceKind::RequestSent => "request-sent",
            TraceKind::Response => "response",
            TraceKind::Redirect => "redirect",
            TraceKind::Open => "open",
            TraceKind::FrameSent => "frame-sent",
            TraceKind::FrameReceived => "frame-received",
            TraceKind::PingSent => "ping-sent",
            TraceKind::PongReceived => "pong-received",
            TraceKind::CloseSent => "close-sent",
            TraceKind::CloseReceived => "close-received",
            TraceKind::Failure => "failure",
        }
    }
}

/// A field an event may carry. The values are the C API's
/// `WS_TRACE_FIELD_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Field {
    // Numbers.
    /// Microseconds since the connect began (every event has it).
    ElapsedUs = 1,
    /// How long the step took, in microseconds (resolve, TCP, TLS, HTTP).
    DurationUs = 2,
    Opcode = 3,
    /// A frame's payload length, as on the wire.
    Length = 4,
    Fin = 5,
    Rsv1 = 6,
    /// An HTTP status (the server's or the proxy's).
    Status = 7,
    CloseCode = 8,
    RttUs = 9,
    /// Failure: the C API's result code (`WS_ERR_*`).
    Result = 10,
    /// TLS: 1 when the session was resumed.
    Resumed = 11,
    Port = 12,
    // Text.
    Host = 100,
    /// An address ("192.0.2.1:443"); for `Resolved`, all of them, ", "
    /// between them.
    Address = 101,
    TlsVersion = 102,
    TlsCipher = 103,
    Alpn = 104,
    PeerSubject = 105,
    /// HTTP headers, one "Name: value" per line (secrets redacted).
    Headers = 106,
    /// A close frame's reason.
    Reason = 107,
    /// Failure: the error message.
    Message = 108,
    /// Redirect: where to.
    Location = 109,
    /// The proxy (scheme://host:port).
    Proxy = 110,
}

/// A field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Number(i64),
    Text(String),
}

/// One event, as the callback sees it.
#[derive(Clone, Debug)]
pub struct TraceEvent {
    pub kind: TraceKind,
    /// The connection's id ([`Trace::conn_id`]), the same from the first
    /// lookup to the last frame.
    pub conn: u64,
    /// A one-line description ("frame sent: text, 5 bytes, FIN").
    pub text: String,
    pub fields: Vec<(Field, Value)>,
    /// Failure: the error's kind (the C API maps it to `Field::Result`).
    pub error: Option<ErrorKind>,
}

impl TraceEvent {
    pub fn new(kind: TraceKind, text: impl Into<String>) -> TraceEvent {
        TraceEvent {
            kind,
            conn: 0,
            text: text.into(),
            fields: Vec::new(),
            error: None,
        }
    }

    pub fn number(mut self, field: Field, n: impl TryInto<i64>) -> TraceEvent {
        self.fields
            .push((field, Value::Number(n.try_into().unwrap_or(i64::MAX))));
        self
    }

    pub fn text(mut self, field: Field, s: impl Into<String>) -> TraceEvent {
        self.fields.push((field, Value::Text(s.into())));
        self
    }

    /// A failure event for `error`.
    pub fn failure(error: &Error) -> TraceEvent {
        let mut e = TraceEvent::new(TraceKind::Failure, format!("failed: {}", error.message()))
            .text(Field::Message, error.message());
        if let Some(code) = error.close_code() {
            e = e.number(Field::CloseCode, code);
        }
        e.error = Some(error.kind());
        e
    }

    pub fn get(&self, field: Field) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    pub fn get_number(&self, field: Field) -> Option<i64> {
        match self.get(field) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn get_text(&self, field: Field) -> Option<&str> {
        match self.get(field) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
}

/// The caller's callback. It runs on whichever thread drives the
/// connection, while the connection is locked: it must not call back into
/// the same connection.
#[derive(Clone)]
pub struct Tracer(Arc<dyn Fn(&TraceEvent) + Send + Sync>);

impl Tracer {
    pub fn new(f: impl Fn(&TraceEvent) + Send + Sync + 'static) -> Tracer {
        Tracer(Arc::new(f))
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tracer")
    }
}

impl PartialEq for Tracer {
    fn eq(&self, other: &Tracer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// One connection's tracer: the callback, the connection's id and when its
/// connect began. Cloned into each part that reports (cheap: one `Arc`).
#[derive(Clone)]
pub struct Trace {
    tracer: Tracer,
    conn: u64,
    start: Instant,
}

impl Trace {
    pub fn new(tracer: Tracer, conn: u64, start: Instant) -> Trace {
        Trace {
            tracer,
            conn,
            start,
        }
    }

    pub fn conn_id(&self) -> u64 {
        self.conn
    }

    /// Hand `event` to the callback, stamped with the connection and the
    /// time since the connect began. A panicking callback is contained:
    /// the connection goes on.
    pub fn emit(&self, mut event: TraceEvent) {
        event.conn = self.conn;
        let elapsed = self.start.elapsed().as_micros();
        event.fields.insert(
            0,
            (
                Field::ElapsedUs,
                Value::Number(i64::try_from(elapsed).unwrap_or(i64::MAX)),
            ),
        );
        let callback = &self.tracer.0;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&event)));
    }
}

/// A frame sent or received: its header's facts, never its payload.
pub fn frame_event(kind: TraceKind, h: &FrameHeader) -> TraceEvent {
    let what = match OpCode::from_u8(h.opcode) {
        Some(op) => format!("{op:?}").to_ascii_lowercase(),
        None => format!("opcode 0x{:x}", h.opcode),
    };
    let dir = if kind == TraceKind::FrameSent {
        "sent"
    } else {
        "received"
    };
    let mut text = format!("frame {dir}: {what}, {} bytes", h.payload_len);
    if h.fin {
        text.push_str(", FIN");
    }
    if h.rsv & RSV1 != 0 {
        text.push_str(", RSV1");
    }
    TraceEvent::new(kind, text)
        .number(Field::Opcode, h.opcode)
        .number(Field::Length, h.payload_len)
        .number(Field::Fin, h.fin as u8)
        .number(Field::Rsv1, (h.rsv & RSV1 != 0) as u8)
}

/// A new connection id: unique in the process, never 0.
pub fn next_conn_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Header names whose values never appear in a trace.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "sec-websocket-key",
    "x-api-key",
];

/// Headers as "Name: value" lines, the values of secret ones (and of
/// those named in `sensitive`) replaced.
pub fn redacted_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    sensitive: &[String],
) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s))
            || sensitive.iter().any(|s| name.eq_ignore_ascii_case(s))
            || name.to_ascii_lowercase().contains("token");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push_str(": ");
        out.push_str(if secret { "[redacted]" } else { value });
    }
    out
}

/// The header lines of an HTTP request or response head, redacted.
pub fn redacted_head(head: &str, sensitive: &[String]) -> String {
    let pairs = head
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim()));
    redacted_headers(pairs, sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn secrets_are_redacted_whatever_their_case() {
        let head = "GET / HTTP/1.1\r\nHost: a\r\nAUTHORIZATION: Basic xyz\r\ncookie: s=1\r\n\
                    Sec-WebSocket-Key: k\r\nX-Auth-Token: t\r\nProxy-Authorization: p\r\n\
                    X-Mine: m\r\n\r\n";
        let lines = redacted_head(head, &["x-MINE".to_string()]);
        assert!(lines.contains("Host: a"));
        for secret in ["xyz", "s=1", ": k", ": t", ": p", ": m"] {
            assert!(!lines.contains(secret), "{secret} in {lines}");
        }
        assert_eq!(lines.matches("[redacted]").count(), 6);
    }

    #[test]
    fn events_are_stamped_and_a_panicking_callback_is_contained() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let tracer = Tracer::new(move |e: &TraceEvent| {
            s.lock().unwrap().push(e.clone());
            panic!("a callback bug");
        });
        let trace = Trace::new(tracer, 7, Instant::now());
        trace.emit(TraceEvent::new(TraceKind::Open, "open").number(Field::Status, 101));
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].conn, 7);
        assert!(seen[0].get_number(Field::ElapsedUs).is_some());
        assert_eq!(seen[0].get_number(Field::Status), Some(101));
        assert_eq!(seen[0].get_text(Field::Status), None);
    }

    #[test]
    fn kinds_round_trip_and_have_names() {
        for k in TraceKind::ALL {
            assert_eq!(TraceKind::from_i32(k as i32), Some(k));
            assert!(!k.name().is_empty());
        }
        assert_eq!(TraceKind::from_i32(0), None);
    }
}
