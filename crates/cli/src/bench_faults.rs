//! `dsco-lingxing bench faults`: the fault matrix. Per scenario: orders seeded at DSCO, the
//! scenario's far-side faults injected (or its engines killed, or two engines on one store), the
//! five order jobs run every simulated minute, the faults stopped after a few minutes together
//! with new orders arriving, and the jobs kept running until every order is settled (done,
//! cancelled, needs attention or held) or a bound passes. The verdict is counted from the
//! simulators' own records:
//!
//! - duplicates: LingXing orders beyond one per PO, tracking numbers DSCO holds twice on a PO,
//!   invoices beyond one per PO, ACKs DSCO accepted beyond one per PO;
//! - lost: orders DSCO has that never reached the store, or that are not done at the end (the
//!   seeded orders are plain ones that must all reach stage 5);
//! - converged, and the simulated time from the faults' end to the first check that found every
//!   order settled;
//! - every run ended within its timeout (simulated time) and no run was left open.
//!
//! # The driver
//!
//! Runs go through `Engine::run_job`, each on a task of its own. The simulated clock moves
//! whenever a running job sleeps on it (back-off, a held LingXing slot): a run in its job has two
//! sleepers of its own (its heartbeat and its timeout), so more than two per running run means a
//! job is waiting for time to pass. Hung far-side requests are cut by the clients' real-time
//! request timeout (short here, `Options::request_timeout`). Should every run stay busy without
//! sleeping for `STALL` of real time, time moves on anyway (counted as a stall): a run waiting on
//! something that never comes then ends by its timeout instead of hanging the matrix.
//!
//! The wiring is `demo::SimWorld` with `demo::app_on` for further engines on the same store
//! (a restart after a kill, a second process).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use clock::{Clock, SimClock};
use domain::{JobName, PoNumber, RunOutcome, Stage, Trigger};
use engine::{Engine, EngineSettings, RunOptions, RunResult};
use serde::Serialize;
use serde_json::json;
use sim::dsco::{Endpoint as DscoEndpoint, Fault as DscoFault, Generator};
use sim::lingxing::Fault as LxFault;
use store::StoreError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bench::{BenchDir, JOBS, Pace, fresh_sqlite};
use crate::demo::{SimWorld, Tuning, app_on, runtime_config, settled};

#[derive(Debug, clap::Args)]
pub struct FaultArgs {
    /// Orders seeded before the faults; as many again arrive when the faults stop.
    #[arg(long, default_value_t = 50)]
    pub orders: usize,
    /// `sqlite`, or a PostgreSQL server URL (a fresh database is made on it per scenario).
    /// Repeat for both; default `sqlite`, plus `TEST_DATABASE_URL` when it is set.
    #[arg(long = "store")]
    pub stores: Vec<String>,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only the scenarios whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Seed of the generated orders and of the faults' timing.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Where a scenario's store lives.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// A PostgreSQL server; every scenario gets a fresh database on it.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` names a server.
    pub fn from_env() -> Vec<Backend> {
        let mut v = vec![Backend::Sqlite];
        if let Some(url) = store::testing::postgres_base_url() {
            v.push(Backend::Postgres(url));
        }
        v
    }

    /// A store URL for one scenario, and the folder to remove afterwards (SQLite).
    pub(crate) async fn fresh(&self, tag: &str) -> Result<(String, Option<BenchDir>)> {
        Ok(match self {
            Backend::Sqlite => {
                let (url, dir) = fresh_sqlite(tag)?;
                (url, Some(dir))
            }
            Backend::Postgres(base) => (store::testing::fresh_postgres_database(base).await, None),
        })
    }
}

/// A fault put on one simulator endpoint.
#[derive(Debug, Clone)]
pub enum Injection {
    Dsco(DscoEndpoint, DscoFault, u32),
    /// A LingXing path, the fault, how many requests it applies to.
    Lingxing(&'static str, LxFault, u32),
}

/// How the engines run besides the faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One engine.
    Plain,
    /// Every job run in the fault window is aborted at a random point and a fresh engine (its
    /// own store pool and holder) takes over: the in-process analogue of `kill -9` and a restart.
    Kill,
    /// Two engines (two store pools, two holders) run every job at the same time.
    TwoProcesses,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub faults: Vec<Injection>,
    /// Every token of both simulators is expired this often (simulated time) during the first
    /// `TOKEN_EXPIRY_FOR` of the faults.
    pub expire_tokens_every: Option<Duration>,
    pub mode: Mode,
}

