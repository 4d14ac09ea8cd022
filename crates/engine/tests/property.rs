//! The stage machine under random interleavings of pulls, job runs, simulator progress, DSCO
//! cancellations and injected faults, on the simulated clock against both simulators over HTTP.
//!
//! Invariants: no order's stage ever goes back (cancelled only from before done); at the end,
//! every order that is not cancelled, held or needing attention is at 5 with exactly one
//! LingXing order per PO (two halves when LingXing split it), every tracking number sent once,
//! and one invoice per PO whose total is Σ expectedCost × quantity.
//!
//! Cases: 6 by default (each is a few seconds of HTTP and SQLite); `PROPTEST_CASES=64` for more.

use domain::{JobName, PoNumber, ReasonKind, Stage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use serde_json::json;
use sim::dsco::{Endpoint, Fault as DFault, Gap};
use sim::lingxing::{Fault as LFault, LingxingSimConfig};

use crate::Db;
use crate::orders::{World, world_with};

#[derive(Debug, Clone, PartialEq)]
enum Fault {
    LingxingCreateAppliedThenTimeout,
    LingxingListThrottled,
    DscoAckAppliedThenTimeout,
    DscoShipmentServerError,
    DscoInvoiceAppliedThenTimeout,
    DscoPageServerError,
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Run(JobName),
    Advance(u64),
    Audit(usize, bool),
    ShipOne(usize),
    ShipAll(usize),
    Cancel(usize),
    Inject(Fault),
}

const ORDERS: usize = 4;

fn action() -> impl Strategy<Value = Action> {
    let job = prop_oneof![
        Just(JobName::PullDscoOrders),
        Just(JobName::PushToLingxing),
        Just(JobName::AckToDsco),
        Just(JobName::ShipToDsco),
        Just(JobName::InvoiceToDsco),
    ];
    let fault = prop_oneof![
        Just(Fault::LingxingCreateAppliedThenTimeout),
        Just(Fault::LingxingListThrottled),
        Just(Fault::DscoAckAppliedThenTimeout),
        Just(Fault::DscoShipmentServerError),
        Just(Fault::DscoInvoiceAppliedThenTimeout),
        Just(Fault::DscoPageServerError),
    ];
    prop_oneof![
        12 => job.prop_map(Action::Run),
        5 => (1u64..600).prop_map(Action::Advance),
        3 => (0..ORDERS, any::<bool>()).prop_map(|(i, s)| Action::Audit(i, s)),
        2 => (0..ORDERS).prop_map(Action::ShipOne),
        2 => (0..ORDERS).prop_map(Action::ShipAll),
        1 => (0..ORDERS).prop_map(Action::Cancel),
        1 => fault.prop_map(Action::Inject),
    ]
}

async fn stages(w: &World, pos: &[String]) -> Vec<Option<Stage>> {
    let mut out = Vec::new();
    for po in pos {
        out.push(
            w.store
                .get_order(&PoNumber::parse(po).unwrap())
                .await
                .unwrap()
                .map(|o| o.stage),
        );
    }
    out
}

fn check_forward(before: &[Option<Stage>], after: &[Option<Stage>], pos: &[String], step: &str) {
    for ((b, a), po) in before.iter().zip(after).zip(pos) {
        if let (Some(b), Some(a)) = (b, a) {
            assert!(
                a.number() >= b.number(),
                "{po} went back from {b:?} to {a:?} after {step}"
            );
            assert!(
                !(*b == Stage::Done && *a == Stage::Cancelled),
                "{po} left done for cancelled after {step}"
            );
        }
        assert!(!(b.is_some() && a.is_none()), "{po} vanished after {step}");
    }
}

async fn apply(w: &World, pos: &[String], a: &Action) {
    match a {
        // A run may fail while a fault is active; the invariants must hold anyway.
        Action::Run(job) => {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let engine = w.engine.clone();
            let job = *job;
            let run = tokio::spawn(async move {
                let _keep = tx;
                engine
                    .run_job(job, domain::Trigger::Cli, engine::RunOptions::default(), rx)
                    .await
            });
            // A client backing off after a fault sleeps on the simulated clock: move time to
            // the next sleeper's deadline whenever the run is parked, up to an hour per run.
            let sim = w.clock.sim().unwrap();
            let limit = w.clock.now() + chrono::TimeDelta::hours(1);
            while !run.is_finished() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if let Some(d) = sim.next_deadline()
                    && d <= limit
                {
                    sim.advance_to(d);
                }
            }
            let _ = run.await;
        }
        Action::Advance(s) => w.advance(*s),
        Action::Audit(i, split) => {
            if *split {
                w.lx.audit_split(&pos[*i]);
            } else {
                w.lx.audit(&pos[*i]);
            }
        }
        Action::ShipOne(i) => {
            w.lx.ship_one(&pos[*i], None);
        }
        Action::ShipAll(i) => {
            w.lx.ship(&pos[*i], None);
        }
        Action::Cancel(i) => {
            w.dsco.cancel_order(&pos[*i]);
        }
        Action::Inject(f) => match f {
            Fault::LingxingCreateAppliedThenTimeout => {
                w.lx.inject_fault("/pb/mp/order/v2/create", LFault::ApplyThenTimeout, Some(1))
            }
            Fault::LingxingListThrottled => w.lx.inject_fault(
                "/pb/mp/order/v2/list",
                LFault::ErrorCode {
                    code: "3001008".into(),
                    message: "throttled".into(),
                },
                Some(2),
            ),
            Fault::DscoAckAppliedThenTimeout => w
                .dsco
                .inject_fault(Endpoint::Acknowledge, DFault::ApplyThenTimeout.times(1)),
            Fault::DscoShipmentServerError => w.dsco.inject_fault(
                Endpoint::ShipmentBatch,
                DFault::HttpStatus { status: 500 }.times(1),
            ),
            Fault::DscoInvoiceAppliedThenTimeout => w
                .dsco
                .inject_fault(Endpoint::InvoiceBatch, DFault::ApplyThenTimeout.times(1)),
            Fault::DscoPageServerError => w.dsco.inject_fault(
                Endpoint::OrderPage,
                DFault::HttpStatus { status: 503 }.times(1),
            ),
        },
    }
}

