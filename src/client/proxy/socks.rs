//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929):
//! the messages and the exchange, without I/O.
//! `socks5://` resolves the origin's name here, `socks5h://` lets the proxy
//! resolve it (the name never leaves through local DNS).

use std::net::IpAddr;

use super::Proxy;
use crate::error::{Error, ErrorKind, Result};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 0x01;
const IPV4: u8 = 0x01;
const DOMAIN: u8 = 0x03;
const IPV6: u8 = 0x04;

fn proxy_error(message: impl Into<String>) -> Error {
    Error::exn(ErrorKind::Proxy, message)
}

/// The client's greeting: the methods it can do.
pub fn greeting(credentials: bool) -> Vec<u8> {
    if credentials {
        vec![VERSION, 2, NO_AUTH, USER_PASSWORD]
    } else {
        vec![VERSION, 1, NO_AUTH]
    }
}

/// The RFC 1929 sub-negotiation; each part is at most 255 bytes.
pub fn auth_request(user: &str, password: &str) -> Result<Vec<u8>> {
    if user.len() > 255 || password.len() > 255 {
        return Err(Error::invalid_argument(
            "SOCKS5 user names and passwords are at most 255 bytes",
        ));
    }
    let mut out = vec![1, user.len() as u8];
    out.extend_from_slice(user.as_bytes());
    out.push(password.len() as u8);
    out.extend_from_slice(password.as_bytes());
    Ok(out)
}

/// Where to ask the proxy to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Ip(IpAddr),
    Domain(String),
}

