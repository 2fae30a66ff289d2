//! permessage-deflate figures measured on the codec itself
//! (`wsclient::deflate::{Deflater, Inflater}`): compression ratio and CPU
//! time per message, for one message stream as a connection would see it.

use wsclient::deflate::{Deflater, Inflater};

use crate::support::report::thread_cpu;

/// Far above any message of the workload; the limit is not what is measured.
const LIMIT: usize = 64 << 20;

pub struct Setting {
    pub window_bits: u8,
    pub no_context_takeover: bool,
    pub level: i32,
}

pub struct Figures {
    pub raw_bytes: usize,
    pub wire_bytes: usize,
    /// Thread CPU time per message, best of the passes.
    pub compress_us: f64,
    pub inflate_us: f64,
}

/// Compress every message in order with one Deflater (as one connection
/// sends them), inflate the results in order with one Inflater, check the
/// round trip, and time both (thread CPU time, which other load on the
/// machine barely changes); the best of `passes` passes is kept.
pub fn measure(corpus: &[String], setting: &Setting, passes: usize) -> Figures {
    let raw_bytes = corpus.iter().map(String::len).sum();
    let mut wire: Vec<Vec<u8>> = vec![Vec::new(); corpus.len()];
    let mut out = Vec::new();
    let (mut compress_s, mut inflate_s) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..passes {
        let mut deflater = Deflater::new(
            setting.window_bits,
            setting.no_context_takeover,
            setting.level,
        )
        .expect("deflateInit2");
        let start = thread_cpu();
        for (message, w) in corpus.iter().zip(wire.iter_mut()) {
            w.clear();
            deflater
                .compress_message(message.as_bytes(), w)
                .expect("compress");
        }
        compress_s = compress_s.min((thread_cpu() - start).as_secs_f64());

        let mut inflater =
            Inflater::new(setting.window_bits, setting.no_context_takeover).expect("inflateInit2");
        let start = thread_cpu();
        for w in &wire {
            out.clear();
            inflater.inflate(w, &mut out, LIMIT).expect("inflate");
            inflater
                .finish_message(&mut out, LIMIT)
                .expect("inflate tail");
        }
        inflate_s = inflate_s.min((thread_cpu() - start).as_secs_f64());
    }
    // The check stays out of the timed loop: a second, untimed inflate pass.
    let mut inflater =
        Inflater::new(setting.window_bits, setting.no_context_takeover).expect("inflateInit2");
    for (message, w) in corpus.iter().zip(&wire) {
        out.clear();
        inflater.inflate(w, &mut out, LIMIT).expect("inflate");
        inflater
            .finish_message(&mut out, LIMIT)
            .expect("inflate tail");
        assert_eq!(out, message.as_bytes(), "the codec did not round-trip");
    }
    let n = corpus.len() as f64;
    Figures {
        raw_bytes,
        wire_bytes: wire.iter().map(Vec::len).sum(),
        compress_us: compress_s * 1e6 / n,
        inflate_us: inflate_s * 1e6 / n,
    }
}

/// zlib's documented state sizes (zconf.h): deflate needs
/// `(1 << (windowBits+2)) + (1 << (memLevel+9))` bytes (memLevel 8 here),
/// inflate `1 << windowBits`, each plus "a few kilobytes for small objects".
pub fn zlib_documented_bytes(window_bits: u8) -> (usize, usize) {
    let bits = window_bits.clamp(9, 15) as u32;
    ((1 << (bits + 2)) + (1 << (8 + 9)), 1 << bits)
}
