//! DSCO (Rithum) v3 API client. Knows nothing of stages, mappings or LingXing.
//!
//! # Layout
//! - `config`: [`DscoConfig`], [`Auth`] (OAuth2 client credentials or a static token, both
//!   redacted in `Debug`), [`RetryPolicy`].
//! - `auth`: the token cache (refreshed shortly before expiry, single flight, one retry on 401).
//! - `limit`: client-side rate limits per endpoint family, on the shared `Clock`.
//! - `client`: [`DscoClient`] and the HTTP core (classification, back-off for safe repeats).
//! - `model`: lenient typed read models (every field optional, unknown fields and raw JSON
//!   kept) and exact write models.
//! - `orders`: `GET /order/page` scrolling (restart on an expired scroll), `GET /order/`.
//! - `writes`: ACK, shipments, invoices, inventory; batches split under the body limit.
//! - `log`: async outcomes from `/order/log`, `/invoice/log`, `/inventory/log`.
//! - `error`: [`DscoError`]: `Transient`, `Throttled`, `AuthExpired`, `Rejected`, `Ambiguous`,
//!   `Forbidden` (with a hint), `NotFound`, `InvalidRequest`, `Decode`.

mod auth;
mod client;
mod config;
mod error;
mod limit;
mod log;
pub mod model;
mod orders;
mod writes;

pub use client::DscoClient;
pub use config::{
    Auth, DscoConfig, MAX_BATCH_BODY_BYTES, PRODUCTION_BASE_URL, RetryPolicy, STAGING_BASE_URL,
};
pub use error::DscoError;
pub use log::{ItemOutcome, ItemState, RequestKind, RequestOutcome};
pub use model::{
    ApiMessage, DscoLifecycle, DscoStatus, InventoryItem, InventoryStatus, Invoice, InvoiceLine,
    LineItem, Order, OrderAck, OrderFields, OrderIdType, Package, RequestId, Shipment,
    ShipmentLine, ShipmentsForOrder, Shipping, WarehouseQuantity,
};
pub use orders::{MIN_UNTIL_LAG, OrderKey, OrderQuery, OrderScroll, StatusFilter, WindowKind};
pub use writes::{Accepted, ChunkResult, PlannedRequest};
