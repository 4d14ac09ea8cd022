//! `ship_to_dsco`: stage 3 → 4, and later packages of stage-4 orders (R4, R6).
//!
//! One DSCO shipment per tracking number, each recorded as an intent before the batch call; the
//! order moves to 4 when DSCO confirms its first shipment. A tracking number already on the DSCO
//! order or already sent is never sent again; after an unclear outcome the DSCO order is read
//! back before anything is re-sent. Stage-4 orders stay under watch until DSCO's lifecycle is
//! `completed`; the ship job never clears their dirty mark (the invoice job decides them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use domain::intent::Gate;
use domain::mapping::SkuMaps;
use domain::order::{DscoLifecycle, DscoOrderView, DscoStatus};
use domain::rules::{
    Decision, ShipContext, ShipWrite, decide_ship, dsco_before_ack, dsco_lets_ship, map_outbounds,
};
use domain::{JobName, PoNumber, Reason, ReasonCode, ReasonKind, Stage};
use dsco::{ChunkResult, DscoError, OrderKey, RequestKind, ShipmentsForOrder};
use serde_json::json;
use store::{Intent, IntentKind, IntentState, IntentUpdate, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    LxViews, Outcomes, Settled, StateCheck, advance_many, candidates, skip_many, skip_refused,
    views_of,
};
use super::lx_feed::follow_while;
use super::outbound::refresh;
use super::write::{DscoWrite, Step, dsco_gate};
use crate::{JobError, RunCtx};

pub struct ShipToDsco(pub Arc<Clients>);

/// What a ship run decides its orders with.
pub(crate) struct ShipBatch {
    views: LxViews,
    sku: SkuMaps,
    /// Whether the change feed was read (else waiting orders are looked at again next run).
    feed_read: bool,
    /// Tracking numbers DSCO shows on orders that advance (or stay watched), stored together.
    tracked: Vec<(PoNumber, Vec<String>)>,
    /// Gathered orders whose outbound orders are still to be read, in the order they are read
    /// ([`PART`] at a time): each part is decided and sent while the next is read.
    deferred: std::collections::VecDeque<OrderRecord>,
    /// With parts to read: the stage-3 orders DSCO did not let ship yet that needed no read,
    /// decided last, on their DSCO state read again then (a pull may have brought
    /// `shipment_pending` while the parts were read).
    last: Vec<OrderRecord>,
    /// Stage-3 orders pulled before their ACK whose ACK DSCO confirmed ([`acknowledged`]).
    acked: BTreeSet<PoNumber>,
    /// Every order a run reading a backlog (more outbound reads than one part) took in to
    /// decide, so that none is taken in twice.
    seen: BTreeSet<PoNumber>,
    /// How many more times the run may take in orders that reached stage 3 ([`TAKE_INS`] when
    /// it reads a backlog, else none).
    take_ins: usize,
    /// Stage-2 orders whose outbound orders are read after every stage-3 and stage-4 one, not
    /// decided ([`shipped_ahead`]).
    ahead: std::collections::VecDeque<OrderRecord>,
}

/// How many times a backlog run takes in the orders that reached stage 3 since it began (once
/// before each part, a part a few seconds of reads): what bounds the run's length.
const TAKE_INS: usize = 20;

/// Orders whose outbound orders a part of a ship run reads (five `wmsOrderList` calls, a few
/// seconds on a backlog at LingXing's one call in flight): a backlog's first shipments go out
/// after its first part is read, not after all of them, and `wmsOrderList` stays busy while
/// they are sent.
pub const PART: usize = 5 * super::outbound::POS_PER_CALL;

fn to_dsco(w: &ShipWrite) -> ShipmentsForOrder {
    ShipmentsForOrder {
        po_number: Some(w.po.clone()),
        dsco_order_id: None,
        supplier_order_number: None,
        shipments: w
            .shipments
            .iter()
            .map(|s| dsco::Shipment {
                tracking_number: s.tracking_number.clone(),
                ship_date: s.ship_date,
                ship_carrier: s.carrier.clone(),
                ship_method: s.method.clone(),
                shipping_service_level_code: s.service_level.clone(),
                warehouse_code: s.warehouse_code.clone(),
                line_items: s
                    .lines
                    .iter()
                    .map(|l| dsco::ShipmentLine {
                        line_number: l.line_number,
                        sku: l.sku.clone(),
                        partner_sku: l.partner_sku.clone(),
                        dsco_item_id: l.dsco_item_id.clone(),
                        quantity: l.quantity,
                        package_span_flag: l.package_span.then_some(true),
                    })
                    .collect(),
                ..dsco::Shipment::default()
            })
            .collect(),
    }
}

