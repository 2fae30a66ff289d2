//! Issue #10 over real sockets: non-blocking calls never wait, close and
//! keepalive deadlines, a queue that fills and drains intact, and one
//! receiving thread beside several sending threads.
//!
//! "Never waits" is shown the way the guide asks: the timeout that must not
//! be waited for is long (30 s), and the call returns in a small fraction.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use wsclient::session::Keepalive;
use wsclient::{connect, ErrorKind, MessageType, Options, State};

const WATCHDOG_SECS: u64 = 60;
/// The timeout a test must not wait for.
const LONG: Duration = Duration::from_secs(30);
/// "At once": a small fraction of [`LONG`], generous for a loaded CI machine.
const PROMPT: Duration = Duration::from_secs(3);

fn long_close_timeout() -> Options {
    Options {
        close_timeout: LONG,
        ..Options::default()
    }
}

/// Wait until the connection's socket is ready for what it wants.
fn wait_ready(conn: &wsclient::Connection, limit: Duration) {
    let want = conn.wants();
    let fd = conn.fd();
    let mut pfd = libc::pollfd {
        fd,
        events: (if want.read { libc::POLLIN } else { 0 })
            | (if want.write { libc::POLLOUT } else { 0 }),
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, limit.as_millis() as i32) };
}

#[test]
fn nonblocking_receive_meeting_the_servers_close_returns_at_once() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.write_all(&frame(true, 0, 1, b"last words")).unwrap();
            s.write_all(&close_frame(1001, "going")).unwrap();
            let reply = read_frame(&mut s).unwrap().unwrap();
            // Stay silent with TCP open until the client is done.
            let _ = rx.recv_timeout(LONG);
            reply
        });
        let conn = expect_upgraded(connect(&server.url("/"), &long_close_timeout()));
        conn.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let started = Instant::now();
        let closed_at = loop {
            match conn.recv_message() {
                Ok(Some(m)) => got.push(m.data),
                Ok(None) => break Instant::now(),
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait_ready(&conn, PROMPT),
                Err(e) => panic!("unexpected error: {e}"),
            }
            assert!(started.elapsed() < PROMPT, "the receive waited");
        };
        assert!(closed_at - started < PROMPT);
        assert_eq!(got, vec![b"last words".to_vec()]);
        assert_eq!(conn.peer_close().unwrap().code, Some(1001));
        assert_eq!(conn.state(), State::Closed);
        // The wait for the server's TCP close goes on in the event loop.
        assert!(conn.wants().read);
        let t = Instant::now();
        let _ = conn.flush();
        assert!(t.elapsed() < PROMPT);
        tx.send(()).unwrap();
        assert_eq!(server.join().close_code(), Some(1001));
    });
}

#[test]
fn nonblocking_fail_returns_at_once_while_the_server_stays_silent() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.write_all(&frame(true, 0, 3, b"")).unwrap(); // reserved opcode
            let close = read_frame(&mut s).unwrap().unwrap();
            let _ = rx.recv_timeout(LONG);
            close
        });
        let conn = expect_upgraded(connect(&server.url("/"), &long_close_timeout()));
        conn.set_nonblocking(true).unwrap();
        let started = Instant::now();
        let e = loop {
            match conn.recv_message() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait_ready(&conn, PROMPT),
                Err(e) => break e,
                Ok(m) => panic!("unexpected {m:?}"),
            }
        };
        assert!(started.elapsed() < PROMPT, "the fail waited for the server");
        assert_eq!(e.close_code(), Some(1002));
        tx.send(()).unwrap();
        assert_eq!(server.join().close_code(), Some(1002));
    });
}

