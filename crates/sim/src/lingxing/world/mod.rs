//! The simulated LingXing state and the business endpoints, rendered in the wire format of the
//! official examples. State evolves lazily: [`World::tick`] applies every scheduled audit and
//! shipment whose time has come, and runs before every request and admin call.
//!
//! This file holds [`World`], its index, the envelopes and the evolution ([`World::tick`]); the
//! endpoints and admin moves live in one child module per area (orders, outbound, stock,
//! reference).

mod model;
mod orders;
mod outbound;
mod reference;
mod seed;
mod stock;
mod wire;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{DelayRange, LingxingSimConfig};
use model::PairRec;
use wire::request_id;

pub use model::{SimItem, SimOrder, SimOutProduct, SimOutbound};
pub use orders::DUPLICATE_ORDER_MESSAGE;
pub use seed::{
    SeedInventory, SeedLogisticsType, SeedPair, SeedProduct, SeedStore, SeedWarehouse, SeedWorld,
    default_seed,
};
pub(crate) use wire::response_time;

pub(crate) struct World {
    pub cfg: LingxingSimConfig,
    /// What the world decides by chance: audit and ship delays, splits, interceptions, outbound
    /// numbers. Drawn only when orders are created or move, so a run of the same orders gives
    /// the same world whatever reads came in between.
    rng: StdRng,
    /// The `request_id` of every answer, apart from `rng`: otherwise the number and interleaving
    /// of reads (pages listed concurrently, a token fetched) shifted every later draw, and two
    /// runs of the same day disagreed on when orders were audited.
    ids: StdRng,
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
            ids: StdRng::seed_from_u64(cfg.rng_seed ^ 0x1d5_1d5),
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
            "request_id": request_id(&mut self.ids),
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
            "request_id": request_id(&mut self.ids),
            "response_time": response_time(now),
            "data": null,
        })
    }

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
}
