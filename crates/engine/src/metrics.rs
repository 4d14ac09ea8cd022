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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric of the service: name, kind, and the `# HELP` text.
pub const METRICS: &[(&str, MetricKind, &str)] = &[
    (
        "dl_job_runs_total",
        MetricKind::Counter,
        "Job runs ended, by job and outcome (succeeded, failed, timed_out, lease_lost, cancelled).",
    ),
    (
        "dl_job_fires_rejected_total",
        MetricKind::Counter,
        "Fires refused because the job was already running (here or in another replica).",
    ),
    (
        "dl_job_run_seconds",
        MetricKind::Histogram,
        "How long job runs took, in seconds, by job.",
    ),
    (
        "dl_job_last_success_timestamp_seconds",
        MetricKind::Gauge,
        "When each job last ended a run successfully (Unix time; absent: never).",
    ),
    (
        "dl_orders",
        MetricKind::Gauge,
        "Orders per stage (1 pulled, 2 pushed, 3 acknowledged, 4 shipped, 5 done, 6 cancelled).",
    ),
    (
        "dl_orders_oldest_age_seconds",
        MetricKind::Gauge,
        "How long the oldest order of each open stage (1-4) has been there, in seconds.",
    ),
    (
        "dl_orders_by_reason_kind",
        MetricKind::Gauge,
        "Orders at stages 1-4 by the kind of their current reason (waiting, needs_attention, retrying, held).",
    ),
    (
        "dl_orders_needs_attention",
        MetricKind::Gauge,
        "Orders that need a person (a mapping, data or a far-side rejection to fix).",
    ),
    (
        "dl_orders_held",
        MetricKind::Gauge,
        "Orders held on purpose by the configuration (multi_ban, writes_enabled = false, dry run).",
    ),
    (
        "dl_orders_stuck",
        MetricKind::Gauge,
        "Orders longer than their stage's stuck threshold, by stage.",
    ),
    (
        "dl_api_calls_total",
        MetricKind::Counter,
        "HTTP requests to DSCO and LingXing, by api and endpoint (each attempt counts).",
    ),
    (
        "dl_api_errors_total",
        MetricKind::Counter,
        "Failed requests by api, endpoint and kind (transport, server, rejected, auth, malformed).",
    ),
    (
        "dl_api_throttled_total",
        MetricKind::Counter,
        "Requests the far side throttled (HTTP 429, LingXing's rate-limit codes), by api and endpoint.",
    ),
    (
        "dl_api_request_seconds",
        MetricKind::Histogram,
        "Request latency to DSCO and LingXing, in seconds, by api and endpoint.",
    ),
    (
        "dl_api_limit_wait_seconds",
        MetricKind::Histogram,
        "Time requests waited on the endpoint's limit (rate limiter, capacity slot, back-off after throttling), in seconds, by api and endpoint.",
    ),
];

/// Describes every metric of [`METRICS`] (call once the recorder is installed).
pub fn describe() {
    for (name, kind, help) in METRICS {
        match kind {
            MetricKind::Counter => describe_counter!(*name, *help),
            MetricKind::Gauge => describe_gauge!(*name, *help),
            MetricKind::Histogram => describe_histogram!(*name, *help),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The example alert rules and dashboard name only metrics the service exports.
    #[test]
    fn the_examples_use_only_exported_metrics() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
        let dashboard = std::fs::read_to_string(format!("{root}grafana-dashboard.json")).unwrap();
        let _: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
        let alerts = std::fs::read_to_string(format!("{root}prometheus-alerts.yml")).unwrap();
        let mut seen = 0;
        for text in [&dashboard, &alerts] {
            for (i, _) in text.match_indices("dl_") {
                let name: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|b| {
                        METRICS
                            .iter()
                            .any(|(n, k, _)| n == b && *k == MetricKind::Histogram)
                    })
                    .unwrap_or(&name);
                assert!(
                    METRICS.iter().any(|(n, ..)| *n == base),
                    "{name} is not a metric of the service"
                );
                seen += 1;
            }
        }
        assert!(seen > 10, "the examples name the metrics");
        for needed in [
            "dl_orders_needs_attention",
            "dl_orders_stuck",
            "dl_job_last_success",
        ] {
            assert!(alerts.contains(needed), "no alert on {needed}");
        }
    }
}
