//! How masctl scales with the number of users: `cargo bench --bench scale`.
//!
//! For every size N (`MASCTL_BENCH_SIZES`, default `1000,10000,100000`) it seeds a MAS database
//! with N users and 1,000 registration tokens (see `seed`), writes the manifest that describes
//! them, and runs the real `masctl` binary against it:
//!
//! - `plan` with no changes and the COPY floor, `psql` copying the same columns out of the same
//!   tables, each the median of five runs taken alternately, and the ratio of the two;
//! - `plan` with 1 % of the users drifted in the database;
//! - `apply` of a manifest with N/10 more users (one email each, no password), in one
//!   transaction, then a `plan` that must come out empty;
//! - `manage provision-all-users`;
//! - the peak resident memory of each command, and the SQL statements each one sends, counted
//!   by a proxy (`proxy`) on a copy of the database so that timed runs never pass through it.
//!
//! PostgreSQL is `MASCTL_BENCH_SERVER` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the role needs CREATEDB. `MASCTL_BENCH_KEEP=1` keeps the databases and manifests afterwards,
//! for profiling. Without `--bench` (as under `cargo test --benches`) it runs one tiny
//! size once, to check that the harness still works.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports its figures on stdout and its progress on stderr"
)]

mod measure;
mod proxy;
mod report;
mod seed;

use std::error::Error;
use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use masctl::db::fixture;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use measure::Run;
use proxy::CountingProxy;
use report::{Figures, Report};

type BoxError = Box<dyn Error>;

/// The sizes measured when `MASCTL_BENCH_SIZES` is not set.
const DEFAULT_SIZES: &str = "1000,10000,100000";

/// The masctl binary cargo built for this benchmark (release profile under `cargo bench`).
const MASCTL: &str = env!("CARGO_BIN_EXE_masctl");

