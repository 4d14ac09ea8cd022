//! Lenient read models and exact write models of DSCO v3.
//!
//! Reads: every field optional, a field of an unexpected type becomes `None` instead of failing
//! the whole order, unknown fields are kept in the raw JSON. Rithum adds fields at any time.
//! Writes: only what we set is sent (`None` is omitted); money is a JSON number with the exact
//! decimal digits.

use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

// ---------------------------------------------------------------------------------------------
// Lenient helpers

/// Any value, or `None` when it is absent, null or not of the expected type.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// An id DSCO sends as a string or a number (`dscoOrderId` is a string of digits in real
/// payloads, a number in some schemas).
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// RFC 3339 with `Z` or an offset (DSCO sends `+00:00`).
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

/// Money as a number or a numeric string.
fn lenient_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => parse_decimal(&n.to_string()),
        Value::String(s) => parse_decimal(s.trim()),
        _ => None,
    })
}

fn parse_decimal(s: &str) -> Option<Decimal> {
    s.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())
}

fn lenient_vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    lenient_id(d)
}

// ---------------------------------------------------------------------------------------------
// Statuses

/// Deprecated `dscoStatus`, still sent by DSCO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DscoStatus {
    Created,
    ShipmentPending,
    Shipped,
    Cancelled,
    Other(String),
}

impl From<String> for DscoStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "created" => DscoStatus::Created,
            "shipment_pending" => DscoStatus::ShipmentPending,
            "shipped" => DscoStatus::Shipped,
            "cancelled" => DscoStatus::Cancelled,
            _ => DscoStatus::Other(s),
        }
    }
}

impl<'de> Deserialize<'de> for DscoStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(DscoStatus::from)
    }
}

/// `dscoLifecycle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DscoLifecycle {
    Received,
    Created,
    Acknowledged,
    Completed,
    Other(String),
}

impl From<String> for DscoLifecycle {
    fn from(s: String) -> Self {
        match s.as_str() {
            "received" => DscoLifecycle::Received,
            "created" => DscoLifecycle::Created,
            "acknowledged" => DscoLifecycle::Acknowledged,
            "completed" => DscoLifecycle::Completed,
            _ => DscoLifecycle::Other(s),
        }
    }
}

impl<'de> Deserialize<'de> for DscoLifecycle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(DscoLifecycle::from)
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

/// One DSCO order: the typed fields the service reads, plus the raw JSON as received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFields {
    #[serde(default, deserialize_with = "lenient_string")]
    pub po_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub dsco_order_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub dsco_retailer_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub dsco_supplier_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub dsco_trading_partner_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub dsco_trading_partner_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub supplier_order_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub consumer_order_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub order_type: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub test_flag: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub dsco_status: Option<DscoStatus>,
    #[serde(default, deserialize_with = "lenient")]
    pub dsco_lifecycle: Option<DscoLifecycle>,
    #[serde(default, deserialize_with = "lenient")]
    pub cancel_requested: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub cancel_requested_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub dsco_create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub dsco_last_update: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub retailer_create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub ship_by_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ship_carrier: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ship_method: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub shipping_service_level_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub requested_ship_carrier: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub requested_ship_method: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub requested_shipping_service_level_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub requested_warehouse_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ship_warehouse_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub extended_expected_cost_total: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub order_total_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient")]
    pub shipping: Option<Shipping>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub line_items: Vec<LineItem>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub packages: Vec<Package>,
}

/// An order as read: the JSON text as received (what the engine stores), and its typed fields,
/// read from that text the first time they are looked at.
#[derive(Debug, Clone)]
pub struct Order {
    raw: Box<RawValue>,
    fields: OnceLock<OrderFields>,
    head: OnceLock<Head>,
}

/// What [`Order::brief`] and [`Order::identity`] read, in one pass over the text (a pull reads
/// both of every order of a page), each field as [`OrderFields`] reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default, deserialize_with = "lenient_string")]
    po_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    dsco_order_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    dsco_retailer_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    dsco_create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    dsco_last_update: Option<DateTime<Utc>>,
}

impl std::ops::Deref for Order {
    type Target = OrderFields;
    fn deref(&self) -> &OrderFields {
        self.fields.get_or_init(|| {
            // Every field is lenient, so an object always reads; one with a key twice reads
            // through a `Value` (the last one wins, as there).
            serde_json::from_str(self.raw.get())
                .or_else(|_| {
                    serde_json::from_str::<Value>(self.raw.get())
                        .and_then(|v| OrderFields::deserialize(&v))
                })
                .unwrap_or_default()
        })
    }
}

