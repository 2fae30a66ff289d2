//! Issue #2: hostile and broken servers, over real loopback sockets.
//!
//! Each peer here is a raw TCP server written in this file: it reads the
//! client's handshake, answers with a correct or deliberately broken 101,
//! then sends broken frames. Every failure is checked three ways: the error
//! kind and close code the caller sees, the close frame the server actually
//! received (parsed from the client's masked bytes), and that nothing hangs
//! (every test runs under a watchdog; the raw sockets have timeouts).

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::*;
use wsclient::deflate::DeflateOffer;
use wsclient::proto::receiver::Limits;
use wsclient::{connect, Error, ErrorKind, Message, MessageType, Options, State};

const WATCHDOG_SECS: u64 = 30;

/// What one hostile exchange produced.
struct Outcome {
    /// Messages the client received before the error.
    received: Vec<Message>,
    error: Error,
    /// The client's state after the error.
    state: State,
    server: Observed,
}

/// A raw server answers the handshake with a correct 101 (plus `extra`
/// headers), sends `bytes`, then records what the client sends until its
/// close frame and whether it then closes the socket. The client connects
/// with `options` and receives until an error.
fn run_hostile(extra: &'static str, bytes: Vec<u8>, options: Options) -> Outcome {
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, extra);
            s.write_all(&bytes)
                .expect("raw server: sending the hostile bytes");
            observe_until_close(&mut s)
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        let mut received = Vec::new();
        let error = loop {
            match conn.recv_message() {
                Ok(Some(m)) => received.push(m),
                Ok(None) => panic!(
                    "the client saw a clean close ({:?}) where an error was expected",
                    conn.peer_close()
                ),
                Err(e) => break e,
            }
        };
        let state = conn.state();
        drop(conn);
        Outcome {
            received,
            error,
            state,
            server: server.join(),
        }
    })
}

/// The client failed the connection with `kind` and `code`, the server got
/// a close frame with that code, and the client then closed the socket.
fn assert_failed(o: &Outcome, kind: ErrorKind, code: u16) {
    assert_eq!(o.error.kind(), kind, "error: {}", o.error);
    assert_eq!(o.error.close_code(), Some(code), "error: {}", o.error);
    assert_eq!(o.state, State::Closed);
    let close = o.server.close.as_ref().unwrap_or_else(|| {
        panic!(
            "the server received no close frame (frames: {:?})",
            o.server.frames
        )
    });
    assert_eq!(
        close.close_code(),
        Some(code),
        "close reason {:?}",
        close.close_reason()
    );
    assert!(close.fin && close.masked);
    assert!(
        o.server.eof,
        "the client did not close the socket after failing"
    );
}

fn options() -> Options {
    Options {
        close_timeout: Duration::from_secs(20),
        ..Options::default()
    }
}

fn deflate_options() -> Options {
    Options {
        deflate_offers: vec![DeflateOffer::parse("").unwrap()],
        ..options()
    }
}

// ---------------------------------------------------------------------------
// Framing violations (1002)

