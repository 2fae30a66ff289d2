//! The receiving half of the protocol: bytes in, events out.
//!
//! Payload bytes are consumed as they arrive, so invalid UTF-8 inside a large
//! or fragmented text message fails the connection at the first bad byte.

use crate::deflate::Inflater;
use crate::error::{Error, Result};
use crate::observe::{frame_event, Trace, TraceKind};
use crate::proto::close::CloseFrame;
use crate::proto::frame::{Frame, FrameHeader, RSV1};
use crate::proto::message::{FrameInfo, Message, MessageType};
use crate::proto::opcode::OpCode;
use crate::proto::utf8::Utf8Validator;
use std::collections::TryReserveError;

/// Size limits applied to what the peer sends.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_frame_size: u64,
    /// Applied to the decompressed size of a message.
    pub max_message_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
        }
    }
}

/// What a call to [`Receiver::read`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseFrame),
    /// Frame mode only: one whole frame, validated like any other, its
    /// payload inflated when it belongs to a compressed message.
    Frame(Frame),
    /// Part mode only: the next piece of a data message, inflated and
    /// validated (a text piece ends on a character boundary); `last` ends
    /// the message.
    Part {
        kind: MessageType,
        data: Vec<u8>,
        last: bool,
    },
}

/// How received frames are handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Data frames are reassembled into messages.
    Messages,
    /// Every frame is an [`Event::Frame`]; a message is not kept whole.
    Frames,
    /// A data message is handed out in pieces as it arrives
    /// ([`Event::Part`], at most [`Receiver::set_part_size`] bytes each):
    /// memory stays bounded whatever the message's size.
    Parts,
}

/// A frame whose payload is still arriving.
struct PartialFrame {
    opcode: OpCode,
    fin: bool,
    rsv: u8,
    remaining: u64,
    /// Payload of a control frame (at most 125 bytes).
    control: Vec<u8>,
}

/// A data message whose frames are still arriving.
struct PartialMessage {
    message: Message,
    utf8: Option<Utf8Validator>,
    /// Data from this offset on was read straight into the message (see
    /// [`Receiver::direct_sink`]) and is not validated yet.
    unchecked_from: Option<usize>,
    /// Part mode: the message is handed out as it arrives; `message.data`
    /// holds only what is not handed out yet.
    streamed: Option<Streamed>,
}

/// Where a message received in parts stands.
#[derive(Default)]
struct Streamed {
    /// Data bytes so far (inflated), against the message limit.
    total: u64,
    /// Its last frame's payload is in: what remains is to inflate the
    /// tail (`tail_used` bytes of it fed so far) and hand out the rest.
    finishing: bool,
    tail_used: usize,
    /// zlib may hold output that did not fit the room last time.
    inflate_pending: bool,
}

/// A message found whole by [`Receiver::whole_message`]: its type, and
/// where its payload lies in the input (the frame ends where it ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whole {
    pub kind: MessageType,
    pub payload: std::ops::Range<usize>,
}

impl Whole {
    /// The message, its data copied out of `input` (an allocation failure
    /// is returned, not an abort).
    pub fn message(&self, input: &[u8]) -> std::result::Result<Message, TryReserveError> {
        let payload = &input[self.payload.clone()];
        let mut data = Vec::new();
        data.try_reserve_exact(payload.len())?;
        data.extend_from_slice(payload);
        let mut message = Message::new(self.kind, data);
        message.frames.try_push(FrameInfo {
            fin: true,
            rsv: 0,
            opcode: self.kind.opcode(),
            payload_len: payload.len() as u64,
            payload: 0..payload.len(),
        })?;
        Ok(message)
    }
}

/// A frame's payload is read straight into its message only when at least
/// this much of it is still to come: smaller frames are parsed from the
/// read buffer, many per read.
const DIRECT_MIN: u64 = 32 << 10;
/// The least room a direct read is given; beyond it, the room is at most
/// what the message already holds, so memory stays within twice the bytes
/// received, whatever the header announced.
const DIRECT_ROOM: usize = 64 << 10;

pub struct Receiver {
    limits: Limits,
    inflater: Option<Inflater>,
    frame: Option<PartialFrame>,
    message: Option<PartialMessage>,
    /// Frame headers parsed so far, and who hears of each.
    frames: u64,
    trace: Option<Trace>,
    /// Part mode: the largest piece handed out.
    part_size: usize,
}

impl Receiver {
    /// `inflater` is present when permessage-deflate was negotiated; RSV1 is
    /// accepted only then.
    pub fn new(limits: Limits, inflater: Option<Inflater>) -> Receiver {
        Receiver {
            limits,
            inflater,
            frame: None,
            message: None,
            frames: 0,
            trace: None,
            part_size: 64 << 10,
        }
    }

    /// Part mode: hand out pieces of at most `size` bytes (at least 4, so
    /// that any character fits a text piece).
    pub fn set_part_size(&mut self, size: usize) {
        self.part_size = size.max(4);
    }

