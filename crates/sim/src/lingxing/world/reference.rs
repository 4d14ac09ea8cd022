//! Reference lists: sellers (stores), warehouses, logistics types and local products.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::wire::{num, strings};
use super::{Answer, World};

impl World {
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

    /// `POST /erp/sc/routing/data/local_inventory/productList` (查询本地产品列表): `offset`
    /// (default 0), `length` (default 1000, at most 1000), `sku_list` (local SKUs). The page is
    /// not among ../shared/api/lingxing-docs; the fields follow LingXing's public page as other
    /// clients use it. Assumption: `sku_list` is taken as an array or as a comma-separated
    /// string, and matches SKUs exactly; the time filters are accepted and ignored (every
    /// product of the world is equally old).
    pub fn product_list(&mut self, body: &Value, now: DateTime<Utc>) -> Answer {
        let offset = body.get("offset").and_then(num).unwrap_or(0).max(0) as usize;
        let length = body.get("length").and_then(num).unwrap_or(1000);
        if !(1..=1000).contains(&length) {
            return self.biz_error(now, 102, "参数不合法: length 上限1000");
        }
        let wanted: Vec<String> = match body.get("sku_list") {
            Some(Value::String(s)) => s
                .split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect(),
            other => strings(other),
        };
        let rows: Vec<Value> = self
            .seed
            .products
            .iter()
            .filter(|p| wanted.is_empty() || wanted.contains(&p.sku))
            .map(|p| {
                let id = self.product_ids.get(&p.sku).copied().unwrap_or_default();
                json!({
                    "id": id,
                    "cid": 0,
                    "bid": 0,
                    "sku": p.sku,
                    "sku_identifier": "",
                    "product_name": p.name,
                    "pic_url": "",
                    "cg_price": "0.00",
                    "status": 1,
                    "open_status": 1,
                    "is_combo": if p.bundle.is_empty() { 0 } else { 1 },
                    "create_time": 1_700_000_000,
                    "update_time": 1_700_000_000,
                    "status_text": "在售",
                })
            })
            .collect();
        let total = rows.len();
        let page = rows
            .into_iter()
            .skip(offset)
            .take(length as usize)
            .collect();
        self.sc_list(now, page, total)
    }
}
