//! LingXing simulator tests, over HTTP with a hand-rolled signer (no client crate): token
//! endpoints, signature and timestamp checks, capacity, faults, the schedule, and response
//! shapes against the official examples in `fixtures/lingxing/`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use serde_json::{Value, json};
use sim::lingxing::verify::sign_plain;
use sim::lingxing::{
    DEFAULT_APP_ID, DEFAULT_APP_SECRET, DUPLICATE_ORDER_MESSAGE, Fault, LingxingSim,
    LingxingSimConfig,
};

const STORE: &str = "110283406273996288";

async fn start(cfg: LingxingSimConfig, clock: Clock) -> LingxingSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    LingxingSim::start(cfg, clock, listener).await.unwrap()
}

fn sim_clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap())
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

struct Raw {
    app: String,
    http: reqwest::Client,
    base: String,
    clock: Clock,
    token: String,
}

impl Raw {
    async fn new(sim: &LingxingSim, clock: Clock) -> Raw {
        Raw::with_app(sim, clock, DEFAULT_APP_ID, DEFAULT_APP_SECRET).await
    }

    async fn with_app(sim: &LingxingSim, clock: Clock, app: &str, secret: &str) -> Raw {
        let http = reqwest::Client::new();
        let form = reqwest::multipart::Form::new()
            .text("appId", app.to_owned())
            .text("appSecret", secret.to_owned());
        let v: Value = http
            .post(format!(
                "{}/api/auth-server/oauth/access-token",
                sim.base_url()
            ))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["code"], "200", "{v}");
        Raw {
            app: app.to_owned(),
            http,
            base: sim.base_url(),
            clock,
            token: v["data"]["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Sorted-key canonical string of the public params plus the body's top-level entries.
    fn canonical(&self, ts: i64, body: &str) -> String {
        let mut pairs = vec![
            ("access_token".to_string(), self.token.clone()),
            ("app_key".to_string(), self.app.clone()),
            ("timestamp".to_string(), ts.to_string()),
        ];
        if !body.is_empty() {
            let v: Value = serde_json::from_str(body).unwrap();
            for (k, v) in v.as_object().unwrap() {
                let t = match v {
                    Value::String(s) if s.is_empty() => continue,
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                pairs.push((k.clone(), t));
            }
        }
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    async fn post_with(&self, path: &str, body: &str, query: String) -> Value {
        self.http
            .post(format!("{}{}?{}", self.base, path, query))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn query(&self, ts: i64, sign: &str) -> String {
        format!(
            "app_key={}&access_token={}&timestamp={ts}&sign={}",
            self.app,
            self.token,
            enc(sign)
        )
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let text = body.to_string();
        let ts = self.clock.now().timestamp();
        let sign = sign_plain(&self.app, &self.canonical(ts, &text)).unwrap();
        self.post_with(path, &text, self.query(ts, &sign)).await
    }
}

#[tokio::test]
async fn token_endpoints_take_multipart_urlencoded_and_query() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/auth-server/oauth/access-token", sim.base_url());
    let v: Value = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "appId={}&appSecret={}",
            DEFAULT_APP_ID,
            enc(DEFAULT_APP_SECRET)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "200");
    assert_eq!(v["data"]["expires_in"], 7199);
    let v: Value = http
        .post(format!(
            "{url}?appId={DEFAULT_APP_ID}&appSecret={}",
            enc(DEFAULT_APP_SECRET)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "200");
    let refresh = v["data"]["refresh_token"].as_str().unwrap().to_owned();
    let v: Value = http
        .post(format!("{url}?appId={DEFAULT_APP_ID}&appSecret=wrong"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "2001002");
    assert_eq!(v["data"], Value::Null);
    // Refresh works once.
    let rurl = format!("{}/api/auth-server/oauth/refresh", sim.base_url());
    let form = || {
        reqwest::multipart::Form::new()
            .text("appId", DEFAULT_APP_ID)
            .text("refreshToken", refresh.clone())
    };
    let v: Value = http
        .post(&rurl)
        .multipart(form())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "200", "{v}");
    let v: Value = http
        .post(&rurl)
        .multipart(form())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "2001009");
}

#[tokio::test]
async fn token_lifecycle_codes() {
    let clock = sim_clock();
    let cfg = LingxingSimConfig {
        token_lifetime_secs: 60,
        ..LingxingSimConfig::manual()
    };
    let sim = start(cfg, clock.clone()).await;
    let a = Raw::new(&sim, clock.clone()).await;
    let path = "/pb/mp/shop/v2/getSellerList";
    let body = json!({"offset": 0, "length": 200});
    assert_eq!(a.post(path, &body).await["code"], 0);
    // A new token retires the old one.
    let b = Raw::new(&sim, clock.clone()).await;
    assert_eq!(a.post(path, &body).await["code"], "2001005");
    assert_eq!(b.post(path, &body).await["code"], 0);
    // Short lifetime: expired after 60 s of simulated time.
    clock.sim().unwrap().advance(Duration::from_secs(61));
    let v = b.post(path, &body).await;
    assert_eq!(v["code"], "2001003");
    assert_eq!(v["msg"], "access token is missing or expire");
}

#[tokio::test]
async fn signature_checks() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let path = "/pb/mp/order/v2/list";
    let body = r#"{"include_delete":true,"length":20,"offset":0,"platform_order_nos":["PO-1"]}"#;
    let ts = clock.now().timestamp();
    let sign = sign_plain(DEFAULT_APP_ID, &r.canonical(ts, body)).unwrap();
    assert_eq!(r.post_with(path, body, r.query(ts, &sign)).await["code"], 0);
    // Encoded twice, as lingxingapi sends it.
    let q = format!(
        "app_key={DEFAULT_APP_ID}&access_token={}&timestamp={ts}&sign={}",
        r.token,
        enc(&enc(&sign))
    );
    assert_eq!(r.post_with(path, body, q).await["code"], 0);
    // A body that differs from what was signed.
    let other = r#"{"include_delete":false,"length":20,"offset":0,"platform_order_nos":["PO-1"]}"#;
    let v = r.post_with(path, other, r.query(ts, &sign)).await;
    assert_eq!(v["code"], "2001006");
    assert_eq!(v["data"]["throwable"], "api sign not correct");
    // Missing public parameter.
    let q = format!(
        "app_key={DEFAULT_APP_ID}&access_token={}&timestamp={ts}",
        r.token
    );
    assert_eq!(r.post_with(path, body, q).await["code"], "3001001");
    // Older than two minutes.
    clock.sim().unwrap().advance(Duration::from_secs(121));
    assert_eq!(
        r.post_with(path, body, r.query(ts, &sign)).await["code"],
        "2001007"
    );
}

#[tokio::test]
async fn nested_values_signed_in_received_order_are_accepted() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let body = r#"{"platform_code":10009,"store_id":"110283406273996288","orders":[{"platform_order_no":"PO-R","receiver_country_code":"US","receiver_name":"Jane","city":"Ontario","address_line1":"1 Main St","items":[{"sku":"LX-1001","quantity":1,"unit_price":"4.20"}]}]}"#;
    let ts = clock.now().timestamp();
    let orders = &body[body.find("[{").unwrap()..body.rfind('}').unwrap()];
    let canonical = format!(
        "access_token={}&app_key={DEFAULT_APP_ID}&orders={orders}&platform_code=10009&store_id={STORE}&timestamp={ts}",
        r.token
    );
    let sign = sign_plain(DEFAULT_APP_ID, &canonical).unwrap();
    let v = r
        .post_with("/pb/mp/order/v2/create", body, r.query(ts, &sign))
        .await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(v["data"]["success_details"][0]["platform_order_no"], "PO-R");
}

#[tokio::test]
async fn capacity_one_is_enforced_and_recorded() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let path = "/erp/sc/routing/data/local_inventory/inventoryDetails";
    sim.inject_fault(path, Fault::Hang, Some(1));
    let body = json!({"offset": 0, "length": 20, "wid": "1300"});
    // The hung request holds the only slot, even after its client gives up.
    let hung = tokio::time::timeout(Duration::from_millis(300), r.post(path, &body)).await;
    assert!(hung.is_err());
    let v = r.post(path, &body).await;
    assert_eq!(v["code"], "3001008");
    // The server gives the slot back after 2 min.
    clock.sim().unwrap().advance(Duration::from_secs(121));
    let v = r.post(path, &body).await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(sim.max_concurrency(path), 1);
    assert_eq!(sim.calls(path), 3);
}

