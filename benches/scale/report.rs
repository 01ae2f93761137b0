//! The benchmark's figures and the table it prints: one column per size, then the targets.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::Run;

/// The targets, checked at sizes of 100k users and more.
const TARGET_SIZE: usize = 100_000;
const MAX_FLOOR_RATIO: f64 = 3.0;
const MAX_PLAN: Duration = Duration::from_secs(2);
const MAX_PEAK: u64 = 400 * 1024 * 1024;
const MAX_APPLY_10K: Duration = Duration::from_secs(5);

/// Everything measured for one size.
pub(crate) struct Figures {
    pub(crate) users: usize,
    pub(crate) plan_clean: Run,
    pub(crate) floor: Run,
    pub(crate) plan_drift: Run,
    pub(crate) apply: Run,
    pub(crate) provision: Run,
    pub(crate) plan_statements: usize,
    pub(crate) drift_statements: usize,
    pub(crate) apply_statements: usize,
    pub(crate) provision_statements: usize,
}

impl Figures {
    fn ratio(&self) -> f64 {
        self.plan_clean.elapsed.as_secs_f64() / self.floor.elapsed.as_secs_f64().max(1e-9)
    }

    fn peak(&self) -> u64 {
        [self.plan_clean, self.plan_drift, self.apply, self.provision]
            .iter()
            .map(|run| run.peak_rss)
            .max()
            .unwrap_or(0)
    }
}

/// One row of the table: how to show a figure of one size.
type Cell = fn(&Figures) -> String;

/// The figures of every size measured, in order.
#[derive(Default)]
pub(crate) struct Report {
    sizes: Vec<Figures>,
}

impl Report {
    pub(crate) fn push(&mut self, figures: Figures) {
        self.sizes.push(figures);
    }

    /// The table, the growth between sizes and the targets.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self
            .sizes
            .iter()
            .map(|f| format!("{} users", thousands(f.users)))
            .collect();
        row(&mut out, "", &header);
        let rows: [(&str, Cell); 14] = [
            ("plan, no changes", |f| seconds(f.plan_clean.elapsed)),
            ("  COPY floor (psql)", |f| seconds(f.floor.elapsed)),
            ("  plan / floor", |f| format!("{:.2}x", f.ratio())),
            ("plan, 1% drift", |f| seconds(f.plan_drift.elapsed)),
            ("apply, N/10 new users", |f| seconds(f.apply.elapsed)),
            ("manage provision-all-users", |f| {
                seconds(f.provision.elapsed)
            }),
            ("peak memory: plan", |f| {
                mebibytes(f.plan_clean.peak_rss.max(f.plan_drift.peak_rss))
            }),
            ("peak memory: apply", |f| mebibytes(f.apply.peak_rss)),
            ("peak memory: provision", |f| {
                mebibytes(f.provision.peak_rss)
            }),
            ("statements: plan", |f| f.plan_statements.to_string()),
            ("statements: plan, drift", |f| {
                f.drift_statements.to_string()
            }),
            ("statements: apply", |f| f.apply_statements.to_string()),
            ("statements: provision", |f| {
                f.provision_statements.to_string()
            }),
            ("plan µs per user", |f| {
                format!(
                    "{:.2}",
                    f.plan_clean.elapsed.as_secs_f64() * 1e6 / f.users.max(1) as f64
                )
            }),
        ];
        for (label, cell) in rows {
            let cells: Vec<String> = self.sizes.iter().map(cell).collect();
            row(&mut out, label, &cells);
        }
        self.render_growth(&mut out);
        self.render_targets(&mut out);
        out
    }

    /// How each time grew from one size to the next, relative to the growth in users: 1.00
    /// is exactly linear, below is better (fixed costs amortised), above is worse.
    fn render_growth(&self, out: &mut String) {
        if self.sizes.len() < 2 {
            return;
        }
        let _ = writeln!(out, "\ngrowth in time ÷ growth in users (1.00 = linear):");
        for pair in self.sizes.windows(2) {
            let [small, large] = pair else { continue };
            let users = large.users as f64 / small.users.max(1) as f64;
            let growth =
                |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64().max(1e-9) / users;
            let _ = writeln!(
                out,
                "  {} → {}: plan {:.2}, drift {:.2}, apply {:.2}, provision {:.2}",
                thousands(small.users),
                thousands(large.users),
                growth(small.plan_clean.elapsed, large.plan_clean.elapsed),
                growth(small.plan_drift.elapsed, large.plan_drift.elapsed),
                growth(small.apply.elapsed, large.apply.elapsed),
                growth(small.provision.elapsed, large.provision.elapsed),
            );
        }
    }

    /// The targets, judged at every size of at least [`TARGET_SIZE`] users.
    fn render_targets(&self, out: &mut String) {
        let counts: Vec<usize> = self.sizes.iter().map(|f| f.plan_statements).collect();
        let constant = counts.windows(2).all(|pair| pair.first() == pair.last());
        let _ = writeln!(out, "\ntargets:");
        let _ = writeln!(
            out,
            "  {} plan statements independent of N ({counts:?})",
            verdict(constant)
        );
        for f in self.sizes.iter().filter(|f| f.users >= TARGET_SIZE) {
            let n = thousands(f.users);
            let _ = writeln!(
                out,
                "  {} {n}: plan within {MAX_FLOOR_RATIO}x the COPY floor and under {}: {} ({:.2}x)",
                verdict(f.ratio() <= MAX_FLOOR_RATIO && f.plan_clean.elapsed < MAX_PLAN),
                seconds(MAX_PLAN),
                seconds(f.plan_clean.elapsed),
                f.ratio()
            );
            let _ = writeln!(
                out,
                "  {} {n}: peak memory under {}: {}",
                verdict(f.peak() < MAX_PEAK),
                mebibytes(MAX_PEAK),
                mebibytes(f.peak())
            );
            // The apply creates N/10 users: 10k at 100k, and its target scales with it.
            let limit = MAX_APPLY_10K.mul_f64(f.users as f64 / 100_000.0);
            let _ = writeln!(
                out,
                "  {} {n}: apply of {} new users under {}: {}",
                verdict(f.apply.elapsed < limit),
                thousands(f.users / 10),
                seconds(limit),
                seconds(f.apply.elapsed)
            );
        }
        if self.sizes.iter().all(|f| f.users < TARGET_SIZE) {
            let _ = writeln!(
                out,
                "  (time and memory targets apply from {} users)",
                thousands(TARGET_SIZE)
            );
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "[met]   "
    } else {
        "[MISSED]"
    }
}

fn row(out: &mut String, label: &str, cells: &[String]) {
    let _ = write!(out, "{label:<28}");
    for cell in cells {
        let _ = write!(out, "{cell:>15}");
    }
    out.push('\n');
}

fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
