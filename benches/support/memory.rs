//! Memory per connection: a child process (this binary again, with
//! `--rss-child`) opens N connections to the Python echo server and reports
//! the heap in use (glibc's `mallinfo2`: allocated chunks plus mmapped
//! blocks) before, after opening them, after one message on each, and after
//! enough messages that every compression window has filled, and VmRSS at
//! the end. A fresh process
//! per configuration keeps one configuration's freed heap from hiding the
//! next one's growth.

use std::net::TcpStream;
use std::process::Command;

use wsclient::deflate::DeflateOffer;
use wsclient::{Connection, Options};

use crate::support::clients::connect_wsclient;
use crate::support::json;

pub const CONNECTIONS: usize = 200;
/// Messages per connection for the last figure: ~80 KB of JSON, more than
/// the 64 KiB that zlib's deflate window buffer holds at 15 bits.
pub const MESSAGES: usize = 32;

/// Configurations: (name shown, argument for the child, window bits of the
/// compression state, if any).
pub const CONFIGS: &[(&str, &str, Option<u8>)] = &[
    ("wsclient, no deflate", "plain", None),
    ("wsclient, deflate 15 bits", "deflate15", Some(15)),
    ("wsclient, deflate 10 bits", "deflate10", Some(10)),
    ("tungstenite, no deflate", "tungstenite", None),
];

/// Heap figures of one child, in KiB, and its VmRSS growth at the end.
pub struct Usage {
    pub before: u64,
    pub opened: u64,
    pub one_message: u64,
    pub all_messages: u64,
    pub rss_growth: u64,
    /// What was negotiated, as the child saw it.
    pub negotiated: String,
}

pub fn run_child(config: &str, port: u16) -> Result<Usage, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args(["--rss-child", config, &port.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RSS "))
        .ok_or_else(|| {
            format!(
                "the {config} child failed: {}",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no output")
            )
        })?;
    let mut fields = line.splitn(6, ' ');
    let mut number = || {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or("bad child output")
    };
    Ok(Usage {
        before: number()?,
        opened: number()?,
        one_message: number()?,
        all_messages: number()?,
        rss_growth: number()?,
        negotiated: fields.next().unwrap_or("").to_string(),
    })
}

/// Heap in use, in KiB: allocated chunks plus mmapped blocks.
fn heap_kib() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    ((info.uordblks + info.hblkhd) >> 10) as u64
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

enum Conn {
    Ours(Box<Connection>),
    Tungstenite(Box<tungstenite::WebSocket<TcpStream>>),
}

impl Conn {
    fn open(config: &str, port: u16) -> Conn {
        let uri = format!("ws://127.0.0.1:{port}/");
        let offer = match config {
            "plain" => None,
            "deflate15" => Some(DeflateOffer::default()),
            "deflate10" => Some(
                DeflateOffer::parse("server_max_window_bits=10; client_max_window_bits=10")
                    .expect("offer"),
            ),
            "tungstenite" => {
                let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).expect("TCP_NODELAY");
                let (ws, _) = tungstenite::client(uri, stream).expect("tungstenite handshake");
                return Conn::Tungstenite(Box::new(ws));
            }
            other => panic!("unknown configuration {other}"),
        };
        let options = Options {
            deflate_offers: offer.into_iter().collect(),
            ..Options::default()
        };
        Conn::Ours(connect_wsclient(&uri, &options))
    }

    fn negotiated(&self) -> String {
        match self {
            Conn::Ours(c) => match c.deflate() {
                Some(p) => format!(
                    "server {} bits{}, client {} bits{}",
                    p.server_max_window_bits,
                    if p.server_no_context_takeover {
                        " no takeover"
                    } else {
                        ""
                    },
                    p.client_max_window_bits,
                    if p.client_no_context_takeover {
                        " no takeover"
                    } else {
                        ""
                    },
                ),
                None => "no extension".into(),
            },
            Conn::Tungstenite(_) => "no extension".into(),
        }
    }

    fn echo(&mut self, text: &str) {
        let back = match self {
            Conn::Ours(c) => {
                c.send_text(text).expect("send");
                c.recv_message()
                    .expect("recv")
                    .expect("a message")
                    .data
                    .len()
            }
            Conn::Tungstenite(ws) => {
                ws.send(tungstenite::Message::text(text)).expect("send");
                ws.read().expect("read").len()
            }
        };
        assert_eq!(back, text.len(), "wrong echo");
    }
}

/// The child: `--rss-child CONFIG PORT`; prints one `RSS ...` line.
pub fn child(args: &[String]) {
    let [config, port] = args else {
        panic!("usage: --rss-child CONFIG PORT")
    };
    let port: u16 = port.parse().expect("port");
    let corpus = json::corpus(MESSAGES);
    // One connection first, so that one-time costs (OpenSSL's RNG, zlib,
    // the resolver) are not counted per connection.
    let mut warm = Conn::open(config, port);
    warm.echo(&corpus[0]);
    let negotiated = warm.negotiated();
    drop(warm);
    let (before, rss_before) = (heap_kib(), vm_rss_kib());
    let mut conns: Vec<Conn> = (0..CONNECTIONS).map(|_| Conn::open(config, port)).collect();
    let opened = heap_kib();
    for c in &mut conns {
        c.echo(&corpus[0]);
    }
    let one_message = heap_kib();
    for message in &corpus[1..] {
        for c in &mut conns {
            c.echo(message);
        }
    }
    let all_messages = heap_kib();
    let rss = vm_rss_kib().saturating_sub(rss_before);
    println!("RSS {before} {opened} {one_message} {all_messages} {rss} {negotiated}");
}
