//! `order show|stuck|list` and `status`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::{PoNumber, ReasonKind, Stage};
use store::{OrderCursor, OrderFilter};

use crate::view::ReadView;

/// `order show PO`: what the store holds for one PO (the console's order read model).
pub(crate) async fn show(view: &ReadView, po: &str) -> Result<ExitCode> {
    let po = match PoNumber::parse(po) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = &view.store;
    let Some(d) = console::model::OrderDetail::load(&**store, &po, Utc::now()).await? else {
        // data defects (issue 13): an order without a PO is kept by its dscoOrderId.
        let unreadable = store.unreadable_orders(false, u32::MAX).await?;
        if let Some(u) = unreadable
            .iter()
            .find(|u| u.order.dsco_order_id == po.as_str())
        {
            println!(
                "dscoOrderId {po}: {}",
                view.t("not stored as an order", "未作为订单保存")
            );
            print_unreadable(view, u);
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "{}",
            view.t(
                &format!(
                    "no order {po} in the store (not pulled yet, or pulled into another store)"
                ),
                &format!("存储中没有订单 {po}（尚未拉取，或拉取到了另一个存储）")
            )
        );
        return Ok(ExitCode::from(1));
    };
    let o = &d.order;
    println!("PO {po}");
    println!(
        "  {}: {} {}",
        view.t("stage", "阶段"),
        o.stage.number(),
        view.stage_label(o.stage)
    );
    println!(
        "  {}: {}",
        view.t("since", "进入时间"),
        view.at(o.stage_entered_at)
    );
    match &o.reason {
        Some(r) => {
            println!(
                "  {}: {} ({})",
                view.t("reason", "原因"),
                r.code,
                view.kind_label(r.kind)
            );
            println!(
                "    {}",
                d.reason_sentence(view.language).unwrap_or_default()
            );
        }
        None => println!("  {}", view.t("reason: none", "原因：无")),
    }
    if let Some(t) = d.stuck_after.filter(|_| d.is_stuck()) {
        println!(
            "  {}",
            view.t(
                &format!("STUCK: longer than {} at this stage", span(t)),
                &format!("卡单：在此阶段已超过 {}", span(t))
            )
        );
    }
    let config = store
        .runtime_config()
        .await?
        .map(|c| c.config)
        .unwrap_or_default();
    let attempts = if o.attempts > 0 {
        format!(" (attempts {})", o.attempts)
    } else {
        String::new()
    };
    match engine::jobs::next_check(&config, o, Utc::now()) {
        engine::jobs::NextCheck::At { job, at } => {
            println!(
                "  {}: {} ({job}){attempts}",
                view.t("next check", "下次检查"),
                view.at(at)
            );
        }
        engine::jobs::NextCheck::OnChange {
            job,
            next_run,
            safety,
        } => {
            let next = view.at(next_run);
            println!(
                "  {}{attempts}",
                view.t(
                    &format!(
                        "next check: when DSCO or LingXing reports a change, seen by a {job} run (next {next})"
                    ),
                    &format!("下次检查：DSCO 或领星有变化时，由 {job} 的运行处理（下次 {next}）")
                )
            );
            if let Some(t) = safety {
                let t = view.at(t);
                println!(
                    "    {}",
                    view.t(
                        &format!("without a change: re-checked {t}"),
                        &format!("若无变化：{t} 再检查")
                    )
                );
            }
        }
        engine::jobs::NextCheck::JobOff(job) => {
            println!(
                "  {}{attempts}",
                view.t(
                    &format!("next check: none while {job} is disabled"),
                    &format!("下次检查：无（{job} 已停用）")
                )
            );
        }
        engine::jobs::NextCheck::Never => {}
    }
    let p = &o.pulled;
    let dash = |v: &Option<String>| v.as_deref().unwrap_or("-").to_owned();
    let (status, lifecycle, retailer, warehouse, level) = (
        dash(&p.dsco_status),
        dash(&p.dsco_lifecycle),
        dash(&p.retailer_id),
        dash(&p.warehouse_code),
        dash(&p.service_level),
    );
    println!(
        "  {}",
        view.t(
            &format!(
                "DSCO: status {status}, lifecycle {lifecycle}, retailer {retailer}, warehouse {warehouse}, service level {level}"
            ),
            &format!(
                "DSCO：状态 {status}，生命周期 {lifecycle}，零售商 {retailer}，仓库 {warehouse}，服务等级 {level}"
            )
        )
    );
    let list = |v: &[String], sep: &str| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(sep)
        }
    };
    println!("  {}: {}", view.t("lines", "订单行"), p.skus);
    println!(
        "  {}: {}",
        view.t("LingXing orders", "领星订单"),
        list(&o.lingxing_order_nos, ", ")
    );
    println!(
        "  {}: {}",
        view.t("tracking", "运单号"),
        list(&o.tracking, ",")
    );
    println!(
        "  {}: {}",
        view.t("invoice", "发票"),
        o.invoice_id.as_deref().unwrap_or("-")
    );
    if !o.flags.is_empty() {
        println!("  {}: {}", view.t("flags", "标记"), o.flags.join(", "));
    }
    let intents = &d.intents;
    if !intents.is_empty() {
        println!("  {}:", view.t("writes", "写入"));
        for i in intents {
            println!(
                "    {} {}: {}{}",
                i.kind.as_str(),
                i.key,
                i.state.as_str(),
                if i.outcome.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", i.outcome)
                }
            );
        }
        let pending = d.pending_requests();
        if !pending.is_empty() {
            println!(
                "  {}: {}",
                view.t("pending DSCO requests", "待 DSCO 确认的请求"),
                pending
                    .iter()
                    .map(|i| i.outcome.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    println!("  {}:", view.t("timeline", "时间线"));
    for e in &d.events {
        let ev = &e.event;
        let moved = match (ev.from_stage, ev.to_stage) {
            (Some(a), Some(b)) => format!(" {}→{}", a.number(), b.number()),
            (None, Some(b)) => format!(" →{}", b.number()),
            _ => String::new(),
        };
        let who = ev
            .job
            .map(|j| j.as_str().to_owned())
            .or_else(|| ev.actor.clone())
            .unwrap_or_default();
        let reason = ev
            .reason_code
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let times = if e.count > 1 {
            format!(" ×{} (last {})", e.count, view.at(e.last_at))
        } else {
            String::new()
        };
        println!(
            "    {}  {who} {}{moved}{reason} {}{times}",
            view.at(ev.at),
            ev.outcome.as_str(),
            ev.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `order stuck`: per stage, the orders past their stuck threshold, oldest first.
pub(crate) async fn stuck(view: &ReadView, limit: u32) -> Result<ExitCode> {
    let store = &view.store;
    let config = store
        .runtime_config()
        .await?
        .map(|c| c.config)
        .unwrap_or_default();
    let mut any = false;
    for (stage, threshold, n, oldest) in
        engine::jobs::stuck(&**store, &config, Utc::now(), limit).await?
    {
        println!(
            "{}",
            view.t(
                &format!(
                    "stage {} {}: {n} stuck (threshold {})",
                    stage.number(),
                    stage.label_en(),
                    span(threshold)
                ),
                &format!(
                    "阶段 {} {}：卡单 {n} 个（阈值 {}）",
                    stage.number(),
                    stage.label_zh(),
                    span(threshold)
                )
            )
        );
        let more = n - oldest.len() as i64;
        for o in oldest {
            any = true;
            let why = o
                .reason
                .map(|r| format!("{} ({})", r.code, view.kind_label(r.kind)))
                .unwrap_or_else(|| view.t("no reason recorded", "无原因记录").into());
            println!(
                "  {}  {} {}  {why}",
                o.pulled.po,
                view.t("since", "自"),
                view.at(o.stage_entered_at)
            );
        }
        if more > 0 {
            any = true;
            println!(
                "  {}",
                view.t(
                    &format!("… and {more} more (--limit N lists more)"),
                    &format!("……还有 {more} 个（用 --limit N 列出更多）")
                )
            );
        }
    }
    // data defects (issue 13): orders DSCO sent without a PO never become orders; listed here.
    let unreadable = store.unreadable_orders(true, limit).await?;
    if !unreadable.is_empty() {
        any = true;
        println!(
            "{}: {}",
            view.t(
                "DSCO orders that cannot be stored (no poNumber)",
                "无法保存的 DSCO 订单（没有 poNumber）"
            ),
            unreadable.len()
        );
        for u in &unreadable {
            print_unreadable(view, u);
        }
    }
    if !any {
        println!("{}", view.t("no stuck orders", "没有卡单"));
    }
    Ok(ExitCode::SUCCESS)
}

/// One DSCO order the pull could not store as an order (data defects, issue 13).
fn print_unreadable(view: &ReadView, u: &store::UnreadableOrderRecord) {
    let resolved = u
        .resolved_at
        .map(|t| format!("  {} {}", view.t("resolved", "已解决"), view.at(t)))
        .unwrap_or_default();
    println!(
        "  dscoOrderId {}  {} {}  {} {} ({}){resolved}",
        u.order.dsco_order_id,
        view.t("first seen", "首次读到"),
        view.at(u.first_seen),
        view.t("last seen", "最近读到"),
        view.at(u.last_seen),
        match view.language {
            domain::Lang::Zh => format!("读到 {} 次", u.seen),
            domain::Lang::En => format!("read {} times", u.seen),
        },
    );
    view.print_reason(u.order.reason_code, &u.order.detail);
}

/// A threshold in whole hours when it is one (`4 h`), else in minutes (`90 min`).
pub(crate) fn span(t: chrono::TimeDelta) -> String {
    let m = t.num_minutes();
    if m >= 60 && m % 60 == 0 {
        format!("{} h", m / 60)
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{} s", t.num_seconds())
    }
}

/// `order list`: the filters of the console's order list.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only orders at this stage (1 pulled … 4 shipped, 5 done, 6 cancelled).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=6))]
    pub stage: Option<i64>,
    /// Only orders whose current reason is of this kind.
    #[arg(long, value_name = "waiting|needs_attention|retrying|held", value_parser = parse_kind)]
    pub kind: Option<ReasonKind>,
    /// Only orders with this reason code (`shop_unmapped`, `lingxing_not_audited`, …).
    #[arg(long)]
    pub code: Option<String>,
    /// Only orders whose reason is about this key, exactly (a cause of `status`).
    #[arg(long)]
    pub subject: Option<String>,
    /// Only orders of this DSCO retailer id.
    #[arg(long)]
    pub retailer: Option<String>,
    /// Only orders of this DSCO warehouse code.
    #[arg(long)]
    pub warehouse: Option<String>,
    /// Only orders with this DSCO SKU on a line.
    #[arg(long)]
    pub sku: Option<String>,
    /// Only the order with this tracking number.
    #[arg(long)]
    pub tracking: Option<String>,
    /// Only the order with this LingXing order number.
    #[arg(long, value_name = "LINGXING_ORDER_NO")]
    pub lx: Option<String>,
    /// Only POs containing this text.
    #[arg(long, value_name = "TEXT")]
    pub po: Option<String>,
    /// Created at DSCO on or after this day (YYYY-MM-DD, display time zone).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub created_from: Option<NaiveDate>,
    /// Created at DSCO on or before this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub created_to: Option<NaiveDate>,
    /// Updated at DSCO on or after this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub updated_from: Option<NaiveDate>,
    /// Updated at DSCO on or before this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub updated_to: Option<NaiveDate>,
    /// Newest first (by the time they entered their stage); default oldest first.
    #[arg(long)]
    pub newest: bool,
    /// Only the orders an operator ignored (`order ignore`); without it, ignored orders are
    /// listed too.
    #[arg(long)]
    pub ignored: bool,
    /// How many orders to list.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

fn parse_kind(s: &str) -> Result<ReasonKind, String> {
    s.parse::<ReasonKind>()
        .map_err(|e| format!("{e} (kinds are: waiting, needs_attention, retrying, held)"))
}

impl ListArgs {
    /// The store's filter (the console's); days are read in the display zone `tz`.
    fn filter(&self, tz: chrono_tz::Tz) -> OrderFilter {
        let day = |d: Option<NaiveDate>, next: bool| -> Option<DateTime<Utc>> {
            let d = d?;
            let d = if next { d.succ_opt().unwrap_or(d) } else { d };
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        OrderFilter {
            stage: self.stage.and_then(Stage::from_number),
            reason_kind: self.kind,
            reason_code: self.code.clone(),
            subject: self.subject.clone(),
            retailer: self.retailer.clone(),
            warehouse: self.warehouse.clone(),
            sku: self.sku.clone(),
            tracking: self.tracking.clone(),
            lingxing_order_no: self.lx.clone(),
            po_contains: self.po.clone(),
            created_from: day(self.created_from, false),
            created_to: day(self.created_to, true),
            updated_from: day(self.updated_from, false),
            updated_to: day(self.updated_to, true),
            ignored: self.ignored.then_some(true),
        }
    }
}

/// `order list`: one line per order matching the filter, and whether more match.
pub(crate) async fn list(view: &ReadView, args: &ListArgs) -> Result<ExitCode> {
    let filter = args.filter(view.timezone);
    let limit = args.limit.max(1);
    let mut rows = view
        .store
        .order_page(&filter, args.newest, None::<&OrderCursor>, limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if rows.is_empty() {
        println!("{}", view.t("no orders match", "没有符合条件的订单"));
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    for r in &rows {
        let reason = r
            .reason
            .as_ref()
            .map(|r| {
                let subject = if r.detail.is_empty() {
                    String::new()
                } else {
                    format!(" {}", r.detail)
                };
                format!("{} {}{subject}", view.kind_label(r.kind), r.code)
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<20} {} {} {:>6}  {:<12} {:<10} {}  {reason}",
            r.po,
            r.stage.number(),
            crate::view::pad(view.stage_label(r.stage), 12),
            span(now - r.stage_entered_at),
            r.retailer_id.as_deref().unwrap_or("-"),
            r.warehouse_code.as_deref().unwrap_or("-"),
            r.skus,
        );
    }
    if more {
        println!(
            "{}",
            view.t(
                &format!("… more orders match (--limit {} shows more)", limit * 2),
                &format!("……还有更多订单（--limit {} 显示更多）", limit * 2)
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `status`: orders per stage, what needs attention by cause, each job's last run, whether
/// writes are on (the console's overview).
pub(crate) async fn status(view: &ReadView) -> Result<ExitCode> {
    let now = Utc::now();
    let o = console::model::Overview::load(&*view.store, now).await?;
    println!(
        "{}: {}",
        view.t("writes to DSCO and LingXing", "写入 DSCO 和领星"),
        if o.writes_enabled {
            view.t("on", "开启")
        } else {
            view.t(
                "OFF (writes_enabled = false)",
                "已关闭（writes_enabled = false）",
            )
        }
    );
    match o.config_version {
        Some(v) => println!("{}: v{v}", view.t("runtime config", "运行配置")),
        None => println!(
            "{}",
            view.t(
                "runtime config: none (import one with `config import`)",
                "运行配置：无（用 `config import` 导入）"
            )
        ),
    }
    println!("{}", view.t("orders per stage:", "各阶段订单："));
    for st in &o.stages {
        let stuck = o
            .stuck
            .iter()
            .find(|s| s.stage == st.stage && s.count > 0)
            .map(|s| format!(", {} {}", s.count, view.t("stuck", "卡单")))
            .unwrap_or_default();
        let oldest = st
            .oldest_entered_at
            .filter(|_| !matches!(st.stage, Stage::Done | Stage::Cancelled))
            .map(|t| format!(" ({} {})", view.t("oldest", "最久"), span(now - t)))
            .unwrap_or_default();
        println!(
            "  {} {} {:>7}{oldest}{stuck}",
            st.stage.number(),
            crate::view::pad(view.stage_label(st.stage), 12),
            st.count
        );
    }
    println!(
        "{}: {} {}, {} {}, {} {}, {} {}",
        view.t("reasons", "原因"),
        view.kind_label(ReasonKind::NeedsAttention),
        o.kind_count(ReasonKind::NeedsAttention),
        view.kind_label(ReasonKind::Held),
        o.kind_count(ReasonKind::Held),
        view.kind_label(ReasonKind::Retrying),
        o.kind_count(ReasonKind::Retrying),
        view.kind_label(ReasonKind::Waiting),
        o.kind_count(ReasonKind::Waiting),
    );
    if !o.causes.is_empty() {
        println!(
            "{}",
            view.t("needs attention by cause:", "需处理（按原因）：")
        );
        for c in &o.causes {
            println!(
                "  {:>6}  {} {}  ({}: order list --code {} --subject {})",
                c.count,
                c.code,
                c.subject,
                view.t("list", "列出"),
                c.code,
                shell_word(&c.subject)
            );
            if let Some(code) = domain::ReasonCode::parse(&c.code) {
                println!(
                    "          {}",
                    domain::Reason::new(code, c.subject.clone()).message(view.language)
                );
            }
        }
    }
    println!("{}", view.t("jobs (last run):", "任务（最近一次运行）："));
    for j in &o.jobs {
        let last = match &j.last {
            Some(r) => format!(
                "{} {} ({} {}, {} {}, {} {})",
                view.at(r.started_at),
                r.outcome,
                view.t("processed", "处理"),
                r.counts.processed,
                view.t("advanced", "推进"),
                r.counts.advanced,
                view.t("skipped", "跳过"),
                r.counts.skipped()
            ),
            None => view.t("never ran", "从未运行").to_owned(),
        };
        let state = if j.cron.is_none() {
            view.t("not configured", "未配置")
        } else if j.enabled {
            ""
        } else {
            view.t("disabled", "已停用")
        };
        println!(
            "  {:<17} {state}{}{last}",
            j.job.as_str(),
            if state.is_empty() { "" } else { ", " }
        );
    }
    if o.in_sync() {
        println!(
            "{}",
            view.t(
                "everything is in sync: nothing needs anyone",
                "一切同步正常：无需处理"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `s` quoted for a POSIX shell when it has anything but safe characters.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
