//! R1–R6 as pure decisions: given what DSCO and LingXing show and the runtime config, what to do
//! with one order. No I/O; the jobs in `engine` gather the inputs in batches and carry out the
//! decisions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::{DEFAULT_INVOICE_PRICES, DEFAULT_PUSH_PRICES, JobConfig, Mappings, PriceField};
use crate::ids::{CarrierName, ServiceLevel};
use crate::job::JobName;
use crate::mapping::SkuMaps;
use crate::order::{
    Count, DscoLifecycle, DscoLine, DscoOrderView, DscoStatus, LxOrder, LxOutbound,
    LxOutboundStatus,
};
use crate::reason::{Reason, ReasonCode};

/// What to do with an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<W> {
    /// Move on without writing anything (the far side is already past this step).
    Advance { note: String },
    /// Write this to the far side (after recording the intent).
    Write(W),
    /// Leave it where it is, for this reason.
    Skip(Reason),
}

fn skip<W>(code: ReasonCode, subject: impl Into<String>) -> Decision<W> {
    Decision::Skip(Reason::new(code, subject))
}

fn multi_ban_key(job: JobName) -> String {
    format!("runtime_config.jobs.{job}.multi_ban")
}

// ------------------------------------------------------------------------------------------
// data defects (issue 13): DSCO data no rule can act on, held with a reason naming it

/// A unit price must be above 0 and below this (in the order's currency), or the order is held
/// with `price_out_of_range`; the reason text states the bound.
pub const MAX_UNIT_PRICE: i64 = 1_000_000;

/// An unknown `dscoStatus` or `dscoLifecycle`, or neither sent: no rule can say what to do, so
/// the order is held instead of waiting for ever.
pub fn state_defect(o: &DscoOrderView) -> Option<Reason> {
    let mut unknown = Vec::new();
    if let Some(DscoStatus::Unknown(s)) = &o.status {
        unknown.push(format!("dscoStatus = {s:?}"));
    }
    if let Some(DscoLifecycle::Unknown(s)) = &o.lifecycle {
        unknown.push(format!("dscoLifecycle = {s:?}"));
    }
    if o.status.is_none() && o.lifecycle.is_none() {
        unknown.push("neither dscoStatus nor dscoLifecycle sent".to_owned());
    }
    (!unknown.is_empty()).then(|| Reason::new(ReasonCode::DscoStateUnknown, unknown.join(", ")))
}

/// Lines no job can map: no `lineItems`, a `lineNumber` twice, a quantity that is not a whole
/// number ≥ 1 (cancelled and rejected: whole numbers from 0, together at most the quantity).
pub fn lines_defect(o: &DscoOrderView) -> Option<Reason> {
    if o.lines.is_empty() {
        return Some(Reason::new(ReasonCode::LineItemsMissing, "lineItems"));
    }
    let mut seen: BTreeMap<i64, &DscoLine> = BTreeMap::new();
    for l in &o.lines {
        if let Some(n) = l.line_number
            && let Some(first) = seen.insert(n, l)
        {
            return Some(Reason::new(
                ReasonCode::LineNumberDuplicate,
                format!(
                    "lineNumber {n} on {} and {}",
                    first.key().unwrap_or("a line without SKU"),
                    l.key().unwrap_or("a line without SKU")
                ),
            ));
        }
    }
    o.lines.iter().find_map(|l| {
        let bad = |field: &str, c: &Count, min: i64| match c {
            Count::Whole(n) if *n >= min => None,
            Count::Whole(n) => Some(format!("{field} = {n}")),
            Count::Unreadable(raw) => Some(format!("{field} = {raw}")),
            Count::Absent if min > 0 => Some(format!("{field} absent")),
            Count::Absent => None,
        };
        let wrong = bad("quantity", &l.quantity, 1)
            .or_else(|| bad("cancelledQuantity", &l.cancelled, 0))
            .or_else(|| bad("rejectedQuantity", &l.rejected, 0))
            .or_else(|| {
                let (q, c, r) = (l.quantity.value(), l.cancelled.value(), l.rejected.value());
                (c + r > q)
                    .then(|| format!("cancelledQuantity {c} + rejectedQuantity {r} > quantity {q}"))
            })?;
        Some(Reason::new(
            ReasonCode::QuantityInvalid,
            format!("{}: {wrong}", l.label()),
        ))
    })
}

