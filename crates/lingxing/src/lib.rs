//! LingXing (领星) OpenAPI client. Knows nothing of stages, mappings or DSCO.
//!
//! # Layout
//! - `token`: the token owner (issue, refresh ahead of expiry, single-flight, shared cache trait).
//! - `sign`: request signing (canonical string → MD5 → AES-128-ECB → base64 → URL-encode once).
//! - `envelope`: the two response envelopes, soft errors, lenient ids, money, LingXing times.
//! - `error`: failure classification from the documented code table.
//! - `limits`: per-endpoint in-flight capacity and throttling back-off.
//! - `client`: configuration and the signed call with its retry policy.
//! - `model`: typed requests and answers.
//! - `api`: typed calls (order create/list, wmsOrderList, inventoryDetails, getPairList,
//!   productList, …) and
//!   fail-closed paging helpers.
//!
//! # Retry policy (in `client`)
//! - 3001008 / 103 (throttled): jittered exponential back-off, then `Throttled`. Safe for writes
//!   too: the limiter refuses before the request is processed.
//! - One call waits at most `Backoff::max_wait` in all (back-off, a capacity-1 slot still held
//!   by a timed-out request): a wait that would end later ends the call with the failure at
//!   hand, so a storm never keeps a run waiting past its timeout.
//! - 2001003 / 2001005 / 2001008 / 2001009: renew the token (refresh, else re-issue) and retry
//!   once, then `AuthExpired`. 2001007: re-sign with a fresh timestamp and retry once.
//! - Reads: timeouts, 5xx, connection failures and malformed answers are retried a few times,
//!   then `Transient`. Writes: anything after the request may have reached the server is
//!   `Ambiguous`; only a connection that never opened is `Transient`.

mod api;
mod client;
mod envelope;
mod error;
mod limits;
mod model;
mod sign;
mod token;

pub use api::{
    INVENTORY_MAX_LENGTH, ORDER_LIST_MAX_LENGTH, ORDER_LIST_MAX_NOS, ORDER_LIST_MIN_LENGTH,
    PRODUCT_LIST_MAX_LENGTH, PRODUCT_LIST_MAX_SKUS, PlannedCall, WMS_MAX_PAGE_SIZE,
};
pub use client::{Backoff, ConfigError, LingxingClient, LingxingConfig};
pub use error::{Code, LingxingError, codes};
pub use limits::Endpoint;
pub use model::*;
pub use sign::{APP_ID_LEN, normalize_body, sign_request};
pub use token::{InMemoryTokenCache, TokenCache, TokenRecord};

/// The workspace's one secret type (app secret, tokens): `Debug` and `Display` never show it.
pub use secret::Secret;