#[test]
fn nonblocking_sends_and_close_never_wait_for_a_server_that_does_not_read() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            let _ = rx.recv_timeout(LONG);
        });
        let opts = Options {
            write_timeout: Some(LONG),
            send_queue_limit: 2 << 20,
            ..long_close_timeout()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.set_nonblocking(true).unwrap();
        let chunk = vec![7u8; 256 << 10];
        let started = Instant::now();
        let mut accepted = 0;
        let refused = loop {
            match conn.send_binary(&chunk) {
                Ok(()) => accepted += 1,
                Err(e) => break e,
            }
            assert!(accepted < 4096, "1 GiB accepted into a bounded queue");
        };
        assert_eq!(refused.kind(), ErrorKind::WouldBlock, "{refused}");
        assert!(conn.queued_bytes() <= (2 << 20) + (256 << 10) + 14);
        assert!(conn.wants().write);
        assert_eq!(conn.flush().unwrap_err().kind(), ErrorKind::WouldBlock);
        conn.ping(b"still there?").unwrap();
        conn.close(Some(1000), "bye").unwrap();
        assert_eq!(conn.state(), State::CloseSent);
        assert!(
            started.elapsed() < PROMPT,
            "sends, flush, ping and close waited"
        );
        tx.send(()).unwrap();
        server.join();
    });
}

/// A pattern a server can check byte for byte: (sender, sequence) and the
/// length decide every byte.
fn pattern(sender: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len.max(8));
    data.extend_from_slice(&sender.to_be_bytes());
    data.extend_from_slice(&seq.to_be_bytes());
    let mut x = (sender as u64) << 32 | seq as u64 | 1;
    while data.len() < len.max(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(x as u8);
    }
    data
}

fn check_pattern(data: &[u8]) -> (u32, u32) {
    assert!(data.len() >= 8, "message too short: {} bytes", data.len());
    let sender = u32::from_be_bytes(data[..4].try_into().unwrap());
    let seq = u32::from_be_bytes(data[4..8].try_into().unwrap());
    assert!(
        data == pattern(sender, seq, data.len()).as_slice(),
        "message {sender}/{seq} of {} bytes is corrupt",
        data.len()
    );
    (sender, seq)
}

/// Read client messages until its close; check each against [`pattern`]
/// and that every sender's messages arrive in order. Returns the count.
fn read_checked_messages(s: &mut TcpStream) -> usize {
    let mut next_seq = std::collections::HashMap::new();
    let mut count = 0;
    loop {
        let (data, control) = read_message_or_close(s);
        if let Some(close) = control.iter().find(|f| f.is_close()) {
            s.write_all(&close_frame(close.close_code().unwrap_or(1000), ""))
                .unwrap();
            return count;
        }
        let (sender, seq) = check_pattern(&data);
        let expected = next_seq.entry(sender).or_insert(0u32);
        assert_eq!(seq, *expected, "sender {sender}: out of order");
        *expected += 1;
        count += 1;
    }
}

/// One data message (payload joined) and the control frames around it; at
/// a close frame, returns what it has.
fn read_message_or_close(s: &mut TcpStream) -> (Vec<u8>, Vec<ClientFrame>) {
    let (mut data, mut control) = (Vec::new(), Vec::new());
    loop {
        let f = read_frame(s)
            .expect("server: reading a frame")
            .expect("EOF inside a message");
        assert!(f.masked, "unmasked client frame");
        assert_eq!(f.rsv, 0, "RSV bits without an extension");
        match f.opcode {
            8 => {
                control.push(f);
                return (data, control);
            }
            9 | 10 => control.push(f),
            0..=2 => {
                data.extend_from_slice(&f.payload);
                if f.fin {
                    return (data, control);
                }
            }
            op => panic!("client sent opcode {op}: the stream is corrupt"),
        }
    }
}

#[test]
fn a_full_queue_drains_and_every_byte_arrives_intact() {
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            go_rx.recv_timeout(LONG).unwrap(); // stop reading until told
            read_checked_messages(&mut s)
        });
        let opts = Options {
            send_queue_limit: 1 << 20,
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.set_nonblocking(true).unwrap();
        const TOTAL: u32 = 400;
        let mut seq = 0;
        let mut refused = 0;
        let mut told = false;
        while seq < TOTAL {
            let len = if seq % 3 == 0 { 100 << 10 } else { 1000 };
            match conn.send_binary(&pattern(0, seq, len)) {
                Ok(()) => seq += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    refused += 1;
                    if !told {
                        go_tx.send(()).unwrap();
                        told = true;
                    }
                    wait_ready(&conn, PROMPT);
                    let _ = conn.flush();
                }
                Err(e) => panic!("send failed: {e}"),
            }
        }
        assert!(refused > 0, "the queue never filled");
        while conn.queued_bytes() > 0 {
            wait_ready(&conn, PROMPT);
            let _ = conn.flush();
        }
        conn.close(Some(1000), "").unwrap();
        while !matches!(conn.recv_message(), Ok(None)) {
            wait_ready(&conn, PROMPT);
        }
        assert_eq!(server.join(), TOTAL as usize);
    });
}

