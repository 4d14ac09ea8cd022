//! The operator actions (issue 16): retry now, retry all matching, ignore / un-ignore, force
//! stage, fix the cause (a mapping entry), stock guard release. Every POST goes through
//! [`Act`] (CSRF token, viewers refused) and calls `engine::ops`, which checks the reason,
//! applies the domain's rules and writes the audit entry; this module only shows forms,
//! confirmation pages and results. Bulk and forced actions show a confirmation page (GET)
//! first.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::{PoNumber, Stage, Trigger};
use engine::RunResult;
use engine::ops::{self, OpsError, Who};
use serde::Deserialize;

use super::Pages;
use super::fmt::{po_href, query_string, stage_label};
use super::layout::{Cx, Layout, error_page, render, store_error};
use super::orders::OrdersQuery;
use super::session::Act;

/// One input of an action form.
pub(super) struct Input {
    pub(super) name: &'static str,
    pub(super) label: String,
    pub(super) value: String,
    /// `text`, `reason` (a required text area), `checkbox`, `readonly`.
    pub(super) kind: &'static str,
}

pub(super) struct Hidden {
    pub(super) name: &'static str,
    pub(super) value: String,
}

pub(super) struct FormView {
    pub(super) action: String,
    pub(super) hidden: Vec<Hidden>,
    pub(super) inputs: Vec<Input>,
    pub(super) submit: String,
    /// A move that cannot be taken back (force): the button is drawn as such.
    pub(super) danger: bool,
}

pub(super) struct Link {
    pub(super) href: String,
    pub(super) label: String,
}

/// The one page of the actions: a form (with what it will do), or a result.
#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    l: Layout,
    heading: String,
    /// `ok`, `bad` or empty: the callout of a result.
    tone: &'static str,
    lines: Vec<String>,
    /// POs named (the first few of a bulk action), with links.
    items: Vec<Link>,
    more: usize,
    form: Option<FormView>,
    links: Vec<Link>,
}

fn reason_input(cx: &Cx) -> Input {
    Input {
        name: "reason",
        label: cx.t.t("ops.reason").to_owned(),
        value: String::new(),
        kind: "reason",
    }
}

/// The time of an action: the engine's clock (simulated in the demo and the tests).
fn now(p: &Pages, cx: &Cx) -> DateTime<Utc> {
    p.engine.as_ref().map_or(cx.now, |e| e.clock().now())
}

/// An action's refusal: 400 naming the problem for bad input (nothing done), else 503.
fn failed(l: Layout, e: OpsError) -> Response {
    match e {
        OpsError::Store(e) => store_error(l, e),
        e => error_page(l, StatusCode::BAD_REQUEST, "ops.refused", e.to_string()),
    }
}

fn back_to(cx: &Cx, po: &PoNumber) -> Vec<Link> {
    vec![
        Link {
            href: po_href(po.as_str()),
            label: format!("{} {po}", cx.t.t("ops.back_order")),
        },
        Link {
            href: "/".into(),
            label: cx.t.t("common.back_overview").to_owned(),
        },
    ]
}

fn result(
    cx: &Cx,
    heading: &str,
    tone: &'static str,
    lines: Vec<String>,
    links: Vec<Link>,
) -> Response {
    render(ActionPage {
        l: cx.layout("orders", heading),
        heading: cx.t.t(heading).to_owned(),
        tone,
        lines,
        items: Vec::new(),
        more: 0,
        form: None,
        links,
    })
}

/// A 400 page for a PO in the path that is not one.
fn bad_po(cx: &Cx, e: domain::EmptyId) -> Response {
    error_page(
        cx.layout("orders", "common.error"),
        StatusCode::BAD_REQUEST,
        "common.error",
        e.to_string(),
    )
}

// --- 1. retry now ------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct RetryForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    run_now: Option<String>,
}