#[tokio::test]
async fn faults_error_codes_http_status_and_storms() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let path = "/pb/mp/order/v2/list";
    let body = json!({"offset": 0, "length": 20, "platform_order_nos": ["PO-1"]});
    sim.inject_fault(
        path,
        Fault::ErrorCode {
            code: "103".into(),
            message: "请求过于频繁,请稍后再试".into(),
        },
        Some(1),
    );
    sim.inject_fault(path, Fault::ThrottleStorm, Some(2));
    let v = r.post(path, &body).await;
    assert_eq!(v["code"], 103);
    assert_eq!(r.post(path, &body).await["code"], "3001008");
    assert_eq!(r.post(path, &body).await["code"], "3001008");
    assert_eq!(r.post(path, &body).await["code"], 0);
    // Over the admin HTTP API.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/__admin/faults", sim.base_url()))
        .json(
            &json!({"endpoint": path, "fault": {"kind": "http_status", "status": 503}, "times": 1}),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let resp = http
        .post(format!("{}{}?{}", sim.base_url(), path, "x=1"))
        .send()
        .await
        .unwrap();
    // Public params are checked first (3001001), then the fault applies to signed requests.
    assert!(resp.status().is_success());
    let text = {
        let ts = clock.now().timestamp();
        let b = body.to_string();
        let sign = sign_plain(DEFAULT_APP_ID, &r.canonical(ts, &b)).unwrap();
        http.post(format!("{}{}?{}", sim.base_url(), path, r.query(ts, &sign)))
            .body(b)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(text.status().as_u16(), 503);
    let stats: Value = http
        .get(format!("{}/__admin/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats[path]["calls"], 6);
}

#[tokio::test]
async fn orders_audit_split_ship_and_duplicates() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let order = |po: &str, items: Value| {
        json!({"platform_order_no": po, "receiver_country_code": "US", "receiver_name": "Jane",
               "city": "Ontario", "address_line1": "1 Main St", "wid": "1300", "logistics_type_id": "101",
               "items": items})
    };
    let v = r
        .post(
            "/pb/mp/order/v2/create",
            &json!({"platform_code": 10009, "store_id": STORE, "orders": [
                order("PO-1", json!([{"msku": "SKU-1001", "quantity": 2, "unit_price": "12.99"},
                                    {"msku": "SKU-BUNDLE-01", "quantity": 1, "unit_price": "20.00"}])),
                order("PO-1", json!([{"msku": "SKU-1001", "quantity": 1, "unit_price": "12.99"}])),
                order("PO-2", json!([{"msku": "NOPE", "quantity": 1, "unit_price": "1"}])),
            ]}),
        )
        .await;
    assert_eq!(v["data"]["success_details"].as_array().unwrap().len(), 1);
    let errs = v["data"]["error_details"].as_array().unwrap();
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["platform_order_no"], "PO-1");
    assert_eq!(errs[0]["error_message"], DUPLICATE_ORDER_MESSAGE);
    assert_eq!(errs[1]["platform_order_no"], "PO-2");

    assert_eq!(sim.audit_split("PO-1"), 1);
    let orders = sim.orders_for("PO-1");
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(|o| o.status == 5 && o.split_type == 3));

    clock.sim().unwrap().advance(Duration::from_secs(3600));
    let tracking = sim.ship("PO-1", Some("1ZTEST"));
    assert_eq!(tracking.len(), 2);
    assert!(sim.orders_for("PO-1").iter().all(|o| o.status == 6));
    let v = r
        .post(
            "/erp/sc/routing/wms/order/wmsOrderList",
            &json!({"page": 1, "page_size": 20, "platform_order_no_arr": ["PO-1"],
                    "sid_arr": [2001], "time_type": "delivered_at",
                    "start_date": "2026-11-20", "end_date": "2026-11-20"}),
        )
        .await;
    assert_eq!(v["total"], 2, "{v}");
    let rows = v["data"].as_array().unwrap();
    // Shipped at 01:00 UTC: 09:00 in Asia/Shanghai.
    assert!(
        rows.iter()
            .all(|w| w["delivered_at"] == "2026-11-20 09:00:00")
    );
    assert!(rows.iter().all(|w| w["status"] == 3));
    let bundle: Vec<&Value> = rows
        .iter()
        .flat_map(|w| w["product_info"].as_array().unwrap())
        .filter(|p| p["bundle_type"] != 0)
        .collect();
    // The bundle line and its two components (2 × LX-1001 and 1 × LX-1002 per bundle).
    assert_eq!(bundle.len(), 3);
    assert!(
        bundle
            .iter()
            .any(|p| p["sku"] == "LX-1001" && p["count"] == 2 && p["bundle_type"] == 2)
    );
}

