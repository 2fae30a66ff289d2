//! The receiver fed in random chunks, with and without permessage-deflate.
//!
//! - Any chunking gives the same events and the same error as the whole
//!   input at once (reassembly does not depend on how reads split bytes).
//! - Without deflate, the events and the error match a reference decoder
//!   written here from RFC 6455 on whole buffers, independent of the
//!   receiver's incremental code.
//! - Every message keeps its invariants: text is UTF-8, the size is within
//!   the limit, the frame records cover the payload exactly.
//! - Frame mode (`Mode::Frames`) applies the same rules: its frames joined
//!   give the same messages, controls and error (with limits no input
//!   reaches: frame mode does not hold a message, so the message limit
//!   does not apply to it).
//! - Part mode (`Mode::Parts`), with pieces of 4 to 67 bytes: its pieces
//!   joined give the same messages, controls and error; no piece is larger
//!   than asked, and every text piece is UTF-8 on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsclient::deflate::Inflater;
use wsclient::proto::close::CloseFrame;
use wsclient::proto::receiver::{Event, Limits, Mode, Receiver};
use wsclient::proto::MessageType;

/// What the tests compare: events as plain data, and the error's close code.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message {
        text: bool,
        data: Vec<u8>,
        /// (fin, opcode, payload on the wire) of each frame.
        frames: Vec<(bool, u8, Vec<u8>)>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    /// The connection failed with this close code (None: an exn).
    Failed(Option<u16>),
}

const LIMITS: Limits = Limits {
    max_frame_size: 1 << 20,
    max_message_size: 16 << 20,
};

fn run(input: &[u8], deflate: bool, limits: Limits, mut chunk: impl FnMut() -> usize) -> Vec<Seen> {
    let inflater = deflate.then(|| Inflater::new(15, false).unwrap());
    let mut rx = Receiver::new(limits, inflater);
    let (mut buf, mut at, mut seen) = (Vec::new(), 0, Vec::new());
    while at < input.len() {
        let n = chunk().clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            match rx.read(&buf) {
                Ok((used, event)) => {
                    assert!(used <= buf.len());
                    buf.drain(..used);
                    match event {
                        None => break,
                        Some(Event::Close(c)) => {
                            seen.push(Seen::Close(c.code, c.reason));
                            return seen;
                        }
                        Some(e) => seen.push(convert(e, limits)),
                    }
                }
                Err(e) => {
                    seen.push(Seen::Failed(e.close_code()));
                    return seen;
                }
            }
        }
    }
    seen
}

fn convert(event: Event, limits: Limits) -> Seen {
    match event {
        Event::Ping(p) => Seen::Ping(p),
        Event::Pong(p) => Seen::Pong(p),
        Event::Message(m) => {
            assert!(m.data.len() <= limits.max_message_size);
            if m.kind == MessageType::Text {
                assert!(
                    std::str::from_utf8(&m.data).is_ok(),
                    "text that is not UTF-8"
                );
            }
            let frames: Vec<(bool, u8, Vec<u8>)> = (0..m.frames.len())
                .map(|i| {
                    let f = &m.frames[i];
                    let payload = m.frame_payload(i).expect("every frame has its payload");
                    assert_eq!(payload.len() as u64, f.payload_len);
                    (f.fin, f.opcode, payload.to_vec())
                })
                .collect();
            if !m.was_compressed() {
                let joined: Vec<u8> = frames.iter().flat_map(|f| f.2.clone()).collect();
                assert_eq!(joined, m.data, "frames do not cover the data");
            }
            assert!(frames.last().is_some_and(|f| f.0), "the last frame has FIN");
            Seen::Message {
                text: m.kind == MessageType::Text,
                data: m.data,
                frames,
            }
        }
        Event::Close(_) | Event::Frame(_) | Event::Part { .. } => unreachable!(),
    }
}

