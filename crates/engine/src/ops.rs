//! The operator actions: one code path each, used by the console's POST handlers and the CLI
//! alike. Every action takes the actor (the console's user, `local` without login, the OS user
//! for the CLI) and a required reason, checks its input with the domain's rules, writes through
//! the store, and leaves an audit entry (actor, action, target, reason, result) and an operator
//! event on each order's timeline.

// ===================================================================================
// Order and mapping actions (issue 16: retry, retry all, ignore, force, fix the cause,
// stock release). The global write switch lives in its own block (h-auth).
// ===================================================================================

use chrono::{DateTime, Utc};
use domain::ops::{cause_of_mapping, check_reason, force_guard};
use domain::{ImportedConfig, JobName, Lang, PoNumber, ReasonKind, Stage, Trigger};
use serde_json::json;
use store::{AuditEntry, OrderAct, OrderFilter, SkuSource, Store, StoreError};
use tokio::sync::watch;

use crate::{Engine, RunOptions, RunResult};

// --- the global write switch (issue 16, action 8) --------------------------------------------

/// Why a write-switch change was refused.
#[derive(Debug, thiserror::Error)]
pub enum WritesError {
    /// The reason is empty: every operator action says why.
    #[error("a reason is required (it is kept in the audit log); nothing was changed")]
    NoReason,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`set_writes`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritesChange {
    /// The switch as asked.
    pub enabled: bool,
    /// The runtime config version before (`None`: no config yet).
    pub from_version: Option<i64>,
    /// The version saved; `None` when the switch already was as asked (nothing written).
    pub to_version: Option<i64>,
}

impl WritesChange {
    pub fn changed(&self) -> bool {
        self.to_version.is_some()
    }
}

/// The audit action of the write switch.
pub fn writes_action(enabled: bool) -> &'static str {
    if enabled { "writes.on" } else { "writes.off" }
}

/// Stops (`enabled = false`) or resumes all writes to DSCO and LingXing: saves a new runtime
/// config version with `writes_enabled` changed (the scheduler hot-reloads it; a running job
/// keeps its snapshot until it ends) and appends a `writes.off` / `writes.on` audit entry
/// naming `actor`. When the switch already is as asked, nothing is written.
pub async fn set_writes(
    store: &dyn Store,
    enabled: bool,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<WritesChange, WritesError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(WritesError::NoReason);
    }
    let stored = store.runtime_config().await?;
    let from_version = stored.as_ref().map(|s| s.version);
    let mut config = stored.map(|s| s.config).unwrap_or_default();
    if config.writes_enabled() == enabled && from_version.is_some() {
        return Ok(WritesChange {
            enabled,
            from_version,
            to_version: None,
        });
    }
    config.writes_enabled = Some(enabled);
    let to = store
        .save_runtime_config(from_version, &config, actor, reason, now)
        .await?;
    store
        .append_audit(&AuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: writes_action(enabled).to_owned(),
            target: "runtime_config.writes_enabled".to_owned(),
            reason: reason.to_owned(),
            detail: json!({
                "writes_enabled": enabled,
                "from_version": from_version,
                "to_version": to,
            }),
        })
        .await?;
    tracing::info!(actor, enabled, version = to, "global write switch changed");
    Ok(WritesChange {
        enabled,
        from_version,
        to_version: Some(to),
    })
}

// --- end of the write switch -------------------------------------------------------------------

/// At most this many orders are retried by one bulk action (narrow the filter beyond).
pub const BULK_MAX: usize = 20_000;
/// Orders read or written per statement batch by the bulk action.
const BULK_BATCH: u32 = 1_000;
/// How many POs a bulk action's confirmation and audit entry name.
pub const SHOWN_POS: usize = 20;

/// Why an action did nothing.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bad or missing input, or a rule refused it: the message names the field or rule.
    #[error("{0}")]
    Refused(String),
    #[error("no order {0} in the store")]
    NoOrder(PoNumber),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OpsError {
    /// Whether the operator's input is at fault (a 400 page, CLI exit code 2).
    pub fn is_input(&self) -> bool {
        matches!(self, OpsError::Refused(_) | OpsError::NoOrder(_))
    }
}

fn refused(e: String) -> OpsError {
    OpsError::Refused(e)
}

/// The actor and reason every action carries.
#[derive(Debug, Clone)]
pub struct Who<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