#[test]
fn blocking_close_answered_late_under_a_short_read_timeout_gets_the_code() {
    watchdog(WATCHDOG_SECS, || {
        // The server answers only once the client has seen a read timeout,
        // however slow the machine.
        let (timed_out_tx, timed_out_rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            let close = read_frame(&mut s).unwrap().unwrap();
            timed_out_rx
                .recv_timeout(LONG)
                .expect("no read timeout came");
            s.write_all(&close_frame(4001, "late but here")).unwrap();
            close.close_code()
        });
        let opts = Options {
            read_timeout: Some(Duration::from_millis(100)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.close(Some(1000), "").unwrap();
        let mut timeouts = 0;
        loop {
            match conn.recv_message() {
                Ok(None) => break,
                Err(e) if e.kind() == ErrorKind::Timeout => {
                    timeouts += 1;
                    let _ = timed_out_tx.send(());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(timeouts >= 1, "the read timeout did not apply");
        let peer = conn.peer_close().unwrap();
        assert_eq!(
            (peer.code, peer.reason.as_str()),
            (Some(4001), "late but here")
        );
        assert_eq!(server.join(), Some(1000));
    });
}

#[test]
fn blocking_close_to_a_silent_server_ends_at_the_close_deadline() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            // Trickle pings, never answer the close.
            for _ in 0..100 {
                if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                    break;
                }
                if s.write_all(&frame(true, 0, 9, b"tick")).is_err() {
                    break;
                }
            }
        });
        let opts = Options {
            close_timeout: Duration::from_millis(400),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let started = Instant::now();
        conn.close(Some(1000), "").unwrap();
        let e = loop {
            match conn.recv_message() {
                Err(e) => break e,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the server never closed"),
            }
        };
        let took = started.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(
            took >= Duration::from_millis(390) && took < PROMPT,
            "closed after {took:?}, not at the 400 ms deadline"
        );
        assert_eq!(conn.state(), State::Closed);
        tx.send(()).unwrap();
        server.join();
    });
}

#[test]
fn a_fail_during_the_handshake_waits_only_the_close_timeout() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            // An extension the client never offered: a 1010 fail.
            accept_ws(&mut s, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
            let close = read_frame(&mut s).unwrap().unwrap();
            let _ = rx.recv_timeout(LONG); // and never answer it
            close.close_code()
        });
        let opts = Options {
            handshake_timeout: Some(LONG),
            close_timeout: Duration::from_millis(200),
            ..Options::default()
        };
        let started = Instant::now();
        let e = expect_connect_error(connect(&server.url("/"), &opts));
        assert!(started.elapsed() < PROMPT, "waited {:?}", started.elapsed());
        assert_eq!(e.close_code(), Some(1010));
        tx.send(()).unwrap();
        assert_eq!(server.join(), Some(1010));
    });
}

#[test]
fn the_handshake_deadline_covers_the_tls_handshake() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // Accepts TCP, never speaks TLS.
        let server = RawServer::start(move |_s: TcpStream| {
            let _ = rx.recv_timeout(LONG);
        });
        let opts = Options {
            connect_timeout: Some(LONG),
            handshake_timeout: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let started = Instant::now();
        let url = format!("wss://127.0.0.1:{}/", server.port);
        let e = expect_connect_error(connect(&url, &opts));
        assert!(started.elapsed() < PROMPT, "waited {:?}", started.elapsed());
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        tx.send(()).unwrap();
        server.join();
    });
}

