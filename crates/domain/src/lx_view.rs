//! What LingXing showed for one order (the PO's LingXing orders as last listed, its outbound
//! orders as last read), as the store keeps it: one JSON document per order, written and read
//! through serde at the store's boundary.
//!
//! The keys are those the service has always stored (`orders[].no/status/moved/updated`,
//! `outbounds[]` as [`LxOutbound`], `outbounds_at` in Unix seconds), each struct's fields in the
//! order of their keys, so a view serializes to the text a JSON object of it always gave (the
//! store compares texts to tell a changed view). Reading is lenient as it always was: a field of
//! an unexpected shape reads as absent, an order entry without a number is dropped, a damaged
//! document reads as no view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::order::{LxOrder, LxOrderStatus, LxOutbound, LxOutboundItem, LxOutboundStatus};

/// Which part of an order's view a write brings; the rest stays as stored when the write lands.
///
/// Jobs write the views of the same orders at the same time: the ACK and ship jobs both apply
/// the change feed (the LingXing orders), the ship job stores the outbound orders it read. A
/// write of a whole view read earlier would undo what another job stored in between (outbound
/// orders dropped by a feed write left orders waiting a week as "not fully shipped"), so each
/// write names its part and the store applies it to the view as stored ([`LxViewPart::onto`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LxViewPart {
    /// The whole view, as written.
    #[default]
    Whole,
    /// The LingXing orders listed, merged by order number into those stored
    /// ([`LxView::merge_orders`]); the outbound orders stay.
    MergeOrders,
    /// The LingXing orders, in place of those stored; the outbound orders stay.
    ReplaceOrders,
    /// The outbound orders and when they were read; the LingXing orders stay.
    Outbounds,
}

impl LxViewPart {
    /// The view after `written` (a view holding this part) lands on `stored`.
    pub fn onto(self, written: &LxView, stored: &LxView) -> LxView {
        match self {
            LxViewPart::Whole => written.clone(),
            LxViewPart::MergeOrders => {
                let mut v = stored.clone();
                v.merge_orders(written.entries().iter().cloned());
                v
            }
            LxViewPart::ReplaceOrders => LxView {
                orders: written.orders.clone(),
                ..stored.clone()
            },
            LxViewPart::Outbounds => LxView {
                outbounds: written.outbounds.clone(),
                outbounds_at: written.outbounds_at,
                ..stored.clone()
            },
        }
    }

    /// Whether the write brings the LingXing orders (and so the order numbers).
    pub fn has_orders(self) -> bool {
        !matches!(self, LxViewPart::Outbounds)
    }
}

/// The stored LingXing view of one order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LxView {
    /// The PO's LingXing orders as last listed (`None`: never listed, only outbound orders read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_entries"
    )]
    pub orders: Option<Vec<LxViewOrder>>,
    /// The PO's outbound orders as last read (`None`: never read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_outbounds"
    )]
    pub outbounds: Option<Vec<LxOutbound>>,
    /// When the outbound orders were read (whole seconds).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "unix_seconds",
        deserialize_with = "lenient_unix_seconds"
    )]
    pub outbounds_at: Option<DateTime<Utc>>,
}

/// One LingXing order of the PO, as the order list showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LxViewOrder {
    /// Whether anything may have happened to it since its audit (shipped, or updated after the
    /// audit); absent for an order this service created and has not read back.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub moved: Option<bool>,
    /// LingXing's order number (`global_order_no`).
    pub no: String,
    #[serde(default = "order_unknown")]
    pub status: LxOrderStatus,
    /// LingXing's `update_time` (whole seconds).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "unix_seconds",
        deserialize_with = "lenient_unix_seconds"
    )]
    pub updated: Option<DateTime<Utc>>,
}

impl LxViewOrder {
    /// An order just created by this service: its status is not read back yet.
    pub fn placeholder(no: impl Into<String>) -> LxViewOrder {
        LxViewOrder {
            moved: None,
            no: no.into(),
            status: LxOrderStatus::Unknown,
            updated: None,
        }
    }
}

