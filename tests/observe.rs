//! Issue 23: what a connection did, as its trace and counters tell it,
//! when things go wrong: a protocol violation, a keepalive that gets no
//! pong, a server that vanishes, a redirect, a name lookup. Raw servers on
//! 127.0.0.1 written here (tests/c/test_trace.c covers the good path over
//! TLS, deflate and a proxy).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use wsclient::observe::{Field, Stat, TraceEvent, TraceKind, Tracer};
use wsclient::session::Keepalive;
use wsclient::{connect, ErrorKind, Options};

const WATCHDOG_SECS: u64 = 60;

/// Options whose tracer records every event.
fn traced() -> (Options, Arc<Mutex<Vec<TraceEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = Options {
        tracer: Some(Tracer::new(move |e: &TraceEvent| {
            sink.lock().unwrap().push(e.clone())
        })),
        ..Options::default()
    };
    (options, seen)
}

fn kinds(seen: &Mutex<Vec<TraceEvent>>) -> Vec<TraceKind> {
    seen.lock().unwrap().iter().map(|e| e.kind).collect()
}

fn last(seen: &Mutex<Vec<TraceEvent>>, kind: TraceKind) -> TraceEvent {
    let seen = seen.lock().unwrap();
    let found = seen.iter().rev().find(|e| e.kind == kind);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} in {seen:#?}"))
}

/// Whether `want` appear in `got` in this order (others may come between).
fn in_order(got: &[TraceKind], want: &[TraceKind]) -> bool {
    let mut rest = got.iter();
    want.iter().all(|w| rest.any(|g| g == w))
}

#[test]
fn a_protocol_violation_is_traced_from_the_frame_to_the_failure() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            s.write_all(&frame(true, 0, 0x3, b"x")).unwrap();
            read_frame(&mut s).unwrap().unwrap().close_code()
        });
        let (options, seen) = traced();
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        let e = conn.recv_message().unwrap_err();
        assert_eq!(e.close_code(), Some(1002));
        assert_eq!(server.join(), Some(1002));
        let got = kinds(&seen);
        assert!(
            in_order(
                &got,
                &[
                    TraceKind::TcpAttempt,
                    TraceKind::TcpConnected,
                    TraceKind::RequestSent,
                    TraceKind::Response,
                    TraceKind::Open,
                    TraceKind::FrameReceived,
                    TraceKind::Failure,
                ]
            ),
            "{got:?}"
        );
        let frame = last(&seen, TraceKind::FrameReceived);
        assert_eq!(frame.get_number(Field::Opcode), Some(3));
        assert_eq!(frame.get_number(Field::Length), Some(1));
        let failure = last(&seen, TraceKind::Failure);
        assert_eq!(failure.get_number(Field::CloseCode), Some(1002));
        assert_eq!(failure.error, Some(ErrorKind::Protocol));
        assert!(failure.get_text(Field::Message).unwrap().contains("opcode"));
        let close = last(&seen, TraceKind::CloseSent);
        assert_eq!(close.get_number(Field::CloseCode), Some(1002));
        // Every event is about this connection.
        let ids: Vec<u64> = seen.lock().unwrap().iter().map(|e| e.conn).collect();
        assert!(ids.iter().all(|&id| id == conn.id() && id != 0), "{ids:?}");
    });
}

#[test]
fn a_keepalive_without_pong_is_traced_with_its_pings_and_the_1011() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            loop {
                let f = read_frame(&mut s).unwrap().unwrap();
                if f.opcode == 8 {
                    return;
                }
            }
        });
        let (mut options, seen) = traced();
        options.keepalive = Some(Keepalive {
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(100),
        });
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        let e = conn.recv_message().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        server.join();
        let got = kinds(&seen);
        assert!(
            in_order(
                &got,
                &[
                    TraceKind::PingSent,
                    TraceKind::FrameSent,
                    TraceKind::CloseSent,
                    TraceKind::Failure
                ]
            ),
            "{got:?}"
        );
        assert_eq!(
            last(&seen, TraceKind::CloseSent).get_number(Field::CloseCode),
            Some(1011)
        );
        assert_eq!(
            last(&seen, TraceKind::Failure).error,
            Some(ErrorKind::Timeout)
        );
        assert_eq!(conn.stat(Stat::PingsSent), 1);
        assert_eq!(conn.stat(Stat::PongsReceived), 0);
        assert_eq!(conn.stat(Stat::RttLastUs), 0);
    });
}

