//! The official OpenAPI document (OpenAPI 3.1, JSON Schema 2020-12, a copy in
//! `tests/fixtures/dsco-openapi.yaml`) validates every response the simulator gives for every
//! implemented operation and every request body the client sends.
//!
//! The document marks optional values with `nullable: true`, which JSON Schema ignores; it is
//! rewritten into a type that also allows `null`, since real payloads carry nulls.

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sim::dsco::{DscoSimConfig, LineSpec, OrderSpec};

use crate::common::*;

static DOC: LazyLock<Value> = LazyLock::new(|| {
    let text = include_str!("fixtures/dsco-openapi.yaml");
    let mut doc: Value = serde_yaml_ng::from_str(text).expect("the OpenAPI document parses");
    rewrite_nullable(&mut doc);
    doc
});

/// `nullable: true` → the same schema that also accepts `null`.
fn rewrite_nullable(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(rewrite_nullable),
        Value::Object(m) => {
            m.values_mut().for_each(rewrite_nullable);
            if m.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(e) = m.get_mut("enum").and_then(Value::as_array_mut)
                    && !e.contains(&Value::Null)
                {
                    e.push(Value::Null);
                }
                match m.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        m.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(ts)) => {
                        if !ts.contains(&json!("null")) {
                            ts.push(json!("null"));
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        let mut wrapped = Map::new();
                        wrapped.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                        *m = wrapped;
                    }
                }
            }
        }
        _ => {}
    }
}

fn operation(path: &str, method: &str) -> &'static Value {
    let op = &DOC["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is in the document");
    op
}

fn response_schema(path: &str, method: &str, status: u16) -> &'static Value {
    let s = &operation(path, method)["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        s.is_object(),
        "{method} {path} documents a {status} JSON body"
    );
    s
}

fn request_schema(path: &str, method: &str) -> &'static Value {
    let s = &operation(path, method)["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        s.is_object(),
        "{method} {path} documents a JSON request body"
    );
    s
}

