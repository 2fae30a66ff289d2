//! The peers the clients talk to, all on 127.0.0.1 port 0: a tungstenite
//! WebSocket echo server and a length-prefixed raw TCP echo server, each a
//! thread per connection in this process, and the Python `websockets` test
//! server (the one peer here that negotiates permessage-deflate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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

/// A tungstenite server that sends every data message back as it came.
pub fn tungstenite_echo() -> SocketAddr {
    spawn_server(|stream| {
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        // Any error, including the client's close, ends the connection.
        while let Ok(message) = ws.read() {
            if (message.is_binary() || message.is_text()) && ws.send(message).is_err() {
                break;
            }
        }
    })
}

/// Raw TCP echo: `u32 length, payload` in, the same bytes out in one write.
pub fn raw_echo() -> SocketAddr {
    spawn_server(|stream| {
        let mut writer = stream.try_clone().expect("clone socket");
        let mut reader = BufReader::with_capacity(RAW_READ_BUFFER, stream);
        let mut buf = vec![0u8; RAW_PREFIX];
        loop {
            if reader.read_exact(&mut buf[..RAW_PREFIX]).is_err() {
                break;
            }
            let len =
                RAW_PREFIX + u32::from_le_bytes(buf[..RAW_PREFIX].try_into().unwrap()) as usize;
            if buf.len() < len {
                buf.resize(len, 0);
            }
            if reader.read_exact(&mut buf[RAW_PREFIX..len]).is_err()
                || writer.write_all(&buf[..len]).is_err()
            {
                break;
            }
        }
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