fn money(v: &serde_json::Value) -> Decimal {
    match v {
        serde_json::Value::Number(n) => n.to_string().parse().unwrap(),
        serde_json::Value::String(s) => s.parse().unwrap(),
        other => panic!("not an amount: {other}"),
    }
}

async fn case(actions: Vec<Action>, seed: u64) {
    let db = Db::sqlite().await;
    let w = world_with(&db, json!({}), LingxingSimConfig::manual()).await;
    let mut pos = w.dsco.generate_orders(ORDERS / 2, seed);
    pos.extend(w.dsco.generate_orders_with(
        ORDERS - ORDERS / 2,
        seed + 1,
        &[Gap::SeveralLines, Gap::QuantityAboveOne],
    ));
    assert_eq!(pos.len(), ORDERS);
    w.advance(60);
    let mut before = stages(&w, &pos).await;
    for (n, a) in actions.iter().enumerate() {
        apply(&w, &pos, a).await;
        let after = stages(&w, &pos).await;
        check_forward(&before, &after, &pos, &format!("step {n} {a:?}"));
        before = after;
    }
    // Quiet end: no faults, the warehouse ships everything, the jobs run until nothing moves.
    w.lx.clear_faults();
    w.dsco.clear_faults();
    for _ in 0..8 {
        for po in &pos {
            w.lx.audit(po);
            w.lx.ship(po, None);
        }
        w.advance(200);
        for job in [
            JobName::PullDscoOrders,
            JobName::PushToLingxing,
            JobName::AckToDsco,
            JobName::ShipToDsco,
            JobName::InvoiceToDsco,
        ] {
            apply(&w, &pos, &Action::Run(job)).await;
            let after = stages(&w, &pos).await;
            check_forward(&before, &after, &pos, &format!("final {job}"));
            before = after;
        }
    }
    // PROP_DEBUG=1 prints every order's timeline, stored LingXing view and simulator state: what
    // a failing sequence needs to be understood.
    if std::env::var("PROP_DEBUG").is_ok() {
        for po in &pos {
            let p = PoNumber::parse(po).unwrap();
            eprintln!("== {po}");
            for e in w.store.order_events(&p).await.unwrap() {
                eprintln!("  {e:?}");
            }
            eprintln!(
                "  view {:?}",
                w.store
                    .lingxing_views(std::slice::from_ref(&p))
                    .await
                    .unwrap()
            );
            eprintln!(
                "  lx {:?}",
                w.lx.orders_for(po)
                    .iter()
                    .map(|o| (o.global_order_no.clone(), o.status, o.split_type))
                    .collect::<Vec<_>>()
            );
            eprintln!("  wo {:?}", w.lx.outbounds_for(po));
        }
    }
    let mut done = 0;
    for po in &pos {
        let o = w
            .store
            .get_order(&PoNumber::parse(po).unwrap())
            .await
            .unwrap()
            .expect("every order pulled");
        let parked = o
            .reason
            .as_ref()
            .is_some_and(|r| matches!(r.kind, ReasonKind::NeedsAttention | ReasonKind::Held));
        if o.stage == Stage::Cancelled {
            // Only the retailer cancels in these sequences: an order cancelled without a
            // `Cancel` of its own would be the engine losing it.
            let i = pos.iter().position(|p| p == po).expect("one of ours");
            assert!(
                actions.contains(&Action::Cancel(i)),
                "{po} cancelled without a Cancel after {actions:?}"
            );
            continue;
        }
        if parked {
            continue;
        }
        assert_eq!(
            o.stage,
            Stage::Done,
            "{po}: {:?} after {actions:?}",
            o.reason
        );
        let lx = w.lx.orders_for(po);
        assert!(
            lx.len() == 1 || (lx.len() == 2 && lx.iter().all(|x| x.split_type == 3)),
            "{po}: one LingXing order (or its two split halves), got {}",
            lx.len()
        );
        let sent: Vec<String> = w
            .dsco
            .shipments_for(po)
            .iter()
            .map(|s| s.tracking_number.clone())
            .collect();
        let mut unique = sent.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            sent.len(),
            unique.len(),
            "{po}: a tracking number sent twice"
        );
        let mut shipped: Vec<String> =
            w.lx.outbounds_for(po)
                .iter()
                .filter(|b| !b.tracking_no.is_empty())
                .map(|b| b.tracking_no.clone())
                .collect();
        shipped.sort();
        assert_eq!(unique, shipped, "{po}: every package sent, once");
        let invoices = w.dsco.invoices_for(po);
        assert_eq!(invoices.len(), 1, "{po}: one invoice");
        let order = w.dsco.order(po).unwrap();
        let want: Decimal = order["lineItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| money(&l["expectedCost"]) * Decimal::from(l["quantity"].as_u64().unwrap()))
            .sum();
        assert_eq!(
            money(&invoices[0]["totalAmount"]).round_dp(2),
            want.round_dp(2),
            "{po}: invoice total"
        );
        done += 1;
    }
    eprintln!(
        "case: {} steps, {done} of {ORDERS} orders done",
        actions.len()
    );
}

