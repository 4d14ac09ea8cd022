//! The LingXing OpenAPI simulator.
//!
//! Same paths and envelopes as `https://openapi.lingxing.com`, state evolving from a shared
//! [`clock::Clock`], per-endpoint capacity, fault injection and ground truth under `/__admin`.
//!
//! # Default credentials
//! - appId `ak_SimulatorApp1` (16 characters: it is the AES-128 key of the signature),
//! - appSecret `U2ltdWxhdG9yU2VjcmV0MQ==` (it contains `=`, like real secrets often contain
//!   `+/=`: send it as multipart or URL-encode it in a query string).
//!
//! # Layout
//! - this file: [`LingxingSimConfig`], [`LingxingSim`] (start, base URL, typed admin methods),
//!   [`Fault`], the shared state (tokens, faults, per-endpoint stats).
//! - `server`: the axum router, token endpoints, signature checks, capacity, faults and the
//!   admin API.
//! - `verify`: the signature as LingXing computes it.
//! - `world`: the simulated ERP state: `seed` (what it starts with), `model` (ground truth),
//!   `orders` (audit, split, create/list/cancel), `outbound` (outbound orders, shipping,
//!   interception, `wmsOrderList`), `stock` (inventory and pairs), `reference` (sellers,
//!   warehouses, logistics types, local products), `wire` (request values and local times).
//!
//! # Behaviour
//! - Token: `POST /api/auth-server/oauth/access-token` (`appId`, `appSecret`) and
//!   `POST /api/auth-server/oauth/refresh` (`appId`, `refreshToken`), parameters as multipart,
//!   urlencoded form or query string. A new token (issue or refresh) invalidates the previous
//!   one (2001005); an expired one gives 2001003; a refresh token works once (2001009) and lives
//!   2 h (2001008).
//! - Signature: 3001001 when a public parameter is missing, 2001006 on a bad sign, 2001007 when
//!   the timestamp is more than 2 min old. Nested values may be signed sorted or as received; a
//!   sign URL-encoded twice is accepted.
//! - Capacity per endpoint (1 or 10 in flight, as documented) → 3001008; the highest
//!   concurrency seen per endpoint is recorded. A hung request holds its slot for 2 min.
//! - Orders: created with status 4; audited (5) after `audit_delay`, possibly split in two
//!   (`split_rate`); outbound orders created at audit, shipped (3, tracking number, order
//!   status 6) after `ship_delay`, possibly in two parts with two trackings
//!   (`partial_shipment_rate`) or intercepted (outbound status 4, `interception_rate`). With
//!   `auto = false` nothing moves except through the admin API. `delivered_at` is
//!   Asia/Shanghai local time. A duplicate `platform_order_no` in one store is refused per order
//!   with [`DUPLICATE_ORDER_MESSAGE`] (a named assumption: the docs give no text).
//! - A create line must resolve to a local SKU: `sku` as given, or `msku` through the store's
//!   pairs, or an `msku` that is itself a local SKU (same-name fallback); otherwise the order is
//!   refused per order (the real ERP may instead keep it with a "商品未配对" tag: an assumption).
//! - `wmsOrderList` `sid_arr` matches a store's `sid` or its `store_id` (the docs say sid; the
//!   production sync this project follows passes the store_id): both find the same orders.
//! - `productList` lists the world's products (`sku_list` filters exactly; array or
//!   comma-separated string: an assumption, its page is not among the stored docs).
//! - Network latency injected as a fault is wall-clock time; everything else uses the clock.
//!
//! # Admin API (JSON)
//! - `GET  /__admin/orders?po=PO` → `[SimOrder]`; `GET /__admin/outbounds?po=PO` → `[SimOutbound]`
//! - `POST /__admin/audit {"po":"PO","split":false}` → `{"audited":n}`
//! - `POST /__admin/ship {"po":"PO","tracking_no":null}` → `{"tracking_nos":[…]}`
//! - `POST /__admin/ship {"po":"PO","sku":"LX-9"}`: the same, every product line replaced by
//!   local SKU `sku` first (the warehouse shipped another product)
//! - `POST /__admin/intercept {"po":"PO"}` → `{"intercepted":n}`
//! - `POST /__admin/delete {"po":"PO"}` → `{"deleted":n}`: deleted the way the ERP keeps
//!   deleted orders (listed only with `include_delete`, status 7, `update_time` = now;
//!   unshipped outbound orders intercepted)
//! - `POST /__admin/remove {"po":"PO"}` → `{"removed":n}`: the orders of `po` and their outbound
//!   orders deleted for good (gone from every listing, `include_delete` included; an
//!   assumption: the docs do not say how long a deleted order stays listable)
//! - `POST /__admin/faults {"endpoint":"/pb/mp/order/v2/create","fault":{"kind":"error_code","code":"3001008","message":"…"},"times":3}`
//!   (`times` absent = until cleared); kinds: `latency {ms}`, `error_code {code,message}`,
//!   `http_status {status}`, `hang`, `apply_then_timeout`, `throttle_storm`
//! - `DELETE /__admin/faults` clears them
//! - `GET /__admin/stats` → `{"<path>":{"calls":n,"max_concurrency":m}}`
//! - `POST /__admin/token/expire` expires the current access token
//! - `POST /__admin/inventory {"wid":1300,"sku":"LX-1001","seller_id":"0","valid":7}`
//! - `POST /__admin/pairs {"store_id":"…","msku":"…","sku":"…"}`
//!
//! # Seed file
//! [`LingxingSimConfig::from_seed_file`] reads JSON: every field of [`LingxingSimConfig`] is
//! optional, and `world` (stores, warehouses, logistics_types, products, pairs, inventory)
//! replaces the default world built from `crate::defaults`.

