//! `dsco-lingxing bench backlog`: a backlog of orders waiting at every stage at once (as after
//! days of downtime), the far sides already ahead (LingXing audits and ships at once), drained
//! against realistic far sides: spread latency on every call (DSCO 150–400 ms, LingXing
//! 200–600 ms by default), LingXing's per-endpoint capacities (10 or 1 in flight), DSCO's request
//! rates (the simulator refuses, the client paces) and a few percent of throttling answers.
//!
//! Latency is real (the simulators sleep), so this bench runs on the real clock: its wall time
//! is real time. The backlog is built first at zero latency: a fifth of the orders waiting at
//! each of stages 4, 3, 2 and 1 and a fifth never pulled, the far sides ahead (LingXing has
//! audited and shipped every order it has); then, after a pause standing for the downtime
//! (`--downtime-seconds`), the weather is switched on and the five jobs run concurrently, each
//! re-run at the first whole second after its last run ended (what the scheduler does with a
//! cron of every second), until every order is done.
//!
//! Beside the measured time it prints the limit the far sides allow: per endpoint, the calls it
//! needed × the mean latency ÷ its capacity (LingXing), or the calls ÷ the request rate (DSCO),
//! and the largest of these; and the Go service's call pattern for the same orders as a model.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clock::Clock;
use domain::{JobName, RunOutcome, Stage, Trigger};
use engine::{RunOptions, RunResult};
use serde_json::json;
use sim::Weather;
use sim::dsco::Generator;
use tokio::sync::watch;

use crate::bench::{JOBS, Pace, fresh_sqlite};
use crate::bench_report::{Report, Tally, Target};
use crate::demo::{SimWorld, Tuning, runtime_config};

#[derive(Debug, clap::Args)]
pub struct BacklogArgs {
    /// Orders in the backlog, spread over the stages.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    /// DSCO latency per call, milliseconds: MIN-MAX.
    #[arg(long, default_value = "150-400", value_parser = parse_range)]
    pub dsco_latency_ms: (u64, u64),
    /// LingXing latency per call, milliseconds: MIN-MAX.
    #[arg(long, default_value = "200-600", value_parser = parse_range)]
    pub lingxing_latency_ms: (u64, u64),
    /// Share of calls answered as throttled, percent.
    #[arg(long, default_value_t = 3.0)]
    pub throttle_percent: f64,
    /// Give up after this many minutes of draining.
    #[arg(long, default_value_t = 60)]
    pub max_minutes: u64,
    /// Give up when no order moved for this many seconds (the orders left are named with their
    /// reasons): a drain that stops short is a defect to look at, not a wait.
    #[arg(long, default_value_t = 120)]
    pub stall_seconds: u64,
    /// Seconds between building the backlog and draining it: the service's downtime, after
    /// which the far sides' changes made while building are older than the LingXing feed's
    /// 10-s overlap (as after real downtime).
    #[arg(long, default_value_t = 15)]
    pub downtime_seconds: u64,
    /// Seed of the orders.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Also write the table of figures as JSON to this file (for `bench compare`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: expected MIN-MAX in milliseconds, e.g. 150-400"))?;
    let p = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|_| format!("{s:?}: {x:?} is not a number of milliseconds"))
    };
    let (a, b) = (p(a)?, p(b)?);
    if a > b {
        return Err(format!("{s:?}: MIN is above MAX"));
    }
    Ok((a, b))
}

/// An endpoint's limit: LingXing's in-flight capacity, or DSCO's request rate (per second, per
/// minute) where one is enforced.
#[derive(Debug, Clone, Copy)]
enum Limit {
    InFlight(usize),
    Rate { per_sec: f64, per_min: f64 },
}