#[tokio::test]
async fn auto_schedule_partial_shipments_and_interceptions() {
    let clock = sim_clock();
    let cfg = LingxingSimConfig {
        split_rate: 0.0,
        partial_shipment_rate: 1.0,
        interception_rate: 0.0,
        ..Default::default()
    };
    let sim = start(cfg, clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let v = r
        .post(
            "/pb/mp/order/v2/create",
            &json!({"platform_code": 10009, "store_id": STORE, "orders": [
                {"platform_order_no": "PO-P", "receiver_country_code": "US", "receiver_name": "Jane",
                 "city": "Ontario", "address_line1": "1 Main St", "wid": "1301", "logistics_type_id": "202",
                 "items": [{"sku": "LX-1005", "quantity": 3, "unit_price": "9.99"}]}]}),
        )
        .await;
    assert_eq!(v["data"]["success_details"].as_array().unwrap().len(), 1);
    assert_eq!(sim.orders_for("PO-P")[0].status, 4);
    clock.sim().unwrap().advance(Duration::from_secs(5 * 3600));
    assert_eq!(sim.orders_for("PO-P")[0].status, 5);
    clock.sim().unwrap().advance(Duration::from_secs(4 * 86400));
    let outs = sim.outbounds_for("PO-P");
    assert_eq!(outs.len(), 2);
    assert!(
        outs.iter()
            .all(|w| w.status == 3 && w.tracking_no.starts_with('7'))
    );
    assert_ne!(outs[0].tracking_no, outs[1].tracking_no);
    let shipped: u32 = outs.iter().flat_map(|w| &w.products).map(|p| p.count).sum();
    assert_eq!(shipped, 3);
    assert_eq!(sim.orders_for("PO-P")[0].status, 6);

    // Interception: the outbound order stops at status 4 with no tracking.
    let cfg = LingxingSimConfig {
        interception_rate: 1.0,
        split_rate: 0.0,
        partial_shipment_rate: 0.0,
        ..Default::default()
    };
    let sim = start(cfg, clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    r.post(
        "/pb/mp/order/v2/create",
        &json!({"platform_code": 10009, "store_id": STORE, "orders": [
            {"platform_order_no": "PO-I", "receiver_country_code": "US", "receiver_name": "Jane",
             "city": "Ontario", "address_line1": "1 Main St",
             "items": [{"sku": "LX-1005", "quantity": 1, "unit_price": "9.99"}]}]}),
    )
    .await;
    clock.sim().unwrap().advance(Duration::from_secs(4 * 86400));
    let outs = sim.outbounds_for("PO-I");
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].status, 4);
    assert!(outs[0].tracking_no.is_empty());
    assert_eq!(sim.orders_for("PO-I")[0].status, 5);
}

