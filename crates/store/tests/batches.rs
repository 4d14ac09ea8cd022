//! Each batch write against its one-item form: the same input applied as one batch to one
//! store and item by item to a twin store must leave both in the same state and give the same
//! answers. The inputs carry the awkward cases (a PO twice in a batch, an unknown PO, skips
//! mixed with other events, more than one chunk of 500 items).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::lx_view::{LxView, LxViewPart};
use domain::{JobName, PoNumber, ReasonCode, ReasonKind, Stage};
use serde_json::json;
use store::*;

use crate::Backend;
use crate::cases::{po, t};

/// More than one chunk (500) of items.
const MANY: usize = 620;

fn many_pos(prefix: &str) -> Vec<String> {
    (0..MANY).map(|i| format!("{prefix}-{i:04}")).collect()
}

fn pulled(p: &str, status: &str, note: i64) -> PulledOrder {
    PulledOrder {
        po: po(p),
        dsco_order_id: Some(format!("ID-{p}")),
        retailer_id: Some("1000012345".into()),
        dsco_status: Some(status.into()),
        dsco_lifecycle: Some("received".into()),
        dsco_created_at: Some(t(0)),
        dsco_updated_at: Some(t(note)),
        warehouse_code: Some("US-CA-01".into()),
        service_level: Some("UPCG".into()),
        skus: format!("SKU-1001({note})"),
        payload: json!({"poNumber": p, "dscoStatus": status, "note": note}).into(),
    }
}

/// A pull that knows less: every optional field `None` (a refresh must keep the stored ones).
fn sparse(p: &str, note: i64) -> PulledOrder {
    PulledOrder {
        po: po(p),
        dsco_order_id: None,
        retailer_id: None,
        dsco_status: None,
        dsco_lifecycle: None,
        dsco_created_at: None,
        dsco_updated_at: None,
        warehouse_code: None,
        service_level: Some("FEDX".into()),
        skus: String::new(),
        payload: json!({"poNumber": p, "note": note}).into(),
    }
}

fn event(p: &str, outcome: EventOutcome, code: Option<&str>, detail: &str, at: i64) -> NewEvent {
    NewEvent {
        po: po(p),
        at: t(at),
        job: Some(JobName::AckToDsco),
        run_id: Some(format!("run-{at}")),
        actor: None,
        from_stage: Some(Stage::Pulled),
        to_stage: None,
        outcome,
        reason_code: code.map(|c| ReasonCode::parse(c).expect("a catalogue code")),
        reason_kind: code.map(|_| ReasonKind::Waiting),
        detail: detail.into(),
    }
}

fn skip(p: &str, code: &str, detail: &str, at: i64) -> NewEvent {
    event(p, EventOutcome::Skipped, Some(code), detail, at)
}

fn mv(p: &str, from: Stage, to: Stage, at: i64) -> NewEvent {
    NewEvent {
        po: po(p),
        at: t(at),
        job: Some(JobName::PushToLingxing),
        run_id: Some("run-m".into()),
        actor: None,
        from_stage: Some(from),
        to_stage: Some(to),
        outcome: EventOutcome::Advanced,
        reason_code: None,
        reason_kind: None,
        detail: format!("{from} → {to}"),
    }
}

/// A second, empty store on the same backend as `b`.
async fn twin(b: &Backend) -> Backend {
    match b.store.backend() {
        BackendKind::Sqlite => crate::sqlite().await,
        BackendKind::Postgres => crate::postgres()
            .await
            .expect("a PostgreSQL case runs only with TEST_DATABASE_URL"),
    }
}

async fn fence(s: &dyn Store, job: JobName) -> Fence {
    s.try_acquire_lease(job, "h", "run-h", t(0), Duration::from_secs(3600))
        .await
        .unwrap()
        .expect("lease should be free")
        .fence()
}

/// Everything the store shows about `pos`: the orders, their events (with ids), which are
/// marked dirty, their LingXing views and their intents.
#[derive(Debug, PartialEq)]
struct Seen {
    orders: Vec<OrderRecord>,
    events: Vec<Vec<OrderEvent>>,
    dirty: Vec<String>,
    views: BTreeMap<PoNumber, (LxView, Option<DateTime<Utc>>)>,
    intents: Vec<Vec<Intent>>,
}

