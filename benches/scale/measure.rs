//! Timing a command and reading its peak memory.
//!
//! The kernel reports a process's peak resident set only to whoever waits for it, and only as
//! the maximum over all of that waiter's children. So every measured command runs under a
//! fresh copy of this benchmark (re-executed with [`WATCHER_ENV`] set) whose only child is the
//! command: its `RUSAGE_CHILDREN` peak is exactly the command's. The watcher also takes the wall
//! time from spawn to exit, so the watcher's own start-up is not counted.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

/// Set (to a report file's path) when this process is a watcher, not the benchmark.
pub(crate) const WATCHER_ENV: &str = "MASCTL_BENCH_WATCH_REPORT";

/// What one run of a command cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Wall time from spawn to exit.
    pub(crate) elapsed: Duration,
    /// Peak resident set size, in bytes.
    pub(crate) peak_rss: u64,
    /// The exit code (`-1` when killed by a signal).
    pub(crate) code: i32,
}

/// The watcher's side: runs `args` (program first), writes `elapsed_ns peak_kib code` to the
/// report file and exits with the command's code.
pub(crate) fn watch(report: &Path, args: &[OsString]) -> ExitCode {
    let Some((program, rest)) = args.split_first() else {
        return ExitCode::from(2);
    };
    let start = Instant::now();
    let status = Command::new(program).args(rest).status();
    let elapsed = start.elapsed();
    let Ok(status) = status else {
        return ExitCode::from(2);
    };
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |usage| usage.max_rss());
    let code = status.code().unwrap_or(-1);
    let line = format!("{} {peak_kib} {code}\n", elapsed.as_nanos());
    if std::fs::write(report, line).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// Runs `program args…` under a watcher and returns what it cost, with its stdout (unless
/// `discard_stdout`: bulk output then goes straight to `/dev/null`) and stderr.
pub(crate) fn run(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    discard_stdout: bool,
) -> Result<(Run, String), String> {
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let report = dir.path().join("report");
    let this = std::env::current_exe().map_err(|error| error.to_string())?;
    let output = Command::new(this)
        .arg(program)
        .args(args)
        .env(WATCHER_ENV, &report)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(if discard_stdout {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
    let text = std::fs::read_to_string(&report).map_err(|_| {
        format!(
            "the watcher of {} reported nothing: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let mut fields = text.split_whitespace().map(str::parse::<i128>);
    let mut next = || fields.next().and_then(Result::ok).unwrap_or(-1);
    let (nanos, peak_kib, code) = (next(), next(), next());
    let run = Run {
        elapsed: Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)),
        peak_rss: u64::try_from(peak_kib).unwrap_or(0) * 1024,
        code: i32::try_from(code).unwrap_or(-1),
    };
    let mut transcript = String::from_utf8_lossy(&output.stdout).into_owned();
    transcript.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((run, transcript))
}