impl Who<'_> {
    fn reason(&self) -> Result<&str, OpsError> {
        check_reason(self.reason).map_err(refused)
    }
    fn audit(&self, action: &str, target: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: self.now,
            actor: self.actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: self.reason.trim().to_owned(),
            detail,
        }
    }
}

/// The actor of the CLI: `cli:$USER` (the OS user), else `cli`.
pub fn cli_actor() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|u| u.trim().to_owned())
        .find(|u| !u.is_empty() && u.len() <= 64)
        .map_or_else(|| "cli".to_owned(), |u| format!("cli:{u}"))
}

async fn order_of(store: &dyn Store, po: &PoNumber) -> Result<store::OrderRecord, OpsError> {
    store
        .get_order(po)
        .await?
        .ok_or_else(|| OpsError::NoOrder(po.clone()))
}

// --- 1. retry one order ----------------------------------------------------------------

/// What became of "retry now".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried {
    /// The job that decides the order next (none: the order is final, nothing was done).
    pub job: Option<JobName>,
    /// With "run now": what that run did.
    pub run: Option<RunResult>,
}

/// Retry now: the order's back-off is cleared (due now, attempts back to 0) and it is marked
/// for a decision at the next run of its stage's job. Refused for a final order.
pub async fn retry_order(
    store: &dyn Store,
    po: &PoNumber,
    who: &Who<'_>,
) -> Result<JobName, OpsError> {
    let reason = who.reason()?;
    let o = order_of(store, po).await?;
    let Some(job) = crate::jobs::mover_of(o.stage) else {
        return Err(refused(format!(
            "order {po} is at stage {} (final): no job decides it again; force it instead",
            o.stage
        )));
    };
    let audit = who.audit(
        "order.retry",
        po.as_str(),
        json!({"stage": o.stage.number(), "job": job.as_str(), "attempts_before": o.attempts}),
    );
    store
        .act_on_orders(
            OrderAct::Retry,
            std::slice::from_ref(po),
            who.actor,
            &format!("retry requested by {}: {reason}", who.actor),
            who.now,
            Some(&audit),
        )
        .await?;
    Ok(job)
}

/// Retry now, and with `run_now` run the stage's job for this PO right away.
pub async fn retry_order_now(
    engine: &Engine,
    po: &PoNumber,
    who: &Who<'_>,
    run_now: bool,
    trigger: Trigger,
) -> Result<Retried, OpsError> {
    let job = retry_order(&**engine.store(), po, who).await?;
    let run = if run_now {
        Some(run_for_po(engine, job, po, trigger).await?)
    } else {
        None
    };
    Ok(Retried {
        job: Some(job),
        run,
    })
}

/// Runs `job` now for `po` only, through the runner.
pub async fn run_for_po(
    engine: &Engine,
    job: JobName,
    po: &PoNumber,
    trigger: Trigger,
) -> Result<RunResult, OpsError> {
    if !engine.registered().contains(&job) {
        return Err(refused(format!(
            "{job} is not registered in this process: it cannot be run here"
        )));
    }
    // The sender lives until the run ends: a dropped sender would read as a shutdown.
    let (_stop_tx, stop_rx) = watch::channel(false);
    let opts = RunOptions {
        scheduled_for: None,
        only_po: Some(po.clone()),
        dry_run: false,
    };
    Ok(engine.run_job(job, trigger, opts, stop_rx).await?)
}

// --- 2. retry all matching -------------------------------------------------------------

/// The orders a bulk action would touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matching {
    /// Every matching order, oldest in its stage first.
    pub pos: Vec<PoNumber>,
    /// More than [`BULK_MAX`] match: the action is refused until the filter is narrowed.
    pub over_limit: bool,
}

impl Matching {
    pub fn count(&self) -> usize {
        self.pos.len()
    }
    /// The first few, for the confirmation page.
    pub fn first(&self) -> &[PoNumber] {
        &self.pos[..self.pos.len().min(SHOWN_POS)]
    }
}

/// The orders matching `filter` that a retry applies to (not final), read a batch at a time,
/// at most [`BULK_MAX`] (+1 to tell that there are more).
pub async fn matching(store: &dyn Store, filter: &OrderFilter) -> Result<Matching, OpsError> {
    let mut pos = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .order_page(filter, false, after.as_ref(), BULK_BATCH)
            .await?;
        let full = page.len() == BULK_BATCH as usize;
        after = page.last().map(|r| r.cursor());
        pos.extend(
            page.into_iter()
                .filter(|r| !r.stage.is_terminal())
                .map(|r| r.po),
        );
        if pos.len() > BULK_MAX {
            pos.truncate(BULK_MAX);
            return Ok(Matching {
                pos,
                over_limit: true,
            });
        }
        if !full {
            return Ok(Matching {
                pos,
                over_limit: false,
            });
        }
    }
}

