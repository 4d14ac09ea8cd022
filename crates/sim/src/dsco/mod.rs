//! The DSCO v3 simulator: OAuth2 and static tokens, orders with DSCO's status and lifecycle,
//! `/order/page` scrolling, async batches with delayed change-log outcomes and DSCO-like
//! validation, published rate limits (429), fault injection, and an admin API under `/__admin`.
//!
//! # Layout
//! - this file: [`DscoSimConfig`], [`DscoSim`] (start, base URL, typed admin methods),
//!   [`Endpoint`], [`Fault`].
//! - `model`: the simulator's own order model and its wire JSON (no types shared with the client).
//! - `generate`: [`OrderSpec`], [`Gap`] and the seeded generator over `sim::defaults`.
//! - `state`: the world; batches are settled lazily from the clock when a request arrives, so no
//!   background task has to run for simulated time to pass.
//! - `http`: the axum router, auth, rate limits, faults, DSCO routes and admin routes.
//!
//! Paths are served under `/api/v3` (as DSCO's base URL), so [`DscoSim::base_url`] is a drop-in
//! base URL for the client. Unknown paths answer 403 like DSCO's gateway.
//!
//! # Admin API (JSON, no auth, under `http://ADDR/__admin`)
//! - `POST /orders` [`OrderSpec`] → 201 the order as DSCO renders it
//! - `POST /orders/generate` `{"count": N, "seed"?: S, "gaps"?: ["unknown_retailer", …],
//!   "initial"?: "created|acknowledged|shipped|cancelled"}` → 201 `{"poNumbers": [...]}`
//!   (gaps: see [`Gap`], snake_case)
//! - `GET /orders/{po}` → the order; `POST /orders/{po}/cancel`;
//!   `POST /orders/{po}/lines/{n}/cancel` `{"quantity"?: N}`;
//!   `POST /orders/{po}/cancel-request` `{"code"?: "CXSC"}`;
//!   `POST /orders/{po}/lines/{n}` [`LineAmend`] (`{"partner_sku"?, "upc"?,
//!   "consumer_price_with_tax"?, "drop_prices"?}`) changes one line;
//!   `POST /orders/{po}/wire` and `POST /orders/{po}/lines/{n}/wire` `{"key": value, …}` lay
//!   keys over how the order or line renders (`null` removes one): shapes DSCO should not send
//!   (no `poNumber`, an unknown `dscoStatus`, a text `quantity`, a `lineNumber` twice);
//!   `POST /orders/{po}/remove-status` (DSCO support's clean-up tools take the acknowledgement
//!   back, line activity `remove_status`: the order reads `created` / `created` again while
//!   nothing is shipped or cancelled; 404 when unknown or not acknowledged)
//! - `GET /orders/{po}/shipments` | `/invoices` | `/acks`; `GET /shipments/{tracking}` →
//!   `{"poNumber", "shipment"}`; `GET /inventory/{sku}` → the last accepted item
//! - `POST /faults` `{"endpoint": "order.page", "kind": "throttle_storm", "times"?: 5}` (kinds:
//!   `latency` + `ms`, `http_status` + `status`, `hang`, `apply_then_timeout`,
//!   `throttle_storm`, `expire_tokens`; endpoint names as in [`Endpoint`], `*` for all); `DELETE /faults`
//! - `POST /tokens/expire`; `GET /calls[?endpoint=NAME]` → `{"order.page": 6, …}`

mod generate;
mod http;
mod model;
mod state;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clock::Clock;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use generate::{
    Gap, Generator, InitialState, LineAmend, LineSpec, OrderSpec, UNKNOWN_RETAILER_ID,
    UNKNOWN_WAREHOUSE_CODE,
};
pub use model::{Address, PackageRecord};
pub use state::AckRecord;

use state::World;

/// Default OAuth2 client id of the simulator (documented; for tests and the demo only).
pub const DEFAULT_CLIENT_ID: &str = "dsco-sim-client";
/// Default OAuth2 client secret of the simulator.
pub const DEFAULT_CLIENT_SECRET: &str = "dsco-sim-secret";

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// Simulator settings. A seed file (JSON, or TOML when the name ends in `.toml`) has the same
/// keys, all optional, durations in seconds:
///
/// ```toml
/// client_id = "dsco-sim-client"
/// client_secret = "dsco-sim-secret"
/// static_token = "legacy-token"      # also accept this bearer token
/// initial_orders = 50                # generated at start with `generator_seed`
/// generator_seed = 7
/// async_delay_secs = 30              # 202 → change-log outcome
/// scroll_expiry_secs = 300           # order and log scrolls; 404 after this idle time
/// token_lifetime_secs = 3600
/// rate_limits = true
/// log_page_size = 1000
/// [[orders]]                         # explicit orders (OrderSpec)
/// po_number = "PO-DEMO-1"
/// retailer_id = "1000012345"
/// lines = [{ sku = "SKU-1001", quantity = 1 }]
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DscoSimConfig {
    pub client_id: String,
    pub client_secret: String,
    pub static_token: Option<String>,
    pub initial_orders: usize,
    pub generator_seed: u64,
    #[serde(with = "secs", rename = "async_delay_secs")]
    pub async_delay: Duration,
    #[serde(with = "secs", rename = "scroll_expiry_secs")]
    pub scroll_expiry: Duration,
    #[serde(with = "secs", rename = "token_lifetime_secs")]
    pub token_lifetime: Duration,
    pub rate_limits: bool,
    pub log_page_size: usize,
    /// Largest accepted body of a batch call (DSCO: 5 MB); larger gets 413.
    pub max_body_bytes: usize,
    pub orders: Vec<OrderSpec>,
}