fn keepalive(interval_ms: u64, timeout_ms: u64) -> Option<Keepalive> {
    Some(Keepalive {
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
    })
}

#[test]
fn keepalive_fails_a_blocked_receive_when_pongs_stop() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            // Read pings, answer none, until the client's close.
            let mut pings = 0;
            loop {
                let f = read_frame(&mut s).unwrap().unwrap();
                match f.opcode {
                    9 => pings += 1,
                    8 => return (pings, f.close_code()),
                    op => panic!("unexpected opcode {op}"),
                }
            }
        });
        let opts = Options {
            keepalive: keepalive(100, 200),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let started = Instant::now();
        let e = conn.recv_message().unwrap_err();
        let took = started.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.message().contains("keepalive"), "{e}");
        assert!(
            took >= Duration::from_millis(290) && took < PROMPT,
            "failed after {took:?}"
        );
        assert_eq!(conn.state(), State::Closed);
        let (pings, code) = server.join();
        assert_eq!((pings, code), (1, Some(1011)));
    });
}

/// Issue 27, item 2: a keepalive failure is reported when it is known, in
/// blocking mode too: the close timeout (30 s here) is not waited for a
/// server that neither answers nor closes TCP.
#[test]
fn keepalive_failure_is_reported_at_once_to_a_blocked_receive() {
    watchdog(WATCHDOG_SECS, || {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            loop {
                let f = read_frame(&mut s).unwrap().unwrap();
                if f.opcode == 8 {
                    break;
                }
            }
            done_rx.recv_timeout(LONG).ok(); // keep TCP open, answer nothing
        });
        let opts = Options {
            keepalive: keepalive(100, 200),
            close_timeout: LONG,
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let started = Instant::now();
        let e = conn.recv_message().unwrap_err();
        let took = started.elapsed();
        done_tx.send(()).unwrap();
        server.join();
        assert!(e.message().contains("keepalive"), "{e}");
        assert!(
            took < PROMPT,
            "reported after {took:?}, not when known (~0.3 s)"
        );
    });
}

#[test]
fn keepalive_keeps_a_connection_whose_server_answers() {
    let server = EchoServer::start(&[]);
    let url = server.ws("/");
    watchdog(WATCHDOG_SECS, move || {
        let opts = Options {
            keepalive: keepalive(50, 500),
            read_timeout: Some(Duration::from_millis(700)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&url, &opts));
        // Several pings go and come back while a receive waits.
        let e = conn.recv_message().unwrap_err();
        assert!(!e.message().contains("keepalive"), "{e}");
        assert_eq!(conn.state(), State::Open);
        conn.send_text("still here").unwrap();
        let m = conn.recv_message().unwrap().unwrap();
        assert_eq!(m.data, b"still here");
    });
}

#[test]
fn nonblocking_keepalive_runs_on_the_deadline_call() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let ping = read_frame(&mut s).unwrap().unwrap();
            let close = read_frame(&mut s).unwrap().unwrap();
            (ping.opcode, close.close_code())
        });
        let opts = Options {
            keepalive: keepalive(150, 150),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.set_nonblocking(true).unwrap();
        let first = conn.next_timeout().unwrap();
        assert!(first <= Duration::from_millis(150));
        let started = Instant::now();
        let e = loop {
            thread::sleep(conn.next_timeout().unwrap_or(Duration::ZERO));
            if let Err(e) = conn.flush() {
                break e;
            }
            assert!(started.elapsed() < PROMPT);
        };
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.message().contains("keepalive"));
        assert_eq!(server.join(), (9, Some(1011)));
    });
}

