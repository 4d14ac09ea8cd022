//! `push_to_lingxing`: stage 1 → 2 (R1, R2).
//!
//! Decide every candidate (mappings, address, prices); check existence in LingXing for all the
//! orders to create with one order-list call per 200 POs (`include_delete`); advance the ones that
//! exist; record a create intent for the rest and create them per store, in chunks, reading each
//! order's result from `success_details` / `error_details`. A failed existence check never falls
//! through to a create; an `Ambiguous` create is resolved by the existence check of the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use domain::lx_view::{LxView, LxViewOrder, LxViewPart};
use domain::mapping::SkuMaps;
use domain::rules::{Decision, PushOrder, decide_push};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use futures::{StreamExt, TryStreamExt};
use lingxing::{CreateOrdersRequest, NewOrder, NewOrderItem};
use store::{
    EventOutcome, IntentKind, IntentState, IntentUpdate, LingxingView, NewIntent, OrderRecord,
};

use super::Clients;
use super::common::{
    CANCELLED_AFTER_PUSH, Outcomes, advance_many, candidates, dry, dsco_view, keeps_requests,
    lingxing_reason, note_many, record_intents, report_request, settle_intents, skip_many,
    write_hold,
};
use super::lx_feed::merge_orders;
use crate::{Job, JobError, RunCtx};

/// Orders per create call when the job sets no `batch_size`: LingXing documents no cap on
/// `orders[]`; 200 matches the order list's cap on `platform_order_nos`, so the existence check
/// after an unclear create of a whole chunk is one call.
const DEFAULT_CHUNK: usize = 200;

pub struct PushToLingxing(pub Arc<Clients>);

fn new_order(p: &PushOrder) -> NewOrder {
    NewOrder {
        platform_order_no: p.platform_order_no.clone(),
        receiver_country_code: p.receiver_country_code.clone(),
        receiver_name: p.receiver_name.clone(),
        city: p.city.clone(),
        address_line1: p.address_line1.clone(),
        address_line2: p.address_line2.clone(),
        state_or_region: p.state_or_region.clone(),
        postal_code: p.postal_code.clone(),
        receiver_mobile: p.receiver_mobile.clone(),
        wid: p.wid.clone(),
        logistics_type_id: p.logistics_type_id.clone(),
        amount_currency: p.currency.clone(),
        items: p
            .lines
            .iter()
            .map(|l| NewOrderItem {
                sku: l.sku.clone(),
                msku: if l.sku.is_some() {
                    None
                } else {
                    Some(l.msku.clone())
                },
                quantity: u32::try_from(l.quantity).unwrap_or(u32::MAX),
                unit_price: l.unit_price,
                stock_deduction_type: None,
            })
            .collect(),
        ..NewOrder::default()
    }
}

impl PushToLingxing {
    fn create_request(
        &self,
        store_id: &str,
        part: &[(OrderRecord, PushOrder)],
    ) -> CreateOrdersRequest {
        CreateOrdersRequest {
            platform_code: self.0.platform_code,
            store_id: store_id.to_owned(),
            orders: part.iter().map(|(_, p)| new_order(p)).collect(),
        }
    }

    /// One create call for one store's chunk: its intents stored first, then the call, then
    /// each order's result on its intent and the order. An order that left stage 1 since the run
    /// read it (DSCO cancelled it, and a pull moved it) is not sent: its intent fails. The stages
    /// are read after the intents are stored, so a pull that cancels an order after that read
    /// finds the intent open and flags the order (`close_superseded`), and one that cancels it
    /// before is seen here.
    async fn create_chunk(
        &self,
        ctx: &RunCtx,
        store_id: &str,
        part: &[(OrderRecord, PushOrder)],
    ) -> Result<(), JobError> {
        let intents: Vec<NewIntent> = part
            .iter()
            .map(|(o, p)| NewIntent {
                key: o.pulled.po.to_string(),
                po: o.pulled.po.clone(),
                payload: serde_json::to_value(new_order(p)).unwrap_or_default(),
            })
            .collect();
        record_intents(ctx, IntentKind::Create, &intents, false).await?;
        let pos: Vec<PoNumber> = part.iter().map(|(o, _)| o.pulled.po.clone()).collect();
        let stages = ctx.store.stages_of(&pos).await?;
        let here = |o: &OrderRecord| stages.get(&o.pulled.po) == Some(&Stage::Pulled);
        if part.iter().all(|(o, _)| here(o)) {
            return self.send_chunk(ctx, store_id, part).await;
        }
        let gone: Vec<String> = part
            .iter()
            .filter(|(o, _)| !here(o))
            .map(|(o, _)| o.pulled.po.to_string())
            .collect();
        tracing::info!(
            orders = gone.len(),
            "orders left stage 1 before their create: not sent"
        );
        settle_intents(
            ctx,
            IntentKind::Create,
            gone,
            IntentState::Failed,
            "not sent: the order left stage 1 before its create",
        )
        .await?;
        let kept: Vec<(OrderRecord, PushOrder)> =
            part.iter().filter(|(o, _)| here(o)).cloned().collect();
        if kept.is_empty() {
            return Ok(());
        }
        self.send_chunk(ctx, store_id, &kept).await
    }

