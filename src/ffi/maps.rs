//! The opcode <-> optype and reason <-> close-code maps of the ws-client egg.

use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::error::{record, WS_ERR_NOT_FOUND};
use crate::ffi::handle::{c_str, try_code};
use crate::ffi::panic::{guard, guard_value};
use crate::proto::close;
use crate::proto::OpCode;

pub(crate) fn optype_cstr(op: OpCode) -> *const c_char {
    op.optype_cstr().as_ptr()
}

fn not_found(what: String) -> i32 {
    record(WS_ERR_NOT_FOUND, &Error::invalid_argument(what))
}

/// The optype of `opcode` ("text", "connection-close", ...) as a static
/// string; NULL (with a last error) for a reserved opcode.
#[no_mangle]
pub extern "C" fn ws_opcode_to_optype(opcode: u8) -> *const c_char {
    guard_value(std::ptr::null(), || match OpCode::from_u8(opcode) {
        Some(op) => optype_cstr(op),
        None => {
            not_found(format!("unrecognised opcode 0x{opcode:x}"));
            std::ptr::null()
        }
    })
}

/// The opcode of `optype`, or `WS_ERR_NOT_FOUND` / `WS_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `optype`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_optype_to_opcode(optype: *const c_char) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let name = try_code!(unsafe { c_str(optype, "optype") });
        match OpCode::from_optype(name) {
            Some(op) => op as i32,
            None => not_found(format!("unrecognised optype {name:?}")),
        }
    })
}

/// The close code of `reason` ("normal-closure" -> 1000, ...), or
/// `WS_ERR_NOT_FOUND` / `WS_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `reason`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_reason_to_close_code(reason: *const c_char) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let name = try_code!(unsafe { c_str(reason, "reason") });
        match close::reason_to_code(name) {
            Some(code) => code as i32,
            None => not_found(format!("unrecognised close reason {name:?}")),
        }
    })
}

/// The reason name of close `code` as a static string; NULL (with a last
/// error) for a code that has no reason name.
#[no_mangle]
pub extern "C" fn ws_close_code_to_reason(code: u16) -> *const c_char {
    guard_value(std::ptr::null(), || {
        match close::code_to_reason_cstr(code) {
            Some(name) => name.as_ptr(),
            None => {
                not_found(format!("unrecognised close code {code}"));
                std::ptr::null()
            }
        }
    })
}
