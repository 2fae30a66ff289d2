//! The sending half of the protocol: messages and frames in, masked bytes out.

use crate::deflate::Deflater;
use crate::error::{Error, Result};
use crate::proto::frame::{FrameHeader, RSV1};
use crate::proto::mask::mask_into;
use crate::proto::mask_keys::MaskKeys;
use crate::proto::message::MessageType;

/// Where encoded frames go: a plain `Vec`, or the session's output queue,
/// which reuses its memory so that masking is the only pass over a payload.
pub trait FrameSink {
    /// One frame: its `header`, then `payload` masked with `key`; `last`
    /// when it ends its message.
    fn frame(&mut self, header: &[u8], payload: &[u8], key: [u8; 4], last: bool);
}

impl FrameSink for Vec<u8> {
    fn frame(&mut self, header: &[u8], payload: &[u8], key: [u8; 4], _last: bool) {
        self.extend_from_slice(header);
        let start = self.len();
        self.resize(start + payload.len(), 0);
        mask_into(&mut self[start..], payload, key);
    }
}

/// Frames we send carry at most this much payload unless a fragment size is
/// set: a control frame (a pong, the close) never waits behind more than
/// this of one data frame, and 128 KiB frames still arrive in few reads.
pub const MAX_FRAME: usize = 128 << 10;

pub struct Sender {
    keys: MaskKeys,
    deflater: Option<Deflater>,
    /// Split outgoing messages into frames of at most this many bytes (0: never).
    fragment_size: usize,
    scratch: Vec<u8>,
}

impl Sender {
    pub fn new(deflater: Option<Deflater>, fragment_size: usize) -> Sender {
        Sender {
            keys: MaskKeys::new(),
            deflater,
            fragment_size,
            scratch: Vec::new(),
        }
    }

    pub fn can_compress(&self) -> bool {
        self.deflater.as_ref().is_some_and(Deflater::can_compress)
    }

    /// Whether a message goes out compressed.
    pub fn compresses(&self, compress: bool) -> bool {
        compress && self.can_compress()
    }

    /// The most payload one frame carries.
    pub fn frame_cap(&self) -> usize {
        match self.fragment_size {
            0 => MAX_FRAME,
            n => n,
        }
    }

    /// The header of one frame of `len` payload bytes and the fresh key to
    /// mask its payload with.
    pub fn frame_header(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        len: u64,
    ) -> ([u8; 14], usize, [u8; 4]) {
        let key = self.keys.next();
        let (header, n) = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: Some(key),
            payload_len: len,
        }
        .to_bytes();
        (header, n, key)
    }

    /// A fresh masking key.
    pub fn next_key(&mut self) -> [u8; 4] {
        self.keys.next()
    }

    /// Append one masked frame to `out`, with a fresh masking key.
    pub fn encode_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        out: &mut impl FrameSink,
    ) {
        let (header, n, key) = self.frame_header(fin, rsv, opcode, payload.len() as u64);
        out.frame(&header[..n], payload, key, fin);
    }

    /// Append a data message to `out`, compressed when `compress` is set and
    /// permessage-deflate allows it, in frames of at most
    /// [`Sender::frame_cap`] bytes.
    pub fn encode_message(
        &mut self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
        out: &mut impl FrameSink,
    ) -> Result<()> {
        let mut rsv = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        let payload = match self
            .deflater
            .as_mut()
            .filter(|d| compress && d.can_compress())
        {
            Some(deflater) => {
                scratch.clear();
                deflater.compress_message(data, &mut scratch)?;
                rsv = RSV1;
                &scratch[..]
            }
            None => data,
        };
        let size = self.frame_cap();
        let mut chunks = payload.chunks(size).peekable();
        let mut opcode = kind.opcode();
        if chunks.peek().is_none() {
            self.encode_frame(true, rsv, opcode, &[], out);
        }
        while let Some(chunk) = chunks.next() {
            let fin = chunks.peek().is_none();
            self.encode_frame(fin, rsv, opcode, chunk, out);
            opcode = 0;
            rsv = 0;
        }
        self.scratch = scratch;
        Ok(())
    }

    /// Compress the next part of a message sent in parts (see
    /// [`Deflater::compress_part`]).
    pub fn compress_part(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) -> Result<()> {
        match self.deflater.as_mut().filter(|d| d.can_compress()) {
            Some(d) => d.compress_part(input, out, last),
            None => Err(Error::invalid_state("compression is not available")),
        }
    }

    /// Validate a control frame payload before it goes out.
    pub fn check_control_payload(payload: &[u8]) -> Result<()> {
        if payload.len() > 125 {
            return Err(Error::invalid_argument(
                "control frame payload over 125 bytes",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::mask::apply_mask;
    use crate::proto::receiver::{Event, Limits, Receiver};

    /// Unmask what the sender wrote and feed it to a receiver.
    fn decode(mut wire: Vec<u8>) -> Vec<Event> {
        let mut pos = 0;
        while pos < wire.len() {
            let (h, n) = FrameHeader::parse(&wire[pos..]).unwrap().unwrap();
            let key = h.mask.expect("client frames are masked");
            let unmasked = FrameHeader { mask: None, ..h };
            let mut header = Vec::new();
            unmasked.encode(&mut header);
            let body_start = pos + n;
            let body_end = body_start + h.payload_len as usize;
            apply_mask(&mut wire[body_start..body_end], key, 0);
            let body = wire[body_start..body_end].to_vec();
            wire.splice(pos..body_end, header.iter().copied().chain(body));
            pos += header.len() + h.payload_len as usize;
        }
        let mut rx = Receiver::new(Limits::default(), None);
        let mut events = Vec::new();
        let mut at = 0;
        while let (used, Some(e)) = rx.read(&wire[at..]).unwrap() {
            at += used;
            events.push(e);
        }
        events
    }

    #[test]
    fn messages_are_masked_with_fresh_keys_and_fragmented() {
        let mut tx = Sender::new(None, 4);
        let mut wire = Vec::new();
        tx.encode_message(MessageType::Text, "hello world".as_bytes(), true, &mut wire)
            .unwrap();
        tx.encode_message(MessageType::Binary, &[], false, &mut wire)
            .unwrap();
        let events = decode(wire.clone());
        let Event::Message(m) = &events[0] else {
            panic!()
        };
        assert_eq!(
            (m.data.as_slice(), m.frames.len()),
            (&b"hello world"[..], 3)
        );
        let Event::Message(e) = &events[1] else {
            panic!()
        };
        assert_eq!((e.kind, e.size()), (MessageType::Binary, 0));
        // Three frames of the first message each had their own key.
        let (h1, n1) = FrameHeader::parse(&wire).unwrap().unwrap();
        let (h2, _) = FrameHeader::parse(&wire[n1 + 4..]).unwrap().unwrap();
        assert_ne!(h1.mask, h2.mask);
    }
}
