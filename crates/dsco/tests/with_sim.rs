//! Client ↔ simulator over real HTTP on loopback, sharing one simulated clock.

use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeDelta;
use dsco::{
    DscoError, InventoryItem, ItemState, OrderAck, OrderIdType, OrderQuery, RequestKind, Shipment,
    ShipmentLine, ShipmentsForOrder, WarehouseQuantity,
};
use sim::dsco::{DscoSimConfig, Endpoint, Fault, LineSpec, OrderSpec};

use crate::common::*;

fn window(clock: &clock::Clock) -> OrderQuery {
    let now = clock.now();
    OrderQuery::created(now - TimeDelta::days(1), now - TimeDelta::seconds(10))
}

#[tokio::test]
async fn reads_5000_orders_in_pages_of_1000() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.generate_orders(5000, 42);
    clock.sim().unwrap().advance(Duration::from_secs(10));
    let client = client(&sim.base_url(), &clock);
    let orders = drive(
        &clock,
        client.scroll_orders(window(&clock)).unwrap().collect_all(),
    )
    .await
    .unwrap();
    assert_eq!(orders.len(), 5000);
    let ids: HashSet<_> = orders
        .iter()
        .map(|o| o.dsco_order_id.clone().unwrap())
        .collect();
    assert_eq!(ids.len(), 5000);
    // Five full pages and the empty page that ends the scroll.
    assert_eq!(sim.calls(Endpoint::OrderPage), 6);
    assert_eq!(sim.calls(Endpoint::Token), 1);
    // Typed fields and the raw JSON are both there.
    let o = &orders[0];
    assert!(o.po_number.is_some() && o.shipping.is_some() && !o.line_items.is_empty());
    assert_eq!(
        o.to_value()["dscoTradingPartnerId"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn expired_scroll_restarts_without_missing_or_repeating() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.generate_orders(2500, 7);
    clock.sim().unwrap().advance(Duration::from_secs(10));
    let client = client(&sim.base_url(), &clock);
    let mut scroll = client.scroll_orders(window(&clock)).unwrap();
    let first = scroll.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 1000);
    // Idle past the five-minute scroll expiry: the next page is a 404 and the window restarts.
    clock.sim().unwrap().advance(Duration::from_secs(6 * 60));
    let mut all = first;
    while let Some(page) = drive(&clock, scroll.next_page()).await.unwrap() {
        all.extend(page);
    }
    let ids: HashSet<_> = all
        .iter()
        .map(|o| o.dsco_order_id.clone().unwrap())
        .collect();
    assert_eq!(all.len(), 2500, "no order repeated");
    assert_eq!(ids.len(), 2500, "no order missed");
    // 1 page, the 404, then the restarted window: 3 pages and the empty one.
    assert_eq!(sim.calls(Endpoint::OrderPage), 6);
}

#[tokio::test]
async fn token_expiry_mid_run_is_recovered() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.generate_orders(30, 3);
    clock.sim().unwrap().advance(Duration::from_secs(10));
    let mut cfg = client_config(&sim.base_url());
    cfg.orders_per_page = 10;
    let client = dsco::DscoClient::new(cfg, clock.clone()).unwrap();
    let mut scroll = client.scroll_orders(window(&clock)).unwrap();
    let mut n = scroll.next_page().await.unwrap().unwrap().len();
    // DSCO forgets the token (401 on the next call): one refresh, one retry.
    sim.expire_tokens();
    n += scroll.next_page().await.unwrap().unwrap().len();
    assert_eq!(sim.calls(Endpoint::Token), 2);
    // Near the end of the token's hour the client refreshes before sending.
    clock.sim().unwrap().advance(Duration::from_secs(3590));
    let _ = drive(&clock, client.get_orders(dsco::OrderKey::PoNumber, "nope")).await;
    assert_eq!(sim.calls(Endpoint::Token), 3);
    // The scroll expired while time moved: it restarts and still yields each order once.
    while let Some(p) = drive(&clock, scroll.next_page()).await.unwrap() {
        n += p.len();
    }
    assert_eq!(n, 30);
}