impl Default for DscoSimConfig {
    fn default() -> Self {
        DscoSimConfig {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            static_token: None,
            initial_orders: 0,
            generator_seed: 1,
            async_delay: Duration::from_secs(30),
            scroll_expiry: Duration::from_secs(300),
            token_lifetime: Duration::from_secs(3600),
            rate_limits: true,
            log_page_size: 1000,
            // "5 MB" read as decimal megabytes, the stricter reading.
            max_body_bytes: 5_000_000,
            orders: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DscoSimError {
    #[error("reading seed file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing seed file {path}: {detail}")]
    Parse { path: String, detail: String },
    #[error("invalid order: {0}")]
    Order(String),
    #[error("listener: {0}")]
    Listener(std::io::Error),
}

impl DscoSimConfig {
    pub fn from_seed_file(path: impl AsRef<Path>) -> Result<Self, DscoSimError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DscoSimError::Io {
            path: shown.clone(),
            source,
        })?;
        let parsed = if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|detail| DscoSimError::Parse {
            path: shown,
            detail,
        })
    }
}

/// An endpoint, for call counts and fault injection. Serialised as the names shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    #[serde(rename = "*")]
    Any,
    #[serde(rename = "token")]
    Token,
    #[serde(rename = "hello")]
    Hello,
    #[serde(rename = "order.page")]
    OrderPage,
    #[serde(rename = "order.get")]
    OrderGet,
    #[serde(rename = "order.acknowledge")]
    Acknowledge,
    #[serde(rename = "order.shipment.batch")]
    ShipmentBatch,
    #[serde(rename = "order.singleShipment")]
    SingleShipment,
    #[serde(rename = "invoice.post")]
    InvoicePost,
    #[serde(rename = "invoice.batch")]
    InvoiceBatch,
    #[serde(rename = "invoice.get")]
    InvoiceGet,
    #[serde(rename = "inventory.batch")]
    InventoryBatch,
    #[serde(rename = "order.log")]
    OrderLog,
    #[serde(rename = "invoice.log")]
    InvoiceLog,
    #[serde(rename = "inventory.log")]
    InventoryLog,
}

/// A fault, applied to the next `times` calls of an endpoint (all calls when `times` is absent).
/// Names and JSON shape follow the LingXing simulator's faults where the meaning is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally after this wall-clock delay. Real time on purpose: it competes with the
    /// client's real-time HTTP timeout, and must not park a task on a simulated clock.
    Latency { ms: u64 },
    /// Answer with this HTTP status (5xx, 408, …) and DSCO's `messages` body, doing nothing.
    HttpStatus { status: u16 },
    /// Never answer (the client's own timeout ends the call). Nothing is applied.
    Hang,
    /// Apply the request, then never answer: the "timeout after commit" case.
    ApplyThenTimeout,
    /// Answer 429 (a throttling storm when `times` is large).
    ThrottleStorm,
    /// Every OAuth token issued so far stops working at once (applied when injected).
    ExpireTokens,
}

impl Fault {
    /// This fault for the next `n` calls only.
    pub fn times(self, n: u32) -> FaultSpec {
        FaultSpec {
            fault: self,
            times: Some(n),
        }
    }
}

impl From<Fault> for FaultSpec {
    fn from(fault: Fault) -> Self {
        FaultSpec { fault, times: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(default)]
    pub times: Option<u32>,
}

pub(crate) struct Shared {
    pub clock: Clock,
    pub world: Mutex<World>,
    pub weather: Mutex<crate::Weather>,
}

impl Shared {
    /// The world, with every batch that is due by now settled.
    pub fn world(&self) -> MutexGuard<'_, World> {
        // Critical sections are plain map updates; a panic in one leaves usable state.
        let mut w = self.world.lock().unwrap_or_else(|p| p.into_inner());
        w.settle(self.clock.now());
        w
    }
}