fn check(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::draft202012::options()
        .build(schema)
        .unwrap_or_else(|e| panic!("schema for {what} compiles: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the OpenAPI document:\n{}",
        errors.join("\n")
    );
}

#[test]
fn nullable_rewrite_allows_null() {
    let mut s = json!({"type": "object", "properties": {
        "a": {"type": "string", "nullable": true},
        "b": {"type": "string", "enum": ["x"], "nullable": true},
        "c": {"oneOf": [{"type": "string"}], "nullable": true}
    }});
    rewrite_nullable(&mut s);
    check(&s, &json!({"a": null, "b": null, "c": null}), "rewritten");
    let strict = jsonschema::draft202012::new(&s).unwrap();
    assert!(!strict.is_valid(&json!({"a": 1})));
}

struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        }
        .header("authorization", format!("bearer {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn simulator_responses_match_the_document() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.generate_orders(20, 5);
    sim.add_order(OrderSpec {
        po_number: Some("PO-V".into()),
        retailer_id: Some("1000012345".into()),
        warehouse_code: Some("US-CA-01".into()),
        service_level: Some("UPCG".into()),
        lines: vec![
            LineSpec {
                sku: "SKU-1001".into(),
                quantity: 2,
                ..Default::default()
            },
            LineSpec {
                sku: "SKU-1002".into(),
                quantity: 1,
                price_missing: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    })
    .unwrap();
    clock.sim().unwrap().advance(Duration::from_secs(10));
    let http = reqwest::Client::new();
    let base = sim.base_url();

    // Token.
    let resp = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "dsco-sim-client"),
            ("client_secret", "dsco-sim-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tok: Value = resp.json().await.unwrap();
    check(
        response_schema("/oauth2/token", "post", 200),
        &tok,
        "token 200",
    );
    for (secret, grant, status) in [
        ("bad", "client_credentials", 401u16),
        ("x", "password", 400),
    ] {
        let r = http
            .post(format!("{base}/oauth2/token"))
            .form(&[
                ("grant_type", grant),
                ("client_id", "dsco-sim-client"),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        let v: Value = r.json().await.unwrap();
        check(
            response_schema("/oauth2/token", "post", status),
            &v,
            "token error",
        );
    }
    let raw = Raw {
        http,
        base,
        token: tok["access_token"].as_str().unwrap().into(),
    };

    let (s, v) = raw.call("GET", "/hello", None).await;
    assert_eq!(s, 200);
    check(response_schema("/hello", "get", 200), &v, "hello");

    // Order pages, including the empty one that ends the scroll.
    let since = "2026-01-01T00:00:00Z";
    let until = chrono::Utc::now().min(clock.now() - chrono::TimeDelta::seconds(6));
    let until = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (s, page) = raw
        .call(
            "GET",
            &format!("/order/page?ordersCreatedSince={since}&until={until}&ordersPerPage=10"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["orders"].as_array().unwrap().len(), 10);
    check(
        response_schema("/order/page", "get", 200),
        &page,
        "order page",
    );
    let scroll = page["scrollId"].as_str().unwrap().to_string();
    loop {
        let (s, p) = raw
            .call("GET", &format!("/order/page?scrollId={scroll}"), None)
            .await;
        assert_eq!(s, 200);
        check(
            response_schema("/order/page", "get", 200),
            &p,
            "order page (scroll)",
        );
        if p["orders"].as_array().unwrap().is_empty() {
            break;
        }
    }

    let (s, one) = raw
        .call("GET", "/order/?orderKey=poNumber&value=PO-V", None)
        .await;
    assert_eq!(s, 200);
    check(response_schema("/order/", "get", 200), &one, "order");
    // returnMultiple gives an array of the documented Order.
    let (_, many) = raw
        .call(
            "GET",
            "/order/?orderKey=poNumber&value=PO-V&returnMultiple=true",
            None,
        )
        .await;
    for o in many.as_array().unwrap() {
        check(
            response_schema("/order/", "get", 200),
            o,
            "order (returnMultiple)",
        );
    }

    // Writes: async (202) and sync (201), then the logs, pending and completed.
    let ack = json!([{"id": "PO-V", "type": "PO_NUMBER", "supplierOrderNumber": "LX-1"}, {"id": "NOPE", "type": "PO_NUMBER"}]);
    let (s, a) = raw.call("POST", "/order/acknowledge", Some(ack)).await;
    assert_eq!(s, 202);
    check(
        response_schema("/order/acknowledge", "post", 202),
        &a,
        "ack 202",
    );
    let ack_id = a["requestId"].as_str().unwrap().to_string();
    let (_, pending) = raw
        .call("GET", &format!("/order/log?requestId={ack_id}"), None)
        .await;
    assert_eq!(pending["logs"][0]["status"], "pending");
    check(
        response_schema("/order/log", "get", 200),
        &pending,
        "order log (pending)",
    );

    let ship = |tracking: &str, level: &str, qty: u32| {
        json!({
            "poNumber": "PO-V",
            "shipments": [{"trackingNumber": tracking, "shipDate": "2026-01-05T08:00:00Z", "shipCarrier": "UPS",
                "shipMethod": "Ground", "shippingServiceLevelCode": level, "warehouseCode": "US-CA-01",
                "lineItems": [{"lineNumber": 1, "sku": "SKU-1001", "quantity": qty}]}]
        })
    };
    let (s, b) = raw
        .call(
            "POST",
            "/order/shipment/batch/small",
            Some(json!([ship("1ZV1", "UPCG", 1), ship("1ZV2", "XXXX", 1)])),
        )
        .await;
    assert_eq!(s, 202);
    check(
        response_schema("/order/shipment/batch/small", "post", 202),
        &b,
        "shipment batch 202",
    );
    let ship_id = b["requestId"].as_str().unwrap().to_string();
    let (s, single) = raw
        .call(
            "POST",
            "/order/singleShipment",
            Some(ship("1ZV3", "FECG", 1)),
        )
        .await;
    assert_eq!(s, 201, "{single}");
    check(
        response_schema("/order/singleShipment", "post", 201),
        &single,
        "single shipment 201",
    );

    let invoice = |id: &str, qty: u32| {
        json!({
            "invoiceId": id, "poNumber": "PO-V", "totalAmount": 4.20, "currencyCode": "USD",
            "lineItems": [{"lineNumber": 1, "sku": "SKU-1001", "quantity": qty, "unitPrice": 4.20}]
        })
    };
    let (s, i) = raw
        .call("POST", "/invoice", Some(invoice("INV-1", 1)))
        .await;
    assert_eq!(s, 201, "{i}");
    check(response_schema("/invoice", "post", 201), &i, "invoice 201");
    let (s, ib) = raw
        .call(
            "POST",
            "/invoice/batch/small",
            Some(json!([invoice("INV-2", 5)])),
        )
        .await;
    assert_eq!(s, 202);
    check(
        response_schema("/invoice/batch/small", "post", 202),
        &ib,
        "invoice batch 202",
    );
    let inv_id = ib["requestId"].as_str().unwrap().to_string();
    let (s, found) = raw
        .call("GET", "/invoice?key=invoiceId&value=INV-1", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(found["invoices"].as_array().unwrap().len(), 1);
    check(
        response_schema("/invoice", "get", 200),
        &found,
        "invoice get",
    );

    let stock = json!([
        {"sku": "SKU-1001", "status": "in-stock", "quantityAvailable": 3, "warehouses": [{"code": "US-CA-01", "quantity": 3}]},
        {"sku": "SKU-1002", "status": "in-stock", "quantityAvailable": 9, "warehouses": [{"code": "US-CA-01", "quantity": 3}]},
        {"sku": "UNKNOWN", "status": "in-stock", "quantityAvailable": 1, "warehouses": [{"code": "US-CA-01", "quantity": 1}]}
    ]);
    let (s, st) = raw
        .call(
            "POST",
            "/inventory/batch/small?skipItemsThatDontExist=true",
            Some(stock),
        )
        .await;
    assert_eq!(s, 202);
    check(
        response_schema("/inventory/batch/small", "post", 202),
        &st,
        "inventory batch 202",
    );
    let stock_id = st["requestId"].as_str().unwrap().to_string();

    clock.sim().unwrap().advance(Duration::from_secs(60));
    for (path, id) in [
        ("/order/log", &ack_id),
        ("/order/log", &ship_id),
        ("/invoice/log", &inv_id),
        ("/inventory/log", &stock_id),
    ] {
        let (s, log) = raw
            .call("GET", &format!("{path}?requestId={id}"), None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(log["status"], "COMPLETED");
        let statuses: Vec<&str> = log["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["status"].as_str().unwrap())
            .collect();
        assert!(statuses.contains(&"failure"), "{path}: {statuses:?}");
        check(response_schema(path, "get", 200), &log, path);
    }
    // The order after ACK, shipments and an invoice.
    let (_, after) = raw
        .call("GET", "/order/?orderKey=poNumber&value=PO-V", None)
        .await;
    assert_eq!(after["dscoStatus"], "shipped");
    check(
        response_schema("/order/", "get", 200),
        &after,
        "order after writes",
    );
}

#[tokio::test]
async fn client_request_bodies_match_the_document() {
    let bodies = crate::contract::captured_bodies().await;
    let mut seen = Vec::new();
    for (path, body) in &bodies {
        let schema = request_schema(path, "post");
        check(schema, body, &format!("client body for {path}"));
        seen.push(path.as_str());
    }
    for p in [
        "/order/acknowledge",
        "/order/shipment/batch/small",
        "/order/singleShipment",
        "/invoice/batch/small",
        "/invoice",
        "/inventory/batch/small",
    ] {
        assert!(seen.contains(&p), "{p} was checked");
    }
}
