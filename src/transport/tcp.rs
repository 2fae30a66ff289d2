//! Resolve (IPv6 and IPv4) and connect, trying every address in order.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

pub fn connect_tcp(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::exn(ErrorKind::Resolve, format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::exn(
            ErrorKind::Resolve,
            format!("{host} has no addresses"),
        ));
    }
    let mut failures = Vec::new();
    for addr in &addrs {
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => failures.push(format!("{addr}: {e}")),
        }
    }
    let kind = if failures.iter().all(|f| f.contains("timed out")) {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connect
    };
    Err(Error::exn(
        kind,
        format!("cannot connect to {host}:{port} ({})", failures.join("; ")),
    ))
}
