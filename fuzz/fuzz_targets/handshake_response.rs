//! The handshake response parser and the chunked body decoder. Never a
//! panic; the result does not depend on how the bytes were split by reads
//! (every prefix is "need more" or the same answer); a 101 validates
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsclient::deflate::DeflateOffer;
use wsclient::handshake::{parse_response, ChunkedBody, Upgrade};

const MAX_HEAD: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let whole = parse_response(data, MAX_HEAD);
    let whole_text = format!("{whole:?}");
    if let Ok(Some((parsed, used))) = &whole {
        assert!(*used <= data.len());
        // The head is complete only at `used`: shorter prefixes need more.
        for cut in [0, used / 2, used.saturating_sub(1)] {
            if let Ok(Some(_)) = parse_response(&data[..cut], MAX_HEAD) {
                panic!("a prefix of {cut} bytes parsed; the whole needed {used}");
            }
        }
        let _ = parsed.body_framing();
        let offers = [
            DeflateOffer::parse("server_max_window_bits=10; client_max_window_bits").unwrap(),
            DeflateOffer::parse("").unwrap(),
        ];
        let _ = Upgrade::validate(
            parsed,
            "dGhlIHNhbXBsZSBub25jZQ==",
            &offers,
            &["chat".into()],
        );
        // The rest as a chunked body, fed whole and byte by byte.
        let body = &data[*used..];
        let mut at_once = ChunkedBody::new(64);
        at_once.feed(body);
        let mut bytewise = ChunkedBody::new(64);
        let mut buf = Vec::new();
        for &b in body {
            buf.push(b);
            let n = bytewise.feed(&buf);
            buf.drain(..n);
            if bytewise.is_done() {
                break;
            }
        }
        let done = (at_once.is_done(), bytewise.is_done());
        let (a, b) = (at_once.into_body(), bytewise.into_body());
        assert!(a.len() <= 64);
        assert_eq!(a, b, "chunked body differs by chunking ({done:?})");
    } else if data.len() > 1 {
        // An error (or "need more") for the whole cannot be a success for
        // a prefix that then disagrees with it.
        if let Ok(Some((_, used))) = parse_response(&data[..data.len() - 1], MAX_HEAD) {
            panic!("prefix parsed ({used} bytes) but the whole gave {whole_text}");
        }
    }
});
