//! Issue 22: TLS session resumption. The connector shared by connections
//! with the same TLS settings keeps a session per host and port; the next
//! connection there resumes it (`Connection::tls_resumed`), never one made
//! with other settings. Against Python `websockets` (TLS 1.3 tickets, as
//! Python's ssl module issues them) and raw OpenSSL servers written here
//! (TLS 1.2 with tickets or with session ids, a server that forgot its
//! tickets), over loopback sockets.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslOptions, SslVersion};
use wsclient::transport::TlsOptions;
use wsclient::{connect, ErrorKind, MessageType, Options};

const WATCHDOG_SECS: u64 = 60;

fn trusting(ca: &Path) -> Options {
    Options {
        tls: TlsOptions {
            ca_file: Some(ca.to_path_buf()),
            ..TlsOptions::default()
        },
        handshake_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    }
}

/// Connect, one echo, a clean close; whether TLS resumed.
fn resumed_after_echo(url: &str, opts: &Options) -> bool {
    let conn = expect_upgraded(connect(url, opts));
    conn.send_text("again?").unwrap();
    let m = conn.recv_message().unwrap().unwrap();
    assert_eq!(
        (m.kind, m.data.as_slice()),
        (MessageType::Text, &b"again?"[..])
    );
    conn.close(Some(1000), "").unwrap();
    assert!(conn.recv_message().unwrap().is_none());
    conn.tls_resumed()
}

#[test]
fn a_second_connection_resumes_a_tls13_ticket_but_not_under_other_settings() {
    let pki = Pki::new();
    let server = EchoServer::start(&[
        "--cert",
        pki.server_cert.to_str().unwrap(),
        "--key",
        pki.server_key.to_str().unwrap(),
    ]);
    let plain = EchoServer::start(&[]);
    let (url, by_name) = (server.wss("/"), format!("wss://localhost:{}/", server.port));
    let ws_url = plain.ws("/");
    watchdog(WATCHDOG_SECS, move || {
        let opts = trusting(&pki.ca);
        assert!(!resumed_after_echo(&url, &opts), "nothing to resume yet");
        // Each connection's tickets replace the one it used.
        for n in 2..=4 {
            assert!(resumed_after_echo(&url, &opts), "connection {n}");
        }
        // The same server by another name: another origin.
        assert!(!resumed_after_echo(&by_name, &opts));
        assert!(resumed_after_echo(&by_name, &opts));

        // The same CA in another file is another configuration: it starts
        // with no session, then has its own.
        let dir = TempDir::new("resume-ca");
        let copy = dir.path().join("same-ca.pem");
        std::fs::copy(&pki.ca, &copy).unwrap();
        let other = trusting(&copy);
        assert!(!resumed_after_echo(&url, &other));
        assert!(resumed_after_echo(&url, &other));
        // Verification off is another configuration too.
        let insecure = Options {
            tls: TlsOptions {
                insecure_skip_verify: true,
                ..TlsOptions::default()
            },
            ..Options::default()
        };
        assert!(!resumed_after_echo(&url, &insecure));
        // The first configuration still resumes.
        assert!(resumed_after_echo(&url, &opts));

        // ws:// never resumes anything.
        let conn = expect_upgraded(connect(&ws_url, &Options::default()));
        assert!(!conn.tls_resumed());
        drop((conn, server, plain, pki, dir));
    });
}

/// An acceptor with the server certificate, tuned by `tune`.
fn acceptor(pki: &Pki, tune: impl FnOnce(&mut openssl::ssl::SslAcceptorBuilder)) -> SslAcceptor {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate_chain_file(&pki.server_cert).unwrap();
    b.set_private_key_file(&pki.server_key, SslFiletype::PEM)
        .unwrap();
    tune(&mut b);
    b.build()
}

/// A raw wss server: connection `i` is accepted with `acceptors[i]`,
/// upgraded, and held until the client goes. Returns whether the server
/// saw each handshake resume, and the TLS version.
fn raw_wss_server(acceptors: Vec<SslAcceptor>) -> (u16, JoinHandle<Vec<(bool, String)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        acceptors
            .into_iter()
            .map(|acceptor| {
                let (tcp, _) = listener.accept().unwrap();
                tcp.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
                tcp.set_write_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
                let mut tls = acceptor.accept(tcp).unwrap();
                accept_ws(&mut tls, "");
                wait_eof(&mut tls);
                // A clean end: OpenSSL forgets the session of a connection
                // freed without one (it would not resume by session id).
                let _ = tls.shutdown();
                let ssl = tls.ssl();
                (ssl.session_reused(), ssl.version_str().to_string())
            })
            .collect()
    });
    (port, handle)
}

