//! `dsco-lingxing demo`: both simulators in-process on loopback, SQLite in a fresh folder, a
//! seeded mix of orders that walks through every rule and reason, the real scheduler on the real
//! clock with crons of two seconds, a live progress line, and a closing summary once every order
//! is terminal (5 or 6), needs attention, or is held.
//!
//! The wiring ([`SimWorld`]) is shared with `bench`, which runs it on the simulated clock.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clock::Clock;
use domain::{PoNumber, ReasonCode, ReasonKind, RuntimeConfig, Stage};
use engine::EngineSettings;
use engine::startup::{Application, FarSides, Parts};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::defaults;
use sim::dsco::{DscoSim, DscoSimConfig, Gap, Generator, InitialState, LineSpec, OrderSpec};
use sim::lingxing::{DelayRange, LingxingSim, LingxingSimConfig};
use store::{SkuSource, Store};

/// The five order jobs, in the order an order meets them.
pub(crate) const ORDER_JOBS: [&str; 5] = [
    "pull_dsco_orders",
    "push_to_lingxing",
    "ack_to_dsco",
    "ship_to_dsco",
    "invoice_to_dsco",
];

/// The runtime config matching the simulators' default world (`sim::defaults`): every shop,
/// warehouse and (warehouse, service level) pair mapped, the five order jobs on `cron`, and
/// `extra` merged per job (`{"ship_to_dsco": {"multi_ban": true}}`).
pub(crate) fn runtime_config(cron: &str, size: u32, extra: &Value) -> Result<RuntimeConfig> {
    let mut jobs = json!({});
    for j in ORDER_JOBS {
        jobs[j] = json!({"enable": true, "cron": cron, "size": size});
    }
    if let Some(o) = extra.as_object() {
        for (job, settings) in o {
            for (k, v) in settings.as_object().into_iter().flatten() {
                jobs[job][k] = v.clone();
            }
        }
    }
    let shop: BTreeMap<_, _> = defaults::RETAILERS
        .iter()
        .map(|r| (r.dsco_retailer_id, r.lingxing_store_id))
        .collect();
    let warehouse: BTreeMap<_, _> = defaults::WAREHOUSES
        .iter()
        .map(|w| (w.dsco_code.to_string(), w.wid.to_string()))
        .collect();
    let mut shipment = BTreeMap::new();
    for w in defaults::WAREHOUSES {
        for l in defaults::SERVICE_LEVELS {
            if let Some(id) = defaults::logistics_type_id(w.dsco_code, l.code) {
                shipment.insert(format!("{}-{}", w.dsco_code, l.code), id.to_string());
            }
        }
    }
    let v = json!({
        "domain": "dsco_lingxing",
        "jobs": jobs,
        "mapping": {"shop": shop, "warehouse": warehouse, "shipment": shipment}
    });
    RuntimeConfig::from_value(&v, "runtime_config")
        .map(|i| i.config)
        .map_err(|e| anyhow!("demo runtime config: {e}"))
}

/// Both simulators, a store, and a process with the order jobs, on one clock.
pub(crate) struct SimWorld {
    pub store: Arc<dyn Store>,
    pub dsco: DscoSim,
    pub lx: LingxingSim,
    pub app: Application,
}

impl SimWorld {
    pub async fn start(
        clock: Clock,
        store: Arc<dyn Store>,
        dsco_cfg: DscoSimConfig,
        lx_cfg: LingxingSimConfig,
        config: &RuntimeConfig,
    ) -> Result<SimWorld> {
        let tuning = Tuning::default();
        Self::start_on(None, clock, store, dsco_cfg, lx_cfg, config, &tuning).await
    }

    /// [`SimWorld::start`], with the simulators served by runtime `sims` when given (the
    /// benchmark runs them on their own threads, to tell the engine's CPU time from theirs), and
    /// the clients and engine set by `tuning`.
    pub async fn start_on(
        sims: Option<&tokio::runtime::Handle>,
        clock: Clock,
        store: Arc<dyn Store>,
        dsco_cfg: DscoSimConfig,
        lx_cfg: LingxingSimConfig,
        config: &RuntimeConfig,
        tuning: &Tuning,
    ) -> Result<SimWorld> {
        let started = start_sims(dsco_cfg, lx_cfg, clock.clone());
        let (dsco, lx) = match sims {
            Some(rt) => rt.spawn(started).await??,
            None => started.await?,
        };
        seed_store(store.as_ref(), config, &clock).await?;
        let app = app_on(&dsco, &lx, clock, store.clone(), "demo", tuning)?;
        Ok(SimWorld {
            store,
            dsco,
            lx,
            app,
        })
    }
}