    /// The create call of a chunk whose intents are stored, and its outcome.
    async fn send_chunk(
        &self,
        ctx: &RunCtx,
        store_id: &str,
        part: &[(OrderRecord, PushOrder)],
    ) -> Result<(), JobError> {
        let req = self.create_request(store_id, part);
        let notes = part
            .iter()
            .flat_map(|(o, p)| {
                p.notes
                    .iter()
                    .map(|n| (o.pulled.po.clone(), EventOutcome::Noted, n.clone()))
            })
            .collect();
        note_many(ctx, notes).await?;
        // The chunk's order LingXing answered for (an answer for another PO is ignored).
        let of_chunk = |no: &str| part.iter().find(|(o, _)| o.pulled.po.as_str() == no);
        match self.0.lingxing.create_orders(&req).await {
            Ok(result) => {
                let mut answered = BTreeSet::new();
                let (mut confirmed, mut views, mut moves) = (Vec::new(), Vec::new(), Vec::new());
                for c in &result.created {
                    answered.insert(c.platform_order_no.clone());
                    let Some((o, _)) = of_chunk(&c.platform_order_no) else {
                        continue;
                    };
                    confirmed.push(IntentUpdate {
                        key: c.platform_order_no.clone(),
                        state: IntentState::Confirmed,
                        outcome: c.global_order_no.clone(),
                    });
                    // Status 0: not read back yet; the change feed replaces it (or a
                    // lookup by PO when the feed misses it).
                    views.push(LingxingView {
                        po: o.pulled.po.clone(),
                        store_id: Some(store_id.to_owned()),
                        order_nos: vec![c.global_order_no.clone()],
                        snapshot: LxView::listed(vec![LxViewOrder::placeholder(
                            c.global_order_no.clone(),
                        )]),
                        part: LxViewPart::Whole,
                    });
                    moves.push((
                        o.pulled.po.clone(),
                        Stage::Pulled,
                        Stage::Pushed,
                        format!("created in LingXing as {}", c.global_order_no),
                    ));
                }
                // The intents confirmed first, then the views, then the moves.
                ctx.store
                    .update_intents(IntentKind::Create, &confirmed, ctx.clock.now(), &ctx.fence)
                    .await?;
                ctx.store
                    .set_lingxing_views(&views, ctx.clock.now(), &ctx.fence)
                    .await?;
                advance_many(ctx, moves).await?;
                cancelled_meanwhile(ctx, &views).await?;
                let mut failed = Vec::new();
                let mut skips = Vec::new();
                for r in &result.refused {
                    answered.insert(r.platform_order_no.clone());
                    let Some((o, _)) = of_chunk(&r.platform_order_no) else {
                        continue;
                    };
                    failed.push(IntentUpdate {
                        key: r.platform_order_no.clone(),
                        state: IntentState::Failed,
                        outcome: r.error_message.clone(),
                    });
                    // A refusal may be "duplicate number": the next run's existence check
                    // then finds the order and advances it, whatever the wording was.
                    skips.push((
                        o,
                        Reason::new(ReasonCode::LingxingRejected, r.error_message.clone()),
                    ));
                }
                for (o, _) in part
                    .iter()
                    .filter(|(o, _)| !answered.contains(o.pulled.po.as_str()))
                {
                    failed.push(IntentUpdate {
                        key: o.pulled.po.to_string(),
                        state: IntentState::Ambiguous,
                        outcome: "no per-order result".into(),
                    });
                    skips.push((
                        o,
                        Reason::new(
                            ReasonCode::WriteUnconfirmed,
                            "LingXing returned no result for this order",
                        ),
                    ));
                }
                ctx.store
                    .update_intents(IntentKind::Create, &failed, ctx.clock.now(), &ctx.fence)
                    .await?;
                skip_many(ctx, &skips).await?;
            }
            Err(e) => {
                ctx.note_far(&e);
                let reason = lingxing_reason(&e);
                let state = match e {
                    lingxing::LingxingError::Ambiguous { .. } => IntentState::Ambiguous,
                    lingxing::LingxingError::Rejected { .. } => IntentState::Failed,
                    _ => IntentState::Pending,
                };
                let keys = part.iter().map(|(o, _)| o.pulled.po.to_string());
                settle_intents(ctx, IntentKind::Create, keys, state, &e.to_string()).await?;
                let skips: Vec<_> = part.iter().map(|(o, _)| (o, reason.clone())).collect();
                skip_many(ctx, &skips).await?;
            }
        }
        Ok(())
    }
}

