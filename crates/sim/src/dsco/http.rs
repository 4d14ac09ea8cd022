//! Routing, auth, rate limits and faults in front of the world; DSCO routes under `/api/v3`,
//! admin routes under `/__admin`.

// Handlers return early with a ready `Response`; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::wire_time;
use super::state::{BatchOp, LogKind, Scroll, ScrollItem, msg};
use super::{
    Endpoint, Fault, FaultSpec, Gap, InitialState, LineAmend, OrderSpec, Shared, SimHandle,
};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(dispatch)
        // We enforce DSCO's 5 MB ourselves (413 with messages); axum's 2 MB default would
        // answer first with a bare 413.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn messages(status: StatusCode, code: &str, text: impl Into<String>) -> Response {
    reply(status, json!({"messages": [msg(code, "error", text)]}))
}

/// DSCO's answer to a request it refuses as malformed: 400 `VALIDATION_FAILED`.
fn invalid(text: impl Into<String>) -> Response {
    messages(StatusCode::BAD_REQUEST, "VALIDATION_FAILED", text)
}

/// DSCO's API gateway answers unknown paths with 403 and this text, not 404 (observed).
fn gateway_403() -> Response {
    reply(
        StatusCode::FORBIDDEN,
        json!({"message": "Invalid key=value pair (missing equal-sign) in Authorization header"}),
    )
}

type Query = Vec<(String, String)>;

