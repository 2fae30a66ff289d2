//! Offers we send and strict validation of the server's answer (RFC 7692 §7).

use crate::close_code::MANDATORY_EXT;
use crate::error::{Error, ErrorKind, Result};

pub const EXTENSION: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// One permessage-deflate offer: the ws-client egg's alist of `(parameter . value)`
/// or `(parameter . #t)` pairs, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeflateOffer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    /// `Some(None)`: the bare parameter (any value may come back).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// What was agreed for a connection: the parameters in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    /// Our compressor resets after each message: the server asked for it,
    /// or the accepted offer included it (RFC 7692 §7.1.1.2), echoed or not.
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

fn negotiation_error(message: impl Into<String>) -> Error {
    Error::fail(ErrorKind::Negotiation, MANDATORY_EXT, message)
}

fn parse_bits(name: &str, value: Option<&str>) -> Result<u8> {
    let value = value.ok_or_else(|| negotiation_error(format!("{name} needs a value")))?;
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) if !value.starts_with('0') => Ok(bits),
        _ => Err(negotiation_error(format!("{name}={value} is not in 8..15"))),
    }
}

/// Parsed parameters of one extension element, duplicates rejected.
fn collect_params<'a>(
    params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<DeflateOffer> {
    let mut seen: Vec<&str> = Vec::new();
    let mut offer = DeflateOffer::default();
    for (name, value) in params {
        if seen.contains(&name) {
            return Err(negotiation_error(format!("duplicate parameter {name}")));
        }
        seen.push(name);
        let no_value = |flag: &mut bool| match value {
            None => {
                *flag = true;
                Ok(())
            }
            Some(_) => Err(negotiation_error(format!("{name} takes no value"))),
        };
        match name {
            SERVER_NO_CONTEXT_TAKEOVER => no_value(&mut offer.server_no_context_takeover)?,
            CLIENT_NO_CONTEXT_TAKEOVER => no_value(&mut offer.client_no_context_takeover)?,
            SERVER_MAX_WINDOW_BITS => offer.server_max_window_bits = Some(parse_bits(name, value)?),
            CLIENT_MAX_WINDOW_BITS => {
                offer.client_max_window_bits =
                    Some(value.map(|v| parse_bits(name, Some(v))).transpose()?)
            }
            _ => return Err(negotiation_error(format!("unknown parameter {name}"))),
        }
    }
    Ok(offer)
}

