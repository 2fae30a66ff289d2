//! Raw DEFLATE through the system zlib (libz-sys), with the `00 00 ff ff`
//! tail handling of RFC 7692 §7.2.
//!
//! zlib cannot produce a raw stream with an 8-bit window (it silently uses 9,
//! which a peer with a 256-byte window could not decode), so a [`Deflater`]
//! asked for 8 bits compresses nothing: messages go out uncompressed, which
//! RFC 7692 allows for any message.

use std::os::raw::{c_int, c_uint, c_void};

use libz_sys as z;

use crate::error::{Error, ErrorKind, Result};

const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    // malloc, as zlib's own allocator: pages count only once zlib uses them.
    match (items as usize).checked_mul(size as usize) {
        // SAFETY: malloc accepts any size and returns NULL on failure, which
        // zlib reports as Z_MEM_ERROR.
        Some(bytes) => unsafe { libc::malloc(bytes) },
        None => std::ptr::null_mut(),
    }
}

extern "C" fn zfree(_opaque: *mut c_void, ptr: *mut c_void) {
    // SAFETY: `ptr` was returned by `zalloc` above.
    unsafe { libc::free(ptr) }
}

/// A z_stream that never moves (zlib keeps a pointer back to it).
fn new_stream() -> Box<z::z_stream> {
    Box::new(z::z_stream {
        next_in: std::ptr::null_mut(),
        avail_in: 0,
        total_in: 0,
        next_out: std::ptr::null_mut(),
        avail_out: 0,
        total_out: 0,
        msg: std::ptr::null_mut(),
        state: std::ptr::null_mut(),
        zalloc,
        zfree,
        opaque: std::ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    })
}

fn zlib_error(what: &str, code: c_int) -> Error {
    Error::exn(
        ErrorKind::Io,
        format!("zlib {what} failed with code {code}"),
    )
}

/// Decompresses the messages of one connection.
pub struct Inflater {
    strm: Box<z::z_stream>,
    reset_after_message: bool,
}

// SAFETY: the z_stream is owned exclusively by this value; zlib keeps no
// thread-affine state.
unsafe impl Send for Inflater {}