/// The pulled `dscoStatus` and `dscoLifecycle` columns, as [`decide_ship`] reads them (an empty
/// status is none).
fn pulled_state(o: &OrderRecord) -> (Option<DscoStatus>, Option<DscoLifecycle>) {
    (
        o.pulled
            .dsco_status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(DscoStatus::parse),
        o.pulled.dsco_lifecycle.as_deref().map(DscoLifecycle::parse),
    )
}

/// Whether DSCO lets a shipment go (R4, [`dsco_lets_ship`]) on the pulled columns; `acked`: the
/// orders whose ACK DSCO confirmed.
fn dsco_sendable(o: &OrderRecord, acked: &BTreeSet<PoNumber>) -> bool {
    let (status, lifecycle) = pulled_state(o);
    dsco_lets_ship(
        status.as_ref(),
        lifecycle.as_ref(),
        acked.contains(&o.pulled.po),
    )
}

/// The stage-3 orders of `batch` pulled before their ACK (the pull reads DSCO's
/// `shipment_pending` only after its `until` lag) whose ACK DSCO confirmed after the pulled
/// state's last update: they ship now ([`dsco_lets_ship`]). A state DSCO changed after the
/// confirmation (support taking the acknowledgement back: `created` again) is newer and stands.
/// One intent read, for those orders only.
async fn acknowledged(ctx: &RunCtx, batch: &[OrderRecord]) -> Result<BTreeSet<PoNumber>, JobError> {
    let pulled: BTreeMap<PoNumber, Option<chrono::DateTime<chrono::Utc>>> = batch
        .iter()
        .filter(|o| {
            let (status, lifecycle) = pulled_state(o);
            o.stage == Stage::Acknowledged && dsco_before_ack(status.as_ref(), lifecycle.as_ref())
        })
        .map(|o| (o.pulled.po.clone(), o.pulled.dsco_updated_at))
        .collect();
    if pulled.is_empty() {
        return Ok(BTreeSet::new());
    }
    let pos: Vec<PoNumber> = pulled.keys().cloned().collect();
    Ok(ctx
        .store
        .intents_of(&pos, &[IntentKind::Ack])
        .await?
        .into_iter()
        .filter(|(po, intents)| {
            let since = pulled.get(po).copied().flatten();
            intents.iter().any(|i| {
                i.state == IntentState::Confirmed && since.is_none_or(|t| i.updated_at > t)
            })
        })
        .map(|(po, _)| po)
        .collect())
}

/// On a backlog (of this run's reads, or of orders LingXing shipped before their ACK: see
/// `read_ahead` in `gather`), the stage-2 orders LingXing shows shipped (as a backlog's far
/// side mostly is) whose outbound orders were never read or are stale: read after every
/// stage-3 and stage-4 order of the run (`wmsOrderList` would idle otherwise), so that they ship
/// as soon as DSCO confirms their ACK instead of waiting for a read then. Read only: the ACK job
/// decides them, and each is read once (a later run reads it again only if LingXing moved it).
async fn shipped_ahead(
    ctx: &RunCtx,
    views: &mut LxViews,
) -> Result<std::collections::VecDeque<OrderRecord>, JobError> {
    let (_, orders) = ctx
        .store
        .entered_before(Stage::Pushed, ctx.clock.now(), ctx.size())
        .await?;
    let pos: Vec<PoNumber> = orders.iter().map(|o| o.pulled.po.clone()).collect();
    views.reread(ctx, &pos).await?;
    Ok(orders
        .into_iter()
        .filter(|o| {
            // Shipped, not just audited: read earlier, the read finds nothing yet and the
            // package's departure makes it stale again (read twice).
            let (view, _) = views.get(&o.pulled.po);
            view.shipped() && view.outbounds_stale()
        })
        .collect())
}

