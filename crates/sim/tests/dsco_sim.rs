//! DSCO simulator tests over real HTTP on loopback, with a simulated clock. Written against
//! the wire format directly (no client types), so the simulator is pinned on its own.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use clock::Clock;
use serde_json::{Value, json};
use sim::defaults;
use sim::dsco::{
    DscoSim, DscoSimConfig, Endpoint, Fault, Gap, Generator, InitialState, LineAmend, LineSpec,
    OrderSpec,
};

fn clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap())
}

async fn start(config: DscoSimConfig, clock: &Clock) -> DscoSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    DscoSim::start(config, clock.clone(), listener)
        .await
        .unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

struct Api {
    http: reqwest::Client,
    base: String,
    admin: String,
    token: String,
}

impl Api {
    async fn new(sim: &DscoSim) -> Api {
        let http = reqwest::Client::new();
        let token = token(&http, &sim.base_url()).await;
        Api {
            http,
            base: sim.base_url(),
            admin: sim.admin_url(),
            token,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", format!("bearer {}", self.token))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/__admin{path}", self.admin);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url),
        };
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn order(&self, po: &str) -> Value {
        let (s, v) = self
            .get(&format!("/order/?orderKey=poNumber&value={po}"))
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }
}

async fn token(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sim::dsco::DEFAULT_CLIENT_ID),
            ("client_secret", sim::dsco::DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    v["access_token"].as_str().unwrap().to_string()
}