    /// Report each frame header parsed from now on to `trace`.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.trace = trace;
    }

    /// Frame headers parsed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Payload bytes of the current frame not yet consumed: a hint for how
    /// much to read next (0 between frames).
    pub fn frame_remaining(&self) -> u64 {
        self.frame.as_ref().map_or(0, |f| f.remaining)
    }

    /// Whether a frame or a fragmented message is partly received.
    pub fn in_message(&self) -> bool {
        self.frame.is_some() || self.message.is_some()
    }

    /// One copy instead of two for large payloads: when a large frame of an
    /// uncompressed message is arriving, its message's data buffer, with
    /// spare room reserved for a read. The driver reads into the spare
    /// capacity (and no further), then calls [`Receiver::direct_filled`].
    /// `None` when the bytes should go through the read buffer instead (or
    /// the room cannot be had: the buffered path then reports the 1009).
    pub fn direct_sink(&mut self) -> Option<&mut Vec<u8>> {
        let frame = self.frame.as_ref()?;
        if frame.opcode.is_control() || frame.remaining < DIRECT_MIN {
            return None;
        }
        let partial = self.message.as_mut()?;
        let data = &mut partial.message.data;
        if partial.message.compressed || partial.streamed.is_some() {
            return None;
        }
        let remaining = usize::try_from(frame.remaining).unwrap_or(usize::MAX);
        let room = remaining.min(data.len().max(DIRECT_ROOM));
        if data.capacity() - data.len() < room {
            data.try_reserve(room).ok()?;
        }
        Some(data)
    }

    /// The driver read into [`Receiver::direct_sink`]'s spare capacity: the
    /// data grew from `before` bytes. Bytes past the frame's end (when the
    /// spare capacity was larger than the frame) belong to what follows and
    /// are handed to `spill`, to be parsed from the read buffer. The new
    /// payload is validated by the next [`Receiver::read`].
    pub fn direct_filled(&mut self, before: usize, spill: impl FnOnce(&[u8])) {
        let (Some(frame), Some(partial)) = (self.frame.as_mut(), self.message.as_mut()) else {
            return;
        };
        let data = &mut partial.message.data;
        let read = data.len().saturating_sub(before);
        let payload = read.min(usize::try_from(frame.remaining).unwrap_or(usize::MAX));
        if payload < read {
            spill(&data[before + payload..]);
            data.truncate(before + payload);
        }
        frame.remaining -= payload as u64;
        partial.unchecked_from.get_or_insert(before);
    }

    /// Validate what direct reads added since the last call.
    fn check_direct(&mut self) -> Result<()> {
        let Some(partial) = self.message.as_mut() else {
            return Ok(());
        };
        match partial.unchecked_from.take() {
            Some(from) => validate_utf8(&mut partial.utf8, &partial.message.data[from..]),
            None => Ok(()),
        }
    }

    /// The usual message, taken fast: an unfragmented, uncompressed data
    /// frame whose whole payload is at the front of `input`, between
    /// messages. `None` for anything else, with nothing consumed: the
    /// general path ([`Receiver::read_as`]) takes it, and reports its
    /// errors. The caller that takes it says so with [`Receiver::took`],
    /// which validates its text.
    pub fn whole_message(&self, input: &[u8]) -> Option<Whole> {
        if self.frame.is_some() || self.message.is_some() {
            return None;
        }
        let (b0, b1) = match input {
            [b0, b1, ..] => (*b0, *b1),
            _ => return None,
        };
        // FIN, no RSV bit, text or binary; unmasked.
        let kind = match b0 {
            0x81 => MessageType::Text,
            0x82 => MessageType::Binary,
            _ => return None,
        };
        let (header, len) = match b1 {
            0..=125 => (2, u64::from(b1)),
            126 if input.len() >= 4 => (4, u64::from(u16::from_be_bytes([input[2], input[3]]))),
            _ => return None, // masked, 64-bit lengths, or too short
        };
        let limit = self
            .limits
            .max_frame_size
            .min(self.limits.max_message_size as u64);
        let end = header + len as usize;
        if len > limit || input.len() < end {
            return None;
        }
        Some(Whole {
            kind,
            payload: header..end,
        })
    }

    /// The frame of `whole` (found in `input`) is taken: count it, trace
    /// it, then check its text (invalid UTF-8 fails as on the general path).
    pub fn took(&mut self, whole: &Whole, input: &[u8]) -> Result<()> {
        self.frames += 1;
        if let Some(trace) = &self.trace {
            let h = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: whole.kind.opcode(),
                mask: None,
                payload_len: whole.payload.len() as u64,
            };
            trace.emit(frame_event(TraceKind::FrameReceived, &h));
        }
        let payload = &input[whole.payload.clone()];
        if whole.kind == MessageType::Text && simdutf8::basic::from_utf8(payload).is_err() {
            return Err(Error::invalid_payload("text message is not valid UTF-8"));
        }
        Ok(())
    }

    /// Consume bytes from the front of `input`. Returns how many bytes were
    /// consumed and the event they completed, if any; stops after one event.
    pub fn read(&mut self, input: &[u8]) -> Result<(usize, Option<Event>)> {
        self.read_as(input, Mode::Messages)
    }

    /// [`Receiver::read`] in the given [`Mode`]. Switching modes inside a
    /// message is the caller's to prevent: frame mode drains message data.
    pub fn read_as(&mut self, input: &[u8], mode: Mode) -> Result<(usize, Option<Event>)> {
        if mode == Mode::Parts {
            return self.read_part(input);
        }
        self.check_direct()?;
        if mode == Mode::Messages {
            if let Some(whole) = self.whole_message(input) {
                self.took(&whole, input)?;
                let message = whole.message(input).map_err(|_| out_of_memory())?;
                return Ok((whole.payload.end, Some(Event::Message(message))));
            }
        }
        let mut pos = 0;
        loop {
            if self.frame.is_none() {
                match FrameHeader::parse(&input[pos..])? {
                    None => return Ok((pos, None)),
                    Some((header, len)) => {
                        pos += len;
                        self.start_frame(header, mode)?;
                    }
                }
            }
            let frame = self.frame.as_mut().expect("a frame is in progress");
            let take = frame.remaining.min((input.len() - pos) as u64) as usize;
            let chunk = &input[pos..pos + take];
            pos += take;
            frame.remaining -= take as u64;
            if frame.opcode.is_control() {
                frame.control.extend_from_slice(chunk);
            } else {
                self.data_chunk(chunk)?;
            }
            if self.frame.as_ref().unwrap().remaining > 0 {
                return Ok((pos, None));
            }
            let frame = self.frame.take().unwrap();
            if let Some(event) = self.end_frame(frame, mode)? {
                return Ok((pos, Some(event)));
            }
        }
    }

    /// Part mode (see [`Mode::Parts`]): consume bytes while the piece under
    /// way has room; stop after one event. A piece goes out when it is
    /// full, when its message ends, or when `input` runs out with data in
    /// it (so a reader sees data as it arrives, as `read(2)` does). Control
    /// frames between a message's frames are events as in message mode.
    fn read_part(&mut self, input: &[u8]) -> Result<(usize, Option<Event>)> {
        let cap = self.part_size;
        let mut pos = 0;
        loop {
            if self.frame.is_none() && self.finishing() {
                if let Some(event) = self.finish_part(cap)? {
                    return Ok((pos, Some(event)));
                }
            }
            if let Some(event) = self.full_part(cap) {
                return Ok((pos, Some(event)));
            }
            if self.frame.is_none() {
                match FrameHeader::parse(&input[pos..])? {
                    None => return Ok((pos, self.partial_part(cap)?)),
                    Some((header, len)) => {
                        // What came before a control frame goes out first: a
                        // close must not take the bytes before it along.
                        if header.opcode & 0x8 != 0 {
                            if let Some(piece) = self.partial_part(cap)? {
                                return Ok((pos, Some(piece)));
                            }
                        }
                        pos += len;
                        self.start_frame(header, Mode::Parts)?;
                    }
                }
            }
            let frame = self.frame.as_mut().expect("a frame is in progress");
            let take = frame.remaining.min((input.len() - pos) as u64) as usize;
            let chunk = &input[pos..pos + take];
            if frame.opcode.is_control() {
                frame.control.extend_from_slice(chunk);
                frame.remaining -= take as u64;
                pos += take;
                if frame.remaining > 0 {
                    return Ok((pos, self.partial_part(cap)?));
                }
                let frame = self.frame.take().expect("a frame is in progress");
                return Ok((pos, self.end_frame(frame, Mode::Messages)?));
            }
            let used = self.part_chunk(chunk, cap)?;
            pos += used;
            let frame = self.frame.as_mut().expect("a frame is in progress");
            frame.remaining -= used as u64;
            if frame.remaining == 0 {
                let frame = self.frame.take().expect("a frame is in progress");
                if frame.fin {
                    let partial = self.message.as_mut().expect("a message is in progress");
                    partial.streamed.as_mut().expect("streamed").finishing = true;
                }
                continue;
            }
            if pos == input.len() || (used == 0 && !self.piece_is_full(cap)) {
                return Ok((pos, self.partial_part(cap)?));
            }
        }
    }

    fn finishing(&self) -> bool {
        self.message
            .as_ref()
            .and_then(|p| p.streamed.as_ref())
            .is_some_and(|s| s.finishing)
    }

    fn piece_is_full(&self, cap: usize) -> bool {
        self.message
            .as_ref()
            .is_some_and(|p| p.message.data.len() >= cap)
    }

    /// Part mode: take what `chunk` (of the current data frame) gives into
    /// the piece under way, up to `cap` bytes in all; returns the bytes of
    /// `chunk` used.
    fn part_chunk(&mut self, chunk: &[u8], cap: usize) -> Result<usize> {
        let partial = self.message.as_mut().expect("a message is in progress");
        let m = &mut partial.message;
        let streamed = partial.streamed.as_mut().expect("streamed");
        let room = cap.saturating_sub(m.data.len());
        let before = m.data.len();
        let used = if m.compressed {
            let inflater = self.inflater.as_mut().expect("compression negotiated");
            let (used, full) = inflater.inflate_bounded(chunk, &mut m.data, room)?;
            streamed.inflate_pending = full;
            used
        } else {
            let n = chunk.len().min(room);
            try_grow(&mut m.data, n)?;
            m.data.extend_from_slice(&chunk[..n]);
            n
        };
        streamed.total += (m.data.len() - before) as u64;
        if streamed.total > self.limits.max_message_size as u64 {
            return Err(Error::too_big(format!(
                "message exceeds the limit of {} bytes",
                self.limits.max_message_size
            )));
        }
        validate_utf8(&mut partial.utf8, &m.data[before..])?;
        Ok(used)
    }

    /// Part mode, after the message's last frame: inflate the tail, then
    /// hand out the last piece. `None`: the piece filled up first.
    fn finish_part(&mut self, cap: usize) -> Result<Option<Event>> {
        let compressed = self.message.as_ref().is_some_and(|p| p.message.compressed);
        if compressed {
            loop {
                let partial = self.message.as_ref().expect("a message is in progress");
                let streamed = partial.streamed.as_ref().expect("streamed");
                let tail_used = streamed.tail_used;
                if tail_used == Inflater::TAIL.len() && !streamed.inflate_pending {
                    break;
                }
                if partial.message.data.len() >= cap {
                    return Ok(None);
                }
                let used = self.part_chunk(&Inflater::TAIL[tail_used..], cap)?;
                let partial = self.message.as_mut().expect("a message is in progress");
                partial.streamed.as_mut().expect("streamed").tail_used += used;
            }
            self.inflater
                .as_mut()
                .expect("compression negotiated")
                .message_done();
        }
        let partial = self.message.take().expect("a message is in progress");
        if partial.utf8.as_ref().is_some_and(|v| !v.is_complete()) {
            return Err(Error::invalid_payload(
                "text message ends inside a UTF-8 sequence",
            ));
        }
        Ok(Some(Event::Part {
            kind: partial.message.kind,
            data: partial.message.data,
            last: true,
        }))
    }

    /// Part mode: a full piece (`cap` bytes; a text piece ends before a
    /// character it would cut).
    fn full_part(&mut self, cap: usize) -> Option<Event> {
        let partial = self.message.as_mut()?;
        let m = &mut partial.message;
        if partial.streamed.is_none() || m.data.len() < cap {
            return None;
        }
        let cut = piece_end(m.kind, &m.data[..cap]);
        let rest = m.data.split_off(cut);
        Some(Event::Part {
            kind: m.kind,
            data: std::mem::replace(&mut m.data, rest),
            last: false,
        })
    }

    /// Part mode, when the input ran out: what the piece under way holds,
    /// after whatever zlib still held back; `None` when it is empty.
    fn partial_part(&mut self, cap: usize) -> Result<Option<Event>> {
        if self
            .message
            .as_ref()
            .and_then(|p| p.streamed.as_ref())
            .is_some_and(|s| s.inflate_pending && !s.finishing)
            && !self.piece_is_full(cap)
        {
            self.part_chunk(&[], cap)?;
        }
        if let Some(event) = self.full_part(cap) {
            return Ok(Some(event));
        }
        let Some(partial) = self.message.as_mut().filter(|p| p.streamed.is_some()) else {
            return Ok(None);
        };
        let m = &mut partial.message;
        let cut = piece_end(m.kind, &m.data);
        if cut == 0 {
            return Ok(None);
        }
        let rest = m.data.split_off(cut);
        Ok(Some(Event::Part {
            kind: m.kind,
            data: std::mem::replace(&mut m.data, rest),
            last: false,
        }))
    }

    /// Validate a header against RFC 6455 §5 and the negotiated extensions.
    fn start_frame(&mut self, h: FrameHeader, mode: Mode) -> Result<()> {
        self.frames += 1;
        if let Some(trace) = &self.trace {
            trace.emit(frame_event(TraceKind::FrameReceived, &h));
        }
        if h.mask.is_some() {
            return Err(Error::protocol("the server sent a masked frame"));
        }
        let allowed_rsv = if self.inflater.is_some() { RSV1 } else { 0 };
        if h.rsv & !allowed_rsv != 0 {
            return Err(Error::protocol(format!(
                "reserved bits 0x{:x} set without a negotiated extension",
                h.rsv
            )));
        }
        let opcode = OpCode::from_u8(h.opcode)
            .ok_or_else(|| Error::protocol(format!("reserved opcode 0x{:x}", h.opcode)))?;
        if opcode.is_control() {
            if !h.fin {
                return Err(Error::protocol("fragmented control frame"));
            }
            if h.payload_len > 125 {
                return Err(Error::protocol("control frame payload over 125 bytes"));
            }
            if h.rsv != 0 {
                return Err(Error::protocol("RSV1 set on a control frame"));
            }
        } else if h.payload_len > self.limits.max_frame_size {
            return Err(Error::too_big(format!(
                "frame of {} bytes exceeds the limit of {}",
                h.payload_len, self.limits.max_frame_size
            )));
        }
        match opcode {
            OpCode::Continuation => {
                if self.message.is_none() {
                    return Err(Error::protocol("continuation frame without a message"));
                }
                if h.rsv & RSV1 != 0 {
                    return Err(Error::protocol("RSV1 set on a continuation frame"));
                }
            }
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(Error::protocol(
                        "new data frame while a fragmented message is in progress",
                    ));
                }
                let kind = if opcode == OpCode::Text {
                    MessageType::Text
                } else {
                    MessageType::Binary
                };
                let mut message = Message::new(kind, Vec::new());
                message.compressed = h.rsv & RSV1 != 0;
                self.message = Some(PartialMessage {
                    message,
                    utf8: (kind == MessageType::Text).then(Utf8Validator::default),
                    unchecked_from: None,
                    streamed: (mode == Mode::Parts).then(Streamed::default),
                });
            }
            _ => {}
        }
        if let Some(s) = self
            .message
            .as_ref()
            .filter(|_| !opcode.is_control())
            .and_then(|p| p.streamed.as_ref().filter(|_| !p.message.compressed))
        {
            // A message in parts keeps no frame records and no data: only
            // its size counts (a compressed one's, as it is inflated).
            if s.total.saturating_add(h.payload_len) > self.limits.max_message_size as u64 {
                return Err(Error::too_big(format!(
                    "message exceeds the limit of {} bytes",
                    self.limits.max_message_size
                )));
            }
        } else if let Some(partial) = self
            .message
            .as_mut()
            .filter(|p| !opcode.is_control() && p.streamed.is_none())
        {
            let m = &mut partial.message;
            // What the message holds so far counts against the limit: its
            // data (for a compressed one, its wire bytes; the inflated data
            // is checked while inflating) and the record of every frame, so
            // millions of empty fragments cannot grow memory without bound.
            let kept = if m.compressed {
                m.wire.len()
            } else {
                m.data.len()
            };
            let records = m.frames.len() * std::mem::size_of::<FrameInfo>();
            if (kept + records) as u64 + h.payload_len > self.limits.max_message_size as u64 {
                return Err(Error::too_big(format!(
                    "message exceeds the limit of {} bytes",
                    self.limits.max_message_size
                )));
            }
            let start = if m.compressed {
                m.wire.len()
            } else {
                m.data.len()
            };
            // Nothing is reserved for the announced length: buffers grow as
            // payload arrives (see `data_chunk`), so memory follows the bytes
            // received, whatever the header claims.
            let end = usize::try_from(h.payload_len)
                .ok()
                .and_then(|n| start.checked_add(n))
                .ok_or_else(|| Error::too_big("frame length does not fit in memory"))?;
            m.frames
                .try_push(FrameInfo {
                    fin: h.fin,
                    rsv: h.rsv,
                    opcode: h.opcode,
                    payload_len: h.payload_len,
                    payload: start..end,
                })
                .map_err(|_| out_of_memory())?;
        }
        self.frame = Some(PartialFrame {
            opcode,
            fin: h.fin,
            rsv: h.rsv,
            remaining: h.payload_len,
            control: Vec::new(),
        });
        Ok(())
    }

    /// Append (or inflate) a piece of a data frame's payload and validate it.
    fn data_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let partial = self.message.as_mut().expect("a message is in progress");
        let m = &mut partial.message;
        let before = m.data.len();
        if m.compressed {
            try_grow(&mut m.wire, chunk.len())?;
            m.wire.extend_from_slice(chunk);
            let inflater = self.inflater.as_mut().expect("compression negotiated");
            let inflated = inflater.inflate(chunk, &mut m.data, self.limits.max_message_size);
            checked_inflate(inflated, &mut partial.utf8, &m.data, before, self.limits)
        } else {
            try_grow(&mut m.data, chunk.len())?;
            m.data.extend_from_slice(chunk);
            validate_utf8(&mut partial.utf8, &m.data[before..])
        }
    }

    fn end_frame(&mut self, frame: PartialFrame, mode: Mode) -> Result<Option<Event>> {
        if mode == Mode::Frames {
            return self.end_frame_as_frame(frame).map(Some);
        }
        let event = match frame.opcode {
            OpCode::Ping => Some(Event::Ping(frame.control)),
            OpCode::Pong => Some(Event::Pong(frame.control)),
            OpCode::Close => Some(Event::Close(CloseFrame::parse(&frame.control)?)),
            _ if !frame.fin => None,
            _ => {
                let mut partial = self.message.take().expect("a message is in progress");
                Self::finish_message(&mut partial, self.inflater.as_mut(), self.limits)?;
                let m = &mut partial.message;
                if m.data.capacity() > 2 * m.data.len() + 4096 {
                    m.data.shrink_to_fit();
                }
                m.wire.shrink_to_fit();
                Some(Event::Message(partial.message))
            }
        };
        Ok(event)
    }

    /// Inflate the tail of a compressed message and check its UTF-8 is complete.
    fn finish_message(
        partial: &mut PartialMessage,
        inflater: Option<&mut Inflater>,
        limits: Limits,
    ) -> Result<()> {
        let m = &mut partial.message;
        if m.compressed {
            let before = m.data.len();
            let inflater = inflater.expect("compression negotiated");
            let inflated = inflater.finish_message(&mut m.data, limits.max_message_size);
            checked_inflate(inflated, &mut partial.utf8, &m.data, before, limits)?;
        }
        if partial.utf8.as_ref().is_some_and(|v| !v.is_complete()) {
            return Err(Error::invalid_payload(
                "text message ends inside a UTF-8 sequence",
            ));
        }
        Ok(())
    }

    /// Frame mode: hand out the frame; a data frame takes the message data
    /// received since the previous frame, so nothing accumulates.
    fn end_frame_as_frame(&mut self, frame: PartialFrame) -> Result<Event> {
        let payload = if frame.opcode.is_control() {
            if frame.opcode == OpCode::Close {
                CloseFrame::parse(&frame.control)?;
            }
            frame.control
        } else {
            let partial = self.message.as_mut().expect("a message is in progress");
            if frame.fin {
                Self::finish_message(partial, self.inflater.as_mut(), self.limits)?;
            }
            let m = &mut partial.message;
            m.frames.clear();
            m.wire.clear();
            let data = std::mem::take(&mut m.data);
            if frame.fin {
                self.message = None;
            }
            data
        };
        Ok(Event::Frame(Frame {
            fin: frame.fin,
            rsv: frame.rsv,
            opcode: frame.opcode as u8,
            masked: false,
            payload,
        }))
    }
}

