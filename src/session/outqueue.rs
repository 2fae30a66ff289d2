//! The output queue: what waits for the socket, in two lanes.
//!
//! - The **data lane** holds whole encoded frames in order, plus at most one
//!   *open* frame whose payload is still being put piece by piece (a large
//!   message sent as the socket takes it). While a message in parts is under
//!   way, other data frames wait in a side queue and follow it.
//! - The **control lane** holds pongs, pings and the close frame (see
//!   [`ControlLane`]); each goes out at the next frame boundary, ahead of
//!   queued data, and the close only once no data is left before it.
//!
//! Every queued message has a [`Ticket`] whose fate the sender can ask:
//! written (all its bytes went to the kernel), pending, or lost (the queue
//! was discarded before it was written). Only real writes count as written.
//!
//! The data lane's memory is initialised once and reused: a frame is masked
//! straight into it (one pass over the payload, no zero-filling per message).

use std::collections::VecDeque;

use super::control::{ControlKind, ControlLane, Encoded, Entry};
use crate::observe::{frame_event, Trace, TraceKind};
use crate::proto::frame::FrameHeader;
use crate::proto::mask::mask_into;
use crate::proto::sender::FrameSink;

/// An emptied queue keeps at most this much memory for the next messages;
/// above, it gives the memory back (large messages are streamed through a
/// small queue anyway), so an idle connection holds little.
const KEEP_CAPACITY: usize = 4 << 10;
/// An emptied buffer larger than [`KEEP_CAPACITY`] goes after this many
/// times in a row that it was found less than half used.
const UNDERUSED: u32 = 32;

/// A queued message or control frame, to ask its fate with
/// [`OutQueue::fate`]. Data tickets are numbered in wire order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticket {
    Data(u64),
    Control(u64),
}

/// What became of a ticket's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Every byte went to the kernel.
    Written,
    /// Still queued (or, for a message in parts, not all given yet).
    Pending,
    /// Dropped with the connection before it was all written.
    Lost,
}

/// The end of a frame in the data stream (bytes ever queued), and the
/// ticket of the message it ends (0: none).
#[derive(Clone, Copy)]
struct Mark {
    end: u64,
    ticket: u64,
}

struct OpenFrame {
    key: [u8; 4],
    /// Payload bytes put so far: where the next piece's mask starts.
    put: u64,
    /// Payload bytes still to be put.
    left: u64,
}

/// Frames queued while a message in parts is under way: they follow it.
#[derive(Default)]
struct SideQueue {
    bytes: Vec<u8>,
    /// Frame ends relative to the start of `bytes`.
    marks: Vec<Mark>,
}

#[derive(Default)]
pub struct OutQueue {
    /// Initialised memory; bytes `cursor..end` are queued.
    buf: Vec<u8>,
    end: usize,
    cursor: usize,
    /// Data-stream offset of `buf[cursor]`: data bytes written so far.
    written: u64,
    /// Where the frame at the head of the data lane starts: the data lane
    /// is at a frame boundary when `written == frame_start`.
    frame_start: u64,
    /// The frames in `buf` (and the open one) not yet wholly written.
    marks: VecDeque<Mark>,
    open: Option<OpenFrame>,
    /// A message in parts is under way: data frames of others go aside.
    in_message: bool,
    side: SideQueue,
    control: ControlLane,
    /// The control frame being written, once started: it goes out whole.
    control_out: Option<(Entry, usize)>,
    /// The last data ticket handed out, and the last one wholly written.
    issued: u64,
    done: u64,
    /// A message in parts was given up: its ticket and all later ones are
    /// lost, whatever is written before them.
    lost_from: Option<u64>,
    control_issued: u64,
    /// Everything queued was dropped: pending tickets are lost.
    discarded: bool,
    /// The most bytes queued since the queue was last empty, and ever.
    peak: usize,
    high_water: usize,
    /// How many times in a row [`OutQueue::trim`] found the buffer underused.
    underused: u32,
    /// Frames queued so far, and who hears of each.
    frames: u64,
    trace: Option<Trace>,
}

