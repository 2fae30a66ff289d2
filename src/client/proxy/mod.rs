//! Proxies: which one a connection goes through (the one set in the
//! options, or the environment's when the caller opts in), and the tunnel
//! through it: HTTP CONNECT or SOCKS5. TLS to the origin runs inside the
//! tunnel, so the proxy sees only the host and port of a wss:// connection.

mod env;
mod socks;
mod tunnel;

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use url::{Host, Url};

use crate::client::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::Target;

pub use env::{bypasses, from_env};
pub use socks::{Address, Next};
pub use tunnel::{connect_request, Tunnel};

/// How to ask the proxy for a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// `http://`: HTTP CONNECT, Basic authentication.
    Http,
    /// `socks5://`: SOCKS5, the origin's name resolved here.
    Socks5,
    /// `socks5h://`: SOCKS5, the proxy resolves the name.
    Socks5h,
}

/// A `scheme://[user:password@]host[:port]` proxy. The password is kept
/// out of `Debug` and error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    /// Host name or IP address (no brackets), as used to connect.
    pub host: String,
    pub port: u16,
    /// User and password (percent-decoded): Basic authentication for HTTP,
    /// RFC 1929 for SOCKS5.
    credentials: Option<(String, String)>,
}

fn proxy_error(message: impl Into<String>) -> Error {
    Error::exn(ErrorKind::InvalidArgument, message)
}

impl Proxy {
    /// Parse a proxy URL: `http://`, `socks5://` or `socks5h://`. Without a
    /// scheme, `http://` is assumed (as in `http_proxy=host:3128`); without
    /// a port, 80 for HTTP and 1080 for SOCKS5.
    pub fn parse(text: &str) -> Result<Proxy> {
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&with_scheme)
            .map_err(|e| proxy_error(format!("invalid proxy URL {:?}: {e}", redact(text))))?;
        let (kind, default_port) = match url.scheme() {
            "http" => (ProxyKind::Http, 80),
            "socks5" => (ProxyKind::Socks5, 1080),
            "socks5h" => (ProxyKind::Socks5h, 1080),
            other => {
                return Err(proxy_error(format!(
                    "unsupported proxy scheme {other:?}: use http://, socks5:// or socks5h://"
                )))
            }
        };
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_string(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            None => return Err(proxy_error("the proxy URL has no host")),
        };
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = percent_decode(url.username());
            let password = percent_decode(url.password().unwrap_or(""));
            if user.contains(':') {
                return Err(proxy_error("a proxy user name must not contain ':'"));
            }
            Some((user, password))
        };
        Ok(Proxy {
            kind,
            host,
            port: url.port().unwrap_or(default_port),
            credentials,
        })
    }

    /// The `Proxy-Authorization` value, if the URL had credentials.
    pub fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|(user, password)| {
            format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
        })
    }

    /// Whether the proxy resolves the origin's name (`socks5h://`; HTTP
    /// proxies always do).
    pub fn remote_dns(&self) -> bool {
        self.kind != ProxyKind::Socks5
    }

    /// `host:port` (IPv6 in brackets), for CONNECT lines and messages.
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = match &self.credentials {
            Some((user, _)) => format!("{user}:***@"),
            None => String::new(),
        };
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        };
        write!(f, "Proxy({scheme}://{user}{})", self.authority())
    }
}

/// `host:port`, with an IPv6 host in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The proxy `target` goes through: the one in the options if set, else
/// the environment's if the caller opted in, else none.
pub fn proxy_for(target: &Target, options: &Options) -> Result<Option<Proxy>> {
    if options.proxy.is_some() {
        return Ok(options.proxy.clone());
    }
    if options.use_env_proxy {
        return from_env(target, |name| std::env::var(name).ok());
    }
    Ok(None)
}

/// A proxy URL with its password replaced, for error messages (also when
/// the URL does not parse). The user-info ends at the last `@`: a password
/// may hold `/`, `?`, `#` or `@` (unencoded, which is why the URL may not
/// parse), and a proxy URL has no path worth keeping, so an `@` further on
/// can only hide more, never less.
fn redact(text: &str) -> String {
    let start = text.find("://").map_or(0, |i| i + 3);
    let rest = &text[start..];
    let Some(at) = rest.rfind('@') else {
        return text.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &text[..start], &rest[..colon], &rest[at..]),
        None => text.to_string(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_credentials() {
        let p = Proxy::parse("http://al%40ice:p%3Ass@proxy.example:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", 3128));
        // base64("al@ice:p:ss")
        assert_eq!(p.authorization().unwrap(), "Basic YWxAaWNlOnA6c3M=");
    }

    #[test]
    fn scheme_and_port_default_to_http_80() {
        let p = Proxy::parse("10.0.0.1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("10.0.0.1", 80));
        assert_eq!(p.authorization(), None);
        let p = Proxy::parse("[::1]:8080").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
        assert_eq!(p.authority(), "[::1]:8080");
    }

    #[test]
    fn user_without_password_still_authenticates() {
        let p = Proxy::parse("http://bob@h:1").unwrap();
        assert_eq!(
            p.authorization().unwrap(),
            format!("Basic {}", BASE64.encode("bob:"))
        );
    }

    #[test]
    fn other_schemes_are_refused_clearly() {
        for url in ["https://h:443", "socks4://h:1080", "ftp://h"] {
            let e = Proxy::parse(url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(
                e.message().contains("use http://, socks5:// or socks5h://"),
                "{e}"
            );
        }
    }

    #[test]
    fn socks5_schemes_default_to_port_1080() {
        let p = Proxy::parse("socks5://u:p@h").unwrap();
        assert_eq!(
            (p.kind, p.port, p.remote_dns()),
            (ProxyKind::Socks5, 1080, false)
        );
        let p = Proxy::parse("socks5h://h:9050").unwrap();
        assert_eq!(
            (p.kind, p.port, p.remote_dns()),
            (ProxyKind::Socks5h, 9050, true)
        );
        assert_eq!(format!("{p:?}"), "Proxy(socks5h://h:9050)");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        let p = Proxy::parse("http://u:secret@h:1").unwrap();
        assert!(!format!("{p:?}").contains("secret"));
        let e = Proxy::parse("http://u:secret@h:99999").unwrap_err();
        assert!(!e.message().contains("secret"), "{e}");
    }

    #[test]
    fn passwords_with_slashes_stay_out_of_messages() {
        // The user-info ends at the last '@', not at the first '/'.
        for (url, secret) in [
            ("http://u:se/cret@h:99999", "cret"),
            ("u:se/cr/et@h:99999", "cr/et"),
            ("socks5://u:p/w@r?d@h:99999", "w@r"),
        ] {
            let e = Proxy::parse(url).unwrap_err();
            assert!(!e.message().contains(secret), "{url}: {e}");
        }
        assert_eq!(redact("http://u:a/b@h:1"), "http://u:***@h:1");
        assert_eq!(redact("u:a@b/c@h:1/"), "u:***@h:1/");
        assert_eq!(redact("http://h:1/x"), "http://h:1/x");
        assert_eq!(redact("http://bob@h:1"), "http://bob@h:1");
    }
}
