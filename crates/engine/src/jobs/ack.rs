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
use domain::intent::Gate;
use domain::lx_view::LxView;
use domain::order::DscoOrderView;
use domain::rules::{AckWrite, Decision, decide_ack, dsco_past_ack};
use domain::{JobName, PoNumber, Reason, ReasonCode, Stage};
use dsco::{ChunkResult, DscoError, OrderAck, OrderIdType, RequestKind};
use store::{Intent, IntentKind, IntentState, IntentUpdate, NewIntent, OrderRecord};

use super::Clients;
use super::common::{
    LxViews, Outcomes, Settled, StateCheck, advance_many, candidates, dsco_reason, skip,
    skip_refused, views_of,
};
use super::lx_feed::{follow, lookup_unknown};
use super::write::{DscoWrite, Step, dsco_gate};
use crate::{JobError, RunCtx};

pub struct AckToDsco(pub Arc<Clients>);

/// What an ACK run decides its orders with.
pub(crate) struct AckBatch {
    views: LxViews,
    /// Orders to decide again next run even when waiting: LingXing views this run could not
    /// bring up to date.
    recheck: BTreeSet<PoNumber>,
}

#[async_trait]
impl DscoWrite for AckToDsco {
    const JOB: JobName = JobName::AckToDsco;
    type Batch = AckBatch;
    type Write = AckWrite;
    type Item = OrderAck;
    const KIND: IntentKind = IntentKind::Ack;
    const READS: &'static [IntentKind] = &[IntentKind::Ack];
    const LOG: RequestKind = RequestKind::Acknowledge;
    const CHECK: StateCheck = StateCheck::Acknowledged;
    const RESTART: bool = false;
    const FROM: Stage = Stage::Pushed;

    fn dsco(&self) -> &dsco::DscoClient {
        &self.0.dsco
    }

    /// The intents first, in one transaction; then the confirmed orders move on and the refused
    /// ones say why.
    async fn confirm(&self, ctx: &RunCtx, settled: &Settled) -> Result<(), JobError> {
        let request = settled.request_id.as_str();
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
        skip_refused(ctx, &refused, Some(Stage::Pushed)).await
    }

    async fn gather(&self, ctx: &RunCtx) -> Result<Option<(Vec<OrderRecord>, AckBatch)>, JobError> {
        let feed_end = match follow(ctx, &self.0).await {
            Ok(feed) => Some(feed.end),
            Err(e) => {
                tracing::warn!(error = %e, "LingXing change feed unreadable; deciding on stored views");
                None
            }
        };
        let mut batch = candidates(ctx, Stage::Pushed).await?;
        if batch.is_empty() {
            return Ok(None);
        }
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
                    return Ok(None);
                }
            },
            None => batch.iter().map(|o| o.pulled.po.clone()).collect(),
        };
        views.own_marks(&mut batch);
        Ok(Some((batch, AckBatch { views, recheck })))
    }

    fn decide(
        &self,
        ctx: &RunCtx,
        b: &mut AckBatch,
        o: &OrderRecord,
        view: &DscoOrderView,
        intents: &[Intent],
        verified: Option<&BTreeSet<String>>,
        out: &mut Outcomes,
    ) -> Step<AckWrite> {
        let (lx_view, _): (LxView, _) = b.views.get(&o.pulled.po);
        let w = match decide_ack(view, ctx.job_config.as_ref(), &lx_view.lx_orders()) {
            Decision::Advance { note } => {
                out.advance(&o.pulled.po, Stage::Pushed, Stage::Acknowledged, note);
                return Step::Done;
            }
            Decision::Skip(r) => {
                let next_run = b.recheck.contains(&o.pulled.po).then(|| ctx.clock.now());
                out.skip_until(ctx, o, &r, next_run);
                return Step::Done;
            }
            Decision::Write(w) => w,
        };
        let intent = intents.iter().find(|i| i.key == w.po);
        match dsco_gate(o, intent, verified.map(|v| v.contains(&w.po))) {
            Gate::Wait => {
                let r = Reason::new(
                    ReasonCode::DscoConfirmationPending,
                    "ACK sent, waiting for DSCO's change log",
                );
                out.skip(ctx, o, &r);
                Step::Done
            }
            Gate::Refused => {
                let text = intent.map(|i| i.outcome.clone()).unwrap_or_default();
                out.skip(ctx, o, &Reason::new(ReasonCode::DscoRejected, text));
                Step::Done
            }
            // The last attempt's outcome is unknown (timeout, or a crash between the intent
            // and the answer): read the DSCO order before sending again.
            Gate::Verify => Step::Verify(vec![w.po]),
            Gate::Applied => Step::Done,
            Gate::Send | Gate::Confirmed => Step::Write(w),
        }
    }

    async fn verify(
        &self,
        o: &OrderRecord,
        _keys: &[String],
    ) -> Result<BTreeSet<String>, DscoError> {
        let found = self
            .0
            .dsco
            .get_orders(dsco::OrderKey::PoNumber, o.pulled.po.as_str())
            .await?;
        let fresh = found
            .iter()
            .filter_map(|d| DscoOrderView::from_json(d.raw().get()).ok())
            .find(|v| v.po == o.pulled.po);
        Ok(fresh
            .as_ref()
            .is_some_and(dsco_past_ack)
            .then(|| o.pulled.po.to_string())
            .into_iter()
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
            .map(|k| IntentUpdate {
                key: k.clone(),
                state: IntentState::Confirmed,
                outcome: "DSCO shows the order acknowledged".into(),
            })
            .collect();
        ctx.store
            .update_intents(IntentKind::Ack, &updates, ctx.clock.now(), &ctx.fence)
            .await?;
        let moves = found
            .into_iter()
            .map(|(po, _)| {
                (
                    po,
                    Stage::Pushed,
                    Stage::Acknowledged,
                    "the unclear ACK reached DSCO: the order reads acknowledged".to_owned(),
                )
            })
            .collect();
        advance_many(ctx, moves).await
    }

    fn unverified(
        &self,
        ctx: &RunCtx,
        o: &OrderRecord,
        e: &DscoError,
        out: &mut Outcomes,
    ) -> Result<(), JobError> {
        ctx.note_far(e);
        out.skip(ctx, o, &dsco_reason(e));
        Ok(())
    }

    fn intents(&self, o: &OrderRecord, w: &AckWrite) -> Vec<NewIntent> {
        vec![NewIntent {
            key: w.po.clone(),
            po: o.pulled.po.clone(),
            payload: serde_json::json!({"id": w.po, "type": "PO_NUMBER", "supplierOrderNumber": w.supplier_order_number}),
        }]
    }

    fn chunk_key(&self, w: &AckWrite) -> String {
        w.po.clone()
    }

    fn request(&self, w: &AckWrite) -> OrderAck {
        OrderAck {
            id: w.po.clone(),
            id_type: OrderIdType::PoNumber,
            supplier_order_number: Some(w.supplier_order_number.clone()),
        }
    }

    fn plan(&self, items: &[OrderAck]) -> Result<Vec<dsco::PlannedRequest>, DscoError> {
        self.0.dsco.plan_acknowledge(items)
    }

    async fn send(&self, items: &[OrderAck]) -> Result<Vec<ChunkResult>, DscoError> {
        self.0.dsco.acknowledge(items).await
    }
}
