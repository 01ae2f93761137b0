//! Tests against a real Synapse: the homeserver client's calls (`client`), display names through
//! plan and apply (`display_names`, `cli`), and a homeserver that is down, slow, or refuses
//! (`failures`).
//!
//! Synapse comes from the virtualenv `tests/synapse/setup.sh` builds (pinned by
//! `tests/synapse/requirements.txt`); `.ci/run` runs that script first. [`shared`] starts one
//! Synapse per test process on first use: SQLite in a fresh directory under
//! `CARGO_TARGET_TMPDIR`, listening on 127.0.0.1 only, `server_name` [`SERVER_NAME`], with its
//! MAS integration on (`matrix_authentication_service` with [`SECRET`]), which is what serves
//! `_synapse/mas/*`. MAS's own endpoint points at a closed port: Synapse only calls MAS to
//! introspect access tokens, which none of these tests send.
//!
//! Without the virtualenv the tests here that need Synapse are skipped, each printing why
//! (straight to stderr, so the line shows even though test output is captured). When `CI` or
//! `MASCTL_REQUIRE_SYNAPSE` is set, a missing virtualenv fails them instead.
//!
//! Rust never drops statics, so the shared Synapse is not stopped by `Drop`: `run.py` exits when
//! its stdin (a pipe from this process) closes, which happens however the test process ends.
//! A Synapse started with [`Synapse::start`] for one test is stopped by `Drop`.
//!
//! `manage` runs `masctl manage register-user` and `manage issue-compatibility-token` against it.

mod cli;
mod client;
mod display_names;
mod failures;
mod manage;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use masctl::homeserver::{HomeserverClient, HomeserverKind};
use masctl::model::Secret;

/// Synapse's `server_name`: the part after `:` in MXIDs.
pub(crate) const SERVER_NAME: &str = "test.local";
/// The shared secret between "MAS" (masctl) and Synapse.
pub(crate) const SECRET: &str = "masctl-test-shared-secret";
/// What the setup script installed, copied into the venv as its "ready" stamp.
const REQUIREMENTS: &str = include_str!("../../synapse/requirements.txt");
/// The launcher that ties Synapse's life to this process.
const RUN_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/synapse/run.py");
/// Creating Synapse's SQLite schema takes a few seconds, much more on a loaded CI machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// The timeout of clients built by [`Synapse::client`]: Synapse answers in milliseconds.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

static SHARED: OnceLock<Result<Synapse, String>> = OnceLock::new();
static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// Returns the Synapse shared by this test process, starting it on first use; `None` (after
/// printing why) when the virtualenv is missing and Synapse is not required.
///
/// # Panics
/// When Synapse is required but missing, or it does not start.
pub(crate) fn shared() -> Option<&'static Synapse> {
    let python = python_or_skip()?;
    match SHARED.get_or_init(|| Synapse::start_with(&python)) {
        Ok(synapse) => Some(synapse),
        Err(error) => panic!("{error}"),
    }
}

/// A Synapse child process and the directory holding its config, database and log.
pub(crate) struct Synapse {
    child: Child,
    port: u16,
    dir: PathBuf,
    python: PathBuf,
}

impl Synapse {
    /// Starts a Synapse of its own for one test (stopped by `Drop`); `None` as for [`shared`].
    pub(crate) fn start() -> Option<Self> {
        let python = python_or_skip()?;
        Some(Self::start_with(&python).unwrap_or_else(|error| panic!("{error}")))
    }

    /// Returns the base URL masctl's `matrix.endpoint` must have.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Returns a client of `kind` with the right secret.
    pub(crate) fn client_of(&self, kind: HomeserverKind) -> HomeserverClient {
        HomeserverClient::new(
            kind,
            SERVER_NAME.to_owned(),
            &self.endpoint(),
            Secret::new(SECRET),
            CLIENT_TIMEOUT,
        )
        .unwrap()
    }

    /// Returns a `synapse` client, as MAS's default config makes.
    pub(crate) fn client(&self) -> HomeserverClient {
        self.client_of(HomeserverKind::Synapse)
    }

    /// Returns the `matrix` section of a MAS config for this Synapse.
    pub(crate) fn matrix_config(&self) -> String {
        format!(
            "matrix:\n  kind: synapse\n  homeserver: {SERVER_NAME}\n  endpoint: {}\n  secret: {SECRET}\n",
            self.endpoint()
        )
    }

