//! Table tests of R1–R6.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;
use crate::config::RuntimeConfig;
use crate::job::JobName;
use crate::order::{LxOrder, LxOrderStatus, LxOutbound, LxOutboundItem, LxOutboundStatus};
use crate::reason::ReasonCode;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn order(extra: Value) -> DscoOrderView {
    let mut v = json!({
        "poNumber": "PO-1", "dscoOrderId": "9001", "dscoRetailerId": "1000012345",
        "dscoStatus": "created", "dscoLifecycle": "created",
        "shipWarehouseCode": "US-CA-01", "shippingServiceLevelCode": "UPCG",
        "shipCarrier": "UPS", "shipMethod": "Ground", "consumerOrderNumber": "C-1",
        "shipping": {"name": "Jane Doe", "address": ["1 Main St"], "city": "Ontario", "region": "CA", "postal": "91761", "country": "US"},
        "lineItems": [
            {"lineNumber": 1, "sku": "SKU-1", "dscoItemId": "I1", "quantity": 2, "expectedCost": "3.335", "consumerPrice": "9.99", "consumerPriceWithTax": "10.79"},
            {"lineNumber": 2, "sku": "SKU-2", "dscoItemId": "I2", "quantity": 1, "expectedCost": "5.10", "consumerPrice": "12.00"}
        ]
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    DscoOrderView::from_payload(&v).unwrap()
}

fn config(jobs: Value) -> RuntimeConfig {
    RuntimeConfig::from_value(
        &json!({"domain": "dsco_lingxing", "jobs": jobs, "mapping": {
            "shop": {"1000012345": "S-1"}, "warehouse": {"US-CA-01": "1300"}, "shipment": {"US-CA-01-UPCG": "101"},
            "carrier": {"FECG": "FedEx"}}}),
        "runtime_config",
    )
    .unwrap()
    .config
}

fn job(c: &RuntimeConfig, j: JobName) -> Option<&JobConfig> {
    c.jobs.get(&j)
}

fn skus() -> SkuMaps {
    SkuMaps::new([("SKU-1".to_string(), "LX-1".to_string())].into())
}

fn reason_of<W: std::fmt::Debug>(d: Decision<W>) -> (ReasonCode, String) {
    match d {
        Decision::Skip(r) => (r.code, r.subject),
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn push_builds_the_create_from_mappings() {
    let c = config(json!({}));
    let Decision::Write(p) = decide_push(&order(json!({})), None, &c.mapping, &skus()) else {
        panic!()
    };
    assert_eq!(p.store_id, "S-1");
    assert_eq!(p.platform_order_no, "PO-1");
    assert_eq!(p.wid.as_deref(), Some("1300"));
    assert_eq!(p.logistics_type_id.as_deref(), Some("101"));
    assert_eq!(
        (
            p.receiver_name.as_str(),
            p.city.as_str(),
            p.address_line1.as_str()
        ),
        ("Jane Doe", "Ontario", "1 Main St")
    );
    assert_eq!(p.postal_code.as_deref(), Some("91761"));
    // Default push price list: consumerPriceWithTax first.
    assert_eq!(p.lines[0].unit_price, d("10.79"));
    assert_eq!(p.lines[1].unit_price, d("12.00"));
    assert_eq!(p.lines[0].sku.as_deref(), Some("LX-1"));
    assert_eq!(p.lines[1].sku, None, "unmapped SKU goes as MSKU only");
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("SKU-2") && n.contains("same-name fallback"))
    );
}

#[test]
fn push_skips_name_what_to_fix() {
    let c = config(
        json!({"push_to_lingxing": {"enable": true, "cron": "@hourly", "size": 5, "require_warehouse": true, "price_source": ["retailPrice"]}}),
    );
    let strict = job(&c, JobName::PushToLingxing);
    let m = &c.mapping;
    let cases: Vec<(Value, Option<&JobConfig>, ReasonCode, &str)> = vec![
        (
            json!({"dscoRetailerId": "1000099999"}),
            None,
            ReasonCode::ShopUnmapped,
            "1000099999",
        ),
        (
            json!({"shipWarehouseCode": "US-XX-09"}),
            strict,
            ReasonCode::WarehouseUnmapped,
            "US-XX-09",
        ),
        (
            json!({"shippingServiceLevelCode": "FECG"}),
            None,
            ReasonCode::ShipmentUnmapped,
            "US-CA-01-FECG",
        ),
        (
            json!({"shipping": {"name": "J", "address": ["1 Main"], "country": "US"}}),
            None,
            ReasonCode::AddressIncomplete,
            "shipping.city",
        ),
        (
            json!({"lineItems": [{"lineNumber": 1, "quantity": 1, "expectedCost": 1}]}),
            None,
            ReasonCode::SkuMissing,
            "line 1",
        ),
        (
            json!({}),
            strict,
            ReasonCode::PriceMissing,
            "line 1 (SKU-1) [retailPrice]",
        ),
    ];
    for (extra, j, code, subject) in cases {
        let (got, subj) = reason_of(decide_push(&order(extra.clone()), j, m, &skus()));
        assert_eq!(got, code, "{extra}");
        assert_eq!(subj, subject, "{extra}");
    }
    // Without require_warehouse an unmapped warehouse goes without wid (and no logistics type).
    let Decision::Write(p) = decide_push(
        &order(json!({"shipWarehouseCode": "US-XX-09"})),
        None,
        m,
        &skus(),
    ) else {
        panic!()
    };
    assert_eq!((p.wid, p.logistics_type_id), (None, None));
    assert!(p.notes[0].contains("US-XX-09"));
}

#[test]
fn push_leaves_out_cancelled_quantity() {
    let c = config(json!({}));
    let o = order(json!({"lineItems": [
        {"lineNumber": 1, "sku": "SKU-1", "quantity": 3, "cancelledQuantity": 1, "consumerPrice": 1},
        {"lineNumber": 2, "sku": "SKU-2", "quantity": 1, "cancelledQuantity": 1}
    ]}));
    let Decision::Write(p) = decide_push(&o, None, &c.mapping, &skus()) else {
        panic!()
    };
    assert_eq!(
        p.lines.len(),
        1,
        "a fully cancelled line (even without price) is left out"
    );
    assert_eq!(p.lines[0].quantity, 2);
}

fn lx(no: &str, status: i64) -> LxOrder {
    LxOrder {
        global_order_no: no.into(),
        status: LxOrderStatus::from_code(status),
        platform_order_nos: vec!["PO-1".into()],
    }
}

#[test]
fn ack_rules() {
    let c = config(
        json!({"ack_to_dsco": {"enable": true, "cron": "@hourly", "size": 5, "multi_ban": true}}),
    );
    let banned = job(&c, JobName::AckToDsco);
    let o = order(json!({}));
    assert!(matches!(
        decide_ack(
            &order(json!({"dscoStatus": "shipment_pending"})),
            banned,
            &[]
        ),
        Decision::Advance { .. }
    ));
    assert!(matches!(
        decide_ack(
            &order(json!({"dscoStatus": "created", "dscoLifecycle": "acknowledged"})),
            None,
            &[]
        ),
        Decision::Advance { .. }
    ));
    assert_eq!(
        reason_of(decide_ack(&o, None, &[])).0,
        ReasonCode::LingxingOrderMissing
    );
    assert_eq!(
        reason_of(decide_ack(&o, None, &[lx("A", 7)])).0,
        ReasonCode::LingxingCancelled
    );
    let (code, subj) = reason_of(decide_ack(&o, None, &[lx("A", 5), lx("B", 4)]));
    assert_eq!(
        (code, subj.as_str()),
        (ReasonCode::LingxingNotAudited, "B status 4")
    );
    assert_eq!(
        decide_ack(&o, None, &[lx("B", 6), lx("A", 5), lx("C", 7)]),
        Decision::Write(AckWrite {
            po: "PO-1".into(),
            supplier_order_number: "A".into()
        })
    );
    let (code, subj) = reason_of(decide_ack(&o, banned, &[lx("A", 5)]));
    assert_eq!(
        (code, subj.as_str()),
        (
            ReasonCode::MultiBan,
            "runtime_config.jobs.ack_to_dsco.multi_ban"
        )
    );
}

fn ob(
    wo: &str,
    status: i64,
    tracking: Option<&str>,
    items: &[(&str, i64, i64)],
    day: u32,
) -> LxOutbound {
    LxOutbound {
        wo_number: wo.into(),
        order_number: Some("A".into()),
        platform_order_nos: vec!["PO-1".into()],
        status: LxOutboundStatus::from_code(status),
        tracking_no: tracking.map(str::to_owned),
        delivered_at: Some(Utc.with_ymd_and_hms(2026, 3, day, 4, 0, 0).unwrap()),
        stock_delivered_at: None,
        carrier: Some("UPS".into()),
        items: items
            .iter()
            .map(|(s, c, b)| LxOutboundItem {
                sku: s.to_string(),
                msku: None,
                count: *c,
                bundle_type: *b,
            })
            .collect(),
    }
}

#[test]
fn ship_sends_new_packages_once_with_span_flags() {
    let o = order(
        json!({"dscoStatus": "shipment_pending", "dscoLifecycle": "acknowledged", "packages": [{"trackingNumber": "T0"}]}),
    );
    let obs = vec![
        ob("W0", 3, Some("T0"), &[("SKU-2", 1, 0)], 1),
        ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 2),
        ob("W2", 3, Some("T2"), &[("LX-1", 1, 0)], 3),
        ob("W3", 4, Some("T3"), &[("LX-1", 5, 0)], 3),
        ob("W4", 2, None, &[("LX-1", 1, 0)], 3),
    ];
    let shipped = map_outbounds(&o, &obs, &skus()).unwrap();
    assert!(
        !shipped.packages.contains_key("T3"),
        "intercepted outbound left out"
    );
    assert_eq!(shipped.out_per_line, BTreeMap::from([(0, 2), (1, 1)]));
    let sent = BTreeSet::from(["T1".to_string()]);
    let cx = ShipContext {
        already_sent: &sent,
        require_full_shipment: false,
        multi_ban: false,
        carrier_map: None,
        lingxing: &[],
        ack_confirmed: false,
    };
    let Decision::Write(w) = decide_ship(&o, &shipped, &cx) else {
        panic!()
    };
    let trackings: Vec<_> = w
        .shipments
        .iter()
        .map(|s| s.tracking_number.as_str())
        .collect();
    assert_eq!(trackings, vec!["T2"], "T0 is on DSCO, T1 was sent");
    let s = &w.shipments[0];
    assert_eq!(s.lines.len(), 1);
    assert_eq!(
        (
            s.lines[0].line_number,
            s.lines[0].sku.as_deref(),
            s.lines[0].quantity
        ),
        (Some(1), Some("SKU-1"), 1)
    );
    assert!(s.lines[0].package_span, "line 1 spans T1 and T2");
    assert_eq!(
        s.ship_date,
        Some(Utc.with_ymd_and_hms(2026, 3, 3, 4, 0, 0).unwrap())
    );
    assert_eq!(
        (
            s.carrier.as_deref(),
            s.service_level.as_deref(),
            s.warehouse_code.as_deref()
        ),
        (Some("UPS"), Some("UPCG"), Some("US-CA-01"))
    );

    let mut not_out = shipped.clone();
    not_out.packages.get_mut("T2").unwrap().ship_time = None;
    assert_eq!(
        reason_of(decide_ship(&o, &not_out, &cx)).0,
        ReasonCode::NoTrackingYet,
        "no ship time: not out yet"
    );

    let all = BTreeSet::from(["T1".to_string(), "T2".to_string()]);
    let cx = ShipContext {
        already_sent: &all,
        ..cx
    };
    assert_eq!(
        reason_of(decide_ship(&o, &shipped, &cx)).0,
        ReasonCode::NoTrackingYet
    );
}

#[test]
fn ship_status_gates_and_options() {
    let none = BTreeSet::new();
    let cx = ShipContext {
        already_sent: &none,
        require_full_shipment: false,
        multi_ban: false,
        carrier_map: None,
        lingxing: &[],
        ack_confirmed: false,
    };
    let shipped = Shipped::default();
    assert!(matches!(
        decide_ship(
            &order(json!({"dscoStatus": "shipped", "dscoLifecycle": "completed"})),
            &shipped,
            &cx
        ),
        Decision::Advance { .. }
    ));
    assert_eq!(
        reason_of(decide_ship(&order(json!({})), &shipped, &cx)).0,
        ReasonCode::DscoNotReady
    );
    // Shipped but not completed: later packages still go.
    let o = order(
        json!({"dscoStatus": "shipped", "dscoLifecycle": "acknowledged", "shippingServiceLevelCode": "FECG"}),
    );
    let partial = map_outbounds(
        &o,
        &[ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 2)],
        &skus(),
    )
    .unwrap();
    let carriers = BTreeMap::from([(
        ServiceLevel::parse("FECG").unwrap(),
        CarrierName::parse("FedEx").unwrap(),
    )]);
    let cx2 = ShipContext {
        carrier_map: Some(&carriers),
        ..cx.clone()
    };
    let Decision::Write(w) = decide_ship(&o, &partial, &cx2) else {
        panic!()
    };
    assert_eq!(
        w.shipments[0].carrier.as_deref(),
        Some("FedEx"),
        "mapping.carrier overrides"
    );
    let full = ShipContext {
        require_full_shipment: true,
        ..cx.clone()
    };
    let (code, subj) = reason_of(decide_ship(&o, &partial, &full));
    assert_eq!(
        (code, subj.as_str()),
        (ReasonCode::AwaitingFullShipment, "SKU-1 1/2, SKU-2 0/1")
    );
    let ban = ShipContext {
        multi_ban: true,
        ..cx
    };
    assert_eq!(
        reason_of(decide_ship(&o, &partial, &ban)).0,
        ReasonCode::MultiBan
    );
}

