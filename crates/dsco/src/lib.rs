//! DSCO (Rithum) v3 API client. Knows nothing of stages, mappings or LingXing.
//!
//! # Layout
//! - `auth`: OAuth2 client credentials (single-flight, cached) or a static bearer token.
//! - `model`: lenient typed models (every field optional, unknown fields and raw JSON kept).
//! - `orders`: `GET /order/page` scrolling, `GET /order/`.
//! - `writes`: ACK, shipments, invoices, inventory batches (split under the body limit).
//! - `log`: async outcomes from `/order/log`, `/invoice/log`, `/inventory/log`.
//! - `error`: failure classification (`Transient`, `Throttled`, `AuthExpired`, `Rejected`,
//!   `Ambiguous`).
