//! Checked access to the opaque handles and buffers C callers pass in.
//!
//! Each handle carries a tag that is cleared when it is freed, so NULL, a
//! pointer to another handle type, and many use-after-free or double-free
//! mistakes give `WS_ERR_INVALID_ARGUMENT` instead of memory corruption.

use std::ffi::{c_char, CStr};

use crate::error::Error;
use crate::ffi::error::{null_argument, set_last_error, WS_ERR_INVALID_ARGUMENT};

/// A handle type with its own tag value.
pub trait Tagged {
    const TAG: u64;
    fn tag(&self) -> u64;
    fn clear_tag(&mut self);
}

/// Return early from an `i32`-returning entry point on `Err(code)`.
macro_rules! try_code {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_code;

fn invalid(name: &str, what: &str) -> i32 {
    set_last_error(&Error::invalid_argument(format!("{name} {what}")));
    WS_ERR_INVALID_ARGUMENT
}

pub fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

fn check<T: Tagged>(ptr: *const T, name: &str) -> Result<(), i32> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    if (ptr as usize) % std::mem::align_of::<T>() != 0 {
        return Err(invalid(name, "is not a valid handle (misaligned)"));
    }
    Ok(())
}

/// Borrow a handle for the duration of a call.
///
/// # Safety
/// `ptr` must be NULL or point to memory readable as a `T`.
pub unsafe fn borrow<'a, T: Tagged>(ptr: *const T, name: &str) -> Result<&'a T, i32> {
    check(ptr, name)?;
    // SAFETY: non-NULL and aligned; the caller promises it is readable.
    let value = unsafe { &*ptr };
    if value.tag() != T::TAG {
        return Err(invalid(name, "is not a live handle of the right type"));
    }
    Ok(value)
}

/// Mutable variant of [`borrow`].
///
/// # Safety
/// As for [`borrow`], and no other reference to `*ptr` may be live.
pub unsafe fn borrow_mut<'a, T: Tagged>(ptr: *mut T, name: &str) -> Result<&'a mut T, i32> {
    // SAFETY: forwarded contract.
    unsafe { borrow(ptr, name)? };
    // SAFETY: checked above; the caller promises exclusive access.
    Ok(unsafe { &mut *ptr })
}

/// Free a handle made by [`into_raw`]; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or a handle from [`into_raw`] not yet freed.
pub unsafe fn free<T: Tagged>(ptr: *mut T) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: forwarded contract; the tag check catches double frees that
    // reach freed memory still mapped.
    if let Ok(value) = unsafe { borrow_mut(ptr, "handle") } {
        value.clear_tag();
        // SAFETY: `ptr` came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A borrowed, UTF-8 C string argument.
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string.
pub unsafe fn c_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, i32> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| invalid(name, "is not valid UTF-8"))
}

/// A borrowed buffer argument; NULL is accepted only with length 0.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], i32> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(null_argument(name))
        };
    }
    // SAFETY: non-NULL; the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Write `value` through an output pointer (checked for NULL first).
///
/// # Safety
/// `out` must be NULL or writable.
pub unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL; the caller promises it is writable.
        unsafe { out.write(value) };
    }
}

/// Implement [`Tagged`] for a handle struct with a `tag: u64` field.
macro_rules! tagged {
    ($ty:ident, $tag:expr) => {
        impl $crate::ffi::handle::Tagged for $ty {
            const TAG: u64 = $tag;
            fn tag(&self) -> u64 {
                self.tag
            }
            fn clear_tag(&mut self) {
                self.tag = 0;
            }
        }
    };
}
pub(crate) use tagged;

/// Read a value from a handle for a getter: `fallback` for NULL, an invalid
/// handle, or a panic.
///
/// # Safety
/// `ptr` must be NULL or point to memory readable as an `H`.
pub unsafe fn read<H: Tagged, T: Copy>(ptr: *const H, fallback: T, f: impl FnOnce(&H) -> T) -> T {
    crate::ffi::panic::guard_value(fallback, || {
        // SAFETY: forwarded contract.
        match unsafe { borrow(ptr, "handle") } {
            Ok(h) => f(h),
            Err(_) => fallback,
        }
    })
}
