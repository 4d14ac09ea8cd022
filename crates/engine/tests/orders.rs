//! The order jobs end to end: real HTTP to both simulators, a real store, the simulated clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use domain::{JobName, RunOutcome, RuntimeConfig, Stage, Trigger};
use dsco::{Auth, DscoClient, DscoConfig};
use engine::startup::{Application, FarSides, Parts};
use engine::{Engine, EngineSettings, RunOptions, RunResult};
use serde_json::{Value, json};
use sim::defaults;
use sim::dsco::{DscoSim, DscoSimConfig};
use sim::lingxing::{LingxingSim, LingxingSimConfig};
use store::{SkuSource, Store};
use tokio::sync::watch;

use crate::{Db, t0};

pub struct World {
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    pub dsco: DscoSim,
    pub lx: LingxingSim,
    pub engine: Arc<Engine>,
}

/// The runtime config matching the simulators' default world.
pub fn default_runtime_config(extra_jobs: Value) -> RuntimeConfig {
    let mut jobs = json!({});
    for j in [
        "pull_dsco_orders",
        "push_to_lingxing",
        "ack_to_dsco",
        "ship_to_dsco",
        "invoice_to_dsco",
    ] {
        jobs[j] = json!({"enable": true, "cron": "0 * * * * *", "size": 500});
    }
    if let Some(o) = extra_jobs.as_object() {
        for (k, v) in o {
            for (kk, vv) in v.as_object().unwrap() {
                jobs[k][kk] = vv.clone();
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
            shipment.insert(
                format!("{}-{}", w.dsco_code, l.code),
                defaults::logistics_type_id(w.dsco_code, l.code)
                    .unwrap()
                    .to_string(),
            );
        }
    }
    let v = json!({"domain": "dsco_lingxing", "jobs": jobs, "mapping": {"shop": shop, "warehouse": warehouse, "shipment": shipment}});
    RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config
}

/// The two simulators with their default credentials, every client setting at its default.
pub fn sim_far_sides(dsco: &DscoSim, lx: &LingxingSim) -> FarSides {
    FarSides::oauth(
        dsco.base_url(),
        sim::dsco::DEFAULT_CLIENT_ID,
        sim::dsco::DEFAULT_CLIENT_SECRET,
        lx.base_url(),
        sim::lingxing::DEFAULT_APP_ID,
        sim::lingxing::DEFAULT_APP_SECRET,
        defaults::PLATFORM_CODE,
    )
}

pub async fn world(db: &Db, extra_jobs: Value) -> World {
    world_with(db, extra_jobs, LingxingSimConfig::manual()).await
}

pub async fn world_with(db: &Db, extra_jobs: Value, lx_cfg: LingxingSimConfig) -> World {
    world_stock(db, extra_jobs, lx_cfg, None).await
}

/// [`world_with`], with the stock jobs registered (exports to `stock_exports`) when given.
pub async fn world_stock(
    db: &Db,
    extra_jobs: Value,
    lx_cfg: LingxingSimConfig,
    stock_exports: Option<std::path::PathBuf>,
) -> World {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    let dsco_cfg = DscoSimConfig {
        rate_limits: false,
        ..DscoSimConfig::default()
    };
    let dsco = DscoSim::start(
        dsco_cfg,
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let lx = LingxingSim::start(
        lx_cfg,
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let mut far = sim_far_sides(&dsco, &lx)
        // Short real-time timeouts so that "apply then time out" faults end quickly.
        .request_timeout(Duration::from_secs(2));
    far.dsco.rate_limits = false;
    far.dsco.retry.max_attempts = 2;
    store
        .save_runtime_config(
            None,
            &default_runtime_config(extra_jobs),
            "test",
            "test",
            clock.now(),
        )
        .await
        .unwrap();
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
            "test",
            "test",
            clock.now(),
            None,
        )
        .await
        .unwrap();
    let parts = Parts {
        clock: clock.clone(),
        holder: "test-runner".into(),
        engine: EngineSettings::default(),
        far,
        shared_token: true,
        order_jobs: true,
        stock_jobs: stock_exports,
    };
    let engine = Application::build(store.clone(), parts)
        .unwrap()
        .engine()
        .clone();
    World {
        clock,
        store,
        dsco,
        lx,
        engine,
    }
}

impl World {
    pub async fn run(&self, job: JobName) -> domain::RunCounts {
        self.run_together(&[job]).await.remove(0)
    }

    /// Runs `jobs` at once (each succeeds), answering their counts in that order.
    pub async fn run_together(&self, jobs: &[JobName]) -> Vec<domain::RunCounts> {
        let (_tx, rx) = watch::channel(false);
        let runs = jobs
            .iter()
            .map(|&job| (job, self.spawn(job, &rx)))
            .collect();
        self.finish(runs).await
    }

    /// Runs `first`, and `then` once a request of `first` to LingXing's `endpoint` is in flight
    /// (each succeeds), answering their counts in that order.
    pub async fn run_while(
        &self,
        first: JobName,
        endpoint: &str,
        then: JobName,
    ) -> Vec<domain::RunCounts> {
        let (_tx, rx) = watch::channel(false);
        let a = self.spawn(first, &rx);
        // A bound for a run that never calls it, not a measure of time.
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        while self.lx.in_flight(endpoint) == 0 {
            assert!(
                !a.is_finished() && std::time::Instant::now() < give_up,
                "{first} never called {endpoint}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let b = self.spawn(then, &rx);
        self.finish(vec![(first, a), (then, b)]).await
    }

    fn spawn(
        &self,
        job: JobName,
        stop: &watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<Result<RunResult, store::StoreError>> {
        let (engine, rx) = (self.engine.clone(), stop.clone());
        tokio::spawn(async move {
            engine
                .run_job(job, Trigger::Cli, RunOptions::default(), rx)
                .await
        })
    }

    /// Waits for `runs` (each succeeds), answering their counts in that order.
    async fn finish(
        &self,
        runs: Vec<(
            JobName,
            tokio::task::JoinHandle<Result<RunResult, store::StoreError>>,
        )>,
    ) -> Vec<domain::RunCounts> {
        // A run parks two sleepers on the clock (its timeout and its lease heartbeat); one more
        // is a client backing off: move time to the earliest deadline so the back-off ends.
        let sim = self.clock.sim().unwrap();
        while !runs.iter().all(|(_, r)| r.is_finished()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if sim.sleepers() > 2 * runs.len()
                && let Some(d) = sim.next_deadline()
            {
                sim.advance_to(d);
            }
        }
        let mut out = Vec::new();
        for (job, run) in runs {
            match run.await.unwrap().unwrap() {
                RunResult::Ran {
                    outcome,
                    counts,
                    error,
                    ..
                } => {
                    assert_eq!(outcome, RunOutcome::Succeeded, "{job}: {error:?}");
                    out.push(counts);
                }
                other => panic!("{job}: {other:?}"),
            }
        }
        out
    }

    /// The supplier acknowledges `po` in DSCO by other means (its portal, another tool): through
    /// a client of its own.
    pub async fn acknowledge_elsewhere(&self, po: &str) {
        let other = DscoClient::new(
            DscoConfig::new(
                self.dsco.base_url(),
                Auth::OAuth2 {
                    client_id: sim::dsco::DEFAULT_CLIENT_ID.into(),
                    client_secret: secret::Secret::from(
                        sim::dsco::DEFAULT_CLIENT_SECRET.to_string(),
                    ),
                },
            ),
            self.clock.clone(),
        )
        .unwrap();
        other
            .acknowledge(&[dsco::OrderAck {
                id: po.to_owned(),
                id_type: dsco::OrderIdType::PoNumber,
                supplier_order_number: None,
            }])
            .await
            .unwrap();
    }

    /// An acknowledged `po` the ship job finds not ready until a pull: DSCO support takes the
    /// acknowledgement back and a pull stores `created` again, newer than the confirmation of
    /// this service's ACK (which then no longer lets it ship); the supplier acknowledges it again
    /// elsewhere, which only the next pull past DSCO's `until` lag reads.
    pub async fn acknowledged_again_unpulled(&self, po: &str) {
        assert!(self.dsco.remove_status(po), "{po} was acknowledged");
        self.advance(60);
        self.run(JobName::PullDscoOrders).await;
        let o = self.order(po).await;
        assert_eq!(o.pulled.dsco_status.as_deref(), Some("created"));
        self.acknowledge_elsewhere(po).await;
    }

    pub fn advance(&self, secs: u64) {
        self.clock.sim().unwrap().advance(Duration::from_secs(secs));
    }

    /// The stored order (it must exist).
    pub async fn order(&self, po: &str) -> store::OrderRecord {
        self.store
            .get_order(&domain::PoNumber::parse(po).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{po} is stored"))
    }

    pub async fn stage(&self, po: &str) -> Stage {
        self.order(po).await.stage
    }

    pub async fn reason(&self, po: &str) -> Option<String> {
        self.order(po).await.reason.map(|r| r.code.to_string())
    }

    /// `pos` had their shipments sent by the ship run just made (`why`), not confirmed yet; the
    /// next ship run, DSCO having applied them, confirms them: each package sent once.
    pub async fn shipments_sent_then_confirmed(&self, pos: &[String], why: &str) {
        self.confirmation_pending(pos, why).await;
        self.advance(120);
        self.run(JobName::ShipToDsco).await;
        self.every_package_sent_once(pos).await;
    }

    /// `pos` (in DSCO, not pulled yet) pulled, pushed and audited in LingXing, and their ACKs
    /// sent by one run: stage 2 until DSCO confirms them.
    pub async fn acks_sent(&self, pos: &[impl AsRef<str>]) {
        self.advance(60);
        self.run(JobName::PullDscoOrders).await;
        self.run(JobName::PushToLingxing).await;
        for po in pos {
            self.lx.audit(po.as_ref());
        }
        self.advance(60);
        self.run(JobName::AckToDsco).await;
    }

    /// Every order of `pos` waits for DSCO to confirm the write a run just sent (`why`).
    pub async fn confirmation_pending(&self, pos: &[String], why: &str) {
        for po in pos {
            assert_eq!(
                self.reason(po).await.as_deref(),
                Some("dsco_confirmation_pending"),
                "{po}: {why}"
            );
        }
    }

    /// Every order of `pos` shipped (stage 4 or on), each LingXing package sent to DSCO once.
    pub async fn every_package_sent_once(&self, pos: &[String]) {
        for po in pos {
            assert_eq!(self.stage(po).await, Stage::Shipped, "{po}");
            assert_eq!(
                self.dsco.shipments_for(po).len(),
                self.lx.outbounds_for(po).len(),
                "{po}: each package sent once"
            );
        }
    }
}

pub async fn orders_go_from_dsco_through_lingxing_and_back(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(3, 7);
    w.advance(60);
    let c = w.run(JobName::PullDscoOrders).await;
    assert_eq!(c.advanced, 3, "three new orders stored");
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Pulled);
    }
    w.run(JobName::PushToLingxing).await;
    for po in &pos {
        assert_eq!(
            w.stage(po).await,
            Stage::Pushed,
            "{po}: {:?}",
            w.reason(po).await
        );
        assert_eq!(w.lx.orders_for(po).len(), 1);
    }
    // Pushing again creates nothing.
    w.run(JobName::PushToLingxing).await;
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Pushed);
        assert_eq!(w.reason(po).await.as_deref(), Some("lingxing_not_audited"));
        w.lx.audit(po);
    }
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.confirmation_pending(&pos, "ACK submitted, not yet confirmed")
        .await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    for po in &pos {
        assert_eq!(
            w.stage(po).await,
            Stage::Acknowledged,
            "{po}: {:?}",
            w.reason(po).await
        );
        assert_eq!(w.dsco.acks_for(po).len(), 1, "ACK sent once");
        let lx_no = &w.lx.orders_for(po)[0].global_order_no;
        assert_eq!(
            w.dsco.acks_for(po)[0].supplier_order_number.as_deref(),
            Some(lx_no.as_str())
        );
        w.lx.ship(po, None);
    }
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    for po in &pos {
        assert_eq!(
            w.stage(po).await,
            Stage::Shipped,
            "{po}: {:?}",
            w.reason(po).await
        );
        let tracking: Vec<String> =
            w.lx.outbounds_for(po)
                .iter()
                .map(|o| o.tracking_no.clone())
                .collect();
        let sent: Vec<String> = w
            .dsco
            .shipments_for(po)
            .iter()
            .map(|s| s.tracking_number.clone())
            .collect();
        assert_eq!(sent, tracking, "each tracking number once");
    }
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::InvoiceToDsco).await;
    w.advance(120);
    w.run(JobName::InvoiceToDsco).await;
    for po in &pos {
        assert_eq!(
            w.stage(po).await,
            Stage::Done,
            "{po}: {:?}",
            w.reason(po).await
        );
        assert_eq!(w.dsco.invoices_for(po).len(), 1, "one invoice");
    }
    // Nothing more happens on further runs.
    w.advance(60);
    for j in [
        JobName::PullDscoOrders,
        JobName::PushToLingxing,
        JobName::AckToDsco,
        JobName::ShipToDsco,
        JobName::InvoiceToDsco,
    ] {
        w.run(j).await;
    }
    for po in &pos {
        assert_eq!(w.dsco.shipments_for(po).len(), w.lx.outbounds_for(po).len());
        assert_eq!(w.dsco.invoices_for(po).len(), 1);
        assert_eq!(w.lx.orders_for(po).len(), 1);
    }
}

/// Drives `pos` from pulled to done, running each job until its stage is reached.
pub async fn drive_to_done(w: &World, pos: &[String]) {
    for (job, want) in [
        (JobName::PushToLingxing, Stage::Pushed),
        (JobName::AckToDsco, Stage::Acknowledged),
        (JobName::ShipToDsco, Stage::Shipped),
        (JobName::InvoiceToDsco, Stage::Done),
    ] {
        for _ in 0..6 {
            if job == JobName::AckToDsco {
                for po in pos {
                    w.lx.audit(po);
                }
            }
            if job == JobName::ShipToDsco {
                for po in pos {
                    w.lx.ship(po, None);
                }
            }
            w.run(JobName::PullDscoOrders).await;
            w.run(job).await;
            w.advance(61);
            let mut all = true;
            for po in pos {
                all &= w.stage(po).await >= want;
            }
            if all {
                break;
            }
        }
        for po in pos {
            assert!(
                w.stage(po).await >= want,
                "{po} stuck before {want}: {:?}",
                w.reason(po).await
            );
        }
    }
}

pub async fn apply_then_timeout_still_writes_exactly_once(db: &Db) {
    use sim::dsco::{Endpoint, Fault as DFault};
    use sim::lingxing::Fault as LFault;
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(2, 11);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.lx.inject_fault("/pb/mp/order/v2/create", LFault::ApplyThenTimeout, Some(1));
    w.run(JobName::PushToLingxing).await;
    // The create call that timed out (one per store) leaves its orders unconfirmed, yet applied.
    let mut unclear = 0;
    for po in &pos {
        assert_eq!(w.lx.orders_for(po).len(), 1, "every create was applied");
        if w.stage(po).await == Stage::Pulled {
            assert_eq!(w.reason(po).await.as_deref(), Some("write_unconfirmed"));
            unclear += 1;
        }
    }
    assert!(unclear >= 1, "the fault hit a create");
    w.dsco
        .inject_fault(Endpoint::Acknowledge, DFault::ApplyThenTimeout.times(1));
    w.dsco
        .inject_fault(Endpoint::ShipmentBatch, DFault::ApplyThenTimeout.times(1));
    w.dsco
        .inject_fault(Endpoint::InvoiceBatch, DFault::ApplyThenTimeout.times(1));
    drive_to_done(&w, &pos).await;
    // Each faulted write was applied once and verified on DSCO instead of being sent again.
    assert!(
        w.dsco.calls(Endpoint::OrderGet) >= 2,
        "unclear ACK and shipment read back"
    );
    assert!(
        w.dsco.calls(Endpoint::InvoiceGet) >= 1,
        "unclear invoice looked up"
    );
    for po in &pos {
        assert_eq!(w.lx.orders_for(po).len(), 1, "one LingXing order");
        assert_eq!(w.dsco.acks_for(po).len(), 1, "one ACK");
        let sent: Vec<String> = w
            .dsco
            .shipments_for(po)
            .iter()
            .map(|s| s.tracking_number.clone())
            .collect();
        let mut unique = sent.clone();
        unique.dedup();
        assert_eq!(sent, unique, "each tracking number once");
        assert_eq!(sent.len(), w.lx.outbounds_for(po).len());
        assert_eq!(w.dsco.invoices_for(po).len(), 1, "one invoice");
    }
}

/// A backlog of new orders is created in chunks that overlap (up to the create endpoint's
/// capacity), and a chunk whose create times out while the others go through is resolved by the
/// next run's existence check, never created twice.
pub async fn new_orders_are_created_in_overlapping_chunks_each_once(db: &Db) {
    use sim::lingxing::Fault as LFault;
    const CREATE: &str = "/pb/mp/order/v2/create";
    let w = world(db, json!({"push_to_lingxing": {"batch_size": 2}})).await;
    w.lx.set_weather(sim::Weather {
        latency_ms: (150, 250),
        throttle_rate: 0.0,
    });
    // Eight orders, four chunks of two: their creates overlap.
    let first = w.dsco.generate_orders(8, 23);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let c = w.run(JobName::PushToLingxing).await;
    assert_eq!(c.advanced, 8);
    assert!(w.lx.calls(CREATE) >= 4, "chunks of two");
    assert!(
        w.lx.max_concurrency(CREATE) >= 2,
        "the chunks' creates overlapped (at most {} at once)",
        w.lx.max_concurrency(CREATE)
    );
    // Eight more; one create is applied and never answered while the others go through.
    let pos = w.dsco.generate_orders(8, 29);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.lx.inject_fault(CREATE, LFault::ApplyThenTimeout, Some(1));
    let c = w.run(JobName::PushToLingxing).await;
    let calls = w.lx.calls(CREATE);
    assert_eq!(
        c.advanced, 6,
        "every chunk but the one that timed out moved on"
    );
    let mut unclear = 0;
    for po in &pos {
        assert_eq!(
            w.lx.orders_for(po).len(),
            1,
            "{po}: every create was applied"
        );
        if w.stage(po).await == Stage::Pulled {
            assert_eq!(w.reason(po).await.as_deref(), Some("write_unconfirmed"));
            unclear += 1;
        }
    }
    assert_eq!(unclear, 2, "one chunk of two timed out");
    w.lx.set_weather(sim::Weather::default());
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    assert_eq!(
        w.lx.calls(CREATE),
        calls,
        "the unclear chunk is not created again"
    );
    for po in first.iter().chain(&pos) {
        assert_eq!(w.stage(po).await, Stage::Pushed, "{po}");
        assert_eq!(w.lx.orders_for(po).len(), 1, "{po}: one LingXing order");
    }
}

pub async fn three_packages_over_two_days_then_one_invoice(db: &Db) {
    use sim::dsco::{LineSpec, OrderSpec};
    let lx_cfg = LingxingSimConfig {
        partial_shipment_rate: 1.0,
        ..LingxingSimConfig::manual()
    };
    let w = world_with(db, json!({}), lx_cfg).await;
    let line = |sku: &str, q: u32| LineSpec {
        sku: sku.into(),
        quantity: q,
        ..LineSpec::default()
    };
    let spec = OrderSpec {
        po_number: Some("PO-3PKG".into()),
        retailer_id: Some("1000012345".into()),
        warehouse_code: Some("US-CA-01".into()),
        service_level: Some("UPCG".into()),
        lines: vec![
            line("SKU-1001", 1),
            line("SKU-1002", 2),
            line("SKU-2001", 1),
        ],
        ..OrderSpec::default()
    };
    w.dsco.add_order(spec).unwrap();
    let po = "PO-3PKG";
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    assert_eq!(w.stage(po).await, Stage::Pushed, "{:?}", w.reason(po).await);
    // LingXing splits the order in two and ships one part in two packages: three in all.
    w.lx.audit_split(po);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(
        w.stage(po).await,
        Stage::Acknowledged,
        "{:?}",
        w.reason(po).await
    );
    assert_eq!(w.lx.outbounds_for(po).len(), 3, "three packages planned");

    let ship_step = |days: i64| {
        let w = &w;
        async move {
            w.advance((days * 86_400) as u64);
            let t = w.lx.ship_one(po, None).expect("a package left");
            w.advance(60);
            w.run(JobName::PullDscoOrders).await;
            w.run(JobName::ShipToDsco).await;
            w.run(JobName::InvoiceToDsco).await;
            assert!(
                w.dsco.invoices_for(po).is_empty(),
                "no invoice while {t} is unconfirmed or packages remain"
            );
            w.advance(120);
            w.run(JobName::ShipToDsco).await;
            t
        }
    };
    let t1 = ship_step(0).await;
    assert_eq!(
        w.stage(po).await,
        Stage::Shipped,
        "the first confirmed shipment moves it to 4"
    );
    w.run(JobName::InvoiceToDsco).await;
    assert_eq!(w.reason(po).await.as_deref(), Some("not_fully_shipped"));
    let t2 = ship_step(1).await;
    w.run(JobName::InvoiceToDsco).await;
    assert!(w.dsco.invoices_for(po).is_empty());
    let t3 = ship_step(1).await;
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::InvoiceToDsco).await;
    w.advance(120);
    w.run(JobName::InvoiceToDsco).await;
    assert_eq!(w.stage(po).await, Stage::Done, "{:?}", w.reason(po).await);
    let sent: Vec<String> = w
        .dsco
        .shipments_for(po)
        .iter()
        .map(|s| s.tracking_number.clone())
        .collect();
    assert_eq!(
        sent,
        vec![t1.clone(), t2.clone(), t3.clone()],
        "each package once, in order"
    );
    assert_eq!(w.dsco.invoices_for(po).len(), 1);
    let events = w
        .store
        .order_events(&domain::PoNumber::parse(po).unwrap())
        .await
        .unwrap();
    let codes: Vec<&str> = events
        .iter()
        .filter_map(|e| e.event.reason_code.map(|c| c.as_str()))
        .collect();
    assert!(codes.contains(&"not_fully_shipped"), "{codes:?}");
    assert!(
        codes.contains(&"shipments_unconfirmed"),
        "the invoice waited for the last confirmation: {codes:?}"
    );
    let o = w.order(po).await;
    assert_eq!(o.tracking, vec![t1, t2, t3]);
    assert_eq!(o.invoice_id.as_deref(), Some(po));
    assert_eq!(o.lingxing_order_nos.len(), 2, "both halves of the split");
}

