//! Operator actions: what the console's forms and the CLI's commands both call, so that an
//! action does the same thing and leaves the same audit entry whichever way it was asked for.
//! Each action takes the actor (a console user, `local`, or `cli:$USER`), a required reason and
//! the time, and appends its audit entry.

use chrono::{DateTime, Utc};
use serde_json::json;
use store::{AuditEntry, Store, StoreError};

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
