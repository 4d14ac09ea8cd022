//! The token owner: one access token per appId, shared by every caller (and, through a
//! [`TokenCache`] the store implements, by every replica).
//!
//! Issuing a new token invalidates the previous one on the server (FAQ #3: 2001005 "access token
//! not match" when another process keeps asking), so the owner renews only under its lock
//! (single-flight: one refresh at a time, every caller waits for it), prefers the single-use
//! refresh token, and re-reads the shared cache before renewing after a rejection, in case
//! another replica already renewed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clock::Clock;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::Secret;
use crate::envelope::{value_text, value_u64};
use crate::error::{Code, LingxingError};

/// A token pair as issued, with absolute expiry times.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_at: DateTime<Utc>,
    /// The refresh token lives 2 h from issue and works once.
    pub refresh_expires_at: DateTime<Utc>,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// Where the token is shared between processes. Implementations must be cheap to call: the
/// owner reads it whenever its own copy is missing, stale or rejected.
#[async_trait]
pub trait TokenCache: Send + Sync {
    async fn get(&self, app_id: &str) -> Option<TokenRecord>;
    async fn put(&self, app_id: &str, record: &TokenRecord);
}

/// A [`TokenCache`] in process memory.
#[derive(Default)]
pub struct InMemoryTokenCache {
    map: std::sync::Mutex<std::collections::HashMap<String, TokenRecord>>,
}

#[async_trait]
impl TokenCache for InMemoryTokenCache {
    async fn get(&self, app_id: &str) -> Option<TokenRecord> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app_id)
            .cloned()
    }
    async fn put(&self, app_id: &str, record: &TokenRecord) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(app_id.to_owned(), record.clone());
    }
}

const ISSUE_PATH: &str = "/api/auth-server/oauth/access-token";
const REFRESH_PATH: &str = "/api/auth-server/oauth/refresh";
/// The documented lifetime of a refresh token.
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 3600);

pub(crate) struct TokenOwner {
    pub http: reqwest::Client,
    pub base_url: String,
    pub app_id: String,
    pub app_secret: Secret,
    pub clock: Clock,
    pub cache: Arc<dyn TokenCache>,
    pub refresh_ahead: Duration,
    pub timeout: Duration,
    pub state: Mutex<Option<TokenRecord>>,
}

impl TokenOwner {
    fn fresh(&self, r: &TokenRecord) -> bool {
        self.clock.now() + clock::to_delta(self.refresh_ahead) < r.expires_at
    }

    /// A token good for the next request, renewing it ahead of expiry.
    pub async fn current(&self) -> Result<TokenRecord, LingxingError> {
        let mut state = self.state.lock().await;
        if let Some(r) = state.as_ref().filter(|r| self.fresh(r)) {
            return Ok(r.clone());
        }
        if let Some(r) = self.cache.get(&self.app_id).await.filter(|r| self.fresh(r)) {
            *state = Some(r.clone());
            return Ok(r);
        }
        let base = state.clone().or(self.cache.get(&self.app_id).await);
        let r = self.renew(base).await?;
        *state = Some(r.clone());
        Ok(r)
    }

    /// The server refused `rejected`: renew unless somebody already did.
    pub async fn renew_after_rejection(
        &self,
        rejected: &Secret,
    ) -> Result<TokenRecord, LingxingError> {
        let mut state = self.state.lock().await;
        if let Some(r) = state
            .as_ref()
            .filter(|r| &r.access_token != rejected && self.fresh(r))
        {
            return Ok(r.clone());
        }
        if let Some(r) = self
            .cache
            .get(&self.app_id)
            .await
            .filter(|r| &r.access_token != rejected && self.fresh(r))
        {
            *state = Some(r.clone());
            return Ok(r);
        }
        let r = self.renew(state.clone()).await?;
        *state = Some(r.clone());
        Ok(r)
    }

    async fn renew(&self, base: Option<TokenRecord>) -> Result<TokenRecord, LingxingError> {
        let now = self.clock.now();
        if let Some(b) = base.filter(|b| b.refresh_expires_at > now) {
            match self
                .post_form(
                    REFRESH_PATH,
                    &[
                        ("appId", self.app_id.as_str()),
                        ("refreshToken", b.refresh_token.expose()),
                    ],
                )
                .await
            {
                Ok(r) => {
                    self.cache.put(&self.app_id, &r).await;
                    tracing::info!(app_id = %self.app_id, "LingXing token refreshed");
                    return Ok(r);
                }
                Err(e) => {
                    tracing::warn!(app_id = %self.app_id, error = %e, "LingXing token refresh failed; issuing a new token");
                }
            }
        }
        let r = self
            .post_form(
                ISSUE_PATH,
                &[
                    ("appId", self.app_id.as_str()),
                    ("appSecret", self.app_secret.expose()),
                ],
            )
            .await?;
        self.cache.put(&self.app_id, &r).await;
        tracing::info!(app_id = %self.app_id, "LingXing token issued");
        Ok(r)
    }

    /// Token endpoints take multipart form data (the documented content type; it also spares the
    /// secret's `+/=` from URL encoding).
    async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<TokenRecord, LingxingError> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        let url = format!("{}{}", self.base_url, path);
        let resp = self
            .http
            .post(&url)
            .multipart(form)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                LingxingError::transient(format!(
                    "token request failed: {}",
                    secret::transport_text(&e)
                ))
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            LingxingError::transient(format!(
                "token response failed: {}",
                secret::transport_text(&e)
            ))
        })?;
        if status.is_server_error() {
            return Err(LingxingError::transient(format!(
                "token endpoint answered HTTP {status}"
            )));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| LingxingError::transient(format!("token response is not JSON ({e})")))?;
        let code = v.get("code").and_then(value_text).unwrap_or_default();
        let msg = v
            .get("msg")
            .or_else(|| v.get("message"))
            .and_then(value_text)
            .unwrap_or_default();
        if code != "200" {
            return Err(match code.as_str() {
                // App missing, wrong secret, disabled: configuration, no retry will help.
                "2001001" | "2001002" | "0001001" | "401" | "403" | "3001002" => {
                    LingxingError::Rejected {
                        code: Code(code),
                        message: msg,
                    }
                }
                "3001008" | "103" => LingxingError::Throttled { code: Code(code) },
                _ => LingxingError::AuthExpired {
                    code: Code(code),
                    message: msg,
                },
            });
        }
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let access = data.get("access_token").and_then(value_text);
        let refresh = data.get("refresh_token").and_then(value_text);
        let expires_in = data.get("expires_in").and_then(value_u64);
        match (access, refresh, expires_in) {
            (Some(a), Some(r), Some(exp)) if !a.is_empty() => {
                let now = self.clock.now();
                Ok(TokenRecord {
                    access_token: Secret::new(a),
                    refresh_token: Secret::new(r),
                    expires_at: now + chrono::TimeDelta::seconds(exp as i64),
                    refresh_expires_at: now + clock::to_delta(REFRESH_TOKEN_LIFETIME),
                })
            }
            _ => Err(LingxingError::transient(
                "token response lacks access_token, refresh_token or expires_in",
            )),
        }
    }
}