/// Orders LingXing has (the views this run stored for what it created or found), after their
/// move to stage 2: those DSCO cancelled meanwhile did not move. A pull that found such an order
/// at stage 1 had nothing in LingXing to cancel, so here they are flagged `cancelled_after_push`
/// and explained (needs attention, naming the LingXing orders); with the pull's
/// `auto_cancel_in_lingxing` a cancel is left pending for the next pull to send
/// (`retry_cancels`), through the same intent as its own cancels.
async fn cancelled_meanwhile(ctx: &RunCtx, in_lingxing: &[LingxingView]) -> Result<(), JobError> {
    if in_lingxing.is_empty() {
        return Ok(());
    }
    let pos: Vec<PoNumber> = in_lingxing.iter().map(|v| v.po.clone()).collect();
    let stages = ctx.store.stages_of(&pos).await?;
    let cancelled: Vec<PoNumber> = pos
        .into_iter()
        .filter(|po| stages.get(po) == Some(&Stage::Cancelled))
        .collect();
    if cancelled.is_empty() {
        return Ok(());
    }
    let auto = super::pull::auto_cancel(ctx);
    let orders = ctx.store.orders_by_po(&cancelled).await?;
    let mut skips = Vec::new();
    for o in &orders {
        let po = &o.pulled.po;
        let nos = in_lingxing
            .iter()
            .find(|v| &v.po == po)
            .map(|v| v.order_nos.as_slice())
            .unwrap_or_default();
        tracing::warn!(po = %po, lingxing = %nos.join(","), "DSCO cancelled the order while it was created in LingXing");
        ctx.store
            .add_flag(po, CANCELLED_AFTER_PUSH, Some(&ctx.fence))
            .await?;
        let then = if auto && !nos.is_empty() {
            let intent = NewIntent {
                key: po.to_string(),
                po: po.clone(),
                payload: serde_json::json!({ "order_list": nos }),
            };
            record_intents(ctx, IntentKind::LingxingCancel, &[intent], true).await?;
            "; the next pull cancels them in LingXing (auto_cancel_in_lingxing): check nothing shipped"
        } else {
            ": cancel them in LingXing"
        };
        let subject = format!(
            "LingXing orders {} created while DSCO cancelled the order{then}",
            nos.join(", ")
        );
        skips.push((o, Reason::new(ReasonCode::CancelledAfterPush, subject)));
    }
    skip_many(ctx, &skips).await
}

