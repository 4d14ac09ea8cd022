//! wiremock contract tests: each call's path, query, auth header and body.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use clock::Clock;
use dsco::{
    Auth, DscoClient, DscoConfig, DscoError, InventoryItem, Invoice, InvoiceLine, ItemState,
    OrderAck, OrderIdType, OrderKey, OrderQuery, RequestId, RequestKind, RetryPolicy, Shipment,
    ShipmentLine, ShipmentsForOrder, StatusFilter, WarehouseQuantity,
};
use serde_json::{Value, json};
use wiremock::matchers::{
    body_json, body_string, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "static-token-123";

fn clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap())
}

fn config(server: &MockServer, auth: Auth) -> DscoConfig {
    let mut c = DscoConfig::new(format!("{}/api/v3", server.uri()), auth);
    c.retry = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    c
}

fn static_client(server: &MockServer) -> DscoClient {
    DscoClient::new(
        config(server, Auth::StaticToken(TOKEN.to_string().into())),
        clock(),
    )
    .unwrap()
}

fn accepted(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "status": "pending", "requestId": id, "eventDate": "2026-01-05T08:00:00Z"
    }))
}

fn auth_header() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("bearer {TOKEN}").as_str())
}

#[tokio::test]
async fn oauth_token_is_form_encoded_cached_and_refreshed_once_on_401() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "grant_type=client_credentials&client_id=cid&client_secret=s%26cret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(2)
        .mount(&server)
        .await;
    // First two hellos succeed with the cached token; the third gets a 401 once.
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .and(header("authorization", "bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hello": "World!"})))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hello": "World!"})))
        .expect(1)
        .mount(&server)
        .await;
    let auth = Auth::OAuth2 {
        client_id: "cid".into(),
        client_secret: "s&cret".to_string().into(),
    };
    let client = DscoClient::new(config(&server, auth), clock()).unwrap();
    client.hello().await.unwrap();
    client.hello().await.unwrap();
    client.hello().await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "t", "expires_in": 3600}))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hello": "World!"})))
        .mount(&server)
        .await;
    let auth = Auth::OAuth2 {
        client_id: "a".into(),
        client_secret: "b".to_string().into(),
    };
    let client = DscoClient::new(config(&server, auth), clock()).unwrap();
    let (a, b, c) = tokio::join!(client.hello(), client.hello(), client.hello());
    a.unwrap();
    b.unwrap();
    c.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn order_page_query_then_scroll_id_only() {
    let server = MockServer::start().await;
    let clock = clock();
    Mock::given(method("GET"))
        .and(path("/api/v3/order/page"))
        .and(auth_header())
        .and(header("accept", "application/json"))
        .and(query_param("ordersUpdatedSince", "2026-01-05T07:00:00.000Z"))
        .and(query_param("until", "2026-01-05T07:59:50.000Z"))
        .and(query_param("ordersPerPage", "1000"))
        .and(query_param("status", "created"))
        .and(query_param_is_missing("scrollId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "scrollId": "S1",
            "orders": [{"poNumber": "PO-1", "dscoOrderId": "1"}, {"poNumber": "PO-2", "dscoOrderId": 2}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/page"))
        .and(query_param("scrollId", "S1"))
        .and(query_param_is_missing("until"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    let now = clock.now();
    let mut q = OrderQuery::updated(now - TimeDelta::hours(1), now - TimeDelta::seconds(10));
    q.statuses = vec![StatusFilter::Created, StatusFilter::ShipmentPending];
    let orders = client
        .scroll_orders(q)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[1].dsco_order_id.as_deref(), Some("2"));
    // The repeated status parameter is sent once per value.
    let reqs = server.received_requests().await.unwrap();
    let statuses: Vec<_> = reqs[0]
        .url
        .query_pairs()
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(statuses, vec!["created", "shipment_pending"]);
    server.verify().await;
}

/// Orders come back as the text DSCO sent; a page the typed reading refuses (a key twice, here)
/// is read leniently; non-object orders and an `orders` that is not a list are dropped.
#[tokio::test]
async fn order_pages_keep_the_text_and_read_odd_pages_leniently() {
    let server = MockServer::start().await;
    let clock = clock();
    let pages = [
        // As sent: spacing and key order kept.
        r#"{"scrollId": "S1", "orders": [ {"poNumber" : "PO-1", "dscoOrderId": "1", "x": [1, 2]}, 7 ]}"#,
        // `scrollId` twice: the last one counts, as in any JSON reading.
        r#"{"scrollId": "S0", "scrollId": "S2", "orders": [{"dscoOrderId": 2, "poNumber": "PO-2"}]}"#,
        // `orders` not a list: no orders, which ends the scroll.
        r#"{"scrollId": "S3", "orders": {"poNumber": "PO-3"}}"#,
    ];
    for (n, body) in pages.iter().enumerate() {
        let m = Mock::given(method("GET")).and(path("/api/v3/order/page"));
        let m = if n == 0 {
            m.and(query_param_is_missing("scrollId"))
        } else {
            m.and(query_param("scrollId", format!("S{n}")))
        };
        m.respond_with(
            ResponseTemplate::new(200).set_body_raw(body.as_bytes(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    }
    let client = static_client(&server);
    let now = clock.now();
    let q = OrderQuery::updated(now - TimeDelta::hours(1), now - TimeDelta::seconds(10));
    let orders = client
        .scroll_orders(q)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(
        orders[0].raw().get(),
        r#"{"poNumber" : "PO-1", "dscoOrderId": "1", "x": [1, 2]}"#
    );
    assert_eq!(orders[1].po_number.as_deref(), Some("PO-2"));
    assert_eq!(orders[1].dsco_order_id.as_deref(), Some("2"));
    server.verify().await;
}

#[tokio::test]
async fn get_order_by_key_with_return_multiple() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/"))
        .and(auth_header())
        .and(query_param("orderKey", "poNumber"))
        .and(query_param("value", "PO 1"))
        .and(query_param("returnMultiple", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"poNumber": "PO 1", "dscoOrderId": "11"}, {"poNumber": "PO 1", "dscoOrderId": "12"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/"))
        .and(query_param("value", "missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "messages": [{"code": "notFound", "severity": "error", "description": "no order"}]
        })))
        .mount(&server)
        .await;
    let client = static_client(&server);
    assert_eq!(
        client
            .get_orders(OrderKey::PoNumber, "PO 1")
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        client
            .get_orders(OrderKey::PoNumber, "missing")
            .await
            .unwrap()
            .is_empty()
    );
    server.verify().await;
}

#[tokio::test]
async fn acknowledge_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order/acknowledge"))
        .and(auth_header())
        .and(header("content-type", "application/json"))
        .and(body_json(json!([
            {"id": "PO-1", "type": "PO_NUMBER", "supplierOrderNumber": "LX-1"},
            {"id": "1025400001", "type": "DSCO_ORDER_ID"}
        ])))
        .respond_with(accepted("R-ACK"))
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    let res = client
        .acknowledge(&[
            OrderAck {
                id: "PO-1".into(),
                id_type: OrderIdType::PoNumber,
                supplier_order_number: Some("LX-1".into()),
            },
            OrderAck {
                id: "1025400001".into(),
                id_type: OrderIdType::DscoOrderId,
                supplier_order_number: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        res[0].result.as_ref().unwrap().request_id,
        RequestId("R-ACK".into())
    );
    assert_eq!(res[0].keys, vec!["PO-1", "1025400001"]);
    server.verify().await;
}

pub fn sample_shipment() -> ShipmentsForOrder {
    ShipmentsForOrder {
        po_number: Some("PO-1".into()),
        dsco_order_id: Some("1025400001".into()),
        supplier_order_number: None,
        shipments: vec![Shipment {
            tracking_number: "1ZAC66380000000001".into(),
            ship_date: Some(Utc.with_ymd_and_hms(2025, 11, 13, 5, 0, 0).unwrap()),
            ship_carrier: Some("UPS".into()),
            ship_method: Some("Ground".into()),
            shipping_service_level_code: Some("UPCG".into()),
            warehouse_code: Some("US-CA-01".into()),
            ship_weight: Some("0.3".parse().unwrap()),
            ship_weight_units: Some("kg".into()),
            line_items: vec![ShipmentLine {
                line_number: Some(1),
                sku: Some("SKU-1".into()),
                partner_sku: Some("SKU-1".into()),
                dsco_item_id: Some("1290000001".into()),
                quantity: 2,
                package_span_flag: None,
            }],
        }],
    }
}

fn sample_shipment_json() -> Value {
    json!({
        "poNumber": "PO-1", "dscoOrderId": "1025400001",
        "shipments": [{
            "trackingNumber": "1ZAC66380000000001", "shipDate": "2025-11-13T05:00:00Z",
            "shipCarrier": "UPS", "shipMethod": "Ground", "shippingServiceLevelCode": "UPCG",
            "warehouseCode": "US-CA-01", "shipWeight": 0.3, "shipWeightUnits": "kg",
            "lineItems": [{"lineNumber": 1, "sku": "SKU-1", "partnerSku": "SKU-1",
                           "dscoItemId": "1290000001", "quantity": 2}]
        }]
    })
}

#[tokio::test]
async fn shipment_batch_and_single_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order/shipment/batch/small"))
        .and(auth_header())
        .and(body_json(json!([sample_shipment_json()])))
        .respond_with(accepted("R-SHIP"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order/singleShipment"))
        .and(auth_header())
        .and(body_json(sample_shipment_json()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    let res = client.ship_batch(&[sample_shipment()]).await.unwrap();
    assert!(res[0].result.is_ok());
    client.ship_single(&sample_shipment()).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn single_shipment_400_messages_become_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order/singleShipment"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"messages": [
            {"code": "VALIDATION_FAILED", "severity": "error", "description": "Ship carrier is required"},
            {"code": "VALIDATION_FAILED", "severity": "error", "description": {"field": "lineItems.sku"}}
        ]})))
        .mount(&server)
        .await;
    let client = static_client(&server);
    match client.ship_single(&sample_shipment()).await.unwrap_err() {
        DscoError::Rejected { status, messages } => {
            assert_eq!(status, 400);
            assert_eq!(messages[0].description, "Ship carrier is required");
            assert_eq!(messages[1].description, r#"{"field":"lineItems.sku"}"#);
        }
        e => panic!("{e:?}"),
    }
}

pub fn sample_invoice() -> Invoice {
    Invoice {
        invoice_id: "PO-1".into(),
        po_number: Some("PO-1".into()),
        consumer_order_number: Some("C-1".into()),
        invoice_date: Some(Utc.with_ymd_and_hms(2025, 11, 13, 5, 0, 0).unwrap()),
        currency_code: Some("USD".into()),
        total_amount: "15.40".parse().unwrap(),
        line_items_subtotal: Some("15.40".parse().unwrap()),
        number_of_line_items: Some(1),
        line_items: vec![InvoiceLine {
            line_number: Some(1),
            sku: Some("SKU-1".into()),
            partner_sku: None,
            dsco_item_id: None,
            quantity: 2,
            unit_price: "7.70".parse().unwrap(),
            extended_amount: Some("15.40".parse().unwrap()),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn invoice_calls() {
    let server = MockServer::start().await;
    // Parsed from text so the numbers keep their digits (15.40, not 15.4).
    let expected: Value = serde_json::from_str(
        r#"{
        "invoiceId": "PO-1", "poNumber": "PO-1", "consumerOrderNumber": "C-1",
        "invoiceDate": "2025-11-13T05:00:00Z", "currencyCode": "USD", "totalAmount": 15.40,
        "lineItemsSubtotal": 15.40, "numberOfLineItems": 1,
        "lineItems": [{"lineNumber": 1, "sku": "SKU-1", "quantity": 2, "unitPrice": 7.70, "extendedAmount": 15.40}]
    }"#,
    )
    .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/v3/invoice/batch/small"))
        .and(auth_header())
        .and(body_json(json!([expected.clone()])))
        .respond_with(accepted("R-INV"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/invoice"))
        .and(auth_header())
        .and(body_json(expected))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"status": "success"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/invoice"))
        .and(auth_header())
        .and(query_param("key", "invoiceId"))
        .and(query_param("value", "PO-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"invoices": [{"invoiceId": "PO-1"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    assert!(
        client.invoice_batch(&[sample_invoice()]).await.unwrap()[0]
            .result
            .is_ok()
    );
    client.invoice_single(&sample_invoice()).await.unwrap();
    assert_eq!(client.find_invoices("PO-1").await.unwrap().len(), 1);
    // The raw body keeps the exact digits of the money.
    let reqs = server.received_requests().await.unwrap();
    let raw = String::from_utf8_lossy(&reqs[1].body).to_string();
    assert!(raw.contains(r#""totalAmount":15.40"#), "{raw}");
    server.verify().await;
}

pub fn sample_inventory() -> Vec<InventoryItem> {
    vec![InventoryItem::new(
        "SKU-1",
        vec![
            WarehouseQuantity {
                code: "US-CA-01".into(),
                quantity: 30,
            },
            WarehouseQuantity {
                code: "US-NJ-02".into(),
                quantity: 7,
            },
        ],
    )]
}

#[tokio::test]
async fn inventory_batch_with_skip_flag() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/inventory/batch/small"))
        .and(auth_header())
        .and(query_param("skipItemsThatDontExist", "true"))
        .and(body_json(json!([{"sku": "SKU-1", "status": "in-stock", "quantityAvailable": 37,
            "warehouses": [{"code": "US-CA-01", "quantity": 30}, {"code": "US-NJ-02", "quantity": 7}]}])))
        .respond_with(accepted("R-INVT"))
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    assert!(
        client
            .inventory_batch(&sample_inventory(), true)
            .await
            .unwrap()[0]
            .result
            .is_ok()
    );
    server.verify().await;
}

#[tokio::test]
async fn change_log_by_request_id_with_scrolling() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/log"))
        .and(auth_header())
        .and(query_param("requestId", "R-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETED", "scrollId": "L1",
            "logs": [{"requestId": "R-1", "dateProcessed": "2025-11-14T08:01:02Z", "status": "failure",
                      "requestMethod": "api", "payload": {"poNumber": "PO-1", "shipments": []},
                      "results": [{"code": "VALIDATION_FAILED", "severity": "error", "description": "bad level"}]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/log"))
        .and(query_param("scrollId", "L1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "scrollId": "L1",
            "logs": [{"requestId": "R-1", "dateProcessed": "2025-11-14T08:01:02Z", "status": "success",
                      "requestMethod": "api", "payload": {"poNumber": "PO-2", "shipments": []}}]
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/log"))
        .and(query_param("scrollId", "L1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"logs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = static_client(&server);
    let out = client
        .request_outcome(RequestKind::Shipment, &RequestId("R-1".into()))
        .await
        .unwrap();
    assert!(out.completed);
    match out.for_key("PO-1") {
        Some(ItemState::Failure { messages }) => assert_eq!(messages[0].description, "bad level"),
        o => panic!("{o:?}"),
    }
    assert!(matches!(
        out.for_key("PO-2"),
        Some(ItemState::Success { .. })
    ));
    server.verify().await;
}

#[tokio::test]
async fn invoice_and_inventory_logs_use_their_paths() {
    let server = MockServer::start().await;
    for p in ["/api/v3/invoice/log", "/api/v3/inventory/log"] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(query_param("requestId", "R-9"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "PROCESSING", "logs": [
                {"requestId": "R-9", "dateProcessed": "2025-11-14T08:01:02Z", "status": "pending",
                 "requestMethod": "api", "payload": {"invoiceId": "I-1", "sku": "S-1"}}
            ]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = static_client(&server);
    let inv = client
        .request_outcome(RequestKind::Invoice, &RequestId("R-9".into()))
        .await
        .unwrap();
    assert_eq!(inv.items[0].key, "I-1");
    assert!(!inv.completed);
    let stock = client
        .request_outcome(RequestKind::Inventory, &RequestId("R-9".into()))
        .await
        .unwrap();
    assert_eq!(stock.for_key("S-1"), Some(&ItemState::Pending));
    server.verify().await;
}

#[tokio::test]
async fn classification_of_failures() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order/page"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Invalid key=value pair (missing equal-sign) in Authorization header"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order/acknowledge"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "status": "failure", "messages": [{"code": "X", "description": "refused"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/invoice"))
        .respond_with(ResponseTemplate::new(504))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let client = static_client(&server);
    let ack = OrderAck {
        id: "P".into(),
        id_type: OrderIdType::PoNumber,
        supplier_order_number: None,
    };
    let res = client.acknowledge(&[ack]).await.unwrap();
    assert!(
        matches!(&res[0].result, Err(DscoError::Rejected { status: 202, messages }) if messages[0].description == "refused")
    );
    assert!(matches!(
        client.invoice_single(&sample_invoice()).await,
        Err(DscoError::Ambiguous { .. })
    ));
    // A static token refused is an auth failure at once (nothing to refresh).
    assert!(matches!(
        client.hello().await,
        Err(DscoError::AuthExpired { .. })
    ));
    // DSCO's gateway answers a wrong path with 403: reported with a hint.
    let now = clock().now();
    let q = OrderQuery::created(now - TimeDelta::hours(1), now - TimeDelta::seconds(10));
    let err = client
        .scroll_orders(q)
        .unwrap()
        .next_page()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DscoError::Forbidden { hint } if hint.contains("wrong path")),
        "{err:?}"
    );
}

#[tokio::test]
async fn read_retries_transient_with_back_off_on_the_clock() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hello": "World!"})))
        .expect(1)
        .mount(&server)
        .await;
    let clock = clock();
    let mut cfg = config(&server, Auth::StaticToken(TOKEN.to_string().into()));
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let client = DscoClient::new(cfg, clock.clone()).unwrap();
    let start = clock.now();
    crate::common::drive(&clock, client.hello()).await.unwrap();
    // Two back-offs (2 s, then 4 s, each with up to 25 % jitter) passed on the simulated clock.
    let waited = clock.now() - start;
    assert!(
        waited >= TimeDelta::seconds(6) && waited <= TimeDelta::milliseconds(7500),
        "{waited}"
    );
    server.verify().await;
}

/// A 429 asking for an hour (`Retry-After: 3600`) used to put the call to sleep for five hours
/// of retries; one call now waits at most `max_wait` (60 s) in all, then reports `Throttled`.
#[tokio::test]
async fn a_long_retry_after_ends_the_call_within_its_wait_budget() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let clock = clock();
    let mut cfg = config(&server, Auth::StaticToken(TOKEN.to_string().into()));
    cfg.retry = RetryPolicy::default();
    assert_eq!(cfg.retry.max_wait, Duration::from_secs(60));
    let client = DscoClient::new(cfg, clock.clone()).unwrap();
    let start = clock.now();
    let r = crate::common::drive(&clock, client.hello()).await;
    assert!(matches!(r, Err(DscoError::Throttled { .. })), "{r:?}");
    let waited = clock.now() - start;
    assert!(waited <= TimeDelta::seconds(60), "waited {waited}");
    // Short waits still retry up to the attempts.
    let server2 = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/hello"))
        .respond_with(ResponseTemplate::new(429))
        .expect(6)
        .mount(&server2)
        .await;
    let mut cfg = config(&server2, Auth::StaticToken(TOKEN.to_string().into()));
    cfg.retry = RetryPolicy::default();
    let client = DscoClient::new(cfg, clock.clone()).unwrap();
    let r = crate::common::drive(&clock, client.hello()).await;
    assert!(matches!(r, Err(DscoError::Throttled { .. })), "{r:?}");
    server2.verify().await;
}

/// Request bodies captured from the client, for the OpenAPI test.
pub async fn captured_bodies() -> Vec<(String, Value)> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|req: &Request| {
            if req.url.path().ends_with("/singleShipment") {
                ResponseTemplate::new(201).set_body_json(json!({"success": true}))
            } else if req.url.path().ends_with("/invoice") {
                ResponseTemplate::new(201).set_body_json(json!({"status": "success"}))
            } else {
                accepted("R")
            }
        })
        .mount(&server)
        .await;
    let client = static_client(&server);
    let ack = OrderAck {
        id: "PO-1".into(),
        id_type: OrderIdType::PoNumber,
        supplier_order_number: Some("LX-1".into()),
    };
    client.acknowledge(&[ack]).await.unwrap();
    client.ship_batch(&[sample_shipment()]).await.unwrap();
    client.ship_single(&sample_shipment()).await.unwrap();
    client.invoice_batch(&[sample_invoice()]).await.unwrap();
    client.invoice_single(&sample_invoice()).await.unwrap();
    client
        .inventory_batch(&sample_inventory(), true)
        .await
        .unwrap();
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let p = r.url.path().trim_start_matches("/api/v3").to_string();
            (p, serde_json::from_slice(&r.body).unwrap())
        })
        .collect()
}
