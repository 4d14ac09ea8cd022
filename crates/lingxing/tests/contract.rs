//! Contract tests: exact request shapes pinned with wiremock. Expected bytes are literals (or
//! the reference's vectors); answers are the official examples in `fixtures/`.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use clock::Clock;
use lingxing::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const APP: &str = "ak_TestAppId0001";
const TOKEN: &str = "00000000-1111-2222-3333-444444444444";
const TS: i64 = 1720429074;

fn fixture(name: &str) -> Value {
    let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

async fn setup() -> (MockServer, LingxingClient) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth-server/oauth/access-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": "200", "msg": "OK",
            "data": {"access_token": TOKEN, "refresh_token": "da5b5047-e6d1-496c-ab4d-d5425a6a66e4", "expires_in": 7199}
        })))
        .mount(&server)
        .await;
    // The reference's vectors are computed at this instant.
    let clock = Clock::simulated(Utc.timestamp_opt(TS, 0).unwrap());
    let cfg = LingxingConfig::new(server.uri(), APP, "s3cr+t/Val=");
    let client = LingxingClient::new(cfg, clock, None).unwrap();
    (server, client)
}

async fn mount(server: &MockServer, p: &str, body: Value) {
    Mock::given(method("POST"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// The `sign` query parameter as sent (still URL-encoded).
fn raw_sign(r: &Request) -> String {
    let q = r.url.query().unwrap();
    q.split('&')
        .find_map(|kv| kv.strip_prefix("sign="))
        .unwrap()
        .to_owned()
}

/// Checks the public parameters and that the sign is encoded once and verifies under the
/// simulator's independent verifier.
fn assert_signed_once(r: &Request) {
    let q = r.url.query().unwrap();
    let raw = raw_sign(r);
    assert_eq!(
        q,
        format!("app_key={APP}&access_token={TOKEN}&timestamp={TS}&sign={raw}")
    );
    assert!(
        raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '%'),
        "sign must be percent-encoded: {raw}"
    );
    assert!(!raw.contains("%25"), "sign encoded twice: {raw}");
    let decoded = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert_eq!(decoded.len(), 64);
    assert!(decoded.ends_with("3xdLwpg9GveFCOIuycSfy"));
    assert!(sim::lingxing::verify::verify(
        APP,
        TOKEN,
        &TS.to_string(),
        &decoded,
        &r.body
    ));
    assert_eq!(
        r.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn token_request_is_multipart_with_app_id_and_secret() {
    let (server, client) = setup().await;
    let t = client.access_token().await.unwrap();
    assert_eq!(t.expose(), TOKEN);
    let reqs = requests_to(&server, "/api/auth-server/oauth/access-token").await;
    assert_eq!(reqs.len(), 1);
    let ct = reqs[0]
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(ct.starts_with("multipart/form-data"), "{ct}");
    let body = String::from_utf8_lossy(&reqs[0].body);
    assert!(
        body.contains("name=\"appId\"\r\n\r\nak_TestAppId0001\r\n"),
        "{body}"
    );
    assert!(
        body.contains("name=\"appSecret\"\r\n\r\ns3cr+t/Val=\r\n"),
        "{body}"
    );
    // A second call reuses the token.
    client.access_token().await.unwrap();
    assert_eq!(
        requests_to(&server, "/api/auth-server/oauth/access-token")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn order_list_pins_v5_query_and_body() {
    let (server, client) = setup().await;
    mount(&server, "/pb/mp/order/v2/list", fixture("order_list.json")).await;
    let page = client
        .list_orders(&OrderListQuery {
            offset: 0,
            length: 50,
            platform_order_nos: vec!["PO-10001".into(), "PO-10002".into()],
            include_delete: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let reqs = requests_to(&server, "/pb/mp/order/v2/list").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].url.query().unwrap(),
        "app_key=ak_TestAppId0001&access_token=00000000-1111-2222-3333-444444444444&timestamp=1720429074&sign=RRISffxUgwomXQmETB2U%2B0EU6qbLdA82KUtm3ebEQEM3xdLwpg9GveFCOIuycSfy"
    );
    assert_eq!(
        reqs[0].body,
        br#"{"include_delete":true,"length":50,"offset":0,"platform_order_nos":["PO-10001","PO-10002"]}"#
    );
    assert_signed_once(&reqs[0]);
    // The official example decodes: total as a string, ids, status, split type, money, times.
    assert_eq!(page.total, 1);
    let o = &page.items[0];
    assert_eq!(o.global_order_no, "103351413752115712");
    assert_eq!(o.store_id, "110268822038528000");
    assert_eq!(o.status, OrderStatus::PendingReview);
    assert!(!o.status.is_audited());
    assert_eq!(o.split_type, SplitType::Original);
    assert_eq!(o.global_review_time, None);
    assert_eq!(
        o.update_time,
        Some(Utc.timestamp_opt(1693496773, 0).unwrap())
    );
    assert_eq!(o.item_info[0].quantity, 2);
    assert_eq!(
        o.item_info[0].unit_price_amount,
        Some(Decimal::from_str("60.00").unwrap())
    );
    assert_eq!(o.platform_info[0].platform_order_no, "5501270851822");
    assert_eq!(
        o.logistics_info
            .as_ref()
            .unwrap()
            .logistics_type_id
            .as_deref(),
        Some("0")
    );
    assert_eq!(o.logistics_info.as_ref().unwrap().tracking_no, None);
}

#[tokio::test]
async fn inventory_details_pins_v2_query_and_body() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/erp/sc/routing/data/local_inventory/inventoryDetails",
        fixture("inventory_details.json"),
    )
    .await;
    let page = client
        .inventory_details(&InventoryQuery {
            wids: vec!["1".into(), "578".into()],
            sku: None,
            offset: 0,
            length: 200,
        })
        .await
        .unwrap();
    let reqs = requests_to(
        &server,
        "/erp/sc/routing/data/local_inventory/inventoryDetails",
    )
    .await;
    assert_eq!(
        reqs[0].url.query().unwrap(),
        "app_key=ak_TestAppId0001&access_token=00000000-1111-2222-3333-444444444444&timestamp=1720429074&sign=yNgpRHfVRZOZqISHwAsC0oqnEl9LOF4m9PyHUC%2F3tFE3xdLwpg9GveFCOIuycSfy"
    );
    assert_eq!(reqs[0].body, br#"{"length":200,"offset":0,"wid":"1,578"}"#);
    assert_signed_once(&reqs[0]);
    assert_eq!(page.total, 1);
    let row = &page.items[0];
    assert_eq!(row.wid, "1");
    assert_eq!(row.sku, "1111");
    assert_eq!(row.product_valid_num, 681);
    assert_eq!(row.product_total, 1943);
}

#[tokio::test]
async fn order_create_pins_body_and_reads_per_order_details() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/order/v2/create",
        fixture("order_create.json"),
    )
    .await;
    let req = CreateOrdersRequest {
        platform_code: 10009,
        store_id: "110283406273996288".into(),
        orders: vec![NewOrder {
            platform_order_no: "PO-10001".into(),
            receiver_country_code: "US".into(),
            receiver_name: "张三 O'Neil".into(),
            city: "São Paulo".into(),
            address_line1: "1 Main St".into(),
            amount_currency: Some("USD".into()),
            wid: Some("1300".into()),
            logistics_type_id: Some("101".into()),
            // Blank optional text is not sent.
            buyer_note: Some("  ".into()),
            items: vec![NewOrderItem {
                msku: Some("DSCO-SKU-1".into()),
                quantity: 2,
                unit_price: Decimal::from_str("19.99").unwrap(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let res = client.create_orders(&req).await.unwrap();
    let reqs = requests_to(&server, "/pb/mp/order/v2/create").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        std::str::from_utf8(&reqs[0].body).unwrap(),
        r#"{"orders":[{"address_line1":"1 Main St","amount_currency":"USD","city":"São Paulo","items":[{"msku":"DSCO-SKU-1","quantity":2,"unit_price":"19.99"}],"logistics_type_id":"101","platform_order_no":"PO-10001","receiver_country_code":"US","receiver_name":"张三 O'Neil","wid":"1300"}],"platform_code":10009,"store_id":"110283406273996288"}"#
    );
    assert_signed_once(&reqs[0]);
    assert_eq!(
        res.created,
        vec![CreatedOrder {
            platform_order_no: "263407812560417017".into(),
            global_order_no: "103336708973801472".into()
        }]
    );
    assert!(res.refused.is_empty());
}

#[tokio::test]
async fn order_create_reads_refused_orders_with_numeric_ids() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/order/v2/create",
        json!({"code": 0, "message": "操作成功", "data": {
            "error_details": [{"platform_order_no": "PO-2", "error_message": "whatever text"}],
            "success_details": [{"platform_order_no": "PO-1", "global_order_no": 103336708973801472u64}]
        }}),
    )
    .await;
    let req = CreateOrdersRequest {
        platform_code: 10009,
        store_id: "1".into(),
        orders: vec![],
    };
    let res = client.create_orders(&req).await.unwrap();
    assert_eq!(res.created[0].global_order_no, "103336708973801472");
    assert_eq!(res.refused[0].platform_order_no, "PO-2");
}

#[tokio::test]
async fn wms_order_list_pins_body_and_reads_local_times() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/erp/sc/routing/wms/order/wmsOrderList",
        fixture("wms_order_list.json"),
    )
    .await;
    let page = client
        .wms_orders(&WmsOrderQuery {
            page: 1,
            page_size: 200,
            platform_order_no_arr: vec!["PO-10001".into()],
            time_type: Some("create_at".into()),
            start_date: Some("2024-06-08".into()),
            end_date: Some("2024-07-08".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let reqs = requests_to(&server, "/erp/sc/routing/wms/order/wmsOrderList").await;
    assert_eq!(
        reqs[0].body,
        br#"{"end_date":"2024-07-08","page":1,"page_size":200,"platform_order_no_arr":["PO-10001"],"start_date":"2024-06-08","time_type":"create_at"}"#
    );
    assert_signed_once(&reqs[0]);
    assert_eq!(page.total, 1);
    let w = &page.items[0];
    assert_eq!(w.wo_number, "WO103341008688546816");
    assert_eq!(w.order_number, "103340669924180992");
    assert_eq!(w.platform_order_no, vec!["testverppp0117".to_string()]);
    assert_eq!(w.status, WmsStatus::Intercepted);
    assert_eq!(w.tracking_no, None);
    assert_eq!(w.delivered_at, None);
    // 2023-08-02 14:07:54 in Asia/Shanghai.
    assert_eq!(
        w.create_at,
        Some(Utc.with_ymd_and_hms(2023, 8, 2, 6, 7, 54).unwrap())
    );
    assert_eq!(w.logistics_type_id.as_deref(), Some("265"));
    assert_eq!(w.product_info[0].sku, "tianjia");
    assert_eq!(w.product_info[0].count, 1);
    assert_eq!(w.product_info[0].bundle_type, 0);
}

#[tokio::test]
async fn pair_list_pins_cursor_body() {
    let (server, client) = setup().await;
    let fx = fixture("pair_list.json");
    mount(
        &server,
        "/pb/mp/listing/v2/getPairList",
        json!({"code": 0, "message": "操作成功", "data": {
            "has_next": false, "next_cursor_id": 1, "list": fx["data"]["list"].clone()
        }}),
    )
    .await;
    let pairs = client
        .pairs_all(&PairQuery {
            store_ids: vec!["110283406273996288".into()],
            length: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let reqs = requests_to(&server, "/pb/mp/listing/v2/getPairList").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].body,
        br#"{"cursor_id":0,"length":200,"store_ids":["110283406273996288"],"use_cursor":true}"#
    );
    assert_signed_once(&reqs[0]);
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].msku, "custom001");
    assert_eq!(pairs[0].sku, "Book-A4-60");
    assert_eq!(pairs[0].platform_code, "10003");
    assert_eq!(
        pairs[0].modify_time,
        Some(Utc.with_ymd_and_hms(2021, 6, 24, 14, 9, 43).unwrap())
    );
}

#[tokio::test]
async fn reference_lists_decode_official_examples() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/shop/v2/getSellerList",
        fixture("seller_list.json"),
    )
    .await;
    mount(
        &server,
        "/erp/sc/data/local_inventory/warehouse",
        fixture("warehouse.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(
            "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("used_logistics_type.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(
        &server,
        "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType",
        json!({"code": 0, "message": "success", "data": [], "total": 460}),
    )
    .await;
    mount(
        &server,
        "/pb/mp/order/v2/cancelOrder",
        fixture("order_cancel.json"),
    )
    .await;
    let stores = client.stores_all(&[]).await.unwrap();
    assert_eq!(stores[0].store_id, "1108413237731xxxx");
    assert_eq!(stores[0].platform_code, "10008");
    let whs = client.warehouses(None).await.unwrap();
    assert_eq!(whs.len(), 2);
    assert_eq!(whs[0].wid, "1300");
    // The example says total 460 but lists 2: a listing that stops short is an error.
    let lt = client.used_logistics_types(0).await;
    assert!(matches!(lt, Err(LingxingError::Transient { .. })), "{lt:?}");
    let c = client
        .cancel_orders(&["103430576541848064".into()])
        .await
        .unwrap();
    assert_eq!(c.process_code, 10002);
    assert_eq!(c.success_num, 1);
    let reqs = requests_to(
        &server,
        "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType",
    )
    .await;
    assert_eq!(
        reqs[0].body,
        br#"{"param":{"length":200,"page":1,"provider_type":0}}"#
    );
    assert_signed_once(&reqs[0]);
}

#[tokio::test]
async fn soft_error_is_rejected() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/order/v2/list",
        json!({"code": 0, "message": "store_id 参数错误", "data": null}),
    )
    .await;
    let r = client.list_orders(&OrderListQuery::default()).await;
    match r {
        Err(LingxingError::Rejected { code, message }) => {
            assert_eq!(code.as_str(), "0");
            assert!(message.contains("参数错误"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_sign_is_rejected_without_retry() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/order/v2/list",
        json!({"code": "2001006", "msg": "api sign not correct", "data": {"throwable": "x"}}),
    )
    .await;
    let r = client.list_orders(&OrderListQuery::default()).await;
    assert!(
        matches!(&r, Err(LingxingError::Rejected { code, .. }) if code.as_str() == "2001006"),
        "{r:?}"
    );
    assert_eq!(requests_to(&server, "/pb/mp/order/v2/list").await.len(), 1);
}

#[tokio::test]
async fn interrupted_listing_fails_closed() {
    let (server, client) = setup().await;
    let row = fixture("inventory_details.json")["data"][0].clone();
    // First page: one row of a reported five; second page: empty.
    Mock::given(method("POST"))
        .and(path(
            "/erp/sc/routing/data/local_inventory/inventoryDetails",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 0, "message": "success", "data": [row], "total": 5})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/erp/sc/routing/data/local_inventory/inventoryDetails",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 0, "message": "success", "data": [], "total": 5})),
        )
        .mount(&server)
        .await;
    let r = client
        .inventory_all(InventoryQuery {
            wids: vec!["1".into()],
            ..Default::default()
        })
        .await;
    assert!(matches!(r, Err(LingxingError::Transient { .. })), "{r:?}");
}

#[tokio::test]
async fn wrong_secret_is_rejected_and_secrets_stay_out_of_debug() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth-server/oauth/access-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": "2001002", "msg": "app secret not correct", "data": null}),
        ))
        .mount(&server)
        .await;
    let cfg = LingxingConfig::new(server.uri(), APP, "TopSecretValue");
    assert!(!format!("{cfg:?}").contains("TopSecretValue"));
    let client = LingxingClient::new(cfg, Clock::real(), None).unwrap();
    let r = client.list_orders(&OrderListQuery::default()).await;
    assert!(
        matches!(&r, Err(LingxingError::Rejected { code, .. }) if code.as_str() == "2001002"),
        "{r:?}"
    );
    assert!(!format!("{r:?}").contains("TopSecretValue"));
}

#[test]
fn app_id_must_be_16_characters() {
    let cfg = LingxingConfig::new("http://127.0.0.1:1", "ak_short", "x");
    assert!(matches!(
        LingxingClient::new(cfg, Clock::real(), None),
        Err(ConfigError::AppIdLength(8))
    ));
}

#[tokio::test]
async fn expired_sign_is_resigned_once_then_succeeds() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/pb/mp/order/v2/list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"code": "2001007", "msg": "api sign has expired", "data": null}),
            ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(&server, "/pb/mp/order/v2/list", fixture("order_list.json")).await;
    let page = client
        .list_orders(&OrderListQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(requests_to(&server, "/pb/mp/order/v2/list").await.len(), 2);
}

