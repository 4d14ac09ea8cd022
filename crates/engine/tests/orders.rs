//! The order jobs end to end: real HTTP to both simulators, a real store, the simulated clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use domain::{JobName, RunOutcome, RuntimeConfig, Stage, Trigger};
use dsco::{Auth, DscoClient, DscoConfig};
use engine::jobs::{Clients, register_order_jobs};
use engine::token_cache::StoreTokenCache;
use engine::{Engine, EngineSettings, RunOptions, RunResult};
use lingxing::{LingxingClient, LingxingConfig};
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

pub async fn world(db: &Db, extra_jobs: Value) -> World {
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
        LingxingSimConfig::manual(),
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let mut dc = DscoConfig::new(
        dsco.base_url(),
        Auth::OAuth2 {
            client_id: sim::dsco::DEFAULT_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(
                sim::dsco::DEFAULT_CLIENT_SECRET.to_string(),
            ),
        },
    );
    dc.rate_limits = false;
    // Short real-time timeouts so that "apply then time out" faults end quickly.
    dc.request_timeout = Duration::from_secs(2);
    dc.retry.max_attempts = 2;
    let cache: Arc<dyn lingxing::TokenCache> =
        Arc::new(StoreTokenCache::new(store.clone(), clock.clone()));
    let clients = Arc::new(Clients {
        dsco: DscoClient::new(dc, clock.clone()).unwrap(),
        lingxing: LingxingClient::new(
            {
                let mut c = LingxingConfig::new(
                    lx.base_url(),
                    sim::lingxing::DEFAULT_APP_ID,
                    sim::lingxing::DEFAULT_APP_SECRET,
                );
                // Short real-time timeout so that "apply then time out" faults end quickly.
                c.timeout = Duration::from_secs(2);
                c
            },
            clock.clone(),
            Some(cache),
        )
        .unwrap(),
        platform_code: defaults::PLATFORM_CODE,
    });
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
    let mut engine = Engine::new(
        store.clone(),
        clock.clone(),
        "test-runner",
        EngineSettings::default(),
    );
    register_order_jobs(&mut engine, clients);
    World {
        clock,
        store,
        dsco,
        lx,
        engine: Arc::new(engine),
    }
}

impl World {
    pub async fn run(&self, job: JobName) -> domain::RunCounts {
        let (_tx, rx) = watch::channel(false);
        match self
            .engine
            .run_job(job, Trigger::Cli, RunOptions::default(), rx)
            .await
            .unwrap()
        {
            RunResult::Ran {
                outcome,
                counts,
                error,
                ..
            } => {
                assert_eq!(outcome, RunOutcome::Succeeded, "{job}: {error:?}");
                counts
            }
            other => panic!("{job}: {other:?}"),
        }
    }

    pub fn advance(&self, secs: u64) {
        self.clock.sim().unwrap().advance(Duration::from_secs(secs));
    }

    pub async fn stage(&self, po: &str) -> Stage {
        self.store
            .get_order(&domain::PoNumber::parse(po).unwrap())
            .await
            .unwrap()
            .unwrap()
            .stage
    }

    pub async fn reason(&self, po: &str) -> Option<String> {
        self.store
            .get_order(&domain::PoNumber::parse(po).unwrap())
            .await
            .unwrap()
            .unwrap()
            .reason
            .map(|r| r.code)
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
    for po in &pos {
        assert_eq!(
            w.reason(po).await.as_deref(),
            Some("dsco_confirmation_pending"),
            "ACK submitted, not yet confirmed"
        );
    }
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
