//! Editing the runtime config (the console's action 7; the CLI's `config set` and `config
//! rollback` go through the same validation): a list of key-path edits or a rollback becomes a
//! [`ConfigPlan`] (the whole config after, validated by `domain::config` with `config check`'s
//! messages, and the diff against the running version); saving it is a compare-and-swap on that
//! version, audited. The scheduler hot-reloads the new version.

use chrono::{DateTime, Utc};
use domain::config::{ConfigDiff, ConfigErrors};
use domain::{ImportedConfig, RuntimeConfig, Schedule};
use serde_json::json;
use store::{AuditEntry, Store, StoreError};

/// At most this many changes are copied into one audit entry (its summary counts them all).
const AUDITED_CHANGES: usize = 500;

/// Why an edit was not planned or saved. Nothing is written in any case.
#[derive(Debug, thiserror::Error)]
pub enum ConfigOpError {
    /// The edit leaves an invalid config: `config check`'s messages, naming each key.
    #[error("{0}")]
    Invalid(ConfigErrors),
    #[error("the reason is required: say why the config changes / 必须填写原因")]
    NoReason,
    #[error("nothing to change: the edit leaves the running config as it is / 没有变化")]
    Unchanged,
    /// The running version moved since the plan was made (someone else saved one).
    #[error(
        "the running config changed (now {running}, the edit was planned on {planned}): review the edit again / 配置已被他人修改，请重新核对"
    )]
    Stale { planned: String, running: String },
    #[error("no runtime config version {0} / 没有该配置版本")]
    NoVersion(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What saving would do: the running version it was planned on, the config after, the diff.
#[derive(Debug, Clone)]
pub struct ConfigPlan {
    pub from_version: Option<i64>,
    pub config: RuntimeConfig,
    pub diff: ConfigDiff,
    /// What the edit is, for the audit log (`set jobs.x.size 10; …`, `rollback to v3`).
    pub what: String,
}

/// A version's name as the history shows it.
pub fn version_name(v: Option<i64>) -> String {
    match v {
        Some(v) => format!("v{v}"),
        None => "none".to_owned(),
    }
}

async fn running(store: &dyn Store) -> Result<(Option<i64>, ImportedConfig), StoreError> {
    let stored = store.runtime_config().await?;
    let sku = store.sku_map().await?.effective();
    Ok((
        stored.as_ref().map(|s| s.version),
        ImportedConfig {
            config: stored.map(|s| s.config).unwrap_or_default(),
            sku,
        },
    ))
}

/// Applies `edits` (key path, value as `config set` takes them; `null` removes) one after the
/// other to `base`; every step validated. `mapping.sku` is not edited here: its manual entries
/// have their own table and path (`config set mapping.sku.…`, the mappings page).
pub fn apply_edits(
    base: &ImportedConfig,
    edits: &[(String, String)],
) -> Result<ImportedConfig, ConfigErrors> {
    let mut cur = base.clone();
    for (key, value) in edits {
        let e = cur.with_setting(key, value)?;
        if e.sku.is_some() {
            return Err(ConfigErrors::one(
                e.path,
                "mapping.sku entries are set with `config set mapping.sku.<DSCO SKU> <LingXing SKU>` or from the mappings page",
            ));
        }
        cur = e.config;
    }
    Ok(cur)
}

/// Plans `edits` on the running config.
pub async fn plan_edits(
    store: &dyn Store,
    edits: &[(String, String)],
) -> Result<ConfigPlan, ConfigOpError> {
    let (version, before) = running(store).await?;
    let after = apply_edits(&before, edits).map_err(ConfigOpError::Invalid)?;
    let diff = ConfigDiff::between(&before, &after);
    if diff.is_empty() && version.is_some() {
        return Err(ConfigOpError::Unchanged);
    }
    let what = edits
        .iter()
        .map(|(k, v)| format!("set {k} {}", v.trim()))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(ConfigPlan {
        from_version: version,
        config: after.config,
        diff,
        what,
    })
}

/// Plans a rollback to `version` (a new version equal to it; `mapping.sku` is versioned apart
/// and stays as it is).
pub async fn plan_rollback(store: &dyn Store, version: i64) -> Result<ConfigPlan, ConfigOpError> {
    let (running_version, before) = running(store).await?;
    let Some(target) = store.runtime_config_at(version).await? else {
        return Err(ConfigOpError::NoVersion(version));
    };
    let diff = ConfigDiff::between(
        &before,
        &ImportedConfig {
            config: target.config.clone(),
            sku: before.sku.clone(),
        },
    );
    Ok(ConfigPlan {
        from_version: running_version,
        config: target.config,
        diff,
        what: format!("rollback to v{version}"),
    })
}

/// Saves `plan` as a new version if the running one is still the one it was planned on, and
/// audits it (`action`: `config.set`, `config.rollback`, …). Returns the new version.
pub async fn save_plan(
    store: &dyn Store,
    plan: &ConfigPlan,
    actor: &str,
    reason: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<i64, ConfigOpError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ConfigOpError::NoReason);
    }
    let now_version = store.runtime_config_version().await?;
    if now_version != plan.from_version {
        return Err(ConfigOpError::Stale {
            planned: version_name(plan.from_version),
            running: version_name(now_version),
        });
    }
    if plan.diff.is_empty() && plan.from_version.is_some() {
        return Err(ConfigOpError::Unchanged);
    }
    let version = store
        .save_runtime_config(plan.from_version, &plan.config, actor, reason, now)
        .await?;
    let changes: Vec<_> = plan
        .diff
        .changes
        .iter()
        .take(AUDITED_CHANGES)
        .map(|c| json!({"path": c.path, "old": c.old, "new": c.new}))
        .collect();
    store
        .append_audit(&AuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: format!(
                "runtime_config {} → v{version}",
                version_name(plan.from_version)
            ),
            reason: reason.to_owned(),
            detail: json!({
                "what": plan.what,
                "from_version": plan.from_version,
                "to_version": version,
                "summary": plan.diff.summary(),
                "changes": changes,
                "changes_total": plan.diff.changes.len(),
            }),
        })
        .await?;
    Ok(version)
}

/// The next `n` fires of `cron` after `now` (UTC), or why it is not a schedule.
pub fn next_fires(cron: &str, now: DateTime<Utc>, n: usize) -> Result<Vec<DateTime<Utc>>, String> {
    let s = Schedule::parse(cron).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(n);
    let mut at = now;
    while out.len() < n {
        match s.next_after(at) {
            Some(t) => {
                out.push(t);
                at = t;
            }
            None => break,
        }
    }
    Ok(out)
}