/// `POST /orders/{po}/retry`: clears the back-off; with `run_now`, runs the stage's job for this
/// PO and shows what it did.
pub(super) async fn retry(
    State(p): State<Pages>,
    Path(po): Path<String>,
    act: Act<RetryForm>,
) -> Response {
    let Act { cx, op, form } = act;
    let po = match PoNumber::parse(&po) {
        Ok(p) => p,
        Err(e) => return bad_po(&cx, e),
    };
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    let run_now = form.run_now.is_some();
    let out = match (&p.engine, run_now) {
        (Some(engine), true) => {
            ops::retry_order_now(engine, &po, &who, true, Trigger::Manual).await
        }
        (None, true) => {
            return error_page(
                cx.layout("orders", "ops.refused"),
                StatusCode::SERVICE_UNAVAILABLE,
                "ops.refused",
                cx.t.t("ops.no_engine").to_owned(),
            );
        }
        (_, false) => ops::retry_order(&*cx.store, &po, &who)
            .await
            .map(|job| ops::Retried {
                job: Some(job),
                run: None,
            }),
    };
    let r = match out {
        Ok(r) => r,
        Err(e) => return failed(cx.layout("orders", "ops.refused"), e),
    };
    let job = r.job.map(|j| j.to_string()).unwrap_or_default();
    let mut lines = vec![format!("{po}: {} {job}", cx.t.t("ops.retried_next"))];
    let mut tone = "ok";
    match r.run {
        Some(RunResult::Ran {
            run_id,
            outcome,
            counts,
            error,
            ..
        }) => {
            lines.push(format!(
                "{job} {} {run_id}: {outcome} · {} {} · {} {} · {} {}",
                cx.t.t("ops.run"),
                cx.t.t("ops.advanced"),
                counts.advanced,
                cx.t.t("ops.skipped"),
                counts.skipped(),
                cx.t.t("ops.failed"),
                counts.failed
            ));
            if let Some(e) = error {
                tone = "bad";
                lines.push(e);
            }
        }
        Some(RunResult::Rejected { blocking_run_id }) => lines.push(format!(
            "{} ({})",
            cx.t.t("ops.run_rejected"),
            blocking_run_id.unwrap_or_default()
        )),
        None => {}
    }
    if let Ok(Some(o)) = cx.store.get_order(&po).await {
        lines.push(format!(
            "{}: {} {}{}",
            cx.t.t("ops.now_at"),
            o.stage.number(),
            stage_label(o.stage, cx.lang()),
            o.reason
                .map(|r| format!(" · {} {}", r.code, r.detail))
                .unwrap_or_default()
        ));
    }
    let links = back_to(&cx, &po);
    result(&cx, "ops.retry_title", tone, lines, links)
}

// --- 2. retry all matching ---------------------------------------------------------------