/// The orders of `batch` DSCO did not let ship when the run read them, read again after the
/// outbound reads. Those take a while on a backlog (`wmsOrderList`: one call in flight, 200 POs
/// a call, 10,000 orders 20 s at 0.4 s a call), during which a pull may have seen DSCO move them
/// to `shipment_pending`: read again, they ship in this run instead of waiting a whole run more.
/// The same orders only (one that became a candidate meanwhile has had no outbound read and
/// waits for the next run), each kept as first read if it moved to another stage meanwhile.
async fn fresher_dsco_state(
    ctx: &RunCtx,
    batch: &mut [OrderRecord],
    acked: &BTreeSet<PoNumber>,
) -> Result<(), JobError> {
    let waiting: Vec<PoNumber> = batch
        .iter()
        .filter(|o| !dsco_sendable(o, acked))
        .map(|o| o.pulled.po.clone())
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let mut fresh: BTreeMap<PoNumber, OrderRecord> = ctx
        .store
        .orders_by_po(&waiting)
        .await?
        .into_iter()
        .map(|o| (o.pulled.po.clone(), o))
        .collect();
    let mut ready = 0;
    for o in batch.iter_mut() {
        if let Some(f) = fresh.remove(&o.pulled.po)
            && f.stage == o.stage
        {
            ready += usize::from(dsco_sendable(&f, acked));
            *o = f;
        }
    }
    tracing::debug!(
        read_again = waiting.len(),
        ready_now = ready,
        "ship: DSCO state read again after the outbound reads"
    );
    Ok(())
}

/// Whether a candidate's outbound orders are read: LingXing audited it and something may have
/// changed since they were last read (an order just acknowledged whose LingXing orders did not
/// move since their audit has none out yet, and the feed wakes it when one leaves), or a due
/// recheck of a waiting or retrying order (the weekly one, a retry) whatever the feed said. An
/// order re-decided for a config change (needs attention, held) decides on what was read.
fn needs_read(ctx: &RunCtx, views: &LxViews, o: &OrderRecord) -> bool {
    let (view, _) = views.get(&o.pulled.po);
    let recheck = o
        .reason
        .as_ref()
        .is_some_and(|r| matches!(r.kind, ReasonKind::Waiting | ReasonKind::Retrying))
        && o.next_attempt_at.is_none_or(|t| t <= ctx.clock.now());
    view.audited() && (recheck || view.outbounds_stale())
}

/// The orders that reached stage 3 since a backlog run began and that it has not taken in (an
/// ACK confirmed meanwhile, mostly): those whose outbound orders need a read go to the front of
/// the run's reads, the others are returned to be decided with the next part.
///
/// The candidates' PO numbers are read first and only the new orders in full: most candidates
/// are the run's own orders still to be decided (all of them before its second part), read
/// whole at every take-in they were 45,000 order rows read and dropped in a run of 10,000.
async fn take_in(ctx: &RunCtx, b: &mut ShipBatch) -> Result<Vec<OrderRecord>, JobError> {
    let new: Vec<PoNumber> = ctx
        .store
        .candidate_pos(Stage::Acknowledged, ctx.clock.now(), ctx.size())
        .await?
        .into_iter()
        .filter(|po| !b.seen.contains(po))
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    // Still at stage 3 (a concurrent run may have moved one since): as a candidate would be.
    let mut new: Vec<OrderRecord> = ctx
        .store
        .orders_by_po(&new)
        .await?
        .into_iter()
        .filter(|o| o.stage == Stage::Acknowledged)
        .collect();
    new.sort_by(|a, b| (a.stage_entered_at, &a.pulled.po).cmp(&(b.stage_entered_at, &b.pulled.po)));
    // Some were read ahead by this run: their marks hold its view writes already.
    b.views.read_after_own_writes(&mut new);
    let pos: Vec<PoNumber> = new.iter().map(|o| o.pulled.po.clone()).collect();
    b.seen.extend(pos.iter().cloned());
    // Read with the run's parts from now on (at stage 3), not again among the reads ahead.
    b.ahead.retain(|o| !b.seen.contains(&o.pulled.po));
    b.views.reread(ctx, &pos).await?;
    b.acked.extend(acknowledged(ctx, &new).await?);
    let (read, now): (Vec<_>, Vec<_>) = new.into_iter().partition(|o| needs_read(ctx, &b.views, o));
    tracing::debug!(
        read = read.len(),
        decided = now.len(),
        "ship: orders that reached stage 3 during the run taken in"
    );
    for o in read.into_iter().rev() {
        b.deferred.push_front(o);
    }
    Ok(now)
}

