//! `import legacy` (issue 19 item 1): the Go service's PostgreSQL, made by the test with its
//! schema and filled with a row per defect, imported into a fresh store; then the jobs run
//! against the simulators that hold the same orders (real HTTP, the simulated clock), and no
//! create, ACK, shipment or invoice is made a second time. The legacy database needs
//! PostgreSQL: these tests are in `postgres` and skipped when `TEST_DATABASE_URL` is unset.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::{JobName, PoNumber, RunOutcome, Stage, Trigger};
use engine::legacy::{ImportLine, ImportReport, import_legacy};
use engine::startup::{Application, Parts};
use engine::{Engine, EngineSettings, RunOptions, RunResult};
use serde_json::{Value, json};
use sim::defaults;
use sim::dsco::Endpoint;
use sqlx::Connection;
use store::{IntentKind, IntentState, LegacySource, SkuSource, Store};
use tokio::sync::watch;

use crate::Db;
use crate::orders::{World, default_runtime_config, sim_far_sides, world};
use crate::reasons::{at_stage, order, to_acknowledged};

const SCHEMA: &str = r#"
CREATE TABLE runtime_config (
    id bigserial PRIMARY KEY, domain text UNIQUE, config jsonb, updated_at bigint);
CREATE TABLE dsco_order_sync (
    id bigserial PRIMARY KEY, po_number text UNIQUE, dsco_create_time bigint, dsco_status text,
    status smallint, payload jsonb, mskus text[], warehouse_id text, shipment text,
    dsco_retailer_id text, shipped_tracking_no text, dsco_invoice_id text,
    created_at bigint, updated_at bigint);
CREATE TABLE dsco_warehouse_sync (
    id bigserial PRIMARY KEY, sync_time bigint, dsco_warehouse_id text, dsco_warehouse_sku text,
    dsco_warehouse_num integer, lingxing_warehouse_id text, lingxing_warehouse_sku text,
    lingxing_warehouse_num integer, diff integer, status smallint, reason text);
"#;

/// A legacy order row (`None`: NULL).
struct Legacy<'a> {
    po: Option<&'a str>,
    status: Option<i16>,
    dsco_status: Option<&'a str>,
    payload: Option<Value>,
    tracking: Option<String>,
    invoice: Option<&'a str>,
}

async fn legacy_db(base: &str, rows: &[Legacy<'_>]) -> String {
    let url = store::testing::fresh_postgres_database(base).await;
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(SCHEMA).execute(&mut c).await.unwrap();
    sqlx::query("INSERT INTO runtime_config (domain, config, updated_at) VALUES ('dsco_lingxing', $1::jsonb, 1767225600)")
        .bind(json!({"domain": "dsco_lingxing", "jobs": {"push_to_lingxing": {"enable": true, "cron": "0 */15 * * * *", "size": 50}}, "mapping": {"shop": {}, "warehouse": {}, "shipment": {}, "sku": {}}}).to_string())
        .execute(&mut c)
        .await
        .unwrap();
    for r in rows {
        sqlx::query(
            "INSERT INTO dsco_order_sync (po_number, status, dsco_status, payload, shipped_tracking_no, dsco_invoice_id, \
             mskus, warehouse_id, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $9)",
        )
        .bind(r.po)
        .bind(r.status)
        .bind(r.dsco_status)
        .bind(r.payload.as_ref().map(Value::to_string))
        .bind(r.tracking.as_deref())
        .bind(r.invoice)
        .bind(r.po.map(|_| vec!["SKU-1001(1)".to_owned()]))
        .bind(r.po.map(|_| "US-CA-01"))
        .bind(r.po.map(|_| 1_767_225_600i64))
        .execute(&mut c)
        .await
        .unwrap();
    }
    // The stock-sync log: two ordinary rows and one with a NULL in every nullable column.
    for (t, sku, n) in [
        (Some(1_767_225_600i64), Some("SKU-1001"), Some(5)),
        (Some(1_767_229_200), Some("SKU-1002"), Some(0)),
        (None, None, None),
    ] {
        sqlx::query(
            "INSERT INTO dsco_warehouse_sync (sync_time, dsco_warehouse_id, dsco_warehouse_sku, dsco_warehouse_num, \
             lingxing_warehouse_id, lingxing_warehouse_sku, lingxing_warehouse_num, diff, status, reason) \
             VALUES ($1, $2, $3, $4, $5, $3, $4, $6, $7, $8)",
        )
        .bind(t)
        .bind(t.map(|_| "US-CA-01"))
        .bind(sku)
        .bind(n)
        .bind(t.map(|_| "5001"))
        .bind(n.map(|_| 0))
        .bind(t.map(|_| 1i16))
        .bind(Option::<&str>::None)
        .execute(&mut c)
        .await
        .unwrap();
    }
    let _ = c.close().await;
    url
}

/// What the far sides have written, per PO and in calls.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Far {
    per_po: BTreeMap<String, (usize, usize, Vec<String>, usize)>,
    creates: u64,
    acks: u64,
    shipments: u64,
    invoices: u64,
}

