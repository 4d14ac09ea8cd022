//! Reconciliation: compares, for each order in a window (or one PO), our stage and the writes we
//! recorded with DSCO's order and LingXing's orders and outbound orders, and stores the findings
//! (`domain::reconcile`). It writes nothing to either far side: an order found **behind** is only
//! marked for its normal job, which advances it by the normal rules.
//!
//! The far sides are read with the batched reads the jobs use: DSCO's orders by one scroll over
//! the creation window (pages of up to 1000; one `GET /order/` for a single PO), LingXing's order
//! list by 200 PO numbers, `wmsOrderList` by 200 POs for the orders LingXing lists as audited.
//! The one read per order is DSCO's invoice lookup, for orders with an invoice recorded. Before
//! a large window, [`estimate`] tells what it will cost; the command asks for `--yes` above
//! [`CONFIRM_ABOVE`] calls.
//!
//! Entry points: the `reconcile` job ([`Reconcile`], a window of [`JOB_LOOKBACK`] ending now, or
//! the run's PO) and the `dsco-lingxing reconcile` command ([`check`] with its scope).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use domain::order::{DscoOrderView, LxOutbound};
use domain::reconcile::{DscoSide, Finding, FindingKind, LxEntry, LxSide, Ours, reconcile};
use domain::{JobName, PoNumber, Stage};
use store::{Fence, OrderFilter, OrderRecord, Store};

use crate::jobs::Clients;
use crate::{Job, JobError, RunCtx};

/// How far back the scheduled job looks (by DSCO creation date).
pub const JOB_LOOKBACK: TimeDelta = TimeDelta::days(7);
/// Above this many estimated far-side calls the command wants `--yes`.
pub const CONFIRM_ABOVE: u64 = 500;
/// POs per LingXing call (order list by numbers; `wmsOrderList` by POs).
const POS_PER_CALL: usize = 200;
/// Local orders read per store page.
const PAGE: u32 = 500;

/// Which orders to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Po(PoNumber),
    /// Orders DSCO created in `[since, until)`.
    Window {
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

/// Far-side calls a check will make, per endpoint (an estimate: DSCO may hold orders we do not,
/// and `wmsOrderList` is asked only for the orders LingXing lists as audited).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Our orders in the scope.
    pub orders: u64,
    /// DSCO order reads: `GET /order/page` (scroll pages) or `GET /order/` (one PO).
    pub dsco_orders: u64,
    /// `GET /invoice` (one per order with an invoice recorded).
    pub dsco_invoices: u64,
    /// LingXing order list (200 POs a call).
    pub lx_order_list: u64,
    /// LingXing `wmsOrderList` (200 POs a call, at most).
    pub lx_wms: u64,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.dsco_orders + self.dsco_invoices + self.lx_order_list + self.lx_wms
    }
    /// Whether the command should ask for `--yes` first (above [`CONFIRM_ABOVE`] calls).
    pub fn needs_confirmation(&self) -> bool {
        self.total() > CONFIRM_ABOVE
    }
    /// (endpoint, calls), for printing.
    pub fn lines(&self) -> [(&'static str, u64); 4] {
        [
            ("DSCO order reads", self.dsco_orders),
            ("DSCO GET /invoice", self.dsco_invoices),
            ("LingXing order list", self.lx_order_list),
            ("LingXing wmsOrderList", self.lx_wms),
        ]
    }
}

/// What a check found and did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// POs compared (ours, and DSCO's we do not have).
    pub checked: usize,
    pub findings: Vec<(PoNumber, Finding)>,
    /// Findings newly opened and resolved in the store.
    pub opened: u64,
    pub resolved: u64,
    /// Orders marked for their job (behind).
    pub marked: u64,
}

impl Outcome {
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings
            .iter()
            .filter(|(_, f)| f.kind() == kind)
            .count()
    }
}

fn ceil_div(n: u64, d: u64) -> u64 {
    n.div_ceil(d)
}

/// The filter of our orders DSCO created in the window.
fn window_filter(since: DateTime<Utc>, until: DateTime<Utc>) -> OrderFilter {
    OrderFilter {
        created_from: Some(since),
        created_to: Some(until),
        ..OrderFilter::default()
    }
}

