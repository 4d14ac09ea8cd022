//! The benchmarks' one table: every figure with its unit, its target and whether it is met, the
//! machine it was measured on (cores, CPU model), written as JSON with `--json FILE` and compared
//! side by side with `bench compare A.json B.json`.
//!
//! Also the benchmarks' metrics recorder: the clients count their requests and time their waits
//! on the far sides' limits as `metrics` (`dl_api_calls_total`, `dl_api_limit_wait_seconds`);
//! the bench installs [`Tally`] as the process's recorder to read them back.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

/// A bound on a figure.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// At most this.
    AtMost(f64),
    /// Below this.
    Below(f64),
    /// At least this.
    AtLeast(f64),
    /// Exactly this (counts that must agree).
    Equals(f64),
}

impl Target {
    pub fn met(self, v: f64) -> bool {
        match self {
            Target::AtMost(b) => v <= b,
            Target::Below(b) => v < b,
            Target::AtLeast(b) => v >= b,
            Target::Equals(b) => v == b,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtMost(b) => format!("≤ {}", num(b)),
            Target::Below(b) => format!("< {}", num(b)),
            Target::AtLeast(b) => format!("≥ {}", num(b)),
            Target::Equals(b) => format!("= {}", num(b)),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub target: Option<Target>,
    /// Whether the target is met (`None`: no target).
    pub met: Option<bool>,
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub build: String,
}

impl Machine {
    /// This machine: logical cores, the CPU model from /proc/cpuinfo, debug or release build.
    pub fn here() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
            build: if cfg!(debug_assertions) {
                "debug".into()
            } else {
                "release".into()
            },
        }
    }
}

/// A benchmark's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Which benchmark and its configuration, in words.
    pub bench: String,
    pub machine: Machine,
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn new(bench: impl Into<String>) -> Report {
        Report {
            bench: bench.into(),
            machine: Machine::here(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            figures: Vec::new(),
        }
    }

    /// Adds a figure with no target.
    pub fn add(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        self.push(name, value, unit, None);
    }

    /// Adds a figure and its target.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &str,
        target: Option<Target>,
    ) {
        self.figures.push(Figure {
            name: name.into(),
            value,
            unit: unit.into(),
            target,
            met: target.map(|t| t.met(value)),
        });
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
    }

    /// The table, as Markdown (the README quotes it as printed).
    pub fn table(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "{}\nmachine: {} cores, {}, {} build; measured {}\n\n| figure | value | unit | target | met |\n|---|---:|---|---|---|\n",
            self.bench, m.cores, m.cpu_model, m.build, self.at
        );
        for f in &self.figures {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                f.name,
                num(f.value),
                f.unit,
                f.target.map(Target::text).unwrap_or_default(),
                match f.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                }
            ));
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("--json {}", path.display()))
    }

    pub fn read_json(path: &Path) -> Result<Report> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a bench report written by --json", path.display()))
    }
}

/// A number as the table shows it: integers without decimals, others with up to four
/// significant decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = format!("{}", v as i64);
        // Thousands separators for counts.
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// A change with its sign.
fn signed(d: f64) -> String {
    if d >= 0.0 {
        format!("+{}", num(d))
    } else {
        num(d)
    }
}

/// Two reports side by side: every figure of either, its value in each and the change.
pub fn compare(a: &Report, b: &Report) -> String {
    let mut out = format!(
        "A: {} ({} cores, {}, {}, {})\nB: {} ({} cores, {}, {}, {})\n\n| figure | unit | A | B | change | target | met A → B |\n|---|---|---:|---:|---:|---|---|\n",
        a.bench,
        a.machine.cores,
        a.machine.cpu_model,
        a.machine.build,
        a.at,
        b.bench,
        b.machine.cores,
        b.machine.cpu_model,
        b.machine.build,
        b.at
    );
    let mut names: Vec<&str> = a.figures.iter().map(|f| f.name.as_str()).collect();
    for f in &b.figures {
        if !names.contains(&f.name.as_str()) {
            names.push(&f.name);
        }
    }
    let find = |r: &'_ Report, n: &str| r.figures.iter().find(|f| f.name == n).cloned();
    let met = |f: &Option<Figure>| match f.as_ref().and_then(|f| f.met) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "–",
    };
    for n in names {
        let (fa, fb) = (find(a, n), find(b, n));
        let unit = fa.as_ref().or(fb.as_ref()).map(|f| f.unit.clone());
        let target = fb
            .as_ref()
            .and_then(|f| f.target)
            .or(fa.as_ref().and_then(|f| f.target));
        let change = match (&fa, &fb) {
            (Some(x), Some(y)) if x.value != 0.0 => format!(
                "{} ({:+.1} %)",
                signed(y.value - x.value),
                100.0 * (y.value - x.value) / x.value.abs()
            ),
            (Some(x), Some(y)) => signed(y.value - x.value),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {n} | {} | {} | {} | {change} | {} | {} → {} |\n",
            unit.unwrap_or_default(),
            fa.as_ref().map(|f| num(f.value)).unwrap_or("–".into()),
            fb.as_ref().map(|f| num(f.value)).unwrap_or("–".into()),
            target.map(Target::text).unwrap_or_default(),
            met(&fa),
            met(&fb),
        ));
    }
    out
}