#[test]
fn masked_server_frame_fails_with_1002() {
    let o = run_hostile("", masked_frame(true, 1, b"hello", [1, 2, 3, 4]), options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
    assert!(o.received.is_empty());
}

#[test]
fn sixty_four_bit_length_with_top_bit_set_fails_with_1002() {
    let mut bytes = vec![0x82, 127];
    bytes.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    bytes.extend_from_slice(b"hello");
    let o = run_hostile("", bytes, options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
}

#[test]
fn rsv1_without_negotiation_fails_with_1002() {
    let o = run_hostile("", frame(true, 4, 1, b"not compressed"), options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
    // Offered but not accepted by the server: still not negotiated.
    let o = run_hostile("", frame(true, 4, 2, b"\x00"), deflate_options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
}

#[test]
fn rsv2_and_rsv3_fail_even_with_deflate_negotiated() {
    for rsv in [2u8, 1, 6] {
        let o = run_hostile(
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            frame(true, rsv, 2, b"x"),
            deflate_options(),
        );
        assert_failed(&o, ErrorKind::Protocol, 1002);
    }
}

#[test]
fn other_framing_violations_fail_with_1002() {
    let mut two_starts = frame(false, 0, 1, b"a");
    two_starts.extend(frame(true, 0, 1, b"b"));
    let mut rsv1_on_continuation = frame(false, 4, 1, &py_deflate(b"abc", 15));
    rsv1_on_continuation.extend(frame(true, 4, 0, b"\x00"));
    let cases: Vec<(&str, &'static str, Vec<u8>, Options)> = vec![
        (
            "reserved data opcode 0x3",
            "",
            frame(true, 0, 3, b""),
            options(),
        ),
        (
            "reserved control opcode 0xB",
            "",
            frame(true, 0, 0xB, b""),
            options(),
        ),
        ("fragmented ping", "", frame(false, 0, 9, b"p"), options()),
        (
            "ping of 126 bytes",
            "",
            frame(true, 0, 9, &[b'p'; 126]),
            options(),
        ),
        (
            "continuation without a message",
            "",
            frame(true, 0, 0, b"x"),
            options(),
        ),
        (
            "new message inside a fragmented one",
            "",
            two_starts,
            options(),
        ),
        (
            "RSV1 on a control frame",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            frame(true, 4, 9, b""),
            deflate_options(),
        ),
        (
            "RSV1 on a continuation frame",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            rsv1_on_continuation,
            deflate_options(),
        ),
    ];
    for (what, extra, bytes, opts) in cases {
        let o = run_hostile(extra, bytes, opts);
        assert_eq!(o.error.close_code(), Some(1002), "{what}: {}", o.error);
        assert_failed(&o, ErrorKind::Protocol, 1002);
    }
}

// ---------------------------------------------------------------------------
// A dead peer (exn: no close frame)

/// The server sends `bytes`, closes its side, and reports what it got.
fn truncated(bytes: Vec<u8>) -> (Error, State, Observed) {
    truncated_with(bytes, options())
}

fn truncated_with(bytes: Vec<u8>, options: Options) -> (Error, State, Observed) {
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.write_all(&bytes).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut seen = Observed::default();
            while let Some(f) = read_frame(&mut s).expect("raw server: reading") {
                seen.frames.push(f);
            }
            seen.eof = true;
            seen
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        let error = conn
            .recv_message()
            .expect_err("a truncated frame must be an error");
        let state = conn.state();
        // The connection is unusable afterwards, and says why: a lost
        // connection is lost for the next call too.
        let again = conn.send_text("x").unwrap_err();
        let expected = match error.kind() {
            ErrorKind::ConnectionLost => ErrorKind::ConnectionLost,
            _ => ErrorKind::InvalidState,
        };
        assert_eq!(again.kind(), expected, "{again}");
        drop(conn);
        (error, state, server.join())
    })
}

#[test]
fn truncated_frame_then_tcp_close_is_connection_lost() {
    let mut partial_payload = header(true, 0, 2, false, 100);
    partial_payload.extend_from_slice(&[7u8; 10]);
    let partial_length = vec![0x82, 127, 0, 0]; // 64-bit length cut short
    let one_byte = vec![0x81];
    for bytes in [partial_payload, partial_length, one_byte, Vec::new()] {
        let (e, state, seen) = truncated(bytes.clone());
        assert_eq!(e.kind(), ErrorKind::ConnectionLost, "{bytes:?}: {e}");
        assert_eq!(e.close_code(), None, "an exn carries no close code");
        assert_eq!(state, State::Closed);
        assert!(
            seen.frames.is_empty(),
            "the client sent frames to a dead peer: {:?}",
            seen.frames
        );
    }
}

// ---------------------------------------------------------------------------
// Invalid UTF-8 (1007)

#[test]
fn invalid_utf8_text_fails_with_1007() {
    for bad in [
        &b"caf\xC3"[..],
        b"\xFF",
        b"ok \xED\xA0\x80 surrogate",
        b"\xF4\x90\x80\x80",
    ] {
        let o = run_hostile("", frame(true, 0, 1, bad), options());
        assert_failed(&o, ErrorKind::InvalidPayload, 1007);
    }
}

#[test]
fn invalid_utf8_in_first_fragment_fails_without_waiting_for_the_rest() {
    // The message never ends: the client must fail on the first fragment.
    let o = run_hostile("", frame(false, 0, 1, b"abc\xC0\xAFdef"), options());
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
    assert!(o.received.is_empty());
}

#[test]
fn invalid_utf8_in_a_later_fragment_fails_and_split_code_points_pass() {
    // "é" split across two fragments is valid; the next message goes bad in
    // its second fragment, and its third never comes.
    let mut bytes = frame(false, 0, 1, b"caf\xC3");
    bytes.extend(frame(true, 0, 0, b"\xA9!"));
    bytes.extend(frame(false, 0, 1, "ünï".as_bytes()));
    bytes.extend(frame(false, 0, 0, b"\xE2\x82")); // a truncated "€" ...
    bytes.extend(frame(false, 0, 0, b"x")); // ... broken here
    let o = run_hostile("", bytes, options());
    assert_eq!(o.received.len(), 1);
    assert_eq!(o.received[0].data, "café!".as_bytes());
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
}

#[test]
fn text_ending_inside_a_code_point_fails_with_1007() {
    let mut bytes = frame(false, 0, 1, b"abc");
    bytes.extend(frame(true, 0, 0, b"\xE2\x82"));
    let o = run_hostile("", bytes, options());
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
}

#[test]
fn invalid_utf8_in_compressed_text_fails_with_1007() {
    let compressed = py_deflate(b"valid start \xFF\xFE invalid", 15);
    let o = run_hostile(
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        frame(true, 4, 1, &compressed),
        deflate_options(),
    );
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
}

// ---------------------------------------------------------------------------
// Limits (1009)

fn limited(max_frame_size: u64, max_message_size: usize) -> Options {
    Options {
        limits: Limits {
            max_frame_size,
            max_message_size,
        },
        ..options()
    }
}

#[test]
fn frame_over_the_frame_limit_fails_with_1009_from_its_header() {
    // Only the header is sent: the client must not wait for the payload.
    let o = run_hostile("", header(true, 0, 2, false, 4097), limited(4096, 1 << 20));
    assert_failed(&o, ErrorKind::MessageTooBig, 1009);
    // A 64-bit length far beyond any limit.
    let o = run_hostile("", header(true, 0, 2, false, 1 << 62), options());
    assert_failed(&o, ErrorKind::MessageTooBig, 1009);
}

#[test]
fn message_over_the_message_limit_fails_with_1009_at_the_boundary() {
    let limit = 1000;
    let mut bytes = frame(true, 0, 2, &[1u8; 1000]); // exactly the limit: fine
    bytes.extend(frame(false, 0, 1, &[b'a'; 600])); // 600 + 401 > 1000
    bytes.extend(frame(true, 0, 0, &[b'b'; 401]));
    let o = run_hostile("", bytes, limited(4096, limit));
    assert_eq!(o.received.len(), 1);
    assert_eq!(o.received[0].data.len(), 1000);
    assert_failed(&o, ErrorKind::MessageTooBig, 1009);
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Held by tests that measure memory and by tests that allocate a lot.
fn memory_lock() -> std::sync::MutexGuard<'static, ()> {
    static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MEMORY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `f` and return how much the process's peak RSS grew meanwhile (KiB),
/// where the kernel lets us reset the high-water mark. Memory-measuring tests
/// take a lock so they do not see each other's allocations.
fn peak_growth_kib<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let _guard = memory_lock();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_rss_kib();
    let value = f();
    let after = peak_rss_kib();
    let growth = match (reset, before, after) {
        (true, Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => {
            eprintln!("NOTE: cannot measure peak RSS here; memory bound not checked");
            None
        }
    };
    (value, growth)
}

#[test]
fn decompression_bomb_fails_with_1009_in_bounded_memory() {
    const LIMIT: usize = 1 << 20;
    // An exactly-at-the-limit compressed message must pass...
    let exact = py_deflate(&vec![b'z'; LIMIT], 15);
    // ...and 1 GiB of zeros in about 1 MiB of deflate must not: 1 MiB chunks
    // of zeros ended by a full flush, so the chunk can be repeated.
    let bomb = python_filter(
        "import sys, zlib\n\
         c = zlib.compressobj(9, zlib.DEFLATED, -15)\n\
         chunk = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)\n\
         sys.stdout.buffer.write(chunk * 1024)\n",
        b"",
    );
    assert!(bomb.len() < 4 << 20, "the bomb is {} bytes", bomb.len());
    let mut bytes = frame(true, 4, 2, &exact);
    // The bomb in 64 KiB frames: the limit is on the message, not the frame.
    let mut chunks = bomb.chunks(64 << 10).peekable();
    let mut first = true;
    while let Some(c) = chunks.next() {
        let fin = chunks.peek().is_none();
        bytes.extend(frame(
            fin,
            if first { 4 } else { 0 },
            if first { 2 } else { 0 },
            c,
        ));
        first = false;
    }
    let mut opts = limited(64 << 20, LIMIT);
    opts.deflate_offers = vec![DeflateOffer::parse("").unwrap()];
    let (o, grown) = peak_growth_kib(|| {
        run_hostile(
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            bytes,
            opts,
        )
    });
    assert_eq!(o.received.len(), 1);
    assert!(o.received[0].was_compressed());
    assert_eq!(o.received[0].data, vec![b'z'; LIMIT]);
    assert_failed(&o, ErrorKind::MessageTooBig, 1009);
    // Unbounded inflation would need ~1 GiB; the test itself needs a few MiB.
    if let Some(grown) = grown {
        assert!(
            grown < 64 << 10,
            "peak RSS grew by {grown} KiB during the bomb"
        );
    }
}

/// Current (virtual, resident) size of this process in KiB, from
/// /proc/self/statm.
fn statm_kib() -> Option<(u64, u64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut pages = statm.split_whitespace().map(|v| v.parse::<u64>().ok());
    let page_kib = 4; // every Linux target this runs on
    Some((pages.next()?? * page_kib, pages.next()?? * page_kib))
}

#[test]
fn a_2_pow_62_length_with_no_limits_does_not_abort() {
    // The header used to be reserved up front: "memory allocation of
    // 4611686018427387904 bytes failed" and SIGABRT.
    let mut bytes = header(true, 0, 2, false, 1 << 62);
    bytes.extend_from_slice(&[7; 1000]);
    let unlimited = limited(u64::MAX, usize::MAX);
    let (e, state, _) = truncated_with(bytes, unlimited);
    assert_eq!(e.kind(), ErrorKind::ConnectionLost, "{e}");
    assert_eq!(state, State::Closed);
}

#[test]
fn a_hundred_announced_64_mib_frames_keep_memory_small() {
    // Each connection announces a 64 MiB frame (the default limit) and
    // sends 1000 bytes of it. Memory must follow the bytes received: a few
    // MiB in all, not 100 x 64 MiB reserved or 100 x 16 MiB read buffers.
    const CONNECTIONS: usize = 100;
    let _guard = memory_lock();
    watchdog(120, || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let mut open = Vec::new();
            for _ in 0..CONNECTIONS {
                let (mut s, _) = listener.accept().unwrap();
                accept_ws(&mut s, "");
                let mut bytes = header(true, 0, 2, false, 64 << 20);
                bytes.extend_from_slice(&[7; 1000]);
                s.write_all(&bytes).unwrap();
                open.push(s);
            }
            let _ = done_rx.recv();
        });
        let before = statm_kib();
        let opts = Options {
            read_timeout: Some(Duration::from_millis(30)),
            ..options()
        };
        let mut conns = Vec::new();
        for _ in 0..CONNECTIONS {
            let c = expect_upgraded(connect(&format!("ws://127.0.0.1:{port}/"), &opts));
            // The header and the 1000 bytes arrive; the rest never does.
            let e = c.recv_message().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            conns.push(c);
        }
        let after = statm_kib();
        drop(conns);
        done_tx.send(()).unwrap();
        server.join().unwrap();
        let (Some((vm0, rss0)), Some((vm1, rss1))) = (before, after) else {
            eprintln!("NOTE: no /proc/self/statm; memory bound not checked");
            return;
        };
        let (vm, rss) = (vm1.saturating_sub(vm0), rss1.saturating_sub(rss0));
        assert!(
            rss < 32 << 10,
            "RSS grew by {rss} KiB for {CONNECTIONS} connections"
        );
        // Reserved but untouched memory does not show in RSS: check the
        // address space too (a 64 MiB reservation each would be 6.4 GiB).
        assert!(vm < 1 << 20, "virtual size grew by {vm} KiB");
    });
}

