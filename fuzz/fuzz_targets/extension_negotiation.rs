//! permessage-deflate negotiation: offers parsed from text and the server's
//! answer validated against them. Never a panic; an agreement never grants
//! what was not offered, and always fits RFC 7692's ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsclient::deflate::{negotiate, DeflateOffer};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // "offer1|offer2|...#response value 1#response value 2"
    let (offers_text, answers) = text.split_once('#').unwrap_or((&text, ""));
    let offers: Vec<DeflateOffer> = offers_text
        .split('|')
        .filter_map(|o| DeflateOffer::parse(o).ok())
        .collect();
    for offer in &offers {
        // An offer renders to a header value that parses back to itself.
        let rendered = offer.header_value();
        let params = rendered
            .strip_prefix("permessage-deflate")
            .unwrap_or(&rendered)
            .trim_start_matches(';');
        let again = DeflateOffer::parse(params).expect("a rendered offer parses");
        assert_eq!(&again, offer, "{rendered}");
    }
    let answers: Vec<&str> = answers.split('#').collect();
    let Ok(Some(agreed)) = negotiate(&offers, &answers) else {
        return;
    };
    assert!(!offers.is_empty());
    assert!(
        (8..=15).contains(&agreed.server_max_window_bits),
        "{agreed:?}"
    );
    assert!(
        (8..=15).contains(&agreed.client_max_window_bits),
        "{agreed:?}"
    );
    // Some offer must allow what was agreed.
    let allowed = offers.iter().any(|o| {
        o.server_max_window_bits
            .is_none_or(|b| agreed.server_max_window_bits <= b)
            && match o.client_max_window_bits {
                None => agreed.client_max_window_bits == 15,
                Some(None) => true,
                Some(Some(b)) => agreed.client_max_window_bits <= b,
            }
            && (!o.server_no_context_takeover || agreed.server_no_context_takeover)
    });
    assert!(
        allowed,
        "{agreed:?} was not offered in {offers:?} ({answers:?})"
    );
});
