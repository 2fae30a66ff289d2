//! Issue #11: the redirect policy. Credentials (Authorization, Cookie,
//! headers marked sensitive, the TLS client certificate) go only to the
//! origin they were set for, as in curl; http(s) Locations map onto ws(s);
//! other schemes are refused; every hop has the first request's limits.
//! Real servers on 127.0.0.1 and "localhost" (another origin).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use common::*;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use wsclient::transport::TlsOptions;
use wsclient::{connect, ErrorKind, Options};

const WATCHDOG_SECS: u64 = 60;

/// A server on 127.0.0.1 that answers each connection with
/// `answer(port, request)` and reports every request it read.
fn recording_server<S, F>(
    wrap: impl Fn(std::net::TcpStream) -> Option<S> + Send + 'static,
    answer: F,
) -> (u16, mpsc::Receiver<ClientRequest>)
where
    S: Read + Write,
    F: Fn(u16, &ClientRequest) -> String + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { break };
            tcp.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
            let Some(mut s) = wrap(tcp) else { continue };
            let Ok(request) = read_request(&mut s) else {
                continue;
            };
            let _ = s.write_all(answer(port, &request).as_bytes());
            if tx.send(request).is_err() {
                break;
            }
            let _ = s.read(&mut [0u8; 64]);
        }
    });
    (port, rx)
}

fn plain_server<F>(answer: F) -> (u16, mpsc::Receiver<ClientRequest>)
where
    F: Fn(u16, &ClientRequest) -> String + Send + 'static,
{
    recording_server(Some, answer)
}

fn redirect_to(location: String) -> impl Fn(u16, &ClientRequest) -> String {
    move |port, _| {
        let location = location.replace("{port}", &port.to_string());
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
    }
}

fn forbidden(_: u16, _: &ClientRequest) -> String {
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".into()
}

fn with_credentials() -> Options {
    Options {
        headers: vec![
            ("Authorization".into(), "Bearer secret".into()),
            ("Cookie".into(), "session=secret".into()),
            ("X-Api-Token".into(), "secret".into()),
            ("X-Plain".into(), "public".into()),
        ],
        sensitive_headers: vec!["x-api-token".into()],
        max_redirects: 2,
        ..Options::default()
    }
}

const SECRETS: [&str; 3] = ["Authorization", "Cookie", "X-Api-Token"];

#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    watchdog(WATCHDOG_SECS, || {
        let (b, at_b) = plain_server(forbidden);
        let (a, at_a) = plain_server(redirect_to(format!("ws://localhost:{b}/next")));
        let r = expect_response(connect(
            &format!("ws://127.0.0.1:{a}/"),
            &with_credentials(),
        ));
        assert_eq!(r.status, 403);
        let first = at_a.recv().unwrap();
        for name in SECRETS {
            assert!(
                first.header(name).is_some(),
                "{name} not sent to the origin"
            );
        }
        let second = at_b.recv().unwrap();
        assert_eq!(second.header("X-Plain"), Some("public"));
        for name in SECRETS {
            assert_eq!(second.header(name), None, "{name} leaked to another origin");
        }
        // The same host on another port is another origin too.
        let (c, at_c) = plain_server(redirect_to(format!("ws://127.0.0.1:{b}/next")));
        expect_response(connect(
            &format!("ws://127.0.0.1:{c}/"),
            &with_credentials(),
        ));
        at_c.recv().unwrap();
        let second = at_b.recv().unwrap();
        assert!(
            SECRETS.iter().all(|n| second.header(n).is_none()),
            "{second:?}"
        );
    });
}

#[test]
fn credentials_follow_a_redirect_within_the_origin_or_when_allowed() {
    watchdog(WATCHDOG_SECS, || {
        let (a, at_a) = plain_server(|port, req: &ClientRequest| {
            if req.request_line.contains("/next") {
                response_101(req, "")
            } else {
                redirect_to(format!("ws://127.0.0.1:{port}/next"))(port, req)
            }
        });
        expect_upgraded(connect(
            &format!("ws://127.0.0.1:{a}/"),
            &with_credentials(),
        ));
        at_a.recv().unwrap();
        let second = at_a.recv().unwrap();
        assert!(second.request_line.contains("/next"));
        for name in SECRETS {
            assert!(
                second.header(name).is_some(),
                "{name} dropped within the origin"
            );
        }
        // Opted in: credentials go everywhere.
        let (b, at_b) = plain_server(forbidden);
        let (c, _at_c) = plain_server(redirect_to(format!("ws://localhost:{b}/next")));
        let opts = Options {
            redirect_credentials: true,
            ..with_credentials()
        };
        expect_response(connect(&format!("ws://127.0.0.1:{c}/"), &opts));
        let second = at_b.recv().unwrap();
        assert_eq!(second.header("Authorization"), Some("Bearer secret"));
        assert_eq!(second.header("X-Api-Token"), Some("secret"));
    });
}

