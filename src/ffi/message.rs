//! `ws_message`: whole messages and their frames.

use crate::ffi::frame::ws_frame;
use crate::ffi::handle::{self, bytes};
use crate::ffi::panic::guard_value;
use crate::ffi::slab::Slab;
use crate::proto::{Message, MessageType};
use std::sync::OnceLock;

/// `ws_message_type` of a text message (its first frame's opcode).
pub const WS_MESSAGE_TEXT: i32 = 1;
/// `ws_message_type` of a binary message.
pub const WS_MESSAGE_BINARY: i32 = 2;

/// A message: received with `ws_recv_message` or built with `ws_message_new`.
///
/// The tag comes first (`repr(C)`) so a handle of another type can be told
/// apart without reading past it. Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_message {
    tag: u64,
    pub(crate) inner: Message,
    /// Views of the frames, made and registered on the first
    /// `ws_message_frame` (most messages are never asked for their frames)
    /// and dying with the message. `OnceLock` makes the first call safe
    /// from several threads at once.
    frames: OnceLock<Box<[ws_frame]>>,
}
impl handle::Tagged for ws_message {
    const TAG: u64 = 0x7773_6d65_7373_6167;
    fn clear_tag(&mut self) {
        self.tag = 0;
    }
    fn slab() -> Option<&'static Slab<ws_message>> {
        Some(slab())
    }
}

/// Where every message handle lives (see [`crate::ffi::slab`]).
pub(crate) fn slab() -> &'static Slab<ws_message> {
    static MESSAGES: Slab<ws_message> = Slab::new(<ws_message as handle::Tagged>::TAG);
    &MESSAGES
}

impl ws_message {
    pub(crate) fn new(inner: Message) -> ws_message {
        ws_message {
            tag: <ws_message as handle::Tagged>::TAG,
            inner,
            frames: OnceLock::new(),
        }
    }

    fn frames(&self) -> &[ws_frame] {
        self.frames.get_or_init(|| {
            let inner = &self.inner;
            let frames: Box<[ws_frame]> = (0..inner.frames.len())
                .map(|i| {
                    let f = &inner.frames[i];
                    let payload = inner.frame_payload(i).unwrap_or(&[]);
                    ws_frame::view(f.fin, f.rsv, f.opcode, f.payload_len, payload)
                })
                .collect();
            // The views point into `inner`'s heap data, which moves with
            // neither `inner` nor the box of views.
            frames.iter().for_each(|f| handle::register_view(f));
            frames
        })
    }
}

impl Drop for ws_message {
    fn drop(&mut self) {
        if let Some(frames) = self.frames.get() {
            frames.iter().for_each(|f| handle::unregister_view(f));
        }
    }
}

pub(crate) fn message_type(code: i32) -> Option<MessageType> {
    match code {
        WS_MESSAGE_TEXT => Some(MessageType::Text),
        WS_MESSAGE_BINARY => Some(MessageType::Binary),
        _ => None,
    }
}

/// A new message to send with `ws_send_message`; `data` is copied. `type`
/// is `WS_MESSAGE_TEXT` (data must be UTF-8) or `WS_MESSAGE_BINARY`.
/// Returns NULL (with a last error) on invalid arguments.
///
/// # Safety
/// `data`: NULL with `len` 0, or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_message_new(
    r#type: i32,
    data: *const u8,
    len: usize,
) -> *mut ws_message {
    guard_value(std::ptr::null_mut(), || {
        let Some(kind) = message_type(r#type) else {
            crate::ffi::error::set_last_error(&crate::Error::invalid_argument(
                "type must be WS_MESSAGE_TEXT or WS_MESSAGE_BINARY",
            ));
            return std::ptr::null_mut();
        };
        // SAFETY: forwarded contract.
        let Ok(data) = (unsafe { bytes(data, len, "data") }) else {
            return std::ptr::null_mut();
        };
        if kind == MessageType::Text && std::str::from_utf8(data).is_err() {
            crate::ffi::error::set_last_error(&crate::Error::invalid_argument(
                "text message data is not valid UTF-8",
            ));
            return std::ptr::null_mut();
        }
        handle::into_raw(ws_message::new(Message::new(kind, data.to_vec())))
    })
}

/// Free a message and the frame views it owns; NULL is a no-op.
///
/// # Safety
/// `msg` must be NULL or a message not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ws_message_free(msg: *mut ws_message) {
    // SAFETY: forwarded contract.
    guard_value((), || unsafe { handle::free(msg) })
}

/// `WS_MESSAGE_TEXT` or `WS_MESSAGE_BINARY` (0 for NULL).
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_type(msg: *const ws_message) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(msg, 0, |m| m.inner.kind.opcode() as i32) }
}

/// The message data (decompressed), `ws_message_size` bytes, owned by the
/// message. Text is UTF-8 and not NUL-terminated. May be NULL when empty.
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_data(msg: *const ws_message) -> *const u8 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(msg, std::ptr::null(), |m| m.inner.data.as_ptr()) }
}

/// The size of the message data in bytes.
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_size(msg: *const ws_message) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(msg, 0, |m| m.inner.size()) }
}

/// Whether the message arrived compressed (permessage-deflate).
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_compressed(msg: *const ws_message) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(msg, false, |m| m.inner.was_compressed()) }
}

/// The number of frames the message was assembled from (0 for a message
/// made with `ws_message_new`).
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_frame_count(msg: *const ws_message) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(msg, 0, |m| m.inner.frames.len()) }
}

/// Frame `index` of the message, owned by the message (do not free it).
/// For a compressed message its payload is the compressed bytes. NULL if
/// `index` is out of range.
///
/// # Safety
/// `msg`: NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn ws_message_frame(msg: *const ws_message, index: usize) -> *const ws_frame {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(msg, std::ptr::null(), |m| {
            m.frames()
                .get(index)
                .map_or(std::ptr::null(), |f| f as *const ws_frame)
        })
    }
}
