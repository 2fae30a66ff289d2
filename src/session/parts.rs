//! A message sent in parts: its payload is given piece by piece (as the
//! socket takes it, or as an event loop has it) and goes out in frames of
//! at most the sender's frame cap, so it is never copied whole and control
//! frames can pass between its frames. Uncompressed, the frames' lengths
//! follow from the message's; compressed (permessage-deflate), each piece
//! is compressed on its own and goes out as the frames its output fills.

use super::outqueue::OutQueue;
use crate::error::{Error, Result};
use crate::proto::frame::RSV1;
use crate::proto::message::MessageType;
use crate::proto::sender::Sender;
use crate::proto::utf8::Utf8Validator;

/// A payload is taken this much at a time: the piece masked is still in
/// cache when the kernel copies it. Measured on 1 MiB echoes (one at a
/// time, beside raw TCP, cheap servers): 32 KiB pieces sent as fast as one
/// raw write; 64-256 KiB pieces were 30-45% slower than raw, 8 KiB pieces
/// paid in system calls.
pub const PIECE: usize = 32 << 10;

pub struct Parts {
    kind: MessageType,
    total: u64,
    /// Payload bytes given so far, and covered by the frames opened so far.
    given: u64,
    declared: u64,
    /// Text given in parts: the UTF-8 check carried from part to part
    /// (None when the text was checked whole beforehand).
    utf8: Option<Utf8Validator>,
    ticket: u64,
    cap: u64,
    /// Compressed: each piece's output, and the frames opened so far.
    compress: bool,
    scratch: Vec<u8>,
    frames: u64,
}

impl Parts {
    /// Start a message of `total` bytes in `out`; `check_text`: validate
    /// text as it comes. A message of no bytes is queued at once (one empty
    /// frame) and `None` comes back.
    pub fn begin(
        kind: MessageType,
        total: u64,
        check_text: bool,
        compress: bool,
        sender: &mut Sender,
        out: &mut OutQueue,
    ) -> (u64, Option<Parts>) {
        out.begin_message();
        let ticket = out.issue();
        let mut parts = Parts {
            kind,
            total,
            given: 0,
            declared: 0,
            utf8: (check_text && kind == MessageType::Text).then(Utf8Validator::default),
            ticket,
            cap: sender.frame_cap() as u64,
            // An empty message goes out as one empty frame, uncompressed.
            compress: compress && total > 0 && sender.can_compress(),
            scratch: Vec::new(),
            frames: 0,
        };
        if total == 0 {
            parts.open_frame(sender, out);
            out.end_message();
            return (ticket, None);
        }
        (ticket, Some(parts))
    }