/// The duplex stress test: one thread blocked in receives, several threads
/// sending messages of 1 MiB and more (so writes are partial) mixed with
/// small ones, and a server that pings every millisecond and checks every
/// frame it reads. A write that is not serialised (an automatic pong
/// inside a half-written frame, two senders interleaving) corrupts the
/// stream and the server's checks fail.
#[test]
fn one_receiver_and_several_senders_share_a_connection() {
    const SENDERS: u32 = 4;
    const PER_SENDER: u32 = 24;
    watchdog(120, || {
        let pongs = Arc::new(AtomicU64::new(0));
        let pongs_seen = pongs.clone();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.set_read_timeout(Some(LONG)).unwrap();
            let writer = Arc::new(Mutex::new(s.try_clone().unwrap()));
            let stop = Arc::new(AtomicBool::new(false));
            let pinger = {
                let (writer, stop) = (writer.clone(), stop.clone());
                thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let ping = frame(true, 0, 9, &n.to_be_bytes());
                        if writer.lock().unwrap().write_all(&ping).is_err() {
                            break;
                        }
                        thread::sleep(Duration::from_millis(1));
                    }
                    n
                })
            };
            let mut next_seq = std::collections::HashMap::new();
            let mut messages = 0;
            let mut last_pong = 0u64;
            loop {
                let (data, control) = read_message_or_close(&mut s);
                for f in &control {
                    if f.opcode == 10 {
                        let n = u64::from_be_bytes(f.payload[..].try_into().expect("8-byte pong"));
                        assert!(n > last_pong, "pong {n} after {last_pong}");
                        last_pong = n;
                        pongs_seen.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if control.iter().any(|f| f.is_close()) {
                    break;
                }
                let (sender, seq) = check_pattern(&data);
                let expected = next_seq.entry(sender).or_insert(0u32);
                assert_eq!(seq, *expected, "sender {sender}: out of order");
                *expected += 1;
                messages += 1;
            }
            stop.store(true, Ordering::Relaxed);
            let pings = pinger.join().unwrap();
            writer
                .lock()
                .unwrap()
                .write_all(&close_frame(1000, ""))
                .unwrap();
            (messages, pings)
        });
        let conn: Arc<wsclient::Connection> = Arc::new(*expect_upgraded(connect(
            &server.url("/"),
            &Options::default(),
        )));
        let receiver = {
            let conn = conn.clone();
            thread::spawn(move || {
                // Pings are answered inside these receives.
                match conn.recv_message() {
                    Ok(None) => conn.peer_close().and_then(|c| c.code),
                    other => panic!("receiver: {other:?}"),
                }
            })
        };
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let conn = conn.clone();
                thread::spawn(move || {
                    for seq in 0..PER_SENDER {
                        let len = match seq % 3 {
                            0 => (1 << 20) + 4096 * id as usize,
                            1 => 100 + seq as usize,
                            _ => 3 << 19,
                        };
                        conn.send_binary(&pattern(id, seq, len))
                            .unwrap_or_else(|e| panic!("sender {id}: {e}"));
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        conn.close(Some(1000), "").unwrap();
        assert_eq!(receiver.join().unwrap(), Some(1000));
        let (messages, pings) = server.join();
        assert_eq!(messages, (SENDERS * PER_SENDER) as usize);
        assert!(pings > 10, "only {pings} pings were sent");
        assert!(pongs.load(Ordering::Relaxed) > 0, "no pong came back");
    });
}

/// The server side of the large-send tests: `big` bytes of sender 0's
/// pattern first; then, if `then_small`, sender 1's message, with the ping
/// sent beside it already passed between the big message's frames; then
/// the client's close, which is answered.
fn read_big_then_close(s: &mut TcpStream, big: usize, then_small: bool) {
    let (data, during) = read_message_or_close(s);
    assert_eq!((check_pattern(&data), data.len()), ((0, 0), big));
    if then_small {
        assert!(
            during.iter().any(|f| f.opcode == 9),
            "the ping waited for the end of the big message"
        );
        let (small, _) = read_message_or_close(s);
        assert_eq!(check_pattern(&small), (1, 0));
    }
    let (_, control) = read_message_or_close(s);
    assert!(control.iter().any(|f| f.is_close()), "no close");
    s.write_all(&close_frame(1000, "")).unwrap();
}

