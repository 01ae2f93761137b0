//! The GitOps workflow end to end, through the `masctl` binary against real PostgreSQL: saved
//! plans, export, pruning with guards, and emergency changes that survive the next pipeline.

mod ci_examples;
mod emergency;
mod export;
mod prune;
mod saved_plans;
mod support;