// ---------------------------------------------------------------------------
// Close frames from the server

#[test]
fn close_frame_with_invalid_code_fails_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let o = run_hostile("", close_frame(code, "bad"), options());
        assert_eq!(o.error.close_code(), Some(1002), "code {code}: {}", o.error);
        assert_failed(&o, ErrorKind::Protocol, 1002);
    }
}

#[test]
fn malformed_close_payloads_fail() {
    let o = run_hostile("", frame(true, 0, 8, &[0x03]), options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
    let o = run_hostile("", frame(true, 0, 8, b"\x03\xE8bad \xFF reason"), options());
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
    let mut long = vec![0x03, 0xE8];
    long.extend_from_slice(&[b'r'; 124]);
    let o = run_hostile("", frame(true, 0, 8, &long), options());
    assert_failed(&o, ErrorKind::Protocol, 1002);
}

// ---------------------------------------------------------------------------
// Pings and the close handshake

#[test]
fn ping_is_answered_with_a_matching_pong() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let mut bytes = frame(true, 0, 9, b"are you there?");
            bytes.extend(frame(true, 0, 1, b"after the ping"));
            // A ping in the middle of a fragmented message, and an empty one.
            bytes.extend(frame(false, 0, 2, b"part 1, "));
            bytes.extend(frame(true, 0, 9, b""));
            bytes.extend(frame(true, 0, 0, b"part 2"));
            s.write_all(&bytes).unwrap();
            let (data, control) = read_message(&mut s);
            s.write_all(&close_frame(1000, "done")).unwrap();
            let seen = observe_until_close(&mut s);
            (control, data, seen)
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options()));
        let m = conn.recv_message().unwrap().unwrap();
        assert_eq!(
            (m.kind, m.data.as_slice()),
            (MessageType::Text, &b"after the ping"[..])
        );
        let m = conn.recv_message().unwrap().unwrap();
        assert_eq!(
            (m.kind, m.data.as_slice()),
            (MessageType::Binary, &b"part 1, part 2"[..])
        );
        conn.send_text("thanks").unwrap();
        assert!(conn.recv_message().unwrap().is_none());
        let (control, data, seen) = server.join();
        let pongs: Vec<_> = control
            .iter()
            .map(|f| (f.opcode, f.fin, f.payload.clone()))
            .collect();
        assert_eq!(
            pongs,
            vec![
                (0xA, true, b"are you there?".to_vec()),
                (0xA, true, Vec::new())
            ]
        );
        assert_eq!(data[0].payload, b"thanks");
        assert_eq!(seen.close_code(), Some(1000));
    });
}