impl Order {
    /// Reads an order from its JSON. Never fails on a field: only a non-object is refused.
    pub fn from_value(raw: Value) -> Result<Order, String> {
        if !raw.is_object() {
            return Err(format!("an order must be a JSON object, got {raw}"));
        }
        let fields = OrderFields::deserialize(&raw).map_err(|e| e.to_string())?;
        let raw = serde_json::value::to_raw_value(&raw).map_err(|e| e.to_string())?;
        Ok(Order {
            raw,
            fields: OnceLock::from(fields),
            head: OnceLock::new(),
        })
    }

    /// An order from its JSON text, kept as it is; the typed fields are read when first used.
    pub fn from_raw(raw: Box<RawValue>) -> Result<Order, String> {
        if !raw.get().trim_start().starts_with('{') {
            return Err(format!("an order must be a JSON object, got {}", raw.get()));
        }
        Ok(Order {
            raw,
            fields: OnceLock::new(),
            head: OnceLock::new(),
        })
    }

    /// The order's JSON text as DSCO sent it.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    pub fn into_raw(self) -> Box<RawValue> {
        self.raw
    }

    /// The order's JSON as a `Value`.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.raw.get()).unwrap_or(Value::Null)
    }

    /// Its PO number, ids and DSCO times ([`Head`]), read without the rest (lines, addresses)
    /// unless the typed fields are read already; read the same way as those.
    fn head(&self) -> &Head {
        self.head.get_or_init(|| {
            if self.fields.get().is_none()
                && let Ok(h) = serde_json::from_str::<Head>(self.raw.get())
            {
                return h;
            }
            // Read already, or a key twice: the full reading settles it.
            Head {
                po_number: self.po_number.clone(),
                dsco_order_id: self.dsco_order_id.clone(),
                dsco_retailer_id: self.dsco_retailer_id.clone(),
                dsco_create_date: self.dsco_create_date,
                dsco_last_update: self.dsco_last_update,
            }
        })
    }

    /// Its PO number and DSCO times, read without the rest (lines, addresses) unless the typed
    /// fields are read already; read the same way as those.
    pub fn brief(&self) -> Brief {
        let h = self.head();
        Brief {
            po_number: h.po_number.clone(),
            dsco_create_date: h.dsco_create_date,
            dsco_last_update: h.dsco_last_update,
        }
    }

    /// The key an order is unique by: `dscoOrderId`, else retailer + PO number. Reads those
    /// three fields only, unless the typed fields are read already.
    pub fn identity(&self) -> String {
        let ids = self.head();
        match (&ids.dsco_order_id, &ids.po_number) {
            (Some(id), _) => format!("id:{id}"),
            (None, Some(po)) => format!(
                "po:{}:{po}",
                ids.dsco_retailer_id.as_deref().unwrap_or_default()
            ),
            (None, None) => format!("raw:{}", self.raw.get()),
        }
    }
}

/// What [`Order::brief`] reads, each field as [`OrderFields`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Brief {
    #[serde(default, deserialize_with = "lenient_string")]
    pub po_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub dsco_create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub dsco_last_update: Option<DateTime<Utc>>,
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        Order::from_value(raw).map_err(serde::de::Error::custom)
    }
}

/// Ship-to address (`shipping`); `address` is an array of lines.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipping {
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub company: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub address: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address1: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address2: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub region: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub postal: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    #[serde(default, deserialize_with = "lenient")]
    pub line_number: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub quantity: Option<i64>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub partner_sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub dsco_item_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub upc: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub expected_cost: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub consumer_price: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub consumer_price_with_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_decimal")]
    pub retail_price: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub warehouse_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub accepted_quantity: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub cancelled_quantity: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub rejected_quantity: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub shipped_quantity: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub cancel_requested: Option<bool>,
}

/// A shipment DSCO already holds for the order (`packages[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    #[serde(default, deserialize_with = "lenient_string")]
    pub tracking_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub ship_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ship_carrier: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ship_method: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub shipping_service_level_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub items: Vec<PackageItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageItem {
    #[serde(default, deserialize_with = "lenient_string")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub line_number: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub quantity: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Messages and responses

/// One entry of DSCO's `messages[]` / change-log `results[]`. `description` may be a string or an
/// object on the wire; an object is kept as its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMessage {
    pub code: Option<String>,
    pub severity: Option<String>,
    pub description: String,
}

