//! The HTTP core every call goes through: rate limit, bearer token (one retry on 401), error
//! classification, and back-off for what is safe to repeat.

use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::auth::Authenticator;
use crate::config::DscoConfig;
use crate::error::{DscoError, FORBIDDEN_HINT};
use crate::limit::{Family, Limiter};
use crate::model::ApiMessage;
use secret::transport_text;

/// Whether repeating the request could apply it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

/// One request before it is sent.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: Vec<(&'a str, String)>,
    /// Pre-serialised JSON body (batches are sized before sending).
    pub body: Option<Vec<u8>>,
    pub family: Family,
    pub mode: Mode,
}

/// A successful (2xx) answer.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The HTTP `Date` header: the server's clock.
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

impl Answer {
    /// The body read straight into `T`.
    pub(crate) fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, DscoError> {
        serde_json::from_slice(&self.body).map_err(|e| DscoError::Decode {
            status: self.status,
            detail: e.to_string(),
        })
    }

    pub(crate) fn json(&self) -> Result<Value, DscoError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| DscoError::Decode {
            status: self.status,
            detail: e.to_string(),
        })
    }
}

/// The DSCO v3 client. Cheap to clone; clones share the token cache and rate limiters.
#[derive(Clone)]
pub struct DscoClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) config: DscoConfig,
    pub(crate) clock: Clock,
    auth: Authenticator,
    limiter: Limiter,
}

impl std::fmt::Debug for DscoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DscoClient")
            .field("base_url", &self.inner.config.base_url)
            .finish_non_exhaustive()
    }
}

impl DscoClient {
    pub fn new(config: DscoConfig, clock: Clock) -> Result<Self, DscoError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| DscoError::InvalidRequest(format!("HTTP client: {e}")))?;
        let auth = Authenticator::new(config.auth.clone(), &config.base_url, clock.clone());
        let limiter = Limiter::new(clock.clone(), config.rate_limits);
        Ok(DscoClient {
            inner: Arc::new(Inner {
                http,
                config,
                clock,
                auth,
                limiter,
            }),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Orders per `GET /order/page` page, as configured (DSCO allows 10 to 1000).
    pub fn orders_per_page(&self) -> u32 {
        self.inner.config.orders_per_page.clamp(10, 1000)
    }

    /// `GET /hello`: checks reachability and credentials.
    pub async fn hello(&self) -> Result<(), DscoError> {
        self.execute(Call {
            method: Method::GET,
            path: "/hello",
            query: vec![],
            body: None,
            family: Family::Unpublished,
            mode: Mode::Read,
        })
        .await
        .map(|_| ())
    }

    /// DSCO's clock: `GET /hello` with the credentials (so it also proves them), read from the
    /// answer's HTTP `Date` header, with this side's clock before and after the call;
    /// `server` is `None` when the answer has no readable `Date`.
    pub async fn server_time(&self) -> Result<clock::ServerTime, DscoError> {
        let before = self.inner.clock.now();
        let answer = self
            .execute(Call {
                method: Method::GET,
                path: "/hello",
                query: vec![],
                body: None,
                family: Family::Unpublished,
                mode: Mode::Read,
            })
            .await?;
        Ok(clock::ServerTime {
            before,
            server: answer.date,
            after: self.inner.clock.now(),
        })
    }

    /// Sends `call`, retrying what is safe to retry, and classifies the outcome.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<Answer, DscoError> {
        let policy = &self.inner.config.retry;
        let mut attempt = 0u32;
        let mut backoff = policy.initial_backoff;
        let give_up_at = self.inner.clock.now() + clock::to_delta(policy.max_wait);
        loop {
            attempt += 1;
            let outcome = self.attempt_with_auth(&call).await;
            let retry = match &outcome {
                Err(DscoError::Throttled { .. }) => true,
                // Not sent at all, or a read: repeating cannot double-apply anything.
                Err(DscoError::Transient { .. }) => true,
                _ => false,
            };
            if !retry || attempt >= policy.max_attempts.max(1) {
                return outcome;
            }
            let wait = match &outcome {
                Err(DscoError::Throttled {
                    retry_after: Some(d),
                }) => (*d).max(backoff),
                _ => backoff,
            };
            let wait = jitter(wait);
            if self.inner.clock.now() + clock::to_delta(wait) > give_up_at {
                return outcome;
            }
            tracing::debug!(
                path = call.path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying DSCO call"
            );
            self.inner.clock.sleep(wait).await;
            if matches!(outcome, Err(DscoError::Throttled { .. })) {
                limit_wait(call.path, wait);
            }
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }

    async fn attempt_with_auth(&self, call: &Call<'_>) -> Result<Answer, DscoError> {
        let inner = &self.inner;
        let token = inner.auth.token(&inner.http).await?;
        match self.attempt(call, token.value.expose()).await {
            Err(Unauthorized) if inner.auth.is_static() => Err(DscoError::AuthExpired {
                detail: "DSCO refused the static API token (HTTP 401)".into(),
            }),
            Err(Unauthorized) => {
                inner.auth.invalidate(&token).await;
                let fresh = inner.auth.token(&inner.http).await?;
                match self.attempt(call, fresh.value.expose()).await {
                    Err(Unauthorized) => Err(DscoError::AuthExpired {
                        detail: "DSCO refused a freshly issued token (HTTP 401)".into(),
                    }),
                    Ok(r) => r,
                }
            }
            Ok(r) => r,
        }
    }

    /// One HTTP exchange. The outer `Err` is a 401 (so the caller can refresh the token).
    async fn attempt(
        &self,
        call: &Call<'_>,
        token: &str,
    ) -> Result<Result<Answer, DscoError>, Unauthorized> {
        let inner = &self.inner;
        let asked = inner.clock.now();
        inner.limiter.acquire(call.family).await;
        let waited = inner.clock.now() - asked;
        if waited > chrono::TimeDelta::zero() {
            limit_wait(call.path, waited.to_std().unwrap_or_default());
        }
        let url = format!("{}{}", inner.config.base_url, call.path);
        let mut req = inner
            .http
            .request(call.method.clone(), &url)
            .header(reqwest::header::AUTHORIZATION, format!("bearer {token}"))
            .header(reqwest::header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(body) = &call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = std::time::Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                observe(call.path, started, Some("transport"));
                return Ok(Err(transport_error(&e, call.mode)));
            }
        };
        let status = resp.status();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                observe(call.path, started, Some("transport"));
                return Ok(Err(transport_error(&e, call.mode)));
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            observe(call.path, started, Some("auth"));
            return Err(Unauthorized);
        }
        let answer = classify(status, body, retry_after, call.mode).map(|a| Answer { date, ..a });
        observe(
            call.path,
            started,
            match &answer {
                Ok(_) => None,
                Err(DscoError::Throttled { .. }) => Some("throttled"),
                Err(DscoError::Transient { .. } | DscoError::Ambiguous { .. }) => Some("server"),
                Err(_) => Some("rejected"),
            },
        );
        Ok(answer)
    }
}

