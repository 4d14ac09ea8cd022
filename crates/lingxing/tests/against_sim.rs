//! Client ↔ simulator over real HTTP on 127.0.0.1.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use lingxing::*;
use rust_decimal::Decimal;
use sim::lingxing::{DEFAULT_APP_ID, DEFAULT_APP_SECRET, Fault, LingxingSim, LingxingSimConfig};

const STORE: &str = "110283406273996288";

async fn start(cfg: LingxingSimConfig, clock: Clock) -> LingxingSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    LingxingSim::start(cfg, clock, listener).await.unwrap()
}

fn fast_backoff() -> Backoff {
    Backoff {
        throttle_initial: Duration::from_millis(2),
        throttle_max: Duration::from_millis(10),
        throttle_attempts: 8,
        transient_initial: Duration::from_millis(2),
        transient_retries: 2,
        jitter: 0.2,
        max_wait: Duration::from_secs(60),
    }
}

fn client(sim: &LingxingSim, clock: Clock) -> LingxingClient {
    let mut cfg = LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET);
    cfg.backoff = fast_backoff();
    cfg.timeout = Duration::from_secs(10);
    LingxingClient::new(cfg, clock, None).unwrap()
}

fn sim_clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap())
}

fn order(po: &str, msku: &str, qty: u32) -> NewOrder {
    NewOrder {
        platform_order_no: po.into(),
        receiver_country_code: "US".into(),
        receiver_name: "Jane Roe".into(),
        city: "Ontario".into(),
        address_line1: "1 Main St".into(),
        wid: Some("1300".into()),
        logistics_type_id: Some("101".into()),
        items: vec![NewOrderItem {
            msku: Some(msku.into()),
            quantity: qty,
            unit_price: Decimal::from_str("12.99").unwrap(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn create_req(orders: Vec<NewOrder>) -> CreateOrdersRequest {
    CreateOrdersRequest {
        platform_code: 10009,
        store_id: STORE.into(),
        orders,
    }
}

#[tokio::test]
async fn order_lifecycle_create_list_audit_ship_wms() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock.clone());

    let res = c
        .create_orders(&create_req(vec![order("PO-1", "SKU-1001", 3)]))
        .await
        .unwrap();
    assert_eq!(res.created.len(), 1);
    assert_eq!(res.created[0].platform_order_no, "PO-1");

    let found = c
        .orders_by_platform_order_nos(&["PO-1".into(), "PO-404".into()], true)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, OrderStatus::PendingReview);
    assert_eq!(found[0].item_info[0].local_sku, "LX-1001");
    assert_eq!(found[0].global_order_no, res.created[0].global_order_no);

    assert_eq!(sim.audit("PO-1"), 1);
    let found = c
        .orders_by_platform_order_nos(&["PO-1".into()], true)
        .await
        .unwrap();
    assert!(found[0].status.is_audited());

    clock.sim().unwrap().advance(Duration::from_secs(3600));
    let tracking = sim.ship("PO-1", None);
    assert_eq!(tracking.len(), 1);
    let wms = c
        .wms_orders_all(WmsOrderQuery {
            page: 1,
            page_size: 200,
            platform_order_no_arr: vec!["PO-1".into()],
            time_type: Some("create_at".into()),
            start_date: Some("2026-11-19".into()),
            end_date: Some("2026-11-20".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(wms.len(), 1);
    assert_eq!(wms[0].status, WmsStatus::Shipped);
    assert_eq!(wms[0].tracking_no.as_deref(), Some(tracking[0].as_str()));
    assert_eq!(wms[0].delivered_at, Some(clock.now()));
    assert_eq!(wms[0].product_info[0].count, 3);
    assert_eq!(wms[0].order_number, res.created[0].global_order_no);

    let found = c
        .orders_by_platform_order_nos(&["PO-1".into()], true)
        .await
        .unwrap();
    assert_eq!(found[0].status, OrderStatus::Shipped);
}

#[tokio::test]
async fn duplicate_po_is_refused_per_order_and_existence_is_rechecked() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock);
    c.create_orders(&create_req(vec![order("PO-D", "SKU-1002", 1)]))
        .await
        .unwrap();
    let res = c
        .create_orders(&create_req(vec![
            order("PO-D", "SKU-1002", 1),
            order("PO-E", "SKU-1002", 1),
        ]))
        .await
        .unwrap();
    assert_eq!(res.refused.len(), 1);
    assert_eq!(res.refused[0].platform_order_no, "PO-D");
    assert_eq!(res.created.len(), 1);
    assert_eq!(res.created[0].platform_order_no, "PO-E");
    let existing = c
        .orders_by_platform_order_nos(&["PO-D".into()], true)
        .await
        .unwrap();
    assert_eq!(existing.len(), 1);
    assert_eq!(sim.orders_for("PO-D").len(), 1);

    // The checked create tells a duplicate from a real refusal by existence.
    let checked = c
        .create_orders_checked(&create_req(vec![
            order("PO-D", "SKU-1002", 1),
            order("PO-F", "NO-SUCH-SKU", 1),
            order("PO-G", "SKU-1003", 1),
        ]))
        .await
        .unwrap();
    assert_eq!(checked.created.len(), 1);
    assert_eq!(checked.created[0].platform_order_no, "PO-G");
    assert_eq!(checked.existing.len(), 1);
    assert_eq!(checked.existing[0].platform_order_no, "PO-D");
    assert_eq!(
        checked.existing[0].global_order_nos,
        vec![existing[0].global_order_no.clone()]
    );
    assert_eq!(checked.refused.len(), 1);
    assert_eq!(checked.refused[0].platform_order_no, "PO-F");
    assert!(checked.unchecked.is_empty());
}

#[tokio::test]
async fn reference_data_inventory_and_pairs() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock);
    let stores = c.stores_all(&[10009]).await.unwrap();
    assert_eq!(stores.len(), sim::defaults::RETAILERS.len());
    assert!(
        stores
            .iter()
            .any(|s| s.store_id == STORE && s.sid == "2001")
    );
    let whs = c.warehouses(None).await.unwrap();
    assert_eq!(whs.len(), sim::defaults::WAREHOUSES.len());
    let lts = c.used_logistics_types(0).await.unwrap();
    assert!(lts.iter().any(|l| l.type_id == "101"));
    let inv = c
        .inventory_all(InventoryQuery {
            wids: vec!["1300".into(), "1301".into()],
            length: 7,
            ..Default::default()
        })
        .await
        .unwrap();
    // 13 products in each of two warehouses, plus one store-level row.
    assert_eq!(inv.len(), 2 * 12 + 1);
    sim.set_inventory(1300, "LX-1003", "0", 4);
    let inv = c
        .inventory_all(InventoryQuery {
            wids: vec!["1300".into()],
            sku: Some("LX-1003".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].product_valid_num, 4);
    let pairs = c
        .pairs_all(&PairQuery {
            store_ids: vec![STORE.into()],
            length: 4,
            ..Default::default()
        })
        .await
        .unwrap();
    let paired = sim::defaults::PRODUCTS.iter().filter(|p| p.paired).count();
    // Paged by cursor in pages of 4: every pair of the store, the bundle included.
    assert_eq!(pairs.len(), paired + 1);
    assert!(
        pairs
            .iter()
            .any(|p| p.msku == "SKU-1001" && p.sku == "LX-1001")
    );
}

#[tokio::test]
async fn token_expiry_mid_sequence_is_recovered_invisibly() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock.clone());
    c.stores_all(&[]).await.unwrap();
    assert_eq!(sim.tokens_issued(), 1);
    // The server expires the token while the client still believes it valid: 2001003.
    sim.expire_token();
    c.stores_all(&[]).await.unwrap();
    assert_eq!(sim.tokens_issued(), 2);
    // Close to expiry the client refreshes ahead of time, with the refresh token.
    clock.sim().unwrap().advance(Duration::from_secs(7199 - 60));
    c.stores_all(&[]).await.unwrap();
    assert_eq!(sim.tokens_issued(), 3);
    assert_eq!(sim.calls("/api/auth-server/oauth/refresh"), 2);
    assert_eq!(sim.calls("/api/auth-server/oauth/access-token"), 1);
}

