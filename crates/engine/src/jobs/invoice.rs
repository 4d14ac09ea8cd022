//! `invoice_to_dsco`: stage 4 → 5 (R5, R6).
//!
//! One invoice per PO (`invoiceId = poNumber`) once every DSCO SKU is fully out of the warehouse
//! (outbound orders with status 3, as the ship job last read them) and every tracking number of
//! the PO is confirmed by DSCO. Totals in decimal, rounded half-up to cents. `GET /invoice?key=`
//! is asked only after an attempt whose outcome is unknown, never before every send.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use domain::intent::Gate;
use domain::mapping::SkuMaps;
use domain::order::DscoOrderView;
use domain::rules::{Decision, InvoiceWrite, decide_invoice, map_outbounds};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use dsco::{ChunkResult, DscoError, RequestKind};
use serde_json::json;
use store::{Intent, IntentKind, IntentState, IntentUpdate, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    LxViews, Outcomes, Settled, StateCheck, advance_many, candidates, skip_refused, views_of,
};
use super::write::{DscoWrite, Step, dsco_gate};
use crate::{JobError, RunCtx};

pub struct InvoiceToDsco(pub Arc<Clients>);

/// What an invoice run decides its orders with.
pub(crate) struct InvoiceBatch {
    views: LxViews,
    sku: SkuMaps,
}

/// An invoice to send, with the DSCO order id it names.
pub(crate) struct InvoiceSend {
    w: InvoiceWrite,
    dsco_order_id: Option<String>,
}

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
}

#[async_trait]
impl DscoWrite for InvoiceToDsco {
    const JOB: JobName = JobName::InvoiceToDsco;
    type Batch = InvoiceBatch;
    type Write = InvoiceSend;
    type Item = dsco::Invoice;
    const KIND: IntentKind = IntentKind::Invoice;
    /// The shipments too: the invoice waits for every tracking number's confirmation.
    const READS: &'static [IntentKind] = &[IntentKind::Invoice, IntentKind::Shipment];
    const LOG: RequestKind = RequestKind::Invoice;
    const CHECK: StateCheck = StateCheck::None;
    /// A re-send after a refusal or an unclear outcome starts from pending again.
    const RESTART: bool = true;
    const FROM: Stage = Stage::Shipped;

    fn dsco(&self) -> &dsco::DscoClient {
        &self.0.dsco
    }

    async fn confirm(&self, ctx: &RunCtx, settled: &Settled) -> Result<(), JobError> {
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
        Ok(())
    }

    async fn gather(
        &self,
        ctx: &RunCtx,
    ) -> Result<Option<(Vec<OrderRecord>, InvoiceBatch)>, JobError> {
        let batch = candidates(ctx, Stage::Shipped).await?;
        if batch.is_empty() {
            return Ok(None);
        }
        let sku = SkuMaps::new(ctx.store.sku_map().await?.effective());
        let views = views_of(ctx, &batch).await?;
        Ok(Some((batch, InvoiceBatch { views, sku })))
    }

    fn decide(
        &self,
        ctx: &RunCtx,
        b: &mut InvoiceBatch,
        o: &OrderRecord,
        view: &DscoOrderView,
        intents: &[Intent],
        verified: Option<&BTreeSet<String>>,
        out: &mut Outcomes,
    ) -> Step<InvoiceSend> {
        let po = &o.pulled.po;
        let intent = intents
            .iter()
            .find(|i| i.kind == IntentKind::Invoice && i.key == po.as_str());
        match dsco_gate(o, intent, verified.map(|v| v.contains(po.as_str()))) {
            Gate::Confirmed => {
                out.advance(po, Stage::Shipped, Stage::Done, "invoice already confirmed");
                return Step::Done;
            }
            Gate::Wait => {
                let r = Reason::new(ReasonCode::DscoConfirmationPending, format!("invoice {po}"));
                out.skip(ctx, o, &r);
                return Step::Done;
            }
            // The last attempt's outcome is unknown: does DSCO have the invoice?
            Gate::Verify => return Step::Verify(vec![po.to_string()]),
            Gate::Applied => return Step::Done,
            Gate::Refused => {
                let text = intent.map(|i| i.outcome.clone()).unwrap_or_default();
                out.skip(ctx, o, &Reason::new(ReasonCode::DscoRejected, text));
                return Step::Done;
            }
            Gate::Send => {}
        }
        let (lx, _) = b.views.get(po);
        let shipped = match map_outbounds(view, &lx.outbounds_of(po.as_str()), &b.sku) {
            Ok(s) => s,
            Err(r) => {
                out.skip(ctx, o, &r);
                return Step::Done;
            }
        };
        let confirmed: BTreeSet<String> = intents
            .iter()
            .filter(|i| i.kind == IntentKind::Shipment && i.state == IntentState::Confirmed)
            .map(|i| i.key.clone())
            .chain(o.tracking.iter().cloned())
            .collect();
        match decide_invoice(view, ctx.job_config.as_ref(), &shipped, &confirmed) {
            Decision::Advance { note } => {
                out.advance(po, Stage::Shipped, Stage::Done, note);
                Step::Done
            }
            Decision::Skip(r) => {
                out.skip(ctx, o, &r);
                Step::Done
            }
            Decision::Write(w) => Step::Write(InvoiceSend {
                w,
                dsco_order_id: view.dsco_order_id.clone(),
            }),
        }
    }

    async fn verify(
        &self,
        o: &OrderRecord,
        _keys: &[String],
    ) -> Result<BTreeSet<String>, DscoError> {
        let po = o.pulled.po.as_str();
        let found = self.0.dsco.find_invoices(po).await?;
        Ok((!found.is_empty())
            .then(|| po.to_owned())
            .into_iter()
            .collect())
    }

    async fn applied(
        &self,
        ctx: &RunCtx,
        found: Vec<(PoNumber, Vec<String>)>,
    ) -> Result<(), JobError> {
        let done = found
            .into_iter()
            .map(|(po, _)| {
                let how = format!("invoice {po} found at DSCO after an unclear send");
                (po, how)
            })
            .collect();
        Self::settle(ctx, done).await
    }

    fn unverified(
        &self,
        ctx: &RunCtx,
        o: &OrderRecord,
        e: &DscoError,
        out: &mut Outcomes,
    ) -> Result<(), JobError> {
        let r = Reason::new(
            ReasonCode::DscoUnavailable,
            format!("invoice existence check: {e}"),
        );
        out.skip(ctx, o, &r);
        Ok(())
    }

    fn intents(&self, o: &OrderRecord, s: &InvoiceSend) -> Vec<NewIntent> {
        let w = &s.w;
        vec![NewIntent {
            key: w.invoice_id.clone(),
            po: o.pulled.po.clone(),
            payload: json!({"invoiceId": w.invoice_id, "totalAmount": w.total.to_string(), "lines": w.lines.len()}),
        }]
    }

    fn chunk_key(&self, s: &InvoiceSend) -> String {
        s.w.invoice_id.clone()
    }

    fn request(&self, s: &InvoiceSend) -> dsco::Invoice {
        to_dsco(&s.w, s.dsco_order_id.clone())
    }

    fn plan(&self, items: &[dsco::Invoice]) -> Result<Vec<dsco::PlannedRequest>, DscoError> {
        self.0.dsco.plan_invoice_batch(items)
    }

    async fn send(&self, items: &[dsco::Invoice]) -> Result<Vec<ChunkResult>, DscoError> {
        self.0.dsco.invoice_batch(items).await
    }
}
