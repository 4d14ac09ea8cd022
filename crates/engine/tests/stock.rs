//! sync_stock, pull_sku_pair and cleanup_exports over real HTTP to both simulators, on the
//! simulated clock.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use domain::{JobName, RunCounts, RunOutcome, RuntimeConfig, Trigger};
use engine::startup::{Application, Parts};
use engine::stock::{cleanup, write_stock_csv};
use engine::{Engine, EngineSettings, RunOptions, RunResult};
use serde_json::{Value, json};
use sim::defaults;
use sim::dsco::{DscoSim, DscoSimConfig};
use sim::lingxing::{LingxingSim, LingxingSimConfig};
use store::{SkuConflictKind, SkuSource, StockOutcome, StockRunState, Store};

use crate::{Db, t0};

const PAIR_PATH: &str = "/pb/mp/listing/v2/getPairList";

struct World {
    clock: Clock,
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    lx: LingxingSim,
    dsco: DscoSim,
    exports: tempfile::TempDir,
}

struct Ran {
    run_id: String,
    outcome: RunOutcome,
    counts: RunCounts,
    error: Option<String>,
}

impl World {
    async fn new(db: &Db) -> World {
        let clock = Clock::simulated(t0());
        let store = db.open().await;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let lx = LingxingSim::start(LingxingSimConfig::manual(), clock.clone(), l)
            .await
            .unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dsco = DscoSim::start(
            DscoSimConfig {
                rate_limits: false,
                ..Default::default()
            },
            clock.clone(),
            l,
        )
        .await
        .unwrap();
        let exports = tempfile::tempdir().unwrap();
        let parts = Parts {
            clock: clock.clone(),
            holder: "test".into(),
            engine: EngineSettings::default(),
            far: crate::orders::sim_far_sides(&dsco, &lx),
            shared_token: false,
            order_jobs: false,
            stock_jobs: Some(exports.path().to_owned()),
        };
        let engine = Application::build(store.clone(), parts)
            .unwrap()
            .engine()
            .clone();
        let w = World {
            clock,
            store,
            engine,
            lx,
            dsco,
            exports,
        };
        w.configure(json!({}), json!({})).await;
        w
    }

    /// Saves a runtime config with the default mappings and these job settings.
    async fn configure(&self, stock: Value, pairs: Value) {
        let mut s = json!({"enable": true, "cron": "0 */15 * * * *", "size": 50});
        let mut p = s.clone();
        for (k, v) in stock.as_object().unwrap() {
            s[k] = v.clone();
        }
        for (k, v) in pairs.as_object().unwrap() {
            p[k] = v.clone();
        }
        let warehouse: BTreeMap<&str, String> = defaults::WAREHOUSES
            .iter()
            .map(|w| (w.dsco_code, w.wid.to_string()))
            .collect();
        let shop: BTreeMap<&str, &str> = defaults::RETAILERS
            .iter()
            .map(|r| (r.dsco_retailer_id, r.lingxing_store_id))
            .collect();
        let v = json!({
            "domain": "dsco_lingxing",
            "jobs": {"sync_stock": s, "pull_sku_pair": p, "cleanup_exports": {"enable": true, "cron": "0 0 3 * * *", "size": 50}},
            "mapping": {"warehouse": warehouse, "shop": shop},
        });
        let cfg = RuntimeConfig::from_value(&v, "runtime_config")
            .unwrap()
            .config;
        let current = self.store.runtime_config_version().await.unwrap();
        self.store
            .save_runtime_config(current, &cfg, "test", "test", self.clock.now())
            .await
            .unwrap();
    }

    async fn run(&self, job: JobName) -> Ran {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let r = tokio::time::timeout(
            Duration::from_secs(120),
            self.engine
                .run_job(job, Trigger::Cli, RunOptions::default(), rx),
        )
        .await
        .expect("run finished")
        .unwrap();
        match r {
            RunResult::Ran {
                run_id,
                outcome,
                counts,
                error,
                ..
            } => Ran {
                run_id,
                outcome,
                counts,
                error,
            },
            other => panic!("not run: {other:?}"),
        }
    }

