//! `invoice_to_dsco`: stage 4 → 5 (R5, R6).
//!
//! One invoice per PO (`invoiceId = poNumber`) once every DSCO SKU is fully out of the warehouse
//! (outbound orders with status 3, as the ship job last read them) and every tracking number of
//! the PO is confirmed by DSCO. Totals in decimal, rounded half-up to cents. `GET /invoice?key=`
//! is asked only after an attempt whose outcome is unknown, never before every send.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use domain::mapping::SkuMaps;
use domain::rules::{Decision, InvoiceWrite, decide_invoice, map_outbounds};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use dsco::RequestKind;
use serde_json::json;
use store::{IntentKind, IntentState, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    StateCheck, advance, candidates, changed_since_refusal, chunk_outcome, close_settled,
    dsco_view, failed_write, read_settled, record_intents, settle_intents, skip, skip_many,
    views_of, write_hold,
};
use super::outbound::outbounds;
use crate::{Job, JobError, RunCtx};

pub struct InvoiceToDsco(pub Arc<Clients>);

fn to_dsco(w: &InvoiceWrite, dsco_order_id: Option<String>) -> dsco::Invoice {
    dsco::Invoice {
        invoice_id: w.invoice_id.clone(),
        po_number: Some(w.po.clone()),
        dsco_order_id,
        consumer_order_number: w.consumer_order_number.clone(),
        invoice_date: w.invoice_date,
        currency_code: Some(w.currency.clone()),
        total_amount: w.total,
        line_items_subtotal: Some(w.total),
        number_of_line_items: Some(w.lines.len() as i64),
        line_items: w
            .lines
            .iter()
            .map(|l| dsco::InvoiceLine {
                line_number: l.line_number,
                sku: l.sku.clone(),
                partner_sku: l.partner_sku.clone(),
                dsco_item_id: l.dsco_item_id.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                extended_amount: Some(l.extended_amount),
            })
            .collect(),
        ..dsco::Invoice::default()
    }
}

impl InvoiceToDsco {
    async fn settle(ctx: &RunCtx, p: &PoNumber, how: String) -> Result<(), JobError> {
        let now = ctx.clock.now();
        ctx.store
            .update_intent(
                IntentKind::Invoice,
                p.as_str(),
                IntentState::Confirmed,
                &how,
                now,
                &ctx.fence,
            )
            .await?;
        ctx.store.set_invoice_id(p, p.as_str(), &ctx.fence).await?;
        advance(ctx, p, Stage::Shipped, Stage::Done, how).await?;
        Ok(())
    }