fn parse_query(raw: Option<&str>) -> Query {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn q<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn endpoint_of(method: &Method, path: &str) -> Option<Endpoint> {
    let path = path.trim_end_matches('/');
    Some(match (method.as_str(), path) {
        ("POST", "/oauth2/token") => Endpoint::Token,
        ("GET", "/hello") => Endpoint::Hello,
        ("GET", "/order/page") => Endpoint::OrderPage,
        ("GET", "/order") => Endpoint::OrderGet,
        ("POST", "/order/acknowledge") => Endpoint::Acknowledge,
        ("POST", "/order/shipment/batch/small") => Endpoint::ShipmentBatch,
        ("POST", "/order/singleShipment") => Endpoint::SingleShipment,
        ("POST", "/invoice") => Endpoint::InvoicePost,
        ("POST", "/invoice/batch/small") => Endpoint::InvoiceBatch,
        ("GET", "/invoice") => Endpoint::InvoiceGet,
        ("POST", "/inventory/batch/small") => Endpoint::InventoryBatch,
        ("GET", "/order/log") => Endpoint::OrderLog,
        ("GET", "/invoice/log") => Endpoint::InvoiceLog,
        ("GET", "/inventory/log") => Endpoint::InventoryLog,
        _ => return None,
    })
}

/// Published limits (per second, per minute); `None` where DSCO publishes none.
fn limits(e: Endpoint) -> Option<(&'static str, usize, usize)> {
    Some(match e {
        Endpoint::OrderPage | Endpoint::OrderGet => ("order-read", 10, 500),
        Endpoint::Acknowledge => ("acknowledge", 15, 1000),
        Endpoint::SingleShipment => ("single-shipment", 15, 300),
        Endpoint::InvoicePost | Endpoint::InvoiceGet => ("invoice", 15, 1000),
        _ => return None,
    })
}

fn over_limit(
    windows: &mut std::collections::HashMap<&'static str, VecDeque<DateTime<Utc>>>,
    family: &'static str,
    per_sec: usize,
    per_min: usize,
    now: DateTime<Utc>,
) -> bool {
    let w = windows.entry(family).or_default();
    while w.front().is_some_and(|t| *t <= now - TimeDelta::minutes(1)) {
        w.pop_front();
    }
    let last_sec = w
        .iter()
        .rev()
        .take_while(|t| **t > now - TimeDelta::seconds(1))
        .count();
    if w.len() >= per_min || last_sec >= per_sec {
        return true;
    }
    w.push_back(now);
    false
}

/// Long enough that the client's own timeout always fires first. Real time on purpose: a hung
/// request must not show up as a sleeper on a simulated clock.
const HANG: Duration = Duration::from_secs(3600);

async fn dispatch(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let query = parse_query(uri.query());
    if let Some(rest) = path.strip_prefix("/__admin") {
        return admin(&s, &method, rest, &query, &body);
    }
    let Some(api_path) = path.strip_prefix("/api/v3") else {
        return gateway_403();
    };
    let Some(endpoint) = endpoint_of(&method, api_path) else {
        return gateway_403();
    };
    tracing::debug!(?endpoint, query = ?uri.query(), "dsco sim call");

    // Count, check auth, pick a fault, check rate limits: all under one short lock.
    let fault = {
        let now = s.clock.now();
        let mut w = s.world();
        *w.calls.entry(endpoint).or_default() += 1;
        let fault = take_fault(&mut w.faults, endpoint);
        if endpoint != Endpoint::Token
            && !matches!(
                fault,
                Some(Fault::HttpStatus { .. }) | Some(Fault::ThrottleStorm)
            )
            && let Err(r) = check_auth(&w, &headers, now)
        {
            return r;
        }
        if fault.is_none()
            && w.config.rate_limits
            && let Some((family, per_sec, per_min)) = limits(endpoint)
            && over_limit(&mut w.windows, family, per_sec, per_min, now)
        {
            return messages(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Rate limit exceeded",
            );
        }
        fault
    };
    if fault.is_none() && endpoint != Endpoint::Token {
        let weather = *s.weather.lock().unwrap_or_else(|p| p.into_inner());
        if weather != crate::Weather::default() {
            match weather.draw() {
                None => {
                    return messages(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TOO_MANY_REQUESTS",
                        "Rate limit exceeded",
                    );
                }
                Some(d) if !d.is_zero() => tokio::time::sleep(d).await,
                Some(_) => {}
            }
        }
    }
    let mut hang_after = false;
    match fault {
        None | Some(Fault::ExpireTokens) => {}
        Some(Fault::Latency { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::HttpStatus { status }) => {
            let st = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return messages(st, "INTERNAL_ERROR", "Injected failure");
        }
        Some(Fault::ThrottleStorm) => {
            return messages(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Rate limit exceeded",
            );
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(HANG).await;
            return messages(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", "Hung");
        }
        Some(Fault::ApplyThenTimeout) => hang_after = true,
    }
    let resp = handle(&s, endpoint, &query, &body);
    if hang_after {
        tokio::time::sleep(HANG).await;
    }
    resp
}

fn take_fault(faults: &mut Vec<(Endpoint, FaultSpec)>, e: Endpoint) -> Option<Fault> {
    let i = faults
        .iter()
        .position(|(fe, _)| *fe == e || *fe == Endpoint::Any)?;
    let fault = faults[i].1.fault.clone();
    if let Some(t) = &mut faults[i].1.times {
        *t = t.saturating_sub(1);
        if *t == 0 {
            faults.remove(i);
        }
    }
    Some(fault)
}

fn check_auth(
    w: &super::state::World,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<(), Response> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(messages(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Missing Authorization header",
        ));
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Err(gateway_403());
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(gateway_403());
    }
    let token = token.trim();
    if w.config.static_token.as_deref() == Some(token) {
        return Ok(());
    }
    match w.tokens.get(token) {
        Some(exp) if *exp > now => Ok(()),
        Some(_) => Err(messages(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The access token expired",
        )),
        None => Err(messages(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid access token",
        )),
    }
}

fn handle(s: &Shared, e: Endpoint, query: &Query, body: &Bytes) -> Response {
    let now = s.clock.now();
    match e {
        Endpoint::Token => token(s, body, now),
        Endpoint::Hello => reply(StatusCode::OK, json!({"hello": "World!"})),
        Endpoint::OrderPage => order_page(s, query, now),
        Endpoint::OrderGet => order_get(s, query),
        Endpoint::Acknowledge => batch(s, BatchOp::Acknowledge, body, now),
        Endpoint::ShipmentBatch => batch(s, BatchOp::Shipment, body, now),
        Endpoint::InvoiceBatch => batch(s, BatchOp::Invoice, body, now),
        Endpoint::InventoryBatch => {
            let skip = q(query, "skipItemsThatDontExist") == Some("true");
            batch(s, BatchOp::Inventory { skip_unknown: skip }, body, now)
        }
        Endpoint::SingleShipment => single(s, BatchOp::Shipment, body, now),
        Endpoint::InvoicePost => single(s, BatchOp::Invoice, body, now),
        Endpoint::InvoiceGet => invoice_get(s, query),
        Endpoint::OrderLog => change_log(s, LogKind::Order, query, now),
        Endpoint::InvoiceLog => change_log(s, LogKind::Invoice, query, now),
        Endpoint::InventoryLog => change_log(s, LogKind::Inventory, query, now),
        Endpoint::Any => gateway_403(),
    }
}

fn token(s: &Shared, body: &Bytes, now: DateTime<Utc>) -> Response {
    let form = parse_query(std::str::from_utf8(body).ok());
    let mut w = s.world();
    if q(&form, "grant_type") != Some("client_credentials") {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "grant_type must be client_credentials"}),
        );
    }
    if q(&form, "client_id") != Some(w.config.client_id.as_str())
        || q(&form, "client_secret") != Some(w.config.client_secret.as_str())
    {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Invalid client credentials"}),
        );
    }
    let token = uuid::Uuid::new_v4().to_string();
    let life = w.config.token_lifetime;
    w.tokens.insert(
        token.clone(),
        now + TimeDelta::from_std(life).unwrap_or(TimeDelta::hours(1)),
    );
    reply(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": life.as_secs()}),
    )
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn new_scroll_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn order_page(s: &Shared, query: &Query, now: DateTime<Utc>) -> Response {
    let mut w = s.world();
    let expiry = TimeDelta::from_std(w.config.scroll_expiry).unwrap_or(TimeDelta::minutes(5));
    w.scrolls.retain(|_, sc| sc.last_access + expiry >= now);
    if let Some(id) = q(query, "scrollId") {
        let w = &mut *w;
        let Some(sc) = w.scrolls.get_mut(id) else {
            return messages(
                StatusCode::NOT_FOUND,
                "notFound",
                "The scroll does not exist or expired",
            );
        };
        sc.last_access = now;
        return next_order_page(w, id.to_string());
    }
    let per_page = match q(query, "ordersPerPage").map(str::parse::<f64>) {
        None => 1000,
        Some(Ok(n)) if (10.0..=1000.0).contains(&n) => n as usize,
        Some(_) => {
            return invalid("ordersPerPage must be between 10 and 1000");
        }
    };
    let include_test = q(query, "includeTestOrders") == Some("true");
    let statuses: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.as_str())
        .collect();
    let consumer = q(query, "consumerOrderNumber");
    let created = q(query, "ordersCreatedSince");
    let updated = q(query, "ordersUpdatedSince");
    let window = if consumer.is_some() {
        None
    } else {
        let Some(until) = q(query, "until") else {
            return invalid("until is required");
        };
        let Some(until) = parse_time(until) else {
            return invalid("until must be an ISO 8601 date");
        };
        if until > now - TimeDelta::seconds(5) {
            return invalid("until must be at least 5 seconds in the past");
        }
        let (since, by_created) = match (created, updated) {
            (Some(c), _) => (c, true),
            (None, Some(u)) => (u, false),
            (None, None) => {
                return invalid("ordersCreatedSince or ordersUpdatedSince is required");
            }
        };
        let Some(since) = parse_time(since) else {
            return invalid("since must be an ISO 8601 date");
        };
        Some((since, until, by_created))
    };
    // Assumption (undocumented): `until` is inclusive; created-since is inclusive and
    // updated-since exclusive, as documented.
    let ids: Vec<u64> = w
        .orders
        .values()
        .filter(|o| include_test || !o.test_flag)
        .filter(|o| statuses.is_empty() || statuses.contains(&o.status()))
        .filter(|o| match (consumer, window) {
            (Some(c), _) => o.consumer_order_number == c,
            (None, Some((since, until, true))) => o.created_at >= since && o.created_at <= until,
            (None, Some((since, until, false))) => o.last_update > since && o.last_update <= until,
            (None, None) => false,
        })
        .map(|o| o.dsco_order_id)
        .collect();
    let id = new_scroll_id();
    w.scrolls.insert(
        id.clone(),
        Scroll {
            items: ids.into_iter().map(ScrollItem::Order).collect(),
            pos: 0,
            last_access: now,
            page_size: per_page,
        },
    );
    next_order_page(&mut w, id)
}