pub async fn waiting_a_day_costs_at_most_one_call_per_run(db: &Db) {
    use sim::dsco::Endpoint;
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(100, 21);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    // The first ACK run starts the LingXing change feed; the just-created orders come with it.
    w.run(JobName::AckToDsco).await;
    w.run(JobName::ShipToDsco).await;
    w.run(JobName::InvoiceToDsco).await;
    let lx_paths = [
        "/pb/mp/order/v2/list",
        "/pb/mp/order/v2/create",
        "/erp/sc/routing/wms/order/wmsOrderList",
    ];
    let lx_calls = || lx_paths.iter().map(|p| w.lx.calls(p)).sum::<u64>();
    let dsco_writes = || {
        [
            Endpoint::Acknowledge,
            Endpoint::ShipmentBatch,
            Endpoint::InvoiceBatch,
            Endpoint::OrderLog,
            Endpoint::InvoiceLog,
            Endpoint::OrderGet,
        ]
        .iter()
        .map(|e| w.dsco.calls(*e))
        .sum::<u64>()
    };
    // A simulated day of 15-minute runs while LingXing audits nothing.
    for _ in 0..96 {
        w.advance(15 * 60);
        for job in [
            JobName::AckToDsco,
            JobName::ShipToDsco,
            JobName::InvoiceToDsco,
            JobName::PushToLingxing,
        ] {
            let (lx0, d0) = (lx_calls(), dsco_writes());
            w.run(job).await;
            let (lx1, d1) = (lx_calls(), dsco_writes());
            assert!(
                lx1 - lx0 + (d1 - d0) <= 1,
                "{job} made {} calls while 100 orders wait",
                lx1 - lx0 + d1 - d0
            );
        }
    }
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Pushed);
        assert_eq!(w.reason(po).await.as_deref(), Some("lingxing_not_audited"));
    }
    // And when LingXing finally audits, the very next run acknowledges them all, in one batch.
    for po in &pos {
        w.lx.audit(po);
    }
    w.advance(15 * 60);
    let acks0 = w.dsco.calls(Endpoint::Acknowledge);
    w.run(JobName::AckToDsco).await;
    assert_eq!(
        w.dsco.calls(Endpoint::Acknowledge) - acks0,
        1,
        "one ACK batch for 100 orders"
    );
    w.confirmation_pending(&pos, "ACK submitted in one batch")
        .await;
}

