//! System orders: audit and split, the admin moves on orders, and the order endpoints
//! (create, list, cancel).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::model::{Plan, SimItem, SimOrder};
use super::wire::{decimal, num, strings, text, unix_or_zero};
use super::{Answer, World};

/// The text of the per-order refusal of a duplicate `platform_order_no` in one store.
/// NAMED ASSUMPTION: the official docs say only "同一店铺不支持重复" and give no message text;
/// clients must not depend on this wording alone.
pub const DUPLICATE_ORDER_MESSAGE: &str = "平台单号已存在，同一店铺不支持重复";

impl World {
    /// Audits order `i` at `at`: status 5, a split if planned, outbound orders created.
    pub(super) fn audit_index(&mut self, i: usize, at: DateTime<Utc>) {
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

    pub fn orders_for(&self, po: &str) -> Vec<SimOrder> {
        self.order_idx_of_po(po)
            .into_iter()
            .map(|i| self.orders[i].clone())
            .collect()
    }

    /// Someone created `po` again by hand in LingXing: a second whole order (pending audit) with
    /// the first one's lines and a number of its own. Returns its number, `None` if `po` has no
    /// order.
    pub fn admin_duplicate_order(&mut self, po: &str, now: DateTime<Utc>) -> Option<String> {
        let i = *self.order_idx_of_po(po).first()?;
        let mut new = self.orders[i].clone();
        new.global_order_no = self.global_no();
        for it in &mut new.items {
            it.id = self.id().to_string();
        }
        new.status = 4;
        new.split_type = 1;
        new.deleted = false;
        new.created_at = now;
        new.update_time = now;
        new.review_time = None;
        new.delivery_time = None;
        new.cancel_time = None;
        new.plan = Default::default();
        let no = new.global_order_no.clone();
        self.push_order(new);
        Some(no)
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
}
