//! The incremental UTF-8 validator against `std::str::from_utf8`: fed in
//! arbitrary chunks, it must fail exactly when (and as soon as) the bytes
//! so far can no longer be the prefix of valid UTF-8, and end complete
//! exactly when the whole input is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsclient::proto::utf8::Utf8Validator;

/// Can `bytes` still be the start of valid UTF-8?
fn valid_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split_seed, input)) = data.split_first() else {
        return;
    };
    let mut v = Utf8Validator::default();
    let mut fed = 0;
    let mut seed = split_seed as usize | 1;
    while fed < input.len() {
        seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
        let n = ((seed >> 8) % 7 + 1).min(input.len() - fed);
        let ok = v.feed(&input[fed..fed + n]);
        fed += n;
        let expected = valid_prefix(&input[..fed]);
        assert_eq!(ok, expected, "after {fed} bytes of {input:?}");
        if !ok {
            // Fail-fast: the prefix without this chunk was still fine.
            assert!(valid_prefix(&input[..fed - n]));
            return;
        }
    }
    assert_eq!(
        v.is_complete(),
        std::str::from_utf8(input).is_ok(),
        "{input:?}"
    );
});
