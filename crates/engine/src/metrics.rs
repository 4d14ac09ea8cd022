//! The service's Prometheus metrics: their descriptions (the `# HELP` lines) and the gauges read
//! from the store (orders per stage, needs attention, held, stuck, each job's last success).
//! Counters and histograms are recorded where things happen: runs in the runner, HTTP calls in
//! the DSCO and LingXing clients (`dl_api_*`, labelled `api` and `endpoint`).

use chrono::{DateTime, Utc};
use domain::{JobName, ReasonKind, RunOutcome};
use metrics::{describe_counter, describe_gauge, describe_histogram, gauge};
use store::{Store, StoreError};

/// Histogram buckets for request and run durations, in seconds.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// Describes every metric (call once the recorder is installed).
pub fn describe() {
    describe_counter!(
        "dl_job_runs_total",
        "Job runs ended, by job and outcome (succeeded, failed, timed_out, lease_lost, cancelled)."
    );
    describe_counter!(
        "dl_job_fires_rejected_total",
        "Fires refused because the job was already running (here or in another replica)."
    );
    describe_histogram!(
        "dl_job_run_seconds",
        metrics::Unit::Seconds,
        "How long job runs took, by job."
    );
    describe_gauge!(
        "dl_job_last_success_timestamp_seconds",
        metrics::Unit::Seconds,
        "When each job last ended a run successfully (Unix time; absent: never)."
    );
    describe_gauge!(
        "dl_orders",
        "Orders per stage (1 pulled, 2 pushed, 3 acknowledged, 4 shipped, 5 done, 6 cancelled)."
    );
    describe_gauge!(
        "dl_orders_oldest_age_seconds",
        metrics::Unit::Seconds,
        "How long the oldest order of each open stage (1-4) has been there."
    );
    describe_gauge!(
        "dl_orders_by_reason_kind",
        "Orders at stages 1-4 by the kind of their current reason (waiting, needs_attention, retrying, held)."
    );
    describe_gauge!(
        "dl_orders_needs_attention",
        "Orders that need a person (a mapping, data or a far-side rejection to fix)."
    );
    describe_gauge!(
        "dl_orders_held",
        "Orders held on purpose by the configuration (multi_ban, writes_enabled = false, dry run)."
    );
    describe_gauge!(
        "dl_orders_stuck",
        "Orders longer than their stage's stuck threshold, by stage."
    );
    describe_counter!(
        "dl_api_calls_total",
        "HTTP requests to DSCO and LingXing, by api and endpoint (each attempt counts)."
    );
    describe_counter!(
        "dl_api_errors_total",
        "Failed requests by api, endpoint and kind (transport, server, rejected, auth, malformed)."
    );
    describe_counter!(
        "dl_api_throttled_total",
        "Requests the far side throttled (HTTP 429, LingXing's rate-limit codes), by api and endpoint."
    );
    describe_histogram!(
        "dl_api_request_seconds",
        metrics::Unit::Seconds,
        "Request latency to DSCO and LingXing, by api and endpoint."
    );
}

/// Sets the store's gauges: orders per stage and reason kind, stuck per stage, each job's
/// last success.
pub async fn refresh_gauges(store: &dyn Store, now: DateTime<Utc>) -> Result<(), StoreError> {
    for s in store.stage_summary().await? {
        let n = s.stage.number().to_string();
        gauge!("dl_orders", "stage" => n.clone(), "label" => s.stage.label_en())
            .set(s.count as f64);
        if crate::jobs::mover_of(s.stage).is_some() {
            let age = s
                .oldest_entered_at
                .map_or(0.0, |t| (now - t).num_seconds().max(0) as f64);
            gauge!("dl_orders_oldest_age_seconds", "stage" => n).set(age);
        }
    }
    let kinds = store.reason_kind_counts().await?;
    let count = |k: ReasonKind| kinds.get(&k).copied().unwrap_or(0) as f64;
    for k in ReasonKind::ALL {
        gauge!("dl_orders_by_reason_kind", "kind" => k.as_str()).set(count(k));
    }
    gauge!("dl_orders_needs_attention").set(count(ReasonKind::NeedsAttention));
    gauge!("dl_orders_held").set(count(ReasonKind::Held));
    let config = store
        .runtime_config()
        .await?
        .map(|c| c.config)
        .unwrap_or_default();
    for (stage, _, n, _) in crate::jobs::stuck(store, &config, now, 0).await? {
        gauge!("dl_orders_stuck", "stage" => stage.number().to_string()).set(n as f64);
    }
    for job in JobName::ALL {
        let last = store
            .list_runs(Some(job), 50)
            .await?
            .into_iter()
            .find(|r| r.outcome == RunOutcome::Succeeded);
        if let Some(t) = last.and_then(|r| r.ended_at) {
            last_success(job, t);
        }
    }
    Ok(())
}

/// Records that `job` ended a run successfully at `at`.
pub(crate) fn last_success(job: JobName, at: DateTime<Utc>) {
    gauge!("dl_job_last_success_timestamp_seconds", "job" => job.as_str())
        .set(at.timestamp_millis() as f64 / 1000.0);
}