/// Frame mode, with data frames joined into messages (text, data only).
fn run_frames(input: &[u8], deflate: bool, mut chunk: impl FnMut() -> usize) -> Vec<Seen> {
    let inflater = deflate.then(|| Inflater::new(15, false).unwrap());
    let mut rx = Receiver::new(LIMITS, inflater);
    let (mut buf, mut at, mut seen) = (Vec::new(), 0, Vec::new());
    let mut message: Option<(bool, Vec<u8>)> = None;
    while at < input.len() {
        let n = chunk().clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            let f = match rx.read_as(&buf, Mode::Frames) {
                Ok((used, event)) => {
                    buf.drain(..used);
                    match event {
                        None => break,
                        Some(Event::Frame(f)) => f,
                        Some(other) => panic!("frame mode gave {other:?}"),
                    }
                }
                Err(e) => {
                    seen.push(Seen::Failed(e.close_code()));
                    return seen;
                }
            };
            match f.opcode {
                8 => {
                    let c = CloseFrame::parse(&f.payload).expect("a validated close frame");
                    seen.push(Seen::Close(c.code, c.reason));
                    return seen;
                }
                9 => seen.push(Seen::Ping(f.payload)),
                10 => seen.push(Seen::Pong(f.payload)),
                op => {
                    let m = message.get_or_insert_with(|| (op == 1, Vec::new()));
                    m.1.extend_from_slice(&f.payload);
                    if f.fin {
                        let (text, data) = message.take().unwrap();
                        if text {
                            assert!(std::str::from_utf8(&data).is_ok());
                        }
                        seen.push(Seen::Message {
                            text,
                            data,
                            frames: Vec::new(),
                        });
                    }
                }
            }
        }
    }
    seen
}

/// Part mode, with the pieces joined into messages.
fn run_parts(
    input: &[u8],
    deflate: bool,
    size: usize,
    mut chunk: impl FnMut() -> usize,
) -> Vec<Seen> {
    let inflater = deflate.then(|| Inflater::new(15, false).unwrap());
    let mut rx = Receiver::new(LIMITS, inflater);
    rx.set_part_size(size);
    let (mut buf, mut at, mut seen) = (Vec::new(), 0, Vec::new());
    let mut message: Option<(bool, Vec<u8>)> = None;
    while at < input.len() {
        let n = chunk().clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            let event = match rx.read_as(&buf, Mode::Parts) {
                Ok((used, event)) => {
                    buf.drain(..used);
                    match event {
                        None => break,
                        Some(e) => e,
                    }
                }
                Err(e) => {
                    seen.push(Seen::Failed(e.close_code()));
                    return seen;
                }
            };
            match event {
                Event::Part { kind, data, last } => {
                    assert!(data.len() <= size, "a piece larger than asked");
                    let text = kind == MessageType::Text;
                    if text {
                        assert!(std::str::from_utf8(&data).is_ok(), "a piece cuts a character");
                    }
                    let m = message.get_or_insert_with(|| (text, Vec::new()));
                    m.1.extend_from_slice(&data);
                    if last {
                        let (text, data) = message.take().unwrap();
                        seen.push(Seen::Message {
                            text,
                            data,
                            frames: Vec::new(),
                        });
                    }
                }
                Event::Close(c) => {
                    seen.push(Seen::Close(c.code, c.reason));
                    return seen;
                }
                Event::Ping(p) => seen.push(Seen::Ping(p)),
                Event::Pong(p) => seen.push(Seen::Pong(p)),
                other => panic!("part mode gave {other:?}"),
            }
        }
    }
    seen
}

/// Messages without their frame records, to compare with frame mode.
fn without_frames(seen: &[Seen]) -> Vec<Seen> {
    seen.iter()
        .map(|s| match s {
            Seen::Message { text, data, .. } => Seen::Message {
                text: *text,
                data: data.clone(),
                frames: Vec::new(),
            },
            Seen::Ping(p) => Seen::Ping(p.clone()),
            Seen::Pong(p) => Seen::Pong(p.clone()),
            Seen::Close(c, r) => Seen::Close(*c, r.clone()),
            Seen::Failed(c) => Seen::Failed(*c),
        })
        .collect()
}

/// A message in progress in the reference: text?, data, frames.
type Partial = (bool, Vec<u8>, Vec<(bool, u8, Vec<u8>)>);