/// Connect once per acceptor to a raw server, one after the other;
/// whether each resumed, as the client and the server saw it (they must
/// agree), and the versions used.
fn resumptions(pki: &Pki, acceptors: Vec<SslAcceptor>) -> (Vec<bool>, Vec<String>) {
    let n = acceptors.len();
    let (port, server) = raw_wss_server(acceptors);
    let opts = trusting(&pki.ca);
    let url = format!("wss://127.0.0.1:{port}/");
    let client: Vec<bool> = (0..n)
        .map(|_| expect_upgraded(connect(&url, &opts)).tls_resumed())
        .collect();
    let (resumed, versions): (Vec<bool>, Vec<String>) = server.join().unwrap().into_iter().unzip();
    assert_eq!(client, resumed, "the client and the server disagree");
    (resumed, versions)
}

#[test]
fn tls12_sessions_resume_by_ticket_and_by_session_id() {
    let pki = Pki::new();
    watchdog(WATCHDOG_SECS, move || {
        let tls12 = |b: &mut openssl::ssl::SslAcceptorBuilder| {
            b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        };
        let with_tickets = acceptor(&pki, tls12);
        let (resumed, versions) = resumptions(&pki, vec![with_tickets; 3]);
        assert_eq!(resumed, [false, true, true]);
        assert!(versions.iter().all(|v| v == "TLSv1.2"), "{versions:?}");

        // No tickets: the server keeps the session under its id.
        let with_ids = acceptor(&pki, |b| {
            tls12(b);
            b.set_options(SslOptions::NO_TICKET);
        });
        let (resumed, _) = resumptions(&pki, vec![with_ids; 3]);
        assert_eq!(resumed, [false, true, true]);
        drop(pki);
    });
}

/// A server that restarted (new ticket keys) refuses the kept session: a
/// full handshake, whose new session is resumed next time.
#[test]
fn a_session_the_server_forgot_gives_a_full_handshake_then_a_new_session() {
    let pki = Pki::new();
    watchdog(WATCHDOG_SECS, move || {
        let first = acceptor(&pki, |_| {});
        let restarted = acceptor(&pki, |_| {});
        let (resumed, versions) = resumptions(
            &pki,
            vec![first.clone(), first, restarted.clone(), restarted],
        );
        assert_eq!(resumed, [false, true, false, true]);
        assert!(versions.iter().all(|v| v == "TLSv1.3"), "{versions:?}");
        drop(pki);
    });
}

/// A server that drops the connection (TCP closed without TLS's
/// close_notify, as a crashed or restarted process does) leaves the ticket
/// it issued usable: reconnecting after a drop is where resumption pays.
#[test]
fn a_ticket_survives_the_connection_that_brought_it_being_dropped() {
    let pki = Pki::new();
    watchdog(WATCHDOG_SECS, move || {
        let acceptor = acceptor(&pki, |_| {});
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            (0..2)
                .map(|_| {
                    let (tcp, _) = listener.accept().unwrap();
                    tcp.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
                    let mut tls = acceptor.accept(tcp).unwrap();
                    accept_ws(&mut tls, "");
                    tls.write_all(&frame(true, 0, 1, b"one")).unwrap();
                    let resumed = tls.ssl().session_reused();
                    // Gone: no close frame, no close_notify.
                    tls.get_ref().shutdown(std::net::Shutdown::Both).unwrap();
                    resumed
                })
                .collect::<Vec<bool>>()
        });
        let opts = trusting(&pki.ca);
        let url = format!("wss://127.0.0.1:{port}/");
        let mut client = Vec::new();
        for _ in 0..2 {
            let conn = expect_upgraded(connect(&url, &opts));
            client.push(conn.tls_resumed());
            assert_eq!(conn.recv_message().unwrap().unwrap().data, b"one");
            // The drop is a lost connection (not a TLS error), as for ws://.
            let e = conn.recv_message().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionLost, "{e}");
        }
        assert_eq!(server.join().unwrap(), client);
        assert_eq!(client, [false, true]);
        drop(pki);
    });
}
