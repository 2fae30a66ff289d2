//! Issue #4: TLS (verification, client certificates), IPv6 loopback and
//! timeouts, against Python `websockets` (tests/servers/echo_server.py) and
//! raw servers written here. Certificates are made per test with OpenSSL.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use openssl::ssl::{
    NameType, SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslStream, SslVersion,
};
use openssl::x509::X509;
use wsclient::transport::{TlsOptions, TlsVersion};
use wsclient::{connect, Connection, ErrorKind, MessageType, Options, State};

const WATCHDOG_SECS: u64 = 60;

fn tls_server(cert: &Path, key: &Path, extra: &[&str]) -> EchoServer {
    let mut args = vec![
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    EchoServer::start(&args)
}

fn trusting(pki: &Pki) -> Options {
    Options {
        tls: TlsOptions {
            ca_file: Some(pki.ca.clone()),
            ..TlsOptions::default()
        },
        handshake_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    }
}

/// Text and binary round trips, then a clean close.
fn echo_and_close(conn: &Connection) {
    conn.send_text("hello over TLS").unwrap();
    let m = conn.recv_message().unwrap().unwrap();
    assert_eq!(
        (m.kind, m.data.as_slice()),
        (MessageType::Text, &b"hello over TLS"[..])
    );
    let blob = random_bytes(300_000, 42);
    conn.send_binary(&blob).unwrap();
    let m = conn.recv_message().unwrap().unwrap();
    assert_eq!(m.kind, MessageType::Binary);
    assert!(m.data == blob, "binary echo differs");
    conn.close(Some(1000), "bye").unwrap();
    assert!(conn.recv_message().unwrap().is_none());
    assert_eq!(conn.peer_close().unwrap().code, Some(1000));
}

// ---------------------------------------------------------------------------
// Verification

#[test]
fn wss_echo_verified_with_the_test_ca_by_ip_and_by_name() {
    let pki = Pki::new();
    let server = tls_server(&pki.server_cert, &pki.server_key, &[]);
    let urls = [server.wss("/"), format!("wss://localhost:{}/", server.port)];
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        for url in urls {
            let conn = expect_upgraded(connect(&url, &opts));
            echo_and_close(&conn);
        }
    });
}

/// Connect to `url` with `opts`: a TlsVerify exn whose message carries
/// OpenSSL's verify reason `reason`.
fn assert_verify_fails(url: &str, opts: &Options, reason: &str) -> String {
    let e = expect_connect_error(connect(url, opts));
    assert_eq!(e.kind(), ErrorKind::TlsVerify, "{url}: {e}");
    assert_eq!(e.close_code(), None);
    assert!(
        e.message().contains("certificate verify failed"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains(reason),
        "{reason:?} not in {:?}",
        e.message()
    );
    e.message().to_string()
}

#[test]
fn unknown_ca_is_refused_unless_verification_is_skipped() {
    let pki = Pki::new();
    let server = tls_server(&pki.server_cert, &pki.server_key, &[]);
    let url = server.wss("/");
    watchdog(WATCHDOG_SECS, move || {
        let opts = Options {
            handshake_timeout: Some(Duration::from_secs(20)),
            ..Options::default()
        };
        let m = assert_verify_fails(&url, &opts, "unable to get local issuer certificate");
        // It says where the CAs it trusts come from.
        assert!(
            m.contains("; trust store: OpenSSL's default, the file ")
                && m.contains(" and the directory "),
            "{m}"
        );
        let insecure = Options {
            tls: TlsOptions {
                insecure_skip_verify: true,
                ..TlsOptions::default()
            },
            ..opts
        };
        echo_and_close(&expect_upgraded(connect(&url, &insecure)));
    });
}

#[test]
fn expired_certificate_is_refused_unless_verification_is_skipped() {
    let pki = Pki::new();
    let server = tls_server(&pki.expired_cert, &pki.expired_key, &[]);
    let url = server.wss("/");
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        assert_verify_fails(&url, &opts, "certificate has expired");
        let mut insecure = opts.clone();
        insecure.tls.insecure_skip_verify = true;
        echo_and_close(&expect_upgraded(connect(&url, &insecure)));
    });
}

