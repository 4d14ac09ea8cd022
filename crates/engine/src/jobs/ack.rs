//! `ack_to_dsco`: stage 2 → 3 (R3, R6).
//!
//! How fresh must DSCO's status be, and what does it cost? R3 asks whether DSCO already
//! acknowledged the order (then no ACK is sent). The store's copy of the DSCO order is refreshed
//! by every `pull_dsco_orders` run, which reads all orders *updated* since its last window — so
//! the copy is at most one pull period old, at no per-order cost. That is fresh enough: an ACK
//! sent to an order DSCO acknowledged a moment ago changes nothing on DSCO's side (an ACK creates
//! no object), and the order advances as soon as either the ACK's change-log entry or the pulled
//! state says it is acknowledged. The predecessor read every order one by one before acking;
//! here the ACK job reads nothing from DSCO but the change log of its own requests.
//!
//! Calls per run: one LingXing change-feed call (more pages only when more than 500 orders
//! changed), one order-list call per 200 orders never read back, one ACK batch, one change-log
//! read per outstanding request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use domain::order::DscoOrderView;
use domain::rules::{AckWrite, Decision, decide_ack, dsco_past_ack};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use dsco::{OrderAck, OrderIdType, RequestKind};
use store::{IntentKind, IntentState, IntentUpdate, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    Outcomes, StateCheck, advance, advance_many, candidates, changed_since_refusal, chunk_outcome,
    close_settled, dsco_reason, dsco_view, failed_write, read_settled, record_intents,
    settle_intents, skip, skip_many, skip_refused, views_of, write_hold,
};
use super::lx_feed::{follow, lookup_unknown};
use crate::{Job, JobError, RunCtx};

pub struct AckToDsco(pub Arc<Clients>);

fn ack_of(w: &AckWrite) -> OrderAck {
    OrderAck {
        id: w.po.clone(),
        id_type: OrderIdType::PoNumber,
        supplier_order_number: Some(w.supplier_order_number.clone()),
    }
}