/// An ACK or a shipment DSCO applied shows in the order the next pull re-reads; the job then
/// settles its request from that state and reads no change log. A write the order does not show
/// (here: nothing pulled since) is still settled from the log.
pub async fn confirmations_seen_in_pulled_orders_read_no_change_log(db: &Db) {
    use sim::dsco::Endpoint;
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(4, 17);
    w.acks_sent(&pos).await;
    assert_eq!(w.dsco.calls(Endpoint::Acknowledge), 1);
    // DSCO applies the batch; the pull sees the orders changed.
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    let logs = w.dsco.calls(Endpoint::OrderLog);
    w.run(JobName::AckToDsco).await;
    assert_eq!(
        w.dsco.calls(Endpoint::OrderLog),
        logs,
        "the pulled state confirmed every ACK"
    );
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Acknowledged, "{po}");
        assert_eq!(w.dsco.acks_for(po).len(), 1);
        w.lx.ship(po, None);
    }
    let pending = w.store.pending_dsco_requests(store::IntentKind::Ack).await;
    assert!(pending.unwrap().is_empty(), "the ACK request is closed");

    // Shipments: DSCO lists the tracking numbers on the order the pull re-reads.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.dsco.calls(Endpoint::ShipmentBatch), 1);
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    let logs = w.dsco.calls(Endpoint::OrderLog);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.dsco.calls(Endpoint::OrderLog), logs);
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Shipped, "{po}");
        let sent = w.dsco.shipments_for(po);
        assert_eq!(sent.len(), w.lx.outbounds_for(po).len());
        let intents = w
            .store
            .intents_for(&domain::PoNumber::parse(po).unwrap())
            .await
            .unwrap();
        assert!(
            intents
                .iter()
                .filter(|i| i.kind == store::IntentKind::Shipment)
                .all(|i| i.state == store::IntentState::Confirmed),
            "{po}: {intents:?}"
        );
    }

    // Without a pull in between, the order shows nothing new: the change log decides.
    let more = w.dsco.generate_orders(1, 18);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.lx.audit(&more[0]);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    let logs = w.dsco.calls(Endpoint::OrderLog);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.dsco.calls(Endpoint::OrderLog), logs + 1, "one log read");
    assert_eq!(w.stage(&more[0]).await, Stage::Acknowledged);
}

