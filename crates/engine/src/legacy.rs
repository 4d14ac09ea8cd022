//! `import legacy`: the Go service's orders and stock-sync log into the store.
//!
//! Each order's DSCO payload is stored the way the pull stores it (`upsert_pulled_many`, read by
//! the pull's own reader), at the stage [`domain::legacy::derive_stage`] gives it, with the
//! far-side writes the predecessor made recorded as confirmed intents, the same ones our jobs
//! record for their own writes: a create (keyed by PO) for an order that reached LingXing, an
//! ACK for an acknowledged one, a shipment per tracking number sent (and the number in the
//! order's trackings), an invoice for an invoice id (and the id on the order). So the push never
//! creates it again, the ACK job never acknowledges it again, the ship job never sends a listed
//! tracking number again and the invoice job never invoices it again.
//!
//! Rows are read a page of PO numbers at a time and each page is written in a few fenced
//! transactions; a rerun (after a crash, or a second run) reads the same pages and writes only
//! what is missing, so it continues where the crash left off and a complete import changes
//! nothing. An order the store has already is never moved back and its payload is not replaced
//! (ours is the same one, or newer from our own pull). A row whose payload is not a DSCO order
//! (NULL, not an object, without or with another `poNumber`) or without a PO is reported and
//! kept among the unreadable orders. The dry run reads and decides the same and writes nothing.
//! While it runs the import holds the leases of the order jobs and `sync_stock` (a running
//! service refuses it, and no job runs on half-imported orders).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clock::Clock;
use domain::legacy::{Derived, LegacyFacts, derive_stage, split_trackings};
use domain::order::RawJson;
use domain::{JobName, PoNumber, ReasonCode, Stage};
use serde_json::json;
use store::{
    EventOutcome, Fence, Intent, IntentKind, IntentState, IntentUpdate, Lease, LegacyOrderRow,
    LegacySource, NewEvent, NewIntent, OrderRecord, PulledOrder, StockLogCursor, Store, StoreError,
    UnreadableOrder,
};

/// What the import writes as, in events and intents.
pub const ACTOR: &str = "import legacy";
/// Orders read per page (one set of store transactions each).
pub const PAGE: u32 = 500;
/// Renewed every page: a crashed import frees the jobs (and a rerun may start) after this.
const LEASE_TTL: Duration = Duration::from_secs(120);
/// The jobs whose leases the import holds.
const HELD: [JobName; 6] = [
    JobName::PullDscoOrders,
    JobName::PushToLingxing,
    JobName::AckToDsco,
    JobName::ShipToDsco,
    JobName::InvoiceToDsco,
    JobName::SyncStock,
];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "job {job} is running ({holder}): stop the service (and any `job run`) before importing"
    )]
    Busy { job: JobName, holder: String },
    #[error("the import lost the lease of {0} (another process took it): run it again")]
    LeaseLost(JobName),
}

/// One line of the report, handed over as it is found (a large import cannot keep them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportLine {
    /// An order whose stage differs from the predecessor's, and why.
    Corrected {
        po: String,
        /// The predecessor's `status` as stored (`NULL` when it was).
        from: String,
        to: Stage,
        why: Vec<String>,
    },
    /// A row that could not be imported as an order (kept among the unreadable orders).
    Bad { row: String, why: String },
}

/// What an import found and did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Orders per the predecessor's `status` (as text; `NULL`).
    pub before: BTreeMap<String, i64>,
    /// Orders per stage in our store after the import (only the imported ones).
    pub after: BTreeMap<Stage, i64>,
    pub rows: u64,
    pub inserted: u64,
    /// Known already, nothing to write.
    pub unchanged: u64,
    /// Known already and moved forward (or given missing trackings, invoice or intents).
    pub updated: u64,
    pub corrected: u64,
    pub bad: u64,
    pub intents: u64,
    pub stock_rows: u64,
    pub stock_added: u64,
}

impl ImportReport {
    /// Whether the import wrote (or, dry, would write) anything.
    pub fn changed(&self) -> bool {
        self.inserted > 0 || self.updated > 0 || self.intents > 0 || self.stock_added > 0
    }
}

/// The leases held during the import.
struct Held {
    leases: Vec<Lease>,
}

impl Held {
    fn fence(&self) -> Fence {
        self.leases[0].fence()
    }