/// How a filter reads in the audit log (`code=shop_unmapped subject=…`).
pub fn describe_filter(f: &OrderFilter) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    };
    add("stage", f.stage.map(|s| s.number().to_string()));
    add("kind", f.reason_kind.map(|k| k.as_str().to_owned()));
    add("code", f.reason_code.clone());
    add("subject", f.subject.clone());
    add("retailer", f.retailer.clone());
    add("warehouse", f.warehouse.clone());
    add("sku", f.sku.clone());
    add("tracking", f.tracking.clone());
    add("lingxing_order", f.lingxing_order_no.clone());
    add("po", f.po_contains.clone());
    add("created_from", f.created_from.map(|t| t.to_rfc3339()));
    add("created_to", f.created_to.map(|t| t.to_rfc3339()));
    add("updated_from", f.updated_from.map(|t| t.to_rfc3339()));
    add("updated_to", f.updated_to.map(|t| t.to_rfc3339()));
    add("ignored", f.ignored.map(|b| b.to_string()));
    if parts.is_empty() {
        "all orders".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Clears the back-off of `pos`, [`BULK_BATCH`] orders per store call, with `detail` on each
/// order's timeline; the POs it acted on.
async fn retry_each(
    store: &dyn Store,
    pos: &[PoNumber],
    who: &Who<'_>,
    detail: &str,
) -> Result<Vec<PoNumber>, OpsError> {
    let mut done = Vec::with_capacity(pos.len());
    for chunk in pos.chunks(BULK_BATCH as usize) {
        done.extend(
            store
                .act_on_orders(OrderAct::Retry, chunk, who.actor, detail, who.now, None)
                .await?,
        );
    }
    Ok(done)
}

/// Retry all matching: every order of `filter` that is not final is retried (as
/// [`retry_order`]), a batch per transaction; one audit entry names the filter, the count and
/// the first POs. Refused beyond [`BULK_MAX`] orders. Returns how many were retried.
pub async fn retry_matching(
    store: &dyn Store,
    filter: &OrderFilter,
    who: &Who<'_>,
) -> Result<usize, OpsError> {
    let reason = who.reason()?;
    let m = matching(store, filter).await?;
    if m.over_limit {
        return Err(refused(format!(
            "more than {BULK_MAX} orders match ({}): narrow the filter",
            describe_filter(filter)
        )));
    }
    let target = describe_filter(filter);
    let detail = format!(
        "retry requested by {} (bulk: {target}): {reason}",
        who.actor
    );
    let done = retry_each(store, &m.pos, who, &detail).await?;
    let first: Vec<&str> = done.iter().take(SHOWN_POS).map(PoNumber::as_str).collect();
    store
        .append_audit(&who.audit(
            "order.retry_all",
            &target,
            json!({"count": done.len(), "first": first}),
        ))
        .await?;
    Ok(done.len())
}

// --- 3. ignore / un-ignore -------------------------------------------------------------

/// Ignore (`true`) or un-ignore one order. `false` when it already was so (nothing written).
pub async fn set_ignored(
    store: &dyn Store,
    po: &PoNumber,
    ignored: bool,
    who: &Who<'_>,
) -> Result<bool, OpsError> {
    let reason = who.reason()?;
    let o = order_of(store, po).await?;
    let (act, action, verb) = if ignored {
        (OrderAct::Ignore, "order.ignore", "ignored")
    } else {
        (OrderAct::Unignore, "order.unignore", "un-ignored")
    };
    let audit = who.audit(
        action,
        po.as_str(),
        json!({"stage": o.stage.number(), "reason_code": o.reason.as_ref().map(|r| r.code)}),
    );
    let done = store
        .act_on_orders(
            act,
            std::slice::from_ref(po),
            who.actor,
            &format!("{verb} by {}: {reason}", who.actor),
            who.now,
            Some(&audit),
        )
        .await?;
    Ok(!done.is_empty())
}

// --- 4. force stage --------------------------------------------------------------------

/// What forcing an order would do: the confirmation page and the CLI show it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcePlan {
    pub po: PoNumber,
    pub from: Stage,
    pub to: Stage,
    /// What the jobs will and will not do afterwards, in each language.
    pub zh: Vec<String>,
    pub en: Vec<String>,
}

