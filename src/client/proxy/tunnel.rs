//! Opening the tunnel, without I/O. HTTP: the CONNECT exchange (RFC 9110
//! §9.3.6), where interim 1xx answers are skipped, any 2xx opens the
//! tunnel and anything else is the caller's to see (an `ErrorKind::Proxy`
//! error carrying the answer). SOCKS5: see `socks`.

use crate::client::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{parse_response, BodyReader, HttpResponse, Parsed, Target};

use super::socks::{Address, Next, Socks};
use super::{authority, Proxy, ProxyKind};

/// The CONNECT request for `target` through `proxy`.
pub fn connect_request(proxy: &Proxy, target: &Target) -> String {
    let origin = authority(&target.host, target.port);
    let mut out = format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n");
    if let Some(credentials) = proxy.authorization() {
        out.push_str(&format!("Proxy-Authorization: {credentials}\r\n"));
    }
    out.push_str("\r\n");
    out
}

/// More interim answers than this before the final one: the proxy is
/// stalling on purpose.
const MAX_INTERIM_ANSWERS: usize = 16;

/// A tunnel being opened: feed it what the proxy sends, send what it asks.
pub enum Tunnel {
    Http(HttpConnect),
    Socks(Socks),
}

impl Tunnel {
    /// The exchange for `target` through `proxy`, and the bytes to send
    /// first. `address` is where a SOCKS5 proxy is asked to connect.
    pub fn start(
        proxy: &Proxy,
        target: &Target,
        address: &Address,
        options: &Options,
    ) -> Result<(Tunnel, Vec<u8>)> {
        let origin = authority(&target.host, target.port);
        match proxy.kind {
            ProxyKind::Http => Ok((
                Tunnel::Http(HttpConnect {
                    interim: 0,
                    max_head: options.max_handshake_size,
                    max_body: options.max_response_body,
                    origin,
                    refused: None,
                }),
                connect_request(proxy, target).into_bytes(),
            )),
            ProxyKind::Socks5 | ProxyKind::Socks5h => {
                let (socks, hello) = Socks::start(proxy, address, target.port, origin)?;
                Ok((Tunnel::Socks(socks), hello))
            }
        }
    }

    /// Take what the proxy sent (consumed bytes are removed from `input`).
    pub fn feed(&mut self, input: &mut Vec<u8>) -> Result<Next> {
        let next = match self {
            Tunnel::Http(h) => h.feed(input)?,
            Tunnel::Socks(s) => s.feed(input)?,
        };
        // The origin speaks only after our request (or TLS ClientHello):
        // bytes already here came from the proxy and would corrupt the stream.
        if next == Next::Open && !input.is_empty() {
            return Err(Error::exn(
                ErrorKind::Proxy,
                "the proxy sent data after opening the tunnel",
            ));
        }
        Ok(next)
    }

    /// The proxy closed the connection or the deadline passed (`why`): a
    /// refusal whose body was still arriving is reported with what came.
    pub fn cut_short(self, why: Error) -> Error {
        match self {
            Tunnel::Http(HttpConnect {
                refused: Some((parsed, body)),
                origin,
                ..
            }) => refusal(&origin, parsed, body),
            _ => why,
        }
    }
}

/// The HTTP CONNECT exchange.
pub struct HttpConnect {
    interim: usize,
    max_head: usize,
    max_body: usize,
    origin: String,
    /// A final answer other than 2xx, and its body so far.
    refused: Option<(Parsed, BodyReader)>,
}

impl HttpConnect {
    fn feed(&mut self, input: &mut Vec<u8>) -> Result<Next> {
        loop {
            if let Some((_, body)) = &mut self.refused {
                let used = body.feed(input);
                input.drain(..used);
                if !body.is_done() {
                    return Ok(Next::Read);
                }
                let (parsed, body) = self.refused.take().expect("refused");
                return Err(refusal(&self.origin, parsed, body));
            }
            let Some((parsed, len)) = parse_response(input, self.max_head)? else {
                return Ok(Next::Read);
            };
            input.drain(..len);
            match parsed.status {
                // Interim (RFC 9110 §15.2): skipped, each bounded like a final one.
                100..=199 => {
                    self.interim += 1;
                    if self.interim > MAX_INTERIM_ANSWERS {
                        return Err(Error::exn(
                            ErrorKind::Proxy,
                            format!(
                                "sent more than {MAX_INTERIM_ANSWERS} interim (1xx) answers to \
                                 CONNECT"
                            ),
                        ));
                    }
                }
                200..=299 => return Ok(Next::Open),
                _ => {
                    let body = BodyReader::new(parsed.body_framing(), self.max_body);
                    self.refused = Some((parsed, body));
                }
            }
        }
    }
}

fn refusal(origin: &str, parsed: Parsed, body: BodyReader) -> Error {
    let message = format!(
        "refused the tunnel to {origin}: HTTP {} {}",
        parsed.status, parsed.reason
    );
    Error::exn(ErrorKind::Proxy, message).with_response(HttpResponse {
        status: parsed.status,
        reason: parsed.reason,
        headers: parsed.headers,
        body: body.into_body(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_request_names_the_origin_and_authenticates() {
        let proxy = Proxy::parse("http://u:p@proxy:3128").unwrap();
        let target = Target::parse("wss://[::1]/chat").unwrap();
        assert_eq!(
            connect_request(&proxy, &target),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        );
        let proxy = Proxy::parse("proxy:3128").unwrap();
        let target = Target::parse("ws://example.com/").unwrap();
        assert_eq!(
            connect_request(&proxy, &target),
            "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"
        );
    }

    fn http_tunnel() -> Tunnel {
        let proxy = Proxy::parse("proxy:3128").unwrap();
        let target = Target::parse("ws://example.com/").unwrap();
        let address = Address::Domain("example.com".into());
        Tunnel::start(&proxy, &target, &address, &Options::default())
            .unwrap()
            .0
    }

    #[test]
    fn interim_answers_are_skipped_and_2xx_opens() {
        let mut t = http_tunnel();
        let mut input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec();
        assert_eq!(t.feed(&mut input).unwrap(), Next::Read);
        input.extend(b"\r\n");
        assert_eq!(t.feed(&mut input).unwrap(), Next::Open);
        let mut t = http_tunnel();
        let e = t
            .feed(&mut b"HTTP/1.1 200 OK\r\n\r\nsurprise".to_vec())
            .unwrap_err();
        assert!(e.message().contains("sent data after"), "{e}");
    }

    #[test]
    fn a_refusal_carries_the_answer_and_its_body() {
        let mut t = http_tunnel();
        let mut input =
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nno".to_vec();
        assert_eq!(t.feed(&mut input).unwrap(), Next::Read);
        input.extend(b"pe");
        let e = t.feed(&mut input).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy);
        assert!(e.message().contains("HTTP 407"), "{e}");
        assert_eq!(e.response().unwrap().body, b"nope");
        // Cut short: the body so far.
        let mut t = http_tunnel();
        let mut input = b"HTTP/1.1 403 Forbidden\r\n\r\npartial".to_vec();
        assert_eq!(t.feed(&mut input).unwrap(), Next::Read);
        let e = t.cut_short(Error::exn(ErrorKind::Timeout, "late"));
        assert_eq!(e.response().unwrap().body, b"partial");
    }
}