/// An order just acknowledged whose LingXing order did not move since its audit has no package
/// out: the ship job does not ask `wmsOrderList` for it. A package that left while the order
/// still waited for its ACK moved the LingXing order, so it is read and sent once acknowledged.
pub async fn outbound_orders_are_read_only_after_lingxing_moved(db: &Db) {
    const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(2, 29);
    let (quiet, early) = (&pos[0], &pos[1]);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    // `quiet` is audited and acknowledged; nothing has left the warehouse.
    w.lx.audit(quiet);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(quiet).await, Stage::Acknowledged);
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.lx.calls(WMS),
        wms,
        "no outbound query for an order that did not move"
    );
    assert_eq!(w.reason(quiet).await.as_deref(), Some("no_tracking_yet"));

    // `early`: a package leaves before DSCO has applied the ACK.
    w.lx.audit(early);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(30);
    let tracking =
        w.lx.ship_one(early, None)
            .expect("an outbound order to ship");
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(early).await, Stage::Acknowledged);
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.lx.calls(WMS), wms + 1, "the order that moved is read");
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    let sent: Vec<String> = w
        .dsco
        .shipments_for(early)
        .into_iter()
        .map(|s| s.tracking_number)
        .collect();
    assert_eq!(sent, vec![tracking], "sent once");
    assert_eq!(w.stage(early).await, Stage::Shipped);
    assert!(w.dsco.shipments_for(quiet).is_empty());

    // When `quiet` ships, the feed wakes it and its packages go out.
    w.lx.ship(quiet, None);
    w.advance(60);
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    assert_eq!(
        w.dsco.shipments_for(quiet).len(),
        w.lx.outbounds_for(quiet).len()
    );
    assert!(!w.dsco.shipments_for(quiet).is_empty());
}

