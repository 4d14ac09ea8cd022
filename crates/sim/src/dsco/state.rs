//! The simulator's world: orders, tokens, scrolls, async batches and what suppliers sent.
//! Time moves lazily: every request first settles whatever became due on the clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::generate::{InitialState, LineAmend, OrderSpec, product};
use super::model::{Address, PackageRecord, SimLine, SimOrder, money, wire_time};
use super::{DscoSimConfig, Endpoint, FaultSpec};
use crate::defaults;

/// One `results[]` / `messages[]` entry.
pub(crate) fn msg(code: &str, severity: &str, description: impl Into<String>) -> Value {
    json!({"code": code, "severity": severity, "description": description.into()})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogKind {
    Order,
    Invoice,
    Inventory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchOp {
    Acknowledge,
    Shipment,
    Invoice,
    Inventory { skip_unknown: bool },
}

impl BatchOp {
    pub fn log(self) -> LogKind {
        match self {
            BatchOp::Acknowledge | BatchOp::Shipment => LogKind::Order,
            BatchOp::Invoice => LogKind::Invoice,
            BatchOp::Inventory { .. } => LogKind::Inventory,
        }
    }

    fn method_detail(self) -> &'static str {
        match self {
            BatchOp::Acknowledge => "acknowledgeOrders",
            BatchOp::Shipment => "createShipmentSmallBatch",
            BatchOp::Invoice => "createInvoiceSmallBatch",
            BatchOp::Inventory { .. } => "updateInventorySmallBatch",
        }
    }
}

pub(crate) struct Batch {
    pub request_id: String,
    pub op: BatchOp,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub items: Vec<Value>,
    /// Per item: (`success`|`failure`, results). `None` while pending.
    pub outcomes: Option<Vec<(&'static str, Vec<Value>)>>,
    pub processed_at: Option<DateTime<Utc>>,
}

pub(crate) struct Scroll {
    pub items: Vec<ScrollItem>,
    pub pos: usize,
    pub last_access: DateTime<Utc>,
    pub page_size: usize,
}

pub(crate) enum ScrollItem {
    Order(u64),
    Log(Value),
}

/// What the simulator recorded of an ACK.
#[derive(Debug, Clone, Serialize)]
pub struct AckRecord {
    pub po_number: String,
    pub dsco_order_id: String,
    pub supplier_order_number: Option<String>,
    pub at: DateTime<Utc>,
}

pub(crate) struct World {
    pub config: DscoSimConfig,
    pub orders: BTreeMap<u64, SimOrder>,
    pub next_order_id: u64,
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub scrolls: HashMap<String, Scroll>,
    pub batches: Vec<Batch>,
    pub settled_upto: usize,
    pub invoices: Vec<Value>,
    /// The `invoiceId`s in `invoices`.
    pub invoice_ids: HashSet<String>,
    /// The orders of each `poNumber`, so that naming an order does not scan them all.
    pub by_po: HashMap<String, Vec<u64>>,
    pub acks: Vec<AckRecord>,
    pub inventory: BTreeMap<String, Value>,
    pub known_skus: BTreeSet<String>,
    /// SKUs whose inventory updates are refused, with the message (admin, for failure tests).
    pub refused_inventory: BTreeMap<String, String>,
    pub calls: BTreeMap<Endpoint, u64>,
    pub faults: Vec<(Endpoint, FaultSpec)>,
    pub windows: HashMap<&'static str, VecDeque<DateTime<Utc>>>,
}

impl World {
    pub fn new(config: DscoSimConfig) -> Self {
        World {
            config,
            orders: BTreeMap::new(),
            next_order_id: 1_025_400_001,
            tokens: HashMap::new(),
            scrolls: HashMap::new(),
            batches: Vec::new(),
            settled_upto: 0,
            invoices: Vec::new(),
            invoice_ids: HashSet::new(),
            by_po: HashMap::new(),
            acks: Vec::new(),
            inventory: BTreeMap::new(),
            known_skus: defaults::PRODUCTS
                .iter()
                .map(|p| p.dsco_sku.to_string())
                .collect(),
            refused_inventory: BTreeMap::new(),
            calls: BTreeMap::new(),
            faults: Vec::new(),
            windows: HashMap::new(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Orders

    pub fn add_order(&mut self, spec: &OrderSpec, now: DateTime<Utc>) -> Result<Value, String> {
        if spec.lines.is_empty() {
            return Err("an order needs at least one line".into());
        }
        let id = self.next_order_id;
        let po = spec.po_number.clone().unwrap_or_else(|| format!("PO-{id}"));
        let retailer_id = spec
            .retailer_id
            .clone()
            .unwrap_or_else(|| defaults::RETAILERS[0].dsco_retailer_id.into());
        if self
            .find_order("poNumber", &po)
            .iter()
            .any(|id| self.orders[id].retailer_id == retailer_id)
        {
            return Err(format!("PO {po} already exists for retailer {retailer_id}"));
        }
        self.next_order_id += 1;
        let created = spec.created_at.unwrap_or(now);
        let lines = spec
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let p = product(&l.sku);
                let price = |s: Option<&str>| {
                    if l.price_missing {
                        None
                    } else {
                        s.and_then(|s| s.parse::<Decimal>().ok())
                    }
                };
                SimLine {
                    line_number: i as u32 + 1,
                    sku: l.sku.clone(),
                    // No SKU at all: no partnerSku either (LineAmend may add one).
                    partner_sku: (!l.sku.is_empty())
                        .then(|| p.map_or(l.sku.clone(), |p| p.partner_sku.into())),
                    upc: None,
                    consumer_price_with_tax: None,
                    dsco_item_id: p.map(|p| p.dsco_item_id.into()),
                    title: p.map(|p| p.title.into()),
                    quantity: l.quantity.max(1),
                    expected_cost: if l.price_missing {
                        None
                    } else {
                        l.expected_cost.or(price(p.map(|p| p.expected_cost)))
                    },
                    consumer_price: price(p.map(|p| p.consumer_price)),
                    retail_price: price(p.map(|p| p.retail_price)),
                    cancelled: 0,
                    shipped: 0,
                    invoiced: 0,
                    cancel_requested: false,
                    activity: vec![json!({
                        "action": "add", "quantity": l.quantity.max(1),
                        "activityDate": wire_time(created)
                    })],
                    wire_patch: Map::new(),
                }
            })
            .collect();
        let order = SimOrder {
            dsco_order_id: id,
            po_number: po,
            retailer_id,
            consumer_order_number: spec
                .consumer_order_number
                .clone()
                .unwrap_or_else(|| format!("C-{id}")),
            channel: "RETAILCH01".into(),
            test_flag: spec.test_flag,
            currency_code: spec.currency_code.clone(),
            created_at: created,
            last_update: created,
            warehouse_code: spec.warehouse_code.clone(),
            service_level: spec.service_level.clone(),
            shipping: spec.ship_to.clone().unwrap_or_else(|| Address {
                name: Some("Jane Doe".into()),
                address: vec!["100 Example Ave".into()],
                city: Some("Springfield".into()),
                region: Some("NJ".into()),
                postal: Some("07081".into()),
                country: Some("US".into()),
                phone: Some("15555550100".into()),
            }),
            lines,
            acked: false,
            supplier_order_number: None,
            cancel_requested: false,
            cancel_requested_code: None,
            packages: Vec::new(),
            wire_patch: Map::new(),
        };
        let mut order = order;
        match spec.initial {
            InitialState::Created => {}
            InitialState::Acknowledged => order.acked = true,
            InitialState::Shipped => {
                order.acked = true;
                let level = order
                    .service_level
                    .as_deref()
                    .and_then(|c| defaults::SERVICE_LEVELS.iter().find(|l| l.code == c))
                    .unwrap_or(&defaults::SERVICE_LEVELS[0]);
                let mut items = Vec::new();
                for l in &mut order.lines {
                    l.shipped = l.quantity;
                    items.push((l.line_number, l.sku.clone(), l.quantity));
                }
                order.packages.push(PackageRecord {
                    tracking_number: format!("{}{:010}", level.tracking_prefix, id),
                    ship_date: Some(wire_time(created)),
                    ship_carrier: Some(level.carrier.into()),
                    ship_method: Some(level.method.into()),
                    shipping_service_level_code: Some(level.code.into()),
                    warehouse_code: order.warehouse_code.clone(),
                    items,
                    recorded_at: created,
                });
            }
            InitialState::Cancelled => {
                for l in &mut order.lines {
                    l.cancelled = l.quantity;
                }
            }
        }
        let wire = order.to_wire();
        self.by_po
            .entry(order.po_number.clone())
            .or_default()
            .push(id);
        self.orders.insert(id, order);
        Ok(wire)
    }

    pub fn find_order(&self, key: &str, value: &str) -> Vec<u64> {
        match key {
            "dscoOrderId" => {
                return value
                    .parse::<u64>()
                    .ok()
                    .filter(|id| id.to_string() == value && self.orders.contains_key(id))
                    .into_iter()
                    .collect();
            }
            "poNumber" => return self.by_po.get(value).cloned().unwrap_or_default(),
            _ => {}
        }
        if key != "supplierOrderNumber" {
            return Vec::new();
        }
        self.orders
            .values()
            .filter(|o| o.supplier_order_number.as_deref() == Some(value))
            .map(|o| o.dsco_order_id)
            .collect()
    }

    /// The (first) order of `po`.
    pub fn order_of_po(&self, po: &str) -> Option<&SimOrder> {
        let id = self.by_po.get(po)?.first()?;
        self.orders.get(id)
    }

    pub fn order_by_po(&mut self, po: &str) -> Option<&mut SimOrder> {
        let id = *self.by_po.get(po)?.first()?;
        self.orders.get_mut(&id)
    }

    /// Finds the order an item names by `poNumber`, `dscoOrderId` or `supplierOrderNumber`.
    fn order_for_item(&self, item: &Value) -> Option<u64> {
        let s = |k: &str| match item.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        for (field, key) in [
            ("dscoOrderId", "dscoOrderId"),
            ("poNumber", "poNumber"),
            ("supplierOrderNumber", "supplierOrderNumber"),
        ] {
            if let Some(v) = s(field) {
                return self.find_order(key, &v).first().copied();
            }
        }
        None
    }

    pub fn cancel_order(&mut self, po: &str, now: DateTime<Utc>) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        for l in &mut o.lines {
            let n = l.open();
            if n > 0 {
                l.cancelled += n;
                l.activity.push(json!({"action": "cancel", "quantity": n,
                    "reason": "retailer cancelled", "activityDate": wire_time(now)}));
            }
        }
        o.last_update = now;
        true
    }

    /// Applies `amend` to line `line` of `po`. `false` when there is no such order or line.
    pub fn amend_line(
        &mut self,
        po: &str,
        line: u32,
        amend: &LineAmend,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        let Some(l) = o.lines.iter_mut().find(|l| l.line_number == line) else {
            return false;
        };
        if let Some(p) = &amend.partner_sku {
            l.partner_sku = Some(p.clone());
        }
        if let Some(u) = &amend.upc {
            l.upc = Some(u.clone());
        }
        if amend.drop_prices {
            l.expected_cost = None;
            l.consumer_price = None;
            l.retail_price = None;
        }
        if let Some(c) = amend.consumer_price_with_tax {
            l.consumer_price_with_tax = Some(c);
        }
        o.last_update = now;
        true
    }

    /// Lays `patch` over how the order (`line: None`) or one of its lines renders from now on
    /// (see [`super::model::lay_over`]); the order counts as updated. `false` if unknown.
    pub fn patch_wire(
        &mut self,
        po: &str,
        line: Option<u32>,
        patch: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        let target = match line {
            None => &mut o.wire_patch,
            Some(n) => match o.lines.iter_mut().find(|l| l.line_number == n) {
                Some(l) => &mut l.wire_patch,
                None => return false,
            },
        };
        target.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
        o.last_update = now;
        true
    }

    /// DSCO support's clean-up tools take the acknowledgement back (line activity
    /// `remove_status`): the order shows `created` / `created` again when nothing is shipped or
    /// cancelled yet. `false` when there is no such order or it was not acknowledged.
    pub fn remove_status(&mut self, po: &str, now: DateTime<Utc>) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        if !o.acked {
            return false;
        }
        o.acked = false;
        for l in &mut o.lines {
            l.activity
                .push(json!({"action": "remove_status", "formerStatus": "accept",
                "reason": "support clean-up", "activityDate": wire_time(now)}));
        }
        o.last_update = now;
        true
    }

    pub fn cancel_line(
        &mut self,
        po: &str,
        line: u32,
        qty: Option<u32>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        let Some(l) = o.lines.iter_mut().find(|l| l.line_number == line) else {
            return false;
        };
        let n = qty.unwrap_or(l.open()).min(l.open());
        l.cancelled += n;
        l.activity
            .push(json!({"action": "cancel", "quantity": n, "activityDate": wire_time(now)}));
        o.last_update = now;
        true
    }

    /// A retailer's cancel request: cancels at once while `created`, else flags it (§9).
    pub fn request_cancel(&mut self, po: &str, code: Option<String>, now: DateTime<Utc>) -> bool {
        let Some(o) = self.order_by_po(po) else {
            return false;
        };
        if o.status() == "created" {
            return self.cancel_order(po, now);
        }
        o.cancel_requested = true;
        o.cancel_requested_code = code.or(Some("CXSC".into()));
        for l in &mut o.lines {
            l.cancel_requested = l.open() > 0;
        }
        o.last_update = now;
        true
    }

    // -----------------------------------------------------------------------------------------
    // Async batches

    pub fn submit(&mut self, op: BatchOp, items: Vec<Value>, now: DateTime<Utc>) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        let delay = TimeDelta::from_std(self.config.async_delay).unwrap_or(TimeDelta::zero());
        self.batches.push(Batch {
            request_id: request_id.clone(),
            op,
            submitted_at: now,
            due_at: now + delay,
            items,
            outcomes: None,
            processed_at: None,
        });
        request_id
    }

    /// Processes, in submission order, every batch that became due by `now`.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        while self.settled_upto < self.batches.len() {
            let i = self.settled_upto;
            let due = self.batches[i].due_at;
            if due > now {
                break;
            }
            let op = self.batches[i].op;
            let items = std::mem::take(&mut self.batches[i].items);
            let outcomes = items
                .iter()
                .map(|item| match self.apply(op, item, due) {
                    Ok(results) => ("success", results),
                    Err(results) => ("failure", results),
                })
                .collect();
            let b = &mut self.batches[i];
            b.items = items;
            b.outcomes = Some(outcomes);
            b.processed_at = Some(due);
            self.settled_upto += 1;
        }
    }

    /// Validates and applies one item; `Ok` carries info/warn results, `Err` the failure's.
    pub fn apply(
        &mut self,
        op: BatchOp,
        item: &Value,
        at: DateTime<Utc>,
    ) -> Result<Vec<Value>, Vec<Value>> {
        match op {
            BatchOp::Acknowledge => self.apply_ack(item, at),
            BatchOp::Shipment => self.apply_shipment(item, at),
            BatchOp::Invoice => self.apply_invoice(item, at),
            BatchOp::Inventory { skip_unknown } => self.apply_inventory(item, skip_unknown),
        }
    }

    fn apply_ack(&mut self, item: &Value, at: DateTime<Utc>) -> Result<Vec<Value>, Vec<Value>> {
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(vec![msg("VALIDATION_FAILED", "error", "id is required")]),
        };
        let key = match item.get("type").and_then(Value::as_str) {
            Some("DSCO_ORDER_ID") => "dscoOrderId",
            Some("PO_NUMBER") => "poNumber",
            Some("SUPPLIER_ORDER_NUMBER") => "supplierOrderNumber",
            _ => {
                return Err(vec![msg(
                    "VALIDATION_FAILED",
                    "error",
                    "type must be DSCO_ORDER_ID, PO_NUMBER or SUPPLIER_ORDER_NUMBER",
                )]);
            }
        };
        let Some(oid) = self.find_order(key, &id).first().copied() else {
            return Err(vec![msg(
                "ORDER_NOT_FOUND",
                "error",
                format!("No order found for {key} {id}"),
            )]);
        };
        let o = self.orders.get_mut(&oid).expect("found");
        if o.is_cancelled() {
            return Err(vec![msg(
                "INVALID_ORDER_STATUS",
                "error",
                "The order is cancelled",
            )]);
        }
        o.acked = true;
        if let Some(s) = item.get("supplierOrderNumber").and_then(Value::as_str) {
            o.supplier_order_number = Some(s.into());
        }
        o.last_update = at;
        self.acks.push(AckRecord {
            po_number: o.po_number.clone(),
            dsco_order_id: o.dsco_order_id.to_string(),
            supplier_order_number: o.supplier_order_number.clone(),
            at,
        });
        Ok(vec![])
    }

    fn apply_shipment(
        &mut self,
        item: &Value,
        at: DateTime<Utc>,
    ) -> Result<Vec<Value>, Vec<Value>> {
        let Some(oid) = self.order_for_item(item) else {
            return Err(vec![msg(
                "ORDER_NOT_FOUND",
                "error",
                "No order found for poNumber/dscoOrderId/supplierOrderNumber",
            )]);
        };
        let shipments = item
            .get("shipments")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if shipments.is_empty() {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                "shipments is required",
            )]);
        }
        let o = self.orders.get(&oid).expect("found");
        if o.is_cancelled() {
            return Err(vec![msg(
                "INVALID_ORDER_STATUS",
                "error",
                "The order is cancelled",
            )]);
        }
        let allowed = defaults::RETAILERS
            .iter()
            .find(|r| r.dsco_retailer_id == o.retailer_id)
            .map(|r| r.allowed_service_levels);
        let mut errors = Vec::new();
        // Quantities this item ships per line index, checked against what is still open.
        let mut taking: BTreeMap<usize, u32> = BTreeMap::new();
        let mut packages = Vec::new();
        for s in &shipments {
            let tracking = s
                .get("trackingNumber")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string();
            if tracking.is_empty() {
                errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    "trackingNumber is required",
                ));
                continue;
            }
            // Assumption: a tracking number already on the order is refused, so a resend after
            // an ambiguous write shows up instead of silently doubling.
            if o.packages.iter().any(|p| p.tracking_number == tracking) {
                errors.push(msg(
                    "DUPLICATE_TRACKING_NUMBER",
                    "error",
                    format!("Tracking number {tracking} is already recorded on this order"),
                ));
                continue;
            }
            let level = s.get("shippingServiceLevelCode").and_then(Value::as_str);
            let carrier = s.get("shipCarrier").and_then(Value::as_str);
            match (level, allowed) {
                (None, _) if carrier.is_none() => errors.push(msg("VALIDATION_FAILED", "error", "Ship carrier is required")),
                (Some(l), Some(allowed)) if !allowed.contains(&l) => errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    format!("Shipping service level code {l} is not an allowed ship method for this retailer"),
                )),
                _ => {}
            }
            let lines = s
                .get("lineItems")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if lines.is_empty() {
                errors.push(msg("VALIDATION_FAILED", "error", "lineItems is required"));
            }
            let mut items = Vec::new();
            for l in &lines {
                let qty = l.get("quantity").and_then(Value::as_u64).unwrap_or(0) as u32;
                let idx = o.line_index(l);
                let Some(idx) = idx else {
                    errors.push(msg(
                        "VALIDATION_FAILED",
                        "error",
                        "A shipment line matches no line of the order",
                    ));
                    continue;
                };
                if qty == 0 {
                    errors.push(msg(
                        "VALIDATION_FAILED",
                        "error",
                        "lineItems.quantity is required",
                    ));
                    continue;
                }
                *taking.entry(idx).or_default() += qty;
                items.push((o.lines[idx].line_number, o.lines[idx].sku.clone(), qty));
            }
            packages.push(PackageRecord {
                tracking_number: tracking,
                ship_date: s
                    .get("shipDate")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ship_carrier: carrier.map(str::to_string),
                ship_method: s
                    .get("shipMethod")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                shipping_service_level_code: level.map(str::to_string),
                warehouse_code: s
                    .get("warehouseCode")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                items,
                recorded_at: at,
            });
        }
        for (idx, q) in &taking {
            let l = &o.lines[*idx];
            if *q > l.open() {
                errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    format!(
                        "Line {} ships {q} but only {} remain",
                        l.line_number,
                        l.open()
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let o = self.orders.get_mut(&oid).expect("found");
        for p in &packages {
            for (n, _, q) in &p.items {
                if let Some(l) = o.lines.iter_mut().find(|l| l.line_number == *n) {
                    l.shipped += q;
                    l.activity.push(
                        json!({"action": "ship", "quantity": q, "activityDate": wire_time(at)}),
                    );
                }
            }
        }
        o.packages.extend(packages);
        o.last_update = at;
        Ok(vec![])
    }

    fn apply_invoice(&mut self, item: &Value, at: DateTime<Utc>) -> Result<Vec<Value>, Vec<Value>> {
        let Some(invoice_id) = item
            .get("invoiceId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                "invoiceId is required",
            )]);
        };
        if item.get("totalAmount").and_then(Value::as_f64).is_none() {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                "totalAmount is required",
            )]);
        }
        if self.invoice_ids.contains(invoice_id) {
            return Err(vec![msg(
                "DUPLICATE_INVOICE",
                "error",
                format!("Invoice {invoice_id} already exists"),
            )]);
        }
        let Some(oid) = self.order_for_item(item) else {
            return Err(vec![msg(
                "ORDER_NOT_FOUND",
                "error",
                "No order found for the invoice",
            )]);
        };
        let o = self.orders.get(&oid).expect("found");
        let lines = item
            .get("lineItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut errors = Vec::new();
        let mut taking: BTreeMap<usize, u32> = BTreeMap::new();
        for l in &lines {
            let idx = o.line_index(l);
            let Some(idx) = idx else {
                errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    "An invoice line matches no line of the order",
                ));
                continue;
            };
            if l.get("unitPrice").and_then(Value::as_f64).is_none() {
                errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    "lineItems.unitPrice is required",
                ));
            }
            *taking.entry(idx).or_default() +=
                l.get("quantity").and_then(Value::as_u64).unwrap_or(0) as u32;
        }
        for (idx, q) in &taking {
            let l = &o.lines[*idx];
            let available = l.shipped.saturating_sub(l.invoiced);
            if *q > available {
                errors.push(msg(
                    "VALIDATION_FAILED",
                    "error",
                    format!(
                        "Line {} invoices {q} but available-to-invoice = {available}",
                        l.line_number
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let o = self.orders.get_mut(&oid).expect("found");
        for (idx, q) in &taking {
            o.lines[*idx].invoiced += q;
        }
        o.last_update = at;
        let mut stored = item.clone();
        stored["dscoInvoiceId"] =
            json!(format!("{}", 9_000_000_000u64 + self.invoices.len() as u64));
        stored["poNumber"] = json!(o.po_number);
        stored["dscoOrderId"] = json!(o.dsco_order_id.to_string());
        let expected: Decimal = o
            .lines
            .iter()
            .filter_map(|l| l.expected_cost.map(|c| c * Decimal::from(l.quantity)))
            .sum();
        stored["dscoExpectedOrderTotalAmount"] = money(expected);
        self.invoice_ids.insert(invoice_id.to_owned());
        self.invoices.push(stored);
        Ok(vec![])
    }

    fn apply_inventory(
        &mut self,
        item: &Value,
        skip_unknown: bool,
    ) -> Result<Vec<Value>, Vec<Value>> {
        let Some(sku) = item
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(vec![msg("VALIDATION_FAILED", "error", "sku is required")]);
        };
        let Some(warehouses) = item.get("warehouses").and_then(Value::as_array) else {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                "warehouses is required",
            )]);
        };
        if warehouses
            .iter()
            .any(|w| w.get("code").and_then(Value::as_str).is_none())
        {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                "warehouses.code is required",
            )]);
        }
        let sum: i64 = warehouses
            .iter()
            .filter_map(|w| w.get("quantity").and_then(Value::as_i64))
            .sum();
        if let Some(q) = item.get("quantityAvailable").and_then(Value::as_i64)
            && q != sum
        {
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                format!(
                    "quantityAvailable ({q}) must equal the sum of the warehouse quantities ({sum})"
                ),
            )]);
        }
        if let Some(m) = self.refused_inventory.get(sku) {
            return Err(vec![msg("VALIDATION_FAILED", "error", m.clone())]);
        }
        if !self.known_skus.contains(sku) {
            if skip_unknown {
                // Assumption: DSCO's log shape for a skipped item is not documented; we report
                // success with a warning so a client can tell "skipped" from "applied".
                return Ok(vec![msg(
                    "ITEM_NOT_FOUND",
                    "warn",
                    format!("Item {sku} does not exist; skipped"),
                )]);
            }
            return Err(vec![msg(
                "VALIDATION_FAILED",
                "error",
                format!("Item {sku} does not exist: upc, ean or gtin is required to create it"),
            )]);
        }
        self.inventory.insert(sku.to_string(), item.clone());
        Ok(vec![])
    }

    /// The change-log entries of one request.
    pub fn log_entries(
        &self,
        request_id: &str,
        filter: Option<&str>,
    ) -> Option<(bool, Vec<Value>)> {
        let b = self.batches.iter().find(|b| b.request_id == request_id)?;
        let mut out = Vec::new();
        for (i, payload) in b.items.iter().enumerate() {
            let (status, results) = match &b.outcomes {
                Some(o) => (o[i].0, o[i].1.clone()),
                None => ("pending", vec![]),
            };
            let keep = match filter {
                None => true,
                Some("success_or_failure") => status != "pending",
                Some(f) => f == status,
            };
            if keep {
                out.push(json!({
                    "requestId": b.request_id,
                    "dateProcessed": wire_time(b.processed_at.unwrap_or(b.submitted_at)),
                    "status": status,
                    "requestMethod": "api",
                    "requestMethodDetail": b.op.method_detail(),
                    "payload": payload,
                    "results": results,
                }));
            }
        }
        Some((b.outcomes.is_some(), out))
    }
}