mod server;
pub mod verify;
mod world;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use clock::Clock;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use world::{
    DUPLICATE_ORDER_MESSAGE, SeedInventory, SeedLogisticsType, SeedPair, SeedProduct, SeedStore,
    SeedWarehouse, SeedWorld, SimItem, SimOrder, SimOutProduct, SimOutbound, default_seed,
};

pub const DEFAULT_APP_ID: &str = "ak_SimulatorApp1";
pub const DEFAULT_APP_SECRET: &str = "U2ltdWxhdG9yU2VjcmV0MQ==";

/// A uniform delay range in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DelayRange {
    pub min_secs: u64,
    pub max_secs: u64,
}

/// Simulator settings. `Default` is the documented default credentials and a realistic pace.
/// `Debug` leaves the secret out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LingxingSimConfig {
    pub app_id: String,
    pub app_secret: String,
    /// `expires_in` of issued tokens.
    pub token_lifetime_secs: u64,
    /// How old a signature's timestamp may be.
    pub sign_max_age_secs: u64,
    /// Whether orders audit and ship by themselves on the schedule below.
    pub auto: bool,
    pub audit_delay: DelayRange,
    pub ship_delay: DelayRange,
    pub split_rate: f64,
    pub partial_shipment_rate: f64,
    pub interception_rate: f64,
    /// Seed of the random choices (delays, splits, tracking numbers), for reproducible runs.
    pub rng_seed: u64,
    /// The world to start with; `None` = the default world.
    pub world: Option<SeedWorld>,
}

impl std::fmt::Debug for LingxingSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LingxingSimConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &"***")
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .field("auto", &self.auto)
            .field("audit_delay", &self.audit_delay)
            .field("ship_delay", &self.ship_delay)
            .field("split_rate", &self.split_rate)
            .field("partial_shipment_rate", &self.partial_shipment_rate)
            .field("interception_rate", &self.interception_rate)
            .field("rng_seed", &self.rng_seed)
            .field("custom_world", &self.world.is_some())
            .finish()
    }
}

impl Default for LingxingSimConfig {
    fn default() -> Self {
        LingxingSimConfig {
            app_id: DEFAULT_APP_ID.into(),
            app_secret: DEFAULT_APP_SECRET.into(),
            token_lifetime_secs: 7199,
            sign_max_age_secs: 120,
            auto: true,
            audit_delay: DelayRange {
                min_secs: 10 * 60,
                max_secs: 4 * 3600,
            },
            ship_delay: DelayRange {
                min_secs: 2 * 3600,
                max_secs: 36 * 3600,
            },
            split_rate: 0.05,
            partial_shipment_rate: 0.05,
            interception_rate: 0.01,
            rng_seed: 7,
            world: None,
        }
    }
}

/// Errors of [`LingxingSimConfig::from_seed_file`] and [`LingxingSim::start`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("appId must be 16 characters, got {0}")]
    AppId(usize),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

impl LingxingSimConfig {
    /// Reads a JSON seed file (see the module doc).
    pub fn from_seed_file(path: impl AsRef<Path>) -> Result<Self, SimError> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p).map_err(|source| SimError::Read {
            path: p.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SimError::Parse {
            path: p.display().to_string(),
            source,
        })
    }

    /// A config where nothing moves by itself and nothing random happens: for tests that
    /// drive audits and shipments through the admin API.
    pub fn manual() -> Self {
        LingxingSimConfig {
            auto: false,
            split_rate: 0.0,
            partial_shipment_rate: 0.0,
            interception_rate: 0.0,
            ..Default::default()
        }
    }
}

