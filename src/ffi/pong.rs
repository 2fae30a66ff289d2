//! The pongs a connection received, for bindings whose `ping()` returns
//! something to wait on until its pong arrives (websockets' API).

use crate::ffi::conn::ws_conn;
use crate::ffi::handle;

/// The number of pongs received on the connection so far (0 for NULL). A
/// binding compares it after each receive to see whether a pong arrived,
/// then reads its payload with `ws_conn_last_pong`.
///
/// # Safety
/// `conn`: NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_pong_count(conn: *const ws_conn) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { handle::read(conn, 0, |c| c.open_or(0, |k| k.pongs().count())) }
}

/// Copy the payload of the last pong received (at most 125 bytes) into
/// `buf`, at most `cap` bytes; return its whole length (0 before the first
/// pong, or for NULL). `buf` may be NULL when `cap` is 0.
///
/// # Safety
/// `conn`: NULL or a live connection; `buf`: NULL or `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_conn_last_pong(
    conn: *const ws_conn,
    buf: *mut u8,
    cap: usize,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        handle::read(conn, 0, |c| {
            let pongs = c.open_or(Default::default(), |k| k.pongs());
            let last = pongs.last();
            let n = last.len().min(cap);
            if n > 0 && !buf.is_null() {
                // SAFETY: the caller promises `cap` >= n writable bytes at `buf`.
                std::slice::from_raw_parts_mut(buf, n).copy_from_slice(&last[..n]);
            }
            last.len()
        })
    }
}
