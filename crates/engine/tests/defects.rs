//! Defects found under faults and bursts (issue 13), each through the simulators on the
//! simulated clock: the pull's cursor under a burst, a decision on data a concurrent pull
//! replaced, the automatic LingXing cancel's intent, intents left open by orders that moved on,
//! and credentials in stored text.

use domain::{JobName, PoNumber, ReasonCode, ReasonKind, RunOutcome, Stage, Trigger};
use engine::{RunOptions, RunResult};
use serde_json::json;
use sim::dsco::{Endpoint, Fault as DFault, LineAmend};
use sim::lingxing::Fault as LFault;
use store::{IntentKind, IntentState};
use tokio::sync::watch;

use crate::Db;
use crate::orders::{BACKLOG, PART_CALLS, World, default_runtime_config, world};

const WMS: &str = "/erp/sc/routing/wms/order/wmsOrderList";

fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

async fn cursor(w: &World) -> chrono::DateTime<chrono::Utc> {
    let text = w
        .store
        .cursor("pull_dsco_orders.until")
        .await
        .unwrap()
        .expect("a pull cursor");
    chrono::DateTime::parse_from_rfc3339(&text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn set_pull_size(w: &World, size: u32) {
    let cfg = default_runtime_config(json!({"pull_dsco_orders": {"size": size}}));
    let v = w.store.runtime_config_version().await.unwrap();
    w.store
        .save_runtime_config(v, &cfg, "test", "test", w.clock.now())
        .await
        .unwrap();
}

/// Runs `job` without moving the clock (for a run alongside another one that is parked in a
/// slow far-side call): nothing in it may wait on the clock.
async fn run_in_place(w: &World, job: JobName) {
    let (_tx, rx) = watch::channel(false);
    match w
        .engine
        .run_job(job, Trigger::Cli, RunOptions::default(), rx)
        .await
        .unwrap()
    {
        RunResult::Ran { outcome, error, .. } => {
            assert_eq!(outcome, RunOutcome::Succeeded, "{job}: {error:?}")
        }
        other => panic!("{job}: {other:?}"),
    }
}

/// One order (of `seed`) pulled, pushed, audited and acknowledged (stage 3); its stored DSCO
/// copy still reads before the ACK (confirmed by DSCO's change log).
async fn acknowledged(w: &World, seed: u64) -> String {
    let p = w.dsco.generate_orders(1, seed)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.lx.audit(&p);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&p).await, Stage::Acknowledged);
    p
}

/// The order is cancelled, flagged `cancelled_after_push` and needs attention for it; its reason.
async fn flagged_cancelled(w: &World, p: &str) -> store::OrderReason {
    let o = w.store.get_order(&po(p)).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Cancelled);
    assert!(
        o.flags.iter().any(|f| f == "cancelled_after_push"),
        "flagged: {:?}",
        o.flags
    );
    let r = o.reason.expect("a reason");
    assert_eq!(
        (r.code, r.kind),
        (ReasonCode::CancelledAfterPush, ReasonKind::NeedsAttention),
        "{r:?}"
    );
    r
}

/// One order (of `seed`) added to DSCO and pulled: at stage 1.
async fn pulled(w: &World, seed: u64) -> String {
    let p = w.dsco.generate_orders(1, seed)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.stage(&p).await, Stage::Pulled);
    p
}

/// One order (of `seed`) pulled, whose create LingXing applied and never answered: it stays at
/// stage 1 with its create's outcome unknown, and LingXing has it.
async fn unanswered_create(w: &World, seed: u64) -> String {
    const CREATE: &str = "/pb/mp/order/v2/create";
    let p = pulled(w, seed).await;
    w.lx.inject_fault(CREATE, LFault::ApplyThenTimeout, Some(1));
    w.run(JobName::PushToLingxing).await;
    assert_eq!(
        w.stage(&p).await,
        Stage::Pulled,
        "the create's outcome is unknown"
    );
    p
}

/// Starts `job` in the background with a one-call latency fault on LingXing's `endpoint`, and
/// returns once that call is in flight, so the test can act while the run waits on it.
async fn slowed_on(
    w: &World,
    job: JobName,
    endpoint: &'static str,
) -> tokio::task::JoinHandle<Result<RunResult, store::StoreError>> {
    slowed_on_call(w, job, endpoint, 1).await
}