    /// Lets DSCO's async delay pass so sent batches are applied and logged.
    fn later(&self, secs: i64) {
        self.clock
            .sim()
            .unwrap()
            .advance(Duration::from_secs(secs as u64));
    }

    /// DSCO's stored quantity per warehouse of `sku`, and its quantityAvailable and status.
    fn at_dsco(&self, sku: &str) -> Option<(BTreeMap<String, i64>, i64, String)> {
        let v = self.dsco.inventory(sku)?;
        let wh = v["warehouses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["code"].as_str().unwrap().to_owned(),
                    w["quantity"].as_i64().unwrap(),
                )
            })
            .collect();
        Some((
            wh,
            v["quantityAvailable"].as_i64().unwrap(),
            v["status"].as_str().unwrap().to_owned(),
        ))
    }

    async fn items_of(&self, run_id: &str) -> Vec<store::StockItem> {
        self.store
            .stock_items_since(t0() - TimeDelta::days(1), 100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.run_id == run_id)
            .collect()
    }

    async fn stock_run(&self, run_id: &str) -> store::StockRun {
        self.store
            .stock_runs(false, 1000)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.run_id == run_id)
            .expect("stock run recorded")
    }
}

fn wh(p: &[(&str, i64)]) -> BTreeMap<String, i64> {
    p.iter().map(|(c, q)| (c.to_string(), *q)).collect()
}

// --- sync_stock ------------------------------------------------------------------------------

pub async fn stock_sums_warehouses_applies_reserve_and_sends_only_changes(db: &Db) {
    let w = World::new(db).await;
    w.configure(
        json!({"reserve": {"US-NJ-01": 2}, "full_push_every": "24h"}),
        json!({}),
    )
    .await;
    w.lx.clear_inventory();
    // Two rows for one (wid, SKU) (one under a store) are added up.
    w.lx.set_inventory(1300, "LX-1001", "0", 10);
    w.lx.set_inventory(1300, "LX-1001", "2001", 5);
    w.lx.set_inventory(1301, "LX-1001", "0", 7);
    // Unmapped LingXing SKU: same-name fallback.
    w.lx.set_inventory(1302, "SKU-2001", "0", 4);
    // Fuzzy neighbour that must not be confused with LX-1001.
    w.lx.set_inventory(1300, "LX-10011", "0", 99);
    let mut pairs = BTreeMap::new();
    pairs.insert("SKU-1001".to_string(), "LX-1001".to_string());
    let v = w.store.sku_map().await.unwrap().version;
    w.store
        .replace_sku_entries(
            v,
            SkuSource::Manual,
            &pairs,
            "test",
            "test",
            w.clock.now(),
            None,
        )
        .await
        .unwrap();

    let first = w.run(JobName::SyncStock).await;
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{:?}", first.error);
    let r = w.stock_run(&first.run_id).await;
    assert_eq!(r.state, StockRunState::Sent);
    assert!(r.full_push, "the first run is a full push");
    w.later(60);
    let (sku1, total, status) = w.at_dsco("SKU-1001").expect("sent");
    assert_eq!(
        sku1,
        wh(&[("US-CA-01", 15), ("US-NJ-01", 5)]),
        "sum per wid, reserve 2 on NJ"
    );
    assert_eq!((total, status.as_str()), (20, "in-stock"));
    assert_eq!(w.at_dsco("SKU-2001").unwrap().0, wh(&[("US-TX-01", 4)]));
    let batches = w.dsco.calls(sim::dsco::Endpoint::InventoryBatch);

    // Nothing changed: the run settles the first one's outcome and sends nothing.
    let second = w.run(JobName::SyncStock).await;
    assert_eq!(
        w.stock_run(&second.run_id).await.state,
        StockRunState::Unchanged
    );
    assert_eq!(w.dsco.calls(sim::dsco::Endpoint::InventoryBatch), batches);
    let settled = w.items_of(&first.run_id).await;
    assert!(
        settled
            .iter()
            .any(|i| i.dsco_sku == "SKU-1001" && i.outcome == StockOutcome::Success)
    );

    // One SKU changes: only it is sent.
    w.lx.set_inventory(1301, "LX-1001", "0", 10);
    let third = w.run(JobName::SyncStock).await;
    let items = w.items_of(&third.run_id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].dsco_sku, "SKU-1001");
    assert_eq!(items[0].previous_qty, Some(20));
    assert_eq!(items[0].qty, 23);
    assert!(!w.stock_run(&third.run_id).await.full_push);
    w.later(60);
    assert_eq!(w.at_dsco("SKU-1001").unwrap().1, 23);

    // A day later a full push sends every SKU again.
    w.later(24 * 3600);
    let full = w.run(JobName::SyncStock).await;
    let r = w.stock_run(&full.run_id).await;
    assert!(r.full_push);
    let mut skus: Vec<String> = w
        .items_of(&full.run_id)
        .await
        .into_iter()
        .map(|i| i.dsco_sku)
        .collect();
    skus.sort();
    // LX-10011 is its own SKU (same-name fallback), never summed into LX-1001.
    assert_eq!(skus, ["LX-10011", "SKU-1001", "SKU-2001"]);

    // The CSV export lists what was read and sent.
    let items = w.store.stock_items_since(t0(), 1000).await.unwrap();
    let mut csv = Vec::new();
    write_stock_csv(&items, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("at,run_id,dsco_sku"), "{csv}");
    assert!(
        csv.contains("US-CA-01=15;US-NJ-01=7"),
        "read before the reserve: {csv}"
    );
    assert!(
        csv.contains("US-CA-01=15;US-NJ-01=5"),
        "sent after the reserve: {csv}"
    );
}

