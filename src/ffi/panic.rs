//! The panic boundary: no panic unwinds into C.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};
use crate::ffi::error::{set_last_error, WS_ERR_PANIC};

/// Run `f`; a panic becomes `WS_ERR_PANIC` with its message as last error.
pub fn guard(f: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(payload) => record_panic(payload.as_ref()),
    }
}

/// Run a getter or constructor; a panic yields `fallback` (NULL, 0 or
/// false) and is recorded as the last error (`WS_ERR_PANIC`), so a NULL
/// from a constructor never comes with an older, unrelated error.
pub fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        record_panic(payload.as_ref());
        fallback
    })
}

/// Record a caught panic as this thread's last error; returns `WS_ERR_PANIC`.
fn record_panic(payload: &(dyn Any + Send)) -> i32 {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let code = set_last_error(&Error::exn(
        ErrorKind::Panic,
        format!("internal panic: {what}"),
    ));
    debug_assert_eq!(code, WS_ERR_PANIC);
    WS_ERR_PANIC
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{record, ws_last_error_code, ws_last_error_message, WS_ERR_IO};
    use std::ffi::CStr;

    fn last_message() -> String {
        // SAFETY: the library's own thread-local string.
        unsafe { CStr::from_ptr(ws_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_caught_panic_is_the_last_error_with_its_own_code() {
        let rc = guard(|| panic!("boom in a call"));
        assert_eq!(rc, WS_ERR_PANIC);
        assert_eq!(ws_last_error_code(), WS_ERR_PANIC);
        assert!(last_message().contains("boom in a call"));
    }

    #[test]
    fn a_panicking_constructor_leaves_no_stale_last_error() {
        record(WS_ERR_IO, &Error::exn(ErrorKind::Io, "an older error"));
        let ptr = guard_value(std::ptr::null_mut::<u8>(), || {
            panic!("boom in a constructor")
        });
        assert!(ptr.is_null());
        assert_eq!(ws_last_error_code(), WS_ERR_PANIC);
        assert!(last_message().contains("boom in a constructor"));
    }
}
