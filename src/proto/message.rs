//! Messages and the frames they were assembled from.

use std::collections::TryReserveError;
use std::ops::{Deref, Range};

/// The type of a data message, from the opcode of its first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Text,
    Binary,
}

impl MessageType {
    pub fn opcode(self) -> u8 {
        match self {
            MessageType::Text => 0x1,
            MessageType::Binary => 0x2,
        }
    }
}

/// One frame of a received message. Its payload is a range into the message
/// (uncompressed messages) or into the message's compressed wire bytes, so a
/// message keeps one copy of its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload_len: u64,
    pub(crate) payload: Range<usize>,
}

/// The frames of a message, used as a slice. The usual single frame is kept
/// inline, so a one-frame message costs no allocation for it.
#[derive(Clone, Default)]
pub struct FrameList {
    first: Option<FrameInfo>,
    all: Vec<FrameInfo>,
}

impl FrameList {
    pub fn push(&mut self, frame: FrameInfo) {
        self.try_push(frame)
            .expect("out of memory for a frame record");
    }

    /// Append a frame; an allocation failure is returned, not an abort.
    pub fn try_push(&mut self, frame: FrameInfo) -> Result<(), TryReserveError> {
        if self.first.is_none() && self.all.is_empty() {
            self.first = Some(frame);
            return Ok(());
        }
        self.all
            .try_reserve(1 + usize::from(self.first.is_some()))?;
        self.all.extend(self.first.take());
        self.all.push(frame);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.first = None;
        self.all.clear();
    }
}

impl Deref for FrameList {
    type Target = [FrameInfo];

    fn deref(&self) -> &[FrameInfo] {
        match &self.first {
            Some(frame) => std::slice::from_ref(frame),
            None => &self.all,
        }
    }
}

impl PartialEq for FrameList {
    fn eq(&self, other: &FrameList) -> bool {
        **self == **other
    }
}

impl Eq for FrameList {}

impl std::fmt::Debug for FrameList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A whole message: its type, its (decompressed) data, and, for a received
/// message, the frames it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageType,
    pub data: Vec<u8>,
    pub frames: FrameList,
    /// The compressed payloads of the frames of a compressed message.
    pub(crate) wire: Vec<u8>,
    pub(crate) compressed: bool,
}

impl Message {
    pub fn new(kind: MessageType, data: Vec<u8>) -> Message {
        Message {
            kind,
            data,
            frames: FrameList::default(),
            wire: Vec::new(),
            compressed: false,
        }
    }

    pub fn text(text: impl Into<String>) -> Message {
        Message::new(MessageType::Text, text.into().into_bytes())
    }

    pub fn binary(data: impl Into<Vec<u8>>) -> Message {
        Message::new(MessageType::Binary, data.into())
    }

    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Whether the message arrived compressed (RSV1 on its first frame).
    pub fn was_compressed(&self) -> bool {
        self.compressed
    }

    /// The payload of frame `index` as it was after unmasking (compressed
    /// bytes for a compressed message).
    pub fn frame_payload(&self, index: usize) -> Option<&[u8]> {
        let frame = self.frames.get(index)?;
        let source = if self.compressed {
            &self.wire
        } else {
            &self.data
        };
        source.get(frame.payload.clone())
    }
}
