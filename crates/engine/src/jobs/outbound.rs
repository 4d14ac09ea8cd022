//! LingXing outbound orders (`wmsOrderList`) for the orders that changed, kept in the order's
//! LingXing view so the ship and invoice jobs decide without asking again.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use domain::order::{LxOutbound, LxOutboundItem, LxOutboundStatus};
use lingxing::{WmsOrder, WmsOrderQuery, WmsStatus};
use serde_json::{Value, json};
use store::OrderRecord;

use super::Clients;
use crate::RunCtx;

/// POs per `wmsOrderList` query. The page size (200) counts outbound orders, not POs; most
/// queried POs have zero or one outbound order, and a query with more than 200 simply pages.
const POS_PER_CALL: usize = 200;

fn status_code(s: WmsStatus) -> i64 {
    match s {
        WmsStatus::LogisticsOrdering => 1,
        WmsStatus::PendingOutbound => 2,
        WmsStatus::Shipped => 3,
        WmsStatus::Intercepted => 4,
        WmsStatus::Unknown => 0,
        WmsStatus::Other(n) => n,
    }
}

fn to_json(w: &WmsOrder) -> Value {
    json!({
        "wo": w.wo_number,
        "order_number": w.order_number,
        "status": status_code(w.status),
        "tracking": w.tracking_no,
        "delivered_at": w.delivered_at.map(|t| t.to_rfc3339()),
        "stock_delivered_at": w.stock_delivered_at.map(|t| t.to_rfc3339()),
        "carrier": w.actual_carrier.clone().or_else(|| w.logistics_provider_name.clone()),
        "items": w.product_info.iter().map(|p| json!({
            "sku": p.sku, "msku": p.seller_sku, "count": p.count, "bundle_type": p.bundle_type
        })).collect::<Vec<_>>(),
    })
}

fn time(v: &Value, k: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.get(k)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The outbound orders in a stored view.
pub(crate) fn outbounds(view: &Value, po: &str) -> Vec<LxOutbound> {
    view.get("outbounds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|w| LxOutbound {
                    wo_number: text(w, "wo").unwrap_or_default(),
                    order_number: text(w, "order_number"),
                    platform_order_nos: vec![po.to_owned()],
                    status: LxOutboundStatus::from_code(
                        w.get("status").and_then(Value::as_i64).unwrap_or(0),
                    ),
                    tracking_no: text(w, "tracking"),
                    delivered_at: time(w, "delivered_at"),
                    stock_delivered_at: time(w, "stock_delivered_at"),
                    carrier: text(w, "carrier"),
                    items: w
                        .get("items")
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .map(|i| LxOutboundItem {
                                    sku: text(i, "sku").unwrap_or_default(),
                                    msku: text(i, "msku"),
                                    count: i.get("count").and_then(Value::as_i64).unwrap_or(0),
                                    bundle_type: i
                                        .get("bundle_type")
                                        .and_then(Value::as_i64)
                                        .unwrap_or(0),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the outbound orders of `orders` (all pages; `sid_arr` = their stores, a create-date
/// window from a day before the oldest order's push to tomorrow) and stores them in each order's
/// LingXing view. Fails closed: an interrupted listing changes nothing.
pub(crate) async fn refresh(
    ctx: &RunCtx,
    clients: &Clients,
    orders: &[OrderRecord],
    stored: &mut super::common::LxViews,
) -> Result<(), lingxing::LingxingError> {
    let tz = clients.lingxing.config().timezone;
    for chunk in orders.chunks(POS_PER_CALL) {
        let pos: Vec<String> = chunk.iter().map(|o| o.pulled.po.to_string()).collect();
        let mut sids: Vec<u64> = chunk
            .iter()
            .filter_map(|o| o.store_id.as_deref()?.parse().ok())
            .collect();
        sids.sort();
        sids.dedup();
        let oldest = chunk
            .iter()
            .map(|o| o.created_at)
            .min()
            .unwrap_or_else(|| ctx.clock.now());
        let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let start = day(oldest)
            .checked_sub_days(Days::new(1))
            .unwrap_or(day(oldest));
        let end = day(ctx.clock.now())
            .checked_add_days(Days::new(1))
            .unwrap_or(day(ctx.clock.now()));
        let q = WmsOrderQuery {
            page: 1,
            page_size: lingxing::WMS_MAX_PAGE_SIZE,
            sid_arr: sids,
            platform_order_no_arr: pos.clone(),
            time_type: Some("create_at".into()),
            start_date: Some(start.format("%Y-%m-%d").to_string()),
            end_date: Some(end.format("%Y-%m-%d").to_string()),
            ..WmsOrderQuery::default()
        };
        let rows = clients.lingxing.wms_orders_all(q).await?;
        let mut by_po: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for w in &rows {
            for po in &w.platform_order_no {
                by_po.entry(po.as_str()).or_default().push(to_json(w));
            }
        }
        let store_err = |e: store::StoreError| lingxing::LingxingError::transient(e.to_string());
        let mut views = Vec::with_capacity(chunk.len());
        for o in chunk {
            let (mut view, _) = stored.get(&o.pulled.po);
            if !view.is_object() {
                view = json!({});
            }
            view["outbounds"] =
                Value::Array(by_po.remove(o.pulled.po.as_str()).unwrap_or_default());
            view["outbounds_at"] = json!(ctx.clock.now().timestamp());
            views.push(store::LingxingView {
                po: o.pulled.po.clone(),
                store_id: None,
                order_nos: o.lingxing_order_nos.clone(),
                snapshot: view,
            });
        }
        stored.store(ctx, views).await.map_err(store_err)?;
    }
    Ok(())
}

/// Whether the stored view says LingXing has audited (and so may have outbound orders).
pub(crate) fn audited(view: &Value) -> bool {
    super::lx_feed::lx_orders(view)
        .iter()
        .any(|o| o.status.is_audited())
}