/// A PO LingXing cannot take as `platform_order_no` exactly as DSCO sent it: leading or
/// trailing spaces (LingXing would keep it trimmed, so the order could not be found by its PO
/// again) or control characters. The PO is never altered; the order is held instead.
pub fn po_defect(o: &DscoOrderView) -> Option<Reason> {
    let po = o.po.as_str();
    (po.trim() != po || po.chars().any(char::is_control))
        .then(|| Reason::new(ReasonCode::PoUnusable, format!("{po:?}")))
}

/// The unit price of `l` from the first field of `list` it carries: a number above 0 and below
/// [`MAX_UNIT_PRICE`], else `price_out_of_range` naming the field and the value; none of them:
/// `price_missing`.
pub fn unit_price(l: &DscoLine, list: &[PriceField]) -> Result<(PriceField, Decimal), Reason> {
    for f in list {
        let out_of_range = |value: &str| {
            Reason::new(
                ReasonCode::PriceOutOfRange,
                format!("{} {} = {value}", l.label(), f.as_str()),
            )
        };
        if let Some(p) = l.prices.get(f) {
            return if *p > Decimal::ZERO && *p < Decimal::from(MAX_UNIT_PRICE) {
                Ok((*f, *p))
            } else {
                Err(out_of_range(&p.to_string()))
            };
        }
        if let Some(raw) = l.unreadable_prices.get(f) {
            return Err(out_of_range(raw));
        }
    }
    Err(Reason::new(
        ReasonCode::PriceMissing,
        price_subject(l, list),
    ))
}

// ------------------------------------------------------------------------------------------
// R1: push

/// One line of a LingXing create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushLine {
    /// DSCO `sku` (fallback `partnerSku`): LingXing's MSKU.
    pub msku: String,
    /// LingXing local SKU from `mapping.sku`, when mapped.
    pub sku: Option<String>,
    pub quantity: i64,
    pub unit_price: Decimal,
}

/// A LingXing order to create (`/pb/mp/order/v2/create`), for one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOrder {
    pub store_id: String,
    pub platform_order_no: String,
    pub wid: Option<String>,
    pub logistics_type_id: Option<String>,
    pub receiver_name: String,
    pub receiver_country_code: String,
    pub city: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub receiver_mobile: Option<String>,
    pub currency: Option<String>,
    pub lines: Vec<PushLine>,
    /// Things the order's timeline should say (fallbacks used).
    pub notes: Vec<String>,
}