/// [`slowed_on`] the run's `nth` call to `endpoint` (the ones before it answer at once).
async fn slowed_on_call(
    w: &World,
    job: JobName,
    endpoint: &'static str,
    nth: u32,
) -> tokio::task::JoinHandle<Result<RunResult, store::StoreError>> {
    if nth > 1 {
        w.lx.inject_fault(endpoint, LFault::Latency { ms: 0 }, Some(nth - 1));
    }
    w.lx.inject_fault(endpoint, LFault::Latency { ms: 1500 }, Some(1));
    let before = w.lx.calls(endpoint) + u64::from(nth - 1);
    let engine = w.engine.clone();
    let run = tokio::spawn(async move {
        let (_tx, rx) = watch::channel(false);
        engine
            .run_job(job, Trigger::Cli, RunOptions::default(), rx)
            .await
    });
    for _ in 0..400 {
        if w.lx.calls(endpoint) > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(w.lx.calls(endpoint) > before, "{job} calls {endpoint}");
    run
}

/// `p` (acknowledged) shipped in LingXing three minutes before the ship job looks: the change
/// feed's overlap (two minutes) will not bring it up again after this run, only a mark would. The
/// ship run's outbound listing answers slowly; meanwhile a pull brings DSCO's `shipment_pending`.
/// Returns the run, still waiting.
async fn ready_during_a_slow_ship_run(
    w: &World,
    p: &str,
) -> tokio::task::JoinHandle<Result<RunResult, store::StoreError>> {
    w.acknowledged_again_unpulled(p).await;
    w.lx.ship(p, None);
    w.advance(180);
    let ship = slowed_on(w, JobName::ShipToDsco, WMS).await;
    run_in_place(w, JobName::PullDscoOrders).await;
    let fresh = w.store.get_order(&po(p)).await.unwrap().unwrap();
    assert_eq!(
        fresh.pulled.dsco_status.as_deref(),
        Some("shipment_pending")
    );
    ship
}

/// Waits for a run [`slowed_on`] started; it must have succeeded.
async fn succeeded(run: tokio::task::JoinHandle<Result<RunResult, store::StoreError>>) {
    match run.await.unwrap().unwrap() {
        RunResult::Ran { outcome, error, .. } => {
            assert_eq!(outcome, RunOutcome::Succeeded, "{error:?}")
        }
        other => panic!("{other:?}"),
    }
}

/// No order waits a week: every waiting order is due within a day.
async fn none_parked_for_a_week(w: &World, pos: &[String]) {
    let horizon = w.clock.now() + chrono::TimeDelta::days(1);
    for p in pos {
        let o = w.store.get_order(&po(p)).await.unwrap().unwrap();
        if o.reason
            .as_ref()
            .is_some_and(|r| r.kind == ReasonKind::Waiting)
        {
            assert!(
                o.next_attempt_at.is_none_or(|t| t <= horizon),
                "{p} parked until {:?} ({:?})",
                o.next_attempt_at,
                o.reason
            );
        }
    }
}

pub async fn a_pull_burst_larger_than_size_drains_and_the_cursor_never_moves_back(db: &Db) {
    let w = world(db, json!({})).await;
    // Twenty-five orders over four minutes, all stored by a first pull of size 500.
    let mut pos = Vec::new();
    for k in 0..25u64 {
        pos.extend(w.dsco.generate_orders(1, 1300 + k));
        w.advance(10);
    }
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.store.count_by_stage().await.unwrap()[&Stage::Pulled], 25);
    let mut last = cursor(&w).await;

    // Now ten a run: the overlap of the next window holds all twenty-five, unchanged. Reading
    // them again must neither cost the run nor move the cursor back.
    set_pull_size(&w, 10).await;
    w.advance(60);
    let c = w.run(JobName::PullDscoOrders).await;
    assert_eq!(
        c.processed, 0,
        "orders read again unchanged are not stored again"
    );
    let now = cursor(&w).await;
    assert!(now >= last, "the cursor moved back from {last} to {now}");
    last = now;

    // A burst: every order changes within two minutes, more than `size` of them.
    for (k, p) in pos.iter().enumerate() {
        let amend = LineAmend {
            upc: Some(format!("UPC-BURST-{k:02}")),
            ..LineAmend::default()
        };
        assert!(w.dsco.amend_line(p, 1, &amend), "{p} has a line 1");
        w.advance(5);
    }
    w.advance(30);
    let runs = 25usize.div_ceil(10);
    for run in 1..=runs {
        let c = w.run(JobName::PullDscoOrders).await;
        assert!(c.processed <= 10, "run {run} took {} orders", c.processed);
        let now = cursor(&w).await;
        assert!(
            now >= last,
            "run {run}: the cursor moved back from {last} to {now}"
        );
        last = now;
        w.advance(60);
    }
    let stored = w
        .store
        .payloads_of(&pos.iter().map(|p| po(p)).collect::<Vec<_>>())
        .await
        .unwrap();
    for (k, p) in pos.iter().enumerate() {
        assert!(
            stored[&po(p)].get().contains(&format!("UPC-BURST-{k:02}")),
            "{p}'s change was pulled within {runs} runs"
        );
    }
    none_parked_for_a_week(&w, &pos).await;
}

