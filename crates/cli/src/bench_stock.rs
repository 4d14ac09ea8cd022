//! `dsco-lingxing bench stock`: sync_stock over a large catalogue against both simulators,
//! in-process, on the simulated clock. Prints calls per endpoint, wall time per run and the
//! process's peak memory (VmHWM), for the figures in the docs.
//!
//! The job is run directly with a hand-made `RunCtx` (holding the job's lease, like the runner)
//! so that a driver can move the simulated clock whenever the job sleeps (rate-limit waits)
//! without racing the runner's heartbeat.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use chrono::{TimeZone, Utc};
use clap::Subcommand;
use clock::Clock;
use domain::{JobName, RunCounts, RuntimeConfig, Trigger};
use engine::startup::{Application, Parts};
use engine::stock::SyncStock;
use engine::{EngineSettings, Job, RunCtx};
use serde_json::json;
use sim::dsco::{DscoSimConfig, Endpoint};
use sim::lingxing::LingxingSimConfig;
use store::Store;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// A simulated day: orders arriving over hours, LingXing auditing and shipping, crons every
    /// 15 minutes; calls per endpoint, marginal calls per order, delays, wall time, peak memory.
    Day(crate::bench::BenchArgs),
    /// The fault matrix: every far-side fault on every endpoint, a mixed burst, kills inside
    /// each job and two processes on one store; duplicates, lost orders and time to converge.
    Faults(crate::bench_faults::FaultArgs),
    /// sync_stock: a full push, a settling run with no change, then a run with `--changed`
    /// SKUs changed.
    Stock {
        /// SKUs in the catalogue.
        #[arg(long, default_value_t = 50_000)]
        skus: usize,
        /// DSCO warehouses per SKU (1–100).
        #[arg(long, default_value_t = 3)]
        warehouses: usize,
        /// SKUs whose quantity changes before the third run.
        #[arg(long, default_value_t = 500)]
        changed: usize,
        /// Store URL; a temporary SQLite file by default.
        #[arg(long)]
        store: Option<String>,
    },
    /// A backlog at every stage drained against realistic latency, capacities, rates and
    /// throttling; wall time against the limit the far sides allow, and the Go service's model.
    Backlog(crate::bench_backlog::BacklogArgs),
    /// The simulated day at 10,000 and 100,000 orders with the simulators in a process of their
    /// own: the engine's own CPU time and peak memory, and the console's pages on the large store.
    Scale(crate::bench_scale::ScaleArgs),
    /// The simulators' side of `bench scale` (started by it, driven over standard input).
    #[command(hide = true)]
    Sims(crate::bench_scale::SimsArgs),
    /// Two tables written by `--json`, side by side with the change of every figure.
    Compare {
        /// The earlier run's JSON.
        a: std::path::PathBuf,
        /// The later run's JSON.
        b: std::path::PathBuf,
    },
}

const LX_PATHS: [&str; 2] = [
    "/erp/sc/routing/data/local_inventory/inventoryDetails",
    "/api/auth-server/oauth/access-token",
];
const DSCO_ENDPOINTS: [(Endpoint, &str); 4] = [
    (Endpoint::Token, "POST /oauth2/token"),
    (Endpoint::InventoryBatch, "POST /inventory/batch/small"),
    (Endpoint::InventoryLog, "GET /inventory/log"),
    (Endpoint::Any, "DSCO total"),
];

/// The benches' log level: `default`, or `DSCO_LINGXING_BENCH_LOG` (a level or directives such
/// as `engine=info`) to watch the job runs of a bench.
fn bench_log(default: &str) -> String {
    std::env::var("DSCO_LINGXING_BENCH_LOG").unwrap_or_else(|_| default.to_owned())
}