/// Orders of a ship backlog: one part (`engine::jobs::SHIP_PART`) and 150 more.
pub(crate) const BACKLOG: usize = engine::jobs::SHIP_PART + 150;

/// `wmsOrderList` queries of one part of a ship run (200 POs a query).
pub(crate) const PART_CALLS: u32 = engine::jobs::SHIP_PART.div_ceil(200) as u32;

/// [`world`] with runs large enough (`size` 2,000) for a ship run of more than one part, and
/// [`BACKLOG`] orders in DSCO (generated from `seed`), not pulled yet.
pub(crate) async fn backlog(db: &Db, seed: u64) -> (World, Vec<String>) {
    let sized = json!({"size": 2000});
    let w = world(
        db,
        json!({"pull_dsco_orders": sized, "push_to_lingxing": sized, "ack_to_dsco": sized, "ship_to_dsco": sized}),
    )
    .await;
    let pos = w.dsco.generate_orders(BACKLOG, seed);
    (w, pos)
}

/// `pos`, pulled, pushed, audited and acknowledged (stage 3), shipped in LingXing, DSCO's
/// `shipment_pending` pulled: every one waits only for the ship job.
pub(crate) async fn ready_to_ship(w: &World, pos: &[String]) {
    let refs: Vec<&str> = pos.iter().map(String::as_str).collect();
    crate::reasons::to_acknowledged(w, &refs).await;
    for po in pos {
        w.lx.ship(po, None);
    }
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
}