impl Inflater {
    /// `window_bits` is the server's window (8 is decoded with 9, which is a
    /// superset); `no_context_takeover` resets the window after each message.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Result<Inflater> {
        let mut strm = new_stream();
        let bits = window_bits.clamp(9, 15) as c_int;
        // SAFETY: `strm` is a valid, boxed z_stream with allocators set.
        let rc = unsafe {
            z::inflateInit2_(
                &mut *strm,
                -bits,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as c_int,
            )
        };
        if rc != z::Z_OK {
            return Err(zlib_error("inflateInit2", rc));
        }
        Ok(Inflater {
            strm,
            reset_after_message: no_context_takeover,
        })
    }

    /// Inflate `input`, appending to `out`; fails with 1009 before `out`
    /// grows past `limit`, so a decompression bomb costs at most `limit`.
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<()> {
        for piece in input.chunks(c_uint::MAX as usize) {
            self.inflate_piece(piece, out, limit)?;
        }
        Ok(())
    }

    fn inflate_piece(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<()> {
        self.strm.next_in = input.as_ptr() as *mut u8;
        self.strm.avail_in = input.len() as c_uint;
        loop {
            if out.len() > limit {
                return Err(too_big(limit));
            }
            // Room for up to one byte past the limit, which detects overflow.
            let room = limit.saturating_add(1) - out.len();
            if out.capacity() == out.len() {
                // Small steps: Vec doubles as needed, and a message of a few
                // bytes should not pin kilobytes.
                out.reserve((input.len() * 2).max(64).min(room));
            }
            let spare = (out.capacity() - out.len())
                .min(room)
                .min(c_uint::MAX as usize);
            // SAFETY: `spare` bytes past `out.len()` are allocated capacity;
            // zlib writes at most `avail_out` bytes there and reads
            // `avail_in` bytes of `input`, which outlives the call.
            let (rc, produced) = unsafe {
                self.strm.next_out = out.as_mut_ptr().add(out.len());
                self.strm.avail_out = spare as c_uint;
                let rc = z::inflate(&mut *self.strm, z::Z_SYNC_FLUSH);
                let produced = spare - self.strm.avail_out as usize;
                out.set_len(out.len() + produced);
                (rc, produced)
            };
            match rc {
                z::Z_OK | z::Z_BUF_ERROR => {
                    if out.len() > limit {
                        return Err(too_big(limit));
                    }
                    if self.strm.avail_in == 0 && self.strm.avail_out > 0 {
                        break;
                    }
                    if rc == z::Z_BUF_ERROR && produced == 0 && self.strm.avail_out > 0 {
                        break;
                    }
                }
                z::Z_STREAM_END => {
                    // A final block: the next message starts a fresh stream.
                    // SAFETY: the stream was initialised by inflateInit2_.
                    unsafe { z::inflateReset(&mut *self.strm) };
                    if self.strm.avail_in == 0 {
                        break;
                    }
                }
                _ => return Err(Error::invalid_payload("invalid compressed data")),
            }
        }
        self.strm.next_in = std::ptr::null_mut();
        self.strm.avail_in = 0;
        Ok(())
    }

    /// Streaming: inflate from `input` into at most `room` more bytes of
    /// `out`. Returns how many bytes of `input` were used, and whether the
    /// room filled up (then more output may be pending inside zlib: call
    /// again, with the rest of the input or none). Memory stays bounded by
    /// `room` whatever the compression ratio.
    pub fn inflate_bounded(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<(usize, bool)> {
        let input = &input[..input.len().min(c_uint::MAX as usize)];
        let room = room.min(c_uint::MAX as usize);
        out.try_reserve(room)
            .map_err(|_| Error::too_big("out of memory for the incoming message"))?;
        self.strm.next_in = input.as_ptr() as *mut u8;
        self.strm.avail_in = input.len() as c_uint;
        let start = out.len();
        let mut written = 0;
        let result = loop {
            // SAFETY: `room` bytes past `start` are reserved; zlib writes at
            // most `avail_out` bytes from `next_out` and reads `avail_in`
            // bytes of `input`, which outlives the call.
            let rc = unsafe {
                self.strm.next_out = out.as_mut_ptr().add(start + written);
                self.strm.avail_out = (room - written) as c_uint;
                let rc = z::inflate(&mut *self.strm, z::Z_SYNC_FLUSH);
                written = room - self.strm.avail_out as usize;
                out.set_len(start + written);
                rc
            };
            match rc {
                z::Z_OK | z::Z_BUF_ERROR => break Ok(()),
                z::Z_STREAM_END => {
                    // SAFETY: the stream was initialised by inflateInit2_.
                    unsafe { z::inflateReset(&mut *self.strm) };
                    if self.strm.avail_in == 0 || written == room {
                        break Ok(());
                    }
                }
                _ => break Err(Error::invalid_payload("invalid compressed data")),
            }
        };
        let used = input.len() - self.strm.avail_in as usize;
        self.strm.next_in = std::ptr::null_mut();
        self.strm.avail_in = 0;
        result.map(|()| (used, written == room))
    }

    /// Streaming: the bytes the sender stripped from the end of each
    /// message, to feed through [`Inflater::inflate_bounded`] after its last
    /// frame; then call [`Inflater::message_done`].
    pub const TAIL: [u8; 4] = TAIL;

    /// Streaming: the message is wholly inflated; drop the window if
    /// context takeover is off.
    pub fn message_done(&mut self) {
        if self.reset_after_message {
            // SAFETY: the stream was initialised by inflateInit2_.
            unsafe { z::inflateReset(&mut *self.strm) };
        }
    }

    /// The message's last frame has arrived: flush with the tail the sender
    /// stripped, then drop the window if context takeover is off.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<()> {
        self.inflate(&TAIL, out, limit)?;
        if self.reset_after_message {
            // SAFETY: the stream was initialised by inflateInit2_.
            unsafe { z::inflateReset(&mut *self.strm) };
        }
        Ok(())
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by inflateInit2_ and is ended once.
        unsafe { z::inflateEnd(&mut *self.strm) };
    }
}

