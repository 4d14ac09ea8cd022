//! `sync_stock`: LingXing `inventoryDetails` → DSCO `POST /inventory/batch/small`.
//!
//! Per run: settle what earlier runs sent (from `/inventory/log`), read every mapped `wid`,
//! sum `product_valid_num` per (wid, SKU), map wid → DSCO warehouse code and SKU → DSCO SKU,
//! apply the per-warehouse reserve, and send one item per DSCO SKU whose warehouses differ from
//! what DSCO last confirmed (all of them on a full push). The zero-drop guard holds the run
//! when too many in-stock SKUs would fall to 0.
//!
//! Inventory updates are absolute quantities, so sending one twice is harmless: no intent is
//! recorded before the call, and a batch whose outcome is unknown is simply sent again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::JobName;
use domain::mapping::{SkuMaps, reverse_strict};
use dsco::{InventoryItem, ItemState, RequestId, RequestKind, WarehouseQuantity};
use lingxing::{INVENTORY_MAX_LENGTH, InventoryQuery};
use rust_decimal::Decimal;
use store::{
    StockItem, StockOutcome, StockRun, StockRunState, StockSettle, StockState, WarehouseQty,
};

use super::StockClients;
use crate::{Job, JobError, RunCtx};

/// A full push at least this often unless `full_push_every` says otherwise.
pub const DEFAULT_FULL_PUSH_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Hold the run when more than this share of in-stock SKUs would drop to 0 (named assumption:
/// the documents give no number; 20 % is far above a normal day's sell-outs).
pub const DEFAULT_ZERO_DROP_SHARE: Decimal = Decimal::from_parts(2, 0, 0, false, 1);
/// Cursor holding the time of the last full push that was sent.
const FULL_PUSH_CURSOR: &str = "sync_stock.last_full_push";

pub struct SyncStock(pub Arc<StockClients>);

#[async_trait]
impl Job for SyncStock {
    fn name(&self) -> JobName {
        JobName::SyncStock
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        let settled = self.settle(ctx).await?;
        let now = ctx.clock.now();
        let settings = ctx
            .job_config
            .as_ref()
            .map(|j| j.settings.clone())
            .unwrap_or_default();

        let wid_to_code =
            reverse_strict(&ctx.config.mapping.warehouse, "warehouse").map_err(JobError::Failed)?;
        if wid_to_code.is_empty() {
            return Err(JobError::Failed(
                "mapping.warehouse is empty: there is no warehouse to read stock from".into(),
            ));
        }
        let skus = SkuMaps::new(ctx.store.sku_map().await?.effective());
        let rows = self
            .0
            .lingxing
            .inventory_all(InventoryQuery {
                wids: wid_to_code.keys().cloned().collect(),
                sku: None,
                offset: 0,
                length: INVENTORY_MAX_LENGTH,
            })
            .await
            .map_err(|e| JobError::far("reading LingXing inventory", &e))?;

        // DSCO SKU → (LingXing SKU, warehouse code → summed available quantity).
        let mut read: BTreeMap<String, (String, WarehouseQty)> = BTreeMap::new();
        let mut ambiguous = BTreeSet::new();
        for r in &rows {
            let (Some(code), false) = (wid_to_code.get(&r.wid), r.sku.is_empty()) else {
                continue;
            };
            let dsco = match skus.to_dsco(&r.sku) {
                Ok(d) => d.to_owned(),
                Err(e) => {
                    ambiguous.insert(e);
                    continue;
                }
            };
            let entry = read
                .entry(dsco)
                .or_insert_with(|| (r.sku.clone(), BTreeMap::new()));
            *entry.1.entry(code.clone()).or_insert(0) += r.product_valid_num.max(0);
        }

        let state = ctx.store.stock_state().await?;
        let reserve = settings.reserve.clone().unwrap_or_default();
        let every = settings.full_push_every.unwrap_or(DEFAULT_FULL_PUSH_EVERY);
        let full = full_push_due(ctx, now, every).await?;
        let plan = plan(&read, &state, &reserve, &skus, full);

        // Decide what the run may do.
        let share_limit = settings.zero_drop_share.unwrap_or(DEFAULT_ZERO_DROP_SHARE);
        let sync = settings.sync.unwrap_or(true);
        let mut notes: Vec<String> = ambiguous.into_iter().collect();
        let held_before = ctx.store.stock_runs(true, 1).await?;
        let run_state = if let Some(h) = held_before.first() {
            notes.push(format!(
                "run {} is held and not released: nothing is sent until an operator runs `dsco-lingxing stock release`",
                h.run_id
            ));
            StockRunState::Held
        } else if !sync {
            StockRunState::ReadOnly
        } else if !ctx.writes_allowed() {
            StockRunState::DryRun
        } else {
            // A release approves the next run that may send, whatever it finds.
            let release = ctx.store.take_stock_release(&ctx.fence).await?;
            let trips = guard_trips(plan.drops_to_zero, plan.above_zero, share_limit);
            match (trips, release) {
                (true, None) => {
                    let msg = format!(
                        "zero-drop guard: {} of {} SKUs in stock would drop to 0 (more than {}); release with `dsco-lingxing stock release`",
                        plan.drops_to_zero, plan.above_zero, share_limit
                    );
                    tracing::warn!(alert = true, job = "sync_stock", "{msg}");
                    notes.push(msg);
                    StockRunState::Held
                }
                (trips, Some(released)) => {
                    if trips {
                        notes.push(format!(
                            "zero-drop guard passed: run {released} was released by an operator ({} of {} SKUs drop to 0)",
                            plan.drops_to_zero, plan.above_zero
                        ));
                    }
                    send_or_unchanged(&plan)
                }
                (false, None) => send_or_unchanged(&plan),
            }
        };

        // Send.
        let mut outcome: BTreeMap<String, (Option<String>, StockOutcome, String)> = BTreeMap::new();
        let inventory_items = || -> Vec<InventoryItem> {
            plan.send
                .iter()
                .map(|s| {
                    InventoryItem::new(
                        s.dsco_sku.clone(),
                        s.warehouses
                            .iter()
                            .map(|(code, q)| WarehouseQuantity {
                                code: code.clone(),
                                quantity: *q,
                            })
                            .collect(),
                    )
                })
                .collect()
        };
        let chunk_of = |n: usize| settings.batch_size.map_or(n.max(1), |b| b as usize).max(1);
        if run_state == StockRunState::DryRun && ctx.dry_run {
            // Built, not sent: the dry run shows the inventory updates it would send.
            let items = inventory_items();
            for part in items.chunks(chunk_of(items.len())) {
                match self.0.dsco.plan_inventory_batch(part, true) {
                    Ok(plans) => ctx.report(|r| {
                        for p in plans {
                            r.request(
                                crate::PlannedRequest::from_dsco(p, Vec::new(), false),
                                domain::Stage::Pulled,
                            );
                        }
                    }),
                    Err(e) => {
                        tracing::warn!(error = %e, "the inventory requests could not be built")
                    }
                }
            }
        }
        if run_state == StockRunState::Sent {
            let items = inventory_items();
            for part in items.chunks(chunk_of(items.len())) {
                let results = match self.0.dsco.inventory_batch(part, true).await {
                    Ok(r) => r,
                    Err(e) => {
                        for i in part {
                            outcome.insert(
                                i.sku.clone(),
                                (None, StockOutcome::SendFailed, e.to_string()),
                            );
                        }
                        continue;
                    }
                };
                for c in results {
                    for key in c.keys {
                        let v = match &c.result {
                            Ok(a) => (
                                Some(a.request_id.0.clone()),
                                StockOutcome::Pending,
                                String::new(),
                            ),
                            Err(e) => (None, StockOutcome::SendFailed, e.to_string()),
                        };
                        outcome.insert(key, v);
                    }
                }
            }
        }

        let note = notes.join("; ");
        let mut items = Vec::with_capacity(plan.send.len());
        let (mut sent_ok, mut send_failed) = (0u64, 0u64);
        for s in &plan.send {
            let (request_id, out, message) = match outcome.remove(&s.dsco_sku) {
                Some(v) => v,
                None if run_state == StockRunState::Sent => (
                    None,
                    StockOutcome::SendFailed,
                    "no answer for this SKU in the batch results".into(),
                ),
                None => (None, StockOutcome::NotSent, run_state.as_str().to_owned()),
            };
            match out {
                StockOutcome::Pending => sent_ok += 1,
                StockOutcome::SendFailed => send_failed += 1,
                _ => {}
            }
            items.push(StockItem {
                run_id: ctx.run_id.clone(),
                dsco_sku: s.dsco_sku.clone(),
                lingxing_sku: s.lingxing_sku.clone(),
                read: s.read.clone(),
                qty: s.warehouses.values().sum(),
                warehouses: s.warehouses.clone(),
                previous_qty: s.previous_qty,
                sent: run_state == StockRunState::Sent,
                request_id,
                outcome: out,
                message,
                at: now,
                updated_at: now,
            });
        }
        let run = StockRun {
            run_id: ctx.run_id.clone(),
            at: now,
            state: run_state,
            full_push: full,
            skus_read: read.len() as i64,
            skus_changed: plan.changed as i64,
            skus_sent: sent_ok as i64,
            above_zero: plan.above_zero as i64,
            drops_to_zero: plan.drops_to_zero as i64,
            note,
            released_by: None,
            released_at: None,
            release_reason: None,
        };
        ctx.store.record_stock_run(&run, &items, &ctx.fence).await?;
        if run_state == StockRunState::Sent && full && send_failed == 0 {
            ctx.store
                .set_cursor(FULL_PUSH_CURSOR, &now.to_rfc3339(), now, &ctx.fence)
                .await?;
        }
        ctx.count(|c| {
            c.processed += plan.universe as u64;
            c.advanced += sent_ok + settled;
            c.failed += send_failed;
            if run_state == StockRunState::Held {
                c.skipped_held += plan.send.len() as u64;
            }
        });
        tracing::info!(
            state = run_state.as_str(),
            full,
            read = read.len(),
            changed = plan.changed,
            sent = sent_ok,
            send_failed,
            "sync_stock"
        );
        Ok(())
    }
}

impl SyncStock {
    /// Reads DSCO's outcome of every request still pending and records it per SKU. Returns how
    /// many items were settled by DSCO (applied or skipped as unknown).
    async fn settle(&self, ctx: &RunCtx) -> Result<u64, JobError> {
        let mut settled = 0;
        for req in ctx.store.pending_stock_requests().await? {
            let out = match self
                .0
                .dsco
                .request_outcome(RequestKind::Inventory, &RequestId(req.clone()))
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    // Tried again next run; the items stay pending meanwhile.
                    tracing::warn!(request_id = %req, "reading /inventory/log: {e}");
                    continue;
                }
            };
            // Per key, the least settled state (failure over pending over success), in one pass:
            // `RequestOutcome::for_key` scans every item per key, quadratic on a full push.
            let rank = |s: &ItemState| match s {
                ItemState::Failure { .. } => 0,
                ItemState::Pending => 1,
                ItemState::Success { .. } => 2,
            };
            let mut by_key: BTreeMap<&str, &ItemState> = BTreeMap::new();
            for i in &out.items {
                let e = by_key.entry(i.key.as_str()).or_insert(&i.state);
                if rank(&i.state) < rank(e) {
                    *e = &i.state;
                }
            }
            let mut settles = Vec::new();
            for (key, state) in by_key {
                let (outcome, message) = match state {
                    ItemState::Pending => continue,
                    ItemState::Success { messages } => {
                        let unknown = messages.iter().any(|m| {
                            m.code.as_deref().is_some_and(|c| c.contains("NOT_FOUND"))
                                || m.description.to_lowercase().contains("does not exist")
                        });
                        let text = join(messages.iter().map(|m| m.description.as_str()));
                        if unknown {
                            (StockOutcome::SkippedUnknown, text)
                        } else {
                            (StockOutcome::Success, text)
                        }
                    }
                    ItemState::Failure { messages } => (
                        StockOutcome::Failed,
                        join(messages.iter().map(|m| m.description.as_str())),
                    ),
                };
                if outcome.settles() {
                    settled += 1;
                }
                settles.push(StockSettle {
                    dsco_sku: key.to_owned(),
                    outcome,
                    message,
                });
            }
            if !settles.is_empty() {
                ctx.store
                    .settle_stock_items(&req, &settles, ctx.clock.now(), &ctx.fence)
                    .await?;
            }
        }
        Ok(settled)
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts.collect::<Vec<_>>().join("; ")
}

