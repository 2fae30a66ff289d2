//! Resolve (IPv6 and IPv4) and connect, trying every address in order, all
//! within one deadline.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// Connect to `host:port`; `timeout` bounds name resolution and the
/// connection attempts together.
pub fn connect_tcp(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let name = (host.to_string(), port);
    let addrs = resolve(host, port, deadline, move || {
        name.to_socket_addrs().map(Iterator::collect)
    })?;
    connect_any(host, port, &addrs, deadline)
}

/// Resolve with `lookup`, giving up at `deadline`. The system resolver
/// (getaddrinfo) cannot be cancelled or given a timeout, so a name is
/// looked up on a helper thread and waited for at most until the deadline;
/// a lookup that outlives it finishes on its own and is discarded. IP
/// literals need no lookup and no thread.
fn resolve<F>(
    host: &str,
    port: u16,
    deadline: Option<Instant>,
    lookup: F,
) -> Result<Vec<SocketAddr>>
where
    F: FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
{
    let failed =
        |e: io::Error| Error::exn(ErrorKind::Resolve, format!("cannot resolve {host}: {e}"));
    let addrs = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else if let Some(deadline) = deadline {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("wsclient-resolve".into())
            .spawn(move || {
                let _ = tx.send(lookup());
            })
            .map_err(failed)?;
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result.map_err(failed)?,
            Err(_) => {
                return Err(Error::exn(
                    ErrorKind::Timeout,
                    format!("resolving {host} timed out"),
                ))
            }
        }
    } else {
        lookup().map_err(failed)?
    };
    if addrs.is_empty() {
        return Err(Error::exn(
            ErrorKind::Resolve,
            format!("{host} has no addresses"),
        ));
    }
    Ok(addrs)
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:443`), as in a URI
/// and as `SocketAddr` prints itself.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn connect_any(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    deadline: Option<Instant>,
) -> Result<TcpStream> {
    let mut failures = Vec::new();
    for addr in addrs {
        let attempt = match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            Some(left) if left.is_zero() => {
                failures.push(format!("{addr}: timed out"));
                break;
            }
            Some(left) => TcpStream::connect_timeout(addr, left),
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
        format!(
            "cannot connect to {} ({})",
            authority(host, port),
            failures.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow_lookup() -> io::Result<Vec<SocketAddr>> {
        thread::sleep(Duration::from_secs(5));
        Ok(vec!["127.0.0.1:1".parse().unwrap()])
    }

    #[test]
    fn a_resolver_that_never_answers_is_bounded_by_the_deadline() {
        let started = Instant::now();
        let deadline = Some(started + Duration::from_millis(200));
        let e = resolve("slow.example", 80, deadline, slow_lookup).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("resolving slow.example"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "waited for the resolver"
        );
    }

    #[test]
    fn an_ipv6_address_in_a_message_is_bracketed() {
        assert_eq!(authority("::1", 42434), "[::1]:42434");
        assert_eq!(authority("example.org", 80), "example.org:80");
        // Port 0 can never be connected to: the attempt fails at once.
        let addrs = ["[::1]:0".parse().unwrap()];
        let e = connect_any("::1", 0, &addrs, None).unwrap_err();
        assert!(
            e.message().starts_with("cannot connect to [::1]:0 ("),
            "{e}"
        );
    }

    #[test]
    fn answers_and_ip_literals_come_through() {
        let deadline = Some(Instant::now() + Duration::from_secs(5));
        let one = || Ok(vec!["10.0.0.1:80".parse().unwrap()]);
        assert_eq!(resolve("h", 80, deadline, one).unwrap()[0].port(), 80);
        assert_eq!(resolve("h", 80, None, one).unwrap().len(), 1);
        // A literal never reaches the resolver.
        let never = || -> io::Result<Vec<SocketAddr>> { panic!("looked up an IP literal") };
        let addrs = resolve("::1", 9, deadline, never).unwrap();
        assert_eq!(addrs, ["[::1]:9".parse().unwrap()]);
        let none = || Ok(Vec::new());
        assert_eq!(
            resolve("h", 80, deadline, none).unwrap_err().kind(),
            ErrorKind::Resolve
        );
    }
}
