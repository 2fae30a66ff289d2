//! Issue #4: what the handshake options put on the wire and how redirects
//! are handled, against Python `websockets` (echo_server.py) and raw servers.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use wsclient::transport::TlsOptions;
use wsclient::{connect, Connection, ErrorKind, Options};

const WATCHDOG_SECS: u64 = 60;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn echo_once(conn: &Connection, text: &str) {
    conn.send_text(text).unwrap();
    assert_eq!(conn.recv_message().unwrap().unwrap().data, text.as_bytes());
}

#[test]
fn custom_headers_origin_and_subprotocols_reach_the_server() {
    let server = EchoServer::start(&["--subprotocol", "chat", "--subprotocol", "superchat"]);
    let url = server.ws("/headers");
    let port = server.port;
    watchdog(WATCHDOG_SECS, move || {
        let opts = Options {
            origin: Some("https://app.example".into()),
            subprotocols: vec!["superchat".into(), "chat".into()],
            headers: vec![
                ("X-Api-Key".into(), "s3cr3t value; with=stuff".into()),
                ("Authorization".into(), "Bearer abc.def".into()),
            ],
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&url, &opts));
        // The server prefers "chat" (its first); the client offered both.
        assert_eq!(conn.subprotocol(), Some("chat"));
        assert_eq!(
            header(conn.response_headers(), "Sec-WebSocket-Protocol"),
            Some("chat")
        );
        let m = conn.recv_message().unwrap().unwrap();
        let seen = parse_flat_json(std::str::from_utf8(&m.data).unwrap());
        assert_eq!(header(&seen, "Origin"), Some("https://app.example"));
        assert_eq!(
            header(&seen, "Sec-WebSocket-Protocol"),
            Some("superchat, chat")
        );
        assert_eq!(header(&seen, "X-Api-Key"), Some("s3cr3t value; with=stuff"));
        assert_eq!(header(&seen, "Authorization"), Some("Bearer abc.def"));
        let host = format!("127.0.0.1:{port}");
        assert_eq!(header(&seen, "Host"), Some(host.as_str()));
        assert_eq!(header(&seen, "Sec-WebSocket-Version"), Some("13"));
        assert_eq!(
            header(&seen, "Sec-WebSocket-Extensions"),
            None,
            "nothing offered"
        );
        echo_once(&conn, "and then it echoes");
        conn.close(Some(1000), "").unwrap();
        assert!(conn.recv_message().unwrap().is_none());
    });
}

#[test]
fn subprotocol_the_server_does_not_support_gets_its_http_400() {
    let server = EchoServer::start(&["--subprotocol", "chat"]);
    let url = server.ws("/");
    watchdog(WATCHDOG_SECS, move || {
        let opts = Options {
            subprotocols: vec!["mqtt".into()],
            ..Options::default()
        };
        let r = expect_response(connect(&url, &opts));
        assert_eq!(r.status, 400);
        // Nothing offered to a server that requires a subprotocol.
        let r = expect_response(connect(&url, &Options::default()));
        assert_eq!(r.status, 400);
    });
}

#[test]
fn request_target_forms_and_header_injection() {
    watchdog(WATCHDOG_SECS, || {
        let request_line = |opts: Options| {
            let server = RawServer::start(|mut s: TcpStream| {
                let req = read_request(&mut s).unwrap();
                let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                req.request_line
            });
            let url = format!("ws://127.0.0.1:{}/a/b?x=1&y=%20", server.port);
            assert_eq!(expect_response(connect(&url, &opts)).status, 404);
            (server.port, server.join())
        };
        let (_, line) = request_line(Options::default());
        assert_eq!(line, "GET /a/b?x=1&y=%20 HTTP/1.1");
        let (port, line) = request_line(Options {
            absolute_form: true,
            ..Options::default()
        });
        assert_eq!(
            line,
            format!("GET ws://127.0.0.1:{port}/a/b?x=1&y=%20 HTTP/1.1")
        );
        let (_, line) = request_line(Options {
            absolute_form: true,
            strip_host: true,
            ..Options::default()
        });
        assert_eq!(line, "GET /a/b?x=1&y=%20 HTTP/1.1");
        // Caller-supplied CR/LF never reaches the wire: refused up front.
        for opts in [
            Options {
                headers: vec![("X-A".into(), "v\r\nX-Evil: 1".into())],
                ..Options::default()
            },
            Options {
                headers: vec![("Bad Name".into(), "v".into())],
                ..Options::default()
            },
            Options {
                origin: Some("https://a\r\nX-Evil: 1".into()),
                ..Options::default()
            },
            Options {
                subprotocols: vec!["two words".into()],
                ..Options::default()
            },
        ] {
            let e = expect_connect_error(connect("ws://127.0.0.1:9/", &opts));
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        }
    });
}

// ---------------------------------------------------------------------------
// Non-101 answers and redirects