pub async fn stock_zero_drop_guard_holds_until_released(db: &Db) {
    let w = World::new(db).await;
    w.lx.clear_inventory();
    for i in 1..=5 {
        w.lx.set_inventory(1300, &format!("SKU-100{i}"), "0", 10);
    }
    let r = w.run(JobName::SyncStock).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    w.later(60);
    w.run(JobName::SyncStock).await; // settles: 5 SKUs confirmed above 0
    let batches = w.dsco.calls(sim::dsco::Endpoint::InventoryBatch);

    // 2 of 5 (40 %) would drop to 0: over the default 20 %.
    w.lx.set_inventory(1300, "SKU-1001", "0", 0);
    w.lx.set_inventory(1300, "SKU-1002", "0", 0);
    let held = w.run(JobName::SyncStock).await;
    let run = w.stock_run(&held.run_id).await;
    assert_eq!(run.state, StockRunState::Held);
    assert_eq!((run.drops_to_zero, run.above_zero), (2, 5));
    assert!(run.note.contains("zero-drop guard"), "{}", run.note);
    assert_eq!(held.counts.skipped_held, 2);
    assert_eq!(
        w.dsco.calls(sim::dsco::Endpoint::InventoryBatch),
        batches,
        "nothing sent"
    );

    // Still held on the next run, even though nothing else changed.
    let again = w.run(JobName::SyncStock).await;
    assert_eq!(w.stock_run(&again.run_id).await.state, StockRunState::Held);
    assert_eq!(w.dsco.calls(sim::dsco::Endpoint::InventoryBatch), batches);
    w.later(60);
    assert_eq!(
        w.at_dsco("SKU-1001").unwrap().1,
        10,
        "DSCO still has the old stock"
    );

    // Releasing needs a reason, and is audited.
    assert!(
        w.store
            .release_stock_runs("ops", " ", w.clock.now())
            .await
            .is_err()
    );
    let released = w
        .store
        .release_stock_runs("ops", "sell-out confirmed", w.clock.now())
        .await
        .unwrap();
    assert_eq!(released.len(), 2);
    assert!(w.store.stock_runs(true, 10).await.unwrap().is_empty());
    let sent = w.run(JobName::SyncStock).await;
    let run = w.stock_run(&sent.run_id).await;
    assert_eq!(run.state, StockRunState::Sent);
    assert!(run.note.contains("released"), "{}", run.note);
    w.later(60);
    let (_, q, status) = w.at_dsco("SKU-1001").unwrap();
    assert_eq!((q, status.as_str()), (0, "out-of-stock"));
    // The release was used up: a new large drop is held again.
    w.run(JobName::SyncStock).await; // settle
    for i in 3..=5 {
        w.lx.set_inventory(1300, &format!("SKU-100{i}"), "0", 0);
    }
    let held = w.run(JobName::SyncStock).await;
    assert_eq!(w.stock_run(&held.run_id).await.state, StockRunState::Held);
}