    async fn take(store: &dyn Store, now: DateTime<Utc>) -> Result<Held, ImportError> {
        let run_id = format!("import-{}", uuid::Uuid::new_v4().simple());
        let mut leases = Vec::new();
        for job in HELD {
            match store
                .try_acquire_lease(job, ACTOR, &run_id, now, LEASE_TTL)
                .await?
            {
                Some(l) => leases.push(l),
                None => {
                    for l in &leases {
                        store.release_lease(l).await?;
                    }
                    let holder = store
                        .lease_info(job)
                        .await?
                        .and_then(|i| i.holder)
                        .unwrap_or_else(|| "another process".to_owned());
                    return Err(ImportError::Busy { job, holder });
                }
            }
        }
        Ok(Held { leases })
    }

    async fn renew(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<(), ImportError> {
        for l in &self.leases {
            if !store.renew_lease(l, now, LEASE_TTL).await? {
                return Err(ImportError::LeaseLost(l.job));
            }
        }
        Ok(())
    }

    async fn release(self, store: &dyn Store) -> Result<(), ImportError> {
        for l in &self.leases {
            store.release_lease(l).await?;
        }
        Ok(())
    }
}

/// Imports the predecessor's orders and stock-sync log (the runtime config is `config
/// import`'s). `line` receives every corrected order and bad row as found.
pub async fn import_legacy(
    store: &Arc<dyn Store>,
    source: &LegacySource,
    clock: &Clock,
    dry_run: bool,
    line: &mut (dyn FnMut(ImportLine) + Send),
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport {
        dry_run,
        ..ImportReport::default()
    };
    for (status, n) in source.count_by_status().await? {
        report
            .before
            .insert(status.unwrap_or_else(|| "NULL".to_owned()), n);
    }
    let held = if dry_run {
        None
    } else {
        Some(Held::take(&**store, clock.now()).await?)
    };
    let out = run(store, source, clock, held.as_ref(), &mut report, line).await;
    if let Some(h) = held {
        h.release(&**store).await?;
    }
    out.map(|()| report)
}

async fn run(
    store: &Arc<dyn Store>,
    source: &LegacySource,
    clock: &Clock,
    held: Option<&Held>,
    report: &mut ImportReport,
    line: &mut (dyn FnMut(ImportLine) + Send),
) -> Result<(), ImportError> {
    let fence = held.map(Held::fence);
    let kept: BTreeSet<String> = store
        .unreadable_orders(false, u32::MAX)
        .await?
        .into_iter()
        .map(|u| u.order.dsco_order_id)
        .collect();
    let mut after: Option<String> = None;
    loop {
        let page = source.order_page(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.po_number.clone();
        if let Some(h) = held {
            h.renew(&**store, clock.now()).await?;
        }
        import_page(&**store, clock, fence.as_ref(), page, &kept, report, line).await?;
    }
    // Rows without a PO number: unreadable (bounded: a unique column's NULLs are rare).
    let nulls = source.orders_without_po(100_000).await?;
    if !nulls.is_empty() {
        import_page(&**store, clock, fence.as_ref(), nulls, &kept, report, line).await?;
    }
    // The stock-sync log, a page at a time.
    let mut cursor = StockLogCursor::default();
    loop {
        let (rows, next) = source.stock_page(&cursor, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        cursor = next;
        report.stock_rows += rows.len() as u64;
        match (held, &fence) {
            (Some(h), Some(f)) => {
                h.renew(&**store, clock.now()).await?;
                report.stock_added += store.import_legacy_stock(&rows, clock.now(), f).await?;
            }
            _ => {
                let distinct: BTreeSet<String> = rows.iter().map(|r| r.key()).collect();
                let known = store.legacy_stock_known(&rows).await?;
                report.stock_added += (distinct.len() as u64).saturating_sub(known);
            }
        }
    }
    Ok(())
}

/// One row read as an order: its pulled form, its facts and derived stage.
struct Row {
    pulled: PulledOrder,
    facts: LegacyFacts,
    derived: Derived,
    stored_text: String,
}

/// Reads a row as an order, or says why it cannot be one (as the unreadable order to keep).
fn read_row(r: LegacyOrderRow) -> Result<Row, UnreadableOrder> {
    let label = r
        .po_number
        .clone()
        .unwrap_or_else(|| "(no po_number)".into());
    let unreadable = |payload: RawJson, why: String| {
        let id = serde_json::from_str::<serde_json::Value>(payload.get())
            .ok()
            .and_then(|v| match v.get("dscoOrderId")? {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        UnreadableOrder {
            dsco_order_id: id.unwrap_or_else(|| format!("legacy:{label}")),
            reason_code: ReasonCode::PoMissing,
            detail: format!("Go service row {label}: {why}"),
            payload,
        }
    };
    let Some(text) = r.payload.as_deref() else {
        return Err(unreadable(
            RawJson::from(serde_json::Value::Null),
            "payload is NULL / 无 DSCO 订单数据".into(),
        ));
    };
    let raw = match serde_json::value::RawValue::from_string(text.to_owned()) {
        Ok(raw) => raw,
        Err(e) => {
            let v = json!({ "text": text });
            return Err(unreadable(
                RawJson::from(v),
                format!("payload is not JSON ({e}) / 不是 JSON"),
            ));
        }
    };
    let (view, pulled) = match crate::jobs::pull::read_order(raw) {
        Ok(x) => x,
        Err(u) => {
            return Err(unreadable(
                u.payload,
                format!("payload is not a DSCO order: {} / 不是 DSCO 订单", u.detail),
            ));
        }
    };
    if r.po_number.as_deref() != Some(view.po.as_str()) {
        return Err(unreadable(
            pulled.payload,
            format!(
                "payload poNumber {} differs from po_number / 订单号不一致",
                view.po
            ),
        ));
    }
    let stored = r
        .status
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let invoice_id = r
        .dsco_invoice_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let facts = LegacyFacts {
        stored,
        trackings_sent: split_trackings(r.shipped_tracking_no.as_deref()),
        invoice_id,
        ..LegacyFacts::default()
    }
    .with_view(&view);
    let derived = derive_stage(&facts);
    Ok(Row {
        pulled,
        derived,
        facts,
        stored_text: r.status.unwrap_or_else(|| "NULL".to_owned()),
    })
}

/// The intents of the writes the predecessor made for an order (kind, key).
fn made(row: &Row) -> Vec<(IntentKind, String)> {
    let po = row.pulled.po.to_string();
    let mut out = Vec::new();
    if row.derived.pushed(&row.facts) {
        out.push((IntentKind::Create, po.clone()));
    }
    if row.derived.acknowledged(&row.facts) {
        out.push((IntentKind::Ack, po.clone()));
    }
    for t in &row.facts.trackings_sent {
        out.push((IntentKind::Shipment, t.clone()));
    }
    if row.facts.invoice_id.is_some() {
        out.push((IntentKind::Invoice, po));
    }
    out
}

async fn import_page(
    store: &dyn Store,
    clock: &Clock,
    fence: Option<&Fence>,
    page: Vec<LegacyOrderRow>,
    kept: &BTreeSet<String>,
    report: &mut ImportReport,
    line: &mut (dyn FnMut(ImportLine) + Send),
) -> Result<(), ImportError> {
    let now = clock.now();
    report.rows += page.len() as u64;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for r in page {
        match read_row(r) {
            Ok(row) => rows.push(row),
            Err(u) => {
                line(ImportLine::Bad {
                    row: u.dsco_order_id.clone(),
                    why: u.detail.clone(),
                });
                bad.push(u);
            }
        }
    }
    report.bad += bad.len() as u64;
    // A bad row kept before is not kept again (a second import changes nothing).
    bad.retain(|u| !kept.contains(&u.dsco_order_id));
    let pos: Vec<PoNumber> = rows.iter().map(|r| r.pulled.po.clone()).collect();
    let known: BTreeMap<PoNumber, OrderRecord> = store
        .orders_by_po(&pos)
        .await?
        .into_iter()
        .map(|o| (o.pulled.po.clone(), o))
        .collect();
    let kinds = [
        IntentKind::Create,
        IntentKind::Ack,
        IntentKind::Shipment,
        IntentKind::Invoice,
    ];
    let wanted: Vec<(IntentKind, String)> = rows.iter().flat_map(made).collect();
    let mut intents: BTreeMap<(IntentKind, String), Intent> = BTreeMap::new();
    for kind in kinds {
        let list: Vec<String> = wanted
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, key)| key.clone())
            .collect();
        if list.is_empty() {
            continue;
        }
        for (key, i) in store.intents(kind, &list).await? {
            intents.insert((kind, key), i);
        }
    }

    let mut inserts = Vec::new();
    let mut moves = Vec::new();
    let mut notes = Vec::new();
    let mut new_intents: BTreeMap<IntentKind, Vec<NewIntent>> = BTreeMap::new();
    let mut confirms: BTreeMap<IntentKind, Vec<IntentUpdate>> = BTreeMap::new();
    let mut trackings = Vec::new();
    let mut invoices = Vec::new();
    let mut flags = Vec::new();
    for row in &rows {
        let po = &row.pulled.po;
        let d = &row.derived;
        let why: Vec<String> = d.why.iter().map(|c| c.text()).collect();
        let mut changed = false;
        let stage_after = match known.get(po) {
            None => {
                inserts.push((row.pulled.clone(), d.stage));
                let detail = format!(
                    "imported from the Go service at {} (its status {}){} / 从旧系统导入",
                    d.stage,
                    row.stored_text,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.join("; "))
                    }
                );
                notes.push(event(po, now, None, None, EventOutcome::Noted, detail));
                report.inserted += 1;
                d.stage
            }
            Some(o) if o.stage != d.stage && o.stage.can_advance_to(d.stage) => {
                let detail = format!(
                    "imported from the Go service: {}",
                    if why.is_empty() {
                        "its stored stage".to_owned()
                    } else {
                        why.join("; ")
                    }
                );
                moves.push(event(
                    po,
                    now,
                    Some(o.stage),
                    Some(d.stage),
                    EventOutcome::Advanced,
                    detail,
                ));
                changed = true;
                d.stage
            }
            Some(o) => o.stage,
        };
        *report.after.entry(stage_after).or_default() += 1;
        if d.corrected() {
            report.corrected += 1;
            line(ImportLine::Corrected {
                po: po.to_string(),
                from: row.stored_text.clone(),
                to: d.stage,
                why,
            });
        }
        let mine = known.get(po);
        for (kind, key) in made(row) {
            let payload = json!({"imported_from": "go_service", "po": po.as_str()});
            match intents.get(&(kind, key.clone())) {
                Some(i) if i.state == IntentState::Confirmed => continue,
                Some(_) => {}
                None => new_intents.entry(kind).or_default().push(NewIntent {
                    key: key.clone(),
                    po: po.clone(),
                    payload,
                }),
            }
            confirms.entry(kind).or_default().push(IntentUpdate {
                key,
                state: IntentState::Confirmed,
                outcome: "sent by the Go service before the switch (import legacy)".to_owned(),
            });
            report.intents += 1;
            changed = true;
        }
        let have: BTreeSet<&str> = mine
            .map(|o| o.tracking.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let missing: Vec<String> = row
            .facts
            .trackings_sent
            .iter()
            .filter(|t| !have.contains(t.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            trackings.push((po.clone(), missing));
            changed = true;
        }
        if let Some(id) = &row.facts.invoice_id
            && mine.and_then(|o| o.invoice_id.as_ref()) != Some(id)
        {
            invoices.push((po.clone(), id.clone()));
            changed = true;
        }
        let was_in_lingxing = d.stage == Stage::Cancelled && d.pushed(&row.facts);
        if was_in_lingxing
            && !mine.is_some_and(|o| {
                o.flags
                    .iter()
                    .any(|f| f == crate::jobs::CANCELLED_AFTER_PUSH)
            })
        {
            flags.push(po.clone());
            changed = true;
        }
        if mine.is_some() {
            if changed {
                report.updated += 1;
            } else {
                report.unchanged += 1;
            }
        }
    }
    let Some(fence) = fence else {
        return Ok(());
    };
    // Intents first: whatever a crash leaves, no write is made again.
    for (kind, items) in &new_intents {
        store
            .put_intents(*kind, items, ACTOR, now, fence, false)
            .await?;
    }
    for (kind, updates) in &confirms {
        store.update_intents(*kind, updates, now, fence).await?;
    }
    store.record_unreadable_orders(&bad, now, fence).await?;
    if !inserts.is_empty() {
        store.upsert_pulled_many(&inserts, None, now, fence).await?;
    }
    if !moves.is_empty() {
        store.cas_stages(&moves, fence).await?;
    }
    if !trackings.is_empty() {
        store.add_trackings(&trackings, fence).await?;
    }
    if !invoices.is_empty() {
        store.set_invoice_ids(&invoices, fence).await?;
    }
    for po in &flags {
        store
            .add_flag(po, crate::jobs::CANCELLED_AFTER_PUSH, Some(fence))
            .await?;
    }
    if !notes.is_empty() {
        let notes: Vec<_> = notes.into_iter().map(|e| (e, None)).collect();
        store.record_events(&notes, fence).await?;
    }
    Ok(())
}

fn event(
    po: &PoNumber,
    at: DateTime<Utc>,
    from: Option<Stage>,
    to: Option<Stage>,
    outcome: EventOutcome,
    detail: String,
) -> NewEvent {
    NewEvent {
        po: po.clone(),
        at,
        job: None,
        run_id: None,
        actor: Some(ACTOR.to_owned()),
        from_stage: from,
        to_stage: to,
        outcome,
        reason_code: None,
        reason_kind: None,
        detail,
    }
}
