//! Shared helpers for the integration tests: the Python echo server as a
//! child process, raw (hostile) TCP/TLS peers written here, a watchdog that
//! turns a hang into a failure, certificates made with OpenSSL, and a few
//! wire-format helpers that are deliberately independent of the library.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use openssl::ssl::{SslAcceptor, SslStream};
use sha1::{Digest, Sha1};
use wsclient::{Connected, Connection, Error, HttpResponse, Result};

// ---------------------------------------------------------------------------
// Watchdog

/// Run `body` on its own thread and fail the test if it has not finished
/// within `secs` seconds, so a hang is reported instead of stalling CI.
/// A panic inside `body` is propagated as is.
pub fn watchdog<T, F>(secs: u64, body: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let value = body();
        let _ = tx.send(value);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(value) => {
            let _ = handle.join();
            value
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("watchdog: the test did not finish within {secs} s (something hangs)")
        }
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body finished without sending its result"),
        },
    }
}

// ---------------------------------------------------------------------------
// Results of `wsclient::connect` (Connected is not Debug)

pub fn expect_upgraded(result: Result<Connected>) -> Box<Connection> {
    match result {
        Ok(Connected::Upgraded(c)) => c,
        Ok(Connected::Response(r)) => panic!(
            "expected a WebSocket connection, got HTTP {} {} ({:?})",
            r.status,
            r.reason,
            String::from_utf8_lossy(&r.body)
        ),
        Err(e) => panic!(
            "expected a WebSocket connection, got error {:?}: {}",
            e.kind(),
            e
        ),
    }
}

pub fn expect_response(result: Result<Connected>) -> HttpResponse {
    match result {
        Ok(Connected::Response(r)) => r,
        Ok(Connected::Upgraded(_)) => {
            panic!("expected an HTTP response, got a WebSocket connection")
        }
        Err(e) => panic!("expected an HTTP response, got error {:?}: {}", e.kind(), e),
    }
}

pub fn expect_connect_error(result: Result<Connected>) -> Error {
    match result {
        Err(e) => e,
        Ok(Connected::Upgraded(_)) => panic!("expected an error, got a WebSocket connection"),
        Ok(Connected::Response(r)) => {
            panic!("expected an error, got HTTP {} {}", r.status, r.reason)
        }
    }
}

// ---------------------------------------------------------------------------
// Temporary directories

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = TEMP_COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "wsclient-{prefix}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("cannot create a temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// The Python echo server (tests/servers/echo_server.py)

/// The venv Python: $WSCLIENT_PYTHON (exported by the Makefile), else
/// .venv/bin/python in the source tree.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WSCLIENT_PYTHON") {
        let p = PathBuf::from(p);
        if p.exists() {
            return p;
        }
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if p.exists() {
        return p;
    }
    panic!(
        "no Python venv for the test servers: WSCLIENT_PYTHON is unset or missing and {} \
         does not exist; run `make venv` first",
        p.display()
    );
}

fn servers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// Kill the child if the thread that spawned it dies (belt and braces: the
/// guards below kill it on drop).
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A running echo_server.py; killed on drop.
pub struct EchoServer {
    child: Child,
    pub port: u16,
    pub host: String,
    stderr: Arc<Mutex<String>>,
    /// Lines the server printed after `PORT n`.
    pub stdout: Arc<Mutex<Vec<String>>>,
}

impl EchoServer {
    /// Start the server with `args`; panics (with its stderr) if it fails.
    pub fn start(args: &[&str]) -> EchoServer {
        Self::try_start(args).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(args: &[&str]) -> std::result::Result<EchoServer, String> {
        Self::try_start_script("echo_server.py", args)
    }

    /// Start another script of tests/servers that prints `PORT n` first
    /// (e.g. proxy_server.py).
    pub fn try_start_script(
        script: &str,
        args: &[&str],
    ) -> std::result::Result<EchoServer, String> {
        let mut cmd = Command::new(python());
        cmd.arg(servers_dir().join(script))
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start echo_server.py: {e}"))?;
        // Drain stderr (so a chatty server never blocks) and stdout.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let err_buf = stderr.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut b = err_buf.lock().unwrap();
                if b.len() < 1 << 20 {
                    b.push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out_lines = stdout.clone();
        let out_pipe = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(out_pipe).lines();
            let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
            let _ = tx.send(first);
            for line in lines.map_while(|l| l.ok()) {
                out_lines.lock().unwrap().push(line);
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse::<u16>().ok());
        let host = args
            .windows(2)
            .find(|w| w[0] == "--host")
            .map(|w| w[1].to_string())
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let mut server = EchoServer {
            child,
            port: port.unwrap_or(0),
            host,
            stderr,
            stdout,
        };
        if port.is_none() {
            let _ = server.child.kill();
            let _ = server.child.wait();
            thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "{script} {args:?} did not start (first line {first:?}); stderr:\n{}",
                server.stderr.lock().unwrap()
            ));
        }
        Ok(server)
    }