pub async fn stock_sync_false_reads_and_records_only(db: &Db) {
    let w = World::new(db).await;
    w.configure(json!({"sync": false}), json!({})).await;
    w.lx.clear_inventory();
    w.lx.set_inventory(1300, "LX-1003", "0", 8);
    let r = w.run(JobName::SyncStock).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    assert_eq!(w.stock_run(&r.run_id).await.state, StockRunState::ReadOnly);
    assert_eq!(w.dsco.calls(sim::dsco::Endpoint::InventoryBatch), 0);
    let items = w.items_of(&r.run_id).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].outcome, StockOutcome::NotSent);
    assert!(!items[0].sent);
    assert_eq!(items[0].read, wh(&[("US-CA-01", 8)]));
}

pub async fn stock_dsco_failure_is_recorded_against_its_sku(db: &Db) {
    let w = World::new(db).await;
    w.lx.clear_inventory();
    w.lx.set_inventory(1300, "SKU-1001", "0", 3);
    w.lx.set_inventory(1300, "SKU-1002", "0", 4);
    w.lx.set_inventory(1300, "SKU-UNKNOWN-9", "0", 5);
    w.dsco
        .refuse_inventory("SKU-1002", Some("item is discontinued for this supplier"));
    let first = w.run(JobName::SyncStock).await;
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{:?}", first.error);
    w.later(60);
    let second = w.run(JobName::SyncStock).await;
    let items: BTreeMap<String, store::StockItem> = w
        .items_of(&first.run_id)
        .await
        .into_iter()
        .map(|i| (i.dsco_sku.clone(), i))
        .collect();
    assert_eq!(items["SKU-1001"].outcome, StockOutcome::Success);
    assert_eq!(items["SKU-1002"].outcome, StockOutcome::Failed);
    assert!(
        items["SKU-1002"].message.contains("discontinued"),
        "{}",
        items["SKU-1002"].message
    );
    assert_eq!(items["SKU-UNKNOWN-9"].outcome, StockOutcome::SkippedUnknown);
    // The failed SKU is sent again by the next run; the skipped unknown one is settled.
    let resent: Vec<String> = w
        .items_of(&second.run_id)
        .await
        .into_iter()
        .map(|i| i.dsco_sku)
        .collect();
    assert_eq!(resent, ["SKU-1002"]);
}

// --- pull_sku_pair ---------------------------------------------------------------------------

fn store_id(i: usize) -> &'static str {
    defaults::RETAILERS[i].lingxing_store_id
}

/// A clean pull first, so there is a mapping a bad pull could damage.
async fn pulled(db: &Db) -> World {
    let w = World::new(db).await;
    let r = w.run(JobName::PullSkuPair).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    w
}