/// A running simulator. Dropping it stops the server. Its typed admin methods are those of
/// [`SimHandle`] (through `Deref`).
pub struct DscoSim {
    handle: SimHandle,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The typed admin API, shared by [`DscoSim`] and the `/__admin` routes.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl std::ops::Deref for DscoSim {
    type Target = SimHandle;
    fn deref(&self) -> &SimHandle {
        &self.handle
    }
}

impl DscoSim {
    /// Starts serving on `listener`, with orders from the config (explicit specs, then
    /// `initial_orders` generated ones).
    pub async fn start(
        config: DscoSimConfig,
        clock: Clock,
        listener: tokio::net::TcpListener,
    ) -> Result<DscoSim, DscoSimError> {
        let addr = listener.local_addr().map_err(DscoSimError::Listener)?;
        let n = config.initial_orders;
        let seed = config.generator_seed;
        let specs = config.orders.clone();
        let shared = Arc::new(Shared {
            clock: clock.clone(),
            world: Mutex::new(World::new(config)),
            weather: Mutex::new(crate::Weather::default()),
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sim = DscoSim {
            handle: SimHandle {
                shared: shared.clone(),
            },
            addr,
            shutdown: Some(tx),
        };
        for s in &specs {
            sim.add_order(s.clone())?;
        }
        sim.generate_orders(n, seed);
        let app = http::router(shared);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(sim)
    }

    /// `http://ADDR/api/v3`, the base URL a DSCO client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v3", self.addr)
    }

    /// `http://ADDR`, under which `/__admin/...` is served.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl SimHandle {
    /// Adds one order; returns it as DSCO would render it.
    pub fn add_order(&self, spec: OrderSpec) -> Result<Value, DscoSimError> {
        let now = self.shared.clock.now();
        self.shared
            .world()
            .add_order(&spec, now)
            .map_err(DscoSimError::Order)
    }

    /// Generates `n` complete orders (seeded), created over the last `n × 100 ms` so they are
    /// distinct in time and already in the past. Returns their PO numbers.
    pub fn generate_orders(&self, n: usize, seed: u64) -> Vec<String> {
        self.generate_orders_with(n, seed, &[])
    }

    /// Like [`SimHandle::generate_orders`], every order carrying the given gaps.
    pub fn generate_orders_with(&self, n: usize, seed: u64, gaps: &[Gap]) -> Vec<String> {
        self.generate_orders_in(n, seed, gaps, InitialState::Created)
    }

    /// Like [`SimHandle::generate_orders_with`], every order starting in `initial`.
    pub fn generate_orders_in(
        &self,
        n: usize,
        seed: u64,
        gaps: &[Gap],
        initial: InitialState,
    ) -> Vec<String> {
        let mut g = Generator::new(seed);
        let now = self.shared.clock.now();
        let mut w = self.shared.world();
        (0..n)
            .filter_map(|i| {
                let mut spec = g.order(gaps);
                spec.initial = initial;
                spec.created_at =
                    Some(now - chrono::TimeDelta::milliseconds(((n - i) * 100) as i64));
                w.add_order(&spec, now).ok()
            })
            .filter_map(|v| v["poNumber"].as_str().map(str::to_string))
            .collect()
    }

    /// The order as DSCO would return it now.
    pub fn order(&self, po: &str) -> Option<Value> {
        self.shared.world().order_of_po(po).map(|o| o.to_wire())
    }

    pub fn cancel_order(&self, po: &str) -> bool {
        let now = self.shared.clock.now();
        self.shared.world().cancel_order(po, now)
    }

    /// Cancels `quantity` (default: all that is open) of one line.
    pub fn cancel_line(&self, po: &str, line_number: u32, quantity: Option<u32>) -> bool {
        let now = self.shared.clock.now();
        self.shared
            .world()
            .cancel_line(po, line_number, quantity, now)
    }

    /// Changes one line of an existing order (see [`LineAmend`]). `false` if unknown.
    pub fn amend_line(&self, po: &str, line_number: u32, amend: &LineAmend) -> bool {
        let now = self.shared.clock.now();
        self.shared.world().amend_line(po, line_number, amend, now)
    }

    /// Lays the keys of `patch` (a JSON object) over the order as DSCO renders it from now on,
    /// `null` removing a key: orders of shapes DSCO should not send (no `poNumber`, an unknown
    /// `dscoStatus`, no `lineItems`). The order counts as updated. `false` if unknown or `patch`
    /// is not an object.
    pub fn patch_order(&self, po: &str, patch: Value) -> bool {
        self.patch(po, None, patch)
    }

    /// [`SimHandle::patch_order`] for one line (a text `quantity`, a `lineNumber` twice, …).
    pub fn patch_line(&self, po: &str, line_number: u32, patch: Value) -> bool {
        self.patch(po, Some(line_number), patch)
    }

    fn patch(&self, po: &str, line: Option<u32>, patch: Value) -> bool {
        let Value::Object(m) = patch else {
            return false;
        };
        let now = self.shared.clock.now();
        self.shared.world().patch_wire(po, line, &m, now)
    }

    /// DSCO support takes the order's acknowledgement back (`remove_status`): it shows
    /// `created` / `created` again (see the module doc). `false` if unknown or not acknowledged.
    pub fn remove_status(&self, po: &str) -> bool {
        let now = self.shared.clock.now();
        self.shared.world().remove_status(po, now)
    }

    /// A retailer cancel request (`PUT /order/request/cancel` semantics).
    pub fn request_cancel(&self, po: &str, code: Option<String>) -> bool {
        let now = self.shared.clock.now();
        self.shared.world().request_cancel(po, code, now)
    }

    pub fn shipments_for(&self, po: &str) -> Vec<PackageRecord> {
        self.shared
            .world()
            .order_of_po(po)
            .map(|o| o.packages.clone())
            .unwrap_or_default()
    }

    /// The shipment recorded under a tracking number, with its PO.
    pub fn shipment_by_tracking(&self, tracking: &str) -> Option<(String, PackageRecord)> {
        let w = self.shared.world();
        w.orders.values().find_map(|o| {
            o.packages
                .iter()
                .find(|p| p.tracking_number == tracking)
                .map(|p| (o.po_number.clone(), p.clone()))
        })
    }

    pub fn invoices_for(&self, po: &str) -> Vec<Value> {
        let w = self.shared.world();
        w.invoices
            .iter()
            .filter(|i| i["poNumber"] == po)
            .cloned()
            .collect()
    }

    /// DSCO support deletes the invoices of `po` (they no longer read back by id). Returns how
    /// many were removed.
    pub fn remove_invoices(&self, po: &str) -> usize {
        let mut w = self.shared.world();
        let (gone, kept): (Vec<Value>, Vec<Value>) = std::mem::take(&mut w.invoices)
            .into_iter()
            .partition(|i| i["poNumber"] == po);
        w.invoices = kept;
        for i in &gone {
            if let Some(id) = i["invoiceId"].as_str() {
                w.invoice_ids.remove(id);
            }
        }
        gone.len()
    }

    pub fn acks_for(&self, po: &str) -> Vec<AckRecord> {
        let w = self.shared.world();
        w.acks
            .iter()
            .filter(|a| a.po_number == po)
            .cloned()
            .collect()
    }

    /// The last inventory item accepted for `sku`.
    pub fn inventory(&self, sku: &str) -> Option<Value> {
        self.shared.world().inventory.get(sku).cloned()
    }

    /// Makes `sku` known (so inventory for it is applied, not skipped).
    pub fn add_known_sku(&self, sku: &str) {
        self.shared.world().known_skus.insert(sku.into());
    }

    /// Refuses every inventory update of `sku` with `message` in the change log (`None`: accept
    /// again). For tests of a per-item DSCO failure.
    pub fn refuse_inventory(&self, sku: &str, message: Option<&str>) {
        let mut w = self.shared.world();
        match message {
            Some(m) => w.refused_inventory.insert(sku.into(), m.into()),
            None => w.refused_inventory.remove(sku),
        };
    }

    /// Applies `fault` to calls of `endpoint` ([`Endpoint::Any`]: every endpoint): to all of
    /// them for a bare [`Fault`], to the next `n` for `fault.times(n)`. Faults injected earlier
    /// are used first.
    pub fn inject_fault(&self, endpoint: Endpoint, fault: impl Into<FaultSpec>) {
        let spec = fault.into();
        let mut w = self.shared.world();
        if spec.fault == Fault::ExpireTokens {
            w.tokens.clear();
            return;
        }
        w.faults.push((endpoint, spec));
    }

    pub fn clear_faults(&self) {
        self.shared.world().faults.clear();
    }

    /// Latency and random throttling on every call but the token's from now on.
    pub fn set_weather(&self, weather: crate::Weather) {
        *self
            .shared
            .weather
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = weather;
    }

    /// Every OAuth token issued so far stops working.
    pub fn expire_tokens(&self) {
        self.shared.world().tokens.clear();
    }

    /// Calls received by `endpoint` (all endpoints for [`Endpoint::Any`]).
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        let w = self.shared.world();
        match endpoint {
            Endpoint::Any => w.calls.values().sum(),
            e => w.calls.get(&e).copied().unwrap_or(0),
        }
    }

    /// Number of orders held.
    pub fn order_count(&self) -> usize {
        self.shared.world().orders.len()
    }

    /// Async batches not yet processed.
    pub fn pending_batches(&self) -> usize {
        let w = self.shared.world();
        w.batches.len() - w.settled_upto
    }
}

impl Drop for DscoSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