#[test]
fn no_pong_when_auto_pong_is_off() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let mut bytes = frame(true, 0, 9, b"ping");
            bytes.extend(frame(true, 0, 1, b"message"));
            s.write_all(&bytes).unwrap();
            let first = read_frame(&mut s).unwrap().unwrap();
            s.write_all(&close_frame(1000, "")).unwrap();
            observe_until_close(&mut s);
            first
        });
        let opts = Options {
            auto_pong: false,
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        assert_eq!(conn.recv_message().unwrap().unwrap().data, b"message");
        conn.send_binary(b"next").unwrap();
        assert!(conn.recv_message().unwrap().is_none());
        let first = server.join();
        assert_eq!((first.opcode, first.payload.as_slice()), (2, &b"next"[..]));
    });
}

/// The server closes with `close`; returns what the client echoed and
/// whether it then closed the socket by itself.
fn server_initiated_close(
    close: Vec<u8>,
) -> (Option<wsclient::proto::close::CloseFrame>, Observed) {
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.write_all(&close).unwrap();
            observe_until_close(&mut s)
        });
        // A long close_timeout: the client must close on the server's EOF,
        // not when its timer runs out (the watchdog would fire first).
        let opts = Options {
            close_timeout: Duration::from_secs(3600),
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        assert!(conn.recv_message().unwrap().is_none());
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(
            conn.send_text("late").unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        assert_eq!(
            conn.recv_message().unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        let peer = conn.peer_close();
        (peer, server.join())
    })
}

#[test]
fn server_close_is_echoed_and_the_socket_closed() {
    for code in [1000u16, 1001, 1011, 3000, 4999] {
        let (peer, seen) = server_initiated_close(close_frame(code, "bye"));
        let peer = peer.expect("peer_close after Ok(None)");
        assert_eq!((peer.code, peer.reason.as_str()), (Some(code), "bye"));
        assert!(seen.frames.is_empty());
        assert_eq!(
            seen.close_code(),
            Some(code),
            "the client must echo the code"
        );
        assert!(
            seen.eof,
            "the client did not close the socket after the close handshake"
        );
    }
}

#[test]
fn empty_server_close_is_echoed_empty() {
    let (peer, seen) = server_initiated_close(frame(true, 0, 8, b""));
    assert_eq!(peer.unwrap().code, None);
    let echo = seen.close.expect("no close frame echoed");
    assert!(
        echo.payload.is_empty(),
        "echo of an empty close: {:?}",
        echo.payload
    );
    assert!(seen.eof);
}

#[test]
fn client_close_waits_for_the_server_and_still_delivers_messages() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let close = read_frame(&mut s).unwrap().unwrap();
            // Data still in flight from the server, then its close.
            let mut bytes = frame(true, 0, 1, b"in flight");
            bytes.extend(close_frame(1000, "ok"));
            s.write_all(&bytes).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let eof = wait_eof(&mut s);
            let after = read_frame(&mut s).ok().flatten();
            (close, eof, after)
        });
        let opts = Options {
            close_timeout: Duration::from_secs(3600),
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.close(Some(1000), "done").unwrap();
        assert_eq!(conn.state(), State::CloseSent);
        assert_eq!(
            conn.send_text("x").unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        assert_eq!(conn.recv_message().unwrap().unwrap().data, b"in flight");
        assert!(conn.recv_message().unwrap().is_none());
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(conn.peer_close().unwrap().code, Some(1000));
        let (close, eof, after) = server.join();
        assert_eq!(
            (close.close_code(), close.close_reason().as_str()),
            (Some(1000), "done")
        );
        assert!(eof, "the client did not close the socket");
        assert!(
            after.is_none(),
            "the client sent a second close frame: {after:?}"
        );
    });
}

#[test]
fn client_close_unanswered_ends_after_the_close_timeout() {
    watchdog(WATCHDOG_SECS, || {
        // The server reads our close, then neither answers nor closes TCP.
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let close = read_frame(&mut s).unwrap().unwrap();
            let eof = wait_eof(&mut s);
            (close, eof)
        });
        let opts = Options {
            close_timeout: Duration::from_millis(200),
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.close(Some(1001), "").unwrap();
        let err = conn.recv_message().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert_eq!(conn.state(), State::Closed);
        let (close, eof) = server.join();
        assert_eq!(close.close_code(), Some(1001));
        assert!(eof, "the client did not close the socket");
    });
}

#[test]
fn close_reason_without_a_code_is_refused() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            read_frame(&mut s).ok().flatten()
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options()));
        let err = conn.close(None, "why").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(conn.state(), State::Open);
        conn.close(None, "").unwrap();
        let sent = server.join().expect("a close frame");
        assert!(sent.is_close() && sent.close_code().is_none());
    });
}

#[test]
fn frames_in_the_same_segment_as_the_101_are_delivered() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            let req = read_request(&mut s).unwrap();
            let mut bytes = response_101(&req, "").into_bytes();
            bytes.extend(frame(true, 0, 1, b"early bird"));
            bytes.extend(frame(true, 0, 2, &[0u8; 70_000]));
            bytes.extend(close_frame(1000, ""));
            s.write_all(&bytes).unwrap();
            observe_until_close(&mut s)
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options()));
        assert_eq!(conn.recv_message().unwrap().unwrap().data, b"early bird");
        assert_eq!(conn.recv_message().unwrap().unwrap().data.len(), 70_000);
        assert!(conn.recv_message().unwrap().is_none());
        assert_eq!(server.join().close_code(), Some(1000));
    });
}

// ---------------------------------------------------------------------------
// Broken handshakes