fn next_order_page(w: &mut super::state::World, id: String) -> Response {
    let Some(sc) = w.scrolls.get_mut(&id) else {
        return messages(
            StatusCode::NOT_FOUND,
            "notFound",
            "The scroll does not exist or expired",
        );
    };
    let end = (sc.pos + sc.page_size).min(sc.items.len());
    let page: Vec<u64> = sc.items[sc.pos..end]
        .iter()
        .filter_map(|i| match i {
            ScrollItem::Order(id) => Some(*id),
            ScrollItem::Log(_) => None,
        })
        .collect();
    sc.pos = end;
    let orders: Vec<Value> = page
        .iter()
        .filter_map(|id| w.orders.get(id).map(|o| o.to_wire()))
        .collect();
    if orders.is_empty() {
        w.scrolls.remove(&id);
        return reply(StatusCode::OK, json!({"orders": []}));
    }
    reply(StatusCode::OK, json!({"scrollId": id, "orders": orders}))
}

fn order_get(s: &Shared, query: &Query) -> Response {
    let w = s.world();
    let (Some(key), Some(value)) = (q(query, "orderKey"), q(query, "value")) else {
        return invalid("orderKey and value are required");
    };
    if !["dscoOrderId", "poNumber", "supplierOrderNumber"].contains(&key) {
        return invalid("orderKey must be dscoOrderId, poNumber or supplierOrderNumber");
    }
    let found: Vec<Value> = w
        .find_order(key, value)
        .iter()
        .filter_map(|id| w.orders.get(id).map(|o| o.to_wire()))
        .collect();
    if found.is_empty() {
        return messages(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("No order found for {key} {value}"),
        );
    }
    if q(query, "returnMultiple") == Some("true") {
        reply(StatusCode::OK, Value::Array(found))
    } else {
        reply(
            StatusCode::OK,
            found.into_iter().next().unwrap_or(Value::Null),
        )
    }
}

