//! Order `/orders/{po}`: why the order is where it is, its far sides, writes and timeline; the
//! raw DSCO payload `/orders/{po}/payload.json`.

use askama::Template;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::order::DscoOrderView;
use domain::{PoNumber, Reason};
use serde_json::Value;
use store::{EventOutcome, IntentKind};

use super::fmt::{TimeCell, age, dash, kind_label, po_href, stage_label, time};
use super::layout::{Cx, Layout, error_page, render, store_error};
use crate::i18n::{Lang, Tr};
use crate::model::OrderDetail;

struct LineView {
    number: String,
    sku: String,
    quantity: i64,
    title: String,
}

struct LxOrderView {
    no: String,
    status: String,
}

struct OutboundView {
    wo: String,
    status: String,
    tracking: String,
    carrier: String,
    sent: String,
}

struct WriteView {
    kind: &'static str,
    key: String,
    state: &'static str,
    outcome: String,
}

struct RequestView {
    id: String,
    kind: &'static str,
    pending: bool,
    at: TimeCell,
}

struct TimelineEntry {
    sort: (DateTime<Utc>, i64),
    at: TimeCell,
    class: &'static str,
    label: String,
    title: String,
    who: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    l: Layout,
    po: String,
    /// "Run JOB for this PO" (the job of its stage; empty at a final stage).
    run_job: String,
    run_href: String,
    stage_n: i64,
    stage_label: &'static str,
    stuck: bool,
    kind: String,
    kind_label: String,
    code: String,
    sentence: String,
    entered: TimeCell,
    age: String,
    next_attempt: Option<TimeCell>,
    attempts: i64,
    flags: String,
    dsco_status: String,
    lifecycle: String,
    retailer: String,
    warehouse: String,
    service_level: String,
    ship_to: String,
    created: Option<TimeCell>,
    lines: Vec<LineView>,
    payload: String,
    payload_href: String,
    store_id: String,
    lx_checked: Option<TimeCell>,
    invoice: String,
    lx_orders: Vec<LxOrderView>,
    outbounds: Vec<OutboundView>,
    writes: Vec<WriteView>,
    requests: Vec<RequestView>,
    timeline: Vec<TimelineEntry>,
    /// The operator actions (issue 16).
    actions: OrderActions,
    /// The open reconciliation findings of the order.
    findings: Vec<super::reconcile::FindingView>,
}

/// What an operator may do on this order's page.
struct OrderActions {
    /// A job decides it again (not final): retry is offered.
    retryable: bool,
    ignored: bool,
    /// The stages the force guard allows from here.
    force_to: Vec<super::fmt::SelectOption>,
    /// The fix-the-cause form, when its reason is a missing mapping entry.
    fix_href: Option<String>,
    force_href: String,
    retry_href: String,
    ignore_href: String,
}
/// A LingXing status code with its name (`6 已发货` / `6 shipped`); the bare code when unknown.
fn coded(code: i64, names: &[(i64, &str, &str)], lang: Lang) -> String {
    match names.iter().find(|(c, ..)| *c == code) {
        Some((_, zh, en)) => format!("{code} {}", if lang == Lang::Zh { zh } else { en }),
        None => code.to_string(),
    }
}

/// LingXing's order status codes, as LingXing names them.
const LX_ORDER_STATUS: &[(i64, &str, &str)] = &[
    (0, "已创建", "created"),
    (1, "同步中", "syncing"),
    (2, "已同步", "synced"),
    (3, "未付款", "unpaid"),
    (4, "待审核", "awaiting audit"),
    (5, "待发货", "awaiting shipment"),
    (6, "已发货", "shipped"),
    (7, "已取消", "cancelled"),
    (8, "不显示", "hidden"),
    (9, "平台发货", "shipped by the platform"),
];

/// LingXing's outbound (WMS) status codes.
const WO_STATUS: &[(i64, &str, &str)] = &[
    (1, "物流下单", "carrier booked"),
    (2, "待出库", "awaiting outbound"),
    (3, "已出库", "shipped out"),
    (4, "已截单", "intercepted"),
];

pub(super) fn event_title(tr: &Tr, e: &store::NewEvent, lang: Lang) -> String {
    let mut s = tr.t(&format!("outcome.{}", e.outcome.as_str())).to_owned();
    match (e.from_stage, e.to_stage) {
        (Some(a), Some(b)) => s.push_str(&format!(
            " {} → {} {}",
            a.number(),
            b.number(),
            stage_label(b, lang)
        )),
        (None, Some(b)) => s.push_str(&format!(" → {} {}", b.number(), stage_label(b, lang))),
        _ => {}
    }
    if let Some(c) = &e.reason_code {
        s.push_str(&format!(" [{c}]"));
    }
    s
}

pub(super) fn event_detail(e: &store::NewEvent, lang: Lang) -> String {
    match &e.reason_code {
        Some(c) => Reason::new(*c, e.detail.as_str()).message(lang),
        None => e.detail.clone(),
    }
}

