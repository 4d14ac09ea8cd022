//! What the rules need to know about an order, read leniently from DSCO's raw JSON (the payload
//! the store keeps) and from LingXing's views. Every field is optional on the wire; absence is
//! a decision input, never a parse failure, except for the PO number itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::config::PriceField;
use crate::ids::PoNumber;
use crate::stage::Stage;

/// The ship-to address as DSCO sends it (`shipping`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// One DSCO order line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DscoLine {
    pub line_number: Option<i64>,
    pub sku: Option<String>,
    pub partner_sku: Option<String>,
    pub dsco_item_id: Option<String>,
    pub title: Option<String>,
    pub quantity: i64,
    pub cancelled: i64,
    pub rejected: i64,
    pub prices: BTreeMap<PriceField, Decimal>,
}

impl DscoLine {
    /// `quantity − cancelledQuantity − rejectedQuantity`, never below 0.
    pub fn expected(&self) -> i64 {
        (self.quantity - self.cancelled - self.rejected).max(0)
    }
    /// The SKU the line goes by: `sku`, else `partnerSku`.
    pub fn key(&self) -> Option<&str> {
        self.sku.as_deref().or(self.partner_sku.as_deref())
    }
    /// The first price present in `list`.
    pub fn price(&self, list: &[PriceField]) -> Option<(PriceField, Decimal)> {
        list.iter()
            .find_map(|f| self.prices.get(f).map(|p| (*f, *p)))
    }
    /// A label for messages: `line 2 (SKU-1)`.
    pub fn label(&self) -> String {
        match (self.line_number, self.key()) {
            (Some(n), Some(k)) => format!("line {n} ({k})"),
            (Some(n), None) => format!("line {n}"),
            (None, Some(k)) => format!("line {k}"),
            (None, None) => "a line".to_owned(),
        }
    }
}

