//! Typed calls and fail-closed paging helpers.
//!
//! A paging helper either returns every row the server reported (`total`) or an error: a page
//! that comes back short before `total` is reached is a `Transient` failure, never a short
//! complete answer.

use futures::{StreamExt, TryStreamExt};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::client::LingxingClient;
use crate::envelope::{Envelope, decode, value_u64};
use crate::error::LingxingError;
use crate::limits::Endpoint;
use crate::model::*;

/// Largest `platform_order_nos` list per order-list call.
pub const ORDER_LIST_MAX_NOS: usize = 200;
/// Largest order-list page.
pub const ORDER_LIST_MAX_LENGTH: u32 = 500;
/// Smallest order-list page the server accepts.
pub const ORDER_LIST_MIN_LENGTH: u32 = 20;
pub const WMS_MAX_PAGE_SIZE: u32 = 200;
pub const INVENTORY_MAX_LENGTH: u32 = 800;
pub const SELLER_LIST_MAX_LENGTH: u32 = 200;
/// Largest productList page (its documented upper bound).
pub const PRODUCT_LIST_MAX_LENGTH: u32 = 1000;
/// SKUs per productList `sku_list` (no documented bound; kept well under a page).
pub const PRODUCT_LIST_MAX_SKUS: usize = 200;

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("request types serialize")
}

/// One request as a write would send it, built by the same code that sends it (a dry run shows
/// these): always a POST; the body is the normalised JSON the client signs and sends. The
/// signature, the access token and the app key travel in the query string and are never part
/// of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCall {
    pub method: &'static str,
    pub path: &'static str,
    pub body: Value,
}

impl PlannedCall {
    fn new(ep: Endpoint, body: Value) -> PlannedCall {
        PlannedCall {
            method: "POST",
            path: ep.path(),
            body: crate::sign::normalize_body(body),
        }
    }
}

fn cancel_body(global_order_nos: &[String]) -> Value {
    json!({"order_list": global_order_nos})
}

/// `data` of a `/pb/mp/*` list: `{total, list}`.
fn mp_page<T: serde::de::DeserializeOwned>(
    client: &LingxingClient,
    env: Envelope,
    what: &str,
) -> Result<Page<T>, LingxingError> {
    /// `{total, list}`, the list read straight into `T`.
    #[derive(serde::Deserialize)]
    #[serde(bound = "T: serde::de::DeserializeOwned")]
    struct MpData<T> {
        total: Option<Value>,
        list: Option<Vec<T>>,
    }
    let (total, items) = match &env.data {
        None => (None, Vec::new()),
        Some(raw) => {
            let d: MpData<T> = decode(raw, client.config().timezone, what)?;
            (
                d.total.as_ref().and_then(value_u64),
                d.list.unwrap_or_default(),
            )
        }
    };
    let total =
        total.ok_or_else(|| LingxingError::transient(format!("{what} answer lacks data.total")))?;
    Ok(Page { total, items })
}

/// `data` of an `/erp/sc/*` list: an array with a top-level `total`.
fn sc_page<T: serde::de::DeserializeOwned>(
    client: &LingxingClient,
    env: Envelope,
    what: &str,
) -> Result<Page<T>, LingxingError> {
    let items: Vec<T> = match &env.data {
        None => Vec::new(),
        Some(raw) => decode(raw, client.config().timezone, what)?,
    };
    let total = env.total.unwrap_or(items.len() as u64);
    Ok(Page { total, items })
}

fn short_page(what: &str, got: usize, total: u64) -> LingxingError {
    LingxingError::transient(format!(
        "{what} listing interrupted: {got} of {total} rows before an empty page"
    ))
}

impl LingxingClient {
    /// What [`Self::create_orders`] would send, without sending it.
    pub fn plan_create_orders(&self, req: &CreateOrdersRequest) -> PlannedCall {
        PlannedCall::new(Endpoint::OrderCreate, to_value(req))
    }

    /// What [`Self::cancel_orders`] would send, without sending it.
    pub fn plan_cancel_orders(&self, global_order_nos: &[String]) -> PlannedCall {
        PlannedCall::new(Endpoint::OrderCancel, cancel_body(global_order_nos))
    }