/// `GET /orders/retry?<the order list's filter>`: how many orders a retry would touch (and the
/// first POs), with the form that does it.
pub(super) async fn retry_all_confirm(cx: Cx, Query(f): Query<OrdersQuery>) -> Response {
    let l = cx.layout("orders", "ops.retry_all_title");
    let filter = match f.filter(cx.tz) {
        Ok(x) => x,
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let m = match ops::matching(&*cx.store, &filter).await {
        Ok(m) => m,
        Err(e) => return failed(l, e),
    };
    let described = ops::describe_filter(&filter);
    let mut lines = vec![format!("{}: {described}", cx.t.t("ops.filter"))];
    let form = if m.over_limit {
        lines.push(format!(
            "{} {} — {}",
            cx.t.t("ops.over_limit"),
            ops::BULK_MAX,
            cx.t.t("ops.narrow")
        ));
        None
    } else if m.count() == 0 {
        lines.push(cx.t.t("ops.none_match").to_owned());
        None
    } else {
        lines.push(format!("{} {}", m.count(), cx.t.t("ops.will_retry")));
        cx.session.operator.can_act().then(|| FormView {
            action: "/orders/retry".into(),
            hidden: vec![Hidden {
                name: "filter",
                value: f.href("", &[]).trim_start_matches('?').to_owned(),
            }],
            inputs: vec![reason_input(&cx)],
            submit: format!("{} ({})", cx.t.t("ops.retry_all"), m.count()),
            danger: false,
        })
    };
    let items = m
        .first()
        .iter()
        .map(|po| Link {
            href: po_href(po.as_str()),
            label: po.to_string(),
        })
        .collect();
    render(ActionPage {
        heading: cx.t.t("ops.retry_all_title").to_owned(),
        tone: "",
        lines,
        items,
        more: m.count().saturating_sub(m.first().len()),
        form,
        links: vec![Link {
            href: f.href("/orders", &[]),
            label: cx.t.t("ops.back_list").to_owned(),
        }],
        l,
    })
}

#[derive(Deserialize)]
pub(super) struct RetryAllForm {
    #[serde(default)]
    reason: String,
    /// The order list's query string.
    #[serde(default)]
    filter: String,
}

/// `POST /orders/retry`: retries every matching order (bounded, batched), one audit entry.
pub(super) async fn retry_all(State(p): State<Pages>, act: Act<RetryAllForm>) -> Response {
    let Act { cx, op, form } = act;
    let l = cx.layout("orders", "ops.refused");
    let q: OrdersQuery = match serde_urlencoded::from_str(&form.filter) {
        Ok(q) => q,
        Err(e) => {
            return error_page(
                l,
                StatusCode::BAD_REQUEST,
                "common.error",
                format!("filter: {e}"),
            );
        }
    };
    let filter = match q.filter(cx.tz) {
        Ok(x) => x,
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    match ops::retry_matching(&*cx.store, &filter, &who).await {
        Ok(n) => {
            let links = vec![Link {
                href: q.href("/orders", &[]),
                label: cx.t.t("ops.back_list").to_owned(),
            }];
            result(
                &cx,
                "ops.retry_all_title",
                "ok",
                vec![
                    format!("{n} {}", cx.t.t("ops.retried_n")),
                    format!(
                        "{}: {}",
                        cx.t.t("ops.filter"),
                        ops::describe_filter(&filter)
                    ),
                ],
                links,
            )
        }
        Err(e) => failed(l, e),
    }
}

// --- 3. ignore / un-ignore ---------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct IgnoreForm {
    #[serde(default)]
    reason: String,
    /// `true`: ignore; `false`: un-ignore.
    ignored: bool,
}

/// `POST /orders/{po}/ignore`.
pub(super) async fn ignore(
    State(p): State<Pages>,
    Path(po): Path<String>,
    act: Act<IgnoreForm>,
) -> Response {
    let Act { cx, op, form } = act;
    let po = match PoNumber::parse(&po) {
        Ok(p) => p,
        Err(e) => return bad_po(&cx, e),
    };
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    match ops::set_ignored(&*cx.store, &po, form.ignored, &who).await {
        Ok(changed) => {
            let key = match (form.ignored, changed) {
                (true, true) => "ops.ignored_done",
                (false, true) => "ops.unignored_done",
                (true, false) => "ops.ignored_already",
                (false, false) => "ops.unignored_already",
            };
            let links = back_to(&cx, &po);
            result(
                &cx,
                if form.ignored {
                    "ops.ignore_title"
                } else {
                    "ops.unignore_title"
                },
                "ok",
                vec![format!("{po}: {}", cx.t.t(key))],
                links,
            )
        }
        Err(e) => failed(cx.layout("orders", "ops.refused"), e),
    }
}

// --- 4. force stage ----------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct ForceQuery {
    #[serde(default)]
    to: String,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    s.trim()
        .parse::<i64>()
        .ok()
        .and_then(Stage::from_number)
        .ok_or_else(|| format!("to: `{s}` is not a stage (1–6)"))
}

