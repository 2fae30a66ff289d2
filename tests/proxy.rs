//! Issue #15: connecting through an HTTP CONNECT proxy. The proxy is
//! PyPI's proxy.py (tests/servers/proxy_server.py), which reports each tunnel
//! it opens so the tests can tell the traffic really went through it; raw
//! proxies written here cover the request's exact form, silence and
//! misbehaviour.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use wsclient::transport::TlsOptions;
use wsclient::{connect, Connection, ErrorKind, MessageType, Options, Proxy};

const WATCHDOG_SECS: u64 = 60;
const AUTH: &str = "alice:s3cr%20t";

/// proxy.py, optionally requiring `user:password`.
struct ProxyServer(EchoServer);

impl ProxyServer {
    fn start(basic_auth: Option<&str>) -> ProxyServer {
        let args = match basic_auth {
            Some(auth) => vec!["--basic-auth", auth],
            None => vec![],
        };
        ProxyServer(
            EchoServer::try_start_script("proxy_server.py", &args)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    /// The proxy's URL with `userinfo` (`user:password`, percent-encoded).
    fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("http://{u}@127.0.0.1:{}", self.0.port),
            None => format!("http://127.0.0.1:{}", self.0.port),
        }
    }

    fn options(&self, userinfo: Option<&str>) -> Options {
        Options {
            proxy: Some(Proxy::parse(&self.url(userinfo)).unwrap()),
            handshake_timeout: Some(Duration::from_secs(20)),
            ..Options::default()
        }
    }