/// R4 on an order pulled before its ACK: DSCO's confirmation of this service's ACK lets the
/// shipment go (the pull would read `shipment_pending` only after its lag); a cancellation or a
/// state DSCO does not name does not become sendable through it.
#[test]
fn a_confirmed_ack_lets_an_order_pulled_before_it_ship() {
    use crate::order::{DscoLifecycle as L, DscoStatus as S};
    for (status, lifecycle, without, with) in [
        (Some(S::Created), Some(L::Created), false, true),
        (Some(S::Created), None, false, true),
        (None, Some(L::Received), false, true),
        (None, Some(L::Created), false, true),
        (Some(S::ShipmentPending), Some(L::Acknowledged), true, true),
        (Some(S::Shipped), Some(L::Acknowledged), true, true),
        (None, Some(L::Acknowledged), true, true),
        (Some(S::Cancelled), Some(L::Created), false, false),
        (Some(S::Cancelled), Some(L::Completed), false, false),
        (None, Some(L::Completed), false, false),
        (Some(S::Unknown("held".into())), None, false, false),
        (None, Some(L::Unknown("odd".into())), false, false),
        (None, None, false, false),
    ] {
        assert_eq!(
            dsco_lets_ship(status.as_ref(), lifecycle.as_ref(), false),
            without,
            "{status:?} / {lifecycle:?} without a confirmed ACK"
        );
        assert_eq!(
            dsco_lets_ship(status.as_ref(), lifecycle.as_ref(), true),
            with,
            "{status:?} / {lifecycle:?} with a confirmed ACK"
        );
        // The ACK makes the difference exactly for the states before it.
        assert_eq!(
            dsco_before_ack(status.as_ref(), lifecycle.as_ref()),
            with && !without,
            "{status:?} / {lifecycle:?}: before the ACK"
        );
    }
    // Through decide_ship: the same order waits without the confirmation and ships with it.
    let o = order(json!({}));
    let shipped = map_outbounds(
        &o,
        &[ob(
            "W1",
            3,
            Some("T1"),
            &[("LX-1", 2, 0), ("SKU-2", 1, 0)],
            2,
        )],
        &skus(),
    )
    .unwrap();
    let none = no_trackings();
    let cx = ship_cx(&none);
    assert_eq!(
        reason_of(decide_ship(&o, &shipped, &cx)).0,
        ReasonCode::DscoNotReady
    );
    let acked = ShipContext {
        ack_confirmed: true,
        ..cx
    };
    assert!(matches!(
        decide_ship(&o, &shipped, &acked),
        Decision::Write(_)
    ));
    let cancelled = order(json!({"dscoStatus": "cancelled"}));
    assert_eq!(
        reason_of(decide_ship(&cancelled, &shipped, &acked)).0,
        ReasonCode::DscoNotReady
    );
}