    pub fn kind(&self) -> MessageType {
        self.kind
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn ticket(&self) -> u64 {
        self.ticket
    }

    /// Bytes of the message not given yet.
    pub fn remaining(&self) -> u64 {
        self.total - self.given
    }

    pub fn is_done(&self) -> bool {
        self.given == self.total
    }

    fn open_frame(&mut self, sender: &mut Sender, out: &mut OutQueue) {
        let len = (self.total - self.declared).min(self.cap);
        let fin = self.declared + len == self.total;
        let opcode = if self.declared == 0 {
            self.kind.opcode()
        } else {
            0
        };
        let (header, n, key) = sender.frame_header(fin, 0, opcode, len);
        out.open(&header[..n], key, len, if fin { self.ticket } else { 0 });
        self.declared += len;
    }

    /// Take bytes of `data` in pieces while `more(out)` says the queue has
    /// room for one: returns how many were taken. Text that cannot continue
    /// valid UTF-8 (or ends the message inside a character) is refused at
    /// the piece where it breaks: an error if that is the first piece.
    pub fn feed(
        &mut self,
        data: &[u8],
        sender: &mut Sender,
        out: &mut OutQueue,
        mut more: impl FnMut(&OutQueue) -> bool,
    ) -> Result<usize> {
        if data.len() as u64 > self.remaining() {
            return Err(Error::invalid_argument(format!(
                "{} bytes given where {} of the message remain",
                data.len(),
                self.remaining()
            )));
        }
        let mut taken = 0;
        while taken < data.len() && more(out) {
            let piece = &data[taken..data.len().min(taken + PIECE)];
            if !self.check_text(piece) {
                if taken > 0 {
                    break; // the next call starts at this piece and is refused
                }
                return Err(Error::invalid_argument(
                    "the text message's part is not valid UTF-8",
                ));
            }
            self.put(piece, sender, out)?;
            taken += piece.len();
        }
        if self.is_done() {
            out.end_message();
        }
        Ok(taken)
    }

    fn check_text(&mut self, piece: &[u8]) -> bool {
        let Some(utf8) = &mut self.utf8 else {
            return true;
        };
        let mut next = utf8.clone();
        let last = self.given + piece.len() as u64 == self.total;
        if !next.feed(piece) || (last && !next.is_complete()) {
            return false;
        }
        *utf8 = next;
        true
    }

    fn put(&mut self, piece: &[u8], sender: &mut Sender, out: &mut OutQueue) -> Result<()> {
        if self.compress {
            return self.put_compressed(piece, sender, out);
        }
        let mut rest = piece;
        while !rest.is_empty() {
            if out.open_left() == 0 {
                self.open_frame(sender, out);
            }
            let n = rest.len().min(out.open_left() as usize);
            out.put_open(&rest[..n]);
            rest = &rest[n..];
            self.given += n as u64;
        }
        Ok(())
    }

    /// Compress `piece` and queue what zlib gives back as frames (the
    /// first with the opcode and RSV1, the message's last with FIN); a
    /// piece whose output zlib keeps for later queues nothing.
    fn put_compressed(
        &mut self,
        piece: &[u8],
        sender: &mut Sender,
        out: &mut OutQueue,
    ) -> Result<()> {
        let last = self.given + piece.len() as u64 == self.total;
        let mut z = std::mem::take(&mut self.scratch);
        z.clear();
        let compressed = sender.compress_part(piece, &mut z, last);
        self.given += piece.len() as u64;
        if let Err(e) = compressed {
            self.scratch = z;
            return Err(e);
        }
        if last && z.is_empty() && self.frames == 0 {
            z.push(0x00); // RFC 7692 §7.2.3.6: nothing else would go out
        }
        // Frames of at most the cap; the last part's last frame has FIN
        // (an empty one when its output is spent).
        let mut rest = &z[..];
        while !rest.is_empty() || last {
            let len = rest.len().min(self.cap as usize);
            let fin = last && len == rest.len();
            let (opcode, rsv) = if self.frames == 0 {
                (self.kind.opcode(), RSV1)
            } else {
                (0, 0)
            };
            let (header, n, key) = sender.frame_header(fin, rsv, opcode, len as u64);
            out.open(
                &header[..n],
                key,
                len as u64,
                if fin { self.ticket } else { 0 },
            );
            if len > 0 {
                out.put_open(&rest[..len]);
            }
            self.frames += 1;
            rest = &rest[len..];
            if fin {
                break;
            }
        }
        self.scratch = z;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::FrameHeader;
    use crate::session::outqueue::{Fate, Ticket};

    /// The frames on the wire: (fin, opcode, payload length).
    fn frames(mut wire: &[u8]) -> Vec<(bool, u8, u64)> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let (h, n) = FrameHeader::parse(wire).unwrap().unwrap();
            out.push((h.fin, h.opcode, h.payload_len));
            wire = &wire[n + h.payload_len as usize..];
        }
        out
    }

    fn drain(q: &mut OutQueue) -> Vec<u8> {
        let mut wire = Vec::new();
        while !q.pending().is_empty() {
            let n = q.pending().len();
            wire.extend_from_slice(q.pending());
            q.advance(n);
        }
        wire
    }

    #[test]
    fn a_message_goes_out_in_frames_of_at_most_the_cap() {
        let mut sender = Sender::new(None, 100);
        let mut q = OutQueue::default();
        let data = vec![7u8; 250];
        let (ticket, parts) =
            Parts::begin(MessageType::Binary, 250, true, false, &mut sender, &mut q);
        let mut parts = parts.unwrap();
        // Parts of any size, split across frames.
        for chunk in data.chunks(30) {
            assert_eq!(
                parts.feed(chunk, &mut sender, &mut q, |_| true),
                Ok(chunk.len())
            );
        }
        assert!(parts.is_done() && !q.in_message());
        let wire = drain(&mut q);
        assert_eq!(
            frames(&wire),
            [(false, 2, 100), (false, 0, 100), (true, 0, 50)]
        );
        assert_eq!(q.fate(Ticket::Data(ticket)), Fate::Written);
    }

    #[test]
    fn feeding_stops_when_the_queue_has_no_room() {
        let mut sender = Sender::new(None, 0);
        let mut q = OutQueue::default();
        let data = vec![1u8; 3 * PIECE];
        let (_, parts) = Parts::begin(
            MessageType::Binary,
            data.len() as u64,
            true,
            false,
            &mut sender,
            &mut q,
        );
        let mut parts = parts.unwrap();
        let taken = parts
            .feed(&data, &mut sender, &mut q, |q| q.backlog() < PIECE)
            .unwrap();
        assert_eq!(taken, PIECE, "one piece while less than a piece waits");
        assert!(q.in_message());
    }