impl LxView {
    /// The view stored as `text`; a damaged or empty text reads as no view.
    ///
    /// Read straight from the text (the jobs read thousands of views a run); text that reading
    /// refuses (not an object, a key twice) is read through a `Value`, which says the same of
    /// every text the straight reading accepts.
    pub fn from_json(text: &str) -> LxView {
        serde_json::from_str::<LxView>(text).unwrap_or_else(|_| {
            serde_json::from_str::<Value>(text)
                .map(|v| LxView::from_value(&v))
                .unwrap_or_default()
        })
    }

    /// The view in a JSON value (anything but an object reads as no view).
    pub fn from_value(v: &Value) -> LxView {
        if !v.is_object() {
            return LxView::default();
        }
        LxView::deserialize(v).unwrap_or_default()
    }

    /// The text the store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a view serializes")
    }

    /// The view as a JSON value (for pages that show it raw).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a view serializes")
    }

    /// The view listing only `orders` (what a lookup by PO found; none: an empty list).
    pub fn listed(orders: Vec<LxViewOrder>) -> LxView {
        LxView {
            orders: Some(orders),
            ..LxView::default()
        }
    }

    /// The LingXing order entries (none when never listed).
    pub fn entries(&self) -> &[LxViewOrder] {
        self.orders.as_deref().unwrap_or_default()
    }

    /// The LingXing orders, as the rules read them.
    pub fn lx_orders(&self) -> Vec<LxOrder> {
        self.entries()
            .iter()
            .map(|e| LxOrder {
                global_order_no: e.no.clone(),
                status: e.status,
                platform_order_nos: Vec::new(),
            })
            .collect()
    }

    /// The LingXing order numbers, in the view's order.
    pub fn order_nos(&self) -> Vec<String> {
        self.entries().iter().map(|e| e.no.clone()).collect()
    }

    /// Merges `orders` in by LingXing order number (a number listed again replaces its entry);
    /// the entries end up ordered by number, the outbound orders are kept.
    pub fn merge_orders(&mut self, orders: impl IntoIterator<Item = LxViewOrder>) {
        let mut by_no: std::collections::BTreeMap<String, LxViewOrder> = self
            .entries()
            .iter()
            .map(|e| (e.no.clone(), e.clone()))
            .collect();
        for o in orders {
            by_no.insert(o.no.clone(), o);
        }
        self.orders = Some(by_no.into_values().collect());
    }

    /// Whether LingXing has audited (some order of the PO is audited or past it), so outbound
    /// orders may exist.
    pub fn audited(&self) -> bool {
        self.entries().iter().any(|e| e.status.is_audited())
    }

    /// Whether some order of the PO has shipped, so outbound orders exist.
    pub fn shipped(&self) -> bool {
        self.entries().iter().any(|e| e.status.is_shipped())
    }

    /// Whether some order is a placeholder of an order this service created (status 0).
    pub fn has_placeholder(&self) -> bool {
        self.entries()
            .iter()
            .any(|e| e.status == LxOrderStatus::Unknown)
    }

    /// Whether outbound orders should be (re-)read: never read and some LingXing order of the
    /// PO moved after its audit, or read before some LingXing order was last updated (entries
    /// without times count as moved).
    pub fn outbounds_stale(&self) -> bool {
        let entries = self.entries();
        match self.outbounds_at {
            None => entries.iter().any(|e| e.moved != Some(false)),
            Some(read) => entries
                .iter()
                .any(|e| e.updated.is_none_or(|u| u.timestamp() >= read.timestamp())),
        }
    }

    /// The outbound orders of `po` (none when never read).
    pub fn outbounds_of(&self, po: &str) -> Vec<LxOutbound> {
        self.outbounds
            .iter()
            .flatten()
            .map(|w| LxOutbound {
                platform_order_nos: vec![po.to_owned()],
                ..w.clone()
            })
            .collect()
    }
}

impl Serialize for LxOrderStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

/// A status code; anything but a whole number reads as 0.
impl<'de> Deserialize<'de> for LxOrderStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LxOrderStatus::from_code(
            Value::deserialize(d)?.as_i64().unwrap_or(0),
        ))
    }
}

