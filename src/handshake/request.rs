//! The client's opening handshake request (RFC 6455 §4.1).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::handshake::Target;

/// Headers the handshake writes; a second copy would make the request
/// ambiguous (two Host headers are a smuggling risk).
const RESERVED_HEADERS: [&str; 5] = ["Host", "Upgrade", "Connection", "Origin", "Content-Length"];

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value the server must answer `key` with.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Everything that goes into the request besides the target.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Send the absolute-URI as request-target (the ws-client egg 1.0's default)
    /// instead of the origin-form of RFC 6455 §4.1.
    pub absolute_form: bool,
    pub origin: Option<String>,
    pub subprotocols: Vec<String>,
    /// Complete `Sec-WebSocket-Extensions` offers, one per element.
    pub extensions: Vec<String>,
    pub headers: Vec<(String, String)>,
}

fn check_header_text(what: &str, text: &str) -> Result<()> {
    if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::invalid_argument(format!(
            "{what} {text:?} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

fn check_token(what: &str, text: &str) -> Result<()> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if text.is_empty() || !text.bytes().all(is_tchar) {
        return Err(Error::invalid_argument(format!(
            "{what} {text:?} is not an HTTP token"
        )));
    }
    Ok(())
}

impl Request {
    /// Check caller-supplied parts before anything goes on the wire.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in &self.headers {
            check_token("header name", name)?;
            check_header_text("header value", value)?;
            if RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
                || name.to_ascii_lowercase().starts_with("sec-websocket-")
            {
                return Err(Error::invalid_argument(format!(
                    "header {name} is written by the handshake itself (use the origin, \
                     subprotocol or deflate options)"
                )));
            }
        }
        for p in &self.subprotocols {
            check_token("subprotocol", p)?;
        }
        if let Some(origin) = &self.origin {
            check_header_text("origin", origin)?;
        }
        Ok(())
    }

    /// Render the request for `target` with a fresh `key`.
    pub fn render(&self, target: &Target, key: &str) -> String {
        let request_target = if self.absolute_form {
            target.absolute_form()
        } else {
            target.resource_name()
        };
        let mut out = format!(
            "GET {request_target} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            target.host_header()
        );
        if let Some(origin) = &self.origin {
            out.push_str(&format!("Origin: {origin}\r\n"));
        }
        if !self.subprotocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.subprotocols.join(", ")
            ));
        }
        if !self.extensions.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                self.extensions.join(", ")
            ));
        }
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out
    }
}

/// A fresh random `Sec-WebSocket-Key`: 16 random bytes, base64.
pub fn new_key() -> String {
    let mut nonce = [0u8; 16];
    openssl::rand::rand_bytes(&mut nonce).expect("OpenSSL CSPRNG failed");
    BASE64.encode(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_sample_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn request_has_required_headers_and_no_empty_extensions() {
        let target = Target::parse("ws://h:9001/p?q=1").unwrap();
        let text = Request::default().render(&target, "KEY");
        assert!(text.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: h:9001\r\n"));
        for needed in [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: KEY",
            "Sec-WebSocket-Version: 13",
        ] {
            assert!(text.contains(needed), "{needed}");
        }
        assert!(!text.contains("Sec-WebSocket-Extensions"));
        assert!(text.ends_with("\r\n\r\n"));
        let absolute = Request {
            absolute_form: true,
            ..Default::default()
        }
        .render(&target, "K");
        assert!(absolute.starts_with("GET ws://h:9001/p?q=1 HTTP/1.1"));
    }

    #[test]
    fn keys_are_random_16_byte_nonces() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(BASE64.decode(a).unwrap().len(), 16);
    }

    #[test]
    fn header_injection_is_refused() {
        let r = Request {
            headers: vec![("X-A".into(), "v\r\nEvil: 1".into())],
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let r = Request {
            subprotocols: vec!["a b".into()],
            ..Default::default()
        };
        assert!(r.validate().is_err());
    }
}