/// A pull that brings DSCO's `shipment_pending` while the ship job waits on a slow outbound
/// listing: the ship job reads the order again after the listing and ships it in that run.
pub async fn an_order_a_pull_made_ready_during_a_slow_ship_run_ships_in_that_run(db: &Db) {
    let w = world(db, json!({})).await;
    let p = acknowledged(&w, 1401).await;
    let ship = ready_during_a_slow_ship_run(&w, &p).await;
    succeeded(ship).await;
    // The run read the orders DSCO did not let ship again after its slow outbound read: it
    // decided on the pulled copy and sent the shipment in this run, not a whole run later. (A
    // decision on older data never clearing a later mark is the store's own case,
    // `a_decision_on_older_data_never_clears_a_later_mark`, on both backends.)
    w.shipments_sent_then_confirmed(
        std::slice::from_ref(&p),
        "the slow run decided on the copy the pull brought meanwhile",
    )
    .await;
    none_parked_for_a_week(&w, std::slice::from_ref(&p)).await;
}

/// The same slow ship run, but the pull that runs meanwhile brings DSCO's cancellation: the order
/// leaves stage 3 for 6 while the ship job waits on its outbound listing. The run's skip for it,
/// decided at stage 3, lands nowhere (the store holds a skip to its stage), so nothing is shipped
/// and the cancellation's stage and reason stand.
pub async fn an_order_cancelled_during_a_slow_ship_run_is_left_to_its_cancellation(db: &Db) {
    let w = world(db, json!({})).await;
    let p = acknowledged(&w, 1451).await;
    w.lx.ship(&p, None);
    w.advance(180);

    let ship = slowed_on(&w, JobName::ShipToDsco, WMS).await;
    assert!(w.dsco.cancel_order(&p), "{p} is in DSCO");
    // Past DSCO's `until` lag, so the pull reads the cancellation.
    w.advance(30);
    run_in_place(&w, JobName::PullDscoOrders).await;
    assert_eq!(w.stage(&p).await, Stage::Cancelled, "the pull cancelled it");
    let cancelled = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    succeeded(ship).await;
    let after = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    assert_eq!(after.stage, Stage::Cancelled);
    assert_eq!(
        after.reason, cancelled.reason,
        "the slow ship run left the cancelled order's reason alone"
    );
    assert!(
        w.dsco.shipments_for(&p).is_empty(),
        "nothing shipped for a cancelled order: {:?}",
        w.dsco.shipments_for(&p)
    );
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.stage(&p).await, Stage::Cancelled);
    assert!(w.dsco.shipments_for(&p).is_empty());
}