#[tokio::test]
async fn order_list_windows_and_limits() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let t0 = clock.now().timestamp();
    r.post(
        "/pb/mp/order/v2/create",
        &json!({"platform_code": 10009, "store_id": STORE, "orders": [
            {"platform_order_no": "PO-W", "receiver_country_code": "US", "receiver_name": "Jane",
             "city": "Ontario", "address_line1": "1 Main St",
             "items": [{"sku": "LX-1005", "quantity": 1, "unit_price": "9.99"}]}]}),
    )
    .await;
    clock.sim().unwrap().advance(Duration::from_secs(600));
    sim.audit("PO-W");
    let t1 = clock.now().timestamp();
    let list = |s: i64, e: i64| json!({"offset": 0, "length": 20, "date_type": "update_time", "start_time": s, "end_time": e});
    // Open interval: an order updated exactly at t1 is not in (t0, t1) but is in (t0, t1 + 1).
    let v = r.post("/pb/mp/order/v2/list", &list(t0, t1)).await;
    assert_eq!(v["data"]["total"], "0");
    let v = r.post("/pb/mp/order/v2/list", &list(t0, t1 + 1)).await;
    assert_eq!(v["data"]["total"], "1");
    assert_eq!(v["data"]["list"][0]["status"], 5);
    let v = r
        .post("/pb/mp/order/v2/list", &list(t0, t0 + 32 * 86400))
        .await;
    assert_eq!(v["code"], 102);
    let v = r
        .post(
            "/pb/mp/order/v2/list",
            &json!({"offset": 0, "length": 10, "platform_order_nos": ["PO-W"]}),
        )
        .await;
    assert_eq!(v["code"], 102);
}

// ---------------------------------------------------------------------------------------------
// Shapes against the official examples.

