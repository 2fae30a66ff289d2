//! Opening the tunnel. HTTP: the CONNECT exchange (RFC 9110 §9.3.6), where
//! interim 1xx answers are skipped, any 2xx opens the tunnel and anything
//! else is the caller's to see (an `ErrorKind::Proxy` error carrying the
//! answer). SOCKS5: see `socks`.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::client::connect::ResponseReader;
use crate::client::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{HttpResponse, Parsed, Target};
use crate::session::readbuf::ReadBuf;
use crate::transport::{connect_tcp, Stream};

use super::{authority, socks, Proxy, ProxyKind};

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

/// Connect to `proxy` (within `connect_timeout`) and open a tunnel to
/// `target`. The exchange runs under the handshake's `deadline`, so a
/// silent proxy cannot hold the connect past it.
pub fn open_tunnel(
    proxy: &Proxy,
    target: &Target,
    options: &Options,
    connect_timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<TcpStream> {
    let context = format!("proxy {}", proxy.authority());
    let mut tcp = connect_tcp(&proxy.host, proxy.port, connect_timeout, &options.resolve)
        .map_err(|e| e.context(&context))?;
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if left.is_some_and(|l| l.is_zero()) {
        return Err(Error::exn(ErrorKind::Timeout, "the handshake timed out").context(&context));
    }
    tcp.set_read_timeout(left)?;
    tcp.set_write_timeout(left)?;
    match proxy.kind {
        ProxyKind::Http => http_connect(tcp, proxy, target, options, deadline, &context),
        ProxyKind::Socks5 | ProxyKind::Socks5h => {
            match socks::handshake(&mut tcp, proxy, target, &options.resolve, deadline) {
                Ok(()) => Ok(tcp),
                Err(e) => {
                    let _ = tcp.shutdown(std::net::Shutdown::Both);
                    Err(e.context(&context))
                }
            }
        }
    }
}

fn http_connect(
    tcp: TcpStream,
    proxy: &Proxy,
    target: &Target,
    options: &Options,
    deadline: Option<Instant>,
    context: &str,
) -> Result<TcpStream> {
    let mut stream = Stream::Plain(tcp.into());
    stream
        .write_all(connect_request(proxy, target).as_bytes())
        .map_err(|e| Error::from(e).context(&format!("{context}: sending CONNECT")))?;
    let mut reader = ResponseReader {
        stream: &mut stream,
        rbuf: ReadBuf::default(),
        deadline,
    };
    let parsed = final_answer(&mut reader, options.max_handshake_size, context)?;
    if !(200..300).contains(&parsed.status) {
        let body = reader.body(&parsed, options.max_response_body);
        stream.shutdown();
        let message = format!(
            "{context} refused the tunnel to {}: HTTP {} {}",
            authority(&target.host, target.port),
            parsed.status,
            parsed.reason
        );
        return Err(
            Error::exn(ErrorKind::Proxy, message).with_response(HttpResponse {
                status: parsed.status,
                reason: parsed.reason,
                headers: parsed.headers,
                body,
            }),
        );
    }
    // The origin speaks only after our request (or TLS ClientHello): bytes
    // already here came from the proxy and would corrupt the stream.
    if !reader.rbuf.data().is_empty() {
        stream.shutdown();
        return Err(Error::exn(
            ErrorKind::Proxy,
            format!("{context} sent data after its 2xx answer to CONNECT"),
        ));
    }
    match stream {
        // The reader shared the socket; a second handle to it outlives it.
        Stream::Plain(socket) => Ok(socket.tcp().try_clone()?),
        Stream::Tls(_) => unreachable!("the tunnel is plain TCP"),
    }
}

/// More interim answers than this before the final one: the proxy is
/// stalling on purpose.
const MAX_INTERIM_ANSWERS: usize = 16;

/// The proxy's final answer: 1xx answers (`100 Continue`, ...) are interim
/// (RFC 9110 §15.2) and skipped; each is bounded like a final one.
fn final_answer(reader: &mut ResponseReader<'_>, max_size: usize, context: &str) -> Result<Parsed> {
    for _ in 0..=MAX_INTERIM_ANSWERS {
        let parsed = reader.head(max_size).map_err(|e| e.context(context))?;
        if !(100..200).contains(&parsed.status) {
            return Ok(parsed);
        }
    }
    Err(Error::exn(
        ErrorKind::Proxy,
        format!("{context} sent more than {MAX_INTERIM_ANSWERS} interim (1xx) answers to CONNECT"),
    ))
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
}
