//! Close codes: the ws-client egg's reason <-> code map and RFC 6455 §7.4 validity.

use std::ffi::CStr;

use crate::error::{Error, Result};
use crate::proto::utf8;

// The constants live in the bottom layer; re-exported here, where the
// rules about them are.
pub(crate) use crate::close_code::*;

/// (code, reason) pairs exactly as in the ws-client egg's table. C strings, so the C
/// ABI can hand them out without copies.
const REASONS: [(u16, &CStr); 12] = [
    (NORMAL_CLOSURE, c"normal-closure"),
    (GOING_AWAY, c"going-away"),
    (PROTOCOL_ERROR, c"protocol-error"),
    (UNSUPPORTED_DATA, c"unsupported-data"),
    (NO_STATUS_RCVD, c"no-status-rcvd"),
    (ABNORMAL_CLOSURE, c"abnormal-closure"),
    (INVALID_PAYLOAD, c"invalid-frame-payload-data"),
    (POLICY_VIOLATION, c"policy-violation"),
    (MESSAGE_TOO_BIG, c"message-too-big"),
    (MANDATORY_EXT, c"mandatory-ext"),
    (INTERNAL_ERROR, c"internal-server-error"),
    (TLS_HANDSHAKE, c"tls-handshake"),
];

pub fn code_to_reason_cstr(code: u16) -> Option<&'static CStr> {
    REASONS.iter().find(|&&(c, _)| c == code).map(|&(_, r)| r)
}

pub fn code_to_reason(code: u16) -> Option<&'static str> {
    code_to_reason_cstr(code).map(|r| r.to_str().expect("ASCII table"))
}

pub fn reason_to_code(reason: &str) -> Option<u16> {
    REASONS
        .iter()
        .find(|&&(_, r)| r.to_bytes() == reason.as_bytes())
        .map(|&(c, _)| c)
}

/// May this code appear in a close frame on the wire? 1004-1006 and 1015 are
/// reserved for local use; 1012-1014 are registered with IANA since RFC 6455.
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether a server that closed with `code` may be connected to again (a
/// reconnecting client backs off, then does): it is going away (1001) or
/// restarting (1012), asks to come back later (1013), failed on its side
/// (1011) or behind a gateway (1014), or the connection broke (1006). Not
/// for a normal close (1000) or a close without a code (1005), which end
/// the conversation, nor for a complaint about what we sent (1002, 1003,
/// 1007-1010: the same client would get it again) and application codes
/// (3000-4999), whose meaning only the application knows.
pub fn is_retryable(code: u16) -> bool {
    matches!(
        code,
        GOING_AWAY
            | ABNORMAL_CLOSURE
            | INTERNAL_ERROR
            | SERVICE_RESTART
            | TRY_AGAIN_LATER
            | BAD_GATEWAY
    )
}

/// A close frame's payload, parsed: the code (absent for an empty payload) and
/// the UTF-8 reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: Option<u16>,
    pub reason: String,
}

impl CloseFrame {
    /// Validate a received close payload (RFC 6455 §5.5.1, §7.4).
    pub fn parse(payload: &[u8]) -> Result<CloseFrame> {
        match payload.len() {
            0 => Ok(CloseFrame {
                code: None,
                reason: String::new(),
            }),
            1 => Err(Error::protocol("close frame with a 1-byte payload")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !is_sendable(code) {
                    return Err(Error::protocol(format!("invalid close code {code}")));
                }
                let reason = utf8::to_string(&payload[2..])
                    .ok_or_else(|| Error::invalid_payload("close reason is not valid UTF-8"))?;
                Ok(CloseFrame {
                    code: Some(code),
                    reason,
                })
            }
        }
    }

    /// The payload to put on the wire; a reason is cut to fit 125 bytes at a
    /// character boundary.
    pub fn payload(code: Option<u16>, reason: &str) -> Vec<u8> {
        let Some(code) = code else {
            return Vec::new();
        };
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = Vec::with_capacity(2 + end);
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(&reason.as_bytes()[..end]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_going_away_or_restarting_may_be_retried_a_policy_violation_not() {
        for code in [1001, 1006, 1011, 1012, 1013, 1014] {
            assert!(is_retryable(code), "{code}");
        }
        for code in [
            0, 1000, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1015, 3000, 4000, 4999,
        ] {
            assert!(!is_retryable(code), "{code}");
        }
    }

    #[test]
    fn egg_table_round_trips() {
        assert_eq!(reason_to_code("message-too-big"), Some(1009));
        assert_eq!(code_to_reason(1015), Some("tls-handshake"));
        assert_eq!(code_to_reason(1004), None);
        assert_eq!(reason_to_code("nonsense"), None);
        for &(c, r) in REASONS.iter() {
            assert_eq!(code_to_reason(c), r.to_str().ok());
        }
    }

    #[test]
    fn parse_validates_code_and_reason() {
        assert_eq!(CloseFrame::parse(&[]).unwrap().code, None);
        assert!(CloseFrame::parse(&[3]).is_err());
        let ok = CloseFrame::parse(&[0x03, 0xE8, b'h', b'i']).unwrap();
        assert_eq!((ok.code, ok.reason.as_str()), (Some(1000), "hi"));
        for bad in [
            0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let e = CloseFrame::parse(&bad.to_be_bytes()).unwrap_err();
            assert_eq!(e.close_code(), Some(PROTOCOL_ERROR), "code {bad}");
        }
        for good in [
            1000u16, 1003, 1007, 1011, 1012, 1014, 3000, 3999, 4000, 4999,
        ] {
            assert!(
                CloseFrame::parse(&good.to_be_bytes()).is_ok(),
                "code {good}"
            );
        }
        let e = CloseFrame::parse(&[0x03, 0xE8, 0xFF]).unwrap_err();
        assert_eq!(e.close_code(), Some(INVALID_PAYLOAD));
    }

    #[test]
    fn payload_truncates_at_char_boundary() {
        let reason = "é".repeat(100);
        let p = CloseFrame::payload(Some(1000), &reason);
        assert!(p.len() <= 125);
        assert!(std::str::from_utf8(&p[2..]).is_ok());
        assert!(CloseFrame::payload(None, "ignored").is_empty());
    }
}
