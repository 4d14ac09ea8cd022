//! HTTP front of the simulator: token endpoints, the signed business endpoints (public
//! parameter, token, signature, capacity and fault checks), and the admin API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::world::response_time;
use super::{Fault, FaultRule, IssuedToken, Shared, verify};

/// How long the server keeps a bucket token of a request that never completes.
const SERVER_HOLD: TimeDelta = TimeDelta::seconds(120);
const REFRESH_LIFETIME: TimeDelta = TimeDelta::hours(2);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    json_response(StatusCode::OK, v)
}

/// The gateway's error shape: string code, `msg`, `data.throwable`.
fn gateway_error(now: DateTime<Utc>, code: &str, msg: &str) -> Response {
    ok(json!({
        "code": code,
        "msg": msg,
        "data": {
            "throwable": msg,
            "throwTime": response_time(now),
            "message": null,
            "stackTrace": null,
            "metadata": {},
        },
    }))
}

fn gateway_message(code: &str) -> &'static str {
    match code {
        "2001001" => "app not exist",
        "2001002" => "app secret not correct",
        "2001003" => "access token is missing or expire",
        "2001005" => "access token not match",
        "2001006" => "api sign not correct",
        "2001007" => "api sign has expired",
        "2001008" => "refresh token expired. please get access token again",
        "2001009" => "refresh token is invalid",
        "3001001" => "missing query param(access_token,sign,timestamp,app_key)",
        "3001008" => "requests too frequently. please request later.",
        _ => "error",
    }
}

/// Capacities per endpoint, as documented (bucket tokens per appId + URL).
fn capacity(path: &str) -> Option<usize> {
    Some(match path {
        "/pb/mp/order/v2/create"
        | "/pb/mp/order/v2/list"
        | "/pb/mp/order/v2/cancelOrder"
        | "/pb/mp/listing/v2/getPairList"
        | "/pb/mp/shop/v2/getSellerList" => 10,
        "/erp/sc/routing/wms/order/wmsOrderList"
        | "/erp/sc/routing/data/local_inventory/inventoryDetails"
        | "/erp/sc/data/local_inventory/warehouse"
        | "/erp/sc/routing/wms/WmsLogistics/listUsedLogisticsType"
        | "/erp/sc/routing/data/local_inventory/productList" => 1,
        _ => return None,
    })
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Query parameters, each decoded once (`+` kept as is: it is base64, not a space).
fn query_map(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Form fields from a query string, an urlencoded body or a multipart body.
fn form_fields(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in query_map(uri) {
        out.insert(k, v);
    }
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("multipart/form-data") {
        if let Some(boundary) = ct
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("boundary="))
        {
            let boundary = boundary.trim_matches('"');
            out.extend(parse_multipart(body, boundary));
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(body);
        for p in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            // In a form body `+` is a space.
            let k = decode(&k.replace('+', " "));
            let v = decode(&v.replace('+', " "));
            out.insert(k, v);
        }
    }
    out
}

/// A minimal multipart/form-data reader for text fields.
fn parse_multipart(body: &[u8], boundary: &str) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let delim = format!("--{boundary}");
    let mut out = HashMap::new();
    for part in text.split(delim.as_str()) {
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))
        else {
            continue;
        };
        let name = name
            .split("\r\n")
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .to_owned();
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        out.insert(name, value.to_owned());
    }
    out
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if let Some(admin) = path.strip_prefix("/__admin/") {
        return admin_api(&shared, &method, admin, &uri, &body);
    }
    match path.as_str() {
        "/api/auth-server/oauth/access-token" => issue_token(&shared, &uri, &headers, &body),
        "/api/auth-server/oauth/refresh" => refresh_token(&shared, &uri, &headers, &body),
        _ => business(shared, method, path, uri, body).await,
    }
}

fn new_pair(shared: &Shared, st: &mut super::State) -> Value {
    let now = shared.clock.now();
    let access = uuid::Uuid::new_v4().to_string();
    let refresh = uuid::Uuid::new_v4().to_string();
    if let Some(old) = st.token.take() {
        st.retired.insert(old.access);
    }
    st.token = Some(IssuedToken {
        access: access.clone(),
        refresh: refresh.clone(),
        expires_at: now + TimeDelta::seconds(shared.cfg.token_lifetime_secs as i64),
        refresh_expires_at: now + REFRESH_LIFETIME,
        refresh_used: false,
    });
    st.issued += 1;
    json!({
        "code": "200",
        "msg": "OK",
        "data": {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": shared.cfg.token_lifetime_secs,
        },
    })
}

