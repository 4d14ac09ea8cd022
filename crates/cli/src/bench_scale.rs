//! `bench scale` (issue 20 item 2): the simulated day at 10,000 and at 100,000 orders with the
//! simulators in a process of their own, so that this process is the engine alone (jobs, store,
//! clients) and its peak RSS and CPU time are the engine's; then the console's pages timed on the
//! large store.
//!
//! The simulators' process is this binary again (`bench sims`, hidden), on its own simulated
//! clock. Both clocks start at the same instant and only move when told: before each 15-minute
//! round this process sends `tick <unix seconds>`, the simulators' process adds the orders that
//! arrive up to then (moving its clock to each arrival, as the in-process day does) and answers
//! when its clock stands at the round's time; then this process moves its own clock there and
//! runs the five jobs. Nothing else moves either clock, so the two agree at every call.

use std::collections::BTreeMap;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clock::Clock;
use domain::{Lang, Stage};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::bench::{
    Arrivals, Calls, JOBS, TICK, cpu_seconds, day_config, day_pace, fresh_sqlite,
    is_token_endpoint, peak_rss_mib, progress, run_job, sim_calls_of, t0,
};
use crate::bench_backlog::stages;
use crate::bench_report::{ClientCounts, Report, Tally, Target};
use crate::demo::{Tuning, app_at, far_sides_at, seed_store, start_sims};

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// Orders of the large day.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Orders of the small day the growth is measured from (0: no small day).
    #[arg(long, default_value_t = 10_000)]
    pub base: usize,
    #[command(flatten)]
    pub day: crate::bench::DayShape,
    /// Orders per job run (`size` of each job): 100,000 orders over 8 h are 3,125 a round, so
    /// the 1,000 of `bench day` would leave the pull behind.
    #[arg(long, default_value_t = 5000)]
    pub size: u32,
    /// Also write the table of figures as JSON to this file (for `bench compare`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
}

/// `bench sims`: the simulators' side of `bench scale`, driven over standard input.
#[derive(Debug, clap::Args)]
pub struct SimsArgs {
    /// Orders arriving over the arrival window.
    #[arg(long)]
    pub orders: usize,
    /// Hours over which the orders arrive.
    #[arg(long)]
    pub arrival_hours: i64,
    /// Seed of the orders and of LingXing's choices.
    #[arg(long)]
    pub seed: u64,
}

/// The simulators' process: prints their addresses as one JSON line, then answers one line per
/// command read: `tick <unix seconds>` (orders arriving up to then are added, the clock moved
/// there; answers `{"added": n, "po": first PO added}`), `calls` (calls per endpoint), `usage`
/// (this process's peak RSS in MiB and CPU seconds). Ends at the end of its input.
pub async fn sims(args: SimsArgs) -> Result<ExitCode> {
    let clock = Clock::simulated(t0());
    let (dsco_cfg, lx_cfg) = day_pace(args.seed).configs();
    let (dsco, lx) = start_sims(dsco_cfg, lx_cfg, clock.clone()).await?;
    let mut out = tokio::io::stdout();
    let say = |v: Value| format!("{v}\n");
    out.write_all(say(json!({"dsco": dsco.base_url(), "lingxing": lx.base_url()})).as_bytes())
        .await?;
    out.flush().await?;
    let mut arrivals = Arrivals::new(args.orders, args.arrival_hours, args.seed);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("tick"), Some(t)) => {
                let now = t
                    .parse::<i64>()
                    .ok()
                    .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
                    .ok_or_else(|| anyhow!("tick: `{t}` is not a time in unix seconds"))?;
                let pos = arrivals.until(now, &clock, &dsco)?;
                json!({"added": pos.len(), "po": pos.first()})
            }
            (Some("calls"), None) => json!(sim_calls_of(&dsco, &lx)),
            (Some("usage"), None) => json!({
                "peak_rss_mib": peak_rss_mib(),
                "cpu_s": cpu_seconds().map(|(total, _)| total),
            }),
            _ => bail!("bench sims: unknown command `{line}`"),
        };
        out.write_all(say(answer).as_bytes()).await?;
        out.flush().await?;
    }
    drop(dsco);
    lx.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The simulators' process, seen from the engine's.
struct Sims {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    dsco: String,
    lingxing: String,
}