/// R1: whether and what to create in LingXing.
pub fn decide_push(
    o: &DscoOrderView,
    job: Option<&JobConfig>,
    mapping: &Mappings,
    sku: &SkuMaps,
) -> Decision<PushOrder> {
    if let Some(r) = state_defect(o)
        .or_else(|| lines_defect(o))
        .or_else(|| po_defect(o))
    {
        return Decision::Skip(r);
    }
    let Some(retailer) = o.retailer_id.as_deref() else {
        return skip(
            ReasonCode::ShopUnmapped,
            "(the order has no dscoRetailerId)",
        );
    };
    let Some(store_id) = mapping.shop.get(retailer) else {
        return skip(ReasonCode::ShopUnmapped, retailer);
    };
    let settings = job.map(|j| &j.settings);
    let mut notes = Vec::new();
    let wid = match o.warehouse_code.as_deref() {
        Some(code) => match mapping.warehouse.get(code) {
            Some(w) => Some(w.to_string()),
            None if settings.and_then(|s| s.require_warehouse).unwrap_or(false) => {
                return skip(ReasonCode::WarehouseUnmapped, code);
            }
            None => {
                notes.push(format!(
                    "no mapping.warehouse for {code}: sent without wid, LingXing routes it"
                ));
                None
            }
        },
        None if settings.and_then(|s| s.require_warehouse).unwrap_or(false) => {
            return skip(
                ReasonCode::WarehouseUnmapped,
                "(the order names no warehouse)",
            );
        }
        None => {
            notes.push("the order names no warehouse: sent without wid, LingXing routes it".into());
            None
        }
    };
    let logistics_type_id = match &wid {
        Some(_) => {
            let key = format!(
                "{}-{}",
                o.warehouse_code.as_deref().unwrap_or_default(),
                o.service_level
                    .as_deref()
                    .unwrap_or("(no shippingServiceLevelCode)")
            );
            match mapping.shipment.get(key.as_str()) {
                Some(t) => Some(t.to_string()),
                None => return skip(ReasonCode::ShipmentUnmapped, key),
            }
        }
        None => None,
    };
    let a = &o.address;
    let missing: Vec<&str> = [
        ("shipping.name", a.name.is_none()),
        ("shipping.country", a.country.is_none()),
        ("shipping.city", a.city.is_none()),
        ("shipping.address", a.address1.is_none()),
    ]
    .into_iter()
    .filter_map(|(f, m)| m.then_some(f))
    .collect();
    if !missing.is_empty() {
        return skip(ReasonCode::AddressIncomplete, missing.join(", "));
    }
    let prices: Vec<PriceField> = settings
        .and_then(|s| s.price_source.clone())
        .unwrap_or_else(|| DEFAULT_PUSH_PRICES.to_vec());
    let mut lines = Vec::new();
    for l in o.lines.iter().filter(|l| l.expected() > 0) {
        let Some(msku) = l.key() else {
            return skip(ReasonCode::SkuMissing, l.label());
        };
        let unit_price = match unit_price(l, &prices) {
            Ok((_, p)) => p,
            Err(r) => return Decision::Skip(r),
        };
        let mapped = sku.to_lingxing(msku);
        if mapped.is_none() {
            notes.push(format!("{msku} has no mapping.sku entry: sent as MSKU only, LingXing pairs it (same-name fallback)"));
        }
        lines.push(PushLine {
            msku: msku.to_owned(),
            sku: mapped.map(str::to_owned),
            quantity: l.expected(),
            unit_price,
        });
    }
    if lines.is_empty() {
        return skip(
            ReasonCode::SkuMissing,
            "(no line with a quantity left to ship)",
        );
    }
    Decision::Write(PushOrder {
        store_id: store_id.to_string(),
        platform_order_no: o.po.to_string(),
        wid,
        logistics_type_id,
        receiver_name: a.name.clone().unwrap_or_default(),
        receiver_country_code: a.country.clone().unwrap_or_default(),
        city: a.city.clone().unwrap_or_default(),
        address_line1: a.address1.clone().unwrap_or_default(),
        address_line2: a.address2.clone(),
        state_or_region: a.region.clone(),
        postal_code: a.postal.clone(),
        receiver_mobile: a.phone.clone(),
        currency: o.currency.clone(),
        lines,
        notes,
    })
}

fn price_subject(l: &DscoLine, prices: &[PriceField]) -> String {
    let names: Vec<_> = prices.iter().map(|p| p.as_str()).collect();
    format!("{} [{}]", l.label(), names.join(", "))
}

// ------------------------------------------------------------------------------------------
// R3: ACK

/// An ACK to send: `PO_NUMBER` with LingXing's order number as `supplierOrderNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckWrite {
    pub po: String,
    pub supplier_order_number: String,
}

/// DSCO already acknowledged (or is later than that).
pub fn dsco_past_ack(o: &DscoOrderView) -> bool {
    matches!(
        o.status,
        Some(DscoStatus::ShipmentPending | DscoStatus::Shipped)
    ) || matches!(
        o.lifecycle,
        Some(DscoLifecycle::Acknowledged | DscoLifecycle::Completed)
    )
}

/// R3 (+ R6): whether to acknowledge. `lx` are the LingXing orders of this PO (splits included).
pub fn decide_ack(
    o: &DscoOrderView,
    job: Option<&JobConfig>,
    lx: &[LxOrder],
) -> Decision<AckWrite> {
    if dsco_past_ack(o) {
        return Decision::Advance {
            note: format!(
                "DSCO already shows {} / {}: no ACK needed",
                o.status_text(),
                o.lifecycle_text()
            ),
        };
    }
    if let Some(r) = state_defect(o) {
        return Decision::Skip(r);
    }
    if job.is_some_and(|j| j.multi_ban()) && o.is_multi() {
        return skip(ReasonCode::MultiBan, multi_ban_key(JobName::AckToDsco));
    }
    let live: Vec<&LxOrder> = lx.iter().filter(|x| !x.is_cancelled()).collect();
    if live.is_empty() {
        return match lx.first() {
            Some(c) => skip(
                ReasonCode::LingxingCancelled,
                format!("LingXing order {} status {}", c.global_order_no, c.status),
            ),
            None => skip(
                ReasonCode::LingxingOrderMissing,
                format!("platform_order_no {}", o.po),
            ),
        };
    }
    let waiting: Vec<String> = live
        .iter()
        .filter(|x| !x.status.is_audited())
        .map(|x| format!("{} status {}", x.global_order_no, x.status))
        .collect();
    if !waiting.is_empty() {
        return skip(ReasonCode::LingxingNotAudited, waiting.join(", "));
    }
    let mut nos: Vec<&str> = live.iter().map(|x| x.global_order_no.as_str()).collect();
    nos.sort();
    Decision::Write(AckWrite {
        po: o.po.to_string(),
        supplier_order_number: nos[0].to_owned(),
    })
}

