//! Redirects: where a 3xx points, and what a hop to another origin may
//! carry (no credentials, as curl does it).

use url::Url;

use crate::client::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{HttpResponse, Request, Target};
use crate::transport::TlsOptions;

/// The request and options for a hop to `target` when the caller asked
/// for `first`: credentials only for the first origin (unless the caller
/// allows them elsewhere), and a TLS server name given for the first host
/// only there.
pub fn hop_settings(
    first: &Target,
    target: &Target,
    request: &Request,
    options: &Options,
) -> (Request, Options) {
    let (request, mut options) = if options.redirect_credentials || same_origin(first, target) {
        (request.clone(), options.clone())
    } else {
        without_credentials(request, options)
    };
    if options.tls.server_name.is_some() && !first.host.eq_ignore_ascii_case(&target.host) {
        options.tls = TlsOptions {
            server_name: None,
            ..options.tls.clone()
        };
    }
    (request, options)
}

/// Same scheme, host and port (RFC 6454): where credentials may go.
fn same_origin(a: &Target, b: &Target) -> bool {
    a.tls == b.tls && a.port == b.port && a.host.eq_ignore_ascii_case(&b.host)
}

/// Headers that carry credentials whatever the caller says.
const CREDENTIAL_HEADERS: [&str; 3] = ["Authorization", "Cookie", "Proxy-Authorization"];

/// The request and options for a redirect to another origin, as curl does
/// it: no `Authorization`, `Cookie` or header marked sensitive, and no
/// client certificate.
fn without_credentials(request: &Request, options: &Options) -> (Request, Options) {
    let secret = |name: &str| {
        CREDENTIAL_HEADERS
            .iter()
            .copied()
            .chain(options.sensitive_headers.iter().map(String::as_str))
            .any(|c| c.eq_ignore_ascii_case(name))
    };
    let mut request = request.clone();
    request.headers.retain(|(name, _)| !secret(name));
    let mut options = options.clone();
    options.tls.cert_file = None;
    options.tls.key_file = None;
    (request, options)
}

pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect points; never from wss to ws. An `http://` Location is
/// followed as `ws://` and `https://` as `wss://` (the same resource over
/// the same transport); any other scheme is refused.
pub fn redirect_target(from: &Target, response: &HttpResponse) -> Result<Target> {
    let location = response.header("Location").ok_or_else(|| {
        Error::exn(
            ErrorKind::Redirect,
            format!("HTTP {} without a Location", response.status),
        )
    })?;
    let mut url: Url = from.url.join(location).map_err(|e| {
        Error::exn(
            ErrorKind::Redirect,
            format!("bad Location {location:?}: {e}"),
        )
    })?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(Error::exn(
                ErrorKind::Redirect,
                format!("refusing to follow a redirect to a {other}: URI ({location})"),
            ))
        }
    };
    url.set_scheme(scheme)
        .map_err(|()| Error::exn(ErrorKind::Redirect, format!("bad Location {location:?}")))?;
    let next = Target::from_url(url)?;
    if from.tls && !next.tls {
        return Err(Error::exn(
            ErrorKind::Redirect,
            format!("refusing to follow a redirect from wss to {location}"),
        ));
    }
    Ok(next)
}
