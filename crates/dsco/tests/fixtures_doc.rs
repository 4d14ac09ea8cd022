//! The client's wire format against JSON fixtures taken from the API reference's examples
//! (tests/fixtures/*_example.json): the order is read, the write bodies are reproduced exactly.

use chrono::{TimeZone, Utc};
use dsco::{
    DscoLifecycle, DscoStatus, InventoryItem, Invoice, InvoiceLine, Order, Shipment, ShipmentLine,
    ShipmentsForOrder, WarehouseQuantity,
};
use rust_decimal::Decimal;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn reads_the_example_order() {
    let raw = fixture("order_example.json");
    let o = Order::from_value(raw.clone()).unwrap();
    assert_eq!(o.po_number.as_deref(), Some("BOX.75500001.69900001"));
    assert_eq!(o.dsco_order_id.as_deref(), Some("1025400001"));
    assert_eq!(o.dsco_status, Some(DscoStatus::ShipmentPending));
    assert_eq!(o.dsco_lifecycle, Some(DscoLifecycle::Acknowledged));
    assert_eq!(o.dsco_trading_partner_id, None);
    assert_eq!(
        o.dsco_create_date,
        Some(Utc.with_ymd_and_hms(2025, 11, 11, 23, 1, 54).unwrap())
    );
    assert_eq!(o.requested_warehouse_code.as_deref(), Some("US-CA-01"));
    assert_eq!(o.extended_expected_cost_total, Some(dec("15.40")));
    let s = o.shipping.as_ref().unwrap();
    assert_eq!(s.address, vec!["100 Example Ave", "Apt 2"]);
    assert_eq!(
        (s.region.as_deref(), s.postal.as_deref()),
        (Some("NJ"), Some("07000"))
    );
    let l = &o.line_items[0];
    assert_eq!((l.line_number, l.quantity), (Some(1), Some(2)));
    assert_eq!(l.expected_cost, Some(dec("7.70")));
    assert_eq!(l.consumer_price, Some(dec("21.00")));
    assert_eq!(l.dsco_item_id.as_deref(), Some("1290000001"));
    assert!(o.packages.is_empty());
    assert_eq!(o.to_value(), raw);
}

#[test]
fn writes_the_example_shipment_batch() {
    let body = vec![ShipmentsForOrder {
        po_number: Some("BOX.75500001.69900001".into()),
        dsco_order_id: Some("1025400001".into()),
        supplier_order_number: None,
        shipments: vec![Shipment {
            tracking_number: "1ZAC66380000000001".into(),
            ship_date: Some(Utc.with_ymd_and_hms(2025, 11, 13, 5, 0, 0).unwrap()),
            ship_carrier: Some("UPS".into()),
            ship_method: Some("Ground".into()),
            shipping_service_level_code: Some("UPCG".into()),
            warehouse_code: Some("US-CA-01".into()),
            ship_weight: Some(dec("0.3")),
            ship_weight_units: Some("kg".into()),
            line_items: vec![ShipmentLine {
                line_number: Some(1),
                sku: Some("SKU-EXAMPLE-001".into()),
                partner_sku: Some("SKU-EXAMPLE-001".into()),
                dsco_item_id: Some("1290000001".into()),
                quantity: 2,
                package_span_flag: None,
            }],
        }],
    }];
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        fixture("shipment_batch_example.json")
    );
}

#[test]
fn writes_the_example_invoice() {
    let inv = Invoice {
        invoice_id: "BOX.75500001.69900001".into(),
        po_number: Some("BOX.75500001.69900001".into()),
        dsco_order_id: None,
        consumer_order_number: Some("C-88001234".into()),
        invoice_date: Some(Utc.with_ymd_and_hms(2025, 11, 13, 5, 0, 0).unwrap()),
        currency_code: Some("USD".into()),
        total_amount: dec("15.40"),
        line_items_subtotal: Some(dec("15.40")),
        freight_amount: None,
        number_of_line_items: Some(1),
        line_items: vec![InvoiceLine {
            line_number: Some(1),
            sku: Some("SKU-EXAMPLE-001".into()),
            partner_sku: Some("SKU-EXAMPLE-001".into()),
            dsco_item_id: Some("1290000001".into()),
            quantity: 2,
            unit_price: dec("7.70"),
            extended_amount: Some(dec("15.40")),
        }],
    };
    assert_eq!(
        serde_json::to_value(&inv).unwrap(),
        fixture("invoice_example.json")
    );
}

#[test]
fn writes_the_example_inventory_batch() {
    let wq = |code: &str, quantity| WarehouseQuantity {
        code: code.into(),
        quantity,
    };
    let body = vec![
        InventoryItem::new(
            "SKU-EXAMPLE-001",
            vec![wq("US-CA-01", 30), wq("US-NJ-02", 7)],
        ),
        InventoryItem::new("SKU-EXAMPLE-002", vec![wq("US-CA-01", 0)]),
    ];
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        fixture("inventory_batch_example.json")
    );
}