#[test]
fn ship_names_a_lingxing_cancellation_instead_of_waiting() {
    let none = BTreeSet::new();
    let o = order(json!({"dscoStatus": "shipment_pending", "dscoLifecycle": "acknowledged"}));
    let gone = [lx("103-1", 7), lx("103-2", 8)];
    let cx = ShipContext {
        already_sent: &none,
        require_full_shipment: false,
        multi_ban: false,
        carrier_map: None,
        lingxing: &gone,
        ack_confirmed: false,
    };
    let (code, subject) = reason_of(decide_ship(&o, &Shipped::default(), &cx));
    assert_eq!(code, ReasonCode::LingxingCancelled);
    assert!(subject.contains("103-1 status 7") && subject.contains("103-2 status 8"));
    // One of them still live: waiting for its package, as before.
    let split = [lx("103-1", 7), lx("103-2", 5)];
    let cx = ShipContext {
        lingxing: &split,
        ack_confirmed: false,
        ..cx
    };
    assert_eq!(
        reason_of(decide_ship(&o, &Shipped::default(), &cx)).0,
        ReasonCode::NoTrackingYet
    );
}

#[test]
fn outbound_mapping_counts_bundles_once_and_names_strangers() {
    let o = order(json!({}));
    let s = map_outbounds(
        &o,
        &[ob(
            "W1",
            3,
            Some("T1"),
            &[("LX-1", 2, 1), ("PART-A", 2, 2), ("SKU-2", 1, 0)],
            1,
        )],
        &skus(),
    )
    .unwrap();
    assert_eq!(s.out_per_line, BTreeMap::from([(0, 2), (1, 1)]));
    let err = map_outbounds(
        &o,
        &[ob("W9", 3, Some("T9"), &[("LX-404", 1, 0)], 1)],
        &skus(),
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.subject.as_str()),
        (ReasonCode::SkuUnmatched, "LX-404 (outbound W9)")
    );
    let ambiguous = SkuMaps::new(
        [
            ("SKU-1".into(), "LX-1".into()),
            ("SKU-1B".into(), "LX-1".into()),
        ]
        .into(),
    );
    assert_eq!(
        map_outbounds(
            &o,
            &[ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 1)],
            &ambiguous
        )
        .unwrap_err()
        .code,
        ReasonCode::ReverseMapAmbiguous
    );
}