fn read_body(s: &Shared, body: &Bytes) -> Result<Value, Response> {
    let max = s.world().config.max_body_bytes;
    // Assumption: DSCO's answer to a body over 5 MB is undocumented; 413 with messages.
    if body.len() > max {
        return Err(messages(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_TOO_LARGE",
            format!(
                "The request body is {} bytes; the limit is {max}",
                body.len()
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        messages(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("Malformed JSON: {e}"),
        )
    })
}

fn batch(s: &Shared, op: BatchOp, body: &Bytes, now: DateTime<Utc>) -> Response {
    let v = match read_body(s, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Array(items) = v else {
        return invalid("The body must be a JSON array");
    };
    if items.is_empty() {
        return invalid("The array is empty");
    }
    let mut w = s.world();
    let request_id = w.submit(op, items, now);
    // A zero delay settles at once, so the log is final on the first read.
    w.settle(now);
    reply(
        StatusCode::ACCEPTED,
        json!({"status": "pending", "requestId": request_id, "eventDate": wire_time(now), "messages": []}),
    )
}

fn single(s: &Shared, op: BatchOp, body: &Bytes, now: DateTime<Utc>) -> Response {
    let v = match read_body(s, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.is_object() {
        return invalid("The body must be a JSON object");
    }
    let mut w = s.world();
    match w.apply(op, &v, now) {
        Ok(_) => match op {
            // Observed: `{"success": true}`; the document's SuccessFailResponse also requires
            // `status`, so both are sent.
            BatchOp::Shipment => reply(
                StatusCode::CREATED,
                json!({"success": true, "status": "success"}),
            ),
            _ => reply(
                StatusCode::CREATED,
                json!({"status": "success", "requestId": uuid::Uuid::new_v4().to_string(), "eventDate": wire_time(now), "messages": []}),
            ),
        },
        Err(results) => reply(
            StatusCode::BAD_REQUEST,
            json!({"status": "failure", "messages": results}),
        ),
    }
}

fn invoice_get(s: &Shared, query: &Query) -> Response {
    let w = s.world();
    let (Some(key), Some(value)) = (q(query, "key"), q(query, "value")) else {
        return invalid("key and value are required");
    };
    let invoices: Vec<Value> = w
        .invoices
        .iter()
        .filter(|i| match key {
            "trackingNumber" => {
                i.pointer("/ship/trackingNumber").and_then(Value::as_str) == Some(value)
            }
            k => i.get(k).and_then(Value::as_str) == Some(value),
        })
        .cloned()
        .collect();
    reply(StatusCode::OK, json!({"invoices": invoices}))
}

fn change_log(s: &Shared, kind: LogKind, query: &Query, now: DateTime<Utc>) -> Response {
    let mut w = s.world();
    let expiry = TimeDelta::from_std(w.config.scroll_expiry).unwrap_or(TimeDelta::minutes(5));
    w.scrolls.retain(|_, sc| sc.last_access + expiry >= now);
    if let Some(id) = q(query, "scrollId") {
        let Some(sc) = w.scrolls.get_mut(id) else {
            return messages(
                StatusCode::NOT_FOUND,
                "notFound",
                "The scroll does not exist or expired",
            );
        };
        sc.last_access = now;
        return next_log_page(&mut w, id.to_string(), None);
    }
    let Some(request_id) = q(query, "requestId") else {
        // Assumption: date-range reads (startDate/endDate) are not simulated.
        return invalid("requestId (or scrollId) is required");
    };
    let status = q(query, "status");
    let belongs = w
        .batches
        .iter()
        .find(|b| b.request_id == request_id)
        .map(|b| b.op.log() == kind);
    let (completed, entries) = match belongs {
        Some(true) => w.log_entries(request_id, status).unwrap_or_default(),
        // An unknown id (or one of another log): nothing logged, as DSCO says for "not yet".
        _ => (false, Vec::new()),
    };
    let top = if completed { "COMPLETED" } else { "PROCESSING" };
    let page_size = w.config.log_page_size.max(1);
    let id = new_scroll_id();
    w.scrolls.insert(
        id.clone(),
        Scroll {
            items: entries.into_iter().map(ScrollItem::Log).collect(),
            pos: 0,
            last_access: now,
            page_size,
        },
    );
    next_log_page(&mut w, id, Some(top))
}

fn next_log_page(w: &mut super::state::World, id: String, top: Option<&str>) -> Response {
    let Some(sc) = w.scrolls.get_mut(&id) else {
        return messages(
            StatusCode::NOT_FOUND,
            "notFound",
            "The scroll does not exist or expired",
        );
    };
    let end = (sc.pos + sc.page_size).min(sc.items.len());
    let logs: Vec<Value> = sc.items[sc.pos..end]
        .iter()
        .filter_map(|i| match i {
            ScrollItem::Log(v) => Some(v.clone()),
            ScrollItem::Order(_) => None,
        })
        .collect();
    sc.pos = end;
    let mut body = json!({"logs": logs});
    if let Some(t) = top {
        body["status"] = json!(t);
    }
    // Assumption (named once): DSCO documents that "if the request results were too large to
    // return for a single request, the response will include a `scrollId`", and that an empty
    // page ends the results. We read that as: a scroll id only while entries remain; the
    // client stops on either an absent scroll id or an empty page.
    if logs.is_empty() || sc.pos >= sc.items.len() {
        w.scrolls.remove(&id);
    } else {
        body["scrollId"] = json!(id);
    }
    reply(StatusCode::OK, body)
}

// ---------------------------------------------------------------------------------------------
// Admin

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    count: usize,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    gaps: Vec<Gap>,
    #[serde(default)]
    initial: InitialState,
}

// No `deny_unknown_fields`: serde does not support it together with `flatten`.
#[derive(Deserialize)]
struct FaultRequest {
    endpoint: Endpoint,
    #[serde(flatten)]
    spec: FaultSpec,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CancelLine {
    quantity: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CancelRequest {
    code: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|e| reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})))
}

fn ok_or_404(found: bool) -> Response {
    if found {
        reply(StatusCode::OK, json!({"ok": true}))
    } else {
        reply(
            StatusCode::NOT_FOUND,
            json!({"error": "no such order or line"}),
        )
    }
}

fn admin(s: &Arc<Shared>, method: &Method, rest: &str, query: &Query, body: &Bytes) -> Response {
    let h = SimHandle { shared: s.clone() };
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let json_of = |v: &dyn erased::Ser| reply(StatusCode::OK, v.value());
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["orders"]) => match parse::<OrderSpec>(body) {
            Ok(spec) => match h.add_order(spec) {
                Ok(v) => reply(StatusCode::CREATED, v),
                Err(e) => reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
            },
            Err(r) => r,
        },
        ("POST", ["orders", "generate"]) => match parse::<GenerateRequest>(body) {
            Ok(g) => {
                let seed = g.seed.unwrap_or(1);
                let pos = h.generate_orders_in(g.count, seed, &g.gaps, g.initial);
                reply(StatusCode::CREATED, json!({"poNumbers": pos}))
            }
            Err(r) => r,
        },
        ("GET", ["orders", po]) => match h.order(po) {
            Some(v) => reply(StatusCode::OK, v),
            None => ok_or_404(false),
        },
        ("POST", ["orders", po, "cancel"]) => ok_or_404(h.cancel_order(po)),
        ("POST", ["orders", po, "lines", n]) => match (parse::<LineAmend>(body), n.parse()) {
            (Ok(a), Ok(n)) => ok_or_404(h.amend_line(po, n, &a)),
            (Err(r), _) => r,
            (_, Err(_)) => ok_or_404(false),
        },
        ("POST", ["orders", po, "remove-status"]) => ok_or_404(h.remove_status(po)),
        ("POST", ["orders", po, "wire"]) => match parse::<Value>(body) {
            Ok(patch) => ok_or_404(h.patch_order(po, patch)),
            Err(r) => r,
        },
        ("POST", ["orders", po, "lines", n, "wire"]) => match (parse::<Value>(body), n.parse()) {
            (Ok(patch), Ok(n)) => ok_or_404(h.patch_line(po, n, patch)),
            (Err(r), _) => r,
            (_, Err(_)) => ok_or_404(false),
        },
        ("POST", ["orders", po, "cancel-request"]) => match parse::<CancelRequest>(body) {
            Ok(c) => ok_or_404(h.request_cancel(po, c.code)),
            Err(r) => r,
        },
        ("POST", ["orders", po, "lines", n, "cancel"]) => {
            match (parse::<CancelLine>(body), n.parse()) {
                (Ok(c), Ok(n)) => ok_or_404(h.cancel_line(po, n, c.quantity)),
                (Err(r), _) => r,
                (_, Err(_)) => ok_or_404(false),
            }
        }
        ("GET", ["orders", po, "shipments"]) => json_of(&h.shipments_for(po)),
        ("GET", ["orders", po, "invoices"]) => json_of(&h.invoices_for(po)),
        ("GET", ["orders", po, "acks"]) => json_of(&h.acks_for(po)),
        ("GET", ["shipments", tracking]) => match h.shipment_by_tracking(tracking) {
            Some((po, p)) => reply(StatusCode::OK, json!({"poNumber": po, "shipment": p})),
            None => reply(
                StatusCode::NOT_FOUND,
                json!({"error": "no such tracking number"}),
            ),
        },
        ("GET", ["inventory", sku]) => match h.inventory(sku) {
            Some(v) => reply(StatusCode::OK, v),
            None => reply(
                StatusCode::NOT_FOUND,
                json!({"error": "no inventory for this sku"}),
            ),
        },
        ("POST", ["faults"]) => match parse::<FaultRequest>(body) {
            Ok(f) => {
                h.inject_fault(f.endpoint, f.spec);
                reply(StatusCode::OK, json!({"ok": true}))
            }
            Err(r) => r,
        },
        ("DELETE", ["faults"]) => {
            h.clear_faults();
            reply(StatusCode::OK, json!({"ok": true}))
        }
        ("POST", ["tokens", "expire"]) => {
            h.expire_tokens();
            reply(StatusCode::OK, json!({"ok": true}))
        }
        ("GET", ["calls"]) => {
            let w = s.world();
            let endpoint = q(query, "endpoint");
            let calls: serde_json::Map<String, Value> = w
                .calls
                .iter()
                .map(|(e, n)| {
                    (
                        serde_json::to_value(e)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        json!(n),
                    )
                })
                .filter(|(k, _)| endpoint.is_none_or(|e| e == k))
                .collect();
            reply(StatusCode::OK, Value::Object(calls))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": "unknown admin route"}),
        ),
    }
}

mod erased {
    use serde_json::Value;
    /// Lets the admin router turn any serialisable answer into JSON through one closure.
    pub trait Ser {
        fn value(&self) -> Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> Value {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}