#[tokio::test]
async fn token_refused_twice_is_auth_expired() {
    let (server, client) = setup().await;
    mount(
        &server,
        "/pb/mp/order/v2/list",
        json!({"code": "2001003", "msg": "access token is missing or expire", "data": null}),
    )
    .await;
    let r = client.list_orders(&OrderListQuery::default()).await;
    assert!(
        matches!(&r, Err(LingxingError::AuthExpired { code, .. }) if code.as_str() == "2001003"),
        "{r:?}"
    );
    // One renewal (the refresh endpoint is not mocked, so a new token is issued), one retry.
    assert_eq!(requests_to(&server, "/pb/mp/order/v2/list").await.len(), 2);
    assert_eq!(
        requests_to(&server, "/api/auth-server/oauth/refresh")
            .await
            .len(),
        1
    );
    assert_eq!(
        requests_to(&server, "/api/auth-server/oauth/access-token")
            .await
            .len(),
        2
    );
}

/// A listing read with its pages together (after the first one gave `total`): a page that
/// comes back short (the list changed under the read, or the server capped the page) ends the
/// pages read together; the rest is read one page after another from where that page ended,
/// so nothing is skipped and nothing is read twice.
#[tokio::test]
async fn pages_read_together_fall_back_to_one_by_one_after_a_short_page() {
    let (server, client) = setup().await;
    let template = fixture("order_list.json")["data"]["list"][0].clone();
    let order = move |i: u64| {
        let mut o = template.clone();
        o["global_order_no"] = json!(format!("9000{i:04}"));
        o
    };
    Mock::given(method("POST"))
        .and(path("/pb/mp/order/v2/list"))
        .respond_with(move |r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let offset = body["offset"].as_u64().unwrap();
            let length = body["length"].as_u64().unwrap();
            // The page at 20 is cut short at 15 orders.
            let end = if offset == 20 {
                35
            } else {
                (offset + length).min(50)
            };
            let list: Vec<Value> = (offset..end).map(&order).collect();
            ResponseTemplate::new(200).set_body_json(json!({
                "code": 0, "message": "success", "data": {"total": 50, "list": list}
            }))
        })
        .mount(&server)
        .await;
    let all = client
        .list_orders_all(OrderListQuery {
            length: 20,
            date_type: Some("update_time".into()),
            start_time: Some(TS - 3600),
            end_time: Some(TS),
            ..Default::default()
        })
        .await
        .unwrap();
    let nos: Vec<String> = all.iter().map(|o| o.global_order_no.clone()).collect();
    let want: Vec<String> = (0..50).map(|i| format!("9000{i:04}")).collect();
    assert_eq!(nos, want, "every order once, in order");
    let mut offsets: Vec<u64> = requests_to(&server, "/pb/mp/order/v2/list")
        .await
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["offset"]
                .as_u64()
                .unwrap()
        })
        .collect();
    offsets.sort();
    // 0 first; 20 and 40 together; 35 after the short page (40's answer is not used).
    assert_eq!(offsets, vec![0, 20, 35, 40]);
}
