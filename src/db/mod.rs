//! Everything that concerns MAS's PostgreSQL database as a whole: connecting, checking that
//! its schema is one masctl understands, and the schema fixture used to build test and demo
//! databases.
//!
//! Reading users (snapshot) and writing changes (apply) live in their own modules; this one
//! never reads or writes MAS rows itself.

pub mod connect;
pub mod fixture;
pub mod guard;

pub use connect::{connect, options_from_url, redacted_url, DbError};
pub use guard::{check_schema, SchemaError, SchemaVersion};
