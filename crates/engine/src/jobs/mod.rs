//! The order jobs: thin loops around the pure decisions of `domain::rules`.
//!
//! Every job has the same shape: gather the batch (store candidates plus what changed on the far
//! sides, in as few calls as the APIs allow), decide per order, write after a durable intent,
//! record an event per decision.

mod ack;
mod common;
mod invoice;
mod lx_feed;
mod outbound;
mod pull;
mod push;
mod ship;
mod write;

use std::sync::Arc;

pub use ack::AckToDsco;
pub(crate) use common::scrub;
pub use invoice::InvoiceToDsco;
pub use pull::PullDscoOrders;
pub use push::PushToLingxing;
pub use ship::ShipToDsco;

use crate::Engine;

/// The far sides, as the order jobs reach them.
pub struct Clients {
    pub dsco: dsco::DscoClient,
    pub lingxing: lingxing::LingxingClient,
    /// LingXing `platform_code` orders are created under (自定义平台 10009 by default).
    pub platform_code: u32,
}

/// Registers the five order jobs.
pub fn register_order_jobs(engine: &mut Engine, clients: Arc<Clients>) {
    engine.register(Arc::new(PullDscoOrders(clients.clone())));
    engine.register(Arc::new(PushToLingxing(clients.clone())));
    engine.register(Arc::new(AckToDsco(clients.clone())));
    engine.register(Arc::new(ShipToDsco(clients.clone())));
    engine.register(Arc::new(InvoiceToDsco(clients)));
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

/// How long an order may stay in `stage` before it is stuck: `stuck_after_periods` (default 4)
/// periods of the job that moves it (the business document's "several job periods").
pub fn stuck_threshold(
    config: &domain::RuntimeConfig,
    stage: domain::Stage,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::TimeDelta> {
    let job = config.jobs.get(&mover_of(stage)?)?;
    let periods = job.settings.stuck_after_periods.unwrap_or(4);
    Some(job.schedule.period(now) * periods as i32)
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