/// The server answers the request with `response(request)` and reports the
/// client's frames and EOF afterwards.
fn handshake_with<F>(
    response: F,
    options: Options,
) -> (wsclient::Result<wsclient::Connected>, Observed)
where
    F: FnOnce(&ClientRequest) -> Vec<u8> + Send + 'static,
{
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            let req = read_request(&mut s).unwrap();
            s.write_all(&response(&req)).unwrap();
            observe_until_close(&mut s)
        });
        let result = connect(&server.url("/chat"), &options);
        // Drop any connection before the server waits for our EOF.
        let result = result.map(|c| match c {
            wsclient::Connected::Upgraded(_) => panic!("the broken handshake was accepted"),
            other => other,
        });
        (result, server.join())
    })
}

/// An exn during the handshake: no close frame, the socket closed.
fn assert_handshake_exn(
    result: wsclient::Result<wsclient::Connected>,
    seen: &Observed,
    needle: &str,
) {
    let e = expect_connect_error(result);
    assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
    assert_eq!(e.close_code(), None);
    assert!(
        e.message().contains(needle),
        "{needle:?} not in {:?}",
        e.message()
    );
    assert!(seen.close.is_none() && seen.frames.is_empty(), "{seen:?}");
    assert!(seen.eof);
}

#[test]
fn bad_sec_websocket_accept_is_a_handshake_error() {
    let (r, seen) = handshake_with(
        |req| {
            let wrong = accept_for(&format!("{}x", req.key()));
            format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {wrong}\r\n\r\n").into_bytes()
        },
        options(),
    );
    assert_handshake_exn(r, &seen, "Sec-WebSocket-Accept");
    // Missing altogether.
    let (r, seen) = handshake_with(
        |_| {
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                .to_vec()
        },
        options(),
    );
    assert_handshake_exn(r, &seen, "Sec-WebSocket-Accept");
}

#[test]
fn missing_upgrade_or_connection_header_is_a_handshake_error() {
    let broken = [
        ("Upgrade: websocket\r\n", "", "Upgrade"),
        ("Upgrade: websocket", "Upgrade: h2c", "Upgrade"),
        ("Connection: Upgrade\r\n", "", "Connection"),
    ];
    for (from, to, named) in broken {
        let (r, seen) = handshake_with(
            move |req| response_101(req, "").replace(from, to).into_bytes(),
            options(),
        );
        assert_handshake_exn(r, &seen, named);
    }
}

#[test]
fn non_101_is_returned_as_a_response_without_waiting_for_eof() {
    // The server keeps the connection open after the body: Content-Length
    // must be enough for the client to return.
    let (r, seen) = handshake_with(
        |_| {
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: no entry\r\nContent-Length: 10\r\n\r\nforbidden\n".to_vec()
        },
        options(),
    );
    let resp = expect_response(r);
    assert_eq!((resp.status, resp.reason.as_str()), (403, "Forbidden"));
    assert_eq!(resp.header("x-reason"), Some("no entry"));
    assert_eq!(resp.header("Content-Type"), Some("text/plain"));
    assert_eq!(resp.body, b"forbidden\n");
    assert!(seen.eof && seen.frames.is_empty());
}

#[test]
fn non_101_body_is_read_to_eof_and_capped() {
    watchdog(WATCHDOG_SECS, || {
        // No Content-Length: the body ends at EOF.
        let server = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\ntry later")
                .unwrap();
        });
        let resp = expect_response(connect(&server.url("/"), &options()));
        server.join();
        assert_eq!((resp.status, resp.header("Retry-After")), (503, Some("5")));
        assert_eq!(resp.body, b"try later");
        // A body larger than max_response_body is cut there.
        let server = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            let mut r = b"HTTP/1.1 500 Oops\r\nContent-Length: 100000\r\n\r\n".to_vec();
            r.extend_from_slice(&[b'x'; 100_000]);
            let _ = s.write_all(&r);
        });
        let opts = Options {
            max_response_body: 1000,
            ..options()
        };
        let resp = expect_response(connect(&server.url("/"), &opts));
        server.join();
        assert_eq!((resp.status, resp.body.len()), (500, 1000));
    });
}