impl ForcePlan {
    pub fn consequences(&self, lang: Lang) -> &[String] {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// The plan of forcing `po` to `to`, refused (naming the rule) when the guard forbids it.
pub async fn force_plan(
    store: &dyn Store,
    po: &PoNumber,
    to: Stage,
) -> Result<ForcePlan, OpsError> {
    let o = order_of(store, po).await?;
    force_guard(o.stage, to, o.reason.as_ref().map(|r| r.code.as_str())).map_err(refused)?;
    Ok(ForcePlan {
        po: po.clone(),
        from: o.stage,
        to,
        zh: domain::ops::force_consequences(o.stage, to, Lang::Zh),
        en: domain::ops::force_consequences(o.stage, to, Lang::En),
    })
}

/// Forces `po` to `to` within the guard (the store checks it again in its transaction) and
/// records it (event and audit). Returns the stage it left.
pub async fn force(
    store: &dyn Store,
    po: &PoNumber,
    to: Stage,
    who: &Who<'_>,
) -> Result<Stage, OpsError> {
    let reason = who.reason()?;
    force_plan(store, po, to).await?;
    let from = store
        .force_stage(po, to, who.actor, reason, who.now)
        .await
        .map_err(|e| match e {
            StoreError::NotAllowed(m) => OpsError::Refused(m),
            e => e.into(),
        })?;
    // Cancelled by hand with a LingXing create that may have been applied (sent, about to be,
    // or unanswered): flagged like a cancellation the pull makes (`close_superseded`), so that
    // an order LingXing may fulfil does not read as cancelled and finished.
    if to == Stage::Cancelled
        && store
            .intents_for(po)
            .await?
            .iter()
            .any(crate::jobs::create_may_have_landed)
    {
        store
            .add_flag(po, crate::jobs::CANCELLED_AFTER_PUSH, None)
            .await?;
    }
    Ok(from)
}

// --- 6. fix the cause: one mapping entry -----------------------------------------------

/// What a saved mapping entry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSet {
    /// The key path as `config check` names it (`runtime_config.mapping.shop."1000012345"`).
    pub path: String,
    /// The new runtime config version (shop, warehouse, shipment, carrier) or `mapping.sku`
    /// version (sku); `None` when the entry already had this value (nothing written).
    pub version: Option<i64>,
    /// How many orders that waited on this entry were retried.
    pub retried: usize,
}

/// The orders that wait on mapping `name`'s entry `key`: the needs-attention orders of its
/// reason code and subject (shop, warehouse, shipment), or with the SKU on a line (sku).
pub fn waiting_on(name: &str, key: &str) -> Option<OrderFilter> {
    if let Some(code) = cause_of_mapping(name) {
        return Some(OrderFilter {
            reason_kind: Some(ReasonKind::NeedsAttention),
            reason_code: Some(code.as_str().to_owned()),
            subject: Some(key.to_owned()),
            ..OrderFilter::default()
        });
    }
    (name == "sku").then(|| OrderFilter {
        reason_kind: Some(ReasonKind::NeedsAttention),
        sku: Some(key.to_owned()),
        ..OrderFilter::default()
    })
}

/// The mapping entry an operator can add to fix the cause `code` / `subject`: (mapping name,
/// key). A missing shop, warehouse or shipment entry names its key (the domain's
/// [`domain::ops::mapping_for_cause`]); LingXing refusing an order (`lingxing_rejected`) over
/// a SKU is fixed by a `mapping.sku` entry when LingXing's message names a DSCO SKU of the
/// order that `mapping.sku` does not map.
pub async fn fix_for_cause(
    store: &dyn Store,
    code: &str,
    subject: &str,
) -> Result<Option<(&'static str, String)>, OpsError> {
    if let Some(fix) = domain::ops::mapping_for_cause(code, subject) {
        return Ok(Some(fix));
    }
    if code != domain::ReasonCode::LingxingRejected.as_str() {
        return Ok(None);
    }
    let filter = OrderFilter {
        reason_code: Some(code.to_owned()),
        subject: Some(subject.to_owned()),
        ..OrderFilter::default()
    };
    let Some(row) = store.order_page(&filter, false, None, 1).await?.pop() else {
        return Ok(None);
    };
    let mapped = store.sku_map().await?.effective();
    // `skus` is `SKU(qty)` per line, comma-joined.
    let mut named: Vec<String> = row
        .skus
        .split(',')
        .filter_map(|l| l.rsplit_once('(').map(|(s, _)| s.trim().to_owned()))
        .filter(|s| !s.is_empty() && !mapped.contains_key(s) && subject.contains(s.as_str()))
        .collect();
    named.sort();
    named.dedup();
    Ok(match named.as_slice() {
        [one] => Some(("sku", one.clone())),
        _ => None,
    })
}

/// `mapping set NAME KEY VALUE`, the console's fix-the-cause form: validates the entry as
/// `config check` does (the same messages, naming the key), saves a new runtime-config
/// version (for `sku`: a `manual` entry of `mapping.sku`), then retries the orders that waited
/// on it, in one action with one audit entry.
pub async fn set_mapping(
    store: &dyn Store,
    name: &str,
    key: &str,
    value: &str,
    who: &Who<'_>,
) -> Result<MappingSet, OpsError> {
    let reason = who.reason()?;
    if !domain::ops::MAPPINGS.contains(&name) {
        return Err(refused(format!(
            "mapping: `{name}` is not one of {}",
            domain::ops::MAPPINGS.join(", ")
        )));
    }
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(refused(format!(
            "runtime_config.mapping.{name}: the key is empty"
        )));
    }
    if value == "null" {
        return Err(refused(format!(
            "runtime_config.mapping.{name}.\"{key}\": give the LingXing value (an entry is not removed here)"
        )));
    }
    let stored = store.runtime_config().await?;
    let running_version = stored.as_ref().map(|s| s.version);
    let config = stored.map(|s| s.config).unwrap_or_default();
    let sku = store.sku_map().await?;
    let before = ImportedConfig {
        config: config.clone(),
        sku: sku.effective(),
    };
    let edit = before
        .with_setting(&format!("mapping.{name}.{key}"), value)
        .map_err(|e| refused(e.to_string()))?;
    let old = match name {
        "sku" => sku.effective().get(key).cloned(),
        _ => config_entry(&config, name, key),
    };
    let version = match edit.sku {
        Some((dsco, lx)) => {
            let unchanged = sku.entries_of(SkuSource::Manual).get(&dsco) == lx.as_ref();
            if unchanged {
                None
            } else {
                Some(
                    store
                        .set_manual_sku(
                            sku.version,
                            &dsco,
                            lx.as_deref(),
                            who.actor,
                            reason,
                            who.now,
                        )
                        .await?,
                )
            }
        }
        None => {
            let new = edit.config.config;
            if running_version.is_some() && new == config {
                None
            } else {
                Some(
                    store
                        .save_runtime_config(running_version, &new, who.actor, reason, who.now)
                        .await?,
                )
            }
        }
    };
    let retried = match waiting_on(name, key) {
        Some(filter) => {
            let m = matching(store, &filter).await?;
            let detail = format!(
                "retry after {} set {} = {value}: {reason}",
                who.actor, edit.path
            );
            retry_each(store, &m.pos, who, &detail).await?.len()
        }
        None => 0,
    };
    store
        .append_audit(&who.audit(
            "mapping.set",
            &edit.path,
            json!({"old": old, "new": value, "version": version, "retried": retried}),
        ))
        .await?;
    Ok(MappingSet {
        path: edit.path,
        version,
        retried,
    })
}

/// The value of `mapping.<name>.<key>` in the runtime config, as text.
fn config_entry(config: &domain::RuntimeConfig, name: &str, key: &str) -> Option<String> {
    let m = &config.mapping;
    match name {
        "shop" => m
            .shop
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.to_string()),
        "warehouse" => m
            .warehouse
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.to_string()),
        "shipment" => m
            .shipment
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.to_string()),
        "carrier" => m
            .carrier
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.to_string()),
        _ => None,
    }
}

// --- 9. stock guard release ------------------------------------------------------------

/// Releases every held sync_stock run (the next run sends although the zero-drop guard
/// tripped); audited by the store. Returns the released runs.
pub async fn release_stock(store: &dyn Store, who: &Who<'_>) -> Result<Vec<String>, OpsError> {
    let reason = who.reason()?;
    Ok(store.release_stock_runs(who.actor, reason, who.now).await?)
}
