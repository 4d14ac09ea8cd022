//! LingXing outbound orders (`wmsOrderList`) for the orders that changed, kept in the order's
//! LingXing view so the ship and invoice jobs decide without asking again.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use domain::lx_view::LxViewPart;
use domain::order::{LxOutbound, LxOutboundItem, LxOutboundStatus};
use lingxing::{WmsOrder, WmsOrderQuery, WmsStatus};
use store::OrderRecord;

use super::Clients;
use crate::RunCtx;

/// POs per `wmsOrderList` query. The page size (200) counts outbound orders, not POs; most
/// queried POs have zero or one outbound order, and a query with more than 200 simply pages.
pub(crate) const POS_PER_CALL: usize = 200;

fn status(s: WmsStatus) -> LxOutboundStatus {
    LxOutboundStatus::from_code(match s {
        WmsStatus::LogisticsOrdering => 1,
        WmsStatus::PendingOutbound => 2,
        WmsStatus::Shipped => 3,
        WmsStatus::Intercepted => 4,
        WmsStatus::Unknown => 0,
        WmsStatus::Other(n) => n,
    })
}

/// A text LingXing left empty is none (as the view reads it back).
fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// An outbound order as the view keeps it.
fn outbound(w: &WmsOrder) -> LxOutbound {
    let some = |s: &Option<String>| s.as_deref().and_then(text);
    LxOutbound {
        carrier: some(&w.actual_carrier).or_else(|| some(&w.logistics_provider_name)),
        delivered_at: w.delivered_at,
        items: w
            .product_info
            .iter()
            .map(|p| LxOutboundItem {
                bundle_type: p.bundle_type,
                count: p.count,
                msku: text(&p.seller_sku),
                sku: p.sku.clone(),
            })
            .collect(),
        order_number: text(&w.order_number),
        platform_order_nos: Vec::new(),
        status: status(w.status),
        stock_delivered_at: w.stock_delivered_at,
        tracking_no: some(&w.tracking_no),
        wo_number: w.wo_number.clone(),
    }
}

/// Reads the outbound orders of `orders` (all pages; `sid_arr` = their stores, a create-date
/// window from a day before the oldest order's push to tomorrow) and stores them in each order's
/// LingXing view, [`POS_PER_CALL`] orders a query; each query's views are stored while the next
/// query is read (`wmsOrderList` takes one call at a time: it does not wait for the store). A
/// failed read leaves the queries before it stored and changes nothing else.
pub(crate) async fn refresh(
    ctx: &RunCtx,
    clients: &Clients,
    orders: &[OrderRecord],
    stored: &mut super::common::LxViews,
) -> Result<(), lingxing::LingxingError> {
    let store_err = |e: store::StoreError| lingxing::LingxingError::transient(e.to_string());
    let mut chunks = orders.chunks(POS_PER_CALL);
    let Some(mut chunk) = chunks.next() else {
        return Ok(());
    };
    let mut by_po = read_chunk(clients, chunk, ctx.clock.now()).await?;
    loop {
        let at = DateTime::from_timestamp(ctx.clock.now().timestamp(), 0);
        let views: Vec<store::LingxingView> = chunk
            .iter()
            .map(|o| {
                let (mut view, _) = stored.get(&o.pulled.po);
                view.outbounds = Some(by_po.remove(o.pulled.po.as_str()).unwrap_or_default());
                view.outbounds_at = at;
                store::LingxingView {
                    po: o.pulled.po.clone(),
                    store_id: None,
                    order_nos: o.lingxing_order_nos.clone(),
                    snapshot: view,
                    // Only the outbound orders: a feed write landing meanwhile keeps its orders.
                    part: LxViewPart::Outbounds,
                }
            })
            .collect();
        // The next query, with the chunk it read.
        let next = async {
            match chunks.next() {
                Some(c) => Some((c, read_chunk(clients, c, ctx.clock.now()).await)),
                None => None,
            }
        };
        let (written, next) = tokio::join!(stored.store(ctx, views), next);
        written.map_err(store_err)?;
        let Some((c, read)) = next else {
            return Ok(());
        };
        by_po = read?;
        chunk = c;
    }
}

/// The outbound orders of at most [`POS_PER_CALL`] orders, by PO: one `wmsOrderList` query (all
/// its pages; `sid_arr` = their stores, a create-date window from a day before the oldest order's
/// push to tomorrow). The read the ship job and reconciliation share.
pub(crate) async fn read_chunk(
    clients: &Clients,
    chunk: &[OrderRecord],
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<LxOutbound>>, lingxing::LingxingError> {
    let tz = clients.lingxing.config().timezone;
    let pos: Vec<String> = chunk.iter().map(|o| o.pulled.po.to_string()).collect();
    let mut sids: Vec<u64> = chunk
        .iter()
        .filter_map(|o| o.store_id.as_deref()?.parse().ok())
        .collect();
    sids.sort();
    sids.dedup();
    let oldest = chunk.iter().map(|o| o.created_at).min().unwrap_or(now);
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let start = day(oldest)
        .checked_sub_days(Days::new(1))
        .unwrap_or(day(oldest));
    let end = day(now).checked_add_days(Days::new(1)).unwrap_or(day(now));
    let q = WmsOrderQuery {
        page: 1,
        page_size: lingxing::WMS_MAX_PAGE_SIZE,
        sid_arr: sids,
        platform_order_no_arr: pos,
        time_type: Some("create_at".into()),
        start_date: Some(start.format("%Y-%m-%d").to_string()),
        end_date: Some(end.format("%Y-%m-%d").to_string()),
        ..WmsOrderQuery::default()
    };
    let rows = clients.lingxing.wms_orders_all(q).await?;
    let mut by_po: BTreeMap<String, Vec<LxOutbound>> = BTreeMap::new();
    for w in &rows {
        for po in &w.platform_order_no {
            by_po.entry(po.clone()).or_default().push(outbound(w));
        }
    }
    Ok(by_po)
}
