//! Typed requests and answers. Ids are strings (LingXing sends them as either), money is
//! `Decimal`, times are `Option<DateTime<Utc>>`. Unknown fields are ignored; missing ones take
//! their default, so a field LingXing drops does not break a whole listing.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

use crate::envelope::de;

fn money<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    // The documented example sends amounts as strings ("10.00"): no float re-formatting.
    s.serialize_str(&v.to_string())
}

fn opt_money<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// Order create v2

/// `POST /pb/mp/order/v2/create`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CreateOrdersRequest {
    pub platform_code: u32,
    pub store_id: String,
    pub orders: Vec<NewOrder>,
}

/// One order of a create batch. Optional fields are left out of the body when `None`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NewOrder {
    /// The DSCO poNumber; unique per store on the LingXing side.
    pub platform_order_no: String,
    pub receiver_country_code: String,
    pub receiver_name: String,
    pub city: String,
    pub address_line1: String,
    /// `wid` and `logistics_type_id` go together (both or neither).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistics_type_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_currency: Option<String>,
    /// 1 residential, 2 business.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_choose_express: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    pub customer_shipping_amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    pub customer_tax_amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    pub order_total_amount: Option<Decimal>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_purchase_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_payment_time: Option<i64>,
    // Address fields the doc does not list but production clients send (they need a permission
    // on the LingXing side): sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_mobile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    pub items: Vec<NewOrderItem>,
}

/// One line: `sku` (local) or `msku`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NewOrderItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msku: Option<String>,
    pub quantity: u32,
    #[serde(serialize_with = "money")]
    pub unit_price: Decimal,
    /// 1 空, 2 SKU+订单店铺.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_deduction_type: Option<u8>,
}

/// Per-order outcome of a create batch.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CreateOrdersResult {
    #[serde(default, rename = "success_details")]
    pub created: Vec<CreatedOrder>,
    #[serde(default, rename = "error_details")]
    pub refused: Vec<RefusedOrder>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CreatedOrder {
    #[serde(default, deserialize_with = "de::string")]
    pub platform_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub global_order_no: String,
}

/// A refused order. The message text is not documented: do not rely on its wording (check
/// existence with the order list instead).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RefusedOrder {
    #[serde(default, deserialize_with = "de::string")]
    pub platform_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub error_message: String,
}

/// A create batch whose refused orders were re-checked against the order list, so that a
/// duplicate is recognised by existence, not by the wording of its refusal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedCreate {
    pub created: Vec<CreatedOrder>,
    /// Refused, yet the order list shows the PO in this store: it exists (a duplicate).
    pub existing: Vec<ExistingOrder>,
    /// Refused and not in the order list: a real refusal.
    pub refused: Vec<RefusedOrder>,
    /// Refused, and the re-check itself failed: outcome unknown for these POs.
    pub unchecked: Vec<RefusedOrder>,
    /// Why the re-check failed, when it did.
    pub recheck_error: Option<crate::LingxingError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExistingOrder {
    pub platform_order_no: String,
    pub global_order_nos: Vec<String>,
    /// The refusal text as LingXing gave it.
    pub error_message: String,
}

// ---------------------------------------------------------------------------------------------
// Order list v2

/// `POST /pb/mp/order/v2/list`. By numbers (≤ 200, no dates needed) or by a time window.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OrderListQuery {
    pub offset: u32,
    /// ≤ 500 (the server has also answered "length 最小值为 20").
    pub length: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platform_order_nos: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_delete: Option<bool>,
    /// `update_time`, `global_purchase_time`, … with `start_time`/`end_time` (Unix seconds, open
    /// interval, ≤ 31 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(rename = "store_id", skip_serializing_if = "Vec::is_empty")]
    pub store_ids: Vec<String>,
    #[serde(rename = "platform_code", skip_serializing_if = "Vec::is_empty")]
    pub platform_codes: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_status: Option<i64>,
}

/// System order status (`status`): the domain's `LxOrderStatus`, the one place that says what a
/// code means (audited, cancelled), read from LingXing's number.
pub use domain::order::LxOrderStatus as OrderStatus;

fn order_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OrderStatus, D::Error> {
    Ok(OrderStatus::from_code(de::int(d)?))
}

/// `split_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitType {
    #[default]
    Original,
    Merged,
    Split,
    Other(i64),
}

