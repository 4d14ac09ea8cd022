//! `dsco-lingxing bench`: a simulated day on the simulated clock, the figures the README quotes.
//!
//! Orders arrive at DSCO evenly over the first hours; LingXing audits each 1–6 h after creation
//! and ships it 4–30 h later (some split, some in two packages, a few intercepted); the five order
//! jobs run every 15 minutes. The day is run twice, with and without orders, so the marginal cost
//! of an order is `(calls with N − calls with none) / N`. Then, at zero latency (LingXing audits
//! and ships at once, DSCO confirms at once), N orders are driven through every stage and timed.
//!
//! Jobs are started through `Engine::run_job` at each 15-minute mark in pipeline order, which is
//! what the scheduler does with staggered crons, without depending on task wake-up order.
//!
//! `DSCO_LINGXING_BENCH_RUNS=1` prints each run's counts and, in the zero-latency part, each
//! run's engine CPU time (on standard error).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use clock::Clock;
use domain::{JobName, PoNumber, RunOutcome, Stage, Trigger};
use engine::{RunOptions, RunResult};
use serde_json::json;
use sim::dsco::{DscoSimConfig, Endpoint, Generator};
use sim::lingxing::{DelayRange, LingxingSimConfig};
use store::{IntentKind, Store};
use tokio::sync::watch;

use crate::bench_faults::Backend;
use crate::bench_report::{ClientCounts, Report, Statements, Tally, Target};
use crate::demo::{SimWorld, runtime_config};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Orders arriving over the arrival window.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    #[command(flatten)]
    pub day: DayShape,
    /// Skip the zero-latency run.
    #[arg(long)]
    pub no_zero_latency: bool,
    /// Run only the zero-latency part (engine speed, per job).
    #[arg(long, conflicts_with = "no_zero_latency")]
    pub zero_latency_only: bool,
    /// Times the zero-latency part runs (each on a fresh store); its engine CPU figure is the
    /// least of them, as a busy or throttled machine only ever adds time.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
    /// Also write the table of figures as JSON to this file (for `bench compare`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Also run the day and the zero-latency part on this PostgreSQL server (a fresh database
    /// for each run; e.g. `postgres://postgres@127.0.0.1:5432/postgres`), and compare the
    /// engine CPU and the statements per order with SQLite's.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

/// The simulated day's shape, shared by `bench day` and `bench scale`.
#[derive(Debug, clap::Args)]
pub struct DayShape {
    /// Hours over which the orders arrive.
    #[arg(long, default_value_t = 8)]
    pub arrival_hours: i64,
    /// Simulated hours to run (long enough for the slowest order to finish).
    #[arg(long, default_value_t = 48)]
    pub hours: i64,
    /// Seed of the orders and of LingXing's choices.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// The five order jobs, in pipeline order.
pub(crate) const JOBS: [JobName; 5] = [
    JobName::PullDscoOrders,
    JobName::PushToLingxing,
    JobName::AckToDsco,
    JobName::ShipToDsco,
    JobName::InvoiceToDsco,
];

const DSCO_ENDPOINTS: [Endpoint; 14] = [
    Endpoint::Token,
    Endpoint::Hello,
    Endpoint::OrderPage,
    Endpoint::OrderGet,
    Endpoint::Acknowledge,
    Endpoint::ShipmentBatch,
    Endpoint::SingleShipment,
    Endpoint::InvoicePost,
    Endpoint::InvoiceBatch,
    Endpoint::InvoiceGet,
    Endpoint::InventoryBatch,
    Endpoint::OrderLog,
    Endpoint::InvoiceLog,
    Endpoint::InventoryLog,
];

const LX_PATHS: [&str; 11] = [
    "/api/auth-server/oauth/access-token",
    "/api/auth-server/oauth/refresh",
    "/pb/mp/order/v2/create",
    "/pb/mp/order/v2/list",
    "/pb/mp/order/v2/cancelOrder",
    "/pb/mp/listing/v2/getPairList",
    "/pb/mp/shop/v2/getSellerList",
    "/erp/sc/routing/wms/order/wmsOrderList",
    "/erp/sc/routing/data/local_inventory/inventoryDetails",
    "/erp/sc/data/local_inventory/warehouse",
    "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType",
];

pub(crate) const TICK: TimeDelta = TimeDelta::minutes(15);
const DSCO_ASYNC: TimeDelta = TimeDelta::seconds(30);

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status_value(&s, "VmHWM")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The value of `key` in a /proc `status` text (`key:\tvalue`), trimmed.
pub(crate) fn status_value<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// A /proc `stat` line split into the thread's name (`comm`, which may hold spaces and
/// parentheses) and the fields after it: field N of proc(5) is at index N − 3.
fn stat_fields(stat: &str) -> Option<(&str, Vec<&str>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let rest = stat.get(close + 2..)?;
    Some((&stat[open + 1..close], rest.split_whitespace().collect()))
}

/// The pace of the simulated far sides: DSCO's async delay and LingXing's audit and ship
/// delays (seconds) and rates of splits, partial shipments and interceptions. Simulator rate
/// limits are off (the clients do not pace either).
pub(crate) struct Pace {
    pub async_delay: Duration,
    pub audit: (u64, u64),
    pub ship: (u64, u64),
    pub split: f64,
    pub partial: f64,
    pub intercept: f64,
    pub seed: u64,
}

impl Pace {
    pub(crate) fn configs(&self) -> (DscoSimConfig, LingxingSimConfig) {
        let range = |(min_secs, max_secs)| DelayRange { min_secs, max_secs };
        (
            DscoSimConfig {
                async_delay: self.async_delay,
                rate_limits: false,
                ..DscoSimConfig::default()
            },
            LingxingSimConfig {
                auto: true,
                audit_delay: range(self.audit),
                ship_delay: range(self.ship),
                split_rate: self.split,
                partial_shipment_rate: self.partial,
                interception_rate: self.intercept,
                rng_seed: self.seed,
                ..LingxingSimConfig::default()
            },
        )
    }
}

/// A benchmark's database folder, removed when the run that made it ends.
pub(crate) struct BenchDir(std::path::PathBuf);

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The URL of a SQLite store in a fresh folder, and the folder (removed when dropped).
pub(crate) fn fresh_sqlite(tag: &str) -> Result<(String, BenchDir)> {
    let dir = std::env::temp_dir().join(format!(
        "dsco-lingxing-bench-{}-{tag}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok((
        format!("sqlite://{}/bench.db", dir.display()),
        BenchDir(dir),
    ))
}

/// Unique enough for folder names of one process: the time in nanoseconds and a counter.
fn uuid_like() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{}-{n}",
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

async fn fresh_store(backend: &Backend, tag: &str) -> Result<(Arc<dyn Store>, Option<BenchDir>)> {
    let (url, dir) = backend.fresh(tag).await?;
    Ok((engine::startup::connect(&url).await?, dir))
}

/// The store's name as the tables print it.
fn backend_label(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres(_) => "PostgreSQL",
    }
}