fn spec(po: &str, lines: &[(&str, u32)]) -> OrderSpec {
    OrderSpec {
        po_number: Some(po.into()),
        retailer_id: Some("1000012345".into()),
        warehouse_code: Some("US-NJ-01".into()),
        service_level: Some("FECG".into()),
        lines: lines
            .iter()
            .map(|(sku, q)| LineSpec {
                sku: sku.to_string(),
                quantity: *q,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn ship(po: &str, tracking: &str, line: u32, qty: u32) -> Value {
    json!({"poNumber": po, "shipments": [{"trackingNumber": tracking, "shipCarrier": "FedEx",
        "shipMethod": "Ground", "shippingServiceLevelCode": "FECG",
        "lineItems": [{"lineNumber": line, "quantity": qty}]}]})
}

async fn log(api: &Api, path: &str, id: &str) -> Value {
    let (s, v) = api.get(&format!("{path}?requestId={id}")).await;
    assert_eq!(s, 200);
    v
}

#[tokio::test]
async fn order_lifecycle_follows_the_reference() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    sim.add_order(spec("PO-L", &[("SKU-1001", 2), ("SKU-1002", 1)]))
        .unwrap();
    let api = Api::new(&sim).await;
    let o = api.order("PO-L").await;
    assert_eq!(
        (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
        (Some("created"), Some("created"))
    );
    let created_update = o["dscoLastUpdate"].clone();

    let (s, a) = api
        .post(
            "/order/acknowledge",
            json!([{"id": "PO-L", "type": "PO_NUMBER", "supplierOrderNumber": "LX-9"}]),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(a["status"], "pending");
    // Nothing changes before the async delay.
    assert_eq!(api.order("PO-L").await["dscoStatus"], "created");
    clock.sim().unwrap().advance(Duration::from_secs(30));
    let o = api.order("PO-L").await;
    assert_eq!(
        (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
        (Some("shipment_pending"), Some("acknowledged"))
    );
    assert_eq!(o["supplierOrderNumber"], "LX-9");
    assert_ne!(o["dscoLastUpdate"], created_update);
    let id = a["requestId"].as_str().unwrap();
    let l = log(&api, "/order/log", id).await;
    assert_eq!(l["status"], "COMPLETED");
    assert_eq!(l["logs"][0]["status"], "success");
    assert_eq!(l["logs"][0]["payload"]["id"], "PO-L");

    // Part of line 1 ships: shipped at once, lifecycle still acknowledged.
    let (_, b) = api
        .post(
            "/order/shipment/batch/small",
            json!([ship("PO-L", "7001", 1, 1)]),
        )
        .await;
    clock.sim().unwrap().advance(Duration::from_secs(30));
    assert_eq!(
        log(&api, "/order/log", b["requestId"].as_str().unwrap()).await["logs"][0]["status"],
        "success"
    );
    let o = api.order("PO-L").await;
    assert_eq!(
        (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
        (Some("shipped"), Some("acknowledged"))
    );
    assert_eq!(o["packages"][0]["trackingNumber"], "7001");
    assert_eq!(o["lineItems"][0]["shippedQuantity"], 1);

    // Shipping more than remains, or the same tracking number again, fails.
    let (_, b) = api
        .post(
            "/order/shipment/batch/small",
            json!([ship("PO-L", "7002", 1, 5), ship("PO-L", "7001", 1, 1)]),
        )
        .await;
    clock.sim().unwrap().advance(Duration::from_secs(30));
    let l = log(&api, "/order/log", b["requestId"].as_str().unwrap()).await;
    assert_eq!(l["logs"][0]["status"], "failure");
    assert!(
        l["logs"][0]["results"][0]["description"]
            .as_str()
            .unwrap()
            .contains("only 1 remain")
    );
    assert_eq!(
        l["logs"][1]["results"][0]["code"],
        "DUPLICATE_TRACKING_NUMBER"
    );

    // The rest ships and line 2 is cancelled: completed.
    let (s, _) = api
        .post("/order/singleShipment", ship("PO-L", "7003", 1, 1))
        .await;
    assert_eq!(s, 201);
    assert!(sim.cancel_line("PO-L", 2, None));
    let o = api.order("PO-L").await;
    assert_eq!(
        (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
        (Some("shipped"), Some("completed"))
    );
    assert_eq!(o["lineItems"][1]["status"], "cancelled");
    assert_eq!(sim.shipments_for("PO-L").len(), 2);
    assert_eq!(sim.acks_for("PO-L").len(), 1);
}

#[tokio::test]
async fn cancellations_and_cancel_requests() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            async_delay: Duration::ZERO,
            ..Default::default()
        },
        &clock,
    )
    .await;
    for po in ["PO-C1", "PO-C2", "PO-C3"] {
        sim.add_order(spec(po, &[("SKU-1003", 1)])).unwrap();
    }
    let api = Api::new(&sim).await;
    assert!(sim.cancel_order("PO-C1"));
    assert_eq!(api.order("PO-C1").await["dscoStatus"], "cancelled");
    // An ACK of a cancelled order fails in the log.
    let (_, a) = api
        .post(
            "/order/acknowledge",
            json!([{"id": "PO-C1", "type": "PO_NUMBER"}, {"id": "PO-C3", "type": "PO_NUMBER"}]),
        )
        .await;
    let l = log(&api, "/order/log", a["requestId"].as_str().unwrap()).await;
    assert_eq!(l["logs"][0]["status"], "failure");
    assert_eq!(l["logs"][1]["status"], "success");
    // A cancel request on a `created` order cancels it at once…
    assert!(sim.request_cancel("PO-C2", None));
    assert_eq!(api.order("PO-C2").await["dscoStatus"], "cancelled");
    // …on an acknowledged one it only asks.
    let (s, _) = api
        .admin(
            "POST",
            "/orders/PO-C3/cancel-request",
            Some(json!({"code": "CXSC"})),
        )
        .await;
    assert_eq!(s, 200);
    let o = api.order("PO-C3").await;
    assert_eq!(o["dscoStatus"], "shipment_pending");
    assert_eq!(o["cancelRequested"], true);
    assert_eq!(o["cancelRequestedCode"], "CXSC");
    assert_eq!(o["lineItems"][0]["cancelRequested"], true);
}

#[tokio::test]
async fn paging_semantics() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let t0 = clock.now();
    for i in 0..25 {
        let mut s = spec(&format!("PO-P{i:02}"), &[("SKU-1004", 1)]);
        s.created_at = Some(t0 + TimeDelta::seconds(i));
        s.test_flag = i == 24;
        sim.add_order(s).unwrap();
    }
    clock.sim().unwrap().advance(Duration::from_secs(60));
    let api = Api::new(&sim).await;
    let until = ts(clock.now() - TimeDelta::seconds(10));

    // `until` is required, must be 5 s in the past; ordersPerPage within 10..=1000.
    let since = ts(t0);
    assert_eq!(
        api.get(&format!("/order/page?ordersCreatedSince={since}"))
            .await
            .0,
        400
    );
    assert_eq!(
        api.get(&format!(
            "/order/page?ordersCreatedSince={since}&until={}",
            ts(clock.now() - TimeDelta::seconds(2))
        ))
        .await
        .0,
        400
    );
    assert_eq!(api.get(&format!("/order/page?until={until}")).await.0, 400);
    assert_eq!(
        api.get(&format!(
            "/order/page?ordersCreatedSince={since}&until={until}&ordersPerPage=5"
        ))
        .await
        .0,
        400
    );

    // Created-since is inclusive: the order created exactly at t0 is in. Test orders hidden.
    let (s, p) = api
        .get(&format!(
            "/order/page?ordersCreatedSince={since}&until={until}&ordersPerPage=10"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(p["orders"][0]["poNumber"], "PO-P00");
    let scroll = p["scrollId"].as_str().unwrap().to_string();
    let mut n = p["orders"].as_array().unwrap().len();
    loop {
        let (_, p) = api
            .get(&format!(
                "/order/page?scrollId={scroll}&ordersCreatedSince=ignored"
            ))
            .await;
        let k = p["orders"].as_array().unwrap().len();
        if k == 0 {
            assert!(p.get("scrollId").is_none());
            break;
        }
        n += k;
    }
    assert_eq!(n, 24, "the test order is hidden");
    let (_, p) = api
        .get(&format!(
            "/order/page?ordersCreatedSince={since}&until={until}&includeTestOrders=true"
        ))
        .await;
    assert_eq!(p["orders"].as_array().unwrap().len(), 25);

    // Updated-since is exclusive.
    sim.cancel_order("PO-P03");
    let upd = sim.order("PO-P03").unwrap()["dscoLastUpdate"]
        .as_str()
        .unwrap()
        .to_string();
    clock.sim().unwrap().advance(Duration::from_secs(10));
    let until = ts(clock.now() - TimeDelta::seconds(5));
    let before = ts(DateTime::parse_from_rfc3339(&upd)
        .unwrap()
        .with_timezone(&Utc)
        - TimeDelta::seconds(1));
    let (_, p) = api
        .get(&format!(
            "/order/page?ordersUpdatedSince={before}&until={until}"
        ))
        .await;
    assert_eq!(p["orders"].as_array().unwrap().len(), 1);
    let (_, p) = api
        .get(&format!(
            "/order/page?ordersUpdatedSince={}&until={until}",
            upd.replace('+', "%2B")
        ))
        .await;
    assert_eq!(p["orders"].as_array().unwrap().len(), 0);

    // Status filter, repeated.
    let (_, p) = api
        .get(&format!(
            "/order/page?ordersCreatedSince={since}&until={until}&status=cancelled&status=shipped"
        ))
        .await;
    assert_eq!(p["orders"].as_array().unwrap().len(), 1);

    // A scroll idle past its expiry is a 404.
    let (_, p) = api
        .get(&format!(
            "/order/page?ordersCreatedSince={since}&until={until}&ordersPerPage=10"
        ))
        .await;
    let scroll = p["scrollId"].as_str().unwrap().to_string();
    clock.sim().unwrap().advance(Duration::from_secs(301));
    let (s, e) = api.get(&format!("/order/page?scrollId={scroll}")).await;
    assert_eq!(s, 404);
    assert_eq!(e["messages"][0]["code"], "notFound");
}

#[tokio::test]
async fn auth_tokens_expire_on_the_clock_and_unknown_paths_are_403() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            token_lifetime: Duration::from_secs(60),
            ..Default::default()
        },
        &clock,
    )
    .await;
    let api = Api::new(&sim).await;
    assert_eq!(api.get("/hello").await, (200, json!({"hello": "World!"})));
    clock.sim().unwrap().advance(Duration::from_secs(61));
    assert_eq!(api.get("/hello").await.0, 401);
    let r = reqwest::get(format!("{}/hello", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, v) = api.get("/order/changelog").await;
    assert_eq!(s, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Authorization header")
    );
    let r = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
}

#[tokio::test]
async fn published_rate_limits_answer_429() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let api = Api::new(&sim).await;
    for _ in 0..10 {
        assert_eq!(api.get("/order/?orderKey=poNumber&value=x").await.0, 404);
    }
    assert_eq!(api.get("/order/?orderKey=poNumber&value=x").await.0, 429);
    clock.sim().unwrap().advance(Duration::from_secs(1));
    assert_eq!(api.get("/order/?orderKey=poNumber&value=x").await.0, 404);
    // Batches have no published rate.
    for _ in 0..30 {
        assert_eq!(
            api.post(
                "/inventory/batch/small",
                json!([{"sku": "SKU-1001", "warehouses": []}])
            )
            .await
            .0,
            202
        );
    }
    let off = start(
        DscoSimConfig {
            rate_limits: false,
            ..Default::default()
        },
        &clock,
    )
    .await;
    let api = Api::new(&off).await;
    for _ in 0..20 {
        assert_eq!(api.get("/order/?orderKey=poNumber&value=x").await.0, 404);
    }
}

#[tokio::test]
async fn faults_errors_storms_latency_and_token_expiry() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let api = Api::new(&sim).await;
    sim.inject_fault(Endpoint::Hello, Fault::HttpStatus { status: 500 }.times(1));
    assert_eq!(api.get("/hello").await.0, 500);
    assert_eq!(api.get("/hello").await.0, 200);
    let (s, _) = api
        .admin(
            "POST",
            "/faults",
            Some(json!({"endpoint": "hello", "kind": "throttle_storm", "times": 2})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(api.get("/hello").await.0, 429);
    assert_eq!(api.get("/hello").await.0, 429);
    assert_eq!(api.get("/hello").await.0, 200);

    // Latency is wall-clock: a client with a shorter timeout gives up first.
    sim.inject_fault(Endpoint::Any, Fault::Latency { ms: 3000 }.times(1));
    let r = api
        .http
        .get(format!("{}/hello", api.base))
        .header("authorization", format!("bearer {}", api.token))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());

    let (s, _) = api
        .admin(
            "POST",
            "/faults",
            Some(json!({"endpoint": "*", "kind": "expire_tokens"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(api.get("/hello").await.0, 401);
    let (s, calls) = api.admin("GET", "/calls", None).await;
    assert_eq!(s, 200);
    assert_eq!(calls["hello"], 7);
    assert_eq!(sim.calls(Endpoint::Token), 1);
    let (_, only) = api.admin("GET", "/calls?endpoint=token", None).await;
    assert_eq!(only, json!({"token": 1}));
    assert_eq!(api.admin("DELETE", "/faults", None).await.0, 200);
}

#[tokio::test]
async fn hang_after_apply_applies_the_write() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            async_delay: Duration::ZERO,
            ..Default::default()
        },
        &clock,
    )
    .await;
    sim.add_order(spec("PO-H", &[("SKU-1005", 1)])).unwrap();
    let api = Api::new(&sim).await;
    sim.inject_fault(Endpoint::SingleShipment, Fault::ApplyThenTimeout.times(1));
    let r = api
        .http
        .post(format!("{}/order/singleShipment", api.base))
        .header("authorization", format!("bearer {}", api.token))
        .json(&ship("PO-H", "7H", 1, 1))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(sim.shipment_by_tracking("7H").unwrap().0, "PO-H");
    sim.inject_fault(Endpoint::Hello, Fault::Hang.times(1));
    let r = api
        .http
        .get(format!("{}/hello", api.base))
        .header("authorization", format!("bearer {}", api.token))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
}

#[tokio::test]
async fn admin_http_api() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            async_delay: Duration::ZERO,
            ..Default::default()
        },
        &clock,
    )
    .await;
    let api = Api::new(&sim).await;
    let (s, o) = api.admin("POST", "/orders", Some(json!({"po_number": "PO-ADM", "retailer_id": "1000023456",
        "warehouse_code": "US-TX-01", "service_level": "UPCG", "lines": [{"sku": "SKU-1006", "quantity": 1}]}))).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["lineItems"][0]["expectedCost"], json!(22.4));
    assert_eq!(api.admin("POST", "/orders", Some(json!({"po_number": "PO-ADM", "retailer_id": "1000023456", "lines": [{"sku": "SKU-1006", "quantity": 1}]}))).await.0, 400);
    let (s, g) = api
        .admin(
            "POST",
            "/orders/generate",
            Some(json!({"count": 3, "seed": 4, "gaps": ["unknown_retailer"]})),
        )
        .await;
    assert_eq!(s, 201);
    let pos = g["poNumbers"].as_array().unwrap();
    assert_eq!(pos.len(), 3);
    let (_, first) = api
        .admin(
            "GET",
            &format!("/orders/{}", pos[0].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(first["dscoRetailerId"], sim::dsco::UNKNOWN_RETAILER_ID);

    api.post(
        "/order/acknowledge",
        json!([{"id": "PO-ADM", "type": "PO_NUMBER"}]),
    )
    .await;
    api.post("/order/shipment/batch/small", json!([{"poNumber": "PO-ADM", "shipments": [{"trackingNumber": "1ZADM",
        "shipCarrier": "UPS", "shippingServiceLevelCode": "UPCG", "lineItems": [{"sku": "SKU-1006", "quantity": 1}]}]}])).await;
    api.post(
        "/invoice/batch/small",
        json!([{"invoiceId": "PO-ADM", "poNumber": "PO-ADM", "totalAmount": 22.4,
        "lineItems": [{"sku": "SKU-1006", "quantity": 1, "unitPrice": 22.4}]}]),
    )
    .await;
    api.post("/inventory/batch/small", json!([{"sku": "SKU-1006", "quantityAvailable": 4, "warehouses": [{"code": "US-TX-01", "quantity": 4}]}])).await;
    assert_eq!(
        api.admin("GET", "/orders/PO-ADM/acks", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.admin("GET", "/orders/PO-ADM/shipments", None).await.1[0]["trackingNumber"],
        "1ZADM"
    );
    assert_eq!(
        api.admin("GET", "/shipments/1ZADM", None).await.1["poNumber"],
        "PO-ADM"
    );
    assert_eq!(
        api.admin("GET", "/orders/PO-ADM/invoices", None).await.1[0]["invoiceId"],
        "PO-ADM"
    );
    assert_eq!(
        api.admin("GET", "/inventory/SKU-1006", None).await.1["quantityAvailable"],
        4
    );
    assert_eq!(api.admin("GET", "/inventory/SKU-9999", None).await.0, 404);
    assert_eq!(
        api.admin(
            "POST",
            "/orders/PO-ADM/lines/1/cancel",
            Some(json!({"quantity": 1}))
        )
        .await
        .0,
        200
    );
    assert_eq!(api.admin("POST", "/orders/NOPE/cancel", None).await.0, 404);
    let (_, o) = api.admin("GET", "/orders/PO-ADM", None).await;
    assert_eq!(o["dscoLifecycle"], "completed");
    assert_eq!(api.admin("GET", "/nothing", None).await.0, 404);
}

#[test]
fn generated_orders_use_the_shared_defaults() {
    let mut g = Generator::new(11);
    for _ in 0..200 {
        let o = g.order(&[]);
        let r = defaults::RETAILERS
            .iter()
            .find(|r| Some(r.dsco_retailer_id) == o.retailer_id.as_deref())
            .expect("known retailer");
        assert!(
            defaults::WAREHOUSES
                .iter()
                .any(|w| Some(w.dsco_code) == o.warehouse_code.as_deref())
        );
        assert!(
            r.allowed_service_levels
                .contains(&o.service_level.as_deref().unwrap())
        );
        assert_eq!(o.lines.len(), 1);
        assert_eq!(o.lines[0].quantity, 1);
        assert!(!o.lines[0].price_missing);
        assert!(
            defaults::PRODUCTS
                .iter()
                .any(|p| p.dsco_sku == o.lines[0].sku)
        );
        assert!(o.ship_to.as_ref().unwrap().postal.is_some());
        assert!(!o.test_flag);
    }
    let mut g = Generator::new(11);
    let gaps = [
        Gap::UnknownRetailer,
        Gap::UnknownWarehouse,
        Gap::MissingAddressField,
        Gap::MissingPrice,
        Gap::QuantityAboveOne,
        Gap::SeveralLines,
        Gap::TestOrder,
    ];
    let o = g.order(&gaps);
    assert_eq!(
        o.retailer_id.as_deref(),
        Some(sim::dsco::UNKNOWN_RETAILER_ID)
    );
    assert_eq!(
        o.warehouse_code.as_deref(),
        Some(sim::dsco::UNKNOWN_WAREHOUSE_CODE)
    );
    assert!(o.ship_to.unwrap().postal.is_none());
    assert!(o.lines[0].price_missing && o.lines[0].quantity >= 2);
    assert!(o.lines.len() >= 2);
    assert!(o.test_flag);
    let o = g.order(&[Gap::DisallowedServiceLevel]);
    let r = defaults::RETAILERS
        .iter()
        .find(|r| Some(r.dsco_retailer_id) == o.retailer_id.as_deref())
        .unwrap();
    assert!(
        !r.allowed_service_levels
            .contains(&o.service_level.as_deref().unwrap())
    );
    // Deterministic.
    assert_eq!(
        format!("{:?}", Generator::new(3).order(&[])),
        format!("{:?}", Generator::new(3).order(&[]))
    );
}

#[tokio::test]
async fn generated_orders_render_completely_or_with_the_requested_gap() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let pos = sim.generate_orders(5, 1);
    let o = sim.order(&pos[0]).unwrap();
    for k in [
        "poNumber",
        "dscoOrderId",
        "dscoRetailerId",
        "requestedWarehouseCode",
        "shippingServiceLevelCode",
        "shipCarrier",
    ] {
        assert!(o[k].is_string(), "{k}");
    }
    assert!(o["shipping"]["postal"].is_string() && o["shipping"]["address"].is_array());
    assert!(
        o["lineItems"][0]["expectedCost"].is_number()
            && o["lineItems"][0]["consumerPrice"].is_number()
    );
    for (initial, status, lifecycle) in [
        (
            InitialState::Acknowledged,
            "shipment_pending",
            "acknowledged",
        ),
        (InitialState::Shipped, "shipped", "completed"),
        (InitialState::Cancelled, "cancelled", "completed"),
    ] {
        let po = sim.generate_orders_in(1, 3, &[], initial).remove(0);
        let o = sim.order(&po).unwrap();
        assert_eq!(
            (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
            (Some(status), Some(lifecycle))
        );
        if initial == InitialState::Shipped {
            assert!(o["packages"][0]["trackingNumber"].is_string());
        }
    }
    let gap = sim.generate_orders_with(1, 2, &[Gap::MissingPrice, Gap::MissingAddressField]);
    let o = sim.order(&gap[0]).unwrap();
    assert!(o["lineItems"][0].get("expectedCost").is_none());
    assert!(o["shipping"].get("postal").is_none());
}

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/dsco/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn seed_files_in_json_and_toml() {
    let c = DscoSimConfig::from_seed_file(fixture_path("seed.toml")).unwrap();
    assert_eq!(c.client_id, "id-1");
    assert_eq!(c.static_token.as_deref(), Some("tok"));
    assert_eq!(c.async_delay, Duration::from_millis(2500));
    assert_eq!(
        c.scroll_expiry,
        Duration::from_secs(300),
        "defaults fill the rest"
    );
    let clock = clock();
    let sim = start(c, &clock).await;
    assert_eq!(sim.order_count(), 5);
    assert_eq!(sim.order("PO-SEED").unwrap()["lineItems"][0]["quantity"], 2);
    let r = reqwest::Client::new()
        .get(format!("{}/hello", sim.base_url()))
        .header("authorization", "bearer tok")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the static token from the seed file works");

    let c = DscoSimConfig::from_seed_file(fixture_path("seed.json")).unwrap();
    assert!(!c.rate_limits);
    assert_eq!(c.token_lifetime, Duration::from_secs(60));
    let sim = start(c, &clock).await;
    assert_eq!(sim.order_count(), 3);
    assert!(
        sim.order("PO-JSON-1").unwrap()["lineItems"][0]
            .get("expectedCost")
            .is_none()
    );

    let bad = std::env::temp_dir().join(format!("dsco-sim-bad-seed-{}.json", std::process::id()));
    std::fs::write(&bad, r#"{"unknown_key": 1}"#).unwrap();
    assert!(DscoSimConfig::from_seed_file(&bad).is_err());
    std::fs::remove_file(&bad).ok();
    assert!(DscoSimConfig::from_seed_file(fixture_path("missing.toml")).is_err());
}

/// Keys of a JSON object, for comparing the simulator's payload with the reference's example.
fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn rendered_orders_carry_every_field_of_the_reference_example() {
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_path("order_example.json")).unwrap())
            .unwrap();
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let po = sim.generate_orders(1, 1).remove(0);
    let o = sim.order(&po).unwrap();
    let missing: Vec<_> = keys(&example).difference(&keys(&o)).cloned().collect();
    assert!(missing.is_empty(), "order lacks {missing:?}");
    let mut ship_keys = keys(&example["shipping"]);
    if o["shipping"]["address"].as_array().unwrap().len() < 2 {
        ship_keys.remove("address2");
    }
    let missing: Vec<_> = ship_keys
        .difference(&keys(&o["shipping"]))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "shipping lacks {missing:?}");
    // `activity` is left out on purpose (see the simulator's model).
    let mut line_keys = keys(&example["lineItems"][0]);
    line_keys.remove("activity");
    let missing: Vec<_> = line_keys
        .difference(&keys(&o["lineItems"][0]))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "line lacks {missing:?}");
    // Same JSON types where both have a value.
    for (k, v) in example.as_object().unwrap() {
        let ours = &o[k];
        if !v.is_null() && !ours.is_null() {
            assert_eq!(
                std::mem::discriminant(v),
                std::mem::discriminant(ours),
                "{k}: {v} vs {ours}"
            );
        }
    }
}