#[test]
fn oversized_handshake_response_is_refused() {
    watchdog(WATCHDOG_SECS, || {
        // An endless header value: the client must stop at max_handshake_size.
        let server = RawServer::start(|mut s: TcpStream| {
            let req = read_request(&mut s).unwrap();
            let head = response_101(&req, "");
            let head = head.trim_end_matches("\r\n");
            let mut bytes = format!("{head}\r\nX-Filler: ").into_bytes();
            let filler = [b'a'; 16 << 10];
            let mut sent = 0usize;
            while s.write_all(&bytes).is_ok() && sent < 256 << 20 {
                sent += bytes.len();
                bytes = filler.to_vec();
            }
            sent
        });
        let opts = Options {
            max_handshake_size: 8 << 10,
            ..options()
        };
        let e = expect_connect_error(connect(&server.url("/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
        assert!(e.message().contains("exceeds"), "{}", e.message());
        server.join();
        // Too many header lines is refused too.
        let server = RawServer::start(|mut s: TcpStream| {
            let req = read_request(&mut s).unwrap();
            let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
            let _ = s.write_all(response_101(&req, &many).as_bytes());
            wait_eof(&mut s)
        });
        let e = expect_connect_error(connect(&server.url("/"), &options()));
        assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
        assert!(server.join());
    });
}

#[test]
fn server_closing_during_the_handshake_is_a_handshake_error() {
    watchdog(WATCHDOG_SECS, || {
        for partial in [
            &b""[..],
            b"HTTP/1.1 10",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
        ] {
            let server = RawServer::start(move |mut s: TcpStream| {
                read_request(&mut s).unwrap();
                s.write_all(partial).unwrap();
                s.shutdown(Shutdown::Write).unwrap();
                wait_eof(&mut s)
            });
            let e = expect_connect_error(connect(&server.url("/"), &options()));
            assert_eq!(e.kind(), ErrorKind::Handshake, "{partial:?}: {e}");
            assert_eq!(e.close_code(), None);
            assert!(e.message().contains("closed"), "{}", e.message());
            assert!(server.join(), "the client did not close its socket");
        }
    });
}

#[test]
fn garbage_instead_of_http_is_a_handshake_error() {
    let (r, seen) = handshake_with(|_| b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(), options());
    let e = expect_connect_error(r);
    assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
    assert!(seen.eof);
}

// ---------------------------------------------------------------------------
// Negotiation (1010 for extensions; 1002 for a subprotocol not offered)

/// A 101 that agrees to an extension not offered: the client must refuse
/// with `ErrorKind::Negotiation`, and the server must receive the close code.
fn assert_negotiation_fail(extra: &'static str, options: Options, code: u16) -> Error {
    assert_handshake_fail(extra, options, ErrorKind::Negotiation, code)
}

/// A 101 the client must refuse with `kind`, the server receiving `code`.
fn assert_handshake_fail(
    extra: &'static str,
    options: Options,
    kind: ErrorKind,
    code: u16,
) -> Error {
    let (r, seen) = handshake_with(move |req| response_101(req, extra).into_bytes(), options);
    let e = expect_connect_error(r);
    assert_eq!(e.kind(), kind, "{extra}: {e}");
    assert_eq!(e.close_code(), Some(code), "{extra}: {e}");
    let close = seen
        .close
        .as_ref()
        .unwrap_or_else(|| panic!("{extra}: no close frame: {seen:?}"));
    assert_eq!(close.close_code(), Some(code), "{extra}");
    assert!(seen.eof, "{extra}: the client did not close the socket");
    e
}

#[test]
fn unoffered_extension_in_the_101_fails_with_1010() {
    assert_negotiation_fail(
        "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n",
        options(),
        1010,
    );
    assert_negotiation_fail(
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        options(),
        1010,
    );
    // Offered, but answered with parameters that match no offer.
    let offered = || Options {
        deflate_offers: vec![DeflateOffer::parse("server_max_window_bits=10").unwrap()],
        ..options()
    };
    for answer in [
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n",
    ] {
        assert_negotiation_fail(answer, offered(), 1010);
    }
}

/// RFC 6455 §4.1: a subprotocol the client did not offer fails the
/// connection. That is the server breaking the handshake's rules, not an
/// extension negotiation (1010): a protocol error, 1002, WS_ERR_PROTOCOL.
#[test]
fn unoffered_subprotocol_is_a_protocol_error_with_1002() {
    let offered = Options {
        subprotocols: vec!["chat".into(), "chat.v2".into()],
        ..options()
    };
    let fail = |extra, options| assert_handshake_fail(extra, options, ErrorKind::Protocol, 1002);
    let e = fail("Sec-WebSocket-Protocol: superchat\r\n", offered.clone());
    assert!(e.message().contains("superchat"), "{}", e.message());
    fail(
        "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat.v2\r\n",
        offered,
    );
    fail("Sec-WebSocket-Protocol: chat\r\n", options());
}

#[test]
fn offered_subprotocol_and_extension_are_accepted_from_a_raw_server() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            let req = accept_ws(
                &mut s,
                "Sec-WebSocket-Protocol: chat.v2\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n",
            );
            s.write_all(&close_frame(1000, "")).unwrap();
            observe_until_close(&mut s);
            req
        });
        let opts = Options {
            subprotocols: vec!["chat".into(), "chat.v2".into()],
            deflate_offers: vec![DeflateOffer::parse(
                "server_no_context_takeover; client_max_window_bits",
            )
            .unwrap()],
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        assert_eq!(conn.subprotocol(), Some("chat.v2"));
        let p = conn.deflate().expect("deflate agreed");
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (10, 15)
        );
        assert!(conn.recv_message().unwrap().is_none());
        let req = server.join();
        assert_eq!(req.header("Sec-WebSocket-Protocol"), Some("chat, chat.v2"));
        assert_eq!(
            req.header("Sec-WebSocket-Extensions"),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits")
        );
    });
}

// ---------------------------------------------------------------------------
// Compressed messages from a raw server

#[test]
fn fragmented_compressed_message_with_interleaved_ping_is_inflated() {
    let text = json_like(200_000, 7);
    let wire = py_deflate(text.as_bytes(), 15);
    let expected = text.clone();
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
            // Fragments of 1, 2, 3... bytes at first, then the rest; a ping
            // in the middle.
            let mut bytes = Vec::new();
            let (mut at, mut n, mut first) = (0usize, 1usize, true);
            while at < wire.len() {
                let end = if n < 50 {
                    (at + n).min(wire.len())
                } else {
                    wire.len()
                };
                let fin = end == wire.len();
                bytes.extend(frame(
                    fin,
                    if first { 4 } else { 0 },
                    if first { 1 } else { 0 },
                    &wire[at..end],
                ));
                if n == 10 {
                    bytes.extend(frame(true, 0, 9, b"mid"));
                }
                first = false;
                at = end;
                n += 1;
            }
            // An uncompressed message on the same connection, then close.
            bytes.extend(frame(true, 0, 1, b"plain"));
            bytes.extend(close_frame(1000, ""));
            s.write_all(&bytes).unwrap();
            observe_until_close(&mut s)
        });
        let conn = expect_upgraded(connect(&server.url("/"), &deflate_options()));
        let m = conn.recv_message().unwrap().unwrap();
        assert!(m.was_compressed());
        assert!(
            m.data == expected.as_bytes(),
            "the inflated message differs"
        );
        let m = conn.recv_message().unwrap().unwrap();
        assert!(!m.was_compressed());
        assert_eq!(m.data, b"plain");
        assert!(conn.recv_message().unwrap().is_none());
        let seen = server.join();
        assert_eq!(
            seen.frames.iter().map(|f| f.opcode).collect::<Vec<_>>(),
            vec![0xA]
        );
        assert_eq!(seen.close_code(), Some(1000));
    });
}

#[test]
fn corrupt_compressed_data_fails_with_1007() {
    let o = run_hostile(
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        frame(true, 4, 2, &[0xFF; 32]),
        deflate_options(),
    );
    assert_failed(&o, ErrorKind::InvalidPayload, 1007);
}

// ---------------------------------------------------------------------------
// Memory must stay bounded by the limits whatever the framing