    /// `ws://host:port{path}` (IPv6 hosts in brackets).
    pub fn ws(&self, path: &str) -> String {
        format!("ws://{}:{}{path}", bracket(&self.host), self.port)
    }

    /// `wss://host:port{path}`.
    pub fn wss(&self, path: &str) -> String {
        format!("wss://{}:{}{path}", bracket(&self.host), self.port)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a short Python program with the venv Python, `input` on stdin;
/// returns its stdout. Used as an independent zlib.
pub fn python_filter(code: &str, input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(python());
    cmd.arg("-c")
        .arg(code)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("cannot run python");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("python failed");
    let _ = writer.join();
    assert!(
        out.status.success(),
        "python -c failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Raw DEFLATE (RFC 7692 §7.2.1) of `data` with a `bits` window, with the
/// trailing `00 00 ff ff` removed — computed by Python's zlib.
pub fn py_deflate(data: &[u8], bits: u8) -> Vec<u8> {
    let code = format!(
        "import sys, zlib\n\
         c = zlib.compressobj(6, zlib.DEFLATED, -{bits})\n\
         out = c.compress(sys.stdin.buffer.read()) + c.flush(zlib.Z_SYNC_FLUSH)\n\
         assert out.endswith(b'\\x00\\x00\\xff\\xff')\n\
         sys.stdout.buffer.write(out[:-4])\n"
    );
    python_filter(&code, data)
}

/// Inflate one permessage-deflate message with exactly a `bits` window
/// (zlib rejects back-references beyond it); `Err` with zlib's message.
pub fn py_inflate(data: &[u8], bits: u8) -> std::result::Result<Vec<u8>, String> {
    let code = format!(
        "import sys, zlib\n\
         d = zlib.decompressobj(-{bits})\n\
         try:\n    out = d.decompress(sys.stdin.buffer.read() + b'\\x00\\x00\\xff\\xff')\n\
         except zlib.error as e:\n    sys.stdout.buffer.write(b'ERR ' + str(e).encode()); sys.exit(0)\n\
         sys.stdout.buffer.write(b'OK  ' + out)\n"
    );
    let out = python_filter(&code, data);
    match out.split_at(4) {
        (b"OK  ", rest) => Ok(rest.to_vec()),
        (_, rest) => Err(String::from_utf8_lossy(rest).into_owned()),
    }
}

// ---------------------------------------------------------------------------
// Raw peers

/// A server written here that accepts one connection on 127.0.0.1:0 and
/// runs `handler` on it in a thread.
pub struct RawServer<R> {
    pub port: u16,
    handle: JoinHandle<R>,
}

/// Timeouts on the raw server's socket: long enough never to matter, short
/// enough that a stuck test ends.
pub const RAW_IO_TIMEOUT: Duration = Duration::from_secs(15);

impl<R: Send + 'static> RawServer<R> {
    pub fn start<F>(handler: F) -> RawServer<R>
    where
        F: FnOnce(TcpStream) -> R + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Self::start_on(listener, handler)
    }

    pub fn start_on<F>(listener: TcpListener, handler: F) -> RawServer<R>
    where
        F: FnOnce(TcpStream) -> R + Send + 'static,
    {
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(RAW_IO_TIMEOUT)).unwrap();
            handler(stream)
        });
        RawServer { port, handle }
    }

    /// A TLS server: the handshake is done with `acceptor` before `handler`.
    pub fn start_tls<F>(acceptor: SslAcceptor, handler: F) -> RawServer<R>
    where
        F: FnOnce(SslStream<TcpStream>) -> R + Send + 'static,
    {
        Self::start(move |tcp| {
            let tls = acceptor
                .accept(tcp)
                .expect("raw TLS server: handshake failed");
            handler(tls)
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Wait for the handler's result; its panic becomes ours.
    pub fn join(self) -> R {
        match self.handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The client's opening handshake request as the raw server read it.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn key(&self) -> &str {
        self.header("Sec-WebSocket-Key")
            .expect("the request has no Sec-WebSocket-Key")
    }
}

/// Read a request head (up to the blank line), byte by byte so nothing
/// after it is consumed.
pub fn read_request<S: Read>(s: &mut S) -> io::Result<ClientRequest> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF in the request head",
            ));
        }
        head.push(byte[0]);
        if head.len() > 1 << 20 {
            return Err(io::Error::other("request head too long"));
        }
    }
    let text = String::from_utf8(head).expect("the request head is not UTF-8");
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line without a colon");
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Ok(ClientRequest {
        request_line,
        headers,
    })
}

