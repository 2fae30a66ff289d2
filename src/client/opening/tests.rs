//! Every path through an opening, against small servers on real sockets,
//! with the clock passed in: deadlines are hit exactly, not waited for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::client::State;
use crate::handshake::accept_key;
use crate::transport::ResolveEntry;

const SECOND: Duration = Duration::from_secs(1);

/// A server that answers one connection: `answer` gets the request head
/// and the stream.
fn serve_once(answer: impl FnOnce(String, &mut TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = String::new();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        answer(head, &mut stream);
    });
    addr
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

fn switching(head: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(header(head, "Sec-WebSocket-Key"))
    )
}

fn options(handshake: Duration) -> Options {
    Options {
        handshake_timeout: Some(handshake),
        ..Options::default()
    }
}

/// Advance with the real clock, waiting as an event loop would, until the
/// opening ends.
fn run(opening: &mut Opening) -> Result<Step> {
    loop {
        match opening.advance(Instant::now())? {
            Step::Pending => opening.wait(Instant::now())?,
            done => return Ok(done),
        }
    }
}

/// Advance with the real clock until `doing` says the opening reached
/// `phase` (waiting at most 10 s).
fn run_until(opening: &mut Opening, phase: &str) {
    let give_up = Instant::now() + 10 * SECOND;
    while !opening.doing().starts_with(phase) {
        assert!(Instant::now() < give_up, "stuck {}", opening.doing());
        assert!(matches!(opening.advance(Instant::now()), Ok(Step::Pending)));
        if !opening.doing().starts_with(phase) {
            let wait = Some(Duration::from_millis(20));
            let _ = crate::transport::wait_fd(opening.fd(), true, false, wait);
        }
    }
}

fn slow_lookup(_: &str, _: u16) -> io::Result<Lookup> {
    Lookup::with(|| {
        thread::sleep(5 * SECOND);
        Ok(vec!["127.0.0.1:1".parse().unwrap()])
    })
}

fn failing_lookup(_: &str, _: u16) -> io::Result<Lookup> {
    Lookup::with(|| Err(io::Error::other("no such name here")))
}

#[test]
fn a_slow_lookup_ends_exactly_at_the_connect_timeout_without_waiting() {
    let mut o = options(10 * SECOND);
    o.connect_timeout = Some(2 * SECOND);
    let mut opening = Opening::start("ws://slow.test/", &o, false).unwrap();
    opening.lookup = slow_lookup;
    let t0 = Instant::now();
    assert!(matches!(opening.advance(t0), Ok(Step::Pending)));
    assert_eq!(opening.doing(), "resolving slow.test");
    assert!(opening.wants().read);
    assert_eq!(opening.next_deadline(), Some(t0 + 2 * SECOND));
    let just_before = t0 + 2 * SECOND - Duration::from_nanos(1);
    assert!(matches!(opening.advance(just_before), Ok(Step::Pending)));
    let e = opening.advance(t0 + 2 * SECOND).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.message(), "resolving slow.test timed out");
    assert!(t0.elapsed() < SECOND, "waited for the resolver");
    assert!(opening.is_over());
}

#[test]
fn a_failed_lookup_says_why() {
    let mut opening = Opening::start("ws://nowhere.test/", &options(10 * SECOND), false).unwrap();
    opening.lookup = failing_lookup;
    let e = run(&mut opening).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Resolve);
    assert!(
        e.message()
            .contains("cannot resolve nowhere.test: no such name here"),
        "{e}"
    );
}

#[test]
fn a_refused_connection_fails_and_a_silent_one_times_out_at_the_deadline() {
    let mut opening = Opening::start("ws://127.0.0.1:1/", &options(10 * SECOND), false).unwrap();
    let e = run(&mut opening).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");

    // A listener whose accept queue is full drops SYNs: TCP never connects.
    let full = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = full.local_addr().unwrap();
    rustix::net::listen(&full, 0).unwrap();
    let _held: Vec<TcpStream> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    let uri = format!("ws://{addr}/");
    let mut opening = Opening::start(&uri, &options(3 * SECOND), false).unwrap();
    let t0 = Instant::now();
    assert!(matches!(opening.advance(t0), Ok(Step::Pending)));
    assert_eq!(opening.doing(), "connecting");
    let e = opening.advance(t0 + 3 * SECOND).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("timed out"), "{e}");
}