impl<'de> Deserialize<'de> for ApiMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(ApiMessage::from_value(&v))
    }
}

impl ApiMessage {
    pub(crate) fn from_value(v: &Value) -> ApiMessage {
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        match v {
            Value::String(s) => ApiMessage {
                code: None,
                severity: None,
                description: s.clone(),
            },
            _ => ApiMessage {
                code: text("code"),
                severity: text("severity"),
                description: text("description")
                    .or_else(|| text("message"))
                    .unwrap_or_default(),
            },
        }
    }

    /// Reads `messages[]` from an error body; falls back to OAuth's `error_description`, then to
    /// the body text itself.
    pub(crate) fn parse_body(body: &[u8]) -> Vec<ApiMessage> {
        let text = String::from_utf8_lossy(body);
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(o)) => {
                if let Some(Value::Array(ms)) = o.get("messages") {
                    return ms.iter().map(ApiMessage::from_value).collect();
                }
                if let Some(e) = o.get("error") {
                    let desc = o
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    return vec![ApiMessage {
                        code: e.as_str().map(str::to_string),
                        severity: Some("error".into()),
                        description: desc.to_string(),
                    }];
                }
                vec![ApiMessage {
                    code: None,
                    severity: None,
                    description: Value::Object(o).to_string(),
                }]
            }
            _ if text.trim().is_empty() => Vec::new(),
            _ => vec![ApiMessage {
                code: None,
                severity: None,
                description: text.chars().take(500).collect(),
            }],
        }
    }
}

/// A DSCO async request id (from a 202).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `SyncUpdateResponse`, the body of a 202.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncUpdateResponse {
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub messages: Vec<ApiMessage>,
}

// ---------------------------------------------------------------------------------------------
// Write models

/// How an ACK names the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderIdType {
    DscoOrderId,
    PoNumber,
    SupplierOrderNumber,
}

/// One item of `POST /order/acknowledge` (`OrderId`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAck {
    pub id: String,
    #[serde(rename = "type")]
    pub id_type: OrderIdType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_order_number: Option<String>,
}

/// One order's shipments (`/order/singleShipment` body, item of the small batch).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentsForOrder {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub po_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsco_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_order_number: Option<String>,
    pub shipments: Vec<Shipment>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment {
    pub tracking_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_service_level_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_code: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::arbitrary_precision_option"
    )]
    pub ship_weight: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_weight_units: Option<String>,
    pub line_items: Vec<ShipmentLine>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsco_item_id: Option<String>,
    pub quantity: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_span_flag: Option<bool>,
}

/// `Invoice` (for `/invoice` and `/invoice/batch/small`). No top-level tracking number: DSCO's
/// schema has none.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub invoice_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub po_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsco_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_order_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_date: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_amount: Decimal,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::arbitrary_precision_option"
    )]
    pub line_items_subtotal: Option<Decimal>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::arbitrary_precision_option"
    )]
    pub freight_amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_line_items: Option<i64>,
    pub line_items: Vec<InvoiceLine>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsco_item_id: Option<String>,
    pub quantity: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub unit_price: Decimal,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::arbitrary_precision_option"
    )]
    pub extended_amount: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InventoryStatus {
    InStock,
    OutOfStock,
    Discontinued,
    Hidden,
}

/// One SKU with all its warehouses (`ItemInventory`); `quantity_available` must be the sum of the
/// warehouse quantities, which [`InventoryItem::new`] guarantees.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_sku: Option<String>,
    pub status: InventoryStatus,
    pub quantity_available: i64,
    pub warehouses: Vec<WarehouseQuantity>,
}