#[test]
fn wrong_host_name_is_refused_unless_verification_is_skipped() {
    let pki = Pki::new();
    let server = tls_server(&pki.wrong_host_cert, &pki.wrong_host_key, &[]);
    let by_ip = server.wss("/");
    let by_name = format!("wss://localhost:{}/", server.port);
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        // The chain is trusted; only the name (or address) is wrong.
        assert_verify_fails(&by_ip, &opts, "IP address mismatch");
        assert_verify_fails(&by_name, &opts, "hostname mismatch");
        let mut insecure = opts.clone();
        insecure.tls.insecure_skip_verify = true;
        echo_and_close(&expect_upgraded(connect(&by_name, &insecure)));
    });
}

#[test]
fn unreadable_ca_file_or_mismatched_client_key_is_a_tls_error() {
    let pki = Pki::new();
    let server = tls_server(&pki.server_cert, &pki.server_key, &[]);
    let url = server.wss("/");
    let missing = pki.dir.path().join("no-such-ca.pem");
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        let mut o = opts.clone();
        o.tls.ca_file = Some(missing.clone());
        let e = expect_connect_error(connect(&url, &o));
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("no-such-ca.pem"), "{}", e.message());
        let mut o = opts.clone();
        o.tls.cert_file = Some(pki.client_cert.clone());
        o.tls.key_file = Some(pki.server_key.clone());
        let e = expect_connect_error(connect(&url, &o));
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        drop(pki);
    });
}

// ---------------------------------------------------------------------------
// Client certificates

#[test]
fn client_certificate_is_presented_when_the_server_requires_one() {
    let pki = Pki::new();
    let ca = pki.ca.to_str().unwrap().to_string();
    let server = tls_server(&pki.server_cert, &pki.server_key, &["--client-ca", &ca]);
    let url = server.wss("/");
    let mut opts = trusting(&pki);
    opts.tls.cert_file = Some(pki.client_cert.clone());
    opts.tls.key_file = Some(pki.client_key.clone());
    watchdog(WATCHDOG_SECS, move || {
        echo_and_close(&expect_upgraded(connect(&url, &opts)));
        drop(pki);
    });
}

#[test]
fn missing_or_untrusted_client_certificate_is_refused() {
    let pki = Pki::new();
    let ca = pki.ca.to_str().unwrap().to_string();
    let server = tls_server(&pki.server_cert, &pki.server_key, &["--client-ca", &ca]);
    let url = server.wss("/");
    let without = trusting(&pki);
    let mut rogue = trusting(&pki);
    rogue.tls.cert_file = Some(pki.rogue_client_cert.clone());
    rogue.tls.key_file = Some(pki.rogue_client_key.clone());
    watchdog(WATCHDOG_SECS, move || {
        for (what, opts, alert) in [
            ("no certificate", without, "certificate required"),
            ("untrusted certificate", rogue, "unknown ca"),
        ] {
            // Several attempts: which of write or read sees the alert first
            // is a race, and both paths must report it.
            for _ in 0..4 {
                let e = expect_connect_error(connect(&url, &opts));
                // With TLS 1.3 the server's alert arrives after the client has
                // finished its side of the handshake, so it surfaces on the first
                // write or read. Either way it is a TLS failure and its detail
                // (OpenSSL's alert text) must reach the caller.
                assert_eq!(e.kind(), ErrorKind::Tls, "{what}: {:?}: {e}", e.kind());
                assert_eq!(e.close_code(), None);
                assert!(
                    e.message().contains(alert),
                    "{what}: {alert:?} not in {:?}",
                    e.message()
                );
            }
        }
        drop(pki);
    });
}

// ---------------------------------------------------------------------------
// IPv6

/// Can we listen on ::1 here? Prints a note and returns false if not.
fn ipv6_loopback_available() -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("NOTE: skipping the IPv6 test: cannot bind [::1]: {e}");
            false
        }
    }
}

