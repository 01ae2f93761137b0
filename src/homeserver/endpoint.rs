//! `matrix.endpoint`: checking it, and escaping what is joined onto it.
//!
//! Kept apart from the transport so the URL rules (MAS's escaping, refusing credentials in the
//! URL, hiding them in errors) can be read and tested on their own.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;

use super::HomeserverError;

/// Everything but RFC 3986 "unreserved" characters is escaped, as MAS does for query values and
/// path segments (so `@alice:example.com` travels as `%40alice%3Aexample.com`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one query value or path segment.
pub(super) fn encode_component(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// Parses and checks `matrix.endpoint`.
pub(super) fn parse_endpoint(raw: &str) -> Result<Url, HomeserverError> {
    let invalid = |reason: String| HomeserverError::InvalidEndpoint {
        endpoint: redact_userinfo(raw),
        reason,
    };
    let url = Url::parse(raw).map_err(|error| invalid(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("it has no host".to_owned()));
    }
    // reqwest would turn URL credentials into a Basic header that competes with the bearer one.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it must not contain credentials (the shared secret is matrix.secret)".to_owned(),
        ));
    }
    Ok(url)
}

/// Hides `user:password@` in an endpoint that did not even parse.
fn redact_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = raw.get(authority_start..).unwrap_or_default();
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest
        .get(..authority_end)
        .and_then(|authority| authority.rfind('@'))
    {
        Some(at) => format!(
            "{}***{}",
            raw.get(..authority_start).unwrap_or_default(),
            rest.get(at..).unwrap_or_default()
        ),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_escaped_like_mas() {
        assert_eq!(
            encode_component("@alice:example.com"),
            "%40alice%3Aexample.com"
        );
        assert_eq!(encode_component("a b/c+d=e"), "a%20b%2Fc%2Bd%3De");
        assert_eq!(encode_component("x-y.z_w~"), "x-y.z_w~");
        assert_eq!(encode_component("é"), "%C3%A9");
    }

    #[test]
    fn userinfo_is_hidden_even_in_unparsable_endpoints() {
        assert_eq!(
            redact_userinfo("http://bob:pw@hs:99999/x"),
            "http://***@hs:99999/x"
        );
        assert_eq!(
            redact_userinfo("http://hs:99999/a@b"),
            "http://hs:99999/a@b"
        );
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }
}