/// Sec-WebSocket-Accept for `key`, computed here (RFC 6455 §4.2.2).
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    BASE64.encode(sha.finalize())
}

/// A correct 101 for `request`, with `extra` header lines (each ending CRLF).
pub fn response_101(request: &ClientRequest, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_for(request.key())
    )
}

/// Read the request and answer with a correct 101 plus `extra` headers.
pub fn accept_ws<S: Read + Write>(s: &mut S, extra: &str) -> ClientRequest {
    let request = read_request(s).expect("raw server: reading the request");
    s.write_all(response_101(&request, extra).as_bytes())
        .expect("raw server: writing the 101");
    request
}

/// An unmasked server frame; `rsv` counts RSV1 = 4, RSV2 = 2, RSV3 = 1.
pub fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, rsv, opcode, false, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Just a frame header (no mask key).
pub fn header(fin: bool, rsv: u8, opcode: u8, masked: bool, len: u64) -> Vec<u8> {
    let mut out = vec![(fin as u8) << 7 | (rsv & 7) << 4 | (opcode & 15)];
    let m = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xFFFF {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out
}

/// A masked frame, as a (misbehaving) server might send it.
pub fn masked_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = header(fin, 0, opcode, true, payload.len() as u64);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A close frame with `code` and `reason`.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame(true, 0, 8, &payload)
}

/// A frame the client sent, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl ClientFrame {
    pub fn is_close(&self) -> bool {
        self.opcode == 8
    }

    /// The code of a close frame (None for an empty payload).
    pub fn close_code(&self) -> Option<u16> {
        assert!(self.is_close(), "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn close_reason(&self) -> String {
        String::from_utf8_lossy(self.payload.get(2..).unwrap_or(&[])).into_owned()
    }
}

/// Read one client frame; `Ok(None)` on EOF (or reset) before its first byte.
pub fn read_frame<S: Read>(s: &mut S) -> io::Result<Option<ClientFrame>> {
    let mut h = [0u8; 2];
    match s.read(&mut h[..1]) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(e),
    }
    s.read_exact(&mut h[1..])?;
    let masked = h[1] & 0x80 != 0;
    let len = match h[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b)?;
            u16::from_be_bytes(b) as u64
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => n as u64,
    };
    let mut key = [0u8; 4];
    if masked {
        s.read_exact(&mut key)?;
    }
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload)?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Ok(Some(ClientFrame {
        fin: h[0] & 0x80 != 0,
        rsv: (h[0] >> 4) & 7,
        opcode: h[0] & 15,
        masked,
        payload,
    }))
}

/// Read a whole data message the client sent (frames up to FIN), skipping
/// nothing: control frames in between are returned separately.
pub fn read_message<S: Read>(s: &mut S) -> (Vec<ClientFrame>, Vec<ClientFrame>) {
    let (mut data, mut control) = (Vec::new(), Vec::new());
    loop {
        let f = read_frame(s)
            .expect("raw server: reading a frame")
            .expect("EOF inside a message");
        assert!(f.masked, "the client sent an unmasked frame: {f:?}");
        if f.opcode >= 8 {
            control.push(f);
            continue;
        }
        let fin = f.fin;
        data.push(f);
        if fin {
            return (data, control);
        }
    }
}

/// What the raw server saw after it had sent its bytes: the client's frames
/// up to and including its close frame, and whether the client then closed
/// the TCP connection.
#[derive(Debug, Default)]
pub struct Observed {
    pub frames: Vec<ClientFrame>,
    pub close: Option<ClientFrame>,
    /// The client closed the socket after the server half-closed its side.
    pub eof: bool,
}

impl Observed {
    pub fn close_code(&self) -> Option<u16> {
        self.close.as_ref().and_then(ClientFrame::close_code)
    }
}

