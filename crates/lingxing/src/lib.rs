//! LingXing (领星) OpenAPI client. Knows nothing of stages, mappings or DSCO.
//!
//! # Layout
//! - `token`: the token owner (issue, refresh ahead of expiry, single-flight, shared cache trait).
//! - `sign`: request signing (canonical string → MD5 → AES-128-ECB → base64 → URL-encode once).
//! - `envelope`: the two response envelopes, soft errors, lenient ids, money, LingXing times.
//! - `error`: failure classification from the documented code table.
//! - `limits`: per-endpoint in-flight capacity and throttling back-off.
//! - `api`: typed calls (order create/list, wmsOrderList, inventoryDetails, getPairList, …).
