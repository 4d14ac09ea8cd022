//! The simulator's own order model and its rendering to DSCO's wire JSON. Written apart from the
//! client's models on purpose: the wire format is pinned twice, independently.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::defaults;

/// DSCO renders dates as `2025-11-11T23:01:54+00:00`.
pub(crate) fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A decimal as a JSON number with its exact digits.
pub(crate) fn money(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub address: Vec<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimLine {
    pub line_number: u32,
    pub sku: String,
    pub partner_sku: Option<String>,
    pub upc: Option<String>,
    pub dsco_item_id: Option<String>,
    pub title: Option<String>,
    pub quantity: u32,
    pub expected_cost: Option<Decimal>,
    pub consumer_price: Option<Decimal>,
    pub retail_price: Option<Decimal>,
    pub consumer_price_with_tax: Option<Decimal>,
    pub cancelled: u32,
    pub shipped: u32,
    pub invoiced: u32,
    pub cancel_requested: bool,
    pub activity: Vec<Value>,
    /// Keys laid over the rendered line (admin `wire` patch; `null` removes the key): shapes
    /// DSCO should not send but might (a text quantity, a line number twice, …).
    pub wire_patch: Map<String, Value>,
}

impl SimLine {
    pub fn open(&self) -> u32 {
        self.quantity.saturating_sub(self.cancelled + self.shipped)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PackageRecord {
    pub tracking_number: String,
    pub ship_date: Option<String>,
    pub ship_carrier: Option<String>,
    pub ship_method: Option<String>,
    pub shipping_service_level_code: Option<String>,
    pub warehouse_code: Option<String>,
    /// (line number, sku, quantity)
    pub items: Vec<(u32, String, u32)>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimOrder {
    pub dsco_order_id: u64,
    pub po_number: String,
    pub retailer_id: String,
    pub consumer_order_number: String,
    pub channel: String,
    pub test_flag: bool,
    pub currency_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_update: DateTime<Utc>,
    pub warehouse_code: Option<String>,
    pub service_level: Option<String>,
    pub shipping: Address,
    pub lines: Vec<SimLine>,
    pub acked: bool,
    pub supplier_order_number: Option<String>,
    pub cancel_requested: bool,
    pub cancel_requested_code: Option<String>,
    pub packages: Vec<PackageRecord>,
    /// Keys laid over the rendered order (admin `wire` patch; `null` removes the key): shapes
    /// DSCO should not send but might (no poNumber, an unknown dscoStatus, no lineItems, …).
    pub wire_patch: Map<String, Value>,
}

/// Lays `patch` over the object `v`: each key set, or removed when its value is `null`.
pub(crate) fn lay_over(v: &mut Value, patch: &Map<String, Value>) {
    if let Some(m) = v.as_object_mut() {
        for (k, x) in patch {
            if x.is_null() {
                m.remove(k);
            } else {
                m.insert(k.clone(), x.clone());
            }
        }
    }
}

/// `dscoStatus` and `dscoLifecycle` follow from quantities and the ACK (§3 of the reference).
impl SimOrder {
    /// The order line a submitted shipment or invoice line names: by `lineNumber`, else by
    /// `sku`.
    pub fn line_index(&self, l: &Value) -> Option<usize> {
        match (
            l.get("lineNumber").and_then(Value::as_u64),
            l.get("sku").and_then(Value::as_str),
        ) {
            (Some(n), _) => self
                .lines
                .iter()
                .position(|x| u64::from(x.line_number) == n),
            (None, Some(sku)) => self.lines.iter().position(|x| x.sku == sku),
            _ => None,
        }
    }

    pub fn status(&self) -> &'static str {
        let total: u32 = self.lines.iter().map(|l| l.quantity).sum();
        let cancelled: u32 = self.lines.iter().map(|l| l.cancelled).sum();
        let shipped: u32 = self.lines.iter().map(|l| l.shipped).sum();
        if total > 0 && cancelled >= total {
            "cancelled"
        } else if shipped > 0 {
            "shipped"
        } else if self.acked || cancelled > 0 {
            "shipment_pending"
        } else {
            "created"
        }
    }

    pub fn lifecycle(&self) -> &'static str {
        if self.lines.iter().all(|l| l.open() == 0) {
            "completed"
        } else if self.acked || self.lines.iter().any(|l| l.shipped + l.cancelled > 0) {
            "acknowledged"
        } else {
            "created"
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.status() == "cancelled"
    }

    fn level(&self) -> Option<&'static defaults::ServiceLevel> {
        let code = self.service_level.as_deref()?;
        defaults::SERVICE_LEVELS.iter().find(|s| s.code == code)
    }

    pub fn to_wire(&self) -> Value {
        let level = self.level();
        let carrier = level.map(|l| l.carrier);
        let method = level.map(|l| l.method);
        let opt = |v: Option<&str>| v.map_or(Value::Null, |s| Value::String(s.into()));
        let mut shipping = Map::new();
        let a = &self.shipping;
        let put = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        };
        put(&mut shipping, "name", &a.name);
        if let Some(name) = &a.name {
            let mut parts = name.splitn(2, ' ');
            shipping.insert("firstName".into(), json!(parts.next().unwrap_or_default()));
            shipping.insert("lastName".into(), json!(parts.next().unwrap_or_default()));
        }
        if !a.address.is_empty() {
            shipping.insert("address".into(), json!(a.address));
            shipping.insert("address1".into(), json!(a.address[0]));
            if let Some(a2) = a.address.get(1) {
                shipping.insert("address2".into(), json!(a2));
            }
        }
        put(&mut shipping, "city", &a.city);
        put(&mut shipping, "region", &a.region);
        put(&mut shipping, "state", &a.region);
        put(&mut shipping, "postal", &a.postal);
        put(&mut shipping, "country", &a.country);
        put(&mut shipping, "phone", &a.phone);

        let total: Decimal = self
            .lines
            .iter()
            .filter_map(|l| l.expected_cost.map(|c| c * Decimal::from(l.quantity)))
            .sum();
        let retailer_name = defaults::RETAILERS
            .iter()
            .find(|r| r.dsco_retailer_id == self.retailer_id)
            .map(|r| r.name);
        let lines: Vec<Value> = self.lines.iter().map(|l| self.line_wire(l)).collect();
        let packages: Vec<Value> = self
            .packages
            .iter()
            .map(|p| {
                json!({
                    "trackingNumber": p.tracking_number,
                    "shipDate": p.ship_date,
                    "shipCarrier": p.ship_carrier,
                    "shipMethod": p.ship_method,
                    "shippingServiceLevelCode": p.shipping_service_level_code,
                    "items": p.items.iter().map(|(n, sku, q)| json!({
                        "lineNumber": n, "sku": sku, "quantity": q
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut o = json!({
            "poNumber": self.po_number,
            "dscoOrderId": self.dsco_order_id.to_string(),
            "dscoRetailerId": self.retailer_id,
            "dscoSupplierId": defaults::DSCO_SUPPLIER_ID,
            "dscoSupplierName": defaults::DSCO_SUPPLIER_NAME,
            // Real payloads carry explicit nulls here; the OpenAPI test checks they are allowed.
            "dscoTradingPartnerId": Value::Null,
            "dscoTradingPartnerName": opt(retailer_name),
            "dscoStatus": self.status(),
            "dscoLifecycle": self.lifecycle(),
            // Real payloads say "dropship"; the document's enum is capitalised and the schema
            // test follows the document.
            "orderType": "Dropship",
            "testFlag": self.test_flag,
            "channel": self.channel,
            "consumerOrderNumber": self.consumer_order_number,
            "supplierOrderNumber": opt(self.supplier_order_number.as_deref()),
            "cancelRequested": self.cancel_requested,
            "cancelRequestedCode": opt(self.cancel_requested_code.as_deref()),
            "retailerCreateDate": wire_time(self.created_at - chrono::TimeDelta::minutes(30)),
            "dscoCreateDate": wire_time(self.created_at),
            "dscoLastUpdate": wire_time(self.last_update),
            "shipByDate": wire_time(self.created_at + chrono::TimeDelta::days(3)),
            "dscoShipLateDate": wire_time(self.created_at + chrono::TimeDelta::days(2)),
            "expectedDeliveryDate": wire_time(self.created_at + chrono::TimeDelta::days(10)),
            "requestedShipCarrier": opt(carrier),
            "requestedShipMethod": opt(method),
            "requestedShippingServiceLevelCode": opt(self.service_level.as_deref()),
            "shipCarrier": opt(carrier),
            "shipMethod": opt(method),
            "shippingServiceLevelCode": opt(self.service_level.as_deref()),
            "requestedWarehouseCode": opt(self.warehouse_code.as_deref()),
            "shipWarehouseCode": opt(self.warehouse_code.as_deref()),
            "extendedExpectedCostTotal": money(total),
            "signatureRequiredFlag": false,
            "giftFlag": false,
            "numberOfLineItems": self.lines.len(),
            "shipping": Value::Object(shipping),
            // Observed as `{}` or null; `{}` breaks the documented required fields, null is allowed.
            "billTo": Value::Null,
            "lineItems": lines,
            "packages": packages,
        });
        if let Some(c) = &self.currency_code {
            o["currencyCode"] = json!(c);
        }
        lay_over(&mut o, &self.wire_patch);
        o
    }

    fn line_wire(&self, l: &SimLine) -> Value {
        let status = if l.cancelled >= l.quantity {
            "cancelled"
        } else {
            "accepted"
        };
        let mut v = json!({
            "lineNumber": l.line_number,
            "retailerLineId": format!("{}{:03}", self.dsco_order_id, l.line_number),
            "quantity": l.quantity,
            "status": status,
            "acceptedQuantity": l.quantity - l.cancelled,
            "cancelledQuantity": l.cancelled,
            "rejectedQuantity": 0,
            "shippedQuantity": l.shipped,
            "remainingQuantity": l.open(),
            "cancelRequested": l.cancel_requested,
            "warehouseCode": self.warehouse_code,
        });
        // `activity[]` is not rendered: the document requires a property `activity` inside each
        // entry that real entries (`{action, quantity, activityDate}`) do not have.
        let _ = &l.activity;
        let m = v.as_object_mut().expect("object");
        // An empty SKU is no key at all (a line identified by partnerSku or upc only).
        if !l.sku.is_empty() {
            m.insert("sku".into(), json!(l.sku));
        }
        if let Some(u) = &l.upc {
            m.insert("upc".into(), json!(u));
        }
        if let Some(c) = l.consumer_price_with_tax {
            m.insert("consumerPriceWithTax".into(), money(c));
        }
        if let Some(p) = &l.partner_sku {
            m.insert("partnerSku".into(), json!(p));
        }
        if let Some(p) = &l.dsco_item_id {
            m.insert("dscoItemId".into(), json!(p));
        }
        if let Some(t) = &l.title {
            m.insert("title".into(), json!(t));
        }
        if let Some(c) = l.expected_cost {
            m.insert("expectedCost".into(), money(c));
            m.insert(
                "extendedExpectedCostTotal".into(),
                money(c * Decimal::from(l.quantity)),
            );
        }
        if let Some(c) = l.consumer_price {
            m.insert("consumerPrice".into(), money(c));
        }
        if let Some(c) = l.retail_price {
            m.insert("retailPrice".into(), money(c));
        }
        lay_over(&mut v, &l.wire_patch);
        v
    }
}
