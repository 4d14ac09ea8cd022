//! The order jobs: thin loops around the pure decisions of `domain::rules`.
//!
//! Every job has the same shape: gather the batch (store candidates plus what changed on the far
//! sides, in as few calls as the APIs allow), decide per order, write after a durable intent,
//! record an event per decision.

mod ack;
mod common;
pub(crate) use common::{CANCELLED_AFTER_PUSH, create_may_have_landed};
mod invoice;
mod lx_feed;
mod outbound;
pub(crate) mod pull;
mod push;
mod ship;
mod write;

use std::sync::Arc;

pub use ack::AckToDsco;
pub(crate) use common::scrub;
pub use invoice::InvoiceToDsco;
pub(crate) use outbound::read_chunk as read_outbounds;
pub use pull::PullDscoOrders;
pub use push::PushToLingxing;
pub use ship::PART as SHIP_PART;
pub use ship::ShipToDsco;

use crate::Engine;

/// The far sides, as the order jobs reach them.
pub struct Clients {
    pub dsco: dsco::DscoClient,
    pub lingxing: lingxing::LingxingClient,
    /// LingXing `platform_code` orders are created under (自定义平台 10009 by default).
    pub platform_code: u32,
    /// The change feed's reads in this process, one at a time ([`lx_feed::follow`]).
    pub(crate) feed: lx_feed::FeedLock,
}

impl Clients {
    /// DSCO orders per scroll page (what a reconciliation estimate counts in).
    pub fn dsco_orders_per_page(&self) -> u32 {
        self.dsco.orders_per_page()
    }
}

/// Registers the five order jobs and the reconciliation (it reads the same far sides).
pub fn register_order_jobs(engine: &mut Engine, clients: Arc<Clients>) {
    engine.register(Arc::new(PullDscoOrders(clients.clone())));
    engine.register(Arc::new(PushToLingxing(clients.clone())));
    engine.register(Arc::new(AckToDsco(clients.clone())));
    engine.register(Arc::new(ShipToDsco(clients.clone())));
    engine.register(Arc::new(InvoiceToDsco(clients.clone())));
    engine.register(Arc::new(crate::reconcile::Reconcile(clients)));
}

/// The job that moves orders out of `stage`.
pub fn mover_of(stage: domain::Stage) -> Option<domain::JobName> {
    use domain::{JobName, Stage};
    match stage {
        Stage::Pulled => Some(JobName::PushToLingxing),
        Stage::Pushed => Some(JobName::AckToDsco),
        Stage::Acknowledged => Some(JobName::ShipToDsco),
        Stage::Shipped => Some(JobName::InvoiceToDsco),
        Stage::Done | Stage::Cancelled => None,
    }
}

/// The shortest stuck threshold: with a job firing every few seconds, four periods would call
/// an order waiting a minute for its warehouse stuck.
pub const MIN_STUCK_THRESHOLD: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// How long an order may stay in `stage` before it is stuck: `stuck_after_periods` (default 4)
/// periods of the job that moves it (the business document's "several job periods"), at least
/// [`MIN_STUCK_THRESHOLD`].
pub fn stuck_threshold(
    config: &domain::RuntimeConfig,
    stage: domain::Stage,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::TimeDelta> {
    let job = config.jobs.get(&mover_of(stage)?)?;
    let periods = job.settings.stuck_after_periods.unwrap_or(4);
    Some((job.schedule.period(now) * periods as i32).max(MIN_STUCK_THRESHOLD))
}

/// When the jobs will next look at an order (see [`next_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextCheck {
    /// At this run of `job`: the next fire for an order re-checked every run (needs attention,
    /// held, new), the first fire after its back-off for a retrying one.
    At {
        job: domain::JobName,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// A waiting order: looked at again when its far side reports a change, which the run of
    /// `job` at `next_run` would see; without a change, re-checked at `safety`.
    OnChange {
        job: domain::JobName,
        next_run: chrono::DateTime<chrono::Utc>,
        safety: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The job that moves it is disabled or not configured.
    JobOff(domain::JobName),
    /// Done or cancelled: no job looks at it again.
    Never,
}

/// The true next check of `order`: the stored `next_attempt_at` is a back-off floor (a week
/// for a waiting order, as a safety net), the job's schedule decides when it is acted on.
pub fn next_check(
    config: &domain::RuntimeConfig,
    order: &store::OrderRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> NextCheck {
    use domain::ReasonKind;
    let Some(job) = mover_of(order.stage) else {
        return NextCheck::Never;
    };
    let Some(j) = config.jobs.get(&job).filter(|j| j.enable) else {
        return NextCheck::JobOff(job);
    };
    let Some(next_run) = j.schedule.next_after(now) else {
        return NextCheck::JobOff(job);
    };
    match order.reason.as_ref().map(|r| r.kind) {
        Some(ReasonKind::Waiting) => NextCheck::OnChange {
            job,
            next_run,
            safety: order
                .next_attempt_at
                .and_then(|t| j.schedule.next_after(t - chrono::TimeDelta::seconds(1))),
        },
        Some(ReasonKind::Retrying) => {
            let at = order
                .next_attempt_at
                .filter(|t| *t > now)
                .and_then(|t| j.schedule.next_after(t - chrono::TimeDelta::seconds(1)))
                .unwrap_or(next_run);
            NextCheck::At { job, at }
        }
        _ => NextCheck::At { job, at: next_run },
    }
}

/// Orders stuck per stage: (stage, threshold, how many, the oldest few).
pub async fn stuck(
    store: &dyn store::Store,
    config: &domain::RuntimeConfig,
    now: chrono::DateTime<chrono::Utc>,
    sample: u32,
) -> Result<
    Vec<(
        domain::Stage,
        chrono::TimeDelta,
        i64,
        Vec<store::OrderRecord>,
    )>,
    store::StoreError,
> {
    let mut out = Vec::new();
    for stage in [
        domain::Stage::Pulled,
        domain::Stage::Pushed,
        domain::Stage::Acknowledged,
        domain::Stage::Shipped,
    ] {
        if let Some(t) = stuck_threshold(config, stage, now) {
            let (n, oldest) = store.entered_before(stage, now - t, sample).await?;
            out.push((stage, t, n, oldest));
        }
    }
    Ok(out)
}