#[test]
fn ipv6_loopback_echo_ws_and_wss() {
    if !ipv6_loopback_available() {
        return;
    }
    let pki = Pki::new();
    let plain = match EchoServer::try_start(&["--host", "::1"]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("NOTE: skipping the IPv6 test: the echo server cannot use ::1: {e}");
            return;
        }
    };
    let tls = tls_server(&pki.server_cert, &pki.server_key, &["--host", "::1"]);
    let (ws_url, headers_url, wss_url) = (plain.ws("/"), plain.ws("/headers"), tls.wss("/"));
    assert!(ws_url.starts_with("ws://[::1]:"), "{ws_url}");
    let port = plain.port;
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        let conn = expect_upgraded(connect(&ws_url, &Options::default()));
        echo_and_close(&conn);
        // The Host header keeps the brackets.
        let conn = expect_upgraded(connect(&headers_url, &Options::default()));
        let m = conn.recv_message().unwrap().unwrap();
        let headers = parse_flat_json(std::str::from_utf8(&m.data).unwrap());
        let host = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone());
        assert_eq!(host, Some(format!("[::1]:{port}")));
        // wss to an IPv6 address: the certificate's IP SAN ::1 is checked.
        echo_and_close(&expect_upgraded(connect(&wss_url, &opts)));
    });
}

// ---------------------------------------------------------------------------
// Timeouts

#[test]
fn handshake_timeout_when_the_server_never_answers() {
    watchdog(WATCHDOG_SECS, || {
        // Plain: the server reads the request and says nothing.
        let server = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            wait_eof(&mut s)
        });
        let opts = Options {
            handshake_timeout: Some(Duration::from_millis(500)),
            ..Options::default()
        };
        let e = expect_connect_error(connect(&server.url("/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert_eq!(e.close_code(), None);
        assert!(
            server.join(),
            "the client did not close the socket after the timeout"
        );
        // TLS: the server accepts TCP but never starts the TLS handshake.
        let server = RawServer::start(|mut s: TcpStream| wait_eof(&mut s));
        let url = format!("wss://127.0.0.1:{}/", server.port);
        let e = expect_connect_error(connect(&url, &opts));
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(server.join());
    });
}

#[test]
fn read_timeout_on_a_silent_server_leaves_the_connection_usable() {
    let server = EchoServer::start(&[]);
    let url = server.ws("/silent");
    watchdog(WATCHDOG_SECS, move || {
        let opts = Options {
            read_timeout: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&url, &opts));
        for _ in 0..2 {
            let e = conn.recv_message().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            assert_eq!(e.close_code(), None, "a timeout is not a fail");
            assert_eq!(conn.state(), State::Open);
            conn.send_text("still here").unwrap();
            conn.ping(b"p").unwrap();
        }
        // The close handshake still works (websockets answers it even
        // though the handler never reads).
        conn.close(Some(1000), "").unwrap();
        assert!(conn.recv_message().unwrap().is_none());
    });
}

/// A raw peer sends the first half of a frame, waits for the client's
/// message (sent after its read timeout), then sends the second half and
/// echoes. The message must arrive whole: a timeout mid-frame loses nothing.
fn timeout_mid_frame<S: std::io::Read + Write>(s: &mut S) -> Vec<u8> {
    let payload = random_bytes(10_000, 9);
    let whole = frame(true, 0, 2, &payload);
    s.write_all(&whole[..5_000]).unwrap();
    s.flush().unwrap();
    let (data, _) = read_message(s);
    s.write_all(&whole[5_000..]).unwrap();
    s.write_all(&frame(true, 0, 1, &data[0].payload)).unwrap();
    s.write_all(&close_frame(1000, "")).unwrap();
    s.flush().unwrap();
    // Wait for the client's close frame.
    while let Ok(Some(f)) = read_frame(s) {
        if f.is_close() {
            break;
        }
    }
    payload
}

