//! Errors of the homeserver client.
//!
//! Every message names the homeserver's endpoint (with any credentials in the URL removed) and
//! the operation (`GET _synapse/mas/query_user`), so an operator can tell which call failed and
//! where it went. The shared secret is never part of a message: it only ever travels in the
//! `Authorization` header, and text the homeserver sends back is scrubbed of it (see
//! `transport::scrub`).

use std::time::Duration;

/// An error talking to the homeserver (Synapse), or setting up the client for it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(code(masctl::homeserver))]
pub enum HomeserverError {
    /// `matrix.endpoint` cannot serve as the base URL requests are joined onto.
    #[error("matrix.endpoint {endpoint:?} is not a usable http(s) base URL: {reason}")]
    InvalidEndpoint {
        /// The configured endpoint, with any user or password removed.
        endpoint: String,
        /// Why it is unusable.
        reason: String,
    },

    /// `matrix.secret` cannot be sent as a bearer token.
    #[error("matrix.secret cannot be used as the homeserver's shared secret: {reason}")]
    InvalidSecret {
        /// Why (the secret itself is never shown).
        reason: &'static str,
    },

    /// The HTTP client could not be built (TLS backend initialisation failed).
    #[error("could not set up the HTTP client for homeserver {endpoint}: {reason}")]
    Client {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The underlying cause.
        reason: String,
    },

    /// No connection could be made, or it broke before an answer arrived.
    #[error("homeserver {endpoint} is unreachable ({operation}): {reason}")]
    Unreachable {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// The underlying cause (connection refused, DNS failure, TLS failure, …).
        reason: String,
    },

    /// The homeserver did not answer (connect and full answer) within the configured bound.
    #[error("homeserver {endpoint} did not answer within {} ({operation})", display_duration(*.timeout))]
    Timeout {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// The bound that was exceeded.
        timeout: Duration,
    },

    /// The homeserver refused the shared secret (HTTP 401 or 403).
    #[error(
        "homeserver {endpoint} rejected the shared secret (HTTP {status}, {operation}): \
         check matrix.secret in MAS's config"
    )]
    Unauthorized {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// 401 or 403.
        status: u16,
    },

    /// The homeserver does not know the API at all (`M_UNRECOGNIZED`): the Synapse version or
    /// its MAS integration does not match `matrix.kind`.
    #[error(
        "homeserver {endpoint} does not offer {operation} (HTTP {status} M_UNRECOGNIZED): {hint}"
    )]
    ApiMissing {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// The HTTP status (usually 404 or 400).
        status: u16,
        /// What to check, depending on `matrix.kind`.
        hint: &'static str,
    },

    /// Any other non-success answer.
    #[error("homeserver {endpoint} answered HTTP {status} ({operation}){}", describe(.errcode.as_deref(), .message.as_deref()))]
    UnexpectedStatus {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The Matrix `errcode` of the answer, if it had one.
        errcode: Option<String>,
        /// The Matrix `error` text of the answer (shortened), if it had one.
        message: Option<String>,
    },

    /// A success answer whose body is not what the API documents.
    #[error("homeserver {endpoint} sent an answer masctl cannot read ({operation}): {reason}")]
    InvalidResponse {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The request, as `METHOD path`.
        operation: String,
        /// What was wrong with it.
        reason: String,
    },

    /// A write was asked of a client configured with `matrix.kind: synapse_read_only`.
    #[error(
        "homeserver {endpoint} is configured read-only (matrix.kind: synapse_read_only); \
         refusing {operation}"
    )]
    ReadOnly {
        /// The homeserver's endpoint.
        endpoint: String,
        /// The write that was refused, as `METHOD path`.
        operation: String,
    },
}

/// Formats a timeout the way an operator wrote it: `10s`, `1.5s`, `300ms`.
fn display_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{}s", duration.as_secs())
    } else if duration.as_secs() > 0 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Renders the Matrix error of an answer as `: M_ERRCODE: text`, or nothing.
fn describe(errcode: Option<&str>, message: Option<&str>) -> String {
    match (errcode, message) {
        (Some(errcode), Some(message)) => format!(": {errcode}: {message}"),
        (Some(text), None) | (None, Some(text)) => format!(": {text}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_configuration() {
        assert_eq!(display_duration(Duration::from_secs(10)), "10s");
        assert_eq!(display_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(display_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(display_duration(Duration::ZERO), "0ms");
    }
}