/// `bench compare A.json B.json`.
pub fn run_compare(a: &Path, b: &Path) -> Result<()> {
    let (ra, rb) = (Report::read_json(a)?, Report::read_json(b)?);
    print!("{}", compare(&ra, &rb));
    Ok(())
}

// ---- the recorder ----

#[derive(Default)]
struct Sum {
    count: AtomicU64,
    /// Sum in nanoseconds-of-a-second units (value × 1e9), so that it can be atomic.
    sum_nanos: AtomicU64,
}

impl metrics::HistogramFn for Sum {
    fn record(&self, value: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((value.max(0.0) * 1e9) as u64, Ordering::Relaxed);
    }
}

type Key = (String, String, String);

/// Counters and histogram sums by (name, api, endpoint): the bench's metrics recorder.
#[derive(Clone, Default)]
pub struct Tally {
    counters: Arc<Mutex<BTreeMap<Key, Arc<AtomicU64>>>>,
    sums: Arc<Mutex<BTreeMap<Key, Arc<Sum>>>>,
}

fn key_of(k: &metrics::Key) -> Key {
    let label = |n: &str| {
        k.labels()
            .find(|l| l.key() == n)
            .map(|l| l.value().to_owned())
            .unwrap_or_default()
    };
    (k.name().to_owned(), label("api"), label("endpoint"))
}

impl metrics::Recorder for Tally {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let c = self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key_of(key))
            .or_default()
            .clone();
        metrics::Counter::from_arc(c)
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        let h = self
            .sums
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key_of(key))
            .or_default()
            .clone();
        metrics::Histogram::from_arc(h)
    }
}

/// What the clients recorded so far: per (api, endpoint), requests sent and seconds waited on
/// the endpoint's limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientCounts {
    pub calls: BTreeMap<(String, String), u64>,
    pub waited: BTreeMap<(String, String), f64>,
}

impl ClientCounts {
    /// Requests of `api` ("dsco" or "lingxing") over every endpoint.
    pub fn total(&self, api: &str) -> u64 {
        self.calls
            .iter()
            .filter(|((a, _), _)| a == api)
            .map(|(_, n)| n)
            .sum()
    }

    /// This reading less an earlier one.
    pub fn since(&self, before: &ClientCounts) -> ClientCounts {
        ClientCounts {
            calls: self
                .calls
                .iter()
                .map(|(k, v)| (k.clone(), v - before.calls.get(k).copied().unwrap_or(0)))
                .collect(),
            waited: self
                .waited
                .iter()
                .map(|(k, v)| (k.clone(), v - before.waited.get(k).copied().unwrap_or(0.0)))
                .collect(),
        }
    }
}

impl Tally {
    /// The process's recorder: installed on first use (a second install is refused by
    /// `metrics`, so every bench of a process shares this one).
    pub fn global() -> Result<Tally> {
        static TALLY: std::sync::OnceLock<std::result::Result<Tally, String>> =
            std::sync::OnceLock::new();
        TALLY
            .get_or_init(|| {
                let t = Tally::default();
                metrics::set_global_recorder(t.clone())
                    .map(|()| t)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| anyhow!("cannot install the bench's metrics recorder: {e}"))
    }

    pub fn read(&self) -> ClientCounts {
        let mut out = ClientCounts::default();
        for ((name, api, ep), c) in self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if name == "dl_api_calls_total" {
                *out.calls.entry((api.clone(), ep.clone())).or_default() +=
                    c.load(Ordering::Relaxed);
            }
        }
        for ((name, api, ep), s) in self.sums.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if name == "dl_api_limit_wait_seconds" {
                *out.waited.entry((api.clone(), ep.clone())).or_default() +=
                    s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            }
        }
        out
    }
}

/// Counts the SQL statements the store runs, from sqlx's `sqlx::query` events (one per statement
/// executed), while switched on with [`Statements::counting`]. Installed by the bench's logging
/// set-up as a layer with its own filter, so it neither prints nor slows the runs it does not count
/// (off, the callsites cost one atomic load).
#[derive(Debug, Clone, Copy)]
pub struct Statements;

static STATEMENTS_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static STATEMENTS_INSTALLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
const SQLX_TARGET: &str = "sqlx::query";

impl Statements {
    /// Switches counting on or off; the count so far.
    pub fn counting(on: bool) -> u64 {
        STATEMENTS_ON.store(on, Ordering::Relaxed);
        STATEMENTS.load(Ordering::Relaxed)
    }