    /// Creates a batch of orders in one store. Per-order outcomes come back in the result; a
    /// transport failure after sending is `Ambiguous` (check existence with the order list).
    pub async fn create_orders(
        &self,
        req: &CreateOrdersRequest,
    ) -> Result<CreateOrdersResult, LingxingError> {
        let env = self.call(Endpoint::OrderCreate, to_value(req)).await?;
        let Some(data) = &env.data else {
            return Err(LingxingError::Ambiguous {
                message: format!("create answered code 0 without data: {}", env.message),
            });
        };
        decode(data, self.config().timezone, "order create").map_err(|e| LingxingError::Ambiguous {
            message: e.to_string(),
        })
    }

    /// [`create_orders`](Self::create_orders), then every refused PO is looked up in the order
    /// list (deleted orders included) in the same store: present means it already existed.
    /// A failed re-check does not hide what was created: those POs land in `unchecked`.
    pub async fn create_orders_checked(
        &self,
        req: &CreateOrdersRequest,
    ) -> Result<CheckedCreate, LingxingError> {
        let res = self.create_orders(req).await?;
        let mut out = CheckedCreate {
            created: res.created,
            ..Default::default()
        };
        if res.refused.is_empty() {
            return Ok(out);
        }
        let nos: Vec<String> = res
            .refused
            .iter()
            .map(|r| r.platform_order_no.clone())
            .collect();
        match self.orders_by_platform_order_nos(&nos, true).await {
            Ok(found) => {
                for r in res.refused {
                    let global_order_nos: Vec<String> = found
                        .iter()
                        .filter(|o| o.store_id == req.store_id)
                        .filter(|o| o.platform_order_nos().contains(&r.platform_order_no))
                        .map(|o| o.global_order_no.clone())
                        .collect();
                    if global_order_nos.is_empty() {
                        out.refused.push(r);
                    } else {
                        out.existing.push(ExistingOrder {
                            platform_order_no: r.platform_order_no,
                            global_order_nos,
                            error_message: r.error_message,
                        });
                    }
                }
            }
            Err(e) => {
                out.unchecked = res.refused;
                out.recheck_error = Some(e);
            }
        }
        Ok(out)
    }

    /// One page of the order list.
    pub async fn list_orders(&self, q: &OrderListQuery) -> Result<Page<Order>, LingxingError> {
        let env = self.call(Endpoint::OrderList, to_value(q)).await?;
        mp_page(self, env, "order list")
    }

