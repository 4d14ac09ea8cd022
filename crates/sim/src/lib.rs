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

/// Network weather on every business call of a simulator (not tokens, not `/__admin`): a
/// wall-clock latency drawn uniformly from `latency_ms` (spread, not constant), and a share of
/// calls answered as throttled (DSCO 429, LingXing 3001008) before any other check. Off by
/// default; the backlog benchmark turns it on. Set with `set_weather` on either simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Weather {
    /// Lowest and highest latency in milliseconds; `(0, 0)` for none.
    pub latency_ms: (u64, u64),
    /// Share of calls throttled, 0.0–1.0.
    pub throttle_rate: f64,
}

impl Weather {
    /// This call's fate: `None` to throttle it, else the latency to wait before answering.
    pub(crate) fn draw(&self) -> Option<std::time::Duration> {
        use rand::Rng;
        let mut rng = rand::rng();
        if self.throttle_rate > 0.0 && rng.random_bool(self.throttle_rate.min(1.0)) {
            return None;
        }
        let (lo, hi) = self.latency_ms;
        let ms = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        };
        Some(std::time::Duration::from_millis(ms))
    }
}
