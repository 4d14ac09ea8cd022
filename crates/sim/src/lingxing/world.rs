//! The simulated LingXing state and the business endpoints, rendered in the wire format of the
//! official examples. State evolves lazily: [`World::tick`] applies every scheduled audit and
//! shipment whose time has come, and runs before every request and admin call.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{DelayRange, LingxingSimConfig};
use crate::defaults;

/// The text of the per-order refusal of a duplicate `platform_order_no` in one store.
/// NAMED ASSUMPTION: the official docs say only "同一店铺不支持重复" and give no message text;
/// clients must not depend on this wording alone.
pub const DUPLICATE_ORDER_MESSAGE: &str = "平台单号已存在，同一店铺不支持重复";

/// Seed data: what the world starts with. Every list defaults to the shared default world.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SeedWorld {
    pub stores: Vec<SeedStore>,
    pub warehouses: Vec<SeedWarehouse>,
    pub logistics_types: Vec<SeedLogisticsType>,
    pub products: Vec<SeedProduct>,
    pub pairs: Vec<SeedPair>,
    pub inventory: Vec<SeedInventory>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedStore {
    pub store_id: String,
    pub sid: u64,
    pub store_name: String,
    #[serde(default = "default_platform")]
    pub platform_code: u32,
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_platform() -> u32 {
    defaults::PLATFORM_CODE
}
fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedWarehouse {
    pub wid: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedLogisticsType {
    pub type_id: u64,
    pub name: String,
    pub code: String,
    pub provider_name: String,
    /// Carrier name reported as `actual_carrier`.
    pub carrier: String,
    pub tracking_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedProduct {
    pub sku: String,
    pub name: String,
    /// Components (sku, quantity) when this SKU is a bundle.
    #[serde(default)]
    pub bundle: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedPair {
    pub store_id: String,
    pub msku: String,
    pub sku: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedInventory {
    pub wid: u64,
    pub sku: String,
    #[serde(default = "zero_seller")]
    pub seller_id: String,
    pub valid: i64,
}

fn zero_seller() -> String {
    "0".into()
}

/// The default world, from the shared `defaults` module plus one bundle SKU.
pub fn default_seed() -> SeedWorld {
    let stores = defaults::RETAILERS
        .iter()
        .map(|r| SeedStore {
            store_id: r.lingxing_store_id.into(),
            sid: r.lingxing_sid,
            store_name: r.lingxing_store_name.into(),
            platform_code: defaults::PLATFORM_CODE,
            currency: "USD".into(),
        })
        .collect();
    let warehouses = defaults::WAREHOUSES
        .iter()
        .map(|w| SeedWarehouse {
            wid: w.wid,
            name: w.name.into(),
        })
        .collect();
    let mut logistics_types = Vec::new();
    for w in defaults::WAREHOUSES {
        for s in defaults::SERVICE_LEVELS {
            if let Some(id) = defaults::logistics_type_id(w.dsco_code, s.code) {
                logistics_types.push(SeedLogisticsType {
                    type_id: id,
                    name: format!("{} {} ({})", s.carrier, s.method, w.dsco_code),
                    code: s.code.into(),
                    provider_name: s.carrier.into(),
                    carrier: s.carrier.into(),
                    tracking_prefix: s.tracking_prefix.into(),
                });
            }
        }
    }
    let mut products: Vec<SeedProduct> = defaults::PRODUCTS
        .iter()
        .map(|p| SeedProduct {
            sku: p.lingxing_sku.into(),
            name: p.title.into(),
            bundle: vec![],
        })
        .collect();
    products.push(SeedProduct {
        sku: "LX-BUNDLE-01".into(),
        name: "Mug and Napkin Set".into(),
        bundle: vec![("LX-1001".into(), 2), ("LX-1002".into(), 1)],
    });
    let mut pairs = Vec::new();
    for r in defaults::RETAILERS {
        for p in defaults::PRODUCTS.iter().filter(|p| p.paired) {
            pairs.push(SeedPair {
                store_id: r.lingxing_store_id.into(),
                msku: p.dsco_sku.into(),
                sku: p.lingxing_sku.into(),
            });
        }
        pairs.push(SeedPair {
            store_id: r.lingxing_store_id.into(),
            msku: "SKU-BUNDLE-01".into(),
            sku: "LX-BUNDLE-01".into(),
        });
    }
    let mut inventory = Vec::new();
    for (wi, w) in defaults::WAREHOUSES.iter().enumerate() {
        for (pi, p) in defaults::PRODUCTS.iter().enumerate() {
            inventory.push(SeedInventory {
                wid: w.wid,
                sku: p.lingxing_sku.into(),
                seller_id: "0".into(),
                valid: 40 + ((pi * 37 + wi * 11) % 160) as i64,
            });
        }
    }
    // One SKU stocked under a store as well, so one (wid, sku) has two rows to add up.
    inventory.push(SeedInventory {
        wid: defaults::WAREHOUSES[0].wid,
        sku: defaults::PRODUCTS[0].lingxing_sku.into(),
        seller_id: defaults::RETAILERS[0].lingxing_sid.to_string(),
        valid: 5,
    });
    SeedWorld {
        stores,
        warehouses,
        logistics_types,
        products,
        pairs,
        inventory,
    }
}

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
    plan: Plan,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Plan {
    audit_at: Option<DateTime<Utc>>,
    split: bool,
    partial: bool,
    intercept: bool,
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
    ship_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    intercept: bool,
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
struct PairRec {
    store_id: String,
    msku: String,
    sku: String,
    modify_time: DateTime<Utc>,
    /// The store id shown on the row when it differs from the one it is listed under (a
    /// store-mismatch fault for conflict tests).
    shown_store_id: Option<String>,
}

pub(crate) struct World {
    pub cfg: LingxingSimConfig,
    rng: StdRng,
    seed: SeedWorld,
    pairs: Vec<PairRec>,
    product_ids: HashMap<String, u64>,
    inventory: BTreeMap<(u64, String, String), i64>,
    orders: Vec<SimOrder>,
    outbounds: Vec<SimOutbound>,
    next_id: u64,
    index: Index,
}

/// Where orders and outbound orders sit in their vectors, so that a request naming a few of them
/// does not scan all of them (a simulated day holds tens of thousands), and the earliest planned
/// audit or shipment, so that a request with nothing due does not scan at all.
#[derive(Default)]
struct Index {
    order_by_no: HashMap<String, usize>,
    orders_by_po: HashMap<String, Vec<usize>>,
    outbounds_by_order: HashMap<String, Vec<usize>>,
    outbounds_by_po: HashMap<String, Vec<usize>>,
    /// No planned audit or shipment is earlier than this; `None`: none is planned.
    next_due: Option<DateTime<Utc>>,
}

impl Index {
    fn add_order(&mut self, i: usize, o: &SimOrder) {
        self.order_by_no.insert(o.global_order_no.clone(), i);
        self.orders_by_po
            .entry(o.platform_order_no.clone())
            .or_default()
            .push(i);
        if let Some(t) = o.plan.audit_at {
            self.due_at(t);
        }
    }

    fn add_outbound(&mut self, i: usize, w: &SimOutbound) {
        self.outbounds_by_order
            .entry(w.order_number.clone())
            .or_default()
            .push(i);
        self.outbounds_by_po
            .entry(w.platform_order_no.clone())
            .or_default()
            .push(i);
        if let Some(t) = w.ship_at {
            self.due_at(t);
        }
    }

    fn due_at(&mut self, t: DateTime<Utc>) {
        self.next_due = Some(self.next_due.map_or(t, |d| d.min(t)));
    }
}

/// A business answer: the JSON and whether it is a success.
pub(crate) type Answer = Value;

fn fmt_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn unix_or_zero(t: Option<DateTime<Utc>>) -> i64 {
    t.map(|t| t.timestamp()).unwrap_or(0)
}

pub(crate) fn response_time(now: DateTime<Utc>) -> String {
    fmt_local(now)
}

fn request_id(rng: &mut StdRng) -> String {
    format!("{:032x}.{}", rng.random::<u128>(), rng.random::<u32>())
}

impl World {
    pub fn new(cfg: LingxingSimConfig, now: DateTime<Utc>) -> World {
        let seed = cfg.world.clone().unwrap_or_else(default_seed);
        let pairs = seed
            .pairs
            .iter()
            .map(|p| PairRec {
                store_id: p.store_id.clone(),
                msku: p.msku.clone(),
                sku: p.sku.clone(),
                modify_time: now - TimeDelta::days(30),
                shown_store_id: None,
            })
            .collect();
        let product_ids = seed
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sku.clone(), 22000 + i as u64))
            .collect();
        let inventory = seed
            .inventory
            .iter()
            .map(|r| ((r.wid, r.sku.clone(), r.seller_id.clone()), r.valid))
            .collect();
        World {
            rng: StdRng::seed_from_u64(cfg.rng_seed),
            cfg,
            seed,
            pairs,
            product_ids,
            inventory,
            orders: Vec::new(),
            outbounds: Vec::new(),
            next_id: 1,
            index: Index::default(),
        }
    }

    fn push_order(&mut self, o: SimOrder) -> usize {
        let i = self.orders.len();
        self.index.add_order(i, &o);
        self.orders.push(o);
        i
    }

    fn push_outbound(&mut self, w: SimOutbound) {
        let i = self.outbounds.len();
        self.index.add_outbound(i, &w);
        self.outbounds.push(w);
    }

    /// Rebuilds the index after orders or outbound orders were removed.
    fn reindex(&mut self) {
        let mut index = Index::default();
        for (i, o) in self.orders.iter().enumerate() {
            index.add_order(i, o);
        }
        for (i, w) in self.outbounds.iter().enumerate() {
            index.add_outbound(i, w);
        }
        self.index = index;
    }

    /// Positions of the system orders of `po`.
    fn order_idx_of_po(&self, po: &str) -> Vec<usize> {
        self.index.orders_by_po.get(po).cloned().unwrap_or_default()
    }

    /// Positions of the outbound orders of `po`.
    fn outbound_idx_of_po(&self, po: &str) -> Vec<usize> {
        self.index
            .outbounds_by_po
            .get(po)
            .cloned()
            .unwrap_or_default()
    }

    /// Positions of the outbound orders of system order `order_no`.
    fn outbound_idx_of_order(&self, order_no: &str) -> Vec<usize> {
        self.index
            .outbounds_by_order
            .get(order_no)
            .cloned()
            .unwrap_or_default()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn global_no(&mut self) -> String {
        format!("{}", 103_400_000_000_000_000u64 + self.id())
    }

    fn delay(&mut self, r: &DelayRange) -> TimeDelta {
        let (lo, hi) = (r.min_secs.min(r.max_secs), r.max_secs.max(r.min_secs));
        TimeDelta::seconds(self.rng.random_range(lo..=hi) as i64)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    pub fn ok_envelope(&mut self, now: DateTime<Utc>, message: &str, data: Value) -> Answer {
        json!({
            "code": 0,
            "message": message,
            "error_details": [],
            "request_id": request_id(&mut self.rng),
            "response_time": response_time(now),
            "data": data,
        })
    }

    fn sc_list(&mut self, now: DateTime<Utc>, rows: Vec<Value>, total: usize) -> Answer {
        let mut v = self.ok_envelope(now, "success", Value::Array(rows));
        v["total"] = json!(total);
        v
    }

    pub fn biz_error(&mut self, now: DateTime<Utc>, code: i64, message: &str) -> Answer {
        json!({
            "code": code,
            "message": message,
            "error_details": [],
            "request_id": request_id(&mut self.rng),
            "response_time": response_time(now),
            "data": null,
        })
    }

    // ------------------------------------------------------------------ evolution

    /// Applies every audit, split and shipment whose time has come.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        if self.index.next_due.is_none_or(|d| d > now) {
            return;
        }
        let due: Vec<usize> = (0..self.orders.len())
            .filter(|&i| {
                let o = &self.orders[i];
                o.status == 4 && !o.deleted && o.plan.audit_at.is_some_and(|t| t <= now)
            })
            .collect();
        for i in due {
            let at = self.orders[i].plan.audit_at.expect("filtered on audit_at");
            self.audit_index(i, at);
        }
        let ship_due: Vec<usize> = (0..self.outbounds.len())
            .filter(|&i| {
                let w = &self.outbounds[i];
                w.status == 2 && w.ship_at.is_some_and(|t| t <= now)
            })
            .collect();
        for i in ship_due {
            let at = self.outbounds[i].ship_at.expect("filtered on ship_at");
            self.ship_outbound(i, at, None);
        }
        let audits = self
            .orders
            .iter()
            .filter(|o| o.status == 4 && !o.deleted)
            .filter_map(|o| o.plan.audit_at);
        let ships = self
            .outbounds
            .iter()
            .filter(|w| w.status == 2)
            .filter_map(|w| w.ship_at);
        self.index.next_due = audits.chain(ships).min();
    }

    /// Audits order `i` at `at`: status 5, a split if planned, outbound orders created.
    fn audit_index(&mut self, i: usize, at: DateTime<Utc>) {
        let plan = self.orders[i].plan.clone();
        self.orders[i].status = 5;
        self.orders[i].review_time = Some(at);
        self.orders[i].update_time = at;
        self.orders[i].plan.audit_at = None;
        let mut audited = vec![i];
        if plan.split
            && let Some(j) = self.split_index(i, at)
        {
            audited.push(j);
        }
        for k in audited {
            self.create_outbounds(k, at, plan.partial, plan.intercept);
        }
    }

    /// Splits order `i` in two (by line, or by quantity of a single line). Returns the new one.
    fn split_index(&mut self, i: usize, at: DateTime<Utc>) -> Option<usize> {
        let o = &self.orders[i];
        let mut keep = o.items.clone();
        let moved: Vec<SimItem> = if keep.len() >= 2 {
            vec![keep.pop().expect("two lines")]
        } else if keep.first().is_some_and(|l| l.quantity >= 2) {
            let line = &mut keep[0];
            let half = line.quantity / 2;
            line.quantity -= half;
            let mut m = line.clone();
            m.quantity = half;
            vec![m]
        } else {
            return None;
        };
        let mut new = o.clone();
        new.global_order_no = self.global_no();
        new.items = moved;
        for it in &mut new.items {
            it.id = self.id().to_string();
        }
        new.split_type = 3;
        new.update_time = at;
        self.orders[i].items = keep;
        self.orders[i].split_type = 3;
        Some(self.push_order(new))
    }

    fn store_sid(&self, store_id: &str) -> u64 {
        self.seed
            .stores
            .iter()
            .find(|s| s.store_id == store_id)
            .map(|s| s.sid)
            .unwrap_or(0)
    }

    fn bundle_of(&self, sku: &str) -> Vec<(String, u32)> {
        self.seed
            .products
            .iter()
            .find(|p| p.sku == sku)
            .map(|p| p.bundle.clone())
            .unwrap_or_default()
    }

    /// One outbound order per system order, or two when a partial shipment is planned (the
    /// second leaves later with its own tracking number).
    fn create_outbounds(&mut self, i: usize, at: DateTime<Utc>, partial: bool, intercept: bool) {
        let o = self.orders[i].clone();
        let total_qty: u32 = o.items.iter().map(|l| l.quantity).sum();
        let mut groups: Vec<Vec<SimItem>> = vec![o.items.clone()];
        if partial && total_qty >= 2 {
            let mut first = o.items.clone();
            let second: Vec<SimItem> = if first.len() >= 2 {
                vec![first.pop().expect("two lines")]
            } else {
                let half = first[0].quantity / 2;
                first[0].quantity -= half;
                let mut m = first[0].clone();
                m.quantity = half;
                vec![m]
            };
            groups = vec![first, second];
        }
        let wid: u64 = o
            .wid
            .as_deref()
            .and_then(|w| w.parse().ok())
            .or_else(|| self.seed.warehouses.first().map(|w| w.wid))
            .unwrap_or(0);
        let sid = self.store_sid(&o.store_id);
        let mut ship_at = at;
        for (gi, g) in groups.into_iter().enumerate() {
            let ship_delay = self.cfg.ship_delay.clone();
            ship_at += self.delay(&ship_delay);
            let mut products = Vec::new();
            for l in &g {
                let wod_id = self.id();
                let bundle = self.bundle_of(&l.sku);
                let is_bundle = !bundle.is_empty();
                products.push(SimOutProduct {
                    wod_id,
                    sku: l.sku.clone(),
                    seller_sku: l.msku.clone(),
                    count: l.quantity,
                    bundle_type: if is_bundle { 1 } else { 0 },
                    bundle_wod_id: 0,
                    unit_price: l.unit_price,
                });
                for (child, q) in bundle {
                    let id = self.id();
                    products.push(SimOutProduct {
                        wod_id: id,
                        sku: child,
                        seller_sku: String::new(),
                        count: l.quantity * q,
                        bundle_type: 2,
                        bundle_wod_id: wod_id,
                        unit_price: Decimal::ZERO,
                    });
                }
            }
            let wo_id = self.id();
            self.push_outbound(SimOutbound {
                wo_id,
                wo_number: format!("WO{}", 103_500_000_000_000_000u64 + wo_id),
                order_number: o.global_order_no.clone(),
                platform_order_no: o.platform_order_no.clone(),
                sid,
                store_id: o.store_id.clone(),
                wid,
                status: 2,
                tracking_no: String::new(),
                logistics_type_id: o.logistics_type_id.clone().unwrap_or_default(),
                products,
                create_at: at,
                update_at: at,
                delivered_at: None,
                ship_at: self.cfg.auto.then_some(ship_at),
                intercept: intercept && gi == 0,
            });
        }
    }

    fn tracking_for(&mut self, logistics_type_id: &str) -> (String, String) {
        let lt = self
            .seed
            .logistics_types
            .iter()
            .find(|l| l.type_id.to_string() == logistics_type_id)
            .cloned();
        let (prefix, carrier) = lt
            .map(|l| (l.tracking_prefix, l.carrier))
            .unwrap_or_else(|| ("1Z".into(), "UPS".into()));
        let n: u64 = self.rng.random_range(10_000_000_000..99_999_999_999);
        (format!("{prefix}{n}"), carrier)
    }

    /// Intercepts outbound `i` at `at` (status 4, never to ship). Like a package leaving (see
    /// the assumption in [`World::ship_outbound`]), an interception moves its system order's
    /// `update_time`.
    fn intercept_outbound(&mut self, i: usize, at: DateTime<Utc>) {
        let w = &mut self.outbounds[i];
        w.status = 4;
        w.update_at = at;
        w.ship_at = None;
        if let Some(&k) = self.index.order_by_no.get(&w.order_number) {
            self.orders[k].update_time = at;
        }
    }

    /// Ships outbound `i` at `at` (or intercepts it when planned).
    fn ship_outbound(&mut self, i: usize, at: DateTime<Utc>, tracking: Option<String>) {
        if self.outbounds[i].intercept {
            self.intercept_outbound(i, at);
            return;
        }
        let lt = self.outbounds[i].logistics_type_id.clone();
        let (generated, _) = self.tracking_for(&lt);
        let w = &mut self.outbounds[i];
        w.status = 3;
        w.tracking_no = tracking.unwrap_or(generated);
        w.delivered_at = Some(at);
        w.update_at = at;
        w.ship_at = None;
        let order_no = w.order_number.clone();
        let all_shipped = self
            .outbound_idx_of_order(&order_no)
            .into_iter()
            .all(|k| self.outbounds[k].status == 3);
        // ASSUMPTION (named once): an outbound order leaving the warehouse updates its system
        // order's `update_time`, even when other packages of the order are still inside. The docs
        // do not say; the engine's change feed relies only on `update_time` moving when anything
        // about an order moves, which is what "update time" means.
        if let Some(&k) = self.index.order_by_no.get(&order_no) {
            let o = &mut self.orders[k];
            o.update_time = at;
            if all_shipped {
                o.status = 6;
                o.delivery_time = Some(at);
            }
        }
    }

    // ------------------------------------------------------------------ admin

    pub fn orders_for(&self, po: &str) -> Vec<SimOrder> {
        self.order_idx_of_po(po)
            .into_iter()
            .map(|i| self.orders[i].clone())
            .collect()
    }

    pub fn outbounds_for(&self, po: &str) -> Vec<SimOutbound> {
        self.outbound_idx_of_po(po)
            .into_iter()
            .map(|i| self.outbounds[i].clone())
            .collect()
    }

    /// Audits every pending order of `po` now (with a split when `split`). Returns how many.
    pub fn admin_audit(&mut self, po: &str, now: DateTime<Utc>, split: bool) -> usize {
        let idx: Vec<usize> = self
            .order_idx_of_po(po)
            .into_iter()
            .filter(|&i| {
                let o = &self.orders[i];
                o.status == 4 && !o.deleted
            })
            .collect();
        for &i in &idx {
            self.orders[i].plan.split = split;
            self.orders[i].plan.audit_at = None;
            self.audit_index(i, now);
        }
        idx.len()
    }

    /// Ships every pending outbound of `po` now (auditing first). Returns the tracking numbers.
    /// Ships only the first pending outbound order of `po` (a partial shipment spread over
    /// time). Returns its tracking number.
    pub fn admin_ship_one(
        &mut self,
        po: &str,
        now: DateTime<Utc>,
        tracking: Option<String>,
    ) -> Option<String> {
        self.admin_audit(po, now, false);
        let i = self
            .outbound_idx_of_po(po)
            .into_iter()
            .find(|&i| self.outbounds[i].status == 2)?;
        self.ship_outbound(i, now, tracking);
        (self.outbounds[i].status == 3).then(|| self.outbounds[i].tracking_no.clone())
    }

    pub fn admin_ship(
        &mut self,
        po: &str,
        now: DateTime<Utc>,
        tracking: Option<String>,
    ) -> Vec<String> {
        self.admin_audit(po, now, false);
        let idx: Vec<usize> = self
            .outbound_idx_of_po(po)
            .into_iter()
            .filter(|&i| self.outbounds[i].status == 2)
            .collect();
        let mut out = Vec::new();
        for (n, i) in idx.into_iter().enumerate() {
            let t = tracking.as_ref().map(|t| {
                if n == 0 {
                    t.clone()
                } else {
                    format!("{t}-{n}")
                }
            });
            self.ship_outbound(i, now, t);
            if self.outbounds[i].status == 3 {
                out.push(self.outbounds[i].tracking_no.clone());
            }
        }
        out
    }

    /// Someone in LingXing deleted every system order of `po` for good: the orders and their
    /// outbound orders leave every listing, `include_delete` and `update_time` windows
    /// included. (The `deleted` flag is the other case, a deletion `include_delete` still
    /// shows.) Returns how many orders were removed.
    pub fn admin_remove_order(&mut self, po: &str) -> usize {
        let before = self.orders.len();
        self.orders.retain(|o| o.platform_order_no != po);
        self.outbounds.retain(|w| w.platform_order_no != po);
        self.reindex();
        before - self.orders.len()
    }

    /// Someone in LingXing deleted every system order of `po`, the way the ERP keeps deleted
    /// orders: listed only with `include_delete` (shown with status 7, as before), their
    /// `update_time` moved to now. Outbound orders not yet shipped are intercepted. Returns
    /// how many orders were deleted.
    pub fn admin_delete_order(&mut self, po: &str, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for i in self.order_idx_of_po(po) {
            let o = &mut self.orders[i];
            if o.deleted {
                continue;
            }
            o.deleted = true;
            o.update_time = now;
            n += 1;
        }
        if n > 0 {
            self.admin_intercept(po, now);
        }
        n
    }

    /// Like [`World::admin_ship`], but every pending outbound order of `po` first has each of
    /// its product lines replaced by local SKU `sku` (count kept, no seller SKU, bundle
    /// components dropped): the warehouse shipped another product than the one ordered, as
    /// when someone swaps the item on the order in LingXing.
    pub fn admin_ship_with_sku(
        &mut self,
        po: &str,
        now: DateTime<Utc>,
        sku: &str,
        tracking: Option<String>,
    ) -> Vec<String> {
        self.admin_audit(po, now, false);
        for i in self.outbound_idx_of_po(po) {
            let w = &mut self.outbounds[i];
            if w.status != 2 {
                continue;
            }
            w.products.retain(|p| p.bundle_type != 2);
            for p in &mut w.products {
                p.sku = sku.to_owned();
                p.seller_sku = String::new();
                p.bundle_type = 0;
            }
        }
        self.admin_ship(po, now, tracking)
    }

    /// Intercepts every unshipped outbound of `po` (status 4).
    pub fn admin_intercept(&mut self, po: &str, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for i in self.outbound_idx_of_po(po) {
            if self.outbounds[i].status == 2 {
                self.intercept_outbound(i, now);
                n += 1;
            }
        }
        // Every system order of the PO moves, split ones without an outbound left included.
        if n > 0 {
            for i in self.order_idx_of_po(po) {
                self.orders[i].update_time = now;
            }
        }
        n
    }

    pub fn set_inventory(&mut self, wid: u64, sku: &str, seller_id: &str, valid: i64) {
        self.inventory
            .insert((wid, sku.to_owned(), seller_id.to_owned()), valid);
    }

    pub fn set_pair(&mut self, store_id: &str, msku: &str, sku: &str, now: DateTime<Utc>) {
        self.pairs
            .retain(|p| !(p.store_id == store_id && p.msku == msku));
        self.pairs.push(PairRec {
            store_id: store_id.into(),
            msku: msku.into(),
            sku: sku.into(),
            modify_time: now,
            shown_store_id: None,
        });
    }

    /// Adds a pair row without replacing the store's existing row for `msku` (so one MSKU can
    /// list several SKUs), optionally shown under another store id.
    pub fn add_pair_row(
        &mut self,
        store_id: &str,
        msku: &str,
        sku: &str,
        shown_store_id: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.pairs.push(PairRec {
            store_id: store_id.into(),
            msku: msku.into(),
            sku: sku.into(),
            modify_time: now,
            shown_store_id: shown_store_id.map(Into::into),
        });
    }

    /// Removes every pair of `store_id`; returns how many.
    pub fn clear_pairs(&mut self, store_id: &str) -> usize {
        let before = self.pairs.len();
        self.pairs.retain(|p| p.store_id != store_id);
        before - self.pairs.len()
    }

    /// Removes every inventory row.
    pub fn clear_inventory(&mut self) {
        self.inventory.clear();
    }

    // ------------------------------------------------------------------ endpoints

    pub fn create_orders(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let platform_code = body.get("platform_code").and_then(num);
        let store_id = body.get("store_id").and_then(text);
        let orders = body.get("orders").and_then(Value::as_array);
        let (Some(platform_code), Some(store_id), Some(orders)) = (platform_code, store_id, orders)
        else {
            return self.biz_error(now, 102, "参数不合法");
        };
        let store = self
            .seed
            .stores
            .iter()
            .find(|s| s.store_id == store_id)
            .cloned();
        let mut success = Vec::new();
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for o in orders {
            let po = o
                .get("platform_order_no")
                .and_then(text)
                .unwrap_or_default();
            let refuse = |msg: &str| json!({"platform_order_no": po, "error_message": msg});
            let Some(store) = &store else {
                errors.push(refuse("店铺不存在"));
                continue;
            };
            if store.platform_code as i64 != platform_code {
                errors.push(refuse("平台code与店铺不匹配"));
                continue;
            }
            if po.is_empty() {
                errors.push(refuse("平台单号不能为空"));
                continue;
            }
            let dup = self
                .order_idx_of_po(&po)
                .into_iter()
                .any(|i| self.orders[i].store_id == store_id);
            if dup || !seen.insert(po.clone()) {
                errors.push(refuse(DUPLICATE_ORDER_MESSAGE));
                continue;
            }
            let field = |k: &str| o.get(k).and_then(text).unwrap_or_default();
            let missing = [
                "receiver_country_code",
                "receiver_name",
                "city",
                "address_line1",
            ]
            .into_iter()
            .find(|k| field(k).is_empty());
            if let Some(k) = missing {
                errors.push(refuse(&format!("{k}不能为空")));
                continue;
            }
            let wid = o.get("wid").and_then(text).filter(|s| !s.is_empty());
            let lt = o
                .get("logistics_type_id")
                .and_then(text)
                .filter(|s| !s.is_empty());
            if wid.is_some() != lt.is_some() {
                errors.push(refuse("仓库和物流方式需同时填写"));
                continue;
            }
            if let Some(w) = &wid
                && !self.seed.warehouses.iter().any(|x| &x.wid.to_string() == w)
            {
                errors.push(refuse("仓库不存在"));
                continue;
            }
            if let Some(l) = &lt
                && !self
                    .seed
                    .logistics_types
                    .iter()
                    .any(|x| &x.type_id.to_string() == l)
            {
                errors.push(refuse("物流方式不存在"));
                continue;
            }
            let Some(lines) = o
                .get("items")
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
            else {
                errors.push(refuse("订单产品信息不能为空"));
                continue;
            };
            let mut items = Vec::new();
            let mut bad = None;
            for l in lines {
                let msku = l.get("msku").and_then(text).unwrap_or_default();
                let sku = l.get("sku").and_then(text).unwrap_or_default();
                let qty = l.get("quantity").and_then(num).unwrap_or(0);
                let price = l.get("unit_price").and_then(decimal);
                let local = if !sku.is_empty() {
                    self.product_ids.contains_key(&sku).then_some(sku.clone())
                } else if !msku.is_empty() {
                    self.pairs
                        .iter()
                        .find(|p| p.store_id == store_id && p.msku == msku)
                        .map(|p| p.sku.clone())
                        .or_else(|| self.product_ids.contains_key(&msku).then_some(msku.clone()))
                } else {
                    None
                };
                match (local, qty, price) {
                    (Some(local), q, Some(p)) if q > 0 => items.push(SimItem {
                        id: String::new(),
                        platform_order_no: po.clone(),
                        msku: msku.clone(),
                        sku: local,
                        quantity: q as u32,
                        unit_price: p,
                    }),
                    (None, _, _) => {
                        bad = Some(format!(
                            "SKU/MSKU不存在或未配对: {}",
                            if sku.is_empty() { &msku } else { &sku }
                        ));
                        break;
                    }
                    _ => {
                        bad = Some("数量或单价不合法".to_owned());
                        break;
                    }
                }
            }
            if let Some(b) = bad {
                errors.push(refuse(&b));
                continue;
            }
            for it in &mut items {
                it.id = self.id().to_string();
            }
            let audit_at = if self.cfg.auto {
                let d = self.cfg.audit_delay.clone();
                Some(now + self.delay(&d))
            } else {
                None
            };
            let (split_rate, partial_rate, intercept_rate) = (
                self.cfg.split_rate,
                self.cfg.partial_shipment_rate,
                self.cfg.interception_rate,
            );
            let plan = Plan {
                audit_at,
                split: self.chance(split_rate),
                partial: self.chance(partial_rate),
                intercept: self.chance(intercept_rate),
            };
            let g = self.global_no();
            success.push(json!({"platform_order_no": po, "global_order_no": g}));
            self.push_order(SimOrder {
                global_order_no: g,
                store_id: store_id.clone(),
                platform_code: platform_code as u32,
                platform_order_no: po.clone(),
                status: 4,
                split_type: 1,
                items,
                wid,
                logistics_type_id: lt,
                receiver_name: field("receiver_name"),
                receiver_country_code: field("receiver_country_code"),
                city: field("city"),
                address_line1: field("address_line1"),
                currency: o
                    .get("amount_currency")
                    .and_then(text)
                    .unwrap_or_else(|| store.currency.clone()),
                created_at: now,
                update_time: now,
                review_time: None,
                delivery_time: None,
                cancel_time: None,
                deleted: false,
                plan,
            });
        }
        self.ok_envelope(
            now,
            "操作成功",
            json!({"error_details": errors, "success_details": success}),
        )
    }

    pub fn list_orders(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let offset = body.get("offset").and_then(num);
        let length = body.get("length").and_then(num);
        let (Some(offset), Some(length)) = (offset, length) else {
            return self.biz_error(now, 102, "参数不合法: offset, length 必填");
        };
        if length < 20 {
            return self.biz_error(now, 102, "length 最小值为 20");
        }
        if length > 500 {
            return self.biz_error(now, 102, "length 最大值为 500");
        }
        let nos: Vec<String> = strings(body.get("platform_order_nos"));
        if nos.len() > 200 {
            return self.biz_error(now, 102, "platform_order_nos 不能超过200个");
        }
        let date_type = body.get("date_type").and_then(text);
        let start = body.get("start_time").and_then(num);
        let end = body.get("end_time").and_then(num);
        if nos.is_empty() {
            let (Some(_), Some(s), Some(e)) = (&date_type, start, end) else {
                return self.biz_error(
                    now,
                    102,
                    "参数不合法: date_type, start_time, end_time 必填",
                );
            };
            if e - s > 31 * 86400 {
                return self.biz_error(now, 102, "查询时间跨度不能超过31天");
            }
        }
        let stores = strings(body.get("store_id"));
        let platforms = strings(body.get("platform_code"));
        let include_delete = body
            .get("include_delete")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let order_status = body.get("order_status").and_then(num);
        let candidates: Vec<&SimOrder> = if nos.is_empty() {
            self.orders.iter().collect()
        } else {
            let mut idx: Vec<usize> = nos.iter().flat_map(|n| self.order_idx_of_po(n)).collect();
            idx.sort_unstable();
            idx.dedup();
            idx.into_iter().map(|i| &self.orders[i]).collect()
        };
        let matching: Vec<&SimOrder> = candidates
            .into_iter()
            .filter(|o| stores.is_empty() || stores.contains(&o.store_id))
            .filter(|o| platforms.is_empty() || platforms.contains(&o.platform_code.to_string()))
            .filter(|o| include_delete || !o.deleted)
            .filter(|o| order_status.is_none_or(|s| s == o.status))
            .filter(|o| match (date_type.as_deref(), start, end) {
                (Some(dt), Some(s), Some(e)) => {
                    let t = match dt {
                        "update_time" => Some(o.update_time),
                        "global_purchase_time" | "global_payment_time" => Some(o.created_at),
                        "global_delivery_time" | "delivery_time" => o.delivery_time,
                        _ => None,
                    };
                    // Open interval, as documented.
                    t.is_some_and(|t| t.timestamp() > s && t.timestamp() < e)
                }
                _ => true,
            })
            .collect();
        let total = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip(offset as usize)
            .take(length as usize)
            .map(|o| self.render_order(o))
            .collect();
        self.ok_envelope(
            now,
            "操作成功",
            json!({"total": total.to_string(), "list": page}),
        )
    }

    fn render_order(&self, o: &SimOrder) -> Value {
        let lt_name = o.logistics_type_id.as_ref().and_then(|id| {
            self.seed
                .logistics_types
                .iter()
                .find(|l| &l.type_id.to_string() == id)
        });
        let tracking = self
            .outbound_idx_of_order(&o.global_order_no)
            .into_iter()
            .map(|k| &self.outbounds[k])
            .find(|w| w.status == 3)
            .map(|w| w.tracking_no.clone())
            .unwrap_or_default();
        let items: Vec<Value> = o
            .items
            .iter()
            .map(|l| {
                let total = l.unit_price * Decimal::from(l.quantity);
                let bundle = self.bundle_of(&l.sku);
                json!({
                    "id": l.id,
                    "platform_order_no": l.platform_order_no,
                    "order_item_no": l.id,
                    "item_from_name": "本地",
                    "msku": l.msku,
                    "local_sku": l.sku,
                    "product_no": "",
                    "local_product_name": self.seed.products.iter().find(|p| p.sku == l.sku).map(|p| p.name.clone()).unwrap_or_default(),
                    "variant_attr": "",
                    "unit_price_amount": format!("{:.2}", l.unit_price),
                    "item_price_amount": format!("{:.2}", total),
                    "quantity": l.quantity,
                    "remark": "",
                    "platform_status": "",
                    "type": "产品",
                    "stockCost": null,
                    "wms_outbound_cost_amount": "0.00",
                    "stock_cost_amount": "0.00",
                    "cg_price_amount": "0.00",
                    "shipping_amount": "0.00",
                    "wms_shipping_price_amount": "0.00",
                    "customer_shipping_amount": "0.00",
                    "discount_amount": "0.00",
                    "customer_tip_amount": "0.00",
                    "tax_amount": "0.00",
                    "sales_revenue_amount": format!("{:.2}", total),
                    "transaction_fee_amount": "0.00",
                    "other_amount": "0.00",
                    "customized_url": null,
                    "cod_amount": "0.00",
                    "gift_wrap_amount": "0.00",
                    "platform_tax_amount": "0.00",
                    "points_granted_amount": "0.00",
                    "other_fee": "0.00",
                    "platform_subsidy_amount": "",
                    "is_bundled": if bundle.is_empty() { 0 } else { 1 },
                    "sub_products": bundle.iter().map(|(s, q)| json!({"sku": s, "qty": q * l.quantity})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let total: Decimal = o
            .items
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.quantity))
            .sum();
        let platform_info = json!([{
            "order_from": "手工订单",
            "platform_order_no": o.platform_order_no,
            "platform_order_name": o.platform_order_no,
            "platform_code": o.platform_code.to_string(),
            "store_Country_code": o.receiver_country_code,
            "status": "",
            "payment_status": "",
            "shipping_status": "",
            "purchase_time": o.created_at.timestamp(),
            "payment_time": o.created_at.timestamp(),
            "latest_ship_time": 0,
            "cancel_time": unix_or_zero(o.cancel_time),
            "delivery_time": unix_or_zero(o.delivery_time),
        }]);
        let logistics_info = json!({
            "status": if tracking.is_empty() { 0 } else { 2 },
            "logistics_type_id": o.logistics_type_id.clone().unwrap_or_else(|| "0".into()),
            "logistics_type_name": lt_name.map(|l| l.name.clone()),
            "logistics_provider_id": "0",
            "logistics_provider_name": lt_name.map(|l| l.provider_name.clone()),
            "actual_carrier": lt_name.map(|l| l.carrier.clone()).unwrap_or_default(),
            "waybill_no": tracking,
            "pre_weight": 0.0,
            "pre_fee_weight": 0.0,
            "pre_fee_weight_unit": "g",
            "pre_pkg_length": 0.0,
            "pre_pkg_height": 0.0,
            "pre_pkg_width": 0.0,
            "weight": 0.0,
            "pkg_fee_weight": 0.0,
            "pkg_fee_weight_unit": "",
            "pkg_length": 0.0,
            "pkg_width": 0.0,
            "pkg_height": 0.0,
            "weight_unit": "",
            "pkg_size_unit": "",
            "cost_currency_code": "",
            "pre_cost_amount": "-￥0.00",
            "cost_amount": "0",
            "logistics_time": null,
            "tracking_no": tracking,
            "mark_no": "",
        });
        let transaction_info = json!([{
            "order_item_amount": format!("{:.2}", total),
            "customer_tax_amount_show": "0.00",
            "discount_amount": "0.00",
            "customer_shipping_amount": "0.00",
            "customer_tip_amount": "0.00",
            "order_total_amount": format!("{:.2}", total),
            "cg_price_amount": "0.00",
            "stock_cost_amount": "0.00",
            "outbound_cost_amount": "0.00",
            "wms_outbound_cost_amount": "0.00",
            "pre_cost_amount": "0.00",
            "wms_shipping_price_amount": "0.00",
            "transaction_fee_amount": "0.00",
            "profit_amount": format!("{:.2}", total),
            "other_amount": "0.00",
            "cod_amount": "0.00",
            "gift_wrap_amount": "0.00",
            "platform_tax_amount": "0.00",
            "points_granted_amount": "0.00",
            "other_fee": "0.00",
            "platform_subsidy_amount": "",
        }]);
        json!({
            "global_order_no": o.global_order_no,
            "store_id": o.store_id,
            "order_from_name": "手工订单",
            "delivery_type": 2,
            "split_type": o.split_type.to_string(),
            "status": if o.deleted { 7 } else { o.status },
            "global_purchase_time": o.created_at.timestamp(),
            "global_payment_time": o.created_at.timestamp(),
            "global_review_time": o.review_time.map(|t| t.timestamp()),
            "global_distribution_time": null,
            "global_print_time": null,
            "global_delivery_time": unix_or_zero(o.delivery_time),
            "amount_currency": o.currency,
            "remark": "",
            "global_latest_ship_time": "0",
            "global_cancel_time": unix_or_zero(o.cancel_time),
            "update_time": o.update_time.timestamp().to_string(),
            "order_tag": [],
            "wid": o.wid.clone().unwrap_or_else(|| "0".into()),
            "reference_no": "",
            "supplier_id": "",
            "item_info": items,
            "platform_info": platform_info,
            "logistics_info": logistics_info,
            "transaction_info": transaction_info,
            "original_global_order_no": null,
            "customer_shipping_list": null,
            "exception_order_tag": [],
            "pending_order_tag_order_tag": [],
        })
    }

    pub fn cancel_orders(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let nos = strings(body.get("order_list"));
        if nos.is_empty() {
            return self.biz_error(now, 102, "参数不合法");
        }
        let mut failures = Vec::new();
        let mut ok = 0;
        for n in &nos {
            match self
                .index
                .order_by_no
                .get(n)
                .copied()
                .map(|i| &mut self.orders[i])
            {
                None => failures.push(json!({"global_order_no": n, "message": "订单不存在！"})),
                Some(o) if o.status == 6 => {
                    failures.push(json!({"global_order_no": n, "message": "订单已发货"}))
                }
                Some(o) => {
                    o.status = 7;
                    o.cancel_time = Some(now);
                    o.update_time = now;
                    o.plan.audit_at = None;
                    ok += 1;
                    for k in self.outbound_idx_of_order(n) {
                        if self.outbounds[k].status == 2 {
                            self.intercept_outbound(k, now);
                        }
                    }
                }
            }
        }
        let process_code = if failures.is_empty() {
            10002
        } else if ok > 0 {
            10001
        } else {
            10000
        };
        self.ok_envelope(
            now,
            "操作成功",
            json!({"success_num": ok, "fail_num": failures.len(), "process_code": process_code, "failure_info": failures}),
        )
    }

    pub fn wms_orders(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let page = body.get("page").and_then(num).unwrap_or(1).max(1);
        let size = body.get("page_size").and_then(num).unwrap_or(20);
        if !(1..=200).contains(&size) {
            return self.biz_error(now, 102, "page_size 上限200");
        }
        let sids = strings(body.get("sid_arr"));
        let status = strings(body.get("status_arr"));
        let pos = strings(body.get("platform_order_no_arr"));
        let numbers = strings(body.get("order_number_arr"));
        let wos = strings(body.get("wo_number_arr"));
        let time_type = body
            .get("time_type")
            .and_then(text)
            .unwrap_or_else(|| "create_at".into());
        let start = body
            .get("start_date")
            .and_then(text)
            .and_then(|d| local_day(&d, 0));
        let end = body
            .get("end_date")
            .and_then(text)
            .and_then(|d| local_day(&d, 1));
        // Without dates, only the last month is returned (as documented).
        let (start, end) = match (start, end) {
            (None, None) => (Some(now - TimeDelta::days(30)), None),
            other => other,
        };
        // Candidates: those of the named POs or system orders when some are named.
        let named: Option<Vec<usize>> = if !pos.is_empty() {
            Some(
                pos.iter()
                    .flat_map(|p| self.outbound_idx_of_po(p))
                    .collect(),
            )
        } else if !numbers.is_empty() {
            Some(
                numbers
                    .iter()
                    .flat_map(|n| self.outbound_idx_of_order(n))
                    .collect(),
            )
        } else {
            None
        };
        let candidates: Vec<&SimOutbound> = match named {
            Some(mut idx) => {
                idx.sort_unstable();
                idx.dedup();
                idx.into_iter().map(|i| &self.outbounds[i]).collect()
            }
            None => self.outbounds.iter().collect(),
        };
        let matching: Vec<&SimOutbound> = candidates
            .into_iter()
            .filter(|w| {
                sids.is_empty() || sids.contains(&w.sid.to_string()) || sids.contains(&w.store_id)
            })
            .filter(|w| status.is_empty() || status.contains(&w.status.to_string()))
            .filter(|w| pos.is_empty() || pos.contains(&w.platform_order_no))
            .filter(|w| numbers.is_empty() || numbers.contains(&w.order_number))
            .filter(|w| wos.is_empty() || wos.contains(&w.wo_number))
            .filter(|w| {
                let t = match time_type.as_str() {
                    "delivered_at" | "stock_delivered_at" => w.delivered_at,
                    "update_at" => Some(w.update_at),
                    _ => Some(w.create_at),
                };
                match t {
                    Some(t) => start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e),
                    None => false,
                }
            })
            .collect();
        let total = matching.len();
        let rows: Vec<Value> = matching
            .into_iter()
            .skip(((page - 1) * size) as usize)
            .take(size as usize)
            .map(|w| self.render_outbound(w))
            .collect();
        self.sc_list(now, rows, total)
    }

    fn render_outbound(&self, w: &SimOutbound) -> Value {
        let lt = self
            .seed
            .logistics_types
            .iter()
            .find(|l| l.type_id.to_string() == w.logistics_type_id);
        let store = self.seed.stores.iter().find(|s| s.store_id == w.store_id);
        let wh = self.seed.warehouses.iter().find(|x| x.wid == w.wid);
        let amount: Decimal = w
            .products
            .iter()
            .filter(|p| p.bundle_type != 2)
            .map(|p| p.unit_price * Decimal::from(p.count))
            .sum();
        let status_name = match w.status {
            1 => "物流下单",
            2 => "待出库",
            3 => "已出库",
            _ => "已截单",
        };
        let products: Vec<Value> = w
            .products
            .iter()
            .map(|p| {
                json!({
                    "wod_id": p.wod_id,
                    "product_id": self.product_ids.get(&p.sku).copied().unwrap_or(0),
                    "sku": p.sku,
                    "stock_sid": "0",
                    "stock_seller_name": "",
                    "bundle_type": p.bundle_type,
                    "bundle_wod_id": p.bundle_wod_id,
                    "product_name": self.seed.products.iter().find(|x| x.sku == p.sku).map(|x| x.name.clone()).unwrap_or_default(),
                    "count": p.count,
                    "seller_sku": p.seller_sku,
                    "customization": "",
                    "item_unit_price": format!("{:.2}", p.unit_price),
                    "item_total_price": format!("{:.2}", p.unit_price * Decimal::from(p.count)),
                    "real_weight_total": "0.00",
                    "fee_weight_total": "0.00",
                    "volume_weight_total": "0.00",
                    "apportion_freight": "0.000000",
                    "apportion_freight_single": "0.000000",
                    "cn_name": "",
                    "en_name": "",
                    "unit_price": "",
                    "currency_code": "$",
                    "declared_currency_icon": "",
                    "logistics_freight_currency_code": "",
                    "stock_cost": "0.000000",
                    "third_product_name": "",
                    "third_product_code": "",
                })
            })
            .collect();
        let delivered = w.delivered_at.map(fmt_local).unwrap_or_default();
        let mut head = json!({
            "wo_id": w.wo_id,
            "wo_number": w.wo_number,
            "sid": w.sid,
            "wid": w.wid,
            "warehouse_type": 1,
            "order_number": w.order_number,
            "batch_no": "",
            "order_from": "手工订单",
            "reference_no": "",
            "deliver_deadline": "",
            "purchase_time": fmt_local(w.create_at),
            "payment_time": fmt_local(w.create_at),
            "surface_print_time": "0000-00-00 00:00:00",
            "order_print_time": "0000-00-00 00:00:00",
            "waybill_no": w.tracking_no,
            "tracking_no": w.tracking_no,
            "package_no": "",
            "transfer_logistics_company_code": "",
            "transfer_logistics_company_id": "",
            "transfer_tracking_no": "",
            "picker": "",
            "order_type": if w.products.len() > 1 { 2 } else { 1 },
            "deliverer": "",
            "status": w.status,
            "logistics_status": 5,
            "logistics_message": "",
            "order_customer_service_notes": "",
            "order_buyer_notes": "",
        });
        let middle = json!({
            "is_check": 0,
            "is_weigh": 0,
            "is_surface_print": 0,
            "is_order_print": 0,
            "order_origin_amount": format!("{:.2}", amount),
            "order_currency_code": "USD",
            "delivered_at": delivered,
            "stock_delivered_at": delivered,
            "process_sn": "",
            "logistics_provider_id": 6,
            "logistics_type_id": w.logistics_type_id.parse::<u64>().unwrap_or(0),
            "surface_file_type": "",
            "is_lock_storage": 0,
            "is_advance_delivery": 0,
            "apportion_status": 0,
            "apportion_message": "",
            "remark_attachment": "[]",
            "platform_payment_time": "",
            "tag_names": [],
            "seller_name": store.map(|s| s.store_name.clone()).unwrap_or_default(),
            "site_text": "",
            "product_info": products,
            "status_name": status_name,
            "logistics_status_name": "下单完成",
            "target_country": "美国",
            "surface_file": {"uri": "", "ext": "", "size": ""},
            "platform_name": "自定义平台",
            "platform_order_no": [w.platform_order_no],
            "package_delivered_data": [],
            "logistics_provider_name": lt.map(|l| l.provider_name.clone()).unwrap_or_default(),
            "logistics_type_name": lt.map(|l| l.name.clone()).unwrap_or_default(),
            "actual_carrier": lt.map(|l| l.carrier.clone()).unwrap_or_default(),
            "warehouse_name": wh.map(|x| x.name.clone()).unwrap_or_default(),
        });
        let tail = json!({
            "pkg_volume": "0.00",
            "pkg_length": "0.00",
            "pkg_width": "0.00",
            "pkg_height": "0.00",
            "pkg_weight": "0.000",
            "pkg_real_weight": "0.000",
            "pkg_fee_weight": "0.000",
            "pkg_weight_unit": "g",
            "pkg_real_weight_unit": "g",
            "pkg_fee_weight_unit": "g",
            "pkg_size_unit": "cm",
            "logistics_estimated_freight": "0.00",
            "logistics_freight": "0.00",
            "logistics_estimated_freight_currency_code": "CNY",
            "logistics_freight_currency_code": "",
            "consignee_full_address": "",
            "consignee": "",
            "consignee_phone": "",
            "consignee_postcode": "",
            "consignee_address": "",
            "recipient_tax_no": "",
            "sender_tax_no": "",
            "create_at": fmt_local(w.create_at),
            "update_at": fmt_local(w.update_at),
        });
        if let (Some(h), Value::Object(m), Value::Object(t)) = (head.as_object_mut(), middle, tail)
        {
            h.extend(m);
            h.extend(t);
        }
        head
    }

    pub fn inventory(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let offset = body.get("offset").and_then(num).unwrap_or(0).max(0) as usize;
        let length = body.get("length").and_then(num).unwrap_or(20);
        if !(1..=800).contains(&length) {
            return self.biz_error(now, 102, "length 上限800");
        }
        let wids: Vec<String> = body
            .get("wid")
            .and_then(text)
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let sku = body.get("sku").and_then(text).unwrap_or_default();
        // Filter first and render only the page asked for: large catalogues page through
        // hundreds of requests.
        let matched: Vec<(&(u64, String, String), &i64)> = self
            .inventory
            .iter()
            .filter(|((w, s, _), _)| {
                (wids.is_empty() || wids.contains(&w.to_string()))
                    && (sku.is_empty() || s.contains(&sku))
            })
            .collect();
        let total = matched.len();
        let page: Vec<Value> = matched
            .into_iter()
            .skip(offset)
            .take(length as usize)
            .map(|((w, s, seller), valid)| {
                let (bad, qc, lock) = (1i64, 0i64, 2i64);
                json!({
                    "wid": w,
                    "product_id": self.product_ids.get(s).copied().unwrap_or(0),
                    "sku": s,
                    "seller_id": seller,
                    "fnsku": "",
                    "product_total": valid + bad + qc + lock,
                    "product_valid_num": valid,
                    "product_bad_num": bad,
                    "product_qc_num": qc,
                    "product_lock_num": lock,
                    "stock_cost_total": "0.00",
                    "quantity_receive": "0",
                    "stock_cost": "0.0000",
                    "product_onway": 0,
                    "transit_head_cost": "0.00",
                    "average_age": 30,
                    "third_inventory": [],
                    "stock_age_list": [
                        {"name": "0-15天库龄", "qty": valid},
                        {"name": "16-30天库龄", "qty": 0},
                        {"name": "31-90天库龄", "qty": 0},
                        {"name": "91天以上库龄", "qty": 0},
                    ],
                })
            })
            .collect();
        self.sc_list(now, page, total)
    }

    pub fn pair_list(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let stores = strings(body.get("store_ids"));
        let platforms = strings(body.get("platform_codes"));
        let mskus = strings(body.get("msku"));
        let skus = strings(body.get("sku"));
        let start = body
            .get("start_time")
            .and_then(text)
            .and_then(|t| local_time(&t));
        let end = body
            .get("end_time")
            .and_then(text)
            .and_then(|t| local_time(&t));
        let length = body.get("length").and_then(num).unwrap_or(20).max(1) as usize;
        let use_cursor = body
            .get("use_cursor")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut rows: Vec<&PairRec> = self
            .pairs
            .iter()
            .filter(|p| stores.is_empty() || stores.contains(&p.store_id))
            .filter(|p| {
                platforms.is_empty()
                    || self.seed.stores.iter().any(|s| {
                        s.store_id == p.store_id && platforms.contains(&s.platform_code.to_string())
                    })
            })
            .filter(|p| mskus.is_empty() || mskus.contains(&p.msku))
            .filter(|p| skus.is_empty() || skus.contains(&p.sku))
            .filter(|p| {
                start.is_none_or(|s| p.modify_time >= s) && end.is_none_or(|e| p.modify_time < e)
            })
            .collect();
        rows.sort_by(|a, b| (&a.store_id, &a.msku).cmp(&(&b.store_id, &b.msku)));
        let render = |p: &PairRec| {
            let store = self.seed.stores.iter().find(|s| s.store_id == p.store_id);
            json!({
                "store_id": p.shown_store_id.as_ref().unwrap_or(&p.store_id),
                "store_name": store.map(|s| s.store_name.clone()).unwrap_or_default(),
                "platform_code": store.map(|s| s.platform_code.to_string()).unwrap_or_default(),
                "platform_name": "自定义平台",
                "msku": p.msku,
                "sku": p.sku,
                "local_name": self.seed.products.iter().find(|x| x.sku == p.sku).map(|x| x.name.clone()).unwrap_or_default(),
                "modify_time": fmt_local(p.modify_time),
            })
        };
        let data = if use_cursor {
            // The cursor is the position after the last row returned.
            let cursor = body.get("cursor_id").and_then(num).unwrap_or(0).max(0) as usize;
            let list: Vec<Value> = rows
                .iter()
                .skip(cursor)
                .take(length)
                .map(|p| render(p))
                .collect();
            let next = cursor + list.len();
            json!({"has_next": next < rows.len(), "next_cursor_id": next, "list": list})
        } else {
            let offset = body.get("offset").and_then(num).unwrap_or(0).max(0) as usize;
            let list: Vec<Value> = rows
                .iter()
                .skip(offset)
                .take(length)
                .map(|p| render(p))
                .collect();
            json!({"total": rows.len().to_string(), "list": list})
        };
        self.ok_envelope(now, "操作成功", data)
    }

    pub fn seller_list(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let offset = body.get("offset").and_then(num).unwrap_or(0).max(0) as usize;
        let length = body.get("length").and_then(num).unwrap_or(200);
        if length > 200 {
            return self.biz_error(now, 102, "length 上限200");
        }
        let platforms = strings(body.get("platform_code"));
        let rows: Vec<Value> = self
            .seed
            .stores
            .iter()
            .filter(|s| platforms.is_empty() || platforms.contains(&s.platform_code.to_string()))
            .map(|s| {
                json!({
                    "store_id": s.store_id,
                    "sid": s.sid.to_string(),
                    "store_name": s.store_name,
                    "platform_code": s.platform_code.to_string(),
                    "platform_name": "自定义平台",
                    "currency": s.currency,
                    "is_sync": 1,
                    "status": 1,
                })
            })
            .collect();
        let total = rows.len();
        let list: Vec<Value> = rows
            .into_iter()
            .skip(offset)
            .take(length as usize)
            .collect();
        self.ok_envelope(
            now,
            "操作成功",
            json!({"total": total.to_string(), "list": list}),
        )
    }

    pub fn warehouses(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let kind = body.get("type").and_then(num).unwrap_or(1);
        let offset = body.get("offset").and_then(num).unwrap_or(0).max(0) as usize;
        let length = body.get("length").and_then(num).unwrap_or(1000).max(1) as usize;
        let rows: Vec<Value> = if kind == 1 {
            self.seed
                .warehouses
                .iter()
                .map(|w| {
                    json!({
                        "wid": w.wid,
                        "type": 1,
                        "name": w.name,
                        "is_delete": 0,
                        "wp_id": 0,
                        "wp_name": "",
                        "t_country_area_name": "",
                        "t_status": 1,
                        "t_warehouse_code": "",
                        "t_warehouse_name": "",
                        "country_code": "US",
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let total = rows.len();
        let page = rows.into_iter().skip(offset).take(length).collect();
        self.sc_list(now, page, total)
    }

    pub fn logistics_types(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let Some(param) = body.get("param").filter(|p| p.is_object()) else {
            return self.biz_error(now, 102, "参数不合法: param 必填");
        };
        let Some(provider_type) = param.get("provider_type").and_then(num) else {
            return self.biz_error(now, 102, "参数不合法: provider_type 必填");
        };
        let page = param.get("page").and_then(num).unwrap_or(1).max(1) as usize;
        let length = param.get("length").and_then(num).unwrap_or(20).max(1) as usize;
        // The default world's methods are API logistics (provider type 0).
        let rows: Vec<Value> = if provider_type == 0 {
            self.seed
                .logistics_types
                .iter()
                .map(|l| {
                    json!({
                        "type_id": l.type_id.to_string(),
                        "name": l.name,
                        "code": l.code,
                        "is_used": 1,
                        "logistics_provider_id": (l.type_id % 100).to_string(),
                        "fee_template_id": 0,
                        "updated_at": 1720576981,
                        "address_list": {
                            "sender_address": {
                                "country_code": "US", "country_name": "United States", "province": "CA",
                                "city": "Ontario", "district": "", "address1": "1 Warehouse Way",
                                "postcode": "91761", "contact": "Shipping", "telephone": "000-000-0000",
                                "company": "Example Supplier Inc", "email": "ship@example.com", "post_code": "91761",
                            },
                            "get_address": null,
                            "return_address": null,
                        },
                        "warehouse_type": 1,
                        "logistics_provider_name": l.provider_name,
                        "provider_is_used": 1,
                        "supplier_id": 0,
                        "type": 0,
                        "is_platform_provider": 0,
                        "supplier_code": null,
                        "is_support_domestic_provider": false,
                        "is_need_marking": false,
                        "is_combine_channel": false,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let total = rows.len();
        let list = rows
            .into_iter()
            .skip((page - 1) * length)
            .take(length)
            .collect();
        self.sc_list(now, list, total)
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    text(v).and_then(|s| s.parse().ok())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

/// Start of the local (Asia/Shanghai) day `d` plus `plus_days`.
fn local_day(d: &str, plus_days: i64) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    let t = Shanghai
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(t.with_timezone(&Utc) + TimeDelta::days(plus_days))
}

fn local_time(s: &str) -> Option<DateTime<Utc>> {
    let n = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Shanghai
        .from_local_datetime(&n)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}