/// One order at stage 3 whose ACK DSCO confirmed after the feed showed LingXing shipped it: its
/// stored view calls for its outbound orders, never read. The next feed read is one of its own
/// (not served by the last), and slow.
async fn shipped_awaiting_its_outbound_read(w: &World, seed: u64) -> String {
    let pos = w.dsco.generate_orders(1, seed);
    let p = pos[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    ack_sent(w, &p).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&p).await, Stage::Acknowledged);
    w.advance(60);
    w.lx.inject_fault(FEED, sim::lingxing::Fault::Latency { ms: 500 }, Some(1));
    p
}

const FEED: &str = "/pb/mp/order/v2/list";
const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";

/// The order's outbound orders were read once, while the feed was, and its package sent.
async fn read_during_the_feed_and_sent(w: &World, p: &str, wms: u64) {
    assert!(
        w.lx.started_during(WMS, FEED),
        "the outbound orders were read while the feed was"
    );
    assert_eq!(w.lx.calls(WMS), wms + 1, "read once");
    assert_eq!(
        w.reason(p).await.as_deref(),
        Some("dsco_confirmation_pending"),
        "its package was sent in that run"
    );
}

/// A ship run that waits for another job's feed read (a long one after downtime) reads
/// meanwhile the outbound orders its stored views already call for; the order ships in that
/// run, read once.
pub async fn a_ship_run_reads_outbound_orders_while_another_job_reads_the_feed(db: &Db) {
    let w = world(db, json!({})).await;
    let p = shipped_awaiting_its_outbound_read(&w, 67).await;
    let wms = w.lx.calls(WMS);
    w.run_while(JobName::AckToDsco, FEED, JobName::ShipToDsco)
        .await;
    read_during_the_feed_and_sent(&w, &p, wms).await;
}