/// A blocking send larger than every buffer, to a server that does not read
/// for a while: the message is masked and written as the socket takes it,
/// never queued whole, and what other threads send meanwhile (a ping, a
/// message) follows it intact.
#[test]
fn a_blocking_send_to_a_slow_reader_keeps_a_bounded_queue() {
    const BIG: usize = 32 << 20;
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(700)); // the client's socket fills
            read_big_then_close(&mut s, BIG, true);
        });
        let conn: Arc<wsclient::Connection> = Arc::new(*expect_upgraded(connect(
            &server.url("/"),
            &Options::default(),
        )));
        // The message is built before the clock starts, so the big send is
        // under way before the others send (a debug build takes a while).
        let big = pattern(0, 0, BIG);
        let sender = {
            let conn = conn.clone();
            thread::spawn(move || conn.send_binary(&big))
        };
        let started = Instant::now();
        let mut others = None;
        while !sender.is_finished() {
            if others.is_none() && started.elapsed() > Duration::from_millis(300) {
                let conn = conn.clone();
                others = Some(thread::spawn(move || {
                    conn.ping(b"behind").unwrap();
                    conn.send_binary(&pattern(1, 0, 1000)).unwrap();
                }));
            }
            thread::sleep(Duration::from_millis(1));
        }
        sender.join().unwrap().unwrap();
        others.expect("the send outlasted 300 ms").join().unwrap();
        // At most two 32 KiB pieces, and the control frames beside them:
        // the exact high-water mark, not a sample.
        let highest = conn.queued_peak();
        assert!(highest <= (64 << 10) + 1024, "{highest} bytes were queued");
        conn.close(Some(1000), "").unwrap();
        assert!(matches!(conn.recv_message(), Ok(None)));
    });
}

/// A paced send that meets its write timeout queues the rest whole and says
/// so; later calls write it, and the message arrives intact.
#[test]
fn a_paced_send_past_its_write_timeout_queues_the_rest_for_later_calls() {
    const BIG: usize = 32 << 20;
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            go_rx.recv_timeout(LONG).unwrap(); // stop reading until told
            read_big_then_close(&mut s, BIG, false);
        });
        let opts = Options {
            write_timeout: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let started = Instant::now();
        let err = conn.send_binary(&pattern(0, 0, BIG)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(started.elapsed() < PROMPT, "waited past the write timeout");
        assert!(conn.queued_bytes() > BIG / 2, "the rest was not queued");
        go_tx.send(()).unwrap();
        conn.set_timeouts(None, None).unwrap();
        conn.flush().unwrap();
        assert_eq!(conn.queued_bytes(), 0);
        conn.close(Some(1000), "").unwrap();
        assert!(matches!(conn.recv_message(), Ok(None)));
        server.join();
    });
}

/// A message sent in parts from a non-blocking loop: the library takes what
/// the socket can take and refuses the rest, so at most 64 KiB of the
/// message are ever queued; frames sent meanwhile follow it.
#[test]
fn a_message_sent_in_parts_never_queues_more_than_64_kib() {
    const BIG: usize = 32 << 20;
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            go_rx.recv_timeout(LONG).unwrap(); // stop reading until told
            read_big_then_close(&mut s, BIG, true);
        });
        let conn = expect_upgraded(connect(&server.url("/"), &long_close_timeout()));
        conn.set_nonblocking(true).unwrap();
        let data = pattern(0, 0, BIG);
        let (mut at, mut refused) = (0, 0);
        while at < BIG {
            let end = BIG.min(at + (1 << 20));
            let (n, r) = conn.send_part(
                MessageType::Binary,
                BIG as u64,
                &data[at..end],
                false,
                false,
            );
            at += n;
            match r {
                Ok(()) => assert!(n > 0, "nothing taken, yet no WouldBlock"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert_eq!(n, 0);
                    refused += 1;
                    if refused == 1 {
                        conn.ping(b"behind").unwrap();
                        conn.send_binary(&pattern(1, 0, 1000)).unwrap();
                        go_tx.send(()).unwrap();
                    }
                    wait_ready(&conn, PROMPT);
                    let _ = conn.flush();
                }
                Err(e) => panic!("send_part: {e}"),
            }
        }
        assert!(refused > 0, "the socket never filled");
        // Two 32 KiB pieces, and the ping and message queued behind them.
        let highest = conn.queued_peak();
        assert!(highest <= (64 << 10) + 2048, "{highest} bytes were queued");
        conn.close(Some(1000), "").unwrap();
        while !matches!(conn.recv_message(), Ok(None)) {
            wait_ready(&conn, PROMPT);
            let _ = conn.flush();
        }
        server.join();
    });
}