async fn assert_conflict_changes_nothing(w: &World, kind: SkuConflictKind) {
    let before = w.store.sku_map().await.unwrap();
    let r = w.run(JobName::PullSkuPair).await;
    assert_eq!(r.outcome, RunOutcome::Failed);
    assert!(
        r.error.as_deref().unwrap_or("").contains("conflict"),
        "{:?}",
        r.error
    );
    assert_eq!(
        w.store.sku_map().await.unwrap(),
        before,
        "mapping.sku untouched"
    );
    let conflicts = w.store.sku_conflicts(&r.run_id).await.unwrap();
    assert!(
        conflicts.iter().any(|c| c.kind == kind),
        "{kind:?} not in {conflicts:?}"
    );
    let detail = w.store.run_detail(&r.run_id).await.unwrap().unwrap();
    assert_eq!(detail["outcome"], "conflicts");
}

pub async fn pairs_clean_run_writes_mapping_and_audit_files(db: &Db) {
    let w = World::new(db).await;
    let r = w.run(JobName::PullSkuPair).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    let map = w.store.sku_map().await.unwrap();
    let eff = map.effective();
    assert_eq!(eff["SKU-1001"], "LX-1001");
    assert_eq!(eff["SKU-BUNDLE-01"], "LX-BUNDLE-01");
    assert!(map.entries.iter().all(|e| e.source == SkuSource::Pair));
    assert_eq!(map.entries.len(), 11);
    let day = w.exports.path().join("sku-mapping-pull").join("2026-03-01");
    for prefix in ["old", "new", "diff", "meta"] {
        let p = day.join(format!("{prefix}_{}.json", r.run_id));
        assert!(p.is_file(), "{} missing", p.display());
    }
    let meta: Value = serde_json::from_slice(
        &std::fs::read(day.join(format!("meta_{}.json", r.run_id))).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["outcome"], "applied");
    assert_eq!(meta["added"], 11);
    let diff: Value = serde_json::from_slice(
        &std::fs::read(day.join(format!("diff_{}.json", r.run_id))).unwrap(),
    )
    .unwrap();
    assert_eq!(diff["added"]["SKU-1005"], "LX-1005");
    // No temporary file is left behind.
    assert!(
        std::fs::read_dir(&day).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );
    // A second pull with nothing new changes nothing.
    let again = w.run(JobName::PullSkuPair).await;
    assert_eq!(again.outcome, RunOutcome::Succeeded);
    assert_eq!(w.store.sku_map().await.unwrap().version, map.version);
}

pub async fn pairs_conflict_empty_msku_or_sku(db: &Db) {
    let w = pulled(db).await;
    w.lx.add_pair_row(store_id(0), "", "LX-1001", None);
    assert_conflict_changes_nothing(&w, SkuConflictKind::Empty).await;
}

pub async fn pairs_conflict_msku_to_many_skus(db: &Db) {
    let w = pulled(db).await;
    w.lx.add_pair_row(store_id(0), "SKU-1001", "LX-OTHER", None);
    assert_conflict_changes_nothing(&w, SkuConflictKind::MskuToManySkus).await;
}

pub async fn pairs_conflict_sku_to_many_mskus(db: &Db) {
    let w = pulled(db).await;
    w.lx.set_pair(store_id(0), "SKU-NEW", "LX-1001");
    assert_conflict_changes_nothing(&w, SkuConflictKind::SkuToManyMskus).await;
}

pub async fn pairs_conflict_store_mismatch(db: &Db) {
    let w = pulled(db).await;
    w.lx.add_pair_row(store_id(0), "SKU-NEW", "LX-NEW", Some("999999"));
    assert_conflict_changes_nothing(&w, SkuConflictKind::StoreMismatch).await;
}

pub async fn pairs_conflict_across_stores(db: &Db) {
    let w = pulled(db).await;
    w.lx.set_pair(store_id(1), "SKU-1001", "LX-DIFFERENT");
    assert_conflict_changes_nothing(&w, SkuConflictKind::AcrossStores).await;
}