async fn seen(s: &dyn Store, pos: &[String]) -> Seen {
    let pos: Vec<PoNumber> = pos.iter().map(|p| po(p)).collect();
    let mut orders = s.orders_by_po(&pos).await.unwrap();
    orders.sort_by(|a, b| a.pulled.po.cmp(&b.pulled.po));
    // The mark count differs by path (a PO changed twice in one batch is marked once, one by one
    // twice); what it is for, telling a later mark from none, needs only that it moves, and the
    // dirty list below compares the marks themselves.
    for o in &mut orders {
        o.marks = 0;
    }
    let mut events = Vec::new();
    let mut intents = Vec::new();
    for p in &pos {
        events.push(s.order_events(p).await.unwrap());
        intents.push(s.intents_for(p).await.unwrap());
    }
    // Before any back-off time: only the dirty marks make an order a candidate.
    let before_all = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap();
    let mut dirty = Vec::new();
    for stage in Stage::ALL {
        for o in s
            .order_candidates(stage, before_all, 100_000)
            .await
            .unwrap()
        {
            dirty.push(o.pulled.po.to_string());
        }
    }
    dirty.sort();
    let views = s.lingxing_views(&pos).await.unwrap();
    Seen {
        orders,
        events,
        dirty,
        views,
        intents,
    }
}

/// The same set-up on both stores: `pos` pulled at stage 1, every third one moved to stage 2,
/// dirty marks cleared.
async fn orders_on_both(a: &Backend, b: &Backend, pos: &[String]) -> (Fence, Fence) {
    let fa = fence(&*a.store, JobName::PushToLingxing).await;
    let fb = fence(&*b.store, JobName::PushToLingxing).await;
    for (backend, f) in [(a, &fa), (b, &fb)] {
        let s = &*backend.store;
        let batch: Vec<(PulledOrder, Stage)> = pos
            .iter()
            .map(|p| (pulled(p, "created", 1), Stage::Pulled))
            .collect();
        s.upsert_pulled_many(&batch, Some("run-0"), t(1), f)
            .await
            .unwrap();
        let moves: Vec<NewEvent> = pos
            .iter()
            .step_by(3)
            .map(|p| mv(p, Stage::Pulled, Stage::Pushed, 2))
            .collect();
        s.cas_stages(&moves, f).await.unwrap();
        let all: Vec<PoNumber> = pos.iter().map(|p| po(p)).collect();
        store::testing::clear_dirty(&backend.url, &all)
            .await
            .unwrap();
    }
    (fa, fb)
}

pub async fn batch_moves_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let pos = many_pos("PO-M");
    let (fa, fb) = orders_on_both(b, &other, &pos).await;
    let mut moves: Vec<NewEvent> = pos
        .iter()
        .map(|p| mv(p, Stage::Pulled, Stage::Pushed, 10))
        .collect();
    // Around the chunk boundary and in the middle: one PO moved twice in a row (2 → 3 after
    // its 1 → 2), the same move repeated, a move from the wrong stage, an unknown PO.
    moves.insert(499, mv(&pos[1], Stage::Pushed, Stage::Acknowledged, 11));
    moves.insert(500, mv(&pos[1], Stage::Acknowledged, Stage::Shipped, 12));
    moves.insert(501, mv(&pos[4], Stage::Pulled, Stage::Pushed, 13));
    moves.push(mv(&pos[7], Stage::Acknowledged, Stage::Done, 14));
    moves.push(mv("PO-UNKNOWN", Stage::Pulled, Stage::Pushed, 15));
    moves.push(mv(&pos[8], Stage::Pushed, Stage::Cancelled, 16));
    let batch = sa.cas_stages(&moves, &fa).await.unwrap();
    let mut single = Vec::new();
    for m in &moves {
        single.push(sb.cas_stage(m, &fb).await.unwrap());
    }
    assert_eq!(batch, single);
    // Spot checks against what the rules say, not only against the other form.
    assert!(!batch[0], "PO-M-0000 was already at 2");
    assert!(batch[2], "PO-M-0002 was at 1");
    assert!(batch[499] && batch[500], "moved twice in one call");
    assert!(!batch[501], "PO-M-0004 had just moved");
    assert!(!batch[MANY + 3], "PO-M-0007 was never at 3");
    assert!(!batch[MANY + 4], "unknown PO");
    let mut all = pos.clone();
    all.push("PO-UNKNOWN".into());
    let seen_a = seen(sa, &all).await;
    assert_eq!(seen_a, seen(sb, &all).await);
    let o1 = &seen_a.orders[1];
    assert_eq!((o1.stage, o1.stage_entered_at), (Stage::Shipped, t(12)));
    assert!(seen_a.dirty.contains(&pos[2]), "a move marks dirty");

    // One backward move anywhere refuses the whole call before anything is written.
    let bad = vec![
        mv(&pos[5], Stage::Pulled, Stage::Pushed, 20),
        mv(&pos[6], Stage::Pushed, Stage::Pulled, 20),
    ];
    let err = sa.cas_stages(&bad, &fa).await.unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    assert_eq!(seen(sa, &all).await, seen_a);
}

