//! Read models: what each page (and `order show` in the CLI) needs, gathered from the store. No
//! business rule: the thresholds and fire times come from the engine.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use domain::lx_view::LxView;
use domain::{JobName, PoNumber, ReasonKind, Stage};
use store::{
    CauseRow, DscoRequest, Intent, IntentState, OrderEvent, OrderRecord, RunRecord, StageSummary,
    Store, StoreError,
};

/// Orders stuck at one stage (longer than `stuck_after_periods` periods of the job moving them).
#[derive(Debug, Clone)]
pub struct StuckStage {
    pub stage: Stage,
    pub threshold: TimeDelta,
    pub count: i64,
}

/// One job on the overview: its schedule, last run and next fire.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub job: JobName,
    pub cron: Option<String>,
    pub enabled: bool,
    pub last: Option<RunRecord>,
    pub next_fire: Option<DateTime<Utc>>,
}

/// The overview page.
#[derive(Debug, Clone)]
pub struct Overview {
    pub stages: Vec<StageSummary>,
    pub kinds: BTreeMap<ReasonKind, i64>,
    pub stuck: Vec<StuckStage>,
    pub causes: Vec<CauseRow>,
    /// Orders an operator ignored (left out of `kinds` and `causes`).
    pub ignored: i64,
    /// Alerts open now (raised and not yet resolved), any kind.
    pub open_alerts: i64,
    pub jobs: Vec<JobStatus>,
    pub writes_enabled: bool,
    pub config_version: Option<i64>,
}

impl Overview {
    pub async fn load(store: &dyn Store, now: DateTime<Utc>) -> Result<Overview, StoreError> {
        let stored = store.runtime_config().await?;
        let config_version = stored.as_ref().map(|s| s.version);
        let config = stored.map(|s| s.config).unwrap_or_default();
        let stuck = engine::jobs::stuck(store, &config, now, 0)
            .await?
            .into_iter()
            .map(|(stage, threshold, count, _)| StuckStage {
                stage,
                threshold,
                count,
            })
            .collect();
        let mut jobs = Vec::new();
        for (job, enabled, fires) in engine::upcoming_fires(&config, now, 1) {
            jobs.push(JobStatus {
                job,
                cron: config
                    .jobs
                    .get(&job)
                    .map(|j| j.schedule.as_str().to_owned()),
                enabled,
                last: store.list_runs(Some(job), 1).await?.into_iter().next(),
                next_fire: fires.into_iter().next(),
            });
        }
        Ok(Overview {
            stages: store.stage_summary().await?,
            kinds: store.reason_kind_counts().await?,
            stuck,
            causes: store.attention_causes(200).await?,
            ignored: store.ignored_count().await?,
            open_alerts: store.open_alerts().await?.len() as i64,
            jobs,
            writes_enabled: config.writes_enabled(),
            config_version,
        })
    }

    pub fn kind_count(&self, kind: ReasonKind) -> i64 {
        self.kinds.get(&kind).copied().unwrap_or(0)
    }

    pub fn stuck_total(&self) -> i64 {
        self.stuck.iter().map(|s| s.count).sum()
    }

    /// Nothing needs a person or is on hold, retrying or stuck.
    pub fn in_sync(&self) -> bool {
        self.kind_count(ReasonKind::NeedsAttention) == 0
            && self.kind_count(ReasonKind::Held) == 0
            && self.kind_count(ReasonKind::Retrying) == 0
            && self.stuck_total() == 0
    }
}

/// Everything the store holds about one order: the order page and `order show`.
#[derive(Debug, Clone)]
pub struct OrderDetail {
    pub order: OrderRecord,
    /// Oldest first.
    pub events: Vec<OrderEvent>,
    pub intents: Vec<Intent>,
    /// The DSCO async requests that carried this order's writes, most recent first.
    pub requests: Vec<DscoRequest>,
    /// What LingXing showed (empty when never read) and when it was read.
    pub lingxing: LxView,
    pub lingxing_checked_at: Option<DateTime<Utc>>,
    /// How long an order may stay at its stage before it counts as stuck.
    pub stuck_after: Option<TimeDelta>,
    pub now: DateTime<Utc>,
}

impl OrderDetail {
    pub async fn load(
        store: &dyn Store,
        po: &PoNumber,
        now: DateTime<Utc>,
    ) -> Result<Option<OrderDetail>, StoreError> {
        let Some(order) = store.get_order(po).await? else {
            return Ok(None);
        };
        let config = store
            .runtime_config()
            .await?
            .map(|c| c.config)
            .unwrap_or_default();
        let intents = store.intents_for(po).await?;
        // A request lists intent keys, or the POs it carried (shipments): look for both.
        let mut keys: Vec<_> = intents.iter().map(|i| (i.kind, i.key.clone())).collect();
        for kind in store::IntentKind::ALL {
            if !keys.iter().any(|(k, key)| *k == kind && key == po.as_str()) {
                keys.push((kind, po.as_str().to_owned()));
            }
        }
        let (lingxing, lingxing_checked_at) = store
            .lingxing_views(std::slice::from_ref(po))
            .await?
            .remove(po)
            .unwrap_or_default();
        Ok(Some(OrderDetail {
            stuck_after: engine::jobs::stuck_threshold(&config, order.stage, now),
            events: store.order_events(po).await?,
            requests: store.dsco_requests_for(&keys).await?,
            intents,
            lingxing,
            lingxing_checked_at,
            order,
            now,
        }))
    }

    /// Longer than the stuck threshold at its stage.
    pub fn is_stuck(&self) -> bool {
        self.stuck_after
            .is_some_and(|t| self.now - self.order.stage_entered_at > t)
    }

    /// The writes DSCO took but has not confirmed yet (their outcome is the requestId).
    pub fn pending_requests(&self) -> Vec<&Intent> {
        self.intents
            .iter()
            .filter(|i| i.state == IntentState::Submitted)
            .collect()
    }

    /// The current reason as a sentence in `lang` (the code and subject when the code is not in
    /// the catalogue).
    pub fn reason_sentence(&self, lang: domain::Lang) -> Option<String> {
        self.order
            .reason
            .as_ref()
            .map(|r| domain::Reason::new(r.code, r.detail.as_str()).message(lang))
    }
}

/// A stored reason (code, subject) as a sentence of the domain's catalogue.
pub fn reason_sentence(code: &str, subject: &str, lang: domain::Lang) -> String {
    match domain::ReasonCode::parse(code) {
        Some(c) => domain::Reason::new(c, subject).message(lang),
        None if subject.is_empty() => code.to_owned(),
        None => format!("{code}: {subject}"),
    }
}
