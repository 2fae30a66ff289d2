//! Opening a connection: addresses pinned with `add_resolve` (curl's
//! `--resolve`), Happy Eyeballs (RFC 8305) across them, and the TLS
//! handshake bounded by the handshake timeout.

mod common;

use std::io::{ErrorKind as IoErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use wsclient::transport::ATTEMPT_DELAY;
use wsclient::{connect, ErrorKind, Options};

const WATCHDOG_SECS: u64 = 60;

/// A listener on `addr` whose accept queue is full, so the kernel drops
/// further SYNs (Linux does so when the queue is full): a connection
/// attempt to it gets no answer at all. Returns the listener and the
/// queued connections that fill it, none of them ever accepted.
fn black_hole(addr: SocketAddr) -> std::io::Result<(TcpListener, Vec<TcpStream>)> {
    let listener = TcpListener::bind(addr)?;
    // std listens with a backlog of 128: shrink it (listen again) to 0,
    // a queue of one connection.
    rustix::net::listen(&listener, 0)?;
    let addr = listener.local_addr()?;
    let mut queued = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(e) if e.kind() == IoErrorKind::TimedOut => return Ok((listener, queued)),
            Err(e) => return Err(e),
        }
    }
    panic!("{addr}: a full accept queue still answers SYNs; this test needs one that drops them");
}

/// A WebSocket server on 127.0.0.1 that takes one connection and answers
/// its close; and a black hole on 127.0.0.2 at the same port (the port is
/// the URI's, for every pinned address).
fn live_and_dead() -> (RawServer<()>, TcpListener, Vec<TcpStream>) {
    for _ in 0..20 {
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = live.local_addr().unwrap().port();
        let dead: SocketAddr = (IpAddr::from([127, 0, 0, 2]), port).into();
        match black_hole(dead) {
            Ok((listener, queued)) => {
                let server = RawServer::start_on(live, |mut s: TcpStream| {
                    accept_ws(&mut s, "");
                    let f = read_frame(&mut s).unwrap().unwrap();
                    assert!(f.is_close());
                    s.write_all(&close_frame(1000, "")).unwrap();
                });
                return (server, listener, queued);
            }
            Err(e) if e.kind() == IoErrorKind::AddrInUse => continue,
            Err(e) => panic!("{dead}: {e}"),
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

#[test]
fn happy_eyeballs_wins_on_the_second_address_when_the_first_is_silent() {
    watchdog(WATCHDOG_SECS, || {
        let (server, _dead, _queued) = live_and_dead();
        let port = server.port;
        let mut opts = Options {
            connect_timeout: Some(Duration::from_secs(30)),
            handshake_timeout: Some(Duration::from_secs(30)),
            ..Options::default()
        };
        // A name no resolver knows: only the pin makes it connect.
        opts.add_resolve(&format!("happy.invalid:{port}:127.0.0.2,127.0.0.1"))
            .unwrap();
        let started = Instant::now();
        let conn = expect_upgraded(connect(&format!("ws://happy.invalid:{port}/"), &opts));
        let took = started.elapsed();
        // The first attempt had its 250 ms alone, then the second won
        // while the first was still waiting for an answer.
        assert!(
            took >= ATTEMPT_DELAY,
            "took {took:?}: the first address was not tried first"
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
        conn.close(Some(1000), "").unwrap();
        assert!(conn.recv_message().unwrap().is_none());
        server.join();
    });
}

#[test]
fn a_silent_pinned_address_alone_ends_at_the_connect_timeout_and_is_named() {
    watchdog(WATCHDOG_SECS, || {
        let (dead, _queued) = black_hole("127.0.0.2:0".parse().unwrap()).unwrap();
        let port = dead.local_addr().unwrap().port();
        let mut opts = Options {
            connect_timeout: Some(Duration::from_millis(700)),
            ..Options::default()
        };
        opts.add_resolve(&format!("silent.invalid:{port}:[::1]"))
            .unwrap();
        // The same host and port again: replaces the entry above.
        opts.add_resolve(&format!("silent.invalid:{port}:127.0.0.2"))
            .unwrap();
        assert_eq!(opts.resolve.len(), 1);
        let started = Instant::now();
        let e = expect_connect_error(connect(&format!("ws://silent.invalid:{port}/"), &opts));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert_eq!(
            e.message(),
            format!("cannot connect to silent.invalid:{port} (127.0.0.2:{port}: timed out)")
        );
    });
}

#[test]
fn a_malformed_resolve_entry_is_refused_and_changes_nothing() {
    let mut opts = Options::default();
    for bad in [
        "example.com:443",
        "example.com:443:nowhere",
        "example.com:x:127.0.0.1",
    ] {
        let e = opts.add_resolve(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    assert!(opts.resolve.is_empty());
}

#[test]
fn a_tls_handshake_that_trickles_ends_at_the_handshake_timeout() {
    watchdog(WATCHDOG_SECS, || {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        // A server hello announced as a 16 KiB record, sent a byte every
        // 200 ms: each read gets a byte well within any per-read timeout.
        let server = RawServer::start(move |mut s: TcpStream| {
            let mut hello = vec![
                0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xfb, 0x03, 0x03,
            ];
            hello.resize(16 * 1024, 0);
            for byte in hello {
                if stopped.recv_timeout(Duration::from_millis(200)).is_ok()
                    || s.write_all(&[byte]).is_err()
                {
                    return;
                }
            }
        });
        let opts = Options {
            connect_timeout: Some(Duration::from_secs(30)),
            handshake_timeout: Some(Duration::from_secs(1)),
            ..Options::default()
        };
        let started = Instant::now();
        let e = expect_connect_error(connect(&format!("wss://127.0.0.1:{}/", server.port), &opts));
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "took {took:?}");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(
            e.message()
                .contains("the TLS handshake did not finish within 1000 ms"),
            "{e}"
        );
        let _ = stop.send(());
        server.join();
    });
}