/// Make room for `more` elements, the way `Vec` grows (amortised doubling),
/// but an allocation failure is a 1009 *fail* instead of an abort.
fn try_grow<T>(v: &mut Vec<T>, more: usize) -> Result<()> {
    v.try_reserve(more).map_err(|_| out_of_memory())
}

fn out_of_memory() -> Error {
    Error::too_big("out of memory for the incoming message")
}

/// Validate what an inflate step appended (`data[before..]`), also when it
/// failed: invalid UTF-8 within the message limit is reported before the
/// inflater's error, so the close code does not depend on how reads split
/// the compressed bytes (one big step may overrun the limit where smaller
/// ones meet the bad byte first).
fn checked_inflate(
    inflated: Result<()>,
    utf8: &mut Option<Utf8Validator>,
    data: &[u8],
    before: usize,
    limits: Limits,
) -> Result<()> {
    let end = data.len().min(limits.max_message_size).max(before);
    validate_utf8(utf8, &data[before..end])?;
    inflated?;
    validate_utf8(utf8, &data[end..])
}

/// Where a piece of `data` (validated so far) may end: all of it, but for
/// text not inside a character (the bytes of a character cut at the end
/// wait for the next piece).
fn piece_end(kind: MessageType, data: &[u8]) -> usize {
    if kind != MessageType::Text {
        return data.len();
    }
    // The start of the last character, within its at most 4 bytes.
    let lead = (data.len().saturating_sub(4)..data.len())
        .rev()
        .find(|&i| data[i] & 0xC0 != 0x80);
    let Some(lead) = lead else {
        return data.len();
    };
    let width = match data[lead] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        _ => 2,
    };
    if lead + width <= data.len() {
        data.len()
    } else {
        lead
    }
}