/// A DSCO order, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscoOrderView {
    pub po: PoNumber,
    pub dsco_order_id: Option<String>,
    pub retailer_id: Option<String>,
    pub status: Option<String>,
    pub lifecycle: Option<String>,
    pub cancel_requested: bool,
    /// `shipWarehouseCode`, else `requestedWarehouseCode`.
    pub warehouse_code: Option<String>,
    /// `shippingServiceLevelCode`, else `requestedShippingServiceLevelCode`.
    pub service_level: Option<String>,
    pub ship_carrier: Option<String>,
    pub ship_method: Option<String>,
    pub currency: Option<String>,
    pub consumer_order_number: Option<String>,
    pub address: Address,
    pub lines: Vec<DscoLine>,
    /// Tracking numbers DSCO already has (`packages[].trackingNumber`).
    pub packages: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn money(v: &Value, key: &str) -> Option<Decimal> {
    match v.get(key)? {
        // Through the text of the number, so 7.70 stays 7.70 and never passes through f64.
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    let s = v.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl DscoOrderView {
    /// Reads the parts of a DSCO order the rules use. Fails only without a `poNumber`.
    pub fn from_payload(v: &Value) -> Result<DscoOrderView, String> {
        let po =
            PoNumber::parse(text(v, "poNumber").unwrap_or_default()).map_err(|e| e.to_string())?;
        let s = v.get("shipping").cloned().unwrap_or(Value::Null);
        let address_lines: Vec<String> = match s.get("address") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        let address = Address {
            name: text(&s, "name").or_else(|| {
                let full = [text(&s, "firstName"), text(&s, "lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!full.is_empty()).then_some(full)
            }),
            company: text(&s, "company"),
            address1: address_lines
                .first()
                .cloned()
                .or_else(|| text(&s, "address1")),
            address2: address_lines
                .get(1)
                .cloned()
                .or_else(|| text(&s, "address2")),
            city: text(&s, "city"),
            region: text(&s, "region").or_else(|| text(&s, "state")),
            postal: text(&s, "postal"),
            country: text(&s, "country"),
            phone: text(&s, "phone"),
            email: text(&s, "email"),
        };
        let lines = match v.get("lineItems") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|l| DscoLine {
                    line_number: int(l, "lineNumber"),
                    sku: text(l, "sku"),
                    partner_sku: text(l, "partnerSku"),
                    dsco_item_id: text(l, "dscoItemId"),
                    title: text(l, "title"),
                    quantity: int(l, "quantity").unwrap_or(0),
                    cancelled: int(l, "cancelledQuantity").unwrap_or(0),
                    rejected: int(l, "rejectedQuantity").unwrap_or(0),
                    prices: PriceField::ALL
                        .into_iter()
                        .filter_map(|f| money(l, f.as_str()).map(|p| (f, p)))
                        .collect(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let packages = match v.get("packages") {
            Some(Value::Array(p)) => p.iter().filter_map(|x| text(x, "trackingNumber")).collect(),
            _ => Vec::new(),
        };
        Ok(DscoOrderView {
            po,
            dsco_order_id: text(v, "dscoOrderId"),
            retailer_id: text(v, "dscoRetailerId"),
            status: text(v, "dscoStatus"),
            lifecycle: text(v, "dscoLifecycle"),
            cancel_requested: v
                .get("cancelRequested")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            warehouse_code: text(v, "shipWarehouseCode")
                .or_else(|| text(v, "requestedWarehouseCode")),
            service_level: text(v, "shippingServiceLevelCode")
                .or_else(|| text(v, "requestedShippingServiceLevelCode")),
            ship_carrier: text(v, "shipCarrier").or_else(|| text(v, "requestedShipCarrier")),
            ship_method: text(v, "shipMethod").or_else(|| text(v, "requestedShipMethod")),
            currency: text(v, "currencyCode"),
            consumer_order_number: text(v, "consumerOrderNumber"),
            address,
            lines,
            packages,
            created_at: time(v, "dscoCreateDate"),
            updated_at: time(v, "dscoLastUpdate"),
        })
    }

    /// The stage of an order seen for the first time (SPEC §3).
    pub fn initial_stage(&self) -> Stage {
        match self.status.as_deref() {
            Some("shipped") => Stage::Done,
            Some("cancelled") => Stage::Cancelled,
            Some(_) => Stage::Pulled,
            None if self.lifecycle.as_deref() == Some("completed") => Stage::Done,
            None => Stage::Pulled,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    pub fn is_shipped(&self) -> bool {
        self.status.as_deref() == Some("shipped")
    }

    pub fn is_completed(&self) -> bool {
        self.lifecycle.as_deref() == Some("completed")
    }

    /// Several lines, or a quantity above 1 (what `multi_ban` holds).
    pub fn is_multi(&self) -> bool {
        self.lines.iter().filter(|l| l.expected() > 0).count() > 1
            || self.lines.iter().any(|l| l.expected() > 1)
    }

    /// `sku(quantity)` per line, for filtering.
    pub fn skus_label(&self) -> String {
        self.lines
            .iter()
            .map(|l| format!("{}({})", l.key().unwrap_or("?"), l.quantity))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A LingXing multi-platform order (from the order list), as the ACK rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxOrder {
    pub global_order_no: String,
    /// 4 待审核, 5 待发货, 6 已发货, 7 已取消, …
    pub status: i64,
    pub platform_order_nos: Vec<String>,
}

impl LxOrder {
    pub const CANCELLED: i64 = 7;
    /// 不显示: hidden (LingXing's status for an order taken off the lists).
    pub const HIDDEN: i64 = 8;

    /// Cancelled or hidden in LingXing: nothing of it will ship.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.status, Self::CANCELLED | Self::HIDDEN)
    }
}

/// One product row of a LingXing WMS outbound order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxOutboundItem {
    /// LingXing local SKU.
    pub sku: String,
    /// MSKU (`seller_sku`), when LingXing reports it.
    pub msku: Option<String>,
    pub count: i64,
    /// 0 normal, 1 bundle, 2 a component of a bundle.
    pub bundle_type: i64,
}

/// A LingXing WMS outbound order (`wmsOrderList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxOutbound {
    pub wo_number: String,
    pub order_number: Option<String>,
    pub platform_order_nos: Vec<String>,
    /// 1 物流下单, 2 待出库, 3 已出库, 4 已截单.
    pub status: i64,
    pub tracking_no: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub stock_delivered_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub items: Vec<LxOutboundItem>,
}

impl LxOutbound {
    pub const SHIPPED: i64 = 3;
    pub const INTERCEPTED: i64 = 4;

    pub fn ship_time(&self) -> Option<DateTime<Utc>> {
        self.delivered_at.or(self.stock_delivered_at)
    }

    /// Items counted towards quantities: a bundle counts once, not again through its parts.
    pub fn counted_items(&self) -> impl Iterator<Item = &LxOutboundItem> {
        self.items.iter().filter(|i| i.bundle_type != 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_example_leniently() {
        let v = json!({
            "poNumber": "BOX.75500001.69900001", "dscoOrderId": 1025400001, "dscoRetailerId": "1000012345",
            "dscoStatus": "shipment_pending", "dscoLifecycle": "acknowledged", "currencyCode": "USD",
            "shippingServiceLevelCode": "GCG", "requestedWarehouseCode": "US-CA-01",
            "dscoCreateDate": "2025-11-11T23:01:54+00:00", "dscoLastUpdate": "2025-11-12T02:10:00Z",
            "shipping": {"name": "Jane Doe", "address": ["100 Example Ave", "Apt 2"], "city": "Springfield",
                         "region": "NJ", "postal": "07000", "country": "US"},
            "lineItems": [{"lineNumber": 1, "sku": "SKU-EXAMPLE-001", "quantity": "2", "expectedCost": 7.70,
                           "consumerPrice": "21.00", "cancelledQuantity": 0}],
            "packages": [{"trackingNumber": "1Z1"}],
            "unknownField": {"kept": true}
        });
        let o = DscoOrderView::from_payload(&v).unwrap();
        assert_eq!(o.dsco_order_id.as_deref(), Some("1025400001"));
        assert_eq!(o.warehouse_code.as_deref(), Some("US-CA-01"));
        assert_eq!(o.address.address1.as_deref(), Some("100 Example Ave"));
        assert_eq!(o.address.address2.as_deref(), Some("Apt 2"));
        assert_eq!(o.lines[0].quantity, 2);
        // JSON numbers are read through their shortest text (7.70 arrives as 7.7): equal as decimals.
        assert_eq!(
            o.lines[0].prices[&PriceField::ExpectedCost],
            "7.70".parse::<Decimal>().unwrap()
        );
        assert_eq!(
            o.lines[0].prices[&PriceField::ConsumerPrice].to_string(),
            "21.00"
        );
        assert_eq!(o.packages, vec!["1Z1"]);
        assert_eq!(
            o.created_at.unwrap().to_rfc3339(),
            "2025-11-11T23:01:54+00:00"
        );
        assert_eq!(o.initial_stage(), Stage::Pulled);
        assert_eq!(o.skus_label(), "SKU-EXAMPLE-001(2)");
        assert!(o.is_multi());
        assert!(DscoOrderView::from_payload(&json!({"lineItems": []})).is_err());
    }

    #[test]
    fn first_sight_stage_follows_dsco_status() {
        for (status, stage) in [
            ("created", Stage::Pulled),
            ("shipment_pending", Stage::Pulled),
            ("shipped", Stage::Done),
            ("cancelled", Stage::Cancelled),
        ] {
            let o = DscoOrderView::from_payload(&json!({"poNumber": "P", "dscoStatus": status}))
                .unwrap();
            assert_eq!(o.initial_stage(), stage, "{status}");
        }
    }
}