#[test]
fn invoice_rules_and_rounding() {
    let o = order(json!({"dscoStatus": "shipped"}));
    let obs = [
        ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 1),
        ob("W2", 3, Some("T2"), &[("LX-1", 1, 0), ("SKU-2", 1, 0)], 4),
    ];
    let one = map_outbounds(&o, &obs[..1], &skus()).unwrap();
    let both = map_outbounds(&o, &obs, &skus()).unwrap();
    let confirmed = BTreeSet::from(["T1".to_string()]);
    let (code, subj) = reason_of(decide_invoice(&o, None, &one, &confirmed));
    assert_eq!(
        (code, subj.as_str()),
        (ReasonCode::NotFullyShipped, "SKU-1 1/2, SKU-2 0/1")
    );
    let (code, subj) = reason_of(decide_invoice(&o, None, &both, &confirmed));
    assert_eq!(
        (code, subj.as_str()),
        (ReasonCode::ShipmentsUnconfirmed, "T2")
    );
    let confirmed = BTreeSet::from(["T1".to_string(), "T2".to_string()]);
    let Decision::Write(inv) = decide_invoice(&o, None, &both, &confirmed) else {
        panic!()
    };
    assert_eq!(inv.invoice_id, "PO-1");
    assert_eq!(inv.currency, "USD");
    // expectedCost by default: 2 × 3.335 + 1 × 5.10 = 11.77 exactly; 6.67 (6.670) per line 1.
    assert_eq!(inv.lines[0].unit_price, d("3.335"));
    assert_eq!(inv.lines[0].extended_amount, d("6.67"));
    assert_eq!(inv.total, d("11.77"));
    assert_eq!(
        inv.invoice_date,
        Some(Utc.with_ymd_and_hms(2026, 3, 4, 4, 0, 0).unwrap())
    );
    // Cancelled quantity is not billed; a fully cancelled line is left out.
    let c = order(json!({"lineItems": [
        {"lineNumber": 1, "sku": "SKU-1", "quantity": 3, "cancelledQuantity": 1, "rejectedQuantity": 1, "expectedCost": "0.005"},
        {"lineNumber": 2, "sku": "SKU-2", "quantity": 1, "cancelledQuantity": 1}]}));
    let s = map_outbounds(
        &c,
        &[ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 1)],
        &skus(),
    )
    .unwrap();
    let Decision::Write(inv) = decide_invoice(&c, None, &s, &BTreeSet::from(["T1".to_string()]))
    else {
        panic!()
    };
    assert_eq!(inv.lines.len(), 1);
    assert_eq!(inv.lines[0].quantity, 1);
    assert_eq!(inv.total, d("0.01"), "half-up: 0.005 → 0.01");
    // No price in the list: needs attention.
    let cfg = config(
        json!({"invoice_to_dsco": {"enable": true, "cron": "@hourly", "size": 5, "price_source": ["retailPrice"]}}),
    );
    assert_eq!(
        reason_of(decide_invoice(
            &o,
            job(&cfg, JobName::InvoiceToDsco),
            &both,
            &confirmed
        ))
        .0,
        ReasonCode::PriceMissing
    );
}

