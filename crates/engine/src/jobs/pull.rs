//! `pull_dsco_orders`: new and updated DSCO orders into the store (merge only).
//!
//! First run: `ordersCreatedSince = start_from` (default: one day back). Later runs:
//! `ordersUpdatedSince = cursor − 5 min` (overlap, so a late-visible update is not missed),
//! `until = now − 10 s`. Orders read again unchanged (the overlap, mostly) are dropped as they
//! are read: they cost no store write and no share of `size`. A run stores at most `size` new or
//! changed orders, the oldest by their time in the window (every order of the last one's second
//! with it), and the cursor moves to the last time stored whole, never back: a burst larger than
//! `size` drains over successive runs, `size` a run. A window holding more than ten times `size`
//! changed orders is halved before it is read whole (DSCO scrolls expire after five minutes, so
//! a run must not hold one open for long).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::intent::{Gate, PendingIs, Stored, gate};
use domain::order::{DscoOrderView, RawJson};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use dsco::{OrderKey, OrderQuery};
use serde_json::json;
use serde_json::value::RawValue;
use store::{
    EventOutcome, IntentKind, IntentState, NewIntent, PulledOrder, UnreadableOrder, Upserted,
};

use super::Clients;
use super::common::{
    CANCELLED_AFTER_PUSH, advance, note, record_intents, report_request, settle_intents, skip,
};
use crate::{Job, JobError, RunCtx};

pub const CURSOR: &str = "pull_dsco_orders.until";
/// Every pull reads again the last five minutes before its cursor: an order DSCO shows late
/// (its time already behind the cursor when it appears) is read on the next run. Unlike the
/// LingXing feed this is not swept once a minute (`lx_feed::window`): measured on `bench backlog`,
/// orders that appear with a time a minute back then waited for the sweep (117–139 s to drain
/// 10,000 orders instead of 34 s), and re-read orders cost calls only, no store writes.
const OVERLAP: TimeDelta = TimeDelta::minutes(5);
/// How far behind `now` a pull window ends: DSCO refuses an `until` less than 5 s in the past
/// (`../shared/api/dsco.md`), and recommends 10 s.
pub const UNTIL_LAG: TimeDelta = TimeDelta::seconds(10);
const DEFAULT_LOOKBACK: TimeDelta = TimeDelta::days(1);
/// A window with more than this many times `size` changed orders is halved before it is read
/// whole.
const READ_FACTOR: usize = 10;
/// Orders merged per store transaction.
const UPSERT_CHUNK: usize = 500;

pub struct PullDscoOrders(pub Arc<Clients>);

/// The new or changed orders of a window, each with its time in the window (created or updated).
type Changed = Vec<(Option<DateTime<Utc>>, dsco::model::Order)>;

enum Window {
    Fits(Changed),
    TooMany,
}

fn dsco_failed(e: dsco::DscoError) -> JobError {
    JobError::far(
        format_args!(
            "DSCO order page ({}); the window will be read again next run",
            ReasonCode::DscoUnavailable
        ),
        &e,
    )
}

impl PullDscoOrders {
    /// Reads a window, keeping only the orders that are new or differ from the stored copy (two
    /// store reads per page: the stored update times, then the payloads of the orders whose time
    /// did not move); `TooMany` as soon as more than `limit` are kept.
    async fn read(
        &self,
        ctx: &RunCtx,
        query: OrderQuery,
        limit: usize,
    ) -> Result<Window, JobError> {
        let by_created = query.kind == dsco::WindowKind::Created;
        let mut scroll = self.0.dsco.scroll_orders(query).map_err(dsco_failed)?;
        let mut out = Vec::new();
        while let Some(page) = scroll.next_page().await.map_err(dsco_failed)? {
            // The PO and times only: the whole order is read once, when it is stored.
            let briefs: Vec<dsco::model::Brief> = page.iter().map(|o| o.brief()).collect();
            let po_of = |b: &dsco::model::Brief| PoNumber::parse(b.po_number.as_deref()?).ok();
            // An order DSCO shows updated at another time than the stored copy's has changed;
            // only the others' stored payloads are read and compared byte for byte.
            let pos: Vec<PoNumber> = briefs.iter().filter_map(po_of).collect();
            let updated = ctx.store.dsco_updated_of(&pos).await?;
            let same_time: Vec<PoNumber> = briefs
                .iter()
                .filter_map(|b| {
                    let po = po_of(b)?;
                    let at = b.dsco_last_update.map(|t| t.timestamp_millis());
                    (*updated.get(&po)? == at).then_some(po)
                })
                .collect();
            let stored = ctx.store.payloads_of(&same_time).await?;
            for (o, b) in page.into_iter().zip(briefs) {
                let same = po_of(&b)
                    .and_then(|p| stored.get(&p))
                    .is_some_and(|s| s.get() == o.raw().get());
                if same {
                    continue;
                }
                let at = if by_created {
                    b.dsco_create_date
                } else {
                    b.dsco_last_update
                };
                out.push((at, o));
            }
            if out.len() > limit {
                return Ok(Window::TooMany);
            }
        }
        Ok(Window::Fits(out))
    }
}

