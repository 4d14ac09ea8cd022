//! The cases of the store suite, each written once for both backends.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::lx_view::{LxView, LxViewPart};
use domain::order::RawJson;
use domain::{
    JobName, PoNumber, ReasonCode, ReasonKind, RunCounts, RunOutcome, RuntimeConfig, Stage, Trigger,
};
use serde_json::json;
use store::*;

use crate::Backend;

/// Seconds after the suite's epoch (1 March 2026).
pub(crate) fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(secs)
}

const TTL: Duration = Duration::from_secs(30);

pub(crate) fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

fn pulled(p: &str, status: &str) -> PulledOrder {
    PulledOrder {
        po: po(p),
        dsco_order_id: Some("1025400001".into()),
        retailer_id: Some("1000012345".into()),
        dsco_status: Some(status.into()),
        dsco_lifecycle: Some("received".into()),
        dsco_created_at: Some(t(0)),
        dsco_updated_at: Some(t(1)),
        warehouse_code: Some("US-CA-01".into()),
        service_level: Some("UPCG".into()),
        skus: "SKU-1001(1)".into(),
        payload: json!({"poNumber": p, "dscoStatus": status}).into(),
    }
}

async fn lease(s: &dyn Store, job: JobName, holder: &str, now: DateTime<Utc>) -> Lease {
    s.try_acquire_lease(job, holder, &format!("run-{holder}"), now, TTL)
        .await
        .unwrap()
        .expect("lease should be free")
}

fn advance(p: &str, from: Stage, to: Stage, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        po: po(p),
        at,
        job: Some(JobName::PushToLingxing),
        run_id: Some("run-a".into()),
        actor: None,
        from_stage: Some(from),
        to_stage: Some(to),
        outcome: EventOutcome::Advanced,
        reason_code: None,
        reason_kind: None,
        detail: "created in LingXing".into(),
    }
}

fn skip(p: &str, code: &str, detail: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        po: po(p),
        at,
        job: Some(JobName::AckToDsco),
        run_id: Some("run-x".into()),
        actor: None,
        from_stage: Some(Stage::Pushed),
        to_stage: None,
        outcome: EventOutcome::Skipped,
        reason_code: Some(ReasonCode::parse(code).expect("a catalogue code")),
        reason_kind: Some(ReasonKind::Waiting),
        detail: detail.into(),
    }
}

pub async fn lease_is_exclusive_until_released_or_expired(b: &Backend) {
    let s = &*b.store;
    let a = lease(s, JobName::PushToLingxing, "a", t(0)).await;
    assert_eq!(a.token, 1);
    // Held: nobody else gets it, not even the same holder.
    assert!(
        s.try_acquire_lease(JobName::PushToLingxing, "b", "run-b", t(5), TTL)
            .await
            .unwrap()
            .is_none()
    );
    // Another job's lease is independent.
    assert!(
        s.try_acquire_lease(JobName::AckToDsco, "b", "run-b", t(5), TTL)
            .await
            .unwrap()
            .is_some()
    );
    let info = s
        .lease_info(JobName::PushToLingxing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.holder.as_deref(), Some("a"));
    assert_eq!(info.run_id.as_deref(), Some("run-a"));
    // Heartbeat keeps it past the first expiry.
    assert!(s.renew_lease(&a, t(25), TTL).await.unwrap());
    assert!(
        s.try_acquire_lease(JobName::PushToLingxing, "b", "run-b", t(40), TTL)
            .await
            .unwrap()
            .is_none()
    );
    // Released: free again, with a new token.
    s.release_lease(&a).await.unwrap();
    let b2 = lease(s, JobName::PushToLingxing, "b", t(41)).await;
    assert_eq!(b2.token, 2);
    // Expired without release: taken over, and the old holder cannot renew.
    let c = lease(s, JobName::PushToLingxing, "c", t(41 + 31)).await;
    assert_eq!(c.token, 3);
    assert!(!s.renew_lease(&b2, t(80), TTL).await.unwrap());
}

pub async fn stale_fence_writes_nothing(b: &Backend) {
    let s = &*b.store;
    let old = lease(s, JobName::PullDscoOrders, "old", t(0)).await;
    store::testing::upsert_pulled(
        s,
        &pulled("PO-1", "created"),
        Stage::Pulled,
        Some("run-old"),
        t(1),
        &old.fence(),
    )
    .await
    .unwrap();
    // The lease expires and another runner takes it over.
    let new = lease(s, JobName::PullDscoOrders, "new", t(100)).await;
    assert!(new.token > old.token);

    let stale = old.fence();
    let err = store::testing::upsert_pulled(
        s,
        &pulled("PO-2", "created"),
        Stage::Pulled,
        None,
        t(101),
        &stale,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Fenced { token, .. } if token == old.token),
        "{err}"
    );
    assert!(s.get_order(&po("PO-2")).await.unwrap().is_none());

    let err = s.set_cursor("pull", "x", t(101), &stale).await.unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }));
    assert_eq!(s.cursor("pull").await.unwrap(), None);

    let run = NewRun {
        id: "late".into(),
        job: JobName::PullDscoOrders,
        trigger: Trigger::Cron,
        scheduled_for: None,
        started_at: t(101),
        holder: "old".into(),
        dry_run: false,
        only_po: None,
        config_version: None,
    };
    assert!(matches!(
        s.insert_run(&run, &stale).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(s.get_run("late").await.unwrap().is_none());

    // A stage move with a stale fence changes nothing either; with the live fence it works.
    let mut ev = advance("PO-1", Stage::Pulled, Stage::Pushed, t(102));
    ev.job = Some(JobName::PullDscoOrders);
    assert!(matches!(
        s.cas_stage(&ev, &stale).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(
        s.get_order(&po("PO-1")).await.unwrap().unwrap().stage,
        Stage::Pulled
    );
    assert!(s.cas_stage(&ev, &new.fence()).await.unwrap());
    assert_eq!(
        s.get_order(&po("PO-1")).await.unwrap().unwrap().stage,
        Stage::Pushed
    );
}

pub async fn runs_are_recorded_and_rejected_fires_once_per_blocking_run(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::ShipToDsco, "a", t(0)).await;
    let run = NewRun {
        id: "r1".into(),
        job: JobName::ShipToDsco,
        trigger: Trigger::Cron,
        scheduled_for: Some(t(0)),
        started_at: t(0),
        holder: "a".into(),
        dry_run: true,
        only_po: Some("PO-9".into()),
        config_version: Some(3),
    };
    s.insert_run(&run, &l.fence()).await.unwrap();
    let r = s.get_run("r1").await.unwrap().unwrap();
    assert_eq!(r.outcome, RunOutcome::Running);
    assert_eq!(r.lease_token, l.token);
    assert!(r.dry_run);
    assert_eq!(r.only_po.as_deref(), Some("PO-9"));

    assert!(
        s.record_rejected_fire(JobName::ShipToDsco, "r1", Trigger::Cron, t(1))
            .await
            .unwrap()
    );
    assert!(
        !s.record_rejected_fire(JobName::ShipToDsco, "r1", Trigger::Cron, t(2))
            .await
            .unwrap()
    );
    assert!(
        !s.record_rejected_fire(JobName::ShipToDsco, "r1", Trigger::Manual, t(3))
            .await
            .unwrap()
    );
    let rej = s.rejected_fires(Some(JobName::ShipToDsco)).await.unwrap();
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].count, 3);
    assert_eq!(rej[0].first_at, t(1));
    assert_eq!(rej[0].last_at, t(3));

    let counts = RunCounts {
        processed: 5,
        advanced: 2,
        skipped_waiting: 3,
        ..RunCounts::default()
    };
    s.finish_run("r1", RunOutcome::Succeeded, &counts, None, t(4))
        .await
        .unwrap();
    let r = s.get_run("r1").await.unwrap().unwrap();
    assert_eq!(r.outcome, RunOutcome::Succeeded);
    assert_eq!(r.counts, counts);
    assert_eq!(r.ended_at, Some(t(4)));
    assert_eq!(
        s.last_scheduled_fire(JobName::ShipToDsco).await.unwrap(),
        Some(t(0))
    );
    assert_eq!(
        s.last_scheduled_fire(JobName::AckToDsco).await.unwrap(),
        None
    );
    let runs = s.list_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(
        s.list_runs(Some(JobName::AckToDsco), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn orphan_runs_are_closed(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::SyncStock, "crashed", t(0)).await;
    let run = NewRun {
        id: "run-crashed".into(),
        job: JobName::SyncStock,
        trigger: Trigger::Cron,
        scheduled_for: None,
        started_at: t(0),
        holder: "crashed".into(),
        dry_run: false,
        only_po: None,
        config_version: None,
    };
    s.insert_run(&run, &l.fence()).await.unwrap();
    // While the lease lives, the run is not an orphan.
    assert_eq!(s.close_orphan_runs(t(10)).await.unwrap(), 0);
    assert_eq!(s.close_orphan_runs(t(31)).await.unwrap(), 1);
    let r = s.get_run("run-crashed").await.unwrap().unwrap();
    assert_eq!(r.outcome, RunOutcome::Failed);
    let error = r.error.unwrap();
    assert!(
        error.contains("the runner crashed died (no heartbeat since 2026-03-01 00:00:00 UTC)"),
        "{error}"
    );
    // Closed once: a second sweep finds nothing.
    assert_eq!(s.close_orphan_runs(t(40)).await.unwrap(), 0);
}

pub async fn runtime_config_is_versioned_with_compare_and_swap(b: &Backend) {
    let s = &*b.store;
    assert_eq!(s.runtime_config().await.unwrap(), None);
    let v = json!({"domain":"dsco_lingxing","jobs":{"push_to_lingxing":{"enable":true,"cron":"0 */15 * * * *","size":50,"dry_run":true}},
                   "mapping":{"shop":{"1000012345":"110283406273996288"},"warehouse":{},"shipment":{},"sku":{"A":"B"}}});
    let cfg = RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    let v1 = s
        .save_runtime_config(None, &cfg, "cli", "import", t(0))
        .await
        .unwrap();
    assert_eq!(v1, 1);
    let got = s.runtime_config().await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.config, cfg);
    assert_eq!(got.actor, "cli");
    // A stale writer is refused and the running config stays.
    let mut cfg2 = cfg.clone();
    cfg2.mapping.shop.insert(
        domain::RetailerId::parse("1000023456").unwrap(),
        domain::StoreId::parse("x").unwrap(),
    );
    let err = s
        .save_runtime_config(None, &cfg2, "console", "edit", t(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { actual: 1, .. }),
        "{err}"
    );
    assert_eq!(s.runtime_config_version().await.unwrap(), Some(1));
    assert_eq!(
        s.save_runtime_config(Some(1), &cfg2, "console", "edit", t(2))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.runtime_config().await.unwrap().unwrap().config, cfg2);
    let audit = s.audit_log(10).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].entry.action, "config.save");
    assert_eq!(audit[0].entry.actor, "console");
}

