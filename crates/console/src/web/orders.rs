//! Orders `/orders`: the filtered list paged by keyset, and its CSV export `/orders.csv`.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::{PoNumber, ReasonCode, ReasonKind, Stage};
use serde::Deserialize;
use store::{OrderCursor, OrderFilter, OrderRow};

use super::csv::{CSV_PAGE, csv_line, paged_csv};
use super::fmt::{
    SelectOption, TimeCell, age, day_start, kind_label, po_href, query_string, some, stage_label,
    time,
};
use super::layout::{Cx, Layout, error_page, render, store_error};
use crate::model::reason_sentence;

const PAGE_SIZE: u32 = 100;

/// The order list's query string; empty values mean "any".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct OrdersQuery {
    q: String,
    stage: String,
    kind: String,
    code: String,
    subject: String,
    retailer: String,
    warehouse: String,
    sku: String,
    tracking: String,
    lx: String,
    created_from: String,
    created_to: String,
    updated_from: String,
    updated_to: String,
    sort: String,
    /// `only`: the orders an operator ignored; `hide`: none of them.
    ignored: String,
    after_t: String,
    after_po: String,
}

impl OrdersQuery {
    /// The filter; a bad value names its field.
    pub(super) fn filter(&self, tz: Tz) -> Result<OrderFilter, String> {
        let day = |field: &str, v: &str, next: bool| day_start(field, v, tz, next);
        Ok(OrderFilter {
            stage: match some(&self.stage) {
                None => None,
                Some(s) => Some(
                    s.parse::<i64>()
                        .ok()
                        .and_then(Stage::from_number)
                        .ok_or_else(|| format!("stage: `{s}` is not a stage (1–6)"))?,
                ),
            },
            reason_kind: match some(&self.kind) {
                None => None,
                Some(k) => Some(k.parse::<ReasonKind>().map_err(|e| format!("kind: {e}"))?),
            },
            reason_code: some(&self.code),
            subject: some(&self.subject),
            retailer: some(&self.retailer),
            warehouse: some(&self.warehouse),
            sku: some(&self.sku),
            tracking: some(&self.tracking),
            lingxing_order_no: some(&self.lx),
            po_contains: some(&self.q),
            created_from: day("created_from", &self.created_from, false)?,
            created_to: day("created_to", &self.created_to, true)?,
            updated_from: day("updated_from", &self.updated_from, false)?,
            updated_to: day("updated_to", &self.updated_to, true)?,
            // Needs attention leaves out what an operator ignored, as the overview counts it.
            ignored: match self.ignored.as_str() {
                "only" => Some(true),
                "hide" => Some(false),
                "" if self.kind == ReasonKind::NeedsAttention.as_str() => Some(false),
                "" | "any" => None,
                x => return Err(format!("ignored: `{x}` is not only, hide or any")),
            },
        })
    }

    fn newest_first(&self) -> bool {
        self.sort == "newest"
    }

    fn after(&self) -> Option<OrderCursor> {
        let t = self.after_t.parse::<i64>().ok()?;
        Some(OrderCursor {
            stage_entered_at: DateTime::from_timestamp_millis(t)?,
            po: some(&self.after_po)?,
        })
    }

    /// The filter's query string (no paging), plus `extra`.
    pub(super) fn href(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("stage", &self.stage),
            ("kind", &self.kind),
            ("code", &self.code),
            ("subject", &self.subject),
            ("retailer", &self.retailer),
            ("warehouse", &self.warehouse),
            ("sku", &self.sku),
            ("tracking", &self.tracking),
            ("lx", &self.lx),
            ("created_from", &self.created_from),
            ("created_to", &self.created_to),
            ("updated_from", &self.updated_from),
            ("updated_to", &self.updated_to),
            ("sort", &self.sort),
            ("ignored", &self.ignored),
        ];
        pairs.extend_from_slice(extra);
        let q = query_string(&pairs);
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }
}
struct OrderRowView {
    po: String,
    href: String,
    stage_n: i64,
    stage_label: &'static str,
    kind: String,
    kind_label: String,
    code: String,
    subject: String,
    retailer: String,
    warehouse: String,
    skus: String,
    entered: TimeCell,
    age: String,
    created: Option<TimeCell>,
    ignored: bool,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    l: Layout,
    f: OrdersQuery,
    stage_options: Vec<SelectOption>,
    kind_options: Vec<SelectOption>,
    code_options: Vec<SelectOption>,
    ignored_options: Vec<SelectOption>,
    /// The confirmation page of "retry all matching" for this filter.
    retry_href: String,
    newest_first: bool,
    error: String,
    rows: Vec<OrderRowView>,
    paged: bool,
    first_href: String,
    next_href: Option<String>,
    csv_href: String,
}