/// Read client frames until a close frame (or EOF), then half-close our
/// side as a server does (RFC 6455 §7.1.1) and wait for the client's EOF.
pub fn observe_until_close(s: &mut TcpStream) -> Observed {
    let mut seen = Observed::default();
    loop {
        match read_frame(s) {
            Ok(Some(f)) => {
                assert!(f.masked, "the client sent an unmasked frame: {f:?}");
                if f.is_close() {
                    seen.close = Some(f);
                    break;
                }
                seen.frames.push(f);
            }
            Ok(None) => {
                seen.eof = true;
                return seen;
            }
            Err(e) => panic!("raw server: reading the client's frames: {e}"),
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    seen.eof = wait_eof(s);
    seen
}

/// Read until EOF; true if EOF (or a reset) came before the socket timeout.
pub fn wait_eof<S: Read>(s: &mut S) -> bool {
    let mut scratch = [0u8; 4096];
    loop {
        match s.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

// ---------------------------------------------------------------------------
// Test data

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545F4914F6CDD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Compressible JSON-like text of at least `len` bytes (a JSON array of
/// records with varying fields), not just one repeated string.
pub fn json_like(len: usize, seed: u64) -> String {
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "żółw", "日本",
    ];
    let rnd = random_bytes(len / 8 + 64, seed);
    let mut out = String::with_capacity(len + 256);
    out.push('[');
    let mut i = 0usize;
    while out.len() < len {
        if i > 0 {
            out.push(',');
        }
        let r = &rnd[(i * 5) % (rnd.len() - 5)..];
        out.push_str(&format!(
            r#"{{"id":{i},"name":"{}-{}","score":{}.{},"tags":["{}","{}"],"active":{}}}"#,
            words[r[0] as usize % words.len()],
            r[1],
            r[2],
            r[3],
            words[r[3] as usize % words.len()],
            words[r[4] as usize % words.len()],
            r[0] & 1 == 0
        ));
        i += 1;
    }
    out.push(']');
    out
}

// ---------------------------------------------------------------------------
// A minimal parser for the flat JSON object /headers sends back

/// Parse a flat JSON object of string values (as `json.dumps` writes it).
pub fn parse_flat_json(text: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> String {
        assert_eq!(chars[*i], '"', "expected a string at {i} in {text}");
        *i += 1;
        let mut s = String::new();
        loop {
            let c = chars[*i];
            *i += 1;
            match c {
                '"' => return s,
                '\\' => {
                    let e = chars[*i];
                    *i += 1;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = chars[*i..*i + 4].iter().collect();
                            *i += 4;
                            let mut code = u32::from_str_radix(&hex, 16).unwrap();
                            if (0xD800..0xDC00).contains(&code) {
                                let low: String = chars[*i + 2..*i + 6].iter().collect();
                                *i += 6;
                                let low = u32::from_str_radix(&low, 16).unwrap();
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            s.push(char::from_u32(code).unwrap());
                        }
                        other => s.push(other),
                    }
                }
                c => s.push(c),
            }
        }
    };
    let mut out = Vec::new();
    skip_ws(&mut i);
    assert_eq!(chars[i], '{', "not a JSON object: {text}");
    i += 1;
    loop {
        skip_ws(&mut i);
        if chars[i] == '}' {
            break;
        }
        let key = string(&mut i);
        skip_ws(&mut i);
        assert_eq!(chars[i], ':');
        i += 1;
        skip_ws(&mut i);
        let value = string(&mut i);
        out.push((key, value));
        skip_ws(&mut i);
        match chars[i] {
            ',' => i += 1,
            '}' => break,
            c => panic!("unexpected {c:?} in {text}"),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Certificates (made with the openssl crate into a temp dir)

pub struct Pki {
    pub dir: TempDir,
    /// The test CA.
    pub ca: PathBuf,
    /// Signed by the CA for localhost, 127.0.0.1 and ::1.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Signed by the CA, for localhost/127.0.0.1, but expired yesterday.
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    /// Signed by the CA for wrong.example only.
    pub wrong_host_cert: PathBuf,
    pub wrong_host_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate from another CA the server does not trust.
    pub rogue_client_cert: PathBuf,
    pub rogue_client_key: PathBuf,
}

mod pki {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage,
        SubjectAlternativeName, SubjectKeyIdentifier,
    };
    use openssl::x509::{X509Builder, X509NameBuilder, X509};
    use std::sync::atomic::{AtomicU32, Ordering};

    static SERIAL: AtomicU32 = AtomicU32::new(1000);

    pub fn key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    pub struct Spec<'a> {
        pub cn: &'a str,
        pub dns: &'a [&'a str],
        pub ips: &'a [&'a str],
        pub ca: bool,
        pub client: bool,
        /// (not_before, not_after) as Unix times; None: now-1d .. now+1y.
        pub validity: Option<(i64, i64)>,
    }

    pub fn cert(spec: &Spec, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, spec.cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(SERIAL.fetch_add(1, Ordering::SeqCst)).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name))
            .unwrap();
        b.set_pubkey(key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let (nb, na) = spec.validity.unwrap_or((now - 86_400, now + 365 * 86_400));
        b.set_not_before(&Asn1Time::from_unix(nb as _).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(na as _).unwrap())
            .unwrap();
        if spec.ca {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .digital_signature()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        } else {
            b.append_extension(BasicConstraints::new().critical().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let mut eku = ExtendedKeyUsage::new();
            if spec.client {
                eku.client_auth();
            } else {
                eku.server_auth();
            }
            b.append_extension(eku.build().unwrap()).unwrap();
        }
        if !spec.dns.is_empty() || !spec.ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for d in spec.dns {
                san.dns(d);
            }
            for ip in spec.ips {
                san.ip(ip);
            }
            let ext = san
                .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
                .unwrap();
            b.append_extension(ext).unwrap();
        }
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        if let Some((ca, _)) = issuer {
            let aki = AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&b.x509v3_context(Some(&**ca), None))
                .unwrap();
            b.append_extension(aki).unwrap();
        }
        let signer = issuer.map(|(_, k)| k).unwrap_or(key);
        b.sign(signer, MessageDigest::sha256()).unwrap();
        b.build()
    }
}