/// Our POs in `scope`, with the counts the estimate needs (read a page at a time; only PO
/// numbers are kept).
async fn local_pos(
    store: &dyn Store,
    scope: &Scope,
) -> Result<(Vec<PoNumber>, u64, u64), store::StoreError> {
    match scope {
        Scope::Po(po) => {
            let rec = store.get_order(po).await?;
            let invoiced = rec.as_ref().is_some_and(|r| r.invoice_id.is_some()) as u64;
            let pushed = rec.as_ref().is_some_and(|r| r.stage >= Stage::Pushed) as u64;
            let pos = rec.map(|r| vec![r.pulled.po]).unwrap_or_default();
            Ok((pos, invoiced, pushed))
        }
        Scope::Window { since, until } => {
            let f = window_filter(*since, *until);
            let (mut pos, mut invoiced, mut pushed) = (Vec::new(), 0, 0);
            let mut after = None;
            loop {
                let rows = store.order_page(&f, false, after.as_ref(), PAGE).await?;
                let Some(last) = rows.last() else { break };
                after = Some(store::OrderCursor {
                    stage_entered_at: last.stage_entered_at,
                    po: last.po.to_string(),
                });
                for r in &rows {
                    invoiced += r.invoice_id.is_some() as u64;
                    pushed += (r.stage >= Stage::Pushed && r.stage != Stage::Cancelled) as u64;
                    pos.push(r.po.clone());
                }
                if rows.len() < PAGE as usize {
                    break;
                }
            }
            Ok((pos, invoiced, pushed))
        }
    }
}

/// What a check of `scope` will cost, from the store alone (no far-side call).
pub async fn estimate(
    store: &dyn Store,
    clients: &Clients,
    scope: &Scope,
) -> Result<Estimate, store::StoreError> {
    let (pos, invoiced, pushed) = local_pos(store, scope).await?;
    let n = pos.len() as u64;
    let per_page = u64::from(clients.dsco_orders_per_page().clamp(10, 1000));
    Ok(Estimate {
        orders: n,
        dsco_orders: match scope {
            Scope::Po(_) => 1,
            // The last page is the empty one that ends the scroll.
            Scope::Window { .. } => ceil_div(n, per_page) + 1,
        },
        dsco_invoices: invoiced,
        lx_order_list: ceil_div(n, POS_PER_CALL as u64),
        lx_wms: ceil_div(pushed, POS_PER_CALL as u64),
    })
}

