//! `ws_response`: a non-101 answer to the opening handshake.

use std::ffi::{c_char, CString};

use crate::ffi::error::to_cstring;
use crate::ffi::handle::{self, c_str, tagged};
use crate::ffi::panic::guard_value;
use crate::handshake::HttpResponse;

/// The server's HTTP response when it did not switch protocols.
///
/// The tag comes first (`repr(C)`) so a handle of another type can be told
/// apart without reading past it. Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_response {
    tag: u64,
    status: u16,
    reason: CString,
    headers: Vec<(CString, CString)>,
    body: Vec<u8>,
}
tagged!(ws_response, 0x7773_7265_7370_6f6e);

impl ws_response {
    pub(crate) fn new(r: HttpResponse) -> ws_response {
        ws_response {
            tag: <ws_response as handle::Tagged>::TAG,
            status: r.status,
            reason: to_cstring(&r.reason),
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (to_cstring(n), to_cstring(v)))
                .collect(),
            body: r.body,
        }
    }

    /// Give the caller a copy of `response` through `out` (if both are set).
    ///
    /// # Safety
    /// `out`: NULL or writable.
    pub(crate) unsafe fn hand_out(out: *mut *mut ws_response, response: Option<&HttpResponse>) {
        if let (false, Some(r)) = (out.is_null(), response) {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { handle::write_out(out, handle::into_raw(ws_response::new(r.clone()))) };
        }
    }
}

/// Free a response; NULL is a no-op.
///
/// # Safety
/// `response` must be NULL or a response not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ws_response_free(response: *mut ws_response) {
    // SAFETY: forwarded contract.
    guard_value((), || unsafe { handle::free(response) })
}

/// The HTTP status code (0 for NULL).
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_status(response: *const ws_response) -> u16 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(response, 0, |r| r.status) }
}

/// The reason phrase, owned by the response.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_reason(response: *const ws_response) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { handle::read(response, std::ptr::null(), |r| r.reason.as_ptr()) }
}

/// The number of headers.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_header_count(response: *const ws_response) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(response, 0, |r| r.headers.len()) }
}

/// The name or value (as `pick` chooses) of header `index`, or NULL.
///
/// # Safety
/// `response`: NULL or a live response.
unsafe fn header_part(
    response: *const ws_response,
    index: usize,
    pick: fn(&(CString, CString)) -> &CString,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(response, std::ptr::null(), |r| {
            r.headers
                .get(index)
                .map_or(std::ptr::null(), |h| pick(h).as_ptr())
        })
    }
}

/// The name of header `index` (NULL if out of range), owned by the response.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_header_name(
    response: *const ws_response,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { header_part(response, index, |(name, _)| name) }
}

/// The value of header `index` (NULL if out of range), owned by the response.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_header_value(
    response: *const ws_response,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { header_part(response, index, |(_, value)| value) }
}

/// The first value of header `name` (case-insensitive), or NULL.
///
/// # Safety
/// `response`: NULL or a live response; `name`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_response_header(
    response: *const ws_response,
    name: *const c_char,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        let Ok(name) = (unsafe { c_str(name, "name") }) else {
            return std::ptr::null();
        };
        // SAFETY: forwarded contract.
        unsafe {
            handle::read(response, std::ptr::null(), |r| {
                r.headers
                    .iter()
                    .find(|(n, _)| n.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
                    .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
            })
        }
    })
}

/// The body (up to `ws_options_set_handshake_limits`' body limit, 1 MiB by default), owned by the
/// response; `ws_response_body_length` bytes.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_body(response: *const ws_response) -> *const u8 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(response, std::ptr::null(), |r| r.body.as_ptr()) }
}

/// The length of the body in bytes.
///
/// # Safety
/// `response`: NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ws_response_body_length(response: *const ws_response) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle::read(response, 0, |r| r.body.len()) }
}
