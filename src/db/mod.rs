//! Everything that talks to MAS's PostgreSQL database as a whole: the schema fixture used to
//! build test and demo databases.
//!
//! Reading users (snapshot) and writing changes (apply) live in their own modules; this one
//! owns only database-level concerns and never reads or writes MAS rows itself.

pub mod fixture;