fn too_big(limit: usize) -> Error {
    Error::too_big(format!(
        "decompressed message exceeds the limit of {limit} bytes"
    ))
}

/// Compresses the messages of one connection.
pub struct Deflater {
    strm: Option<Box<z::z_stream>>,
    reset_after_message: bool,
}

// SAFETY: as for Inflater.
unsafe impl Send for Deflater {}

impl Deflater {
    /// `window_bits` of 8 yields a deflater that leaves messages uncompressed
    /// (see the module documentation).
    pub fn new(window_bits: u8, no_context_takeover: bool, level: i32) -> Result<Deflater> {
        if window_bits < 9 {
            return Ok(Deflater {
                strm: None,
                reset_after_message: no_context_takeover,
            });
        }
        let mut strm = new_stream();
        // SAFETY: `strm` is a valid, boxed z_stream with allocators set.
        let rc = unsafe {
            z::deflateInit2_(
                &mut *strm,
                level.clamp(-1, 9),
                z::Z_DEFLATED,
                -(window_bits.min(15) as c_int),
                // Hash memory in step with the window: 8 for 15 bits, less
                // for small windows, where a large table only costs time.
                (window_bits.min(15) as c_int - 7).clamp(1, 8),
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as c_int,
            )
        };
        if rc != z::Z_OK {
            return Err(zlib_error("deflateInit2", rc));
        }
        Ok(Deflater {
            strm: Some(strm),
            reset_after_message: no_context_takeover,
        })
    }

    pub fn can_compress(&self) -> bool {
        self.strm.is_some()
    }

    /// Compress a whole message into `out`, without the `00 00 ff ff` tail.
    pub fn compress_message(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        self.compress_part(input, out, true)?;
        // With nothing pending, zlib's sync flush emits nothing at all; an
        // empty message is then the single 0x00 of RFC 7692 §7.2.3.6.
        if out.len() == start {
            out.push(0x00);
        }
        Ok(())
    }