pub async fn batch_events_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let pos = many_pos("PO-E");
    let (fa, fb) = orders_on_both(b, &other, &pos).await;
    // Each skip decided at its order's stage (every third order was moved on to Pushed).
    let decided_at = |mut e: NewEvent| {
        let k = pos.iter().position(|p| p.as_str() == e.po.as_str());
        if e.outcome == EventOutcome::Skipped && k.is_some_and(|k| k % 3 == 0) {
            e.from_stage = Some(Stage::Pushed);
        }
        e
    };
    // Stored skips a batch skip folds into (and one it must not: different detail).
    for (s, f) in [(sa, &fa), (sb, &fb)] {
        for p in &pos[..3] {
            s.record_event(
                &decided_at(skip(p, "lingxing_not_audited", "status 4", 5)),
                None,
                Some(f),
            )
            .await
            .unwrap();
        }
    }
    let mut items: Vec<(NewEvent, Option<DateTime<Utc>>)> = Vec::new();
    for (i, p) in pos.iter().enumerate() {
        let at = 10 + i as i64;
        let e = match i % 5 {
            0 | 1 => skip(p, "lingxing_not_audited", "status 4", at),
            2 => event(p, EventOutcome::Noted, None, "fallback used", at),
            3 => event(
                p,
                EventOutcome::Submitted,
                Some("dsco_confirmation_pending"),
                "ack sent",
                at,
            ),
            _ => skip(p, "lingxing_not_audited", "status 5", at),
        };
        let next = (i % 2 == 0).then(|| t(at + 900));
        items.push((e, next));
    }
    let p0 = &pos[0];
    let p7 = &pos[7];
    // The same PO again and again: identical skips fold (also across the chunk boundary at
    // 500), a note in between breaks the run, a different detail or code is a new event.
    for (at, e) in [
        (2000, skip(p7, "lingxing_not_audited", "status 4", 0)),
        (2001, skip(p7, "lingxing_not_audited", "status 4", 0)),
        (2002, event(p7, EventOutcome::Noted, None, "status 4", 0)),
        (2003, skip(p7, "lingxing_not_audited", "status 4", 0)),
        (2004, skip(p7, "lingxing_not_audited", "status 6", 0)),
        (2005, skip(p7, "no_tracking_yet", "status 6", 0)),
        (2006, skip(p0, "lingxing_not_audited", "status 4", 0)),
    ] {
        let mut e = e;
        e.at = t(at);
        e.run_id = Some(format!("run-{at}"));
        items.insert(498 + (at as usize - 2000) % 4, (e, Some(t(at + 60))));
    }
    // An unknown PO: its event is kept, there is no order to give a reason to.
    items.push((
        skip("PO-UNKNOWN", "lingxing_not_audited", "x", 3000),
        Some(t(3900)),
    ));
    items.push((
        skip("PO-UNKNOWN", "lingxing_not_audited", "x", 3001),
        Some(t(3900)),
    ));
    // A skip with another job does not fold into the same skip of another job.
    let mut other_job = skip(&pos[1], "lingxing_not_audited", "status 4", 3002);
    other_job.job = Some(JobName::ShipToDsco);
    items.push((other_job, None));

    // Skips decided at a stage their order has left since (read before a move, say): they land
    // nowhere, in the batch as one by one, and the stored reason stays.
    // (pos[3] is at Pushed, pos[4] at Pulled.)
    let mut items: Vec<(NewEvent, Option<DateTime<Utc>>)> =
        items.into_iter().map(|(e, n)| (decided_at(e), n)).collect();
    let mut stale = skip(&pos[3], "no_tracking_yet", "stale", 3003);
    stale.from_stage = Some(Stage::Pulled);
    items.push((stale, Some(t(9999))));
    let mut stale = skip(&pos[4], "no_tracking_yet", "stale", 3004);
    stale.from_stage = Some(Stage::Pushed);
    items.push((stale, Some(t(9999))));
    sa.record_events(&items, &fa).await.unwrap();
    for (e, next) in &items {
        sb.record_event(e, *next, Some(&fb)).await.unwrap();
    }
    let mut all = pos.clone();
    all.push("PO-UNKNOWN".into());
    let seen_a = seen(sa, &all).await;
    assert_eq!(seen_a, seen(sb, &all).await);
    for k in [3, 4] {
        assert!(
            seen_a.events[k].iter().all(|e| e.event.detail != "stale"),
            "a skip decided at a stage {} had left landed: {:?}",
            pos[k],
            seen_a.events[k]
        );
        let reason = seen_a.orders[k].reason.as_ref().map(|r| r.detail.as_str());
        assert_ne!(reason, Some("stale"), "{}", pos[k]);
        assert_ne!(
            seen_a.orders[k].next_attempt_at,
            Some(t(9999)),
            "{}",
            pos[k]
        );
    }
    // Spot checks: PO-E-0000 folded its batch skips into the stored one.
    let e0 = &seen_a.events[0];
    let last = e0.last().unwrap();
    assert_eq!(last.event.outcome, EventOutcome::Skipped);
    assert_eq!(
        (last.count, last.event.at, last.last_at),
        (3, t(5), t(2006))
    );
    assert_eq!(
        seen_a.orders[0].attempts, 3,
        "the stored skip and two in the batch"
    );
    let unknown = &seen_a.events[MANY];
    assert_eq!((unknown.len(), unknown[0].count), (1, 2));
    // Event ids follow the items' order across POs.
    let mut by_id: Vec<(i64, DateTime<Utc>)> = seen_a
        .events
        .iter()
        .flatten()
        // The items' own events (the ones inserted in between have later times).
        .filter(|e| e.event.at >= t(10) && e.event.at < t(10 + MANY as i64))
        .map(|e| (e.id, e.event.at))
        .collect();
    by_id.sort();
    let ats: Vec<DateTime<Utc>> = by_id.iter().map(|(_, at)| *at).collect();
    let mut sorted = ats.clone();
    sorted.sort();
    assert_eq!(ats, sorted, "ids in item order");
}

