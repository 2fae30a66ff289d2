//! Messages and the frames they were assembled from.

use std::ops::Range;

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

/// A whole message: its type, its (decompressed) data, and, for a received
/// message, the frames it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageType,
    pub data: Vec<u8>,
    pub frames: Vec<FrameInfo>,
    /// The compressed payloads of the frames of a compressed message.
    pub(crate) wire: Vec<u8>,
    pub(crate) compressed: bool,
}

impl Message {
    pub fn new(kind: MessageType, data: Vec<u8>) -> Message {
        Message {
            kind,
            data,
            frames: Vec::new(),
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
