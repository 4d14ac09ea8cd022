//! Data defects (issue 13): orders of shapes DSCO should not send but might, end to end (real
//! HTTP to both simulators, the real store, the simulated clock). Each is held with a reason
//! naming what is wrong, or handled right, and nothing wrong reaches a far side.

use domain::{JobName, PoNumber, ReasonCode, Stage};
use serde_json::json;
use store::EventOutcome;

use crate::Db;
use crate::orders::{World, world};
use crate::reasons::{at_stage, detail, expect, ground_truth, order, to_acknowledged};

fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

/// Ships everything LingXing has for `pos`, sends the shipments and has DSCO confirm them.
async fn ship_all(w: &World, pos: &[&str]) {
    for p in pos {
        w.lx.ship(p, None);
    }
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
}

/// Pulls the confirmed shipments, sends the invoices and has DSCO confirm them.
async fn invoice_all(w: &World) {
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::InvoiceToDsco).await;
    w.advance(120);
    w.run(JobName::InvoiceToDsco).await;
}

/// Item 6: one SKU on two lines. Both units used to be booked on the first line, which DSCO
/// refuses ("Line 1 ships 2 but only 1 remain"), re-sent every run; now each line ships and is
/// invoiced once.
pub async fn one_sku_on_two_lines_ships_and_invoices_both(db: &Db) {
    let w = world(db, json!({})).await;
    let p = "PO-TWICE";
    w.dsco
        .add_order(order(
            p,
            "1000012345",
            "US-CA-01",
            "UPCG",
            &[("SKU-1001", 1), ("SKU-1001", 1)],
        ))
        .unwrap();
    to_acknowledged(&w, &[p]).await;
    ship_all(&w, &[p]).await;
    at_stage(&w, p, Stage::Shipped).await;
    let mut per_line: Vec<(u32, String, u32)> = w
        .dsco
        .shipments_for(p)
        .into_iter()
        .flat_map(|s| s.items)
        .collect();
    per_line.sort();
    assert_eq!(
        per_line,
        vec![(1, "SKU-1001".into(), 1), (2, "SKU-1001".into(), 1)],
        "one unit on each line"
    );
    invoice_all(&w).await;
    at_stage(&w, p, Stage::Done).await;
    let shipments = w.dsco.shipments_for(p).len();
    ground_truth(&w, p, 1, shipments, 1);
    let inv = &w.dsco.invoices_for(p)[0];
    let lines: Vec<(u64, u64)> = inv["lineItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["lineNumber"].as_u64().unwrap(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, vec![(1, 1), (2, 1)], "{inv}");
}

/// Item 7: a line number twice. Such an order was pushed with double quantity and shipped
/// double; now the push refuses it, and so does a later job that maps lines (DSCO changed the
/// order after the push).
pub async fn a_line_number_twice_is_held_by_push_and_ship(db: &Db) {
    let w = world(db, json!({})).await;
    for p in ["PO-DUPLINE", "PO-DUPLATER"] {
        w.dsco
            .add_order(order(
                p,
                "1000012345",
                "US-CA-01",
                "UPCG",
                &[("SKU-1001", 1), ("SKU-1002", 1)],
            ))
            .unwrap();
    }
    assert!(w.dsco.patch_line("PO-DUPLINE", 2, json!({"lineNumber": 1})));
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    expect(
        &w,
        "PO-DUPLINE",
        Stage::Pulled,
        ReasonCode::LineNumberDuplicate,
    )
    .await;
    let d = detail(&w, "PO-DUPLINE").await;
    assert!(
        d.contains("lineNumber 1"),
        "the reason names the line number: {d}"
    );
    ground_truth(&w, "PO-DUPLINE", 0, 0, 0);

    to_acknowledged(&w, &["PO-DUPLATER"]).await;
    assert!(
        w.dsco
            .patch_line("PO-DUPLATER", 2, json!({"lineNumber": 1}))
    );
    ship_all(&w, &["PO-DUPLATER"]).await;
    expect(
        &w,
        "PO-DUPLATER",
        Stage::Acknowledged,
        ReasonCode::LineNumberDuplicate,
    )
    .await;
    ground_truth(&w, "PO-DUPLATER", 1, 0, 0);
}

/// Item 8: a PO with spaces around it was trimmed when stored and pushed, so every later DSCO
/// call named a PO that does not exist. It is kept exactly as sent, and held at the push (LingXing
/// cannot take it as `platform_order_no` as it is).
pub async fn a_po_with_spaces_is_kept_as_sent_and_held(db: &Db) {
    let w = world(db, json!({})).await;
    let spaced = " PO-SPACE ";
    w.dsco
        .add_order(order(
            spaced,
            "1000012345",
            "US-CA-01",
            "UPCG",
            &[("SKU-1001", 1)],
        ))
        .unwrap();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    assert!(
        w.store.get_order(&po("PO-SPACE")).await.unwrap().is_none(),
        "not stored under an altered PO"
    );
    let o = w.store.get_order(&po(spaced)).await.unwrap().unwrap();
    assert_eq!(o.pulled.po.as_str(), spaced);
    w.run(JobName::PushToLingxing).await;
    expect(&w, spaced, Stage::Pulled, ReasonCode::PoUnusable).await;
    let d = detail(&w, spaced).await;
    assert_eq!(d, "\" PO-SPACE \"", "the PO shown with its spaces");
    for p in [spaced, "PO-SPACE"] {
        assert!(
            w.lx.orders_for(p).is_empty(),
            "{p:?} not created in LingXing"
        );
    }
}

/// Item 9: negative, zero and absurd prices were pushed and invoiced as they came. They are held
/// with the field and the value named.
pub async fn prices_out_of_range_are_held(db: &Db) {
    let w = world(db, json!({})).await;
    for p in ["PO-NEGPRICE", "PO-HUGEPRICE", "PO-ZEROCOST"] {
        let mut spec = order(p, "1000012345", "US-CA-01", "UPCG", &[("SKU-1001", 1)]);
        if p == "PO-ZEROCOST" {
            spec.lines[0].expected_cost = Some("0".parse().unwrap());
        }
        w.dsco.add_order(spec).unwrap();
    }
    // The push takes consumerPriceWithTax first.
    for (p, price) in [("PO-NEGPRICE", "-3"), ("PO-HUGEPRICE", "1e20")] {
        let amend = sim::dsco::LineAmend {
            consumer_price_with_tax: Some(
                price
                    .parse()
                    .or_else(|_| rust_decimal::Decimal::from_scientific(price))
                    .unwrap(),
            ),
            ..Default::default()
        };
        assert!(w.dsco.amend_line(p, 1, &amend));
    }
    to_acknowledged(&w, &["PO-ZEROCOST"]).await;
    for (p, shown) in [
        ("PO-NEGPRICE", "consumerPriceWithTax = -3"),
        (
            "PO-HUGEPRICE",
            "consumerPriceWithTax = 100000000000000000000",
        ),
    ] {
        expect(&w, p, Stage::Pulled, ReasonCode::PriceOutOfRange).await;
        let d = detail(&w, p).await;
        assert_eq!(d, format!("line 1 (SKU-1001) {shown}"), "{p}");
        ground_truth(&w, p, 0, 0, 0);
    }
    // A zero cost is pushed (the push price is the consumer price) but never invoiced.
    ship_all(&w, &["PO-ZEROCOST"]).await;
    at_stage(&w, "PO-ZEROCOST", Stage::Shipped).await;
    invoice_all(&w).await;
    expect(
        &w,
        "PO-ZEROCOST",
        Stage::Shipped,
        ReasonCode::PriceOutOfRange,
    )
    .await;
    let d = detail(&w, "PO-ZEROCOST").await;
    assert_eq!(d, "line 1 (SKU-1001) expectedCost = 0");
    ground_truth(&w, "PO-ZEROCOST", 1, 1, 0);
}

/// Item 13: an order without a PO was skipped on every pull with only a log line; an unknown
/// status left an order waiting for ever; bad quantities and missing lines read as
/// `sku_missing`. Each is now stored with its own reason, once.
pub async fn unreadable_orders_get_their_own_reason_once(db: &Db) {
    let w = world(db, json!({})).await;
    let cases = [
        ("PO-NOPO", None),
        ("PO-ODDSTATUS", None),
        ("PO-NOLINES", None),
        ("PO-TEXTQTY", Some(json!("two"))),
        ("PO-ZEROQTY", Some(json!(0))),
        ("PO-NEGQTY", Some(json!(-1))),
    ];
    for (p, quantity) in &cases {
        w.dsco
            .add_order(order(
                p,
                "1000012345",
                "US-CA-01",
                "UPCG",
                &[("SKU-1001", 1)],
            ))
            .unwrap();
        if let Some(q) = quantity {
            assert!(w.dsco.patch_line(p, 1, json!({ "quantity": q })));
        }
    }
    assert!(w.dsco.patch_order("PO-NOPO", json!({"poNumber": null})));
    assert!(
        w.dsco
            .patch_order("PO-ODDSTATUS", json!({"dscoStatus": "on_hold"}))
    );
    assert!(w.dsco.patch_order("PO-NOLINES", json!({"lineItems": null})));
    let id = w.dsco.order("PO-NOPO").unwrap()["dscoOrderId"]
        .as_str()
        .unwrap()
        .to_owned();
    w.advance(60);
    let c = w.run(JobName::PullDscoOrders).await;
    assert_eq!((c.advanced, c.failed), (5, 1), "{c:?}");
    let open = w.store.unreadable_orders(true, 10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].order.dsco_order_id, id);
    assert_eq!(open[0].order.reason_code, ReasonCode::PoMissing);
    assert!(open[0].order.detail.contains(&id), "{:?}", open[0].order);
    assert!(
        open[0].order.payload.get().contains("SKU-1001"),
        "kept as DSCO sent it"
    );

    w.run(JobName::PushToLingxing).await;
    for (p, code, shown) in [
        (
            "PO-ODDSTATUS",
            ReasonCode::DscoStateUnknown,
            "dscoStatus = \"on_hold\"",
        ),
        ("PO-NOLINES", ReasonCode::LineItemsMissing, "lineItems"),
        (
            "PO-TEXTQTY",
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1001): quantity = \"two\"",
        ),
        (
            "PO-ZEROQTY",
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1001): quantity = 0",
        ),
        (
            "PO-NEGQTY",
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1001): quantity = -1",
        ),
    ] {
        expect(&w, p, Stage::Pulled, code).await;
        assert_eq!(detail(&w, p).await, shown, "{p}");
        ground_truth(&w, p, 0, 0, 0);
    }

    // Read again on the next pull (the window overlaps) and decided again: one row, one event.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    let open = w.store.unreadable_orders(true, 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].seen, 2, "the same row, read twice");
    let events = w.store.order_events(&po("PO-ODDSTATUS")).await.unwrap();
    let skips: Vec<_> = events
        .iter()
        .filter(|e| e.event.outcome == EventOutcome::Skipped)
        .collect();
    assert_eq!(skips.len(), 1, "{events:?}");
    assert_eq!(skips[0].count, 2, "the repeated skip folded into one event");

    // DSCO corrects the order: it is stored as an order and its unreadable row closes.
    assert!(
        w.dsco
            .patch_order("PO-NOPO", json!({"poNumber": "PO-NOPO"}))
    );
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    at_stage(&w, "PO-NOPO", Stage::Pulled).await;
    assert!(
        w.store
            .unreadable_orders(true, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = w.store.unreadable_orders(false, 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].resolved_at.is_some());
}