/// The same when the ship run reads the feed itself.
pub async fn a_ship_run_reads_outbound_orders_while_it_reads_the_feed(db: &Db) {
    let w = world(db, json!({})).await;
    let p = shipped_awaiting_its_outbound_read(&w, 71).await;
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    read_during_the_feed_and_sent(&w, &p, wms).await;
}

/// `p` (pulled and pushed) audited and shipped in LingXing, its ACK sent and not confirmed yet:
/// stage 2, waiting for DSCO's confirmation.
pub(crate) async fn ack_sent(w: &World, p: &str) {
    w.lx.audit(p);
    w.lx.ship(p, None);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(p).await, Stage::Pushed);
    assert_eq!(
        w.reason(p).await.as_deref(),
        Some("dsco_confirmation_pending")
    );
}

/// A ship run reading a backlog reads ahead, after its own orders, the outbound orders of the
/// stage-2 orders LingXing already shipped (read only: the ACK job has them); once DSCO confirms
/// such an order's ACK, the next ship run sends its shipment without reading them again.
pub async fn a_ship_backlog_run_reads_ahead_the_orders_awaiting_their_ack(db: &Db) {
    const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";
    let (w, mut pos) = backlog(db, 61).await;
    let z = pos.pop().expect("orders");
    ready_to_ship(&w, &pos).await;
    ack_sent(&w, &z).await;
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.lx.calls(WMS),
        wms + (BACKLOG - 1).div_ceil(200) as u64 + 1,
        "the backlog's reads, then one read ahead"
    );
    assert_eq!(w.stage(&z).await, Stage::Pushed, "read, not decided");
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&z).await, Stage::Acknowledged);
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.lx.calls(WMS), wms, "read ahead: not read again");
    w.shipments_sent_then_confirmed(&[z], "sent on its ACK's confirmation")
        .await;
}

/// When LingXing changed a backlog's worth of orders (a part, `engine::jobs::SHIP_PART`, or
/// more: after downtime, a far side that went on working), a ship run reads ahead the stage-2
/// orders it shows shipped even with no order of its own to ship, instead of leaving
/// `wmsOrderList` idle until their ACKs are confirmed; then they ship with no read. (Below a
/// part, `outbound_orders_are_read_only_after_lingxing_moved`: no read ahead.)
pub async fn a_ship_run_reads_ahead_when_lingxing_shipped_a_backlog_awaiting_acks(db: &Db) {
    const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";
    let (w, pos) = backlog(db, 67).await;
    w.acks_sent(&pos).await;
    w.confirmation_pending(&pos, "ACK sent").await;
    for po in &pos {
        w.lx.ship(po, None);
    }
    w.advance(60);
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.lx.calls(WMS),
        wms + BACKLOG.div_ceil(200) as u64,
        "every order read ahead"
    );
    for po in &pos {
        assert_eq!(w.stage(po).await, Stage::Pushed, "{po}: read, not decided");
    }
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    let wms = w.lx.calls(WMS);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.lx.calls(WMS), wms, "read ahead: not read again");
    w.shipments_sent_then_confirmed(&pos, "sent on their ACKs' confirmation")
        .await;
}