    #[test]
    fn text_is_checked_piece_by_piece() {
        let mut sender = Sender::new(None, 0);
        let mut q = OutQueue::default();
        let text = "κόσμε".as_bytes();
        let (_, parts) = Parts::begin(
            MessageType::Text,
            text.len() as u64,
            true,
            false,
            &mut sender,
            &mut q,
        );
        let mut parts = parts.unwrap();
        // A character split between parts is fine.
        assert_eq!(parts.feed(&text[..1], &mut sender, &mut q, |_| true), Ok(1));
        assert!(parts.feed(&[0xFF], &mut sender, &mut q, |_| true).is_err());
        assert_eq!(
            parts.feed(&text[1..], &mut sender, &mut q, |_| true),
            Ok(text.len() - 1)
        );
        // More than remains is refused.
        let (_, parts) = Parts::begin(MessageType::Binary, 2, true, false, &mut sender, &mut q);
        assert!(parts
            .unwrap()
            .feed(b"abc", &mut sender, &mut q, |_| true)
            .is_err());
    }

    #[test]
    fn an_empty_message_is_one_empty_frame() {
        let mut sender = Sender::new(None, 0);
        let mut q = OutQueue::default();
        let (ticket, parts) = Parts::begin(MessageType::Text, 0, true, false, &mut sender, &mut q);
        assert!(parts.is_none() && !q.in_message());
        assert_eq!(frames(&drain(&mut q)), [(true, 1, 0)]);
        assert_eq!(q.fate(Ticket::Data(ticket)), Fate::Written);
    }
}

#[cfg(test)]
mod compressed_tests {
    use super::*;
    use crate::deflate::{Deflater, Inflater};
    use crate::proto::frame::FrameHeader;
    use crate::proto::mask::mask_into;

    /// Unmask and reassemble the frames on the wire: (payload, frames,
    /// first frame's RSV1 and opcode).
    fn unframe(mut wire: &[u8]) -> (Vec<u8>, usize, bool, u8) {
        let (mut payload, mut frames, mut rsv1, mut opcode) = (Vec::new(), 0, false, 0);
        while !wire.is_empty() {
            let (h, n) = FrameHeader::parse(wire).unwrap().unwrap();
            let len = h.payload_len as usize;
            let mut plain = vec![0; len];
            mask_into(&mut plain, &wire[n..n + len], h.mask.unwrap());
            if frames == 0 {
                (rsv1, opcode) = (h.rsv & RSV1 != 0, h.opcode);
            } else {
                assert_eq!((h.rsv, h.opcode), (0, 0));
            }
            assert_eq!(h.fin, wire.len() == n + len, "FIN only on the last frame");
            payload.extend(plain);
            frames += 1;
            wire = &wire[n + len..];
        }
        (payload, frames, rsv1, opcode)
    }

    fn drain(q: &mut OutQueue) -> Vec<u8> {
        let mut wire = Vec::new();
        while !q.pending().is_empty() {
            let n = q.pending().len();
            wire.extend_from_slice(q.pending());
            q.advance(n);
        }
        wire
    }

    #[test]
    fn a_compressed_message_in_parts_inflates_to_what_was_given() {
        for (size, fragment) in [(1usize, 0), (100_000, 0), (300_000, 1000), (5 << 20, 0)] {
            let data: Vec<u8> = (0..size)
                .map(|i| b"abcabcxyz"[i % 9] ^ (i / 7919) as u8)
                .collect();
            let deflater = Deflater::new(15, false, 6).unwrap();
            let mut sender = Sender::new(Some(deflater), fragment);
            let mut q = OutQueue::default();
            let (_, parts) = Parts::begin(
                MessageType::Binary,
                size as u64,
                true,
                true,
                &mut sender,
                &mut q,
            );
            let mut parts = parts.unwrap();
            let mut wire = Vec::new();
            for chunk in data.chunks(10_000) {
                let mut at = 0;
                while at < chunk.len() {
                    at += parts
                        .feed(&chunk[at..], &mut sender, &mut q, |_| true)
                        .unwrap();
                    // The queue never holds more than a piece's output.
                    assert!(q.backlog() < 2 * PIECE + 64, "{}", q.backlog());
                    wire.extend(drain(&mut q));
                }
            }
            assert!(parts.is_done());
            let (payload, frames, rsv1, opcode) = unframe(&wire);
            assert!(rsv1 && opcode == 2 && frames >= 1);
            if let Some(most) = payload.len().checked_div(fragment) {
                assert!(frames > most);
            }
            let mut inflater = Inflater::new(15, false).unwrap();
            let mut out = Vec::new();
            inflater.inflate(&payload, &mut out, usize::MAX).unwrap();
            inflater.finish_message(&mut out, usize::MAX).unwrap();
            assert!(out == data, "size {size}");
            assert!(payload.len() < size || size < 100);
        }
    }
}