fn validate_utf8(validator: &mut Option<Utf8Validator>, bytes: &[u8]) -> Result<()> {
    match validator.as_mut().map(|v| v.feed(bytes)) {
        Some(false) => Err(Error::invalid_payload("text message is not valid UTF-8")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked frame, as a server sends it.
    pub(super) fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        }
        .encode(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// Feed `input` in chunks of `chunk` bytes; collect every event or the error.
    fn run(input: &[u8], chunk: usize) -> Result<Vec<Event>> {
        let mut rx = Receiver::new(Limits::default(), None);
        let mut buf: Vec<u8> = Vec::new();
        let mut events = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (used, event) = rx.read(&buf)?;
                buf.drain(..used);
                match event {
                    Some(e) => events.push(e),
                    None => break,
                }
            }
        }
        Ok(events)
    }

    fn stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(frame(false, 0, 1, "Hel".as_bytes()));
        s.extend(frame(true, 0, 9, b"ping!"));
        s.extend(frame(false, 0, 0, "lo ".as_bytes()));
        s.extend(frame(true, 0, 0, "wörld".as_bytes()));
        s.extend(frame(true, 0, 2, &[0u8; 300]));
        s.extend(frame(true, 0, 8, &[0x03, 0xE8, b'b', b'y', b'e']));
        s
    }

    #[test]
    fn reassembles_with_interleaved_control_frames_in_any_chunking() {
        let input = stream();
        for chunk in [input.len(), 1, 2, 3, 7, 64] {
            let events = run(&input, chunk).unwrap();
            assert_eq!(events.len(), 4, "chunk {chunk}");
            assert_eq!(events[0], Event::Ping(b"ping!".to_vec()));
            let Event::Message(m) = &events[1] else {
                panic!()
            };
            assert_eq!(
                (m.kind, m.data.as_slice()),
                (MessageType::Text, "Hello wörld".as_bytes())
            );
            assert_eq!(m.frames.len(), 3);
            assert_eq!(m.frame_payload(1), Some("lo ".as_bytes()));
            let Event::Message(b) = &events[2] else {
                panic!()
            };
            assert_eq!(b.size(), 300);
            assert_eq!(
                events[3],
                Event::Close(CloseFrame {
                    code: Some(1000),
                    reason: "bye".into()
                })
            );
        }
    }

    #[test]
    fn random_chunking_gives_same_events() {
        let input = stream();
        let whole = run(&input, input.len()).unwrap();
        let mut state = 0x2545F491u32;
        for _ in 0..200 {
            let mut rx = Receiver::new(Limits::default(), None);
            let (mut buf, mut events, mut at) = (Vec::new(), Vec::new(), 0);
            while at < input.len() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let n = (state as usize % 9 + 1).min(input.len() - at);
                buf.extend_from_slice(&input[at..at + n]);
                at += n;
                loop {
                    let (used, event) = rx.read(&buf).unwrap();
                    buf.drain(..used);
                    match event {
                        Some(e) => events.push(e),
                        None => break,
                    }
                }
            }
            assert_eq!(events, whole);
        }
    }

    fn close_code(input: &[u8]) -> Option<u16> {
        run(input, 1).unwrap_err().close_code()
    }

    #[test]
    fn protocol_violations_fail_with_1002() {
        let masked = [0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1];
        assert_eq!(close_code(&masked), Some(1002));
        assert_eq!(close_code(&frame(true, 4, 1, b"x")), Some(1002)); // RSV1 without deflate
        assert_eq!(close_code(&frame(true, 2, 1, b"x")), Some(1002));
        assert_eq!(close_code(&frame(true, 0, 3, b"")), Some(1002)); // reserved opcode
        assert_eq!(close_code(&frame(true, 0, 0xB, b"")), Some(1002));
        assert_eq!(close_code(&frame(false, 0, 9, b"")), Some(1002)); // fragmented ping
        assert_eq!(close_code(&frame(true, 0, 9, &[0; 126])), Some(1002));
        assert_eq!(close_code(&frame(true, 0, 0, b"x")), Some(1002)); // lone continuation
        let mut two_starts = frame(false, 0, 1, b"a");
        two_starts.extend(frame(true, 0, 1, b"b"));
        assert_eq!(close_code(&two_starts), Some(1002));
        assert_eq!(close_code(&frame(true, 0, 8, &[0x03])), Some(1002));
    }

    #[test]
    fn invalid_utf8_fails_fast_inside_a_fragmented_message() {
        // The first fragment is already invalid; the message never finishes.
        let input = frame(false, 0, 1, &[0xCE, 0xBA, 0xF4, 0x90]);
        assert_eq!(close_code(&input), Some(1007));
        // Within one frame, before its payload has fully arrived.
        let mut rx = Receiver::new(Limits::default(), None);
        let whole = frame(true, 0, 1, &[b'a', 0xFF, b'b', b'c']);
        assert!(rx.read(&whole[..2]).unwrap().1.is_none());
        assert_eq!(rx.read(&whole[2..4]).unwrap_err().close_code(), Some(1007));
        // Truncated sequence at the end of the message.
        assert_eq!(close_code(&frame(true, 0, 1, &[0xE2, 0x82])), Some(1007));
    }

    #[test]
    fn limits_fail_with_1009() {
        let limits = Limits {
            max_frame_size: 10,
            max_message_size: 15,
        };
        let mut rx = Receiver::new(limits, None);
        let e = rx.read(&frame(true, 0, 2, &[0; 11])).unwrap_err();
        assert_eq!(e.close_code(), Some(1009));
        let mut rx = Receiver::new(limits, None);
        let mut input = frame(false, 0, 2, &[0; 10]);
        input.extend(frame(true, 0, 0, &[0; 10]));
        assert_eq!(rx.read(&input).unwrap_err().close_code(), Some(1009));
    }

    /// Payload buffered by the message in progress (capacity, not length).
    fn buffered(rx: &Receiver) -> usize {
        rx.message.as_ref().map_or(0, |p| p.message.data.capacity())
    }

    #[test]
    fn announced_lengths_reserve_nothing_even_without_limits() {
        // A header claiming 2^62 bytes used to be reserved up front: with
        // "no limit" settings that aborted the process.
        let unlimited = Limits {
            max_frame_size: u64::MAX,
            max_message_size: usize::MAX,
        };
        for limits in [unlimited, Limits::default()] {
            let announced = limits.max_frame_size.min(1 << 62);
            let mut input = Vec::new();
            FrameHeader {
                fin: true,
                rsv: 0,
                opcode: 2,
                mask: None,
                payload_len: announced,
            }
            .encode(&mut input);
            input.extend_from_slice(&[7; 1000]);
            let mut rx = Receiver::new(limits, None);
            assert_eq!(rx.read(&input).unwrap(), (input.len(), None));
            assert_eq!(rx.frame_remaining(), announced - 1000);
            assert!(buffered(&rx) < 64 << 10, "{} bytes buffered", buffered(&rx));
        }
    }

    #[test]
    fn the_close_code_does_not_depend_on_how_compressed_bytes_are_split() {
        // Found by fuzz/receiver: inflated at once, this text overran the
        // 100-byte limit (1009) before its bad UTF-8 was seen; byte by
        // byte, the bad UTF-8 came first (1007).
        let input = [
            0xc1, 0x0b, 0xca, 0x2b, 0x57, 0x28, 0xff, 0xff, 0xff, 0xfd, 0x57, 0xba, 0x00, 0x08,
        ];
        let limits = Limits {
            max_frame_size: 64,
            max_message_size: 100,
        };
        let code = |chunk: usize| {
            let mut rx = Receiver::new(limits, Some(Inflater::new(15, false).unwrap()));
            let mut buf = Vec::new();
            for piece in input.chunks(chunk) {
                buf.extend_from_slice(piece);
                match rx.read(&buf) {
                    Ok((used, _)) => drop(buf.drain(..used)),
                    Err(e) => return e.close_code(),
                }
            }
            None
        };
        assert_eq!(code(input.len()), Some(1007));
        assert_eq!(code(1), Some(1007));
    }

    #[test]
    fn frame_mode_validates_and_hands_out_each_frame() {
        let input = stream();
        let mut rx = Receiver::new(Limits::default(), None);
        let (mut at, mut got) = (0, Vec::new());
        while let (used, Some(Event::Frame(f))) = rx.read_as(&input[at..], Mode::Frames).unwrap() {
            at += used;
            got.push((f.fin, f.opcode, f.payload));
        }
        assert_eq!(at, input.len());
        let expected: Vec<(bool, u8, Vec<u8>)> = vec![
            (false, 1, b"Hel".to_vec()),
            (true, 9, b"ping!".to_vec()),
            (false, 0, b"lo ".to_vec()),
            (true, 0, "wörld".as_bytes().to_vec()),
            (true, 2, vec![0; 300]),
            (true, 8, vec![0x03, 0xE8, b'b', b'y', b'e']),
        ];
        assert_eq!(got, expected);
        assert!(!rx.in_message());
        // The same rules as for messages.
        let mut rx = Receiver::new(Limits::default(), None);
        let e = rx
            .read_as(&frame(true, 2, 1, b"x"), Mode::Frames)
            .unwrap_err();
        assert_eq!(e.close_code(), Some(1002));
        let mut rx = Receiver::new(Limits::default(), None);
        let e = rx
            .read_as(&frame(true, 0, 1, &[0xFF]), Mode::Frames)
            .unwrap_err();
        assert_eq!(e.close_code(), Some(1007));
    }

    #[test]
    fn frame_mode_inflates_compressed_frames() {
        let mut deflater = crate::deflate::Deflater::new(15, false, 6).unwrap();
        let mut compressed = Vec::new();
        deflater
            .compress_message(b"hello hello hello", &mut compressed)
            .unwrap();
        let (a, b) = compressed.split_at(compressed.len() / 2);
        let mut input = frame(false, RSV1, 1, a);
        input.extend(frame(true, 0, 0, b));
        let mut rx = Receiver::new(Limits::default(), Some(Inflater::new(15, false).unwrap()));
        let mut text = Vec::new();
        let mut at = 0;
        while let (used, Some(Event::Frame(f))) = rx.read_as(&input[at..], Mode::Frames).unwrap() {
            at += used;
            text.extend(f.payload);
        }
        assert_eq!(text, b"hello hello hello");
    }

    #[test]
    fn random_bytes_never_panic() {
        // Garbage, and mutations of a valid stream, with and without deflate.
        let valid = stream();
        let mut state = 0x9E3779B9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for round in 0..3000 {
            let mut input: Vec<u8> = if round % 2 == 0 {
                (0..(next() % 64)).map(|_| next() as u8).collect()
            } else {
                valid.clone()
            };
            for _ in 0..(next() % 4) {
                let at = next() as usize % input.len().max(1);
                if let Some(b) = input.get_mut(at) {
                    *b ^= 1 << (next() % 8);
                }
            }
            let inflater = (round % 3 == 0).then(|| Inflater::new(15, false).unwrap());
            let limits = Limits {
                max_frame_size: 1 << 16,
                max_message_size: 1 << 16,
            };
            let mut rx = Receiver::new(limits, inflater);
            let mut at = 0;
            while let Ok((used, Some(_))) = rx.read(&input[at..]) {
                at += used;
            }
            let mut rx = Receiver::new(limits, None);
            let _ = rx.read_as(&input, Mode::Frames);
        }
    }

    /// Drive a receiver the way the connection does with direct reads: the
    /// first `head` bytes through the read buffer, the rest straight into the
    /// message at most `step` bytes at a time (spilling what follows the frame).
    fn run_direct(input: &[u8], head: usize, step: usize) -> Result<Vec<Event>> {
        let mut rx = Receiver::new(Limits::default(), None);
        let mut buffered: Vec<u8> = input[..head].to_vec();
        let mut rest = &input[head..];
        let mut events = Vec::new();
        loop {
            let (used, event) = rx.read(&buffered)?;
            buffered.drain(..used);
            if let Some(e) = event {
                events.push(e);
                continue;
            }
            if rest.is_empty() && buffered.is_empty() {
                return Ok(events);
            }
            match rx.direct_sink().filter(|_| buffered.is_empty()) {
                Some(data) => {
                    let before = data.len();
                    let room = (data.capacity() - before).min(step).min(rest.len());
                    data.extend_from_slice(&rest[..room]);
                    rest = &rest[room..];
                    rx.direct_filled(before, |spill| buffered.extend_from_slice(spill));
                }
                None => {
                    let n = rest.len().min(step);
                    buffered.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                }
            }
        }
    }

    #[test]
    fn direct_reads_reassemble_and_spill_what_follows_the_frame() {
        let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = frame(false, 0, 1, &big[..100_000]);
        input.extend(frame(true, 0, 9, b"hi"));
        input.extend(frame(true, 0, 0, &big[100_000..]));
        input.extend(frame(true, 0, 2, b"next"));
        for (head, step) in [(10, 1 << 20), (5000, 70_000), (14, 3)] {
            let events = run_direct(&input, head, step).unwrap();
            assert_eq!(events.len(), 3, "head {head}, step {step}");
            assert_eq!(events[0], Event::Ping(b"hi".to_vec()));
            let Event::Message(m) = &events[1] else {
                panic!("{:?}", events[1])
            };
            assert_eq!(m.data, big);
            assert_eq!(m.frame_payload(1), Some(&big[100_000..]));
            let Event::Message(next) = &events[2] else {
                panic!()
            };
            assert_eq!(next.data, b"next");
        }
    }

    #[test]
    fn direct_reads_are_validated_and_bounded_by_bytes_received() {
        let mut text = vec![b'x'; 200_000];
        text[150_000] = 0xff;
        let input = frame(true, 0, 1, &text);
        let err = run_direct(&input, 10, 1 << 20).unwrap_err();
        assert_eq!(err.close_code(), Some(1007));
        // A header announcing 60 MiB reserves room for what came, not for 60 MiB.
        let mut rx = Receiver::new(Limits::default(), None);
        let mut header = Vec::new();
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: 2,
            mask: None,
            payload_len: 60 << 20,
        }
        .encode(&mut header);
        rx.read(&header).unwrap();
        let data = rx.direct_sink().unwrap();
        assert!(data.capacity() <= DIRECT_ROOM, "{}", data.capacity());
        data.extend_from_slice(&[0; 1000]);
        rx.direct_filled(0, |_| panic!("nothing to spill"));
        assert_eq!(rx.frame_remaining(), (60 << 20) - 1000);
    }
}