/// The same slow ship run; meanwhile the pull brings DSCO's `shipment_pending` and an operator
/// forces the order to done (shipped and invoiced by hand). The re-read after the listing keeps
/// the copy the run started with for an order that changed stage: a decision on the fresh copy,
/// now ready in DSCO, would send a shipment for an order the operator closed.
pub async fn an_order_forced_on_during_a_slow_ship_run_gets_no_shipment(db: &Db) {
    let w = world(db, json!({})).await;
    let p = acknowledged(&w, 1461).await;
    let ship = ready_during_a_slow_ship_run(&w, &p).await;
    let who = crate::ops::who(&w, "shipped and invoiced by hand");
    engine::ops::force(&*w.store, &po(&p), Stage::Done, &who)
        .await
        .unwrap();
    succeeded(ship).await;
    assert_eq!(w.stage(&p).await, Stage::Done);
    let sent = w.store.intents_for(&po(&p)).await.unwrap();
    assert!(
        sent.iter().all(|i| i.kind != IntentKind::Shipment),
        "no shipment for an order forced to done: {sent:?}"
    );
    // DSCO applies a batch later: nothing arrives there either.
    w.advance(120);
    assert!(w.dsco.shipments_for(&p).is_empty());
}

/// DSCO cancels an order while the push job's create for it is in flight: the pull finds it at
/// stage 1 (nothing pushed yet, so nothing to cancel in LingXing) and cancels it; then the create
/// lands in LingXing. The push job, finding the order cancelled when it would move it on, flags it
/// `cancelled_after_push` and explains it (needs attention, naming the LingXing order); with
/// `auto_cancel_in_lingxing` it leaves a cancel for the next pull, which sends it.
pub async fn an_order_cancelled_while_its_create_is_in_flight_is_cancelled_in_lingxing(db: &Db) {
    const CREATE: &str = "/pb/mp/order/v2/create";
    let w = world(
        db,
        json!({"pull_dsco_orders": {"auto_cancel_in_lingxing": true}}),
    )
    .await;
    let p = pulled(&w, 1471).await;

    let push = slowed_on(&w, JobName::PushToLingxing, CREATE).await;
    assert!(w.dsco.cancel_order(&p), "{p} is in DSCO");
    w.advance(30);
    run_in_place(&w, JobName::PullDscoOrders).await;
    assert_eq!(w.stage(&p).await, Stage::Cancelled, "the pull cancelled it");
    succeeded(push).await;
    let lx = w.lx.orders_for(&p);
    assert_eq!(lx.len(), 1, "the create landed in LingXing");
    let r = flagged_cancelled(&w, &p).await;
    assert!(r.detail.contains(&lx[0].global_order_no), "{}", r.detail);
    assert_ne!(lx[0].status, 7, "not cancelled in LingXing yet");

    // The next pull sends the automatic cancel.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.lx.orders_for(&p)[0].status, 7, "cancelled in LingXing");
    let i = store::testing::intent(&*w.store, IntentKind::LingxingCancel, &p)
        .await
        .unwrap()
        .expect("a cancel intent");
    assert_eq!(i.state, IntentState::Confirmed, "{i:?}");
    assert_eq!(w.stage(&p).await, Stage::Cancelled);
}

/// DSCO cancels an order while the push job checks whether LingXing already has it: the pull
/// cancels it at stage 1, before the push stores its create intent. The push reads the stages
/// after storing its intents and does not send the create: LingXing never gets the order, and
/// the order is not flagged (nothing was created).
pub async fn an_order_cancelled_before_its_create_is_not_created(db: &Db) {
    const LIST: &str = "/pb/mp/order/v2/list";
    const CREATE: &str = "/pb/mp/order/v2/create";
    let w = world(db, json!({})).await;
    let p = pulled(&w, 1491).await;
    let creates = w.lx.calls(CREATE);
    let push = slowed_on(&w, JobName::PushToLingxing, LIST).await;
    assert!(w.dsco.cancel_order(&p), "{p} is in DSCO");
    w.advance(30);
    run_in_place(&w, JobName::PullDscoOrders).await;
    assert_eq!(w.stage(&p).await, Stage::Cancelled, "the pull cancelled it");
    succeeded(push).await;
    assert_eq!(w.lx.calls(CREATE), creates, "no create was sent");
    assert!(w.lx.orders_for(&p).is_empty());
    let o = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Cancelled);
    assert!(o.flags.is_empty(), "{:?}", o.flags);
    let i = store::testing::intent(&*w.store, IntentKind::Create, &p)
        .await
        .unwrap()
        .expect("the create's intent");
    assert_eq!(i.state, IntentState::Failed, "{i:?}");
}