impl Sims {
    async fn spawn(n: usize, args: &ScaleArgs) -> Result<Sims> {
        let exe = std::env::current_exe().context("the path of this program")?;
        let mut child = tokio::process::Command::new(exe)
            .args(["bench", "sims", "--orders", &n.to_string()])
            .args(["--arrival-hours", &args.day.arrival_hours.to_string()])
            .args(["--seed", &args.day.seed.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the simulators' process")?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut sims = Sims {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            dsco: String::new(),
            lingxing: String::new(),
        };
        let hello = sims.read().await?;
        let url = |k: &str| {
            hello[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the simulators' process did not name `{k}`: {hello}"))
        };
        sims.dsco = url("dsco")?;
        sims.lingxing = url("lingxing")?;
        Ok(sims)
    }

    async fn read(&mut self) -> Result<Value> {
        let line = self
            .lines
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("the simulators' process ended"))?;
        serde_json::from_str(&line)
            .with_context(|| format!("the simulators' process answered `{line}`"))
    }

    async fn ask(&mut self, command: &str) -> Result<Value> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await?;
        self.stdin.flush().await?;
        self.read().await
    }

    async fn end(mut self) -> Result<()> {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        if !status.success() {
            bail!("the simulators' process ended with {status}");
        }
        Ok(())
    }
}

