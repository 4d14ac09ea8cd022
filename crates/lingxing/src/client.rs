//! The client: configuration, the signed call with its retry policy.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use clock::Clock;
use rand::Rng;
use serde_json::Value;

use crate::Secret;
use crate::envelope::Envelope;
use crate::error::{Code, CodeClass, LingxingError, classify};
use crate::limits::{Endpoint, Limits};
use crate::sign::{normalize_body, sign_request};
use crate::token::{InMemoryTokenCache, TokenCache, TokenOwner};

/// Back-off for throttling (3001008, 103) and transient read failures.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First wait after a throttle answer; doubles each time up to `throttle_max`.
    pub throttle_initial: Duration,
    pub throttle_max: Duration,
    /// How many throttle answers one call rides out before returning `Throttled`.
    pub throttle_attempts: u32,
    /// First wait before retrying a transient read failure; doubles each time.
    pub transient_initial: Duration,
    /// Retries of a read after a transient failure.
    pub transient_retries: u32,
    /// Each wait is scaled by a random factor in `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
    /// The most one call waits in all, on the clock: throttle and transient back-off, and a
    /// capacity-1 slot that a timed-out request still holds on the server. A wait that would end
    /// past it ends the call instead, with the failure at hand (`Throttled`, `Transient`), and
    /// the caller's next run tries again. Without it a 3001008 storm kept one call backing off
    /// for 8.6 minutes, longer than a run's timeout, so runs were stopped mid-way and nothing
    /// moved until the back-off ended, long after the storm.
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        // 1 s, doubling to 120 s. A throttle answer means the endpoint's bucket had no token at
        // that instant, and a token comes back as soon as a request in flight completes
        // (lingxing.md §5, from LingXing's own page): usually within a second, so the first
        // retry comes after 1 s (as the lingxingapi SDK does), and a storm still climbs to
        // 2 min. A 5 s first wait held a whole job run for 5 s on one throttle answer in 30.
        Backoff {
            throttle_initial: Duration::from_secs(1),
            throttle_max: Duration::from_secs(120),
            throttle_attempts: 8,
            transient_initial: Duration::from_millis(500),
            transient_retries: 2,
            jitter: 0.2,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    fn jittered(&self, d: Duration) -> Duration {
        if self.jitter <= 0.0 {
            return d;
        }
        let f = rand::rng().random_range((1.0 - self.jitter)..=(1.0 + self.jitter));
        d.mul_f64(f.max(0.0))
    }
    fn throttle_wait(&self, attempt: u32) -> Duration {
        let base = self
            .throttle_initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        self.jittered(base.min(self.throttle_max))
    }
    fn transient_wait(&self, attempt: u32) -> Duration {
        self.jittered(
            self.transient_initial
                .saturating_mul(1u32 << attempt.saturating_sub(1).min(16)),
        )
    }
}

/// Everything the client needs to know. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct LingxingConfig {
    /// e.g. `https://openapi.lingxing.com` (no trailing slash needed).
    pub base_url: String,
    /// 16 characters: it is also the AES-128 key of the signature.
    pub app_id: String,
    pub app_secret: Secret,
    /// Zone of LingXing's zone-less times. Default Asia/Shanghai.
    pub timezone: Tz,
    /// Per-request timeout. Generous by default: a timed-out request on a capacity-1 endpoint
    /// blocks that endpoint for 2 min on the server.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Renew the token this long before it expires.
    pub token_refresh_ahead: Duration,
    /// How long a timed-out request on a capacity-1 endpoint is assumed to hold the server's
    /// token (the documented 2 min).
    pub server_hold_after_timeout: Duration,
    pub backoff: Backoff,
}

impl LingxingConfig {
    pub fn new(
        base_url: impl Into<String>,
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> Self {
        LingxingConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            app_id: app_id.into(),
            app_secret: Secret::new(app_secret.into()),
            timezone: chrono_tz::Asia::Shanghai,
            timeout: Duration::from_secs(60),
            // A far side that does not answer a connect fails fast, apart from the request's
            // own (longer) timeout.
            connect_timeout: Duration::from_secs(5),
            token_refresh_ahead: Duration::from_secs(120),
            server_hold_after_timeout: crate::limits::SERVER_HOLD,
            backoff: Backoff::default(),
        }
    }
}

/// Errors building a client.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("appId must be 16 characters (it is the AES-128 key of the signature), got {0}")]
    AppIdLength(usize),
    #[error("HTTP client: {0}")]
    Http(String),
}

/// The LingXing client. Cheap to clone; clones share the token and the endpoint limits.
#[derive(Clone)]
pub struct LingxingClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub cfg: LingxingConfig,
    pub clock: Clock,
    pub http: reqwest::Client,
    pub tokens: TokenOwner,
    pub limits: Arc<Limits>,
}

impl std::fmt::Debug for LingxingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LingxingClient")
            .field("base_url", &self.inner.cfg.base_url)
            .field("app_id", &self.inner.cfg.app_id)
            .finish()
    }
}