/// `config history`, `config diff` and `config rollback` read every saved version.
pub async fn every_runtime_config_version_stays_readable(b: &Backend) {
    let s = &*b.store;
    assert!(s.runtime_config_history(10).await.unwrap().is_empty());
    assert_eq!(s.runtime_config_at(1).await.unwrap(), None);
    let mut cfg = RuntimeConfig::default();
    for (i, who) in ["cli:a", "cli:b", "console"].into_iter().enumerate() {
        cfg.mapping.shop.insert(
            domain::RetailerId::parse(format!("R{i}")).unwrap(),
            domain::StoreId::parse(format!("S{i}")).unwrap(),
        );
        let expected = (i > 0).then_some(i as i64);
        s.save_runtime_config(expected, &cfg, who, &format!("step {i}"), t(i as i64))
            .await
            .unwrap();
    }
    let h = s.runtime_config_history(2).await.unwrap();
    assert_eq!(h.iter().map(|c| c.version).collect::<Vec<_>>(), [3, 2]);
    assert_eq!(h[0].actor, "console");
    assert_eq!(h[1].reason, "step 1");
    assert_eq!(h[1].created_at, t(1));
    assert_eq!(h[1].config.mapping.shop.len(), 2);
    let v1 = s.runtime_config_at(1).await.unwrap().unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.actor, "cli:a");
    assert_eq!(v1.config.mapping.shop.keys().collect::<Vec<_>>(), ["R0"]);
    assert_eq!(s.runtime_config_at(4).await.unwrap(), None);
    assert_eq!(s.runtime_config_history(10).await.unwrap().len(), 3);
}

/// The previews `config import|set` show equal what the writes then leave.
pub async fn sku_map_previews_match_the_writes(b: &Backend) {
    let s = &*b.store;
    let map = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let v1 = s
        .replace_sku_entries(
            0,
            SkuSource::Pair,
            &map(&[("A", "LA"), ("B", "LB")]),
            "p",
            "r",
            t(0),
            None,
        )
        .await
        .unwrap();
    let m = s.sku_map().await.unwrap();
    let manual = map(&[("B", "LB-M"), ("C", "LC")]);
    let preview = m.with_entries(SkuSource::Manual, &manual);
    let v2 = s
        .replace_sku_entries(v1, SkuSource::Manual, &manual, "cli", "r", t(1), None)
        .await
        .unwrap();
    let m = s.sku_map().await.unwrap();
    assert_eq!(preview.effective(), m.effective());
    assert_eq!(m.entries_of(SkuSource::Manual), manual);
    assert_eq!(
        m.entries_of(SkuSource::Pair),
        map(&[("A", "LA"), ("B", "LB")])
    );
    for (sku, lx) in [("B", None), ("D", Some("LD")), ("A", Some("LA-M"))] {
        let m = s.sku_map().await.unwrap();
        let preview = m.with_manual(sku, lx);
        s.set_manual_sku(m.version, sku, lx, "cli", "r", t(2))
            .await
            .unwrap();
        assert_eq!(
            preview.effective(),
            s.sku_map().await.unwrap().effective(),
            "{sku}"
        );
    }
    // B's manual entry is gone, so its pair shows again.
    assert_eq!(s.sku_map().await.unwrap().effective()["B"], "LB");
    assert!(v2 > v1);
}

