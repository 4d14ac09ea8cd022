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

use std::sync::Arc;

pub use ack::AckToDsco;
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

/// Puts the built order jobs in place of their "not built yet" placeholders.
pub fn register_order_jobs(engine: &mut Engine, clients: Arc<Clients>) {
    engine.register(Arc::new(PullDscoOrders(clients.clone())));
    engine.register(Arc::new(PushToLingxing(clients.clone())));
    engine.register(Arc::new(AckToDsco(clients.clone())));
    engine.register(Arc::new(ShipToDsco(clients.clone())));
    engine.register(Arc::new(InvoiceToDsco(clients)));
}