/// `dl_api_limit_wait_seconds`: time a request of `endpoint` waited on the rate limiter or
/// backed off after a 429 (described by the engine).
fn limit_wait(endpoint: &str, waited: Duration) {
    metrics::histogram!("dl_api_limit_wait_seconds", "api" => "dsco", "endpoint" => endpoint.to_owned())
        .record(waited.as_secs_f64());
}

/// The metrics of one HTTP exchange with DSCO (`endpoint` is the path, without ids):
/// `dl_api_calls_total`, `dl_api_request_seconds`, and by what went wrong
/// `dl_api_throttled_total` or `dl_api_errors_total{kind}` (described by the engine).
fn observe(endpoint: &str, started: std::time::Instant, failure: Option<&'static str>) {
    let endpoint = endpoint.to_owned();
    metrics::counter!("dl_api_calls_total", "api" => "dsco", "endpoint" => endpoint.clone())
        .increment(1);
    metrics::histogram!("dl_api_request_seconds", "api" => "dsco", "endpoint" => endpoint.clone())
        .record(started.elapsed().as_secs_f64());
    match failure {
        None => {}
        Some("throttled") => {
            metrics::counter!("dl_api_throttled_total", "api" => "dsco", "endpoint" => endpoint)
                .increment(1)
        }
        Some(kind) => metrics::counter!(
            "dl_api_errors_total",
            "api" => "dsco",
            "endpoint" => endpoint,
            "kind" => kind
        )
        .increment(1),
    }
}

struct Unauthorized;

fn classify(
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<Duration>,
    mode: Mode,
) -> Result<Answer, DscoError> {
    let code = status.as_u16();
    if status.is_success() {
        return Ok(Answer {
            status: code,
            body,
            date: None,
        });
    }
    let messages = || ApiMessage::parse_body(&body);
    Err(match code {
        429 => DscoError::Throttled { retry_after },
        400 | 409 | 413 | 422 => DscoError::Rejected {
            status: code,
            messages: messages(),
        },
        403 => DscoError::Forbidden {
            hint: FORBIDDEN_HINT.into(),
        },
        404 => DscoError::NotFound {
            messages: messages(),
        },
        // 503: the service did not take the request; safe to repeat even for writes.
        503 => DscoError::Transient {
            status: Some(code),
            detail: summary(&body),
        },
        408 | 500 | 502 | 504 if mode == Mode::Write => DscoError::Ambiguous {
            detail: format!("HTTP {code} after sending a write: {}", summary(&body)),
        },
        408 | 500..=599 => DscoError::Transient {
            status: Some(code),
            detail: summary(&body),
        },
        _ => DscoError::Rejected {
            status: code,
            messages: messages(),
        },
    })
}

fn transport_error(e: &reqwest::Error, mode: Mode) -> DscoError {
    // A connect error means nothing was sent; anything later (timeout, reset) may have been
    // received and applied.
    if e.is_connect() || mode == Mode::Read {
        DscoError::Transient {
            status: None,
            detail: transport_text(e),
        }
    } else {
        DscoError::Ambiguous {
            detail: transport_text(e),
        }
    }
}

fn summary(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

/// Up to +25 % so that many clients backing off together do not return together.
fn jitter(d: Duration) -> Duration {
    let extra = rand::random_range(0.0..0.25);
    d.mul_f64(1.0 + extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_5xx_is_ambiguous_read_5xx_transient() {
        let w = classify(StatusCode::BAD_GATEWAY, vec![], None, Mode::Write);
        assert!(matches!(w, Err(DscoError::Ambiguous { .. })));
        let r = classify(StatusCode::BAD_GATEWAY, vec![], None, Mode::Read);
        assert!(matches!(r, Err(DscoError::Transient { .. })));
        let u = classify(StatusCode::SERVICE_UNAVAILABLE, vec![], None, Mode::Write);
        assert!(matches!(u, Err(DscoError::Transient { .. })));
        let f = classify(StatusCode::FORBIDDEN, vec![], None, Mode::Read);
        assert!(matches!(f, Err(DscoError::Forbidden { .. })));
    }
}