impl Serialize for LxOutboundStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

/// A status code; anything but a whole number reads as 0.
impl<'de> Deserialize<'de> for LxOutboundStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LxOutboundStatus::from_code(
            Value::deserialize(d)?.as_i64().unwrap_or(0),
        ))
    }
}

fn order_unknown() -> LxOrderStatus {
    LxOrderStatus::Unknown
}

pub(crate) fn outbound_unknown() -> LxOutboundStatus {
    LxOutboundStatus::from_code(0)
}

/// Any value, `None` when absent or not of the expected type.
fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

/// A non-empty string, else `None`.
pub(crate) fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    })
}

/// A non-empty string, else empty.
pub(crate) fn lenient_text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient_text(d)?.unwrap_or_default())
}

/// A whole number, else 0.
pub(crate) fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Value::deserialize(d)?.as_i64().unwrap_or(0))
}

/// An RFC 3339 time, else `None`.
pub(crate) fn lenient_rfc3339<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

/// As `to_rfc3339` writes it (`+00:00`), `null` when absent.
pub(crate) fn rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

fn unix_seconds<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_i64(t.timestamp()),
        None => s.serialize_none(),
    }
}

/// Unix seconds (a whole number), else `None`.
fn lenient_unix_seconds<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Value::deserialize(d)?
        .as_i64()
        .and_then(|s| DateTime::from_timestamp(s, 0)))
}

/// A list of which only the entries with a LingXing order number are kept; not a list: `None`.
fn lenient_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<LxViewOrder>>, D::Error> {
    Ok(lenient_list(d)?.map(|a| a.into_iter().flatten().collect()))
}

/// Every entry of a list read (an entry that is not an object reads as an empty outbound order).
fn lenient_outbounds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<LxOutbound>>, D::Error> {
    Ok(lenient_list(d)?.map(|a| {
        a.into_iter()
            .map(|e| {
                e.unwrap_or_else(|| LxOutbound {
                    carrier: None,
                    delivered_at: None,
                    items: Vec::new(),
                    order_number: None,
                    platform_order_nos: Vec::new(),
                    status: outbound_unknown(),
                    stock_delivered_at: None,
                    tracking_no: None,
                    wo_number: String::new(),
                })
            })
            .collect()
    }))
}