#[tokio::test]
async fn a_second_token_owner_is_survived() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let a = client(&sim, clock.clone());
    a.stores_all(&[]).await.unwrap();
    // Another process (no shared cache) takes a new token: a's token now gets 2001005.
    let b = client(&sim, clock.clone());
    b.stores_all(&[]).await.unwrap();
    a.stores_all(&[]).await.unwrap();
    assert_eq!(sim.tokens_issued(), 3);
    // With a shared cache, the second client reuses the token instead of taking a new one.
    let cache: Arc<dyn TokenCache> = Arc::new(InMemoryTokenCache::default());
    let mut cfg = LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET);
    cfg.backoff = fast_backoff();
    let c1 = LingxingClient::new(cfg.clone(), clock.clone(), Some(cache.clone())).unwrap();
    let c2 = LingxingClient::new(cfg, clock.clone(), Some(cache)).unwrap();
    c1.stores_all(&[]).await.unwrap();
    c2.stores_all(&[]).await.unwrap();
    assert_eq!(sim.tokens_issued(), 4);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_fetch() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.stores_all(&[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test]
async fn throttle_storm_is_ridden_out() {
    let clock = Clock::real();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock);
    sim.inject_fault("/pb/mp/order/v2/list", Fault::ThrottleStorm, Some(5));
    let found = c
        .orders_by_platform_order_nos(&["PO-X".into()], true)
        .await
        .unwrap();
    assert!(found.is_empty());
    assert_eq!(sim.calls("/pb/mp/order/v2/list"), 6);
    // The business limiter's 103 is ridden out the same way.
    sim.inject_fault(
        "/pb/mp/order/v2/list",
        Fault::ErrorCode {
            code: "103".into(),
            message: "请求过于频繁,请稍后再试".into(),
        },
        Some(2),
    );
    c.orders_by_platform_order_nos(&["PO-X".into()], true)
        .await
        .unwrap();
    assert_eq!(sim.calls("/pb/mp/order/v2/list"), 9);
    // A throttled write was refused before it was processed: it is retried, and applied once.
    sim.inject_fault("/pb/mp/order/v2/create", Fault::ThrottleStorm, Some(2));
    let res = c
        .create_orders(&create_req(vec![order("PO-T", "SKU-1001", 1)]))
        .await
        .unwrap();
    assert_eq!(res.created.len(), 1);
    assert_eq!(sim.calls("/pb/mp/order/v2/create"), 3);
    assert_eq!(sim.orders_for("PO-T").len(), 1);
    // An endless storm ends in Throttled once back-off runs out.
    sim.inject_fault("/pb/mp/order/v2/list", Fault::ThrottleStorm, None);
    let r = c.orders_by_platform_order_nos(&["PO-X".into()], true).await;
    assert!(matches!(r, Err(LingxingError::Throttled { .. })), "{r:?}");
}