fn cedar_order(po: &str) -> OrderSpec {
    OrderSpec {
        po_number: Some(po.into()),
        retailer_id: Some("1000034567".into()),
        warehouse_code: Some("US-CA-01".into()),
        service_level: Some("UPCG".into()),
        lines: vec![LineSpec {
            sku: "SKU-1001".into(),
            quantity: 1,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn shipment(po: &str, tracking: &str, level: &str) -> ShipmentsForOrder {
    ShipmentsForOrder {
        po_number: Some(po.into()),
        shipments: vec![Shipment {
            tracking_number: tracking.into(),
            ship_date: None,
            ship_carrier: Some("UPS".into()),
            ship_method: Some("Ground".into()),
            shipping_service_level_code: Some(level.into()),
            warehouse_code: Some("US-CA-01".into()),
            line_items: vec![ShipmentLine {
                line_number: Some(1),
                sku: Some("SKU-1001".into()),
                quantity: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn async_batch_reports_the_failing_item_and_the_others_success() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    for po in ["PO-A", "PO-B", "PO-C"] {
        sim.add_order(cedar_order(po)).unwrap();
    }
    let client = client(&sim.base_url(), &clock);
    let acks: Vec<OrderAck> = ["PO-A", "PO-B", "PO-C"]
        .iter()
        .map(|po| OrderAck {
            id: po.to_string(),
            id_type: OrderIdType::PoNumber,
            supplier_order_number: Some(format!("LX-{po}")),
        })
        .collect();
    let res = client.acknowledge(&acks).await.unwrap();
    assert_eq!(res.len(), 1);
    let ack_req = res[0].result.as_ref().unwrap().request_id.clone();
    // Before the async delay every item is pending.
    let pending = client
        .request_outcome(RequestKind::Acknowledge, &ack_req)
        .await
        .unwrap();
    assert!(!pending.completed);
    assert_eq!(pending.for_key("PO-A"), Some(&ItemState::Pending));
    clock.sim().unwrap().advance(Duration::from_secs(31));
    let done = client
        .request_outcome(RequestKind::Acknowledge, &ack_req)
        .await
        .unwrap();
    assert!(done.completed);
    assert!(matches!(
        done.for_key("PO-B"),
        Some(ItemState::Success { .. })
    ));
    assert_eq!(
        sim.acks_for("PO-B")[0].supplier_order_number.as_deref(),
        Some("LX-PO-B")
    );

    // Cedar Outdoors does not take USPS Priority: PO-B's shipment fails, the others succeed.
    let batch = vec![
        shipment("PO-A", "1ZA", "UPCG"),
        shipment("PO-B", "94B", "USPR"),
        shipment("PO-C", "1ZC", "UPCG"),
    ];
    let res = client.ship_batch(&batch).await.unwrap();
    let req = res[0].result.as_ref().unwrap().request_id.clone();
    assert_eq!(res[0].keys, vec!["PO-A", "PO-B", "PO-C"]);
    clock.sim().unwrap().advance(Duration::from_secs(31));
    let out = client
        .request_outcome(RequestKind::Shipment, &req)
        .await
        .unwrap();
    assert!(out.completed);
    assert_eq!(out.items.len(), 3);
    match out.for_key("PO-B") {
        Some(ItemState::Failure { messages }) => {
            assert!(messages[0].description.contains("USPR"), "{messages:?}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        out.for_key("PO-A"),
        Some(ItemState::Success { .. })
    ));
    assert!(matches!(
        out.for_key("PO-C"),
        Some(ItemState::Success { .. })
    ));
    assert_eq!(sim.shipment_by_tracking("1ZC").unwrap().0, "PO-C");
    assert!(sim.shipment_by_tracking("94B").is_none());
    let a = sim.order("PO-A").unwrap();
    assert_eq!(a["dscoStatus"], "shipped");
    assert_eq!(a["dscoLifecycle"], "completed");
}

#[tokio::test]
async fn six_megabyte_shipment_batch_is_split() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    let client = client(&sim.base_url(), &clock);
    let long = "X".repeat(80);
    let batch: Vec<ShipmentsForOrder> = (0..2000)
        .map(|i| {
            let mut s = shipment(&format!("PO-{i:05}"), &format!("1Z{i:08}"), "UPCG");
            s.shipments[0].line_items = (0..20)
                .map(|n| ShipmentLine {
                    line_number: Some(n),
                    sku: Some(format!("{long}{n}")),
                    partner_sku: Some(long.clone()),
                    quantity: 1,
                    ..Default::default()
                })
                .collect();
            s
        })
        .collect();
    let total: usize = batch
        .iter()
        .map(|s| serde_json::to_vec(s).unwrap().len())
        .sum();
    assert!(total > 6_000_000, "batch is {total} bytes");
    let res = client.ship_batch(&batch).await.unwrap();
    assert_eq!(res.len(), 2);
    assert!(res.iter().all(|c| c.result.is_ok()), "{res:?}");
    assert_eq!(res.iter().map(|c| c.keys.len()).sum::<usize>(), 2000);
    assert_eq!(sim.calls(Endpoint::ShipmentBatch), 2);
}

#[tokio::test]
async fn rides_out_a_429_storm() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.generate_orders(50, 9);
    clock.sim().unwrap().advance(Duration::from_secs(10));
    sim.inject_fault(Endpoint::OrderPage, Fault::ThrottleStorm.times(4));
    let client = client(&sim.base_url(), &clock);
    let orders = drive(
        &clock,
        client.scroll_orders(window(&clock)).unwrap().collect_all(),
    )
    .await
    .unwrap();
    assert_eq!(orders.len(), 50);
    assert_eq!(sim.calls(Endpoint::OrderPage), 4 + 2);
}

#[tokio::test]
async fn server_rate_limit_429_is_retried_after_back_off() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    let mut cfg = client_config(&sim.base_url());
    // Without the client-side limiter DSCO's own limit (10/s) answers 429.
    cfg.rate_limits = false;
    let client = dsco::DscoClient::new(cfg, clock.clone()).unwrap();
    let mut throttled_then_ok = 0;
    for i in 0..15 {
        let r = drive(
            &clock,
            client.get_orders(dsco::OrderKey::PoNumber, &format!("PO-{i}")),
        )
        .await;
        assert!(r.unwrap().is_empty());
        throttled_then_ok += 1;
    }
    assert_eq!(throttled_then_ok, 15);
    assert!(
        sim.calls(Endpoint::OrderGet) > 15,
        "some calls were refused with 429 and retried"
    );
}

#[tokio::test]
async fn apply_then_timeout_is_ambiguous_and_was_applied() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.add_order(cedar_order("PO-T")).unwrap();
    let mut cfg = client_config(&sim.base_url());
    cfg.request_timeout = Duration::from_millis(300);
    let client = dsco::DscoClient::new(cfg, clock.clone()).unwrap();
    client.hello().await.unwrap();
    sim.inject_fault(Endpoint::Acknowledge, Fault::ApplyThenTimeout.times(1));
    let ack = OrderAck {
        id: "PO-T".into(),
        id_type: OrderIdType::PoNumber,
        supplier_order_number: None,
    };
    let res = client.acknowledge(&[ack]).await.unwrap();
    assert!(
        matches!(res[0].result, Err(DscoError::Ambiguous { .. })),
        "{res:?}"
    );
    assert_eq!(sim.pending_batches(), 1, "the write was applied");
    assert_eq!(
        sim.calls(Endpoint::Acknowledge),
        1,
        "a write is not retried blindly"
    );
}

#[tokio::test]
async fn write_500_is_ambiguous_and_read_500_is_retried() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    let client = client(&sim.base_url(), &clock);
    sim.inject_fault(
        Endpoint::InvoicePost,
        Fault::HttpStatus { status: 502 }.times(1),
    );
    let inv = dsco::Invoice {
        invoice_id: "PO-X".into(),
        po_number: Some("PO-X".into()),
        total_amount: "1.00".parse().unwrap(),
        ..Default::default()
    };
    let err = client.invoice_single(&inv).await.unwrap_err();
    assert!(matches!(err, DscoError::Ambiguous { .. }), "{err:?}");
    sim.inject_fault(
        Endpoint::InvoiceGet,
        Fault::HttpStatus { status: 503 }.times(2),
    );
    let found = drive(&clock, client.find_invoices("PO-X")).await.unwrap();
    assert!(found.is_empty());
    assert_eq!(sim.calls(Endpoint::InvoiceGet), 3);
}

#[tokio::test]
async fn sync_rejections_carry_dsco_messages() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    sim.add_order(cedar_order("PO-S")).unwrap();
    let client = client(&sim.base_url(), &clock);
    // Invoice before shipment: nothing is available to invoice.
    let inv = dsco::Invoice {
        invoice_id: "PO-S".into(),
        po_number: Some("PO-S".into()),
        total_amount: "4.20".parse().unwrap(),
        line_items: vec![dsco::InvoiceLine {
            line_number: Some(1),
            sku: Some("SKU-1001".into()),
            quantity: 1,
            unit_price: "4.20".parse().unwrap(),
            ..Default::default()
        }],
        ..Default::default()
    };
    match client.invoice_single(&inv).await.unwrap_err() {
        DscoError::Rejected { status, messages } => {
            assert_eq!(status, 400);
            assert!(messages[0].description.contains("available-to-invoice"));
        }
        e => panic!("{e:?}"),
    }
    // A shipment without tracking is refused at once.
    let mut s = shipment("PO-S", "", "UPCG");
    s.shipments[0].tracking_number = String::new();
    let err = client.ship_single(&s).await.unwrap_err();
    assert!(
        matches!(err, DscoError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    // After shipping, the invoice goes through and is found by id.
    client
        .ship_single(&shipment("PO-S", "1ZS", "UPCG"))
        .await
        .unwrap();
    client.invoice_single(&inv).await.unwrap();
    assert_eq!(client.find_invoices("PO-S").await.unwrap().len(), 1);
    assert_eq!(sim.invoices_for("PO-S").len(), 1);
    // Over-invoicing is refused.
    let mut again = inv.clone();
    again.invoice_id = "PO-S-2".into();
    assert!(matches!(
        client.invoice_single(&again).await.unwrap_err(),
        DscoError::Rejected { .. }
    ));
}

#[tokio::test]
async fn inventory_sum_rule_and_unknown_sku_skip() {
    let clock = sim_clock();
    let cfg = DscoSimConfig {
        async_delay: Duration::ZERO,
        ..Default::default()
    };
    let sim = start_sim(cfg, &clock).await;
    let client = client(&sim.base_url(), &clock);
    let good = InventoryItem::new(
        "SKU-1001",
        vec![
            WarehouseQuantity {
                code: "US-CA-01".into(),
                quantity: 30,
            },
            WarehouseQuantity {
                code: "US-NJ-01".into(),
                quantity: 7,
            },
        ],
    );
    let mut bad = InventoryItem::new(
        "SKU-1002",
        vec![WarehouseQuantity {
            code: "US-CA-01".into(),
            quantity: 3,
        }],
    );
    bad.quantity_available = 5;
    let unknown = InventoryItem::new(
        "NOPE-1",
        vec![WarehouseQuantity {
            code: "US-CA-01".into(),
            quantity: 1,
        }],
    );
    let res = client
        .inventory_batch(&[good, bad, unknown], true)
        .await
        .unwrap();
    let req = res[0].result.as_ref().unwrap().request_id.clone();
    let out = client
        .request_outcome(RequestKind::Inventory, &req)
        .await
        .unwrap();
    assert!(out.completed);
    assert!(
        matches!(out.for_key("SKU-1001"), Some(ItemState::Success { messages }) if messages.is_empty())
    );
    assert!(matches!(
        out.for_key("SKU-1002"),
        Some(ItemState::Failure { .. })
    ));
    assert!(
        matches!(out.for_key("NOPE-1"), Some(ItemState::Success { messages }) if messages[0].code.as_deref() == Some("ITEM_NOT_FOUND"))
    );
    assert_eq!(sim.inventory("SKU-1001").unwrap()["quantityAvailable"], 37);
    assert!(sim.inventory("SKU-1002").is_none());
}

#[tokio::test]
async fn wrong_path_is_forbidden_with_a_hint_and_bad_secret_is_auth_error() {
    let clock = sim_clock();
    let sim = start_sim(DscoSimConfig::default(), &clock).await;
    // Base URL without /api/v3.
    let wrong = client(&sim.admin_url(), &clock);
    let err = wrong.hello().await.unwrap_err();
    assert!(
        matches!(&err, DscoError::Forbidden { hint } if hint.contains("/api/v3")),
        "{err:?}"
    );
    let mut cfg = client_config(&sim.base_url());
    cfg.auth = dsco::Auth::OAuth2 {
        client_id: "dsco-sim-client".into(),
        client_secret: "wrong".to_string().into(),
    };
    let bad = dsco::DscoClient::new(cfg, clock.clone()).unwrap();
    let err = bad.hello().await.unwrap_err();
    assert!(matches!(err, DscoError::AuthExpired { .. }), "{err:?}");
    assert!(
        !format!("{err} {err:?} {bad:?}").contains("wrong"),
        "secret leaked"
    );
}

#[tokio::test]
async fn static_token_works_and_until_must_be_in_the_past() {
    let clock = sim_clock();
    let sim = start_sim(
        DscoSimConfig {
            static_token: Some("legacy-token".into()),
            ..Default::default()
        },
        &clock,
    )
    .await;
    let cfg = dsco::DscoConfig::new(
        sim.base_url(),
        dsco::Auth::StaticToken("legacy-token".to_string().into()),
    );
    let client = dsco::DscoClient::new(cfg, clock.clone()).unwrap();
    client.hello().await.unwrap();
    assert_eq!(sim.calls(Endpoint::Token), 0);
    let now = clock.now();
    let err = client
        .scroll_orders(OrderQuery::created(now - TimeDelta::hours(1), now))
        .err()
        .unwrap();
    assert!(matches!(err, DscoError::InvalidRequest(_)));
}