pub async fn pairs_store_listing_none_is_a_failed_read(db: &Db) {
    let w = pulled(db).await;
    assert!(w.lx.clear_pairs(store_id(2)) > 0);
    assert_conflict_changes_nothing(&w, SkuConflictKind::StoreEmptied).await;
}

pub async fn pairs_manual_entries_survive_and_win(db: &Db) {
    let w = pulled(db).await;
    let v = w.store.sku_map().await.unwrap().version;
    let v = w
        .store
        .set_manual_sku(v, "SKU-1001", Some("LX-HAND"), "ops", "test", w.clock.now())
        .await
        .unwrap();
    w.store
        .set_manual_sku(
            v,
            "SKU-ONLY-MANUAL",
            Some("LX-M"),
            "ops",
            "test",
            w.clock.now(),
        )
        .await
        .unwrap();
    w.lx.set_pair(store_id(0), "SKU-1002", "LX-1002B");
    for i in 1..3 {
        w.lx.set_pair(store_id(i), "SKU-1002", "LX-1002B");
    }
    let r = w.run(JobName::PullSkuPair).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    let map = w.store.sku_map().await.unwrap();
    let eff = map.effective();
    assert_eq!(eff["SKU-1001"], "LX-HAND", "manual wins");
    assert_eq!(eff["SKU-ONLY-MANUAL"], "LX-M", "manual entry kept");
    assert_eq!(eff["SKU-1002"], "LX-1002B", "pair updated");
    let clashes = w.store.sku_conflicts(&r.run_id).await.unwrap();
    assert_eq!(clashes.len(), 1, "{clashes:?}");
    assert_eq!(clashes[0].kind, SkuConflictKind::ManualClash);
    assert_eq!(clashes[0].msku, "SKU-1001");
}

pub async fn pairs_concurrent_manual_edit_fails_the_swap_cleanly(db: &Db) {
    let w = pulled(db).await;
    w.lx.set_pair(store_id(0), "SKU-1003", "LX-1003B");
    for i in 1..3 {
        w.lx.set_pair(store_id(i), "SKU-1003", "LX-1003B");
    }
    let before = w.store.sku_map().await.unwrap();
    // The first pair request is slow; an operator edits the map meanwhile.
    w.lx.inject_fault(
        PAIR_PATH,
        sim::lingxing::Fault::Latency { ms: 400 },
        Some(1),
    );
    let calls = w.lx.calls(PAIR_PATH);
    let run = w.run(JobName::PullSkuPair);
    let edit = async {
        while w.lx.calls(PAIR_PATH) == calls {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.store
            .set_manual_sku(
                before.version,
                "SKU-9",
                Some("LX-9"),
                "ops",
                "edit",
                w.clock.now(),
            )
            .await
            .unwrap()
    };
    let (r, _) = tokio::join!(run, edit);
    assert_eq!(r.outcome, RunOutcome::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap_or("")
            .contains("changed while the pull ran"),
        "{:?}",
        r.error
    );
    let after = w.store.sku_map().await.unwrap();
    assert_eq!(
        after.version,
        before.version + 1,
        "only the operator's edit"
    );
    assert_eq!(
        after.effective()["SKU-1003"],
        "LX-1003",
        "the pull wrote nothing"
    );
    assert_eq!(after.effective()["SKU-9"], "LX-9");
    let detail = w.store.run_detail(&r.run_id).await.unwrap().unwrap();
    assert_eq!(detail["outcome"], "version_conflict");
    // The next run applies the change on top of the operator's edit.
    let next = w.run(JobName::PullSkuPair).await;
    assert_eq!(next.outcome, RunOutcome::Succeeded, "{:?}", next.error);
    let eff = w.store.sku_map().await.unwrap().effective();
    assert_eq!(
        (eff["SKU-1003"].as_str(), eff["SKU-9"].as_str()),
        ("LX-1003B", "LX-9")
    );
}

// --- cleanup_exports -------------------------------------------------------------------------

fn file(path: &Path, bytes: usize, modified: DateTime<Utc>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::from(modified)).unwrap();
}

