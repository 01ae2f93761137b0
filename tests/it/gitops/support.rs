//! Running the binary in a scratch directory against a test database, and making its output
//! stable for snapshots.

use std::path::PathBuf;
use std::process::Command;

use crate::common::TestDb;

/// What one run of `masctl` printed and returned.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Returns stdout, stderr and the exit code in one stable string, for snapshots.
    pub(crate) fn snapshot(&self) -> String {
        stable(&format!(
            "{}------- stderr -------\n{}[exit status: {}]",
            self.stdout, self.stderr, self.code
        ))
    }
}

/// A scratch directory (the working directory of every run) bound to one test database.
pub(crate) struct Workspace {
    dir: tempfile::TempDir,
    url: String,
}

impl Workspace {
    pub(crate) fn new(db: &TestDb) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            url: db.url(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// Runs `masctl --database-url <db> ARGS…` with `envs` set.
    pub(crate) fn masctl(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_masctl"));
        command
            .current_dir(self.dir.path())
            .arg("--database-url")
            .arg(&self.url)
            .args(args)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("DATABASE_URL")
            .env_remove("MASCTL_PLAN_KEY")
            .env_remove("MAS_CONFIG");
        for (key, value) in envs {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// Replaces what changes from run to run: ULIDs, digests, timestamps.
pub(crate) fn stable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut words = Vec::new();
        for word in line.split(' ') {
            words.push(stable_word(word));
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn stable_word(word: &str) -> String {
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let is_ulid = core.len() == 26
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    let is_digest = core.len() >= 12
        && core.chars().all(|c| c.is_ascii_hexdigit())
        && core.chars().any(|c| c.is_ascii_digit());
    let is_time = core.len() >= 8
        && core.chars().filter(|c| *c == ':').count() == 2
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.');
    let is_date = core.len() == 10
        && core.chars().filter(|c| *c == '-').count() == 2
        && core.chars().all(|c| c.is_ascii_digit() || c == '-');
    let replacement = if is_ulid {
        "[ULID]"
    } else if is_digest {
        "[DIGEST]"
    } else if is_time {
        "[TIME]"
    } else if is_date {
        "[DATE]"
    } else {
        return word.to_owned();
    };
    word.replacen(core, replacement, 1)
}