/// (client label as the metrics name it, far side, limit). DSCO rates as the simulator enforces
/// them; batch endpoints and logs have no published rate, so only their latency bounds them.
fn limit_of(api: &str, endpoint: &str) -> Option<Limit> {
    Some(match (api, endpoint) {
        ("lingxing", e) if e.starts_with("/pb/mp/") => Limit::InFlight(10),
        ("lingxing", e) if e.starts_with("/erp/") => Limit::InFlight(1),
        ("dsco", "/order/page" | "/order/") => Limit::Rate {
            per_sec: 10.0,
            per_min: 500.0,
        },
        ("dsco", "/order/acknowledge") => Limit::Rate {
            per_sec: 15.0,
            per_min: 1000.0,
        },
        _ => return None,
    })
}

/// Seconds the far side needs at least for `calls` calls of mean latency `mean` under `limit`.
fn bound(calls: f64, mean: f64, limit: Option<Limit>) -> f64 {
    match limit {
        Some(Limit::InFlight(c)) => calls * mean / c as f64,
        Some(Limit::Rate { per_sec, per_min }) => (calls / per_sec).max(calls * 60.0 / per_min),
        // No limit: calls could all overlap; one call's latency is the floor.
        None => {
            if calls > 0.0 {
                mean
            } else {
                0.0
            }
        }
    }
}

fn mean_ms((a, b): (u64, u64)) -> f64 {
    (a + b) as f64 / 2.0 / 1000.0
}