/// A create LingXing applied but never answered (as when the process dies between the call and
/// its outcome), then DSCO cancels the order before a push run sorts the create out: the pull,
/// cancelling it from stage 1, finds the create's intent open and flags the order for a look in
/// LingXing instead of cancelling it quietly while LingXing fulfils it.
pub async fn an_order_cancelled_after_an_unanswered_create_is_flagged(db: &Db) {
    let w = world(db, json!({})).await;
    let p = unanswered_create(&w, 1481).await;
    assert_eq!(w.lx.orders_for(&p).len(), 1, "LingXing has the order");
    let i = store::testing::intent(&*w.store, IntentKind::Create, &p)
        .await
        .unwrap()
        .expect("the create's intent");
    assert_eq!(i.state, IntentState::Ambiguous, "{i:?}");

    assert!(w.dsco.cancel_order(&p), "{p} is in DSCO");
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let r = flagged_cancelled(&w, &p).await;
    assert!(
        r.detail.contains("look the PO up in LingXing"),
        "{}",
        r.detail
    );
}

/// The same unanswered create, but an operator forces the order to cancelled (console or CLI)
/// before any run sorts it out: the order is flagged as one cancelled after its push too.
pub async fn an_order_forced_to_cancelled_after_an_unanswered_create_is_flagged(db: &Db) {
    let w = world(db, json!({})).await;
    let p = unanswered_create(&w, 1483).await;
    let who = crate::ops::who(&w, "customer called to cancel");
    let from = engine::ops::force(&*w.store, &po(&p), Stage::Cancelled, &who)
        .await
        .unwrap();
    assert_eq!(from, Stage::Pulled);
    let o = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Cancelled);
    assert!(
        o.flags.iter().any(|f| f == "cancelled_after_push"),
        "flagged: {:?}",
        o.flags
    );
    // Without a create on its way, a forced cancellation flags nothing.
    let q = pulled(&w, 1485).await;
    engine::ops::force(&*w.store, &po(&q), Stage::Cancelled, &who)
        .await
        .unwrap();
    let o = w.store.get_order(&po(&q)).await.unwrap().unwrap();
    assert!(o.flags.is_empty(), "{:?}", o.flags);
}

pub async fn a_failed_automatic_cancel_in_lingxing_is_retried_through_its_intent(db: &Db) {
    const CANCEL: &str = "/pb/mp/order/v2/cancelOrder";
    let w = world(
        db,
        json!({"pull_dsco_orders": {"auto_cancel_in_lingxing": true}}),
    )
    .await;
    let p = w.dsco.generate_orders(1, 1501)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    assert_eq!(w.lx.orders_for(&p)[0].status, 4);
    // The cancel fails once (a gateway error after sending: its outcome is unknown).
    w.lx.inject_fault(CANCEL, LFault::HttpStatus { status: 503 }, Some(1));
    w.dsco.cancel_order(&p);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.stage(&p).await, Stage::Cancelled);
    assert_eq!(w.lx.orders_for(&p)[0].status, 4, "not cancelled yet");
    let i = store::testing::intent(&*w.store, IntentKind::LingxingCancel, &p)
        .await
        .unwrap()
        .expect("the cancel was recorded before it was sent");
    assert!(
        matches!(i.state, IntentState::Ambiguous | IntentState::Pending),
        "{i:?}"
    );
    let o = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    let detail = o.reason.unwrap().detail;
    assert!(detail.contains("tried again"), "{detail}");

    // The next pull checks LingXing, finds the order still open, and cancels it.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.lx.orders_for(&p)[0].status, 7, "cancelled in LingXing");
    assert_eq!(w.lx.calls(CANCEL), 2);
    let i = store::testing::intent(&*w.store, IntentKind::LingxingCancel, &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.state, IntentState::Confirmed, "{i:?}");
    let o = w.store.get_order(&po(&p)).await.unwrap().unwrap();
    let detail = o.reason.unwrap().detail;
    assert!(
        detail.contains("cancelled in LingXing automatically"),
        "{detail}"
    );
    // Done: nothing more is sent.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.lx.calls(CANCEL), 2);
}

