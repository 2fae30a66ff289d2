//! The server's handshake response: parse it, and validate a 101 (RFC 6455 §4.2.2).

use crate::deflate::{negotiate, DeflateOffer, DeflateParams};
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::accept_key;
use crate::http::header_values;
pub use crate::http::HttpResponse;

const MAX_HEADERS: usize = 128;

/// A response's status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Parsed {
    /// Every value of header `name`, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        header_values(&self.headers, name)
    }
}

fn handshake_error(message: impl Into<String>) -> Error {
    Error::exn(ErrorKind::Handshake, message)
}

/// Parse the status line and headers from the start of `buf`. `Ok(None)`
/// asks for more bytes; more than `max_size` bytes without the end of the
/// headers is an error. On success also returns the header block's length.
pub fn parse_response(buf: &[u8], max_size: usize) -> Result<Option<(Parsed, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let status = response
        .parse(buf)
        .map_err(|e| handshake_error(format!("malformed HTTP response: {e}")))?;
    let len = match status {
        httparse::Status::Complete(len) if len <= max_size => len,
        httparse::Status::Partial if buf.len() <= max_size => return Ok(None),
        _ => {
            return Err(handshake_error(format!(
                "handshake response exceeds {max_size} bytes"
            )))
        }
    };
    let parsed = Parsed {
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_string(),
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
    };
    Ok(Some((parsed, len)))
}

/// How the body of a non-101 response is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// 1xx, 204 and 304 responses have no body.
    Empty,
    Length(usize),
    Chunked,
    /// Neither length nor chunking: the body ends when the server closes.
    UntilClose,
}

impl Parsed {
    pub fn body_framing(&self) -> BodyFraming {
        if matches!(self.status, 100..=199 | 204 | 304) {
            return BodyFraming::Empty;
        }
        let chunked = self
            .values("Transfer-Encoding")
            .any(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return BodyFraming::Chunked;
        }
        match self.values("Content-Length").next().map(str::parse) {
            Some(Ok(n)) => BodyFraming::Length(n),
            _ => BodyFraming::UntilClose,
        }
    }
}

/// What a valid 101 agreed on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upgrade {
    pub deflate: Option<DeflateParams>,
    pub subprotocol: Option<String>,
}

fn has_token<'a>(mut values: impl Iterator<Item = &'a str>, token: &str) -> bool {
    values.any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

impl Upgrade {
    /// Validate a 101 response for the request made with `key`, `offers` and
    /// `subprotocols`.
    pub fn validate(
        parsed: &Parsed,
        key: &str,
        offers: &[DeflateOffer],
        subprotocols: &[String],
    ) -> Result<Upgrade> {
        if !has_token(parsed.values("Upgrade"), "websocket") {
            return Err(handshake_error(
                "the 101 response lacks 'Upgrade: websocket'",
            ));
        }
        if !has_token(parsed.values("Connection"), "upgrade") {
            return Err(handshake_error(
                "the 101 response lacks 'Connection: Upgrade'",
            ));
        }
        let expected = accept_key(key);
        let accepts: Vec<&str> = parsed.values("Sec-WebSocket-Accept").collect();
        if accepts != [expected.as_str()] {
            return Err(handshake_error(format!(
                "Sec-WebSocket-Accept {:?} does not match the expected {expected:?}",
                accepts
            )));
        }
        let extensions: Vec<&str> = parsed.values("Sec-WebSocket-Extensions").collect();
        let deflate = negotiate(offers, &extensions)?;
        let chosen: Vec<&str> = parsed.values("Sec-WebSocket-Protocol").collect();
        let subprotocol = match chosen.as_slice() {
            [] => None,
            [one] if subprotocols.iter().any(|p| p == one) => Some(one.to_string()),
            // RFC 6455 §4.1: the client must _Fail the WebSocket
            // Connection_. The server broke the handshake's rules (1002);
            // 1010 is for extensions, which `negotiate` checks.
            _ => {
                return Err(Error::protocol(format!(
                    "the server chose subprotocol {chosen:?}, which was not offered"
                )))
            }
        };
        Ok(Upgrade {
            deflate,
            subprotocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn ok_response(extra: &str) -> Vec<u8> {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n").into_bytes()
    }

    fn parse_whole(bytes: &[u8]) -> Parsed {
        parse_response(bytes, 8192).unwrap().unwrap().0
    }

    #[test]
    fn parses_in_every_chunking() {
        let bytes = ok_response("");
        for cut in 0..bytes.len() {
            assert!(
                parse_response(&bytes[..cut], 8192).unwrap().is_none(),
                "cut {cut}"
            );
        }
        let (p, len) = parse_response(&bytes, 8192).unwrap().unwrap();
        assert_eq!((p.status, len), (101, bytes.len()));
        assert!(Upgrade::validate(&p, KEY, &[], &[]).is_ok());
    }

    #[test]
    fn bad_accept_and_missing_headers_are_errors() {
        let bad = String::from_utf8(ok_response(""))
            .unwrap()
            .replace("s3pP", "AAAA");
        let e = Upgrade::validate(&parse_whole(bad.as_bytes()), KEY, &[], &[]).unwrap_err();
        assert!(e.message().contains("Sec-WebSocket-Accept"));
        let no_upgrade = String::from_utf8(ok_response(""))
            .unwrap()
            .replace("Upgrade: websocket\r\n", "");
        assert!(Upgrade::validate(&parse_whole(no_upgrade.as_bytes()), KEY, &[], &[]).is_err());
    }

    #[test]
    fn subprotocol_must_be_offered() {
        let p = parse_whole(&ok_response("Sec-WebSocket-Protocol: chat\r\n"));
        assert_eq!(
            Upgrade::validate(&p, KEY, &[], &["chat".into()])
                .unwrap()
                .subprotocol
                .as_deref(),
            Some("chat")
        );
        let e = Upgrade::validate(&p, KEY, &[], &["other".into()]).unwrap_err();
        assert_eq!(
            (e.kind(), e.close_code()),
            (ErrorKind::Protocol, Some(1002))
        );
    }

    #[test]
    fn unoffered_extension_fails() {
        let p = parse_whole(&ok_response(
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        ));
        assert_eq!(
            Upgrade::validate(&p, KEY, &[], &[])
                .unwrap_err()
                .close_code(),
            Some(1010)
        );
    }

    #[test]
    fn body_framing() {
        let p = |head: &str| parse_whole(head.as_bytes());
        assert_eq!(
            p("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n").body_framing(),
            BodyFraming::Empty
        );
        assert_eq!(
            p("HTTP/1.1 403 F\r\nContent-Length: 5\r\n\r\n").body_framing(),
            BodyFraming::Length(5)
        );
        assert_eq!(
            p("HTTP/1.1 403 F\r\nTransfer-Encoding: chunked\r\n\r\n").body_framing(),
            BodyFraming::Chunked
        );
        assert_eq!(
            p("HTTP/1.1 403 F\r\n\r\n").body_framing(),
            BodyFraming::UntilClose
        );
    }

    #[test]
    fn oversized_and_garbage_responses_are_errors() {
        let huge = format!("HTTP/1.1 101 OK\r\nX: {}\r\n", "a".repeat(10_000));
        assert!(parse_response(huge.as_bytes(), 4096).is_err());
        assert!(parse_response(b"\x00\x01garbage\r\n\r\n", 4096).is_err());
    }
}
