//! The LingXing token shared through the store: two replicas, one token.

use std::sync::Arc;

use clock::Clock;
use engine::token_cache::StoreTokenCache;
use lingxing::{LingxingClient, LingxingConfig, TokenCache};
use sim::lingxing::{DEFAULT_APP_ID, DEFAULT_APP_SECRET, LingxingSim, LingxingSimConfig};

use crate::{Db, t0};

pub async fn replicas_share_one_lingxing_token(db: &Db) {
    let clock = Clock::simulated(t0());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = LingxingSim::start(LingxingSimConfig::manual(), clock.clone(), listener)
        .await
        .unwrap();
    let client = |store: Arc<dyn store::Store>| {
        let cache: Arc<dyn TokenCache> = Arc::new(StoreTokenCache::new(
            store,
            clock.clone(),
            DEFAULT_APP_SECRET,
        ));
        LingxingClient::new(
            LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET),
            clock.clone(),
            Some(cache),
        )
        .unwrap()
    };
    let a = client(db.open().await);
    let b = client(db.open().await);
    a.stores_all(&[10009]).await.unwrap();
    b.stores_all(&[10009]).await.unwrap();
    a.warehouses(None).await.unwrap();
    assert_eq!(
        sim.tokens_issued(),
        1,
        "the second replica used the token the first stored"
    );
    // The stored record reads back whole.
    let store = db.open().await;
    let cache = StoreTokenCache::new(store.clone(), clock.clone(), DEFAULT_APP_SECRET);
    let rec = cache.get(DEFAULT_APP_ID).await.expect("stored");
    assert!(rec.expires_at > clock.now());
    assert!(!rec.access_token.expose().is_empty());
    // Sealed: the stored text carries neither token, and another secret opens nothing.
    let text = store
        .cache_get(&format!("lingxing.token.{DEFAULT_APP_ID}"))
        .await
        .unwrap()
        .unwrap();
    assert!(!text.contains(rec.access_token.expose()), "{text}");
    assert!(!text.contains(rec.refresh_token.expose()), "{text}");
    let other = StoreTokenCache::new(store, clock.clone(), "another secret");
    assert!(other.get(DEFAULT_APP_ID).await.is_none());
}