/// An injectable fault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wall-clock delay before the request is handled (it holds its capacity slot meanwhile).
    Latency { ms: u64 },
    /// Answer with this code (gateway style for 7-digit codes, business style otherwise).
    ErrorCode {
        code: String,
        #[serde(default)]
        message: String,
    },
    /// Answer with this HTTP status and a non-JSON body.
    HttpStatus { status: u16 },
    /// Never answer; the slot is held for the server's 2 min.
    Hang,
    /// Apply the request (the write happens), then never answer.
    ApplyThenTimeout,
    /// Answer 3001008 as if the bucket were empty.
    ThrottleStorm,
}

#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub fault: Fault,
    /// Remaining requests this rule applies to; `None` = until cleared.
    pub remaining: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointStats {
    pub calls: u64,
    pub in_flight: usize,
    pub held_until: Vec<DateTime<Utc>>,
    pub max_concurrency: usize,
    /// The other endpoints that had a request in flight when one of this endpoint's started.
    pub started_during: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub access: String,
    pub refresh: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub refresh_used: bool,
}

pub(crate) struct State {
    pub world: world::World,
    pub token: Option<IssuedToken>,
    /// Every access token ever issued and since replaced.
    pub retired: std::collections::HashSet<String>,
    pub stats: HashMap<String, EndpointStats>,
    pub faults: HashMap<String, Vec<FaultRule>>,
    pub issued: u64,
}