pub async fn bench(command: BenchCommand) -> Result<ExitCode> {
    let command = match command {
        BenchCommand::Day(a) => {
            let _ = crate::logging::init_bench(&bench_log("warn"));
            return crate::bench::run(a).await;
        }
        BenchCommand::Faults(a) => {
            let _ = crate::logging::init(crate::logging::LogFormat::Pretty, &bench_log("error"));
            return crate::bench_faults::run(a).await;
        }
        BenchCommand::Backlog(a) => {
            let _ = crate::logging::init(crate::logging::LogFormat::Pretty, &bench_log("error"));
            return crate::bench_backlog::run(a).await;
        }
        BenchCommand::Scale(a) => {
            let _ = crate::logging::init_bench(&bench_log("warn"));
            return crate::bench_scale::run(a).await;
        }
        BenchCommand::Sims(a) => {
            let _ = crate::logging::init(crate::logging::LogFormat::Pretty, &bench_log("error"));
            return crate::bench_scale::sims(a).await;
        }
        BenchCommand::Compare { a, b } => {
            crate::bench_report::run_compare(&a, &b)?;
            return Ok(ExitCode::SUCCESS);
        }
        other => other,
    };
    let BenchCommand::Stock {
        skus,
        warehouses,
        changed,
        store,
    } = command
    else {
        unreachable!("Day and Faults handled above")
    };
    if warehouses == 0 || warehouses > 100 {
        return Err(crate::app::BadInput("--warehouses must be 1..=100".into()).into());
    }
    let tmp = std::env::temp_dir().join(format!("dl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let url = store.unwrap_or_else(|| format!("sqlite://{}/bench.db", tmp.display()));
    let result = run(skus, warehouses, changed, &url).await;
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

async fn run(skus: usize, warehouses: usize, changed: usize, url: &str) -> Result<ExitCode> {
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap());
    let (dsco, lx) = crate::demo::start_sims(
        DscoSimConfig::default(),
        LingxingSimConfig::manual(),
        clock.clone(),
    )
    .await?;
    // The catalogue: every SKU in every warehouse, known to DSCO.
    let setup = Instant::now();
    let wids: Vec<u64> = (0..warehouses).map(|i| 5000 + i as u64).collect();
    lx.clear_inventory();
    for s in 0..skus {
        let sku = format!("BENCH-{s:06}");
        dsco.add_known_sku(&sku);
        for (wi, wid) in wids.iter().enumerate() {
            lx.set_inventory(*wid, &sku, "0", 1 + ((s * 7 + wi * 13) % 50) as i64);
        }
    }
    let store = engine::startup::connect(url)
        .await
        .context("opening the bench store")?;
    let mapping: BTreeMap<String, String> = wids
        .iter()
        .enumerate()
        .map(|(i, w)| (format!("BW-{i:02}"), w.to_string()))
        .collect();
    let v = json!({
        "domain": "dsco_lingxing",
        "jobs": {"sync_stock": {"enable": true, "cron": "0 */15 * * * *", "size": 50}},
        "mapping": {"warehouse": mapping},
    });
    let config = RuntimeConfig::from_value(&v, "runtime_config")
        .map_err(|e| anyhow!("{e}"))?
        .config;
    store
        .save_runtime_config(None, &config, "bench", "bench", clock.now())
        .await?;
    println!(
        "catalogue: {skus} SKUs × {warehouses} warehouses = {} inventory rows (set up in {:.1}s)",
        skus * warehouses,
        setup.elapsed().as_secs_f64()
    );

    // The token stays in the client (not shared through the store): the figures count its calls.
    let parts = Parts {
        clock: clock.clone(),
        holder: "bench".into(),
        engine: EngineSettings::default(),
        far: crate::demo::sim_far_sides(&dsco, &lx),
        shared_token: false,
        order_jobs: false,
        stock_jobs: None,
    };
    let clients = Application::build(store.clone(), parts)?
        .stock_clients()
        .clone();
    let job = SyncStock(clients);
    let config = Arc::new(config);

    let mut label = "1 full push";
    for step in 0..3 {
        if step == 1 {
            label = "2 settle, no change";
        }
        if step == 2 {
            label = "3 delta";
            for s in 0..changed.min(skus) {
                lx.set_inventory(wids[0], &format!("BENCH-{s:06}"), "0", 777);
            }
        }
        let lx_before: Vec<u64> = LX_PATHS.iter().map(|p| lx.calls(p)).collect();
        let dsco_before: Vec<u64> = DSCO_ENDPOINTS.iter().map(|(e, _)| dsco.calls(*e)).collect();
        let sim_start = clock.now();
        let started = Instant::now();
        let counts = run_once(&job, &store, &clock, &config).await?;
        let wall = started.elapsed();
        println!(
            "\nrun {label}: wall {:.2}s, simulated {}s, processed {}, sent/settled {}, failed {}",
            wall.as_secs_f64(),
            (clock.now() - sim_start).num_seconds(),
            counts.processed,
            counts.advanced,
            counts.failed
        );
        for (i, p) in LX_PATHS.iter().enumerate() {
            println!("  LingXing {p}: {}", lx.calls(p) - lx_before[i]);
        }
        for (i, (e, name)) in DSCO_ENDPOINTS.iter().enumerate() {
            println!("  {name}: {}", dsco.calls(*e) - dsco_before[i]);
        }
        // DSCO applies the batches after its async delay.
        clock
            .sim()
            .expect("simulated")
            .advance(Duration::from_secs(120));
    }
    println!(
        "\npeak memory (VmHWM, whole process incl. both simulators): {}",
        vm_hwm()
    );
    Ok(ExitCode::SUCCESS)
}

/// One run of the job under its lease, with the simulated clock moved whenever it sleeps.
async fn run_once(
    job: &SyncStock,
    store: &Arc<dyn Store>,
    clock: &Clock,
    config: &Arc<RuntimeConfig>,
) -> Result<RunCounts> {
    let run_id = uuid_like(clock);
    let lease = store
        .try_acquire_lease(
            JobName::SyncStock,
            "bench",
            &run_id,
            clock.now(),
            Duration::from_secs(3600),
        )
        .await?
        .ok_or_else(|| anyhow!("the sync_stock lease is held"))?;
    let ctx = RunCtx {
        run_id,
        job: JobName::SyncStock,
        trigger: Trigger::Cli,
        fence: lease.fence(),
        config: config.clone(),
        config_version: None,
        job_config: config.jobs.get(&JobName::SyncStock).cloned(),
        dry_run: false,
        only_po: None,
        store: store.clone(),
        clock: clock.clone(),
        counts: Mutex::new(RunCounts::default()),
        refused: Mutex::new(None),
        report: Default::default(),
    };
    let sim = clock.sim().expect("simulated");
    let out = {
        let fut = job.run(&ctx);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => break out,
                _ = sim.wait_for_sleepers(1) => {
                    if let Some(d) = sim.next_deadline() {
                        sim.advance_to(d);
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    store.release_lease(&lease).await?;
    out.map_err(|e| anyhow!("sync_stock failed: {e}"))?;
    Ok(ctx.counts.into_inner().unwrap_or_else(|p| p.into_inner()))
}

fn uuid_like(clock: &Clock) -> String {
    format!("bench-{}", clock.now().timestamp_millis())
}

/// The process's peak resident set size, as the kernel reports it.
fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| crate::bench::status_value(&s, "VmHWM").map(str::to_owned))
        .unwrap_or_else(|| "unknown (no /proc/self/status)".into())
}