pub async fn batch_views_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let pos = many_pos("PO-V");
    let (fa, fb) = orders_on_both(b, &other, &pos).await;
    let view = |p: &str, status: i64, store: Option<&str>| LingxingView {
        po: po(p),
        store_id: store.map(str::to_owned),
        order_nos: vec![format!("LX-{p}-{status}"), "LX-x".into()],
        snapshot: LxView::from_value(
            &json!({"orders": [{"no": format!("LX-{p}é\"\\\n"), "status": status}]}),
        ),
        part: LxViewPart::Whole,
    };
    // A stored view for the first 100, the same as the batch's for the even ones.
    for (backend, f) in [(b, &fa), (&other, &fb)] {
        let first: Vec<LingxingView> = pos[..100]
            .iter()
            .enumerate()
            .map(|(i, p)| view(p, 4 + (i % 2) as i64, Some("S0")))
            .collect();
        backend
            .store
            .set_lingxing_views(&first, t(3), f)
            .await
            .unwrap();
        let all: Vec<PoNumber> = pos.iter().map(|p| po(p)).collect();
        store::testing::clear_dirty(&backend.url, &all)
            .await
            .unwrap();
    }
    let mut views: Vec<LingxingView> = pos
        .iter()
        .enumerate()
        .map(|(i, p)| view(p, 4, (i % 3 != 0).then_some("S1")))
        .collect();
    // The same PO twice: unchanged the second time; changed back and forth; a missing store
    // id keeps the one before; an unknown PO stores nothing.
    views.insert(499, view(&pos[2], 4, None));
    views.insert(500, view(&pos[3], 9, None));
    views.insert(501, view(&pos[3], 4, Some("S2")));
    views.insert(502, view(&pos[3], 4, None));
    views.push(view("PO-UNKNOWN", 4, Some("S1")));
    let batch = sa.set_lingxing_views(&views, t(10), &fa).await.unwrap();
    let mut single = Vec::new();
    for v in &views {
        single.push(
            store::testing::set_lingxing_view(
                sb,
                &v.po,
                v.store_id.as_deref(),
                &v.order_nos,
                &v.snapshot.to_value(),
                t(10),
                &fb,
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(batch, single);
    assert!(!batch[0] && batch[1], "even: same as stored; odd: changed");
    assert!(batch[150], "nothing stored before");
    assert!(!batch[499], "the same view again");
    assert_eq!(&batch[500..503], &[true, true, false]);
    assert!(!batch[MANY + 4], "unknown PO");
    let mut all = pos.clone();
    all.push("PO-UNKNOWN".into());
    let seen_a = seen(sa, &all).await;
    assert_eq!(seen_a, seen(sb, &all).await);
    assert!(!seen_a.dirty.contains(&pos[0]) && seen_a.dirty.contains(&pos[1]));
    assert_eq!(seen_a.orders[3].store_id.as_deref(), Some("S2"));
}

pub async fn batch_intents_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let pos = many_pos("PO-I");
    let (fa, fb) = orders_on_both(b, &other, &pos).await;
    let new = |k: &str, p: &str, n: i64| NewIntent {
        key: k.into(),
        po: po(p),
        payload: json!({"po": p, "n": n}),
    };
    let mut items: Vec<NewIntent> = pos.iter().map(|p| new(p, p, 1)).collect();
    // A key twice in one call: the first is recorded.
    items.insert(500, new(&pos[0], &pos[0], 2));
    items.insert(3, new(&pos[2], &pos[2], 3));
    sa.put_intents(IntentKind::Ack, &items, "run-1", t(10), &fa, false)
        .await
        .unwrap();
    for i in &items {
        store::testing::put_intent(
            sb,
            IntentKind::Ack,
            &i.key,
            &i.po,
            &i.payload,
            "run-1",
            t(10),
            &fb,
        )
        .await
        .unwrap();
    }
    let mut updates: Vec<IntentUpdate> = pos
        .iter()
        .enumerate()
        .map(|(i, p)| IntentUpdate {
            key: p.clone(),
            state: IntentState::ALL[i % 5],
            outcome: format!("outcome {i}"),
        })
        .collect();
    // Submitted, then unclear, then confirmed, in one call: two attempts, confirmed.
    for (at, state) in [
        (499, IntentState::Submitted),
        (500, IntentState::Ambiguous),
        (501, IntentState::Confirmed),
    ] {
        updates.insert(
            at,
            IntentUpdate {
                key: pos[9].clone(),
                state,
                outcome: format!("{state:?}"),
            },
        );
    }
    updates.push(IntentUpdate {
        key: "NO-SUCH-KEY".into(),
        state: IntentState::Failed,
        outcome: "x".into(),
    });
    sa.update_intents(IntentKind::Ack, &updates, t(11), &fa)
        .await
        .unwrap();
    for u in &updates {
        store::testing::update_intent(sb, IntentKind::Ack, &u.key, u.state, &u.outcome, t(11), &fb)
            .await
            .unwrap();
    }
    // A re-send of known and new keys, the same key twice, sets them back to pending.
    let mut again: Vec<NewIntent> = pos[..MANY - 10].iter().map(|p| new(p, p, 4)).collect();
    again.push(new("NEW-KEY", &pos[0], 5));
    again.push(new("NEW-KEY", &pos[0], 6));
    sa.put_intents(IntentKind::Ack, &again, "run-2", t(12), &fa, true)
        .await
        .unwrap();
    for i in &again {
        sb.put_intents(
            IntentKind::Ack,
            std::slice::from_ref(i),
            "run-2",
            t(12),
            &fb,
            true,
        )
        .await
        .unwrap();
    }
    let seen_a = seen(sa, &pos).await;
    assert_eq!(seen_a, seen(sb, &pos).await);

    // The batch read against the single one, over more than one chunk, with unknown keys.
    let mut keys: Vec<String> = pos.clone();
    keys.push("NEW-KEY".into());
    keys.push("NO-SUCH-KEY".into());
    let read = sa.intents(IntentKind::Ack, &keys).await.unwrap();
    let mut expected = BTreeMap::new();
    for k in &keys {
        if let Some(i) = store::testing::intent(sa, IntentKind::Ack, k)
            .await
            .unwrap()
        {
            expected.insert(k.clone(), i);
        }
    }
    assert_eq!(read, expected);
    assert_eq!(read.len(), MANY + 1);
    assert!(
        sa.intents(IntentKind::Create, &keys)
            .await
            .unwrap()
            .is_empty()
    );
    // Spot checks: the first payload of a repeated key, two attempts, restart.
    let i0 = &read[&pos[0]];
    assert_eq!(
        (i0.payload["n"].as_i64(), i0.state),
        (Some(1), IntentState::Pending)
    );
    assert_eq!(read["NEW-KEY"].payload["n"], 5);
    let i9 = &read[&pos[9]];
    assert_eq!(i9.attempts, 2);
    let last = &read[&pos[MANY - 1]];
    assert_eq!(last.state, IntentState::ALL[(MANY - 1) % 5], "not re-sent");
}

pub async fn batch_upserts_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let known = many_pos("PO-K");
    let fresh = many_pos("PO-N");
    let (fa, fb) = orders_on_both(b, &other, &known[..300]).await;
    let mut items: Vec<(PulledOrder, Stage)> = Vec::new();
    for (i, p) in known.iter().enumerate() {
        // Known ones: the same payload (no dirty mark), a new one, or a sparse pull.
        let o = match i % 3 {
            0 => pulled(p, "created", 1),
            1 => pulled(p, "shipped", 2),
            _ => sparse(p, 3),
        };
        items.push((o, Stage::Pulled));
        if i % 4 == 0 {
            items.push((pulled(&fresh[i], "shipped", 1), Stage::Done));
        }
    }
    // The same PO twice or more in one call: a new one then a refresh of it; a known one
    // changed and changed back (dirty all the same); a known one pulled twice unchanged.
    items.insert(499, (pulled(&fresh[1], "created", 1), Stage::Pulled));
    items.insert(500, (sparse(&fresh[1], 2), Stage::Shipped));
    items.insert(501, (pulled(&known[3], "created", 7), Stage::Pulled));
    items.insert(502, (pulled(&known[3], "created", 1), Stage::Pulled));
    items.insert(503, (pulled(&known[6], "created", 1), Stage::Pulled));
    items.insert(504, (pulled(&known[6], "created", 1), Stage::Pulled));
    items.push((sparse(&fresh[2], 1), Stage::Pulled));
    let batch = sa
        .upsert_pulled_many(&items, Some("run-u"), t(20), &fa)
        .await
        .unwrap();
    let mut single = Vec::new();
    for (o, stage) in &items {
        single.push(
            store::testing::upsert_pulled(sb, o, *stage, Some("run-u"), t(20), &fb)
                .await
                .unwrap(),
        );
    }
    assert_eq!(batch, single);
    assert_eq!(batch[500], Upserted::Refreshed(Stage::Pulled));
    let mut all = known.clone();
    all.extend(fresh.iter().cloned());
    let seen_a = seen(sa, &all).await;
    assert_eq!(seen_a, seen(sb, &all).await);
    assert!(seen_a.dirty.contains(&known[3]) && !seen_a.dirty.contains(&known[6]));
    assert!(!seen_a.dirty.contains(&known[0]) && seen_a.dirty.contains(&known[1]));
    let k2 = seen_a
        .orders
        .iter()
        .find(|o| o.pulled.po.as_str() == known[2])
        .unwrap();
    assert_eq!(k2.pulled.dsco_order_id, Some(format!("ID-{}", known[2])));
    assert_eq!(k2.pulled.service_level.as_deref(), Some("FEDX"));
}