/// The orders of `batch` whose outbound orders are to be read ([`needs_read`]), readiest first:
/// what can ship at once, stage 3 before the watched stage 4, and among them the orders DSCO
/// already lets ship (the others may become ready while the rest is read).
fn to_read(
    ctx: &RunCtx,
    views: &LxViews,
    batch: &[OrderRecord],
    acked: &BTreeSet<PoNumber>,
) -> Vec<OrderRecord> {
    let mut need: Vec<OrderRecord> = batch
        .iter()
        .filter(|o| needs_read(ctx, views, o))
        .cloned()
        .collect();
    need.sort_by_key(|o| (o.stage != Stage::Acknowledged, !dsco_sendable(o, acked)));
    need
}

/// Reads the outbound orders of the first [`PART`] of the stage-3 candidates whose stored views
/// need them (as `gather` orders them), while the run waits for a feed read; answers how many.
/// Stored like any read: the run then reads its candidates, and their views, after both, and an
/// order read here needs no read again unless the feed showed it changed since (its outbound
/// orders are then older than its last update, see `LxView::outbounds_stale`). A LingXing error
/// leaves the reads to the run, as they would have been.
async fn read_early(ctx: &RunCtx, clients: &Clients) -> Result<usize, JobError> {
    let batch = candidates(ctx, Stage::Acknowledged).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut views = views_of(ctx, &batch).await?;
    let acked = acknowledged(ctx, &batch).await?;
    let mut need = to_read(ctx, &views, &batch, &acked);
    if need.is_empty() {
        return Ok(0);
    }
    need.truncate(PART);
    tracing::debug!(
        orders = need.len(),
        "ship: reading outbound orders while the feed is read"
    );
    match refresh(ctx, clients, &need, &mut views).await {
        Ok(()) => Ok(need.len()),
        Err(e) => {
            tracing::debug!(error = %e, "ship: the early outbound reads failed; the run reads them");
            Ok(0)
        }
    }
}

/// The stage-3 orders among `orders` wait (`lingxing_unavailable`): their outbound orders could
/// not be read (`e`).
async fn outbounds_unread<'a>(
    ctx: &RunCtx,
    orders: impl Iterator<Item = &'a OrderRecord>,
    e: &lingxing::LingxingError,
) -> Result<(), JobError> {
    let r = Reason::new(
        ReasonCode::LingxingUnavailable,
        format!("wmsOrderList: {e}"),
    );
    let skips: Vec<_> = orders
        .filter(|o| o.stage == Stage::Acknowledged)
        .map(|o| (o, r.clone()))
        .collect();
    skip_many(ctx, &skips).await
}

/// Readies `orders` for their decision once their outbound orders are stored: the run's own view
/// writes counted into their marks, then, when outbound orders were read (`reread`), the ones
/// DSCO did not let ship read again ([`fresher_dsco_state`]). In this order: a re-read order's
/// marks already hold the run's writes, and counted again they would mark it for a decision
/// next run for nothing.
async fn ready_to_decide(
    ctx: &RunCtx,
    views: &LxViews,
    acked: &BTreeSet<PoNumber>,
    orders: &mut [OrderRecord],
    reread: bool,
) -> Result<(), JobError> {
    views.own_marks(orders);
    if reread {
        fresher_dsco_state(ctx, orders, acked).await?;
    }
    Ok(())
}

#[async_trait]
impl DscoWrite for ShipToDsco {
    const JOB: JobName = JobName::ShipToDsco;
    type Batch = ShipBatch;
    type Write = ShipWrite;
    type Item = ShipmentsForOrder;
    const KIND: IntentKind = IntentKind::Shipment;
    const READS: &'static [IntentKind] = &[IntentKind::Shipment];
    const LOG: RequestKind = RequestKind::Shipment;
    const CHECK: StateCheck = StateCheck::Tracking;
    /// One intent per tracking number; a re-send after a refusal or an unclear outcome starts
    /// from pending again.
    const RESTART: bool = true;
    /// Stage-4 orders sending later packages keep their reason.
    const FROM: Stage = Stage::Acknowledged;

    fn dsco(&self) -> &dsco::DscoClient {
        &self.0.dsco
    }

