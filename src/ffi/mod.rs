//! The C ABI: the only place with `extern "C"`, raw pointers and C strings.
//! Every entry point runs inside [`panic::guard`]; handles are checked by
//! [`handle::borrow`] (against the [`registry`] of live handles) before use.

#![allow(non_camel_case_types)]

mod conn;
mod error;
mod frame;
mod handle;
mod maps;
mod message;
mod options;
mod panic;
mod pong;
mod registry;
mod response;
mod slab;
mod trace;
mod transport;

use std::ffi::c_char;

/// The library version as a static NUL-terminated string ("0.1.0").
#[no_mangle]
pub extern "C" fn ws_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
