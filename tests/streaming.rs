//! Issue 22: messages of any size in bounded memory, both ways. A raw
//! server on 127.0.0.1 streams a 1 GiB binary message (one frame) and a
//! 256 MiB compressible text message (permessage-deflate, in fragments)
//! from a pattern; the client receives them with `recv_part` and a 64 KiB
//! buffer and checks every byte. Then the client sends 1 GiB with
//! `send_part` and deflate on, and the server inflates and checks it. The
//! process's peak RSS (VmHWM: the client, the server thread and the test
//! harness together) stays below 32 MiB. One test, so nothing else runs in
//! this process meanwhile.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::*;
use wsclient::deflate::{DeflateOffer, Deflater, Inflater};
use wsclient::proto::mask::mask_into;
use wsclient::proto::receiver::Limits;
use wsclient::proto::MessageType;
use wsclient::{connect, Options};

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 << 10;
const WATCHDOG_SECS: u64 = 300;

/// The bytes of the binary pattern at `offset..offset + out.len()`: cheap
/// (the compiler vectorises it), and unlike at nearby offsets.
fn binary_at(offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        let at = offset + i as u64;
        *b = (at ^ (at >> 9) ^ (at >> 21) ^ (at >> 33)) as u8;
    }
}

/// Compressible ASCII text: numbered lines of 64 bytes.
fn text_at(offset: u64, out: &mut [u8]) {
    const WORDS: &[u8; 46] = b"the quick brown fox jumps over the lazy dog, a";
    let mut line = [0u8; 64];
    let mut done = 0;
    while done < out.len() {
        let at = offset + done as u64;
        let number = at / 64;
        let mut n = number;
        for digit in line[..16].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        line[16] = b' ';
        line[17..63].copy_from_slice(WORDS);
        line[63] = b'\n';
        let col = (at % 64) as usize;
        let n = (64 - col).min(out.len() - done);
        out[done..done + n].copy_from_slice(&line[col..col + n]);
        done += n;
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn unbounded() -> Limits {
    Limits {
        max_frame_size: u64::MAX,
        max_message_size: usize::MAX,
    }
}

/// Receive one message in parts; check it against `pattern` and return its
/// length.
fn receive_checked(
    conn: &wsclient::Connection,
    kind: MessageType,
    pattern: fn(u64, &mut [u8]),
) -> u64 {
    let (mut buf, mut want) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut offset = 0u64;
    loop {
        let part = conn
            .recv_part(&mut buf)
            .unwrap()
            .expect("a message, not the close");
        assert_eq!(part.kind, kind);
        assert!(part.len <= CHUNK);
        pattern(offset, &mut want[..part.len]);
        assert!(buf[..part.len] == want[..part.len], "differs at {offset}");
        if kind == MessageType::Text {
            assert!(std::str::from_utf8(&buf[..part.len]).is_ok());
        }
        offset += part.len as u64;
        if part.last {
            return offset;
        }
    }
}

/// The server's side of the test: stream two messages to the client, then
/// read one from it (checked), then the close.
fn serve(mut s: TcpStream) -> u64 {
    accept_ws(&mut s, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    let mut chunk = vec![0u8; CHUNK];
    // 1 GiB of binary in one frame.
    s.write_all(&header(true, 0, 0x2, false, GIB)).unwrap();
    let mut sent = 0;
    while sent < GIB {
        binary_at(sent, &mut chunk);
        s.write_all(&chunk).unwrap();
        sent += CHUNK as u64;
    }
    // 256 MiB of text, compressed piece by piece, in fragments.
    let mut deflater = Deflater::new(15, false, 1).unwrap();
    let (total, mut sent, mut first) = (256u64 << 20, 0u64, true);
    let mut z = Vec::new();
    while sent < total {
        text_at(sent, &mut chunk);
        sent += CHUNK as u64;
        let last = sent == total;
        z.clear();
        deflater.compress_part(&chunk, &mut z, last).unwrap();
        if z.is_empty() && !last {
            continue;
        }
        let (rsv, opcode) = if first { (4, 0x1) } else { (0, 0x0) };
        first = false;
        s.write_all(&header(last, rsv, opcode, false, z.len() as u64))
            .unwrap();
        s.write_all(&z).unwrap();
    }
    receive_inflated(&mut s)
}

/// Read the client's compressed message frame by frame, unmask and inflate
/// it in bounded pieces, and check it against the binary pattern; returns
/// its length.
fn receive_inflated(s: &mut TcpStream) -> u64 {
    let mut inflater = Inflater::new(15, false).unwrap();
    let (mut wire, mut plain, mut out, mut want) = (
        vec![0u8; CHUNK],
        vec![0u8; CHUNK],
        Vec::with_capacity(CHUNK),
        vec![0u8; CHUNK],
    );
    let mut offset = 0u64;
    let mut check = |out: &mut Vec<u8>| {
        binary_at(offset, &mut want[..out.len()]);
        assert!(
            out[..] == want[..out.len()],
            "the server got other bytes at {offset}"
        );
        offset += out.len() as u64;
        out.clear();
    };
    loop {
        let mut head = [0u8; 2];
        s.read_exact(&mut head).unwrap();
        let fin = head[0] & 0x80 != 0;
        let mut len = u64::from(head[1] & 0x7F);
        if len == 126 {
            let mut ext = [0u8; 2];
            s.read_exact(&mut ext).unwrap();
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            s.read_exact(&mut ext).unwrap();
            len = u64::from_be_bytes(ext);
        }
        let mut key = [0u8; 4];
        s.read_exact(&mut key).unwrap();
        assert!(head[0] & 0x0F != 0x8, "a close before the message ended");
        let mut at = 0u64;
        while at < len {
            let n = (len - at).min(CHUNK as u64) as usize;
            s.read_exact(&mut wire[..n]).unwrap();
            // The key as it stands at this offset of the payload.
            let shift = (at % 4) as usize;
            let rotated = [0, 1, 2, 3].map(|i| key[(i + shift) % 4]);
            mask_into(&mut plain[..n], &wire[..n], rotated);
            at += n as u64;
            let mut input = &plain[..n];
            while !input.is_empty() {
                let room = CHUNK - out.len();
                let (used, _) = inflater.inflate_bounded(input, &mut out, room).unwrap();
                input = &input[used..];
                if out.len() == CHUNK || used == 0 {
                    check(&mut out);
                }
            }
        }
        if fin {
            let mut tail = &Inflater::TAIL[..];
            loop {
                let room = CHUNK - out.len();
                let (used, full) = inflater.inflate_bounded(tail, &mut out, room).unwrap();
                tail = &tail[used..];
                check(&mut out);
                if tail.is_empty() && !full {
                    return offset;
                }
            }
        }
    }
}

#[test]
fn messages_of_any_size_stream_both_ways_in_bounded_memory() {
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(serve);
        let options = Options {
            limits: unbounded(),
            deflate_offers: vec![DeflateOffer::parse("").unwrap()],
            compression_level: 1,
            ..Options::default()
        };
        let conn = expect_upgraded(connect(&server.url("/"), &options));
        assert!(conn.deflate().is_some());
        assert_eq!(receive_checked(&conn, MessageType::Binary, binary_at), GIB);
        let text = receive_checked(&conn, MessageType::Text, text_at);
        assert_eq!(text, 256 << 20);
        // 1 GiB sent in parts, compressed as it goes.
        let mut part = vec![0u8; CHUNK];
        let mut sent = 0u64;
        while sent < GIB {
            binary_at(sent, &mut part);
            let (taken, r) = conn.send_part(MessageType::Binary, GIB, &part, false, true);
            r.unwrap();
            assert_eq!(taken, CHUNK);
            sent += CHUNK as u64;
        }
        assert_eq!(server.join(), GIB);
        let wire = conn.stat(wsclient::observe::Stat::BytesOut);
        assert!(wire < GIB, "sent compressed: {wire} bytes on the wire");
        let peak = peak_rss_kib();
        assert!(peak < 32 << 10, "peak RSS {peak} KiB");
        eprintln!("peak RSS {peak} KiB; 1 GiB sent as {wire} bytes");
    });
}
