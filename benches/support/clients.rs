//! The three clients under test, behind one small interface: ours
//! (`wsclient`), tungstenite's, and a raw length-prefixed TCP baseline.
//! Each sends one prepared payload again and again and receives the echoes.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use wsclient::{Connected, Connection, MessageType, Options};

use crate::support::servers::RAW_PREFIX;

pub trait Echo {
    fn name(&self) -> &'static str;
    /// Use `payload` for the following `send` calls; as text messages when
    /// it is UTF-8 and `text` is set (raw TCP has no types).
    fn set_payload(&mut self, payload: &[u8], text: bool);
    fn send(&mut self);
    /// Receive one echoed message and return its length; with `verify`,
    /// also check that it is the payload.
    fn recv(&mut self, verify: bool) -> usize;
    /// Send the payload `n` times as one burst, the way each client does
    /// that best: ours queues with `more` and writes once, tungstenite
    /// writes into its buffer and flushes once, raw TCP writes one buffer.
    fn send_batch(&mut self, n: usize);
}

/// A connection of ours, with the given options.
pub fn connect_wsclient(uri: &str, options: &Options) -> Box<Connection> {
    match wsclient::connect(uri, options).expect("wsclient connect") {
        Connected::Upgraded(connection) => connection,
        Connected::Response(r) => panic!("{uri}: HTTP {} instead of an upgrade", r.status),
    }
}

pub struct Ours {
    connection: Box<Connection>,
    payload: Vec<u8>,
    kind: MessageType,
}

impl Ours {
    pub fn connect(addr: SocketAddr) -> Ours {
        Ours {
            connection: connect_wsclient(&format!("ws://{addr}/"), &Options::default()),
            payload: Vec::new(),
            kind: MessageType::Binary,
        }
    }
}

impl Echo for Ours {
    fn name(&self) -> &'static str {
        "wsclient"
    }

    fn set_payload(&mut self, payload: &[u8], text: bool) {
        self.payload = payload.to_vec();
        self.kind = if text {
            MessageType::Text
        } else {
            MessageType::Binary
        };
    }

    fn send(&mut self) {
        self.connection
            .send(self.kind, &self.payload, true)
            .expect("wsclient send");
    }

    fn send_batch(&mut self, n: usize) {
        for i in 0..n {
            self.connection
                .send_more(self.kind, &self.payload, true, i + 1 < n)
                .expect("wsclient send");
        }
    }

    fn recv(&mut self, verify: bool) -> usize {
        let message = self
            .connection
            .recv_message()
            .expect("wsclient recv")
            .expect("a message, not a close");
        assert!(
            !verify || message.data == self.payload,
            "wsclient: wrong echo"
        );
        message.data.len()
    }
}

pub struct Tungstenite {
    ws: tungstenite::WebSocket<TcpStream>,
    /// Built once: a send clones it, which only bumps a reference count
    /// (tungstenite's cheapest way to send the same bytes again).
    message: tungstenite::Message,
}

impl Tungstenite {
    pub fn connect(addr: SocketAddr) -> Tungstenite {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (ws, _) =
            tungstenite::client(format!("ws://{addr}/"), stream).expect("tungstenite handshake");
        Tungstenite {
            ws,
            message: tungstenite::Message::binary(Vec::new()),
        }
    }
}

impl Echo for Tungstenite {
    fn name(&self) -> &'static str {
        "tungstenite"
    }

    fn set_payload(&mut self, payload: &[u8], text: bool) {
        self.message = match std::str::from_utf8(payload) {
            Ok(t) if text => tungstenite::Message::text(t),
            _ => tungstenite::Message::binary(payload.to_vec()),
        };
    }

    fn send(&mut self) {
        self.ws
            .send(self.message.clone())
            .expect("tungstenite send");
    }

    fn send_batch(&mut self, n: usize) {
        for _ in 0..n {
            self.ws
                .write(self.message.clone())
                .expect("tungstenite write");
        }
        self.ws.flush().expect("tungstenite flush");
    }

    fn recv(&mut self, verify: bool) -> usize {
        loop {
            let data = match self.ws.read().expect("tungstenite read") {
                tungstenite::Message::Binary(data) => data,
                tungstenite::Message::Text(text) => text.into(),
                _ => continue,
            };
            assert!(
                !verify || self.message.clone().into_data() == data,
                "tungstenite: wrong echo"
            );
            return data.len();
        }
    }
}

/// The floor: the same echo over TCP with a 4-byte length prefix, one write
/// per message, buffered reads into a reused buffer, no framing or masking.
pub struct RawTcp {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    /// Prefix and payload, ready to write.
    frame: Vec<u8>,
    received: Vec<u8>,
}

impl RawTcp {
    pub fn connect(addr: SocketAddr) -> RawTcp {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        RawTcp {
            writer: stream.try_clone().expect("clone socket"),
            reader: BufReader::with_capacity(64 << 10, stream),
            frame: Vec::new(),
            received: Vec::new(),
        }
    }
}

impl Echo for RawTcp {
    fn name(&self) -> &'static str {
        "raw TCP"
    }

    fn set_payload(&mut self, payload: &[u8], _text: bool) {
        self.frame = (payload.len() as u32).to_le_bytes().to_vec();
        self.frame.extend_from_slice(payload);
    }

    fn send(&mut self) {
        self.writer.write_all(&self.frame).expect("raw send");
    }

    fn send_batch(&mut self, n: usize) {
        let batch = self.frame.repeat(n);
        self.writer.write_all(&batch).expect("raw send");
    }

    fn recv(&mut self, verify: bool) -> usize {
        let mut prefix = [0u8; RAW_PREFIX];
        self.reader.read_exact(&mut prefix).expect("raw recv");
        let len = u32::from_le_bytes(prefix) as usize;
        self.received.resize(len, 0);
        self.reader
            .read_exact(&mut self.received)
            .expect("raw recv");
        assert!(
            !verify || self.received == self.frame[RAW_PREFIX..],
            "raw TCP: wrong echo"
        );
        len
    }
}