    /// Every order (splits, merges and, with `include_delete`, deleted ones) of the given POs,
    /// in chunks of 200 numbers, all pages.
    pub async fn orders_by_platform_order_nos(
        &self,
        nos: &[String],
        include_delete: bool,
    ) -> Result<Vec<Order>, LingxingError> {
        // The chunks overlap up to the endpoint's capacity (the client's slots pace them).
        // (Collected first: a stream holding a closure over borrowed chunks makes the future
        // unsendable to tokio::spawn, a known limit of the compiler's lifetime inference.)
        let calls: Vec<_> = nos
            .chunks(ORDER_LIST_MAX_NOS)
            .map(|chunk| OrderListQuery {
                platform_order_nos: chunk.to_vec(),
                include_delete: Some(include_delete),
                length: ORDER_LIST_MAX_NOS as u32,
                ..Default::default()
            })
            .map(|q| self.list_orders_all(q))
            .collect();
        let chunks = futures::stream::iter(calls)
            .buffered(Endpoint::OrderList.capacity())
            .try_collect::<Vec<_>>()
            .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    /// Every page of an order-list query (the query's `offset` is the start).
    pub async fn list_orders_all(
        &self,
        mut q: OrderListQuery,
    ) -> Result<Vec<Order>, LingxingError> {
        q.length = q.length.clamp(ORDER_LIST_MIN_LENGTH, ORDER_LIST_MAX_LENGTH);
        let first = self.list_orders(&q).await?;
        let step = first.items.len() as u64;
        let mut total = first.total;
        let mut out: Vec<Order> = first.items;
        if out.len() as u64 >= total {
            return Ok(out);
        }
        if step == 0 {
            return Err(short_page("order list", 0, total));
        }
        q.offset += step as u32;
        // The first page told how many there are: the other pages are read together, up to the
        // endpoint's capacity (a backlog's feed of 10,000 orders is 20 pages: 8 s one after
        // another at 0.4 s a call, 1 s this way). Each page is checked to start where the one
        // before it ended and to be full; where one is not (the list changed under the read),
        // the rest is read one page after another from there, as before.
        let calls: Vec<_> = (0..total.saturating_sub(step).div_ceil(step))
            .map(|k| OrderListQuery {
                offset: q.offset + (k * step) as u32,
                ..q.clone()
            })
            .map(|q| async move { self.list_orders(&q).await.map(|p| (q.offset, p)) })
            .collect();
        let pages = futures::stream::iter(calls)
            .buffered(Endpoint::OrderList.capacity())
            .try_collect::<Vec<_>>()
            .await?;
        for (offset, page) in pages {
            if offset != q.offset {
                break;
            }
            let n = page.items.len() as u64;
            total = page.total;
            out.extend(page.items);
            q.offset += n as u32;
            if n < step {
                break;
            }
        }
        loop {
            if out.len() as u64 >= total {
                return Ok(out);
            }
            let page = self.list_orders(&q).await?;
            let n = page.items.len();
            out.extend(page.items);
            total = page.total;
            if n == 0 && (out.len() as u64) < total {
                return Err(short_page("order list", out.len(), total));
            }
            q.offset += n as u32;
        }
    }

    /// Every order whose `update_time` lies in `[from, to]` (both ends included), whatever the
    /// span: the server takes open intervals of at most 31 days, so this asks for slices of 30
    /// days widened by one second at each end and drops the duplicates of the overlaps.
    pub async fn orders_updated_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Order>, LingxingError> {
        const SLICE: i64 = 30 * 86400;
        let (from, to) = (from.timestamp(), to.timestamp());
        let mut out: Vec<Order> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut start = from;
        while start <= to {
            let end = (start + SLICE).min(to);
            let rows = self
                .list_orders_all(OrderListQuery {
                    length: ORDER_LIST_MAX_LENGTH,
                    date_type: Some("update_time".into()),
                    start_time: Some(start - 1),
                    end_time: Some(end + 1),
                    include_delete: Some(true),
                    ..Default::default()
                })
                .await?;
            for o in rows {
                if seen.insert(o.global_order_no.clone()) {
                    out.push(o);
                }
            }
            start = end + 1;
        }
        Ok(out)
    }

    /// One page of outbound orders.
    pub async fn wms_orders(&self, q: &WmsOrderQuery) -> Result<Page<WmsOrder>, LingxingError> {
        let env = self.call(Endpoint::WmsOrderList, to_value(q)).await?;
        sc_page(self, env, "wmsOrderList")
    }

    /// Every page of an outbound-order query (from `q.page`, pages of ≤ 200).
    pub async fn wms_orders_all(
        &self,
        mut q: WmsOrderQuery,
    ) -> Result<Vec<WmsOrder>, LingxingError> {
        q.page = q.page.max(1);
        q.page_size = q.page_size.clamp(1, WMS_MAX_PAGE_SIZE);
        let mut out = Vec::new();
        loop {
            let page = self.wms_orders(&q).await?;
            let n = page.items.len();
            out.extend(page.items);
            if out.len() as u64 >= page.total {
                return Ok(out);
            }
            if n == 0 {
                return Err(short_page("wmsOrderList", out.len(), page.total));
            }
            q.page += 1;
        }
    }

    /// One page of inventory rows.
    pub async fn inventory_details(
        &self,
        q: &InventoryQuery,
    ) -> Result<Page<InventoryRow>, LingxingError> {
        let mut body = json!({
            "offset": q.offset,
            "length": q.length.clamp(1, INVENTORY_MAX_LENGTH),
        });
        if !q.wids.is_empty() {
            body["wid"] = Value::String(q.wids.join(","));
        }
        if let Some(sku) = &q.sku {
            body["sku"] = Value::String(sku.clone());
        }
        let env = self.call(Endpoint::InventoryDetails, body).await?;
        sc_page(self, env, "inventoryDetails")
    }

    /// Every inventory row of the given warehouses (pages of ≤ 800). The server matches `sku`
    /// fuzzily; this keeps only rows whose SKU is exactly `q.sku`.
    pub async fn inventory_all(
        &self,
        q: InventoryQuery,
    ) -> Result<Vec<InventoryRow>, LingxingError> {
        let exact = q.sku.clone();
        let rows = self.inventory_pages(q).await?;
        Ok(match exact {
            Some(sku) => rows.into_iter().filter(|r| r.sku == sku).collect(),
            None => rows,
        })
    }

    async fn inventory_pages(
        &self,
        mut q: InventoryQuery,
    ) -> Result<Vec<InventoryRow>, LingxingError> {
        if q.length == 0 {
            q.length = INVENTORY_MAX_LENGTH;
        }
        q.length = q.length.min(INVENTORY_MAX_LENGTH);
        let mut out = Vec::new();
        loop {
            let page = self.inventory_details(&q).await?;
            let n = page.items.len();
            out.extend(page.items);
            if out.len() as u64 >= page.total {
                return Ok(out);
            }
            if n == 0 {
                return Err(short_page("inventoryDetails", out.len(), page.total));
            }
            q.offset += n as u32;
        }
    }

    /// One cursor page of pairs (`cursor_id` "0" to start).
    pub async fn pair_page(
        &self,
        q: &PairQuery,
        cursor_id: &str,
    ) -> Result<PairPage, LingxingError> {
        let mut body = json!({
            "use_cursor": true,
            // Numeric cursors go as numbers (the answer's next_cursor_id is a number).
            "cursor_id": cursor_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(cursor_id)),
            "length": if q.length == 0 { 200 } else { q.length },
        });
        if !q.store_ids.is_empty() {
            body["store_ids"] = json!(q.store_ids);
        }
        if !q.platform_codes.is_empty() {
            body["platform_codes"] = json!(q.platform_codes);
        }
        if !q.mskus.is_empty() {
            body["msku"] = json!(q.mskus);
        }
        if !q.skus.is_empty() {
            body["sku"] = json!(q.skus);
        }
        if let Some(t) = &q.start_time {
            body["start_time"] = json!(t);
        }
        if let Some(t) = &q.end_time {
            body["end_time"] = json!(t);
        }
        let env = self.call(Endpoint::PairList, body).await?;
        /// `data`: the cursor and the list, read straight into `Pair`s.
        #[derive(Default, serde::Deserialize)]
        struct PairData {
            has_next: Option<Value>,
            next_cursor_id: Option<Value>,
            list: Option<Vec<Pair>>,
        }
        let data: PairData = match &env.data {
            Some(raw) => decode(raw, self.config().timezone, "pair list")?,
            None => PairData::default(),
        };
        let has_next = match &data.has_next {
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                value_u64(v).ok_or_else(|| {
                    LingxingError::transient("pair list answer has a bad has_next")
                })? != 0
            }
            None => {
                return Err(LingxingError::transient(
                    "pair list answer lacks has_next (cursor paging)",
                ));
            }
        };
        let next_cursor_id = data
            .next_cursor_id
            .as_ref()
            .and_then(crate::envelope::value_text)
            .unwrap_or_default();
        let items = data.list.unwrap_or_default();
        if has_next && next_cursor_id.is_empty() {
            return Err(LingxingError::transient(
                "pair list says has_next without a next_cursor_id",
            ));
        }
        Ok(PairPage {
            items,
            has_next,
            next_cursor_id,
        })
    }

    /// Every pair matching `q`, following the cursor to the end.
    pub async fn pairs_all(&self, q: &PairQuery) -> Result<Vec<Pair>, LingxingError> {
        let mut out = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let page = self.pair_page(q, &cursor).await?;
            out.extend(page.items);
            if !page.has_next {
                return Ok(out);
            }
            if page.next_cursor_id == cursor {
                return Err(LingxingError::transient(
                    "pair list cursor did not move: listing interrupted",
                ));
            }
            cursor = page.next_cursor_id;
        }
    }

    /// Every multi-platform store (optionally of some platform codes).
    pub async fn stores_all(&self, platform_codes: &[u32]) -> Result<Vec<Store>, LingxingError> {
        let mut out: Vec<Store> = Vec::new();
        let mut offset = 0u32;
        loop {
            let mut body = json!({"offset": offset, "length": SELLER_LIST_MAX_LENGTH});
            if !platform_codes.is_empty() {
                body["platform_code"] = json!(platform_codes);
            }
            let env = self.call(Endpoint::SellerList, body).await?;
            let page: Page<Store> = mp_page(self, env, "getSellerList")?;
            let n = page.items.len();
            out.extend(page.items);
            if out.len() as u64 >= page.total {
                return Ok(out);
            }
            if n == 0 {
                return Err(short_page("getSellerList", out.len(), page.total));
            }
            offset += n as u32;
        }
    }

    /// Local warehouses (`type` 1 by default; pass 3 for overseas), not deleted.
    pub async fn warehouses(&self, kind: Option<u8>) -> Result<Vec<Warehouse>, LingxingError> {
        let mut out: Vec<Warehouse> = Vec::new();
        let mut offset = 0u32;
        loop {
            let mut body = json!({"offset": offset, "length": 1000});
            if let Some(k) = kind {
                body["type"] = json!(k);
            }
            let env = self.call(Endpoint::WarehouseList, body).await?;
            let page: Page<Warehouse> = sc_page(self, env, "warehouse list")?;
            let n = page.items.len();
            out.extend(page.items);
            if out.len() as u64 >= page.total {
                return Ok(out);
            }
            if n == 0 {
                return Err(short_page("warehouse list", out.len(), page.total));
            }
            offset += n as u32;
        }
    }

    /// Enabled self-ship logistics types of one provider type (0 API, 1 custom, 2 overseas
    /// warehouse, 4 platform), all pages.
    pub async fn used_logistics_types(
        &self,
        provider_type: u8,
    ) -> Result<Vec<LogisticsType>, LingxingError> {
        let mut out: Vec<LogisticsType> = Vec::new();
        let mut page_no = 1u32;
        loop {
            let body =
                json!({"param": {"provider_type": provider_type, "page": page_no, "length": 200}});
            let env = self.call(Endpoint::UsedLogisticsTypes, body).await?;
            let page: Page<LogisticsType> = sc_page(self, env, "listUsedLogisticsType")?;
            let n = page.items.len();
            out.extend(page.items);
            if out.len() as u64 >= page.total {
                return Ok(out);
            }
            if n == 0 {
                return Err(short_page("listUsedLogisticsType", out.len(), page.total));
            }
            page_no += 1;
        }
    }

    /// The local products (`POST /erp/sc/routing/data/local_inventory/productList`) whose SKU is
    /// one of `skus`, asked for by `sku_list` in chunks of [`PRODUCT_LIST_MAX_SKUS`], all pages.
    /// Only exact SKU matches are kept.
    pub async fn products_by_skus(&self, skus: &[String]) -> Result<Vec<Product>, LingxingError> {
        let wanted: std::collections::HashSet<&str> = skus.iter().map(String::as_str).collect();
        let mut out: Vec<Product> = Vec::new();
        for chunk in skus.chunks(PRODUCT_LIST_MAX_SKUS) {
            let mut offset = 0u32;
            let mut got = 0usize;
            loop {
                let body = json!({
                    "offset": offset,
                    "length": PRODUCT_LIST_MAX_LENGTH,
                    "sku_list": chunk,
                });
                let env = self.call(Endpoint::ProductList, body).await?;
                let page: Page<Product> = sc_page(self, env, "productList")?;
                let n = page.items.len();
                got += n;
                out.extend(
                    page.items
                        .into_iter()
                        .filter(|p| wanted.contains(p.sku.as_str())),
                );
                if got as u64 >= page.total {
                    break;
                }
                if n == 0 {
                    return Err(short_page("productList", got, page.total));
                }
                offset += n as u32;
            }
        }
        Ok(out)
    }

    /// LingXing's clock, read from the `response_time` of a cheap read (a store-list page),
    /// with this side's clock before and after the call (a token issued on the way widens the
    /// interval, never narrows it). `server` is `None` when the answer did not say its time.
    pub async fn server_time(&self) -> Result<clock::ServerTime, LingxingError> {
        let before = self.clock().now();
        let env = self
            .call(Endpoint::SellerList, json!({"offset": 0, "length": 20}))
            .await?;
        let after = self.clock().now();
        let server = env
            .response_time
            .as_deref()
            .and_then(|t| crate::envelope::parse_local_time(t, self.config().timezone));
        Ok(clock::ServerTime {
            before,
            server,
            after,
        })
    }

    /// Marks orders "not shipped" (标记不发货) by system order number.
    pub async fn cancel_orders(
        &self,
        global_order_nos: &[String],
    ) -> Result<CancelResult, LingxingError> {
        let env = self
            .call(Endpoint::OrderCancel, cancel_body(global_order_nos))
            .await?;
        let data = env.data.as_deref().unwrap_or(RawValue::NULL);
        decode(data, self.config().timezone, "cancelOrder").map_err(|e| LingxingError::Ambiguous {
            message: e.to_string(),
        })
    }
}