/// A ship run with more orders to read outbound orders for than one part
/// (`engine::jobs::SHIP_PART`) decides and sends each part once it is read: when LingXing fails
/// after the first part, that part's shipments have gone out and only the rest waits, with the
/// reason; the next run sends the rest, each package once.
pub async fn a_ship_backlog_is_sent_part_by_part(db: &Db) {
    use sim::dsco::Endpoint;
    const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";
    let (w, pos) = backlog(db, 41).await;
    let (part, n) = (engine::jobs::SHIP_PART, BACKLOG);
    ready_to_ship(&w, &pos).await;
    let batches0 = w.dsco.calls(Endpoint::ShipmentBatch);
    // The first part's reads (200 POs a call) answer; every later one fails.
    w.lx.inject_fault(
        WMS,
        sim::lingxing::Fault::Latency { ms: 0 },
        Some(PART_CALLS),
    );
    w.lx.inject_fault(WMS, sim::lingxing::Fault::HttpStatus { status: 500 }, None);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.dsco.calls(Endpoint::ShipmentBatch) - batches0,
        1,
        "the first part was sent"
    );
    let mut reasons: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for po in &pos {
        *reasons.entry(w.reason(po).await).or_default() += 1;
    }
    assert_eq!(
        reasons,
        BTreeMap::from([
            (Some("dsco_confirmation_pending".to_owned()), part),
            (Some("lingxing_unavailable".to_owned()), n - part),
        ]),
        "the first part sent, the rest waiting on LingXing"
    );
    w.lx.clear_faults();
    // DSCO applies the first request; the next run settles it and sends the rest.
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.dsco.calls(Endpoint::ShipmentBatch) - batches0, 2);
    w.every_package_sent_once(&pos).await;
}

/// An order the ship job read again after its outbound orders (DSCO not ready yet) and that
/// nobody changed meanwhile is not marked again by the run's own view write: it waits for news
/// instead of being decided again on the next run.
pub async fn an_order_read_again_by_the_ship_job_is_not_marked_by_its_own_write(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(1, 43);
    let p = &pos[0];
    crate::reasons::to_acknowledged(&w, &[p.as_str()]).await;
    w.acknowledged_again_unpulled(p).await;
    w.lx.ship(p, None);
    w.advance(60);
    let wms = w.lx.calls("/erp/sc/routing/wms/order/wmsOrderList");
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.lx.calls("/erp/sc/routing/wms/order/wmsOrderList"),
        wms + 1,
        "its outbound orders were read"
    );
    assert_eq!(w.reason(p).await.as_deref(), Some("dsco_not_ready"));
    let due = w
        .store
        .order_candidates(Stage::Acknowledged, w.clock.now(), 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "not marked again: {} due", due.len());
}

/// An order whose ACK DSCO confirmed (its change log said so) ships in the next ship run, before
/// any pull reads DSCO's `shipment_pending`: the stored DSCO copy still says `created` (the pull
/// reads an order only after DSCO's `until` lag), and the confirmation is newer than it.
pub async fn an_order_whose_ack_dsco_confirmed_ships_before_a_pull_reads_it(db: &Db) {
    use sim::dsco::Endpoint;
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(1, 59);
    let p = &pos[0];
    crate::reasons::to_acknowledged(&w, &[p.as_str()]).await;
    assert_eq!(w.dsco.order(p).unwrap()["dscoStatus"], "shipment_pending");
    w.lx.ship(p, None);
    w.advance(5);
    let pages = w.dsco.calls(Endpoint::OrderPage);
    w.run(JobName::ShipToDsco).await;
    let o = w.order(p).await;
    assert_eq!(
        o.pulled.dsco_status.as_deref(),
        Some("created"),
        "not pulled since"
    );
    w.shipments_sent_then_confirmed(&pos, "sent on the confirmed ACK")
        .await;
    assert_eq!(
        w.dsco.calls(Endpoint::OrderPage),
        pages,
        "no DSCO order read"
    );
}

/// The ACK and ship jobs share LingXing's change feed: a read that ended less than two seconds
/// ago by one stands for the other's (no second call for the same second), and what it brought
/// is decided by both. Later, each reads again.
pub async fn a_feed_read_a_moment_ago_serves_both_jobs(db: &Db) {
    const LIST: &str = "/pb/mp/order/v2/list";
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(1, 47);
    let p = &pos[0];
    // Shipped in LingXing since the last feed read.
    ready_to_ship(&w, &pos).await;
    let list = w.lx.calls(LIST);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.lx.calls(LIST), list + 1, "the ACK job read the feed");
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.lx.calls(LIST), list + 1, "the ship job used that read");
    assert_eq!(
        w.reason(p).await.as_deref(),
        Some("dsco_confirmation_pending"),
        "the package the ACK job's read brought was sent"
    );
    w.advance(2);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(
        w.lx.calls(LIST),
        list + 2,
        "two seconds on, a read of its own"
    );
}

/// The ACK and ship jobs start side by side: while one reads the change feed, the other waits
/// for that read and decides on it instead of reading the same changes at once.
pub async fn a_feed_read_in_flight_serves_the_job_waiting_for_it(db: &Db) {
    const LIST: &str = "/pb/mp/order/v2/list";
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(1, 53);
    let p = &pos[0];
    // Shipped in LingXing since the last feed read.
    ready_to_ship(&w, &pos).await;
    let list = w.lx.calls(LIST);
    // The feed's read answers slowly: both runs reach it while it is in flight.
    w.lx.inject_fault(LIST, sim::lingxing::Fault::Latency { ms: 500 }, Some(1));
    w.run_together(&[JobName::AckToDsco, JobName::ShipToDsco])
        .await;
    assert_eq!(w.lx.calls(LIST), list + 1, "one read for both jobs");
    assert_eq!(
        w.reason(p).await.as_deref(),
        Some("dsco_confirmation_pending"),
        "the package that read brought was sent"
    );
}
