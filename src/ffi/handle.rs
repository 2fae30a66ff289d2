//! Checked access to the opaque handles and buffers C callers pass in.
//!
//! Every handle is recorded in [`registry`] while it lives, so NULL, a
//! pointer to another handle type, a misaligned pointer, a freed handle and
//! a double free give `WS_ERR_INVALID_ARGUMENT` instead of memory
//! corruption: the check never reads the memory behind the pointer. A
//! handle that was borrowed when a panic was caught is poisoned: every
//! later call on it returns `WS_ERR_PANIC`.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::error::{Error, ErrorKind};
use crate::ffi::error::{null_argument, set_last_error, WS_ERR_INVALID_ARGUMENT};
use crate::ffi::message::slab as message_slab;
use crate::ffi::panic::guard;
use crate::ffi::registry;
use crate::ffi::slab::Slab;

/// A handle type with its own tag value (the registry's type check). The
/// `tag` field the handles still carry is cleared on free, for debuggers.
pub trait Tagged: Sized + 'static {
    const TAG: u64;
    fn clear_tag(&mut self);
    /// The slab that holds handles of this type, instead of boxes recorded
    /// in the registry (messages: see [`crate::ffi::slab`]).
    fn slab() -> Option<&'static Slab<Self>> {
        None
    }
}

/// What is known about the handle at `addr`: a message slot's state, or
/// the registry's entry.
fn lookup(addr: usize) -> Option<registry::Entry> {
    match message_slab().lookup(addr) {
        Some(found) => found,
        None => registry::lookup(addr),
    }
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

/// Box `value` and register it as a live handle.
pub fn into_raw<T: Tagged>(value: T) -> *mut T {
    if let Some(slab) = T::slab() {
        return slab.insert(value);
    }
    let ptr = Box::into_raw(Box::new(value));
    registry::insert(ptr as usize, T::TAG, true);
    ptr
}

/// Register a handle that lives inside another one (a message's frames):
/// it can be borrowed but not freed on its own.
pub fn register_view<T: Tagged>(ptr: *const T) {
    registry::insert(ptr as usize, T::TAG, false);
}

/// The owner of a view is going away: the view is dead from now on.
pub fn unregister_view<T: Tagged>(ptr: *const T) {
    registry::remove_view(ptr as usize);
}

/// Check that `ptr` is a live, healthy handle of type `T`, without
/// dereferencing it.
fn check<T: Tagged>(ptr: *const T, name: &str) -> Result<registry::Entry, i32> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    if (ptr as usize) % std::mem::align_of::<T>() != 0 {
        return Err(invalid(name, "is not a valid handle (misaligned)"));
    }
    let entry = match lookup(ptr as usize) {
        None => {
            return Err(invalid(
                name,
                "is not a live handle (freed, or not from this library)",
            ))
        }
        Some(e) if e.tag != T::TAG => return Err(invalid(name, "is a handle of another type")),
        Some(e) => e,
    };
    if entry.poisoned {
        return Err(set_last_error(&Error::exn(
            ErrorKind::Panic,
            format!("{name} is unusable after an internal panic; free it"),
        )));
    }
    Ok(entry)
}

/// The generation of the live handle at `ptr`, if there is one: compare two
/// readings to tell whether the handle was freed in between (even when the
/// address was then reused).
pub fn generation<T: Tagged>(ptr: *const T) -> Option<u64> {
    lookup(ptr as usize)
        .filter(|e| e.tag == T::TAG)
        .map(|e| e.generation)
}

/// Borrow a handle for the duration of a call.
///
/// # Safety
/// No other thread may free the handle or borrow it mutably meanwhile.
pub unsafe fn borrow<'a, T: Tagged>(ptr: *const T, name: &str) -> Result<&'a T, i32> {
    check(ptr, name)?;
    // SAFETY: the registry says `ptr` is a live `T` made by `into_raw` (or a
    // view inside one); the caller promises nobody frees it meanwhile.
    Ok(unsafe { &*ptr })
}

/// Mutable variant of [`borrow`].
///
/// # Safety
/// As for [`borrow`], and no other reference to `*ptr` may be live.
pub unsafe fn borrow_mut<'a, T: Tagged>(ptr: *mut T, name: &str) -> Result<&'a mut T, i32> {
    check(ptr, name)?;
    // SAFETY: as in `borrow`; the caller promises exclusive access.
    Ok(unsafe { &mut *ptr })
}

/// Run `f` on the handle inside the panic boundary. A panic in `f` poisons
/// the handle (its state may be torn half-way through an update): the call
/// returns `WS_ERR_PANIC`, and so does every later call on the handle.
///
/// # Safety
/// As for [`borrow`].
#[allow(dead_code)] // for handles shared between threads (`&ws_conn`)
pub unsafe fn guarded<T: Tagged>(ptr: *const T, name: &str, f: impl FnOnce(&T) -> i32) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let handle = try_code!(unsafe { borrow(ptr, name) });
        poison_on_panic(ptr as usize, || f(handle))
    })
}