/// Text sent in parts is checked as it comes: a character may be split
/// between parts, a part that breaks UTF-8 is refused (the message stays
/// open), and so are a message ending inside a character, more bytes than
/// remain, and another type or size while a message is under way.
#[test]
fn parts_are_checked_and_a_refused_part_leaves_the_message_open() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            let mut got = Vec::new();
            loop {
                let (data, control) = read_message_or_close(&mut s);
                if control.iter().any(|f| f.is_close()) {
                    s.write_all(&close_frame(1000, "")).unwrap();
                    return got;
                }
                got.push(data);
            }
        });
        let conn = expect_upgraded(connect(&server.url("/"), &Options::default()));
        let text = "héllo wörld ✓".as_bytes();
        let total = text.len() as u64;
        let part = |kind, total, data: &[u8]| conn.send_part(kind, total, data, false, false);
        // "h" and the first byte of "é", then the rest.
        assert_eq!(part(MessageType::Text, total, &text[..2]).0, 2);
        let (n, r) = part(MessageType::Text, total, &text[2..]);
        assert_eq!((n, r.is_ok()), (text.len() - 2, true));
        // A byte that can never be UTF-8; then valid text finishes it.
        let (n, r) = part(MessageType::Text, 4, b"\xff");
        assert_eq!((n, r.unwrap_err().kind()), (0, ErrorKind::InvalidArgument));
        assert!(part(MessageType::Text, 4, b"abcd").1.is_ok());
        // A message may not end inside a character.
        let (n, r) = part(MessageType::Text, 2, b"a\xc3");
        assert_eq!((n, r.unwrap_err().kind()), (0, ErrorKind::InvalidArgument));
        assert!(part(MessageType::Text, 2, b"ab").1.is_ok());
        // Another type, another size or too many bytes while one is open.
        assert_eq!(part(MessageType::Binary, 10, b"012").0, 3);
        let wrong = [
            part(MessageType::Text, 10, b"3"),
            part(MessageType::Binary, 11, b"3"),
            part(MessageType::Binary, 10, b"3456789xyz"),
        ];
        for (n, r) in wrong {
            assert_eq!((n, r.unwrap_err().kind()), (0, ErrorKind::InvalidArgument));
        }
        assert!(part(MessageType::Binary, 10, b"3456789").1.is_ok());
        conn.close(Some(1000), "").unwrap();
        assert!(matches!(conn.recv_message(), Ok(None)));
        let got = server.join();
        let expected: Vec<&[u8]> = vec![text, b"abcd", b"ab", b"0123456789"];
        assert_eq!(got, expected);
    });
}

/// Several threads send large messages to a slow reader: each waits for the
/// one before it to be written instead of having its message queued whole
/// behind it, and every message arrives intact and in its thread's order.
#[test]
fn large_senders_take_turns_with_a_bounded_queue() {
    const SENDERS: u32 = 4;
    const PER_SENDER: u32 = 3;
    const LEN: usize = 2 << 20;
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(300)); // the socket fills
            read_checked_messages(&mut s)
        });
        let conn: Arc<wsclient::Connection> = Arc::new(*expect_upgraded(connect(
            &server.url("/"),
            &Options::default(),
        )));
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let conn = conn.clone();
                thread::spawn(move || {
                    for seq in 0..PER_SENDER {
                        conn.send_binary(&pattern(id, seq, LEN))
                            .unwrap_or_else(|e| panic!("sender {id}: {e}"));
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        let highest = conn.queued_peak();
        assert!(highest <= (64 << 10) + 1024, "{highest} bytes were queued");
        conn.close(Some(1000), "").unwrap();
        assert!(matches!(conn.recv_message(), Ok(None)));
        assert_eq!(server.join(), (SENDERS * PER_SENDER) as usize);
    });
}