pub async fn sku_map_replaces_one_source_and_manual_wins(b: &Backend) {
    let s = &*b.store;
    let m = s.sku_map().await.unwrap();
    assert_eq!(m.version, 0);
    let pairs: BTreeMap<_, _> = [("SKU-1", "LX-1"), ("SKU-2", "LX-2")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
    let v1 = s
        .replace_sku_entries(
            0,
            SkuSource::Pair,
            &pairs,
            "pull_sku_pair",
            "run",
            t(0),
            None,
        )
        .await
        .unwrap();
    let v2 = s
        .set_manual_sku(v1, "SKU-2", Some("LX-2-MANUAL"), "ops", "fix", t(1))
        .await
        .unwrap();
    let m = s.sku_map().await.unwrap();
    assert_eq!(m.version, v2);
    assert_eq!(m.entries.len(), 3);
    let eff = m.effective();
    assert_eq!(eff["SKU-1"], "LX-1");
    assert_eq!(eff["SKU-2"], "LX-2-MANUAL");
    // A pull that read version v1 lost the race with the manual edit: refused, nothing changed.
    let newer: BTreeMap<_, _> = [("SKU-3".to_string(), "LX-3".to_string())].into();
    let err = s
        .replace_sku_entries(
            v1,
            SkuSource::Pair,
            &newer,
            "pull_sku_pair",
            "run",
            t(2),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { actual, .. } if actual == v2));
    assert_eq!(s.sku_map().await.unwrap().entries.len(), 3);
    // Replacing pairs keeps manual entries.
    let v3 = s
        .replace_sku_entries(
            v2,
            SkuSource::Pair,
            &newer,
            "pull_sku_pair",
            "run",
            t(3),
            None,
        )
        .await
        .unwrap();
    let m = s.sku_map().await.unwrap();
    assert_eq!(m.version, v3);
    let eff = m.effective();
    assert_eq!(eff.len(), 2);
    assert_eq!(eff["SKU-3"], "LX-3");
    assert_eq!(eff["SKU-2"], "LX-2-MANUAL");
    // Removing the manual entry.
    s.set_manual_sku(v3, "SKU-2", None, "ops", "undo", t(4))
        .await
        .unwrap();
    assert!(!s.sku_map().await.unwrap().effective().contains_key("SKU-2"));
}

pub async fn pull_upsert_merges_and_never_moves_the_stage(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PullDscoOrders, "a", t(0)).await;
    let f = l.fence();
    assert_eq!(
        store::testing::upsert_pulled(
            s,
            &pulled("PO-1", "created"),
            Stage::Pulled,
            Some("run-a"),
            t(1),
            &f
        )
        .await
        .unwrap(),
        Upserted::Inserted(Stage::Pulled)
    );
    let mut ev = advance("PO-1", Stage::Pulled, Stage::Pushed, t(2));
    ev.job = Some(JobName::PullDscoOrders);
    assert!(s.cas_stage(&ev, &f).await.unwrap());
    // DSCO still says "created": the re-pull refreshes the payload but keeps stage 2.
    let mut again = pulled("PO-1", "created");
    again.payload =
        json!({"poNumber": "PO-1", "dscoStatus": "created", "note": "refreshed"}).into();
    assert_eq!(
        store::testing::upsert_pulled(s, &again, Stage::Pulled, Some("run-b"), t(3), &f)
            .await
            .unwrap(),
        Upserted::Refreshed(Stage::Pushed)
    );
    let o = s.get_order(&po("PO-1")).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Pushed);
    assert_eq!(o.pulled.payload.to_value()["note"], "refreshed");
    assert_eq!(o.stage_entered_at, t(2));
    assert_eq!(o.created_at, t(1));
    let events = s.order_events(&po("PO-1")).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event.outcome, EventOutcome::Pulled);
    assert_eq!(events[1].event.to_stage, Some(Stage::Pushed));
    // First sight of a shipped order goes straight to 5.
    assert_eq!(
        store::testing::upsert_pulled(s, &pulled("PO-2", "shipped"), Stage::Done, None, t(4), &f)
            .await
            .unwrap(),
        Upserted::Inserted(Stage::Done)
    );
    let counts = s.count_by_stage().await.unwrap();
    assert_eq!(counts.get(&Stage::Pushed), Some(&1));
    assert_eq!(counts.get(&Stage::Done), Some(&1));
}