#[test]
fn cents_round_half_up() {
    for (a, b) in [
        ("1.005", "1.01"),
        ("1.004", "1.00"),
        ("2.675", "2.68"),
        ("10", "10"),
        ("0.125", "0.13"),
    ] {
        assert_eq!(round_cents(d(a)), d(b), "{a}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever LingXing shipped, a tracking number already on DSCO or already sent is never in
    /// the shipments, and each new package carries exactly the quantities mapped to it.
    #[test]
    fn ship_never_resends(
        pkgs in proptest::collection::vec((0usize..6, 1i64..4, 0usize..2, prop::bool::ANY), 1..8),
        sent_mask in 0u8..64,
        on_dsco in 0usize..6,
    ) {
        let o = order(json!({"dscoStatus": "shipment_pending", "packages": [{"trackingNumber": format!("T{on_dsco}")}]}));
        let obs: Vec<_> = pkgs.iter().enumerate().map(|(i, (t, q, line, out))| {
            let sku = if *line == 0 { "LX-1" } else { "SKU-2" };
            let tracking = format!("T{t}");
            ob(&format!("W{i}"), if *out { 3 } else { 2 }, Some(tracking.as_str()), &[(sku, *q, 0)], 1)
        }).collect();
        let shipped = map_outbounds(&o, &obs, &skus()).unwrap();
        let sent: BTreeSet<String> = (0..6).filter(|i| sent_mask & (1 << i) != 0).map(|i| format!("T{i}")).collect();
        let cx = ShipContext { already_sent: &sent, require_full_shipment: false, multi_ban: false, carrier_map: None, lingxing: &[], ack_confirmed: false };
        match decide_ship(&o, &shipped, &cx) {
            Decision::Write(w) => {
                let mut seen = BTreeSet::new();
                for s in &w.shipments {
                    prop_assert!(!sent.contains(&s.tracking_number));
                    let dsco_has = format!("T{}", on_dsco);
                    prop_assert!(s.tracking_number != dsco_has);
                    prop_assert!(seen.insert(s.tracking_number.clone()), "one shipment per tracking number");
                    let total: i64 = s.lines.iter().map(|l| l.quantity).sum();
                    let expect: i64 = shipped.packages[&s.tracking_number].lines.values().sum();
                    prop_assert_eq!(total, expect);
                }
            }
            Decision::Skip(r) => prop_assert_eq!(r.code, ReasonCode::NoTrackingYet),
            Decision::Advance { .. } => prop_assert!(false, "not completed"),
        }
    }
}

#[test]
fn ship_names_an_interception_when_nothing_else_can_leave() {
    let none = BTreeSet::new();
    let o = order(json!({"dscoStatus": "shipment_pending", "dscoLifecycle": "acknowledged"}));
    let cx = ShipContext {
        already_sent: &none,
        require_full_shipment: false,
        multi_ban: false,
        carrier_map: None,
        lingxing: &[],
        ack_confirmed: false,
    };
    let all = vec![ob("W7", 4, None, &[("LX-1", 1, 0)], 2)];
    let shipped = map_outbounds(&o, &all, &skus()).unwrap();
    let (code, subject) = reason_of(decide_ship(&o, &shipped, &cx));
    assert_eq!(code, ReasonCode::LingxingIntercepted);
    assert_eq!(code.kind(), crate::ReasonKind::NeedsAttention);
    assert!(subject.contains("W7"), "{subject}");
    // Another outbound still pending: waiting for it, as before.
    let some = vec![
        ob("W7", 4, None, &[("LX-1", 1, 0)], 2),
        ob("W8", 2, None, &[("LX-1", 1, 0)], 2),
    ];
    let shipped = map_outbounds(&o, &some, &skus()).unwrap();
    assert_eq!(
        reason_of(decide_ship(&o, &shipped, &cx)).0,
        ReasonCode::NoTrackingYet
    );
}

// ------------------------------------------------------------------------------------------
// data defects (issue 13)

fn no_trackings() -> BTreeSet<String> {
    BTreeSet::new()
}

fn t1() -> BTreeSet<String> {
    BTreeSet::from(["T1".to_string()])
}

/// The order's outbound orders: one, W1, shipped on day 1 under T1 with `count` of `sku`.
fn out_t1(o: &DscoOrderView, sku: &str, count: i64) -> Shipped {
    map_outbounds(
        o,
        &[ob("W1", 3, Some("T1"), &[(sku, count, 0)], 1)],
        &skus(),
    )
    .unwrap()
}

fn ship_cx<'a>(none: &'a BTreeSet<String>) -> ShipContext<'a> {
    ShipContext {
        already_sent: none,
        require_full_shipment: false,
        multi_ban: false,
        carrier_map: None,
        lingxing: &[],
        ack_confirmed: false,
    }
}