impl Pki {
    /// Make a CA and the certificates listed on [`Pki`].
    pub fn new() -> Pki {
        use pki::{cert, key, Spec};
        let dir = TempDir::new("pki");
        let write = |name: &str, pem: Vec<u8>| {
            let p = dir.path().join(name);
            std::fs::write(&p, pem).unwrap();
            p
        };
        let leaf = |cn, dns, ips, client, validity| Spec {
            cn,
            dns,
            ips,
            ca: false,
            client,
            validity,
        };
        let ca_key = key();
        let ca = cert(
            &Spec {
                cn: "wsclient test CA",
                dns: &[],
                ips: &[],
                ca: true,
                client: false,
                validity: None,
            },
            &ca_key,
            None,
        );
        let issue = |name: &str, spec: Spec| {
            let k = key();
            let c = cert(&spec, &k, Some((&ca, &ca_key)));
            (
                write(&format!("{name}.pem"), c.to_pem().unwrap()),
                write(
                    &format!("{name}.key"),
                    k.private_key_to_pem_pkcs8().unwrap(),
                ),
            )
        };
        let local_ips: &[&str] = &["127.0.0.1", "::1"];
        let (server_cert, server_key) = issue(
            "server",
            leaf("localhost", &["localhost"], local_ips, false, None),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let (expired_cert, expired_key) = issue(
            "expired",
            leaf(
                "localhost",
                &["localhost"],
                local_ips,
                false,
                Some((now - 30 * 86_400, now - 86_400)),
            ),
        );
        let (wrong_host_cert, wrong_host_key) = issue(
            "wrong-host",
            leaf("wrong.example", &["wrong.example"], &[], false, None),
        );
        let (client_cert, client_key) =
            issue("client", leaf("wsclient test client", &[], &[], true, None));
        // A client certificate from a CA nobody trusts.
        let rogue_ca_key = key();
        let rogue_ca = cert(
            &Spec {
                cn: "rogue CA",
                dns: &[],
                ips: &[],
                ca: true,
                client: false,
                validity: None,
            },
            &rogue_ca_key,
            None,
        );
        let rk = key();
        let rc = cert(
            &leaf("rogue client", &[], &[], true, None),
            &rk,
            Some((&rogue_ca, &rogue_ca_key)),
        );
        let rogue_client_cert = write("rogue-client.pem", rc.to_pem().unwrap());
        let rogue_client_key = write("rogue-client.key", rk.private_key_to_pem_pkcs8().unwrap());
        let ca = write("ca.pem", ca.to_pem().unwrap());
        Pki {
            dir,
            ca,
            server_cert,
            server_key,
            expired_cert,
            expired_key,
            wrong_host_cert,
            wrong_host_key,
            client_cert,
            client_key,
            rogue_client_cert,
            rogue_client_key,
        }
    }

    /// A TLS acceptor for raw servers, with the server certificate.
    pub fn acceptor(&self) -> SslAcceptor {
        use openssl::ssl::{SslFiletype, SslMethod};
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_certificate_chain_file(&self.server_cert).unwrap();
        b.set_private_key_file(&self.server_key, SslFiletype::PEM)
            .unwrap();
        b.check_private_key().unwrap();
        b.build()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}