impl InventoryItem {
    /// One item per SKU; status `in-stock` when anything is available, else `out-of-stock`.
    pub fn new(sku: impl Into<String>, warehouses: Vec<WarehouseQuantity>) -> Self {
        let total: i64 = warehouses.iter().map(|w| w.quantity).sum();
        InventoryItem {
            sku: sku.into(),
            partner_sku: None,
            status: if total > 0 {
                InventoryStatus::InStock
            } else {
                InventoryStatus::OutOfStock
            },
            quantity_available: total,
            warehouses,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseQuantity {
    pub code: String,
    pub quantity: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The brief reading and the identity agree with the full reading: on a plain order, on odd
    /// field types, on a key twice (the last wins, as in the full reading), and once the full
    /// reading is done.
    #[test]
    fn brief_reads_what_the_full_reading_reads() {
        let texts = [
            r#"{"poNumber":"PO-1","dscoCreateDate":"2025-11-11T23:01:54+00:00","dscoLastUpdate":"2025-11-12T02:10:00Z","lineItems":[{"sku":"A"}]}"#,
            r#"{"poNumber":7,"dscoCreateDate":5,"dscoLastUpdate":"not a time"}"#,
            r#"{"poNumber":"PO-1","poNumber":"PO-2","dscoLastUpdate":"2025-11-12T02:10:00Z"}"#,
            r#"{}"#,
            r#"{"poNumber":"PO-3","dscoOrderId":1025400001,"dscoRetailerId":"R1"}"#,
            r#"{"poNumber":"PO-3","dscoRetailerId":" R1 ","dscoOrderId":""}"#,
            r#"{"poNumber":"PO-3","dscoOrderId":"A","dscoOrderId":"B"}"#,
        ];
        for t in texts {
            let o = Order::from_raw(RawValue::from_string(t.to_owned()).unwrap()).unwrap();
            let full = Order::from_raw(RawValue::from_string(t.to_owned()).unwrap()).unwrap();
            let _ = &full.po_number;
            assert_eq!(o.identity(), full.identity(), "{t}");
        }
        let dup = Order::from_raw(RawValue::from_string(texts[6].to_owned()).unwrap()).unwrap();
        assert_eq!(dup.identity(), "id:B");
        for t in texts {
            let o = Order::from_raw(RawValue::from_string(t.to_owned()).unwrap()).unwrap();
            let brief = o.brief();
            let full = Brief {
                po_number: o.po_number.clone(),
                dsco_create_date: o.dsco_create_date,
                dsco_last_update: o.dsco_last_update,
            };
            assert_eq!(brief, full, "{t}");
            assert_eq!(o.brief(), full, "{t} after the full reading");
        }
        let dup = Order::from_raw(RawValue::from_string(texts[2].to_owned()).unwrap()).unwrap();
        assert_eq!(dup.brief().po_number.as_deref(), Some("PO-2"));
    }

    #[test]
    fn order_is_lenient_and_keeps_raw() {
        let raw = json!({
            "poNumber": "PO-1", "dscoOrderId": 1025400001, "testFlag": "yes",
            "dscoCreateDate": "2025-11-11T23:01:54+00:00", "dscoLastUpdate": "2025-11-12T02:10:00Z",
            "dscoStatus": "shipment_pending", "dscoLifecycle": "weird",
            "extendedExpectedCostTotal": 15.40, "brandNewField": {"x": 1},
            "lineItems": [{"lineNumber": 1, "sku": "A", "quantity": 2, "expectedCost": "7.70"}, 5],
            "shipping": {"address": ["1 Main"], "city": "X", "region": "NJ", "postal": "07000"},
            "billTo": null
        });
        let o: Order = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(o.dsco_order_id.as_deref(), Some("1025400001"));
        assert_eq!(o.test_flag, None);
        assert_eq!(o.dsco_status, Some(DscoStatus::ShipmentPending));
        assert_eq!(o.dsco_lifecycle, Some(DscoLifecycle::Other("weird".into())));
        assert_eq!(
            o.dsco_create_date.unwrap().to_rfc3339(),
            "2025-11-11T23:01:54+00:00"
        );
        assert!(o.dsco_last_update.is_some());
        assert_eq!(o.extended_expected_cost_total, Some(Decimal::new(1540, 2)));
        assert_eq!(o.line_items.len(), 1);
        assert_eq!(o.line_items[0].expected_cost, Some(Decimal::new(770, 2)));
        assert_eq!(o.to_value(), raw);
    }

    #[test]
    fn message_description_string_or_object() {
        let ms = ApiMessage::parse_body(
            br#"{"messages":[{"code":"VALIDATION_FAILED","severity":"error","description":"Ship carrier is required"},{"code":"X","description":{"field":"sku"}}]}"#,
        );
        assert_eq!(ms[0].description, "Ship carrier is required");
        assert_eq!(ms[1].description, r#"{"field":"sku"}"#);
    }

    #[test]
    fn invoice_money_is_a_json_number() {
        let inv = Invoice {
            invoice_id: "PO-1".into(),
            total_amount: Decimal::new(1540, 2),
            line_items: vec![InvoiceLine {
                quantity: 2,
                unit_price: Decimal::new(770, 2),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&inv).unwrap();
        assert!(v["totalAmount"].is_number());
        assert_eq!(serde_json::to_string(&v["totalAmount"]).unwrap(), "15.40");
    }
}