impl Scenario {
    fn new(name: impl Into<String>, faults: Vec<Injection>) -> Scenario {
        Scenario {
            name: name.into(),
            faults,
            expire_tokens_every: None,
            mode: Mode::Plain,
        }
    }
}

pub const LX_CREATE: &str = "/pb/mp/order/v2/create";
pub const LX_LIST: &str = "/pb/mp/order/v2/list";
pub const LX_WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";

/// The DSCO endpoints the order jobs call.
const DSCO_ENDPOINTS: [DscoEndpoint; 8] = [
    DscoEndpoint::Token,
    DscoEndpoint::OrderPage,
    DscoEndpoint::OrderGet,
    DscoEndpoint::Acknowledge,
    DscoEndpoint::ShipmentBatch,
    DscoEndpoint::InvoiceBatch,
    DscoEndpoint::OrderLog,
    DscoEndpoint::InvoiceLog,
];

fn dsco_name(e: DscoEndpoint) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{e:?}"))
}

fn lx_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The mixed burst of issue 13: apply-then-timeout twice on every write endpoint, 503 ×15 on
/// DSCO, 502 ×5 on LingXing create, 500 ×5 on the LingXing list, one hang each on DSCO's order
/// page, the LingXing list and `wmsOrderList`, 429 ×60 and 3001008 ×10 storms, every token
/// expired every 4 s (then new orders arrive as the faults stop).
pub fn mixed_burst() -> Scenario {
    use DscoEndpoint as D;
    let mut faults = Vec::new();
    for e in [D::Acknowledge, D::ShipmentBatch, D::InvoiceBatch] {
        faults.push(Injection::Dsco(e, DscoFault::ApplyThenTimeout, 2));
    }
    faults.push(Injection::Lingxing(LX_CREATE, LxFault::ApplyThenTimeout, 2));
    faults.push(Injection::Dsco(D::OrderPage, DscoFault::Hang, 1));
    faults.push(Injection::Lingxing(LX_LIST, LxFault::Hang, 1));
    faults.push(Injection::Lingxing(LX_WMS, LxFault::Hang, 1));
    faults.push(Injection::Lingxing(
        LX_CREATE,
        LxFault::HttpStatus { status: 502 },
        5,
    ));
    faults.push(Injection::Lingxing(
        LX_LIST,
        LxFault::HttpStatus { status: 500 },
        5,
    ));
    for p in [LX_LIST, LX_WMS, LX_CREATE] {
        faults.push(Injection::Lingxing(p, LxFault::ThrottleStorm, 10));
    }
    // DSCO picks the first live rule of an endpoint or of `*`: the endpoint rules above go first.
    faults.push(Injection::Dsco(
        D::Any,
        DscoFault::HttpStatus { status: 503 },
        15,
    ));
    faults.push(Injection::Dsco(D::Any, DscoFault::ThrottleStorm, 60));
    Scenario {
        name: "mixed burst".into(),
        faults,
        expire_tokens_every: Some(Duration::from_secs(4)),
        mode: Mode::Plain,
    }
}

pub fn kill() -> Scenario {
    Scenario {
        mode: Mode::Kill,
        ..Scenario::new("kill in every job", vec![])
    }
}

pub fn two_processes() -> Scenario {
    Scenario {
        mode: Mode::TwoProcesses,
        ..Scenario::new("two processes", vec![])
    }
}

pub fn token_expiry() -> Scenario {
    Scenario {
        expire_tokens_every: Some(Duration::from_secs(4)),
        ..Scenario::new("tokens expire every 4 s", vec![])
    }
}