/// The client receives one message from a server that streams
/// `frames(i)` for i in 0..count after `first`, then a final empty frame.
/// Returns the client's result (1009, or the message) and the peak RSS growth.
fn stream_one_message(
    extra: &'static str,
    first: Vec<u8>,
    count: usize,
    piece: Vec<u8>,
    options: Options,
) -> (wsclient::Result<Option<Message>>, Option<u64>) {
    peak_growth_kib(move || {
        watchdog(WATCHDOG_SECS, move || {
            let server = RawServer::start(move |mut s: TcpStream| {
                accept_ws(&mut s, extra);
                s.write_all(&first).unwrap();
                for _ in 0..count {
                    if s.write_all(&piece).is_err() {
                        return; // the client gave up: fine
                    }
                }
                let _ = s.write_all(&frame(true, 0, 0, b""));
                let _ = s.write_all(&close_frame(1000, ""));
                observe_until_close(&mut s);
            });
            let conn = expect_upgraded(connect(&server.url("/"), &options));
            let result = conn.recv_message();
            drop(conn);
            server.join();
            result
        })
    })
}

#[test]
fn millions_of_empty_continuation_frames_keep_memory_bounded() {
    // 4 Mi empty continuation frames (8 MiB on the wire) after a 1-byte
    // first frame: the data stays within a 64 KiB limit, so what the client
    // keeps per frame must be bounded too: the message is refused with 1009.
    let piece: Vec<u8> = (0..64 << 10).flat_map(|_| [0x00u8, 0x00]).collect();
    let (result, grown) = stream_one_message(
        "",
        frame(false, 0, 1, b"x"),
        64,
        piece,
        limited(64 << 10, 64 << 10),
    );
    assert_refused_with_1009_in_bounded_memory(&result, grown, "1 byte in 4 Mi frames");
}

#[test]
fn compressed_message_of_empty_deflate_blocks_keeps_memory_bounded() {
    // "hello", then 64 MiB of empty stored blocks inflating to nothing, in
    // 4 MiB continuation frames: the decompressed size stays tiny, but the
    // compressed bytes must not pile up without bound either. The first
    // frame ends inside an empty stored block (its 00 00 ff ff stripped);
    // each 5-byte unit completes it (LEN, NLEN) and opens the next one.
    let empty_blocks: Vec<u8> = (0..(4 << 20) / 5)
        .flat_map(|_| [0x00u8, 0x00, 0xFF, 0xFF, 0x00])
        .collect();
    let piece = frame(false, 0, 0, &empty_blocks);
    let mut opts = limited(8 << 20, 1 << 20);
    opts.deflate_offers = vec![DeflateOffer::parse("").unwrap()];
    let (result, grown) = stream_one_message(
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        frame(false, 4, 1, &py_deflate(b"hello", 15)),
        16,
        piece,
        opts,
    );
    assert_refused_with_1009_in_bounded_memory(&result, grown, "64 MiB of empty deflate blocks");
}

/// The message is refused with 1009 (what such a message costs, its empty
/// frames or its compressed bytes, counts against the limit), and peak
/// memory stayed bounded on the way.
fn assert_refused_with_1009_in_bounded_memory(
    result: &wsclient::Result<Option<Message>>,
    grown_kib: Option<u64>,
    what: &str,
) {
    match result {
        Err(e) => assert_eq!(e.close_code(), Some(1009), "{what}: {e}"),
        Ok(m) => panic!("{what}: {m:?} instead of a 1009"),
    }
    if let Some(grown) = grown_kib {
        assert!(grown < 32 << 10, "peak RSS grew by {grown} KiB for {what}");
    }
}

#[test]
fn unlimited_message_size_still_inflates() {
    // usize::MAX is what a caller (or the C API's SIZE_MAX) uses for "no limit".
    watchdog(WATCHDOG_SECS, || {
        let compressed = py_deflate(b"no limit at all", 15);
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
            let mut bytes = frame(true, 4, 1, &compressed);
            bytes.extend(close_frame(1000, ""));
            s.write_all(&bytes).unwrap();
            observe_until_close(&mut s)
        });
        let mut opts = limited(u64::MAX, usize::MAX);
        opts.deflate_offers = vec![DeflateOffer::parse("").unwrap()];
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        assert_eq!(
            conn.recv_message().unwrap().unwrap().data,
            b"no limit at all"
        );
        assert!(conn.recv_message().unwrap().is_none());
        server.join();
    });
}

// ---------------------------------------------------------------------------
// More close-handshake rules

#[test]
fn violation_after_the_client_closed_sends_no_second_close() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let first = read_frame(&mut s).unwrap().unwrap();
            s.write_all(&masked_frame(true, 1, b"bad", [9, 9, 9, 9]))
                .unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut more = Vec::new();
            while let Ok(Some(f)) = read_frame(&mut s) {
                more.push(f);
            }
            (first, more)
        });
        let opts = Options {
            close_timeout: Duration::from_secs(3600),
            ..options()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        conn.close(Some(1001), "going").unwrap();
        let e = conn.recv_message().unwrap_err();
        assert_eq!(
            (e.kind(), e.close_code()),
            (ErrorKind::Protocol, Some(1002))
        );
        assert_eq!(conn.state(), State::Closed);
        let (first, more) = server.join();
        assert_eq!(first.close_code(), Some(1001));
        assert!(more.is_empty(), "a second close frame was sent: {more:?}");
    });
}

// ---------------------------------------------------------------------------
// The low-level frame API