pub(crate) async fn run_job(app: &engine::startup::Application, job: JobName) -> Result<()> {
    let (_tx, rx) = watch::channel(false);
    match app
        .engine()
        .run_job(job, Trigger::Cli, RunOptions::default(), rx)
        .await?
    {
        RunResult::Ran {
            outcome: RunOutcome::Succeeded,
            counts,
            ..
        } => {
            if std::env::var_os("DSCO_LINGXING_BENCH_RUNS").is_some() {
                eprintln!("{job}: {counts:?}");
            }
            Ok(())
        }
        other => Err(anyhow!("{job}: {other:?}")),
    }
}

pub(crate) type Calls = BTreeMap<String, u64>;

/// Calls per endpoint as the simulators counted them.
pub(crate) fn sim_calls(w: &SimWorld) -> Calls {
    sim_calls_of(&w.dsco, &w.lx)
}

/// Calls per endpoint as these simulators counted them.
pub(crate) fn sim_calls_of(dsco: &sim::dsco::DscoSim, lx: &sim::lingxing::LingxingSim) -> Calls {
    let mut c = Calls::new();
    for e in DSCO_ENDPOINTS {
        let n = dsco.calls(e);
        if n > 0 {
            c.insert(
                format!(
                    "DSCO {}",
                    serde_json::to_value(e)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?")
                ),
                n,
            );
        }
    }
    for p in LX_PATHS {
        let n = lx.calls(p);
        if n > 0 {
            c.insert(format!("LingXing {p}"), n);
        }
    }
    c
}

struct Day {
    world: SimWorld,
    /// Dropped after `world`.
    _sims: SimRuntime,
    pos: Vec<String>,
    calls: Calls,
    /// What the clients counted over the day (requests sent, limit waits).
    client: ClientCounts,
    runs: u64,
    wall: Duration,
    /// SQL statements the store ran over the day (`None` when they could not be counted).
    statements: Option<u64>,
    /// Engine CPU seconds over the day (the simulators' threads left out), where reported.
    cpu: Option<f64>,
}