#[tokio::test]
async fn invoices_are_checked_against_shipments() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            async_delay: Duration::ZERO,
            ..Default::default()
        },
        &clock,
    )
    .await;
    sim.add_order(spec("PO-I", &[("SKU-1007", 2)])).unwrap();
    let api = Api::new(&sim).await;
    let inv = |id: &str, q: u32| {
        json!({"invoiceId": id, "poNumber": "PO-I", "totalAmount": 11.05,
        "lineItems": [{"lineNumber": 1, "quantity": q, "unitPrice": 11.05}]})
    };
    let (s, e) = api.post("/invoice", inv("I-0", 1)).await;
    assert_eq!(s, 400);
    assert!(
        e["messages"][0]["description"]
            .as_str()
            .unwrap()
            .contains("available-to-invoice = 0")
    );
    api.post("/order/singleShipment", ship("PO-I", "7I", 1, 1))
        .await;
    let (_, b) = api
        .post(
            "/invoice/batch/small",
            json!([inv("I-1", 2), inv("I-2", 1)]),
        )
        .await;
    let l = log(&api, "/invoice/log", b["requestId"].as_str().unwrap()).await;
    assert_eq!(l["logs"][0]["status"], "failure", "more than shipped");
    assert_eq!(l["logs"][1]["status"], "success");
    let (_, again) = api
        .post("/invoice/batch/small", json!([inv("I-2", 1)]))
        .await;
    let l = log(&api, "/invoice/log", again["requestId"].as_str().unwrap()).await;
    assert_eq!(l["logs"][0]["results"][0]["code"], "DUPLICATE_INVOICE");
    let (_, found) = api.get("/invoice?key=poNumber&value=PO-I").await;
    assert_eq!(found["invoices"].as_array().unwrap().len(), 1);
    // A body over 5 MB is refused whole.
    let big = vec![json!({"sku": "X".repeat(1000), "warehouses": []}); 6000];
    assert_eq!(
        api.post("/inventory/batch/small", Value::Array(big))
            .await
            .0,
        413
    );
}

