//! The conditions that hold now, read from the store, and their transitions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use domain::alert::{Alert, AlertKind, Condition, Severity, transitions};
use domain::{JobName, RunOutcome};
use store::{Store, StoreError};

use crate::{AUTH_REFUSED, readiness};

/// A job alerts after this many failed runs in a row.
pub const DEFAULT_FAILING_RUNS: usize = 3;

/// The kinds an evaluation covers: an open alert of these kinds resolves when its condition is
/// gone.
fn scope() -> BTreeSet<AlertKind> {
    BTreeSet::from([
        AlertKind::NeedsAttention,
        AlertKind::JobFailing,
        AlertKind::NoSuccess,
        AlertKind::LeaseLost,
        AlertKind::CredentialsRefused,
        AlertKind::StockGuardHeld,
        AlertKind::SkuPairConflicts,
        AlertKind::Stuck,
        AlertKind::WritesOff,
        AlertKind::ReconcileDiverged,
    ])
}

/// When the conditions hold: a job alerts after `failing_runs` failed runs in a row; the write
/// switch alerts after it has been off for `writes_off_after`.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub failing_runs: usize,
    pub writes_off_after: chrono::TimeDelta,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            failing_runs: DEFAULT_FAILING_RUNS,
            writes_off_after: chrono::TimeDelta::hours(1),
        }
    }
}

