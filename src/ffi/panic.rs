//! The panic boundary: no panic unwinds into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};
use crate::ffi::error::{set_last_error, WS_ERR_PANIC};

/// Run `f`; a panic becomes `WS_ERR_PANIC` with its message as last error.
pub fn guard(f: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&Error::exn(
                ErrorKind::InvalidState,
                format!("internal panic: {what}"),
            ));
            WS_ERR_PANIC
        }
    }
}

/// Run a getter; a panic yields `fallback` (NULL, 0 or false).
pub fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
