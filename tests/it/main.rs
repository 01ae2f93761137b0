//! The single integration-test binary (one link step for every integration test).
//!
//! Every `tests/it/*.rs` file must be listed here; `every_test_file_is_a_module` fails otherwise,
//! so a forgotten file cannot silently stop running.

#![allow(
    clippy::unwrap_used,
    reason = "a failing unwrap is how a test helper fails"
)]

mod apply;
mod cli;
mod common;
mod config;
mod db_guard;
mod fixture;
mod gitops;
mod manage;
mod manage_concurrency;
mod manage_credentials;
mod manage_register;
mod manage_tokens;
mod manage_users;
mod reliability_concurrency;
mod reliability_faults;
mod reliability_fuzz;
mod reliability_hostile;
mod reliability_huge_inputs;
mod reliability_manage_lock;
mod reliability_redaction;
mod reliability_secrets;
mod reliability_surprises;
mod reliability_termination;
mod snapshot;
mod store;
mod store_jobs;
mod store_links_tokens;
mod synapse;

#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("reading main.rs");
    for entry in std::fs::read_dir(&dir).expect("listing tests/it") {
        let path = entry.expect("reading tests/it").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem == "main" || path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        assert!(
            main.contains(&format!("\nmod {stem};")),
            "tests/it/{stem}.rs is not listed in main.rs"
        );
    }
}