fn human(d: chrono::TimeDelta) -> String {
    let m = d.num_minutes().max(0);
    match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Every condition that holds now.
pub async fn conditions(
    store: &dyn Store,
    now: DateTime<Utc>,
    th: Thresholds,
) -> Result<Vec<Condition>, StoreError> {
    let failing_runs = th.failing_runs;
    let mut out = Vec::new();
    // Needs attention: one alert per cause (reason code + subject), counting its orders.
    for c in store.attention_causes(500).await? {
        out.push(Condition {
            key: format!("needs_attention:{}:{}", c.code, c.subject),
            kind: AlertKind::NeedsAttention,
            severity: Severity::Warning,
            subject: format!("{} {}", c.code, c.subject),
            facts: BTreeMap::from([
                ("count".into(), c.count.to_string()),
                ("code".into(), c.code.clone()),
                ("subject".into(), c.subject.clone()),
            ]),
            path: format!(
                "/orders?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("kind", domain::ReasonKind::NeedsAttention.as_str())
                    .append_pair("code", &c.code)
                    .append_pair("subject", &c.subject)
                    .finish()
            ),
        });
    }
    // Reconciliation: orders diverged from or ahead of a far side, one alert per finding code
    // (orders found behind move by themselves).
    for (code, count) in store.open_finding_counts().await? {
        let kind = code.kind();
        if kind == domain::reconcile::FindingKind::Behind || count == 0 {
            continue;
        }
        out.push(Condition {
            key: format!("reconcile_diverged:{code}"),
            kind: AlertKind::ReconcileDiverged,
            severity: Severity::Warning,
            subject: code.to_string(),
            facts: BTreeMap::from([
                ("count".into(), count.to_string()),
                ("code".into(), code.to_string()),
                ("kind".into(), kind.to_string()),
            ]),
            path: format!("/reconcile?kind={kind}"),
        });
    }
    // Jobs: N failed runs in a row; refused credentials on the latest run.
    let n = failing_runs.max(1);
    let config = store.runtime_config().await?.map(|c| c.config);
    for job in JobName::ALL {
        let runs = readiness::ended_runs(store, job, (n + 5).max(20) as u32).await?;
        let Some(last) = runs.first() else { continue };
        let streak = readiness::failed_in_a_row(&runs);
        if streak >= n {
            out.push(Condition {
                key: format!("job_failing:{job}"),
                kind: AlertKind::JobFailing,
                severity: Severity::Critical,
                subject: job.to_string(),
                facts: BTreeMap::from([
                    ("failures".into(), streak.to_string()),
                    ("run_id".into(), last.id.clone()),
                    ("error".into(), last.error.clone().unwrap_or_default()),
                ]),
                path: format!("/runs/{}", last.id),
            });
        }
        // An enabled job without a success for longer than four of its periods (unless it is
        // already alerting as failing N runs in a row).
        if let Some(jc) = config
            .as_ref()
            .and_then(|c| c.jobs.get(&job))
            .filter(|jc| jc.enable && streak < n)
        {
            let quiet = readiness::quiet_limit(jc, now);
            if let Some(since) = readiness::no_success_since(&runs, quiet, now) {
                out.push(Condition {
                    key: format!("no_success:{job}"),
                    kind: AlertKind::NoSuccess,
                    severity: Severity::Critical,
                    subject: job.to_string(),
                    facts: BTreeMap::from([
                        (
                            "since".into(),
                            since.format("%Y-%m-%d %H:%M UTC").to_string(),
                        ),
                        ("threshold".into(), human(quiet)),
                        ("run_id".into(), last.id.clone()),
                        ("error".into(), last.error.clone().unwrap_or_default()),
                    ]),
                    path: format!("/runs/{}", last.id),
                });
            }
        }
        // The latest run lost its lease: resolved when a later run ends otherwise.
        if last.outcome == RunOutcome::LeaseLost {
            out.push(Condition {
                key: format!("lease_lost:{job}"),
                kind: AlertKind::LeaseLost,
                severity: Severity::Warning,
                subject: job.to_string(),
                facts: BTreeMap::from([
                    ("run_id".into(), last.id.clone()),
                    ("error".into(), last.error.clone().unwrap_or_default()),
                ]),
                path: format!("/runs/{}", last.id),
            });
        }
        // Refused credentials on the latest run, failed or not: an order job that meets them
        // keeps its orders retrying and ends "succeeded", but nothing gets through.
        {
            let failures = store.run_failures(job, 1).await?;
            if failures.get(&last.id).map(String::as_str) == Some(AUTH_REFUSED) {
                out.push(Condition {
                    key: format!("credentials_refused:{job}"),
                    kind: AlertKind::CredentialsRefused,
                    severity: Severity::Critical,
                    subject: job.to_string(),
                    facts: BTreeMap::from([
                        ("run_id".into(), last.id.clone()),
                        ("error".into(), last.error.clone().unwrap_or_default()),
                    ]),
                    path: format!("/runs/{}", last.id),
                });
            }
        }
        // pull_sku_pair stopped on conflicts: the latest run's conflicts.
        if job == JobName::PullSkuPair {
            let conflicts = store.sku_conflicts(&last.id).await?;
            if !conflicts.is_empty() {
                out.push(Condition {
                    key: "sku_pair_conflicts".into(),
                    kind: AlertKind::SkuPairConflicts,
                    severity: Severity::Warning,
                    subject: job.to_string(),
                    facts: BTreeMap::from([
                        ("conflicts".into(), conflicts.len().to_string()),
                        ("run_id".into(), last.id.clone()),
                    ]),
                    path: format!("/runs/{}", last.id),
                });
            }
        }
    }
    // Stuck orders, per stage, and the write switch left off.
    if let Some(stored) = store.runtime_config().await? {
        for (stage, threshold, n, oldest) in
            crate::jobs::stuck(store, &stored.config, now, 1).await?
        {
            if n == 0 {
                continue;
            }
            out.push(Condition {
                key: format!("stuck:{}", stage.number()),
                kind: AlertKind::Stuck,
                severity: Severity::Warning,
                subject: stage.label_en().to_owned(),
                facts: BTreeMap::from([
                    ("count".into(), n.to_string()),
                    ("stage_zh".into(), stage.label_zh().to_owned()),
                    ("stage_en".into(), stage.label_en().to_owned()),
                    ("threshold".into(), human(threshold)),
                    (
                        "oldest".into(),
                        oldest
                            .first()
                            .map(|o| o.pulled.po.to_string())
                            .unwrap_or_default(),
                    ),
                ]),
                path: format!("/orders?stage={}", stage.number()),
            });
        }
        if !stored.config.writes_enabled() {
            // Since the first version of the run of versions with writes off.
            let mut since = stored.created_at;
            for c in store.runtime_config_history(200).await? {
                if c.version > stored.version {
                    continue;
                }
                if c.config.writes_enabled() {
                    break;
                }
                since = since.min(c.created_at);
            }
            if now - since >= th.writes_off_after {
                out.push(Condition {
                    key: "writes_off".into(),
                    kind: AlertKind::WritesOff,
                    severity: Severity::Warning,
                    subject: "writes_enabled".into(),
                    facts: BTreeMap::from([
                        (
                            "since".into(),
                            since.format("%Y-%m-%d %H:%M UTC").to_string(),
                        ),
                        ("off_for".into(), human(now - since)),
                    ]),
                    path: "/config".into(),
                });
            }
        }
    }
    // The stock zero-drop guard holds runs until an operator releases them.
    let held = store.stock_runs(true, 50).await?;
    if let Some(latest) = held.first() {
        out.push(Condition {
            key: "stock_guard_held".into(),
            kind: AlertKind::StockGuardHeld,
            severity: Severity::Critical,
            subject: latest.run_id.clone(),
            facts: BTreeMap::from([
                ("run_id".into(), latest.run_id.clone()),
                ("count".into(), held.len().to_string()),
            ]),
            path: "/stock".into(),
        });
    }
    Ok(out)
}

/// Evaluates the conditions and writes the transitions (alert state + outbox, one transaction).
/// Returns the transitions this call applied.
pub async fn evaluate(
    store: &dyn Store,
    now: DateTime<Utc>,
    th: Thresholds,
) -> Result<Vec<Alert>, StoreError> {
    let now_conditions = conditions(store, now, th).await?;
    let open = store.open_alerts().await?;
    let t = transitions(&open, &now_conditions, &scope());
    let applied = store.apply_alerts(&t, now).await?;
    for a in &applied {
        tracing::info!(key = %a.key, kind = %a.kind, severity = %a.severity, transition = a.transition.as_str(), "alert");
    }
    Ok(applied)
}