/// Both simulators on `clock`, each on a loopback port of its own, served by the runtime this
/// runs on.
pub(crate) async fn start_sims(
    dsco_cfg: DscoSimConfig,
    lx_cfg: LingxingSimConfig,
    clock: Clock,
) -> Result<(DscoSim, LingxingSim)> {
    let listener = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let dsco = DscoSim::start(dsco_cfg, clock.clone(), listener().await?)
        .await
        .map_err(|e| anyhow!("DSCO simulator: {e}"))?;
    let lx = LingxingSim::start(lx_cfg, clock, listener().await?)
        .await
        .map_err(|e| anyhow!("LingXing simulator: {e}"))?;
    Ok((dsco, lx))
}

/// What a demo or bench store holds before the first run: `config` as the runtime config and
/// the simulators' paired SKUs as the mapping.
pub(crate) async fn seed_store(
    store: &dyn Store,
    config: &RuntimeConfig,
    clock: &Clock,
) -> Result<()> {
    store
        .save_runtime_config(None, config, "demo", "demo world", clock.now())
        .await?;
    let pairs: BTreeMap<String, String> = defaults::PRODUCTS
        .iter()
        .filter(|p| p.paired)
        .map(|p| (p.dsco_sku.to_string(), p.lingxing_sku.to_string()))
        .collect();
    store
        .replace_sku_entries(
            0,
            SkuSource::Pair,
            &pairs,
            "demo",
            "demo world",
            clock.now(),
            None,
        )
        .await?;
    Ok(())
}

/// Client settings the harnesses change: the fault matrix cuts hung requests after a second or
/// two of real time instead of the production half a minute.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tuning {
    /// Per-request timeout of both clients (real time); `None`: the clients' defaults.
    pub request_timeout: Option<Duration>,
    pub engine: EngineSettings,
    /// The DSCO client paces itself to DSCO's published rates (the backlog bench, where the
    /// simulator enforces them); off elsewhere.
    pub dsco_rate_limits: bool,
}

/// A process with the order jobs and its own clients of the two simulators, on `store`: what
/// one process of the service is. [`SimWorld::start`] makes the first; the fault matrix makes
/// more on the same store (a restart after a kill, a second replica).
pub(crate) fn app_on(
    dsco: &DscoSim,
    lx: &LingxingSim,
    clock: Clock,
    store: Arc<dyn Store>,
    holder: &str,
    tuning: &Tuning,
) -> Result<Application> {
    app_at(sim_far_sides(dsco, lx), clock, store, holder, tuning)
}

/// [`app_on`] with the far sides given by address (the simulators of another process).
pub(crate) fn app_at(
    mut far: FarSides,
    clock: Clock,
    store: Arc<dyn Store>,
    holder: &str,
    tuning: &Tuning,
) -> Result<Application> {
    // The simulator's limits are off (see the DSCO config of the callers): no need to pace.
    far.dsco.rate_limits = tuning.dsco_rate_limits;
    if let Some(t) = tuning.request_timeout {
        far = far.request_timeout(t);
    }
    let parts = Parts {
        clock,
        holder: holder.to_owned(),
        engine: tuning.engine.clone(),
        far,
        shared_token: true,
        order_jobs: true,
        stock_jobs: None,
    };
    Ok(Application::build(store, parts)?)
}

/// The two simulators with their default credentials, every client setting at its default.
pub(crate) fn sim_far_sides(dsco: &DscoSim, lx: &LingxingSim) -> FarSides {
    far_sides_at(&dsco.base_url(), &lx.base_url())
}

/// The simulators at these base addresses, with their default credentials.
pub(crate) fn far_sides_at(dsco: &str, lx: &str) -> FarSides {
    FarSides::oauth(
        dsco,
        sim::dsco::DEFAULT_CLIENT_ID,
        sim::dsco::DEFAULT_CLIENT_SECRET,
        lx,
        sim::lingxing::DEFAULT_APP_ID,
        sim::lingxing::DEFAULT_APP_SECRET,
        defaults::PLATFORM_CODE,
    )
}