/// One day with the simulators in their own process.
struct ScaleDay {
    n: usize,
    store: Arc<dyn store::Store>,
    _dir: crate::bench::BenchDir,
    /// A PO that arrived, for the order page.
    po: Option<String>,
    wall: Duration,
    /// This process's CPU seconds over the day: the engine's (the driver's share is a pipe
    /// write and read per round).
    cpu: Option<f64>,
    /// This process's peak RSS over the day (the peak is reset before it starts).
    peak_rss: Option<f64>,
    sims_rss: Option<f64>,
    sims_cpu: Option<f64>,
    calls: Calls,
    client: ClientCounts,
    counts: BTreeMap<Stage, i64>,
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (Linux 4.0+; ignored elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn day(n: usize, args: &ScaleArgs) -> Result<ScaleDay> {
    let tally = Tally::global()?;
    let mut sims = Sims::spawn(n, args).await?;
    let clock = Clock::simulated(t0());
    let sim = clock.sim().ok_or_else(|| anyhow!("simulated clock"))?;
    let (url, dir) = fresh_sqlite(&format!("scale{n}"))?;
    let store = engine::startup::connect(&url).await?;
    let config = day_config(args.size)?;
    seed_store(store.as_ref(), &config, &clock).await?;
    let app = app_at(
        far_sides_at(&sims.dsco, &sims.lingxing),
        clock.clone(),
        store.clone(),
        "bench",
        &Tuning::default(),
    )?;
    let client_before = tally.read();
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut po = None;
    for tick in 1..=args.day.hours * 4 {
        let now = t0() + TICK * tick as i32;
        let answer = sims.ask(&format!("tick {}", now.timestamp())).await?;
        if po.is_none() {
            po = answer["po"].as_str().map(str::to_owned);
        }
        sim.advance_to(now);
        for job in JOBS {
            run_job(&app, job).await?;
        }
        if tick % 16 == 0 {
            let counts = store.count_by_stage().await?;
            progress(
                &format!(
                    "  {n} orders: simulated {:>2} h, wall {:>6.1} s: {}",
                    tick / 4,
                    started.elapsed().as_secs_f64(),
                    stages(&counts)
                ),
                tty,
            );
        }
    }
    if tty {
        eprintln!();
    }
    let wall = started.elapsed();
    let cpu = cpu_before.zip(cpu_seconds()).map(|((a, _), (b, _))| b - a);
    let peak_rss = peak_rss_mib();
    let client = tally.read().since(&client_before);
    drop(app);
    let calls: Calls = serde_json::from_value(sims.ask("calls").await?)?;
    let usage = sims.ask("usage").await?;
    sims.end().await?;
    Ok(ScaleDay {
        n,
        counts: store.count_by_stage().await?,
        store,
        _dir: dir,
        po,
        wall,
        cpu,
        peak_rss,
        sims_rss: usage["peak_rss_mib"].as_f64(),
        sims_cpu: usage["cpu_s"].as_f64(),
        calls,
        client,
    })
}

/// The day's figures into the table; the peak-RSS target (150 MB) applies at 100,000 orders.
fn print_day(d: &ScaleDay, report: &mut Report) {
    let n = d.n;
    println!(
        "{n} orders: {:.1} s of wall time; orders per stage at the end: {}",
        d.wall.as_secs_f64(),
        stages(&d.counts)
    );
    let label = |what: &str| format!("{n} orders: {what}");
    report.add(
        label("wall time of the simulated day"),
        d.wall.as_secs_f64(),
        "s",
    );
    if let Some(c) = d.cpu {
        report.add(label("engine CPU (its own process)"), c, "s");
    }
    if let Some(m) = d.peak_rss {
        // 150 MB (10^6 bytes) in MiB.
        let target = (n == 100_000).then_some(Target::Below(150e6 / 1048576.0));
        report.push(label("engine peak RSS (its own process)"), m, "MiB", target);
    }
    if let Some(m) = d.sims_rss {
        report.add(label("simulators' peak RSS (their process)"), m, "MiB");
    }
    if let Some(c) = d.sims_cpu {
        report.add(label("simulators' CPU (their process)"), c, "s");
    }
    let done = d.counts.get(&Stage::Done).copied().unwrap_or(0);
    report.add(label("orders done at the end"), done as f64, "orders");
    let total: u64 = d
        .calls
        .iter()
        .filter(|(k, _)| !is_token_endpoint(k))
        .map(|(_, v)| v)
        .sum();
    report.add(label("far-side calls"), total as f64, "calls");
    crate::bench::counts_agree(&d.calls, &d.client, &format!("{n} orders: "), report);
}

/// One GET on the console, timed until the whole page is read; its status must be 200.
async fn get(client: &reqwest::Client, url: &str) -> Result<Duration> {
    let started = Instant::now();
    let response = client.get(url).send().await?;
    let status = response.status();
    response.bytes().await?;
    if status != reqwest::StatusCode::OK {
        bail!("console GET {url}: {status}");
    }
    Ok(started.elapsed())
}

/// The console's pages served on the day's store, each asked five times; the slowest counts.
async fn console_timings(d: &ScaleDay, report: &mut Report) -> Result<()> {
    let router = console::pages_router(
        d.store.clone(),
        console::ConsoleConfig {
            language: Lang::En,
            timezone: chrono_tz::UTC,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let sku = sim::defaults::PRODUCTS
        .first()
        .map(|p| p.dsco_sku)
        .unwrap_or_default();
    let mut pages = vec![
        ("overview", "/".to_owned()),
        (
            "order list filtered by stage (3, the intercepted)",
            "/orders?stage=3".to_owned(),
        ),
        ("order list filtered by SKU", format!("/orders?sku={sku}")),
    ];
    if let Some(po) = &d.po {
        pages.push(("order page", format!("/orders/{po}")));
    }
    println!("console on the {}-order store (slowest of five):", d.n);
    for (name, path) in pages {
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            slowest = slowest.max(get(&client, &format!("http://{addr}{path}")).await?);
        }
        let ms = slowest.as_secs_f64() * 1000.0;
        println!("  {name} (GET {path}): {ms:.1} ms");
        report.push(
            format!("{} orders: console {name}", d.n),
            ms,
            "ms",
            Some(Target::Below(100.0)),
        );
    }
    server.abort();
    Ok(())
}

pub async fn run(args: ScaleArgs) -> Result<ExitCode> {
    if args.orders == 0 {
        bail!("--orders: at least one order");
    }
    println!(
        "bench scale: the simulated day ({} h of arrivals, {} simulated hours, jobs every 15 min, SQLite) with the simulators in a process of their own, at {}{} orders",
        args.day.arrival_hours,
        args.day.hours,
        if args.base > 0 {
            format!("{} and ", args.base)
        } else {
            String::new()
        },
        args.orders
    );
    let mut report = Report::new(format!(
        "bench scale: {} orders{}, simulators in their own process, SQLite",
        args.orders,
        if args.base > 0 {
            format!(" (growth from {})", args.base)
        } else {
            String::new()
        }
    ));
    let mut base_cpu = None;
    if args.base > 0 {
        eprintln!("day with {} orders:", args.base);
        let small = day(args.base, &args).await?;
        print_day(&small, &mut report);
        base_cpu = small.cpu;
    }
    eprintln!("day with {} orders:", args.orders);
    let large = day(args.orders, &args).await?;
    print_day(&large, &mut report);
    if let (Some(a), Some(b)) = (base_cpu, large.cpu) {
        let scale = args.orders as f64 / args.base as f64;
        report.push(
            format!("engine CPU growth, {} → {} orders", args.base, args.orders),
            b / a.max(f64::EPSILON),
            "×",
            // Linear with 10 % to spare: 11× for ten times the orders.
            Some(Target::AtMost(scale * 1.1)),
        );
    }
    console_timings(&large, &mut report).await?;
    crate::bench::finish(&report, args.json.as_deref())
}