    /// Compress the next part of a message into `out`: a part that does not
    /// end it is compressed without a flush (zlib may keep some of it for
    /// later, and `out` may stay empty), the last one is flushed and its
    /// `00 00 ff ff` tail removed. Memory stays bounded by the part's size,
    /// whatever the message's.
    pub fn compress_part(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) -> Result<()> {
        let flush = if last { z::Z_SYNC_FLUSH } else { z::Z_NO_FLUSH };
        let strm = self
            .strm
            .as_mut()
            .ok_or_else(|| Error::invalid_state("compression is not available"))?;
        let start = out.len();
        let mut rest = input;
        loop {
            let piece = rest.len().min(c_uint::MAX as usize);
            strm.next_in = rest.as_ptr() as *mut u8;
            strm.avail_in = piece as c_uint;
            out.reserve(piece + piece / 1000 + 64);
            let spare = (out.capacity() - out.len()).min(c_uint::MAX as usize);
            // SAFETY: as in `Inflater::inflate_piece`: zlib writes at most
            // `avail_out` bytes into allocated capacity and reads `avail_in`
            // bytes of `input`.
            let rc = unsafe {
                strm.next_out = out.as_mut_ptr().add(out.len());
                strm.avail_out = spare as c_uint;
                let rc = z::deflate(&mut **strm, flush);
                out.set_len(out.len() + spare - strm.avail_out as usize);
                rc
            };
            if rc != z::Z_OK && rc != z::Z_BUF_ERROR {
                return Err(zlib_error("deflate", rc));
            }
            let consumed = piece - strm.avail_in as usize;
            rest = &rest[consumed..];
            // Done once all input is in and zlib had output room to spare.
            if rest.is_empty() && strm.avail_out > 0 {
                break;
            }
        }
        strm.next_in = std::ptr::null_mut();
        strm.avail_in = 0;
        if !last {
            return Ok(());
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset_after_message {
            // SAFETY: the stream was initialised by deflateInit2_.
            unsafe { z::deflateReset(&mut **strm) };
        }
        Ok(())
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        if let Some(strm) = self.strm.as_mut() {
            // SAFETY: the stream was initialised by deflateInit2_ and is ended once.
            unsafe { z::deflateEnd(&mut **strm) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: usize = 7;

    fn round_trip(bits: u8, no_ctx: bool, messages: &[Vec<u8>]) {
        let mut d = Deflater::new(bits, no_ctx, 6).unwrap();
        let mut i = Inflater::new(bits, no_ctx).unwrap();
        for m in messages {
            let mut wire = Vec::new();
            d.compress_message(m, &mut wire).unwrap();
            let mut out = Vec::new();
            // Feed the compressed bytes in small pieces, as frames would.
            for piece in wire.chunks(CHUNK) {
                i.inflate(piece, &mut out, usize::MAX - 1).unwrap();
            }
            i.finish_message(&mut out, usize::MAX - 1).unwrap();
            assert_eq!(&out, m);
        }
    }

    #[test]
    fn round_trips_for_every_window_and_takeover_mode() {
        let json = br#"{"id":1,"name":"libwsclient","tags":["a","b"],"ok":true}"#.repeat(50);
        let messages = vec![json.clone(), Vec::new(), b"x".to_vec(), json];
        for bits in 9..=15 {
            for no_ctx in [false, true] {
                round_trip(bits, no_ctx, &messages);
            }
        }
    }

    #[test]
    fn empty_message_is_a_single_zero_byte() {
        let mut d = Deflater::new(15, false, 6).unwrap();
        let mut wire = Vec::new();
        d.compress_message(&[], &mut wire).unwrap();
        assert_eq!(wire, [0x00]);
    }

    /// A DEFLATE bit stream writer (RFC 1951 §3.1.1): values go LSB first,
    /// Huffman codes MSB first.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl Bits {
        fn put(&mut self, value: u32, count: u32) {
            self.acc |= (value as u64) << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }

        fn code(&mut self, code: u32, len: u32) {
            self.put(code.reverse_bits() >> (32 - len), len);
        }

        /// A literal byte in the fixed Huffman code.
        fn literal(&mut self, byte: u8) {
            match byte {
                0..=143 => self.code(0x30 + byte as u32, 8),
                _ => self.code(0x190 + (byte as u32 - 144), 9),
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }

    #[test]
    fn eight_bit_window_sends_uncompressed() {
        assert!(!Deflater::new(8, false, 6).unwrap().can_compress());
        // What a server with an 8-bit window sends: zlib cannot write it, so
        // it is written here by hand. One fixed-Huffman block: the 256 byte
        // values, then a match of length 3 at distance 256, the farthest a
        // 256-byte window allows; the sync flush's tail is left off.
        let mut bits = Bits::default();
        bits.put(0, 1); // not the final block
        bits.put(1, 2); // fixed Huffman codes
        (0..=255u8).for_each(|b| bits.literal(b));
        bits.code(1, 7); // length code 257: 3 bytes
        bits.code(15, 5); // distance code 15: 193..256
        bits.put(256 - 193, 6);
        bits.code(0, 7); // end of block
        let wire = bits.finish();
        let mut i = Inflater::new(8, false).unwrap();
        let mut out = Vec::new();
        i.inflate(&wire, &mut out, 1 << 20).unwrap();
        i.finish_message(&mut out, 1 << 20).unwrap();
        let mut expected: Vec<u8> = (0..=255u8).collect();
        expected.extend([0, 1, 2]);
        assert_eq!(out, expected);
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let mut d = Deflater::new(15, false, 9).unwrap();
        let mut wire = Vec::new();
        d.compress_message(&zeros, &mut wire).unwrap();
        assert!(wire.len() < 64 << 10);
        let mut i = Inflater::new(15, false).unwrap();
        let mut out = Vec::new();
        let e = i.inflate(&wire, &mut out, 1 << 20).unwrap_err();
        assert_eq!(e.close_code(), Some(1009));
        assert!(out.len() <= (1 << 20) + 1 && out.capacity() <= 2 << 20);
    }

    #[test]
    fn garbage_is_invalid_payload() {
        let mut i = Inflater::new(15, false).unwrap();
        let e = i.inflate(&[0xFF; 16], &mut Vec::new(), 1000).unwrap_err();
        assert_eq!(e.close_code(), Some(1007));
    }
}