#[test]
fn recv_frame_returns_frames_as_sent_and_send_frame_sends_them_as_given() {
    let _big = memory_lock(); // 5 MiB in several copies
    let big = random_bytes(5 << 20, 77);
    let expected = big.clone();
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            let mut bytes = frame(false, 0, 2, b"raw");
            bytes.extend(frame(true, 0, 9, b"not auto-answered"));
            bytes.extend(frame(true, 0, 0, &big));
            // Dribble the bytes in small writes across TCP segments.
            for piece in bytes.chunks(7919) {
                s.write_all(piece).unwrap();
            }
            s.write_all(&close_frame(4000, "raw close")).unwrap();
            let mut got = Vec::new();
            while let Some(f) = read_frame(&mut s).unwrap() {
                let close = f.is_close();
                got.push(f);
                if close {
                    break;
                }
            }
            s.shutdown(Shutdown::Write).unwrap();
            (got, wait_eof(&mut s))
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options()));
        let f = conn.recv_frame().unwrap();
        assert_eq!(
            (f.fin, f.rsv, f.opcode, f.masked, f.payload.as_slice()),
            (false, 0, 2, false, &b"raw"[..])
        );
        let f = conn.recv_frame().unwrap();
        assert_eq!(
            (f.opcode, f.payload.as_slice()),
            (9, &b"not auto-answered"[..])
        );
        let f = conn.recv_frame().unwrap();
        assert_eq!((f.fin, f.opcode), (true, 0));
        assert!(f.payload == expected, "the 5 MiB frame differs");
        let f = conn.recv_frame().unwrap();
        assert_eq!((f.opcode, &f.payload[..2]), (8, &4000u16.to_be_bytes()[..]));
        // The caller answers by hand: a fragment with RSV bits, then a close.
        conn.send_frame(false, 1, 1, b"half").unwrap();
        conn.send_frame(true, 0, 0, b" and half").unwrap();
        conn.send_frame(true, 0, 8, &4000u16.to_be_bytes()).unwrap();
        // The server's close came first, so this reply completes the handshake.
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(
            conn.send_frame(true, 0, 1, b"late").unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        drop(conn);
        let (got, eof) = server.join();
        let summary: Vec<_> = got
            .iter()
            .map(|f| (f.fin, f.rsv, f.opcode, f.masked, f.payload.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (false, 1, 1, true, b"half".to_vec()),
                (true, 0, 0, true, b" and half".to_vec()),
                (true, 0, 8, true, 4000u16.to_be_bytes().to_vec()),
            ],
            "no pong may precede the caller's frames"
        );
        assert!(eof);
    });
}

#[test]
fn recv_frame_still_refuses_masked_and_oversized_frames() {
    for (bytes, kind, code) in [
        (
            masked_frame(true, 2, b"m", [1, 1, 1, 1]),
            ErrorKind::Protocol,
            1002u16,
        ),
        (
            header(true, 0, 2, false, 1 << 20),
            ErrorKind::MessageTooBig,
            1009,
        ),
    ] {
        let seen = watchdog(WATCHDOG_SECS, move || {
            let server = RawServer::start(move |mut s: TcpStream| {
                accept_ws(&mut s, "");
                s.write_all(&bytes).unwrap();
                observe_until_close(&mut s)
            });
            let conn = expect_upgraded(connect(&server.url("/"), &limited(1000, 1000)));
            let e = conn.recv_frame().unwrap_err();
            assert_eq!((e.kind(), e.close_code()), (kind, Some(code)), "{e}");
            assert_eq!(conn.state(), State::Closed);
            drop(conn);
            server.join()
        });
        assert_eq!(seen.close_code(), Some(code));
        assert!(seen.eof);
    }
}

// ---------------------------------------------------------------------------
// Handshake responses that must not stall the client

#[test]
fn non_101_with_chunked_or_empty_body_returns_without_waiting_for_eof() {
    // Keep-alive servers delimit bodies with chunked encoding, or send none
    // for 204/304; they do not close. With no handshake timeout at all, the
    // client must still return the response (the watchdog catches a stall).
    let cases: [(&[u8], u16, &[u8]); 3] = [
        (
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Bearer\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
            401,
            b"hello, world",
        ),
        (b"HTTP/1.1 204 No Content\r\nX-Why: none\r\n\r\n", 204, b""),
        (b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304, b""),
    ];
    for (answer, status, body) in cases {
        let resp = watchdog(15, move || {
            let server = RawServer::start(move |mut s: TcpStream| {
                read_request(&mut s).unwrap();
                s.write_all(answer).unwrap();
                wait_eof(&mut s) // keep-alive: the server never closes first
            });
            let opts = Options {
                handshake_timeout: None,
                ..options()
            };
            let resp = expect_response(connect(&server.url("/"), &opts));
            assert!(server.join(), "the client did not close the socket");
            resp
        });
        assert_eq!(resp.status, status);
        assert_eq!(resp.body, body, "status {status}");
    }
}

#[test]
fn endless_chunked_bodies_end_without_a_timeout() {
    // With no handshake timeout, a chunk-size line that never ends, or an
    // endless stream of chunks, must still end the body: the client reads
    // a bounded amount and returns (the watchdog catches a stall).
    let endless_line = || -> Box<dyn FnMut() -> Vec<u8> + Send> { Box::new(|| vec![b'f'; 4096]) };
    let endless_chunks = || -> Box<dyn FnMut() -> Vec<u8> + Send> {
        Box::new(|| b"10;ext=x\r\n0123456789abcdef\r\n".repeat(100))
    };
    for (what, make, body_len) in [
        ("endless size line", endless_line(), 0),
        ("endless chunks", endless_chunks(), 1000),
    ] {
        let (resp, sent) = watchdog(15, move || {
            let mut make = make;
            let server = RawServer::start(move |mut s: TcpStream| {
                read_request(&mut s).unwrap();
                s.write_all(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .unwrap();
                let mut sent = 0;
                // Until the client hangs up (or 64 MiB: it never read them).
                while sent < 64 << 20 && s.write_all(&make()).is_ok() {
                    sent += 4096;
                }
                sent
            });
            let opts = Options {
                handshake_timeout: None,
                max_response_body: 1000,
                ..options()
            };
            let resp = expect_response(connect(&server.url("/"), &opts));
            (resp, server.join())
        });
        assert_eq!((resp.status, resp.body.len()), (403, body_len), "{what}");
        assert!(sent < 64 << 20, "{what}: the client read all {sent} bytes");
    }
}

#[test]
fn handshake_timeout_bounds_a_server_that_trickles_its_response() {
    // One byte every 100 ms of an endless header: every single read is
    // quick, so only a deadline on the whole handshake ends it.
    watchdog(20, || {
        let server = RawServer::start(|mut s: TcpStream| {
            let req = read_request(&mut s).unwrap();
            let head = response_101(&req, "");
            let mut bytes = head.trim_end_matches("\r\n").as_bytes().to_vec();
            bytes.extend_from_slice(b"\r\nX-Slow: ");
            bytes.extend(std::iter::repeat_n(b'z', 60_000));
            for b in bytes {
                if s.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let opts = Options {
            handshake_timeout: Some(Duration::from_secs(1)),
            ..options()
        };
        let e = expect_connect_error(connect(&server.url("/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        server.join();
    });
}
