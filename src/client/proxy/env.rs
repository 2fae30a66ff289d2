//! Proxies from the environment, as curl reads them: `http_proxy` for
//! ws://, `https_proxy` for wss://, `all_proxy` for both, lower case before
//! upper case, and `no_proxy` for the hosts to reach directly. Used only
//! when the caller opts in.
//!
//! `HTTP_PROXY` in upper case is never read (curl ignores it too): under
//! CGI the environment carries the request's headers as `HTTP_*`, so a
//! client's `Proxy:` header would become `$HTTP_PROXY` ("httpoxy").

use std::net::IpAddr;

use crate::error::Result;
use crate::handshake::Target;

use super::Proxy;

/// The first non-empty variable of `names`, with its name.
fn first_set(names: &[&str], var: &impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
    names.iter().find_map(|name| {
        var(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (name.to_string(), v))
    })
}

/// The proxy the environment (read through `var`) names for `target`, or
/// `None` when none is set or `no_proxy` lists the target.
pub fn from_env(target: &Target, var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxy>> {
    let scheme_vars: &[&str] = if target.tls {
        &["https_proxy", "HTTPS_PROXY"]
    } else {
        // Lower case only: see the module documentation (httpoxy).
        &["http_proxy"]
    };
    let Some((name, value)) =
        first_set(scheme_vars, &var).or_else(|| first_set(&["all_proxy", "ALL_PROXY"], &var))
    else {
        return Ok(None);
    };
    if let Some((_, list)) = first_set(&["no_proxy", "NO_PROXY"], &var) {
        if bypasses(&list, &target.host, target.port) {
            return Ok(None);
        }
    }
    Proxy::parse(&value)
        .map(Some)
        .map_err(|e| e.context(&format!("${name}")))
}

/// Whether the `no_proxy` list (comma or space separated) covers `host`
/// and `port`. Entries: `*` (everything); a domain, which also covers its
/// subdomains (`example.com`, `.example.com`, `*.example.com`); an IP
/// address or CIDR block (`10.0.0.0/8`, `::1`); each optionally with
/// `:port` (IPv6 in brackets then: `[::1]:8080`).
pub fn bypasses(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    list.split([',', ' ', '\t'])
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let (pattern, entry_port) = split_port(entry);
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            matches(&pattern.to_ascii_lowercase(), &host, ip)
        })
}

/// `name:port` / `[v6]:port` / `v6` / `name` into the pattern and its port.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((addr, after)) = rest.split_once(']') {
            return (addr, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match entry.rsplit_once(':') {
        // A bare IPv6 address (several colons) has no port.
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(p) => (name, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn matches(pattern: &str, host: &str, ip: Option<IpAddr>) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(ip) = ip {
        return match pattern.split_once('/') {
            Some((net, bits)) => in_cidr(ip, net, bits),
            None => pattern.parse::<IpAddr>().is_ok_and(|p| p == ip),
        };
    }
    let domain = pattern
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.')))
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    // A /0 block covers everything; shifting by the full width would overflow.
    shift >= 128 || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn proxy_port(uri: &str, pairs: &[(&str, &str)]) -> Option<u16> {
        let target = Target::parse(uri).unwrap();
        from_env(&target, env(pairs)).unwrap().map(|p| p.port)
    }

    #[test]
    fn scheme_variable_then_all_proxy_lower_case_first() {
        let vars = [
            ("http_proxy", "h:1"),
            ("HTTP_PROXY", "h:2"),
            ("HTTPS_PROXY", "h:3"),
            ("all_proxy", "h:4"),
        ];
        assert_eq!(proxy_port("ws://example.com/", &vars), Some(1));
        assert_eq!(proxy_port("wss://example.com/", &vars), Some(3));
        assert_eq!(proxy_port("wss://example.com/", &vars[..2]), None);
        assert_eq!(proxy_port("ws://x/", &[("ALL_PROXY", "h:5")]), Some(5));
        assert_eq!(
            proxy_port("ws://x/", &[("http_proxy", " "), ("all_proxy", "h:6")]),
            Some(6)
        );
        assert_eq!(proxy_port("ws://x/", &[]), None);
    }

    #[test]
    fn upper_case_http_proxy_is_never_read() {
        // httpoxy: under CGI a request's `Proxy:` header arrives as
        // $HTTP_PROXY. curl reads http_proxy in lower case only; so do we.
        let cgi = [("HTTP_PROXY", "h:2"), ("REQUEST_METHOD", "GET")];
        assert_eq!(proxy_port("ws://example.com/", &cgi), None);
        assert_eq!(proxy_port("ws://example.com/", &cgi[..1]), None);
        // all_proxy still applies, and so does the upper-case https one.
        let vars = [("HTTP_PROXY", "h:2"), ("ALL_PROXY", "h:5")];
        assert_eq!(proxy_port("ws://example.com/", &vars), Some(5));
        assert_eq!(proxy_port("wss://x/", &[("HTTPS_PROXY", "h:3")]), Some(3));
    }

    #[test]
    fn no_proxy_skips_listed_hosts() {
        let vars = [
            ("http_proxy", "h:1"),
            ("NO_PROXY", "localhost, .internal,10.0.0.0/8"),
        ];
        assert_eq!(proxy_port("ws://localhost:9/", &vars), None);
        assert_eq!(proxy_port("ws://a.b.internal/", &vars), None);
        assert_eq!(proxy_port("ws://10.1.2.3/", &vars), None);
        assert_eq!(proxy_port("ws://11.1.2.3/", &vars), Some(1));
        assert_eq!(proxy_port("ws://notinternal/", &vars), Some(1));
    }

    #[test]
    fn a_bad_proxy_variable_names_itself() {
        let target = Target::parse("wss://x/").unwrap();
        let e = from_env(&target, env(&[("https_proxy", "ftp://h")])).unwrap_err();
        assert!(e.message().starts_with("$https_proxy: "), "{e}");
    }

    #[test]
    fn no_proxy_entries() {
        let cases: &[(&str, &str, u16, bool)] = &[
            ("*", "anything", 1, true),
            ("example.com", "example.com", 80, true),
            ("example.com", "www.Example.COM.", 80, true),
            ("example.com", "badexample.com", 80, false),
            (".example.com", "example.com", 80, true),
            ("*.example.com", "a.example.com", 80, true),
            ("example.com:8080", "example.com", 8080, true),
            ("example.com:8080", "example.com", 80, false),
            ("127.0.0.1", "127.0.0.1", 1, true),
            ("127.0.0.1", "127.0.0.2", 1, false),
            ("127.0.0.0/8", "127.9.9.9", 1, true),
            ("0.0.0.0/0", "8.8.8.8", 1, true),
            ("::1", "::1", 1, true),
            ("[::1]:7", "::1", 7, true),
            ("[::1]:7", "::1", 8, false),
            ("fd00::/8", "fd12::1", 1, true),
            ("fd00::/8", "fe80::1", 1, false),
            ("10.0.0.0/8", "example.com", 1, false),
            ("", "example.com", 1, false),
            (".", "example.com", 1, false),
        ];
        for &(list, host, port, want) in cases {
            assert_eq!(
                bypasses(list, host, port),
                want,
                "{list:?} vs {host}:{port}"
            );
        }
    }
}