fn main() -> ExitCode {
    if let Some(report) = std::env::var_os(measure::WATCHER_ENV) {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        return measure::watch(Path::new(&report), &args);
    }
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench` to harness-less targets; `cargo test` does not.
    let full = std::env::args().any(|arg| arg == "--bench");
    let sizes: Vec<usize> = if full {
        let sizes = std::env::var("MASCTL_BENCH_SIZES").unwrap_or_else(|_| DEFAULT_SIZES.into());
        sizes
            .split(',')
            .map(|size| size.trim().replace('_', "").parse())
            .collect::<Result<_, _>>()
            .map_err(|error| format!("MASCTL_BENCH_SIZES: {error}"))?
    } else {
        vec![200]
    };
    let server_url = std::env::var("MASCTL_BENCH_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let server = Server::new(&server_url)?;
    let proxy = CountingProxy::start(server.socket)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let repeats = if full { 5 } else { 1 };
    let mut report = Report::default();
    for n in sizes {
        eprintln!("== {n} users ==");
        let figures = runtime.block_on(measure_size(&server, &proxy, n, repeats))?;
        report.push(figures);
    }
    println!("{}", report.render());
    Ok(())
}

/// The PostgreSQL server, as a URL to derive per-database URLs from and an address to proxy.
struct Server {
    url: url::Url,
    options: PgConnectOptions,
    socket: SocketAddr,
}

impl Server {
    fn new(url: &str) -> Result<Self, BoxError> {
        let options = masctl::db::options_from_url(url)?;
        let parsed = url::Url::parse(url)?;
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        let port = parsed.port().unwrap_or(5432);
        let socket = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or("MASCTL_BENCH_SERVER: the host does not resolve")?;
        Ok(Self {
            url: parsed,
            options,
            socket,
        })
    }

    /// The URL of database `name` on this server, or through `via` when given.
    fn database_url(&self, name: &str, via: Option<SocketAddr>) -> Result<String, BoxError> {
        let mut url = self.url.clone();
        url.set_path(name);
        if let Some(via) = via {
            url.set_ip_host(via.ip())
                .map_err(|()| "cannot point the URL at the proxy")?;
            url.set_port(Some(via.port()))
                .map_err(|()| "cannot point the URL at the proxy")?;
        }
        Ok(url.into())
    }
}

/// Seeds the databases for `n` users, runs every measurement and drops the databases again.
async fn measure_size(
    server: &Server,
    proxy: &CountingProxy,
    n: usize,
    repeats: usize,
) -> Result<Figures, BoxError> {
    let timed = format!("masctl_bench_{n}");
    let counted = format!("masctl_bench_{n}_count");
    for name in [&timed, &counted] {
        fixture::drop_database(&server.options, name).await?;
    }
    eprintln!("seeding…");
    fixture::create_mas_database(&server.options, &timed).await?;
    let mut conn = PgConnection::connect_with(&server.options.clone().database(&timed)).await?;
    seed::database(&mut conn, n).await?;
    conn.close().await?;
    // A copy for the counting runs, made while nobody is connected to the original.
    fixture::create_database(&server.options, &counted, Some(&timed)).await?;

    let dir = tempfile::tempdir()?;
    let base = dir.path().join("users.yaml");
    let grown = dir.path().join("grown.yaml");
    std::fs::write(&base, seed::manifest(n, 0))?;
    std::fs::write(&grown, seed::manifest(n, n / 10))?;
    let bench = Bench {
        direct: server.database_url(&timed, None)?,
        counted: server.database_url(&counted, Some(proxy.addr))?,
        proxy,
    };
    let figures = run_scenario(server, &bench, n, repeats, &base, &grown).await;

    if std::env::var_os("MASCTL_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!(
            "kept the databases {timed} and {counted}, and the manifests in {}",
            kept.display()
        );
    } else {
        for name in [&timed, &counted] {
            fixture::drop_database(&server.options, name).await?;
        }
    }
    figures
}

/// Where the commands run: the timed database directly, the counted copy through the proxy.
struct Bench<'a> {
    direct: String,
    counted: String,
    proxy: &'a CountingProxy,
}

impl Bench<'_> {
    /// Runs `masctl ARGS` on the timed database `repeats` times; returns the median run (and
    /// the highest peak memory), failing unless every run exits with `expect`.
    fn timed(&self, args: &[&str], expect: i32, repeats: usize) -> Result<Run, BoxError> {
        let mut runs = Vec::with_capacity(repeats);
        for _ in 0..repeats.max(1) {
            runs.push(masctl(&self.direct, args, expect)?);
        }
        Ok(median(runs))
    }

    /// Runs `masctl ARGS` once on the counted copy and returns the statements it sent.
    fn counted(&self, args: &[&str], expect: i32) -> Result<usize, BoxError> {
        self.proxy.take();
        masctl(&self.counted, args, expect)?;
        Ok(self.proxy.take())
    }
}

async fn run_scenario(
    server: &Server,
    bench: &Bench<'_>,
    n: usize,
    repeats: usize,
    base: &Path,
    grown: &Path,
) -> Result<Figures, BoxError> {
    let base = path_arg(base)?;
    let grown = path_arg(grown)?;
    let plan = ["plan", base, "--detailed-exitcode"];

    eprintln!("plan, no changes, and the COPY floor…");
    // Alternated run by run, so that both medians come from the same minutes: on a shared
    // machine the speed drifts, and the ratio is the figure that matters.
    let mut plans = Vec::with_capacity(repeats);
    let mut floors = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        plans.push(bench.timed(&plan, 0, 1)?);
        floors.push(copy_floor(&bench.direct)?);
    }
    let (plan_clean, floor) = (median(plans), median(floors));
    let plan_statements = bench.counted(&plan, 0)?;

    eprintln!("plan, 1% drift…");
    for url in [&bench.direct, &bench.counted] {
        drift(server, url).await?;
    }
    let plan_drift = bench.timed(&plan, 3, repeats)?;
    let drift_statements = bench.counted(&plan, 3)?;
    for url in [&bench.direct, &bench.counted] {
        drift(server, url).await?;
    }

    eprintln!("apply, {} new users…", n / 10);
    let apply_args = ["apply", grown, "--yes"];
    let apply = bench.timed(&apply_args, 0, 1)?;
    let apply_statements = bench.counted(&apply_args, 0)?;
    // Converged: the same manifest plans nothing, on both databases.
    let replan = ["plan", grown, "--detailed-exitcode"];
    bench.timed(&replan, 0, 1)?;
    bench.counted(&replan, 0)?;

    eprintln!("manage provision-all-users…");
    let provision_args = ["manage", "provision-all-users"];
    let provision = bench.timed(&provision_args, 0, 1)?;
    let provision_statements = bench.counted(&provision_args, 0)?;

    Ok(Figures {
        users: n,
        plan_clean,
        floor,
        plan_drift,
        apply,
        provision,
        plan_statements,
        drift_statements,
        apply_statements,
        provision_statements,
    })
}

/// Toggles the drift in the database at `url` (the proxy's URL reaches the same database).
async fn drift(server: &Server, url: &str) -> Result<(), BoxError> {
    let name = url.rsplit('/').next().unwrap_or_default();
    let mut conn = PgConnection::connect_with(&server.options.clone().database(name)).await?;
    seed::toggle_drift(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Runs `masctl --database-url URL ARGS…` under a watcher; fails unless it exits with `expect`.
fn masctl(url: &str, args: &[&str], expect: i32) -> Result<Run, BoxError> {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    let (run, transcript) = measure::run(Path::new(MASCTL), &all, &[("NO_COLOR", "1")], false)?;
    if run.code != expect {
        let tail: String = transcript.lines().take(40).collect::<Vec<_>>().join("\n");
        return Err(format!(
            "`masctl {}` exited with {}, expected {expect}:\n{tail}",
            args.join(" "),
            run.code
        )
        .into());
    }
    Ok(run)
}

/// Times `psql` copying the columns `plan` reads out of the database at `url`, once.
fn copy_floor(url: &str) -> Result<Run, BoxError> {
    let mut args = vec!["-X", "-q", "-v", "ON_ERROR_STOP=1", url];
    for statement in seed::COPY_FLOOR {
        args.extend(["-c", statement]);
    }
    let (run, transcript) = measure::run(Path::new("psql"), &args, &[], true)?;
    if run.code != 0 {
        return Err(format!("psql failed ({}): {transcript}", run.code).into());
    }
    Ok(run)
}

/// The run with the median time, carrying the highest peak memory of all runs.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|run| run.elapsed);
    let peak_rss = runs.iter().map(|run| run.peak_rss).max().unwrap_or(0);
    let middle = runs.get(runs.len() / 2).copied().unwrap_or(Run {
        elapsed: Duration::ZERO,
        peak_rss: 0,
        code: -1,
    });
    Run { peak_rss, ..middle }
}

/// A path as a command-line argument (the temporary directory's paths are always UTF-8 here).
fn path_arg(path: &Path) -> Result<&str, BoxError> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()).into())
}
