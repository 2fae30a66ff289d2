//! The WebSocket protocol without I/O: bytes in, events out; messages in,
//! bytes out. Nothing here touches a socket.

pub mod close;
pub mod frame;
pub mod mask;
mod mask_keys;
pub mod message;
pub mod opcode;
pub mod receiver;
pub mod sender;
pub mod utf8;

pub use frame::{Frame, FrameHeader};
pub use message::{FrameInfo, FrameList, Message, MessageType};
pub use opcode::OpCode;
