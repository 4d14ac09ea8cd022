//! The ground truth the world keeps: system orders and their lines, outbound (sales) orders
//! and their products, and pair rows.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// An order line as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimItem {
    pub id: String,
    pub platform_order_no: String,
    pub msku: String,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
}

/// Ground truth of one system order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimOrder {
    pub global_order_no: String,
    pub store_id: String,
    pub platform_code: u32,
    pub platform_order_no: String,
    /// 4 待审核, 5 待发货, 6 已发货, 7 已取消.
    pub status: i64,
    /// 1 original, 3 split.
    pub split_type: i64,
    pub items: Vec<SimItem>,
    pub wid: Option<String>,
    pub logistics_type_id: Option<String>,
    pub receiver_name: String,
    pub receiver_country_code: String,
    pub city: String,
    pub address_line1: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub review_time: Option<DateTime<Utc>>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub cancel_time: Option<DateTime<Utc>>,
    pub deleted: bool,
    #[serde(skip)]
    pub(super) plan: Plan,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Plan {
    pub(super) audit_at: Option<DateTime<Utc>>,
    pub(super) split: bool,
    pub(super) partial: bool,
    pub(super) intercept: bool,
}

/// Ground truth of one outbound (sales) order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimOutbound {
    pub wo_id: u64,
    pub wo_number: String,
    pub order_number: String,
    pub platform_order_no: String,
    pub sid: u64,
    pub store_id: String,
    pub wid: u64,
    /// 1 物流下单, 2 待出库, 3 已出库, 4 已截单.
    pub status: i64,
    pub tracking_no: String,
    pub logistics_type_id: String,
    pub products: Vec<SimOutProduct>,
    pub create_at: DateTime<Utc>,
    pub update_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(super) ship_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(super) intercept: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimOutProduct {
    pub wod_id: u64,
    pub sku: String,
    pub seller_sku: String,
    pub count: u32,
    pub bundle_type: i64,
    pub bundle_wod_id: u64,
    pub unit_price: Decimal,
}

#[derive(Debug, Clone)]
pub(super) struct PairRec {
    pub(super) store_id: String,
    pub(super) msku: String,
    pub(super) sku: String,
    pub(super) modify_time: DateTime<Utc>,
    /// The store id shown on the row when it differs from the one it is listed under (a
    /// store-mismatch fault for conflict tests).
    pub(super) shown_store_id: Option<String>,
}