// ------------------------------------------------------------------------------------------
// R4: shipments

/// One line of a DSCO shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipLine {
    pub line_number: Option<i64>,
    pub sku: Option<String>,
    pub partner_sku: Option<String>,
    pub dsco_item_id: Option<String>,
    pub quantity: i64,
    pub package_span: bool,
}

/// One DSCO shipment: one tracking number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub tracking_number: String,
    pub ship_date: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub method: Option<String>,
    pub service_level: Option<String>,
    pub warehouse_code: Option<String>,
    pub lines: Vec<ShipLine>,
}

/// The shipments to send for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipWrite {
    pub po: String,
    pub dsco_order_id: Option<String>,
    pub shipments: Vec<Shipment>,
}

/// What the order's shipments look like on the LingXing side, mapped back to DSCO lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shipped {
    /// Per tracking number: (DSCO line index → quantity), with ship time and carrier.
    pub packages: BTreeMap<String, Package>,
    /// DSCO line index → quantity out of the warehouse (status 3 only).
    pub out_per_line: BTreeMap<usize, i64>,
    /// Outbound orders intercepted in LingXing (status 4), by number.
    pub intercepted: Vec<String>,
    /// Whether there are outbound orders and LingXing intercepted every one.
    pub all_intercepted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub lines: BTreeMap<usize, i64>,
    pub ship_time: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub out: bool,
}

/// Maps the outbound orders of one PO back to its DSCO lines. Intercepted outbound orders (status
/// 4) are left out; a bundle counts once. A LingXing SKU that matches no DSCO line is an error
/// naming it; so are lines no job can map ([`lines_defect`]).
///
/// A SKU on several lines is booked across them by what each still has open (its expected
/// quantity minus what earlier outbound orders booked to it), so two lines of one SKU ship as two
/// lines; what is beyond every line's open quantity goes to the last of them. Earlier means by
/// ship time (not yet out: last), then outbound number, whatever order LingXing listed them in,
/// so a package keeps its lines from one run to the next.
pub fn map_outbounds(
    o: &DscoOrderView,
    outbounds: &[LxOutbound],
    sku: &SkuMaps,
) -> Result<Shipped, Reason> {
    if let Some(r) = lines_defect(o) {
        return Err(r);
    }
    let mut shipped = Shipped {
        all_intercepted: !outbounds.is_empty()
            && outbounds
                .iter()
                .all(|ob| ob.status == LxOutboundStatus::Intercepted),
        intercepted: outbounds
            .iter()
            .filter(|ob| ob.status == LxOutboundStatus::Intercepted)
            .map(|ob| ob.wo_number.clone())
            .collect(),
        ..Shipped::default()
    };
    let mut live: Vec<&LxOutbound> = outbounds
        .iter()
        .filter(|ob| ob.status != LxOutboundStatus::Intercepted)
        .collect();
    live.sort_by(|a, b| {
        (a.ship_time().is_none(), a.ship_time(), &a.wo_number).cmp(&(
            b.ship_time().is_none(),
            b.ship_time(),
            &b.wo_number,
        ))
    });
    let lines_of = |key: &str| -> Vec<usize> {
        o.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.sku.as_deref() == Some(key) || l.partner_sku.as_deref() == Some(key))
            .map(|(i, _)| i)
            .collect()
    };
    let mut booked: BTreeMap<usize, i64> = BTreeMap::new();
    for ob in live {
        let tracking = ob
            .tracking_no
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        for item in ob.counted_items() {
            let dsco_sku = sku
                .to_dsco(&item.sku)
                .map_err(|e| Reason::new(ReasonCode::ReverseMapAmbiguous, e))?;
            let mut candidates = lines_of(dsco_sku);
            if candidates.is_empty()
                && let Some(m) = item.msku.as_deref()
            {
                candidates = lines_of(m);
            }
            if candidates.is_empty() {
                return Err(Reason::new(
                    ReasonCode::SkuUnmatched,
                    format!("{} (outbound {})", item.sku, ob.wo_number),
                ));
            }
            for (idx, q) in book(o, &candidates, item.count, &mut booked) {
                if ob.status == LxOutboundStatus::Shipped {
                    *shipped.out_per_line.entry(idx).or_default() += q;
                }
                if let Some(t) = tracking {
                    *shipped
                        .packages
                        .entry(t.to_owned())
                        .or_default()
                        .lines
                        .entry(idx)
                        .or_default() += q;
                }
            }
            if let Some(t) = tracking {
                let p = shipped.packages.entry(t.to_owned()).or_default();
                p.ship_time = p.ship_time.max(ob.ship_time());
                p.out |= ob.status == LxOutboundStatus::Shipped;
                if p.carrier.is_none() {
                    p.carrier = ob.carrier.clone();
                }
            }
        }
    }
    Ok(shipped)
}