/// One storyline of the demo: how many orders, and what is special about them.
struct Storyline {
    name: &'static str,
    count: usize,
    build: fn(&mut Generator, usize) -> OrderSpec,
}

fn plain(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[])
}

fn several_lines(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::SeveralLines])
}

fn quantity_above_one(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::QuantityAboveOne])
}

fn unknown_retailer(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::UnknownRetailer])
}

fn unknown_warehouse(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::UnknownWarehouse])
}

/// A service level no `mapping.shipment` key names.
fn unmapped_shipment(g: &mut Generator, _: usize) -> OrderSpec {
    let mut o = g.order(&[]);
    o.service_level = Some("UPS2".into());
    o
}

/// A DSCO SKU LingXing neither pairs nor knows as a local SKU: LingXing refuses the order.
fn unknown_sku(g: &mut Generator, i: usize) -> OrderSpec {
    let mut o = g.order(&[]);
    o.lines = vec![LineSpec {
        sku: format!("SKU-NEW-{:03}", i + 1),
        quantity: 1,
        expected_cost: Some(Decimal::new(1999, 2)),
        price_missing: false,
    }];
    o
}

fn missing_city(g: &mut Generator, _: usize) -> OrderSpec {
    let mut o = g.order(&[]);
    if let Some(a) = o.ship_to.as_mut() {
        a.city = None;
    }
    o
}

fn missing_price(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::MissingPrice])
}

fn cancelled_before_push(g: &mut Generator, _: usize) -> OrderSpec {
    let mut o = g.order(&[]);
    o.initial = InitialState::Cancelled;
    o
}

fn shipped_before_pull(g: &mut Generator, _: usize) -> OrderSpec {
    let mut o = g.order(&[]);
    o.initial = InitialState::Shipped;
    o
}

/// A service level the retailer refuses on shipments: DSCO accepts the batch, then reports the
/// failure in its change log (the async failure).
fn dsco_async_failure(g: &mut Generator, _: usize) -> OrderSpec {
    g.order(&[Gap::DisallowedServiceLevel])
}

const CANCEL_AFTER_PUSH: &str = "cancelled after push";

const STORYLINES: &[Storyline] = &[
    Storyline {
        name: "single line",
        count: 120,
        build: plain,
    },
    Storyline {
        name: "two or three lines (splits, partial shipments)",
        count: 30,
        build: several_lines,
    },
    Storyline {
        name: "quantity above 1",
        count: 10,
        build: quantity_above_one,
    },
    Storyline {
        name: CANCEL_AFTER_PUSH,
        count: 6,
        build: plain,
    },
    Storyline {
        name: "unmapped shop",
        count: 5,
        build: unknown_retailer,
    },
    Storyline {
        name: "unmapped warehouse",
        count: 5,
        build: unknown_warehouse,
    },
    Storyline {
        name: "unmapped shipment",
        count: 5,
        build: unmapped_shipment,
    },
    Storyline {
        name: "SKU unknown to LingXing",
        count: 4,
        build: unknown_sku,
    },
    Storyline {
        name: "missing address field",
        count: 4,
        build: missing_city,
    },
    Storyline {
        name: "missing price",
        count: 4,
        build: missing_price,
    },
    Storyline {
        name: "cancelled before push",
        count: 4,
        build: cancelled_before_push,
    },
    Storyline {
        name: "already shipped at first pull",
        count: 4,
        build: shipped_before_pull,
    },
    Storyline {
        name: "DSCO async failure (service level refused)",
        count: 4,
        build: dsco_async_failure,
    },
];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder for the SQLite store (default: `dsco-lingxing-demo` under the system temp dir,
    /// emptied at start, so the last demo's store is always in the same place).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the generated orders and of LingXing's choices.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Give up (exit 1) when orders are still moving after this many seconds.
    #[arg(long, default_value_t = 150)]
    pub timeout_secs: u64,
    /// Where the console serves the demo's store (loopback; port 0 picks a free one).
    #[arg(long, default_value = crate::settings::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Exit after the summary instead of serving the console until Ctrl-C (scripts, CI).
    #[arg(long)]
    pub exit_when_done: bool,
}

