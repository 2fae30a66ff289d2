//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929):
//! the messages without I/O, and the exchange over a connected socket.
//! `socks5://` resolves the origin's name here, `socks5h://` lets the proxy
//! resolve it (the name never leaves through local DNS).

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::handshake::Target;
use crate::transport::{pinned, ResolveEntry};

use super::{authority, Proxy};

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

/// Read exactly `buf.len()` bytes before `deadline`.
fn read_exact_by(tcp: &mut TcpStream, buf: &mut [u8], deadline: Option<Instant>) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::exn(ErrorKind::Timeout, "the handshake timed out"));
            }
            tcp.set_read_timeout(Some(left))?;
        }
        match tcp.read(&mut buf[filled..])? {
            0 => return Err(proxy_error("the proxy closed the connection")),
            n => filled += n,
        }
    }
    Ok(())
}

/// The address to send for `target`: its name for `socks5h://`, else an
/// address resolved here (or pinned in `pins`).
fn address_for(proxy: &Proxy, target: &Target, pins: &[ResolveEntry]) -> Result<Address> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(Address::Ip(ip));
    }
    if proxy.remote_dns() {
        return Ok(Address::Domain(target.host.clone()));
    }
    if let Some(addrs) = pinned(pins, &target.host, target.port) {
        return Ok(Address::Ip(addrs[0].ip()));
    }
    (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::exn(
                ErrorKind::Resolve,
                format!("cannot resolve {}: {e}", target.host),
            )
        })?
        .next()
        .map(|a| Address::Ip(a.ip()))
        .ok_or_else(|| {
            Error::exn(
                ErrorKind::Resolve,
                format!("{} has no addresses", target.host),
            )
        })
}

/// Ask the SOCKS5 proxy on `tcp` for a connection to `target`.
pub fn handshake(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    target: &Target,
    pins: &[ResolveEntry],
    deadline: Option<Instant>,
) -> Result<()> {
    let request = connect_request(&address_for(proxy, target, pins)?, target.port)?;
    tcp.write_all(&greeting(proxy.credentials.is_some()))?;
    let mut choice = [0u8; 2];
    read_exact_by(tcp, &mut choice, deadline)?;
    match (choice, &proxy.credentials) {
        ([VERSION, NO_AUTH], _) => {}
        ([VERSION, USER_PASSWORD], Some((user, password))) => {
            tcp.write_all(&auth_request(user, password)?)?;
            let mut status = [0u8; 2];
            read_exact_by(tcp, &mut status, deadline)?;
            if status[1] != 0 {
                return Err(proxy_error(
                    "the SOCKS5 proxy refused the user name and password",
                ));
            }
        }
        ([VERSION, NO_ACCEPTABLE], None) => {
            return Err(proxy_error(
                "the SOCKS5 proxy requires authentication (give user:password in the proxy URL)",
            ))
        }
        ([VERSION, NO_ACCEPTABLE], Some(_)) => {
            return Err(proxy_error(
                "the SOCKS5 proxy accepts no authentication method we offer",
            ))
        }
        _ => return Err(proxy_error("the proxy does not speak SOCKS5")),
    }
    tcp.write_all(&request)?;
    let mut head = [0u8; 4];
    read_exact_by(tcp, &mut head, deadline)?;
    if head[0] != VERSION {
        return Err(proxy_error("the proxy does not speak SOCKS5"));
    }
    if head[1] != 0 {
        return Err(proxy_error(format!(
            "the SOCKS5 proxy could not connect to {}: {} ({})",
            authority(&target.host, target.port),
            reply_text(head[1]),
            head[1]
        )));
    }
    // The bound address: read and drop it, so the stream starts at the origin.
    let rest = match head[3] {
        IPV4 => 4 + 2,
        IPV6 => 16 + 2,
        DOMAIN => {
            let mut len = [0u8; 1];
            read_exact_by(tcp, &mut len, deadline)?;
            len[0] as usize + 2
        }
        _ => return Err(proxy_error("malformed SOCKS5 reply")),
    };
    read_exact_by(tcp, &mut vec![0u8; rest], deadline)
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
}
