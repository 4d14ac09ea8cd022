//! Simulators of DSCO and LingXing on loopback, with fault injection, for tests, the demo and
//! the benchmark. They share no wire types with the clients.
//!
//! # Layout
//! - `lingxing`: the LingXing OpenAPI simulator (token, signature check, orders, WMS, inventory,
//!   pairs, capacity limits, admin API under `/__admin`).
//! - `dsco`: the DSCO v3 simulator (OAuth2, orders and paging, async batches and change logs,
//!   rate limits, admin API under `/__admin`).

pub mod defaults;
pub mod dsco;
pub mod lingxing;