fn send_or_unchanged(plan: &Plan) -> StockRunState {
    if plan.send.is_empty() {
        StockRunState::Unchanged
    } else {
        StockRunState::Sent
    }
}

/// More than `limit` of the SKUs in stock would drop to 0 (drops ÷ in stock > limit).
fn guard_trips(drops: usize, above_zero: usize, limit: Decimal) -> bool {
    above_zero > 0 && Decimal::from(drops) > limit * Decimal::from(above_zero)
}

async fn full_push_due(
    ctx: &RunCtx,
    now: DateTime<Utc>,
    every: Duration,
) -> Result<bool, JobError> {
    let last = ctx
        .store
        .cursor(FULL_PUSH_CURSOR)
        .await?
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(match last {
        None => true,
        Some(t) => now.signed_duration_since(t).to_std().unwrap_or_default() >= every,
    })
}

/// One DSCO SKU as this run sees it.
struct Planned {
    dsco_sku: String,
    lingxing_sku: String,
    read: WarehouseQty,
    warehouses: WarehouseQty,
    previous_qty: Option<i64>,
}

struct Plan {
    /// SKUs looked at: read now or confirmed before.
    universe: usize,
    /// SKUs whose value differs from what DSCO confirmed.
    changed: usize,
    /// What to send (the changes, or everything on a full push).
    send: Vec<Planned>,
    above_zero: usize,
    drops_to_zero: usize,
}

