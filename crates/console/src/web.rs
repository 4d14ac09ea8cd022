//! The operator pages: server-rendered HTML (askama, escaped), no script, one stylesheet served
//! from the binary. Every page reads through [`crate::model`] or the store's `ConsoleRead`; no
//! business rule here.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use domain::order::DscoOrderView;
use domain::{JobName, PoNumber, ReasonCode, ReasonKind, RunCounts, Stage};
use serde::Deserialize;
use serde_json::Value;
use store::{EventOutcome, IntentKind, OrderCursor, OrderFilter, OrderRow, RunRecord, Store};

use crate::i18n::{Lang, Tr, lang_code, parse_lang};
use crate::model::{OrderDetail, Overview, reason_sentence};

/// The console's display settings (`console.language`, `console.timezone`).
#[derive(Debug, Clone, Copy)]
pub struct ConsoleConfig {
    /// The language when the browser has not chosen one (the `lang` cookie).
    pub language: Lang,
    pub timezone: Tz,
}

/// The pages refuse a non-loopback address until operators log in (the next issue): anyone who
/// reaches the port would read every order.
pub fn check_listen(listen: SocketAddr) -> Result<(), String> {
    if listen.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "console.listen ({listen}) is not a loopback address: the console pages have no login yet, so they are served on loopback only (use 127.0.0.1:PORT and a tunnel or reverse proxy)"
        ))
    }
}

const PAGE_SIZE: u32 = 100;
const CSV_PAGE: u32 = 500;
const LANG_COOKIE: &str = "lang";
const CSS: &str = include_str!("../assets/console.css");
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct Pages {
    store: Arc<dyn Store>,
    cfg: ConsoleConfig,
}

/// The pages: `/`, `/orders`, `/orders.csv`, `/orders/{po}`, `/orders/{po}/payload.json`,
/// `/runs`, `/runs/{id}`, `/stock`, `/stock.csv`, `/mappings`, `/config`, `/audit`, `/lang`, `/assets/console.css`; every answer with the security headers.
pub fn pages_router(store: Arc<dyn Store>, cfg: ConsoleConfig) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/orders", get(orders))
        .route("/orders.csv", get(orders_csv))
        .route("/orders/{po}", get(order))
        .route("/orders/{po}/payload.json", get(payload))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/mappings", get(mappings))
        .route("/audit", get(audit))
        .route("/config", get(config_page))
        .route("/stock", get(stock))
        .route("/stock.csv", get(stock_csv))
        .route("/lang", get(switch_lang))
        .route("/assets/console.css", get(css))
        .with_state(Pages { store, cfg })
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// A time in the display zone, with UTC for the hover.
#[derive(Debug, Clone)]
struct TimeCell {
    local: String,
    utc: String,
}

fn time(t: DateTime<Utc>, tz: Tz) -> TimeCell {
    TimeCell {
        local: t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        utc: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

/// A duration as operators read it: `2d 3h`, `3h 12m`, `5m 2s`, `40s`.
fn age(d: TimeDelta, lang: Lang) -> String {
    let s = d.num_seconds().max(0);
    let (dd, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let u = match lang {
        Lang::Zh => ["天", "小时", "分", "秒"],
        Lang::En => ["d", "h", "m", "s"],
    };
    let sp = if lang == Lang::En { " " } else { "" };
    if dd > 0 {
        format!("{dd}{}{sp}{h}{}", u[0], u[1])
    } else if h > 0 {
        format!("{h}{}{sp}{m}{}", u[1], u[2])
    } else if m > 0 {
        format!("{m}{}{sp}{sec}{}", u[2], u[3])
    } else {
        format!("{sec}{}", u[3])
    }
}

fn stage_label(s: Stage, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.label_en(),
    }
}

fn kind_label(tr: &Tr, k: ReasonKind) -> String {
    tr.t(&format!("kind.{}", k.as_str())).to_owned()
}

fn job_describe(j: JobName, lang: Lang) -> &'static str {
    let (en, zh) = j.describe();
    if lang == Lang::Zh { zh } else { en }
}

/// `application/x-www-form-urlencoded` of `pairs`, empty values left out.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

fn po_href(po: &str) -> String {
    format!(
        "/orders/{}",
        url::form_urlencoded::byte_serialize(po.as_bytes()).collect::<String>()
    )
}

/// What every page's frame needs: the labels, the active tab, the language switch.
struct Layout {
    t: Tr,
    nav: &'static str,
    title: String,
    tz: String,
    switch_href: String,
}

impl Pages {
    fn lang(&self, headers: &HeaderMap) -> Lang {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| parse_lang(v))
            .unwrap_or(self.cfg.language)
    }

    fn layout(&self, headers: &HeaderMap, uri: &Uri, nav: &'static str, title: &str) -> Layout {
        let t = Tr::new(self.lang(headers));
        let other = match t.lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
        let back = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_owned();
        Layout {
            t,
            nav,
            title: t.t(title).to_owned(),
            tz: self.cfg.timezone.name().to_owned(),
            switch_href: format!(
                "/lang?{}",
                query_string(&[("to", lang_code(other)), ("back", &back)])
            ),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    message: String,
}

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}"),
        )
            .into_response(),
    }
}