/// A TLS server that asks for (but does not require) a client certificate
/// and reports whether one was presented.
fn cert_reporting_server(
    pki: &Pki,
    answer: impl Fn(u16, &ClientRequest) -> String + Send + 'static,
) -> (u16, mpsc::Receiver<bool>) {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate_chain_file(&pki.server_cert).unwrap();
    b.set_private_key_file(&pki.server_key, SslFiletype::PEM)
        .unwrap();
    b.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    let acceptor = b.build();
    let (presented_tx, presented) = mpsc::channel();
    let (port, requests) = recording_server(
        move |tcp| {
            let tls = acceptor.accept(tcp).ok()?;
            let _ = presented_tx.send(tls.ssl().peer_certificate().is_some());
            Some(tls)
        },
        answer,
    );
    // Keep the request channel open for as long as the server runs.
    thread::spawn(move || while requests.recv().is_ok() {});
    (port, presented)
}

#[test]
fn the_client_certificate_is_not_presented_to_another_origin() {
    let pki = Pki::new();
    let (b, cert_at_b) = cert_reporting_server(&pki, forbidden);
    let (a, cert_at_a) =
        cert_reporting_server(&pki, redirect_to(format!("wss://localhost:{b}/next")));
    let opts = Options {
        tls: TlsOptions {
            ca_file: Some(pki.ca.clone()),
            cert_file: Some(pki.client_cert.clone()),
            key_file: Some(pki.client_key.clone()),
            ..TlsOptions::default()
        },
        max_redirects: 1,
        ..Options::default()
    };
    watchdog(WATCHDOG_SECS, move || {
        let r = expect_response(connect(&format!("wss://127.0.0.1:{a}/"), &opts));
        assert_eq!(r.status, 403);
        assert!(cert_at_a.recv().unwrap(), "no certificate for the origin");
        assert!(
            !cert_at_b.recv().unwrap(),
            "certificate shown to another origin"
        );
        drop(pki);
    });
}

#[test]
fn http_locations_map_to_ws_and_other_schemes_are_refused() {
    watchdog(WATCHDOG_SECS, || {
        let (b, at_b) = plain_server(|_, req: &ClientRequest| response_101(req, ""));
        let (a, _at_a) = plain_server(redirect_to(format!("http://127.0.0.1:{b}/mapped?x=1")));
        let opts = Options {
            max_redirects: 1,
            ..Options::default()
        };
        expect_upgraded(connect(&format!("ws://127.0.0.1:{a}/"), &opts));
        let req = at_b.recv().unwrap();
        assert!(req.request_line.starts_with("GET /mapped?x=1 "), "{req:?}");
        assert!(req.header("Sec-WebSocket-Key").is_some());
        for location in [
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            let (c, _at_c) = plain_server(redirect_to(location.into()));
            let e = expect_connect_error(connect(&format!("ws://127.0.0.1:{c}/"), &opts));
            assert_eq!(e.kind(), ErrorKind::Redirect, "{location}: {e}");
        }
    });
}

#[test]
fn every_hop_has_the_first_requests_limits() {
    watchdog(WATCHDOG_SECS, || {
        // The second hop answers with a header block past the limit.
        let (b, _at_b) = plain_server(|_, _: &ClientRequest| {
            format!(
                "HTTP/1.1 403 Forbidden\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
                "x".repeat(8 << 10)
            )
        });
        let (a, _at_a) = plain_server(redirect_to(format!("ws://127.0.0.1:{b}/")));
        let opts = Options {
            max_redirects: 1,
            max_handshake_size: 4 << 10,
            ..Options::default()
        };
        let e = expect_connect_error(connect(&format!("ws://127.0.0.1:{a}/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
    });
}