#[tokio::test]
async fn change_log_pages_and_status_filter() {
    let clock = clock();
    let sim = start(
        DscoSimConfig {
            log_page_size: 2,
            ..Default::default()
        },
        &clock,
    )
    .await;
    let api = Api::new(&sim).await;
    let items: Vec<Value> = (0..5)
        .map(|i| {
            json!({"sku": if i == 0 { "SKU-1001".to_string() } else { format!("NEW-{i}") },
            "quantityAvailable": 1, "warehouses": [{"code": "US-CA-01", "quantity": 1}]})
        })
        .collect();
    let (_, b) = api
        .post("/inventory/batch/small", Value::Array(items))
        .await;
    let id = b["requestId"].as_str().unwrap();
    let l = log(&api, "/inventory/log", id).await;
    assert_eq!(l["status"], "PROCESSING");
    clock.sim().unwrap().advance(Duration::from_secs(30));
    let (_, first) = api
        .get(&format!("/inventory/log?requestId={id}&status=failure"))
        .await;
    assert_eq!(first["status"], "COMPLETED");
    let mut n = first["logs"].as_array().unwrap().len();
    let mut scroll = first["scrollId"].as_str().map(str::to_string);
    while let Some(s) = scroll {
        let (_, p) = api.get(&format!("/inventory/log?scrollId={s}")).await;
        n += p["logs"].as_array().unwrap().len();
        scroll = p["scrollId"].as_str().map(str::to_string);
    }
    assert_eq!(
        n, 4,
        "four unknown SKUs fail without skipItemsThatDontExist"
    );
    // The order log does not show inventory requests.
    assert_eq!(
        log(&api, "/order/log", id).await["logs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(api.get("/order/log").await.0, 400);
}

#[tokio::test]
async fn a_line_without_sku_and_an_amended_line() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let api = Api::new(&sim).await;
    // An empty SKU: neither `sku` nor `partnerSku` on the wire; the other line is untouched.
    sim.add_order(spec("PO-NOKEY", &[("", 1), ("SKU-1001", 1)]))
        .unwrap();
    let o = api.order("PO-NOKEY").await;
    let l0 = o["lineItems"][0].as_object().unwrap();
    assert!(
        !l0.contains_key("sku") && !l0.contains_key("partnerSku"),
        "{l0:?}"
    );
    assert_eq!(o["lineItems"][1]["sku"], "SKU-1001");
    assert_eq!(o["lineItems"][1]["partnerSku"], "SKU-1001");
    assert_eq!(o["lineItems"][1]["expectedCost"], json!(4.2));

    // Line 1 gets a partnerSku and a UPC (admin HTTP), line 2 keeps only consumerPriceWithTax.
    let (s, _) = api
        .admin(
            "POST",
            "/orders/PO-NOKEY/lines/1",
            Some(json!({"partner_sku": "RET-77", "upc": "012345678905"})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(sim.amend_line(
        "PO-NOKEY",
        2,
        &LineAmend {
            drop_prices: true,
            consumer_price_with_tax: Some("14.03".parse().unwrap()),
            ..LineAmend::default()
        }
    ));
    let o = api.order("PO-NOKEY").await;
    assert_eq!(o["lineItems"][0]["partnerSku"], "RET-77");
    assert_eq!(o["lineItems"][0]["upc"], "012345678905");
    assert!(o["lineItems"][0].get("sku").is_none());
    let l1 = o["lineItems"][1].as_object().unwrap();
    for k in ["expectedCost", "consumerPrice", "retailPrice"] {
        assert!(!l1.contains_key(k), "{k} dropped");
    }
    assert_eq!(l1["consumerPriceWithTax"], json!(14.03));
    assert!(!sim.amend_line("PO-NOKEY", 9, &LineAmend::default()));
    let (s, _) = api
        .admin("POST", "/orders/PO-NOPE/lines/1", Some(json!({})))
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn support_removes_the_acknowledgement() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let api = Api::new(&sim).await;
    sim.add_order(OrderSpec {
        initial: InitialState::Acknowledged,
        ..spec("PO-RS", &[("SKU-1001", 1)])
    })
    .unwrap();
    sim.add_order(spec("PO-NEW", &[("SKU-1001", 1)])).unwrap();
    let o = api.order("PO-RS").await;
    assert_eq!(o["dscoStatus"], "shipment_pending");
    let before = o["dscoLastUpdate"].clone();
    clock.sim().unwrap().advance(Duration::from_secs(60));
    assert!(sim.remove_status("PO-RS"));
    let o = api.order("PO-RS").await;
    assert_eq!(
        (o["dscoStatus"].as_str(), o["dscoLifecycle"].as_str()),
        (Some("created"), Some("created"))
    );
    assert_ne!(o["dscoLastUpdate"], before, "an update the pull sees");
    // Only an acknowledged order has a status to remove.
    assert!(!sim.remove_status("PO-RS"));
    let (s, _) = api
        .admin("POST", "/orders/PO-NEW/remove-status", None)
        .await;
    assert_eq!(s, 404);
    // Acknowledged again through the API: shipment_pending again.
    let (s, _) = api
        .post(
            "/order/acknowledge",
            json!([{"id": "PO-RS", "type": "PO_NUMBER"}]),
        )
        .await;
    assert_eq!(s, 202);
    clock.sim().unwrap().advance(Duration::from_secs(30));
    assert_eq!(api.order("PO-RS").await["dscoStatus"], "shipment_pending");
    let (s, _) = api.admin("POST", "/orders/PO-RS/remove-status", None).await;
    assert_eq!(s, 200);
    assert_eq!(api.order("PO-RS").await["dscoStatus"], "created");
}

/// data defects (issue 13): keys laid over the rendered order or line, through the typed admin
/// methods and the HTTP admin routes; `null` removes a key; the order counts as updated.
#[tokio::test]
async fn wire_patches_shape_odd_orders() {
    let clock = clock();
    let sim = start(DscoSimConfig::default(), &clock).await;
    let api = Api::new(&sim).await;
    sim.add_order(spec("PO-ODD", &[("SKU-1001", 1), ("SKU-1002", 1)]))
        .unwrap();
    let before = api.order("PO-ODD").await["dscoLastUpdate"].clone();
    clock.sim().unwrap().advance(Duration::from_secs(60));
    assert!(sim.patch_order(
        "PO-ODD",
        json!({"dscoStatus": "on_hold", "currencyCode": null})
    ));
    let (s, _) = api
        .admin(
            "POST",
            "/orders/PO-ODD/lines/2/wire",
            Some(json!({"lineNumber": 1, "quantity": "two"})),
        )
        .await;
    assert_eq!(s, 200);
    let o = api.order("PO-ODD").await;
    assert_eq!(o["dscoStatus"], "on_hold");
    assert!(o.get("currencyCode").is_none(), "null removes the key");
    assert_eq!(o["lineItems"][1]["lineNumber"], 1);
    assert_eq!(o["lineItems"][1]["quantity"], "two");
    assert_eq!(o["lineItems"][0]["quantity"], 1, "the other line as it was");
    assert_ne!(o["dscoLastUpdate"], before, "an update the pull sees");
    let (s, _) = api
        .admin(
            "POST",
            "/orders/PO-ODD/wire",
            Some(json!({"poNumber": null})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(sim.order("PO-ODD").unwrap().get("poNumber").is_none());
    assert!(
        !sim.patch_order("PO-NONE", json!({"x": 1})),
        "unknown order"
    );
    assert!(
        !sim.patch_line("PO-ODD", 9, json!({"x": 1})),
        "unknown line"
    );
    assert!(!sim.patch_order("PO-ODD", json!([1])), "not an object");
    let (s, _) = api
        .admin("POST", "/orders/PO-NONE/wire", Some(json!({})))
        .await;
    assert_eq!(s, 404);
}
