//! Client configuration: where DSCO is, how to authenticate, how patient to be.

use std::time::Duration;

use secret::Secret;

/// Production base URL (`https://api.dsco.io/api/v3`).
pub const PRODUCTION_BASE_URL: &str = "https://api.dsco.io/api/v3";
/// Staging base URL.
pub const STAGING_BASE_URL: &str = "https://staging-api.dsco.io/api/v3";

/// DSCO's documented limit on the body of every small-batch call ("5 MB"), read as decimal
/// megabytes: the stricter of the two readings.
pub const MAX_BATCH_BODY_BYTES: usize = 5_000_000;

/// How the client proves who it is. Secrets are [`Secret`]s, so `Debug` never prints them.
#[derive(Debug, Clone)]
pub enum Auth {
    /// OAuth2 client credentials against `POST {base}/oauth2/token`.
    OAuth2 {
        client_id: String,
        client_secret: Secret,
    },
    /// A long-lived legacy API token sent as the bearer token.
    StaticToken(Secret),
}

/// Back-off for retried reads (and for writes refused with 429, which DSCO did not apply).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The most one call waits between its attempts in all, on the clock. A wait that would end
    /// past it (a long `Retry-After`, a storm) ends the call with the failure at hand; the
    /// caller's next run tries again, so a run never sleeps past its timeout on DSCO's word.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DscoConfig {
    /// Base URL up to and including `/api/v3`, without a trailing slash.
    pub base_url: String,
    pub auth: Auth,
    /// Real-time limit for one HTTP exchange (reqwest's own timer).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Client-side rate limits per endpoint family (§10 of the reference). Off only in tests
    /// that want to see the server's 429s.
    pub rate_limits: bool,
    /// Largest body a batch call may send; batches are split to stay under it.
    pub max_batch_body_bytes: usize,
    /// Orders per page of `GET /order/page` (10..=1000).
    pub orders_per_page: u32,
    /// Times an order scroll restarts its window after a 404 (expired scroll) before giving up.
    pub max_scroll_restarts: u32,
}

impl DscoConfig {
    pub fn new(base_url: impl Into<String>, auth: Auth) -> Self {
        DscoConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            auth,
            request_timeout: Duration::from_secs(30),
            // A far side that does not answer a connect fails fast, apart from the request's
            // own (longer) timeout.
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            rate_limits: true,
            max_batch_body_bytes: MAX_BATCH_BODY_BYTES,
            orders_per_page: 1000,
            max_scroll_restarts: 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = DscoConfig::new(
            "http://x/api/v3/",
            Auth::OAuth2 {
                client_id: "id".into(),
                client_secret: Secret::from("hunter2"),
            },
        );
        assert_eq!(c.base_url, "http://x/api/v3");
        assert!(!format!("{c:?}").contains("hunter2"));
        let t = Auth::StaticToken(Secret::from("tok-secret"));
        assert!(!format!("{t:?}").contains("tok-secret"));
    }
}