fn far(w: &World, pos: &[&str]) -> Far {
    Far {
        per_po: pos
            .iter()
            .map(|p| {
                let mut t: Vec<String> = w
                    .dsco
                    .shipments_for(p)
                    .into_iter()
                    .map(|s| s.tracking_number)
                    .collect();
                t.sort();
                (
                    p.to_string(),
                    (
                        w.lx.orders_for(p).len(),
                        w.dsco.acks_for(p).len(),
                        t,
                        w.dsco.invoices_for(p).len(),
                    ),
                )
            })
            .collect(),
        creates: w.lx.calls("/pb/mp/order/v2/create"),
        acks: w.dsco.calls(Endpoint::Acknowledge),
        shipments: w.dsco.calls(Endpoint::ShipmentBatch) + w.dsco.calls(Endpoint::SingleShipment),
        invoices: w.dsco.calls(Endpoint::InvoiceBatch) + w.dsco.calls(Endpoint::InvoicePost),
    }
}

/// An engine of our service on `store`, over the world's simulators and clock.
async fn our_engine(w: &World, store: Arc<dyn Store>) -> Arc<Engine> {
    store
        .save_runtime_config(
            None,
            &default_runtime_config(json!({})),
            "test",
            "test",
            w.clock.now(),
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
            w.clock.now(),
            None,
        )
        .await
        .unwrap();
    let mut far = sim_far_sides(&w.dsco, &w.lx).request_timeout(Duration::from_secs(2));
    far.dsco.rate_limits = false;
    let parts = Parts {
        clock: w.clock.clone(),
        holder: "our-service".into(),
        engine: EngineSettings::default(),
        far,
        shared_token: true,
        order_jobs: true,
        stock_jobs: None,
    };
    Application::build(store, parts).unwrap().engine().clone()
}

async fn run(w: &World, engine: &Arc<Engine>, job: JobName) {
    let (_tx, rx) = watch::channel(false);
    let e = engine.clone();
    let task = tokio::spawn(async move {
        e.run_job(job, Trigger::Cli, RunOptions::default(), rx)
            .await
    });
    let sim = w.clock.sim().unwrap();
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if sim.sleepers() >= 3
            && let Some(d) = sim.next_deadline()
        {
            sim.advance_to(d);
        }
    }
    match task.await.unwrap().unwrap() {
        RunResult::Ran { outcome, error, .. } => {
            assert_eq!(outcome, RunOutcome::Succeeded, "{job}: {error:?}")
        }
        other => panic!("{job}: {other:?}"),
    }
}

async fn import(
    store: &Arc<dyn Store>,
    url: &str,
    w: &World,
    dry: bool,
) -> (ImportReport, Vec<ImportLine>) {
    let source = LegacySource::connect(url).await.unwrap();
    let mut lines = Vec::new();
    let r = import_legacy(store, &source, &w.clock, dry, &mut |l| lines.push(l))
        .await
        .unwrap();
    source.close().await;
    (r, lines)
}

fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

async fn stage_in(store: &Arc<dyn Store>, p: &str) -> Option<Stage> {
    store.get_order(&po(p)).await.unwrap().map(|o| o.stage)
}

