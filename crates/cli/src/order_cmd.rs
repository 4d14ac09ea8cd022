//! `order show|stuck`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use domain::PoNumber;

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
            println!("dscoOrderId {po}: not stored as an order");
            print_unreadable(view, u);
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("no order {po} in the store (not pulled yet, or pulled into another store)");
        return Ok(ExitCode::from(1));
    };
    let o = &d.order;
    println!("PO {po}");
    println!(
        "  stage: {} {} / {}",
        o.stage.number(),
        o.stage.label_zh(),
        o.stage.label_en()
    );
    println!("  since: {}", view.at(o.stage_entered_at));
    match &o.reason {
        Some(r) => {
            println!("  reason: {} ({} / {})", r.code, r.kind, r.kind.label_zh());
            for lang in view.languages() {
                println!("    {}", d.reason_sentence(lang).unwrap_or_default());
            }
        }
        None => println!("  reason: none"),
    }
    if let Some(t) = d.stuck_after.filter(|_| d.is_stuck()) {
        println!(
            "  STUCK: longer than {} at this stage (卡单)",
            span(t)
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
            println!("  next check: {} ({job} run){attempts}", view.at(at));
        }
        engine::jobs::NextCheck::OnChange {
            job,
            next_run,
            safety,
        } => {
            println!(
                "  next check: when DSCO or LingXing reports a change, seen by a {job} run (next {}){attempts}",
                view.at(next_run)
            );
            if let Some(t) = safety {
                println!("    without a change: re-checked {}", view.at(t));
            }
        }
        engine::jobs::NextCheck::JobOff(job) => {
            println!("  next check: none while {job} is disabled{attempts}");
        }
        engine::jobs::NextCheck::Never => {}
    }
    let p = &o.pulled;
    println!(
        "  DSCO: status {}, lifecycle {}, retailer {}, warehouse {}, service level {}",
        p.dsco_status.as_deref().unwrap_or("-"),
        p.dsco_lifecycle.as_deref().unwrap_or("-"),
        p.retailer_id.as_deref().unwrap_or("-"),
        p.warehouse_code.as_deref().unwrap_or("-"),
        p.service_level.as_deref().unwrap_or("-")
    );
    println!("  lines: {}", p.skus);
    println!(
        "  LingXing orders: {}",
        if o.lingxing_order_nos.is_empty() {
            "-".to_owned()
        } else {
            o.lingxing_order_nos.join(", ")
        }
    );
    println!(
        "  tracking: {}",
        if o.tracking.is_empty() {
            "-".to_owned()
        } else {
            o.tracking.join(",")
        }
    );
    println!("  invoice: {}", o.invoice_id.as_deref().unwrap_or("-"));
    if !o.flags.is_empty() {
        println!("  flags: {}", o.flags.join(", "));
    }
    let intents = &d.intents;
    if !intents.is_empty() {
        println!("  writes:");
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
                "  pending DSCO requests: {}",
                pending
                    .iter()
                    .map(|i| i.outcome.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    println!("  timeline:");
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
            .as_deref()
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
            "stage {} {} / {}: {n} stuck (threshold {})",
            stage.number(),
            stage.label_zh(),
            stage.label_en(),
            span(threshold)
        );
        let more = n - oldest.len() as i64;
        for o in oldest {
            any = true;
            let why = o
                .reason
                .map(|r| format!("{} ({})", r.code, r.kind))
                .unwrap_or_else(|| "no reason recorded".into());
            println!(
                "  {}  since {}  {why}",
                o.pulled.po,
                view.at(o.stage_entered_at)
            );
        }
        if more > 0 {
            any = true;
            println!("  … and {more} more (--limit N lists more)");
        }
    }
    // data defects (issue 13): orders DSCO sent without a PO never become orders; listed here.
    let unreadable = store.unreadable_orders(true, limit).await?;
    if !unreadable.is_empty() {
        any = true;
        println!(
            "DSCO orders that cannot be stored (no poNumber) / 无法保存的 DSCO 订单: {}",
            unreadable.len()
        );
        for u in &unreadable {
            print_unreadable(view, u);
        }
    }
    if !any {
        println!("no stuck orders");
    }
    Ok(ExitCode::SUCCESS)
}

/// One DSCO order the pull could not store as an order (data defects, issue 13).
fn print_unreadable(view: &ReadView, u: &store::UnreadableOrderRecord) {
    println!(
        "  dscoOrderId {}  first seen {}  last seen {} (read {} times){}",
        u.order.dsco_order_id,
        view.at(u.first_seen),
        view.at(u.last_seen),
        u.seen,
        u.resolved_at
            .map(|t| format!("  resolved {}", view.at(t)))
            .unwrap_or_default()
    );
    view.print_reason(&u.order.reason_code, &u.order.detail);
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