fn fixture(name: &str) -> Value {
    let p = format!(
        "{}/tests/fixtures/lingxing/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of the example exists in `actual` with the same JSON type (a null in the
/// example says nothing about the type); arrays compare their first elements.
fn assert_shape(example: &Value, actual: &Value, at: &str) {
    if example.is_null() {
        return;
    }
    assert_eq!(kind(example), kind(actual), "type of {at}: {actual}");
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                // Envelope bookkeeping that varies by endpoint family is not business shape.
                let av = a.get(k).unwrap_or_else(|| panic!("missing {at}.{k}"));
                assert_shape(ev, av, &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                assert_shape(e0, a0, &format!("{at}[0]"));
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn responses_match_the_official_examples() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(format!(
            "{}/api/auth-server/oauth/access-token",
            sim.base_url()
        ))
        .multipart(
            reqwest::multipart::Form::new()
                .text("appId", DEFAULT_APP_ID)
                .text("appSecret", DEFAULT_APP_SECRET),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_shape(&fixture("access_token.json"), &tok, "token");
    let r = Raw::new(&sim, clock.clone()).await;
    let created = r
        .post(
            "/pb/mp/order/v2/create",
            &json!({"platform_code": 10009, "store_id": STORE, "orders": [
                {"platform_order_no": "PO-F", "receiver_country_code": "US", "receiver_name": "Jane",
                 "city": "Ontario", "address_line1": "1 Main St", "wid": "1300", "logistics_type_id": "101",
                 "items": [{"msku": "SKU-1001", "quantity": 1, "unit_price": "12.99"}]}]}),
        )
        .await;
    assert_shape(&fixture("order_create.json"), &created, "create");
    let g = created["data"]["success_details"][0]["global_order_no"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.ship("PO-F", None);
    let cases = [
        (
            "order_list.json",
            "/pb/mp/order/v2/list",
            json!({"offset": 0, "length": 20, "platform_order_nos": ["PO-F"]}),
        ),
        (
            "wms_order_list.json",
            "/erp/sc/routing/wms/order/wmsOrderList",
            json!({"page": 1, "page_size": 20, "platform_order_no_arr": ["PO-F"]}),
        ),
        (
            "inventory_details.json",
            "/erp/sc/routing/data/local_inventory/inventoryDetails",
            json!({"offset": 0, "length": 20, "wid": "1300"}),
        ),
        (
            "pair_list.json",
            "/pb/mp/listing/v2/getPairList",
            json!({"offset": 0, "length": 20}),
        ),
        (
            "seller_list.json",
            "/pb/mp/shop/v2/getSellerList",
            json!({"offset": 0, "length": 200}),
        ),
        (
            "warehouse.json",
            "/erp/sc/data/local_inventory/warehouse",
            json!({"offset": 0, "length": 1000}),
        ),
        (
            "used_logistics_type.json",
            "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType",
            json!({"param": {"provider_type": 0, "page": 1, "length": 20}}),
        ),
    ];
    for (fx, path, body) in cases {
        let v = r.post(path, &body).await;
        assert_eq!(v["code"], 0, "{path}: {v}");
        let mut example = fixture(fx);
        // The second example row of listUsedLogisticsType is an overseas-warehouse method.
        if let Some(list) = example["data"].as_array_mut() {
            list.truncate(1);
        }
        assert_shape(&example, &v, fx);
    }
    // cancelOrder: the official success example.
    let v = r
        .post(
            "/pb/mp/order/v2/cancelOrder",
            &json!({"order_list": [g, "1"]}),
        )
        .await;
    assert_shape(&fixture("order_cancel.json"), &v, "cancel");
    // Both fail: one is shipped, the other does not exist.
    assert_eq!(v["data"]["process_code"], 10000);
    assert_eq!(v["data"]["fail_num"], 2);
}

#[tokio::test]
async fn seed_file_replaces_the_world_and_settings() {
    let p = format!(
        "{}/tests/fixtures/lingxing/seed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cfg = LingxingSimConfig::from_seed_file(&p).unwrap();
    assert_eq!(cfg.app_id, "ak_SeedFileApp01");
    assert!(!format!("{cfg:?}").contains("seed-secret"));
    assert_eq!(cfg.token_lifetime_secs, 600);
    // Fields left out keep their defaults.
    assert_eq!(cfg.sign_max_age_secs, 120);
    let clock = sim_clock();
    let sim = start(cfg, clock.clone()).await;
    let http = reqwest::Client::new();
    let v: Value = http
        .post(format!(
            "{}/api/auth-server/oauth/access-token?appId=ak_SeedFileApp01&appSecret=seed-secret",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["expires_in"], 600);
    assert!(LingxingSimConfig::from_seed_file("/nonexistent/seed.json").is_err());
    // The seeded world replaces the default one.
    let r = Raw::with_app(&sim, clock.clone(), "ak_SeedFileApp01", "seed-secret").await;
    let v = r
        .post(
            "/pb/mp/shop/v2/getSellerList",
            &json!({"offset": 0, "length": 200}),
        )
        .await;
    assert_eq!(v["data"]["total"], "1", "{v}");
    assert_eq!(v["data"]["list"][0]["store_id"], "9000000000000001");
    let v = r
        .post(
            "/erp/sc/routing/data/local_inventory/inventoryDetails",
            &json!({"offset": 0, "length": 20, "wid": "77"}),
        )
        .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["data"][0]["product_valid_num"], 12);
    let v = r
        .post(
            "/pb/mp/order/v2/create",
            &json!({"platform_code": 10009, "store_id": "9000000000000001", "orders": [
                {"platform_order_no": "PO-SEED", "receiver_country_code": "US", "receiver_name": "Jane",
                 "city": "Ontario", "address_line1": "1 Main St", "wid": "77", "logistics_type_id": "7701",
                 "items": [{"msku": "DSCO-SEED-1", "quantity": 1, "unit_price": "5.00"}]}]}),
        )
        .await;
    assert_eq!(
        v["data"]["success_details"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    // Audited after exactly 60 s, per the seed's delay.
    clock.sim().unwrap().advance(Duration::from_secs(59));
    assert_eq!(sim.orders_for("PO-SEED")[0].status, 4);
    clock.sim().unwrap().advance(Duration::from_secs(1));
    assert_eq!(sim.orders_for("PO-SEED")[0].status, 5);
}

#[tokio::test]
async fn admin_http_api() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    r.post(
        "/pb/mp/order/v2/create",
        &json!({"platform_code": 10009, "store_id": STORE, "orders": [
            {"platform_order_no": "PO-ADM", "receiver_country_code": "US", "receiver_name": "Jane",
             "city": "Ontario", "address_line1": "1 Main St", "wid": "1300", "logistics_type_id": "101",
             "items": [{"sku": "LX-1001", "quantity": 2, "unit_price": "4.20"}]}]}),
    )
    .await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let get = |p: String| {
        let http = http.clone();
        async move {
            http.get(p)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let post = |p: String, b: Value| {
        let http = http.clone();
        async move {
            http.post(p)
                .json(&b)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let orders = get(format!("{base}/__admin/orders?po=PO-ADM")).await;
    assert_eq!(orders[0]["status"], 4);
    assert_eq!(orders[0]["items"][0]["sku"], "LX-1001");
    let v = post(
        format!("{base}/__admin/audit"),
        json!({"po": "PO-ADM", "split": true}),
    )
    .await;
    assert_eq!(v["audited"], 1);
    assert_eq!(
        get(format!("{base}/__admin/orders?po=PO-ADM"))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let v = post(format!("{base}/__admin/intercept"), json!({"po": "PO-ADM"})).await;
    assert_eq!(v["intercepted"], 2);
    let v = post(format!("{base}/__admin/ship"), json!({"po": "PO-ADM"})).await;
    assert_eq!(v["tracking_nos"], json!([]));
    let outs = get(format!("{base}/__admin/outbounds?po=PO-ADM")).await;
    assert!(outs.as_array().unwrap().iter().all(|w| w["status"] == 4));
    let v = post(
        format!("{base}/__admin/inventory"),
        json!({"wid": 1302, "sku": "LX-1009", "valid": 0}),
    )
    .await;
    assert_eq!(v["ok"], true);
    let inv = r
        .post(
            "/erp/sc/routing/data/local_inventory/inventoryDetails",
            &json!({"offset": 0, "length": 20, "wid": "1302", "sku": "LX-1009"}),
        )
        .await;
    assert_eq!(inv["data"][0]["product_valid_num"], 0);
    post(
        format!("{base}/__admin/pairs"),
        json!({"store_id": STORE, "msku": "SKU-2001", "sku": "LX-1010"}),
    )
    .await;
    let pairs = r
        .post(
            "/pb/mp/listing/v2/getPairList",
            &json!({"offset": 0, "length": 20, "msku": ["SKU-2001"], "store_ids": [STORE]}),
        )
        .await;
    assert_eq!(pairs["data"]["list"][0]["sku"], "LX-1010");
    post(format!("{base}/__admin/token/expire"), json!({})).await;
    let v = r
        .post(
            "/pb/mp/shop/v2/getSellerList",
            &json!({"offset": 0, "length": 20}),
        )
        .await;
    assert_eq!(v["code"], "2001003");
    let resp = http
        .get(format!("{base}/__admin/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

async fn create_one(r: &Raw, po: &str, items: Value) {
    let v = r
        .post(
            "/pb/mp/order/v2/create",
            &json!({"platform_code": 10009, "store_id": STORE, "orders": [
                {"platform_order_no": po, "receiver_country_code": "US", "receiver_name": "Jane",
                 "city": "Ontario", "address_line1": "1 Main St", "wid": "1300",
                 "logistics_type_id": "101", "items": items}]}),
        )
        .await;
    assert_eq!(
        v["data"]["success_details"].as_array().unwrap().len(),
        1,
        "{v}"
    );
}

/// POSTs `body` to the simulator's admin endpoint `path`; its JSON answer.
async fn admin_post(sim: &LingxingSim, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/__admin/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn listed(r: &Raw, body: Value) -> Vec<String> {
    let v = r.post("/pb/mp/order/v2/list", &body).await;
    assert_eq!(v["code"], 0, "{v}");
    v["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["platform_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["platform_order_no"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_removed_order_leaves_every_listing() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let item = json!([{"sku": "LX-1001", "quantity": 1, "unit_price": "4.20"}]);
    create_one(&r, "PO-GONE", item.clone()).await;
    create_one(&r, "PO-STAYS", item).await;
    assert_eq!(sim.audit("PO-GONE"), 1);
    assert_eq!(sim.audit("PO-STAYS"), 1);
    assert_eq!(sim.outbounds_for("PO-GONE").len(), 1);
    let start = clock.now().timestamp() - 60;
    clock.sim().unwrap().advance(Duration::from_secs(60));
    let end = clock.now().timestamp() + 1;
    let by_update = json!({"offset": 0, "length": 20, "date_type": "update_time",
        "start_time": start, "end_time": end});
    let by_po = json!({"offset": 0, "length": 20, "include_delete": true,
        "platform_order_nos": ["PO-GONE", "PO-STAYS"]});
    let mut seen = listed(&r, by_update.clone()).await;
    seen.sort();
    assert_eq!(seen, ["PO-GONE", "PO-STAYS"]);

    assert_eq!(sim.remove_order("PO-GONE"), 1);
    assert!(sim.orders_for("PO-GONE").is_empty());
    assert!(
        sim.outbounds_for("PO-GONE").is_empty(),
        "its outbound orders go too"
    );
    assert_eq!(listed(&r, by_update).await, ["PO-STAYS"]);
    assert_eq!(
        listed(&r, by_po).await,
        ["PO-STAYS"],
        "not even include_delete shows it"
    );
    assert_eq!(sim.remove_order("PO-GONE"), 0);
    // The order and outbound order that stay moved up in the simulator's lists: still found by
    // PO, and shipping reaches them.
    assert_eq!(sim.orders_for("PO-STAYS").len(), 1);
    let stays = sim.outbounds_for("PO-STAYS");
    assert_eq!(stays.len(), 1);
    assert_eq!(stays[0].platform_order_no, "PO-STAYS");
    let tracking = sim.ship("PO-STAYS", Some("TRK-STAYS"));
    assert_eq!(tracking, ["TRK-STAYS"]);
    assert_eq!(sim.outbounds_for("PO-STAYS")[0].status, 3);
    assert_eq!(
        sim.orders_for("PO-STAYS")[0].status,
        6,
        "all shipped: the order too"
    );
    // Over the admin API.
    let v = admin_post(&sim, "remove", json!({"po": "PO-STAYS"})).await;
    assert_eq!(v["removed"], 1);
    assert!(sim.orders_for("PO-STAYS").is_empty());
}

#[tokio::test]
async fn shipping_with_a_substituted_sku() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    create_one(
        &r,
        "PO-SUB",
        json!([{"msku": "SKU-1001", "quantity": 2, "unit_price": "12.99"},
               {"msku": "SKU-BUNDLE-01", "quantity": 1, "unit_price": "20.00"}]),
    )
    .await;
    create_one(
        &r,
        "PO-SUB-HTTP",
        json!([{"msku": "SKU-1001", "quantity": 1, "unit_price": "12.99"}]),
    )
    .await;
    let t = sim.ship_with_sku("PO-SUB", "LX-9999", Some("1ZSUB"));
    assert_eq!(t, ["1ZSUB"]);
    let w = &sim.outbounds_for("PO-SUB")[0];
    assert_eq!(w.status, 3);
    let got: Vec<(&str, &str, u32, i64)> = w
        .products
        .iter()
        .map(|p| {
            (
                p.sku.as_str(),
                p.seller_sku.as_str(),
                p.count,
                p.bundle_type,
            )
        })
        .collect();
    assert_eq!(
        got,
        [("LX-9999", "", 2, 0), ("LX-9999", "", 1, 0)],
        "every line replaced, bundle components dropped"
    );
    assert!(sim.orders_for("PO-SUB").iter().all(|o| o.status == 6));
    // The order itself still lists what was ordered.
    assert_eq!(sim.orders_for("PO-SUB")[0].items[0].msku, "SKU-1001");

    let v = admin_post(&sim, "ship", json!({"po": "PO-SUB-HTTP", "sku": "LX-1002"})).await;
    assert_eq!(v["tracking_nos"].as_array().unwrap().len(), 1);
    assert_eq!(
        sim.outbounds_for("PO-SUB-HTTP")[0].products[0].sku,
        "LX-1002"
    );
}

#[tokio::test]
async fn a_deleted_order_is_listed_only_with_include_delete() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let item = json!([{"sku": "LX-1001", "quantity": 1, "unit_price": "4.20"}]);
    create_one(&r, "PO-DEL", item.clone()).await;
    create_one(&r, "PO-DEL-HTTP", item).await;
    assert_eq!(sim.audit("PO-DEL"), 1);
    let start = clock.now().timestamp() + 30;
    clock.sim().unwrap().advance(Duration::from_secs(60));
    assert_eq!(sim.delete_order("PO-DEL"), 1);
    assert_eq!(sim.delete_order("PO-DEL"), 0, "already deleted");
    let o = &sim.orders_for("PO-DEL")[0];
    assert!(o.deleted);
    assert_eq!(
        o.update_time,
        clock.now(),
        "a change the update_time window shows"
    );
    assert_eq!(
        sim.outbounds_for("PO-DEL")[0].status,
        4,
        "the unshipped outbound order is intercepted"
    );
    let end = clock.now().timestamp() + 1;
    let window = |include: bool| {
        json!({"offset": 0, "length": 20, "date_type": "update_time", "start_time": start,
               "end_time": end, "include_delete": include})
    };
    assert!(listed(&r, window(false)).await.is_empty());
    assert_eq!(listed(&r, window(true)).await, ["PO-DEL"]);
    let v = r
        .post(
            "/pb/mp/order/v2/list",
            &json!({"offset": 0, "length": 20, "include_delete": true,
                    "platform_order_nos": ["PO-DEL"]}),
        )
        .await;
    assert_eq!(v["data"]["list"][0]["status"], 7, "shown cancelled");
    let v = admin_post(&sim, "delete", json!({"po": "PO-DEL-HTTP"})).await;
    assert_eq!(v["deleted"], 1);
}

/// `productList`: `sku_list` as an array or a comma-separated string (both accepted: the stored
/// docs lack the page), exact matches, the `/erp/sc` envelope (`data` array, top-level `total`),
/// paging, and `length` above 1000 refused.
#[tokio::test]
async fn product_list_filters_pages_and_limits() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let r = Raw::new(&sim, clock.clone()).await;
    let path = "/erp/sc/routing/data/local_inventory/productList";
    let v = r
        .post(
            path,
            &json!({"offset": 0, "length": 1000, "sku_list": ["LX-1001", "LX-10", "LX-404"]}),
        )
        .await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["data"][0]["sku"], "LX-1001");
    assert_eq!(v["data"][0]["is_combo"], 0);
    let v = r
        .post(path, &json!({"sku_list": "LX-1001, LX-BUNDLE-01"}))
        .await;
    assert_eq!(v["total"], 2, "{v}");
    // Unfiltered, paged: every product of the world, two per page.
    let all = r.post(path, &json!({"offset": 0, "length": 1000})).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total > 10, "{all}");
    let v = r.post(path, &json!({"offset": 2, "length": 2})).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["sku"], all["data"][2]["sku"]);
    let v = r.post(path, &json!({"offset": 0, "length": 1001})).await;
    assert_eq!(v["code"], 102, "{v}");
}

/// The world's chance draws (audit and ship delays, splits) do not depend on the reads that came
/// in between: two simulators of the same seed, one also answering order lists before each
/// create, audit and ship the same orders at the same instants.
#[tokio::test]
async fn reads_in_between_do_not_change_the_worlds_draws() {
    let (quiet_clock, busy_clock) = (sim_clock(), sim_clock());
    let quiet = start(LingxingSimConfig::default(), quiet_clock.clone()).await;
    let busy = start(LingxingSimConfig::default(), busy_clock.clone()).await;
    let (rq, rb) = (
        Raw::new(&quiet, quiet_clock.clone()).await,
        Raw::new(&busy, busy_clock.clone()).await,
    );
    let t0 = busy_clock.now().timestamp();
    let pos: Vec<String> = (0..6).map(|i| format!("PO-RNG-{i}")).collect();
    for (n, po) in pos.iter().enumerate() {
        let items = json!([{"sku": "LX-1005", "quantity": 1, "unit_price": "9.99"}]);
        for _ in 0..n {
            let list = json!({"offset": 0, "length": 20, "date_type": "update_time",
                              "start_time": t0, "end_time": t0 + 60});
            assert_eq!(rb.post("/pb/mp/order/v2/list", &list).await["code"], 0);
        }
        create_one(&rq, po, items.clone()).await;
        create_one(&rb, po, items).await;
    }
    // Every ten minutes over two days, each order's status and outbound orders agree.
    let state = |sim: &LingxingSim| -> Vec<(i64, usize)> {
        pos.iter()
            .map(|po| {
                let status = sim.orders_for(po).iter().map(|o| o.status).sum();
                (status, sim.outbounds_for(po).len())
            })
            .collect()
    };
    let mut moved = false;
    for _ in 0..(2 * 24 * 6) {
        for c in [&quiet_clock, &busy_clock] {
            c.sim().unwrap().advance(Duration::from_secs(600));
        }
        let (a, b) = (state(&quiet), state(&busy));
        assert_eq!(a, b, "at {}", quiet_clock.now());
        moved |= a.iter().any(|(_, outs)| *outs > 0);
    }
    assert!(moved, "the orders shipped within two days");
}