    /// Everything the request settled, written together: the intents, the tracking numbers,
    /// the stage moves and the refusals, a few transactions per request.
    async fn confirm(&self, ctx: &RunCtx, settled: &Settled) -> Result<(), JobError> {
        let request = settled.request_id.as_str();
        let mut updates = Vec::new();
        let mut tracked: Vec<(PoNumber, Vec<String>)> = Vec::new();
        let mut confirmed: BTreeMap<PoNumber, (Vec<String>, &'static str)> = BTreeMap::new();
        let mut refused: BTreeMap<PoNumber, String> = BTreeMap::new();
        for (po, outcome) in settled.items.iter().cloned() {
            let Ok(p) = PoNumber::parse(&po) else {
                continue;
            };
            // The tracking numbers this request carried for the order.
            let mine = settled.sent.get(&po).cloned().unwrap_or_default();
            let (state, text) = match &outcome {
                Ok(_) => (IntentState::Confirmed, request.to_owned()),
                Err(text) => (IntentState::Failed, text.clone()),
            };
            updates.extend(mine.iter().map(|t| IntentUpdate {
                key: t.clone(),
                state,
                outcome: text.clone(),
            }));
            match outcome {
                Ok(how) => {
                    tracked.push((p.clone(), mine.clone()));
                    confirmed.insert(p, (mine, how));
                }
                Err(text) => {
                    refused.insert(p, format!("{}: {text}", mine.join(",")));
                }
            }
        }
        ctx.store
            .update_intents(IntentKind::Shipment, &updates, ctx.clock.now(), &ctx.fence)
            .await?;
        ctx.store.add_trackings(&tracked, &ctx.fence).await?;
        // The stages only: a confirmed order moves from 3 or stays watched at 4; only the refused
        // ones are read whole, for their reasons.
        let pos: Vec<PoNumber> = confirmed.keys().cloned().collect();
        let stages = ctx.store.stages_of(&pos).await?;
        let mut moves = Vec::new();
        let mut later = Vec::new();
        for (po, (mine, how)) in confirmed {
            match stages.get(&po) {
                Some(Stage::Acknowledged) => moves.push((
                    po,
                    Stage::Acknowledged,
                    Stage::Shipped,
                    format!("DSCO confirmed shipment {} ({how})", mine.join(",")),
                )),
                // The invoice job waits for every tracking number's confirmation.
                Some(_) => later.push(po),
                None => {}
            }
        }
        advance_many(ctx, moves).await?;
        if !later.is_empty() {
            ctx.store.mark_dirty(&later, Some(&ctx.fence)).await?;
        }
        skip_refused(ctx, &refused, None).await
    }

    async fn gather(
        &self,
        ctx: &RunCtx,
    ) -> Result<Option<(Vec<OrderRecord>, ShipBatch)>, JobError> {
        // A run that waits for a feed read (its own, or the ACK job's in flight) reads meanwhile
        // the first part's outbound orders that the stored views already call for:
        // `wmsOrderList` would idle otherwise, and after downtime that read is long. A run
        // served by a read that just ended goes on at once.
        let (followed, early) = follow_while(ctx, &self.0, async {
            if ctx.only_po.is_none() {
                read_early(ctx, &self.0).await
            } else {
                Ok(0)
            }
        })
        .await;
        // Orders whose outbound orders were read early: the run's first part.
        let early = early?;
        // Decided on stored views when the feed is unreadable: a waiting order is then looked
        // at again next run, not left to sleep on views the feed could not bring up to date.
        let shipped_before_ack = match followed {
            Ok(feed) => Some(feed.shipped_before_ack),
            Err(e) => {
                tracing::warn!(error = %e, "LingXing change feed unreadable; deciding on stored views");
                None
            }
        };
        let feed_read = shipped_before_ack.is_some();
        // LingXing shipped a part's worth of orders still waiting for their ACK (after
        // downtime, a far side that went on working): they are read ahead even when this run
        // has no backlog of its own, instead of `wmsOrderList` idling until their ACKs land.
        // (In a normal day LingXing ships hours after the ACK: no read ahead, no scan.)
        let read_ahead = ctx.only_po.is_none() && shipped_before_ack.is_some_and(|n| n >= PART);
        let mut batch = candidates(ctx, Stage::Acknowledged).await?;
        let watched: Vec<OrderRecord> = candidates(ctx, Stage::Shipped)
            .await?
            .into_iter()
            .filter(|o| {
                o.pulled.dsco_lifecycle.as_deref().map(DscoLifecycle::parse)
                    != Some(DscoLifecycle::Completed)
            })
            .collect();
        batch.extend(watched);
        if batch.is_empty() && !read_ahead {
            return Ok(None);
        }
        let acked = acknowledged(ctx, &batch).await?;
        let mut views = views_of(ctx, &batch).await?;
        let mut need = to_read(ctx, &views, &batch, &acked);
        tracing::debug!(
            candidates = batch.len(),
            outbounds_read = need.len(),
            "ship: reading outbound orders"
        );
        let deferred: std::collections::VecDeque<OrderRecord> =
            need.split_off(need.len().min(PART)).into();
        // More than a part to read, counting the part read early.
        let parts = !deferred.is_empty() || (early > 0 && early + need.len() > PART);
        let mut last = Vec::new();
        let mut ahead = std::collections::VecDeque::new();
        if ctx.only_po.is_none() && (parts || read_ahead) {
            ahead = shipped_ahead(ctx, &mut views).await?;
        }
        if batch.is_empty() && ahead.is_empty() {
            return Ok(None);
        }
        // More than one part: the reads still to do, or the reads ahead.
        let backlog = parts || !ahead.is_empty();
        let mut seen = BTreeSet::new();
        if backlog {
            seen = batch.iter().map(|o| o.pulled.po.clone()).collect();
            let later: BTreeSet<&PoNumber> = deferred.iter().map(|o| &o.pulled.po).collect();
            let reads: BTreeSet<&PoNumber> = need.iter().map(|o| &o.pulled.po).collect();
            let (now, not_ready): (Vec<_>, Vec<_>) = std::mem::take(&mut batch)
                .into_iter()
                .filter(|o| !later.contains(&o.pulled.po))
                .partition(|o| {
                    o.stage != Stage::Acknowledged
                        || dsco_sendable(o, &acked)
                        || reads.contains(&o.pulled.po)
                });
            batch = now;
            last = not_ready;
        }
        if let Err(e) = refresh(ctx, &self.0, &need, &mut views).await {
            outbounds_unread(ctx, batch.iter().chain(&deferred).chain(&last), &e).await?;
            return Ok(None);
        }
        ready_to_decide(ctx, &views, &acked, &mut batch, !need.is_empty()).await?;
        let sku = SkuMaps::new(ctx.store.sku_map().await?.effective());
        Ok(Some((
            batch,
            ShipBatch {
                views,
                sku,
                feed_read,
                tracked: Vec::new(),
                deferred,
                last,
                acked,
                seen,
                take_ins: if backlog { TAKE_INS } else { 0 },
                ahead,
            },
        )))
    }

    /// The next part of a backlog run: first the orders that reached stage 3 since it began
    /// (taken in, read with this part when they need it); then the next [`PART`] of the orders
    /// whose outbound orders were still to be read, decided once read; once those are read, the
    /// orders left for last, and the stage-2 orders read ahead ([`shipped_ahead`]), a part at a
    /// time, not decided. `None` when nothing is left.
    async fn next_part(
        &self,
        ctx: &RunCtx,
        b: &mut ShipBatch,
    ) -> Result<Option<Vec<OrderRecord>>, JobError> {
        let mut part = if b.take_ins > 0 {
            b.take_ins -= 1;
            take_in(ctx, b).await?
        } else {
            Vec::new()
        };
        let (read, ahead) = if b.deferred.is_empty() {
            part.append(&mut b.last);
            let n = b.ahead.len().min(PART);
            (b.ahead.drain(..n).collect::<Vec<_>>(), true)
        } else {
            let n = b.deferred.len().min(PART);
            (b.deferred.drain(..n).collect(), false)
        };
        if !read.is_empty() {
            tracing::debug!(
                orders = read.len(),
                ahead,
                left = b.deferred.len() + b.ahead.len(),
                "ship: reading the next part's outbound orders"
            );
            match refresh(ctx, &self.0, &read, &mut b.views).await {
                Ok(()) if !ahead => part.extend(read),
                Ok(()) => {}
                Err(e) => {
                    let left = std::mem::take(&mut b.deferred);
                    b.ahead.clear();
                    outbounds_unread(ctx, read.iter().chain(&left), &e).await?;
                    // The orders left for last need no read: still decided.
                    part.append(&mut b.last);
                }
            }
        } else if part.is_empty() {
            return Ok(None);
        }
        ready_to_decide(ctx, &b.views, &b.acked, &mut part, true).await?;
        Ok(Some(part))
    }

    fn decide(
        &self,
        ctx: &RunCtx,
        b: &mut ShipBatch,
        o: &OrderRecord,
        view: &DscoOrderView,
        intents: &[Intent],
        verified: Option<&BTreeSet<String>>,
        out: &mut Outcomes,
    ) -> Step<ShipWrite> {
        let at_3 = o.stage == Stage::Acknowledged;
        // `views` holds what the refresh stored for the orders it read.
        let (lx, _) = b.views.get(&o.pulled.po);
        let shipped = match map_outbounds(view, &lx.outbounds_of(o.pulled.po.as_str()), &b.sku) {
            Ok(s) => s,
            Err(r) => {
                out.skip(ctx, o, &r);
                return Step::Done;
            }
        };
        // Tracking numbers not to send again: submitted, confirmed, refused (until the order
        // changes), or found on DSCO after an unclear answer. A failed one may be sent again
        // once the order changed.
        let mut sent = BTreeSet::new();
        let mut refused = None;
        let mut unclear = Vec::new();
        for i in intents.iter().filter(|i| i.kind == IntentKind::Shipment) {
            match dsco_gate(o, Some(i), verified.map(|v| v.contains(&i.key))) {
                Gate::Wait | Gate::Confirmed | Gate::Applied => {
                    sent.insert(i.key.clone());
                }
                Gate::Refused => {
                    refused = Some(format!("{}: {}", i.key, i.outcome));
                    sent.insert(i.key.clone());
                }
                Gate::Verify => unclear.push(i.key.clone()),
                Gate::Send => {}
            }
        }
        if !unclear.is_empty() {
            // Did the unclear ones reach DSCO? Read the order back (only after an unclear write).
            return Step::Verify(unclear);
        }
        let settings = ctx.job_config.as_ref().map(|j| &j.settings);
        let cx = ShipContext {
            already_sent: &sent,
            require_full_shipment: settings
                .and_then(|s| s.require_full_shipment)
                .unwrap_or(false),
            multi_ban: settings.and_then(|s| s.multi_ban).unwrap_or(false),
            carrier_map: Some(&ctx.config.mapping.carrier),
            lingxing: &lx.lx_orders(),
            ack_confirmed: b.acked.contains(&o.pulled.po),
        };
        match decide_ship(view, &shipped, &cx) {
            Decision::Advance { note } => {
                b.tracked.push((o.pulled.po.clone(), view.packages.clone()));
                if at_3 {
                    out.advance(&o.pulled.po, Stage::Acknowledged, Stage::Shipped, note);
                }
                Step::Done
            }
            Decision::Skip(r) if at_3 => {
                // Nothing new to send: say why the order still waits (a refusal of what was
                // sent, or DSCO's confirmation) rather than "no tracking yet".
                let r = match (&refused, r.code) {
                    (Some(text), ReasonCode::NoTrackingYet) => {
                        Reason::new(ReasonCode::DscoRejected, text.clone())
                    }
                    (None, ReasonCode::NoTrackingYet) if !sent.is_empty() => Reason::new(
                        ReasonCode::DscoConfirmationPending,
                        sent.iter().cloned().collect::<Vec<_>>().join(","),
                    ),
                    _ => r,
                };
                let next_run =
                    (!b.feed_read && r.kind() == ReasonKind::Waiting).then(|| ctx.clock.now());
                out.skip_until(ctx, o, &r, next_run);
                Step::Done
            }
            Decision::Skip(_) => {
                ctx.count(|c| c.processed += 1);
                Step::Done
            }
            Decision::Write(w) => Step::Write(w),
        }
    }

    async fn verify(
        &self,
        o: &OrderRecord,
        keys: &[String],
    ) -> Result<BTreeSet<String>, DscoError> {
        let orders = self
            .0
            .dsco
            .get_orders(OrderKey::PoNumber, o.pulled.po.as_str())
            .await?;
        let on_dsco: BTreeSet<String> = orders
            .iter()
            .filter_map(|d| DscoOrderView::from_json(d.raw().get()).ok())
            .flat_map(|v| v.packages)
            .collect();
        Ok(keys
            .iter()
            .filter(|t| on_dsco.contains(*t))
            .cloned()
            .collect())
    }

    async fn applied(
        &self,
        ctx: &RunCtx,
        found: Vec<(PoNumber, Vec<String>)>,
    ) -> Result<(), JobError> {
        let updates: Vec<IntentUpdate> = found
            .iter()
            .flat_map(|(_, keys)| keys.iter())
            .map(|t| IntentUpdate {
                key: t.clone(),
                state: IntentState::Confirmed,
                outcome: "found on the DSCO order".into(),
            })
            .collect();
        ctx.store
            .update_intents(IntentKind::Shipment, &updates, ctx.clock.now(), &ctx.fence)
            .await?;
        ctx.store.add_trackings(&found, &ctx.fence).await?;
        Ok(())
    }

    fn unverified(
        &self,
        _ctx: &RunCtx,
        o: &OrderRecord,
        e: &DscoError,
        _out: &mut Outcomes,
    ) -> Result<(), JobError> {
        Err(JobError::Failed(format!(
            "verifying shipments of {}: {e}",
            o.pulled.po
        )))
    }

    async fn decided(&self, ctx: &RunCtx, b: &mut ShipBatch) -> Result<(), JobError> {
        let tracked = std::mem::take(&mut b.tracked);
        ctx.store.add_trackings(&tracked, &ctx.fence).await?;
        Ok(())
    }

    fn intents(&self, o: &OrderRecord, w: &ShipWrite) -> Vec<NewIntent> {
        w.shipments
            .iter()
            .map(|s| NewIntent {
                key: s.tracking_number.clone(),
                po: o.pulled.po.clone(),
                payload: json!({"poNumber": w.po, "trackingNumber": s.tracking_number}),
            })
            .collect()
    }

    fn chunk_key(&self, w: &ShipWrite) -> String {
        w.po.clone()
    }

    fn request(&self, w: &ShipWrite) -> ShipmentsForOrder {
        to_dsco(w)
    }

    fn plan(&self, items: &[ShipmentsForOrder]) -> Result<Vec<dsco::PlannedRequest>, DscoError> {
        self.0.dsco.plan_ship_batch(items)
    }

    async fn send(&self, items: &[ShipmentsForOrder]) -> Result<Vec<ChunkResult>, DscoError> {
        self.0.dsco.ship_batch(items).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use store::PulledOrder;

    fn order(status: Option<&str>, lifecycle: Option<&str>) -> OrderRecord {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        OrderRecord {
            pulled: PulledOrder {
                po: PoNumber::parse("PO-1").unwrap(),
                dsco_order_id: None,
                retailer_id: None,
                dsco_status: status.map(str::to_owned),
                dsco_lifecycle: lifecycle.map(str::to_owned),
                dsco_created_at: None,
                dsco_updated_at: None,
                warehouse_code: None,
                service_level: None,
                skus: String::new(),
                payload: domain::order::RawJson::from_store("{}".into()),
            },
            stage: Stage::Acknowledged,
            store_id: None,
            lingxing_order_nos: Vec::new(),
            tracking: Vec::new(),
            invoice_id: None,
            flags: Vec::new(),
            reason: None,
            attempts: 0,
            next_attempt_at: None,
            stage_entered_at: t,
            created_at: t,
            updated_at: t,
            marks: 0,
            ignored_at: None,
        }
    }

    /// The ship job reads again exactly the orders R4 does not let ship yet: `dscoStatus`
    /// `shipment_pending` or `shipped`, or, without a status, an acknowledged lifecycle.
    #[test]
    fn sendable_is_rule_r4_on_the_pulled_columns() {
        for (status, lifecycle, sendable) in [
            (Some("shipment_pending"), Some("acknowledged"), true),
            (Some("shipped"), Some("acknowledged"), true),
            (Some("created"), Some("acknowledged"), false),
            (Some("cancelled"), Some("acknowledged"), false),
            (Some("created"), Some("created"), false),
            (None, Some("acknowledged"), true),
            (Some(""), Some("acknowledged"), true),
            (None, Some("created"), false),
            (None, Some("completed"), false),
            (None, None, false),
        ] {
            assert_eq!(
                dsco_sendable(&order(status, lifecycle), &BTreeSet::new()),
                sendable,
                "{status:?} / {lifecycle:?}"
            );
        }
    }
}
