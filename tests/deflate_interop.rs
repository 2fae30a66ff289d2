//! Issue #3: permessage-deflate interop with Python `websockets`
//! (echo_server.py --deflate) for every server window size 9..15, with and
//! without context takeover on either side, and client window sizes; plus a
//! raw peer that inflates what the client sends with exactly the agreed
//! window, which a client using a larger window than agreed cannot pass.
//!
//! One server per configuration; each serves two connections (whole and
//! fragmented messages) that are reused for every message.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use wsclient::deflate::{DeflateOffer, DeflateParams};
use wsclient::{connect, Connection, MessageType, Options};

const WATCHDOG_SECS: u64 = 110;

struct Payloads {
    json: String,
    random: Vec<u8>,
    small_json: String,
}

fn payloads() -> &'static Payloads {
    static P: OnceLock<Payloads> = OnceLock::new();
    P.get_or_init(|| Payloads {
        json: json_like(3 << 20, 1),
        random: random_bytes(2 << 20, 2),
        small_json: json_like(100 << 10, 3),
    })
}

/// Send a message and expect the same back, compressed by the server.
fn echo(conn: &Connection, kind: MessageType, data: &[u8], compress: bool, what: &str) {
    conn.send(kind, data, compress)
        .unwrap_or_else(|e| panic!("{what}: send: {e}"));
    let m = conn
        .recv_message()
        .unwrap_or_else(|e| panic!("{what}: recv: {:?} {e}", e.kind()))
        .unwrap_or_else(|| panic!("{what}: the server closed: {:?}", conn.peer_close()));
    assert_eq!(m.kind, kind, "{what}");
    assert!(
        m.data == data,
        "{what}: the echo differs ({} vs {} bytes)",
        m.data.len(),
        data.len()
    );
    assert!(
        m.was_compressed(),
        "{what}: the server's message was not compressed"
    );
}

/// The whole message set over one connection.
fn exchange(conn: &Connection, label: &str, big: bool) {
    let p = payloads();
    let (json, random) = if big {
        (p.json.as_bytes(), &p.random[..])
    } else {
        (&p.json.as_bytes()[..600 << 10], &p.random[..300 << 10])
    };
    // Several MiB, compressible and not.
    echo(
        conn,
        MessageType::Text,
        json,
        true,
        &format!("{label}: JSON"),
    );
    echo(
        conn,
        MessageType::Binary,
        random,
        true,
        &format!("{label}: random"),
    );
    // Empty messages, and the same small message three times: with context
    // takeover the repeats compress to a few bytes and still decode.
    echo(
        conn,
        MessageType::Text,
        b"",
        true,
        &format!("{label}: empty text"),
    );
    echo(
        conn,
        MessageType::Binary,
        b"",
        true,
        &format!("{label}: empty binary"),
    );
    for i in 0..3 {
        echo(
            conn,
            MessageType::Text,
            p.small_json.as_bytes(),
            true,
            &format!("{label}: small #{i}"),
        );
    }
    // One sent without compression in the middle of compressed ones.
    echo(
        conn,
        MessageType::Text,
        p.small_json.as_bytes(),
        false,
        &format!("{label}: uncompressed"),
    );
    echo(
        conn,
        MessageType::Binary,
        &[0x42],
        true,
        &format!("{label}: one byte"),
    );
    echo(
        conn,
        MessageType::Text,
        &json[..70_000],
        true,
        &format!("{label}: after"),
    );
}

/// Start the server with `server_args`, connect twice (whole messages and
/// fragmented ones) with `offers`, check the agreed parameters and echo.
fn run_config(server_args: &[&str], offers: &[&str], expected: DeflateParams) {
    let mut args = vec!["--deflate"];
    args.extend_from_slice(server_args);
    let server = EchoServer::start(&args);
    let label = format!("server {server_args:?}, offers {offers:?}");
    let base = Options {
        deflate_offers: offers
            .iter()
            .map(|o| DeflateOffer::parse(o).unwrap())
            .collect(),
        read_timeout: Some(Duration::from_secs(30)),
        ..Options::default()
    };
    for (fragment_size, big) in [(0usize, true), (16_387, false)] {
        let opts = Options {
            fragment_size,
            ..base.clone()
        };
        let conn = expect_upgraded(connect(&server.ws("/"), &opts));
        assert_eq!(conn.deflate(), Some(expected), "{label}: agreed parameters");
        let label = format!("{label}, fragment_size {fragment_size}");
        exchange(&conn, &label, big);
        conn.close(Some(1000), "").unwrap();
        assert!(conn.recv_message().unwrap().is_none(), "{label}");
        assert_eq!(conn.peer_close().unwrap().code, Some(1000), "{label}");
    }
    assert!(
        !server.stderr().contains("Traceback"),
        "{label}: the server logged an error:\n{}",
        server.stderr()
    );
}

