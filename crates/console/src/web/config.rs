//! Config `/config`: the runtime config in effect, its versions and a diff between two.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use domain::JobName;
use serde::Deserialize;
use serde_json::Value;

use super::fmt::{TimeCell, time};
use super::layout::{Cx, Layout, render, store_error};

pub(super) struct ConfigMeta {
    pub(super) version: i64,
    pub(super) actor: String,
    pub(super) at: TimeCell,
}
struct ConfigJob {
    name: &'static str,
    enabled: bool,
    cron: String,
    size: u32,
    settings: String,
    fires: Vec<TimeCell>,
}

struct VersionView {
    version: i64,
    at: TimeCell,
    actor: String,
    reason: String,
}

pub(super) struct DiffRow {
    pub(super) kind: &'static str,
    pub(super) sign: &'static str,
    pub(super) path: String,
    pub(super) old: String,
    pub(super) new: String,
}

/// The rows of a diff, as the config pages show it.
pub(super) fn diff_rows(d: &domain::config::ConfigDiff) -> Vec<DiffRow> {
    use domain::config::ChangeKind;
    d.changes
        .iter()
        .map(|c| {
            let show = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
            let (kind, sign) = match c.kind {
                ChangeKind::Added => ("added", "+"),
                ChangeKind::Removed => ("removed", "−"),
                ChangeKind::Changed => ("changed", "~"),
            };
            DiffRow {
                kind,
                sign,
                old: show(&c.old),
                new: show(&c.new),
                path: c.path.clone(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage {
    l: Layout,
    current: Option<ConfigMeta>,
    writes_enabled: bool,
    jobs: Vec<ConfigJob>,
    versions: Vec<VersionView>,
    from: i64,
    to: i64,
    diff: Vec<DiffRow>,
    json: String,
    saved: Option<i64>,
    latest: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ConfigQuery {
    from: Option<i64>,
    to: Option<i64>,
    /// The version an edit or rollback just saved (a notice is shown).
    saved: Option<i64>,
}

/// The runtime config in effect (jobs, crons, next fires, settings), its versions and the diff
/// between any two. The runtime config holds no secret (those are in the deployment file, which
/// the console never shows).
pub(super) async fn config_page(cx: Cx, Query(q): Query<ConfigQuery>) -> Response {
    use domain::ImportedConfig;
    use domain::config::ConfigDiff;
    let l = cx.layout("config", "config.title");
    let tz = cx.tz;
    let history = match cx.store.runtime_config_history(100).await {
        Ok(h) => h,
        Err(e) => return store_error(l, e),
    };
    let latest = history.first();
    let to = q.to.or(latest.map(|c| c.version)).unwrap_or(0);
    let from = q
        .from
        .unwrap_or(to - 1)
        .max(history.last().map_or(0, |c| c.version));
    let (store, history_ref) = (&cx.store, &history);
    let at = |v: i64| async move {
        match history_ref.iter().find(|c| c.version == v) {
            Some(c) => Ok(Some(c.config.clone())),
            None => store
                .runtime_config_at(v)
                .await
                .map(|c| c.map(|c| c.config)),
        }
    };
    let diff = match (at(from).await, at(to).await) {
        (Ok(Some(a)), Ok(Some(b))) if from != to => {
            let side = |config| ImportedConfig {
                config,
                sku: Default::default(),
            };
            diff_rows(&ConfigDiff::between(&side(a), &side(b)))
        }
        (Err(e), _) | (_, Err(e)) => return store_error(l, e),
        _ => Vec::new(),
    };
    let config = latest.map(|c| c.config.clone()).unwrap_or_default();
    let json = latest
        .map(|c| {
            let mut v = c.config.to_value(&Default::default());
            if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
                m.remove("sku");
            }
            serde_json::to_string_pretty(&v).unwrap_or_default()
        })
        .unwrap_or_default();
    let settings_of = |job: JobName| {
        let v = config.to_value(&Default::default());
        v["jobs"][job.as_str()]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "enable" | "cron" | "size"))
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let jobs = engine::upcoming_fires(&config, cx.now, 3)
        .into_iter()
        .filter_map(|(job, enabled, fires)| {
            let j = config.jobs.get(&job)?;
            Some(ConfigJob {
                name: job.as_str(),
                enabled,
                cron: j.schedule.as_str().to_owned(),
                size: j.size,
                settings: settings_of(job),
                fires: fires.into_iter().map(|t| time(t, tz)).collect(),
            })
        })
        .collect();
    render(ConfigPage {
        current: latest.map(|c| ConfigMeta {
            version: c.version,
            actor: c.actor.clone(),
            at: time(c.created_at, tz),
        }),
        writes_enabled: config.writes_enabled(),
        jobs,
        versions: history
            .iter()
            .map(|c| VersionView {
                version: c.version,
                at: time(c.created_at, tz),
                actor: c.actor.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
        from,
        to,
        diff,
        json,
        saved: q.saved,
        latest: latest.map_or(0, |c| c.version),
        l,
    })
}