fn plan(
    read: &BTreeMap<String, (String, WarehouseQty)>,
    state: &BTreeMap<String, StockState>,
    reserve: &BTreeMap<String, u64>,
    skus: &SkuMaps,
    full: bool,
) -> Plan {
    let confirmed_skus = state
        .iter()
        .filter(|(_, s)| s.confirmed.is_some())
        .map(|(k, _)| k);
    let universe: BTreeSet<&String> = read.keys().chain(confirmed_skus).collect();
    let mut p = Plan {
        universe: universe.len(),
        changed: 0,
        send: Vec::new(),
        above_zero: 0,
        drops_to_zero: 0,
    };
    let empty = BTreeMap::new();
    for dsco_sku in universe {
        let (lingxing_sku, read_wh) = match read.get(dsco_sku) {
            Some((lx, w)) => (lx.clone(), w),
            None => (
                skus.to_lingxing(dsco_sku).unwrap_or(dsco_sku).to_owned(),
                &empty,
            ),
        };
        let st = state.get(dsco_sku);
        let confirmed = st.and_then(|s| s.confirmed.as_ref());
        let mut warehouses: WarehouseQty = read_wh
            .iter()
            .map(|(code, q)| {
                let keep = reserve
                    .get(code)
                    .map_or(0, |r| i64::try_from(*r).unwrap_or(i64::MAX));
                (code.clone(), (q - keep).max(0))
            })
            .collect();
        // A warehouse DSCO has from us but LingXing no longer lists goes to 0, so DSCO does
        // not keep selling stock that is gone.
        if let Some(c) = confirmed {
            for code in c.keys() {
                warehouses.entry(code.clone()).or_insert(0);
            }
        }
        let qty: i64 = warehouses.values().sum();
        let previous_qty = st.and_then(StockState::confirmed_qty);
        if previous_qty.is_some_and(|q| q > 0) {
            p.above_zero += 1;
            if qty == 0 {
                p.drops_to_zero += 1;
            }
        }
        let changed = confirmed != Some(&warehouses);
        if changed {
            p.changed += 1;
        }
        // The same value already sent and awaiting DSCO's word is not sent again.
        let awaiting = st.and_then(|s| s.sent.as_ref()) == Some(&warehouses);
        if full || (changed && !awaiting) {
            p.send.push(Planned {
                dsco_sku: dsco_sku.clone(),
                lingxing_sku,
                read: read_wh.clone(),
                warehouses,
                previous_qty,
            });
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_share_is_strictly_more_than_the_limit() {
        let limit = DEFAULT_ZERO_DROP_SHARE;
        assert!(!guard_trips(2, 10, limit), "exactly 20 % passes");
        assert!(guard_trips(3, 10, limit));
        assert!(!guard_trips(5, 0, limit), "nothing in stock: no share");
    }
}