pub async fn cleanup_job_records_what_it_deleted(db: &Db) {
    let w = World::new(db).await;
    let now = w.clock.now();
    let dir = w.exports.path();
    file(&dir.join("a/old.json"), 10, now - TimeDelta::days(40));
    file(&dir.join("a/new.json"), 10, now - TimeDelta::days(1));
    let r = w.run(JobName::CleanupExports).await;
    assert_eq!(r.outcome, RunOutcome::Succeeded, "{:?}", r.error);
    assert!(!dir.join("a/old.json").exists());
    assert!(dir.join("a/new.json").exists());
    let detail = w.store.run_detail(&r.run_id).await.unwrap().unwrap();
    assert_eq!(detail["deleted"][0]["path"], "a/old.json");
    assert_eq!(detail["deleted"][0]["why"], "age");
    assert_eq!(r.counts.advanced, 1);
}

#[test]
fn cleanup_deletes_oldest_first_to_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let now = t0();
    for (i, name) in ["x/1.json", "x/2.json", "y/3.json", "4.json"]
        .iter()
        .enumerate()
    {
        file(
            &dir.path().join(name),
            400,
            now - TimeDelta::hours(10 - i as i64),
        );
    }
    let r = cleanup(
        dir.path(),
        1000,
        Duration::from_secs(30 * 86400),
        now,
        false,
    )
    .unwrap();
    let gone: Vec<&str> = r.deleted.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(gone, ["x/1.json", "x/2.json"]);
    assert!(r.deleted.iter().all(|d| d.why == "size"));
    assert_eq!((r.kept_files, r.kept_bytes), (2, 800));
    assert!(dir.path().join("y/3.json").exists() && dir.path().join("4.json").exists());
}

#[test]
fn cleanup_deletes_by_age_and_dry_run_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let now = t0();
    file(&dir.path().join("old.csv"), 5, now - TimeDelta::days(8));
    file(&dir.path().join("fresh.csv"), 5, now - TimeDelta::days(6));
    let dry = cleanup(
        dir.path(),
        u64::MAX,
        Duration::from_secs(7 * 86400),
        now,
        true,
    )
    .unwrap();
    assert_eq!(dry.deleted.len(), 1);
    assert!(dir.path().join("old.csv").exists(), "dry run");
    let r = cleanup(
        dir.path(),
        u64::MAX,
        Duration::from_secs(7 * 86400),
        now,
        false,
    )
    .unwrap();
    assert_eq!(r.deleted[0].path, "old.csv");
    assert_eq!(r.deleted[0].why, "age");
    assert!(!dir.path().join("old.csv").exists());
    assert!(dir.path().join("fresh.csv").exists());
}

#[cfg(unix)]
#[test]
fn cleanup_leaves_links_out_of_the_folder_alone() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = t0();
    let target = outside.path().join("precious.bin");
    file(&target, 5000, now - TimeDelta::days(400));
    file(
        &outside.path().join("sub/also.bin"),
        5000,
        now - TimeDelta::days(400),
    );
    std::os::unix::fs::symlink(&target, dir.path().join("link.bin")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("sub"), dir.path().join("linkdir")).unwrap();
    file(&dir.path().join("mine.bin"), 10, now - TimeDelta::days(400));
    let r = cleanup(dir.path(), 0, Duration::from_secs(86400), now, false).unwrap();
    assert_eq!(r.deleted.len(), 1);
    assert_eq!(r.deleted[0].path, "mine.bin");
    let mut links = r.links_left_alone.clone();
    links.sort();
    assert_eq!(links, ["link.bin", "linkdir"]);
    assert!(target.exists() && outside.path().join("sub/also.bin").exists());
    assert!(std::fs::symlink_metadata(dir.path().join("link.bin")).is_ok());
}
