//! The peers the clients talk to, all on 127.0.0.1 port 0: a cheap
//! WebSocket echo server and a length-prefixed raw TCP echo server, each a
//! thread per connection in this process (or in `examples/bench_servers.rs`
//! for the Python benchmark), and the Python `websockets` test server (the
//! one peer here that negotiates permessage-deflate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;

/// Size of the raw protocol's length prefix (a little-endian u32).
pub const RAW_PREFIX: usize = 4;
const RAW_READ_BUFFER: usize = 64 << 10;

/// Accept connections forever, serving each on its own thread.
fn spawn_server(serve: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            stream.set_nodelay(true).expect("TCP_NODELAY");
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// A WebSocket echo server that costs about what the raw echo costs, so
/// that the clients, not the server, set the pace: the handshake is
/// tungstenite's, then every read is echoed with one write, each complete
/// frame unmasked in place and given a server header in front of its
/// payload (frames are echoed one by one, never reassembled; a close is
/// echoed and ends the connection).
pub fn ws_echo() -> SocketAddr {
    spawn_server(|stream| {
        let io = stream.try_clone().expect("clone socket");
        // Clients send nothing before the 101, so tungstenite holds no bytes.
        let _handshake = tungstenite::accept(stream).expect("server handshake");
        serve_reads(io, echo_frames);
    })
}

/// A client frame's header: (header length, payload length, mask key).
fn client_header(b: &[u8]) -> Option<(usize, usize, [u8; 4])> {
    let short = *b.get(1)? as usize & 0x7f;
    let (len, at) = match short {
        126 => (
            u16::from_be_bytes(b.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n, 2),
    };
    let key = b.get(at..at + 4)?.try_into().ok()?;
    Some((at + 4, len, key))
}

/// An unmasked server header for `len` bytes, written to end at `end`:
/// returns where it starts.
fn put_server_header(buf: &mut [u8], end: usize, first: u8, len: usize) -> usize {
    let mut h = [0u8; 10];
    let n = match len {
        0..=125 => {
            h[1] = len as u8;
            2
        }
        126..=0xffff => {
            h[1] = 126;
            h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            h[1] = 127;
            h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    h[0] = first;
    buf[end - n..end].copy_from_slice(&h[..n]);
    end - n
}

fn unmask(data: &mut [u8], key: [u8; 4]) {
    let word = u32::from_ne_bytes(key) as u64;
    let word = word | word << 32;
    let mut words = data.chunks_exact_mut(8);
    for w in &mut words {
        let x = u64::from_ne_bytes((&*w).try_into().unwrap()) ^ word;
        w.copy_from_slice(&x.to_ne_bytes());
    }
    for (b, k) in words.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

/// What `answer` made of one read: the bytes consumed from the front of the
/// buffer, the range of it to write back, and whether to stop after that.
struct Answer {
    consumed: usize,
    reply: Range<usize>,
    last: bool,
}

/// Serve one connection: after each read, `answer` handles the complete
/// messages in `buf[..end]` (growing `buf` to fit one that is larger) and its
/// reply goes out in one write; the incomplete rest moves to the front.
fn serve_reads(mut io: TcpStream, answer: impl Fn(&mut Vec<u8>, usize) -> Answer) {
    let mut buf = vec![0u8; RAW_READ_BUFFER];
    let mut end = 0;
    loop {
        match io.read(&mut buf[end..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
        let Answer {
            consumed,
            reply,
            last,
        } = answer(&mut buf, end);
        if (!reply.is_empty() && io.write_all(&buf[reply]).is_err()) || last {
            return;
        }
        buf.copy_within(consumed..end, 0);
        end -= consumed;
        if end == buf.len() {
            buf.resize(2 * buf.len(), 0);
        }
    }
}

/// The WebSocket echo's answer, built in place: each complete frame's
/// unmasked payload with its (shorter) server header in front, moved down to
/// follow the previous one; a single frame does not move at all.
fn echo_frames(buf: &mut Vec<u8>, end: usize) -> Answer {
    let (mut pos, mut out_start, mut out_end) = (0, None, 0);
    let mut last = false;
    while let Some((header, len, key)) = client_header(&buf[pos..end]) {
        let payload = pos + header;
        if payload + len > end {
            if payload + len > buf.len() {
                buf.resize(payload + len, 0);
            }
            break;
        }
        let first = buf[pos];
        unmask(&mut buf[payload..payload + len], key);
        let at = put_server_header(buf, payload, first, len);
        match out_start {
            None => {
                out_start = Some(at);
                out_end = payload + len;
            }
            Some(_) => {
                buf.copy_within(at..payload + len, out_end);
                out_end += payload + len - at;
            }
        }
        pos = payload + len;
        if first & 0x0f == 0x8 {
            last = true;
            break;
        }
    }
    Answer {
        consumed: pos,
        reply: out_start.unwrap_or(0)..out_end,
        last,
    }
}

/// Raw TCP echo: `u32 length, payload` in, the same bytes out; like the
/// WebSocket echo, every read is answered with one write of the complete
/// messages it finished.
pub fn raw_echo() -> SocketAddr {
    spawn_server(|stream| {
        serve_reads(stream, |buf, end| {
            let mut done = 0;
            while done + RAW_PREFIX <= end {
                let prefix = buf[done..done + RAW_PREFIX].try_into().unwrap();
                let len = RAW_PREFIX + u32::from_le_bytes(prefix) as usize;
                if done + len > end {
                    if done + len > buf.len() {
                        buf.resize(done + len, 0);
                    }
                    break;
                }
                done += len;
            }
            Answer {
                consumed: done,
                reply: 0..done,
                last: false,
            }
        })
    })
}

/// The Python `websockets` echo server of the test suite, with
/// permessage-deflate on offer; killed when dropped.
pub struct PythonServer {
    child: Child,
    /// Held open so that a later print of the server does not hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
}

impl PythonServer {
    /// An error (the reason) when the test venv is missing or the server
    /// does not start: the memory figures are then skipped, not failed.
    pub fn start() -> Result<PythonServer, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("WSCLIENT_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        if !python.exists() {
            return Err(format!("{} is missing (run `make venv`)", python.display()));
        }
        let mut child = Command::new(&python)
            .arg(root.join("tests/servers/echo_server.py"))
            .arg("--deflate")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let read = stdout.read_line(&mut line);
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok());
        match (read, port) {
            (Ok(_), Some(port)) => Ok(PythonServer {
                child,
                _stdout: stdout,
                port,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "the Python echo server did not start (said {line:?})"
                ))
            }
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
