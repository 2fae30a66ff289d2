//! An HTTP answer as plain data: the bottom layer, with no imports, so that
//! [`crate::error`] can carry one (a proxy's refusal) and the handshake can
//! return one (a non-101 answer) without either depending on the other.

/// A non-101 answer, handed to the caller instead of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        header_values(&self.headers, name).next()
    }

    /// Whether asking again may get another answer: see
    /// [`is_retryable_status`].
    pub fn is_retryable(&self) -> bool {
        is_retryable_status(self.status)
    }
}

/// Whether an HTTP answer with `status` to the opening handshake (or a
/// proxy's to CONNECT) may be followed by another attempt: 500, 502, 503
/// and 504, a server's or a gateway's failure that may pass, as Python
/// `websockets` (and this library's bindings) retry. Not the other 5xx,
/// which say the server cannot do it (501, 505), and not a 4xx: the
/// request itself is refused (403, 404, 401 and 407 without new
/// credentials) and asking again gets the same answer; 429 Too Many
/// Requests included, whose `Retry-After` says when (a caller that honours
/// it retries then).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Every value of header `name` (case-insensitive), in order.
pub(crate) fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_may_be_retried_a_4xx_not() {
        for status in [500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [
            0, 101, 200, 301, 400, 401, 403, 404, 407, 429, 499, 501, 505, 599,
        ] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first() {
        let r = HttpResponse {
            status: 407,
            reason: "Proxy Authentication Required".into(),
            headers: vec![
                ("Proxy-Authenticate".into(), "Basic".into()),
                ("proxy-authenticate".into(), "Digest".into()),
            ],
            body: Vec::new(),
        };
        assert_eq!(r.header("PROXY-AUTHENTICATE"), Some("Basic"));
        assert_eq!(r.header("Via"), None);
    }
}