/// One simulated day: `n` orders over `arrival_hours`, jobs every 15 minutes for `hours`.
async fn simulated_day(args: &BenchArgs, n: usize, backend: &Backend) -> Result<Day> {
    let tally = Tally::global()?;
    let client_before = tally.read();
    let clock = Clock::simulated(t0());
    let (store, _dir) = fresh_store(backend, &format!("day{n}")).await?;
    let (dsco_cfg, lx_cfg) = day_pace(args.day.seed).configs();
    let config = day_config(1000)?;
    let (sims, w) = world_on_own_threads(&clock, store, dsco_cfg, lx_cfg, &config).await?;
    let mut arrivals = Arrivals::new(n, args.day.arrival_hours, args.day.seed);
    let statements_before = Statements::counting(true);
    let cpu_before = cpu_seconds();
    let mut pos = Vec::with_capacity(n);
    let mut runs = 0;
    let started = Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let ticks = args.day.hours * 4;
    for tick in 1..=ticks {
        let now = t0() + TICK * tick as i32;
        pos.extend(arrivals.until(now, &clock, &w.dsco)?);
        for job in JOBS {
            run_job(&w.app, job).await?;
            runs += 1;
        }
        if tick % 16 == 0 {
            let counts = w.store.count_by_stage().await?;
            let line = format!(
                "  simulated {:>2} h, wall {:>5.1} s: {}",
                tick / 4,
                started.elapsed().as_secs_f64(),
                Stage::ALL
                    .iter()
                    .map(|s| format!("{}:{}", s.number(), counts.get(s).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            progress(&line, tty);
        }
    }
    if tty {
        eprintln!();
    }
    let wall = started.elapsed();
    let cpu = engine_cpu(cpu_before, cpu_seconds());
    let statements = Statements::read().map(|n| n - statements_before);
    Statements::counting(false);
    Ok(Day {
        client: tally.read().since(&client_before),
        calls: sim_calls(&w),
        world: w,
        _sims: sims,
        pos,
        runs,
        wall,
        statements,
        cpu,
    })
}

/// The day's orders arriving at DSCO evenly over the arrival window, each at its own minute.
pub(crate) struct Arrivals {
    n: usize,
    window: TimeDelta,
    generator: Generator,
    next: usize,
}

impl Arrivals {
    pub(crate) fn new(n: usize, arrival_hours: i64, seed: u64) -> Arrivals {
        Arrivals {
            n,
            window: TimeDelta::hours(arrival_hours),
            generator: Generator::new(seed),
            next: 0,
        }
    }

    fn at(&self, i: usize) -> DateTime<Utc> {
        t0() + self.window * (i as i32) / (self.n.max(1) as i32)
    }

    /// Adds to `dsco` every order arriving up to `now`, moving `clock` to each one's arrival,
    /// then to `now`; the POs added, in order.
    pub(crate) fn until(
        &mut self,
        now: DateTime<Utc>,
        clock: &Clock,
        dsco: &sim::dsco::DscoSim,
    ) -> Result<Vec<String>> {
        let sim = clock.sim().ok_or_else(|| anyhow!("simulated clock"))?;
        let mut pos = Vec::new();
        while self.next < self.n && self.at(self.next) <= now {
            let at = self.at(self.next);
            sim.advance_to(at.max(clock.now()));
            let mut spec = self.generator.order(&[]);
            spec.created_at = Some(at);
            let v = dsco.add_order(spec).map_err(|e| anyhow!("{e}"))?;
            pos.push(v["poNumber"].as_str().unwrap_or_default().to_string());
            self.next += 1;
        }
        sim.advance_to(now);
        Ok(pos)
    }
}

/// The far sides' pace over the simulated day.
pub(crate) fn day_pace(seed: u64) -> Pace {
    Pace {
        async_delay: DSCO_ASYNC.to_std().unwrap_or_default(),
        audit: (3600, 6 * 3600),
        ship: (4 * 3600, 30 * 3600),
        split: 0.05,
        partial: 0.05,
        intercept: 0.01,
        seed,
    }
}

/// The runtime config of the simulated day: the five jobs every 15 minutes, `size` orders a run.
pub(crate) fn day_config(size: u32) -> Result<domain::RuntimeConfig> {
    runtime_config("0 */15 * * * *", size, &json!({}))
}

/// The simulators on a runtime of their own (so that their CPU time can be told apart) and the
/// engine on `store`.
async fn world_on_own_threads(
    clock: &Clock,
    store: Arc<dyn Store>,
    dsco_cfg: DscoSimConfig,
    lx_cfg: LingxingSimConfig,
    config: &domain::RuntimeConfig,
) -> Result<(SimRuntime, SimWorld)> {
    let sims = sim_runtime()?;
    let w = SimWorld::start_on(
        Some(sims.handle()),
        clock.clone(),
        store,
        dsco_cfg,
        lx_cfg,
        config,
        &crate::demo::Tuning::default(),
    )
    .await?;
    Ok((sims, w))
}

/// A runtime of one thread named `SIM_THREADS…` for the simulators.
fn sim_runtime() -> Result<SimRuntime> {
    Ok(SimRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("{SIM_THREADS}rt"))
            .enable_all()
            .build()?,
    )))
}

/// The simulators' runtime, shut down in the background when dropped (dropping a runtime
/// inside another one's task would panic).
struct SimRuntime(Option<tokio::runtime::Runtime>);

impl SimRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for SimRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

#[derive(Default)]
struct Stats(Vec<f64>);

impl Stats {
    /// Percentage of samples at most `lim`; `None` without samples.
    fn within(&self, lim: f64) -> Option<f64> {
        (!self.0.is_empty()).then(|| {
            100.0 * self.0.iter().filter(|x| **x <= lim).count() as f64 / self.0.len() as f64
        })
    }
    fn push(&mut self, d: TimeDelta) {
        self.0.push(d.num_milliseconds() as f64 / 60_000.0);
    }
    fn line(&mut self, name: &str, first_run_within: Option<f64>) -> String {
        if self.0.is_empty() {
            return format!("  {name:<52} no samples");
        }
        self.0.sort_by(|a, b| a.total_cmp(b));
        let v = &self.0;
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let within = first_run_within
            .map(|lim| {
                let k = v.iter().filter(|x| **x <= lim).count();
                format!(
                    ", in the first run after: {:.1} %",
                    100.0 * k as f64 / v.len() as f64
                )
            })
            .unwrap_or_default();
        format!(
            "  {name:<52} n {:>6}  mean {mean:>6.1}  p50 {:>6.1}  p95 {:>6.1}  max {:>6.1} min{within}",
            v.len(),
            q(0.5),
            q(0.95),
            v[v.len() - 1]
        )
    }
}