    /// The statements counted so far; `None` when the counter is not installed (another
    /// subscriber was first).
    pub fn read() -> Option<u64> {
        STATEMENTS_INSTALLED
            .load(Ordering::Relaxed)
            .then(|| STATEMENTS.load(Ordering::Relaxed))
    }

    pub(crate) fn installed() {
        STATEMENTS_INSTALLED.store(true, Ordering::Relaxed);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::layer::Filter<S> for Statements {
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        meta.target() == SQLX_TARGET && STATEMENTS_ON.load(Ordering::Relaxed)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if meta.target() == SQLX_TARGET {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    /// Only sqlx's statement events get here: the layer carries itself as its filter.
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
        if let Some(by) = SQL_PROFILE.get() {
            let mut v = StatementTime::default();
            e.record(&mut v);
            let mut by = by.lock().unwrap_or_else(|p| p.into_inner());
            let t = by.entry(v.sql()).or_default();
            t.0 += 1;
            t.1 += v.secs;
        }
    }
}

/// Statements and their seconds by SQL text, kept while `DSCO_LINGXING_BENCH_SQL` is set.
static SQL_PROFILE: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, (u64, f64)>>> =
    std::sync::OnceLock::new();

/// One statement event's SQL and elapsed seconds.
#[derive(Default)]
struct StatementTime {
    summary: String,
    statement: String,
    secs: f64,
}

impl StatementTime {
    /// The whole statement when sqlx shortened it into the summary, else the summary; on one
    /// line, its first 110 bytes.
    fn sql(&self) -> String {
        let text = if self.statement.trim().is_empty() {
            &self.summary
        } else {
            &self.statement
        };
        let mut sql = text.split_whitespace().collect::<Vec<_>>().join(" ");
        sql.truncate(sql.floor_char_boundary(110));
        sql
    }
}

impl tracing::field::Visit for StatementTime {
    fn record_f64(&mut self, f: &tracing::field::Field, v: f64) {
        if f.name() == "elapsed_secs" {
            self.secs = v;
        }
    }
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        match f.name() {
            "summary" => self.summary = v.to_owned(),
            "db.statement" => self.statement = v.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl Statements {
    /// Starts keeping each statement's time when `DSCO_LINGXING_BENCH_SQL` is set (a profile
    /// of the store's work: which statements take the time); whether it does.
    pub fn profile_if_asked() -> bool {
        if std::env::var_os("DSCO_LINGXING_BENCH_SQL").is_some() {
            let _ = SQL_PROFILE.set(Default::default());
            return true;
        }
        false
    }

    /// The kept statements, slowest in total first, printed to stderr (then forgotten).
    pub fn print_profile() {
        let Some(by) = SQL_PROFILE.get() else {
            return;
        };
        let mut rows: Vec<(String, (u64, f64))> =
            std::mem::take(&mut *by.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
        eprintln!("  statements by total time (count, seconds, SQL):");
        for (sql, (n, secs)) in rows.iter().take(25) {
            eprintln!("  {n:>7} {secs:>8.3} s  {sql}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile is keyed by the whole statement when sqlx shortened it, else by the summary,
    /// on one line and cut at a character boundary.
    #[test]
    fn a_statement_is_profiled_by_its_whole_text() {
        let short = StatementTime {
            summary: "SELECT id FROM t".into(),
            statement: String::new(),
            secs: 0.0,
        };
        assert_eq!(short.sql(), "SELECT id FROM t");
        let long = StatementTime {
            summary: "SELECT po, stage …".into(),
            statement: "\n\nSELECT po,\n  stage\nFROM orders\n".into(),
            secs: 0.0,
        };
        assert_eq!(long.sql(), "SELECT po, stage FROM orders");
        let wide = StatementTime {
            summary: "é".repeat(100),
            ..StatementTime::default()
        };
        assert_eq!(wide.sql(), "é".repeat(55));
    }

    #[test]
    fn a_report_round_trips_through_json_and_compares() {
        let mut a = Report::new("bench day, 20 orders");
        a.push("calls per order", 0.12, "calls", Some(Target::AtMost(0.1)));
        a.add("wall time", 3.0, "s");
        assert_eq!(a.figures[0].met, Some(false));
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.json");
        a.write_json(&path).unwrap();
        let back = Report::read_json(&path).unwrap();
        assert_eq!(back, a);
        let mut b = a.clone();
        b.figures[0].value = 0.09;
        b.figures[0].met = Some(true);
        let table = compare(&a, &b);
        assert!(
            table.contains("| calls per order | calls | 0.1200 | 0.0900 |"),
            "{table}"
        );
        assert!(table.contains("no → yes"), "{table}");
        assert!(
            a.table()
                .contains("| calls per order | 0.1200 | calls | ≤ 0.1000 | **no** |")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_report_is_named() {
        let dir = std::env::temp_dir().join(format!("bench-report-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.json");
        std::fs::write(&path, "{\"rows\": []}").unwrap();
        let e = Report::read_json(&path).unwrap_err();
        assert!(format!("{e:#}").contains("x.json"), "{e:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