pub(super) async fn orders(cx: Cx, Query(f): Query<OrdersQuery>) -> Response {
    let l = cx.layout("orders", "orders.title");
    let (tr, lang, tz, now) = (cx.t, cx.lang(), cx.tz, cx.now);
    // An exact PO opens its page.
    if let Some(q) = some(&f.q)
        && let Ok(po) = PoNumber::parse(&q)
    {
        match cx.store.get_order(&po).await {
            Ok(Some(_)) => return Redirect::to(&po_href(po.as_str())).into_response(),
            Ok(None) => {}
            Err(e) => return store_error(l, e),
        }
    }
    let (rows, error) = match f.filter(tz) {
        Ok(filter) => match cx
            .store
            .order_page(&filter, f.newest_first(), f.after().as_ref(), PAGE_SIZE + 1)
            .await
        {
            Ok(rows) => (rows, String::new()),
            Err(e) => return store_error(l, e),
        },
        Err(e) => (Vec::new(), e),
    };
    let more = rows.len() > PAGE_SIZE as usize;
    let rows: Vec<OrderRow> = rows.into_iter().take(PAGE_SIZE as usize).collect();
    let next_href = match (more, rows.last()) {
        (true, Some(last)) => {
            let c = last.cursor();
            let t = c.stage_entered_at.timestamp_millis().to_string();
            Some(f.href("/orders", &[("after_t", &t), ("after_po", &c.po)]))
        }
        _ => None,
    };
    let views = rows
        .iter()
        .map(|r| {
            let (kind, kind_lbl, code, subject) = match &r.reason {
                Some(x) => (
                    x.kind.as_str().to_owned(),
                    kind_label(&tr, x.kind),
                    x.code.as_str().to_owned(),
                    x.detail.clone(),
                ),
                None => Default::default(),
            };
            OrderRowView {
                po: r.po.as_str().to_owned(),
                href: po_href(r.po.as_str()),
                stage_n: r.stage.number(),
                stage_label: stage_label(r.stage, lang),
                kind,
                kind_label: kind_lbl,
                code,
                subject,
                retailer: r.retailer_id.clone().unwrap_or_default(),
                warehouse: r.warehouse_code.clone().unwrap_or_default(),
                skus: r.skus.replace(',', ", "),
                entered: time(r.stage_entered_at, tz),
                age: age(now - r.stage_entered_at, lang),
                created: r.dsco_created_at.map(|t| time(t, tz)),
                ignored: r.ignored_at.is_some(),
            }
        })
        .collect();
    let stage_options = Stage::ALL
        .into_iter()
        .map(|s| SelectOption {
            value: s.number().to_string(),
            label: format!("{} {}", s.number(), stage_label(s, lang)),
            selected: f.stage == s.number().to_string(),
        })
        .collect();
    let kind_options = ReasonKind::ALL
        .into_iter()
        .map(|k| SelectOption {
            value: k.as_str().to_owned(),
            label: kind_label(&tr, k),
            selected: f.kind == k.as_str(),
        })
        .collect();
    let code_options = ReasonCode::ALL
        .into_iter()
        .map(|c| SelectOption {
            value: c.as_str().to_owned(),
            label: c.as_str().to_owned(),
            selected: f.code == c.as_str(),
        })
        .collect();
    let ignored_options = [
        ("only", "ops.ignored_only"),
        ("hide", "ops.ignored_hide"),
        ("any", "ops.ignored_any"),
    ]
    .into_iter()
    .map(|(v, k)| SelectOption {
        value: v.to_owned(),
        label: tr.t(k).to_owned(),
        selected: f.ignored == v,
    })
    .collect();
    render(OrdersPage {
        retry_href: f.href("/orders/retry", &[]),
        ignored_options,
        stage_options,
        kind_options,
        code_options,
        newest_first: f.newest_first(),
        error,
        rows: views,
        paged: f.after().is_some(),
        first_href: f.href("/orders", &[]),
        next_href,
        csv_href: f.href("/orders.csv", &[]),
        f,
        l,
    })
}
/// The CSV export of the current filter: UTF-8 with a BOM (Excel reads the Chinese right), times
/// in the display zone named in the header, read and sent a page at a time.
pub(super) async fn orders_csv(cx: Cx, Query(f): Query<OrdersQuery>) -> Response {
    let l = cx.layout("orders", "orders.title");
    let lang = l.t.lang;
    let tz = cx.tz;
    let filter = match f.filter(tz) {
        Ok(x) => x,
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let zone = tz.name();
    let header_line = csv_line(
        &[
            "po".to_owned(),
            "stage".into(),
            "stage_label".into(),
            "reason_kind".into(),
            "reason_code".into(),
            "reason_subject".into(),
            "reason_message".into(),
            "retailer_id".into(),
            "warehouse_code".into(),
            "service_level".into(),
            "dsco_status".into(),
            "skus".into(),
            "tracking".into(),
            "lingxing_order_nos".into(),
            "invoice_id".into(),
            format!("in_stage_since ({zone})"),
            format!("dsco_created_at ({zone})"),
            format!("dsco_updated_at ({zone})"),
        ][..],
    );
    let fmt = move |t: Option<DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let row_line = move |r: &OrderRow| {
        let (kind, code, subject, msg) = match &r.reason {
            Some(x) => (
                x.kind.as_str().to_owned(),
                x.code.as_str().to_owned(),
                x.detail.clone(),
                reason_sentence(x.code.as_str(), &x.detail, lang),
            ),
            None => Default::default(),
        };
        csv_line(&[
            r.po.as_str().to_owned(),
            r.stage.number().to_string(),
            stage_label(r.stage, lang).to_owned(),
            kind,
            code,
            subject,
            msg,
            r.retailer_id.clone().unwrap_or_default(),
            r.warehouse_code.clone().unwrap_or_default(),
            r.service_level.clone().unwrap_or_default(),
            r.dsco_status.clone().unwrap_or_default(),
            r.skus.clone(),
            r.tracking.join(" "),
            r.lingxing_order_nos.join(" "),
            r.invoice_id.clone().unwrap_or_default(),
            fmt(Some(r.stage_entered_at)),
            fmt(r.dsco_created_at),
            fmt(r.dsco_updated_at),
        ])
    };
    let (store, newest) = (cx.store.clone(), f.newest_first());
    paged_csv(
        format!("orders-{}.csv", Utc::now().format("%Y%m%d-%H%M%S")),
        header_line,
        move |after: Option<OrderCursor>| {
            let (store, filter) = (store.clone(), filter.clone());
            async move {
                store
                    .order_page(&filter, newest, after.as_ref(), CSV_PAGE)
                    .await
            }
        },
        OrderRow::cursor,
        move |rows| rows.iter().map(&row_line).collect(),
    )
}