#[tokio::test]
async fn never_two_in_flight_on_a_capacity_one_endpoint() {
    let clock = Clock::real();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock);
    let path = "/erp/sc/routing/data/local_inventory/inventoryDetails";
    sim.inject_fault(path, Fault::Latency { ms: 30 }, None);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                c.inventory_details(&InventoryQuery {
                    wids: vec!["1300".into()],
                    length: 20,
                    ..Default::default()
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(sim.calls(path), 6);
    assert_eq!(sim.max_concurrency(path), 1);
    // A capacity-10 endpoint is used in parallel, never beyond 10.
    let list = "/pb/mp/order/v2/list";
    sim.inject_fault(list, Fault::Latency { ms: 30 }, None);
    let tasks: Vec<_> = (0..14)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.orders_by_platform_order_nos(&[format!("PO-{i}")], true)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let m = sim.max_concurrency(list);
    assert!(m > 1 && m <= 10, "max concurrency {m}");
}

/// A long listing and a long list of PO numbers are read several calls at a time (up to the
/// endpoint's capacity of 10), and every order comes back exactly once.
#[tokio::test]
async fn long_listings_are_read_several_pages_at_a_time() {
    let clock = Clock::real();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock.clone());
    let from = clock.now().timestamp() - 1;
    let pos: Vec<String> = (0..650).map(|i| format!("PO-P{i:04}")).collect();
    for chunk in pos.chunks(200) {
        let orders = chunk.iter().map(|po| order(po, "SKU-1001", 1)).collect();
        let res = c.create_orders(&create_req(orders)).await.unwrap();
        assert_eq!(res.created.len(), chunk.len());
    }
    let list = "/pb/mp/order/v2/list";
    sim.inject_fault(list, Fault::Latency { ms: 30 }, None);
    let listed = c
        .list_orders_all(OrderListQuery {
            length: 100,
            date_type: Some("update_time".into()),
            start_time: Some(from),
            end_time: Some(clock.now().timestamp() + 2),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got: Vec<String> = listed
        .iter()
        .map(|o| o.platform_order_nos()[0].clone())
        .collect();
    got.sort();
    assert_eq!(got, pos, "each order once");
    assert_eq!(sim.calls(list), 7, "650 orders, 100 a page");
    let paged = sim.max_concurrency(list);
    assert!(paged > 1 && paged <= 10, "pages in flight at once: {paged}");
    let by_po = c.orders_by_platform_order_nos(&pos, true).await.unwrap();
    let mut got: Vec<String> = by_po
        .iter()
        .map(|o| o.platform_order_nos()[0].clone())
        .collect();
    got.sort();
    assert_eq!(got, pos, "each order once");
    assert_eq!(sim.calls(list), 7 + 4, "650 numbers, 200 a call");
}

#[tokio::test]
async fn apply_then_timeout_on_create_is_ambiguous() {
    let clock = Clock::real();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let mut cfg = LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET);
    cfg.backoff = fast_backoff();
    cfg.timeout = Duration::from_millis(400);
    let c = LingxingClient::new(cfg, clock, None).unwrap();
    c.access_token().await.unwrap();
    sim.inject_fault("/pb/mp/order/v2/create", Fault::ApplyThenTimeout, Some(1));
    let r = c
        .create_orders(&create_req(vec![order("PO-A", "SKU-1001", 1)]))
        .await;
    assert!(matches!(r, Err(LingxingError::Ambiguous { .. })), "{r:?}");
    // The write happened; one call only (writes are never retried blindly).
    assert_eq!(sim.orders_for("PO-A").len(), 1);
    assert_eq!(sim.calls("/pb/mp/order/v2/create"), 1);
    // A 5xx on create is ambiguous too; on a read it is retried.
    sim.inject_fault(
        "/pb/mp/order/v2/create",
        Fault::HttpStatus { status: 502 },
        Some(1),
    );
    let r = c
        .create_orders(&create_req(vec![order("PO-B", "SKU-1001", 1)]))
        .await;
    assert!(matches!(r, Err(LingxingError::Ambiguous { .. })), "{r:?}");
    sim.inject_fault(
        "/pb/mp/order/v2/list",
        Fault::HttpStatus { status: 502 },
        Some(1),
    );
    let found = c
        .orders_by_platform_order_nos(&["PO-A".into()], true)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

/// Drives the simulated clock to each sleeper's deadline until `task` ends.
async fn drive<T>(clock: &Clock, mut task: tokio::task::JoinHandle<T>) -> T {
    let simc = clock.sim().unwrap();
    loop {
        tokio::select! {
            r = &mut task => break r.unwrap(),
            _ = simc.wait_for_sleepers(1) => {
                if let Some(d) = simc.next_deadline() {
                    simc.advance_to(d);
                }
                tokio::task::yield_now().await;
            }
        }
    }
}

fn wms_query() -> WmsOrderQuery {
    WmsOrderQuery {
        page: 1,
        page_size: 20,
        platform_order_no_arr: vec!["PO-H".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn hang_on_capacity_one_holds_the_slot_for_two_minutes() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let mut cfg = LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET);
    cfg.backoff = fast_backoff();
    cfg.timeout = Duration::from_millis(300);
    let c = LingxingClient::new(cfg, clock.clone(), None).unwrap();
    let path = "/erp/sc/routing/wms/order/wmsOrderList";
    sim.inject_fault(path, Fault::Hang, Some(1));
    let started = clock.now();
    let task = tokio::spawn({
        let c = c.clone();
        async move { c.wms_orders(&wms_query()).await }
    });
    // The client times out. The server keeps the only slot for 2 min, longer than one call may
    // wait (`max_wait`, 60 s): the call gives up instead of sleeping through the hold.
    let r = drive(&clock, task).await;
    assert!(matches!(r, Err(LingxingError::Transient { .. })), "{r:?}");
    assert!(clock.now() - started < chrono::TimeDelta::seconds(60));
    assert_eq!(sim.calls(path), 1);
    // While the hold lasts, a call gives up without sending anything.
    let r = c.wms_orders(&wms_query()).await;
    assert!(matches!(r, Err(LingxingError::Transient { .. })), "{r:?}");
    assert_eq!(sim.calls(path), 1);
    // Once the server has freed the slot, the next call goes through.
    clock.sim().unwrap().advance(Duration::from_secs(121));
    let page = c.wms_orders(&wms_query()).await.unwrap();
    assert_eq!(page.total, 0);
    assert_eq!(sim.calls(path), 2);
    assert_eq!(sim.max_concurrency(path), 1);
}

/// With the production back-off (5 s doubling to 120 s, eight attempts), a call in a storm of
/// ten 3001008 answers backed off for 8.6 simulated minutes: longer than a run's timeout, and
/// still sleeping long after the storm had passed. The call now waits at most `max_wait` in all.
#[tokio::test]
async fn a_throttling_storm_ends_a_call_within_its_wait_budget() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let cfg = LingxingConfig::new(sim.base_url(), DEFAULT_APP_ID, DEFAULT_APP_SECRET);
    let max_wait = cfg.backoff.max_wait;
    assert_eq!(max_wait, Duration::from_secs(60));
    let c = LingxingClient::new(cfg, clock.clone(), None).unwrap();
    c.access_token().await.unwrap();
    let list = "/pb/mp/order/v2/list";
    sim.inject_fault(list, Fault::ThrottleStorm, Some(10));
    let started = clock.now();
    let task = tokio::spawn({
        let c = c.clone();
        async move { c.orders_by_platform_order_nos(&["PO-S".into()], true).await }
    });
    let r = drive(&clock, task).await;
    assert!(matches!(r, Err(LingxingError::Throttled { .. })), "{r:?}");
    let waited = clock.now() - started;
    assert!(
        waited <= clock::to_delta(max_wait),
        "one call waited {waited} in a storm"
    );
    let calls = sim.calls(list);
    assert!((2..10).contains(&calls), "{calls} calls");
    // The rest of the storm is for the next calls (the next runs); then one goes through.
    let mut tries = 0;
    loop {
        tries += 1;
        let task = tokio::spawn({
            let c = c.clone();
            async move { c.orders_by_platform_order_nos(&["PO-S".into()], true).await }
        });
        match drive(&clock, task).await {
            Ok(found) => break assert!(found.is_empty()),
            Err(LingxingError::Throttled { .. }) => assert!(tries < 4, "{tries} tries"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(sim.calls(list), 11);
}

#[tokio::test]
async fn auto_schedule_audits_splits_and_ships_over_simulated_days() {
    let clock = sim_clock();
    let cfg = LingxingSimConfig {
        split_rate: 1.0,
        partial_shipment_rate: 0.0,
        interception_rate: 0.0,
        ..Default::default()
    };
    let sim = start(cfg, clock.clone()).await;
    let c = client(&sim, clock.clone());
    c.create_orders(&create_req(vec![order("PO-S", "SKU-1004", 4)]))
        .await
        .unwrap();
    let t0 = clock.now();
    clock.sim().unwrap().advance(Duration::from_secs(3 * 86400));
    let orders = c
        .orders_by_platform_order_nos(&["PO-S".into()], true)
        .await
        .unwrap();
    assert_eq!(orders.len(), 2, "split in two");
    assert!(orders.iter().all(|o| o.split_type == SplitType::Split));
    assert!(orders.iter().all(|o| o.status == OrderStatus::Shipped));
    let qty: i64 = orders.iter().map(|o| o.item_info[0].quantity).sum();
    assert_eq!(qty, 4);
    // Changed since t0, by update_time window.
    let changed = c
        .list_orders_all(OrderListQuery {
            length: 200,
            date_type: Some("update_time".into()),
            start_time: Some(t0.timestamp()),
            end_time: Some(clock.now().timestamp()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);
    let wms = c
        .wms_orders_all(WmsOrderQuery {
            page: 1,
            page_size: 200,
            platform_order_no_arr: vec!["PO-S".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(wms.len(), 2);
    assert!(
        wms.iter()
            .all(|w| w.tracking_no.is_some() && w.delivered_at.is_some())
    );
}

#[tokio::test]
async fn orders_updated_between_covers_long_closed_windows() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock.clone());
    let t0 = clock.now();
    let mut stamps = Vec::new();
    // Five orders, 20 days apart (a token lasts 2 h: the client renews it on the way).
    for i in 0..5 {
        c.create_orders(&create_req(vec![order(&format!("PO-U{i}"), "SKU-1001", 1)]))
            .await
            .unwrap();
        stamps.push(clock.now());
        clock
            .sim()
            .unwrap()
            .advance(Duration::from_secs(20 * 86400));
    }
    let all = c.orders_updated_between(t0, stamps[4]).await.unwrap();
    assert_eq!(all.len(), 5);
    // Both ends are included.
    let inner = c
        .orders_updated_between(stamps[1], stamps[3])
        .await
        .unwrap();
    let mut pos: Vec<String> = inner.iter().flat_map(|o| o.platform_order_nos()).collect();
    pos.sort();
    assert_eq!(pos, vec!["PO-U1", "PO-U2", "PO-U3"]);
    // Exact SKU match on top of the server's fuzzy one.
    let rows = c
        .inventory_all(InventoryQuery {
            wids: vec!["1300".into()],
            sku: Some("LX-100".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty());
}

/// `productList` by `sku_list`: exact matches only, in chunks of 200 SKUs (one call each), and
/// the server's clock from `response_time`.
#[tokio::test]
async fn product_list_by_skus_and_server_time() {
    let clock = sim_clock();
    let sim = start(LingxingSimConfig::manual(), clock.clone()).await;
    let c = client(&sim, clock.clone());
    let found = c
        .products_by_skus(&["LX-1001".into(), "LX-404".into(), "LX-BUNDLE-01".into()])
        .await
        .unwrap();
    let mut skus: Vec<&str> = found.iter().map(|p| p.sku.as_str()).collect();
    skus.sort();
    assert_eq!(skus, ["LX-1001", "LX-BUNDLE-01"]);
    let bundle = found.iter().find(|p| p.sku == "LX-BUNDLE-01").unwrap();
    assert_eq!(bundle.is_combo, 1);
    assert!(!bundle.product_name.is_empty() && !bundle.id.is_empty());
    let path = Endpoint::ProductList.path();
    assert_eq!(sim.calls(path), 1);
    // 450 SKUs: three calls of at most 200.
    let many: Vec<String> = (0..450).map(|i| format!("LX-NONE-{i}")).collect();
    assert!(c.products_by_skus(&many).await.unwrap().is_empty());
    assert_eq!(sim.calls(path), 4);
    // The simulator's clock is the server's: response_time (whole seconds, Shanghai time).
    let t = c.server_time().await.unwrap();
    assert_eq!(t.server, Some(clock.now()));
    assert!(t.before <= t.after);
    assert_eq!(t.offset(), Some(chrono::TimeDelta::zero()));
}