fn params(server_bits: u8, client_bits: u8, snct: bool, cnct: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

/// Every takeover combination with server window `bits`, plus a client
/// window chosen by the server (the client offers bare client_max_window_bits).
fn server_window(bits: u8) {
    watchdog(WATCHDOG_SECS, move || {
        let b = bits.to_string();
        for (snct, cnct) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut args = vec!["--server-max-window-bits", b.as_str()];
            if snct {
                args.push("--server-no-context-takeover");
            }
            if cnct {
                args.push("--client-no-context-takeover");
            }
            run_config(&args, &[""], params(bits, 15, snct, cnct));
        }
        // A client window chosen by the server: 24 - bits covers 9..15.
        let c = 24 - bits;
        let cs = c.to_string();
        run_config(
            &[
                "--server-max-window-bits",
                &b,
                "--client-max-window-bits",
                &cs,
            ],
            &["client_max_window_bits"],
            params(bits, c, false, false),
        );
    });
}

#[test]
fn server_window_9() {
    server_window(9);
}

#[test]
fn server_window_10() {
    server_window(10);
}

#[test]
fn server_window_11() {
    server_window(11);
}

#[test]
fn server_window_12() {
    server_window(12);
}

#[test]
fn server_window_13() {
    server_window(13);
}

#[test]
fn server_window_14() {
    server_window(14);
}

#[test]
fn server_window_15() {
    server_window(15);
}

#[test]
fn client_window_of_8_bits_sends_uncompressed_and_still_interoperates() {
    watchdog(WATCHDOG_SECS, || {
        run_config(
            &["--client-max-window-bits", "8"],
            &["client_max_window_bits"],
            params(15, 8, false, false),
        );
    });
}

#[test]
fn client_driven_offers_against_an_unconfigured_server() {
    watchdog(WATCHDOG_SECS, || {
        // The server accepts what the client asks for.
        run_config(
            &[],
            &["server_max_window_bits=10; client_max_window_bits=12; server_no_context_takeover; client_no_context_takeover"],
            params(10, 12, true, true),
        );
        // The first acceptable offer wins; the fallback is not used.
        run_config(
            &[],
            &["server_max_window_bits=9", ""],
            params(9, 15, false, false),
        );
        // The server lowers the client's window below what was offered.
        run_config(
            &["--client-max-window-bits", "10"],
            &["client_max_window_bits=13"],
            params(15, 10, false, false),
        );
        // The server imposes a smaller window than offered, and takeover
        // limits that were not asked for.
        run_config(
            &[
                "--server-max-window-bits",
                "11",
                "--server-no-context-takeover",
            ],
            &["server_max_window_bits=13", ""],
            params(11, 15, true, false),
        );
    });
}

#[test]
fn compression_levels_interoperate() {
    watchdog(WATCHDOG_SECS, || {
        let server = EchoServer::start(&["--deflate"]);
        let p = payloads();
        for level in [0, 1, 9] {
            let opts = Options {
                deflate_offers: vec![DeflateOffer::parse("").unwrap()],
                compression_level: level,
                ..Options::default()
            };
            let conn = expect_upgraded(connect(&server.ws("/"), &opts));
            let what = format!("level {level}");
            echo(
                &conn,
                MessageType::Text,
                &p.json.as_bytes()[..1 << 20],
                true,
                &what,
            );
            echo(
                &conn,
                MessageType::Binary,
                &p.random[..256 << 10],
                true,
                &what,
            );
            conn.close(Some(1000), "").unwrap();
            assert!(conn.recv_message().unwrap().is_none());
        }
    });
}

/// What the raw server got for each client message: its frames' RSV bits
/// and the concatenated payload.
type Sent = Vec<(u8, Vec<u8>)>;