fn token_error(code: &str) -> Response {
    ok(json!({"code": code, "msg": gateway_message(code), "data": null}))
}

fn issue_token(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let f = form_fields(uri, headers, body);
    let app = f.get("appId").cloned().unwrap_or_default();
    let secret = f.get("appSecret").cloned().unwrap_or_default();
    bump_calls(shared, "/api/auth-server/oauth/access-token");
    if app != shared.cfg.app_id {
        return token_error("2001001");
    }
    if secret != shared.cfg.app_secret {
        return token_error("2001002");
    }
    let mut st = shared.lock();
    ok(new_pair(shared, &mut st))
}

fn refresh_token(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let f = form_fields(uri, headers, body);
    let app = f.get("appId").cloned().unwrap_or_default();
    let refresh = f.get("refreshToken").cloned().unwrap_or_default();
    bump_calls(shared, "/api/auth-server/oauth/refresh");
    if app != shared.cfg.app_id {
        return token_error("2001001");
    }
    let now = shared.clock.now();
    let mut st = shared.lock();
    match &st.token {
        Some(t) if t.refresh == refresh && !t.refresh_used => {
            if t.refresh_expires_at <= now {
                return token_error("2001008");
            }
        }
        _ => return token_error("2001009"),
    }
    if let Some(t) = st.token.as_mut() {
        t.refresh_used = true;
    }
    ok(new_pair(shared, &mut st))
}

fn bump_calls(shared: &Shared, path: &str) {
    shared
        .lock()
        .stats
        .entry(path.to_owned())
        .or_default()
        .calls += 1;
}

/// Releases a capacity slot when the request ends (or is dropped by a client disconnect).
struct SlotGuard {
    shared: Arc<Shared>,
    path: String,
    active: bool,
}