/// Item 6: an order with one SKU on two lines ships one unit on each line (it used to book
/// both on the first line, which DSCO refuses), and the invoice bills each line once.
#[test]
fn one_sku_on_two_lines_is_booked_across_both() {
    let o = order(
        json!({"dscoStatus": "shipment_pending", "dscoLifecycle": "acknowledged",
        "lineItems": [
            {"lineNumber": 1, "sku": "SKU-1", "quantity": 1, "expectedCost": "3.00"},
            {"lineNumber": 2, "sku": "SKU-1", "quantity": 1, "expectedCost": "4.00"}
        ]}),
    );
    // One package with both units.
    let one = out_t1(&o, "LX-1", 2);
    assert_eq!(one.out_per_line, BTreeMap::from([(0, 1), (1, 1)]));
    let none = no_trackings();
    let Decision::Write(w) = decide_ship(&o, &one, &ship_cx(&none)) else {
        panic!()
    };
    let lines: Vec<_> = w.shipments[0]
        .lines
        .iter()
        .map(|l| (l.line_number, l.quantity))
        .collect();
    assert_eq!(lines, vec![(Some(1), 1), (Some(2), 1)]);
    // Two packages, listed by LingXing latest first: the earlier one books line 1.
    let two = map_outbounds(
        &o,
        &[
            ob("W2", 3, Some("T2"), &[("LX-1", 1, 0)], 3),
            ob("W1", 3, Some("T1"), &[("LX-1", 1, 0)], 1),
        ],
        &skus(),
    )
    .unwrap();
    assert_eq!(two.packages["T1"].lines, BTreeMap::from([(0, 1)]));
    assert_eq!(two.packages["T2"].lines, BTreeMap::from([(1, 1)]));
    // Only the first out: the invoice waits for line 2, named by its line.
    let first = out_t1(&o, "LX-1", 1);
    let (code, subject) = reason_of(decide_invoice(&o, None, &first, &t1()));
    assert_eq!(
        (code, subject.as_str()),
        (ReasonCode::NotFullyShipped, "line 2 (SKU-1) 0/1")
    );
    // The second package alone after the first was sent: still line 2.
    let sent = BTreeSet::from(["T1".to_string()]);
    let Decision::Write(w) = decide_ship(&o, &two, &ship_cx(&sent)) else {
        panic!()
    };
    assert_eq!(w.shipments.len(), 1);
    assert_eq!(w.shipments[0].lines[0].line_number, Some(2));
    // The invoice: both lines out, each billed once at its own price.
    let confirmed = BTreeSet::from(["T1".to_string(), "T2".to_string()]);
    let Decision::Write(inv) = decide_invoice(&o, None, &two, &confirmed) else {
        panic!("{:?}", decide_invoice(&o, None, &two, &confirmed))
    };
    let lines: Vec<_> = inv
        .lines
        .iter()
        .map(|l| (l.line_number, l.quantity, l.unit_price))
        .collect();
    assert_eq!(
        lines,
        vec![(Some(1), 1, d("3.00")), (Some(2), 1, d("4.00"))]
    );
    assert_eq!(inv.total, d("7.00"));
    // Open quantities, not ordered ones: line 1 has 1 of 2 cancelled.
    let c = order(json!({"lineItems": [
        {"lineNumber": 1, "sku": "SKU-1", "quantity": 2, "cancelledQuantity": 1},
        {"lineNumber": 2, "sku": "SKU-1", "quantity": 1}
    ]}));
    let s = out_t1(&c, "LX-1", 2);
    assert_eq!(s.out_per_line, BTreeMap::from([(0, 1), (1, 1)]));
    // More than every line has open: the rest goes to the last line (DSCO says what is wrong).
    let s = out_t1(&o, "LX-1", 3);
    assert_eq!(s.out_per_line, BTreeMap::from([(0, 1), (1, 2)]));
}