/// The reference: RFC 6455 §5 on whole buffers, no deflate, LIMITS.
fn reference(input: &[u8]) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut pos = 0;
    let mut message: Option<Partial> = None;
    let fail = |mut seen: Vec<Seen>, code: u16| {
        seen.push(Seen::Failed(Some(code)));
        seen
    };
    loop {
        let rest = &input[pos..];
        if rest.len() < 2 {
            return seen;
        }
        let (fin, rsv, opcode) = (rest[0] & 0x80 != 0, (rest[0] >> 4) & 7, rest[0] & 15);
        let masked = rest[1] & 0x80 != 0;
        let key = if masked { 4 } else { 0 };
        let (len, header) = match rest[1] & 0x7F {
            126 if rest.len() >= 4 + key => (u16::from_be_bytes([rest[2], rest[3]]) as u64, 4),
            127 if rest.len() >= 10 + key => {
                (u64::from_be_bytes(rest[2..10].try_into().unwrap()), 10)
            }
            126 | 127 => return seen,
            _ if rest.len() < 2 + key => return seen,
            n => (n as u64, 2),
        };
        // RFC 6455 §5.2: minimal length encodings are not required of a
        // sender, but the top bit of a 64-bit length must be 0.
        if len >> 63 != 0 {
            return fail(seen, 1002);
        }
        if masked || rsv != 0 {
            return fail(seen, 1002);
        }
        let control = opcode >= 8;
        match opcode {
            0..=2 | 8..=10 => {}
            _ => return fail(seen, 1002),
        }
        if control && (!fin || len > 125) {
            return fail(seen, 1002);
        }
        if !control && len > LIMITS.max_frame_size {
            return fail(seen, 1009);
        }
        match (opcode, &message) {
            (0, None) => return fail(seen, 1002),
            (1 | 2, Some(_)) => return fail(seen, 1002),
            _ => {}
        }
        let available = rest.len() - header;
        let payload = &rest[header..header + available.min(len as usize)];
        if !control {
            let m = message.get_or_insert_with(|| (opcode == 1, Vec::new(), Vec::new()));
            m.1.extend_from_slice(payload);
            if m.0 {
                if let Err(e) = std::str::from_utf8(&m.1) {
                    if e.error_len().is_some() {
                        return fail(seen, 1007);
                    }
                }
            }
            m.2.push((fin, opcode, payload.to_vec()));
        }
        if (available as u64) < len {
            return seen; // the rest of the frame has not arrived
        }
        pos += header + len as usize;
        match opcode {
            8 => {
                match CloseFrame::parse(payload) {
                    Ok(c) => seen.push(Seen::Close(c.code, c.reason)),
                    Err(e) => seen.push(Seen::Failed(e.close_code())),
                }
                return seen;
            }
            9 => seen.push(Seen::Ping(payload.to_vec())),
            10 => seen.push(Seen::Pong(payload.to_vec())),
            _ if fin => {
                let (text, data, frames) = message.take().unwrap();
                if text && std::str::from_utf8(&data).is_err() {
                    return fail(seen, 1007);
                }
                seen.push(Seen::Message { text, data, frames });
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, input)) = data.split_first() else {
        return;
    };
    let deflate = config & 1 != 0;
    // Small limits now and then, so the 1009 paths are reached too.
    let limits = if config & 2 != 0 {
        Limits {
            max_frame_size: 64,
            max_message_size: 100,
        }
    } else {
        LIMITS
    };
    let whole = run(input, deflate, limits, || usize::MAX);
    let mut seed = u32::from(config) << 8 | 0x5bd1;
    let chunked = run(input, deflate, limits, || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        (seed % 17) as usize + 1
    });
    assert_eq!(whole, chunked, "chunking changed the outcome");
    if config & 2 == 0 {
        if !deflate {
            let expected = reference(input);
            assert_eq!(whole, expected, "the receiver disagrees with the reference");
        }
        let frames = run_frames(input, deflate, || (seed % 13) as usize + 1);
        assert_eq!(without_frames(&whole), frames, "frame mode disagrees");
        let size = usize::from(config >> 2) + 4;
        let parts = run_parts(input, deflate, size, || (seed % 11) as usize + 1);
        assert_eq!(without_frames(&whole), parts, "part mode disagrees");
    }
});