pub async fn no_write_stays_open_on_an_order_that_moved_on(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(2, 1601);
    let (a, b) = (pos[0].clone(), pos[1].clone());
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.lx.audit(&a);
    w.lx.audit(&b);
    w.advance(60);
    // DSCO's ACK endpoint fails: the ACK intents stay pending, to be sent again.
    w.dsco.inject_fault(
        Endpoint::Acknowledge,
        DFault::HttpStatus { status: 503 }.times(5),
    );
    w.run(JobName::AckToDsco).await;
    for p in [&a, &b] {
        let i = store::testing::intent(&*w.store, IntentKind::Ack, p)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(i.state, IntentState::Pending, "{p}: {i:?}");
    }
    w.dsco.clear_faults();
    // Meanwhile DSCO cancels a, and the supplier acknowledges b in DSCO's portal.
    w.dsco.cancel_order(&a);
    w.acknowledge_elsewhere(&b).await;
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.advance(15 * 60);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&a).await, Stage::Cancelled);
    assert_eq!(w.stage(&b).await, Stage::Acknowledged);
    assert!(
        w.dsco.acks_for(&b).len() <= 1,
        "b is not acknowledged twice"
    );
    for p in [&a, &b] {
        for i in w.store.intents_for(&po(p)).await.unwrap() {
            if i.kind != IntentKind::Ack {
                continue;
            }
            assert!(
                !matches!(i.state, IntentState::Pending | IntentState::Ambiguous),
                "{p}: {i:?} stays open on an order that moved on"
            );
            assert!(i.outcome.contains("superseded"), "{p}: {i:?}");
        }
    }
}

/// Every text the store keeps about `p` and the runs: reasons, timeline, intents, run errors.
async fn stored_text(w: &World, p: &str) -> String {
    let mut out = String::new();
    let o = w.store.get_order(&po(p)).await.unwrap().unwrap();
    if let Some(r) = o.reason {
        out.push_str(&r.detail);
        out.push('\n');
    }
    for e in w.store.order_events(&po(p)).await.unwrap() {
        out.push_str(&e.event.detail);
        out.push('\n');
    }
    for i in w.store.intents_for(&po(p)).await.unwrap() {
        out.push_str(&i.outcome);
        out.push('\n');
    }
    for r in w.store.list_runs(None, 100).await.unwrap() {
        out.push_str(r.error.as_deref().unwrap_or(""));
        out.push('\n');
    }
    out
}

pub async fn a_timeout_leaves_no_credential_in_stored_text(db: &Db) {
    let w = world(db, json!({})).await;
    let p = w.dsco.generate_orders(1, 1701)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    // LingXing's order list never answers: the existence check times out.
    w.lx.inject_fault("/pb/mp/order/v2/list", LFault::Hang, Some(10));
    w.run(JobName::PushToLingxing).await;
    w.lx.clear_faults();
    let (stage, code) = (w.stage(&p).await, w.reason(&p).await);
    assert_eq!(stage, Stage::Pulled);
    assert_eq!(code.as_deref(), Some("lingxing_unavailable"));
    let cache = engine::token_cache::StoreTokenCache::new(
        w.store.clone(),
        w.clock.clone(),
        sim::lingxing::DEFAULT_APP_SECRET,
    );
    let token = lingxing::TokenCache::get(&cache, sim::lingxing::DEFAULT_APP_ID)
        .await
        .expect("a LingXing token was issued")
        .access_token
        .expose()
        .to_owned();
    let text = stored_text(&w, &p).await;
    assert!(text.contains("timed out"), "the timeout is told: {text}");
    for secret in [
        "access_token",
        "sign=",
        sim::lingxing::DEFAULT_APP_SECRET,
        token.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret:?} stored: {text}");
    }

    // DSCO's ACK never answers: an unclear write, with nothing of the bearer token in its text.
    w.advance(15 * 60);
    w.run(JobName::PushToLingxing).await;
    assert_eq!(w.stage(&p).await, Stage::Pushed);
    w.lx.audit(&p);
    w.dsco
        .inject_fault(Endpoint::Acknowledge, DFault::Hang.times(1));
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    let i = store::testing::intent(&*w.store, IntentKind::Ack, &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.state, IntentState::Ambiguous, "{i:?}");
    let text = stored_text(&w, &p).await;
    for secret in [
        "Bearer",
        "access_token",
        "client_secret",
        sim::dsco::DEFAULT_CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret:?} stored: {text}");
    }
}

