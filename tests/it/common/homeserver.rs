//! A tiny scripted HTTP/1.1 homeserver on 127.0.0.1 for tests that run the masctl binary.
//!
//! It is the homeserver client's own test server (`src/homeserver/tests/server.rs`, included by
//! path so that there is one), with what these tests add: the shared secret they configure,
//! a check that a request carries it, and the `matrix.endpoint` to write into MAS's config.

#[allow(
    dead_code,
    reason = "the client's unit tests use parts of the server these tests do not"
)]
#[path = "../../../src/homeserver/tests/server.rs"]
mod server;

pub(crate) use server::{Reply, Request, TestServer as TestHomeserver};

/// The shared secret tests put in MAS's `matrix` section.
pub(crate) const SECRET: &str = "test-shared-secret";

impl Request {
    /// Asserts the request carries the shared secret as a bearer token.
    pub(crate) fn assert_authorized(&self) {
        assert_eq!(
            self.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str()),
            "{self:#?}"
        );
    }
}

impl Reply {
    /// `200` with an empty JSON object.
    pub(crate) fn ok() -> Self {
        Self::json(200, &serde_json::json!({}))
    }
}

impl TestHomeserver {
    /// Returns `http://127.0.0.1:<port>/`, the `matrix.endpoint` to configure.
    pub(crate) fn endpoint(&self) -> String {
        self.url("/")
    }
}