/// Books `count` units on the `candidates` lines (indexes, in order): each takes what it still
/// has open, the last one whatever is left.
fn book(
    o: &DscoOrderView,
    candidates: &[usize],
    count: i64,
    booked: &mut BTreeMap<usize, i64>,
) -> Vec<(usize, i64)> {
    let mut left = count;
    let mut out = Vec::new();
    for (n, &i) in candidates.iter().enumerate() {
        if left <= 0 {
            break;
        }
        let done = booked.entry(i).or_default();
        let take = if n + 1 == candidates.len() {
            left
        } else {
            left.min((o.lines[i].expected() - *done).max(0))
        };
        if take > 0 {
            *done += take;
            left -= take;
            out.push((i, take));
        }
    }
    out
}

/// The inputs of R4 beyond the order and the outbound orders.
#[derive(Debug, Clone)]
pub struct ShipContext<'a> {
    /// Tracking numbers already sent to DSCO (confirmed or pending).
    pub already_sent: &'a BTreeSet<String>,
    pub require_full_shipment: bool,
    pub multi_ban: bool,
    /// `mapping.carrier`: service level → carrier name.
    pub carrier_map: Option<&'a BTreeMap<ServiceLevel, CarrierName>>,
    /// The LingXing orders of the PO (splits included), as last read.
    pub lingxing: &'a [LxOrder],
    /// DSCO confirmed this service's ACK of the order (its change log said so): see
    /// [`dsco_lets_ship`].
    pub ack_confirmed: bool,
}

/// R4's DSCO side: whether DSCO's state lets a shipment go. `dscoStatus` `shipment_pending` or
/// `shipped`; without the deprecated status, an acknowledged lifecycle. Or the state last pulled
/// is still the one before the ACK (`dscoStatus` `created`; without it, lifecycle `received` or
/// `created`) and DSCO confirmed this service's ACK after that state was last updated
/// (`ack_confirmed`, the caller compares the times): the ACK moved the order to acknowledged /
/// `shipment_pending`, which the pull would read only after its `until` lag. A cancellation
/// pulled since is not a state before the ACK, so it still stops the shipment; a `created` DSCO
/// wrote after the confirmation (support taking the acknowledgement back) is not confirmed over.
pub fn dsco_lets_ship(
    status: Option<&DscoStatus>,
    lifecycle: Option<&DscoLifecycle>,
    ack_confirmed: bool,
) -> bool {
    let acknowledged = match status {
        Some(s) => matches!(s, DscoStatus::ShipmentPending | DscoStatus::Shipped),
        None => lifecycle == Some(&DscoLifecycle::Acknowledged),
    };
    acknowledged || (ack_confirmed && dsco_before_ack(status, lifecycle))
}