/// `GET /orders/{po}/force?to=N`: what the jobs will and will not do afterwards, and the form.
pub(super) async fn force_confirm(
    cx: Cx,
    Path(po): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Response {
    let l = cx.layout("orders", "ops.force_title");
    let po = match PoNumber::parse(&po) {
        Ok(p) => p,
        Err(e) => return bad_po(&cx, e),
    };
    let to = match parse_stage(&q.to) {
        Ok(s) => s,
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let plan = match ops::force_plan(&*cx.store, &po, to).await {
        Ok(p) => p,
        Err(e) => return failed(l, e),
    };
    let lang = cx.lang();
    let mut lines = vec![format!(
        "{po}: {} {} → {} {}",
        plan.from.number(),
        stage_label(plan.from, lang),
        plan.to.number(),
        stage_label(plan.to, lang)
    )];
    lines.extend(plan.consequences(lang).iter().cloned());
    let form = cx.session.operator.can_act().then(|| FormView {
        action: format!("{}/force", po_href(po.as_str())),
        hidden: vec![Hidden {
            name: "to",
            value: to.number().to_string(),
        }],
        inputs: vec![reason_input(&cx)],
        submit: format!(
            "{} {} {}",
            cx.t.t("ops.force_to"),
            to.number(),
            stage_label(to, lang)
        ),
        danger: true,
    });
    render(ActionPage {
        heading: cx.t.t("ops.force_title").to_owned(),
        tone: "",
        lines,
        items: Vec::new(),
        more: 0,
        form,
        links: back_to(&cx, &po),
        l,
    })
}

#[derive(Deserialize)]
pub(super) struct ForceForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    to: String,
}

/// `POST /orders/{po}/force`.
pub(super) async fn force(
    State(p): State<Pages>,
    Path(po): Path<String>,
    act: Act<ForceForm>,
) -> Response {
    let Act { cx, op, form } = act;
    let l = cx.layout("orders", "ops.refused");
    let po = match PoNumber::parse(&po) {
        Ok(p) => p,
        Err(e) => return bad_po(&cx, e),
    };
    let to = match parse_stage(&form.to) {
        Ok(s) => s,
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    match ops::force(&*cx.store, &po, to, &who).await {
        Ok(from) => {
            let lang = cx.lang();
            let links = back_to(&cx, &po);
            result(
                &cx,
                "ops.force_title",
                "ok",
                vec![format!(
                    "{po}: {} {} → {} {}",
                    from.number(),
                    stage_label(from, lang),
                    to.number(),
                    stage_label(to, lang)
                )],
                links,
            )
        }
        Err(e) => failed(l, e),
    }
}

// --- 6. fix the cause: a mapping entry ---------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MappingQuery {
    mapping: String,
    key: String,
}

/// `GET /mappings/set?mapping=shop&key=…`: the form of one mapping entry, the key prefilled
/// (from a cause row), asking the LingXing value; says how many orders wait on it.
pub(super) async fn mapping_form(cx: Cx, Query(q): Query<MappingQuery>) -> Response {
    let l = cx.layout("mappings", "ops.fix_title");
    if !domain::ops::MAPPINGS.contains(&q.mapping.as_str()) {
        return error_page(
            l,
            StatusCode::BAD_REQUEST,
            "common.error",
            format!(
                "mapping: `{}` is not one of {}",
                q.mapping,
                domain::ops::MAPPINGS.join(", ")
            ),
        );
    }
    let waiting = match ops::waiting_on(&q.mapping, q.key.trim()) {
        Some(f) if !q.key.trim().is_empty() => match ops::matching(&*cx.store, &f).await {
            Ok(m) => Some(m),
            Err(e) => return failed(l, e),
        },
        _ => None,
    };
    let mut lines = vec![format!(
        "runtime_config.mapping.{} — {}",
        q.mapping,
        cx.t.t(&format!("mappings.{}", q.mapping))
    )];
    if let Some(m) = &waiting {
        lines.push(format!("{} {}", m.count(), cx.t.t("ops.waiting_on_it")));
    }
    let form = cx.session.operator.can_act().then(|| FormView {
        action: "/mappings/set".into(),
        hidden: vec![Hidden {
            name: "mapping",
            value: q.mapping.clone(),
        }],
        inputs: vec![
            Input {
                name: "key",
                label: cx.t.t("ops.key").to_owned(),
                value: q.key.clone(),
                kind: "text",
            },
            Input {
                name: "value",
                label: cx.t.t("ops.lingxing_value").to_owned(),
                value: String::new(),
                kind: "text",
            },
            reason_input(&cx),
        ],
        submit: cx.t.t("ops.fix_submit").to_owned(),
        danger: false,
    });
    let items = waiting
        .as_ref()
        .map(|m| {
            m.first()
                .iter()
                .map(|po| Link {
                    href: po_href(po.as_str()),
                    label: po.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    render(ActionPage {
        heading: cx.t.t("ops.fix_title").to_owned(),
        tone: "",
        lines,
        items,
        more: waiting
            .as_ref()
            .map_or(0, |m| m.count().saturating_sub(m.first().len())),
        form,
        links: vec![Link {
            href: "/mappings".into(),
            label: cx.t.t("mappings.title").to_owned(),
        }],
        l,
    })
}

#[derive(Deserialize)]
pub(super) struct MappingForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    mapping: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

/// `POST /mappings/set`: validates and saves the entry (a new version), then retries the orders
/// that waited on it; says how many.
pub(super) async fn mapping_set(State(p): State<Pages>, act: Act<MappingForm>) -> Response {
    let Act { cx, op, form } = act;
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    match ops::set_mapping(&*cx.store, &form.mapping, &form.key, &form.value, &who).await {
        Ok(set) => {
            let saved = match set.version {
                Some(v) => format!(
                    "{} = {} · {} v{v}",
                    set.path,
                    form.value.trim(),
                    cx.t.t("ops.saved_version")
                ),
                None => format!(
                    "{} = {} · {}",
                    set.path,
                    form.value.trim(),
                    cx.t.t("ops.unchanged")
                ),
            };
            let mut links = Vec::new();
            if let Some(f) = ops::waiting_on(&form.mapping, form.key.trim()) {
                let mut pairs: Vec<(&str, &str)> = vec![("kind", "needs_attention")];
                if let Some(c) = &f.reason_code {
                    pairs.push(("code", c));
                }
                if let Some(s) = &f.subject {
                    pairs.push(("subject", s));
                }
                if let Some(s) = &f.sku {
                    pairs.push(("sku", s));
                }
                links.push(Link {
                    href: format!("/orders?{}", query_string(&pairs)),
                    label: cx.t.t("ops.see_orders").to_owned(),
                });
            }
            links.push(Link {
                href: "/".into(),
                label: cx.t.t("common.back_overview").to_owned(),
            });
            render(ActionPage {
                l: cx.layout("mappings", "ops.fix_title"),
                heading: cx.t.t("ops.fix_title").to_owned(),
                tone: "ok",
                lines: vec![
                    saved,
                    format!("{} {}", set.retried, cx.t.t("ops.retried_n")),
                ],
                items: Vec::new(),
                more: 0,
                form: None,
                links,
            })
        }
        Err(e) => failed(cx.layout("mappings", "ops.refused"), e),
    }
}

// --- 9. stock guard release --------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct ReleaseForm {
    #[serde(default)]
    reason: String,
}

/// `POST /stock/release`: releases every held sync_stock run (as `stock release`).
pub(super) async fn stock_release(State(p): State<Pages>, act: Act<ReleaseForm>) -> Response {
    let Act { cx, op, form } = act;
    let who = Who {
        actor: &op.name,
        reason: &form.reason,
        now: now(&p, &cx),
    };
    match ops::release_stock(&*cx.store, &who).await {
        Ok(ids) => {
            let line = if ids.is_empty() {
                cx.t.t("ops.nothing_held").to_owned()
            } else {
                format!(
                    "{} {}: {}",
                    ids.len(),
                    cx.t.t("ops.released"),
                    ids.join(", ")
                )
            };
            render(ActionPage {
                l: cx.layout("stock", "ops.release_title"),
                heading: cx.t.t("ops.release_title").to_owned(),
                tone: "ok",
                lines: vec![line],
                items: Vec::new(),
                more: 0,
                form: None,
                links: vec![Link {
                    href: "/stock".into(),
                    label: cx.t.t("stock.title").to_owned(),
                }],
            })
        }
        Err(e) => failed(cx.layout("stock", "ops.refused"), e),
    }
}
