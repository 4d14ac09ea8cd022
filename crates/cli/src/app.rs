//! The subcommands. Each is thin: load settings, open the store, call the engine or the store,
//! print. No business rule lives here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use clock::Clock;
use domain::{JobName, PoNumber, RunOutcome, Trigger};
use engine::startup::{self, Application, FarSides, Parts, Server};
use engine::{Engine, RunOptions, RunResult};
use store::{SkuSource, Store};

use crate::config_cmd::ConfigCommand;
use tokio::sync::watch;

use crate::logging;
use crate::settings::Settings;

/// Keeps DSCO and LingXing ERP (领星) in sync by scheduled batch jobs.
#[derive(Debug, Parser)]
#[command(name = "dsco-lingxing", version, about)]
pub struct Args {
    /// The deployment config file.
    #[arg(
        long,
        global = true,
        env = "DSCO_LINGXING_CONFIG",
        default_value = "dsco-lingxing.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler, with /healthz and /metrics on the console address.
    Run,
    /// Jobs: list their schedules, or run one now.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Configuration: check, import, export, diff, history, rollback, set.
    Config {
        #[command(subcommand)]
        command: crate::config_cmd::ConfigCommand,
    },
    /// Create or upgrade the store's tables (also done by every other command).
    Migrate,
    /// Orders in the store.
    Order {
        #[command(subcommand)]
        command: OrderCommand,
    },
    /// Run a simulator of DSCO or LingXing on a local address (for trying the service out).
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// sync_stock: release held runs, list runs, export items as CSV.
    Stock {
        #[command(subcommand)]
        command: crate::stock_cmd::StockCommand,
    },
    /// mapping.sku from LingXing pairs: the conflicts of the latest pull.
    Sku {
        #[command(subcommand)]
        command: crate::stock_cmd::SkuCommand,
    },
    /// Benchmarks against the in-process simulators on the simulated clock.
    Bench {
        #[command(subcommand)]
        command: crate::bench_stock::BenchCommand,
    },
    /// Both simulators in-process, a fresh SQLite store, ~200 seeded orders through every rule.
    Demo(crate::demo::DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The LingXing OpenAPI simulator. Default credentials: appId `ak_SimulatorApp1`,
    /// appSecret `U2ltdWxhdG9yU2VjcmV0MQ==`.
    Lingxing {
        #[arg(long, default_value = "127.0.0.1:18081")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        app_id: Option<String>,
        #[arg(long)]
        app_secret: Option<String>,
        /// A JSON seed file (world, delays, rates); see the simulator's documentation.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// The DSCO v3 simulator. Default OAuth2 credentials: client id `dsco-sim-client`, secret
    /// `dsco-sim-secret`.
    Dsco {
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        client_secret: Option<String>,
        /// Also accept this static bearer token.
        #[arg(long)]
        static_token: Option<String>,
        /// Generate this many realistic orders at start.
        #[arg(long)]
        orders: Option<usize>,
        /// A seed file (JSON, or TOML when it ends in .toml).
        #[arg(long)]
        seed: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Every job with its schedule and next three fire times (UTC and display time zone).
    List,
    /// Run one job now (refused if it is already running, here or in another replica).
    Run {
        job: String,
        /// Only this PO.
        #[arg(long)]
        po: Option<String>,
        /// Decide and record, write nothing to DSCO or LingXing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// What the store holds for one PO: stage, reason, LingXing orders, tracking, timeline.
    Show { po: String },
    /// Orders stuck per stage (longer than `stuck_after_periods` periods of the job that moves
    /// them, default four), oldest first.
    Stuck {
        /// How many POs to list per stage.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// Exit codes: 0 ok, 1 failure, 2 bad input (config, arguments).
pub async fn main(args: Args) -> ExitCode {
    match dispatch(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(args: Args) -> Result<ExitCode> {
    if let Command::Config {
        command: ConfigCommand::Check { file },
    } = &args.command
    {
        return Ok(crate::config_cmd::check(
            file.as_deref().unwrap_or(&args.config),
        ));
    }
    if let Command::Bench { command } = args.command {
        // Benchmarks print figures, not logs; `DSCO_LINGXING_BENCH_LOG=<filter>` opts in (for
        // profiling, e.g. `sqlx::query=debug` to see every statement).
        if let Ok(f) = std::env::var("DSCO_LINGXING_BENCH_LOG") {
            logging::init(logging::LogFormat::Json, &f)?;
        }
        return crate::bench_stock::bench(command).await;
    }
    if let Command::Sim { command } = args.command {
        let _ = logging::init(logging::LogFormat::Pretty, "info");
        return sim_command(command).await;
    }
    if let Command::Demo(a) = args.command {
        let _ = logging::init(logging::LogFormat::Pretty, "warn");
        return crate::demo::run(a).await;
    }
    let settings = match Settings::load(&args.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let _ = logging::init(settings.logging.format, &settings.logging.level);
    match args.command {
        Command::Run => run(settings).await,
        Command::Migrate => {
            let store = open_store(&settings).await?;
            println!(
                "store ready ({:?}, {})",
                store.backend(),
                settings.store.url.redacted()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Job { command } => match command {
            JobCommand::List => job_list(&settings).await,
            JobCommand::Run { job, po, dry_run } => job_run(&settings, &job, po, dry_run).await,
        },
        Command::Config { command } => crate::config_cmd::config(settings, command).await,
        Command::Order { command } => match command {
            OrderCommand::Show { po } => order_show(&settings, &po).await,
            OrderCommand::Stuck { limit } => order_stuck(&settings, limit).await,
        },
        Command::Stock { command } => crate::stock_cmd::stock(&settings, command).await,
        Command::Sku { command } => crate::stock_cmd::sku(&settings, command).await,
        Command::Sim { .. } | Command::Demo(_) | Command::Bench { .. } => {
            unreachable!("handled above")
        }
    }
}

pub(crate) async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    Ok(startup::connect(settings.store.url.expose()).await?)
}

pub(crate) fn in_zone(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

async fn job_list(settings: &Settings) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let config = store
        .runtime_config()
        .await?
        .map(|s| s.config)
        .unwrap_or_default();
    let tz = settings.console.timezone;
    for (job, enabled, fires) in engine::upcoming_fires(&config, Utc::now(), 3) {
        let (en, zh) = job.describe();
        let cron = config
            .jobs
            .get(&job)
            .map(|j| j.schedule.as_str().to_owned());
        let state = match (&cron, enabled) {
            (None, _) => "not configured".to_owned(),
            (Some(c), true) => format!("enabled, cron `{c}` (UTC)"),
            (Some(c), false) => format!("disabled, cron `{c}` (UTC)"),
        };
        println!("{job}  {state}\n  {en} / {zh}");
        for f in fires {
            println!(
                "  next: {}  |  {}",
                f.format("%Y-%m-%d %H:%M:%S UTC"),
                in_zone(f, tz)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn job_run(
    settings: &Settings,
    job: &str,
    po: Option<String>,
    dry_run: bool,
) -> Result<ExitCode> {
    let job: JobName = match job.parse() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let only_po = match po.map(PoNumber::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--po: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = open_store(settings).await?;
    let engine = build_engine(store, settings)?;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let opts = RunOptions {
        scheduled_for: None,
        only_po,
        dry_run,
    };
    match engine.run_job(job, Trigger::Cli, opts, stop_rx).await? {
        RunResult::Rejected { blocking_run_id } => {
            eprintln!(
                "{job} is already running (run {}); this request was recorded as a rejected fire",
                blocking_run_id.as_deref().unwrap_or("unknown")
            );
            Ok(ExitCode::from(1))
        }
        RunResult::Ran {
            run_id,
            outcome,
            counts,
            error,
        } => {
            println!("run {run_id}: {outcome}");
            println!(
                "  processed {}, advanced {}, skipped {} (waiting {}, needs attention {}, retrying {}, held {}), failed {}",
                counts.processed,
                counts.advanced,
                counts.skipped(),
                counts.skipped_waiting,
                counts.skipped_attention,
                counts.skipped_retrying,
                counts.skipped_held,
                counts.failed
            );
            if let Some(e) = error {
                println!("  {e}");
            }
            Ok(if outcome == RunOutcome::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn build_engine(store: Arc<dyn Store>, settings: &Settings) -> Result<Arc<Engine>> {
    let parts = Parts::service(
        Clock::real(),
        engine::default_holder(),
        far_sides(settings),
        settings.exports.dir.clone(),
    );
    Ok(Application::build(store, parts)?.engine().clone())
}

/// The DSCO and LingXing client settings of the deployment file.
pub fn far_sides(settings: &Settings) -> FarSides {
    use crate::settings::DscoAuth;
    let auth = match &settings.dsco.auth {
        DscoAuth::OAuth {
            client_id,
            client_secret,
        } => dsco::Auth::OAuth2 {
            client_id: client_id.clone(),
            client_secret: secrecy::SecretString::from(client_secret.expose().to_owned()),
        },
        DscoAuth::Token(t) => {
            dsco::Auth::StaticToken(secrecy::SecretString::from(t.expose().to_owned()))
        }
    };
    let lx = &settings.lingxing;
    let mut lingxing = lingxing::LingxingConfig::new(
        lx.base_url.as_str(),
        lx.app_id.clone(),
        lx.app_secret.expose(),
    );
    lingxing.timezone = lx.timezone;
    FarSides {
        dsco: dsco::DscoConfig::new(settings.dsco.base_url.as_str(), auth),
        lingxing,
        platform_code: lx.platform_code,
    }
}

async fn order_show(settings: &Settings, po: &str) -> Result<ExitCode> {
    let po = match PoNumber::parse(po) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = open_store(settings).await?;
    let tz = settings.console.timezone;
    let Some(d) = console::model::OrderDetail::load(&*store, &po, Utc::now()).await? else {
        // data defects (issue 13): an order without a PO is kept by its dscoOrderId.
        let unreadable = store.unreadable_orders(false, u32::MAX).await?;
        if let Some(u) = unreadable
            .iter()
            .find(|u| u.order.dsco_order_id == po.as_str())
        {
            println!("dscoOrderId {po}: not stored as an order");
            print_unreadable(settings, u);
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("no order {po} in the store (not pulled yet, or pulled into another store)");
        return Ok(ExitCode::from(1));
    };
    let o = &d.order;
    println!("PO {po}");
    println!(
        "  stage: {} {} / {}",
        o.stage.number(),
        o.stage.label_zh(),
        o.stage.label_en()
    );
    println!("  since: {}", in_zone(o.stage_entered_at, tz));
    match &o.reason {
        Some(r) => {
            println!("  reason: {} ({} / {})", r.code, r.kind, r.kind.label_zh());
            let first = console_config(settings).language;
            let second = match first {
                domain::Lang::En => domain::Lang::Zh,
                domain::Lang::Zh => domain::Lang::En,
            };
            for lang in [first, second] {
                println!("    {}", d.reason_sentence(lang).unwrap_or_default());
            }
        }
        None => println!("  reason: none"),
    }
    if let Some(t) = d.stuck_after.filter(|_| d.is_stuck()) {
        println!(
            "  STUCK: longer than {} min at this stage (卡单)",
            t.num_minutes()
        );
    }
    if let Some(n) = o.next_attempt_at {
        println!(
            "  next attempt: {} (attempts {})",
            in_zone(n, tz),
            o.attempts
        );
    }
    let p = &o.pulled;
    println!(
        "  DSCO: status {}, lifecycle {}, retailer {}, warehouse {}, service level {}",
        p.dsco_status.as_deref().unwrap_or("-"),
        p.dsco_lifecycle.as_deref().unwrap_or("-"),
        p.retailer_id.as_deref().unwrap_or("-"),
        p.warehouse_code.as_deref().unwrap_or("-"),
        p.service_level.as_deref().unwrap_or("-")
    );
    println!("  lines: {}", p.skus);
    println!(
        "  LingXing orders: {}",
        if o.lingxing_order_nos.is_empty() {
            "-".to_owned()
        } else {
            o.lingxing_order_nos.join(", ")
        }
    );
    println!(
        "  tracking: {}",
        if o.tracking.is_empty() {
            "-".to_owned()
        } else {
            o.tracking.join(",")
        }
    );
    println!("  invoice: {}", o.invoice_id.as_deref().unwrap_or("-"));
    if !o.flags.is_empty() {
        println!("  flags: {}", o.flags.join(", "));
    }
    let intents = &d.intents;
    if !intents.is_empty() {
        println!("  writes:");
        for i in intents {
            println!(
                "    {} {}: {}{}",
                i.kind.as_str(),
                i.key,
                i.state.as_str(),
                if i.outcome.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", i.outcome)
                }
            );
        }
        let pending = d.pending_requests();
        if !pending.is_empty() {
            println!(
                "  pending DSCO requests: {}",
                pending
                    .iter()
                    .map(|i| i.outcome.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    println!("  timeline:");
    for e in &d.events {
        let ev = &e.event;
        let moved = match (ev.from_stage, ev.to_stage) {
            (Some(a), Some(b)) => format!(" {}→{}", a.number(), b.number()),
            (None, Some(b)) => format!(" →{}", b.number()),
            _ => String::new(),
        };
        let who = ev
            .job
            .map(|j| j.as_str().to_owned())
            .or_else(|| ev.actor.clone())
            .unwrap_or_default();
        let reason = ev
            .reason_code
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let times = if e.count > 1 {
            format!(" ×{} (last {})", e.count, in_zone(e.last_at, tz))
        } else {
            String::new()
        };
        println!(
            "    {}  {who} {}{moved}{reason} {}{times}",
            in_zone(ev.at, tz),
            ev.outcome.as_str(),
            ev.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored reason's messages, in the console's language first; the bare detail when the code
/// is not in the catalogue.
fn print_reason(settings: &Settings, code: &str, detail: &str) {
    if let Some(code) = domain::ReasonCode::parse(code) {
        let reason = domain::Reason::new(code, detail);
        let (first, second) = match settings.console.language {
            crate::settings::Language::En => (domain::Lang::En, domain::Lang::Zh),
            crate::settings::Language::ZhCn => (domain::Lang::Zh, domain::Lang::En),
        };
        println!("    {}", reason.message(first));
        println!("    {}", reason.message(second));
    } else {
        println!("    {detail}");
    }
}

/// One DSCO order the pull could not store as an order (data defects, issue 13).
fn print_unreadable(settings: &Settings, u: &store::UnreadableOrderRecord) {
    let tz = settings.console.timezone;
    println!(
        "  dscoOrderId {}  first seen {}  last seen {} (read {} times){}",
        u.order.dsco_order_id,
        in_zone(u.first_seen, tz),
        in_zone(u.last_seen, tz),
        u.seen,
        u.resolved_at
            .map(|t| format!("  resolved {}", in_zone(t, tz)))
            .unwrap_or_default()
    );
    print_reason(settings, &u.order.reason_code, &u.order.detail);
}

async fn run(settings: Settings) -> Result<ExitCode> {
    // A store that refuses writes would fail every run: say so now, before serving.
    let store = startup::connect_writable(settings.store.url.expose()).await?;
    if store.runtime_config().await?.is_none() {
        match &settings.runtime_config {
            Some(rc) => {
                let now = Utc::now();
                let v = store
                    .save_runtime_config(
                        None,
                        &rc.config,
                        "run",
                        "first start: [runtime_config] of the deployment file",
                        now,
                    )
                    .await?;
                let source = if rc.sku_from_pairs() {
                    SkuSource::Pair
                } else {
                    SkuSource::Manual
                };
                store
                    .replace_sku_entries(0, source, &rc.sku, "run", "first start", now, None)
                    .await?;
                tracing::info!(
                    version = v,
                    "runtime config imported from the deployment file"
                );
            }
            None => tracing::warn!(
                "no runtime config: import one with `dsco-lingxing config import FILE --reason \"…\"`"
            ),
        }
    } else if settings.runtime_config.is_some() {
        tracing::info!(
            "the store already has a runtime config; the file's [runtime_config] is ignored (change it with `config import`, `config set` or `config rollback`)"
        );
    }

    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow!("cannot install the metrics recorder: {e}"))?;
    let render: console::MetricsRender = Arc::new(move || prometheus.render());
    let parts = Parts::service(
        Clock::real(),
        engine::default_holder(),
        far_sides(&settings),
        settings.exports.dir.clone(),
    );
    let console = console_server(
        settings.console.listen,
        console_config(&settings),
        Some(render),
    );
    let running = Application::build(store, parts)?
        .start(Some(console))
        .await?;
    let stopper = running.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            "shutting down: no new runs; running jobs get a grace period, then stop and free their leases"
        );
        stopper.stop();
    });
    running.join().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The console's display settings from the deployment file.
pub(crate) fn console_config(settings: &Settings) -> console::ConsoleConfig {
    console::ConsoleConfig {
        language: match settings.console.language {
            crate::settings::Language::En => domain::Lang::En,
            crate::settings::Language::ZhCn => domain::Lang::Zh,
        },
        timezone: settings.console.timezone,
    }
}

/// `/healthz` and `/metrics`, and the pages when `listen` is loopback (they have no login yet:
/// on another address only the two ops endpoints are served, with a warning naming
/// `console.listen`).
pub(crate) fn console_app(
    listen: std::net::SocketAddr,
    engine: Arc<Engine>,
    cfg: console::ConsoleConfig,
    metrics: Option<console::MetricsRender>,
) -> axum::Router {
    let store = engine.store().clone();
    let ops = console::ops_router(engine, metrics);
    match console::check_listen(listen) {
        Ok(()) => ops.merge(console::pages_router(store, cfg)),
        Err(e) => {
            tracing::warn!("{e}; serving /healthz, /readyz and /metrics only");
            ops
        }
    }
}

/// The console as the start-up's server: `/healthz`, `/readyz`, `/metrics` and the pages (see
/// [`console_app`]) on `listen` (port 0 picks a free port).
pub(crate) fn console_server(
    listen: std::net::SocketAddr,
    cfg: console::ConsoleConfig,
    metrics: Option<console::MetricsRender>,
) -> Server {
    Server {
        listen,
        serve: Box::new(move |listener, engine, stop| {
            let app = console_app(listen, engine, cfg, metrics);
            Box::pin(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            })
        }),
    }
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn sim_command(command: SimCommand) -> Result<ExitCode> {
    let (_stop_tx, mut stop) = watch::channel(false);
    match command {
        SimCommand::Lingxing {
            listen,
            app_id,
            app_secret,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::lingxing::LingxingSimConfig::from_seed_file(&p)
                    .map_err(|e| anyhow!("{}: {e}", p.display()))?,
                None => sim::lingxing::LingxingSimConfig::default(),
            };
            if let Some(a) = app_id {
                cfg.app_id = a;
            }
            if let Some(s) = app_secret {
                cfg.app_secret = s;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let app_id = cfg.app_id.clone();
            let sim = sim::lingxing::LingxingSim::start(cfg, Clock::real(), listener)
                .await
                .map_err(|e| anyhow!("LingXing simulator: {e}"))?;
            println!(
                "LingXing simulator on {} (appId {app_id}); admin API under /__admin/. Ctrl-C stops it.",
                sim.base_url()
            );
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            sim.shutdown().await;
        }
        SimCommand::Dsco {
            listen,
            client_id,
            client_secret,
            static_token,
            orders,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::dsco::DscoSimConfig::from_seed_file(&p)
                    .map_err(|e| anyhow!("{}: {e}", p.display()))?,
                None => sim::dsco::DscoSimConfig::default(),
            };
            if let Some(v) = client_id {
                cfg.client_id = v;
            }
            if let Some(v) = client_secret {
                cfg.client_secret = v;
            }
            if static_token.is_some() {
                cfg.static_token = static_token;
            }
            if let Some(n) = orders {
                cfg.initial_orders = n;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let (id, n) = (cfg.client_id.clone(), cfg.initial_orders);
            let sim = sim::dsco::DscoSim::start(cfg, Clock::real(), listener)
                .await
                .map_err(|e| anyhow!("DSCO simulator: {e}"))?;
            println!(
                "DSCO simulator on {} (client id {id}, {n} orders); admin API at {}. Ctrl-C stops it.",
                sim.base_url(),
                sim.admin_url()
            );
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            drop(sim);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn order_stuck(settings: &Settings, limit: u32) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let config = store
        .runtime_config()
        .await?
        .map(|c| c.config)
        .unwrap_or_default();
    let tz = settings.console.timezone;
    let mut any = false;
    for (stage, threshold, n, oldest) in
        engine::jobs::stuck(&*store, &config, Utc::now(), limit).await?
    {
        println!(
            "stage {} {} / {}: {n} stuck (threshold {} min)",
            stage.number(),
            stage.label_zh(),
            stage.label_en(),
            threshold.num_minutes()
        );
        for o in oldest {
            any = true;
            let why = o
                .reason
                .map(|r| format!("{} ({})", r.code, r.kind))
                .unwrap_or_else(|| "no reason recorded".into());
            println!(
                "  {}  since {}  {why}",
                o.pulled.po,
                in_zone(o.stage_entered_at, tz)
            );
        }
    }
    // data defects (issue 13): orders DSCO sent without a PO never become orders; listed here.
    let unreadable = store.unreadable_orders(true, limit).await?;
    if !unreadable.is_empty() {
        any = true;
        println!(
            "DSCO orders that cannot be stored (no poNumber) / 无法保存的 DSCO 订单: {}",
            unreadable.len()
        );
        for u in &unreadable {
            print_unreadable(settings, u);
        }
    }
    if !any {
        println!("no stuck orders");
    }
    Ok(ExitCode::SUCCESS)
}