impl AckToDsco {
    /// Reads the outcome of every outstanding ACK request and moves the confirmed orders on.
    async fn confirm(&self, ctx: &RunCtx) -> Result<(), JobError> {
        for settled in read_settled(
            ctx,
            &self.0.dsco,
            IntentKind::Ack,
            RequestKind::Acknowledge,
            StateCheck::Acknowledged,
        )
        .await?
        {
            let request = settled.request_id.as_str();
            // The intents first, in one transaction; then each order moves on.
            let updates: Vec<IntentUpdate> = settled
                .items
                .iter()
                .map(|(po, outcome)| match outcome {
                    Ok(how) => IntentUpdate {
                        key: po.clone(),
                        state: IntentState::Confirmed,
                        outcome: (*how).to_owned(),
                    },
                    Err(text) => IntentUpdate {
                        key: po.clone(),
                        state: IntentState::Failed,
                        outcome: text.clone(),
                    },
                })
                .collect();
            ctx.store
                .update_intents(IntentKind::Ack, &updates, ctx.clock.now(), &ctx.fence)
                .await?;
            let confirmed: Vec<_> = settled
                .items
                .iter()
                .filter_map(|(po, outcome)| {
                    let how = outcome.as_ref().ok()?;
                    Some((
                        PoNumber::parse(po).ok()?,
                        Stage::Pushed,
                        Stage::Acknowledged,
                        format!("DSCO confirmed the ACK (request {request}; {how})"),
                    ))
                })
                .collect();
            advance_many(ctx, confirmed).await?;
            let refused: BTreeMap<PoNumber, String> = settled
                .items
                .iter()
                .filter_map(|(po, outcome)| {
                    let text = outcome.as_ref().err()?;
                    Some((PoNumber::parse(po).ok()?, text.clone()))
                })
                .collect();
            skip_refused(ctx, &refused, Some(Stage::Pushed)).await?;
            close_settled(ctx, &settled).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Job for AckToDsco {
    fn name(&self) -> JobName {
        JobName::AckToDsco
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        self.confirm(ctx).await?;
        let feed_end = match follow(ctx, &self.0).await {
            Ok(end) => Some(end),
            Err(e) => {
                tracing::warn!(error = %e, "LingXing change feed unreadable; deciding on stored views");
                None
            }
        };
        let mut batch = candidates(ctx, Stage::Pushed).await?;
        if batch.is_empty() {
            return Ok(());
        }
        // Orders to decide again next run even when waiting: LingXing views this run could not
        // bring up to date.
        let mut views = views_of(ctx, &batch).await?;
        let recheck: BTreeSet<PoNumber> = match feed_end {
            Some(end) => match lookup_unknown(ctx, &self.0, &batch, end, &mut views).await {
                Ok(deferred) => deferred,
                Err(e) => {
                    ctx.note_far(&e);
                    let r =
                        Reason::new(ReasonCode::LingxingUnavailable, format!("order list: {e}"));
                    for o in &batch {
                        skip(ctx, o, &r).await?;
                    }
                    return Ok(());
                }
            },
            None => batch.iter().map(|o| o.pulled.po.clone()).collect(),
        };
        views.own_marks(&mut batch);
        // The ACK intent of each order (keyed by PO), read once for the batch.
        let keys: Vec<String> = batch.iter().map(|o| o.pulled.po.to_string()).collect();
        let mut intents = ctx.store.intents(IntentKind::Ack, &keys).await?;
        let job = ctx.job_config.as_ref();
        let mut out = Outcomes::default();
        let mut acks: Vec<(OrderRecord, OrderAck)> = Vec::new();
        for o in batch {
            let Some(view) = dsco_view(ctx, &o, ReasonCode::DscoRejected).await? else {
                continue;
            };
            let (lx_view, _) = views.get(&o.pulled.po);
            let lx = lx_view.lx_orders();
            match decide_ack(&view, job, &lx) {
                Decision::Advance { note } => {
                    out.advance(&o.pulled.po, Stage::Pushed, Stage::Acknowledged, note);
                }
                Decision::Skip(r) => {
                    let next_run = recheck.contains(&o.pulled.po).then(|| ctx.clock.now());
                    out.skip_until(ctx, &o, &r, next_run);
                }
                Decision::Write(w) => {
                    let intent = intents.remove(&w.po);
                    match intent {
                        Some(i) if i.state == IntentState::Submitted => {
                            out.skip(
                                ctx,
                                &o,
                                &Reason::new(
                                    ReasonCode::DscoConfirmationPending,
                                    "ACK sent, waiting for DSCO's change log",
                                ),
                            );
                        }
                        // Refused before: sent again only once DSCO's order changed since.
                        Some(i)
                            if i.state == IntentState::Failed
                                && !changed_since_refusal(&o, i.updated_at) =>
                        {
                            out.skip(
                                ctx,
                                &o,
                                &Reason::new(ReasonCode::DscoRejected, i.outcome.clone()),
                            );
                        }
                        // The last attempt's outcome is unknown (timeout, or a crash between
                        // the intent and the answer): read the DSCO order before sending again.
                        Some(i)
                            if matches!(i.state, IntentState::Ambiguous | IntentState::Pending) =>
                        {
                            match self
                                .0
                                .dsco
                                .get_orders(dsco::OrderKey::PoNumber, &w.po)
                                .await
                            {
                                Ok(found) => {
                                    let fresh = found
                                        .iter()
                                        .filter_map(|d| {
                                            DscoOrderView::from_json(d.raw().get()).ok()
                                        })
                                        .find(|v| v.po == o.pulled.po);
                                    if fresh.as_ref().is_some_and(dsco_past_ack) {
                                        ctx.store
                                            .update_intent(
                                                IntentKind::Ack,
                                                &w.po,
                                                IntentState::Confirmed,
                                                "DSCO shows the order acknowledged",
                                                ctx.clock.now(),
                                                &ctx.fence,
                                            )
                                            .await?;
                                        advance(ctx, &o.pulled.po, Stage::Pushed, Stage::Acknowledged, "the unclear ACK reached DSCO: the order reads acknowledged").await?;
                                    } else {
                                        acks.push((o, ack_of(&w)));
                                    }
                                }
                                Err(e) => {
                                    ctx.note_far(&e);
                                    out.skip(ctx, &o, &dsco_reason(&e))
                                }
                            }
                        }
                        _ => acks.push((
                            o,
                            OrderAck {
                                id: w.po.clone(),
                                id_type: OrderIdType::PoNumber,
                                supplier_order_number: Some(w.supplier_order_number.clone()),
                            },
                        )),
                    }
                }
            }
        }
        out.flush(ctx).await?;
        if acks.is_empty() {
            return Ok(());
        }
        if let Some(hold) = write_hold(ctx) {
            let held: Vec<_> = acks.iter().map(|(o, _)| (o, hold.clone())).collect();
            return skip_many(ctx, &held).await;
        }
        let intents: Vec<NewIntent> = acks
            .iter()
            .map(|(o, a)| NewIntent {
                key: a.id.clone(),
                po: o.pulled.po.clone(),
                payload: serde_json::json!({"id": a.id, "type": "PO_NUMBER", "supplierOrderNumber": a.supplier_order_number}),
            })
            .collect();
        record_intents(ctx, IntentKind::Ack, &intents, false).await?;
        let body: Vec<OrderAck> = acks.iter().map(|(_, a)| a.clone()).collect();
        let by_po: BTreeMap<String, &OrderRecord> =
            acks.iter().map(|(o, a)| (a.id.clone(), o)).collect();
        let chunks = match self.0.dsco.acknowledge(&body).await {
            Ok(c) => c,
            Err(e) => {
                let (state, r) = failed_write(&e);
                let keys = acks.iter().map(|(_, a)| a.id.clone());
                settle_intents(ctx, IntentKind::Ack, keys, state, &e.to_string()).await?;
                let skips: Vec<_> = acks.iter().map(|(o, _)| (o, r.clone())).collect();
                return skip_many(ctx, &skips).await;
            }
        };
        for chunk in chunks {
            let (state, outcome, reason) =
                chunk_outcome(ctx, IntentKind::Ack, &chunk.result, &chunk.keys).await?;
            settle_intents(ctx, IntentKind::Ack, chunk.keys.clone(), state, &outcome).await?;
            let skips: Vec<_> = chunk
                .keys
                .iter()
                .filter_map(|po| by_po.get(po).map(|o| (*o, reason.clone())))
                .collect();
            skip_many(ctx, &skips).await?;
        }
        Ok(())
    }
}