/// Everything an import could write, to compare before and after.
async fn snapshot(store: &Arc<dyn Store>, pos: &[&str]) -> String {
    let mut out = String::new();
    for p in pos {
        let o = store.get_order(&po(p)).await.unwrap();
        let i = store.intents_for(&po(p)).await.unwrap();
        let e = store.order_events(&po(p)).await.unwrap().len();
        out.push_str(&format!(
            "{p}: {:?} {:?} {:?} {:?} events {e}\n",
            o.as_ref().map(|o| (o.stage, o.updated_at)),
            o.as_ref().map(|o| (&o.tracking, &o.invoice_id, &o.flags)),
            i.iter()
                .map(|i| (i.kind, i.key.clone(), i.state, i.updated_at))
                .collect::<Vec<_>>(),
            o.as_ref().map(|o| o.pulled.payload.get().len()),
        ));
    }
    let u = store.unreadable_orders(false, 100).await.unwrap();
    out.push_str(&format!(
        "unreadable: {:?}\n",
        u.iter()
            .map(|u| (&u.order.dsco_order_id, u.seen, u.last_seen))
            .collect::<Vec<_>>()
    ));
    out
}

const DONE: &str = "PO-L-DONE";
const SHIPPED: &str = "PO-L-SHIPPED";
const ACKED: &str = "PO-L-ACKED";
const PUSHED: &str = "PO-L-PUSHED";
const CANCEL: &str = "PO-L-CANCEL";
const NEW: &str = "PO-L-NEW";
const ALL: [&str; 6] = [DONE, SHIPPED, ACKED, PUSHED, CANCEL, NEW];

/// The far sides after the predecessor's work (played by a service of ours on its own store),
/// and the predecessor's rows with the defects its re-pull left.
async fn predecessor(w: &World) -> Vec<Legacy<'static>> {
    let line = [("SKU-1001", 1)];
    for p in [DONE, SHIPPED, ACKED, PUSHED] {
        w.dsco
            .add_order(order(p, "1000012345", "US-CA-01", "UPCG", &line))
            .unwrap();
    }
    to_acknowledged(w, &[DONE, SHIPPED, ACKED]).await;
    at_stage(w, PUSHED, Stage::Pushed).await;
    // What DSCO showed when the re-pull last read them (acknowledged, nothing shipped).
    let acked_payload = w.dsco.order(ACKED).unwrap();
    let shipped_before = w.dsco.order(SHIPPED).unwrap();
    let pushed_payload = w.dsco.order(PUSHED).unwrap();
    // DONE: shipped and invoiced; then SHIPPED: shipped only (its invoice still due).
    ship(w, DONE).await;
    w.advance(60);
    w.run(JobName::InvoiceToDsco).await;
    w.advance(120);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::InvoiceToDsco).await;
    at_stage(w, DONE, Stage::Done).await;
    assert_eq!(w.dsco.invoices_for(DONE).len(), 1);
    ship(w, SHIPPED).await;
    assert_eq!(w.dsco.invoices_for(SHIPPED).len(), 0);
    let shipped_trackings: Vec<String> = w
        .dsco
        .shipments_for(SHIPPED)
        .into_iter()
        .map(|s| s.tracking_number)
        .collect();
    assert!(!shipped_trackings.is_empty());
    // A new order the predecessor never pushed, and one DSCO cancelled before the push.
    for p in [CANCEL, NEW] {
        w.dsco
            .add_order(order(p, "1000012345", "US-CA-01", "UPCG", &line))
            .unwrap();
    }
    w.dsco.cancel_order(CANCEL);
    let mut new_payload = w.dsco.order(NEW).unwrap();
    new_payload["dscoStatus"] = json!("created");
    vec![
        // Stage 1 while DSCO says shipped (the re-pull blanked tracking and invoice).
        Legacy {
            po: Some(DONE),
            status: Some(1),
            dsco_status: Some("shipped"),
            payload: Some(w.dsco.order(DONE).unwrap()),
            tracking: Some(String::new()),
            invoice: None,
        },
        // Stage 3 kept from before the shipment, with the tracking it sent listed.
        Legacy {
            po: Some(SHIPPED),
            status: Some(3),
            dsco_status: Some("shipment_pending"),
            payload: Some(shipped_before),
            tracking: Some(shipped_trackings.join(",")),
            invoice: None,
        },
        // Acknowledged, fallen back to 1 with a blank tracking by the re-pull.
        Legacy {
            po: Some(ACKED),
            status: Some(1),
            dsco_status: Some("shipment_pending"),
            payload: Some(acked_payload),
            tracking: Some(" ".into()),
            invoice: Some(""),
        },
        // In LingXing, but fallen back to 1 (DSCO still says created).
        Legacy {
            po: Some(PUSHED),
            status: Some(1),
            dsco_status: Some("created"),
            payload: Some(pushed_payload),
            tracking: None,
            invoice: None,
        },
        Legacy {
            po: Some(CANCEL),
            status: Some(6),
            dsco_status: Some("cancelled"),
            payload: Some(w.dsco.order(CANCEL).unwrap()),
            tracking: None,
            invoice: None,
        },
        // An unknown status value.
        Legacy {
            po: Some(NEW),
            status: Some(9),
            dsco_status: Some("on_hold"),
            payload: Some(new_payload),
            tracking: None,
            invoice: None,
        },
        // Malformed payloads: not an object, an object without poNumber, another PO.
        Legacy {
            po: Some("PO-L-BAD-TEXT"),
            status: Some(2),
            dsco_status: Some("created"),
            payload: Some(json!("not an order")),
            tracking: None,
            invoice: None,
        },
        Legacy {
            po: Some("PO-L-BAD-NOPO"),
            status: Some(1),
            dsco_status: None,
            payload: Some(json!({"dscoOrderId": "7777", "dscoStatus": "created"})),
            tracking: None,
            invoice: None,
        },
        // NULL in every nullable column but the PO, then the PO too.
        Legacy {
            po: Some("PO-L-NULLS"),
            status: None,
            dsco_status: None,
            payload: None,
            tracking: None,
            invoice: None,
        },
        Legacy {
            po: None,
            status: None,
            dsco_status: None,
            payload: None,
            tracking: None,
            invoice: None,
        },
    ]
}