/// Whether an order needs nothing more from the jobs: done, cancelled, or parked on a reason a
/// person or the config must lift.
pub(crate) fn settled(o: &store::OrderRecord) -> bool {
    matches!(o.stage, Stage::Done | Stage::Cancelled)
        || o.reason
            .as_ref()
            .is_some_and(|r| matches!(r.kind, ReasonKind::NeedsAttention | ReasonKind::Held))
}

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let dir = match args.dir {
        Some(d) => d,
        None => default_dir()?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("demo.db");
    if db.exists() {
        return Err(crate::app::BadInput(format!(
            "{} exists: the demo needs a fresh store",
            db.display()
        ))
        .into());
    }
    let store = engine::startup::connect(&format!("sqlite://{}", db.display())).await?;
    let clock = Clock::real();
    let dsco_cfg = DscoSimConfig {
        // Outcomes of async batches show in DSCO's change log two seconds later.
        async_delay: Duration::from_secs(2),
        rate_limits: false,
        ..DscoSimConfig::default()
    };
    let lx_cfg = LingxingSimConfig {
        auto: true,
        audit_delay: DelayRange {
            min_secs: 2,
            max_secs: 8,
        },
        ship_delay: DelayRange {
            min_secs: 3,
            max_secs: 12,
        },
        split_rate: 0.4,
        partial_shipment_rate: 0.4,
        interception_rate: 0.02,
        rng_seed: args.seed,
        ..LingxingSimConfig::default()
    };
    // Every job every two seconds; orders of several units are held before the invoice
    // (`multi_ban` on invoice_to_dsco) so the hold shows in the summary; an unmapped warehouse
    // is a reason, not a default route (`require_warehouse`).
    let config = runtime_config(
        "*/2 * * * * *",
        500,
        &json!({
            "invoice_to_dsco": {"multi_ban": true},
            "push_to_lingxing": {"require_warehouse": true},
        }),
    )?;
    let w = SimWorld::start(clock.clone(), store.clone(), dsco_cfg, lx_cfg, &config).await?;

    let mut gen_ = Generator::new(args.seed);
    let mut story_of: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut to_cancel: BTreeSet<String> = BTreeSet::new();
    // Created half a minute ago: the pull reads up to ten seconds before now (DSCO's
    // visibility lag), so orders created "now" would wait for it.
    let created = clock.now() - chrono::TimeDelta::seconds(30);
    for s in STORYLINES {
        for i in 0..s.count {
            let mut spec = (s.build)(&mut gen_, i);
            spec.created_at = Some(created);
            let v = w
                .dsco
                .add_order(spec)
                .map_err(|e| anyhow!("{}: {e}", s.name))?;
            let po = v["poNumber"].as_str().unwrap_or_default().to_string();
            if s.name == CANCEL_AFTER_PUSH {
                to_cancel.insert(po.clone());
            }
            story_of.insert(po, s.name);
        }
    }
    let pos: Vec<PoNumber> = story_of
        .keys()
        .map(|p| PoNumber::parse(p).map_err(|e| anyhow!("{p}: {e}")))
        .collect::<Result<_>>()?;
    println!(
        "dsco-lingxing demo: {} orders in {} storylines; DSCO simulator {}, LingXing simulator {}; store {}",
        pos.len(),
        STORYLINES.len(),
        w.dsco.base_url(),
        w.lx.base_url(),
        db.display()
    );
    println!(
        "jobs every 2 s (real time); LingXing audits 2–8 s after creation and ships 3–12 s later"
    );

    let console = crate::startup::console_server(
        args.listen,
        console::ConsoleConfig {
            language: domain::Lang::Zh,
            timezone: crate::settings::DEFAULT_DISPLAY_TIMEZONE,
        },
        console::Login::none(),
        None,
    );
    let mut running = w.app.start(Some(console)).await?;
    let console_url = running.url().unwrap_or_default();
    println!("console: {console_url}");

    let deadline = started + Duration::from_secs(args.timeout_secs);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut last_line = Instant::now() - Duration::from_secs(10);
    let mut parked: BTreeMap<String, (Stage, ReasonCode)> = BTreeMap::new();
    let all_settled = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let orders = store.orders_by_po(&pos).await?;
        // The "cancelled after push" storyline: DSCO cancels once LingXing has the order.
        for o in &orders {
            let po = o.pulled.po.as_str();
            if o.stage >= Stage::Pushed
                && o.stage < Stage::Shipped
                && to_cancel.remove(po)
                && !w.dsco.cancel_order(po)
            {
                return Err(anyhow!("the DSCO simulator could not cancel {po}"));
            }
        }
        let counts = store.count_by_stage().await?;
        let runs = store.list_runs(None, 100_000).await?.len();
        // An order once parked (needs attention, held) counts as settled while it stays in that
        // stage: ship_to_dsco re-sends a shipment DSCO rejected asynchronously, so such an order
        // flips between `dsco_rejected` and `dsco_confirmation_pending` (a known bug of the job).
        for o in &orders {
            if settled(o) {
                if let Some(r) = &o.reason {
                    parked.insert(o.pulled.po.to_string(), (o.stage, r.code));
                }
            } else if parked
                .get(o.pulled.po.as_str())
                .is_some_and(|(s, _)| *s != o.stage)
            {
                parked.remove(o.pulled.po.as_str());
            }
        }
        let done = orders
            .iter()
            .filter(|o| settled(o) || parked.contains_key(o.pulled.po.as_str()))
            .count();
        let line = format!(
            "[{:>3}s] {} | runs {runs} | settled {done}/{}",
            started.elapsed().as_secs(),
            Stage::ALL
                .iter()
                .map(|s| format!(
                    "{} {} {}",
                    s.number(),
                    s.label_en(),
                    counts.get(s).copied().unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", "),
            pos.len()
        );
        if tty {
            print!("\r{line}   ");
            std::io::stdout().flush()?;
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            println!("{line}");
            last_line = Instant::now();
        }
        let all = orders.len() == pos.len() && done == pos.len() && to_cancel.is_empty();
        if all || Instant::now() >= deadline {
            if tty {
                println!();
            }
            break all;
        }
    };
    running.stop_jobs().await?;

    let orders = store.orders_by_po(&pos).await?;
    print_summary(&orders, &story_of);
    let store_url = format!("sqlite://{}", db.display());
    print_worth_a_look(&orders, &store_url);
    let flipping: Vec<String> = orders
        .iter()
        .filter(|o| !settled(o))
        .filter_map(|o| {
            parked
                .get(o.pulled.po.as_str())
                .map(|(_, code)| format!("{} (was {code})", o.pulled.po))
        })
        .collect();
    if !flipping.is_empty() {
        println!(
            "note: {} orders needed attention and are being re-sent by ship_to_dsco (known bug): {}",
            flipping.len(),
            flipping.join(", ")
        );
    }
    let runs = store.list_runs(None, 100_000).await?;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in &runs {
        *outcomes.entry(r.outcome.to_string()).or_default() += 1;
    }
    println!(
        "runs: {} ({})",
        runs.len(),
        outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "took {:.1} s; the store stays in {} until the next demo: `dsco-lingxing status --store {store_url}`",
        started.elapsed().as_secs_f64(),
        dir.display(),
    );
    if !args.exit_when_done {
        println!("console: {console_url} (serving until Ctrl-C; --exit-when-done exits here)");
        crate::startup::shutdown_signal().await;
    }
    if all_settled {
        println!("every order is done, cancelled, needs attention or is held");
        Ok(ExitCode::SUCCESS)
    } else {
        let moving: Vec<_> = orders
            .iter()
            .filter(|o| !settled(o) && !parked.contains_key(o.pulled.po.as_str()))
            .map(|o| {
                format!(
                    "{} (stage {}, {})",
                    o.pulled.po,
                    o.stage.number(),
                    o.reason.as_ref().map_or("no reason", |r| r.code.as_str())
                )
            })
            .collect();
        println!(
            "timed out after {} s: {} of {} orders stored, still moving: {}",
            args.timeout_secs,
            orders.len(),
            pos.len(),
            moving.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

fn print_summary(orders: &[store::OrderRecord], story_of: &BTreeMap<String, &'static str>) {
    println!();
    println!("orders per stage");
    let mut per_stage: BTreeMap<Stage, usize> = BTreeMap::new();
    for o in orders {
        *per_stage.entry(o.stage).or_default() += 1;
    }
    for (s, n) in &per_stage {
        println!(
            "  {} {:<14} {:<6} {n:>5}",
            s.number(),
            s.label_en(),
            s.label_zh()
        );
    }
    println!();
    println!("orders per reason (kind)");
    let mut per_reason: BTreeMap<(String, String), usize> = BTreeMap::new();
    for o in orders {
        if let Some(r) = &o.reason {
            *per_reason
                .entry((r.kind.to_string(), r.code.to_string()))
                .or_default() += 1;
        }
    }
    for ((kind, code), n) in &per_reason {
        println!("  {code:<32} {kind:<16} {n:>5}");
    }
    println!();
    println!("storylines (orders per final stage)");
    let mut per_story: BTreeMap<&str, BTreeMap<i64, usize>> = BTreeMap::new();
    for o in orders {
        let story = story_of
            .get(o.pulled.po.as_str())
            .copied()
            .unwrap_or("(other)");
        *per_story
            .entry(story)
            .or_default()
            .entry(o.stage.number())
            .or_default() += 1;
    }
    for s in STORYLINES {
        let stages = per_story.get(s.name).cloned().unwrap_or_default();
        println!(
            "  {:<46} {}",
            s.name,
            stages
                .iter()
                .map(|(st, n)| format!("stage {st}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let split = orders
        .iter()
        .filter(|o| o.lingxing_order_nos.len() > 1)
        .count();
    let multi_tracking = orders.iter().filter(|o| o.tracking.len() > 1).count();
    let flagged: BTreeMap<&str, usize> =
        orders
            .iter()
            .flat_map(|o| o.flags.iter())
            .fold(BTreeMap::new(), |mut m, f| {
                *m.entry(f.as_str()).or_default() += 1;
                m
            });
    println!();
    println!(
        "LingXing splits: {split} orders with two LingXing orders; {multi_tracking} orders shipped over two or more tracking numbers; flags: {}",
        if flagged.is_empty() {
            "none".to_string()
        } else {
            flagged
                .iter()
                .map(|(f, n)| format!("{f} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
}

/// The demo's store folder when `--dir` is not given: `dsco-lingxing-demo` under the temp dir,
/// emptied of the last demo's store, so there is one demo store in a place that does not move.
/// Folders of the older per-run naming (`dsco-lingxing-demo-<pid>-<time>`) are removed.
fn default_dir() -> Result<PathBuf> {
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name();
            if name
                .to_str()
                .is_some_and(|n| n.starts_with("dsco-lingxing-demo-"))
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = tmp.join("dsco-lingxing-demo");
    for f in ["demo.db", "demo.db-wal", "demo.db-shm"] {
        match std::fs::remove_file(dir.join(f)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow!("cannot remove the last demo's {f}: {e}")),
        }
    }
    Ok(dir)
}

/// After the summary: one PO per needs-attention reason code and one held PO, each with the
/// command that explains it; and what the `multi_ban` holds are.
fn print_worth_a_look(orders: &[store::OrderRecord], store_url: &str) {
    // code → (first PO, its subject, how many orders)
    let mut causes: BTreeMap<&str, (&str, &str, usize)> = BTreeMap::new();
    let mut held: BTreeMap<&str, (&str, &str, usize)> = BTreeMap::new();
    let mut multi_ban_keys = BTreeSet::new();
    for o in orders {
        let Some(r) = &o.reason else { continue };
        let into = match r.kind {
            ReasonKind::NeedsAttention => &mut causes,
            ReasonKind::Held => &mut held,
            _ => continue,
        };
        if r.code == domain::ReasonCode::MultiBan {
            multi_ban_keys.insert(r.detail.trim_start_matches("runtime_config."));
        }
        into.entry(r.code.as_str())
            .or_insert((o.pulled.po.as_str(), r.detail.as_str(), 0))
            .2 += 1;
    }
    if causes.is_empty() && held.is_empty() {
        return;
    }
    println!();
    println!(
        "worth a look (one order per cause; `order list --code CODE --store …` lists the rest)"
    );
    for (code, (po, subject, n)) in causes.iter().chain(held.iter().take(1)) {
        let subject: String = subject.chars().take(60).collect();
        println!("  {code}: {n} orders, e.g. {subject}");
        println!("    dsco-lingxing order show {po} --store {store_url}");
    }
    if let Some((_, _, n)) = held.get("multi_ban") {
        let keys: Vec<&str> = multi_ban_keys.into_iter().collect();
        println!();
        println!(
            "{n} orders are held by multi_ban on purpose: the demo sets {} = true to show a hold \
             (orders with several lines or a quantity above 1 wait for a person). To lift it: \
             `dsco-lingxing config set {} false --reason \"…\"` against this store (or the \
             console's config page); the held orders go on at the next run.",
            keys.join(", "),
            keys.first()
                .copied()
                .unwrap_or("jobs.invoice_to_dsco.multi_ban")
        );
    }
}
