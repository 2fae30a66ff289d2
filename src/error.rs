//! One error type for the whole library.
//!
//! The ws-client egg distinguishes two kinds of condition: a *fail* (the
//! connection is failed and the peer gets a close frame with a code) and an
//! *exn* (no close frame makes sense: bad user input, a dead socket). Here a
//! fail is an [`Error`] whose [`Error::close_code`] is `Some`.
//!
//! This is the bottom layer: it depends only on `close_code` and
//! [`crate::http`], which depend on nothing. Conversions from OpenSSL's
//! errors live in `transport`, which hands them over inside an
//! [`io::Error`] (see the `From<io::Error>` impl).

use std::fmt;
use std::io;

use crate::close_code::{INVALID_PAYLOAD, MESSAGE_TOO_BIG, PROTOCOL_ERROR};
use crate::http::HttpResponse;

/// What went wrong, grouped by cause. The C ABI maps each kind to a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller passed an invalid argument.
    InvalidArgument,
    /// The call does not fit the connection's state (e.g. sending after close).
    InvalidState,
    /// An I/O error on the socket.
    Io,
    /// A connect, handshake, read or write timeout expired.
    Timeout,
    /// Non-blocking mode: no complete message or frame is available yet.
    WouldBlock,
    /// The host name did not resolve.
    Resolve,
    /// No resolved address accepted a TCP connection.
    Connect,
    /// The peer closed the TCP connection without a close handshake.
    ConnectionLost,
    /// TLS failed for a reason other than certificate verification.
    Tls,
    /// The server's certificate did not verify.
    TlsVerify,
    /// The URI is not a valid ws:// or wss:// URI.
    Uri,
    /// The server's opening handshake response is invalid.
    Handshake,
    /// The server's extension answer is invalid or was not offered (close
    /// code 1010).
    Negotiation,
    /// The peer violated the protocol (close code 1002): the framing, or
    /// in the 101 a subprotocol that was not offered.
    Protocol,
    /// A text message or close reason is not valid UTF-8 (close code 1007).
    InvalidPayload,
    /// A frame or message exceeds the configured limits (close code 1009).
    MessageTooBig,
    /// Too many redirects, or a redirect that would downgrade wss to ws.
    Redirect,
    /// The HTTP proxy refused the tunnel (e.g. 407); [`Error::response`]
    /// holds its answer.
    Proxy,
    /// An earlier call panicked while using this object; it is unusable.
    Panic,
}

impl ErrorKind {
    /// Whether a new connection may succeed where this failure happened:
    /// the network (a name lookup, a refused or reset connection, I/O, TLS
    /// failing on the way) and timeouts, which pass when the server or the
    /// path to it recovers. Not the caller's own mistakes (arguments, URI,
    /// state), nor a certificate that did not verify, an invalid or
    /// refused handshake, a redirect refused, or a protocol violation: the
    /// same attempt would fail the same way. As Python `websockets` (whose
    /// network errors include TLS's) and this library's bindings decide; a
    /// proxy's refusal depends on its answer (see [`Error::is_retryable`]);
    /// `WouldBlock` is not a failure (call again).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Io
                | ErrorKind::Timeout
                | ErrorKind::Resolve
                | ErrorKind::Connect
                | ErrorKind::ConnectionLost
                | ErrorKind::Tls
        )
    }
}