/// Mutable variant of [`guarded`].
///
/// # Safety
/// As for [`borrow_mut`].
pub unsafe fn guarded_mut<T: Tagged>(
    ptr: *mut T,
    name: &str,
    f: impl FnOnce(&mut T) -> i32,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let handle = try_code!(unsafe { borrow_mut(ptr, name) });
        poison_on_panic(ptr as usize, || f(handle))
    })
}

/// Run `f`; if it panics, poison the handle at `addr` and go on unwinding
/// (to the entry point's guard, which reports the panic).
fn poison_on_panic<R>(addr: usize, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            if !message_slab().poison(addr) {
                registry::poison(addr);
            }
            resume_unwind(payload)
        }
    }
}

/// Free a handle made by [`into_raw`]; NULL is a no-op. A pointer that is
/// not a live owned handle of this type (freed already, a view, another
/// type) is left alone and reported as the thread's last error.
///
/// # Safety
/// `ptr` must not be in use by another thread.
pub unsafe fn free<T: Tagged>(ptr: *mut T) {
    if ptr.is_null() {
        return;
    }
    if let Some(slab) = T::slab() {
        // SAFETY: forwarded contract: nobody else uses the handle.
        if !unsafe { slab.remove(ptr as usize) } {
            invalid("handle", "is not a live handle this call can free");
        }
        return;
    }
    if !registry::remove_owned(ptr as usize, T::TAG) {
        invalid("handle", "is not a live handle this call can free");
        return;
    }
    // SAFETY: the registry held `ptr` as an owned `T` from Box::into_raw;
    // its entry is gone, so this is the only free.
    let mut value = unsafe { Box::from_raw(ptr) };
    value.clear_tag();
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
    if len > isize::MAX as usize {
        return Err(invalid(name, "is longer than any buffer can be"));
    }
    // SAFETY: non-NULL, `len` fits a slice; the caller promises `len`
    // readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A borrowed path argument: any bytes but NUL, as Unix paths are (not
/// necessarily UTF-8).
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string.
pub unsafe fn c_path(ptr: *const c_char, name: &str) -> Result<PathBuf, i32> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    Ok(PathBuf::from(OsStr::from_bytes(bytes)))
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
            fn clear_tag(&mut self) {
                self.tag = 0;
            }
        }
    };
}
pub(crate) use tagged;