/// The CONNECT request for `address`:`port`.
pub fn connect_request(address: &Address, port: u16) -> Result<Vec<u8>> {
    let mut out = vec![VERSION, CONNECT, 0];
    match address {
        Address::Ip(IpAddr::V4(a)) => {
            out.push(IPV4);
            out.extend_from_slice(&a.octets());
        }
        Address::Ip(IpAddr::V6(a)) => {
            out.push(IPV6);
            out.extend_from_slice(&a.octets());
        }
        Address::Domain(name) => {
            if name.is_empty() || name.len() > 255 {
                return Err(Error::invalid_argument(format!(
                    "host name {name:?} does not fit a SOCKS5 request"
                )));
            }
            out.push(DOMAIN);
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// RFC 1928 §6 reply codes.
pub fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// The SOCKS5 exchange without I/O: [`Socks::start`] gives the greeting to
/// send; each [`Socks::feed`] with the bytes received so far says what to
/// send next, to wait for more, or that the tunnel is open.
pub struct Socks {
    state: SocksState,
    credentials: Option<(String, String)>,
    request: Vec<u8>,
    origin: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SocksState {
    /// Waiting for the method the proxy chose.
    Method,
    /// Waiting for the answer to user and password.
    Auth,
    /// Waiting for the reply to CONNECT.
    Reply,
}

/// What the exchange needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// More bytes from the proxy.
    Read,
    /// Send these, then read.
    Send(Vec<u8>),
    /// The tunnel is open; the bytes that were fed and not used (none from a
    /// well-behaved proxy) are the caller's.
    Open,
}

impl Socks {
    /// The exchange for a tunnel to `address`:`port` (the origin, named
    /// `origin` in messages), and the greeting to send first.
    pub fn start(
        proxy: &Proxy,
        address: &Address,
        port: u16,
        origin: String,
    ) -> Result<(Socks, Vec<u8>)> {
        let socks = Socks {
            state: SocksState::Method,
            credentials: proxy.credentials.clone(),
            request: connect_request(address, port)?,
            origin,
        };
        Ok((socks, greeting(proxy.credentials.is_some())))
    }

    /// Take what the proxy sent from the front of `input` (consumed bytes
    /// are removed) and say what comes next.
    pub fn feed(&mut self, input: &mut Vec<u8>) -> Result<Next> {
        match self.state {
            SocksState::Method => {
                let Some(choice) = take(input, 2) else {
                    return Ok(Next::Read);
                };
                match ([choice[0], choice[1]], &self.credentials) {
                    ([VERSION, NO_AUTH], _) => {
                        self.state = SocksState::Reply;
                        Ok(Next::Send(self.request.clone()))
                    }
                    ([VERSION, USER_PASSWORD], Some((user, password))) => {
                        self.state = SocksState::Auth;
                        Ok(Next::Send(auth_request(user, password)?))
                    }
                    ([VERSION, NO_ACCEPTABLE], None) => Err(proxy_error(
                        "the SOCKS5 proxy requires authentication (give user:password in the \
                         proxy URL)",
                    )),
                    ([VERSION, NO_ACCEPTABLE], Some(_)) => Err(proxy_error(
                        "the SOCKS5 proxy accepts no authentication method we offer",
                    )),
                    _ => Err(proxy_error("the proxy does not speak SOCKS5")),
                }
            }
            SocksState::Auth => {
                let Some(status) = take(input, 2) else {
                    return Ok(Next::Read);
                };
                if status[1] != 0 {
                    return Err(proxy_error(
                        "the SOCKS5 proxy refused the user name and password",
                    ));
                }
                self.state = SocksState::Reply;
                Ok(Next::Send(self.request.clone()))
            }
            SocksState::Reply => {
                if input.len() < 4 {
                    return Ok(Next::Read);
                }
                if input[0] != VERSION {
                    return Err(proxy_error("the proxy does not speak SOCKS5"));
                }
                if input[1] != 0 {
                    return Err(proxy_error(format!(
                        "the SOCKS5 proxy could not connect to {}: {} ({})",
                        self.origin,
                        reply_text(input[1]),
                        input[1]
                    )));
                }
                // The bound address: read and dropped, so the stream starts
                // at the origin.
                let len = match input[3] {
                    IPV4 => 4 + 4 + 2,
                    IPV6 => 4 + 16 + 2,
                    DOMAIN => match input.get(4) {
                        Some(&n) => 4 + 1 + n as usize + 2,
                        None => return Ok(Next::Read),
                    },
                    _ => return Err(proxy_error("malformed SOCKS5 reply")),
                };
                match take(input, len) {
                    Some(_) => Ok(Next::Open),
                    None => Ok(Next::Read),
                }
            }
        }
    }
}

/// The first `n` bytes of `input`, removed from it, once there are `n`.
fn take(input: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    (input.len() >= n).then(|| input.drain(..n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_rfc_1928_and_1929() {
        assert_eq!(greeting(false), [5, 1, 0]);
        assert_eq!(greeting(true), [5, 2, 0, 2]);
        assert_eq!(
            auth_request("u", "pw").unwrap(),
            [1, 1, b'u', 2, b'p', b'w']
        );
        assert!(auth_request(&"x".repeat(256), "").is_err());
        let v4 = Address::Ip("10.0.0.1".parse().unwrap());
        assert_eq!(
            connect_request(&v4, 443).unwrap(),
            [5, 1, 0, 1, 10, 0, 0, 1, 1, 187]
        );
        let name = Address::Domain("ab.c".to_string());
        assert_eq!(
            connect_request(&name, 80).unwrap(),
            [5, 1, 0, 3, 4, b'a', b'b', b'.', b'c', 0, 80]
        );
        let v6 = connect_request(&Address::Ip("::1".parse().unwrap()), 1).unwrap();
        assert_eq!((v6[3], v6.len(), v6[19]), (4, 22, 1));
        assert!(connect_request(&Address::Domain("x".repeat(256)), 1).is_err());
    }

    #[test]
    fn the_exchange_authenticates_then_connects_and_skips_the_bound_address() {
        let proxy = Proxy::parse("socks5h://u:pw@h:1080").unwrap();
        let address = Address::Domain("ab.c".into());
        let (mut socks, hello) = Socks::start(&proxy, &address, 80, "ab.c:80".into()).unwrap();
        assert_eq!(hello, [5, 2, 0, 2]);
        let mut input = vec![5];
        assert_eq!(socks.feed(&mut input).unwrap(), Next::Read);
        input.push(2);
        assert_eq!(
            socks.feed(&mut input).unwrap(),
            Next::Send(vec![1, 1, b'u', 2, b'p', b'w'])
        );
        input.extend([1, 0]);
        let Next::Send(request) = socks.feed(&mut input).unwrap() else {
            panic!("no CONNECT")
        };
        assert_eq!(request[..5], [5, 1, 0, 3, 4]);
        input.extend([5, 0, 0, 3, 3, b'x']);
        assert_eq!(socks.feed(&mut input).unwrap(), Next::Read);
        input.extend([b'y', b'z', 0, 80]);
        assert_eq!(socks.feed(&mut input).unwrap(), Next::Open);
        assert!(input.is_empty());
    }

    #[test]
    fn a_refusal_names_the_origin_and_the_reason() {
        let proxy = Proxy::parse("socks5://h").unwrap();
        let address = Address::Ip("10.0.0.1".parse().unwrap());
        let (mut socks, _) = Socks::start(&proxy, &address, 443, "10.0.0.1:443".into()).unwrap();
        let mut input = vec![5, 0];
        assert!(matches!(socks.feed(&mut input).unwrap(), Next::Send(_)));
        input.extend([5, 5, 0, 1]);
        let e = socks.feed(&mut input).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Proxy);
        assert!(
            e.message()
                .contains("could not connect to 10.0.0.1:443: connection refused"),
            "{e}"
        );
        let (mut socks, _) = Socks::start(&proxy, &address, 443, "o".into()).unwrap();
        let e = socks.feed(&mut vec![5, 0xff]).unwrap_err();
        assert!(e.message().contains("requires authentication"), "{e}");
    }
}