impl LingxingClient {
    /// Builds a client. Without a cache, the token lives in this process only.
    pub fn new(
        cfg: LingxingConfig,
        clock: Clock,
        cache: Option<Arc<dyn TokenCache>>,
    ) -> Result<Self, ConfigError> {
        if cfg.app_id.len() != crate::sign::APP_ID_LEN {
            return Err(ConfigError::AppIdLength(cfg.app_id.len()));
        }
        let mut cfg = cfg;
        cfg.base_url = cfg.base_url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let tokens = TokenOwner {
            http: http.clone(),
            base_url: cfg.base_url.clone(),
            app_id: cfg.app_id.clone(),
            app_secret: cfg.app_secret.clone(),
            clock: clock.clone(),
            cache: cache.unwrap_or_else(|| Arc::new(InMemoryTokenCache::default())),
            refresh_ahead: cfg.token_refresh_ahead,
            timeout: cfg.timeout,
            state: tokio::sync::Mutex::new(None),
        };
        let limits = Limits::shared(&cfg.base_url, &cfg.app_id);
        Ok(LingxingClient {
            inner: Arc::new(Inner {
                cfg,
                clock,
                http,
                tokens,
                limits,
            }),
        })
    }

    /// The clock the client signs with.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn config(&self) -> &LingxingConfig {
        &self.inner.cfg
    }

    /// A valid access token (issuing or refreshing as needed). Mostly for diagnostics.
    pub async fn access_token(&self) -> Result<Secret, LingxingError> {
        Ok(self.inner.tokens.current().await?.access_token)
    }

    /// One signed POST with the policy of the crate doc: throttling backed off, token trouble
    /// renewed once, expired signatures re-signed once, reads retried on transient failures,
    /// writes never retried once they may have reached the server.
    pub(crate) async fn call(&self, ep: Endpoint, body: Value) -> Result<Envelope, LingxingError> {
        let inner = &self.inner;
        let body = normalize_body(body);
        let body_map = match &body {
            Value::Object(m) => m.clone(),
            _ => Default::default(),
        };
        let body_text = body.to_string();
        let url = format!("{}{}", inner.cfg.base_url, ep.path());
        let backoff = &inner.cfg.backoff;
        let mut token_retried = false;
        let mut sign_retried = false;
        let mut throttles = 0u32;
        let mut transients = 0u32;
        let give_up_at = inner.clock.now() + clock::to_delta(backoff.max_wait);
        let fits = |wait: Duration| inner.clock.now() + clock::to_delta(wait) <= give_up_at;
        loop {
            let asked = inner.clock.now();
            let permit = inner.limits.acquire(ep, &inner.clock, give_up_at).await;
            let waited = inner.clock.now() - asked;
            if waited > chrono::TimeDelta::zero() {
                limit_wait(ep, waited.to_std().unwrap_or_default());
            }
            let Some(permit) = permit else {
                return Err(LingxingError::transient(format!(
                    "{}: the endpoint's only slot is still held by a request that timed out; try again later",
                    ep.path()
                )));
            };
            let token = inner.tokens.current().await?;
            // A fresh timestamp for every attempt: a signature lives 2 min.
            let ts = inner.clock.now().timestamp();
            let sign = sign_request(
                &inner.cfg.app_id,
                token.access_token.expose(),
                ts,
                Some(&body_map),
            )
            .map_err(|e| LingxingError::rejected("sign", e.to_string()))?;
            let started = std::time::Instant::now();
            let sent = inner
                .http
                .post(&url)
                .query(&[
                    ("app_key", inner.cfg.app_id.as_str()),
                    ("access_token", token.access_token.expose()),
                    ("timestamp", ts.to_string().as_str()),
                    ("sign", sign.as_str()),
                ])
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body_text.clone())
                .timeout(inner.cfg.timeout)
                .send()
                .await;
            let outcome = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    resp.bytes().await.map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            metrics::counter!("dl_api_calls_total", "api" => "lingxing", "endpoint" => ep.path())
                .increment(1);
            metrics::histogram!("dl_api_request_seconds", "api" => "lingxing", "endpoint" => ep.path())
                .record(started.elapsed().as_secs_f64());
            tracing::trace!(
                endpoint = ep.path(),
                secs = started.elapsed().as_secs_f64(),
                "LingXing call answered"
            );
            let failed = |kind: &'static str| {
                metrics::counter!(
                    "dl_api_errors_total",
                    "api" => "lingxing",
                    "endpoint" => ep.path(),
                    "kind" => kind
                )
                .increment(1);
            };
            if let Err(e) = &outcome
                && e.is_timeout()
            {
                inner
                    .limits
                    .timed_out(ep, &inner.clock, inner.cfg.server_hold_after_timeout);
            }
            drop(permit);

            let failure = match outcome {
                Err(e) => {
                    failed("transport");
                    // A connection that never opened cannot have delivered the write.
                    let write = ep.is_write() && !e.is_connect();
                    let text = format!("{} {}", ep.path(), secret::transport_text(&e));
                    if write {
                        return Err(LingxingError::Ambiguous { message: text });
                    }
                    text
                }
                Ok((status, bytes)) => {
                    let parsed = Envelope::parse(&bytes);
                    match parsed {
                        Ok(env) if env.is_business_success() => return soft_error_check(env),
                        Ok(env) if ep == Endpoint::OrderCancel && is_batch_code(&env) => {
                            return Ok(env);
                        }
                        Ok(env) => match classify(env.code.as_str()) {
                            CodeClass::Token if !token_retried => {
                                failed("auth");
                                token_retried = true;
                                tracing::info!(code = %env.code, endpoint = ep.path(), "LingXing refused the token; renewing");
                                inner
                                    .tokens
                                    .renew_after_rejection(&token.access_token)
                                    .await?;
                                continue;
                            }
                            CodeClass::Token => {
                                failed("auth");
                                return Err(LingxingError::AuthExpired {
                                    code: env.code,
                                    message: env.message,
                                });
                            }
                            CodeClass::SignExpired if !sign_retried => {
                                sign_retried = true;
                                continue;
                            }
                            CodeClass::SignExpired => {
                                return Err(LingxingError::transient(format!(
                                    "signature expired twice ({}): check the clock",
                                    env.message
                                )));
                            }
                            CodeClass::Throttle => {
                                metrics::counter!(
                                    "dl_api_throttled_total",
                                    "api" => "lingxing",
                                    "endpoint" => ep.path()
                                )
                                .increment(1);
                                throttles += 1;
                                let wait = backoff.throttle_wait(throttles);
                                if throttles > backoff.throttle_attempts || !fits(wait) {
                                    return Err(LingxingError::Throttled { code: env.code });
                                }
                                tracing::debug!(code = %env.code, endpoint = ep.path(), wait_ms = wait.as_millis() as u64, "LingXing throttled; backing off");
                                inner.clock.sleep(wait).await;
                                limit_wait(ep, wait);
                                continue;
                            }
                            CodeClass::Server => {
                                failed("server");
                                if ep.is_write() {
                                    return Err(LingxingError::Ambiguous {
                                        message: format!(
                                            "{} answered server error {}: {}",
                                            ep.path(),
                                            env.code,
                                            env.message
                                        ),
                                    });
                                }
                                format!("server error {}: {}", env.code, env.message)
                            }
                            CodeClass::Reject => {
                                failed("rejected");
                                return Err(LingxingError::Rejected {
                                    code: env.code,
                                    message: env.message,
                                });
                            }
                        },
                        Err(_) if status.is_server_error() || status.as_u16() == 429 => {
                            failed(if status.as_u16() == 429 {
                                "throttled_http"
                            } else {
                                "server"
                            });
                            if ep.is_write() && status.as_u16() != 429 {
                                return Err(LingxingError::Ambiguous {
                                    message: format!("{} answered HTTP {status}", ep.path()),
                                });
                            }
                            format!("HTTP {status}")
                        }
                        Err(why) => {
                            failed("malformed");
                            if ep.is_write() {
                                return Err(LingxingError::Ambiguous {
                                    message: format!("{}: HTTP {status}, {why}", ep.path()),
                                });
                            }
                            if status.is_success() {
                                format!("malformed answer: {why}")
                            } else {
                                return Err(LingxingError::Rejected {
                                    code: Code(status.as_u16().to_string()),
                                    message: why,
                                });
                            }
                        }
                    }
                }
            };
            transients += 1;
            let wait = backoff.transient_wait(transients);
            if transients > backoff.transient_retries || !fits(wait) {
                return Err(LingxingError::Transient { message: failure });
            }
            tracing::debug!(endpoint = ep.path(), %failure, "LingXing read failed; retrying");
            inner.clock.sleep(wait).await;
        }
    }
}

/// 10000/10001/10002 are the batch process codes of the order edit endpoints.
fn is_batch_code(env: &Envelope) -> bool {
    matches!(env.code.as_str(), "10001" | "10002")
}

/// `code 0` with `data:null` and a message that is not a success text is a soft error.
fn soft_error_check(env: Envelope) -> Result<Envelope, LingxingError> {
    if env.data_is_null() {
        let m = env.message.trim();
        let success = m.is_empty()
            || m.eq_ignore_ascii_case("success")
            || m.eq_ignore_ascii_case("ok")
            || m == "操作成功";
        if !success {
            return Err(LingxingError::Rejected {
                code: env.code,
                message: env.message,
            });
        }
    }
    Ok(env)
}

/// `dl_api_limit_wait_seconds`: time a request waited for a capacity slot or backed off after
/// a throttling answer (described by the engine).
fn limit_wait(ep: Endpoint, waited: Duration) {
    metrics::histogram!("dl_api_limit_wait_seconds", "api" => "lingxing", "endpoint" => ep.path())
        .record(waited.as_secs_f64());
}