/// Item 7: a line number twice is refused by the push and by every job that maps lines.
#[test]
fn a_line_number_twice_is_refused() {
    let c = config(json!({}));
    let o = order(json!({"dscoStatus": "shipment_pending", "lineItems": [
        {"lineNumber": 1, "sku": "SKU-1", "quantity": 1, "consumerPrice": 1},
        {"lineNumber": 2, "sku": "SKU-2", "quantity": 1, "consumerPrice": 1},
        {"lineNumber": 2, "sku": "SKU-3", "quantity": 1, "consumerPrice": 1}
    ]}));
    let (code, subject) = reason_of(decide_push(&o, None, &c.mapping, &skus()));
    assert_eq!(code, ReasonCode::LineNumberDuplicate);
    assert_eq!(subject, "lineNumber 2 on SKU-2 and SKU-3");
    let err = map_outbounds(
        &o,
        &[ob("W1", 3, Some("T1"), &[("SKU-2", 1, 0)], 1)],
        &skus(),
    )
    .unwrap_err();
    assert_eq!(err.code, ReasonCode::LineNumberDuplicate);
    assert!(err.subject.contains("lineNumber 2"), "{}", err.subject);
}

/// Item 8: the PO is kept exactly as DSCO sent it; one LingXing cannot take as it is is held.
#[test]
fn a_po_with_spaces_is_kept_and_held_not_trimmed() {
    let c = config(json!({}));
    let o = order(json!({"poNumber": " PO-1 "}));
    assert_eq!(o.po.as_str(), " PO-1 ", "never trimmed");
    let (code, subject) = reason_of(decide_push(&o, None, &c.mapping, &skus()));
    assert_eq!(code, ReasonCode::PoUnusable);
    assert_eq!(subject, "\" PO-1 \"", "the PO shown with its spaces");
    let tab = order(json!({"poNumber": "PO\t1"}));
    assert_eq!(
        reason_of(decide_push(&tab, None, &c.mapping, &skus())).0,
        ReasonCode::PoUnusable
    );
    // Later writes (for a PO pushed by hand) name it exactly as DSCO sent it.
    let Decision::Write(a) = decide_ack(&o, None, &[lx("A", 5)]) else {
        panic!()
    };
    assert_eq!(a.po, " PO-1 ");
}