/// A library error: its kind, the close code sent to the peer (for a *fail*),
/// and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    close_code: Option<u16>,
    message: String,
    /// An HTTP answer that explains the error (a proxy's refusal).
    response: Option<Box<HttpResponse>>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An *exn*: no close frame is sent to the peer.
    pub fn exn(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            close_code: None,
            message: message.into(),
            response: None,
        }
    }

    /// A *fail*: the connection is failed with `close_code`.
    pub fn fail(kind: ErrorKind, close_code: u16, message: impl Into<String>) -> Self {
        Error {
            kind,
            close_code: Some(close_code),
            message: message.into(),
            response: None,
        }
    }

    /// A protocol violation by the peer (1002).
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::fail(ErrorKind::Protocol, PROTOCOL_ERROR, message)
    }

    /// Invalid UTF-8 from the peer (1007).
    pub fn invalid_payload(message: impl Into<String>) -> Self {
        Self::fail(ErrorKind::InvalidPayload, INVALID_PAYLOAD, message)
    }

    /// A frame or message over the configured limit (1009).
    pub fn too_big(message: impl Into<String>) -> Self {
        Self::fail(ErrorKind::MessageTooBig, MESSAGE_TOO_BIG, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::exn(ErrorKind::InvalidArgument, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::exn(ErrorKind::InvalidState, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The close code of a *fail*; `None` for an *exn*.
    pub fn close_code(&self) -> Option<u16> {
        self.close_code
    }

    pub fn is_fail(&self) -> bool {
        self.close_code.is_some()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP answer behind this error, if any (a proxy's refusal).
    pub fn response(&self) -> Option<&HttpResponse> {
        self.response.as_deref()
    }

    /// The same error, carrying `response` for the caller.
    pub fn with_response(mut self, response: HttpResponse) -> Self {
        self.response = Some(Box::new(response));
        self
    }

    /// Whether connecting again may succeed: [`ErrorKind::is_retryable`],
    /// and a proxy's refusal with a 500, 502, 503 or 504 answer (it could
    /// not reach the server: see [`crate::http::is_retryable_status`]).
    pub fn is_retryable(&self) -> bool {
        match (self.kind, &self.response) {
            (ErrorKind::Proxy, Some(r)) => r.is_retryable(),
            (kind, _) => kind.is_retryable(),
        }
    }

    /// The same error with `context: ` in front of its message.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    /// An error for a `Read`/`Write` impl; converting back gives the same
    /// [`Error`] (kind, close code, message).
    fn from(e: Error) -> io::Error {
        io::Error::other(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        // An error a lower layer already classified (a TLS failure that
        // surfaced through a read or write, see `transport`) keeps its kind.
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
            return inner.clone();
        }
        let kind = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::ConnectionLost,
            _ => ErrorKind::Io,
        };
        let message = match kind {
            ErrorKind::Timeout => "timed out".to_string(),
            _ => e.to_string(),
        };
        Error::exn(kind, message)
    }
}

/// Why `path` cannot be opened, in plain words.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            // "Not a directory (os error 20)" -> "not a directory".
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_lowercase().collect::<String>() + chars.as_str()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_errors_and_timeouts_may_be_retried_mistakes_and_verification_not() {
        use ErrorKind::*;
        for kind in [Io, Timeout, Resolve, Connect, ConnectionLost, Tls] {
            assert!(kind.is_retryable(), "{kind:?}");
            assert!(Error::exn(kind, "x").is_retryable(), "{kind:?}");
        }
        for kind in [
            InvalidArgument,
            InvalidState,
            WouldBlock,
            TlsVerify,
            Uri,
            Handshake,
            Negotiation,
            Protocol,
            InvalidPayload,
            MessageTooBig,
            Redirect,
            Proxy,
            Panic,
        ] {
            assert!(!kind.is_retryable(), "{kind:?}");
        }
        let proxy = |status| {
            Error::exn(Proxy, "refused").with_response(HttpResponse {
                status,
                reason: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
            })
        };
        assert!(proxy(502).is_retryable());
        assert!(!proxy(407).is_retryable());
        assert!(!Error::exn(Proxy, "SOCKS5: refused").is_retryable());
    }

    #[test]
    fn an_error_survives_a_trip_through_io_error() {
        let e = Error::exn(ErrorKind::Tls, "TLS failure: bad record mac");
        let io: io::Error = e.clone().into();
        assert_eq!(Error::from(io), e);
        let fail = Error::too_big("big");
        assert_eq!(Error::from(io::Error::from(fail.clone())), fail);
        assert_eq!(fail.close_code(), Some(MESSAGE_TOO_BIG));
    }

    #[test]
    fn plain_io_errors_are_classified_by_kind() {
        let e = Error::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(e.kind(), ErrorKind::ConnectionLost);
        let e = Error::from(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!((e.kind(), e.message()), (ErrorKind::Timeout, "timed out"));
        assert_eq!(Error::from(io::Error::other("odd")).kind(), ErrorKind::Io);
    }
}
