//! Per-endpoint in-flight capacity (§5): the server's "token bucket" per (appId, URL) returns a
//! token when a request completes, fails or times out after 2 min, so it behaves as a cap on
//! requests in flight. The client holds one semaphore per endpoint, shared by every client built
//! for the same (base URL, appId) in this process, and after a client-side timeout on a
//! capacity-1 endpoint it treats the slot as still held for the server's 2 min.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clock::Clock;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The endpoints the client calls, with their documented capacities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    OrderCreate,
    OrderList,
    OrderCancel,
    PairList,
    SellerList,
    WmsOrderList,
    InventoryDetails,
    WarehouseList,
    UsedLogisticsTypes,
    ProductList,
}

impl Endpoint {
    pub const ALL: [Endpoint; 10] = [
        Endpoint::OrderCreate,
        Endpoint::OrderList,
        Endpoint::OrderCancel,
        Endpoint::PairList,
        Endpoint::SellerList,
        Endpoint::WmsOrderList,
        Endpoint::InventoryDetails,
        Endpoint::WarehouseList,
        Endpoint::UsedLogisticsTypes,
        Endpoint::ProductList,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::OrderCreate => "/pb/mp/order/v2/create",
            Endpoint::OrderList => "/pb/mp/order/v2/list",
            Endpoint::OrderCancel => "/pb/mp/order/v2/cancelOrder",
            Endpoint::PairList => "/pb/mp/listing/v2/getPairList",
            Endpoint::SellerList => "/pb/mp/shop/v2/getSellerList",
            Endpoint::WmsOrderList => "/erp/sc/routing/wms/order/wmsOrderList",
            Endpoint::InventoryDetails => "/erp/sc/routing/data/local_inventory/inventoryDetails",
            Endpoint::WarehouseList => "/erp/sc/data/local_inventory/warehouse",
            Endpoint::UsedLogisticsTypes => {
                "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType"
            }
            Endpoint::ProductList => "/erp/sc/routing/data/local_inventory/productList",
        }
    }

    /// Documented token-bucket capacity.
    pub fn capacity(self) -> usize {
        match self {
            Endpoint::OrderCreate
            | Endpoint::OrderList
            | Endpoint::OrderCancel
            | Endpoint::PairList
            | Endpoint::SellerList => 10,
            Endpoint::WmsOrderList
            | Endpoint::InventoryDetails
            | Endpoint::WarehouseList
            | Endpoint::UsedLogisticsTypes
            // productList's page is not among ../shared/api/lingxing-docs; its capacity is
            // assumed to be the smallest documented one (1), which is safe if it is larger.
            | Endpoint::ProductList => 1,
        }
    }

    /// Writes are never retried blindly: an unknown outcome is `Ambiguous`.
    pub fn is_write(self) -> bool {
        matches!(self, Endpoint::OrderCreate | Endpoint::OrderCancel)
    }
}

/// How long the server keeps a timed-out request's bucket token.
pub const SERVER_HOLD: Duration = Duration::from_secs(120);

struct Slot {
    sem: Arc<Semaphore>,
    /// Until when a timed-out request may still hold the server's only token.
    held_until: Mutex<Option<DateTime<Utc>>>,
}

/// Limits per (base URL, appId).
type Registry = Mutex<HashMap<(String, String), Arc<Limits>>>;

pub(crate) struct Limits {
    slots: HashMap<Endpoint, Slot>,
}

pub(crate) struct Permit {
    _permit: OwnedSemaphorePermit,
}

impl Limits {
    fn new() -> Self {
        Limits {
            slots: Endpoint::ALL
                .iter()
                .map(|e| {
                    (
                        *e,
                        Slot {
                            sem: Arc::new(Semaphore::new(e.capacity())),
                            held_until: Mutex::new(None),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The limits shared by every client of (base URL, appId) in this process.
    pub fn shared(base_url: &str, app_id: &str) -> Arc<Limits> {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        let reg = REGISTRY.get_or_init(Default::default);
        let mut reg = reg.lock().unwrap_or_else(|p| p.into_inner());
        reg.entry((base_url.to_owned(), app_id.to_owned()))
            .or_insert_with(|| Arc::new(Limits::new()))
            .clone()
    }

    fn slot(&self, e: Endpoint) -> &Slot {
        self.slots.get(&e).expect("every endpoint has a slot")
    }

    /// Waits for a free slot (and, on capacity 1, for a timed-out request's hold to lapse).
    /// `None` when the hold lasts past `give_up_at`: the caller gives up rather than wait.
    pub async fn acquire(
        &self,
        e: Endpoint,
        clock: &Clock,
        give_up_at: DateTime<Utc>,
    ) -> Option<Permit> {
        let slot = self.slot(e);
        let permit = slot
            .sem
            .clone()
            .acquire_owned()
            .await
            .expect("semaphores are never closed");
        loop {
            let until = *slot.held_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > give_up_at => return None,
                Some(t) if t > clock.now() => clock.sleep_until(t).await,
                _ => break,
            }
        }
        Some(Permit { _permit: permit })
    }

    /// Records that a request on `e` timed out on our side: the server may hold its token.
    pub fn timed_out(&self, e: Endpoint, clock: &Clock, hold: Duration) {
        if e.capacity() == 1 {
            let mut h = self
                .slot(e)
                .held_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *h = Some(clock.now() + clock::to_delta(hold));
        }
    }
}