pub(crate) struct Shared {
    pub cfg: LingxingSimConfig,
    pub clock: Clock,
    pub state: Mutex<State>,
    pub weather: Mutex<crate::Weather>,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator. Serves until dropped or [`LingxingSim::shutdown`].
pub struct LingxingSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LingxingSim {
    pub async fn start(
        config: LingxingSimConfig,
        clock: Clock,
        listener: TcpListener,
    ) -> Result<LingxingSim, SimError> {
        if config.app_id.len() != 16 {
            return Err(SimError::AppId(config.app_id.len()));
        }
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                world: world::World::new(config.clone(), clock.now()),
                token: None,
                retired: Default::default(),
                stats: HashMap::new(),
                faults: HashMap::new(),
                issued: 0,
            }),
            cfg: config,
            clock,
            weather: Mutex::new(crate::Weather::default()),
        });
        let app = server::router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(LingxingSim {
            shared,
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &LingxingSimConfig {
        &self.shared.cfg
    }

    /// Stops serving (hung requests are dropped).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    fn with_world<R>(&self, f: impl FnOnce(&mut world::World, DateTime<Utc>) -> R) -> R {
        let now = self.now();
        let mut st = self.shared.lock();
        st.world.tick(now);
        f(&mut st.world, now)
    }

    /// Audits every pending order of `po` now; `split` splits each in two. Returns how many.
    pub fn audit(&self, po: &str) -> usize {
        self.with_world(|w, now| w.admin_audit(po, now, false))
    }

    /// Audits and splits every pending order of `po` now.
    pub fn audit_split(&self, po: &str) -> usize {
        self.with_world(|w, now| w.admin_audit(po, now, true))
    }

    /// Ships every pending outbound order of `po` now (auditing first). Returns the tracking
    /// numbers; `tracking_no` overrides the generated one.
    pub fn ship(&self, po: &str, tracking_no: Option<&str>) -> Vec<String> {
        self.with_world(|w, now| w.admin_ship(po, now, tracking_no.map(str::to_owned)))
    }

    /// Ships only the next pending outbound order of `po` now; its tracking number.
    pub fn ship_one(&self, po: &str, tracking_no: Option<&str>) -> Option<String> {
        self.with_world(|w, now| w.admin_ship_one(po, now, tracking_no.map(str::to_owned)))
    }

    /// Deletes every system order of `po` (and its outbound orders) for good, as someone in
    /// LingXing might: no listing shows them any more, `include_delete` included. Returns how
    /// many orders were removed.
    pub fn remove_order(&self, po: &str) -> usize {
        self.with_world(|w, _| w.admin_remove_order(po))
    }

    /// Deletes every system order of `po` the way the ERP keeps deleted orders: listed only
    /// with `include_delete` (status 7), `update_time` moved to now, unshipped outbound orders
    /// intercepted. Returns how many orders were deleted.
    pub fn delete_order(&self, po: &str) -> usize {
        self.with_world(|w, now| w.admin_delete_order(po, now))
    }

    /// Ships every pending outbound order of `po` now (auditing first), with every product line
    /// replaced by local SKU `sku` and no seller SKU: the warehouse shipped another product.
    /// Returns the tracking numbers.
    pub fn ship_with_sku(&self, po: &str, sku: &str, tracking_no: Option<&str>) -> Vec<String> {
        self.with_world(|w, now| {
            w.admin_ship_with_sku(po, now, sku, tracking_no.map(str::to_owned))
        })
    }

    /// Someone created `po` again by hand in LingXing: a second whole order pending audit.
    /// Returns its number (`None`: `po` has no order).
    pub fn duplicate_order(&self, po: &str) -> Option<String> {
        self.with_world(|w, now| w.admin_duplicate_order(po, now))
    }

    /// Intercepts every unshipped outbound order of `po` (outbound status 4).
    pub fn intercept(&self, po: &str) -> usize {
        self.with_world(|w, now| w.admin_intercept(po, now))
    }

    /// Ground truth: every system order of `po` (splits included).
    pub fn orders_for(&self, po: &str) -> Vec<SimOrder> {
        self.with_world(|w, _| w.orders_for(po))
    }

    /// Ground truth: every outbound order of `po`.
    pub fn outbounds_for(&self, po: &str) -> Vec<SimOutbound> {
        self.with_world(|w, _| w.outbounds_for(po))
    }

    pub fn set_inventory(&self, wid: u64, sku: &str, seller_id: &str, valid: i64) {
        self.with_world(|w, _| w.set_inventory(wid, sku, seller_id, valid))
    }

    pub fn set_pair(&self, store_id: &str, msku: &str, sku: &str) {
        self.with_world(|w, now| w.set_pair(store_id, msku, sku, now))
    }

    /// Adds a pair row beside the store's existing ones (one MSKU may then list several SKUs),
    /// optionally shown with another store id (a store mismatch).
    pub fn add_pair_row(
        &self,
        store_id: &str,
        msku: &str,
        sku: &str,
        shown_store_id: Option<&str>,
    ) {
        self.with_world(|w, now| w.add_pair_row(store_id, msku, sku, shown_store_id, now))
    }

    /// Removes every pair of `store_id`; returns how many were removed.
    pub fn clear_pairs(&self, store_id: &str) -> usize {
        self.with_world(|w, _| w.clear_pairs(store_id))
    }

    /// Removes every inventory row (the benchmark and tests seed their own).
    pub fn clear_inventory(&self) {
        self.with_world(|w, _| w.clear_inventory())
    }

    /// Adds a fault on `endpoint` (a path such as `/pb/mp/order/v2/create`) for the next
    /// `times` requests (`None`: until cleared). Rules apply in the order added.
    pub fn inject_fault(&self, endpoint: &str, fault: Fault, times: Option<u32>) {
        self.shared
            .lock()
            .faults
            .entry(endpoint.to_owned())
            .or_default()
            .push(FaultRule {
                fault,
                remaining: times,
            });
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Latency (holding the endpoint's capacity slot) and random throttling (3001008) on every
    /// business call from now on.
    pub fn set_weather(&self, weather: crate::Weather) {
        *self
            .shared
            .weather
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = weather;
    }

    /// Requests received on `endpoint` (every request, refused ones included).
    pub fn calls(&self, endpoint: &str) -> u64 {
        self.shared
            .lock()
            .stats
            .get(endpoint)
            .map(|s| s.calls)
            .unwrap_or(0)
    }

    /// The highest number of requests seen in flight at once on `endpoint`.
    pub fn max_concurrency(&self, endpoint: &str) -> usize {
        self.shared
            .lock()
            .stats
            .get(endpoint)
            .map(|s| s.max_concurrency)
            .unwrap_or(0)
    }

    /// Requests in flight on `endpoint` now.
    pub fn in_flight(&self, endpoint: &str) -> usize {
        self.shared
            .lock()
            .stats
            .get(endpoint)
            .map(|s| s.in_flight)
            .unwrap_or(0)
    }

    /// Whether a request to `endpoint` started while one to `other` was in flight.
    pub fn started_during(&self, endpoint: &str, other: &str) -> bool {
        self.shared
            .lock()
            .stats
            .get(endpoint)
            .is_some_and(|s| s.started_during.contains(other))
    }

    /// Expires the current access token now (the next call gets 2001003).
    pub fn expire_token(&self) {
        let now = self.now();
        if let Some(t) = self.shared.lock().token.as_mut() {
            t.expires_at = now;
        }
    }

    /// How many tokens were issued or refreshed so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.lock().issued
    }
}

impl Drop for LingxingSim {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