/// The oldest `size` of a window's changed orders by their time, with every order of the last
/// one's time, and the time up to which the window is now stored whole (`until` when all fit).
fn oldest(
    mut orders: Changed,
    size: usize,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (Changed, DateTime<Utc>) {
    if orders.len() <= size || size == 0 {
        return (orders, until);
    }
    // An order without a time sorts first, so it is never left behind.
    orders.sort_by_key(|(at, _)| *at);
    let last = orders[size - 1].0;
    let cut = size
        + orders[size..]
            .iter()
            .take_while(|(at, _)| *at == last)
            .count();
    let left_out = cut < orders.len();
    orders.truncate(cut);
    let reached = match (left_out, last) {
        (false, _) => until,
        (true, Some(t)) => t.min(until),
        // Only orders without a time taken: nothing after `since` is known stored whole.
        (true, None) => since,
    };
    (orders, reached)
}

#[async_trait]
impl Job for PullDscoOrders {
    fn name(&self) -> JobName {
        JobName::PullDscoOrders
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        if let Some(po) = &ctx.only_po {
            let orders = self
                .0
                .dsco
                .get_orders(OrderKey::PoNumber, po.as_str())
                .await
                .map_err(|e| JobError::far(format_args!("reading {po} from DSCO"), &e))?;
            let raws = orders.into_iter().map(|o| o.into_raw()).collect();
            return store_page(ctx, &self.0, raws).await;
        }
        retry_cancels(ctx, &self.0).await?;
        let now = ctx.clock.now();
        let until_max = now - UNTIL_LAG;
        let cursor = ctx
            .store
            .cursor(CURSOR)
            .await?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        let first_run = cursor.is_none();
        let since = match cursor {
            Some(c) => c - OVERLAP,
            None => ctx
                .job_config
                .as_ref()
                .and_then(|j| j.settings.start_from)
                .unwrap_or(now - DEFAULT_LOOKBACK),
        };
        if since >= until_max {
            return Ok(());
        }
        let size = ctx.size() as usize;
        // The window's end is searched by halving between an end known to fit (`lo`) and one
        // known to hold too many (`hi`) until the window holds at least `size` changed orders
        // and at most the limit. A single second holding more than the limit is taken whole
        // (no limit): narrowing further is impossible and skipping it would lose orders.
        let mut limit = size.saturating_mul(READ_FACTOR).max(size + 1);
        let mut lo = since;
        let mut hi: Option<DateTime<Utc>> = None;
        let mut until = until_max;
        let orders = loop {
            let query = if first_run {
                OrderQuery::created(since, until)
            } else {
                OrderQuery::updated(since, until)
            };
            match self.read(ctx, query, limit).await? {
                Window::Fits(orders) => match hi {
                    Some(h) if orders.len() < size && h - until > TimeDelta::seconds(1) => {
                        lo = until;
                        until = until + (h - until) / 2;
                    }
                    _ => break orders,
                },
                Window::TooMany if until - lo > TimeDelta::seconds(1) => {
                    hi = Some(until);
                    until = lo + (until - lo) / 2;
                }
                Window::TooMany => limit = usize::MAX,
            }
        };
        let (orders, reached) = oldest(orders, size, since, until);
        // Merged a page at a time, one store transaction each.
        let read = orders.len();
        let mut rest = orders.into_iter();
        loop {
            let page: Vec<Box<RawValue>> = rest
                .by_ref()
                .take(UPSERT_CHUNK)
                .map(|(_, o)| o.into_raw())
                .collect();
            if page.is_empty() {
                break;
            }
            store_page(ctx, &self.0, page).await?;
        }
        // Never back: a window cut short before the stored cursor (a burst in the overlap)
        // leaves the cursor where it is, and the next run reads what is left of it.
        let until = cursor.map_or(reached, |c| c.max(reached));
        ctx.store
            .set_cursor(CURSOR, &until.to_rfc3339(), ctx.clock.now(), &ctx.fence)
            .await?;
        if read > 0 {
            tracing::info!(orders = read, since = %since.to_rfc3339(), until = %until.to_rfc3339(), "DSCO window stored");
        } else {
            tracing::debug!(orders = read, since = %since.to_rfc3339(), until = %until.to_rfc3339(), "DSCO window stored");
        }
        Ok(())
    }
}

/// Merges DSCO orders into the store in one transaction, then applies what each one's DSCO
/// state implies. Orders without a usable PO are kept by `dscoOrderId` in the unreadable orders
/// (one row each, however often they are read); one read again with a PO closes its row.
async fn store_page(
    ctx: &RunCtx,
    clients: &Clients,
    raws: Vec<Box<RawValue>>,
) -> Result<(), JobError> {
    let mut views = Vec::with_capacity(raws.len());
    let mut pulled = Vec::with_capacity(raws.len());
    let mut unreadable = Vec::new();
    for raw in raws {
        match read_order(raw) {
            Ok((view, p)) => {
                pulled.push((p, view.initial_stage()));
                views.push(view);
            }
            Err(u) => {
                tracing::warn!(dsco_order_id = %u.dsco_order_id, error = %u.detail, "DSCO order without a usable poNumber kept as unreadable");
                ctx.count(|c| c.failed += 1);
                unreadable.push(u);
            }
        }
    }
    ctx.store
        .record_unreadable_orders(&unreadable, ctx.clock.now(), &ctx.fence)
        .await?;
    let results = ctx
        .store
        .upsert_pulled_many(&pulled, Some(&ctx.run_id), ctx.clock.now(), &ctx.fence)
        .await?;
    let open = ctx.store.unreadable_orders(true, u32::MAX).await?;
    if !open.is_empty() {
        let now_readable: Vec<String> = open
            .into_iter()
            .map(|u| u.order.dsco_order_id)
            .filter(|id| views.iter().any(|v| v.dsco_order_id.as_ref() == Some(id)))
            .collect();
        ctx.store
            .resolve_unreadable_orders(&now_readable, ctx.clock.now(), &ctx.fence)
            .await?;
    }
    for (view, r) in views.iter().zip(results) {
        after_upsert(ctx, clients, view, r).await?;
    }
    Ok(())
}

/// The DSCO order as stored, or (without a usable PO number) what to keep of it by its
/// `dscoOrderId`: a bad order never stops the batch, and is never lost.
pub(crate) fn read_order(
    raw: Box<RawValue>,
) -> Result<(DscoOrderView, PulledOrder), UnreadableOrder> {
    let view = match DscoOrderView::from_json(raw.get()) {
        Ok(v) => v,
        Err(e) => {
            let payload = RawJson::new(raw);
            let id = serde_json::from_str::<serde_json::Value>(payload.get())
                .ok()
                .and_then(|v| match v.get("dscoOrderId")? {
                    serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| format!("payload:{:016x}", fnv1a(payload.get())));
            return Err(UnreadableOrder {
                reason_code: ReasonCode::PoMissing,
                detail: format!("dscoOrderId {id}: {e}"),
                dsco_order_id: id,
                payload,
            });
        }
    };
    let pulled = PulledOrder {
        po: view.po.clone(),
        dsco_order_id: view.dsco_order_id.clone(),
        retailer_id: view.retailer_id.clone(),
        dsco_status: view.status.as_ref().map(|s| s.as_str().to_owned()),
        dsco_lifecycle: view.lifecycle.as_ref().map(|l| l.as_str().to_owned()),
        dsco_created_at: view.created_at,
        dsco_updated_at: view.updated_at,
        warehouse_code: view.warehouse_code.clone(),
        service_level: view.service_level.clone(),
        skus: view.skus_label(),
        payload: RawJson::new(raw),
    };
    Ok((view, pulled))
}

/// A stable key for an order with neither PO nor `dscoOrderId` (64-bit FNV-1a of its text).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What a merged order's DSCO state implies for a known order (shipped before the push → done;
/// cancelled → cancelled, flagged when already pushed).
async fn after_upsert(
    ctx: &RunCtx,
    clients: &Clients,
    view: &DscoOrderView,
    upserted: Upserted,
) -> Result<(), JobError> {
    match upserted {
        Upserted::Inserted(_) => ctx.count(|c| {
            c.processed += 1;
            c.advanced += 1;
        }),
        Upserted::Refreshed(stage) => {
            if view.is_cancelled() && stage < Stage::Done {
                let pushed = stage >= Stage::Pushed;
                let ended = cancel_from(ctx, &view.po, stage).await?;
                // Read once, as the move left it. Not pushed yet, but a create may have been
                // sent: the move closed its open intent and flagged the order
                // (`close_superseded`, after the move: an intent the push stored before it is seen
                // there, and one stored after it finds the order cancelled and is not sent,
                // `push::create_chunk`).
                let o = ctx.store.get_order(&view.po).await?;
                let flagged = o
                    .as_ref()
                    .is_some_and(|o| o.flags.iter().any(|f| f == CANCELLED_AFTER_PUSH));
                let sent = !pushed && ended == Stage::Cancelled && flagged;
                if (pushed || sent)
                    && let Some(o) = o
                {
                    if !flagged {
                        ctx.store
                            .add_flag(&view.po, CANCELLED_AFTER_PUSH, Some(&ctx.fence))
                            .await?;
                    }
                    let nos = o.lingxing_order_nos.clone();
                    let cancel = if auto_cancel(ctx) && !nos.is_empty() && ctx.writes_allowed() {
                        Some(cancel_in_lingxing(ctx, clients, &view.po, &nos).await?)
                    } else {
                        if auto_cancel(ctx) && !nos.is_empty() && ctx.dry_run {
                            // Built, not sent: the dry run shows the cancel it would make.
                            let plan = crate::PlannedRequest::from_lingxing(
                                clients.lingxing.plan_cancel_orders(&nos),
                                vec![view.po.to_string()],
                                false,
                            );
                            report_request(ctx, plan, stage).await?;
                        }
                        None
                    };
                    let subject = if nos.is_empty() && sent {
                        "a create in LingXing was sent for this order and no LingXing order \
                             is recorded yet: look the PO up in LingXing"
                            .to_owned()
                    } else {
                        cancel_subject(&nos, cancel.as_ref())
                    };
                    let r = Reason::new(ReasonCode::CancelledAfterPush, subject);
                    skip(ctx, &o, &r).await?;
                }
            } else if stage == Stage::Pulled && view.is_shipped() {
                advance(
                    ctx,
                    &view.po,
                    Stage::Pulled,
                    Stage::Done,
                    "DSCO already shows it shipped: done without pushing",
                )
                .await?;
            } else {
                ctx.count(|c| c.processed += 1);
            }
        }
    }
    Ok(())
}

/// Cancels `po`, which the pull's upsert read at stage `read`. Another job may move the order
/// between the upsert and this move (an ACK or shipment decided on DSCO's "completed"
/// lifecycle). A re-pull of an unchanged order no longer comes back here, so it is cancelled
/// from wherever it is now instead of being left to wait for ever. Returns where it ended.
async fn cancel_from(ctx: &RunCtx, po: &PoNumber, read: Stage) -> Result<Stage, JobError> {
    let mut from = read;
    while !advance(ctx, po, from, Stage::Cancelled, "DSCO cancelled the order").await? {
        match ctx.store.stages_of(std::slice::from_ref(po)).await?.get(po) {
            Some(&now) if now != from && now < Stage::Done => from = now,
            Some(&now) => return Ok(now),
            None => return Ok(from),
        }
    }
    Ok(Stage::Cancelled)
}

/// What one automatic cancel in LingXing came to.
enum Cancel {
    Done,
    /// LingXing refused it, with its message: not tried again.
    Refused(String),
    /// Failed or unclear: tried again (after a check, when unclear) on the next runs.
    Open(String),
}

/// The pull's `auto_cancel_in_lingxing` (read by the push too, for orders it created while the
/// pull cancelled them).
pub(super) fn auto_cancel(ctx: &RunCtx) -> bool {
    ctx.config
        .jobs
        .get(&JobName::PullDscoOrders)
        .and_then(|j| j.settings.auto_cancel_in_lingxing)
        .unwrap_or(false)
}

/// The `cancelled_after_push` subject: the LingXing orders and what the automatic cancel did.
fn cancel_subject(nos: &[String], cancel: Option<&Cancel>) -> String {
    let orders = if nos.is_empty() {
        "-".to_owned()
    } else {
        nos.join(", ")
    };
    let what = match cancel {
        None => String::new(),
        Some(Cancel::Done) => {
            "; cancelled in LingXing automatically (auto_cancel_in_lingxing): check nothing shipped"
                .to_owned()
        }
        Some(Cancel::Refused(t)) => format!("; LingXing refused the automatic cancel: {t}"),
        Some(Cancel::Open(t)) => {
            format!("; automatic cancel in LingXing failed ({t}): tried again on the next runs")
        }
    };
    format!("LingXing orders {orders}{what}")
}

/// Cancels the LingXing orders `nos` of `po` after a durable intent (keyed by PO), and settles it:
/// confirmed, failed with LingXing's refusal, ambiguous (verified before the next try) or
/// pending (not applied: tried again).
async fn cancel_in_lingxing(
    ctx: &RunCtx,
    clients: &Clients,
    po: &PoNumber,
    nos: &[String],
) -> Result<Cancel, JobError> {
    use lingxing::LingxingError as E;
    let intent = NewIntent {
        key: po.to_string(),
        po: po.clone(),
        payload: json!({ "order_list": nos }),
    };
    record_intents(ctx, IntentKind::LingxingCancel, &[intent], true).await?;
    let (state, outcome, cancel) = match clients.lingxing.cancel_orders(nos).await {
        Ok(r) if r.fail_num == 0 => (
            IntentState::Confirmed,
            format!("cancelled in LingXing: {}", nos.join(", ")),
            Cancel::Done,
        ),
        Ok(r) => {
            let text = format!(
                "{} of {} not cancelled: {}",
                r.fail_num,
                nos.len(),
                r.failure_info
                    .iter()
                    .map(|f| format!("{} {}", f.global_order_no, f.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            (IntentState::Failed, text.clone(), Cancel::Refused(text))
        }
        Err(e) => {
            let text = e.to_string();
            match e {
                E::Ambiguous { .. } => (IntentState::Ambiguous, text.clone(), Cancel::Open(text)),
                E::Rejected { .. } => (IntentState::Failed, text.clone(), Cancel::Refused(text)),
                _ => (IntentState::Pending, text.clone(), Cancel::Open(text)),
            }
        }
    };
    settle_intents(
        ctx,
        IntentKind::LingxingCancel,
        [po.to_string()],
        state,
        &outcome,
    )
    .await?;
    if matches!(cancel, Cancel::Done) {
        note(ctx, po, EventOutcome::Submitted, outcome).await?;
    }
    Ok(cancel)
}

/// Tries again the automatic LingXing cancels a run left open (failed, or unclear: those are
/// looked up first, and confirmed without a call when LingXing shows every order cancelled).
/// Each order's reason then says how its cancel ended.
async fn retry_cancels(ctx: &RunCtx, clients: &Clients) -> Result<(), JobError> {
    if !auto_cancel(ctx) || !ctx.writes_allowed() {
        return Ok(());
    }
    let open = ctx
        .store
        .open_intents(IntentKind::LingxingCancel, ctx.size())
        .await?;
    // The LingXing orders of every unclear cancel, read together (200 POs a call); `None` when
    // the read failed: those cancels are verified next run.
    let unclear: Vec<String> = open
        .iter()
        .filter(|i| i.state == IntentState::Ambiguous)
        .map(|i| i.po.to_string())
        .collect();
    let found = if unclear.is_empty() {
        Some(Vec::new())
    } else {
        match clients
            .lingxing
            .orders_by_platform_order_nos(&unclear, true)
            .await
        {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(orders = unclear.len(), error = %e, "unclear LingXing cancels not verified; tried again next run");
                None
            }
        }
    };
    for i in open {
        let nos: Vec<String> = i.payload["order_list"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        // Verified (for an unclear cancel): LingXing shows every order of it cancelled.
        let verified = found.as_ref().map(|found| {
            let cancelled = |n: &String| {
                found
                    .iter()
                    .any(|o| &o.global_order_no == n && o.status.is_cancelled())
            };
            !nos.is_empty() && nos.iter().all(cancelled)
        });
        let stored = Stored {
            state: i.state,
            updated_at: i.updated_at,
        };
        // A refusal stands (LingXing's orders do not change back), and a pending cancel was not
        // applied: sent again.
        let cancel = match gate(Some(stored), PendingIs::Unsent, None, verified) {
            Gate::Send => cancel_in_lingxing(ctx, clients, &i.po, &nos).await?,
            Gate::Applied => {
                settle_intents(
                    ctx,
                    IntentKind::LingxingCancel,
                    [i.key.clone()],
                    IntentState::Confirmed,
                    "found cancelled in LingXing",
                )
                .await?;
                Cancel::Done
            }
            // Not verifiable this run (the order read failed): verified next run.
            Gate::Verify | Gate::Wait | Gate::Confirmed | Gate::Refused => continue,
        };
        if let Some(o) = ctx.store.get_order(&i.po).await? {
            let r = Reason::new(
                ReasonCode::CancelledAfterPush,
                cancel_subject(&nos, Some(&cancel)),
            );
            skip(ctx, &o, &r).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use clock::Clock;
    use domain::order::RawJson;
    use domain::{JobName, PoNumber, RunCounts, RuntimeConfig, Stage, Trigger};
    use store::{EventOutcome, PulledOrder};

    use super::cancel_from;
    use crate::RunCtx;

    /// The race fixed in b7044b9: the pull's upsert read a DSCO-cancelled order at stage 2,
    /// then the ACK job moved it to 3 before the pull's compare-and-swap to cancelled. The
    /// pull cancels it from stage 3 instead of giving up (the order then waited for ever, as
    /// an unchanged re-pull never comes back to it). Provoked by handing the move the stage
    /// read before the other job's move.
    #[tokio::test]
    async fn a_cancel_that_loses_its_stage_race_cancels_from_the_new_stage() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::connect(&format!("sqlite://{}/s.db", dir.path().display()))
            .await
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let lease = s
            .try_acquire_lease(
                JobName::PullDscoOrders,
                "t",
                "run-1",
                now,
                Duration::from_secs(60),
            )
            .await
            .unwrap()
            .unwrap();
        let po = PoNumber::parse("PO-RACE").unwrap();
        let pulled = PulledOrder {
            po: po.clone(),
            dsco_order_id: None,
            retailer_id: None,
            dsco_status: Some("cancelled".into()),
            dsco_lifecycle: Some("completed".into()),
            dsco_created_at: None,
            dsco_updated_at: None,
            warehouse_code: None,
            service_level: None,
            skus: String::new(),
            payload: RawJson::from(
                serde_json::json!({"poNumber": "PO-RACE", "dscoStatus": "cancelled"}),
            ),
        };
        // Where the other job left it: acknowledged.
        s.upsert_pulled_many(&[(pulled, Stage::Acknowledged)], None, now, &lease.fence())
            .await
            .unwrap();
        let ctx = RunCtx {
            run_id: lease.run_id.clone(),
            job: JobName::PullDscoOrders,
            trigger: Trigger::Cli,
            fence: lease.fence(),
            config: Arc::new(RuntimeConfig::default()),
            config_version: None,
            job_config: None,
            dry_run: false,
            only_po: None,
            store: s.clone(),
            clock: Clock::simulated(now),
            counts: Mutex::new(RunCounts::default()),
            refused: Mutex::new(None),
            report: Default::default(),
        };
        // The pull read it at stage 2, before the ACK moved it.
        assert_eq!(
            cancel_from(&ctx, &po, Stage::Pushed).await.unwrap(),
            Stage::Cancelled
        );
        let o = s.get_order(&po).await.unwrap().unwrap();
        assert_eq!(o.stage, Stage::Cancelled);
        let moved: Vec<_> = s
            .order_events(&po)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .filter(|e| e.outcome == EventOutcome::Advanced && e.to_stage == Some(Stage::Cancelled))
            .collect();
        assert_eq!(moved.len(), 1);
        assert_eq!(
            moved[0].from_stage,
            Some(Stage::Acknowledged),
            "cancelled from where it is"
        );
        // An order the other job took to done stays done.
        let done = PoNumber::parse("PO-DONE").unwrap();
        let p = PulledOrder {
            po: done.clone(),
            ..o.pulled.clone()
        };
        s.upsert_pulled_many(&[(p, Stage::Done)], None, now, &lease.fence())
            .await
            .unwrap();
        assert_eq!(
            cancel_from(&ctx, &done, Stage::Shipped).await.unwrap(),
            Stage::Done
        );
        assert_eq!(
            s.get_order(&done).await.unwrap().unwrap().stage,
            Stage::Done
        );
    }
}
