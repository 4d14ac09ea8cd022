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
use store::{IntentKind, IntentState, IntentUpdate, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    Outcomes, StateCheck, advance_many, candidates, changed_since_refusal, chunk_outcome,
    close_settled, dsco_view, failed_write, read_settled, record_intents, settle_intents,
    skip_many, skip_refused, views_of, write_hold,
};
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
    /// Invoices DSCO has: their intents confirmed, the orders' invoice ids set, the orders done.
    /// `(po, how it was seen)` each, written in three transactions.
    async fn settle(ctx: &RunCtx, done: Vec<(PoNumber, String)>) -> Result<(), JobError> {
        if done.is_empty() {
            return Ok(());
        }
        let updates: Vec<IntentUpdate> = done
            .iter()
            .map(|(p, how)| IntentUpdate {
                key: p.as_str().to_owned(),
                state: IntentState::Confirmed,
                outcome: how.clone(),
            })
            .collect();
        ctx.store
            .update_intents(IntentKind::Invoice, &updates, ctx.clock.now(), &ctx.fence)
            .await?;
        let ids: Vec<(PoNumber, String)> = done
            .iter()
            .map(|(p, _)| (p.clone(), p.as_str().to_owned()))
            .collect();
        ctx.store.set_invoice_ids(&ids, &ctx.fence).await?;
        let moves = done
            .into_iter()
            .map(|(p, how)| (p, Stage::Shipped, Stage::Done, how))
            .collect();
        advance_many(ctx, moves).await
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
            let mut done = Vec::new();
            let mut failed = Vec::new();
            let mut refused: BTreeMap<PoNumber, String> = BTreeMap::new();
            for (id, outcome) in settled.items.iter().cloned() {
                let Ok(p) = PoNumber::parse(&id) else {
                    continue;
                };
                match outcome {
                    Ok(_) => done.push((
                        p,
                        format!("DSCO confirmed invoice {id} (request {request})"),
                    )),
                    Err(text) => {
                        failed.push(IntentUpdate {
                            key: id.clone(),
                            state: IntentState::Failed,
                            outcome: text.clone(),
                        });
                        refused.insert(p, text);
                    }
                }
            }
            Self::settle(ctx, done).await?;
            if !failed.is_empty() {
                ctx.store
                    .update_intents(IntentKind::Invoice, &failed, ctx.clock.now(), &ctx.fence)
                    .await?;
                skip_refused(ctx, &refused, None).await?;
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
        let pos: Vec<PoNumber> = batch.iter().map(|o| o.pulled.po.clone()).collect();
        let mut intents = ctx
            .store
            .intents_of(&pos, &[IntentKind::Invoice, IntentKind::Shipment])
            .await?;
        let mut out = Outcomes::default();
        let mut found_at_dsco = Vec::new();
        let mut writes: Vec<(OrderRecord, InvoiceWrite, Option<String>)> = Vec::new();
        for o in batch {
            let Some(view) = dsco_view(ctx, &o, ReasonCode::DscoRejected).await? else {
                continue;
            };
            let mine = intents.remove(&o.pulled.po).unwrap_or_default();
            let intent = mine
                .iter()
                .find(|i| i.kind == IntentKind::Invoice && i.key == o.pulled.po.as_str());
            match intent.map(|i| i.state) {
                Some(IntentState::Confirmed) => {
                    out.advance(
                        &o.pulled.po,
                        Stage::Shipped,
                        Stage::Done,
                        "invoice already confirmed",
                    );
                    continue;
                }
                Some(IntentState::Submitted) => {
                    out.skip(
                        ctx,
                        &o,
                        &Reason::new(
                            ReasonCode::DscoConfirmationPending,
                            format!("invoice {}", o.pulled.po),
                        ),
                    );
                    continue;
                }
                Some(IntentState::Ambiguous) | Some(IntentState::Pending) => {
                    // The last attempt's outcome is unknown: does DSCO have the invoice?
                    match self.0.dsco.find_invoices(o.pulled.po.as_str()).await {
                        Ok(found) if !found.is_empty() => {
                            found_at_dsco.push((
                                o.pulled.po.clone(),
                                format!(
                                    "invoice {} found at DSCO after an unclear send",
                                    o.pulled.po
                                ),
                            ));
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            out.skip(
                                ctx,
                                &o,
                                &Reason::new(
                                    ReasonCode::DscoUnavailable,
                                    format!("invoice existence check: {e}"),
                                ),
                            );
                            continue;
                        }
                    }
                }
                Some(IntentState::Failed)
                    if intent.is_some_and(|i| !changed_since_refusal(&o, i.updated_at)) =>
                {
                    let text = intent.map(|i| i.outcome.clone()).unwrap_or_default();
                    out.skip(ctx, &o, &Reason::new(ReasonCode::DscoRejected, text));
                    continue;
                }
                _ => {}
            }
            let (lx, _) = views.get(&o.pulled.po);
            let shipped = match map_outbounds(&view, &lx.outbounds_of(o.pulled.po.as_str()), &sku) {
                Ok(s) => s,
                Err(r) => {
                    out.skip(ctx, &o, &r);
                    continue;
                }
            };
            let confirmed: BTreeSet<String> = mine
                .into_iter()
                .filter(|i| i.kind == IntentKind::Shipment && i.state == IntentState::Confirmed)
                .map(|i| i.key)
                .chain(o.tracking.iter().cloned())
                .collect();
            match decide_invoice(&view, job, &shipped, &confirmed) {
                Decision::Advance { note } => {
                    out.advance(&o.pulled.po, Stage::Shipped, Stage::Done, note);
                }
                Decision::Skip(r) => out.skip(ctx, &o, &r),
                Decision::Write(w) => writes.push((o, w, view.dsco_order_id.clone())),
            }
        }
        Self::settle(ctx, found_at_dsco).await?;
        out.flush(ctx).await?;
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