impl<'de> Deserialize<'de> for SplitType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match de::int(d)? {
            1 => Self::Original,
            2 => Self::Merged,
            3 => Self::Split,
            o => Self::Other(o),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Order {
    #[serde(default, deserialize_with = "de::string")]
    pub global_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub store_id: String,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub wid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reference_no: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub order_from_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub amount_currency: Option<String>,
    #[serde(default, deserialize_with = "order_status")]
    pub status: OrderStatus,
    #[serde(default)]
    pub split_type: SplitType,
    #[serde(default, deserialize_with = "de::int")]
    pub delivery_type: i64,
    #[serde(default, deserialize_with = "de::opt_unix")]
    pub update_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_unix")]
    pub global_purchase_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_unix")]
    pub global_review_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_unix")]
    pub global_delivery_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_unix")]
    pub global_cancel_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_vec")]
    pub platform_info: Vec<PlatformInfo>,
    #[serde(default, deserialize_with = "null_vec")]
    pub item_info: Vec<OrderItem>,
    #[serde(default)]
    pub logistics_info: Option<LogisticsInfo>,
}

impl Order {
    /// Every PO this system order carries (a merged order carries several).
    pub fn platform_order_nos(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .platform_info
            .iter()
            .map(|p| p.platform_order_no.clone())
            .chain(self.item_info.iter().map(|i| i.platform_order_no.clone()))
            .filter(|s| !s.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

fn null_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PlatformInfo {
    #[serde(default, deserialize_with = "de::string")]
    pub platform_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_order_name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_code: String,
    #[serde(default, deserialize_with = "de::string")]
    pub status: String,
    #[serde(default, deserialize_with = "de::string")]
    pub shipping_status: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct OrderItem {
    #[serde(default, deserialize_with = "de::string")]
    pub id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub msku: String,
    #[serde(default, deserialize_with = "de::string")]
    pub local_sku: String,
    #[serde(default, deserialize_with = "de::int")]
    pub quantity: i64,
    #[serde(default, deserialize_with = "de::opt_decimal")]
    pub unit_price_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "de::bool")]
    pub is_bundled: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct LogisticsInfo {
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_type_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_type_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_provider_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tracking_no: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub waybill_no: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub actual_carrier: Option<String>,
    #[serde(default, deserialize_with = "de::int")]
    pub status: i64,
}

/// One page of a `/pb/mp/*` or `/erp/sc/*` listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

// ---------------------------------------------------------------------------------------------
// WMS outbound orders

/// `POST /erp/sc/routing/wms/order/wmsOrderList`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WmsOrderQuery {
    pub page: u32,
    /// ≤ 200.
    pub page_size: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sid_arr: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_arr: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platform_order_no_arr: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub order_number_arr: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wo_number_arr: Vec<String>,
    /// `create_at`, `delivered_at`, `stock_delivered_at`, `update_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_type: Option<String>,
    /// `Y-m-d`. Without dates only the last month is returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

/// Outbound order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WmsStatus {
    /// 1 物流下单.
    LogisticsOrdering,
    /// 2 待出库.
    PendingOutbound,
    /// 3 已出库.
    Shipped,
    /// 4 已截单 (intercepted).
    Intercepted,
    #[default]
    Unknown,
    Other(i64),
}

impl<'de> Deserialize<'de> for WmsStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match de::int(d)? {
            1 => Self::LogisticsOrdering,
            2 => Self::PendingOutbound,
            3 => Self::Shipped,
            4 => Self::Intercepted,
            o => Self::Other(o),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct WmsOrder {
    #[serde(default, deserialize_with = "de::string")]
    pub wo_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub wo_number: String,
    /// System order number (= `global_order_no`).
    #[serde(default, deserialize_with = "de::string")]
    pub order_number: String,
    #[serde(default, deserialize_with = "de::strings")]
    pub platform_order_no: Vec<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub sid: String,
    #[serde(default, deserialize_with = "de::string")]
    pub wid: String,
    #[serde(default)]
    pub status: WmsStatus,
    #[serde(default, deserialize_with = "de::int")]
    pub logistics_status: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tracking_no: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub waybill_no: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_type_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_type_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub logistics_provider_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub actual_carrier: Option<String>,
    #[serde(default, deserialize_with = "de::opt_local_time")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_local_time")]
    pub stock_delivered_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_local_time")]
    pub create_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_local_time")]
    pub update_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_vec")]
    pub product_info: Vec<WmsProduct>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct WmsProduct {
    #[serde(default, deserialize_with = "de::string")]
    pub wod_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub product_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub sku: String,
    #[serde(default, deserialize_with = "de::int")]
    pub count: i64,
    #[serde(default, deserialize_with = "de::string")]
    pub seller_sku: String,
    /// 0 normal, 1 bundle, 2 child of a split bundle.
    #[serde(default, deserialize_with = "de::int")]
    pub bundle_type: i64,
    #[serde(default, deserialize_with = "de::string")]
    pub bundle_wod_id: String,
}

// ---------------------------------------------------------------------------------------------
// Inventory

/// `POST /erp/sc/routing/data/local_inventory/inventoryDetails`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryQuery {
    pub wids: Vec<String>,
    /// Fuzzy on the server: match exactly on the client side.
    pub sku: Option<String>,
    pub offset: u32,
    /// ≤ 800.
    pub length: u32,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct InventoryRow {
    #[serde(default, deserialize_with = "de::string")]
    pub wid: String,
    #[serde(default, deserialize_with = "de::string")]
    pub product_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub sku: String,
    #[serde(default, deserialize_with = "de::string")]
    pub seller_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub fnsku: String,
    /// 可用量: what is synced to DSCO.
    #[serde(default, deserialize_with = "de::int")]
    pub product_valid_num: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub product_total: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub product_bad_num: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub product_qc_num: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub product_lock_num: i64,
}

// ---------------------------------------------------------------------------------------------
// Pairs

/// `POST /pb/mp/listing/v2/getPairList` filters; paging is done by the client.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairQuery {
    pub store_ids: Vec<String>,
    pub platform_codes: Vec<String>,
    pub mskus: Vec<String>,
    pub skus: Vec<String>,
    /// `Y-m-d H:i:s` operation time, inclusive / exclusive.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub length: u32,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Pair {
    #[serde(default, deserialize_with = "de::string")]
    pub store_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub store_name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_code: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub msku: String,
    #[serde(default, deserialize_with = "de::string")]
    pub sku: String,
    #[serde(default, deserialize_with = "de::string")]
    pub local_name: String,
    #[serde(default, deserialize_with = "de::opt_local_time")]
    pub modify_time: Option<DateTime<Utc>>,
}

/// One cursor page of pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct PairPage {
    pub items: Vec<Pair>,
    pub has_next: bool,
    pub next_cursor_id: String,
}

// ---------------------------------------------------------------------------------------------
// Reference data

/// A local product (`productList`): what `sku` names in LingXing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Product {
    #[serde(default, deserialize_with = "de::string")]
    pub id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub sku: String,
    #[serde(default, deserialize_with = "de::string")]
    pub product_name: String,
    /// 0 停售 (stopped), 1 在售 (on sale), 2 开发中, 3 清仓.
    #[serde(default, deserialize_with = "de::int")]
    pub status: i64,
    /// 1: a bundle (组合产品).
    #[serde(default, deserialize_with = "de::int")]
    pub is_combo: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Store {
    #[serde(default, deserialize_with = "de::string")]
    pub store_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub sid: String,
    #[serde(default, deserialize_with = "de::string")]
    pub store_name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_code: String,
    #[serde(default, deserialize_with = "de::string")]
    pub platform_name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub currency: String,
    #[serde(default, deserialize_with = "de::int")]
    pub is_sync: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub status: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Warehouse {
    #[serde(default, deserialize_with = "de::string")]
    pub wid: String,
    #[serde(default, deserialize_with = "de::string")]
    pub name: String,
    /// 1 local, 3 overseas, 4 platform, 6 AWD.
    #[serde(default, rename = "type", deserialize_with = "de::int")]
    pub kind: i64,
    #[serde(default, deserialize_with = "de::bool")]
    pub is_delete: bool,
    #[serde(default, deserialize_with = "de::string")]
    pub country_code: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct LogisticsType {
    #[serde(default, deserialize_with = "de::string")]
    pub type_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub name: String,
    #[serde(default, deserialize_with = "de::string")]
    pub code: String,
    /// Provider type: 0 API, 1 custom, 2 overseas warehouse, 4 platform.
    #[serde(default, rename = "type", deserialize_with = "de::int")]
    pub kind: i64,
    #[serde(default, deserialize_with = "de::bool")]
    pub is_used: bool,
    #[serde(default, deserialize_with = "de::string")]
    pub logistics_provider_id: String,
    #[serde(default, deserialize_with = "de::string")]
    pub logistics_provider_name: String,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub wid: Option<String>,
}

/// Outcome of `cancelOrder`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CancelResult {
    #[serde(default, deserialize_with = "de::int")]
    pub success_num: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub fail_num: i64,
    /// 10000 all failed, 10001 partly, 10002 all succeeded.
    #[serde(default, deserialize_with = "de::int")]
    pub process_code: i64,
    #[serde(default, deserialize_with = "null_vec")]
    pub failure_info: Vec<CancelFailure>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CancelFailure {
    #[serde(default, deserialize_with = "de::string")]
    pub global_order_no: String,
    #[serde(default, deserialize_with = "de::string")]
    pub message: String,
}
