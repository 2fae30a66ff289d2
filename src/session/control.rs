//! The control lane: pongs, pings and the close frame, kept apart from
//! data so that they go out at the next frame boundary instead of waiting
//! behind queued messages (wslay's separate control queue, tungstenite's
//! pong that jumps the queue).
//!
//! It is bounded by construction: pongs wait in order while they take at
//! most [`PONG_BUDGET`] bytes (each ping answered, as peers expect); past
//! that a new pong replaces the last one waiting (RFC 6455 §5.5.3 lets an
//! endpoint answer only the most recent ping). A ping replaces a pending
//! ping of the same origin, and there is one close. So a server that floods
//! us with pings and never reads costs a few hundred bytes, not memory in
//! proportion to what it sends.

use std::collections::VecDeque;

use crate::proto::frame::FrameHeader;
use crate::proto::mask::mask_into;

/// Largest encoded control frame: 2 header bytes, the key, 125 payload bytes.
const MAX_ENCODED: usize = 2 + 4 + 125;

/// Pongs waiting may take this many bytes before a new one replaces the
/// last: room to answer a burst of small pings one by one.
pub const PONG_BUDGET: usize = 512;

/// A masked control frame, encoded and ready to write.
#[derive(Clone)]
pub struct Encoded {
    bytes: [u8; MAX_ENCODED],
    len: u8,
}

impl Encoded {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Encode a control frame (FIN set, no RSV bits, at most 125 bytes).
pub fn encode_control(opcode: u8, payload: &[u8], key: [u8; 4]) -> Encoded {
    assert!(payload.len() <= 125, "control payload over 125 bytes");
    let (header, n) = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    }
    .to_bytes();
    let mut frame = Encoded {
        bytes: [0; MAX_ENCODED],
        len: (n + payload.len()) as u8,
    };
    frame.bytes[..n].copy_from_slice(&header[..n]);
    mask_into(&mut frame.bytes[n..n + payload.len()], payload, key);
    frame
}

/// Which slot a control frame takes: one of each may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlKind {
    Pong,
    /// A ping the caller asked for.
    Ping,
    /// The keepalive timer's ping.
    KeepalivePing,
    /// Goes last, once no data is left before it.
    Close,
}

/// A waiting control frame and the tickets it answers for: its own and
/// those of the frames it replaced (`first..=last`).
pub struct Entry {
    kind: ControlKind,
    frame: Encoded,
    first: u64,
    last: u64,
}

impl Entry {
    pub fn bytes(&self) -> &[u8] {
        self.frame.bytes()
    }

    pub fn covers(&self, ticket: u64) -> bool {
        (self.first..=self.last).contains(&ticket)
    }
}

#[derive(Default)]
pub struct ControlLane {
    waiting: VecDeque<Entry>,
    /// Tickets from here on that were dropped with the connection.
    lost_from: Option<u64>,
}

impl ControlLane {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.waiting.iter().map(|e| e.bytes().len()).sum()
    }

    /// Queue `frame` under `ticket`. A pong goes behind the pongs waiting
    /// while they fit the budget, else replaces the last of them; any other
    /// kind replaces a waiting frame of its kind in its place.
    pub fn push(&mut self, kind: ControlKind, frame: Encoded, ticket: u64) {
        let same_kind = || self.waiting.iter().filter(|e| e.kind == kind);
        let fits = kind == ControlKind::Pong
            && same_kind().map(|e| e.bytes().len()).sum::<usize>() + frame.bytes().len()
                <= PONG_BUDGET;
        if !fits {
            if let Some(e) = self.waiting.iter_mut().rev().find(|e| e.kind == kind) {
                e.frame = frame;
                e.last = ticket;
                return;
            }
        }
        self.waiting.push_back(Entry {
            kind,
            frame,
            first: ticket,
            last: ticket,
        });
    }

    /// The oldest waiting frame that is not the close.
    fn first_not_close(&self) -> Option<usize> {
        self.waiting
            .iter()
            .position(|e| e.kind != ControlKind::Close)
    }

    pub fn has_sendable(&self, data_idle: bool) -> bool {
        self.first_not_close().is_some() || (data_idle && !self.waiting.is_empty())
    }

    /// The next frame to write: the oldest but the close, which goes only
    /// when `data_idle` (no data queued before it) and nothing else waits.
    pub fn pop_sendable(&mut self, data_idle: bool) -> Option<Entry> {
        match self.first_not_close() {
            Some(i) => self.waiting.remove(i),
            None if data_idle => self.waiting.pop_front(),
            None => None,
        }
    }

    /// Whether a waiting frame answers for `ticket`.
    pub fn covers(&self, ticket: u64) -> bool {
        self.waiting.iter().any(|e| e.covers(ticket))
    }

    pub fn lost_covers(&self, ticket: u64) -> bool {
        self.lost_from.is_some_and(|from| ticket >= from)
    }

    /// `entry` was dropped unwritten.
    pub fn lose(&mut self, entry: &Entry) {
        self.note_lost(entry.first);
    }

    fn note_lost(&mut self, first: u64) {
        self.lost_from = Some(self.lost_from.map_or(first, |f| f.min(first)));
    }

    /// Drop everything waiting (the connection is gone).
    pub fn discard(&mut self) {
        while let Some(e) = self.waiting.pop_front() {
            self.note_lost(e.first);
        }
    }
}