#[cfg(test)]
mod part_tests {
    use super::tests::frame;
    use super::*;
    use crate::deflate::Deflater;

    /// A message's frames: `data` split into `pieces` frames, compressed
    /// (as one message) when `deflater` is given.
    fn message(kind: u8, data: &[u8], pieces: usize, deflater: Option<&mut Deflater>) -> Vec<u8> {
        let (body, rsv) = match deflater {
            Some(d) => {
                let mut c = Vec::new();
                d.compress_message(data, &mut c).unwrap();
                (c, RSV1)
            }
            None => (data.to_vec(), 0),
        };
        let step = body.len().div_ceil(pieces).max(1);
        let chunks: Vec<&[u8]> = if body.is_empty() {
            vec![&[]]
        } else {
            body.chunks(step).collect()
        };
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == chunks.len();
            out.extend(frame(
                last,
                if first { rsv } else { 0 },
                if first { kind } else { 0 },
                chunk,
            ));
            if !last {
                out.extend(frame(true, 0, 9, b"between"));
            }
        }
        out
    }

    /// A message as received: its type and data.
    type Received = (MessageType, Vec<u8>);

    /// Feed `input` `chunk` bytes at a time in part mode with pieces of at
    /// most `cap`; the messages as (type, data), checking every piece.
    fn parts(
        input: &[u8],
        chunk: usize,
        cap: usize,
        inflater: Option<Inflater>,
    ) -> Result<(Vec<Received>, usize)> {
        let limits = Limits {
            max_frame_size: u64::MAX,
            max_message_size: usize::MAX,
        };
        let mut rx = Receiver::new(limits, inflater);
        rx.set_part_size(cap);
        let (mut buf, mut out, mut pings) = (Vec::new(), Vec::new(), 0);
        let mut current: Option<Received> = None;
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (used, event) = rx.read_as(&buf, Mode::Parts)?;
                buf.drain(..used);
                match event {
                    Some(Event::Part { kind, data, last }) => {
                        assert!(data.len() <= cap, "{} > {cap}", data.len());
                        if kind == MessageType::Text {
                            assert!(std::str::from_utf8(&data).is_ok(), "a cut character");
                        }
                        let m = current.get_or_insert_with(|| (kind, Vec::new()));
                        assert_eq!(m.0, kind);
                        m.1.extend(data);
                        if last {
                            out.push(current.take().unwrap());
                        }
                    }
                    Some(Event::Ping(_)) => pings += 1,
                    Some(e) => panic!("unexpected {e:?}"),
                    None => break,
                }
                // The memory bound: what waits to be handed out.
                assert!(rx.message.as_ref().map_or(0, |p| p.message.data.len()) <= cap);
            }
        }
        Ok((out, pings))
    }

    fn sample() -> Vec<(u8, Vec<u8>)> {
        let text: String = "añb€c𝄞d".repeat(300);
        vec![
            (1, text.into_bytes()),
            (2, (0..5000u32).map(|i| (i * 7) as u8).collect()),
            (1, Vec::new()),
            (1, "x".into()),
            (2, vec![0; 70_000]),
        ]
    }

    #[test]
    fn pieces_rebuild_every_message_in_any_chunking_and_size() {
        for compress in [false, true] {
            let mut deflater = Deflater::new(15, false, 6).unwrap();
            let mut input = Vec::new();
            for (kind, data) in sample() {
                let d = compress.then_some(&mut deflater);
                input.extend(message(kind, &data, 3, d));
            }
            for (chunk, cap) in [(1, 4), (7, 5), (100, 7), (4096, 100), (1 << 20, 65536)] {
                let inflater = compress.then(|| Inflater::new(15, false).unwrap());
                let (got, pings) = parts(&input, chunk, cap, inflater).unwrap();
                let want: Vec<Received> = sample()
                    .into_iter()
                    .map(|(k, d)| {
                        let kind = if k == 1 {
                            MessageType::Text
                        } else {
                            MessageType::Binary
                        };
                        (kind, d)
                    })
                    .collect();
                assert_eq!(
                    got.len(),
                    want.len(),
                    "compress {compress} chunk {chunk} cap {cap}"
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!(g == w, "compress {compress} chunk {chunk} cap {cap}");
                }
                let between = input.windows(9).filter(|w| &w[2..] == b"between").count();
                assert_eq!(pings, between);
            }
        }
    }

    #[test]
    fn a_compression_bomb_streams_in_pieces_of_the_size_asked() {
        let big = vec![b'a'; 20 << 20];
        let mut deflater = Deflater::new(15, false, 9).unwrap();
        let input = message(1, &big, 1, Some(&mut deflater));
        assert!(input.len() < 100 << 10);
        let (got, _) = parts(
            &input,
            input.len(),
            64 << 10,
            Some(Inflater::new(15, false).unwrap()),
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].1 == big);
    }

    #[test]
    fn limits_and_utf8_apply_to_streamed_messages() {
        let mut rx = Receiver::new(
            Limits {
                max_frame_size: 1000,
                max_message_size: 1500,
            },
            None,
        );
        rx.set_part_size(100);
        let mut input = frame(false, 0, 2, &[0; 1000]);
        input.extend(frame(true, 0, 0, &[0; 600]));
        let mut at = 0;
        let e = loop {
            match rx.read_as(&input[at..], Mode::Parts) {
                Ok((used, _)) => at += used,
                Err(e) => break e,
            }
        };
        assert_eq!(e.close_code(), Some(1009));

        let mut rx = Receiver::new(Limits::default(), None);
        rx.set_part_size(4);
        let input = frame(true, 0, 1, b"ok\xff!");
        let e = rx.read_as(&input, Mode::Parts).unwrap_err();
        assert_eq!(e.close_code(), Some(1007));
        // A message ending inside a character.
        let mut rx = Receiver::new(Limits::default(), None);
        let input = frame(true, 0, 1, "é".as_bytes().split_at(1).0);
        let r = rx.read_as(&input, Mode::Parts);
        assert_eq!(r.unwrap_err().close_code(), Some(1007));
    }

    #[test]
    fn the_bytes_before_a_control_frame_are_handed_out_first() {
        let mut input = frame(false, 0, 2, b"before the close");
        input.extend(frame(true, 0, 8, &[0x03, 0xF3]));
        let mut rx = Receiver::new(Limits::default(), None);
        let (used, event) = rx.read_as(&input, Mode::Parts).unwrap();
        match event {
            Some(Event::Part { data, last, .. }) => {
                assert_eq!((&data[..], last), (&b"before the close"[..], false))
            }
            other => panic!("{other:?}"),
        }
        let (_, event) = rx.read_as(&input[used..], Mode::Parts).unwrap();
        assert!(matches!(event, Some(Event::Close(_))), "{event:?}");
    }

    #[test]
    fn the_end_of_a_character_waits_for_the_next_piece() {
        assert_eq!(piece_end(MessageType::Text, "ab€".as_bytes()), 5);
        assert_eq!(piece_end(MessageType::Text, &"ab€".as_bytes()[..4]), 2);
        assert_eq!(piece_end(MessageType::Text, &"𝄞".as_bytes()[..3]), 0);
        assert_eq!(piece_end(MessageType::Binary, &"𝄞".as_bytes()[..3]), 3);
        assert_eq!(piece_end(MessageType::Text, b""), 0);
    }
}
