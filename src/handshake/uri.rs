//! ws:// and wss:// URIs (RFC 6455 §3).

use url::{Host, Url};

use crate::error::{Error, ErrorKind, Result};

/// Where to connect and what to ask for, from a WebSocket URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub url: Url,
    pub tls: bool,
    /// Host name or IP address as used for DNS, SNI and verification (no brackets).
    pub host: String,
    pub port: u16,
}

fn uri_error(message: impl Into<String>) -> Error {
    Error::exn(ErrorKind::Uri, message)
}

impl Target {
    pub fn parse(uri: &str) -> Result<Target> {
        let url = Url::parse(uri).map_err(|e| uri_error(format!("invalid URI {uri:?}: {e}")))?;
        Self::from_url(url)
    }

    pub fn from_url(url: Url) -> Result<Target> {
        let tls = match url.scheme() {
            "ws" => false,
            "wss" => true,
            other => {
                return Err(uri_error(format!(
                    "unsupported scheme {other:?}: use ws:// or wss://"
                )))
            }
        };
        if url.fragment().is_some() {
            return Err(uri_error("a WebSocket URI must not have a fragment"));
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_string(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            None => return Err(uri_error("the URI has no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| uri_error("the URI has no port"))?;
        Ok(Target {
            url,
            tls,
            host,
            port,
        })
    }

    fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    /// The `Host` header: the host (IPv6 in brackets) and the port when it
    /// is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = self.url.host_str().unwrap_or(&self.host);
        if self.port == self.default_port() {
            host.to_string()
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The origin-form request-target: path and query (RFC 6455 §4.1).
    pub fn resource_name(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_string(),
        }
    }

    /// The absolute-form request-target, as the ws-client egg 1.0 sent by default.
    pub fn absolute_form(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.host_header(), self.resource_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ports_paths_and_ipv6() {
        let t = Target::parse("ws://example.com").unwrap();
        assert_eq!(
            (t.port, t.resource_name(), t.host_header()),
            (80, "/".into(), "example.com".into())
        );
        let t = Target::parse("wss://example.com:8443/chat?room=1").unwrap();
        assert_eq!((t.tls, t.port), (true, 8443));
        assert_eq!(t.resource_name(), "/chat?room=1");
        assert_eq!(t.host_header(), "example.com:8443");
        assert_eq!(t.absolute_form(), "wss://example.com:8443/chat?room=1");
        let t = Target::parse("ws://[::1]:9001/x").unwrap();
        assert_eq!(
            (t.host.as_str(), t.host_header().as_str()),
            ("::1", "[::1]:9001")
        );
        assert_eq!(Target::parse("wss://h:443/").unwrap().host_header(), "h");
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        for bad in [
            "http://example.com",
            "ftp://x",
            "not a uri",
            "ws://",
            "ws://h/#frag",
            "",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Uri, "{bad}");
        }
    }
}
