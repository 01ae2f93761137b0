//! masctl keeps the users of a Matrix Authentication Service (MAS) deployment in Git.
//!
//! A YAML manifest says which users and registration tokens should exist; masctl diffs it
//! against MAS's own PostgreSQL database and applies the difference in one transaction.
//!
//! ```text
//! manifest::load ─► DesiredState ─┐
//!                                 ├─► plan::plan ─► Plan ─┬─► render::{human, json, markdown}
//! snapshot::read ─► ActualState ──┘                       └─► apply::apply (one transaction)
//! ```
//!
//! Dependencies point one way: `cli` → {`manifest`, `snapshot`, `plan`, `render`, `apply`} →
//! `model`. The planner and the renderers never touch the database, the clock or the CLI.

pub mod apply;
pub mod cli;
pub mod config;
pub mod db;
pub mod env;
pub mod exit;
pub mod export;
pub mod homeserver;
pub mod ids;
pub mod ledger;
pub mod manifest;
pub mod model;
pub mod password;
pub mod pipeline;
pub mod plan;
pub mod private_file;
pub mod render;
pub mod saved_plan;
pub mod snapshot;
pub mod store;
pub mod tokens;