fn client_side_of_timeout_mid_frame(conn: &Connection) -> Vec<u8> {
    let e = conn.recv_message().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(conn.state(), State::Open);
    conn.send_text("after the timeout").unwrap();
    let m = conn.recv_message().unwrap().unwrap();
    let echo = conn.recv_message().unwrap().unwrap();
    assert_eq!(echo.data, b"after the timeout");
    assert!(conn.recv_message().unwrap().is_none());
    m.data
}

#[test]
fn read_timeout_in_the_middle_of_a_frame_loses_nothing() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(|mut s: TcpStream| {
            accept_ws(&mut s, "");
            timeout_mid_frame(&mut s)
        });
        let opts = Options {
            read_timeout: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let got = client_side_of_timeout_mid_frame(&conn);
        assert!(
            got == server.join(),
            "the message was damaged by the timeout"
        );
    });
}

#[test]
fn read_timeout_in_the_middle_of_a_frame_over_tls_loses_nothing() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let mut opts = trusting(&pki);
    opts.read_timeout = Some(Duration::from_millis(300));
    watchdog(WATCHDOG_SECS, move || {
        let server = RawServer::start_tls(acceptor, |mut s: SslStream<TcpStream>| {
            accept_ws(&mut s, "");
            timeout_mid_frame(&mut s)
        });
        let url = format!("wss://localhost:{}/", server.port);
        let conn = expect_upgraded(connect(&url, &opts));
        let got = client_side_of_timeout_mid_frame(&conn);
        assert!(
            got == server.join(),
            "the message was damaged by the timeout"
        );
        drop(pki);
    });
}

#[test]
fn write_timeout_when_the_server_stops_reading() {
    watchdog(WATCHDOG_SECS, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            // Never read; hold the socket until the client has given up.
            let _ = rx.recv_timeout(Duration::from_secs(30));
            drop(s);
        });
        let opts = Options {
            write_timeout: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &opts));
        let chunk = vec![0u8; 1 << 20];
        let mut sent = 0usize;
        let e = loop {
            match conn.send_binary(&chunk) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1024, "1 GiB went into a socket nobody reads");
        };
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        // The rest of the message stays queued: nothing is cut, the
        // connection stays usable, and the next send waits its turn.
        assert_eq!(conn.state(), State::Open);
        assert!(conn.queued_bytes() > 0);
        assert_eq!(conn.send_text("x").unwrap_err().kind(), ErrorKind::Timeout);
        tx.send(()).unwrap();
        server.join();
    });
}

#[test]
fn refused_connection_is_a_connect_error() {
    watchdog(WATCHDOG_SECS, || {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        }; // closed again: nothing listens there now
        for scheme in ["ws", "wss"] {
            let url = format!("{scheme}://127.0.0.1:{port}/");
            let e = expect_connect_error(connect(&url, &Options::default()));
            assert_eq!(e.kind(), ErrorKind::Connect, "{url}: {e}");
            assert_eq!(e.close_code(), None);
        }
    });
}

/// TLS settings are shared between connections (one parse of the CA store),
/// but a CA file that changes on disk is read again.
#[test]
fn a_renewed_ca_file_is_picked_up() {
    let first = Pki::new();
    let second = Pki::new();
    let server1 = tls_server(&first.server_cert, &first.server_key, &[]);
    let server2 = tls_server(&second.server_cert, &second.server_key, &[]);
    let (url1, url2) = (server1.wss("/"), server2.wss("/"));
    let dir = TempDir::new("ca-renewal");
    let ca = dir.path().join("ca.pem");
    std::fs::copy(&first.ca, &ca).unwrap();
    let opts = Options {
        tls: TlsOptions {
            ca_file: Some(ca.clone()),
            ..TlsOptions::default()
        },
        handshake_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    };
    watchdog(WATCHDOG_SECS, move || {
        echo_and_close(&expect_upgraded(connect(&url1, &opts)));
        echo_and_close(&expect_upgraded(connect(&url1, &opts)));
        let m = assert_verify_fails(&url2, &opts, "unable to get local issuer certificate");
        let named = format!("; trust store: the CA file {}", ca.display());
        assert!(m.ends_with(&named), "{named:?} not at the end of {m:?}");
        std::thread::sleep(Duration::from_millis(20)); // a distinct mtime
        std::fs::copy(&second.ca, &ca).unwrap();
        echo_and_close(&expect_upgraded(connect(&url2, &opts)));
        drop((first, second, dir));
    });
}

