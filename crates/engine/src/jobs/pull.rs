//! `pull_dsco_orders`: new and updated DSCO orders into the store (merge only).
//!
//! First run: `ordersCreatedSince = start_from` (default: one day back). Later runs:
//! `ordersUpdatedSince = cursor − 5 min` (overlap, so a late-visible update is not missed),
//! `until = now − 10 s`. A run takes at most `size` orders: a window holding more is halved until
//! it fits (DSCO scrolls expire after five minutes, so a run must not hold one open for long),
//! and the cursor moves only past a window read and stored whole. Re-reading the overlap is
//! harmless: the upsert merges and never lowers a stage.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::order::{DscoOrderView, RawJson};
use domain::{JobName, Reason, ReasonCode, Stage};
use dsco::{OrderKey, OrderQuery};
use serde_json::value::RawValue;
use store::{EventOutcome, PulledOrder, UnreadableOrder, Upserted};

use super::Clients;
use super::common::{advance, note, skip};
use crate::{Job, JobError, RunCtx};

pub const CURSOR: &str = "pull_dsco_orders.until";
const OVERLAP: TimeDelta = TimeDelta::minutes(5);
const UNTIL_LAG: TimeDelta = TimeDelta::seconds(10);
const DEFAULT_LOOKBACK: TimeDelta = TimeDelta::days(1);
/// Orders merged per store transaction.
const UPSERT_CHUNK: usize = 500;

pub struct PullDscoOrders(pub Arc<Clients>);

enum Window {
    Fits(Vec<dsco::model::Order>),
    TooMany,
}

impl PullDscoOrders {
    async fn read(&self, query: OrderQuery, size: usize) -> Result<Window, dsco::DscoError> {
        let mut scroll = self.0.dsco.scroll_orders(query)?;
        let mut out = Vec::new();
        while let Some(page) = scroll.next_page().await? {
            out.extend(page);
            if out.len() > size {
                return Ok(Window::TooMany);
            }
        }
        Ok(Window::Fits(out))
    }
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
                .map_err(|e| JobError::Failed(format!("reading {po} from DSCO: {e}")))?;
            let raws = orders.into_iter().map(|o| o.into_raw()).collect();
            return store_page(ctx, &self.0, raws).await;
        }
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
        let mut until = until_max;
        // A single second holding more than `size` orders is taken whole (no limit): narrowing
        // further is impossible and skipping it would lose orders.
        let mut limit = size;
        let orders = loop {
            let query = if first_run {
                OrderQuery::created(since, until)
            } else {
                OrderQuery::updated(since, until)
            };
            match self.read(query, limit).await {
                Ok(Window::Fits(orders)) => break orders,
                Ok(Window::TooMany) if until - since > TimeDelta::seconds(1) => {
                    until = since + (until - since) / 2;
                }
                Ok(Window::TooMany) => limit = usize::MAX,
                Err(e) => {
                    return Err(JobError::Failed(format!(
                        "DSCO order page ({}): {e}; the window will be read again next run",
                        ReasonCode::DscoUnavailable
                    )));
                }
            }
        };
        // Merged a page at a time, one store transaction each.
        let read = orders.len();
        let mut rest = orders.into_iter();
        loop {
            let page: Vec<Box<RawValue>> = rest
                .by_ref()
                .take(UPSERT_CHUNK)
                .map(|o| o.into_raw())
                .collect();
            if page.is_empty() {
                break;
            }
            store_page(ctx, &self.0, page).await?;
        }
        ctx.store
            .set_cursor(CURSOR, &until.to_rfc3339(), ctx.clock.now(), &ctx.fence)
            .await?;
        tracing::info!(orders = read, since = %since, until = %until, "DSCO window stored");
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
fn read_order(raw: Box<RawValue>) -> Result<(DscoOrderView, PulledOrder), UnreadableOrder> {
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
                reason_code: ReasonCode::PoMissing.as_str().to_owned(),
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
                advance(
                    ctx,
                    &view.po,
                    stage,
                    Stage::Cancelled,
                    "DSCO cancelled the order",
                )
                .await?;
                if pushed {
                    ctx.store
                        .add_flag(&view.po, "cancelled_after_push", Some(&ctx.fence))
                        .await?;
                    if let Some(o) = ctx.store.get_order(&view.po).await? {
                        let nos = o.lingxing_order_nos.clone();
                        let auto = ctx
                            .job_config
                            .as_ref()
                            .and_then(|j| j.settings.auto_cancel_in_lingxing)
                            .unwrap_or(false);
                        let mut subject = format!(
                            "LingXing orders {}",
                            if nos.is_empty() {
                                "-".to_owned()
                            } else {
                                nos.join(", ")
                            }
                        );
                        if auto && !nos.is_empty() && ctx.writes_allowed() {
                            match clients.lingxing.cancel_orders(&nos).await {
                                Ok(r) if r.fail_num == 0 => {
                                    note(
                                        ctx,
                                        &view.po,
                                        EventOutcome::Submitted,
                                        format!("cancelled in LingXing: {}", nos.join(", ")),
                                    )
                                    .await?;
                                    subject.push_str("; cancelled in LingXing automatically (auto_cancel_in_lingxing): check nothing shipped");
                                }
                                Ok(r) => subject.push_str(&format!(
                                    "; automatic cancel in LingXing failed for {}: {}",
                                    r.fail_num,
                                    r.failure_info
                                        .iter()
                                        .map(|f| format!("{f:?}"))
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                )),
                                Err(e) => subject.push_str(&format!(
                                    "; automatic cancel in LingXing failed: {e}"
                                )),
                            }
                        }
                        skip(
                            ctx,
                            &o,
                            &Reason::new(ReasonCode::CancelledAfterPush, subject),
                        )
                        .await?;
                    }
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