#[test]
fn non_101_from_a_real_server_is_a_response_with_status_headers_and_body() {
    let server = EchoServer::start(&[]);
    let url = server.ws("/status/403");
    watchdog(WATCHDOG_SECS, move || {
        let r = expect_response(connect(&url, &Options::default()));
        assert_eq!((r.status, r.reason.as_str()), (403, "Forbidden"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.body, b"status 403\n");
    });
}

#[test]
fn redirect_is_returned_by_default_and_followed_on_request() {
    let server = EchoServer::start(&[]);
    let url = server.ws("/status/302");
    watchdog(WATCHDOG_SECS, move || {
        let r = expect_response(connect(&url, &Options::default()));
        assert_eq!(r.status, 302);
        assert_eq!(r.header("Location"), Some("/redirected"));
        assert_eq!(r.body, b"status 302\n");
        for status in [301, 302, 303, 307, 308] {
            let url = url.replace("302", &status.to_string());
            let opts = Options {
                max_redirects: 1,
                ..Options::default()
            };
            let conn = expect_upgraded(connect(&url, &opts));
            echo_once(&conn, &format!("followed a {status}"));
        }
    });
}

/// A plain server that answers every connection with `status` and
/// `location`; counts the connections.
fn redirecting_server(status: u16, location: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            counter.fetch_add(1, Ordering::SeqCst);
            s.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
            if read_request(&mut s).is_ok() {
                let location = location.replace("{port}", &port.to_string());
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                );
            }
        }
    });
    (port, count)
}

#[test]
fn redirect_loops_stop_at_max_redirects() {
    watchdog(WATCHDOG_SECS, || {
        let (port, count) = redirecting_server(307, "ws://127.0.0.1:{port}/again".into());
        let opts = Options {
            max_redirects: 3,
            ..Options::default()
        };
        let e = expect_connect_error(connect(&format!("ws://127.0.0.1:{port}/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
        assert_eq!(
            count.load(Ordering::SeqCst),
            4,
            "the first request and 3 redirects"
        );
        // A redirect without a Location is an error too.
        let server = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        let e = expect_connect_error(connect(&server.url("/"), &opts));
        assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
        server.join();
    });
}

#[test]
fn redirect_from_wss_to_ws_is_refused() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let opts = Options {
        tls: TlsOptions {
            ca_file: Some(pki.ca.clone()),
            ..TlsOptions::default()
        },
        max_redirects: 5,
        ..Options::default()
    };
    watchdog(WATCHDOG_SECS, move || {
        // A plain listener the client must never reach.
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        for location in [
            format!("ws://127.0.0.1:{plain_port}/downgraded"),
            format!("http://127.0.0.1:{plain_port}/downgraded"),
        ] {
            let response =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            let server = RawServer::start_tls(acceptor.clone(), move |mut s| {
                read_request(&mut s).unwrap();
                s.write_all(response.as_bytes()).unwrap();
            });
            let url = format!("wss://localhost:{}/", server.port);
            let e = expect_connect_error(connect(&url, &opts));
            assert_eq!(e.kind(), ErrorKind::Redirect, "{location}: {e}");
            assert!(e.message().contains("wss"), "{}", e.message());
            server.join();
        }
        plain.set_nonblocking(true).unwrap();
        let reached = plain.accept();
        assert!(reached.is_err(), "the client followed a wss -> ws redirect");
        drop(pki);
    });
}

#[test]
fn redirect_to_https_location_is_followed_over_wss() {
    let pki = Pki::new();
    let tls = EchoServer::start(&[
        "--cert",
        pki.server_cert.to_str().unwrap(),
        "--key",
        pki.server_key.to_str().unwrap(),
    ]);
    let target = format!("https://localhost:{}/redirected", tls.port);
    let opts = Options {
        tls: TlsOptions {
            ca_file: Some(pki.ca.clone()),
            ..TlsOptions::default()
        },
        max_redirects: 2,
        handshake_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    };
    watchdog(WATCHDOG_SECS, move || {
        let (port, count) = redirecting_server(301, target);
        let conn = expect_upgraded(connect(&format!("ws://127.0.0.1:{port}/start"), &opts));
        echo_once(&conn, "upgraded to wss by a redirect");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        drop(pki);
    });
}

/// Options set directly on the Rust struct get the checks the C setters
/// make, before any connection is attempted.
#[test]
fn invalid_options_are_refused_before_connecting() {
    watchdog(WATCHDOG_SECS, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let bad = [
            Options {
                compression_level: 10,
                ..Options::default()
            },
            Options {
                send_queue_limit: 0,
                ..Options::default()
            },
        ];
        for options in bad {
            let e = expect_connect_error(connect(&url, &options));
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        }
        assert!(
            listener.accept().is_err(),
            "a connection was attempted with invalid options"
        );
    });
}