pub async fn stage_moves_only_forward_by_compare_and_swap(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PushToLingxing, "a", t(0)).await;
    let f = l.fence();
    store::testing::upsert_pulled(s, &pulled("PO-1", "created"), Stage::Pulled, None, t(0), &f)
        .await
        .unwrap();
    assert!(
        s.cas_stage(&advance("PO-1", Stage::Pulled, Stage::Pushed, t(1)), &f)
            .await
            .unwrap()
    );
    // The same move again misses: the order is no longer at 1.
    assert!(
        !s.cas_stage(&advance("PO-1", Stage::Pulled, Stage::Pushed, t(2)), &f)
            .await
            .unwrap()
    );
    // Backwards is refused outright.
    let err = s
        .cas_stage(&advance("PO-1", Stage::Pushed, Stage::Pulled, t(3)), &f)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)));
    assert_eq!(
        s.get_order(&po("PO-1")).await.unwrap().unwrap().stage,
        Stage::Pushed
    );
    // Cancellation from below 5 is allowed.
    assert!(
        s.cas_stage(&advance("PO-1", Stage::Pushed, Stage::Cancelled, t(4)), &f)
            .await
            .unwrap()
    );
    let o = s.get_order(&po("PO-1")).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Cancelled);
    assert_eq!(o.stage_entered_at, t(4));
    // Candidates: none at 1 any more.
    assert!(
        s.order_candidates(Stage::Pulled, t(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn identical_skips_fold_into_one_event(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::AckToDsco, "a", t(0)).await;
    let f = l.fence();
    // At the ACK job's stage, where its skips are decided.
    store::testing::upsert_pulled(s, &pulled("PO-1", "created"), Stage::Pushed, None, t(0), &f)
        .await
        .unwrap();
    for i in 1..=5 {
        s.record_event(
            &skip(
                "PO-1",
                "lingxing_not_audited",
                "LingXing status 4",
                t(i * 60),
            ),
            Some(t(i * 60 + 900)),
            Some(&f),
        )
        .await
        .unwrap();
    }
    let events = s.order_events(&po("PO-1")).await.unwrap();
    assert_eq!(events.len(), 2, "pulled + one folded skip");
    assert_eq!(events[1].count, 5);
    assert_eq!(events[1].event.at, t(60));
    assert_eq!(events[1].last_at, t(300));
    let o = s.get_order(&po("PO-1")).await.unwrap().unwrap();
    assert_eq!(o.attempts, 5);
    assert_eq!(o.next_attempt_at, Some(t(1200)));
    let r = o.reason.unwrap();
    assert_eq!(
        (r.code.as_str(), r.kind),
        ("lingxing_not_audited", ReasonKind::Waiting)
    );
    // The skip cleared the mark: not yet due at t(1000); due at t(1200).
    assert!(
        s.order_candidates(Stage::Pushed, t(1000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.order_candidates(Stage::Pushed, t(1200), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A different detail is a new event.
    s.record_event(
        &skip(
            "PO-1",
            "lingxing_not_audited",
            "LingXing status 5 of 2 sub-orders",
            t(400),
        ),
        None,
        Some(&f),
    )
    .await
    .unwrap();
    assert_eq!(s.order_events(&po("PO-1")).await.unwrap().len(), 3);
}

pub async fn operator_force_is_audited_and_needs_a_reason(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PullDscoOrders, "a", t(0)).await;
    store::testing::upsert_pulled(
        s,
        &pulled("PO-1", "created"),
        Stage::Shipped,
        None,
        t(0),
        &l.fence(),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.force_stage(&po("PO-1"), Stage::Done, "ops", "  ", t(1))
            .await,
        Err(StoreError::NotAllowed(_))
    ));
    // The guard: no way back (the domain names the rule), and nothing is written.
    match s
        .force_stage(&po("PO-1"), Stage::Acknowledged, "ops", "resend", t(1))
        .await
    {
        Err(StoreError::NotAllowed(m)) => assert!(m.contains("force.forward_only"), "{m}"),
        other => panic!("a backward force must be refused: {other:?}"),
    }
    assert!(s.audit_log(5).await.unwrap().is_empty());
    let from = s
        .force_stage(&po("PO-1"), Stage::Done, "ops", "invoiced by hand", t(1))
        .await
        .unwrap();
    assert_eq!(from, Stage::Shipped);
    assert_eq!(
        s.get_order(&po("PO-1")).await.unwrap().unwrap().stage,
        Stage::Done
    );
    let audit = s.audit_log(5).await.unwrap();
    assert_eq!(audit[0].entry.action, "order.force_stage");
    assert_eq!(audit[0].entry.reason, "invoiced by hand");
    assert_eq!(audit[0].entry.detail["from"], 4);
    let last = s.order_events(&po("PO-1")).await.unwrap().pop().unwrap();
    assert_eq!(last.event.outcome, EventOutcome::Operator);
    assert_eq!(last.event.actor.as_deref(), Some("ops"));
}

pub async fn operator_retry_and_ignore_act_once_with_events_and_audit(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PullDscoOrders, "a", t(0)).await;
    for p in ["PO-1", "PO-2", "PO-3"] {
        store::testing::upsert_pulled(
            s,
            &pulled(p, "created"),
            Stage::Pushed,
            None,
            t(0),
            &l.fence(),
        )
        .await
        .unwrap();
        let mut e = skip(p, "lingxing_rejected", "bad data", t(10));
        e.reason_kind = Some(ReasonKind::NeedsAttention);
        s.record_event(&e, Some(t(5000)), Some(&l.fence()))
            .await
            .unwrap();
    }
    store::testing::upsert_pulled(
        s,
        &pulled("PO-9", "created"),
        Stage::Done,
        None,
        t(0),
        &l.fence(),
    )
    .await
    .unwrap();
    let causes = s.attention_causes(10).await.unwrap();
    assert_eq!(causes[0].count, 3);
    assert_eq!(
        s.reason_kind_counts().await.unwrap()[&ReasonKind::NeedsAttention],
        3
    );

    // Retry: due now, back-off reset; a final order is left alone.
    let audit = AuditEntry {
        at: t(20),
        actor: "ops".into(),
        action: "order.retry".into(),
        target: "2 orders".into(),
        reason: "mapping fixed".into(),
        detail: json!({"count": 2}),
    };
    let done = s
        .act_on_orders(
            OrderAct::Retry,
            &[po("PO-1"), po("PO-9")],
            "ops",
            "retry requested by ops: mapping fixed",
            t(20),
            Some(&audit),
        )
        .await
        .unwrap();
    assert_eq!(done, vec![po("PO-1")]);
    let o = s.get_order(&po("PO-1")).await.unwrap().unwrap();
    assert_eq!(o.next_attempt_at, Some(t(20)));
    assert_eq!(o.attempts, 0);
    let cands = s.order_candidates(Stage::Pushed, t(21), 10).await.unwrap();
    assert!(cands.iter().any(|c| c.pulled.po == po("PO-1")));
    let last = s.order_events(&po("PO-1")).await.unwrap().pop().unwrap();
    assert_eq!(last.event.outcome, EventOutcome::Operator);
    assert_eq!(last.event.actor.as_deref(), Some("ops"));
    assert_eq!(s.audit_log(5).await.unwrap()[0].entry, audit);

    // Ignore: out of the attention counts and causes, shown by the filter; twice is once.
    for _ in 0..2 {
        s.act_on_orders(
            OrderAct::Ignore,
            &[po("PO-2")],
            "ops",
            "ignored",
            t(30),
            None,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.order_events(&po("PO-2")).await.unwrap().len(),
        3,
        "pulled, skip, one ignore"
    );
    assert_eq!(s.attention_causes(10).await.unwrap()[0].count, 2);
    assert_eq!(
        s.reason_kind_counts().await.unwrap()[&ReasonKind::NeedsAttention],
        2
    );
    assert_eq!(s.ignored_count().await.unwrap(), 1);
    let only = OrderFilter {
        ignored: Some(true),
        ..OrderFilter::default()
    };
    let rows = s.order_page(&only, false, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].po, po("PO-2"));
    assert!(rows[0].ignored_at.is_some());
    assert_eq!(
        s.get_order(&po("PO-2")).await.unwrap().unwrap().stage,
        Stage::Pushed
    );
    let hide = OrderFilter {
        ignored: Some(false),
        ..OrderFilter::default()
    };
    assert_eq!(s.order_page(&hide, false, None, 10).await.unwrap().len(), 3);
    // Un-ignore brings it back.
    let back = s
        .act_on_orders(
            OrderAct::Unignore,
            &[po("PO-2")],
            "ops",
            "back",
            t(40),
            None,
        )
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(s.attention_causes(10).await.unwrap()[0].count, 3);
    assert_eq!(s.ignored_count().await.unwrap(), 0);
    // A move to another stage ends an ignore.
    s.act_on_orders(
        OrderAct::Ignore,
        &[po("PO-3")],
        "ops",
        "ignored",
        t(50),
        None,
    )
    .await
    .unwrap();
    let f = lease(s, JobName::AckToDsco, "b", t(50)).await.fence();
    assert!(
        s.cas_stage(
            &advance("PO-3", Stage::Pushed, Stage::Acknowledged, t(60)),
            &f
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.get_order(&po("PO-3")).await.unwrap().unwrap().ignored_at,
        None
    );
}

pub async fn cursors_and_token_cache(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PullDscoOrders, "a", t(0)).await;
    assert_eq!(s.cursor("pull_dsco_orders").await.unwrap(), None);
    s.set_cursor("pull_dsco_orders", "2026-03-01T00:00:00Z", t(1), &l.fence())
        .await
        .unwrap();
    s.set_cursor("pull_dsco_orders", "2026-03-01T00:15:00Z", t(2), &l.fence())
        .await
        .unwrap();
    assert_eq!(
        s.cursor("pull_dsco_orders").await.unwrap().as_deref(),
        Some("2026-03-01T00:15:00Z")
    );
    s.cache_put("lingxing:ak_SimulatorApp1", "{\"t\":1}", t(3))
        .await
        .unwrap();
    s.cache_put("lingxing:ak_SimulatorApp1", "{\"t\":2}", t(4))
        .await
        .unwrap();
    assert_eq!(
        s.cache_get("lingxing:ak_SimulatorApp1")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"t\":2}")
    );
    assert_eq!(s.cache_get("other").await.unwrap(), None);
}

pub async fn reopening_keeps_data(b: &Backend) {
    let l = lease(&*b.store, JobName::PullDscoOrders, "a", t(0)).await;
    store::testing::upsert_pulled(
        &*b.store,
        &pulled("PO-1", "created"),
        Stage::Pulled,
        None,
        t(0),
        &l.fence(),
    )
    .await
    .unwrap();
    // A second handle on the same database (another process, a restart) sees the same state and
    // runs the migrations again harmlessly.
    let again = store::connect(&b.url).await.unwrap();
    assert_eq!(
        again.get_order(&po("PO-1")).await.unwrap().unwrap().stage,
        Stage::Pulled
    );
    assert!(
        again
            .try_acquire_lease(JobName::PullDscoOrders, "b", "r", t(1), TTL)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn candidates_follow_dirty_marks_and_back_off(b: &Backend) {
    let s = &*b.store;
    // The candidates, checked against their PO numbers read alone (`candidate_pos`).
    let cands = |stage: Stage, at: DateTime<Utc>, limit: u32| async move {
        let all = s.order_candidates(stage, at, limit).await?;
        let pos = s.candidate_pos(stage, at, limit).await?;
        assert_eq!(
            pos,
            all.iter().map(|o| o.pulled.po.clone()).collect::<Vec<_>>()
        );
        Ok::<_, store::StoreError>(all)
    };
    let l = lease(s, JobName::AckToDsco, "a", t(0)).await;
    let f = l.fence();
    for p in ["PO-1", "PO-2", "PO-3"] {
        store::testing::upsert_pulled(s, &pulled(p, "created"), Stage::Pushed, None, t(0), &f)
            .await
            .unwrap();
    }
    // New orders are dirty: all three are candidates.
    assert_eq!(cands(Stage::Pushed, t(1), 10).await.unwrap().len(), 3);
    // Waiting skips push next_attempt_at far out and clear the mark: no longer candidates.
    for p in ["PO-1", "PO-2", "PO-3"] {
        s.record_event(
            &skip(p, "lingxing_not_audited", "status 4", t(2)),
            Some(t(86_400)),
            Some(&f),
        )
        .await
        .unwrap();
    }
    assert!(cands(Stage::Pushed, t(3), 10).await.unwrap().is_empty());
    // A change on the far side marks one dirty.
    assert_eq!(
        s.mark_dirty(&[po("PO-2"), po("PO-404")], Some(&f))
            .await
            .unwrap(),
        1
    );
    let c = cands(Stage::Pushed, t(4), 10).await.unwrap();
    assert_eq!(
        c.iter().map(|o| o.pulled.po.as_str()).collect::<Vec<_>>(),
        vec!["PO-2"]
    );
    store::testing::clear_dirty(&b.url, &[po("PO-2")])
        .await
        .unwrap();
    assert!(cands(Stage::Pushed, t(5), 10).await.unwrap().is_empty());
    // A DSCO payload change on re-pull marks it dirty; an identical re-pull does not, and
    // leaves the order exactly as it was (its DSCO fields are read from the payload).
    let before = s.get_order(&po("PO-3")).await.unwrap().unwrap();
    store::testing::upsert_pulled(s, &pulled("PO-3", "created"), Stage::Pulled, None, t(6), &f)
        .await
        .unwrap();
    assert!(cands(Stage::Pushed, t(6), 10).await.unwrap().is_empty());
    assert_eq!(s.get_order(&po("PO-3")).await.unwrap().unwrap(), before);
    store::testing::upsert_pulled(
        s,
        &pulled("PO-3", "shipment_pending"),
        Stage::Pulled,
        None,
        t(7),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(cands(Stage::Pushed, t(7), 10).await.unwrap().len(), 1);
    // Time brings the rest back.
    assert_eq!(cands(Stage::Pushed, t(86_400), 10).await.unwrap().len(), 3);
    let asked = [po("PO-1"), po("PO-3"), po("PO-9")];
    let found = s.orders_by_po(&asked).await.unwrap();
    assert_eq!(found.len(), 2);
    // Their stages alone: the same orders, the unknown one absent.
    let stages = s.stages_of(&asked).await.unwrap();
    let expected: BTreeMap<PoNumber, Stage> = found
        .iter()
        .map(|o| (o.pulled.po.clone(), o.stage))
        .collect();
    assert_eq!(stages, expected);
    // Their DSCO update times alone, in milliseconds.
    let updated = s.dsco_updated_of(&asked).await.unwrap();
    let expected: BTreeMap<PoNumber, Option<i64>> = found
        .iter()
        .map(|o| {
            let at = o.pulled.dsco_updated_at.map(|t| t.timestamp_millis());
            (o.pulled.po.clone(), at)
        })
        .collect();
    assert_eq!(updated, expected);
    assert_eq!(updated[&po("PO-1")], Some(t(1).timestamp_millis()));
    // And their payloads alone.
    let payloads = s.payloads_of(&asked).await.unwrap();
    let expected: BTreeMap<PoNumber, RawJson> = found
        .iter()
        .map(|o| (o.pulled.po.clone(), o.pulled.payload.clone()))
        .collect();
    assert_eq!(payloads, expected);
}

pub async fn a_decision_on_older_data_never_clears_a_later_mark(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::ShipToDsco, "a", t(0)).await;
    let f = l.fence();
    for p in ["PO-1", "PO-2"] {
        store::testing::upsert_pulled(s, &pulled(p, "created"), Stage::Pushed, None, t(0), &f)
            .await
            .unwrap();
    }
    // A job reads both; while it decides, a pull changes PO-2.
    let read = s.order_candidates(Stage::Pushed, t(1), 10).await.unwrap();
    assert_eq!(read.len(), 2);
    store::testing::upsert_pulled(
        s,
        &pulled("PO-2", "shipment_pending"),
        Stage::Pulled,
        None,
        t(2),
        &f,
    )
    .await
    .unwrap();
    // Its waiting decisions clear both marks, then the orders marked since are marked again.
    for p in ["PO-1", "PO-2"] {
        s.record_event(
            &skip(p, "dsco_not_ready", "created", t(3)),
            Some(t(7 * 86_400)),
            Some(&f),
        )
        .await
        .unwrap();
    }
    let seen: Vec<(PoNumber, i64)> = read
        .iter()
        .map(|o| (o.pulled.po.clone(), o.marks))
        .chain([(po("PO-404"), 0)])
        .collect();
    assert_eq!(s.remark_changed(&seen, &f).await.unwrap(), vec![po("PO-2")]);
    let c = s.order_candidates(Stage::Pushed, t(4), 10).await.unwrap();
    assert_eq!(
        c.iter().map(|o| o.pulled.po.as_str()).collect::<Vec<_>>(),
        vec!["PO-2"],
        "only the order changed meanwhile is decided again"
    );
    // Every kind of mark counts: a far-side mark, a stage move.
    let before = s.get_order(&po("PO-1")).await.unwrap().unwrap().marks;
    s.mark_dirty(&[po("PO-1")], Some(&f)).await.unwrap();
    assert_eq!(
        s.get_order(&po("PO-1")).await.unwrap().unwrap().marks,
        before + 1
    );
}

pub async fn lingxing_view_marks_changes_and_tracking_dedupes(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::ShipToDsco, "a", t(0)).await;
    let f = l.fence();
    store::testing::upsert_pulled(
        s,
        &pulled("PO-1", "created"),
        Stage::Acknowledged,
        None,
        t(0),
        &f,
    )
    .await
    .unwrap();
    let mut wait = skip("PO-1", "no_tracking_yet", "none", t(0));
    wait.job = Some(JobName::ShipToDsco);
    wait.from_stage = Some(Stage::Acknowledged);
    s.record_event(&wait, Some(t(86_400)), Some(&f))
        .await
        .unwrap();
    assert!(
        s.order_candidates(Stage::Acknowledged, t(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let snap = json!({"orders": [{"no": "LX1", "status": 5}]});
    assert!(
        store::testing::set_lingxing_view(
            s,
            &po("PO-1"),
            Some("S-1"),
            &["LX1".into()],
            &snap,
            t(1),
            &f
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.order_candidates(Stage::Acknowledged, t(1), 10)
            .await
            .unwrap()
            .len(),
        1,
        "a changed view marks it"
    );
    store::testing::clear_dirty(&b.url, &[po("PO-1")])
        .await
        .unwrap();
    assert!(
        !store::testing::set_lingxing_view(s, &po("PO-1"), None, &["LX1".into()], &snap, t(2), &f)
            .await
            .unwrap(),
        "same view: unchanged"
    );
    assert!(
        s.order_candidates(Stage::Acknowledged, t(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (v, at) = s
        .lingxing_views(&[po("PO-1")])
        .await
        .unwrap()
        .remove(&po("PO-1"))
        .unwrap();
    assert_eq!(v, LxView::from_value(&snap));
    assert_eq!(at, Some(t(2)));
    s.add_trackings(&[(po("PO-1"), vec!["T1".into(), "T2".into()])], &f)
        .await
        .unwrap();
    s.add_trackings(&[(po("PO-1"), vec!["T2".into(), "T3".into()])], &f)
        .await
        .unwrap();
    s.set_invoice_ids(&[(po("PO-1"), "PO-1".into())], &f)
        .await
        .unwrap();
    s.add_flag(&po("PO-1"), "cancelled_after_push", Some(&f))
        .await
        .unwrap();
    s.add_flag(&po("PO-1"), "cancelled_after_push", None)
        .await
        .unwrap();
    let o = s.get_order(&po("PO-1")).await.unwrap().unwrap();
    assert_eq!(o.tracking, vec!["T1", "T2", "T3"]);
    assert_eq!(o.invoice_id.as_deref(), Some("PO-1"));
    assert_eq!(o.store_id.as_deref(), Some("S-1"));
    assert_eq!(o.lingxing_order_nos, vec!["LX1"]);
    assert_eq!(o.flags, vec!["cancelled_after_push"]);
}

/// Two jobs write the views of the same orders: a write of one part lands on the view as it is
/// stored at that moment, so the feed's orders do not drop the outbound orders the ship job
/// stored after the feed read its views, and the outbound orders do not undo the feed.
pub async fn lingxing_view_parts_land_on_what_is_stored(b: &Backend) {
    let s = &*b.store;
    let f = lease(s, JobName::ShipToDsco, "a", t(0)).await.fence();
    s.upsert_pulled_many(
        &[(pulled("PO-P", "created"), Stage::Acknowledged)],
        None,
        t(0),
        &f,
    )
    .await
    .unwrap();
    let write = |snap: serde_json::Value, part: LxViewPart, nos: &[&str]| LingxingView {
        po: po("PO-P"),
        store_id: None,
        order_nos: nos.iter().map(|n| n.to_string()).collect(),
        snapshot: LxView::from_value(&snap),
        part,
    };
    macro_rules! stored {
        ($s:expr) => {{
            let v = $s.lingxing_views(&[po("PO-P")]).await.unwrap();
            let o = $s.orders_by_po(&[po("PO-P")]).await.unwrap();
            (v[&po("PO-P")].0.clone(), o[0].lingxing_order_nos.clone())
        }};
    }
    let placed = write(
        json!({"orders": [{"no": "LX1", "status": 0}]}),
        LxViewPart::Whole,
        &["LX1"],
    );
    assert_eq!(
        s.set_lingxing_views(&[placed], t(1), &f).await.unwrap(),
        vec![true]
    );
    // The ship job stores the outbound orders ...
    let outbound = json!({"outbounds": [{"carrier": "UPS", "delivered_at": null, "items": [],
        "order_number": "LX1", "status": 3, "stock_delivered_at": null, "tracking": "1Z1", "wo": "WO1"}],
        "outbounds_at": 1700000200});
    let out = write(outbound.clone(), LxViewPart::Outbounds, &[]);
    assert_eq!(
        s.set_lingxing_views(std::slice::from_ref(&out), t(2), &f)
            .await
            .unwrap(),
        vec![true]
    );
    let (v, nos) = stored!(s);
    assert_eq!(v.order_nos(), vec!["LX1"], "the orders stay");
    assert_eq!(nos, vec!["LX1"], "the order numbers stay");
    assert_eq!(
        v.outbounds_of("PO-P")[0].tracking_no.as_deref(),
        Some("1Z1")
    );
    // ... then a feed read from before lands: its orders merge in, the outbound orders stay.
    let listed = json!({"orders": [{"no": "LX1", "status": 6}, {"no": "LX2", "status": 5}]});
    let feed = write(listed, LxViewPart::MergeOrders, &["ignored"]);
    assert_eq!(
        s.set_lingxing_views(std::slice::from_ref(&feed), t(3), &f)
            .await
            .unwrap(),
        vec![true]
    );
    let (v, nos) = stored!(s);
    assert_eq!(
        nos,
        vec!["LX1", "LX2"],
        "the order numbers follow the merged orders"
    );
    assert_eq!(v.entries()[0].status, domain::order::LxOrderStatus::Shipped);
    assert_eq!(v.outbounds_of("PO-P").len(), 1, "the outbound orders stay");
    assert_eq!(
        s.set_lingxing_views(&[feed, out], t(4), &f).await.unwrap(),
        vec![false, false],
        "the same parts again are no change"
    );
    // A lookup replaces the orders (a placeholder must not survive), the outbound orders stay.
    let lookup = write(
        json!({"orders": [{"no": "LX2", "status": 5}]}),
        LxViewPart::ReplaceOrders,
        &[],
    );
    assert_eq!(
        s.set_lingxing_views(&[lookup], t(5), &f).await.unwrap(),
        vec![true]
    );
    let (v, nos) = stored!(s);
    assert_eq!(nos, vec!["LX2"]);
    assert_eq!(v.outbounds_of("PO-P").len(), 1);
}

/// A LingXing view row as the service stored it before the view was typed (`json!` text)
/// reads back as what it said, and storing that view again is no change (the same text).
pub async fn lingxing_views_stored_before_typing_decode(b: &Backend) {
    let s = &*b.store;
    let f = lease(s, JobName::ShipToDsco, "a", t(0)).await.fence();
    s.upsert_pulled_many(
        &[(pulled("PO-OLD", "created"), Stage::Acknowledged)],
        None,
        t(0),
        &f,
    )
    .await
    .unwrap();
    let old = r#"{"orders":[{"moved":true,"no":"LX1","status":6,"updated":1772323200}],"outbounds":[{"carrier":"UPS","delivered_at":"2026-03-01T00:00:00+00:00","items":[{"bundle_type":0,"count":1,"msku":"M-1","sku":"SKU-1001"}],"order_number":"LX1","status":3,"stock_delivered_at":null,"tracking":"1ZOLD","wo":"WO-1"}],"outbounds_at":1772323260}"#;
    let sql = "UPDATE orders SET lx_snapshot = $1, lx_checked_at = $2 WHERE po = $3";
    let at = t(60).timestamp_millis();
    // The row as the old code left it, written past the store.
    macro_rules! write_old {
        ($pool:ty) => {{
            let pool = <$pool>::connect(&b.url).await.unwrap();
            let q = sqlx::query(sql).bind(old).bind(at).bind("PO-OLD");
            q.execute(&pool).await.unwrap();
        }};
    }
    if b.url.starts_with("sqlite") {
        write_old!(sqlx::SqlitePool);
    } else {
        write_old!(sqlx::PgPool);
    }
    let (view, checked) = s
        .lingxing_views(&[po("PO-OLD")])
        .await
        .unwrap()
        .remove(&po("PO-OLD"))
        .unwrap();
    assert_eq!(checked, Some(t(60)));
    assert_eq!(view.order_nos(), vec!["LX1"]);
    assert!(view.audited());
    let ob = view.outbounds_of("PO-OLD");
    assert_eq!(ob.len(), 1);
    assert_eq!(ob[0].tracking_no.as_deref(), Some("1ZOLD"));
    assert_eq!(ob[0].items[0].msku.as_deref(), Some("M-1"));
    assert_eq!(ob[0].delivered_at, Some(t(0)));
    assert_eq!(view.outbounds_at, Some(t(60)));
    assert_eq!(view.to_json(), old);
    let again = LingxingView {
        po: po("PO-OLD"),
        store_id: None,
        order_nos: view.order_nos(),
        snapshot: view,
        part: LxViewPart::Whole,
    };
    assert_eq!(
        s.set_lingxing_views(&[again], t(61), &f).await.unwrap(),
        vec![false],
        "the same view in the old text is no change"
    );
}

pub async fn intents_are_recorded_once_and_requests_tracked(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::ShipToDsco, "a", t(0)).await;
    let f = l.fence();
    store::testing::upsert_pulled(
        s,
        &pulled("PO-1", "created"),
        Stage::Acknowledged,
        None,
        t(0),
        &f,
    )
    .await
    .unwrap();
    let i = store::testing::put_intent(
        s,
        IntentKind::Shipment,
        "T1",
        &po("PO-1"),
        &json!({"trackingNumber": "T1"}),
        "run-1",
        t(1),
        &f,
    )
    .await
    .unwrap();
    assert_eq!((i.state, i.attempts), (IntentState::Pending, 0));
    store::testing::update_intent(
        s,
        IntentKind::Shipment,
        "T1",
        IntentState::Ambiguous,
        "timeout",
        t(2),
        &f,
    )
    .await
    .unwrap();
    // A second attempt sees the first's state instead of a fresh intent.
    let again = store::testing::put_intent(
        s,
        IntentKind::Shipment,
        "T1",
        &po("PO-1"),
        &json!({"other": true}),
        "run-2",
        t(3),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(
        (again.state, again.attempts, again.run_id.as_deref()),
        (IntentState::Ambiguous, 1, Some("run-1"))
    );
    assert_eq!(again.payload["trackingNumber"], "T1");
    store::testing::update_intent(
        s,
        IntentKind::Shipment,
        "T1",
        IntentState::Confirmed,
        "ok",
        t(4),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(
        store::testing::intent(s, IntentKind::Shipment, "T1")
            .await
            .unwrap()
            .unwrap()
            .state,
        IntentState::Confirmed
    );
    assert_eq!(s.intents_for(&po("PO-1")).await.unwrap().len(), 1);
    assert!(
        store::testing::intent(s, IntentKind::Invoice, "T1")
            .await
            .unwrap()
            .is_none()
    );

    let req = DscoRequest {
        request_id: "req-1".into(),
        kind: IntentKind::Shipment,
        keys: vec!["T1".into(), "T2".into()],
        state: DscoRequestState::Pending,
        result: String::new(),
        run_id: Some("run-1".into()),
        submitted_at: t(5),
        checked_at: None,
    };
    s.insert_dsco_request(&req, &f).await.unwrap();
    let pending = s.pending_dsco_requests(IntentKind::Shipment).await.unwrap();
    assert_eq!(pending, vec![req]);
    assert!(
        s.pending_dsco_requests(IntentKind::Ack)
            .await
            .unwrap()
            .is_empty()
    );
    s.finish_dsco_request("req-1", DscoRequestState::Done, "2 success", t(6), &f)
        .await
        .unwrap();
    assert!(
        s.pending_dsco_requests(IntentKind::Shipment)
            .await
            .unwrap()
            .is_empty()
    );
}

fn stock_item(
    run: &str,
    sku: &str,
    wh: &[(&str, i64)],
    outcome: StockOutcome,
    at: DateTime<Utc>,
) -> StockItem {
    let warehouses: WarehouseQty = wh.iter().map(|(c, q)| (c.to_string(), *q)).collect();
    StockItem {
        run_id: run.into(),
        dsco_sku: sku.into(),
        lingxing_sku: format!("LX-{sku}"),
        read: warehouses.clone(),
        qty: warehouses.values().sum(),
        warehouses,
        previous_qty: None,
        sent: outcome == StockOutcome::Pending,
        request_id: (outcome == StockOutcome::Pending).then(|| format!("req-{run}")),
        outcome,
        message: String::new(),
        at,
        updated_at: at,
    }
}

fn stock_run(id: &str, state: StockRunState, at: DateTime<Utc>) -> StockRun {
    StockRun {
        run_id: id.into(),
        at,
        state,
        full_push: false,
        skus_read: 2,
        skus_changed: 2,
        skus_sent: 2,
        above_zero: 0,
        drops_to_zero: 0,
        note: String::new(),
        released_by: None,
        released_at: None,
        release_reason: None,
    }
}

/// The console reads stock items a page at a time by (time, run, SKU): pages in a row give every
/// item once, in order, also across runs recorded at the same instant; a run filter and `since`
/// narrow.
pub async fn stock_items_page_by_keyset(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::SyncStock, "a", t(0)).await;
    for (run, skus, at) in [
        ("r1", &["C", "A", "B"][..], t(1)),
        ("r2", &["B", "A"][..], t(1)),
        ("r3", &["A"][..], t(2)),
    ] {
        let items: Vec<_> = skus
            .iter()
            .map(|k| stock_item(run, k, &[("US-CA-01", 1)], StockOutcome::NotSent, at))
            .collect();
        s.record_stock_run(&stock_run(run, StockRunState::Sent, at), &items, &l.fence())
            .await
            .unwrap();
    }
    let key = |i: &StockItem| format!("{}/{}", i.run_id, i.dsco_sku);
    let mut paged = Vec::new();
    let mut after: Option<StockItemCursor> = None;
    loop {
        let page = s
            .stock_item_page(None, t(0), after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        paged.extend(page.iter().map(key));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.cursor()),
            _ => break,
        }
    }
    assert_eq!(paged, ["r1/A", "r1/B", "r1/C", "r2/A", "r2/B", "r3/A"]);
    let all: Vec<_> = s.stock_items_since(t(0), 100).await.unwrap();
    assert_eq!(all.iter().map(key).collect::<Vec<_>>(), paged);
    let r2 = s.stock_item_page(Some("r2"), t(0), None, 10).await.unwrap();
    assert_eq!(r2.iter().map(key).collect::<Vec<_>>(), ["r2/A", "r2/B"]);
    let late = s.stock_item_page(None, t(2), None, 10).await.unwrap();
    assert_eq!(late.iter().map(key).collect::<Vec<_>>(), ["r3/A"]);
    assert_eq!(late[0], all[5], "every column read back");
}

pub async fn stock_runs_settle_into_confirmed_state_and_release_once(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::SyncStock, "a", t(0)).await;
    let items = [
        stock_item(
            "r1",
            "A",
            &[("US-CA-01", 3), ("US-NJ-01", 2)],
            StockOutcome::Pending,
            t(1),
        ),
        stock_item("r1", "B", &[("US-CA-01", 7)], StockOutcome::Pending, t(1)),
    ];
    s.record_stock_run(
        &stock_run("r1", StockRunState::Sent, t(1)),
        &items,
        &l.fence(),
    )
    .await
    .unwrap();
    let st = s.stock_state().await.unwrap();
    assert_eq!(st["A"].confirmed, None);
    assert_eq!(st["A"].sent.as_ref().unwrap()["US-CA-01"], 3);
    assert_eq!(s.pending_stock_requests().await.unwrap(), ["req-r1"]);
    let settles = [
        StockSettle {
            dsco_sku: "A".into(),
            outcome: StockOutcome::Success,
            message: String::new(),
        },
        StockSettle {
            dsco_sku: "B".into(),
            outcome: StockOutcome::Failed,
            message: "bad".into(),
        },
    ];
    s.settle_stock_items("req-r1", &settles, t(2), &l.fence())
        .await
        .unwrap();
    let st = s.stock_state().await.unwrap();
    assert_eq!(st["A"].confirmed_qty(), Some(5));
    assert_eq!(st["A"].sent, None, "settled");
    assert_eq!(st["B"].confirmed, None, "a failure confirms nothing");
    assert!(s.pending_stock_requests().await.unwrap().is_empty());
    let all = s.stock_items_since(t(0), 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].message, "bad");
    assert!(s.stock_items_since(t(5), 10).await.unwrap().is_empty());

    // Held runs: released together, the release used once.
    s.record_stock_run(&stock_run("r2", StockRunState::Held, t(3)), &[], &l.fence())
        .await
        .unwrap();
    assert_eq!(s.stock_runs(true, 10).await.unwrap()[0].run_id, "r2");
    assert_eq!(s.take_stock_release(&l.fence()).await.unwrap(), None);
    assert!(s.release_stock_runs("ops", "", t(4)).await.is_err());
    assert_eq!(
        s.release_stock_runs("ops", "checked", t(4)).await.unwrap(),
        ["r2"]
    );
    let r2 = s
        .stock_runs(false, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.run_id == "r2")
        .unwrap();
    assert_eq!(
        (r2.state, r2.released_by.as_deref()),
        (StockRunState::Released, Some("ops"))
    );
    assert_eq!(
        s.take_stock_release(&l.fence()).await.unwrap().as_deref(),
        Some("r2")
    );
    assert_eq!(s.take_stock_release(&l.fence()).await.unwrap(), None);
    assert!(
        s.audit_log(5)
            .await
            .unwrap()
            .iter()
            .any(|a| a.entry.action == "stock.release")
    );
}

pub async fn sku_conflicts_and_run_details_are_kept(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PullSkuPair, "a", t(0)).await;
    let c = SkuConflict {
        run_id: "p1".into(),
        at: t(1),
        kind: SkuConflictKind::AcrossStores,
        store_id: "1,2".into(),
        msku: "SKU-1".into(),
        sku: "LX-1,LX-2".into(),
        detail: "different".into(),
    };
    s.record_sku_conflicts(std::slice::from_ref(&c), &l.fence())
        .await
        .unwrap();
    assert_eq!(s.sku_conflicts("p1").await.unwrap(), [c]);
    assert!(s.sku_conflicts("p2").await.unwrap().is_empty());
    s.set_run_detail(
        "p1",
        JobName::PullSkuPair,
        &json!({"outcome": "conflicts"}),
        t(1),
        &l.fence(),
    )
    .await
    .unwrap();
    s.set_run_detail(
        "p1",
        JobName::PullSkuPair,
        &json!({"outcome": "again"}),
        t(2),
        &l.fence(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.run_detail("p1").await.unwrap(),
        Some(json!({"outcome": "again"}))
    );
    assert_eq!(s.run_detail("nope").await.unwrap(), None);
    // A stale fence writes nothing.
    let stale = Fence {
        job: JobName::PullSkuPair,
        token: l.token + 100,
    };
    assert!(matches!(
        s.set_run_detail("p9", JobName::PullSkuPair, &json!({}), t(3), &stale)
            .await,
        Err(StoreError::Fenced { .. })
    ));
}

/// The batch forms apply every item in one fenced transaction, with the same rules as the
/// single ones, and a stale fence writes none of them.
pub async fn batched_writes_apply_every_item_or_none(b: &Backend) {
    let s = &*b.store;
    let l = lease(s, JobName::PushToLingxing, "a", t(0)).await;
    let f = l.fence();
    let pos = ["PO-B1", "PO-B2", "PO-B3"];
    let batch: Vec<(PulledOrder, Stage)> = pos
        .iter()
        .map(|p| (pulled(p, "created"), Stage::Pulled))
        .collect();
    let first = s
        .upsert_pulled_many(&batch, Some("run-a"), t(1), &f)
        .await
        .unwrap();
    assert_eq!(first, vec![Upserted::Inserted(Stage::Pulled); pos.len()]);
    let again = s
        .upsert_pulled_many(&batch, Some("run-a"), t(2), &f)
        .await
        .unwrap();
    assert_eq!(again, vec![Upserted::Refreshed(Stage::Pulled); pos.len()]);

    let intents: Vec<NewIntent> = pos
        .iter()
        .map(|p| NewIntent {
            key: p.to_string(),
            po: po(p),
            payload: json!({"po": p}),
        })
        .collect();
    s.put_intents(IntentKind::Create, &intents, "run-a", t(3), &f, false)
        .await
        .unwrap();
    let updates = vec![
        IntentUpdate {
            key: "PO-B1".into(),
            state: IntentState::Confirmed,
            outcome: "LX-1".into(),
        },
        IntentUpdate {
            key: "PO-B2".into(),
            state: IntentState::Ambiguous,
            outcome: "timeout".into(),
        },
    ];
    s.update_intents(IntentKind::Create, &updates, t(4), &f)
        .await
        .unwrap();
    let b2 = store::testing::intent(s, IntentKind::Create, "PO-B2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b2.state, b2.attempts), (IntentState::Ambiguous, 1));
    // `restart` sets a known key back to pending; a new one is inserted pending.
    s.put_intents(IntentKind::Create, &intents[1..2], "run-b", t(5), &f, true)
        .await
        .unwrap();
    let b2 = store::testing::intent(s, IntentKind::Create, "PO-B2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b2.state, b2.outcome.as_str()), (IntentState::Pending, ""));
    let b1 = store::testing::intent(s, IntentKind::Create, "PO-B1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b1.state, IntentState::Confirmed, "untouched");

    let views: Vec<LingxingView> = pos[..2]
        .iter()
        .map(|p| LingxingView {
            po: po(p),
            store_id: Some("S1".into()),
            order_nos: vec![format!("LX-{p}")],
            snapshot: LxView::from_value(
                &json!({"orders": [{"no": format!("LX-{p}"), "status": 4}]}),
            ),
            part: LxViewPart::Whole,
        })
        .collect();
    let changed = s.set_lingxing_views(&views, t(6), &f).await.unwrap();
    assert_eq!(changed, vec![true, true]);
    let changed = s.set_lingxing_views(&views, t(7), &f).await.unwrap();
    assert_eq!(changed, vec![false, false], "the same view is no change");

    // Moves: one order already moved by someone else is reported, the others move.
    let moves = vec![
        advance("PO-B1", Stage::Pulled, Stage::Pushed, t(8)),
        advance("PO-B2", Stage::Pulled, Stage::Pushed, t(8)),
        advance("PO-B1", Stage::Pulled, Stage::Pushed, t(8)),
    ];
    let moved = s.cas_stages(&moves, &f).await.unwrap();
    assert_eq!(moved, vec![true, true, false]);
    let skips = vec![
        (
            skip("PO-B1", "lingxing_not_audited", "-", t(9)),
            Some(t(99)),
        ),
        (
            skip("PO-B1", "lingxing_not_audited", "-", t(10)),
            Some(t(99)),
        ),
        (
            skip("PO-B2", "lingxing_not_audited", "-", t(10)),
            Some(t(99)),
        ),
    ];
    s.record_events(&skips, &f).await.unwrap();
    let events = s.order_events(&po("PO-B1")).await.unwrap();
    assert_eq!(
        events.last().unwrap().count,
        2,
        "identical skips fold, in one batch too"
    );
    let o = s.get_order(&po("PO-B2")).await.unwrap().unwrap();
    assert_eq!(o.stage, Stage::Pushed);
    assert_eq!(o.reason.unwrap().code, ReasonCode::LingxingNotAudited);

    // A request's submitted intents, found by its id.
    let submitted = vec![
        IntentUpdate {
            key: "PO-B1".into(),
            state: IntentState::Submitted,
            outcome: "req-9".into(),
        },
        IntentUpdate {
            key: "PO-B3".into(),
            state: IntentState::Submitted,
            outcome: "req-9".into(),
        },
    ];
    s.update_intents(IntentKind::Create, &submitted, t(12), &f)
        .await
        .unwrap();
    let keys: Vec<String> = s
        .request_intents(IntentKind::Create, "req-9")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(keys, vec!["PO-B1", "PO-B3"]);
    assert!(
        s.request_intents(IntentKind::Ack, "req-9")
            .await
            .unwrap()
            .is_empty()
    );

    // A stale fence (the lease expired and another runner took it): nothing is written.
    let _new = lease(s, JobName::PushToLingxing, "b", t(1000)).await;
    let stale = s
        .cas_stages(&[advance("PO-B3", Stage::Pulled, Stage::Pushed, t(11))], &f)
        .await;
    assert!(matches!(stale, Err(StoreError::Fenced { .. })), "{stale:?}");
    let b3 = s.get_order(&po("PO-B3")).await.unwrap().unwrap();
    assert_eq!(b3.stage, Stage::Pulled);
}
