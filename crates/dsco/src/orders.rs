//! Reading orders: `GET /order/page` with scrolling (restarting the window when a scroll
//! expires), and `GET /order/` by key.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::{Call, DscoClient, Mode};
use crate::error::DscoError;
use crate::limit::Family;
use crate::model::Order;

/// DSCO refuses an `until` less than five seconds in the past.
pub const MIN_UNTIL_LAG: TimeDelta = TimeDelta::seconds(5);

/// Which date the window bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `ordersCreatedSince` (inclusive).
    Created,
    /// `ordersUpdatedSince` (exclusive).
    Updated,
}

/// Statuses for the `status` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Created,
    ShipmentPending,
    Shipped,
    Cancelled,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Created => "created",
            StatusFilter::ShipmentPending => "shipment_pending",
            StatusFilter::Shipped => "shipped",
            StatusFilter::Cancelled => "cancelled",
        }
    }
}

/// A date-window search of `GET /order/page`.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    pub kind: WindowKind,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub statuses: Vec<StatusFilter>,
    pub include_test_orders: bool,
}

impl OrderQuery {
    pub fn created(since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        OrderQuery {
            kind: WindowKind::Created,
            since,
            until,
            statuses: Vec::new(),
            include_test_orders: false,
        }
    }

    pub fn updated(since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        OrderQuery {
            kind: WindowKind::Updated,
            ..OrderQuery::created(since, until)
        }
    }
}

/// Which key `GET /order/` looks an order up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    DscoOrderId,
    PoNumber,
    SupplierOrderNumber,
}

impl OrderKey {
    fn as_str(self) -> &'static str {
        match self {
            OrderKey::DscoOrderId => "dscoOrderId",
            OrderKey::PoNumber => "poNumber",
            OrderKey::SupplierOrderNumber => "supplierOrderNumber",
        }
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A scroll through one window, page by page. Memory holds one page plus the ids already
/// returned (needed so a restart after an expired scroll repeats nothing).
pub struct OrderScroll {
    client: DscoClient,
    query: OrderQuery,
    per_page: u32,
    scroll_id: Option<String>,
    seen: HashSet<String>,
    restarts: u32,
    done: bool,
}

impl OrderScroll {
    /// The next page of orders not returned before, or `None` once DSCO returns an empty page.
    /// After a restart a page may shrink (repeats dropped) but is never empty before the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Order>>, DscoError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let result = match &self.scroll_id {
                Some(id) => self.client.page(vec![("scrollId", id.clone())]).await,
                None => self.client.page(self.first_query()).await,
            };
            let (scroll_id, orders) = match result {
                Ok(p) => p,
                Err(DscoError::NotFound { .. }) if self.scroll_id.is_some() => {
                    // The scroll expired: read the same window again and skip what we returned.
                    self.restarts += 1;
                    if self.restarts > self.client.inner.config.max_scroll_restarts {
                        return Err(DscoError::Transient {
                            status: Some(404),
                            detail: "order scroll kept expiring".into(),
                        });
                    }
                    tracing::warn!(
                        restarts = self.restarts,
                        "DSCO order scroll expired; restarting the window"
                    );
                    self.scroll_id = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if orders.is_empty() {
                self.done = true;
                return Ok(None);
            }
            match scroll_id {
                Some(id) => self.scroll_id = Some(id),
                // No scroll id: everything fitted in this page.
                None => self.done = true,
            }
            let fresh: Vec<Order> = orders
                .into_iter()
                .filter(|o| self.seen.insert(o.identity()))
                .collect();
            if !fresh.is_empty() {
                return Ok(Some(fresh));
            }
        }
    }

    /// Reads the rest of the window into one vector (tests and small windows only).
    pub async fn collect_all(mut self) -> Result<Vec<Order>, DscoError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    fn first_query(&self) -> Vec<(&'static str, String)> {
        let q = &self.query;
        let mut v = vec![
            (
                match q.kind {
                    WindowKind::Created => "ordersCreatedSince",
                    WindowKind::Updated => "ordersUpdatedSince",
                },
                rfc3339(q.since),
            ),
            ("until", rfc3339(q.until)),
            ("ordersPerPage", self.per_page.to_string()),
        ];
        for s in &q.statuses {
            v.push(("status", s.as_str().to_string()));
        }
        if q.include_test_orders {
            v.push(("includeTestOrders", "true".into()));
        }
        v
    }
}

impl DscoClient {
    /// Starts a scroll over `query`. Fails at once when `until` is not at least five seconds in
    /// the past (DSCO would refuse it) or not after `since`.
    pub fn scroll_orders(&self, query: OrderQuery) -> Result<OrderScroll, DscoError> {
        let now = self.inner.clock.now();
        if query.until > now - MIN_UNTIL_LAG {
            return Err(DscoError::InvalidRequest(format!(
                "until ({}) must be at least 5 s before now ({})",
                rfc3339(query.until),
                rfc3339(now)
            )));
        }
        if query.until < query.since {
            return Err(DscoError::InvalidRequest("until is before since".into()));
        }
        Ok(OrderScroll {
            client: self.clone(),
            per_page: self.inner.config.orders_per_page.clamp(10, 1000),
            query,
            scroll_id: None,
            seen: HashSet::new(),
            restarts: 0,
            done: false,
        })
    }

    async fn page(
        &self,
        query: Vec<(&str, String)>,
    ) -> Result<(Option<String>, Vec<Order>), DscoError> {
        let ans = self
            .execute(Call {
                method: Method::GET,
                path: "/order/page",
                query,
                body: None,
                family: Family::OrderRead,
                mode: Mode::Read,
            })
            .await?;
        // The page is read with each order kept as its JSON text: the engine stores that text
        // and reads only the fields it needs from it.
        #[derive(serde::Deserialize)]
        struct RawPage {
            #[serde(rename = "scrollId", default)]
            scroll_id: Option<Value>,
            #[serde(default)]
            orders: Option<Vec<Box<RawValue>>>,
        }
        let (scroll_id, orders) = match ans.json_as::<RawPage>() {
            Ok(p) => (p.scroll_id, p.orders.unwrap_or_default()),
            // Not an object, `orders` not an array, a key twice: read leniently as a `Value`.
            Err(_) => {
                let mut v = ans.json()?;
                let orders = match v.get_mut("orders").map(Value::take) {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|o| serde_json::value::to_raw_value(o).ok())
                        .collect(),
                    _ => Vec::new(),
                };
                (v.get("scrollId").cloned(), orders)
            }
        };
        let scroll_id = scroll_id
            .as_ref()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let orders = orders
            .into_iter()
            .filter_map(|o| Order::from_raw(o).ok())
            .collect();
        Ok((scroll_id, orders))
    }

    /// `GET /order/?orderKey=…&value=…&returnMultiple=true`: every (sub-)order under the key,
    /// empty when DSCO has none.
    pub async fn get_orders(&self, key: OrderKey, value: &str) -> Result<Vec<Order>, DscoError> {
        let res = self
            .execute(Call {
                method: Method::GET,
                path: "/order/",
                query: vec![
                    ("orderKey", key.as_str().to_string()),
                    ("value", value.to_string()),
                    ("returnMultiple", "true".into()),
                ],
                body: None,
                family: Family::OrderRead,
                mode: Mode::Read,
            })
            .await;
        let v = match res {
            Ok(a) => a.json()?,
            Err(DscoError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let items = match v {
            Value::Array(a) => a,
            Value::Object(_) => vec![v],
            _ => Vec::new(),
        };
        Ok(items
            .into_iter()
            .filter_map(|o| Order::from_value(o).ok())
            .collect())
    }
}
