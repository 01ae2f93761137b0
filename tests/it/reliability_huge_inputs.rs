//! Inputs too large to commit, generated at run time and checked through the binary
//! (`masctl validate`) for time and peak memory: at and over the size limit, hundreds of
//! thousands of users, enormous scalars, nesting far past the limit and alias bombs.

use std::time::{Duration, Instant};

use crate::common::process::{tally, Masctl};

/// One generated input for the binary, and whether it must load.
struct Generated {
    name: &'static str,
    bytes: Vec<u8>,
    accepted: bool,
}

/// Builds the inputs too large to commit: at and over the size limit, millions of nodes,
/// enormous scalars and nesting far past the limit.
fn generated() -> Vec<Generated> {
    let mut users = String::from("version: 1\nusers:\n");
    for i in 0..200_000 {
        users.push_str(&format!("  u{i:07}: {{}}\n"));
    }
    let mut emails = String::from("version: 1\nusers:\n  alice:\n    emails:\n");
    for i in 0..50_000 {
        emails.push_str(&format!("      - not-an-address-{i}\n"));
    }
    let huge = |text: &str| format!("\"{}\"", text.repeat(24 * 1024 * 1024 / text.len()));
    vec![
        Generated {
            name: "many_users.yaml",
            bytes: users.into_bytes(),
            accepted: true,
        },
        Generated {
            name: "over_the_size_limit.yaml",
            bytes: format!("version: 1\n#{}\n", "x".repeat(33 * 1024 * 1024)).into_bytes(),
            accepted: false,
        },
        Generated {
            name: "fifty_thousand_problems.yaml",
            bytes: emails.into_bytes(),
            accepted: false,
        },
        Generated {
            name: "huge_display_name.yaml",
            bytes: format!(
                "version: 1\nusers:\n  alice:\n    display_name: {}\n",
                huge("Ab")
            )
            .into_bytes(),
            accepted: false,
        },
        Generated {
            name: "huge_username.yaml",
            bytes: format!("version: 1\nusers:\n  {}: {{}}\n", huge("a")).into_bytes(),
            accepted: false,
        },
        Generated {
            name: "huge_token.yaml",
            bytes: format!(
                "version: 1\nregistration_tokens:\n  - token: {}\n",
                huge("t")
            )
            .into_bytes(),
            accepted: false,
        },
        Generated {
            name: "million_brackets.yaml",
            bytes: format!("version: 1\nusers: {}\n", "[".repeat(1_000_000)).into_bytes(),
            accepted: false,
        },
        Generated {
            name: "deep_block_nesting.yaml",
            bytes: (0..3_000)
                .map(|depth| format!("{}k:\n", " ".repeat(depth)))
                .collect::<String>()
                .into_bytes(),
            accepted: false,
        },
        Generated {
            name: "alias_bomb_twenty_levels.yaml",
            bytes: alias_bomb(20).into_bytes(),
            accepted: false,
        },
    ]
}

/// A "billion laughs" document: each level holds ten aliases of the one before.
fn alias_bomb(levels: usize) -> String {
    let mut text =
        String::from("version: 1\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..levels {
        let previous = format!("*l{}", level - 1);
        text.push_str(&format!(
            "l{level}: &l{level} [{}]\n",
            vec![previous; 10].join(", ")
        ));
    }
    text.push_str(&format!("users: *l{}\n", levels - 1));
    text
}

/// Largest peak resident memory a `validate` run may use, whatever the input (the size limit
/// is 32 MiB; a debug build parses it with a few hundred MiB).
const MEMORY_LIMIT_KIB: u64 = 1024 * 1024;
/// Longest a `validate` run may take (debug build).
const BINARY_TIME_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn huge_and_explosive_inputs_stay_within_time_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = generated();
    let (mut accepted, mut rejected) = (0, 0);
    let mut report = Vec::new();
    for input in &inputs {
        std::fs::write(dir.path().join(input.name), &input.bytes).unwrap();
        let mut running = Masctl::new(dir.path(), &["validate", input.name]).spawn();
        let started = Instant::now();
        let mut peak_kib = 0;
        while !running.has_exited() {
            peak_kib = peak_kib.max(high_water_mark(running.pid()).unwrap_or(0));
            assert!(
                started.elapsed() < BINARY_TIME_LIMIT,
                "{} runs too long",
                input.name
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = started.elapsed();
        let output = running.wait(Duration::from_secs(1)).await;
        let stderr = output.flat_stderr();
        assert!(
            !stderr.contains("panicked"),
            "{}: {}",
            input.name,
            output.both()
        );
        if input.accepted {
            accepted += 1;
            assert_eq!(output.code, Some(0), "{}: {}", input.name, output.both());
        } else {
            rejected += 1;
            assert_eq!(output.code, Some(1), "{}: {}", input.name, output.both());
            assert!(
                stderr.contains(input.name),
                "{}: {}",
                input.name,
                output.both()
            );
        }
        assert!(
            peak_kib < MEMORY_LIMIT_KIB,
            "{} peaked at {peak_kib} KiB",
            input.name
        );
        report.push(format!(
            "{} {} MiB: {:.1?}, {} MiB",
            input.name,
            input.bytes.len() / (1024 * 1024),
            took,
            peak_kib / 1024
        ));
    }
    tally(&format!(
        "generated inputs: {}, rejected: {rejected}, accepted: {accepted}, panics: 0, \
         limits {} MiB peak memory and {BINARY_TIME_LIMIT:?}",
        inputs.len(),
        MEMORY_LIMIT_KIB / 1024
    ));
    for line in report {
        tally(&format!("  {line}"));
    }
}

/// Returns a process's peak resident memory (`VmHWM`) in KiB, while it runs.
fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
