//! Property: any body the client builds verifies under the simulator's (independent) verifier,
//! and flipping any byte of body, timestamp or sign makes it fail.
//! Cases: 48 by default, `PROPTEST_CASES` to raise.

use std::str::FromStr;

use lingxing::{CreateOrdersRequest, NewOrder, NewOrderItem, OrderListQuery};
use lingxing::{normalize_body, sign_request};
use proptest::prelude::*;
use rust_decimal::Decimal;
use sim::lingxing::verify::verify;

const APP: &str = "ak_PropTestApp01";
const TOKEN: &str = "4dcaa78e-b52d-4325-bc35-571021bb0787";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

// Printable text without control characters: serde_json writes those as `\u00xx`, where a
// flipped hex case would be the same text, which is no signature failure.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~é张三ü/+=&\"\\\\]{0,16}").unwrap()
}

fn order() -> impl Strategy<Value = NewOrder> {
    (
        text(),
        text(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        1u32..1000,
        0u64..1_000_000,
    )
        .prop_map(|(po, name, city, note, msku, qty, cents)| NewOrder {
            platform_order_no: format!("PO-{po}"),
            receiver_country_code: "US".into(),
            receiver_name: name,
            city,
            address_line1: "1 Main St".into(),
            buyer_note: note,
            items: vec![NewOrderItem {
                msku,
                sku: Some("LX-1001".into()),
                quantity: qty,
                unit_price: Decimal::new(cents as i64, 2),
                ..Default::default()
            }],
            ..Default::default()
        })
}

fn body() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (text(), proptest::collection::vec(order(), 0..3)).prop_map(|(store, orders)| {
            serde_json::to_value(CreateOrdersRequest {
                platform_code: 10009,
                store_id: store,
                orders,
            })
            .unwrap()
        }),
        (
            proptest::collection::vec(text(), 0..5),
            any::<bool>(),
            0u32..500
        )
            .prop_map(|(nos, del, off)| serde_json::to_value(OrderListQuery {
                offset: off,
                length: 200,
                platform_order_nos: nos,
                include_delete: Some(del),
                ..Default::default()
            })
            .unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn client_bodies_verify_and_any_flip_fails(
        v in body(),
        ts in 1_600_000_000i64..2_000_000_000,
        which in 0usize..3,
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let body = normalize_body(v);
        let text = body.to_string();
        let sign = sign_request(APP, TOKEN, ts, body.as_object()).unwrap();
        let ts_s = ts.to_string();
        prop_assert!(verify(APP, TOKEN, &ts_s, &sign, text.as_bytes()));

        let mut b = text.clone().into_bytes();
        let mut t = ts_s.clone().into_bytes();
        let mut s = sign.clone().into_bytes();
        match which {
            0 => { let i = pos.index(b.len()); b[i] ^= mask; }
            1 => { let i = pos.index(t.len()); t[i] ^= mask; }
            _ => { let i = pos.index(s.len()); s[i] ^= mask; }
        }
        let t = String::from_utf8_lossy(&t).into_owned();
        let s = String::from_utf8_lossy(&s).into_owned();
        prop_assert!(!verify(APP, TOKEN, &t, &s, &b), "flip {which} still verified");
    }
}

#[test]
fn decimal_prices_are_sent_as_strings() {
    let v = normalize_body(
        serde_json::to_value(NewOrderItem {
            sku: Some("A".into()),
            quantity: 1,
            unit_price: Decimal::from_str("10.00").unwrap(),
            ..Default::default()
        })
        .unwrap(),
    );
    assert_eq!(
        v.to_string(),
        r#"{"quantity":1,"sku":"A","unit_price":"10.00"}"#
    );
}
