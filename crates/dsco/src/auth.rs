//! Bearer tokens: a static one, or OAuth2 client credentials cached until shortly before they
//! expire, refreshed by one caller at a time (the others wait for its result).

use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use secret::Secret;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::Auth;
use crate::error::DscoError;
use crate::model::ApiMessage;

/// Refresh this long before DSCO's stated expiry, so a token never expires in flight.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(120);

#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    expires_at: Option<DateTime<Utc>>,
}

pub(crate) struct Authenticator {
    auth: Auth,
    token_url: String,
    clock: Clock,
    /// The lock is held across the token call: that is the single flight.
    cached: Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl Authenticator {
    pub(crate) fn new(auth: Auth, base_url: &str, clock: Clock) -> Self {
        Authenticator {
            auth,
            token_url: format!("{base_url}/oauth2/token"),
            clock,
            cached: Mutex::new(None),
        }
    }

    /// A token valid now (fetched if needed).
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<Token, DscoError> {
        let (client_id, secret) = match &self.auth {
            Auth::StaticToken(t) => {
                return Ok(Token {
                    value: t.clone(),
                    expires_at: None,
                });
            }
            Auth::OAuth2 {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && t.expires_at.is_none_or(|e| self.clock.now() < e)
        {
            return Ok(t.clone());
        }
        let fresh = self.fetch(http, client_id, secret).await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets `used` after a 401, unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, used: &Token) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.value.expose() == used.value.expose())
        {
            *cached = None;
        }
    }

    pub(crate) fn is_static(&self) -> bool {
        matches!(self.auth, Auth::StaticToken(_))
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        secret: &Secret,
    ) -> Result<Token, DscoError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret.expose()),
        ];
        let resp = http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| DscoError::Transient {
                status: None,
                detail: format!("token request failed: {}", secret::transport_text(&e)),
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| DscoError::Transient {
            status: Some(status),
            detail: format!("token response unreadable: {}", secret::transport_text(&e)),
        })?;
        match status {
            200 => {
                let t: TokenResponse =
                    serde_json::from_slice(&body).map_err(|e| DscoError::Decode {
                        status,
                        detail: format!("token response: {e}"),
                    })?;
                let now = self.clock.now();
                let expires_at = t.expires_in.map(|s| {
                    let life = TimeDelta::seconds(s);
                    // A very short lifetime still gets used once rather than never.
                    now + if life > EXPIRY_MARGIN * 2 {
                        life - EXPIRY_MARGIN
                    } else {
                        life / 2
                    }
                });
                Ok(Token {
                    value: Secret::new(t.access_token),
                    expires_at,
                })
            }
            400 | 401 => {
                let ms = ApiMessage::parse_body(&body);
                Err(DscoError::AuthExpired {
                    detail: format!(
                        "token endpoint refused the client credentials (HTTP {status}): {}",
                        ms.first().map(|m| m.description.as_str()).unwrap_or("")
                    ),
                })
            }
            403 => Err(DscoError::Forbidden {
                hint: crate::error::FORBIDDEN_HINT.into(),
            }),
            429 => Err(DscoError::Throttled { retry_after: None }),
            _ => Err(DscoError::Transient {
                status: Some(status),
                detail: "token endpoint failed".into(),
            }),
        }
    }
}
