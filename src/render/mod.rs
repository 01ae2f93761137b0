//! Renders plans for people (`human`), machines (`json`) and merge requests (`markdown`).
//!
//! Renderers are pure functions from a [`crate::plan::Plan`] (and the snapshot it was computed
//! from, for the "before" side of diffs) to a `String`. They never print and never see a secret.

pub mod emergency;
pub mod human;
pub mod json;
pub mod markdown;
mod view;

pub use view::{object_diffs, ObjectDiff, ObjectKind};