/// Every entry of a list read (one that is not an object reads as an empty item).
pub(crate) fn lenient_items<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<LxOutboundItem>, D::Error> {
    Ok(lenient_list(d)?
        .map(|a| {
            a.into_iter()
                .map(|e| {
                    e.unwrap_or(LxOutboundItem {
                        bundle_type: 0,
                        count: 0,
                        msku: None,
                        sku: String::new(),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}

/// A list read entry by entry, so that one entry it cannot read does not spoil the others
/// (`None` in its place); anything but an array reads as no list. Each entry is read straight
/// from its text, and through a `Value` when that refuses it (a key twice, say), which is how
/// the whole list was read before (a `Value` tree for every view the jobs read cost more than
/// the reading itself).
fn lenient_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<Vec<Option<T>>>, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    if !raw.get().trim_start().starts_with('[') {
        return Ok(None);
    }
    let entries: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
    Ok(Some(
        entries
            .into_iter()
            .map(|e| {
                serde_json::from_str::<T>(e.get()).ok().or_else(|| {
                    serde_json::from_str::<Value>(e.get())
                        .ok()
                        .and_then(|v| serde_json::from_value(v).ok())
                })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each part lands on the view as stored: a feed write keeps the outbound orders another
    /// job stored after the feed's own read, an outbound write keeps the orders.
    #[test]
    fn a_part_keeps_what_it_does_not_bring() {
        let stored = LxView::from_json(
            r#"{"orders":[{"no":"LX1","status":5},{"no":"LX2","status":5}],"outbounds":[{"carrier":"UPS","delivered_at":null,"items":[],"order_number":"LX1","status":3,"stock_delivered_at":null,"tracking":"1Z1","wo":"WO1"}],"outbounds_at":1700000200}"#,
        );
        let listed = LxView::from_json(r#"{"orders":[{"no":"LX2","status":6}]}"#);
        let merged = LxViewPart::MergeOrders.onto(&listed, &stored);
        assert_eq!(merged.order_nos(), vec!["LX1", "LX2"]);
        assert_eq!(merged.entries()[1].status, LxOrderStatus::Shipped);
        assert_eq!(merged.outbounds, stored.outbounds, "outbound orders kept");
        assert_eq!(merged.outbounds_at, stored.outbounds_at);
        let replaced = LxViewPart::ReplaceOrders.onto(&listed, &stored);
        assert_eq!(replaced.order_nos(), vec!["LX2"]);
        assert_eq!(replaced.outbounds, stored.outbounds, "outbound orders kept");
        let read = LxView {
            outbounds: Some(Vec::new()),
            outbounds_at: DateTime::from_timestamp(1700000300, 0),
            ..LxView::default()
        };
        let out = LxViewPart::Outbounds.onto(&read, &stored);
        assert_eq!(out.orders, stored.orders, "orders kept");
        assert_eq!(out.outbounds, Some(Vec::new()));
        assert_eq!(out.outbounds_at, read.outbounds_at);
        assert_eq!(LxViewPart::Whole.onto(&listed, &stored), listed);
        assert!(LxViewPart::MergeOrders.has_orders() && !LxViewPart::Outbounds.has_orders());
    }

    /// Rows written before the view was typed (by `json!` in the feed, the push, the lookup
    /// and the outbound refresh) read back as what they said, and the ones in the shapes the
    /// service wrote come back as the same text.
    #[test]
    fn views_stored_before_typing_decode() {
        // The push's placeholder for an order it created.
        let created = r#"{"orders":[{"no":"LX1","status":0}]}"#;
        let v = LxView::from_json(created);
        assert_eq!(v.orders, Some(vec![LxViewOrder::placeholder("LX1")]));
        assert!(v.has_placeholder() && !v.audited());
        assert_eq!(v.to_json(), created);
        // The feed's merge, then the outbound refresh on top of it.
        let text = r#"{"orders":[{"moved":true,"no":"LX1","status":6,"updated":1700000100},{"moved":false,"no":"LX2","status":5,"updated":1700000000}],"outbounds":[{"carrier":"UPS","delivered_at":"2023-11-14T22:15:00+00:00","items":[{"bundle_type":0,"count":2,"msku":null,"sku":"SKU-1"}],"order_number":"LX1","status":3,"stock_delivered_at":null,"tracking":"1Z1","wo":"WO1"}],"outbounds_at":1700000200}"#;
        let v = LxView::from_json(text);
        assert_eq!(v.to_json(), text, "the same text back");
        assert!(v.audited());
        assert_eq!(v.order_nos(), vec!["LX1", "LX2"]);
        let lx = v.lx_orders();
        assert_eq!(lx[0].status, LxOrderStatus::Shipped);
        assert_eq!(
            v.entries()[0].updated.map(|t| t.timestamp()),
            Some(1_700_000_100)
        );
        let ob = v.outbounds_of("PO-1");
        assert_eq!(ob.len(), 1);
        assert_eq!(ob[0].wo_number, "WO1");
        assert_eq!(ob[0].platform_order_nos, vec!["PO-1"]);
        assert_eq!(ob[0].status, LxOutboundStatus::Shipped);
        assert_eq!(ob[0].tracking_no.as_deref(), Some("1Z1"));
        assert_eq!(
            ob[0].delivered_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2023-11-14T22:15:00+00:00")
        );
        assert_eq!(ob[0].items[0].sku, "SKU-1");
        assert_eq!(ob[0].items[0].count, 2);
        assert_eq!(v.outbounds_at.map(|t| t.timestamp()), Some(1_700_000_200));
        // Outbound orders read for an order never listed: no `orders` key.
        let only = r#"{"outbounds":[],"outbounds_at":5}"#;
        assert_eq!(LxView::from_json(only).to_json(), only);
        // A lookup that found nothing.
        let none = r#"{"orders":[]}"#;
        assert_eq!(LxView::from_json(none).to_json(), none);
    }

    #[test]
    fn odd_rows_read_leniently() {
        // Nothing stored, damaged text, not an object: no view.
        for t in ["", "{", "null", "[1]", "3"] {
            assert_eq!(LxView::from_json(t), LxView::default(), "{t}");
        }
        let odd = json!({
            "orders": [{"no": 7, "status": 5}, {"status": 5}, {"no": "LX", "status": "x", "moved": "y", "updated": null}],
            "outbounds": [3, {"wo": "", "status": null, "tracking": "", "items": [{"sku": 1}, 2], "delivered_at": "soon"}],
            "outbounds_at": "later",
            "other": true,
        });
        let v = LxView::from_value(&odd);
        assert_eq!(
            LxView::from_json(&odd.to_string()),
            v,
            "the text reads as its value"
        );
        // A key twice: the last, as the value reading has it.
        let twice = r#"{"orders":[{"no":"A","status":5}],"orders":[{"no":"B","status":6}]}"#;
        assert_eq!(LxView::from_json(twice).order_nos(), vec!["B"]);
        // In an entry too, beside an entry read as it is.
        let twice = r#"{"orders":[{"no":"A","no":"C","status":5},{"no":"D","status":5}]}"#;
        assert_eq!(LxView::from_json(twice).order_nos(), vec!["C", "D"]);
        // Entries without a number are dropped; odd fields read as absent.
        assert_eq!(
            v.orders,
            Some(vec![LxViewOrder {
                moved: None,
                no: "LX".into(),
                status: LxOrderStatus::Unknown,
                updated: None
            }])
        );
        let ob = v.outbounds.clone().unwrap();
        assert_eq!(ob.len(), 2);
        assert_eq!(ob[1].tracking_no, None, "an empty tracking number is none");
        assert_eq!(ob[1].status, LxOutboundStatus::Other(0));
        assert_eq!(ob[1].items.len(), 2);
        assert_eq!(ob[1].delivered_at, None);
        assert_eq!(v.outbounds_at, None);
        // Never read and entries of unknown history: stale.
        assert!(v.outbounds_stale());
    }

    #[test]
    fn outbound_orders_are_stale_only_after_lingxing_moved() {
        let at = |s: i64| DateTime::from_timestamp(s, 0);
        let entry = |moved: Option<bool>, updated: Option<i64>| LxViewOrder {
            moved,
            no: "103".into(),
            status: LxOrderStatus::from_code(5),
            updated: updated.and_then(at),
        };
        // Never read: only an order that moved after its audit (or of unknown history).
        assert!(!LxView::listed(vec![entry(Some(false), Some(90))]).outbounds_stale());
        assert!(LxView::listed(vec![entry(Some(true), Some(95))]).outbounds_stale());
        assert!(LxView::listed(vec![entry(None, None)]).outbounds_stale());
        // Read at 100: stale once an order was updated in or after that second.
        let read = |e: LxViewOrder| LxView {
            orders: Some(vec![e]),
            outbounds: Some(Vec::new()),
            outbounds_at: at(100),
        };
        assert!(!read(entry(Some(true), Some(99))).outbounds_stale());
        assert!(read(entry(Some(true), Some(100))).outbounds_stale());
        assert!(read(entry(Some(false), None)).outbounds_stale());
    }

    #[test]
    fn merging_replaces_by_number_and_keeps_outbounds() {
        let mut v = LxView {
            orders: Some(vec![
                LxViewOrder::placeholder("B"),
                LxViewOrder::placeholder("A"),
            ]),
            outbounds: Some(Vec::new()),
            outbounds_at: DateTime::from_timestamp(1, 0),
        };
        let mut b = LxViewOrder::placeholder("B");
        b.status = LxOrderStatus::from_code(5);
        v.merge_orders([b, LxViewOrder::placeholder("C")]);
        assert_eq!(v.order_nos(), vec!["A", "B", "C"]);
        assert!(v.audited());
        assert!(v.outbounds.is_some() && v.outbounds_at.is_some());
    }
}