/// Item 9: zero, negative, absurd and unreadable prices are held, naming the field and value.
#[test]
fn prices_outside_the_bound_are_held() {
    let c = config(json!({}));
    let line = |price: Value| {
        order(json!({"lineItems": [
            {"lineNumber": 1, "sku": "SKU-1", "quantity": 1, "consumerPriceWithTax": price, "expectedCost": price}
        ]}))
    };
    for (price, shown) in [
        (json!(-3), "-3"),
        (json!(0), "0"),
        (json!("0.00"), "0.00"),
        (json!(1e20), "100000000000000000000"),
        (json!("1e20"), "100000000000000000000"),
        (json!(1000000), "1000000"),
        (json!("12,50"), "\"12,50\""),
        (json!(true), "true"),
    ] {
        let o = line(price.clone());
        let (code, subject) = reason_of(decide_push(&o, None, &c.mapping, &skus()));
        assert_eq!(code, ReasonCode::PriceOutOfRange, "{price}");
        assert_eq!(
            subject,
            format!("line 1 (SKU-1) consumerPriceWithTax = {shown}"),
            "{price}"
        );
        let s = out_t1(&o, "LX-1", 1);
        let (code, subject) = reason_of(decide_invoice(&o, None, &s, &t1()));
        assert_eq!(code, ReasonCode::PriceOutOfRange, "{price}");
        assert!(subject.contains("expectedCost = "), "{subject}");
    }
    let Decision::Write(p) = decide_push(&line(json!("999999.99")), None, &c.mapping, &skus())
    else {
        panic!()
    };
    assert_eq!(p.lines[0].unit_price, d("999999.99"));
}

/// Item 13: unknown DSCO states, unusable quantities and missing lines each get their own
/// reason naming what is wrong (they used to wait for ever or read as `sku_missing`).
#[test]
fn unreadable_order_data_names_what_is_wrong() {
    let c = config(json!({}));
    let push = |extra: Value| reason_of(decide_push(&order(extra), None, &c.mapping, &skus()));
    let line = |q: Value| json!({"lineItems": [{"lineNumber": 1, "sku": "SKU-1", "quantity": q, "consumerPrice": 1}]});
    let cases: Vec<(Value, ReasonCode, &str)> = vec![
        (
            json!({"dscoStatus": "on_hold"}),
            ReasonCode::DscoStateUnknown,
            "dscoStatus = \"on_hold\"",
        ),
        (
            json!({"dscoLifecycle": "paused"}),
            ReasonCode::DscoStateUnknown,
            "dscoLifecycle = \"paused\"",
        ),
        (
            json!({"dscoStatus": null, "dscoLifecycle": null}),
            ReasonCode::DscoStateUnknown,
            "neither dscoStatus nor dscoLifecycle sent",
        ),
        (
            json!({"lineItems": null}),
            ReasonCode::LineItemsMissing,
            "lineItems",
        ),
        (
            json!({"lineItems": []}),
            ReasonCode::LineItemsMissing,
            "lineItems",
        ),
        (
            json!({"lineItems": {"sku": "SKU-1"}}),
            ReasonCode::LineItemsMissing,
            "lineItems",
        ),
        (
            line(json!(0)),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): quantity = 0",
        ),
        (
            line(json!(-2)),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): quantity = -2",
        ),
        (
            line(json!("two")),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): quantity = \"two\"",
        ),
        (
            line(json!(1.5)),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): quantity = 1.5",
        ),
        (
            line(json!(null)),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): quantity absent",
        ),
        (
            json!({"lineItems": [{"lineNumber": 1, "sku": "SKU-1", "quantity": 1, "cancelledQuantity": -1}]}),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): cancelledQuantity = -1",
        ),
        (
            json!({"lineItems": [{"lineNumber": 1, "sku": "SKU-1", "quantity": 1, "cancelledQuantity": 1, "rejectedQuantity": 1}]}),
            ReasonCode::QuantityInvalid,
            "line 1 (SKU-1): cancelledQuantity 1 + rejectedQuantity 1 > quantity 1",
        ),
    ];
    for (extra, code, subject) in cases {
        assert_eq!(push(extra.clone()), (code, subject.to_owned()), "{extra}");
        assert_eq!(code.kind(), crate::ReasonKind::NeedsAttention);
    }
    // Whole numbers in any of DSCO's spellings are fine.
    for q in [json!(2), json!("2"), json!(" 2 "), json!(2.0)] {
        let Decision::Write(p) = decide_push(&order(line(q.clone())), None, &c.mapping, &skus())
        else {
            panic!("{q}")
        };
        assert_eq!(p.lines[0].quantity, 2, "{q}");
    }
    // An unknown state holds the ACK and the shipment instead of waiting for ever.
    let odd = order(json!({"dscoStatus": "on_hold", "dscoLifecycle": "created"}));
    assert_eq!(
        reason_of(decide_ack(&odd, None, &[lx("A", 5)])).0,
        ReasonCode::DscoStateUnknown
    );
    let none = no_trackings();
    let shipped = out_t1(&odd, "LX-1", 2);
    assert_eq!(
        reason_of(decide_ship(&odd, &shipped, &ship_cx(&none))).0,
        ReasonCode::DscoStateUnknown
    );
    // Without the deprecated dscoStatus an acknowledged lifecycle is enough to ship.
    let no_status = order(json!({"dscoStatus": null, "dscoLifecycle": "acknowledged"}));
    assert!(matches!(
        decide_ship(&no_status, &shipped, &ship_cx(&none)),
        Decision::Write(_)
    ));
}
