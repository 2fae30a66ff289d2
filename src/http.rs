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