    /// Whether the proxy reported a tunnel to `authority` (it prints the
    /// line before connecting upstream; the pipe may lag a little).
    fn tunnelled_to(&self, authority: &str) -> bool {
        let want = format!("CONNECT {authority}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.0.stdout.lock().unwrap().contains(&want) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn echo_and_close(conn: &mut Connection) {
    conn.send_text("through the tunnel").unwrap();
    let m = conn.recv_message().unwrap().unwrap();
    assert_eq!(
        (m.kind, m.data.as_slice()),
        (MessageType::Text, &b"through the tunnel"[..])
    );
    let blob = random_bytes(200_000, 7);
    conn.send_binary(&blob).unwrap();
    assert!(conn.recv_message().unwrap().unwrap().data == blob);
    conn.close(Some(1000), "bye").unwrap();
    assert!(conn.recv_message().unwrap().is_none());
    assert_eq!(conn.peer_close().unwrap().code, Some(1000));
}

/// ws:// and wss:// (verified by name: SNI and the certificate check are for
/// the origin, not the proxy) through a proxy with or without auth.
fn echo_through(proxy_auth: Option<&str>) {
    let proxy = ProxyServer::start(proxy_auth.map(|_| "alice:s3cr t"));
    let pki = Pki::new();
    let plain = EchoServer::start(&[]);
    let tls = EchoServer::start(&[
        "--cert",
        pki.server_cert.to_str().unwrap(),
        "--key",
        pki.server_key.to_str().unwrap(),
    ]);
    let mut opts = proxy.options(proxy_auth);
    opts.tls = TlsOptions {
        ca_file: Some(pki.ca.clone()),
        ..TlsOptions::default()
    };
    let (ws, wss) = (plain.ws("/"), format!("wss://localhost:{}/", tls.port));
    watchdog(WATCHDOG_SECS, move || {
        echo_and_close(&mut expect_upgraded(connect(&ws, &opts)));
        assert!(proxy.tunnelled_to(&format!("127.0.0.1:{}", plain.port)));
        echo_and_close(&mut expect_upgraded(connect(&wss, &opts)));
        assert!(proxy.tunnelled_to(&format!("localhost:{}", tls.port)));
    });
}

#[test]
fn ws_and_wss_through_a_proxy() {
    echo_through(None);
}

#[test]
fn ws_and_wss_through_a_proxy_with_basic_auth() {
    echo_through(Some(AUTH));
}

#[test]
fn wrong_or_missing_credentials_are_a_407_proxy_error_with_the_answer() {
    let proxy = ProxyServer::start(Some("alice:s3cr t"));
    let server = EchoServer::start(&[]);
    let url = server.ws("/");
    watchdog(WATCHDOG_SECS, move || {
        for userinfo in [Some("alice:wrong"), None] {
            let e = expect_connect_error(connect(&url, &proxy.options(userinfo)));
            assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
            assert!(e.message().contains("HTTP 407"), "{e}");
            assert!(!e.message().contains("wrong"), "the password leaked: {e}");
            let answer = e.response().expect("the proxy's answer");
            assert_eq!(answer.status, 407);
            assert!(answer.header("Proxy-Authenticate").is_some());
        }
        assert!(!proxy.tunnelled_to(&format!("127.0.0.1:{}", server.port)));
    });
}

#[test]
fn an_unreachable_origin_is_the_proxys_502() {
    let proxy = ProxyServer::start(None);
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    watchdog(WATCHDOG_SECS, move || {
        let url = format!("ws://127.0.0.1:{port}/");
        let e = expect_connect_error(connect(&url, &proxy.options(None)));
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert_eq!(e.response().unwrap().status, 502);
    });
}

#[test]
fn a_proxy_that_refuses_tcp_is_a_connect_error_naming_the_proxy() {
    watchdog(WATCHDOG_SECS, || {
        let opts = Options {
            proxy: Some(Proxy::parse("127.0.0.1:1").unwrap()),
            ..Options::default()
        };
        let e = expect_connect_error(connect("ws://example.com/", &opts));
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert!(e.message().starts_with("proxy 127.0.0.1:1: "), "{e}");
    });
}

/// A raw proxy: the exact CONNECT request, then the WebSocket handshake for
/// the origin inside the tunnel (origin-form target, the origin's Host).
#[test]
fn the_tunnel_carries_the_origins_handshake() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            let connect = read_request(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap();
            let upgrade = accept_ws(&mut s, "");
            s.write_all(&close_frame(1000, "")).unwrap();
            let _ = wait_eof(&mut s);
            (connect, upgrade)
        });
        let opts = Options {
            proxy: Some(
                Proxy::parse(&format!("http://u:p%40ss%3Aw@127.0.0.1:{}", raw.port)).unwrap(),
            ),
            ..Options::default()
        };
        let mut conn = expect_upgraded(connect("ws://origin.example:8765/chat?x=1", &opts));
        assert!(conn.recv_message().unwrap().is_none());
        drop(conn);
        let (connect_request, upgrade) = raw.join();
        assert_eq!(
            connect_request.request_line,
            "CONNECT origin.example:8765 HTTP/1.1"
        );
        assert_eq!(connect_request.header("Host"), Some("origin.example:8765"));
        // Percent-decoded before encoding: base64("u:p@ss:w").
        assert_eq!(
            connect_request.header("Proxy-Authorization"),
            Some("Basic dTpwQHNzOnc=")
        );
        assert_eq!(upgrade.request_line, "GET /chat?x=1 HTTP/1.1");
        assert_eq!(upgrade.header("Host"), Some("origin.example:8765"));
    });
}

#[test]
fn the_handshake_timeout_covers_a_silent_proxy() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            // Trickle a partial answer, then fall silent.
            s.write_all(b"HTTP/1.1 200 ").unwrap();
            wait_eof(&mut s)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("127.0.0.1:{}", raw.port)).unwrap()),
            handshake_timeout: Some(Duration::from_millis(500)),
            ..Options::default()
        };
        let e = expect_connect_error(connect("wss://origin.example/", &opts));
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().starts_with("proxy 127.0.0.1:"), "{e}");
        assert!(
            raw.join(),
            "the client did not close the socket after the timeout"
        );
    });
}

#[test]
fn bytes_after_the_proxys_200_are_refused() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n")
                .unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
            rest
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("127.0.0.1:{}", raw.port)).unwrap()),
            ..Options::default()
        };
        let e = expect_connect_error(connect("ws://origin.example/", &opts));
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("sent data after"), "{e}");
        assert!(
            raw.join().is_empty(),
            "the WebSocket request went out anyway"
        );
    });
}