impl DeflateOffer {
    /// Build an offer from `(parameter, value)` pairs; `None` is the egg's `#t`.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<DeflateOffer> {
        collect_params(pairs).map_err(|e| Error::invalid_argument(e.message().to_string()))
    }

    /// Parse `"server_max_window_bits=10; client_max_window_bits"` (an empty
    /// string is the bare offer).
    pub fn parse(text: &str) -> Result<DeflateOffer> {
        let pairs: Vec<(&str, Option<&str>)> = text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (p, None),
            })
            .collect();
        Self::from_pairs(pairs)
    }

    /// The offer as it goes into `Sec-WebSocket-Extensions`.
    pub fn header_value(&self) -> String {
        let mut s = EXTENSION.to_string();
        if self.server_no_context_takeover {
            s.push_str("; ");
            s.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if self.client_no_context_takeover {
            s.push_str("; ");
            s.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if let Some(bits) = self.server_max_window_bits {
            s.push_str(&format!("; {SERVER_MAX_WINDOW_BITS}={bits}"));
        }
        match self.client_max_window_bits {
            Some(Some(bits)) => s.push_str(&format!("; {CLIENT_MAX_WINDOW_BITS}={bits}")),
            Some(None) => s.push_str(&format!("; {CLIENT_MAX_WINDOW_BITS}")),
            None => {}
        }
        s
    }

    /// Does the server's `response` accept this offer (RFC 7692 §7.1)?
    fn accepts(&self, response: &DeflateOffer) -> Option<DeflateParams> {
        if response.client_max_window_bits.is_some() && self.client_max_window_bits.is_none() {
            return None;
        }
        if self.server_no_context_takeover && !response.server_no_context_takeover {
            return None;
        }
        let server_bits = response.server_max_window_bits.unwrap_or(15);
        if self
            .server_max_window_bits
            .is_some_and(|offered| server_bits > offered)
        {
            return None;
        }
        let client_bits = [
            response.client_max_window_bits.flatten(),
            self.client_max_window_bits.flatten(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(15);
        Some(DeflateParams {
            server_no_context_takeover: response.server_no_context_takeover,
            // RFC 7692 §7.1.1.2: having offered it, we do not use context
            // takeover whether or not the server echoes the parameter.
            client_no_context_takeover: response.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}

/// Split a header value on `sep`, outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Validate the server's `Sec-WebSocket-Extensions` values against our
/// offers. `Ok(None)`: no extension in use. Anything we did not offer, a
/// duplicate or an out-of-range value fails the connection.
pub fn negotiate(
    offers: &[DeflateOffer],
    response_values: &[&str],
) -> Result<Option<DeflateParams>> {
    let mut agreed = None;
    for value in response_values {
        for element in split_unquoted(value, ',') {
            let mut parts = split_unquoted(element, ';').into_iter().map(str::trim);
            let name = parts.next().unwrap_or("");
            if name.is_empty() {
                continue;
            }
            if !name.eq_ignore_ascii_case(EXTENSION) || offers.is_empty() {
                return Err(negotiation_error(format!(
                    "the server accepted extension {name:?}, which was not offered"
                )));
            }
            if agreed.is_some() {
                return Err(negotiation_error("permessage-deflate accepted twice"));
            }
            let mut pairs = Vec::new();
            for p in parts.filter(|p| !p.is_empty()) {
                pairs.push(match p.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                });
            }
            let response = collect_params(pairs)?;
            if response.client_max_window_bits == Some(None) {
                return Err(negotiation_error("client_max_window_bits without a value"));
            }
            let params = offers
                .iter()
                .find_map(|o| o.accepts(&response))
                .ok_or_else(|| {
                    negotiation_error(format!("the server's answer {element:?} matches no offer"))
                })?;
            agreed = Some(params);
        }
    }
    Ok(agreed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egg_example_header() {
        let offers = [
            DeflateOffer::parse("server_max_window_bits=10").unwrap(),
            DeflateOffer::parse("").unwrap(),
        ];
        let header: Vec<String> = offers.iter().map(DeflateOffer::header_value).collect();
        assert_eq!(
            header.join(", "),
            "permessage-deflate; server_max_window_bits=10, permessage-deflate"
        );
    }

    #[test]
    fn offers_are_validated() {
        assert!(DeflateOffer::parse("client_max_window_bits").is_ok());
        assert!(DeflateOffer::parse("server_max_window_bits").is_err());
        assert!(DeflateOffer::parse("server_max_window_bits=16").is_err());
        assert!(DeflateOffer::parse("foo=1").is_err());
        assert!(
            DeflateOffer::parse("server_no_context_takeover; server_no_context_takeover").is_err()
        );
    }

    #[test]
    fn accepted_parameters_both_ways() {
        let offer =
            DeflateOffer::parse("client_max_window_bits; client_no_context_takeover").unwrap();
        let p = negotiate(std::slice::from_ref(&offer), &["permessage-deflate; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"]).unwrap().unwrap();
        assert_eq!(
            p,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 9
            }
        );
        assert_eq!(negotiate(std::slice::from_ref(&offer), &[]).unwrap(), None);
        let quoted = negotiate(
            &[offer],
            &["permessage-deflate; client_max_window_bits=\"12\""],
        )
        .unwrap()
        .unwrap();
        assert_eq!(quoted.client_max_window_bits, 12);
    }

    #[test]
    fn offered_client_no_context_takeover_holds_without_the_echo() {
        // RFC 7692 §7.1.1.2: a client that offers client_no_context_takeover
        // does not use context takeover, whatever the server answers.
        let offer = DeflateOffer::parse("client_no_context_takeover").unwrap();
        let p = negotiate(&[offer], &["permessage-deflate"])
            .unwrap()
            .unwrap();
        assert!(p.client_no_context_takeover);
        assert!(!p.server_no_context_takeover);
        // Not offered, not echoed: context takeover stays on.
        let p = negotiate(&[DeflateOffer::default()], &["permessage-deflate"])
            .unwrap()
            .unwrap();
        assert!(!p.client_no_context_takeover);
    }

    #[test]
    fn bad_answers_fail_with_1010() {
        let bare = [DeflateOffer::default()];
        let bad = [
            "x-webkit-deflate-frame",
            "permessage-deflate; client_max_window_bits=10", // not offered
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown",
            "permessage-deflate, permessage-deflate",
        ];
        for answer in bad {
            let e = negotiate(&bare, &[answer]).unwrap_err();
            assert_eq!(e.close_code(), Some(1010), "{answer}");
        }
        assert!(negotiate(&[], &["permessage-deflate"]).is_err());
        // Offered a window limit the answer must respect.
        let limited = [DeflateOffer::parse("server_max_window_bits=10").unwrap()];
        assert!(negotiate(&limited, &["permessage-deflate; server_max_window_bits=12"]).is_err());
        assert!(negotiate(&limited, &["permessage-deflate"]).is_err());
        // ...but the fallback offer takes it.
        let fallback = [limited[0].clone(), DeflateOffer::default()];
        assert_eq!(
            negotiate(&fallback, &["permessage-deflate"])
                .unwrap()
                .unwrap()
                .server_max_window_bits,
            15
        );
    }
}
