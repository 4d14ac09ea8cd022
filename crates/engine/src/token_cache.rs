//! The LingXing token shared through the store, so replicas use one token per appId (a second
//! token would invalidate the first: LingXing keeps one live token per app).
//!
//! The record is sealed (AES-256-GCM, the key derived from the app secret every replica holds,
//! the app id as associated data): the store, its backups and anything that reads it see no
//! usable token. A record that does not open (another secret, or a plain one written before
//! sealing) reads as none, and the client asks LingXing for a token as on a first start.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use clock::Clock;
use lingxing::{Secret, TokenCache, TokenRecord};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use store::Store;

pub struct StoreTokenCache {
    store: Arc<dyn Store>,
    clock: Clock,
    key: LessSafeKey,
}

impl StoreTokenCache {
    /// A cache sealing its records with a key derived from the LingXing `app_secret`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, app_secret: &str) -> StoreTokenCache {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("dsco-lingxing token cache v1\0{app_secret}").as_bytes(),
        );
        let key = UnboundKey::new(&AES_256_GCM, digest.as_ref()).expect("a 32-byte key");
        StoreTokenCache {
            store,
            clock,
            key: LessSafeKey::new(key),
        }
    }

    fn seal(&self, app_id: &str, plain: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(app_id.as_bytes()),
                &mut buf,
            )
            .ok()?;
        Some(json!({"v": 1, "nonce": B64.encode(nonce), "sealed": B64.encode(buf)}).to_string())
    }

    fn open(&self, app_id: &str, text: &str) -> Option<String> {
        let v: Value = serde_json::from_str(text).ok()?;
        let nonce: [u8; NONCE_LEN] = B64
            .decode(v.get("nonce")?.as_str()?)
            .ok()?
            .try_into()
            .ok()?;
        let mut buf = B64.decode(v.get("sealed")?.as_str()?).ok()?;
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(app_id.as_bytes()),
                &mut buf,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
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
        let Some(plain) = self.open(app_id, &text) else {
            tracing::warn!(
                "the shared LingXing token does not open with this app secret; a new one is asked for"
            );
            return None;
        };
        let v: Value = serde_json::from_str(&plain).ok()?;
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
        let Some(sealed) = self.seal(app_id, &v.to_string()) else {
            tracing::warn!("token not sealed; this replica keeps its own copy");
            return;
        };
        if let Err(e) = self
            .store
            .cache_put(&key(app_id), &sealed, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "token cache not written; this replica keeps its own copy");
        }
    }
}