/// Read a value from a handle for a getter: `fallback` for NULL, an invalid
/// or poisoned handle, or a panic (which poisons the handle).
///
/// # Safety
/// As for [`borrow`].
pub unsafe fn read<H: Tagged, T: Copy>(ptr: *const H, fallback: T, f: impl FnOnce(&H) -> T) -> T {
    crate::ffi::panic::guard_value(fallback, || {
        // SAFETY: forwarded contract.
        match unsafe { borrow(ptr, "handle") } {
            Ok(h) => poison_on_panic(ptr as usize, || f(h)),
            Err(_) => fallback,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{ws_last_error_message, WS_ERR_NULL_ARGUMENT, WS_ERR_PANIC, WS_OK};
    use crate::ffi::frame::{ws_frame_fin, ws_frame_free, ws_frame_payload_data};
    use crate::ffi::message::{ws_message, ws_message_frame, ws_message_free, ws_message_size};
    use crate::ffi::options::{
        ws_options, ws_options_free, ws_options_new, ws_options_set_auto_pong,
    };
    use crate::proto::message::FrameInfo;
    use crate::proto::{Message, MessageType};

    /// A handle type for the tests.
    #[repr(C)]
    struct Probe {
        tag: u64,
        value: u32,
    }
    tagged!(Probe, 0x7072_6f62_6521);

    fn probe(value: u32) -> *mut Probe {
        into_raw(Probe {
            tag: <Probe as Tagged>::TAG,
            value,
        })
    }

    fn last_error() -> String {
        // SAFETY: the library's own thread-local string.
        unsafe { CStr::from_ptr(ws_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn null_wrong_type_misaligned_and_foreign_pointers_are_refused() {
        let p = probe(7);
        // SAFETY (all blocks): the registry check runs before any read.
        unsafe {
            assert_eq!(borrow(p, "p").unwrap().value, 7);
            assert_eq!(
                borrow::<Probe>(std::ptr::null(), "p").err(),
                Some(WS_ERR_NULL_ARGUMENT)
            );
            let misaligned = (p as *const u8).wrapping_add(1) as *const Probe;
            assert_eq!(borrow(misaligned, "p").err(), Some(WS_ERR_INVALID_ARGUMENT));
            assert!(last_error().contains("misaligned"));
            let opts = ws_options_new();
            assert_eq!(
                borrow(opts as *const Probe, "p").err(),
                Some(WS_ERR_INVALID_ARGUMENT)
            );
            assert!(last_error().contains("another type"));
            // Memory this library never handed out is not read.
            let local = Probe {
                tag: <Probe as Tagged>::TAG,
                value: 1,
            };
            assert_eq!(
                borrow(&local as *const Probe, "p").err(),
                Some(WS_ERR_INVALID_ARGUMENT)
            );
            assert!(last_error().contains("not a live handle"));
            assert_eq!(
                ws_options_set_auto_pong(p as *mut ws_options, true),
                WS_ERR_INVALID_ARGUMENT
            );
            ws_options_free(opts);
            free(p);
        }
    }

    #[test]
    fn freed_handles_and_double_frees_are_refused_without_reading_them() {
        let p = probe(1);
        let generation = generation(p);
        assert!(generation.is_some());
        // SAFETY: `p` is live, then freed; later calls only consult the registry.
        unsafe {
            free(p);
            assert_eq!(borrow(p, "p").err(), Some(WS_ERR_INVALID_ARGUMENT));
            assert_eq!(read(p, 99, |h| h.value), 99);
            free(p); // double free: refused
            assert!(last_error().contains("can free"));
        }
        assert_eq!(super::generation(p), None);
        // A new handle at the same address is not the old one.
        let q = probe(2);
        assert_ne!(super::generation(q), generation);
        // SAFETY: `q` is live.
        unsafe { free(q) };
    }

    #[test]
    fn a_panic_poisons_the_handle_for_every_later_call() {
        let p = probe(1);
        // SAFETY: `p` is live until freed at the end.
        unsafe {
            let rc = guarded_mut(p, "p", |h| {
                h.value = 2;
                panic!("torn update");
            });
            assert_eq!(rc, WS_ERR_PANIC);
            assert!(last_error().contains("torn update"));
            assert_eq!(guarded_mut(p, "p", |_| WS_OK), WS_ERR_PANIC);
            assert_eq!(guarded(p, "p", |_| WS_OK), WS_ERR_PANIC);
            assert!(last_error().contains("unusable"));
            assert_eq!(read(p, 0, |h| h.value), 0);
            free(p); // freeing still works
            assert_eq!(generation(p), None);
            // A panicking getter poisons too.
            let q = probe(3);
            assert_eq!(read(q, 0, |_| -> u32 { panic!("getter") }), 0);
            assert_eq!(guarded(q, "q", |_| WS_OK), WS_ERR_PANIC);
            free(q);
        }
    }

    #[test]
    fn a_poisoned_handle_reports_the_panic_code() {
        use crate::ffi::error::ws_last_error_code;
        let p = probe(1);
        // SAFETY: `p` is live until freed at the end.
        unsafe {
            assert_eq!(guarded_mut(p, "p", |_| panic!("torn")), WS_ERR_PANIC);
            assert_eq!(ws_last_error_code(), WS_ERR_PANIC);
            assert_eq!(guarded(p, "p", |_| WS_OK), WS_ERR_PANIC);
            assert_eq!(ws_last_error_code(), WS_ERR_PANIC);
            free(p);
        }
    }

    #[test]
    fn frame_views_die_with_their_message() {
        let mut m = Message::new(MessageType::Binary, b"abcdef".to_vec());
        for (i, range) in [0..2, 2..6].into_iter().enumerate() {
            m.frames.push(FrameInfo {
                fin: i == 1,
                rsv: 0,
                opcode: if i == 0 { 2 } else { 0 },
                payload_len: range.len() as u64,
                payload: range,
            });
        }
        let msg = into_raw(ws_message::new(m));
        // SAFETY: `msg` is live until freed; the views are checked afterwards.
        unsafe {
            let second = ws_message_frame(msg, 1);
            assert!(ws_frame_fin(second));
            let data = ws_frame_payload_data(second);
            assert_eq!(std::slice::from_raw_parts(data, 4), b"cdef");
            ws_frame_free(second as *mut _); // a view is not the caller's
            assert!(ws_frame_fin(second));
            ws_message_free(msg);
            assert!(!ws_frame_fin(second));
            assert!(ws_frame_payload_data(second).is_null());
            assert_eq!(ws_message_size(msg), 0);
        }
    }

    #[test]
    fn buffers_longer_than_isize_max_and_non_utf8_paths() {
        let byte = 0u8;
        // SAFETY: refused before a slice is made.
        let r = unsafe { bytes(&byte, isize::MAX as usize + 1, "data") };
        assert_eq!(r.err(), Some(WS_ERR_INVALID_ARGUMENT));
        // SAFETY: one readable byte.
        assert_eq!(unsafe { bytes(&byte, 1, "data") }.unwrap(), &[0]);
        let raw = b"/tmp/caf\xe9.pem\0";
        // SAFETY: NUL-terminated.
        let path = unsafe { c_path(raw.as_ptr().cast(), "path") }.unwrap();
        assert_eq!(path.as_os_str().as_bytes(), &raw[..raw.len() - 1]);
    }
}
