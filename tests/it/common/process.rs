//! Running the real `masctl` binary from tests: a clean environment, output captured in files
//! (a large plan would fill a pipe and block the child), async waiting and SIGKILL.
//!
//! Also [`tally`], which prints a result line that `cargo test` shows even for passing tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TestDb;

/// Prints `line` to the real stderr, bypassing libtest's output capture, so that the
/// reliability tallies appear in every CI log, passing or not.
pub(crate) fn tally(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "tally: {line}");
}

/// What a finished run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    /// The exit code; `None` when a signal ended the process.
    pub(crate) code: Option<i32>,
    /// Everything written to stdout.
    pub(crate) stdout: String,
    /// Everything written to stderr.
    pub(crate) stderr: String,
}

impl Output {
    /// Returns stderr as one line: miette's box drawing removed and all whitespace collapsed,
    /// so that assertions do not depend on where the terminal width wrapped a message.
    pub(crate) fn flat_stderr(&self) -> String {
        flatten(&self.stderr)
    }

    /// Returns stdout and stderr together, for assertion messages.
    pub(crate) fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A `masctl` command to run in `dir`, with an environment that holds nothing from the
/// developer's shell that masctl reads (`DATABASE_URL`, `MAS_*`, colours).
pub(crate) struct Masctl {
    command: Command,
    dir: PathBuf,
    label: String,
}

impl Masctl {
    /// Starts building `masctl ARGS…` run in `dir`; `dir` also receives the output files.
    pub(crate) fn new(dir: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_masctl"));
        command.args(args).current_dir(dir).env("NO_COLOR", "1");
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name == "DATABASE_URL" || name.starts_with("MAS_") || name.starts_with("CLICOLOR") {
                command.env_remove(&name);
            }
        }
        Self {
            command,
            dir: dir.to_owned(),
            label: format!("run-{}", rand::random::<u32>()),
        }
    }

    /// Points masctl at `db`.
    pub(crate) fn db(mut self, db: &TestDb) -> Self {
        self.command.arg("--database-url").arg(db.url());
        self
    }

    /// Sets an environment variable for the child.
    pub(crate) fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    /// Spawns the process, its stdout and stderr going to files in the working directory.
    pub(crate) fn spawn(mut self) -> Running {
        let stdout = self.dir.join(format!("{}.stdout", self.label));
        let stderr = self.dir.join(format!("{}.stderr", self.label));
        let child = self
            .command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawning masctl");
        Running {
            child,
            stdout,
            stderr,
            started: Instant::now(),
        }
    }

    /// Runs the process to completion (at most two minutes).
    pub(crate) async fn run(self) -> Output {
        self.spawn().wait(Duration::from_secs(120)).await
    }
}

/// A masctl process that was started.
pub(crate) struct Running {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
}

impl Running {
    /// Returns the child's process id (what masctl puts in its `application_name`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the `application_name` masctl uses for `command` in this process.
    pub(crate) fn application_name(&self, command: &str) -> String {
        format!("masctl {command} (pid {})", self.pid())
    }

    /// Returns how long ago the process was started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Returns whether the process has exited.
    pub(crate) fn has_exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Sends SIGKILL (the process gets no chance to clean up) and reaps it.
    pub(crate) fn kill(mut self) -> Output {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.output(status)
    }

    /// Waits for the process to exit without blocking the runtime; kills it after `limit`.
    pub(crate) async fn wait(mut self, limit: Duration) -> Output {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return self.output(status);
            }
            if self.started.elapsed() > limit {
                let output = self.kill();
                panic!("masctl ran longer than {limit:?}:\n{}", output.both());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn output(&self, status: ExitStatus) -> Output {
        Output {
            code: status.code(),
            stdout: read_lossy(&self.stdout),
            stderr: read_lossy(&self.stderr),
        }
    }
}

/// Reads an output file; bytes that are not UTF-8 show as U+FFFD rather than hiding the rest.
fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Removes miette's box drawing from `text` and collapses its whitespace.
pub(crate) fn flatten(text: &str) -> String {
    text.replace(['│', '├', '╰', '─', '▶', '×', '╭', '┬', '·'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