#[test]
fn a_proxy_refusal_carries_its_answer() {
    let proxy = serve_once(|head, stream| {
        assert!(head.starts_with("CONNECT origin.test:80 "), "{head}");
        let _ = stream.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\nlogin",
        );
    });
    let mut o = options(10 * SECOND);
    o.proxy = Some(Proxy::parse(&format!("http://{proxy}")).unwrap());
    let mut opening = Opening::start("ws://origin.test/", &o, false).unwrap();
    let e = run(&mut opening).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Proxy);
    assert!(
        e.message().starts_with(&format!("proxy {proxy}: refused")),
        "{e}"
    );
    assert_eq!(e.response().unwrap().status, 407);
    assert_eq!(e.response().unwrap().body, b"login");
}

#[test]
fn a_trickling_tls_handshake_is_cut_exactly_at_the_handshake_deadline() {
    // A TLS record header announcing 16 KiB, then a byte at a time.
    let server = serve_once_raw(|stream| {
        let _ = stream.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00]);
        for _ in 0..100 {
            thread::sleep(Duration::from_millis(50));
            if stream.write_all(&[0]).is_err() {
                return;
            }
        }
    });
    let uri = format!("wss://localhost:{}/", server.port());
    let mut o = options(2 * SECOND);
    o.resolve =
        vec![ResolveEntry::parse(&format!("localhost:{}:127.0.0.1", server.port())).unwrap()];
    let t0 = Instant::now();
    let mut opening = Opening::start(&uri, &o, false).unwrap();
    assert!(matches!(opening.advance(t0), Ok(Step::Pending)));
    run_until(&mut opening, "in the TLS handshake");
    let deadline = opening.next_deadline().unwrap();
    assert_eq!(deadline, t0 + 2 * SECOND);
    assert!(matches!(
        opening.advance(deadline - Duration::from_nanos(1)),
        Ok(Step::Pending)
    ));
    let e = opening.advance(deadline).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(
        e.message(),
        "the TLS handshake did not finish within 2000 ms"
    );
}

/// A server that speaks first: `speak` gets the accepted stream.
fn serve_once_raw(speak: impl FnOnce(&mut TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        speak(&mut stream);
    });
    addr
}

#[test]
fn a_non_101_answer_comes_back_with_its_body() {
    let server = serve_once(|_, stream| {
        let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!");
    });
    let mut opening =
        Opening::start(&format!("ws://{server}/"), &options(10 * SECOND), false).unwrap();
    let Ok(Step::Response(r)) = run(&mut opening) else {
        panic!("no response")
    };
    assert_eq!((r.status, r.body.as_slice()), (403, &b"no!"[..]));
}

#[test]
fn a_redirect_starts_a_new_hop_that_opens() {
    let second = serve_once(|head, stream| {
        assert!(head.starts_with("GET /there "), "{head}");
        let _ = stream.write_all(switching(&head, "").as_bytes());
        thread::sleep(SECOND);
    });
    let first = serve_once(move |_, stream| {
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: ws://{second}/there\r\nContent-Length: 0\r\n\r\n"
        );
        let _ = stream.write_all(answer.as_bytes());
    });
    let mut o = options(10 * SECOND);
    o.max_redirects = 2;
    let mut opening = Opening::start(&format!("ws://{first}/here"), &o, false).unwrap();
    let Ok(Step::Open(connection)) = run(&mut opening) else {
        panic!("not open")
    };
    assert_eq!(connection.state(), State::Open);
}

#[test]
fn a_101_we_cannot_accept_fails_through_the_close_handshake() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = serve_once(move |head, stream| {
        // Agrees to an extension that was never offered.
        let answer = switching(&head, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let _ = stream.write_all(answer.as_bytes());
        let mut close = [0u8; 8];
        stream.set_read_timeout(Some(5 * SECOND)).unwrap();
        let _ = stream.read_exact(&mut close);
        let _ = tx.send(close);
    });
    let mut opening =
        Opening::start(&format!("ws://{server}/"), &options(10 * SECOND), false).unwrap();
    let e = run(&mut opening).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Negotiation, "{e}");
    assert_eq!(e.close_code(), Some(1010));
    let close = rx.recv_timeout(5 * SECOND).unwrap();
    // A masked close frame whose code is 1010.
    assert_eq!(close[0], 0x88, "not a close frame: {close:?}");
    assert!(close[1] & 0x80 != 0, "unmasked");
    let code = u16::from_be_bytes([close[6] ^ close[2], close[7] ^ close[3]]);
    assert_eq!(code, 1010);
}
