//! Stock `/stock`: the sync runs and one run SKU by SKU; the CSV `/stock.csv`.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use store::{StockItem, StockItemCursor};

use super::csv::{CSV_PAGE, paged_csv};
use super::fmt::{TimeCell, day_start, query_string, some, time};
use super::layout::{Cx, Layout, error_page, render, store_error};

struct StockRunView {
    href: String,
    at: TimeCell,
    state: &'static str,
    full_push: bool,
    read: i64,
    changed: i64,
    sent: i64,
    drops: String,
    note: String,
    release: String,
}

struct StockItemView {
    dsco: String,
    lingxing: String,
    before: String,
    available: i64,
    reserve: i64,
    qty: i64,
    diff: String,
    outcome: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "stock.html")]
struct StockPage {
    l: Layout,
    held: usize,
    since: String,
    runs: Vec<StockRunView>,
    run_id: Option<String>,
    items: Vec<StockItemView>,
    more: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct StockQuery {
    run: String,
    since: String,
}

const STOCK_ITEMS: usize = 500;

/// The stock sync runs (held ones first in mind), and one run's items SKU by SKU.
pub(super) async fn stock(cx: Cx, Query(q): Query<StockQuery>) -> Response {
    let l = cx.layout("stock", "stock.title");
    let tz = cx.tz;
    let runs = match cx.store.stock_runs(false, 50).await {
        Ok(r) => r,
        Err(e) => return store_error(l, e),
    };
    let chosen = match some(&q.run) {
        Some(id) => runs.iter().find(|r| r.run_id == id),
        None => runs.first(),
    };
    let items = match chosen {
        Some(r) => match cx
            .store
            .stock_item_page(Some(&r.run_id), r.at, None, STOCK_ITEMS as u32 + 1)
            .await
        {
            Ok(items) => items,
            Err(e) => return store_error(l, e),
        },
        None => Vec::new(),
    };
    render(StockPage {
        held: runs
            .iter()
            .filter(|r| r.state == store::StockRunState::Held)
            .count(),
        since: Utc::now().with_timezone(&tz).format("%Y-%m-%d").to_string(),
        run_id: chosen.map(|r| r.run_id.clone()),
        more: items.len() > STOCK_ITEMS,
        items: items
            .iter()
            .take(STOCK_ITEMS)
            .map(|i| {
                let available: i64 = i.read.values().sum();
                StockItemView {
                    dsco: i.dsco_sku.clone(),
                    lingxing: i.lingxing_sku.clone(),
                    before: i
                        .previous_qty
                        .map(|q| q.to_string())
                        .unwrap_or_else(|| "–".into()),
                    available,
                    reserve: available - i.qty,
                    qty: i.qty,
                    diff: i
                        .previous_qty
                        .map(|b| format!("{:+}", i.qty - b))
                        .unwrap_or_else(|| "–".into()),
                    outcome: i.outcome.as_str(),
                    message: i.message.clone(),
                }
            })
            .collect(),
        runs: runs
            .iter()
            .map(|r| StockRunView {
                href: format!("/stock?{}", query_string(&[("run", &r.run_id)])),
                at: time(r.at, tz),
                state: r.state.as_str(),
                full_push: r.full_push,
                read: r.skus_read,
                changed: r.skus_changed,
                sent: r.skus_sent,
                drops: format!("{} / {}", r.drops_to_zero, r.above_zero),
                note: r.note.clone(),
                release: match (&r.released_by, &r.release_reason) {
                    (Some(by), Some(why)) => format!("{by}: {why}"),
                    _ => String::new(),
                },
            })
            .collect(),
        l,
    })
}

/// The stock items since a day (display zone) as CSV: UTF-8 with a BOM, the columns of
/// `stock export`, read and sent a page at a time.
pub(super) async fn stock_csv(cx: Cx, Query(q): Query<StockQuery>) -> Response {
    let l = cx.layout("stock", "stock.title");
    let since = match day_start("since", &q.since, cx.tz, false) {
        Ok(t) => t.unwrap_or(DateTime::UNIX_EPOCH),
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let mut header = Vec::new();
    if let Err(e) = engine::stock::write_stock_header(&mut header) {
        return error_page(
            l,
            StatusCode::INTERNAL_SERVER_ERROR,
            "common.error",
            e.to_string(),
        );
    }
    let store = cx.store.clone();
    paged_csv(
        format!("stock-{}.csv", since.format("%Y%m%d")),
        String::from_utf8_lossy(&header).into_owned(),
        move |after: Option<StockItemCursor>| {
            let store = store.clone();
            async move {
                store
                    .stock_item_page(None, since, after.as_ref(), CSV_PAGE)
                    .await
            }
        },
        StockItem::cursor,
        |items| {
            let mut buf = Vec::new();
            // Writing to a Vec cannot fail.
            let _ = engine::stock::write_stock_rows(items, &mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        },
    )
}
