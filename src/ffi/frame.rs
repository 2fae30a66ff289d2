//! `ws_frame`: single frames for the low-level interface.

use std::ffi::c_char;

use crate::ffi::error::{set_last_error, WS_OK};
use crate::ffi::handle::{self, bytes, tagged, write_out};
use crate::ffi::panic::guard_value;
use crate::proto::{Frame, OpCode};

/// Where a frame's payload lives.
enum Payload {
    Owned(Vec<u8>),
    /// A view into the data of the `ws_message` that owns this frame.
    View(*const u8, usize),
}

/// A frame: received with `ws_recv_frame`, built with `ws_frame_new`, or
/// borrowed from a message with `ws_message_frame`.
///
/// The tag comes first (`repr(C)`) so a handle of another type can be told
/// apart without reading past it. Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_frame {
    tag: u64,
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    payload_length: u64,
    payload: Payload,
}
tagged!(ws_frame, 0x7773_6672_616d_6521);

impl ws_frame {
    pub(crate) fn owned(frame: Frame) -> ws_frame {
        ws_frame {
            tag: <ws_frame as handle::Tagged>::TAG,
            fin: frame.fin,
            rsv: frame.rsv,
            opcode: frame.opcode,
            masked: frame.masked,
            payload_length: frame.payload.len() as u64,
            payload: Payload::Owned(frame.payload),
        }
    }

    /// A view of a message's frame; `payload` must outlive the view.
    pub(crate) fn view(fin: bool, rsv: u8, opcode: u8, length: u64, payload: &[u8]) -> ws_frame {
        ws_frame {
            tag: <ws_frame as handle::Tagged>::TAG,
            fin,
            rsv,
            opcode,
            masked: false,
            payload_length: length,
            payload: Payload::View(payload.as_ptr(), payload.len()),
        }
    }

    pub(crate) fn payload(&self) -> &[u8] {
        match &self.payload {
            Payload::Owned(v) => v,
            // SAFETY: a view lives inside the ws_message whose data it points
            // to, and message data never changes after the message is made.
            Payload::View(ptr, len) => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }

    pub(crate) fn parts(&self) -> (bool, u8, u8, &[u8]) {
        (self.fin, self.rsv, self.opcode, self.payload())
    }
}

/// A new frame to send with `ws_send_frame`. `payload` is copied. The frame
/// is sent with exactly these bits: no RSV bit is ever added for you.
///
/// Returns NULL (with a last error) if `rsv` > 7, `opcode` > 15, or
/// `payload` is NULL with a non-zero length.
///
/// # Safety
/// `payload`: NULL with `len` 0, or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_new(
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: *const u8,
    len: usize,
) -> *mut ws_frame {
    guard_value(std::ptr::null_mut(), || {
        // SAFETY: forwarded contract.
        let Ok(data) = (unsafe { bytes(payload, len, "payload") }) else {
            return std::ptr::null_mut();
        };
        match Frame::new(fin, rsv, opcode, data.to_vec()) {
            Ok(frame) => handle::into_raw(ws_frame::owned(frame)),
            Err(e) => {
                set_last_error(&e);
                std::ptr::null_mut()
            }
        }
    })
}

/// Free a frame from `ws_frame_new` or `ws_recv_frame`; NULL is a no-op.
/// Frames from `ws_message_frame` belong to their message: do not free them.
///
/// # Safety
/// `frame` must be NULL or an owned frame not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_free(frame: *mut ws_frame) {
    // SAFETY: forwarded contract; a view is not an owned handle, so
    // `free` leaves it to its message.
    guard_value((), || unsafe { handle::free(frame) })
}

/// True iff the FIN bit is set.
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_fin(frame: *const ws_frame) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, false, |f| f.fin) }
}

/// The three RSV bits as an integer: RSV1 = 4, RSV2 = 2, RSV3 = 1.
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_rsv(frame: *const ws_frame) -> u8 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, 0, |f| f.rsv) }
}

/// True iff `rsv & bit` is non-zero (`bit` 4 tests RSV1).
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_rsv_bit(frame: *const ws_frame, bit: u8) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, false, |f| f.rsv & bit != 0) }
}

/// The 4-bit opcode (0 for NULL).
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_opcode(frame: *const ws_frame) -> u8 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, 0, |f| f.opcode) }
}

/// The optype name ("text", "connection-close", ...); NULL for a reserved opcode.
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_optype(frame: *const ws_frame) -> *const c_char {
    // SAFETY: forwarded contract.
    let opcode = unsafe { handle::read(frame, 0xFF, |f| f.opcode) };
    OpCode::from_u8(opcode).map_or(std::ptr::null(), crate::ffi::maps::optype_cstr)
}

/// True iff the MASK bit was set: always for frames we send, never for
/// frames received (a masked server frame fails the connection).
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_mask(frame: *const ws_frame) -> bool {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, false, |f| f.masked) }
}

/// The payload length from the frame header. For a frame of a compressed
/// message this is the compressed length.
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_payload_length(frame: *const ws_frame) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, 0, |f| f.payload_length) }
}

/// The payload (unmasked), valid while the frame (or its message) lives.
/// Its length is `ws_frame_payload_length`. May be NULL for an empty payload.
///
/// # Safety
/// `frame`: NULL or a live frame.
#[no_mangle]
pub unsafe extern "C" fn ws_frame_payload_data(frame: *const ws_frame) -> *const u8 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(frame, std::ptr::null(), |f| f.payload().as_ptr()) }
}

/// Receive-side helper for ws_recv_frame.
pub(crate) unsafe fn store_frame(out: *mut *mut ws_frame, frame: Frame) -> i32 {
    // SAFETY: the caller checked `out` for NULL.
    unsafe { write_out(out, handle::into_raw(ws_frame::owned(frame))) };
    WS_OK
}