/// An automatic cancel LingXing applied but did not answer is verified by reading the order
/// back on the next pull: found cancelled, it is confirmed without a second cancel call.
pub async fn an_unclear_automatic_cancel_is_verified_not_sent_again(db: &Db) {
    const CANCEL: &str = "/pb/mp/order/v2/cancelOrder";
    let w = world(
        db,
        json!({"pull_dsco_orders": {"auto_cancel_in_lingxing": true}}),
    )
    .await;
    let p = w.dsco.generate_orders(1, 1502)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.lx.inject_fault(CANCEL, LFault::ApplyThenTimeout, Some(1));
    w.dsco.cancel_order(&p);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert_eq!(w.lx.orders_for(&p)[0].status, 7, "LingXing applied it");
    let i = store::testing::intent(&*w.store, IntentKind::LingxingCancel, &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.state, IntentState::Ambiguous, "{i:?}");

    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let i = store::testing::intent(&*w.store, IntentKind::LingxingCancel, &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.state, IntentState::Confirmed, "{i:?}");
    assert_eq!(i.outcome, "found cancelled in LingXing");
    assert_eq!(w.lx.calls(CANCEL), 1, "verified, not sent again");
}

/// A ship run reading a backlog takes in the orders that reach stage 3 while it reads: an order
/// whose ACK DSCO confirms while the run's second part is read is read with the next part and
/// ships in that run, not a whole run later.
pub async fn an_order_acknowledged_while_a_ship_backlog_is_read_ships_in_that_run(db: &Db) {
    let (w, mut pos) = crate::orders::backlog(db, 67).await;
    let y = pos.pop().expect("orders");
    crate::orders::ready_to_ship(&w, &pos).await;
    crate::orders::ack_sent(&w, &y).await;
    w.advance(120);
    let wms = w.lx.calls(WMS);
    // The second part's read is slow; meanwhile the ACK job settles `y`'s ACK.
    let ship = slowed_on_call(&w, JobName::ShipToDsco, WMS, PART_CALLS + 1).await;
    run_in_place(&w, JobName::AckToDsco).await;
    assert_eq!(w.stage(&y).await, Stage::Acknowledged);
    succeeded(ship).await;
    // `y` was also to be read ahead (stage 2, shipped in LingXing, when the run began): taken in
    // and read at stage 3, it is not read again.
    assert_eq!(
        w.lx.calls(WMS),
        wms + (BACKLOG - 1).div_ceil(200) as u64 + 1,
        "the backlog's reads and one for `y`"
    );
    w.shipments_sent_then_confirmed(&[y], "taken in and sent by the run it reached stage 3 in")
        .await;
    w.every_package_sent_once(&pos).await;
}

