//! The operator actions (`engine::ops`) end to end: real HTTP to both simulators, the real
//! store, the simulated clock. Each action is checked on the far sides (exactly one write) and
//! in the audit log.

use std::time::Duration;

use domain::{JobName, PoNumber, ReasonCode, ReasonKind, Stage, Trigger};
use engine::RunResult;
use engine::ops::{self, OpsError, Who};
use serde_json::json;
use sim::dsco::{Gap, UNKNOWN_RETAILER_ID};
use store::OrderFilter;

use crate::Db;
use crate::orders::{World, world};
use crate::reasons::{at_stage, expect};

/// An operator (`ops`) acting now, with `reason`.
pub fn who<'a>(w: &World, reason: &'a str) -> Who<'a> {
    Who {
        actor: "ops",
        reason,
        now: w.clock.now(),
    }
}

fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

/// `f` on the engine while the simulated clock is moved past the sleepers a run parks (as
/// `World::run` does).
async fn driving<T: Send + 'static>(
    w: &World,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let task = tokio::spawn(f);
    let sim = w.clock.sim().unwrap();
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if sim.sleepers() >= 3
            && let Some(d) = sim.next_deadline()
        {
            sim.advance_to(d);
        }
    }
    task.await.unwrap()
}

pub async fn fixing_a_mapping_from_its_cause_retries_and_pushes_each_order_once(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders_with(2, 41, &[Gap::UnknownRetailer]);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    for p in &pos {
        expect(&w, p, Stage::Pulled, ReasonCode::ShopUnmapped).await;
    }
    let version = w.store.runtime_config_version().await.unwrap();

    // No reason, or a value `config check` refuses: nothing is written, the message names the key.
    let e = ops::set_mapping(
        &*w.store,
        "shop",
        UNKNOWN_RETAILER_ID,
        "110283406273996288",
        &who(&w, " "),
    )
    .await
    .unwrap_err();
    assert!(e.is_input() && e.to_string().contains("reason"), "{e}");
    let e = ops::set_mapping(
        &*w.store,
        "shop",
        UNKNOWN_RETAILER_ID,
        "  ",
        &who(&w, "fix"),
    )
    .await
    .unwrap_err();
    assert!(e.is_input(), "{e}");
    assert!(
        e.to_string().contains(UNKNOWN_RETAILER_ID) && e.to_string().contains("empty value"),
        "config check's message, naming the key: {e}"
    );
    let e = ops::set_mapping(&*w.store, "colour", "x", "y", &who(&w, "fix"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    assert_eq!(w.store.runtime_config_version().await.unwrap(), version);
    assert!(
        w.store
            .audit_log(10)
            .await
            .unwrap()
            .iter()
            .all(|a| a.entry.action != "mapping.set")
    );

    let set = ops::set_mapping(
        &*w.store,
        "shop",
        UNKNOWN_RETAILER_ID,
        "110283406273996288",
        &who(&w, "new retailer signed"),
    )
    .await
    .unwrap();
    assert_eq!(set.retried, 2);
    assert_eq!(set.version, version.map(|v| v + 1));
    assert!(set.path.contains(UNKNOWN_RETAILER_ID), "{}", set.path);
    let audit = w.store.audit_log(5).await.unwrap();
    let a = audit
        .iter()
        .find(|a| a.entry.action == "mapping.set")
        .unwrap();
    assert_eq!(a.entry.actor, "ops");
    assert_eq!(a.entry.reason, "new retailer signed");
    assert_eq!(a.entry.detail["retried"], 2);
    // Each order's timeline shows the operator's retry.
    let last = w
        .store
        .order_events(&po(&pos[0]))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event.outcome, store::EventOutcome::Operator);
    assert!(
        last.event.detail.contains("new retailer signed"),
        "{}",
        last.event.detail
    );

    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    for p in &pos {
        at_stage(&w, p, Stage::Pushed).await;
        assert_eq!(
            w.lx.orders_for(p).len(),
            1,
            "{p}: exactly one LingXing order"
        );
    }
    // Setting the same value again writes no version and retries nothing waiting any more.
    let again = ops::set_mapping(
        &*w.store,
        "shop",
        UNKNOWN_RETAILER_ID,
        "110283406273996288",
        &who(&w, "again"),
    )
    .await
    .unwrap();
    assert_eq!(again.version, None);
    assert_eq!(again.retried, 0);
}

pub async fn retry_now_runs_the_stage_job_for_that_order_only(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders(2, 42);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.run(JobName::AckToDsco).await;
    for p in &pos {
        expect(&w, p, Stage::Pushed, ReasonCode::LingxingNotAudited).await;
    }
    // Both are audited in LingXing; the back-off would wait before looking again.
    for p in &pos {
        w.lx.audit(p);
    }
    w.advance(60);
    // The reason is required: nothing done without it.
    let e = ops::retry_order(&*w.store, &po(&pos[0]), &who(&w, ""))
        .await
        .unwrap_err();
    assert!(e.is_input(), "{e}");

    let engine = w.engine.clone();
    let (p0, now) = (po(&pos[0]), w.clock.now());
    let retried = driving(&w, async move {
        let who = Who {
            actor: "ops",
            reason: "audited by hand in LingXing",
            now,
        };
        ops::retry_order_now(&engine, &p0, &who, true, Trigger::Manual).await
    })
    .await
    .unwrap();
    assert_eq!(retried.job, Some(JobName::AckToDsco));
    match retried.run {
        Some(RunResult::Ran { counts, .. }) => assert_eq!(counts.processed, 1, "only that PO"),
        other => panic!("{other:?}"),
    }
    // The ACK went to DSCO (an async request, confirmed later); the other order was not looked at.
    expect(
        &w,
        &pos[0],
        Stage::Pushed,
        ReasonCode::DscoConfirmationPending,
    )
    .await;
    expect(&w, &pos[1], Stage::Pushed, ReasonCode::LingxingNotAudited).await;
    let audit = w.store.audit_log(5).await.unwrap();
    assert_eq!(audit[0].entry.action, "order.retry");
    assert_eq!(audit[0].entry.target, pos[0]);
    // The ACK's confirmation comes with the next run; exactly one ACK.
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    at_stage(&w, &pos[0], Stage::Acknowledged).await;
    assert_eq!(w.dsco.acks_for(&pos[0]).len(), 1);

    // A final order cannot be retried.
    let (p1, now) = (po(&pos[1]), w.clock.now());
    ops::force(
        &*w.store,
        &p1,
        Stage::Cancelled,
        &Who {
            actor: "ops",
            reason: "retailer cancelled by phone",
            now,
        },
    )
    .await
    .unwrap();
    let e = ops::retry_order(&*w.store, &p1, &who(&w, "again"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("final"), "{e}");
}

pub async fn ignore_bulk_retry_and_the_force_guard(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders_with(3, 43, &[Gap::UnknownRetailer]);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    let attention = |n: i64| {
        let store = w.store.clone();
        async move {
            assert_eq!(
                store
                    .reason_kind_counts()
                    .await
                    .unwrap()
                    .get(&ReasonKind::NeedsAttention)
                    .copied()
                    .unwrap_or(0),
                n
            );
            let causes = store.attention_causes(10).await.unwrap();
            assert_eq!(causes.iter().map(|c| c.count).sum::<i64>(), n);
        }
    };
    attention(3).await;

    // Ignore: out of the counts, in the ignored filter, stage unchanged; un-ignore: back.
    assert!(
        ops::set_ignored(
            &*w.store,
            &po(&pos[0]),
            true,
            &who(&w, "test order, never ship")
        )
        .await
        .unwrap()
    );
    assert!(
        !ops::set_ignored(&*w.store, &po(&pos[0]), true, &who(&w, "twice"))
            .await
            .unwrap()
    );
    attention(2).await;
    let ignored = OrderFilter {
        ignored: Some(true),
        ..OrderFilter::default()
    };
    let rows = w.store.order_page(&ignored, false, None, 10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.po.to_string()).collect::<Vec<_>>(),
        vec![pos[0].clone()]
    );
    at_stage(&w, &pos[0], Stage::Pulled).await;
    // The jobs still decide it: ignoring only hides it.
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    attention(2).await;
    assert!(
        ops::set_ignored(&*w.store, &po(&pos[0]), false, &who(&w, "back"))
            .await
            .unwrap()
    );
    attention(3).await;

    // Retry all matching a cause row: the count first, then the action; one audit entry.
    let cause = OrderFilter {
        reason_kind: Some(ReasonKind::NeedsAttention),
        reason_code: Some("shop_unmapped".into()),
        subject: Some(UNKNOWN_RETAILER_ID.into()),
        ..OrderFilter::default()
    };
    let m = ops::matching(&*w.store, &cause).await.unwrap();
    assert_eq!(m.count(), 3);
    assert!(!m.over_limit);
    let n = ops::retry_matching(&*w.store, &cause, &who(&w, "retailer added"))
        .await
        .unwrap();
    assert_eq!(n, 3);
    let a = &w.store.audit_log(1).await.unwrap()[0].entry;
    assert_eq!(a.action, "order.retry_all");
    assert_eq!(a.detail["count"], 3);
    assert!(a.target.contains("shop_unmapped"), "{}", a.target);

    // Force: the plan says what the jobs will not do; backward is refused naming the rule.
    let plan = ops::force_plan(&*w.store, &po(&pos[1]), Stage::Acknowledged)
        .await
        .unwrap();
    assert!(
        plan.en.iter().any(|c| c.contains("ACK is not sent")),
        "{:?}",
        plan.en
    );
    assert_eq!(plan.zh.len(), plan.en.len());
    let from = ops::force(
        &*w.store,
        &po(&pos[1]),
        Stage::Acknowledged,
        &who(&w, "pushed and acked by hand"),
    )
    .await
    .unwrap();
    assert_eq!(from, Stage::Pulled);
    at_stage(&w, &pos[1], Stage::Acknowledged).await;
    let e = ops::force(&*w.store, &po(&pos[1]), Stage::Pushed, &who(&w, "undo"))
        .await
        .unwrap_err();
    assert!(matches!(e, OpsError::Refused(_)), "{e}");
    assert!(e.to_string().contains("force.forward_only"), "{e}");
    at_stage(&w, &pos[1], Stage::Acknowledged).await;
    assert!(
        w.lx.orders_for(&pos[1]).is_empty(),
        "forcing writes nothing to LingXing"
    );
    assert!(w.dsco.acks_for(&pos[1]).is_empty(), "nor to DSCO");
}

pub async fn an_unmapped_sku_lingxing_refused_is_fixed_by_a_manual_entry(db: &Db) {
    let w = world(db, json!({})).await;
    let mut o = crate::reasons::order(
        "PO-NEWSKU",
        "1000012345",
        "US-CA-01",
        "UPCG",
        &[("SKU-NOT-IN-LINGXING", 1)],
    );
    o.lines[0].expected_cost = Some("4.20".parse().unwrap());
    w.dsco.add_order(o).unwrap();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    expect(&w, "PO-NEWSKU", Stage::Pulled, ReasonCode::LingxingRejected).await;
    let cause = w.store.attention_causes(10).await.unwrap().remove(0);
    // LingXing's refusal names the DSCO SKU mapping.sku lacks: the fix is that entry.
    let fix = ops::fix_for_cause(&*w.store, &cause.code, &cause.subject)
        .await
        .unwrap();
    assert_eq!(
        fix,
        Some(("sku", "SKU-NOT-IN-LINGXING".to_owned())),
        "{}",
        cause.subject
    );
    let lx_sku = sim::defaults::PRODUCTS[0].lingxing_sku;
    let set = ops::set_mapping(
        &*w.store,
        "sku",
        "SKU-NOT-IN-LINGXING",
        lx_sku,
        &who(&w, "new listing, same product"),
    )
    .await
    .unwrap();
    assert_eq!(set.retried, 1);
    let manual = w
        .store
        .sku_map()
        .await
        .unwrap()
        .entries_of(store::SkuSource::Manual);
    assert_eq!(
        manual.get("SKU-NOT-IN-LINGXING").map(String::as_str),
        Some(lx_sku)
    );
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    at_stage(&w, "PO-NEWSKU", Stage::Pushed).await;
    assert_eq!(w.lx.orders_for("PO-NEWSKU").len(), 1);
    // Fixed: the cause row is gone, nothing to fix.
    assert!(w.store.attention_causes(10).await.unwrap().is_empty());
}