/// Checks `scope`: reads the three sides in batches, compares each order, stores the findings
/// under `run_id` and marks the orders found behind for their job. Writes nothing to DSCO or
/// LingXing. `fence`: the run's, when the job runs it.
pub async fn check(
    clients: &Clients,
    store: &dyn Store,
    clock: &Clock,
    scope: &Scope,
    run_id: &str,
    fence: Option<&Fence>,
) -> Result<Outcome, JobError> {
    let now = clock.now();
    let (local, _, _) = local_pos(store, scope).await?;
    // DSCO: one scroll over the window, or one lookup for one PO.
    let dsco_orders: BTreeMap<PoNumber, DscoOrderView> = match scope {
        Scope::Po(po) => {
            let got = clients
                .dsco
                .get_orders(dsco::OrderKey::PoNumber, po.as_str())
                .await
                .map_err(|e| JobError::far("reading the DSCO order", &e))?;
            got.iter()
                .filter_map(|o| DscoOrderView::from_json(o.raw().get()).ok())
                .filter(|v| &v.po == po)
                .map(|v| (v.po.clone(), v))
                .collect()
        }
        Scope::Window { since, until } => {
            // DSCO refuses an `until` less than five seconds in the past.
            let until = (*until).min(now - dsco::MIN_UNTIL_LAG);
            let mut out = BTreeMap::new();
            if until > *since {
                let mut scroll = clients
                    .dsco
                    .scroll_orders(dsco::OrderQuery::created(*since, until))
                    .map_err(|e| JobError::far("reading DSCO orders", &e))?;
                while let Some(page) = scroll
                    .next_page()
                    .await
                    .map_err(|e| JobError::far("reading DSCO orders", &e))?
                {
                    for o in page {
                        if let Ok(v) = DscoOrderView::from_json(o.raw().get()) {
                            out.insert(v.po.clone(), v);
                        }
                    }
                }
            }
            out
        }
    };

    let mut outcome = Outcome::default();
    let mut checked: Vec<PoNumber> = Vec::new();
    let mut behind: Vec<PoNumber> = Vec::new();
    let local_set: BTreeSet<&PoNumber> = local.iter().collect();

    for chunk in local.chunks(POS_PER_CALL) {
        let records: Vec<OrderRecord> = store.orders_by_po(chunk).await?;
        // LingXing orders of the chunk's POs (deleted ones too): one call per 200.
        let nos: Vec<String> = records.iter().map(|r| r.pulled.po.to_string()).collect();
        let listed = clients
            .lingxing
            .orders_by_platform_order_nos(&nos, true)
            .await
            .map_err(|e| JobError::far("listing LingXing orders", &e))?;
        let mut lx_by_po: BTreeMap<String, Vec<LxEntry>> = BTreeMap::new();
        for o in &listed {
            for p in o.platform_order_nos() {
                lx_by_po.entry(p).or_default().push(LxEntry {
                    no: o.global_order_no.clone(),
                    status: o.status,
                    split: o.split_type == lingxing::SplitType::Split,
                });
            }
        }
        // Outbound orders only where LingXing audited (none can exist before).
        let audited: Vec<OrderRecord> = records
            .iter()
            .filter(|r| {
                lx_by_po
                    .get(r.pulled.po.as_str())
                    .is_some_and(|v| v.iter().any(|e| e.status.is_audited()))
            })
            .cloned()
            .collect();
        let outbounds: BTreeMap<String, Vec<LxOutbound>> = if audited.is_empty() {
            BTreeMap::new()
        } else {
            crate::jobs::read_outbounds(clients, &audited, now)
                .await
                .map_err(|e| JobError::far("reading LingXing outbound orders", &e))?
        };
        let audited: BTreeSet<&str> = audited.iter().map(|r| r.pulled.po.as_str()).collect();
        for r in &records {
            let po = &r.pulled.po;
            let invoice_found = match &r.invoice_id {
                Some(id) => Some(
                    !clients
                        .dsco
                        .find_invoices(id)
                        .await
                        .map_err(|e| JobError::far("looking up a DSCO invoice", &e))?
                        .is_empty(),
                ),
                None => None,
            };
            let ours = Ours {
                stage: Some(r.stage),
                lingxing_order_nos: r.lingxing_order_nos.clone(),
                trackings_sent: r.tracking.clone(),
                invoice_id: r.invoice_id.clone(),
            };
            let dsco = match dsco_orders.get(po) {
                Some(d) => DscoSide::Order(d),
                None => DscoSide::Missing,
            };
            let lx_orders = lx_by_po.remove(po.as_str()).unwrap_or_default();
            let lx_out = outbounds.get(po.as_str());
            let lx = LxSide {
                orders: Some(&lx_orders),
                outbounds: if audited.contains(po.as_str()) {
                    Some(lx_out.map(Vec::as_slice).unwrap_or_default())
                } else {
                    None
                },
            };
            let found = reconcile(&ours, dsco, invoice_found, lx);
            if found.iter().any(|f| f.kind() == FindingKind::Behind) {
                behind.push(po.clone());
            }
            checked.push(po.clone());
            outcome
                .findings
                .extend(found.into_iter().map(|f| (po.clone(), f)));
        }
    }
    // DSCO's orders we do not have: behind (the pull brings them).
    let theirs: Vec<PoNumber> = dsco_orders
        .keys()
        .filter(|p| !local_set.contains(p))
        .cloned()
        .collect();
    let known = store.stages_of(&theirs).await?;
    for po in theirs.iter().filter(|p| !known.contains_key(*p)) {
        let d = &dsco_orders[po];
        let found = reconcile(
            &Ours::default(),
            DscoSide::Order(d),
            None,
            LxSide::default(),
        );
        checked.push(po.clone());
        outcome
            .findings
            .extend(found.into_iter().map(|f| (po.clone(), f)));
    }

    if !behind.is_empty() {
        outcome.marked = store.mark_dirty(&behind, fence).await?;
    }
    let (opened, resolved) = store
        .record_findings(run_id, &checked, &outcome.findings, now)
        .await?;
    outcome.opened = opened;
    outcome.resolved = resolved;
    outcome.checked = checked.len();
    Ok(outcome)
}

/// The `reconcile` job: the last [`JOB_LOOKBACK`] of orders (or the run's PO).
pub struct Reconcile(pub Arc<Clients>);

#[async_trait]
impl Job for Reconcile {
    fn name(&self) -> JobName {
        JobName::Reconcile
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        let now = ctx.clock.now();
        let scope = match &ctx.only_po {
            Some(po) => Scope::Po(po.clone()),
            None => Scope::Window {
                since: now - JOB_LOOKBACK,
                until: now,
            },
        };
        let out = check(
            &self.0,
            &*ctx.store,
            &ctx.clock,
            &scope,
            &ctx.run_id,
            Some(&ctx.fence),
        )
        .await?;
        ctx.count(|c| {
            c.advanced += out.marked;
            c.processed += out.checked as u64;
            c.skipped_attention += (out.findings.len() - out.count(FindingKind::Behind)) as u64;
        });
        tracing::info!(
            checked = out.checked,
            behind = out.count(FindingKind::Behind),
            ahead = out.count(FindingKind::Ahead),
            diverged = out.count(FindingKind::Diverged),
            opened = out.opened,
            resolved = out.resolved,
            "reconciled"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_estimate_needs_confirmation() {
        let small = Estimate {
            orders: 1000,
            dsco_orders: 2,
            dsco_invoices: 300,
            lx_order_list: 5,
            lx_wms: 5,
        };
        assert_eq!(small.total(), 312);
        assert!(!small.needs_confirmation());
        let big = Estimate {
            dsco_invoices: 490,
            ..small
        };
        assert_eq!(big.total(), 502);
        assert!(big.needs_confirmation());
        assert_eq!(big.lines().iter().map(|(_, n)| n).sum::<u64>(), big.total());
    }
}