// ---------------------------------------------------------------------------
// TLS options: versions, ciphers, pinning, server name

/// An acceptor with `cert`, tuned by `tune` (versions, ciphers).
fn acceptor_with(
    cert: &Path,
    key: &Path,
    tune: impl FnOnce(&mut SslAcceptorBuilder),
) -> SslAcceptor {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate_chain_file(cert).unwrap();
    b.set_private_key_file(key, SslFiletype::PEM).unwrap();
    tune(&mut b);
    b.build()
}

/// What the raw wss server saw of one connection: the SNI of a handshake
/// that succeeded, or OpenSSL's error.
type Seen = std::result::Result<Option<String>, String>;

/// A raw wss server for `conns` connections in turn: each one whose TLS
/// handshake succeeds gets a 101 and is held until the client closes it.
fn raw_wss_server(acceptor: SslAcceptor, conns: usize) -> (u16, JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        (0..conns)
            .map(|_| {
                let (tcp, _) = listener.accept().unwrap();
                tcp.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
                tcp.set_write_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
                let mut tls = acceptor.accept(tcp).map_err(|e| e.to_string())?;
                let sni = tls
                    .ssl()
                    .servername(NameType::HOST_NAME)
                    .map(str::to_string);
                accept_ws(&mut tls, "");
                wait_eof(&mut tls);
                Ok(sni)
            })
            .collect()
    });
    (port, handle)
}

/// `connect` fails with a TLS error whose message has `words`.
fn assert_tls_fails(url: &str, opts: &Options, words: &str) {
    let e = expect_connect_error(connect(url, opts));
    assert_eq!(e.kind(), ErrorKind::Tls, "{url}: {e}");
    assert!(e.message().contains(words), "{words:?} not in {e}");
}

#[test]
fn min_tls_1_3_refuses_a_tls_1_2_only_server() {
    let pki = Pki::new();
    let acceptor = acceptor_with(&pki.server_cert, &pki.server_key, |b| {
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap()
    });
    let mut opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        let (port, server) = raw_wss_server(acceptor, 3);
        let url = format!("wss://localhost:{port}/");
        drop(expect_upgraded(connect(&url, &opts)));
        opts.tls.set_min_version(Some(TlsVersion::Tls12));
        drop(expect_upgraded(connect(&url, &opts)));
        // Same files, another floor: not the connector cached above.
        opts.tls.set_min_version(Some(TlsVersion::Tls13));
        assert_tls_fails(&url, &opts, "the server supports none of our TLS versions");
        let seen = server.join().unwrap();
        assert!(seen[0].is_ok() && seen[1].is_ok(), "{seen:?}");
        assert!(seen[2].is_err(), "{seen:?}");
        drop(pki);
    });
}

#[test]
fn a_cipher_list_without_the_servers_ciphers_fails() {
    let pki = Pki::new();
    // The server key is ECDSA P-256.
    let tls12 = acceptor_with(&pki.server_cert, &pki.server_key, |b| {
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        b.set_cipher_list("ECDHE-ECDSA-AES128-GCM-SHA256").unwrap();
    });
    let tls13 = acceptor_with(&pki.server_cert, &pki.server_key, |b| {
        b.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
        b.set_ciphersuites("TLS_AES_128_GCM_SHA256").unwrap();
    });
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        let (port, server) = raw_wss_server(tls12, 3);
        let url = format!("wss://localhost:{port}/");
        drop(expect_upgraded(connect(&url, &opts)));
        let mut o = opts.clone();
        o.tls
            .set_cipher_list(Some("ECDHE-ECDSA-AES256-GCM-SHA384"))
            .unwrap();
        assert_tls_fails(&url, &o, "no cipher or version in common");
        o.tls
            .set_cipher_list(Some(
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
            ))
            .unwrap();
        drop(expect_upgraded(connect(&url, &o)));
        let seen = server.join().unwrap();
        assert!(
            seen[0].is_ok() && seen[1].is_err() && seen[2].is_ok(),
            "{seen:?}"
        );

        let (port, server) = raw_wss_server(tls13, 3);
        let url = format!("wss://localhost:{port}/");
        drop(expect_upgraded(connect(&url, &opts)));
        let mut o = opts.clone();
        o.tls
            .set_ciphersuites(Some("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"))
            .unwrap();
        assert_tls_fails(&url, &o, "no cipher or version in common");
        o.tls
            .set_ciphersuites(Some("TLS_AES_128_GCM_SHA256"))
            .unwrap();
        drop(expect_upgraded(connect(&url, &o)));
        let seen = server.join().unwrap();
        assert!(
            seen[0].is_ok() && seen[1].is_err() && seen[2].is_ok(),
            "{seen:?}"
        );
        drop(pki);
    });
}