fn timeline(d: &OrderDetail, tr: &Tr, tz: Tz) -> Vec<TimelineEntry> {
    let lang = tr.lang;
    let mut out = Vec::new();
    for e in &d.events {
        let ev = &e.event;
        let (class, label) = match ev.outcome {
            EventOutcome::Operator => ("operator", tr.t("tl.operator")),
            EventOutcome::Advanced => ("advanced", tr.t("tl.event")),
            EventOutcome::Skipped => ("skipped", tr.t("tl.event")),
            EventOutcome::DryRun => ("dry_run", tr.t("outcome.dry_run")),
            _ => ("event", tr.t("tl.event")),
        };
        let mut who = ev
            .job
            .map(|j| j.as_str().to_owned())
            .or_else(|| ev.actor.clone())
            .unwrap_or_default();
        // A folded repeat shows when it last happened (that is where it sorts) and since when.
        if e.count > 1 {
            who.push_str(&format!(
                " · ×{} {} {}",
                e.count,
                tr.t("tl.times"),
                time(ev.at, tz).local
            ));
        }
        out.push(TimelineEntry {
            sort: (e.last_at.max(ev.at), e.id),
            at: time(e.last_at.max(ev.at), tz),
            class,
            label: label.to_owned(),
            title: event_title(tr, ev, lang),
            who,
            detail: event_detail(ev, lang),
        });
    }
    for i in &d.intents {
        out.push(TimelineEntry {
            sort: (i.updated_at, 0),
            at: time(i.updated_at, tz),
            class: "write",
            label: tr.t("tl.write").to_owned(),
            title: format!("{} {}: {}", i.kind.as_str(), i.key, i.state.as_str()),
            who: i.run_id.clone().unwrap_or_default(),
            detail: i.outcome.clone(),
        });
    }
    for r in &d.requests {
        out.push(TimelineEntry {
            sort: (r.submitted_at, 0),
            at: time(r.submitted_at, tz),
            class: "request",
            label: tr.t("tl.request").to_owned(),
            title: format!(
                "{} requestId {} ({})",
                r.kind.as_str(),
                r.request_id,
                r.state.as_str()
            ),
            who: r.run_id.clone().unwrap_or_default(),
            detail: r.result.clone(),
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.sort));
    out
}

pub(super) async fn order(cx: Cx, Path(po): Path<String>) -> Response {
    let l = cx.layout("orders", "order.title");
    let (tr, lang, tz, now) = (cx.t, cx.lang(), cx.tz, cx.now);
    let Ok(po) = PoNumber::parse(&po) else {
        return error_page(
            l,
            StatusCode::NOT_FOUND,
            "common.not_found",
            format!("PO `{po}`"),
        );
    };
    let d = match OrderDetail::load(&*cx.store, &po, now).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error_page(
                l,
                StatusCode::NOT_FOUND,
                "common.not_found",
                format!("PO {po}"),
            );
        }
        Err(e) => return store_error(l, e),
    };
    let o = &d.order;
    let view = DscoOrderView::from_json(o.pulled.payload.get()).ok();
    let ship_to = view
        .as_ref()
        .map(|v| {
            let a = &v.address;
            [
                &a.name,
                &a.company,
                &a.address1,
                &a.address2,
                &a.city,
                &a.region,
                &a.postal,
                &a.country,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
        })
        .unwrap_or_default();
    let lines = view
        .as_ref()
        .map(|v| {
            v.lines
                .iter()
                .map(|x| LineView {
                    number: x.line_number.map(|n| n.to_string()).unwrap_or_default(),
                    sku: x.key().unwrap_or("").to_owned(),
                    quantity: x.expected(),
                    title: x.title.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let payload = serde_json::from_str::<Value>(o.pulled.payload.get())
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| o.pulled.payload.get().to_owned());
    let shipment_state = |tracking: &str| {
        d.intents
            .iter()
            .find(|i| i.kind == IntentKind::Shipment && i.key == tracking)
            .map(|i| i.state.as_str().to_owned())
            .unwrap_or_else(|| {
                if o.tracking.iter().any(|t| t == tracking) {
                    tr.t("order.sent_to_dsco").to_owned()
                } else {
                    "–".to_owned()
                }
            })
    };
    let mut lx_orders: Vec<LxOrderView> = d
        .lingxing
        .entries()
        .iter()
        .map(|e| LxOrderView {
            no: e.no.clone(),
            status: coded(e.status.code(), LX_ORDER_STATUS, lang),
        })
        .collect();
    for no in &o.lingxing_order_nos {
        if !lx_orders.iter().any(|x| &x.no == no) {
            lx_orders.push(LxOrderView {
                no: no.clone(),
                status: "–".into(),
            });
        }
    }
    let outbounds = d
        .lingxing
        .outbounds
        .iter()
        .flatten()
        .map(|w| {
            let tracking = w.tracking_no.clone().unwrap_or_default();
            OutboundView {
                wo: w.wo_number.clone(),
                status: coded(w.status.code(), WO_STATUS, lang),
                sent: if tracking.is_empty() {
                    "–".into()
                } else {
                    shipment_state(&tracking)
                },
                tracking,
                carrier: w.carrier.clone().unwrap_or_default(),
            }
        })
        .collect();
    let invoice = match &o.invoice_id {
        Some(id) => {
            let state = d
                .intents
                .iter()
                .find(|i| i.kind == IntentKind::Invoice)
                .map(|i| i.state.as_str())
                .unwrap_or("–");
            format!("{id} ({state})")
        }
        None => "–".into(),
    };
    let writes = d
        .intents
        .iter()
        .map(|i| WriteView {
            kind: i.kind.as_str(),
            key: i.key.clone(),
            state: i.state.as_str(),
            outcome: i.outcome.clone(),
        })
        .collect();
    let requests = d
        .requests
        .iter()
        .map(|r| RequestView {
            id: r.request_id.clone(),
            kind: r.kind.as_str(),
            pending: r.state == store::DscoRequestState::Pending,
            at: time(r.submitted_at, tz),
        })
        .collect();
    let (kind, kind_lbl, code) = match &o.reason {
        Some(r) => (
            r.kind.as_str().to_owned(),
            kind_label(&tr, r.kind),
            r.code.as_str().to_owned(),
        ),
        None => Default::default(),
    };
    let p_ = &o.pulled;
    let reason_code = o.reason.as_ref().map(|r| r.code.as_str());
    let actions = OrderActions {
        retryable: engine::jobs::mover_of(o.stage).is_some(),
        ignored: o.ignored_at.is_some(),
        force_to: domain::Stage::ALL
            .into_iter()
            .filter(|to| domain::ops::force_guard(o.stage, *to, reason_code).is_ok())
            .map(|to| super::fmt::SelectOption {
                value: to.number().to_string(),
                label: format!("{} {}", to.number(), stage_label(to, lang)),
                selected: false,
            })
            .collect(),
        fix_href: match &o.reason {
            Some(r) => engine::ops::fix_for_cause(&*cx.store, r.code.as_str(), &r.detail)
                .await
                .ok()
                .flatten()
                .map(|(m, k)| {
                    format!(
                        "/mappings/set?{}",
                        super::fmt::query_string(&[("mapping", m), ("key", &k)])
                    )
                }),
            None => None,
        },
        force_href: format!("{}/force", po_href(po.as_str())),
        retry_href: format!("{}/retry", po_href(po.as_str())),
        ignore_href: format!("{}/ignore", po_href(po.as_str())),
    };
    let findings = super::reconcile::order_findings(&cx, &o.pulled.po).await;
    render(OrderPage {
        actions,
        findings,
        po: po.as_str().to_owned(),
        run_job: domain::JobName::for_stage(o.stage)
            .map(|j| j.as_str().to_owned())
            .unwrap_or_default(),
        run_href: domain::JobName::for_stage(o.stage)
            .map(|j| {
                format!(
                    "/run?{}",
                    super::fmt::query_string(&[("job", j.as_str()), ("po", o.pulled.po.as_str())])
                )
            })
            .unwrap_or_default(),
        stage_n: o.stage.number(),
        stage_label: stage_label(o.stage, lang),
        stuck: d.is_stuck(),
        kind,
        kind_label: kind_lbl,
        code,
        sentence: d.reason_sentence(lang).unwrap_or_default(),
        entered: time(o.stage_entered_at, tz),
        age: age(now - o.stage_entered_at, lang),
        next_attempt: o.next_attempt_at.map(|t| time(t, tz)),
        attempts: o.attempts,
        flags: o.flags.join(", "),
        dsco_status: dash(p_.dsco_status.as_deref()),
        lifecycle: dash(p_.dsco_lifecycle.as_deref()),
        retailer: dash(p_.retailer_id.as_deref()),
        warehouse: dash(p_.warehouse_code.as_deref()),
        service_level: dash(p_.service_level.as_deref()),
        ship_to: dash(Some(&ship_to)),
        created: p_.dsco_created_at.map(|t| time(t, tz)),
        lines,
        payload,
        payload_href: format!("{}/payload.json", po_href(po.as_str())),
        store_id: dash(o.store_id.as_deref()),
        lx_checked: d.lingxing_checked_at.map(|t| time(t, tz)),
        invoice,
        lx_orders,
        outbounds,
        writes,
        requests,
        timeline: timeline(&d, &tr, tz),
        l,
    })
}

/// The DSCO payload as stored, as a download.
pub(super) async fn payload(cx: Cx, Path(po): Path<String>) -> Response {
    let l = cx.layout("orders", "order.title");
    let found = match PoNumber::parse(&po) {
        Ok(po) => cx
            .store
            .payloads_of(std::slice::from_ref(&po))
            .await
            .map(|mut m| m.remove(&po)),
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(raw)) => {
            let safe: String = po
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"dsco-{safe}.json\""),
                    ),
                ],
                raw.get().to_owned(),
            )
                .into_response()
        }
        Ok(None) => error_page(
            l,
            StatusCode::NOT_FOUND,
            "common.not_found",
            format!("PO `{po}`"),
        ),
        Err(e) => store_error(l, e),
    }
}