/// A ship run reading a backlog settles what its earlier parts sent once a later part's writes
/// are out: the orders DSCO confirmed meanwhile are at stage 4 when the run ends (the invoice job
/// can take them), not a run later. The next run settles the rest; every package once.
pub async fn a_ship_backlog_run_settles_its_earlier_parts(db: &Db) {
    use sim::dsco::Endpoint;
    let (w, pos) = crate::orders::backlog(db, 71).await;
    let part = engine::jobs::SHIP_PART;
    crate::orders::ready_to_ship(&w, &pos).await;
    let batches = w.dsco.calls(Endpoint::ShipmentBatch);
    let ship = slowed_on_call(&w, JobName::ShipToDsco, WMS, PART_CALLS + 1).await;
    // While the second part is read, the first part's shipments go out and DSCO applies them.
    for _ in 0..400 {
        if w.dsco.calls(Endpoint::ShipmentBatch) > batches {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        w.dsco.calls(Endpoint::ShipmentBatch) > batches,
        "the first part was sent"
    );
    w.advance(120);
    succeeded(ship).await;
    let mut confirmed = 0;
    for p in &pos {
        confirmed += usize::from(w.stage(p).await == Stage::Shipped);
    }
    assert!(
        confirmed >= part,
        "{confirmed} confirmed in the run; the first part had {part}"
    );
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    w.every_package_sent_once(&pos).await;
}

/// The LingXing feed's cursor and sweep mark as stored: jobs a few seconds apart read from just
/// before the cursor and leave the mark; once it lags a minute more than the two-minute overlap,
/// the next read sweeps and moves it to two minutes before that read.
pub async fn the_lingxing_feed_sweeps_its_overlap_once_a_minute(db: &Db) {
    let w = world(db, json!({})).await;
    let stored = |name: &'static str| {
        let store = w.store.clone();
        async move {
            let text = store.cursor(name).await.unwrap().expect(name);
            text.parse::<i64>().unwrap()
        }
    };
    let overlap = 120;
    let t0 = w.clock.now().timestamp();
    w.run(JobName::AckToDsco).await;
    assert_eq!(stored("lingxing_changes").await, t0);
    assert_eq!(stored("lingxing_changes.swept").await, t0 - overlap);

    // Five seconds on, from the ship job (the cursor is shared): no sweep, the mark stays.
    w.advance(5);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(stored("lingxing_changes").await, t0 + 5);
    assert_eq!(stored("lingxing_changes.swept").await, t0 - overlap);

    // Sixty-five seconds after the first read the mark lags more than a minute: a sweep.
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    assert_eq!(stored("lingxing_changes").await, t0 + 65);
    assert_eq!(stored("lingxing_changes.swept").await, t0 + 65 - overlap);
}

/// A ship run with more outbound reads than one part decides the stage-3 orders DSCO did not let
/// ship and that needed no read last, on their DSCO state read again then: a pull that makes such
/// an order ready while the second part is read ships it in that run (decided with the first
/// part, it would wait for the next run).
pub async fn an_order_made_ready_while_the_parts_are_read_ships_in_that_run(db: &Db) {
    let (w, mut pos) = crate::orders::backlog(db, 53).await;
    let x = pos.pop().expect("orders");
    // The backlog waits for the ship job; `x` is pushed, not audited yet.
    crate::orders::ready_to_ship(&w, &pos).await;
    assert_eq!(w.stage(&x).await, Stage::Pushed);
    // `x`: acknowledged, its stored DSCO copy from before the ACK, shipped in LingXing, its
    // outbound orders read by a run of its own (DSCO not ready).
    w.lx.audit(&x);
    w.advance(60);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&x).await, Stage::Acknowledged);
    w.acknowledged_again_unpulled(&x).await;
    w.lx.ship(&x, None);
    w.advance(60);
    let (_tx, rx) = watch::channel(false);
    let only_x = RunOptions {
        only_po: Some(po(&x)),
        ..RunOptions::default()
    };
    w.engine
        .run_job(JobName::ShipToDsco, Trigger::Cli, only_x, rx)
        .await
        .unwrap();
    assert_eq!(w.reason(&x).await.as_deref(), Some("dsco_not_ready"));
    // Something marks it (no read needed: LingXing did not move since).
    w.store.mark_dirty(&[po(&x)], None).await.unwrap();

    // The backlog's run: the first part's five reads answer, the sixth (the second part) is
    // slow; meanwhile a pull reads DSCO's `shipment_pending` for `x`.
    let ship = slowed_on_call(&w, JobName::ShipToDsco, WMS, PART_CALLS + 1).await;
    run_in_place(&w, JobName::PullDscoOrders).await;
    let fresh = w.store.get_order(&po(&x)).await.unwrap().unwrap();
    assert_eq!(
        fresh.pulled.dsco_status.as_deref(),
        Some("shipment_pending")
    );
    succeeded(ship).await;
    w.shipments_sent_then_confirmed(&[x], "sent in the run the pull made it ready in")
        .await;
}
