//! The `masctl` binary with MAS's config file: the `matrix` section is turned into a homeserver
//! client, `plan`/`apply` compare display names through it and converge, its absence is noted
//! once, and a homeserver that goes away stops `apply` before anything is written.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::display_names::run_provision_jobs;
use super::{localpart, shared, Synapse};
use crate::common::{dump, TestDb};

/// One run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Whether stderr holds `phrase` once miette's frame and line wrapping (which also breaks
    /// lines after `/`) are undone: both are compared without any whitespace.
    fn stderr_has(&self, phrase: &str) -> bool {
        let squeeze = |text: &str| {
            text.replace(['│', '╰', '─', '▶', '×'], "")
                .split_whitespace()
                .collect::<String>()
        };
        squeeze(&self.stderr).contains(&squeeze(phrase))
    }
}

/// A directory with MAS's config and the manifest, and the database they point at.
struct Workspace {
    dir: tempfile::TempDir,
    db: TestDb,
}

impl Workspace {
    async fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        Self {
            dir,
            db: TestDb::new().await,
        }
    }

    fn manifest(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("users.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// Runs `masctl COMMAND users.yaml --config config.yaml --database-url … ARGS`.
    fn masctl(&self, command: &str, args: &[&str]) -> Run {
        let dir: &Path = self.dir.path();
        let output = Command::new(env!("CARGO_BIN_EXE_masctl"))
            .current_dir(dir)
            .arg(command)
            .arg("users.yaml")
            .arg("--config")
            .arg(dir.join("config.yaml"))
            .arg("--database-url")
            .arg(self.db.url())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("MAS_CONFIG")
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

fn assert_exit(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

#[tokio::test]
async fn plan_and_apply_converge_on_synapse_display_names() {
    let Some(synapse) = shared() else { return };
    let homeserver = synapse.client();
    let work = Workspace::new(&synapse.matrix_config()).await;
    let (gina, hank) = (localpart("cli", "gina"), localpart("cli", "hank"));
    work.manifest(&format!(
        "version: 1\nusers:\n  {gina}:\n    display_name: Gina\n  {hank}:\n    display_name: Hank\n"
    ));
    assert_exit(&work.masctl("apply", &["--yes"]), 0);
    run_provision_jobs(&mut work.db.connect().await, &homeserver).await;
    assert_exit(&work.masctl("plan", &["--detailed-exitcode"]), 0);

    homeserver.set_display_name(&hank, "Henry").await.unwrap();
    let plan = work.masctl("plan", &["--detailed-exitcode"]);
    assert_exit(&plan, 3);
    assert_eq!(
        plan.stdout
            .matches("job: provision-user (set display name \"Hank\")")
            .count(),
        1,
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains(&gina), "{}", plan.stdout);
    assert!(
        !plan.stdout.contains("cannot be compared"),
        "{}",
        plan.stdout
    );

    assert_exit(&work.masctl("apply", &["--yes"]), 0);
    let pending = work.masctl("plan", &["--detailed-exitcode"]);
    assert_exit(&pending, 0);
    assert!(
        pending.stdout.contains(&format!(
            "note: user {hank}: display name \"Hank\" is already on its way to the homeserver"
        )),
        "{}",
        pending.stdout
    );
    run_provision_jobs(&mut work.db.connect().await, &homeserver).await;
    let done = work.masctl("plan", &["--detailed-exitcode"]);
    assert_exit(&done, 0);
    assert!(!done.stdout.contains("note:"), "{}", done.stdout);
}

#[tokio::test]
async fn without_a_matrix_section_display_names_are_noted_once() {
    // No homeserver is involved at all: this runs without Synapse.
    let work = Workspace::new("passwords:\n  enabled: true\n").await;
    work.manifest(
        "version: 1\nusers:\n  nomx_ivy:\n    display_name: Ivy\n  nomx_jay:\n    display_name: Jay\n",
    );
    let create = work.masctl("apply", &["--yes"]);
    assert_exit(&create, 0);
    assert!(create
        .stdout
        .contains("provision-user (set display name \"Ivy\")"));

    let plan = work.masctl("plan", &["--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert_eq!(
        plan.stdout
            .matches("display names cannot be compared")
            .count(),
        1,
        "{}",
        plan.stdout
    );
}

#[tokio::test]
async fn apply_writes_nothing_when_the_homeserver_has_gone_away() {
    let Some(synapse) = Synapse::start() else {
        return;
    };
    let endpoint = synapse.endpoint();
    let work = Workspace::new(&synapse.matrix_config()).await;
    let kim = localpart("gone", "kim");
    let manifest = |emails: &str| {
        format!("version: 1\nusers:\n  {kim}:\n    display_name: Kim\n    emails: [{emails}]\n")
    };
    work.manifest(&manifest("kim@example.org"));
    assert_exit(&work.masctl("apply", &["--yes"]), 0);
    run_provision_jobs(&mut work.db.connect().await, &synapse.client()).await;
    work.manifest(&manifest("kim@example.org, kim@example.com"));
    assert_exit(&work.masctl("plan", &["--detailed-exitcode"]), 3);

    drop(synapse);
    let before = dump(&mut work.db.connect().await).await;
    let apply = work.masctl("apply", &["--yes"]);
    assert_exit(&apply, 1);
    assert!(
        apply.stderr_has(&format!(
            "cannot read display names from the homeserver at {endpoint}; nothing was written"
        )),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr_has(&format!(
            "homeserver {endpoint} is unreachable (GET _synapse/mas/query_user)"
        )),
        "{}",
        apply.stderr
    );
    assert_eq!(dump(&mut work.db.connect().await).await, before);
}

#[tokio::test]
async fn an_unusable_matrix_section_is_an_error_not_a_missing_one() {
    // No homeserver is involved at all: this runs without Synapse.
    let work =
        Workspace::new("matrix:\n  endpoint: \"ftp://hs.example.org/\"\n  secret: s3cr3t-value\n")
            .await;
    work.manifest("version: 1\nusers:\n  bad_lee:\n    display_name: Lee\n");
    let plan = work.masctl("plan", &[]);
    assert_exit(&plan, 1);
    assert!(plan.stdout.is_empty(), "{}", plan.stdout);
    assert!(
        plan.stderr_has("invalid `matrix` section in MAS's config"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr_has(
            "matrix.endpoint \"ftp://hs.example.org/\" is not a usable http(s) base URL"
        ),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("s3cr3t-value"), "{}", plan.stderr);
}
