//! HTTP plumbing shared by both homeserver APIs: URL joining, the bearer header, bounded
//! timeouts and body sizes, and turning failures into [`HomeserverError`]s.
//!
//! This module knows nothing about what an answer means for a given operation; `modern` and
//! `legacy` decide that. It must never put the shared secret anywhere but the `Authorization`
//! header.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::endpoint::{encode_component, parse_endpoint};
use super::HomeserverError;
use crate::model::Secret;

/// Synapse's answers are a few hundred bytes; anything past this is not a homeserver talking.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How much of the homeserver's own error text goes into an error message.
const MAX_MESSAGE_CHARS: usize = 200;

/// One request, named the way errors show it: `GET _synapse/mas/query_user`.
#[derive(Debug, Clone)]
pub(super) struct Operation {
    method: Method,
    /// Relative to the endpoint, already percent-encoded, without the query string.
    path: String,
}

impl Operation {
    pub(super) fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
        }
    }

    pub(super) fn post(path: impl Into<String>) -> Self {
        Self {
            method: Method::POST,
            path: path.into(),
        }
    }

    pub(super) fn put(path: impl Into<String>) -> Self {
        Self {
            method: Method::PUT,
            path: path.into(),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A complete answer: status and (size-bounded) body.
#[derive(Debug)]
pub(super) struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

/// The standard Matrix error body, `{"errcode": "M_…", "error": "…"}`.
#[derive(Debug, Default, Deserialize)]
struct MatrixErrorBody {
    errcode: Option<String>,
    error: Option<String>,
}

impl Answer {
    pub(super) fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Returns the Matrix `errcode` of a JSON error body, if there is one.
    pub(super) fn errcode(&self) -> Option<String> {
        self.matrix_error().errcode
    }

    fn matrix_error(&self) -> MatrixErrorBody {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// The configured connection to one homeserver endpoint.
#[derive(Debug, Clone)]
pub(super) struct Transport {
    http: reqwest::Client,
    base: Url,
    /// `base` as shown in errors (credentials are refused, so this is the URL itself).
    endpoint: String,
    /// `Bearer <secret>`, marked sensitive so that `Debug` prints `Sensitive`.
    authorization: HeaderValue,
    /// Kept to scrub the secret from text the homeserver sends back.
    secret: Secret,
    timeout: Duration,
    /// What `ApiMissing` tells the operator to check; depends on `matrix.kind`.
    api_hint: &'static str,
}

impl Transport {
    pub(super) fn new(
        endpoint: &str,
        secret: Secret,
        timeout: Duration,
        api_hint: &'static str,
    ) -> Result<Self, HomeserverError> {
        let base = parse_endpoint(endpoint)?;
        let endpoint = base.as_str().to_owned();
        if secret.expose().is_empty() {
            return Err(HomeserverError::InvalidSecret {
                reason: "it is empty",
            });
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
            .map_err(|_| HomeserverError::InvalidSecret {
                reason: "it contains characters an HTTP header cannot carry",
            })?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            // A redirect would be a misconfigured endpoint; following it would resend the
            // secret to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("masctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| HomeserverError::Client {
                endpoint: endpoint.clone(),
                reason: error_chain(&error),
            })?;
        Ok(Self {
            http,
            base,
            endpoint,
            authorization,
            secret,
            timeout,
            api_hint,
        })
    }

    /// Returns the endpoint as errors show it.
    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request and reads the whole answer, whatever its status.
    pub(super) async fn send(
        &self,
        operation: &Operation,
        query: Option<(&str, &str)>,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, HomeserverError> {
        let url = self.url(operation, query)?;
        let mut request = self
            .http
            .request(operation.method.clone(), url)
            .header(AUTHORIZATION, self.authorization.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request
            .send()
            .await
            .map_err(|error| self.request_error(operation, &error))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.request_error(operation, &error))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(self.invalid(operation, "the answer is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// Joins the operation's path onto the endpoint (URL semantics: without a trailing `/`,
    /// the endpoint's last path segment is replaced, exactly as MAS does).
    fn url(
        &self,
        operation: &Operation,
        query: Option<(&str, &str)>,
    ) -> Result<Url, HomeserverError> {
        let mut url =
            self.base
                .join(&operation.path)
                .map_err(|error| HomeserverError::InvalidEndpoint {
                    endpoint: self.endpoint.clone(),
                    reason: format!("cannot join {}: {error}", operation.path),
                })?;
        if let Some((name, value)) = query {
            url.set_query(Some(&format!("{name}={}", encode_component(value))));
        }
        Ok(url)
    }

    /// Parses a success answer's JSON body.
    pub(super) fn json<T: DeserializeOwned>(
        &self,
        operation: &Operation,
        answer: &Answer,
    ) -> Result<T, HomeserverError> {
        serde_json::from_slice(&answer.body)
            .map_err(|error| self.invalid(operation, &format!("unexpected JSON: {error}")))
    }

    /// Turns a non-success answer into the error an operator can act on.
    pub(super) fn failure(&self, operation: &Operation, answer: &Answer) -> HomeserverError {
        let endpoint = self.endpoint.clone();
        let operation = operation.to_string();
        let status = answer.status.as_u16();
        let MatrixErrorBody { errcode, error } = answer.matrix_error();
        if matches!(
            answer.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return HomeserverError::Unauthorized {
                endpoint,
                operation,
                status,
            };
        }
        if errcode.as_deref() == Some("M_UNRECOGNIZED") {
            return HomeserverError::ApiMissing {
                endpoint,
                operation,
                status,
                hint: self.api_hint,
            };
        }
        HomeserverError::UnexpectedStatus {
            endpoint,
            operation,
            status,
            errcode: errcode.map(|errcode| self.scrub(&shorten(&errcode))),
            message: error.map(|message| self.scrub(&shorten(&message))),
        }
    }

    /// The error for a write refused by the read-only kind.
    pub(super) fn read_only(&self, operation: &Operation) -> HomeserverError {
        HomeserverError::ReadOnly {
            endpoint: self.endpoint.clone(),
            operation: operation.to_string(),
        }
    }

    fn invalid(&self, operation: &Operation, reason: &str) -> HomeserverError {
        HomeserverError::InvalidResponse {
            endpoint: self.endpoint.clone(),
            operation: operation.to_string(),
            reason: self.scrub(reason),
        }
    }

    fn request_error(&self, operation: &Operation, error: &reqwest::Error) -> HomeserverError {
        let endpoint = self.endpoint.clone();
        let operation = operation.to_string();
        if error.is_timeout() {
            return HomeserverError::Timeout {
                endpoint,
                operation,
                timeout: self.timeout,
            };
        }
        HomeserverError::Unreachable {
            endpoint,
            operation,
            reason: self.scrub(&error_chain(error)),
        }
    }

    /// Removes the secret from text that came from elsewhere (a homeserver echoing headers back,
    /// a proxy's error page): it must not reach a terminal or a CI log.
    fn scrub(&self, text: &str) -> String {
        scrub(text, self.secret.expose())
    }
}

/// Replaces every occurrence of `secret` in `text` (an empty secret matches nothing).
pub(super) fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "<redacted>")
    }
}

/// Keeps the first characters of a homeserver-provided text.
fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
        short.push('…');
        short
    }
}

/// Renders an error with its causes (`client error (Connect): tcp connect error: …`), leaving
/// out reqwest's own top line, which repeats the URL.
fn error_chain(error: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_removes_the_secret_and_ignores_an_empty_one() {
        assert_eq!(scrub("Bearer s3cr3t!", "s3cr3t"), "Bearer <redacted>!");
        assert_eq!(scrub("text", ""), "text");
    }

    #[test]
    fn long_messages_are_shortened_on_a_character_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 5);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(short.ends_with('…'));
    }
}
