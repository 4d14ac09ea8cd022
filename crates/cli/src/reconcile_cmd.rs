//! `dsco-lingxing reconcile [--po PO | --since DATE --until DATE] [--yes]`: compares orders with
//! DSCO and LingXing through `engine::reconcile` (reads only), prints the cost estimate first,
//! then the findings.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use domain::reconcile::FindingKind;
use domain::{Lang, PoNumber};
use engine::reconcile::{Scope, check, estimate};
use engine::startup::Application;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Only this PO.
    #[arg(long, value_name = "PO", conflicts_with_all = ["since", "until"])]
    pub po: Option<String>,
    /// Orders DSCO created from this day (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// … until before this day or time (default: now).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Go ahead even when the estimate is above 500 far-side calls.
    #[arg(long)]
    pub yes: bool,
}

/// A day (midnight UTC) or an RFC 3339 time.
fn parse_time(flag: &str, s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{flag}: `{s}` is neither a day (YYYY-MM-DD) nor an RFC 3339 time"))
}

fn scope_of(a: &ReconcileArgs, now: DateTime<Utc>) -> Result<Scope, String> {
    if let Some(po) = &a.po {
        return PoNumber::parse(po)
            .map(Scope::Po)
            .map_err(|e| format!("--po: {e}"));
    }
    let Some(since) = &a.since else {
        return Err("give --po PO, or --since DATE (with --until DATE, default now)".into());
    };
    let since = parse_time("--since", since)?;
    let until = match &a.until {
        Some(u) => parse_time("--until", u)?,
        None => now,
    };
    if until <= since {
        return Err("--until: must be after --since".into());
    }
    Ok(Scope::Window { since, until })
}

pub async fn reconcile(settings: &Settings, a: ReconcileArgs) -> Result<ExitCode> {
    let lang = crate::startup::console_config(settings).language;
    let zh = lang == Lang::Zh;
    let app = Application::build(
        crate::startup::open_store(settings).await?,
        crate::startup::service_parts(settings),
    )?;
    let store = app.engine().store().clone();
    let clock = app.engine().clock().clone();
    let scope = match scope_of(&a, clock.now()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let est = estimate(&*store, app.clients(), &scope).await?;
    if zh {
        println!("订单 {} 个；预计调用（按接口）：", est.orders);
    } else {
        println!(
            "{} orders; estimated far-side calls per endpoint:",
            est.orders
        );
    }
    for (endpoint, n) in est.lines() {
        println!("  {endpoint:<24} {n}");
    }
    println!(
        "  {:<24} {}",
        if zh { "合计" } else { "total" },
        est.total()
    );
    if est.needs_confirmation() && !a.yes {
        if zh {
            eprintln!(
                "预计调用超过 {} 次：缩小时间窗口，或加 --yes 继续",
                engine::reconcile::CONFIRM_ABOVE
            );
        } else {
            eprintln!(
                "more than {} calls: narrow the window, or add --yes to go ahead",
                engine::reconcile::CONFIRM_ABOVE
            );
        }
        return Ok(ExitCode::from(2));
    }
    let run_id = format!(
        "reconcile-cli-{}-{}",
        clock.now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    let out = check(app.clients(), &*store, &clock, &scope, &run_id, None).await?;
    if zh {
        println!(
            "核对 {} 个订单：落后 {}，超前 {}，不一致 {}（新增 {}，已解决 {}，标记待处理 {}）",
            out.checked,
            out.count(FindingKind::Behind),
            out.count(FindingKind::Ahead),
            out.count(FindingKind::Diverged),
            out.opened,
            out.resolved,
            out.marked
        );
    } else {
        println!(
            "checked {} orders: behind {}, ahead {}, diverged {} (opened {}, resolved {}, marked for their job {})",
            out.checked,
            out.count(FindingKind::Behind),
            out.count(FindingKind::Ahead),
            out.count(FindingKind::Diverged),
            out.opened,
            out.resolved,
            out.marked
        );
    }
    for (po, f) in &out.findings {
        println!(
            "{po}  {}  {}: {} ({})",
            f.kind().label(lang),
            f.code,
            f.code.message(lang),
            f.detail
        );
        println!("    → {}", f.code.action(lang));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_the_bad_flag() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let args = |po: Option<&str>, since: Option<&str>, until: Option<&str>| ReconcileArgs {
            po: po.map(Into::into),
            since: since.map(Into::into),
            until: until.map(Into::into),
            yes: false,
        };
        assert!(
            scope_of(&args(None, Some("2026-02-30"), None), now)
                .unwrap_err()
                .starts_with("--since:")
        );
        assert!(
            scope_of(&args(None, Some("2026-02-01"), Some("2026-01-01")), now)
                .unwrap_err()
                .starts_with("--until:")
        );
        assert!(scope_of(&args(None, None, None), now).is_err());
        assert_eq!(
            scope_of(&args(None, Some("2026-02-01"), None), now).unwrap(),
            Scope::Window {
                since: DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                until: now
            }
        );
    }
}