#[test]
fn a_server_name_override_connects_to_an_address_with_a_certificate_for_another_name() {
    let pki = Pki::new();
    // The certificate is for wrong.example only.
    let acceptor = acceptor_with(&pki.wrong_host_cert, &pki.wrong_host_key, |_| {});
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        let (port, server) = raw_wss_server(acceptor, 3);
        let url = format!("wss://127.0.0.1:{port}/");
        assert_verify_fails(&url, &opts, "IP address mismatch");
        let mut o = opts.clone();
        o.tls.set_server_name(Some("wrong.example")).unwrap();
        drop(expect_upgraded(connect(&url, &o)));
        o.tls.set_server_name(Some("other.example")).unwrap();
        assert_verify_fails(&url, &o, "hostname mismatch");
        let seen = server.join().unwrap();
        assert!(seen[0].is_err() && seen[2].is_err(), "{seen:?}");
        // Sent as SNI too; no SNI for an address.
        assert_eq!(seen[1], Ok(Some("wrong.example".to_string())));
        drop(pki);
    });
}

/// `sha256//` and the base64 SHA-256 of the public key of `cert`.
fn pin_of(cert: &Path) -> String {
    let cert = X509::from_pem(&std::fs::read(cert).unwrap()).unwrap();
    let der = cert.public_key().unwrap().public_key_to_der().unwrap();
    format!(
        "sha256//{}",
        openssl::base64::encode_block(&openssl::sha::sha256(&der))
    )
}

#[test]
fn a_pinned_public_key_accepts_the_servers_key_and_refuses_another() {
    let pki = Pki::new();
    let server = tls_server(&pki.server_cert, &pki.server_key, &[]);
    let url = server.wss("/");
    let right = pin_of(&pki.server_cert);
    let other = pin_of(&pki.client_cert);
    let key_file = pki.dir.path().join("server-public.pem");
    let cert = X509::from_pem(&std::fs::read(&pki.server_cert).unwrap()).unwrap();
    std::fs::write(
        &key_file,
        cert.public_key().unwrap().public_key_to_pem().unwrap(),
    )
    .unwrap();
    let opts = trusting(&pki);
    watchdog(WATCHDOG_SECS, move || {
        for pin in [
            right.clone(),
            format!("{other};{right}"),
            key_file.to_str().unwrap().to_string(),
        ] {
            let mut o = opts.clone();
            o.tls.set_pinned_public_key(Some(&pin)).unwrap();
            echo_and_close(&expect_upgraded(connect(&url, &o)));
        }
        let mut wrong = opts.clone();
        wrong.tls.set_pinned_public_key(Some(&other)).unwrap();
        let mut insecure = wrong.clone();
        insecure.tls.insecure_skip_verify = true;
        // A pin is checked even when verification is skipped (as in curl).
        for o in [wrong, insecure] {
            let e = expect_connect_error(connect(&url, &o));
            assert_eq!(e.kind(), ErrorKind::TlsVerify, "{e}");
            assert!(
                e.message().starts_with("public key pin mismatch: ")
                    && e.message().contains(&right),
                "{e}"
            );
        }
        drop(pki);
    });
}