/// The raw server agrees to `answer`; the client sends `messages`; the
/// server returns them as received on the wire.
fn capture_client_messages(
    answer: String,
    offer: &str,
    messages: Vec<Vec<u8>>,
    fragment_size: usize,
) -> Sent {
    let n = messages.len();
    let server = RawServer::start(move |mut s: TcpStream| {
        accept_ws(&mut s, &format!("Sec-WebSocket-Extensions: {answer}\r\n"));
        let mut got = Vec::new();
        for _ in 0..n {
            let (frames, _) = read_message(&mut s);
            assert!(
                frames[1..].iter().all(|f| f.rsv == 0),
                "RSV set on a continuation frame"
            );
            got.push((
                frames[0].rsv,
                frames.iter().flat_map(|f| f.payload.clone()).collect(),
            ));
        }
        s.write_all(&close_frame(1000, "")).unwrap();
        observe_until_close(&mut s);
        got
    });
    let opts = Options {
        deflate_offers: vec![DeflateOffer::parse(offer).unwrap()],
        fragment_size,
        ..Options::default()
    };
    let conn = expect_upgraded(connect(&server.url("/"), &opts));
    for m in &messages {
        conn.send_binary(m).unwrap();
    }
    assert!(conn.recv_message().unwrap().is_none());
    server.join()
}

#[test]
fn client_compresses_within_the_agreed_window_and_without_takeover() {
    watchdog(WATCHDOG_SECS, || {
        let text = json_like(256 << 10, 11).into_bytes();
        for bits in 9..=15u8 {
            // Without context takeover: every message must inflate on its
            // own, with exactly the agreed window.
            let answer = format!(
                "permessage-deflate; client_max_window_bits={bits}; client_no_context_takeover"
            );
            let sent = capture_client_messages(
                answer,
                "client_max_window_bits",
                vec![text.clone(), text.clone()],
                0,
            );
            for (i, (rsv, wire)) in sent.iter().enumerate() {
                assert_eq!(*rsv, 4, "bits {bits}, message {i}: not compressed");
                assert!(wire.len() < text.len() / 2, "bits {bits}: poor compression");
                let inflated = py_inflate(wire, bits).unwrap_or_else(|e| {
                    panic!("bits {bits}, message {i}: zlib with a {bits}-bit window: {e}")
                });
                assert!(
                    inflated == text,
                    "bits {bits}, message {i}: inflates to something else"
                );
            }
        }
        // With context takeover the second copy refers back to the first
        // and is tiny (8 KiB: the repeat is within the 32 KiB window);
        // fragmented, RSV1 only on the first frame.
        let small = json_like(8 << 10, 12).into_bytes();
        let sent = capture_client_messages(
            "permessage-deflate".into(),
            "",
            vec![small.clone(), small.clone()],
            1000,
        );
        assert_eq!(sent[0].0, 4);
        assert!(sent[0].1.len() > 1000, "the first copy fits one frame");
        assert!(
            sent[1].1.len() < sent[0].1.len() / 10,
            "no context takeover was used: {} then {} bytes",
            sent[0].1.len(),
            sent[1].1.len()
        );
        assert!(py_inflate(&sent[0].1, 15).unwrap() == small);
        // An 8-bit client window: zlib cannot honour it, so no compression.
        let sent = capture_client_messages(
            "permessage-deflate; client_max_window_bits=8".into(),
            "client_max_window_bits",
            vec![text.clone()],
            0,
        );
        assert_eq!(
            sent[0].0, 0,
            "compressed with an 8-bit window zlib cannot produce"
        );
        assert!(sent[0].1 == text);
    });
}

#[test]
fn offered_client_no_context_takeover_is_kept_when_the_server_does_not_echo_it() {
    watchdog(WATCHDOG_SECS, || {
        // RFC 7692 §7.1.1.2: having offered client_no_context_takeover, the
        // client resets its compressor per message even though the answer
        // leaves the parameter out; the server may then inflate every
        // message with a fresh context.
        let text = json_like(8 << 10, 13).into_bytes();
        let sent = capture_client_messages(
            "permessage-deflate".into(),
            "client_no_context_takeover",
            vec![text.clone(), text.clone()],
            0,
        );
        for (i, (rsv, wire)) in sent.iter().enumerate() {
            assert_eq!(*rsv, 4, "message {i}: not compressed");
            let inflated = py_inflate(wire, 15)
                .unwrap_or_else(|e| panic!("message {i} needs the previous context: {e}"));
            assert!(inflated == text, "message {i} inflates to something else");
        }
    });
}
