//! The LingXing token shared through the store, so replicas use one token per appId (a second
//! token would invalidate the first: LingXing keeps one live token per app).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clock::Clock;
use lingxing::{Secret, TokenCache, TokenRecord};
use serde_json::{Value, json};
use store::Store;

pub struct StoreTokenCache {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl StoreTokenCache {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> StoreTokenCache {
        StoreTokenCache { store, clock }
    }
}

fn key(app_id: &str) -> String {
    format!("lingxing.token.{app_id}")
}

fn time(v: &Value, k: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.get(k)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[async_trait]
impl TokenCache for StoreTokenCache {
    async fn get(&self, app_id: &str) -> Option<TokenRecord> {
        // A store failure means "no shared token": the owner then asks LingXing itself.
        let text = match self.store.cache_get(&key(app_id)).await {
            Ok(t) => t?,
            Err(e) => {
                tracing::warn!(error = %e, "token cache unreadable");
                return None;
            }
        };
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(TokenRecord {
            access_token: Secret::new(v.get("access_token")?.as_str()?),
            refresh_token: Secret::new(v.get("refresh_token")?.as_str()?),
            expires_at: time(&v, "expires_at")?,
            refresh_expires_at: time(&v, "refresh_expires_at")?,
        })
    }

    async fn put(&self, app_id: &str, r: &TokenRecord) {
        let v = json!({
            "access_token": r.access_token.expose(),
            "refresh_token": r.refresh_token.expose(),
            "expires_at": r.expires_at.to_rfc3339(),
            "refresh_expires_at": r.refresh_expires_at.to_rfc3339(),
        });
        if let Err(e) = self
            .store
            .cache_put(&key(app_id), &v.to_string(), self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "token cache not written; this replica keeps its own copy");
        }
    }
}