/// LingXing ships `p`; the ship job sends it and DSCO confirms it: stage 4.
async fn ship(w: &World, p: &str) {
    w.lx.ship(p, None);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    at_stage(w, p, Stage::Shipped).await;
}

/// The whole switch: dry run, import, second import, then our jobs on the far sides.
pub async fn a_legacy_import_never_writes_twice(target: &Db, base: &str) {
    let predecessor_db = Db::sqlite().await;
    let w = world(&predecessor_db, json!({})).await;
    let rows = predecessor(&w).await;
    let url = legacy_db(base, &rows).await;
    let before = far(&w, &ALL);
    let store = target.open().await;
    let engine = our_engine(&w, store.clone()).await;

    // Dry run: the report, and nothing written.
    let empty = snapshot(&store, &ALL).await;
    let (dry, dry_lines) = import(&store, &url, &w, true).await;
    assert_eq!(
        snapshot(&store, &ALL).await,
        empty,
        "a dry run writes nothing"
    );
    assert_eq!(
        store.count_by_stage().await.unwrap().values().sum::<i64>(),
        0
    );
    assert!(dry.dry_run);

    // The import.
    let (r, lines) = import(&store, &url, &w, false).await;
    assert_eq!(lines, dry_lines, "the dry run reports the same lines");
    assert_eq!(
        ImportReport {
            dry_run: true,
            ..r.clone()
        },
        dry,
        "the dry run reports the same counts"
    );
    assert_eq!(r.rows, 10);
    assert_eq!(r.inserted, 6);
    assert_eq!(r.bad, 4);
    assert_eq!(r.stock_rows, 3);
    assert_eq!(r.stock_added, 3);
    assert_eq!(r.before.get("1"), Some(&4));
    assert_eq!(r.before.get("NULL"), Some(&2));
    assert_eq!(r.before.get("9"), Some(&1));
    let want = [
        (DONE, Stage::Done),
        (SHIPPED, Stage::Shipped),
        (ACKED, Stage::Acknowledged),
        (PUSHED, Stage::Pulled),
        (CANCEL, Stage::Cancelled),
        (NEW, Stage::Pulled),
    ];
    for (p, s) in want {
        assert_eq!(stage_in(&store, p).await, Some(s), "{p}");
    }
    let corrected: Vec<&str> = lines
        .iter()
        .filter_map(|l| match l {
            ImportLine::Corrected { po, .. } => Some(po.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(corrected, vec![ACKED, DONE, NEW, SHIPPED], "{lines:#?}");
    let done_line = lines
        .iter()
        .find(|l| matches!(l, ImportLine::Corrected { po, .. } if po == DONE))
        .unwrap();
    let ImportLine::Corrected { from, why, .. } = done_line else {
        unreachable!()
    };
    assert_eq!(from, "1");
    assert!(why[0].contains("DSCO shows shipped"), "{why:?}");
    let bad: Vec<String> = lines
        .iter()
        .filter_map(|l| match l {
            ImportLine::Bad { row, .. } => Some(row.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        bad,
        vec![
            "7777",
            "legacy:PO-L-BAD-TEXT",
            "legacy:PO-L-NULLS",
            "legacy:(no po_number)"
        ]
    );
    assert_eq!(store.unreadable_orders(true, 100).await.unwrap().len(), 4);
    // What the predecessor sent, recorded as our jobs record their own writes.
    let intent = |kind, key: &str| {
        let store = store.clone();
        let key = key.to_owned();
        async move {
            store::testing::intent(&*store, kind, &key)
                .await
                .unwrap()
                .map(|i| i.state)
        }
    };
    for t in &before.per_po[SHIPPED].2 {
        assert_eq!(
            intent(IntentKind::Shipment, t).await,
            Some(IntentState::Confirmed)
        );
    }
    assert_eq!(
        store
            .get_order(&po(SHIPPED))
            .await
            .unwrap()
            .unwrap()
            .tracking,
        before.per_po[SHIPPED].2
    );
    for p in [SHIPPED, ACKED] {
        assert_eq!(
            intent(IntentKind::Create, p).await,
            Some(IntentState::Confirmed),
            "{p}"
        );
        assert_eq!(
            intent(IntentKind::Ack, p).await,
            Some(IntentState::Confirmed),
            "{p}"
        );
    }
    // Done only because DSCO shows it shipped: no write of the predecessor is known.
    assert_eq!(intent(IntentKind::Create, DONE).await, None);
    assert_eq!(intent(IntentKind::Create, NEW).await, None);
    assert_eq!(intent(IntentKind::Create, CANCEL).await, None);

    // A second import changes nothing.
    let once = snapshot(&store, &ALL).await;
    let (again, _) = import(&store, &url, &w, false).await;
    assert!(!again.changed(), "{again:?}");
    assert_eq!(again.unchanged, 6);
    assert_eq!(again.stock_added, 0);
    assert_eq!(
        snapshot(&store, &ALL).await,
        once,
        "a second import writes nothing"
    );

    // Our jobs on the far sides the predecessor left: nothing made a second time.
    for _ in 0..2 {
        w.advance(60);
        for job in [
            JobName::PullDscoOrders,
            JobName::PushToLingxing,
            JobName::AckToDsco,
            JobName::ShipToDsco,
            JobName::InvoiceToDsco,
        ] {
            run(&w, &engine, job).await;
        }
        w.advance(120);
    }
    let after = far(&w, &ALL);
    for p in [DONE, SHIPPED, ACKED, PUSHED] {
        let (lx_b, ack_b, ship_b, _) = &before.per_po[p];
        let (lx_a, ack_a, ship_a, _) = &after.per_po[p];
        assert_eq!(lx_a, lx_b, "{p}: no second LingXing order");
        assert_eq!(*lx_a, 1, "{p}");
        assert_eq!(ack_a, ack_b, "{p}: no second ACK");
        assert_eq!(ship_a, ship_b, "{p}: no tracking sent again");
    }
    assert_eq!(after.per_po[DONE].3, 1, "no second invoice");
    assert!(after.per_po[SHIPPED].3 <= 1, "at most its first invoice");
    assert_eq!(after.acks, before.acks, "no ACK call at all");
    assert_eq!(after.shipments, before.shipments, "no shipment call at all");
    // The only create is the order the predecessor never pushed.
    assert_eq!(after.per_po[NEW].0, 1);
    assert_eq!(after.per_po[CANCEL].0, 0);
    assert!(after.creates <= before.creates + 1, "{after:?} {before:?}");
    assert_eq!(stage_in(&store, PUSHED).await, Some(Stage::Pushed));
}

pub mod postgres {
    /// A crash in the middle, into a SQLite store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_import_continues_where_it_stopped() {
        let Some(base) = store::testing::postgres_base_url() else {
            return;
        };
        let db = crate::Db::sqlite().await;
        super::a_crashed_import_continues_where_it_stopped(&db, &base).await;
    }

    /// Into a SQLite store (the default deployment).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_legacy_import_into_sqlite_never_writes_twice() {
        let Some(base) = store::testing::postgres_base_url() else {
            return;
        };
        let db = crate::Db::sqlite().await;
        super::a_legacy_import_never_writes_twice(&db, &base).await;
    }

    /// Into a PostgreSQL store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_legacy_import_into_postgres_never_writes_twice() {
        let Some(base) = store::testing::postgres_base_url() else {
            return;
        };
        let db = crate::Db::postgres().await.unwrap();
        super::a_legacy_import_never_writes_twice(&db, &base).await;
    }
}

/// 1,200 orders (three pages): an import that dies in the second page (the report's sink
/// panics before that page is written) leaves the first page stored; once the dead import's
/// leases expire, a rerun stores the rest, and a third run changes nothing.
pub async fn a_crashed_import_continues_where_it_stopped(target: &Db, base: &str) {
    let url = store::testing::fresh_postgres_database(base).await;
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(SCHEMA).execute(&mut c).await.unwrap();
    for n in 0..1200 {
        let p = format!("PO-G-{n:04}");
        let (status, dsco, tracking) = match n % 3 {
            0 => (1i16, "shipped", None),
            1 => (2, "created", None),
            _ => (4, "shipment_pending", Some(format!("TRK-{n:04}"))),
        };
        let payload = json!({"poNumber": p, "dscoOrderId": n.to_string(), "dscoStatus": dsco,
                             "lineItems": [{"sku": "SKU-1001", "quantity": 1}]});
        sqlx::query("INSERT INTO dsco_order_sync (po_number, status, payload, shipped_tracking_no) VALUES ($1, $2, $3::jsonb, $4)")
            .bind(&p)
            .bind(status)
            .bind(payload.to_string())
            .bind(tracking)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let _ = c.close().await;
    let clock = clock::Clock::simulated(crate::t0());
    let store = target.open().await;
    let source = LegacySource::connect(&url).await.unwrap();
    let crashed = {
        let store = store.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            let mut sink = |l: ImportLine| {
                if let ImportLine::Corrected { po, .. } = &l
                    && po.as_str() >= "PO-G-0500"
                {
                    panic!("the process dies in the second page");
                }
            };
            let _ = import_legacy(&store, &source, &clock, false, &mut sink).await;
        })
        .await
    };
    assert!(crashed.is_err(), "the import died");
    let stored = |store: Arc<dyn Store>| async move {
        store.count_by_stage().await.unwrap().values().sum::<i64>()
    };
    assert_eq!(stored(store.clone()).await, 500, "the first page was kept");
    // A rerun while the dead import's leases are live is refused, naming the job.
    let source = LegacySource::connect(&url).await.unwrap();
    let busy = import_legacy(&store, &source, &clock, false, &mut |_| {}).await;
    assert!(
        matches!(busy, Err(engine::legacy::ImportError::Busy { .. })),
        "{busy:?}"
    );
    clock.sim().unwrap().advance(Duration::from_secs(121));
    let r = import_legacy(&store, &source, &clock, false, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged, r.rows), (700, 500, 1200));
    let by_stage = store.count_by_stage().await.unwrap();
    assert_eq!(by_stage.get(&Stage::Done), Some(&400), "{by_stage:?}");
    assert_eq!(by_stage.get(&Stage::Pushed), Some(&400), "{by_stage:?}");
    assert_eq!(by_stage.get(&Stage::Shipped), Some(&400), "{by_stage:?}");
    assert_eq!(r.after, by_stage, "the report's after is the store's");
    let again = import_legacy(&store, &source, &clock, false, &mut |_| {})
        .await
        .unwrap();
    assert!(!again.changed(), "{again:?}");
    assert_eq!(again.unchanged, 1200);
    source.close().await;
}