/// Whether DSCO's state is the one before an ACK: `dscoStatus` `created`; without the deprecated
/// status, lifecycle `received` or `created` (the state a confirmed ACK moves on, see
/// [`dsco_lets_ship`]).
pub fn dsco_before_ack(status: Option<&DscoStatus>, lifecycle: Option<&DscoLifecycle>) -> bool {
    match status {
        Some(s) => *s == DscoStatus::Created,
        None => matches!(
            lifecycle,
            Some(DscoLifecycle::Received | DscoLifecycle::Created)
        ),
    }
}

/// R4 (+ R6): the shipments to send. `Advance` means DSCO's lifecycle is `completed` (copy its
/// tracking numbers); a `Skip` with `NoTrackingYet` when nothing new has a tracking number, with
/// `LingxingCancelled` when nothing was shipped and every LingXing order of the PO is cancelled.
pub fn decide_ship(
    o: &DscoOrderView,
    shipped: &Shipped,
    cx: &ShipContext<'_>,
) -> Decision<ShipWrite> {
    if o.is_completed() {
        return Decision::Advance {
            note: format!(
                "DSCO lifecycle is completed; tracking on DSCO: {}",
                o.packages.join(",")
            ),
        };
    }
    // Cancelled (7) or hidden (8) in LingXing with nothing shipped: no package will come, so
    // waiting for a tracking number would wait for ever.
    if shipped.packages.is_empty()
        && !cx.lingxing.is_empty()
        && cx.lingxing.iter().all(LxOrder::is_cancelled)
    {
        let all: Vec<String> = cx
            .lingxing
            .iter()
            .map(|x| format!("LingXing order {} status {}", x.global_order_no, x.status))
            .collect();
        return skip(ReasonCode::LingxingCancelled, all.join(", "));
    }
    if let Some(r) = state_defect(o) {
        return Decision::Skip(r);
    }
    if !dsco_lets_ship(o.status.as_ref(), o.lifecycle.as_ref(), cx.ack_confirmed) {
        return skip(
            ReasonCode::DscoNotReady,
            format!("{} / {}", o.status_text(), o.lifecycle_text()),
        );
    }
    if cx.multi_ban && o.is_multi() {
        return skip(ReasonCode::MultiBan, multi_ban_key(JobName::ShipToDsco));
    }
    // Nothing out at all says more as "no tracking yet" than as "awaiting full shipment".
    if cx.require_full_shipment && !shipped.packages.is_empty() {
        let short = shortfall(
            o,
            &shipped
                .packages
                .values()
                .fold(BTreeMap::new(), |mut acc, p| {
                    for (i, q) in &p.lines {
                        *acc.entry(*i).or_insert(0) += q;
                    }
                    acc
                }),
        );
        if !short.is_empty() {
            return skip(ReasonCode::AwaitingFullShipment, short.join(", "));
        }
    }
    // How many packages each line spans, across every package of the order.
    let mut spans: BTreeMap<usize, usize> = BTreeMap::new();
    for p in shipped.packages.values() {
        for i in p.lines.keys() {
            *spans.entry(*i).or_default() += 1;
        }
    }
    let on_dsco: BTreeSet<&str> = o.packages.iter().map(String::as_str).collect();
    let mut shipments = Vec::new();
    for (tracking, p) in &shipped.packages {
        if on_dsco.contains(tracking.as_str()) || cx.already_sent.contains(tracking) {
            continue;
        }
        // A package with no ship time (neither delivered_at nor stock_delivered_at) has not left
        // the warehouse: it waits.
        if p.ship_time.is_none() {
            continue;
        }
        let carrier = o
            .service_level
            .as_deref()
            .and_then(|l| cx.carrier_map.and_then(|m| m.get(l)))
            .map(ToString::to_string)
            .or_else(|| o.ship_carrier.clone())
            .or_else(|| p.carrier.clone());
        shipments.push(Shipment {
            tracking_number: tracking.clone(),
            ship_date: p.ship_time,
            carrier,
            method: o.ship_method.clone(),
            service_level: o.service_level.clone(),
            warehouse_code: o.warehouse_code.clone(),
            lines: p
                .lines
                .iter()
                .map(|(i, q)| {
                    let l = &o.lines[*i];
                    ShipLine {
                        line_number: l.line_number,
                        sku: l.sku.clone(),
                        partner_sku: l.partner_sku.clone(),
                        dsco_item_id: l.dsco_item_id.clone(),
                        quantity: *q,
                        package_span: spans.get(i).copied().unwrap_or(0) > 1,
                    }
                })
                .collect(),
        });
    }
    if shipments.is_empty() {
        // Every outbound order intercepted (so nothing out): LingXing will not ship this by
        // itself; someone has to re-ship or cancel.
        if shipped.all_intercepted {
            return skip(
                ReasonCode::LingxingIntercepted,
                format!("outbound {}", shipped.intercepted.join(", ")),
            );
        }
        return skip(
            ReasonCode::NoTrackingYet,
            format!("{} package(s) known, none new", shipped.packages.len()),
        );
    }
    Decision::Write(ShipWrite {
        po: o.po.to_string(),
        dsco_order_id: o.dsco_order_id.clone(),
        shipments,
    })
}