/// Every fault kind the simulators support on every endpoint the order jobs use, then the
/// mixed burst, token expiry, kills and two processes.
pub fn full_matrix() -> Vec<Scenario> {
    let mut v = vec![Scenario::new("no faults", vec![])];
    let dsco_kinds: [(&str, DscoFault, u32); 6] = [
        ("latency 300 ms", DscoFault::Latency { ms: 300 }, 5),
        ("503", DscoFault::HttpStatus { status: 503 }, 15),
        ("500", DscoFault::HttpStatus { status: 500 }, 5),
        ("hang", DscoFault::Hang, 2),
        ("apply then timeout", DscoFault::ApplyThenTimeout, 2),
        ("429 storm", DscoFault::ThrottleStorm, 60),
    ];
    for e in DSCO_ENDPOINTS {
        for (label, f, n) in &dsco_kinds {
            // The token endpoint applies nothing: "apply then timeout" is a hang there.
            if e == DscoEndpoint::Token && matches!(f, DscoFault::ApplyThenTimeout) {
                continue;
            }
            v.push(Scenario::new(
                format!("DSCO {} {label} ×{n}", dsco_name(e)),
                vec![Injection::Dsco(e, f.clone(), *n)],
            ));
        }
    }
    let lx_kinds: [(&str, LxFault, u32); 6] = [
        ("latency 300 ms", LxFault::Latency { ms: 300 }, 5),
        ("3001008 storm", LxFault::ThrottleStorm, 10),
        (
            "code 500",
            LxFault::ErrorCode {
                code: "500".into(),
                message: String::new(),
            },
            5,
        ),
        ("502", LxFault::HttpStatus { status: 502 }, 5),
        ("hang", LxFault::Hang, 2),
        ("apply then timeout", LxFault::ApplyThenTimeout, 2),
    ];
    for p in [LX_CREATE, LX_LIST, LX_WMS] {
        for (label, f, n) in &lx_kinds {
            v.push(Scenario::new(
                format!("LingXing {} {label} ×{n}", lx_name(p)),
                vec![Injection::Lingxing(p, f.clone(), *n)],
            ));
        }
    }
    v.push(token_expiry());
    v.push(mixed_burst());
    v.push(kill());
    v.push(two_processes());
    v
}

/// What `cargo test` runs: the mixed burst, a kill scenario, two processes and a write that
/// applied but timed out on each side.
pub fn reduced_matrix() -> Vec<Scenario> {
    vec![
        mixed_burst(),
        kill(),
        two_processes(),
        Scenario::new(
            "LingXing create apply then timeout ×2",
            vec![Injection::Lingxing(LX_CREATE, LxFault::ApplyThenTimeout, 2)],
        ),
    ]
}

/// Sizes and bounds of a matrix run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Orders at DSCO before the faults.
    pub orders: usize,
    /// Orders arriving when the faults stop.
    pub new_orders: usize,
    pub seed: u64,
    /// Real-time request timeout of both clients: what a hang costs.
    pub request_timeout: Duration,
    /// Simulated minutes the faults last (one job round a minute).
    pub fault_minutes: i64,
    /// Simulated minutes after the faults within which every order must be settled.
    pub bound_minutes: i64,
    /// Each job's `timeout` in the runtime config.
    pub run_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            orders: 50,
            new_orders: 50,
            seed: 7,
            request_timeout: Duration::from_secs(2),
            fault_minutes: 10,
            bound_minutes: 240,
            run_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub store: &'static str,
    pub orders: usize,
    pub duplicates: usize,
    /// What the duplicates were, per PO.
    pub duplicate_detail: Vec<String>,
    pub lost: usize,
    /// The lost orders, with their stage and reason.
    pub lost_detail: Vec<String>,
    pub converged: bool,
    /// Simulated seconds from the faults' end to every order settled.
    pub converge_secs: Option<i64>,
    pub runs: usize,
    pub timed_out: usize,
    /// The longest run, simulated seconds.
    pub longest_run_secs: i64,
    /// Runs that lasted longer than their timeout, or were never closed.
    pub overran: usize,
    /// Times the driver moved time on because every run stayed busy without sleeping.
    pub stalls: usize,
    /// Kills that landed inside a run (Kill mode).
    pub kills: usize,
    pub wall_secs: f64,
}

impl Row {
    /// Everything the matrix promises: no duplicate, nothing lost, converged, every run ended by
    /// itself within its timeout (none stopped by it).
    pub fn ok(&self) -> bool {
        self.duplicates == 0
            && self.lost == 0
            && self.converged
            && self.overran == 0
            && self.timed_out == 0
    }
}

/// How long tokens keep expiring in a scenario that expires them (the burst did it
/// for two minutes; the storms outlasted it).
const TOKEN_EXPIRY_FOR: TimeDelta = TimeDelta::minutes(2);

/// Real time every run may stay busy without sleeping on the clock before time moves on anyway.
const STALL: Duration = Duration::from_secs(20);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// A small deterministic generator for kill points (the real timing varies anyway).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

type RunTask = JoinHandle<Result<RunResult, StoreError>>;

/// Moves the simulated clock for the runs it drives, and expires tokens while asked to.
struct Driver<'a> {
    sim: &'a SimClock,
    world: &'a SimWorld,
    expire_every: Option<TimeDelta>,
    last_expiry: DateTime<Utc>,
    stalls: usize,
}