fn error_page(mut l: Layout, status: StatusCode, title_key: &str, message: String) -> Response {
    l.title = l.t.t(title_key).to_owned();
    let mut res = render(ErrorPage { l, message });
    *res.status_mut() = status;
    res
}

fn store_error(l: Layout, e: store::StoreError) -> Response {
    tracing::warn!(error = %e, "console page: store read failed");
    error_page(
        l,
        StatusCode::SERVICE_UNAVAILABLE,
        "common.error",
        e.to_string(),
    )
}

#[derive(Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// Remembers the language in a cookie and goes back to the page the switch was on (a path of
/// this site only).
async fn switch_lang(State(p): State<Pages>, Query(q): Query<LangQuery>) -> Response {
    let lang =
        q.to.as_deref()
            .and_then(parse_lang)
            .unwrap_or(p.cfg.language);
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang_code(lang)
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Overview

struct Counter {
    class: String,
    count: i64,
    label: String,
    href: String,
}

struct StageCell {
    n: i64,
    label: &'static str,
    count: i64,
    oldest: Option<TimeCell>,
    age: String,
    href: String,
}

struct CauseView {
    code: String,
    subject: String,
    sentence: String,
    count: i64,
    href: String,
    oldest: TimeCell,
    age: String,
}

struct LastRun {
    started: TimeCell,
    outcome: String,
    counts: String,
    href: String,
}

struct JobView {
    name: String,
    describe: &'static str,
    schedule: String,
    last: Option<LastRun>,
    next: Option<TimeCell>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    l: Layout,
    writes_enabled: bool,
    config_version: Option<i64>,
    in_sync: bool,
    counters: Vec<Counter>,
    stages: Vec<StageCell>,
    causes: Vec<CauseView>,
    jobs: Vec<JobView>,
}

fn counts_line(c: &RunCounts) -> String {
    format!(
        "{} / {} / {} / {}",
        c.processed,
        c.advanced,
        c.skipped(),
        c.failed
    )
}

async fn overview(State(p): State<Pages>, headers: HeaderMap, uri: Uri) -> Response {
    let l = p.layout(&headers, &uri, "overview", "overview.title");
    let now = p.now();
    let o = match Overview::load(&*p.store, now).await {
        Ok(o) => o,
        Err(e) => return store_error(l, e),
    };
    let (tr, lang, tz) = (l.t, l.t.lang, p.cfg.timezone);
    let mut counters: Vec<Counter> = [
        ReasonKind::NeedsAttention,
        ReasonKind::Held,
        ReasonKind::Retrying,
    ]
    .into_iter()
    .map(|k| Counter {
        class: format!("k-{}", k.as_str()),
        count: o.kind_count(k),
        label: kind_label(&tr, k),
        href: format!("/orders?kind={}", k.as_str()),
    })
    .collect();
    // Stuck orders: the oldest of the stage with the most of them.
    let stuck_stage = o
        .stuck
        .iter()
        .filter(|s| s.count > 0)
        .max_by_key(|s| s.count);
    counters.push(Counter {
        class: "k-stuck".into(),
        count: o.stuck_total(),
        label: format!("{} ({})", tr.t("kind.stuck"), tr.t("overview.stuck_hint")),
        href: match stuck_stage {
            Some(s) => format!("/orders?stage={}", s.stage.number()),
            None => "/orders".into(),
        },
    });
    for c in &mut counters {
        if c.count == 0 {
            c.class.push_str(" zero");
        }
    }
    let stages = o
        .stages
        .iter()
        .map(|s| StageCell {
            n: s.stage.number(),
            label: stage_label(s.stage, lang),
            count: s.count,
            oldest: s.oldest_entered_at.map(|t| time(t, tz)),
            age: s
                .oldest_entered_at
                .map(|t| age(now - t, lang))
                .unwrap_or_default(),
            href: format!("/orders?stage={}", s.stage.number()),
        })
        .collect();
    let causes = o
        .causes
        .iter()
        .map(|c| CauseView {
            sentence: reason_sentence(&c.code, &c.subject, lang),
            href: format!(
                "/orders?{}",
                query_string(&[
                    ("kind", ReasonKind::NeedsAttention.as_str()),
                    ("code", &c.code),
                    ("subject", &c.subject),
                ])
            ),
            code: c.code.clone(),
            subject: c.subject.clone(),
            count: c.count,
            oldest: time(c.oldest_entered_at, tz),
            age: age(now - c.oldest_entered_at, lang),
        })
        .collect();
    let jobs = o
        .jobs
        .iter()
        .map(|j| JobView {
            name: j.job.as_str().to_owned(),
            describe: job_describe(j.job, lang),
            schedule: match (&j.cron, j.enabled) {
                (None, _) => tr.t("job.not_configured").to_owned(),
                (Some(c), true) => c.clone(),
                (Some(c), false) => format!("{c} ({})", tr.t("job.disabled")),
            },
            last: j.last.as_ref().map(|r| LastRun {
                started: time(r.started_at, tz),
                outcome: r.outcome.to_string(),
                counts: counts_line(&r.counts),
                href: format!("/runs/{}", r.id),
            }),
            next: j.next_fire.map(|t| time(t, tz)),
        })
        .collect();
    render(OverviewPage {
        writes_enabled: o.writes_enabled,
        config_version: o.config_version,
        in_sync: o.in_sync(),
        counters,
        stages,
        causes,
        jobs,
        l,
    })
}

// ---------------------------------------------------------------------------------------------
// Orders

/// The order list's query string; empty values mean "any".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct OrdersQuery {
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
    after_t: String,
    after_po: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The start of day `v` (`YYYY-MM-DD`, empty: `None`) in `tz`, or of the day after with `next`
/// (an inclusive "to" date); a bad date names `field`.
fn day_start(field: &str, v: &str, tz: Tz, next: bool) -> Result<Option<DateTime<Utc>>, String> {
    let Some(v) = some(v) else { return Ok(None) };
    let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map_err(|_| format!("{field}: `{v}` is not a date (YYYY-MM-DD)"))?;
    let d = if next { d.succ_opt().unwrap_or(d) } else { d };
    let start = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    Ok(tz
        .from_local_datetime(&start)
        .earliest()
        .map(|t| t.with_timezone(&Utc)))
}

impl OrdersQuery {
    /// The filter; a bad value names its field.
    fn filter(&self, tz: Tz) -> Result<OrderFilter, String> {
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
    fn href(&self, path: &str, extra: &[(&str, &str)]) -> String {
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

struct SelectOption {
    value: String,
    label: String,
    selected: bool,
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
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    l: Layout,
    f: OrdersQuery,
    stage_options: Vec<SelectOption>,
    kind_options: Vec<SelectOption>,
    code_options: Vec<SelectOption>,
    newest_first: bool,
    error: String,
    rows: Vec<OrderRowView>,
    paged: bool,
    first_href: String,
    next_href: Option<String>,
    csv_href: String,
}

async fn orders(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<OrdersQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "orders", "orders.title");
    let (tr, lang, tz, now) = (l.t, l.t.lang, p.cfg.timezone, p.now());
    // An exact PO opens its page.
    if let Some(q) = some(&f.q)
        && let Ok(po) = PoNumber::parse(&q)
    {
        match p.store.get_order(&po).await {
            Ok(Some(_)) => return Redirect::to(&po_href(po.as_str())).into_response(),
            Ok(None) => {}
            Err(e) => return store_error(l, e),
        }
    }
    let (rows, error) = match f.filter(tz) {
        Ok(filter) => match p
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
                    x.code.clone(),
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
    render(OrdersPage {
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

/// One CSV field: quoted when needed, and a leading `= + - @` defused so a spreadsheet does
/// not run it as a formula.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv_line(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    s.push_str("\r\n");
    s
}

/// The CSV export of the current filter: UTF-8 with a BOM (Excel reads the Chinese right), times
/// in the display zone named in the header, read and sent a page at a time.
async fn orders_csv(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<OrdersQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "orders", "orders.title");
    let lang = l.t.lang;
    let tz = p.cfg.timezone;
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
                x.code.clone(),
                x.detail.clone(),
                reason_sentence(&x.code, &x.detail, lang),
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
    struct Cursor {
        after: Option<OrderCursor>,
        first: bool,
        done: bool,
    }
    let store = p.store.clone();
    let newest = f.newest_first();
    let start = Cursor {
        after: None,
        first: true,
        done: false,
    };
    let stream = futures::stream::unfold(start, move |mut c| {
        let store = store.clone();
        let filter = filter.clone();
        let header_line = header_line.clone();
        async move {
            if c.done {
                return None;
            }
            let mut chunk = String::new();
            if c.first {
                chunk.push('\u{feff}');
                chunk.push_str(&header_line);
                c.first = false;
            }
            match store
                .order_page(&filter, newest, c.after.as_ref(), CSV_PAGE)
                .await
            {
                Ok(rows) => {
                    c.done = rows.len() < CSV_PAGE as usize;
                    c.after = rows.last().map(OrderRow::cursor);
                    for r in &rows {
                        chunk.push_str(&row_line(r));
                    }
                    Some((Ok::<_, std::io::Error>(chunk), c))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "console CSV export: store read failed");
                    c.done = true;
                    Some((Err(std::io::Error::other(e.to_string())), c))
                }
            }
        }
    });
    let name = format!("orders-{}.csv", Utc::now().format("%Y%m%d-%H%M%S"));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Order

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
}

fn dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("–").to_owned()
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

fn event_title(tr: &Tr, e: &store::NewEvent, lang: Lang) -> String {
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

fn event_detail(e: &store::NewEvent, lang: Lang) -> String {
    match &e.reason_code {
        Some(c) if ReasonCode::parse(c).is_some() => reason_sentence(c, &e.detail, lang),
        _ => e.detail.clone(),
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

async fn order(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Path(po): Path<String>,
) -> Response {
    let l = p.layout(&headers, &uri, "orders", "order.title");
    let (tr, lang, tz, now) = (l.t, l.t.lang, p.cfg.timezone, p.now());
    let Ok(po) = PoNumber::parse(&po) else {
        return error_page(
            l,
            StatusCode::NOT_FOUND,
            "common.not_found",
            format!("PO `{po}`"),
        );
    };
    let d = match OrderDetail::load(&*p.store, &po, now).await {
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
    let arr = |k: &str| {
        d.lingxing
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut lx_orders: Vec<LxOrderView> = arr("orders")
        .iter()
        .map(|v| LxOrderView {
            no: str_of(v, "no"),
            status: coded(
                v.get("status").and_then(Value::as_i64).unwrap_or(0),
                LX_ORDER_STATUS,
                lang,
            ),
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
    let outbounds = arr("outbounds")
        .iter()
        .map(|v| {
            let tracking = str_of(v, "tracking");
            OutboundView {
                wo: str_of(v, "wo"),
                status: coded(
                    v.get("status").and_then(Value::as_i64).unwrap_or(0),
                    WO_STATUS,
                    lang,
                ),
                sent: if tracking.is_empty() {
                    "–".into()
                } else {
                    shipment_state(&tracking)
                },
                tracking,
                carrier: str_of(v, "carrier"),
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
            r.code.clone(),
        ),
        None => Default::default(),
    };
    let p_ = &o.pulled;
    render(OrderPage {
        po: po.as_str().to_owned(),
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
async fn payload(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Path(po): Path<String>,
) -> Response {
    let l = p.layout(&headers, &uri, "orders", "order.title");
    let found = match PoNumber::parse(&po) {
        Ok(po) => p
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

// ---------------------------------------------------------------------------------------------
// Runs

struct RunView {
    href: String,
    job: &'static str,
    trigger: &'static str,
    outcome: String,
    started: TimeCell,
    duration: String,
    c: RunCounts,
}

fn run_view(r: &RunRecord, tz: Tz, lang: Lang) -> RunView {
    RunView {
        href: format!("/runs/{}", r.id),
        job: r.job.as_str(),
        trigger: r.trigger.as_str(),
        outcome: r.outcome.to_string(),
        started: time(r.started_at, tz),
        duration: r
            .ended_at
            .map(|e| {
                let ms = (e - r.started_at).num_milliseconds();
                if ms < 10_000 {
                    format!("{:.1} s", ms as f64 / 1000.0)
                } else {
                    age(e - r.started_at, lang)
                }
            })
            .unwrap_or_else(|| "…".into()),
        c: r.counts.clone(),
    }
}

struct RejectedView {
    job: &'static str,
    run: String,
    href: String,
    trigger: &'static str,
    at: TimeCell,
    count: i64,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    l: Layout,
    job_options: Vec<SelectOption>,
    runs: Vec<RunView>,
    rejected: Vec<RejectedView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RunsQuery {
    job: String,
}

async fn runs(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<RunsQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "runs", "runs.title");
    let (lang, tz) = (l.t.lang, p.cfg.timezone);
    let job = q.job.parse::<JobName>().ok();
    let (list, rejected) =
        match tokio::try_join!(p.store.list_runs(job, 200), p.store.rejected_fires(job)) {
            Ok(x) => x,
            Err(e) => return store_error(l, e),
        };
    render(RunsPage {
        job_options: JobName::ALL
            .into_iter()
            .map(|j| SelectOption {
                value: j.as_str().to_owned(),
                label: j.as_str().to_owned(),
                selected: Some(j) == job,
            })
            .collect(),
        runs: list.iter().map(|r| run_view(r, tz, lang)).collect(),
        rejected: rejected
            .iter()
            .rev()
            .take(50)
            .map(|x| RejectedView {
                job: x.job.as_str(),
                run: x.blocking_run_id.clone(),
                href: format!("/runs/{}", x.blocking_run_id),
                trigger: x.trigger.as_str(),
                at: time(x.last_at, tz),
                count: x.count,
            })
            .collect(),
        l,
    })
}

struct RunEventView {
    at: TimeCell,
    po: String,
    href: String,
    title: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    l: Layout,
    id: String,
    r: RunView,
    skipped: u64,
    dry_run: bool,
    only_po: String,
    holder: String,
    config_version: String,
    error: String,
    detail: String,
    events: Vec<RunEventView>,
}

async fn run(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let l = p.layout(&headers, &uri, "runs", "run.title");
    let (tr, lang, tz) = (l.t, l.t.lang, p.cfg.timezone);
    let found = tokio::try_join!(
        p.store.get_run(&id),
        p.store.run_detail(&id),
        p.store.run_events(&id, 1000)
    );
    let (r, detail, events) = match found {
        Ok((Some(r), d, e)) => (r, d, e),
        Ok((None, ..)) => {
            return error_page(
                l,
                StatusCode::NOT_FOUND,
                "common.not_found",
                format!("run `{id}`"),
            );
        }
        Err(e) => return store_error(l, e),
    };
    render(RunPage {
        id: r.id.clone(),
        skipped: r.counts.skipped(),
        dry_run: r.dry_run,
        only_po: dash(r.only_po.as_deref()),
        holder: r.holder.clone(),
        config_version: r
            .config_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "–".into()),
        error: r.error.clone().unwrap_or_default(),
        detail: detail
            .and_then(|d| serde_json::to_string_pretty(&d).ok())
            .unwrap_or_default(),
        events: events
            .iter()
            .map(|e| RunEventView {
                at: time(e.event.at, tz),
                po: e.event.po.as_str().to_owned(),
                href: po_href(e.event.po.as_str()),
                title: event_title(&tr, &e.event, lang),
                detail: event_detail(&e.event, lang),
            })
            .collect(),
        r: run_view(&r, tz, lang),
        l,
    })
}

// ---------------------------------------------------------------------------------------------
// Mappings and audit

struct AuditView {
    at: TimeCell,
    actor: String,
    action: String,
    target: String,
    reason: String,
    detail: String,
}

fn audit_view(a: &store::AuditRecord, tz: Tz) -> AuditView {
    let e = &a.entry;
    AuditView {
        at: time(e.at, tz),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        reason: e.reason.clone(),
        detail: match &e.detail {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        },
    }
}

struct Kv {
    k: String,
    v: String,
}

struct MapView {
    name: &'static str,
    about: String,
    from: String,
    to: String,
    rows: Vec<Kv>,
}

struct SkuRow {
    dsco: String,
    lingxing: String,
    source: &'static str,
}

struct ConflictView {
    kind: &'static str,
    store: String,
    msku: String,
    sku: String,
    detail: String,
}

struct ConfigMeta {
    version: i64,
    actor: String,
    at: TimeCell,
}

#[derive(Template)]
#[template(path = "mappings.html")]
struct MappingsPage {
    l: Layout,
    config: Option<ConfigMeta>,
    maps: Vec<MapView>,
    sku_version: i64,
    sku_total: usize,
    sku_query: String,
    sku_rows: Vec<SkuRow>,
    sku_more: usize,
    conflicts: Vec<ConflictView>,
    audit: Vec<AuditView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MappingsQuery {
    sku: String,
}

const SKU_ROWS: usize = 300;

/// A mapping's entries as text, in key order.
fn text_rows<K: AsRef<str>, V: AsRef<str>>(
    m: &std::collections::BTreeMap<K, V>,
) -> Vec<(String, String)> {
    m.iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect()
}

/// The runtime config's maps, `mapping.sku` with its sources, the last pair pull's conflicts and
/// who changed any of them.
async fn mappings(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<MappingsQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "mappings", "mappings.title");
    let (tr, tz) = (l.t, p.cfg.timezone);
    let read = async {
        let last_pairs = p.store.list_runs(Some(JobName::PullSkuPair), 1).await?;
        let conflicts = match last_pairs.first() {
            Some(r) => p.store.sku_conflicts(&r.id).await?,
            None => Vec::new(),
        };
        Ok::<_, store::StoreError>((
            p.store.runtime_config().await?,
            p.store.sku_map().await?,
            conflicts,
            p.store.audit_log(500).await?,
        ))
    };
    let (config, sku, conflicts, audit) = match read.await {
        Ok(x) => x,
        Err(e) => return store_error(l, e),
    };
    let m = config
        .as_ref()
        .map(|c| c.config.mapping.clone())
        .unwrap_or_default();
    let map = |name: &'static str, rows: &[(String, String)]| MapView {
        name,
        about: tr.t(&format!("mappings.{name}")).to_owned(),
        from: tr.t("mappings.from").to_owned(),
        to: tr.t("mappings.to").to_owned(),
        rows: rows
            .iter()
            .map(|(k, v)| Kv {
                k: k.clone(),
                v: v.clone(),
            })
            .collect(),
    };
    let wanted = some(&q.sku);
    let matching: Vec<&store::SkuEntry> = sku
        .entries
        .iter()
        .filter(|e| {
            wanted
                .as_deref()
                .is_none_or(|w| e.dsco_sku.contains(w) || e.lingxing_sku.contains(w))
        })
        .collect();
    render(MappingsPage {
        config: config.as_ref().map(|c| ConfigMeta {
            version: c.version,
            actor: c.actor.clone(),
            at: time(c.created_at, tz),
        }),
        maps: vec![
            map("shop", &text_rows(&m.shop)),
            map("warehouse", &text_rows(&m.warehouse)),
            map("shipment", &text_rows(&m.shipment)),
            map("carrier", &text_rows(&m.carrier)),
        ],
        sku_version: sku.version,
        sku_total: sku.entries.len(),
        sku_query: q.sku.clone(),
        sku_more: matching.len().saturating_sub(SKU_ROWS),
        sku_rows: matching
            .iter()
            .take(SKU_ROWS)
            .map(|e| SkuRow {
                dsco: e.dsco_sku.clone(),
                lingxing: e.lingxing_sku.clone(),
                source: e.source.as_str(),
            })
            .collect(),
        conflicts: conflicts
            .iter()
            .map(|c| ConflictView {
                kind: c.kind.as_str(),
                store: c.store_id.clone(),
                msku: c.msku.clone(),
                sku: c.sku.clone(),
                detail: c.detail.clone(),
            })
            .collect(),
        audit: audit
            .iter()
            .filter(|a| a.entry.action.starts_with("config.") || a.entry.action.starts_with("sku."))
            .take(30)
            .map(|a| audit_view(a, tz))
            .collect(),
        l,
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    audit: Vec<AuditView>,
}

/// The audit log, most recent first.
async fn audit(State(p): State<Pages>, headers: HeaderMap, uri: Uri) -> Response {
    let l = p.layout(&headers, &uri, "audit", "audit.title");
    match p.store.audit_log(300).await {
        Ok(rows) => render(AuditPage {
            audit: rows.iter().map(|a| audit_view(a, p.cfg.timezone)).collect(),
            l,
        }),
        Err(e) => store_error(l, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Config

struct ConfigJob {
    name: &'static str,
    enabled: bool,
    cron: String,
    size: u32,
    settings: String,
    fires: Vec<TimeCell>,
}

struct VersionView {
    version: i64,
    at: TimeCell,
    actor: String,
    reason: String,
}

struct DiffRow {
    kind: &'static str,
    sign: &'static str,
    path: String,
    old: String,
    new: String,
}

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage {
    l: Layout,
    current: Option<ConfigMeta>,
    writes_enabled: bool,
    jobs: Vec<ConfigJob>,
    versions: Vec<VersionView>,
    from: i64,
    to: i64,
    diff: Vec<DiffRow>,
    json: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// The runtime config in effect (jobs, crons, next fires, settings), its versions and the diff
/// between any two. The runtime config holds no secret (those are in the deployment file, which
/// the console never shows).
async fn config_page(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ConfigQuery>,
) -> Response {
    use domain::ImportedConfig;
    use domain::config::{ChangeKind, ConfigDiff};
    let l = p.layout(&headers, &uri, "config", "config.title");
    let tz = p.cfg.timezone;
    let history = match p.store.runtime_config_history(100).await {
        Ok(h) => h,
        Err(e) => return store_error(l, e),
    };
    let latest = history.first();
    let to = q.to.or(latest.map(|c| c.version)).unwrap_or(0);
    let from = q
        .from
        .unwrap_or(to - 1)
        .max(history.last().map_or(0, |c| c.version));
    let (store, history_ref) = (&p.store, &history);
    let at = |v: i64| async move {
        match history_ref.iter().find(|c| c.version == v) {
            Some(c) => Ok(Some(c.config.clone())),
            None => store
                .runtime_config_at(v)
                .await
                .map(|c| c.map(|c| c.config)),
        }
    };
    let diff = match (at(from).await, at(to).await) {
        (Ok(Some(a)), Ok(Some(b))) if from != to => {
            let side = |config| ImportedConfig {
                config,
                sku: Default::default(),
            };
            ConfigDiff::between(&side(a), &side(b))
                .changes
                .into_iter()
                .map(|c| {
                    let show =
                        |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
                    let (kind, sign) = match c.kind {
                        ChangeKind::Added => ("added", "+"),
                        ChangeKind::Removed => ("removed", "−"),
                        ChangeKind::Changed => ("changed", "~"),
                    };
                    DiffRow {
                        kind,
                        sign,
                        old: show(&c.old),
                        new: show(&c.new),
                        path: c.path,
                    }
                })
                .collect()
        }
        (Err(e), _) | (_, Err(e)) => return store_error(l, e),
        _ => Vec::new(),
    };
    let config = latest.map(|c| c.config.clone()).unwrap_or_default();
    let json = latest
        .map(|c| {
            let mut v = c.config.to_value(&Default::default());
            if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
                m.remove("sku");
            }
            serde_json::to_string_pretty(&v).unwrap_or_default()
        })
        .unwrap_or_default();
    let settings_of = |job: JobName| {
        let v = config.to_value(&Default::default());
        v["jobs"][job.as_str()]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "enable" | "cron" | "size"))
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let jobs = engine::upcoming_fires(&config, p.now(), 3)
        .into_iter()
        .filter_map(|(job, enabled, fires)| {
            let j = config.jobs.get(&job)?;
            Some(ConfigJob {
                name: job.as_str(),
                enabled,
                cron: j.schedule.as_str().to_owned(),
                size: j.size,
                settings: settings_of(job),
                fires: fires.into_iter().map(|t| time(t, tz)).collect(),
            })
        })
        .collect();
    render(ConfigPage {
        current: latest.map(|c| ConfigMeta {
            version: c.version,
            actor: c.actor.clone(),
            at: time(c.created_at, tz),
        }),
        writes_enabled: config.writes_enabled(),
        jobs,
        versions: history
            .iter()
            .map(|c| VersionView {
                version: c.version,
                at: time(c.created_at, tz),
                actor: c.actor.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
        from,
        to,
        diff,
        json,
        l,
    })
}

// ---------------------------------------------------------------------------------------------
// Stock

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
    more: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StockQuery {
    run: String,
    since: String,
}

const STOCK_ITEMS: usize = 500;

/// The stock sync runs (held ones first in mind), and one run's items SKU by SKU.
async fn stock(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StockQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "stock", "stock.title");
    let tz = p.cfg.timezone;
    let runs = match p.store.stock_runs(false, 50).await {
        Ok(r) => r,
        Err(e) => return store_error(l, e),
    };
    let chosen = match some(&q.run) {
        Some(id) => runs.iter().find(|r| r.run_id == id),
        None => runs.first(),
    };
    let items = match chosen {
        Some(r) => match p.store.stock_items_since(r.at, 100_000).await {
            Ok(items) => items
                .into_iter()
                .filter(|i| i.run_id == r.run_id)
                .collect::<Vec<_>>(),
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
        more: items.len().saturating_sub(STOCK_ITEMS),
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
/// `stock export`.
async fn stock_csv(
    State(p): State<Pages>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StockQuery>,
) -> Response {
    let l = p.layout(&headers, &uri, "stock", "stock.title");
    let since = match day_start("since", &q.since, p.cfg.timezone, false) {
        Ok(t) => t.unwrap_or(DateTime::UNIX_EPOCH),
        Err(e) => return error_page(l, StatusCode::BAD_REQUEST, "common.error", e),
    };
    let items = match p.store.stock_items_since(since, 200_000).await {
        Ok(i) => i,
        Err(e) => return store_error(l, e),
    };
    let mut buf = "\u{feff}".as_bytes().to_vec();
    if let Err(e) = engine::stock::write_stock_csv(&items, &mut buf) {
        return error_page(
            l,
            StatusCode::INTERNAL_SERVER_ERROR,
            "common.error",
            e.to_string(),
        );
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"stock-{}.csv\"",
                    since.format("%Y%m%d")
                ),
            ),
        ],
        buf,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally_in_both_languages() {
        assert_eq!(age(TimeDelta::seconds(40), Lang::En), "40s");
        assert_eq!(
            age(TimeDelta::seconds(3 * 3600 + 12 * 60), Lang::En),
            "3h 12m"
        );
        assert_eq!(
            age(TimeDelta::days(2) + TimeDelta::hours(3), Lang::Zh),
            "2天3小时"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("收货人"), "收货人");
    }

    #[test]
    fn only_loopback_is_served() {
        assert!(check_listen("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(check_listen("[::1]:8080".parse().unwrap()).is_ok());
        let e = check_listen("0.0.0.0:8080".parse().unwrap()).unwrap_err();
        assert!(e.contains("console.listen"), "{e}");
    }
}