pub async fn batch_trackings_invoices_and_intent_reads_match_one_by_one(b: &Backend) {
    let other = twin(b).await;
    let (sa, sb) = (&*b.store, &*other.store);
    let pos = many_pos("PO-T");
    let (fa, fb) = orders_on_both(b, &other, &pos).await;
    let a = [(po(&pos[0]), vec!["A".to_owned()])];
    sa.add_trackings(&a, &fa).await.unwrap();
    sb.add_trackings(&a, &fb).await.unwrap();
    // A PO twice (adds up), an unknown PO (ignored), an empty number (dropped), a number the
    // order already has (kept once).
    let mut tracking: Vec<(PoNumber, Vec<String>)> = pos
        .iter()
        .map(|p| (po(p), vec![format!("{p}-1")]))
        .collect();
    tracking.push((po(&pos[0]), vec!["A".into(), String::new(), "B".into()]));
    tracking.push((po("PO-NOPE"), vec!["X".into()]));
    sa.add_trackings(&tracking, &fa).await.unwrap();
    for (p, t) in &tracking {
        sb.add_trackings(&[(p.clone(), t.clone())], &fb)
            .await
            .unwrap();
    }
    // A PO twice: the last one wins.
    let ids: Vec<(PoNumber, String)> = pos
        .iter()
        .map(|p| (po(p), format!("INV-{p}")))
        .chain([(po(&pos[1]), "INV-LAST".to_owned())])
        .collect();
    sa.set_invoice_ids(&ids, &fa).await.unwrap();
    for (p, id) in &ids {
        sb.set_invoice_ids(&[(p.clone(), id.clone())], &fb)
            .await
            .unwrap();
    }
    assert_eq!(seen(sa, &pos).await, seen(sb, &pos).await);
    let first = sa.get_order(&po(&pos[0])).await.unwrap().unwrap();
    assert_eq!(first.tracking, ["A", &format!("{}-1", pos[0]), "B"]);
    let second = sa.get_order(&po(&pos[1])).await.unwrap().unwrap();
    assert_eq!(second.invoice_id.as_deref(), Some("INV-LAST"));
    assert!(sa.get_order(&po("PO-NOPE")).await.unwrap().is_none());

    // The batch read of intents by PO against the single one, every PO, over two chunks.
    let intents: Vec<NewIntent> = pos
        .iter()
        .step_by(2)
        .flat_map(|p| {
            [p.clone(), format!("{p}-1")].map(|key| NewIntent {
                key,
                po: po(p),
                payload: json!({}),
            })
        })
        .collect();
    sa.put_intents(IntentKind::Shipment, &intents, "run-1", t(10), &fa, false)
        .await
        .unwrap();
    // And an invoice intent on every third, which a read of shipments alone leaves out.
    let invoices: Vec<NewIntent> = pos
        .iter()
        .step_by(3)
        .map(|p| NewIntent {
            key: p.clone(),
            po: po(p),
            payload: json!({}),
        })
        .collect();
    let fi = fence(sa, JobName::InvoiceToDsco).await;
    sa.put_intents(IntentKind::Invoice, &invoices, "run-2", t(10), &fi, false)
        .await
        .unwrap();
    let mut asked: Vec<PoNumber> = pos.iter().map(|p| po(p)).collect();
    asked.push(po("PO-NOPE"));
    let shipments = sa
        .intents_of(&asked, &[IntentKind::Shipment])
        .await
        .unwrap();
    assert_eq!(shipments.len(), MANY.div_ceil(2));
    assert!(
        shipments
            .values()
            .flatten()
            .all(|i| i.kind == IntentKind::Shipment)
    );
    let read = sa.intents_of(&asked, &IntentKind::ALL).await.unwrap();
    // The same intents as each order's own read, less their payloads (left out of this read).
    let mut expected = BTreeMap::new();
    for p in &asked {
        let mut single = sa.intents_for(p).await.unwrap();
        if !single.is_empty() {
            assert!(single.iter().all(|i| !i.payload.is_null()));
            for i in &mut single {
                i.payload = serde_json::Value::Null;
            }
            expected.insert(p.clone(), single);
        }
    }
    assert_eq!(read, expected);
    assert_eq!(
        read.iter()
            .map(|(p, v)| (
                p.clone(),
                v.iter().filter(|i| i.kind == IntentKind::Shipment).count()
            ))
            .filter(|(_, n)| *n > 0)
            .collect::<BTreeMap<_, _>>(),
        shipments
            .iter()
            .map(|(p, v)| (p.clone(), v.len()))
            .collect::<BTreeMap<_, _>>(),
        "the shipments read alone are the shipments of the whole read"
    );
    assert!(shipments.values().all(|v| v.len() == 2));
}