impl Driver<'_> {
    fn advance_to(&mut self, t: DateTime<Utc>) {
        self.sim.advance_to(t);
        if let Some(every) = self.expire_every {
            let now = self.sim.now();
            if now >= t0() + TOKEN_EXPIRY_FOR {
                self.expire_every = None;
            } else if now - self.last_expiry >= every {
                self.world.dsco.expire_tokens();
                self.world.lx.expire_token();
                self.last_expiry = now;
            }
        }
    }

    /// Waits for `runs` to end, moving time whenever one sleeps on the clock. With `kill_after`,
    /// aborts them after that much real time; returns how many were still running then.
    async fn drive(&mut self, runs: &[RunTask], kill_after: Option<Duration>) -> usize {
        let started = Instant::now();
        let mut busy_since = Instant::now();
        loop {
            let active = runs.iter().filter(|h| !h.is_finished()).count();
            if active == 0 {
                return 0;
            }
            if kill_after.is_some_and(|k| started.elapsed() >= k) {
                for h in runs {
                    h.abort();
                }
                return active;
            }
            let own = 2 * active;
            if self.sim.sleepers() > own {
                if let Some(d) = self.sim.next_deadline() {
                    self.advance_to(d);
                }
                busy_since = Instant::now();
            } else if busy_since.elapsed() >= STALL {
                self.stalls += 1;
                if let Some(d) = self.sim.next_deadline() {
                    self.advance_to(d);
                }
                busy_since = Instant::now();
            }
            let wait = self.sim.wait_for_sleepers(own + 1);
            let _ = tokio::time::timeout(Duration::from_millis(2), wait).await;
        }
    }
}

fn spawn_run(engine: &Arc<Engine>, job: JobName) -> RunTask {
    let engine = engine.clone();
    tokio::spawn(async move {
        let (_tx, rx) = watch::channel(false);
        engine
            .run_job(job, Trigger::Cli, RunOptions::default(), rx)
            .await
    })
}