/// Delays and time-in-stage from the simulators' ground truth and the orders' timelines.
async fn delays(day: &Day, report: &mut Report) -> Result<()> {
    let w = &day.world;
    let first_run = TICK.num_minutes() as f64 + 0.01;
    let (mut ack_sub, mut ack_adv) = (Stats::default(), Stats::default());
    let (mut ship_sub, mut ship_adv) = (Stats::default(), Stats::default());
    let (mut inv_sub, mut inv_adv) = (Stats::default(), Stats::default());
    let mut in_stage: BTreeMap<Stage, Stats> = BTreeMap::new();
    // The runs (15-minute ticks from the day's start) that had a package to send (the first at or
    // after it left LingXing) and those that sent one: with every shipment in the first run after
    // it left, no ship job sends in fewer runs, each run a `wmsOrderList`, a shipment, an invoice
    // and an invoice log call.
    let (mut left_in, mut sent_in) = (BTreeSet::new(), BTreeSet::new());
    let tick = TICK.num_seconds();
    let slot = |t: DateTime<Utc>, up: bool| {
        let s = (t - t0()).num_seconds();
        if up {
            -(-s).div_euclid(tick)
        } else {
            s.div_euclid(tick)
        }
    };
    let pos = day
        .pos
        .iter()
        .map(|po| PoNumber::parse(po).map_err(|e| anyhow!("{po}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let all_intents = w.store.intents_of(&pos, &IntentKind::ALL).await?;
    for p in &pos {
        let po = p.as_str();
        let events = w.store.order_events(p).await?;
        let entered = |s: Stage| {
            events
                .iter()
                .find(|e| e.event.to_stage == Some(s))
                .map(|e| e.event.at)
        };
        let mut stage_times: Vec<(Stage, DateTime<Utc>)> = Stage::ALL
            .iter()
            .filter_map(|s| entered(*s).map(|t| (*s, t)))
            .collect();
        stage_times.sort_by_key(|(_, t)| *t);
        for pair in stage_times.windows(2) {
            in_stage
                .entry(pair[0].0)
                .or_default()
                .push(pair[1].1 - pair[0].1);
        }
        // ACK: LingXing audited every order of the PO → ACK submitted → confirmed → stage 3.
        // Submission times from the intents (DSCO records a write when it applies it, 30 s later).
        let intents = all_intents.get(p).map(Vec::as_slice).unwrap_or_default();
        let submitted_at = |kind: IntentKind, key: &str| {
            intents
                .iter()
                .find(|i| i.kind == kind && i.key == key)
                .map(|i| i.created_at)
        };
        let lx = w.lx.orders_for(po);
        let audited = lx.iter().map(|o| o.review_time).collect::<Option<Vec<_>>>();
        let acks = w.dsco.acks_for(po);
        if let (Some(audited), Some(ack), Some(sent)) = (
            audited.and_then(|a| a.into_iter().max()),
            acks.first(),
            submitted_at(IntentKind::Ack, po),
        ) {
            ack_sub.push(sent - audited);
            if let Some(t) = entered(Stage::Acknowledged) {
                ack_adv.push(t - ack.at);
            }
        }
        // Shipments: each package left the warehouse → sent to DSCO.
        let outbounds = w.lx.outbounds_for(po);
        let shipments = w.dsco.shipments_for(po);
        for s in &shipments {
            if let Some(d) = outbounds
                .iter()
                .find(|o| o.tracking_no == s.tracking_number)
                .and_then(|o| o.delivered_at)
                && let Some(sent) = submitted_at(IntentKind::Shipment, &s.tracking_number)
            {
                ship_sub.push(sent - d);
                left_in.insert(slot(d, true));
                sent_in.insert(slot(sent, false));
            }
        }
        if let (Some(first_ship), Some(t)) = (
            shipments.iter().map(|s| s.recorded_at).min(),
            entered(Stage::Shipped),
        ) {
            ship_adv.push(t - first_ship);
        }
        // Invoice: the last shipment confirmed → invoice submitted → confirmed → stage 5.
        if let (Some(last_ship), Some(sub)) = (
            shipments.iter().map(|s| s.recorded_at).max(),
            submitted_at(IntentKind::Invoice, po),
        ) {
            inv_sub.push(sub - last_ship);
            if let Some(t) = entered(Stage::Done) {
                inv_adv.push(t - (sub + DSCO_ASYNC));
            }
        }
    }
    for (name, st) in [
        ("ACK", &ack_sub),
        ("shipment", &ship_sub),
        ("invoice", &inv_sub),
    ] {
        if let Some(p) = st.within(first_run) {
            report.push(
                format!("{name}s submitted in the first run after their precondition"),
                p,
                "%",
                Some(Target::AtLeast(100.0)),
            );
        }
    }
    println!(
        "runs with a package to send (the first after it left LingXing): {}; ship runs that sent one: {}",
        left_in.len(),
        sent_in.len()
    );
    report.add(
        "runs with a package to send, each the first after it left LingXing",
        left_in.len() as f64,
        "runs",
    );
    report.add(
        "ship runs that sent a shipment",
        sent_in.len() as f64,
        "runs",
    );
    println!("delays (simulated minutes; jobs run every 15 min)");
    println!(
        "{}",
        ack_sub.line("LingXing audited → ACK submitted", Some(first_run))
    );
    println!(
        "{}",
        ship_sub.line("package shipped → shipment submitted", Some(first_run))
    );
    println!(
        "{}",
        inv_sub.line(
            "last shipment confirmed → invoice submitted",
            Some(first_run)
        )
    );
    println!(
        "{}",
        ack_adv.line("DSCO confirmed ACK → stage 3", Some(first_run))
    );
    println!(
        "{}",
        ship_adv.line("DSCO confirmed shipment → stage 4", Some(first_run))
    );
    println!(
        "{}",
        inv_adv.line("DSCO confirmed invoice → stage 5", Some(first_run))
    );
    println!("time in stage, in 15-minute runs");
    for (s, mut st) in in_stage {
        for v in st.0.iter_mut() {
            *v /= TICK.num_minutes() as f64;
        }
        let line = st.line(&format!("stage {} {}", s.number(), s.label_en()), None);
        println!("{}", line.replace(" min", " runs"));
    }
    Ok(())
}

/// What the zero-latency run measured.
struct ZeroLatency {
    wall: Duration,
    /// Orders per stage at the end.
    counts: BTreeMap<Stage, i64>,
    /// Rounds of the five jobs.
    rounds: u32,
    /// Wall time per job, and its engine CPU seconds when the platform reports them.
    per_job: BTreeMap<JobName, (Duration, Option<f64>)>,
    /// CPU seconds of the engine and of the simulators, when the platform reports them.
    cpu: Option<(f64, f64)>,
    /// The engine threads' context switches and minor page faults, when the platform reports
    /// them: counts that a busy machine does not inflate, unlike CPU time.
    threads: Option<ThreadCounts>,
}

/// Context switches and minor page faults of a set of threads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ThreadCounts {
    pub switches: u64,
    pub faults: u64,
}

impl std::ops::Sub for ThreadCounts {
    type Output = ThreadCounts;
    fn sub(self, o: ThreadCounts) -> ThreadCounts {
        ThreadCounts {
            switches: self.switches.saturating_sub(o.switches),
            faults: self.faults.saturating_sub(o.faults),
        }
    }
}

/// The context switches (voluntary and not, from `status`) and minor page faults (`stat`) of
/// this process's live threads not named `SIM_THREADS…`, from /proc (Linux); `None` elsewhere.
/// Threads that ended are not counted, so a reading spans threads that live across it.
pub(crate) fn engine_thread_counts() -> Option<ThreadCounts> {
    let mut out = ThreadCounts::default();
    for (stat, dir) in live_threads()? {
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        if let Some(c) = thread_counts(&stat, &status) {
            out.switches += c.switches;
            out.faults += c.faults;
        }
    }
    Some(out)
}

/// This process's live threads (Linux): each one's /proc `stat` text and its /proc folder. A
/// thread that ends while they are read is left out.
fn live_threads() -> Option<Vec<(String, std::path::PathBuf)>> {
    Some(
        std::fs::read_dir("/proc/self/task")
            .ok()?
            .flatten()
            .filter_map(|e| {
                Some((
                    std::fs::read_to_string(e.path().join("stat")).ok()?,
                    e.path(),
                ))
            })
            .collect(),
    )
}

/// One thread's counts from its `stat` and `status`; `None` for a simulator thread or text
/// that does not read as expected.
fn thread_counts(stat: &str, status: &str) -> Option<ThreadCounts> {
    let (comm, f) = stat_fields(stat)?;
    if comm.starts_with(SIM_THREADS) {
        return None;
    }
    // Field 10 of stat: minflt.
    let faults = f.get(7)?.parse().ok()?;
    let switches = |key| status_value(status, key)?.parse::<u64>().ok();
    Some(ThreadCounts {
        switches: switches("voluntary_ctxt_switches")? + switches("nonvoluntary_ctxt_switches")?,
        faults,
    })
}

/// Thread-name prefix of the simulators' runtime in the zero-latency run.
const SIM_THREADS: &str = "sim-";

/// CPU seconds used so far by the whole process (exited threads included) and by its live
/// threads named `SIM_THREADS…`, from /proc (Linux); `None` elsewhere. /proc counts in USER_HZ
/// ticks, fixed at 100 per second by the Linux ABI.
pub(crate) fn cpu_seconds() -> Option<(f64, f64)> {
    fn ticks(stat: &str) -> Option<(&str, f64)> {
        let (comm, f) = stat_fields(stat)?;
        // Fields 14 and 15 of stat: utime, stime.
        let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((comm, t / 100.0))
    }
    let (_, total) = ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let sims = live_threads()?
        .iter()
        .filter_map(|(stat, _)| ticks(stat))
        .filter(|(comm, _)| comm.starts_with(SIM_THREADS))
        .map(|(_, t)| t)
        .sum();
    Some((total, sims))
}

/// Engine CPU seconds between two [`cpu_seconds`] readings: the process's, less the simulators'.
fn engine_cpu(before: Option<(f64, f64)>, after: Option<(f64, f64)>) -> Option<f64> {
    let ((t0, s0), (t1, s1)) = before.zip(after)?;
    Some((t1 - t0) - (s1 - s0))
}

/// Every order through every stage with no waiting on the far sides; an error when some order
/// is not done after 20 rounds (then the figures would not be those of the whole pipeline).
async fn zero_latency(args: &BenchArgs, backend: &Backend) -> Result<ZeroLatency> {
    let clock = Clock::simulated(t0());
    let (store, _dir) = fresh_store(backend, "zero").await?;
    let (dsco_cfg, lx_cfg) = Pace {
        async_delay: Duration::ZERO,
        audit: (0, 0),
        ship: (0, 0),
        split: 0.0,
        partial: 0.0,
        intercept: 0.0,
        seed: args.day.seed,
    }
    .configs();
    let config = runtime_config("0 * * * * *", args.orders.max(1) as u32, &json!({}))?;
    let (sims, w) = world_on_own_threads(&clock, store, dsco_cfg, lx_cfg, &config).await?;
    let sim = clock.sim().ok_or_else(|| anyhow!("simulated clock"))?;
    let mut generator = Generator::new(args.day.seed);
    for _ in 0..args.orders {
        let mut spec = generator.order(&[]);
        spec.created_at = Some(t0() - TimeDelta::minutes(1));
        w.dsco.add_order(spec).map_err(|e| anyhow!("{e}"))?;
    }
    let profiling = Statements::profile_if_asked();
    let threads_before = engine_thread_counts();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut rounds = 0;
    let mut per_job: BTreeMap<JobName, (Duration, Option<f64>)> = BTreeMap::new();
    // Statements are counted only when each run is printed (counting costs CPU).
    let runs_printed = std::env::var_os("DSCO_LINGXING_BENCH_RUNS").is_some();
    let counts = loop {
        rounds += 1;
        sim.advance(Duration::from_secs(60));
        for job in JOBS {
            let t = Instant::now();
            let c = cpu_seconds();
            let st = Statements::counting(runs_printed || profiling);
            run_job(&w.app, job).await?;
            let st = Statements::counting(false) - st;
            let e = per_job.entry(job).or_insert((Duration::ZERO, Some(0.0)));
            e.0 += t.elapsed();
            let run = engine_cpu(c, cpu_seconds());
            if runs_printed && let Some(run) = run {
                eprintln!("  round {rounds} {job}: {run:.2} s engine CPU, {st} SQL statements");
                // With DSCO_LINGXING_BENCH_SQL too: this run's statements, slowest first.
                if profiling {
                    Statements::print_profile();
                }
            }
            e.1 = e.1.zip(run).map(|(sum, run)| sum + run);
        }
        let counts = w.store.count_by_stage().await?;
        let done = counts.get(&Stage::Done).copied().unwrap_or(0) as usize;
        if done >= args.orders || rounds >= 20 {
            break counts;
        }
    };
    let wall = started.elapsed();
    let cpu_after = cpu_seconds();
    let threads = engine_thread_counts()
        .zip(threads_before)
        .map(|(a, b)| a - b);
    // Printed run by run when the runs are.
    if !runs_printed {
        Statements::print_profile();
    }
    let cpu = engine_cpu(cpu_before, cpu_after)
        .zip(cpu_before.zip(cpu_after).map(|((_, s0), (_, s1))| s1 - s0));
    drop(w);
    drop(sims);
    let done = counts.get(&Stage::Done).copied().unwrap_or(0) as usize;
    if done < args.orders {
        bail!(
            "zero latency: only {done} of {} orders done after {rounds} rounds; stages at the end: {counts:?}",
            args.orders
        );
    }
    Ok(ZeroLatency {
        wall,
        counts,
        rounds,
        per_job,
        cpu,
        threads,
    })
}

fn print_calls(with: &Day, idle: &Day, n: usize, report: &mut Report) {
    println!(
        "calls per endpoint over the day ({} runs each day)",
        with.runs
    );
    println!(
        "  {:<64} {:>9} {:>9} {:>10} {:>10}",
        "endpoint", "N orders", "none", "marginal", "idle run"
    );
    let mut keys: Vec<&String> = with.calls.keys().chain(idle.calls.keys()).collect();
    keys.sort();
    keys.dedup();
    let (mut tw, mut ti) = (0u64, 0u64);
    for k in keys {
        let a = with.calls.get(k).copied().unwrap_or(0);
        let b = idle.calls.get(k).copied().unwrap_or(0);
        tw += a;
        ti += b;
        println!(
            "  {k:<64} {a:>9} {b:>9} {:>10.4} {:>10.3}",
            (a as f64 - b as f64) / n.max(1) as f64,
            b as f64 / idle.runs.max(1) as f64
        );
    }
    for (k, v) in &with.calls {
        report.add(format!("calls: {k}"), *v as f64, "calls");
    }
    report.push(
        "marginal calls per order",
        (tw as f64 - ti as f64) / n.max(1) as f64,
        "calls",
        // Issue 20's targets are for 10,000 orders (fixed costs dominate a small day).
        (n == 10_000).then_some(Target::AtMost(0.1)),
    );
    println!(
        "  {:<64} {tw:>9} {ti:>9} {:>10.4} {:>10.3}",
        "total",
        (tw as f64 - ti as f64) / n.max(1) as f64,
        ti as f64 / idle.runs.max(1) as f64
    );
}

/// Of the runs' engine CPU seconds (`None` where the platform reports none): the index of the
/// least (the first run when none reports CPU) and the most.
fn least_and_most(cpu: &[Option<f64>]) -> (usize, Option<f64>) {
    let reported = || cpu.iter().enumerate().filter_map(|(i, c)| Some((i, (*c)?)));
    let least = reported()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i);
    let most = reported().map(|(_, c)| c).max_by(f64::total_cmp);
    (least, most)
}

/// The zero-latency part on `backend`, `--repeat` times; its figures are named with `prefix`
/// (empty for SQLite). The engine CPU seconds of the run that took least, where reported.
async fn print_zero_latency(
    args: &BenchArgs,
    backend: &Backend,
    prefix: &str,
    report: &mut Report,
) -> Result<Option<f64>> {
    eprintln!("zero latency ({}):", backend_label(backend));
    let mut runs = Vec::new();
    for i in 0..args.repeat {
        let z = zero_latency(args, backend).await?;
        if args.repeat > 1 {
            println!(
                "{prefix}zero latency, run {} of {}: {:.2} s of wall time{}",
                i + 1,
                args.repeat,
                z.wall.as_secs_f64(),
                z.cpu
                    .map(|(e, s)| format!(", engine CPU {e:.2} s, simulators {s:.2} s"))
                    .unwrap_or_default()
            );
        }
        runs.push(z);
    }
    let cpus: Vec<Option<f64>> = runs.iter().map(|z| z.cpu.map(|c| c.0)).collect();
    let (least, slowest) = least_and_most(&cpus);
    let best = runs
        .into_iter()
        .nth(least)
        .ok_or_else(|| anyhow!("no zero-latency run"))?;
    let ZeroLatency {
        wall,
        counts,
        rounds,
        per_job,
        cpu,
        threads,
    } = best;
    let of = if args.repeat > 1 {
        format!(" (the run of {} that took least CPU)", args.repeat)
    } else {
        String::new()
    };
    println!(
        "{prefix}zero latency{of}: {} orders through all stages in {:.2} s of wall time ({rounds} rounds of the five jobs); at the end {}",
        args.orders,
        wall.as_secs_f64(),
        Stage::ALL
            .iter()
            .map(|s| format!("{}: {}", s.number(), counts.get(s).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  per job: {}",
        per_job
            .iter()
            .map(|(j, (d, c))| match c {
                Some(c) => format!("{j} {:.2} s ({c:.2} s engine CPU)", d.as_secs_f64()),
                None => format!("{j} {:.2} s", d.as_secs_f64()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    report.add(
        format!("{prefix}zero latency: wall time"),
        wall.as_secs_f64(),
        "s",
    );
    if let Some(t) = threads {
        println!(
            "  engine threads: {} context switches, {} minor page faults",
            t.switches, t.faults
        );
        report.add(
            format!("{prefix}zero latency: engine context switches"),
            t.switches as f64,
            "switches",
        );
        report.add(
            format!("{prefix}zero latency: engine minor page faults"),
            t.faults as f64,
            "faults",
        );
    }
    let Some((engine, sims)) = cpu else {
        return Ok(None);
    };
    // Issue 20's target is for 10,000 orders on SQLite.
    let target =
        (args.orders == 10_000 && matches!(backend, Backend::Sqlite)).then_some(Target::Below(6.0));
    report.push(
        format!("{prefix}zero latency: engine CPU"),
        engine,
        "s",
        target,
    );
    // Named the same whatever `--repeat` is, so that `bench compare` lines the runs up.
    report.add(
        format!("{prefix}zero latency: engine CPU, the most of its runs"),
        slowest.unwrap_or(engine),
        "s",
    );
    report.add(
        format!("{prefix}zero latency: runs"),
        f64::from(args.repeat),
        "runs",
    );
    report.add(format!("{prefix}zero latency: simulators' CPU"), sims, "s");
    println!(
        "  CPU time: engine {engine:.2} s (jobs, store, HTTP client), simulators {sims:.2} s (their own threads)"
    );
    Ok(Some(engine))
}

/// Statements per order over the day (marginal, as the calls) and the engine CPU of the day.
fn print_statements(with: &Day, idle: &Day, n: usize, prefix: &str, report: &mut Report) {
    if let (Some(a), Some(b)) = (with.statements, idle.statements) {
        let per = (a as f64 - b as f64) / n.max(1) as f64;
        println!(
            "{prefix}SQL statements over the day: {a} with {n} orders, {b} with none: {per:.1} per order"
        );
        report.add(
            format!("{prefix}SQL statements per order (marginal)"),
            per,
            "statements",
        );
    }
    if let Some(c) = with.cpu {
        report.add(format!("{prefix}engine CPU over the simulated day"), c, "s");
    }
}

pub async fn run(args: BenchArgs) -> Result<ExitCode> {
    let n = args.orders;
    let stores = match &args.postgres {
        Some(_) => "SQLite, then PostgreSQL",
        None => "SQLite",
    };
    println!(
        "bench: {n} orders over {} h, LingXing audits 1–6 h after creation and ships 4–30 h later \
         (5 % split, 5 % in two packages, 1 % intercepted), DSCO confirms 30 s after a write, \
         jobs every 15 min, {} simulated hours, {stores}",
        args.day.arrival_hours, args.day.hours
    );
    let mut report = Report::new(format!(
        "bench day: {n} orders over {} h, {} simulated hours, {stores}{}",
        args.day.arrival_hours,
        args.day.hours,
        if args.zero_latency_only {
            ", zero-latency part only"
        } else {
            ""
        }
    ));
    let postgres = args.postgres.clone().map(Backend::Postgres);
    let sqlite = Backend::Sqlite;
    if args.zero_latency_only {
        let lite = print_zero_latency(&args, &sqlite, "", &mut report).await?;
        if let Some(pg) = &postgres {
            let cpu = print_zero_latency(&args, pg, "PostgreSQL: ", &mut report).await?;
            cpu_ratio("zero-latency engine CPU", lite, cpu, &mut report);
        }
        if let Some(m) = peak_rss_mib() {
            println!("peak memory (VmHWM): {m:.0} MiB");
            report.add("peak memory of the process (VmHWM)", m, "MiB");
        }
        return finish(&report, args.json.as_deref());
    }
    eprintln!("day with {n} orders:");
    let with = simulated_day(&args, n, &sqlite).await?;
    eprintln!("day with no orders:");
    let idle = simulated_day(&args, 0, &sqlite).await?;
    println!();
    print_calls(&with, &idle, n, &mut report);
    counts_agree(&with.calls, &with.client, "", &mut report);
    print_statements(&with, &idle, n, "", &mut report);
    println!();
    let counts = with.world.store.count_by_stage().await?;
    println!(
        "orders per stage at the end: {}",
        Stage::ALL
            .iter()
            .map(|s| format!("{}: {}", s.number(), counts.get(s).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    delays(&with, &mut report).await?;
    report.add(
        "wall time of the simulated day",
        with.wall.as_secs_f64(),
        "s",
    );
    println!(
        "wall time of the simulated day: {:.1} s with {n} orders, {:.1} s with none",
        with.wall.as_secs_f64(),
        idle.wall.as_secs_f64()
    );
    drop(idle);
    let mut lite_cpu = None;
    if !args.no_zero_latency {
        lite_cpu = print_zero_latency(&args, &sqlite, "", &mut report).await?;
    }
    if let Some(pg) = &postgres {
        println!();
        eprintln!("PostgreSQL: day with {n} orders:");
        let pg_with = simulated_day(&args, n, pg).await?;
        eprintln!("PostgreSQL: day with no orders:");
        let pg_idle = simulated_day(&args, 0, pg).await?;
        let total = |d: &Day| d.calls.values().sum::<u64>() as f64;
        report.push(
            "PostgreSQL: far-side calls over the day",
            total(&pg_with),
            "calls",
            Some(Target::Equals(total(&with))),
        );
        print_statements(&pg_with, &pg_idle, n, "PostgreSQL: ", &mut report);
        report.add(
            "PostgreSQL: wall time of the simulated day",
            pg_with.wall.as_secs_f64(),
            "s",
        );
        cpu_ratio(
            "engine CPU over the simulated day",
            with.cpu,
            pg_with.cpu,
            &mut report,
        );
        drop((pg_with, pg_idle));
        if !args.no_zero_latency {
            let cpu = print_zero_latency(&args, pg, "PostgreSQL: ", &mut report).await?;
            cpu_ratio("zero-latency engine CPU", lite_cpu, cpu, &mut report);
        }
    }
    if let Some(m) = peak_rss_mib() {
        println!("peak memory (VmHWM): {m:.0} MiB");
        report.add("peak memory of the process (VmHWM)", m, "MiB");
    }
    finish(&report, args.json.as_deref())
}

/// PostgreSQL's engine CPU against SQLite's for the part `what` (issue 20: within 1.5×).
fn cpu_ratio(what: &str, sqlite: Option<f64>, postgres: Option<f64>, report: &mut Report) {
    if let (Some(a), Some(b)) = (sqlite, postgres) {
        report.push(
            format!("PostgreSQL ÷ SQLite: {what}"),
            b / a.max(f64::EPSILON),
            "×",
            Some(Target::AtMost(1.5)),
        );
    }
}

/// Prints the table and writes it as JSON when asked.
pub(crate) fn finish(report: &Report, json: Option<&std::path::Path>) -> Result<ExitCode> {
    println!();
    print!("{}", report.table());
    if let Some(path) = json {
        report.write_json(path)?;
        println!("written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a token endpoint (neither client counts its token requests as API calls).
pub(crate) fn is_token_endpoint(name: &str) -> bool {
    name == "DSCO token" || name.starts_with("LingXing /api/auth-server/")
}

/// The calls the simulators counted against the clients' own count, per far side (token
/// requests left out): the two must agree. Rows are named after `prefix`.
pub(crate) fn counts_agree(
    calls: &Calls,
    client: &ClientCounts,
    prefix: &str,
    report: &mut Report,
) {
    for (api, side, label) in [
        ("dsco", "DSCO ", "DSCO"),
        ("lingxing", "LingXing ", "LingXing"),
    ] {
        let sim: u64 = calls
            .iter()
            .filter(|(k, _)| k.starts_with(side) && !is_token_endpoint(k))
            .map(|(_, v)| v)
            .sum();
        report.add(
            format!("{prefix}{label} calls counted by the simulator"),
            sim as f64,
            "calls",
        );
        report.push(
            format!("{prefix}{label} calls counted by the client"),
            client.total(api) as f64,
            "calls",
            Some(Target::Equals(sim as f64)),
        );
    }
}

/// One progress line on stderr: rewritten in place (`\r`) on a terminal, one line each
/// otherwise (a log file or a CI job gets no carriage returns).
pub(crate) fn progress(line: &str, tty: bool) {
    if tty {
        eprint!("\r{line}   ");
    } else {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's counts come from field 10 of `stat` (a comm with spaces and parentheses
    /// included) and both switch lines of `status`; simulator threads are left out.
    #[test]
    fn a_threads_counts_read_from_proc_text() {
        let stat = "4242 (sqlx (worker) 1) S 1 4242 4242 0 -1 4194368 731 0 0 0 12 3 0 0 20 0 1 0";
        let status = "Name:\tsqlx\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(
            thread_counts(stat, status),
            Some(ThreadCounts {
                switches: 157,
                faults: 731
            })
        );
        let sim = "4243 (sim-rt) S 1 4242 4242 0 -1 4194368 99 0 0 0 1 1 0 0 20 0 1 0";
        assert_eq!(thread_counts(sim, status), None);
        assert_eq!(thread_counts("garbage", status), None);
    }

    /// `--repeat` keeps the run with the least engine CPU and reports the most beside it.
    #[test]
    fn the_least_run_is_kept_and_the_most_reported() {
        assert_eq!(
            least_and_most(&[Some(3.0), Some(1.5), Some(2.0)]),
            (1, Some(3.0))
        );
        assert_eq!(least_and_most(&[Some(2.0)]), (0, Some(2.0)));
        assert_eq!(least_and_most(&[None, Some(4.0), None]), (1, Some(4.0)));
        assert_eq!(least_and_most(&[None, None]), (0, None));
    }

    /// Fields of `stat` are found after a name with spaces and parentheses; `status` values by
    /// their whole key (a key that another ends with does not match).
    #[test]
    fn proc_text_reads_by_field_and_by_key() {
        let (comm, f) = stat_fields("7 (a (b) c) S 1 2 3").unwrap();
        assert_eq!((comm, f), ("a (b) c", vec!["S", "1", "2", "3"]));
        assert_eq!(stat_fields("7 (cut"), None);
        let status = "VmHWM:\t  2048 kB\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(status_value(status, "VmHWM"), Some("2048 kB"));
        assert_eq!(status_value(status, "voluntary_ctxt_switches"), None);
        assert_eq!(
            status_value(status, "nonvoluntary_ctxt_switches"),
            Some("7")
        );
    }

    /// On Linux: this test's own thread, read as the bench reads each thread, has faulted in
    /// pages and switched by now, and counts more after touching fresh memory and sleeping.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_threads_counts_grow() {
        let own = || {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            thread_counts(&stat, &status).expect("the test thread reads")
        };
        let a = own();
        let v: Vec<u8> = vec![1; 64 << 20];
        std::thread::sleep(Duration::from_millis(5));
        let b = own();
        assert!(v.iter().all(|x| *x == 1));
        assert!(
            b.faults > a.faults && b.switches > a.switches,
            "{a:?} then {b:?}"
        );
        assert!(engine_thread_counts().is_some_and(|t| t.faults >= b.faults));
    }
}
