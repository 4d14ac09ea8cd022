//! Outbound (sales) orders: created at audit, shipped or intercepted, the admin shipping moves,
//! and `wmsOrderList`.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::model::{SimItem, SimOutProduct, SimOutbound};
use super::wire::{fmt_local, local_day, num, strings, text};
use super::{Answer, World};

impl World {
    fn store_sid(&self, store_id: &str) -> u64 {
        self.seed
            .stores
            .iter()
            .find(|s| s.store_id == store_id)
            .map(|s| s.sid)
            .unwrap_or(0)
    }

    pub(super) fn bundle_of(&self, sku: &str) -> Vec<(String, u32)> {
        self.seed
            .products
            .iter()
            .find(|p| p.sku == sku)
            .map(|p| p.bundle.clone())
            .unwrap_or_default()
    }

    /// One outbound order per system order, or two when a partial shipment is planned (the
    /// second leaves later with its own tracking number).
    pub(super) fn create_outbounds(
        &mut self,
        i: usize,
        at: DateTime<Utc>,
        partial: bool,
        intercept: bool,
    ) {
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
    pub(super) fn intercept_outbound(&mut self, i: usize, at: DateTime<Utc>) {
        let w = &mut self.outbounds[i];
        w.status = 4;
        w.update_at = at;
        w.ship_at = None;
        if let Some(&k) = self.index.order_by_no.get(&w.order_number) {
            self.orders[k].update_time = at;
        }
    }

    /// Ships outbound `i` at `at` (or intercepts it when planned).
    pub(super) fn ship_outbound(&mut self, i: usize, at: DateTime<Utc>, tracking: Option<String>) {
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

    pub fn outbounds_for(&self, po: &str) -> Vec<SimOutbound> {
        self.outbound_idx_of_po(po)
            .into_iter()
            .map(|i| self.outbounds[i].clone())
            .collect()
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
}