impl OutQueue {
    /// Report each frame queued from now on to `trace`.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.trace = trace;
    }

    /// Frames queued so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Count a frame (its header at the start of `header`) and trace it.
    fn note_frame(&mut self, header: &[u8]) {
        self.frames += 1;
        if let Some(trace) = &self.trace {
            if let Ok(Some((h, _))) = FrameHeader::parse(header) {
                trace.emit(frame_event(TraceKind::FrameSent, &h));
            }
        }
    }

    /// Bytes that can be written now: a control frame at a frame boundary,
    /// else data (only to the end of the current frame while a control
    /// frame waits, so it goes next).
    pub fn pending(&mut self) -> &[u8] {
        if self.control_out.is_none() && !self.control.is_empty() && self.at_boundary() {
            self.control_out = self.control.pop_sendable(self.data_idle()).map(|e| (e, 0));
        }
        if let Some((entry, at)) = &self.control_out {
            return &entry.bytes()[*at..];
        }
        let mut end = self.end;
        if self.control.has_sendable(false) {
            if let Some(mark) = self.marks.front() {
                let frame_left = mark.end - self.written;
                end = end.min(self.cursor + frame_left as usize);
            }
        }
        &self.buf[self.cursor..end]
    }

    /// `n` bytes of [`OutQueue::pending`] were written.
    pub fn advance(&mut self, n: usize) {
        if let Some((entry, at)) = &mut self.control_out {
            *at += n;
            assert!(*at <= entry.bytes().len(), "advanced past a control frame");
            if *at == entry.bytes().len() {
                self.control_out = None;
            }
            return;
        }
        assert!(n <= self.data_len(), "advanced past the queued bytes");
        self.cursor += n;
        self.written += n as u64;
        while let Some(mark) = self.marks.front().copied() {
            if mark.end > self.written {
                break;
            }
            self.marks.pop_front();
            self.frame_start = mark.end;
            if mark.ticket != 0 {
                self.done = mark.ticket;
            }
        }
        if self.cursor == self.end {
            self.cursor = 0;
            self.end = 0;
        }
    }

    /// Bytes in the data lane.
    pub fn data_len(&self) -> usize {
        self.end - self.cursor
    }

    /// Whether the queue was dropped with the connection.
    pub fn was_discarded(&self) -> bool {
        self.discarded
    }

    fn at_boundary(&self) -> bool {
        self.written == self.frame_start
    }

    /// No data is queued or under way: a close may go.
    fn data_idle(&self) -> bool {
        self.data_len() == 0
            && self.open.is_none()
            && !self.in_message
            && self.side.bytes.is_empty()
    }

    /// Whether any byte can be written now.
    pub fn wants_write(&self) -> bool {
        // A control frame waits for the frame under way, which may be an
        // open frame whose next bytes are not given yet.
        self.data_len() > 0
            || self.control_out.is_some()
            || (self.at_boundary() && self.control.has_sendable(self.data_idle()))
    }

    /// Bytes held for the socket: both lanes and the side queue.
    pub fn backlog(&self) -> usize {
        self.data_len()
            + self.side.bytes.len()
            + self.control.bytes()
            + self
                .control_out
                .as_ref()
                .map_or(0, |(e, at)| e.bytes().len() - at)
    }

    /// Nothing held, nothing under way.
    pub fn is_idle(&self) -> bool {
        self.data_idle() && self.control.is_empty() && self.control_out.is_none()
    }

    /// The most bytes ever held at once (see [`OutQueue::backlog`]).
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    fn note_size(&mut self) {
        let held = self.backlog();
        self.peak = self.peak.max(self.end);
        self.high_water = self.high_water.max(held);
    }

    /// `n` bytes of room after the queued ones.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.cursor > 0 && self.cursor >= self.end / 2 {
            self.buf.copy_within(self.cursor..self.end, 0);
            self.end -= self.cursor;
            self.cursor = 0;
        }
        if self.buf.len() < self.end + n {
            self.buf.resize(self.end + n, 0);
        }
        let start = self.end;
        self.end += n;
        &mut self.buf[start..start + n]
    }

    /// Data-stream offset after the last byte in the data lane (the open
    /// frame counted whole).
    fn lane_end(&self) -> u64 {
        self.marks
            .back()
            .map_or(self.written + self.data_len() as u64, |m| m.end)
    }

    /// The end of a frame just queued in the data lane; `ticket` if it ends
    /// a message.
    fn mark(&mut self, end: u64, ticket: u64) {
        self.marks.push_back(Mark { end, ticket });
    }

    /// A new data ticket, for a message about to be queued.
    pub fn issue(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    // --- whole frames ----------------------------------------------------

    /// Append a frame's bytes to the data lane (or, while a message in parts
    /// is under way, to the side queue): `header`, then `payload` masked
    /// with `key`. `ticket` (not 0) when the frame ends a message.
    pub fn push_frame(&mut self, header: &[u8], payload: &[u8], key: [u8; 4], ticket: u64) {
        self.note_frame(header);
        if self.in_message {
            let side = &mut self.side;
            side.bytes.frame(header, payload, key, ticket != 0);
            side.marks.push(Mark {
                end: side.bytes.len() as u64,
                ticket,
            });
        } else {
            let end = self.lane_end() + (header.len() + payload.len()) as u64;
            let room = self.room(header.len() + payload.len());
            room[..header.len()].copy_from_slice(header);
            mask_into(&mut room[header.len()..], payload, key);
            self.mark(end, ticket);
        }
        self.note_size();
    }

    // --- a message in parts ----------------------------------------------

    /// A message in parts starts: until [`OutQueue::end_message`], frames
    /// from [`OutQueue::push_frame`] go aside.
    pub fn begin_message(&mut self) {
        assert!(!self.in_message, "a message is already under way");
        self.in_message = true;
    }

    pub fn in_message(&self) -> bool {
        self.in_message
    }

    /// Queue a frame's header; its `len` bytes of payload follow by
    /// [`OutQueue::put_open`], masked with `key`. `ticket` (not 0) when the
    /// frame ends its message.
    pub fn open(&mut self, header: &[u8], key: [u8; 4], len: u64, ticket: u64) {
        assert!(
            self.in_message,
            "frames open only inside a message in parts"
        );
        assert!(self.open.is_none(), "a frame is already open");
        self.note_frame(header);
        let end = self.lane_end() + header.len() as u64 + len;
        self.room(header.len()).copy_from_slice(header);
        self.mark(end, ticket);
        if len > 0 {
            self.open = Some(OpenFrame {
                key,
                put: 0,
                left: len,
            });
        }
        self.note_size();
    }

    /// Payload bytes the open frame still takes (0: no frame is open).
    pub fn open_left(&self) -> u64 {
        self.open.as_ref().map_or(0, |f| f.left)
    }

    /// The next bytes of the open frame's payload, of any length up to
    /// [`OutQueue::open_left`]; the last closes the frame.
    pub fn put_open(&mut self, piece: &[u8]) {
        let frame = self.open.as_mut().expect("no frame is open");
        assert!(
            piece.len() as u64 <= frame.left,
            "more than the frame holds"
        );
        // The key continues where the previous piece left it.
        let mut key = frame.key;
        key.rotate_left((frame.put % 4) as usize);
        frame.put += piece.len() as u64;
        frame.left -= piece.len() as u64;
        if frame.left == 0 {
            self.open = None;
        }
        mask_into(self.room(piece.len()), piece, key);
        self.note_size();
    }

    /// The message in parts is all queued: what waited aside follows it.
    pub fn end_message(&mut self) {
        assert!(
            self.open.is_none(),
            "the message's last frame is still open"
        );
        self.in_message = false;
        let side = std::mem::take(&mut self.side);
        if side.bytes.is_empty() {
            return;
        }
        let base = self.lane_end();
        self.room(side.bytes.len()).copy_from_slice(&side.bytes);
        for m in side.marks {
            self.mark(base + m.end, m.ticket);
        }
    }

    /// Give up the message in parts under way (the connection is ending):
    /// its ticket and every data ticket after it are lost. Its open frame
    /// is dropped when none of it is written yet, and so are the frames
    /// that waited aside (no data message may follow an unfinished one).
    /// Returns false when the open frame is partly written and can never be
    /// finished: then nothing more may be written at all.
    pub fn abort_message(&mut self, ticket: u64) -> bool {
        if !self.in_message {
            return true;
        }
        self.lost_from = Some(ticket);
        self.in_message = false;
        self.side = SideQueue::default();
        let Some(open) = self.open.take() else {
            return true;
        };
        // The open frame is the lane's last; it starts where the one before
        // it ends.
        let open_mark = self.marks.pop_back().expect("an open frame has a mark");
        let start = self.marks.back().map_or(self.frame_start, |m| m.end);
        if self.written > start {
            return false;
        }
        let queued = open_mark.end - open.left - start;
        self.end -= queued as usize;
        true
    }

    // --- control lane ----------------------------------------------------

    /// Queue a control frame in its lane (see [`ControlLane::push`]).
    pub fn push_control(&mut self, kind: ControlKind, frame: Encoded) -> Ticket {
        self.note_frame(frame.bytes());
        self.control_issued += 1;
        self.control.push(kind, frame, self.control_issued);
        self.note_size();
        Ticket::Control(self.control_issued)
    }

    // --- fates -----------------------------------------------------------

    pub fn fate(&self, ticket: Ticket) -> Fate {
        match ticket {
            Ticket::Data(t) if self.lost_from.is_some_and(|from| t >= from) => Fate::Lost,
            Ticket::Data(t) if t <= self.done => Fate::Written,
            Ticket::Control(t) if !self.control.covers(t) && !self.control_out_covers(t) => {
                if self.control.lost_covers(t) {
                    Fate::Lost
                } else {
                    Fate::Written
                }
            }
            _ if self.discarded => Fate::Lost,
            _ => Fate::Pending,
        }
    }

    fn control_out_covers(&self, t: u64) -> bool {
        self.control_out.as_ref().is_some_and(|(e, _)| e.covers(t))
    }

    /// Give memory back once everything is written (between messages, not
    /// between the pieces of a streamed one): above 4 KiB, when less than
    /// half of it was used each of the last [`UNDERUSED`] times. Every
    /// write calls this: going at the first underused time, a receive
    /// between two batches of sends freed the queue, which then grew again
    /// by doubling for the next batch (nine reallocations for 256 small
    /// messages).
    pub fn trim(&mut self) {
        if self.data_len() != 0 || self.in_message {
            return;
        }
        if self.buf.len() > KEEP_CAPACITY && self.peak.saturating_mul(2) < self.buf.len() {
            self.underused += 1;
            if self.underused >= UNDERUSED {
                self.buf = Vec::new();
                self.underused = 0;
            }
        } else {
            self.underused = 0;
        }
        self.peak = 0;
    }

    /// Forget everything queued (the socket is gone): pending tickets are
    /// lost, and nothing is written from now on.
    pub fn discard(&mut self) {
        self.discarded = true;
        self.cursor = 0;
        self.end = 0;
        self.buf = Vec::new();
        self.marks.clear();
        self.open = None;
        self.in_message = false;
        self.side = SideQueue::default();
        if let Some((e, _)) = self.control_out.take() {
            self.control.lose(&e);
        }
        self.control.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::control::encode_control;

    fn drain(q: &mut OutQueue) -> Vec<u8> {
        let mut wire = Vec::new();
        loop {
            let n = q.pending().len();
            if n == 0 {
                return wire;
            }
            wire.extend_from_slice(q.pending());
            q.advance(n);
        }
    }

    /// Queue `bytes` as one frame of a message of its own.
    fn frame(q: &mut OutQueue, bytes: &[u8]) -> Ticket {
        let t = q.issue();
        q.push_frame(bytes, &[], [0; 4], t);
        Ticket::Data(t)
    }

    #[test]
    fn tickets_are_written_only_when_their_bytes_are() {
        let mut q = OutQueue::default();
        let a = frame(&mut q, b"hello ");
        let b = frame(&mut q, b"world");
        assert_eq!(q.pending(), b"hello world");
        q.advance(4);
        assert_eq!((q.fate(a), q.fate(b)), (Fate::Pending, Fate::Pending));
        q.advance(2);
        assert_eq!((q.fate(a), q.fate(b)), (Fate::Written, Fate::Pending));
        assert_eq!(q.pending(), b"world");
        q.discard();
        assert_eq!((q.fate(a), q.fate(b)), (Fate::Written, Fate::Lost));
        assert!(q.is_idle() && !q.wants_write());
    }

    #[test]
    fn control_frames_go_at_the_next_frame_boundary() {
        let mut q = OutQueue::default();
        frame(&mut q, b"AAAA");
        frame(&mut q, b"BBBB");
        q.advance(2);
        let pong = q.push_control(ControlKind::Pong, encode_control(0xA, b"p", [0; 4]));
        // The frame under way finishes, then the pong, then the rest.
        assert_eq!(q.pending(), b"AA");
        q.advance(2);
        assert_eq!(q.fate(pong), Fate::Pending);
        let wire = drain(&mut q);
        assert_eq!(&wire[..2], [0x8A, 0x81]);
        assert_eq!(&wire[wire.len() - 4..], b"BBBB");
        assert_eq!(q.fate(pong), Fate::Written);
    }

    #[test]
    fn the_close_waits_for_queued_data_and_pongs_collapse_past_their_budget() {
        use crate::session::control::PONG_BUDGET;
        let mut q = OutQueue::default();
        frame(&mut q, b"DATA");
        // A few pings are answered one by one.
        for payload in [b"1", b"2", b"3"] {
            q.push_control(ControlKind::Pong, encode_control(0xA, payload, [0; 4]));
        }
        let close = q.push_control(ControlKind::Close, encode_control(0x8, b"", [0; 4]));
        let wire = drain(&mut q);
        assert_eq!(wire.len(), 3 * 7 + 4 + 6, "{wire:?}");
        assert_eq!((wire[6], wire[13], wire[20]), (b'1', b'2', b'3'));
        assert_eq!(&wire[21..25], b"DATA");
        assert_eq!(wire[25], 0x88);
        assert_eq!(q.fate(close), Fate::Written);
        // A flood fills the budget, then each new pong replaces the last.
        let mut q = OutQueue::default();
        for i in 0..10_000u32 {
            q.push_control(
                ControlKind::Pong,
                encode_control(0xA, &i.to_be_bytes(), [0; 4]),
            );
        }
        assert!(q.backlog() <= PONG_BUDGET, "{} bytes of pongs", q.backlog());
        let wire = drain(&mut q);
        assert_eq!(&wire[wire.len() - 4..], 9999u32.to_be_bytes());
    }

    #[test]
    fn frames_sent_during_a_message_in_parts_follow_it() {
        let key = [1, 2, 3, 4];
        let mut q = OutQueue::default();
        q.begin_message();
        let t = q.issue();
        q.open(b"H", key, 8, 0);
        let late = frame(&mut q, b"|late");
        assert_eq!(q.pending(), b"H", "nothing may enter the open frame");
        q.advance(1);
        q.push_control(ControlKind::Ping, encode_control(0x9, b"", [0; 4]));
        q.put_open(&[0; 3]);
        q.put_open(&[0; 5]);
        assert_eq!(q.pending(), [1, 2, 3, 4, 1, 2, 3, 4]);
        q.advance(8);
        // Between the message's frames, the ping goes first.
        assert_eq!(q.pending()[0], 0x89);
        q.advance(6);
        q.open(b"F", key, 0, t);
        q.end_message();
        assert_eq!(drain(&mut q), b"F|late");
        assert_eq!(
            (q.fate(Ticket::Data(t)), q.fate(late)),
            (Fate::Written, Fate::Written)
        );
        assert!(q.is_idle());
    }

    #[test]
    fn an_aborted_message_and_what_waited_for_it_are_lost() {
        let key = [0; 4];
        let mut q = OutQueue::default();
        frame(&mut q, b"before");
        q.begin_message();
        let t = q.issue();
        q.open(b"H", key, 4, t);
        q.put_open(b"ab");
        let late = frame(&mut q, b"late");
        // Nothing of the open frame is out yet: it is dropped whole, and
        // the message that waited behind it is lost with it.
        assert!(q.abort_message(t));
        assert_eq!(drain(&mut q), b"before");
        assert_eq!(
            (q.fate(Ticket::Data(t)), q.fate(late)),
            (Fate::Lost, Fate::Lost)
        );

        let mut q = OutQueue::default();
        q.begin_message();
        let t = q.issue();
        q.open(b"H", key, 4, t);
        q.put_open(b"ab");
        q.advance(2);
        assert!(
            !q.abort_message(t),
            "a frame partly on the wire cannot be finished"
        );
    }

    #[test]
    fn a_control_frame_waits_for_the_open_frame_even_when_nothing_else_is_queued() {
        let mut q = OutQueue::default();
        q.begin_message();
        q.open(b"H", [0; 4], 4, 0);
        q.put_open(b"ab");
        q.advance(3);
        q.push_control(ControlKind::Pong, encode_control(0xA, b"", [0; 4]));
        assert!(!q.wants_write() && q.pending().is_empty());
        q.put_open(b"cd");
        assert_eq!(q.pending(), b"cd");
        q.advance(2);
        assert!(q.wants_write() && q.pending()[0] == 0x8A);
    }

    #[test]
    fn pieces_of_any_length_continue_the_mask() {
        let key = [1, 2, 3, 4];
        let mut q = OutQueue::default();
        q.begin_message();
        q.open(b"", key, 7, 0);
        q.put_open(&[0; 3]);
        q.put_open(&[0; 4]);
        q.end_message();
        assert_eq!(q.pending(), [1, 2, 3, 4, 1, 2, 3]);
    }

    #[test]
    fn the_high_water_mark_counts_every_lane() {
        let mut q = OutQueue::default();
        frame(&mut q, &[7; 100]);
        q.push_control(ControlKind::Pong, encode_control(0xA, &[1; 10], [0; 4]));
        assert_eq!(q.high_water(), 100 + 16);
        drain(&mut q);
        assert_eq!((q.backlog(), q.high_water()), (0, 116));
    }

    #[test]
    fn an_emptied_queue_keeps_memory_only_while_it_is_used() {
        let mut q = OutQueue::default();
        frame(&mut q, &[1; 50_000]);
        q.advance(50_000);
        q.trim();
        assert_eq!(q.buf.len(), 50_000, "a queue that was full is kept");
        for i in 1..=UNDERUSED {
            frame(&mut q, b"small");
            q.advance(5);
            q.trim();
            if i < UNDERUSED {
                assert_eq!(q.buf.len(), 50_000, "given back after {i} small writes");
            }
        }
        assert!(q.buf.len() <= KEEP_CAPACITY, "{} bytes kept", q.buf.len());
    }
}