#[async_trait]
impl Job for PushToLingxing {
    fn name(&self) -> JobName {
        JobName::PushToLingxing
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        let batch = candidates(ctx, Stage::Pulled).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let sku = SkuMaps::new(ctx.store.sku_map().await?.effective());
        let job = ctx.job_config.as_ref();
        let mut writes: Vec<(OrderRecord, PushOrder)> = Vec::new();
        let mut out = Outcomes::default();
        for o in batch {
            let Some(view) = dsco_view(ctx, &o, ReasonCode::SkuMissing).await? else {
                continue;
            };
            match decide_push(&view, job, &ctx.config.mapping, &sku) {
                Decision::Skip(r) => out.skip(ctx, &o, &r),
                Decision::Advance { note } => {
                    out.advance(&o.pulled.po, Stage::Pulled, Stage::Pushed, note);
                }
                Decision::Write(p) => writes.push((o, p)),
            }
        }
        out.flush(ctx).await?;
        if writes.is_empty() {
            return Ok(());
        }

        // R2: does LingXing already have them? One call per 200 POs; a failure stops here.
        let pos: Vec<String> = writes
            .iter()
            .map(|(o, _)| o.pulled.po.to_string())
            .collect();
        let existing = match self
            .0
            .lingxing
            .orders_by_platform_order_nos(&pos, true)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                ctx.note_far(&e);
                let r = Reason::new(
                    ReasonCode::LingxingUnavailable,
                    format!("existence check: {e}"),
                );
                let skips: Vec<_> = writes.iter().map(|(o, _)| (o, r.clone())).collect();
                return skip_many(ctx, &skips).await;
            }
        };
        let mut found: BTreeMap<String, Vec<&lingxing::Order>> = BTreeMap::new();
        for lx in &existing {
            for po in lx.platform_order_nos() {
                found.entry(po).or_default().push(lx);
            }
        }
        let mut to_create: Vec<(OrderRecord, PushOrder)> = Vec::new();
        let mut views = Vec::new();
        let mut moves = Vec::new();
        for (o, p) in writes {
            match found.get(o.pulled.po.as_str()) {
                Some(lx) => {
                    let nos: Vec<String> = lx.iter().map(|x| x.global_order_no.clone()).collect();
                    moves.push((
                        o.pulled.po.clone(),
                        Stage::Pulled,
                        Stage::Pushed,
                        format!(
                            "already in LingXing as {}: not created again",
                            nos.join(", ")
                        ),
                    ));
                    views.push(LingxingView {
                        po: o.pulled.po.clone(),
                        store_id: Some(p.store_id.clone()),
                        order_nos: nos,
                        snapshot: merge_orders(&LxView::default(), lx),
                        part: LxViewPart::Whole,
                    });
                }
                None => to_create.push((o, p)),
            }
        }
        if !views.is_empty() && dry(ctx) {
            advance_many(ctx, moves).await?;
        } else if !views.is_empty() {
            // Found: their views stored, their create intents (if any) confirmed, moved on.
            let pos: Vec<PoNumber> = views.iter().map(|v| v.po.clone()).collect();
            let open: Vec<IntentUpdate> = ctx
                .store
                .intents_of(&pos, &[IntentKind::Create])
                .await?
                .into_values()
                .flatten()
                .filter(|i| i.kind == IntentKind::Create && i.state != IntentState::Confirmed)
                .filter(|i| i.key == i.po.as_str())
                .map(|i| IntentUpdate {
                    key: i.key,
                    state: IntentState::Confirmed,
                    outcome: "found in LingXing".into(),
                })
                .collect();
            ctx.store
                .set_lingxing_views(&views, ctx.clock.now(), &ctx.fence)
                .await?;
            ctx.store
                .update_intents(IntentKind::Create, &open, ctx.clock.now(), &ctx.fence)
                .await?;
            advance_many(ctx, moves).await?;
            cancelled_meanwhile(ctx, &views).await?;
        }
        if to_create.is_empty() {
            return Ok(());
        }
        if !ctx.dry_run
            && let Some(hold) = write_hold(ctx)
        {
            let skips: Vec<_> = to_create.iter().map(|(o, _)| (o, hold.clone())).collect();
            return skip_many(ctx, &skips).await;
        }

        // Creates, per store, in chunks. The intent is stored before each call.
        let chunk = ctx
            .job_config
            .as_ref()
            .and_then(|j| j.settings.batch_size)
            .map_or(DEFAULT_CHUNK, |n| n as usize);
        let mut by_store: BTreeMap<String, Vec<(OrderRecord, PushOrder)>> = BTreeMap::new();
        for (o, p) in to_create {
            by_store.entry(p.store_id.clone()).or_default().push((o, p));
        }
        let parts: Vec<(&str, &[(OrderRecord, PushOrder)])> = by_store
            .iter()
            .flat_map(|(store_id, orders)| {
                orders.chunks(chunk).map(move |p| (store_id.as_str(), p))
            })
            .collect();
        if keeps_requests(ctx) {
            for (store_id, part) in &parts {
                let req = self.create_request(store_id, part);
                let pos = part.iter().map(|(o, _)| o.pulled.po.to_string()).collect();
                let plan = crate::PlannedRequest::from_lingxing(
                    self.0.lingxing.plan_create_orders(&req),
                    pos,
                    !ctx.dry_run,
                );
                report_request(ctx, plan, Stage::Pulled).await?;
            }
        }
        if ctx.dry_run {
            return Ok(());
        }
        // The chunks' creates overlap up to the endpoint's capacity (the client's slots pace
        // them): a backlog of 2,000 new orders is 10 creates, 4 s one after another at 0.4 s a
        // call. Each chunk keeps its own order of steps (intents stored, the call, its outcome
        // on intents and orders), so a run stopped anywhere leaves each chunk as a run stopped
        // in that chunk did before. (Collected first, as in the client's list reads: a stream
        // holding a closure over borrowed chunks makes the run's future unsendable.)
        let creates: Vec<_> = parts
            .iter()
            .map(|(store_id, part)| self.create_chunk(ctx, store_id, part))
            .collect();
        futures::stream::iter(creates)
            .buffer_unordered(lingxing::Endpoint::OrderCreate.capacity())
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