#[test]
fn a_server_that_vanishes_is_a_traced_failure_and_the_counters_stand() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let (frames, _) = read_message(&mut s);
            // Echo it, then go without a close frame.
            s.write_all(&frame(true, 0, 0x1, &frames[0].payload))
                .unwrap();
        });
        let (options, seen) = traced();
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        conn.send_text("gone soon").unwrap();
        assert_eq!(conn.recv_message().unwrap().unwrap().data, b"gone soon");
        server.join();
        let e = conn.recv_message().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionLost);
        let failure = last(&seen, TraceKind::Failure);
        assert!(
            failure.text.contains("without a close frame"),
            "{}",
            failure.text
        );
        assert_eq!(failure.get_number(Field::CloseCode), None);
        // The counters: one message each way, its frame plus header bytes.
        assert_eq!(conn.stat(Stat::MessagesOut), 1);
        assert_eq!(conn.stat(Stat::MessagesIn), 1);
        assert_eq!(conn.stat(Stat::PayloadOut), 9);
        assert_eq!(conn.stat(Stat::BytesOut), 2 + 4 + 9);
        assert_eq!(conn.stat(Stat::BytesIn), 2 + 9);
        assert_eq!(conn.stat(Stat::FramesIn), 1);
        assert_eq!(conn.stat(Stat::FramesOut), 1);
    });
}

#[test]
fn a_redirect_is_traced_and_counted_and_a_name_is_resolved() {
    watchdog(WATCHDOG_SECS, || {
        let target = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            wait_eof(&mut s);
        });
        let location = format!("ws://localhost:{}/there", target.port);
        let first = RawServer::start(move |mut s: TcpStream| {
            read_request(&mut s).unwrap();
            let answer =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            s.write_all(answer.as_bytes()).unwrap();
        });
        let (mut options, seen) = traced();
        options.max_redirects = 2;
        let conn = expect_upgraded(connect(&first.url("/here"), &options));
        first.join();
        let redirect = last(&seen, TraceKind::Redirect);
        assert_eq!(redirect.get_number(Field::Status), Some(302));
        assert!(redirect
            .get_text(Field::Location)
            .unwrap()
            .ends_with(&format!("localhost:{}/there", target.port)));
        let resolved = last(&seen, TraceKind::Resolved);
        assert_eq!(resolved.get_text(Field::Host), Some("localhost"));
        let got = kinds(&seen);
        assert!(
            in_order(
                &got,
                &[
                    TraceKind::Response,
                    TraceKind::Redirect,
                    TraceKind::Resolved,
                    TraceKind::TcpConnected,
                    TraceKind::Response,
                    TraceKind::Open
                ]
            ),
            "{got:?}"
        );
        assert_eq!(conn.stat(Stat::Redirects), 1);
        assert!(conn.stat(Stat::TimeTotalUs) >= conn.stat(Stat::TimeHttpUs));
        assert!(conn.stat(Stat::TimeHttpUs) >= conn.stat(Stat::TimeConnectUs));
        assert!(conn.stat(Stat::TimeConnectUs) >= conn.stat(Stat::TimeResolveUs));
        assert!(conn.stat(Stat::TimeResolveUs) > 0);
        assert_eq!(conn.stat(Stat::TimeTlsUs), 0);
        drop(conn);
        target.join();
    });
}

#[test]
fn without_a_tracer_nothing_is_traced_and_counters_still_count() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            let (frames, _) = read_message(&mut s);
            s.write_all(&frame(true, 0, 0x2, &frames[0].payload))
                .unwrap();
            s.write_all(&frame(true, 0, 0xA, b"p")).unwrap();
            let _ = read_frame(&mut s);
        });
        let conn = expect_upgraded(connect(&server.url("/"), &Options::default()));
        conn.ping(b"p").unwrap();
        conn.send_binary(&[1, 2, 3]).unwrap();
        conn.recv_message().unwrap();
        conn.close(Some(1000), "").unwrap();
        let _ = conn.recv_message();
        server.join();
        assert_eq!(conn.stat(Stat::PingsSent), 1);
        assert_eq!(conn.stat(Stat::PongsReceived), 1);
        assert!(conn.stat(Stat::RttLastUs) > 0);
        assert_eq!(conn.stat(Stat::PayloadIn), 3);
    });
}