/// Stage counts in one line.
pub(crate) fn stages(counts: &BTreeMap<Stage, i64>) -> String {
    Stage::ALL
        .iter()
        .map(|s| format!("{}:{}", s.number(), counts.get(s).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The time to the next whole second of the clock: when a job on a cron of every second
/// (`* * * * * *`) next fires after its run ended (a fire while it runs finds its lease taken).
fn to_next_second() -> Duration {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_nanos(1_000_000_000 - u64::from(since.subsec_nanos()))
}

/// The backlog's groups, furthest first: the stage each waits at (`None`: never pulled). Stage
/// `n` is where the first `n` jobs of the pipeline bring an order ([`JOBS`]: pull to 1, push to
/// 2, ACK to 3, ship to 4), so a group is built by those alone. The far sides are ahead:
/// LingXing audits and ships at once, so the orders at stages 2 and 3 are already shipped in
/// LingXing, and those at stage 4 had their shipments confirmed by DSCO. A later group's jobs
/// leave the earlier groups where they are (no job that moves them runs again before draining).
const SHAPE: [Option<Stage>; 5] = [
    Some(Stage::Shipped),
    Some(Stage::Acknowledged),
    Some(Stage::Pushed),
    Some(Stage::Pulled),
    None,
];

/// Runs `jobs` in turn until every order of `pos` is at `target` (a write waits for its
/// confirmation on the job's next run, a LingXing change for the feed's next read).
async fn build_group(
    w: &SimWorld,
    pos: &[domain::PoNumber],
    target: Stage,
    jobs: &[JobName],
) -> Result<()> {
    for _ in 0..60 {
        for &job in jobs {
            run_once(w, job).await?;
        }
        let stages = w.store.stages_of(pos).await?;
        if stages.len() == pos.len() && stages.values().all(|s| *s == target) {
            return Ok(());
        }
        if let Some((po, s)) = stages.iter().find(|(_, s)| **s > target) {
            bail!(
                "backlog: building stage {}, order {po} went on to stage {}",
                target.number(),
                s.number()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "backlog: the orders of stage {} did not all reach it while building",
        target.number()
    )
}

async fn run_once(w: &SimWorld, job: JobName) -> Result<(RunOutcome, domain::RunCounts)> {
    let (_tx, rx) = watch::channel(false);
    match w
        .app
        .engine()
        .run_job(job, Trigger::Cli, RunOptions::default(), rx)
        .await?
    {
        RunResult::Ran {
            outcome, counts, ..
        } => Ok((outcome, counts)),
        RunResult::Rejected { .. } => Ok((RunOutcome::Cancelled, domain::RunCounts::default())),
    }
}

pub async fn run(args: BacklogArgs) -> Result<ExitCode> {
    let n = args.orders;
    if n == 0 {
        bail!("--orders: at least 1");
    }
    let clock = Clock::real();
    let (url, _dir) = fresh_sqlite("backlog")?;
    let store = engine::startup::connect(&url).await?;
    let (mut dsco_cfg, lx_cfg) = Pace {
        async_delay: Duration::ZERO,
        audit: (0, 0),
        ship: (0, 0),
        split: 0.05,
        partial: 0.05,
        intercept: 0.0,
        seed: args.seed,
    }
    .configs();
    dsco_cfg.rate_limits = true;
    // `size` large enough not to be the limit.
    let config = runtime_config("0 * * * * *", n as u32, &json!({}))?;
    let tuning = Tuning {
        dsco_rate_limits: true,
        ..Tuning::default()
    };
    let w = Arc::new(
        SimWorld::start_on(
            None,
            clock.clone(),
            store,
            dsco_cfg,
            lx_cfg,
            &config,
            &tuning,
        )
        .await?,
    );
    println!(
        "bench backlog: {n} orders waiting at every stage, DSCO latency {}–{} ms, LingXing {}–{} ms, \
         {} % throttled, LingXing capacities and DSCO rates enforced, SQLite, real clock",
        args.dsco_latency_ms.0,
        args.dsco_latency_ms.1,
        args.lingxing_latency_ms.0,
        args.lingxing_latency_ms.1,
        args.throttle_percent
    );

    // The backlog: five groups, one waiting at each stage (4, 3, 2, 1) and one never pulled,
    // built at zero latency furthest first, each moved by the jobs that bring an order to its
    // stage and no further (see `SHAPE`).
    let mut generator = Generator::new(args.seed);
    let built = Instant::now();
    for (g, target) in SHAPE.iter().enumerate() {
        let size = n / SHAPE.len() + usize::from(g < n % SHAPE.len());
        let mut pos = Vec::with_capacity(size);
        for _ in 0..size {
            // Created a minute ago: the pull reads up to 10 s before now (so an order created
            // this instant would wait for the next round) and, after its first run, from its
            // cursor less five minutes, so a minute back is inside every window.
            let mut spec = generator.order(&[]);
            spec.created_at = Some(clock.now() - chrono::TimeDelta::minutes(1));
            let v = w.dsco.add_order(spec).map_err(|e| anyhow!("{e}"))?;
            let po = v["poNumber"].as_str().unwrap_or_default();
            pos.push(domain::PoNumber::parse(po).map_err(|e| anyhow!("{e}"))?);
        }
        if let Some(target) = target {
            let jobs = &JOBS[..target.number() as usize];
            build_group(&w, &pos, *target, jobs).await?;
        }
    }
    let at_start = w.store.count_by_stage().await?;
    let not_pulled = n as i64 - at_start.values().sum::<i64>();
    println!(
        "backlog built in {:.1} s: not pulled yet {not_pulled}, stages {}; then {} s of downtime",
        built.elapsed().as_secs_f64(),
        stages(&at_start),
        args.downtime_seconds
    );
    // The service down for a while, as before a real backlog: the far sides' changes made while
    // building lie that far before the drain. Without it every LingXing feed read of the drain's
    // first seconds would read the whole build again (the feed takes in the last 10 s before its
    // cursor again, for the two clocks' difference), which no backlog after downtime has.
    tokio::time::sleep(Duration::from_secs(args.downtime_seconds)).await;

    // The weather, and the five jobs draining it concurrently.
    let weather = |latency_ms| Weather {
        latency_ms,
        throttle_rate: args.throttle_percent / 100.0,
    };
    w.dsco.set_weather(weather(args.dsco_latency_ms));
    w.lx.set_weather(weather(args.lingxing_latency_ms));
    let tally = Tally::global()?;
    let before = tally.read();
    let sim_before = crate::bench::sim_calls(&w);
    let cpu_before = crate::bench::cpu_seconds();
    let stop = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut loops = Vec::new();
    for job in JOBS {
        let (w, stop, runs, failed) = (w.clone(), stop.clone(), runs.clone(), failed.clone());
        loops.push(tokio::spawn(async move {
            // DSCO_LINGXING_BENCH_RUNS=1: every run on stderr, with its start, end and counts
            // (seconds since draining began), to see where the drain's time goes.
            let trace = std::env::var_os("DSCO_LINGXING_BENCH_RUNS").is_some();
            while !stop.load(Ordering::Relaxed) {
                let begun = started.elapsed().as_secs_f64();
                let outcome = run_once(&w, job).await;
                runs.fetch_add(1, Ordering::Relaxed);
                if trace {
                    let c = outcome.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
                    eprintln!(
                        "  run {job:<17} {begun:>6.1}–{:>6.1} s: processed {}, advanced {}, waiting {}, \
                         attention {}, retrying {}",
                        started.elapsed().as_secs_f64(),
                        c.processed,
                        c.advanced,
                        c.skipped_waiting,
                        c.skipped_attention,
                        c.skipped_retrying
                    );
                }
                if !matches!(outcome, Ok((RunOutcome::Succeeded, _))) {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if trace {
                        eprintln!("{job}: {outcome:?}");
                    }
                }
                tokio::time::sleep(to_next_second()).await;
            }
        }));
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let deadline = Duration::from_secs(args.max_minutes * 60);
    let mut last = (BTreeMap::new(), Instant::now());
    let end = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let counts = w.store.count_by_stage().await?;
        if counts != last.0 {
            last = (counts.clone(), Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(args.stall_seconds) {
            stop.store(true, Ordering::Relaxed);
            bail!(
                "backlog: no order moved for {} s; stages {}; orders left:\n{}",
                args.stall_seconds,
                stages(&counts),
                left_behind(&w.store, 10).await?
            );
        }
        let done = counts.get(&Stage::Done).copied().unwrap_or(0) as usize;
        let elapsed = started.elapsed();
        if tty || elapsed.as_millis() % 10_000 < 250 {
            crate::bench::progress(
                &format!("  {:>6.1} s: {}", elapsed.as_secs_f64(), stages(&counts)),
                tty,
            );
        }
        if done >= n {
            break elapsed;
        }
        if elapsed > deadline {
            stop.store(true, Ordering::Relaxed);
            bail!(
                "backlog: {done} of {n} orders done after {} minutes; stages {}",
                args.max_minutes,
                stages(&counts)
            );
        }
    };
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = l.await;
    }
    if tty {
        eprintln!();
    }
    let cpu_after = crate::bench::cpu_seconds();
    let client = tally.read().since(&before);
    let sim_after = crate::bench::sim_calls(&w);

    let mut report = Report::new(format!(
        "bench backlog: {n} orders at every stage, DSCO {}–{} ms, LingXing {}–{} ms, {} % throttled, real clock",
        args.dsco_latency_ms.0,
        args.dsco_latency_ms.1,
        args.lingxing_latency_ms.0,
        args.lingxing_latency_ms.1,
        args.throttle_percent
    ));
    // Where the backlog stood when draining began: the issue asks for every stage at once.
    report.add(
        "backlog at the start: not pulled yet",
        not_pulled as f64,
        "orders",
    );
    report.add(
        "backlog at the start: pulled or further",
        (n as i64 - not_pulled) as f64,
        "orders",
    );
    for stage in [
        Stage::Pulled,
        Stage::Pushed,
        Stage::Acknowledged,
        Stage::Shipped,
    ] {
        report.add(
            format!("backlog at the start: stage {}", stage.number()),
            at_start.get(&stage).copied().unwrap_or(0) as f64,
            "orders",
        );
    }
    report.add(
        "wall time until every order is done",
        end.as_secs_f64(),
        "s",
    );
    report.add("job runs", runs.load(Ordering::Relaxed) as f64, "runs");
    report.add(
        "job runs not succeeded",
        failed.load(Ordering::Relaxed) as f64,
        "runs",
    );
    println!();
    println!(
        "  {:<8} {:<48} {:>7} {:>10} {:>9}",
        "api", "endpoint", "calls", "waited s", "bound s"
    );
    let mut limit = (0.0f64, String::new());
    for ((api, ep), calls) in &client.calls {
        if *calls == 0 {
            continue;
        }
        let mean = if api == "dsco" {
            mean_ms(args.dsco_latency_ms)
        } else {
            mean_ms(args.lingxing_latency_ms)
        };
        let waited = client
            .waited
            .get(&(api.clone(), ep.clone()))
            .copied()
            .unwrap_or(0.0);
        let b = bound(*calls as f64, mean, limit_of(api, ep));
        println!("  {api:<8} {ep:<48} {calls:>7} {waited:>10.1} {b:>9.1}");
        report.add(format!("calls: {api} {ep}"), *calls as f64, "calls");
        report.add(format!("waited on the limit: {api} {ep}"), waited, "s");
        if b > limit.0 {
            limit = (b, format!("{api} {ep}"));
        }
    }
    report.add(format!("the limit ({})", limit.1), limit.0, "s");
    let ratio = end.as_secs_f64() / limit.0.max(f64::EPSILON);
    report.push(
        "wall time ÷ the limit",
        ratio,
        "×",
        Some(Target::AtMost(1.5)),
    );
    // What the throughput bound leaves out: one order's chain of calls that cannot overlap.
    let path = critical_path(
        mean_ms(args.dsco_latency_ms),
        mean_ms(args.lingxing_latency_ms),
    );
    report.add("one order's critical path (model)", path, "s");
    report.add(
        "wall time ÷ the larger of the limit and the critical path",
        end.as_secs_f64() / limit.0.max(path).max(f64::EPSILON),
        "×",
    );
    println!(
        "\ncritical path of one order, as a model: {PATH_DSCO_CALLS} DSCO and {PATH_LX_CALLS} LingXing calls one \
         after another at the mean latencies: {path:.1} s"
    );
    // The CPU the drain took, engine and simulators together (they share the process and its
    // runtime here): on a machine with few cores its share of each core is a floor of its own,
    // which no endpoint's limit shows.
    if let Some(((t0, _), (t1, _))) = cpu_before.zip(cpu_after) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let floor = (t1 - t0) / cores;
        report.add("CPU during the drain (engine and simulators)", t1 - t0, "s");
        report.add("the CPU floor: that CPU ÷ the cores", floor, "s");
        println!(
            "CPU during the drain, engine and simulators: {:.1} s; on {cores} cores at least {floor:.1} s",
            t1 - t0
        );
    }
    // The simulators' count over the drain against the clients' (token requests left out).
    let drained: crate::bench::Calls = sim_after
        .iter()
        .map(|(k, v)| (k.clone(), v - sim_before.get(k).copied().unwrap_or(0)))
        .collect();
    crate::bench::counts_agree(&drained, &client, "", &mut report);
    let go = go_model(
        n as f64,
        mean_ms(args.dsco_latency_ms),
        mean_ms(args.lingxing_latency_ms),
    );
    report.add("Go service (model): LingXing calls", go.lx_calls, "calls");
    report.add("Go service (model): DSCO calls", go.dsco_calls, "calls");
    report.add("Go service (model): wmsOrderList bound", go.wms_bound, "s");
    report.add(
        "Go service (model): serial time of its slowest job",
        go.slowest_job,
        "s",
    );
    println!(
        "\nGo service, as a model (../shared/api/peers.md): per order a LingXing list and a create, \
         a LingXing list before the ACK and before the ship, a wmsOrderList in ship and again in \
         invoice (capacity 1), one DSCO ACK, shipment and invoice each; each job's calls one \
         after another. Its shipment and invoice polling of DSCO's logs (up to 60 s and 30 s a \
         run) is left out."
    );
    println!(
        "  LingXing {:.0} calls, DSCO {:.0}; wmsOrderList alone {:.0} s ({:.1} h); its slowest job \
         serially {:.0} s ({:.1} h)",
        go.lx_calls,
        go.dsco_calls,
        go.wms_bound,
        go.wms_bound / 3600.0,
        go.slowest_job,
        go.slowest_job / 3600.0
    );
    crate::bench::finish(&report, args.json.as_deref())
}

/// Up to `n` orders not done yet, each with its stage and reason (what a stalled drain left).
async fn left_behind(store: &Arc<dyn store::Store>, n: u32) -> Result<String> {
    let mut out = Vec::new();
    for stage in [
        Stage::Pulled,
        Stage::Pushed,
        Stage::Acknowledged,
        Stage::Shipped,
    ] {
        let filter = store::OrderFilter {
            stage: Some(stage),
            ..Default::default()
        };
        for o in store.order_page(&filter, false, None, n).await? {
            let reason = o
                .reason
                .map(|r| format!("{} ({}): {}", r.code, r.kind, r.detail))
                .unwrap_or_else(|| "no reason".into());
            out.push(format!("  {} stage {}: {reason}", o.po, stage.number()));
        }
    }
    out.truncate(n as usize);
    Ok(out.join("\n"))
}

/// The Go service's calls for `n` orders (see the printout), and the time they take.
struct GoModel {
    lx_calls: f64,
    dsco_calls: f64,
    wms_bound: f64,
    slowest_job: f64,
}

/// DSCO calls on one order's critical path (see [`critical_path`]).
const PATH_DSCO_CALLS: u32 = 7;
/// LingXing calls on one order's critical path.
const PATH_LX_CALLS: u32 = 4;

/// The critical path of one order, as a model: the calls that must follow one another, each
/// at its side's mean latency. An order not pulled yet needs: a DSCO page read (pull), a
/// LingXing create (push), a LingXing list (the audit seen), the DSCO ACK, DSCO's order log (the
/// ACK confirmed, which lets it ship: no pull of `shipment_pending` is waited for), a LingXing
/// list (the package seen), a `wmsOrderList` (its tracking), the DSCO shipment, its log, the
/// invoice, its log: [`PATH_DSCO_CALLS`] and [`PATH_LX_CALLS`]. Seconds.
fn critical_path(dsco: f64, lx: f64) -> f64 {
    PATH_DSCO_CALLS as f64 * dsco + PATH_LX_CALLS as f64 * lx
}

fn go_model(n: f64, dsco: f64, lx: f64) -> GoModel {
    // push: list + create per order; ack: list + acknowledge; ship: list + wmsOrderList +
    // shipment; invoice: wmsOrderList + invoice.
    let push = n * (lx + lx);
    let ack = n * (lx + dsco);
    let ship = n * (lx + lx + dsco);
    let invoice = n * (lx + dsco);
    GoModel {
        lx_calls: n * 6.0,
        dsco_calls: n * 3.0,
        wms_bound: 2.0 * n * lx,
        slowest_job: push.max(ack).max(ship).max(invoice),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_are_named() {
        assert_eq!(parse_range("150-400"), Ok((150, 400)));
        assert!(parse_range("400").unwrap_err().contains("MIN-MAX"));
        assert!(
            parse_range("400-150")
                .unwrap_err()
                .contains("MIN is above MAX")
        );
        assert!(parse_range("a-150").unwrap_err().contains("\"a\""));
    }

    #[test]
    fn the_bound_is_calls_times_latency_over_capacity() {
        let lx = limit_of("lingxing", "/erp/sc/routing/wms/order/wmsOrderList");
        assert!((bound(100.0, 0.4, lx) - 40.0).abs() < 1e-9);
        let create = limit_of("lingxing", "/pb/mp/order/v2/create");
        assert!((bound(100.0, 0.4, create) - 4.0).abs() < 1e-9);
        // DSCO order reads: 500 a minute binds before 10 a second.
        let page = limit_of("dsco", "/order/page");
        assert!((bound(1000.0, 0.3, page) - 120.0).abs() < 1e-9);
        // 7 DSCO calls and 4 LingXing calls.
        let path = critical_path(0.25, 0.5);
        assert!((path - 3.75).abs() < 1e-9);
        let go = go_model(10_000.0, 0.275, 0.4);
        assert!((go.wms_bound - 8000.0).abs() < 1e-6);
    }
}
