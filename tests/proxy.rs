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

fn echo_and_close(conn: &Connection) {
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
        echo_and_close(&expect_upgraded(connect(&ws, &opts)));
        assert!(proxy.tunnelled_to(&format!("127.0.0.1:{}", plain.port)));
        echo_and_close(&expect_upgraded(connect(&wss, &opts)));
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
        let conn = expect_upgraded(connect("ws://origin.example:8765/chat?x=1", &opts));
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

/// 1xx answers before the 200 are interim (RFC 9110 §15.2): skipped.
#[test]
fn interim_answers_before_the_proxys_200_are_skipped() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            read_request(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(
                b"HTTP/1.1 102 Processing\r\nX-Step: 2\r\n\r\n\
                  HTTP/1.1 200 Connection established\r\n\r\n",
            )
            .unwrap();
            accept_ws(&mut s, "");
            s.write_all(&close_frame(1000, "")).unwrap();
            wait_eof(&mut s)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("127.0.0.1:{}", raw.port)).unwrap()),
            ..Options::default()
        };
        let conn = expect_upgraded(connect("ws://origin.example/", &opts));
        assert!(conn.recv_message().unwrap().is_none());
        drop(conn);
        assert!(raw.join(), "the client did not close its socket");
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

// ---------------------------------------------------------------------------
// SOCKS5 (raw proxies written here: RFC 1928 and 1929 by hand)

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Read a SOCKS5 CONNECT request; returns it whole.
fn read_socks_request(s: &mut TcpStream) -> Vec<u8> {
    let mut req = read_n(s, 4);
    let addr_len = match req[3] {
        1 => 4,
        4 => 16,
        3 => {
            let len = read_n(s, 1);
            req.extend_from_slice(&len);
            len[0] as usize
        }
        other => panic!("bad address type {other}"),
    };
    req.extend(read_n(s, addr_len + 2));
    req
}

#[test]
fn socks5h_with_a_password_carries_the_handshake() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            let greeting = read_n(&mut s, 4);
            s.write_all(&[5, 2]).unwrap();
            let mut auth = read_n(&mut s, 2);
            auth.extend(read_n(&mut s, auth[1] as usize + 1));
            let plen = *auth.last().unwrap() as usize;
            auth.extend(read_n(&mut s, plen));
            s.write_all(&[1, 0]).unwrap();
            let request = read_socks_request(&mut s);
            // A bound address by name, to see the client skip it.
            s.write_all(&[5, 0, 0, 3, 3, b'b', b'n', b'd', 0x1f, 0x90])
                .unwrap();
            let upgrade = accept_ws(&mut s, "");
            s.write_all(&close_frame(1000, "")).unwrap();
            let _ = wait_eof(&mut s);
            (greeting, auth, request, upgrade)
        });
        let opts = Options {
            proxy: Some(
                Proxy::parse(&format!("socks5h://us%40r:p%3Aw@127.0.0.1:{}", raw.port)).unwrap(),
            ),
            ..Options::default()
        };
        let conn = expect_upgraded(connect("ws://origin.example:8765/chat", &opts));
        assert!(conn.recv_message().unwrap().is_none());
        drop(conn);
        let (greeting, auth, request, upgrade) = raw.join();
        assert_eq!(greeting, [5, 2, 0, 2]);
        assert_eq!(auth, b"\x01\x04us@r\x03p:w");
        let mut want = vec![5, 1, 0, 3, 14];
        want.extend_from_slice(b"origin.example");
        want.extend_from_slice(&8765u16.to_be_bytes());
        assert_eq!(request, want);
        assert_eq!(upgrade.header("Host"), Some("origin.example:8765"));
    });
}

#[test]
fn socks5_resolves_names_here_and_reports_refusals() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            let greeting = read_n(&mut s, 3);
            s.write_all(&[5, 0]).unwrap();
            let request = read_socks_request(&mut s);
            s.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
            let _ = wait_eof(&mut s);
            (greeting, request)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("socks5://127.0.0.1:{}", raw.port)).unwrap()),
            ..Options::default()
        };
        let e = expect_connect_error(connect("ws://localhost:9/", &opts));
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("connection refused"), "{e}");
        assert!(e.response().is_none());
        let (greeting, request) = raw.join();
        assert_eq!(greeting, [5, 1, 0]);
        // localhost went out as an address (IPv4 or IPv6), never as a name.
        let loopback: &[&[u8]] = &[
            &[5, 1, 0, 1, 127, 0, 0, 1, 0, 9],
            &[
                5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9,
            ],
        ];
        assert!(loopback.contains(&request.as_slice()), "{request:?}");
    });
}

#[test]
fn socks5_authentication_failures_are_proxy_errors() {
    watchdog(WATCHDOG_SECS, || {
        // Wrong password.
        let raw = RawServer::start(|mut s: TcpStream| {
            read_n(&mut s, 4);
            s.write_all(&[5, 2]).unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            s.write_all(&[1, 1]).unwrap();
            wait_eof(&mut s)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("socks5h://u:bad@127.0.0.1:{}", raw.port)).unwrap()),
            ..Options::default()
        };
        let e = expect_connect_error(connect("ws://origin.example/", &opts));
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(
            e.message().contains("refused the user name and password"),
            "{e}"
        );
        assert!(raw.join(), "the client kept the socket open");
        // Credentials required but none given.
        let raw = RawServer::start(|mut s: TcpStream| {
            read_n(&mut s, 3);
            s.write_all(&[5, 0xff]).unwrap();
            wait_eof(&mut s)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("socks5h://127.0.0.1:{}", raw.port)).unwrap()),
            ..Options::default()
        };
        let e = expect_connect_error(connect("ws://origin.example/", &opts));
        assert_eq!(e.kind(), ErrorKind::Proxy, "{e}");
        assert!(e.message().contains("requires authentication"), "{e}");
        assert!(raw.join());
    });
}

#[test]
fn the_handshake_timeout_covers_a_silent_socks_proxy() {
    watchdog(WATCHDOG_SECS, || {
        let raw = RawServer::start(|mut s: TcpStream| {
            read_n(&mut s, 3);
            wait_eof(&mut s)
        });
        let opts = Options {
            proxy: Some(Proxy::parse(&format!("socks5h://127.0.0.1:{}", raw.port)).unwrap()),
            handshake_timeout: Some(Duration::from_millis(500)),
            ..Options::default()
        };
        let e = expect_connect_error(connect("wss://origin.example/", &opts));
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(raw.join());
    });
}