impl SlotGuard {
    /// Turns the in-flight slot into one held for the server's 2 min, whatever the client does.
    fn hold(mut self) {
        let until = self.shared.clock.now() + SERVER_HOLD;
        let mut st = self.shared.lock();
        let s = st.stats.entry(self.path.clone()).or_default();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.held_until.push(until);
        self.active = false;
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if self.active {
            let mut st = self.shared.lock();
            let s = st.stats.entry(self.path.clone()).or_default();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}

async fn business(
    shared: Arc<Shared>,
    _method: Method,
    path: String,
    uri: Uri,
    body: Bytes,
) -> Response {
    let now = shared.clock.now();
    bump_calls(&shared, &path);
    let Some(cap) = capacity(&path) else {
        return ok(json!({
            "code": 400, "message": "服务不存在", "error_details": [],
            "request_id": uuid::Uuid::new_v4().to_string(), "response_time": response_time(now),
            "data": [], "total": 0,
        }));
    };
    let q = query_map(&uri);
    let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let (Some(app_key), Some(token), Some(ts), Some(sign)) = (
        get("app_key"),
        get("access_token"),
        get("timestamp"),
        get("sign"),
    ) else {
        return gateway_error(now, "3001001", gateway_message("3001001"));
    };
    if app_key != shared.cfg.app_id {
        return gateway_error(now, "2001001", gateway_message("2001001"));
    }
    {
        let st = shared.lock();
        match &st.token {
            Some(t) if t.access == token => {
                if t.expires_at <= now {
                    return gateway_error(now, "2001003", gateway_message("2001003"));
                }
            }
            _ => return gateway_error(now, "2001005", gateway_message("2001005")),
        }
    }
    if !verify::verify(&app_key, &token, &ts, &sign, &body) {
        return gateway_error(now, "2001006", gateway_message("2001006"));
    }
    let Ok(ts_secs) = ts.parse::<i64>() else {
        return gateway_error(now, "2001006", gateway_message("2001006"));
    };
    if now.timestamp() - ts_secs > shared.cfg.sign_max_age_secs as i64 {
        return gateway_error(now, "2001007", gateway_message("2001007"));
    }

    // Faults: the first live rule of this endpoint applies.
    let fault = {
        let mut st = shared.lock();
        let rules = st.faults.entry(path.clone()).or_default();
        let mut picked = None;
        for r in rules.iter_mut() {
            match r.remaining {
                Some(0) => continue,
                Some(n) => r.remaining = Some(n - 1),
                None => {}
            }
            picked = Some(r.fault.clone());
            break;
        }
        rules.retain(|r: &FaultRule| r.remaining != Some(0));
        picked
    };
    if matches!(fault, Some(Fault::ThrottleStorm)) {
        return gateway_error(now, "3001008", gateway_message("3001008"));
    }
    let weather_latency = if fault.is_none() {
        let weather = *shared.weather.lock().unwrap_or_else(|p| p.into_inner());
        if weather == crate::Weather::default() {
            None
        } else {
            match weather.draw() {
                None => return gateway_error(now, "3001008", gateway_message("3001008")),
                d => d,
            }
        }
    } else {
        None
    };

    // Capacity: requests in flight plus slots held by requests that never completed.
    let guard = {
        let mut st = shared.lock();
        let busy: Vec<String> = st
            .stats
            .iter()
            .filter(|(p, s)| **p != path && s.in_flight > 0)
            .map(|(p, _)| p.clone())
            .collect();
        let s = st.stats.entry(path.clone()).or_default();
        s.held_until.retain(|t| *t > now);
        let occupied = s.in_flight + s.held_until.len();
        if occupied >= cap {
            return gateway_error(now, "3001008", gateway_message("3001008"));
        }
        s.in_flight += 1;
        s.max_concurrency = s.max_concurrency.max(occupied + 1);
        s.started_during.extend(busy);
        SlotGuard {
            shared: shared.clone(),
            path: path.clone(),
            active: true,
        }
    };

    if let Some(d) = weather_latency.filter(|d| !d.is_zero()) {
        tokio::time::sleep(d).await;
    }
    match fault {
        Some(Fault::Latency { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::ErrorCode { code, message }) => {
            let msg = if message.is_empty() {
                gateway_message(&code).to_owned()
            } else {
                message
            };
            if code.len() >= 7 {
                return gateway_error(now, &code, &msg);
            }
            let c: Value = code
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::from(code));
            let mut st = shared.lock();
            let mut v = st.world.biz_error(now, 0, &msg);
            v["code"] = c;
            if v["code"] == json!(103) {
                v["data"] = json!([]);
                v["total"] = json!(0);
            }
            return ok(v);
        }
        Some(Fault::HttpStatus { status }) => {
            let s = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (s, "<html><body>upstream error</body></html>").into_response();
        }
        Some(Fault::Hang) => {
            guard.hold();
            std::future::pending::<()>().await;
            unreachable!("pending never completes");
        }
        _ => {}
    }

    let parsed: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                let mut st = shared.lock();
                return ok(st.world.biz_error(now, 102, "参数不合法"));
            }
        }
    };
    let answer = {
        let mut st = shared.lock();
        let w = &mut st.world;
        w.tick(now);
        match path.as_str() {
            "/pb/mp/order/v2/create" => w.create_orders(&parsed, now),
            "/pb/mp/order/v2/list" => w.list_orders(&parsed, now),
            "/pb/mp/order/v2/cancelOrder" => w.cancel_orders(&parsed, now),
            "/pb/mp/listing/v2/getPairList" => w.pair_list(&parsed, now),
            "/pb/mp/shop/v2/getSellerList" => w.seller_list(&parsed, now),
            "/erp/sc/routing/wms/order/wmsOrderList" => w.wms_orders(&parsed, now),
            "/erp/sc/routing/data/local_inventory/inventoryDetails" => w.inventory(&parsed, now),
            "/erp/sc/data/local_inventory/warehouse" => w.warehouses(&parsed, now),
            "/erp/sc/routing/data/local_inventory/productList" => w.product_list(&parsed, now),
            _ => w.logistics_types(&parsed, now),
        }
    };
    if matches!(fault, Some(Fault::ApplyThenTimeout)) {
        guard.hold();
        std::future::pending::<()>().await;
        unreachable!("pending never completes");
    }
    drop(guard);
    ok(answer)
}