/// Runs one scenario on one backend.
pub async fn run_scenario(sc: &Scenario, backend: &Backend, opts: &Options) -> Result<Row> {
    let wall = Instant::now();
    let clock = Clock::simulated(t0());
    let sim = clock.sim().ok_or_else(|| anyhow!("simulated clock"))?;
    let (url, _dir) = backend.fresh("faults").await?;
    let store = engine::startup::connect(&url).await?;
    // No splits: one LingXing order per PO is then the whole truth, and more is a duplicate.
    let (dsco_cfg, lx_cfg) = Pace {
        async_delay: Duration::from_secs(30),
        audit: (60, 180),
        ship: (120, 600),
        split: 0.0,
        partial: 0.2,
        intercept: 0.0,
        seed: opts.seed,
    }
    .configs();
    let timeout = format!("{}s", opts.run_timeout.as_secs());
    let per_job: serde_json::Map<String, serde_json::Value> = JOBS
        .iter()
        .map(|j| (j.to_string(), json!({"timeout": timeout})))
        .collect();
    let config = runtime_config("0 * * * * *", 500, &serde_json::Value::Object(per_job))?;
    let tuning = Tuning {
        request_timeout: Some(opts.request_timeout),
        engine: EngineSettings::default(),
        ..Tuning::default()
    };
    let w = SimWorld::start_on(
        None,
        clock.clone(),
        store,
        dsco_cfg,
        lx_cfg,
        &config,
        &tuning,
    )
    .await?;

    let mut generator = Generator::new(opts.seed);
    let mut pos: Vec<String> = Vec::new();
    let mut seed_orders = |n: usize, pos: &mut Vec<String>| -> Result<()> {
        for _ in 0..n {
            let mut spec = generator.order(&[]);
            spec.created_at = Some(clock.now() - TimeDelta::minutes(1));
            let v = w.dsco.add_order(spec).map_err(|e| anyhow!("{e}"))?;
            pos.push(v["poNumber"].as_str().unwrap_or_default().to_owned());
        }
        Ok(())
    };
    seed_orders(opts.orders, &mut pos)?;
    for f in &sc.faults {
        match f {
            Injection::Dsco(e, fault, n) => w.dsco.inject_fault(*e, fault.clone().times(*n)),
            Injection::Lingxing(p, fault, n) => w.lx.inject_fault(p, fault.clone(), Some(*n)),
        }
    }

    let mut engines = vec![w.app.engine().clone()];
    let mut restarts = 0usize;
    let mut new_engine = |tag: &str| {
        let (url, w, clock, tuning) = (url.clone(), &w, clock.clone(), tuning.clone());
        let holder = format!("{tag}-{restarts}");
        restarts += 1;
        async move {
            let store = engine::startup::connect(&url).await?;
            let app = app_on(&w.dsco, &w.lx, clock, store, &holder, &tuning)?;
            Ok::<_, anyhow::Error>(app.engine().clone())
        }
    };
    if sc.mode == Mode::TwoProcesses {
        engines.push(new_engine("second").await?);
    }
    let mut driver = Driver {
        sim,
        world: &w,
        expire_every: sc.expire_tokens_every.map(clock::to_delta),
        last_expiry: clock.now(),
        stalls: 0,
    };
    let mut rng = XorShift(opts.seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut kills = 0;
    let fault_end = t0() + TimeDelta::minutes(opts.fault_minutes);
    let bound = fault_end + TimeDelta::minutes(opts.bound_minutes);
    let mut faults_on = true;
    let mut converged_at = None;
    let mut tick = 0;
    loop {
        tick += 1;
        let at = t0() + TimeDelta::minutes(tick);
        if at > bound {
            break;
        }
        driver.advance_to(at);
        if faults_on && clock.now() >= fault_end {
            faults_on = false;
            w.dsco.clear_faults();
            w.lx.clear_faults();
            seed_orders(opts.new_orders, &mut pos)?;
        }
        for job in JOBS {
            let runs: Vec<RunTask> = engines.iter().map(|e| spawn_run(e, job)).collect();
            if sc.mode == Mode::Kill && faults_on {
                let after = Duration::from_millis(rng.next() % 40);
                if driver.drive(&runs, Some(after)).await > 0 {
                    kills += 1;
                    // The killed process's store pool goes with it; a new one starts.
                    engines = vec![new_engine("restarted").await?];
                    let now = clock.now();
                    engines[0].store().close_orphan_runs(now).await?;
                }
            } else {
                driver.drive(&runs, None).await;
            }
            for r in runs {
                match r.await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => bail!("{}: {job}: {e}", sc.name),
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => bail!("{}: {job} panicked: {e}", sc.name),
                }
            }
        }
        if !faults_on {
            let ps = parse_pos(&pos)?;
            let orders = w.store.orders_by_po(&ps).await?;
            if orders.len() == ps.len() && orders.iter().all(settled) {
                converged_at = Some(clock.now());
                break;
            }
        }
    }
    // A killed run's record stays open until its lease expires; close what is orphaned now.
    sim.advance(Duration::from_secs(61));
    w.store.close_orphan_runs(clock.now()).await?;

    let ps = parse_pos(&pos)?;
    let (duplicates, duplicate_detail) = count_duplicates(&w, &pos);
    let orders = w.store.orders_by_po(&ps).await?;
    let by_po: BTreeMap<&str, &store::OrderRecord> =
        orders.iter().map(|o| (o.pulled.po.as_str(), o)).collect();
    let mut lost_detail = Vec::new();
    for po in &pos {
        match by_po.get(po.as_str()) {
            None => lost_detail.push(format!("{po}: never pulled")),
            Some(o) if o.stage != Stage::Done => lost_detail.push(format!(
                "{po}: stage {} {}",
                o.stage.number(),
                o.reason
                    .as_ref()
                    .map(|r| format!("{} {}", r.code, r.detail))
                    .unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    let runs = w.store.list_runs(None, 1_000_000).await?;
    let mut longest = 0;
    let mut overran = 0;
    let mut timed_out = 0;
    for r in &runs {
        if r.outcome == RunOutcome::TimedOut {
            timed_out += 1;
        }
        // Killed runs are closed when their lease is found expired, not by themselves.
        let killed = r
            .error
            .as_deref()
            .is_some_and(|e| e.contains("crash or kill"));
        match r.ended_at {
            Some(_) if killed => {}
            Some(end) => {
                let secs = (end - r.started_at).num_seconds();
                longest = longest.max(secs);
                if secs > opts.run_timeout.as_secs() as i64 {
                    overran += 1;
                }
            }
            None => overran += 1,
        }
    }
    Ok(Row {
        scenario: sc.name.clone(),
        store: backend.name(),
        orders: pos.len(),
        duplicates,
        duplicate_detail,
        lost: lost_detail.len(),
        lost_detail,
        converged: converged_at.is_some(),
        converge_secs: converged_at.map(|t| (t - fault_end).num_seconds()),
        runs: runs.len(),
        timed_out,
        longest_run_secs: longest,
        overran,
        stalls: driver.stalls,
        kills,
        wall_secs: wall.elapsed().as_secs_f64(),
    })
}

fn parse_pos(pos: &[String]) -> Result<Vec<PoNumber>> {
    pos.iter()
        .map(|p| PoNumber::parse(p).map_err(|e| anyhow!("{p}: {e}")))
        .collect()
}

/// Duplicates as the simulators recorded them.
fn count_duplicates(w: &SimWorld, pos: &[String]) -> (usize, Vec<String>) {
    let mut n = 0;
    let mut detail = Vec::new();
    for po in pos {
        let lx = w.lx.orders_for(po).len();
        if lx > 1 {
            n += lx - 1;
            detail.push(format!("{po}: {lx} LingXing orders"));
        }
        let packages = w.dsco.shipments_for(po);
        let distinct: BTreeSet<&str> = packages
            .iter()
            .map(|p| p.tracking_number.as_str())
            .collect();
        if packages.len() > distinct.len() {
            n += packages.len() - distinct.len();
            detail.push(format!(
                "{po}: {} shipments for {} tracking numbers",
                packages.len(),
                distinct.len()
            ));
        }
        let invoices = w.dsco.invoices_for(po).len();
        if invoices > 1 {
            n += invoices - 1;
            detail.push(format!("{po}: {invoices} invoices"));
        }
        let acks = w.dsco.acks_for(po).len();
        if acks > 1 {
            n += acks - 1;
            detail.push(format!("{po}: {acks} ACKs accepted"));
        }
    }
    (n, detail)
}

/// Runs `scenarios` on every backend, one after the other.
pub async fn run_matrix(
    scenarios: &[Scenario],
    backends: &[Backend],
    opts: &Options,
    progress: bool,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for b in backends {
        for sc in scenarios {
            let row = run_scenario(sc, b, opts).await?;
            if progress {
                eprintln!(
                    "  {:<8} {:<50} {}",
                    row.store,
                    row.scenario,
                    if row.ok() { "ok" } else { "FAILED" }
                );
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The table: scenario, store, orders, duplicates, lost, converged, time to converge, and the
/// run figures behind "every run ends within its timeout".
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | store | orders | duplicates | lost | converged | time to converge | runs | timed out | longest run |\n\
         |---|---|---:|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} s |\n",
            r.scenario,
            r.store,
            r.orders,
            r.duplicates,
            r.lost,
            if r.converged { "yes" } else { "no" },
            r.converge_secs
                .map(|s| format!("{} min", (s + 59) / 60))
                .unwrap_or_else(|| "—".into()),
            r.runs,
            r.timed_out,
            r.longest_run_secs,
        ));
    }
    out
}

/// `dsco-lingxing bench faults`.
pub async fn run(args: FaultArgs) -> Result<ExitCode> {
    let backends: Vec<Backend> = if args.stores.is_empty() {
        Backend::from_env()
    } else {
        args.stores
            .iter()
            .map(|s| match s.as_str() {
                "sqlite" => Ok(Backend::Sqlite),
                u if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                    Ok(Backend::Postgres(u.to_owned()))
                }
                other => Err(anyhow!(
                    "--store {other}: expected `sqlite` or a postgres:// server URL"
                )),
            })
            .collect::<Result<_>>()?
    };
    let scenarios: Vec<Scenario> = full_matrix()
        .into_iter()
        .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
        .collect();
    if scenarios.is_empty() {
        bail!("--only matches no scenario");
    }
    let opts = Options {
        orders: args.orders,
        new_orders: args.orders,
        seed: args.seed,
        ..Options::default()
    };
    eprintln!(
        "fault matrix: {} scenarios × {} stores, {} + {} orders each",
        scenarios.len(),
        backends.len(),
        opts.orders,
        opts.new_orders
    );
    let rows = run_matrix(&scenarios, &backends, &opts, true).await?;
    print!("{}", table(&rows));
    for r in rows.iter().filter(|r| !r.ok()) {
        println!("\n{} ({}):", r.scenario, r.store);
        for d in r.duplicate_detail.iter().chain(&r.lost_detail).take(20) {
            println!("  {d}");
        }
        if r.overran > 0 {
            println!(
                "  {} runs overran their timeout or were left open",
                r.overran
            );
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(if rows.iter().all(Row::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
