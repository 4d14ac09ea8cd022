//! Inventory and MSKU pairs: the admin setters and the inventory and pair-list endpoints.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::model::PairRec;
use super::wire::{fmt_local, local_time, num, strings, text};
use super::{Answer, World};

impl World {
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
        // A cursor is the position after the last row returned; an offset, the first row's.
        let start = body
            .get(if use_cursor { "cursor_id" } else { "offset" })
            .and_then(num)
            .unwrap_or(0)
            .max(0) as usize;
        let list: Vec<Value> = rows
            .iter()
            .skip(start)
            .take(length)
            .map(|p| render(p))
            .collect();
        let data = if use_cursor {
            let next = start + list.len();
            json!({"has_next": next < rows.len(), "next_cursor_id": next, "list": list})
        } else {
            json!({"total": rows.len().to_string(), "list": list})
        };
        self.ok_envelope(now, "操作成功", data)
    }
}