#[derive(Deserialize)]
struct PoBody {
    po: String,
    #[serde(default)]
    split: bool,
    #[serde(default)]
    tracking_no: Option<String>,
    /// `ship` only: replace every product line by this local SKU first.
    #[serde(default)]
    sku: Option<String>,
}

#[derive(Deserialize)]
struct FaultBody {
    endpoint: String,
    fault: Fault,
    #[serde(default)]
    times: Option<u32>,
}

#[derive(Deserialize)]
struct InventoryBody {
    wid: u64,
    sku: String,
    #[serde(default = "zero")]
    seller_id: String,
    valid: i64,
}

fn zero() -> String {
    "0".into()
}

#[derive(Deserialize)]
struct PairBody {
    store_id: String,
    msku: String,
    sku: String,
}

fn admin_api(shared: &Shared, method: &Method, path: &str, uri: &Uri, body: &[u8]) -> Response {
    let now = shared.clock.now();
    let bad = |e: String| json_response(StatusCode::BAD_REQUEST, json!({"error": e}));
    let q = query_map(uri);
    let po = q.get("po").cloned().unwrap_or_default();
    let mut st = shared.lock();
    st.world.tick(now);
    match (method.as_str(), path) {
        ("GET", "orders") => ok(json!(st.world.orders_for(&po))),
        ("GET", "outbounds") => ok(json!(st.world.outbounds_for(&po))),
        ("POST", "audit") => match serde_json::from_slice::<PoBody>(body) {
            Ok(b) => ok(json!({"audited": st.world.admin_audit(&b.po, now, b.split)})),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "ship") => match serde_json::from_slice::<PoBody>(body) {
            Ok(b) => {
                let t = match &b.sku {
                    Some(sku) => st.world.admin_ship_with_sku(&b.po, now, sku, b.tracking_no),
                    None => st.world.admin_ship(&b.po, now, b.tracking_no),
                };
                ok(json!({"tracking_nos": t}))
            }
            Err(e) => bad(e.to_string()),
        },
        ("POST", "delete") => match serde_json::from_slice::<PoBody>(body) {
            Ok(b) => ok(json!({"deleted": st.world.admin_delete_order(&b.po, now)})),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "remove") => match serde_json::from_slice::<PoBody>(body) {
            Ok(b) => ok(json!({"removed": st.world.admin_remove_order(&b.po)})),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "intercept") => match serde_json::from_slice::<PoBody>(body) {
            Ok(b) => ok(json!({"intercepted": st.world.admin_intercept(&b.po, now)})),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "faults") => match serde_json::from_slice::<FaultBody>(body) {
            Ok(b) => {
                st.faults.entry(b.endpoint).or_default().push(FaultRule {
                    fault: b.fault,
                    remaining: b.times,
                });
                ok(json!({"ok": true}))
            }
            Err(e) => bad(e.to_string()),
        },
        ("DELETE", "faults") => {
            st.faults.clear();
            ok(json!({"ok": true}))
        }
        ("GET", "stats") => {
            let m: serde_json::Map<String, Value> = st
                .stats
                .iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        json!({"calls": s.calls, "max_concurrency": s.max_concurrency}),
                    )
                })
                .collect();
            ok(Value::Object(m))
        }
        ("POST", "token/expire") => {
            if let Some(t) = st.token.as_mut() {
                t.expires_at = now;
            }
            ok(json!({"ok": true}))
        }
        ("POST", "inventory") => match serde_json::from_slice::<InventoryBody>(body) {
            Ok(b) => {
                st.world.set_inventory(b.wid, &b.sku, &b.seller_id, b.valid);
                ok(json!({"ok": true}))
            }
            Err(e) => bad(e.to_string()),
        },
        ("POST", "pairs") => match serde_json::from_slice::<PairBody>(body) {
            Ok(b) => {
                st.world.set_pair(&b.store_id, &b.msku, &b.sku, now);
                ok(json!({"ok": true}))
            }
            Err(e) => bad(e.to_string()),
        },
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "no such admin route"}),
        ),
    }
}