    /// Returns the ids of a user's devices, read from Synapse's database: no API with the
    /// shared secret lists devices (the admin API would need MAS to introspect a token).
    pub(crate) fn devices(&self, localpart: &str) -> Vec<String> {
        let script = "import sqlite3, sys\n\
                      db = sqlite3.connect(sys.argv[1], timeout=30)\n\
                      rows = db.execute('SELECT device_id FROM devices WHERE user_id = ? ORDER BY device_id', (sys.argv[2],))\n\
                      print('\\n'.join(row[0] for row in rows))";
        let output = Command::new(&self.python)
            .args(["-c", script])
            .arg(self.dir.join("homeserver.db"))
            .arg(format!("@{localpart}:{SERVER_NAME}"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Starts Synapse from the venv's `python`, retrying when the chosen port was taken in the
    /// meantime (Synapse cannot listen on port 0, so a free port is picked beforehand).
    fn start_with(python: &Path) -> Result<Self, String> {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|error| format!("no free port: {error}"))?;
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
                "synapse-{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, Ordering::Relaxed)
            ));
            match Self::spawn(python, port, dir) {
                Ok(synapse) => return Ok(synapse),
                Err((error, retry)) if retry => last_error = error,
                Err((error, _)) => return Err(error),
            }
        }
        Err(last_error)
    }

    /// Starts one Synapse and waits until `/health` answers; on failure, says whether another
    /// port may help.
    fn spawn(python: &Path, port: u16, dir: PathBuf) -> Result<Self, (String, bool)> {
        let fail = |error: String| (error, false);
        std::fs::create_dir_all(dir.join("media")).map_err(|e| fail(e.to_string()))?;
        let config = dir.join("homeserver.yaml");
        std::fs::write(&config, homeserver_yaml(&dir, port)).map_err(|e| fail(e.to_string()))?;
        let log =
            std::fs::File::create(dir.join("synapse.log")).map_err(|e| fail(e.to_string()))?;
        let log_err = log.try_clone().map_err(|e| fail(e.to_string()))?;
        let child = Command::new(python)
            .arg(RUN_PY)
            .arg(&config)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
        let mut synapse = Self {
            child,
            port,
            dir,
            python: python.to_owned(),
        };
        let started = Instant::now();
        while started.elapsed() < STARTUP_TIMEOUT {
            if let Ok(Some(status)) = synapse.child.try_wait() {
                let log = synapse.log_tail();
                let retry = log.contains("Address already in use");
                return Err((
                    format!("Synapse exited ({status}) while starting:\n{log}"),
                    retry,
                ));
            }
            if health_ok(port) {
                return Ok(synapse);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(fail(format!(
            "Synapse did not answer /health within {STARTUP_TIMEOUT:?}:\n{}",
            synapse.log_tail()
        )))
    }

    /// Returns the end of Synapse's log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("synapse.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Synapse's config: SQLite, loopback only, no federation, no outgoing calls at start-up, and
/// the MAS integration that serves `_synapse/mas/*` (which forbids Synapse's own registration
/// and password logins).
fn homeserver_yaml(dir: &Path, port: u16) -> String {
    // JSON strings are YAML strings: this quotes any path safely.
    let path = |name: &str| serde_json::to_string(&dir.join(name)).unwrap();
    format!(
        r#"server_name: "{SERVER_NAME}"
pid_file: {pid}
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {db}
media_store_path: {media}
signing_key_path: {key}
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: false
password_config:
  enabled: false
matrix_authentication_service:
  enabled: true
  endpoint: "http://127.0.0.1:9/"
  secret: "{SECRET}"
"#,
        pid = path("homeserver.pid"),
        db = path("homeserver.db"),
        media = path("media"),
        key = path("signing.key"),
    )
}

/// Returns the venv's python, or `None` after printing why the calling test is skipped.
///
/// # Panics
/// When the venv is missing but Synapse is required (`CI` or `MASCTL_REQUIRE_SYNAPSE` set).
fn python_or_skip() -> Option<PathBuf> {
    match find_python() {
        Ok(python) => Some(python),
        Err(reason) if required() => panic!(
            "{reason}; the Synapse-backed tests must run here (CI or MASCTL_REQUIRE_SYNAPSE is set)"
        ),
        Err(reason) => {
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            // Written to the stream itself: `eprintln!` output of a passing test is swallowed.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
            None
        }
    }
}

/// Finds the venv `tests/synapse/setup.sh` builds and checks that it is complete and current.
fn find_python() -> Result<PathBuf, String> {
    let venv = venv_dir().ok_or("no HOME to find the Synapse virtualenv in")?;
    let python = venv.join("bin/python");
    let stamp = std::fs::read_to_string(venv.join("masctl-requirements.txt")).unwrap_or_default();
    if stamp.is_empty() || !python.exists() {
        return Err(format!(
            "no Synapse virtualenv at {}; run tests/synapse/setup.sh",
            venv.display()
        ));
    }
    if stamp != REQUIREMENTS {
        return Err(format!(
            "the Synapse virtualenv at {} is not built from the current \
             tests/synapse/requirements.txt; run tests/synapse/setup.sh",
            venv.display()
        ));
    }
    Ok(python)
}

/// The venv's location, the same rule as `tests/synapse/setup.sh`.
fn venv_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(venv) = set("MASCTL_SYNAPSE_VENV") {
        return Some(PathBuf::from(venv));
    }
    let cache = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("masctl/synapse-venv"))
}

/// Whether a missing Synapse must fail the tests rather than skip them.
fn required() -> bool {
    ["CI", "MASCTL_REQUIRE_SYNAPSE"].iter().any(|name| {
        std::env::var(name)
            .is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false" | "FALSE" | "no"))
    })
}

/// Returns a loopback port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether Synapse answers `GET /health` with 200.
fn health_ok(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

/// A unique localpart for one test, so tests sharing a Synapse never see each other's users.
pub(crate) fn localpart(test: &str, user: &str) -> String {
    format!("{test}_{user}")
}