pub fn random_interleavings_keep_the_stage_machine_sound() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(action(), 10..40), 1u64..1000);
    runner
        .run(&strategy, |(actions, seed)| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(case(actions, seed));
            Ok(())
        })
        .unwrap();
}

/// Known bug (ship_to_dsco): when DSCO rejects a shipment asynchronously, the run that reads the
/// rejection records `dsco_rejected` (needs attention) and then, in the same run, overwrites it with
/// `dsco_confirmation_pending` (waiting) for the same tracking number, so the order no longer shows
/// as needing attention. In the demo (orders marked dirty again by later pulls and the LingXing
/// feed) the shipment is then re-submitted and rejected again on every run.
pub async fn a_shipment_dsco_rejected_stays_needing_attention(db: &Db) {
    use crate::orders::world;
    let w = world(db, json!({})).await;
    let pos = w
        .dsco
        .generate_orders_with(1, 5, &[Gap::DisallowedServiceLevel]);
    let po = &pos[0];
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.lx.audit(po);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(po).await, Stage::Acknowledged);
    w.lx.ship(po, None);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.dsco.calls(Endpoint::ShipmentBatch), 1, "sent once");
    for _ in 0..3 {
        w.advance(120);
        w.run(JobName::PullDscoOrders).await;
        w.run(JobName::ShipToDsco).await;
    }
    assert_eq!(
        w.dsco.calls(Endpoint::ShipmentBatch),
        1,
        "the rejected shipment was sent again"
    );
    assert_eq!(
        w.reason(po).await.as_deref(),
        Some("dsco_rejected"),
        "DSCO refused the shipment: a person must act"
    );
}

/// A sequence the property test found (shrunk): an order audited, then audited again as a split
/// after a create that applied and timed out, must still reach stage 5 once LingXing ships it.
pub fn a_recorded_interleaving_with_a_split_after_audit_converges() {
    use Action::*;
    use JobName::*;
    let actions = vec![
        Inject(Fault::LingxingCreateAppliedThenTimeout),
        Run(PullDscoOrders),
        Run(PushToLingxing),
        Advance(395),
        Audit(1, false),
        ShipAll(0),
        Audit(2, false),
        Audit(2, true),
        ShipOne(0),
        Audit(1, true),
        Run(PushToLingxing),
        Audit(1, false),
        ShipOne(1),
        Advance(310),
        Run(ShipToDsco),
        Run(AckToDsco),
        Run(ShipToDsco),
        Run(PullDscoOrders),
        Run(PushToLingxing),
        Audit(0, false),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(case(actions, 644));
}