    async fn confirm(&self, ctx: &RunCtx) -> Result<(), JobError> {
        for settled in read_settled(
            ctx,
            &self.0.dsco,
            IntentKind::Invoice,
            RequestKind::Invoice,
            StateCheck::None,
        )
        .await?
        {
            let request = settled.request_id.as_str();
            for (id, outcome) in settled.items.iter().cloned() {
                let id = id.as_str();
                let Ok(p) = PoNumber::parse(id) else { continue };
                match outcome {
                    Ok(_) => {
                        Self::settle(
                            ctx,
                            &p,
                            format!("DSCO confirmed invoice {id} (request {request})"),
                        )
                        .await?
                    }
                    Err(text) => {
                        ctx.store
                            .update_intent(
                                IntentKind::Invoice,
                                id,
                                IntentState::Failed,
                                &text,
                                ctx.clock.now(),
                                &ctx.fence,
                            )
                            .await?;
                        if let Some(o) = ctx.store.get_order(&p).await? {
                            skip(ctx, &o, &Reason::new(ReasonCode::DscoRejected, text)).await?;
                        }
                    }
                }
            }
            close_settled(ctx, &settled).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Job for InvoiceToDsco {
    fn name(&self) -> JobName {
        JobName::InvoiceToDsco
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        self.confirm(ctx).await?;
        let batch = candidates(ctx, Stage::Shipped).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let sku = SkuMaps::new(ctx.store.sku_map().await?.effective());
        let job = ctx.job_config.as_ref();
        let views = views_of(ctx, &batch).await?;
        let mut writes: Vec<(OrderRecord, InvoiceWrite, Option<String>)> = Vec::new();
        for o in batch {
            let Some(view) = dsco_view(ctx, &o, ReasonCode::DscoRejected).await? else {
                continue;
            };
            let intent = ctx
                .store
                .intent(IntentKind::Invoice, o.pulled.po.as_str())
                .await?;
            match intent.as_ref().map(|i| i.state) {
                Some(IntentState::Confirmed) => {
                    advance(
                        ctx,
                        &o.pulled.po,
                        Stage::Shipped,
                        Stage::Done,
                        "invoice already confirmed",
                    )
                    .await?;
                    continue;
                }
                Some(IntentState::Submitted) => {
                    skip(
                        ctx,
                        &o,
                        &Reason::new(
                            ReasonCode::DscoConfirmationPending,
                            format!("invoice {}", o.pulled.po),
                        ),
                    )
                    .await?;
                    continue;
                }
                Some(IntentState::Ambiguous) | Some(IntentState::Pending) => {
                    // The last attempt's outcome is unknown: does DSCO have the invoice?
                    match self.0.dsco.find_invoices(o.pulled.po.as_str()).await {
                        Ok(found) if !found.is_empty() => {
                            Self::settle(
                                ctx,
                                &o.pulled.po,
                                format!(
                                    "invoice {} found at DSCO after an unclear send",
                                    o.pulled.po
                                ),
                            )
                            .await?;
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            skip(
                                ctx,
                                &o,
                                &Reason::new(
                                    ReasonCode::DscoUnavailable,
                                    format!("invoice existence check: {e}"),
                                ),
                            )
                            .await?;
                            continue;
                        }
                    }
                }
                Some(IntentState::Failed)
                    if intent
                        .as_ref()
                        .is_some_and(|i| !changed_since_refusal(&o, i.updated_at)) =>
                {
                    let text = intent.map(|i| i.outcome).unwrap_or_default();
                    skip(ctx, &o, &Reason::new(ReasonCode::DscoRejected, text)).await?;
                    continue;
                }
                _ => {}
            }
            let (lx, _) = views.get(&o.pulled.po);
            let shipped = match map_outbounds(&view, &outbounds(&lx, o.pulled.po.as_str()), &sku) {
                Ok(s) => s,
                Err(r) => {
                    skip(ctx, &o, &r).await?;
                    continue;
                }
            };
            let confirmed: BTreeSet<String> = ctx
                .store
                .intents_for(&o.pulled.po)
                .await?
                .into_iter()
                .filter(|i| i.kind == IntentKind::Shipment && i.state == IntentState::Confirmed)
                .map(|i| i.key)
                .chain(o.tracking.iter().cloned())
                .collect();
            match decide_invoice(&view, job, &shipped, &confirmed) {
                Decision::Advance { note } => {
                    advance(ctx, &o.pulled.po, Stage::Shipped, Stage::Done, note).await?;
                }
                Decision::Skip(r) => skip(ctx, &o, &r).await?,
                Decision::Write(w) => writes.push((o, w, view.dsco_order_id.clone())),
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        if let Some(hold) = write_hold(ctx) {
            let held: Vec<_> = writes.iter().map(|(o, _, _)| (o, hold.clone())).collect();
            return skip_many(ctx, &held).await;
        }
        // A re-send after a refusal or an unclear outcome starts from pending again.
        let intents: Vec<NewIntent> = writes
            .iter()
            .map(|(o, w, _)| NewIntent {
                key: w.invoice_id.clone(),
                po: o.pulled.po.clone(),
                payload: json!({"invoiceId": w.invoice_id, "totalAmount": w.total.to_string(), "lines": w.lines.len()}),
            })
            .collect();
        record_intents(ctx, IntentKind::Invoice, &intents, true).await?;
        let body: Vec<dsco::Invoice> = writes
            .iter()
            .map(|(_, w, id)| to_dsco(w, id.clone()))
            .collect();
        let by_id: BTreeMap<String, &OrderRecord> = writes
            .iter()
            .map(|(o, w, _)| (w.invoice_id.clone(), o))
            .collect();
        let chunks = match self.0.dsco.invoice_batch(&body).await {
            Ok(c) => c,
            Err(e) => {
                let (st, r) = failed_write(&e);
                let keys = by_id.keys().cloned();
                settle_intents(ctx, IntentKind::Invoice, keys, st, &e.to_string()).await?;
                let skips: Vec<_> = writes.iter().map(|(o, _, _)| (o, r.clone())).collect();
                return skip_many(ctx, &skips).await;
            }
        };
        for chunk in chunks {
            let (state, outcome, reason) =
                chunk_outcome(ctx, IntentKind::Invoice, &chunk.result, &chunk.keys).await?;
            settle_intents(
                ctx,
                IntentKind::Invoice,
                chunk.keys.clone(),
                state,
                &outcome,
            )
            .await?;
            let skips: Vec<_> = chunk
                .keys
                .iter()
                .filter_map(|id| by_id.get(id).map(|o| (*o, reason.clone())))
                .collect();
            skip_many(ctx, &skips).await?;
        }
        // No change-log read right after submitting: DSCO applies batches asynchronously, so
        // the next run settles them (for ACKs and shipments from the pulled order state, at
        // no call).
        Ok(())
    }
}