/// Lines whose quantity out is below the expected quantity, as `SKU 1/2` (as `line 2 (SKU) 0/1`
/// when the SKU is on several lines).
fn shortfall(o: &DscoOrderView, out: &BTreeMap<usize, i64>) -> Vec<String> {
    o.lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.expected() > 0)
        .filter_map(|(i, l)| {
            let got = out.get(&i).copied().unwrap_or(0);
            let name = if o.lines.iter().filter(|x| x.key() == l.key()).count() > 1 {
                l.label()
            } else {
                l.key().unwrap_or("?").to_owned()
            };
            (got < l.expected()).then(|| format!("{name} {got}/{}", l.expected()))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// R5: invoice

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub line_number: Option<i64>,
    pub sku: Option<String>,
    pub partner_sku: Option<String>,
    pub dsco_item_id: Option<String>,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub extended_amount: Decimal,
}

/// One invoice per PO, `invoiceId = poNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceWrite {
    pub invoice_id: String,
    pub po: String,
    pub consumer_order_number: Option<String>,
    pub invoice_date: Option<DateTime<Utc>>,
    pub currency: String,
    pub total: Decimal,
    pub lines: Vec<InvoiceLine>,
}

/// R5 (+ R6). `confirmed` are the tracking numbers DSCO confirmed (or already had).
pub fn decide_invoice(
    o: &DscoOrderView,
    job: Option<&JobConfig>,
    shipped: &Shipped,
    confirmed: &BTreeSet<String>,
) -> Decision<InvoiceWrite> {
    if job.is_some_and(|j| j.multi_ban()) && o.is_multi() {
        return skip(ReasonCode::MultiBan, multi_ban_key(JobName::InvoiceToDsco));
    }
    let short = shortfall(o, &shipped.out_per_line);
    if !short.is_empty() {
        return skip(ReasonCode::NotFullyShipped, short.join(", "));
    }
    let unconfirmed: Vec<&str> = shipped
        .packages
        .keys()
        .filter(|t| !confirmed.contains(*t) && !o.packages.contains(t))
        .map(String::as_str)
        .collect();
    if !unconfirmed.is_empty() {
        return skip(ReasonCode::ShipmentsUnconfirmed, unconfirmed.join(","));
    }
    let prices: Vec<PriceField> = job
        .and_then(|j| j.settings.price_source.clone())
        .unwrap_or_else(|| DEFAULT_INVOICE_PRICES.to_vec());
    let mut lines = Vec::new();
    let mut total = Decimal::ZERO;
    for l in o.lines.iter().filter(|l| l.expected() > 0) {
        let unit = match unit_price(l, &prices) {
            Ok((_, p)) => p,
            Err(r) => return Decision::Skip(r),
        };
        let extended = round_cents(unit * Decimal::from(l.expected()));
        total += unit * Decimal::from(l.expected());
        lines.push(InvoiceLine {
            line_number: l.line_number,
            sku: l.sku.clone(),
            partner_sku: l.partner_sku.clone(),
            dsco_item_id: l.dsco_item_id.clone(),
            quantity: l.expected(),
            unit_price: unit,
            extended_amount: extended,
        });
    }
    Decision::Write(InvoiceWrite {
        invoice_id: o.po.to_string(),
        po: o.po.to_string(),
        consumer_order_number: o.consumer_order_number.clone(),
        invoice_date: shipped.packages.values().filter_map(|p| p.ship_time).max(),
        currency: o.currency.clone().unwrap_or_else(|| "USD".to_owned()),
        total: round_cents(total),
        lines,
    })
}

/// Half-up to cents (0.005 → 0.01), as invoices are.
pub fn round_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
