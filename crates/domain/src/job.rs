//! The eight jobs and their schedules.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};

/// The eight jobs. The names are config keys users already have and must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobName {
    PullDscoOrders,
    PushToLingxing,
    AckToDsco,
    ShipToDsco,
    InvoiceToDsco,
    SyncStock,
    PullSkuPair,
    CleanupExports,
    /// Compares orders with DSCO and LingXing and records findings (off by default).
    Reconcile,
}

impl JobName {
    pub const ALL: [JobName; 9] = [
        JobName::PullDscoOrders,
        JobName::PushToLingxing,
        JobName::AckToDsco,
        JobName::ShipToDsco,
        JobName::InvoiceToDsco,
        JobName::SyncStock,
        JobName::PullSkuPair,
        JobName::CleanupExports,
        JobName::Reconcile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobName::PullDscoOrders => "pull_dsco_orders",
            JobName::PushToLingxing => "push_to_lingxing",
            JobName::AckToDsco => "ack_to_dsco",
            JobName::ShipToDsco => "ship_to_dsco",
            JobName::InvoiceToDsco => "invoice_to_dsco",
            JobName::SyncStock => "sync_stock",
            JobName::PullSkuPair => "pull_sku_pair",
            JobName::CleanupExports => "cleanup_exports",
            JobName::Reconcile => "reconcile",
        }
    }

    /// The stage whose orders this job decides (`None`: the pull, which takes any PO, and the
    /// jobs that handle no order).
    pub fn order_stage(self) -> Option<crate::Stage> {
        use crate::Stage;
        match self {
            JobName::PushToLingxing => Some(Stage::Pulled),
            JobName::AckToDsco => Some(Stage::Pushed),
            JobName::ShipToDsco => Some(Stage::Acknowledged),
            JobName::InvoiceToDsco => Some(Stage::Shipped),
            _ => None,
        }
    }

    /// Whether a run of this job can be limited to one PO.
    pub fn takes_po(self) -> bool {
        matches!(self, JobName::PullDscoOrders | JobName::Reconcile) || self.order_stage().is_some()
    }

    /// The job that decides orders at `stage`, if any (done and cancelled are final).
    pub fn for_stage(stage: crate::Stage) -> Option<JobName> {
        JobName::ALL
            .into_iter()
            .find(|j| j.order_stage() == Some(stage))
    }

    /// A one-line description for `job list` and the console.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            JobName::PullDscoOrders => (
                "pull new and updated orders from DSCO",
                "从 DSCO 拉取新订单和更新",
            ),
            JobName::PushToLingxing => ("create orders in LingXing (1 → 2)", "推单到领星（1 → 2）"),
            JobName::AckToDsco => (
                "acknowledge orders to DSCO (2 → 3)",
                "向 DSCO 回传 ACK（2 → 3）",
            ),
            JobName::ShipToDsco => (
                "send shipments to DSCO (3 → 4)",
                "向 DSCO 回传发货（3 → 4）",
            ),
            JobName::InvoiceToDsco => {
                ("send invoices to DSCO (4 → 5)", "向 DSCO 回传发票（4 → 5）")
            }
            JobName::SyncStock => (
                "sync LingXing stock to DSCO inventory",
                "同步领星库存到 DSCO",
            ),
            JobName::PullSkuPair => (
                "refresh mapping.sku from LingXing pairs",
                "从领星配对更新 mapping.sku",
            ),
            JobName::CleanupExports => ("delete old export files", "清理导出文件"),
            JobName::Reconcile => (
                "compare orders with DSCO and LingXing, record findings",
                "核对订单与 DSCO、领星，记录差异",
            ),
        }
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown job name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job `{0}` (jobs are: pull_dsco_orders, push_to_lingxing, ack_to_dsco, ship_to_dsco, invoice_to_dsco, sync_stock, pull_sku_pair, cleanup_exports, reconcile)"
)]
pub struct UnknownJob(pub String);

impl FromStr for JobName {
    type Err = UnknownJob;
    fn from_str(s: &str) -> Result<Self, UnknownJob> {
        JobName::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| UnknownJob(s.to_owned()))
    }
}

/// When a job fires: a 6-field cron (seconds first, UTC, Vixie weekdays with 0 = Sunday), a
/// nickname (`@hourly`, `@daily`, …), or `@every <duration>`.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    kind: ScheduleKind,
}

#[derive(Clone)]
enum ScheduleKind {
    Cron(Box<Cron>),
    Every(TimeDelta),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for Schedule {}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a schedule could not be parsed; the text is meant for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ScheduleError("empty cron expression".into()));
        }
        if let Some(rest) = t.strip_prefix("@every") {
            let d = parse_duration(rest.trim()).map_err(|e| {
                ScheduleError(format!(
                    "`{t}`: {e} (for example `@every 5m` or `@every 30s`)"
                ))
            })?;
            if d < Duration::from_secs(1) {
                return Err(ScheduleError(format!(
                    "`{t}`: the interval must be at least 1s"
                )));
            }
            let delta = TimeDelta::from_std(d)
                .map_err(|_| ScheduleError(format!("`{t}`: the interval is too long")))?;
            return Ok(Schedule {
                text: t.to_owned(),
                kind: ScheduleKind::Every(delta),
            });
        }
        if !t.starts_with('@') {
            let fields = t.split_whitespace().count();
            if fields == 5 {
                return Err(ScheduleError(format!(
                    "`{t}` has 5 fields; 6 are needed, seconds first (did you mean `0 {t}`?)"
                )));
            }
            if fields != 6 {
                return Err(ScheduleError(format!(
                    "`{t}` has {fields} fields; 6 are needed: second minute hour day-of-month month day-of-week"
                )));
            }
        }
        let parser = CronParser::builder().seconds(Seconds::Required).build();
        let cron = parser
            .parse(t)
            .map_err(|e| ScheduleError(format!("`{t}` is not a valid cron expression: {e}")))?;
        Ok(Schedule {
            text: t.to_owned(),
            kind: ScheduleKind::Cron(Box::new(cron)),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first fire time strictly after `after` (UTC).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            ScheduleKind::Cron(c) => c.find_next_occurrence(&after, false).ok(),
            ScheduleKind::Every(d) => {
                // Aligned to the Unix epoch so every replica computes the same fire times.
                let step = d.num_milliseconds().max(1);
                let ms = after.timestamp_millis();
                let next = (ms.div_euclid(step) + 1) * step;
                DateTime::from_timestamp_millis(next)
            }
        }
    }

    /// The latest fire time at or before `at` (UTC), for coalescing fires missed while down.
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            ScheduleKind::Cron(c) => c.find_previous_occurrence(&at, true).ok(),
            ScheduleKind::Every(d) => {
                let step = d.num_milliseconds().max(1);
                DateTime::from_timestamp_millis(at.timestamp_millis().div_euclid(step) * step)
            }
        }
    }

    /// The typical distance between fires, for "stuck after N periods" and back-off caps.
    pub fn period(&self, around: DateTime<Utc>) -> TimeDelta {
        match &self.kind {
            ScheduleKind::Every(d) => *d,
            ScheduleKind::Cron(_) => {
                let a = self.next_after(around);
                let b = a.and_then(|a| self.next_after(a));
                match (a, b) {
                    (Some(a), Some(b)) => b - a,
                    _ => TimeDelta::hours(24),
                }
            }
        }
    }
}

/// Parses `90s`, `5m`, `1h30m`, `2d`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("missing duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("`{s}` is not a duration"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            "" => return Err(format!("`{s}`: a unit is needed (ms, s, m, h, d)")),
            other => {
                return Err(format!(
                    "`{s}`: unknown unit `{other}` (use ms, s, m, h, d)"
                ));
            }
        };
        total += d;
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s == 0 {
        "0s".into()
    } else if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn six_field_cron_in_utc() {
        let s = Schedule::parse("0 */15 * * * *").unwrap();
        assert_eq!(
            s.next_after(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 1, 10, 15, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 3, 1, 10, 15, 0)),
            Some(at(2026, 3, 1, 10, 30, 0))
        );
        assert_eq!(s.period(at(2026, 3, 1, 0, 0, 0)), TimeDelta::minutes(15));
    }

    #[test]
    fn vixie_weekdays_zero_is_sunday() {
        // 2026-03-01 is a Sunday.
        let s = Schedule::parse("0 0 9 * * 0").unwrap();
        assert_eq!(
            s.next_after(at(2026, 2, 27, 0, 0, 0)),
            Some(at(2026, 3, 1, 9, 0, 0))
        );
        let s7 = Schedule::parse("0 0 9 * * 7").unwrap();
        assert_eq!(
            s7.next_after(at(2026, 2, 27, 0, 0, 0)),
            Some(at(2026, 3, 1, 9, 0, 0))
        );
        let mon = Schedule::parse("0 0 9 * * 1").unwrap();
        assert_eq!(
            mon.next_after(at(2026, 2, 27, 0, 0, 0)),
            Some(at(2026, 3, 2, 9, 0, 0))
        );
    }

    #[test]
    fn last_fire_at_or_before() {
        let s = Schedule::parse("0 */15 * * * *").unwrap();
        assert_eq!(
            s.last_at_or_before(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 1, 10, 0, 0))
        );
        assert_eq!(
            s.last_at_or_before(at(2026, 3, 1, 10, 15, 0)),
            Some(at(2026, 3, 1, 10, 15, 0))
        );
        let e = Schedule::parse("@every 10s").unwrap();
        assert_eq!(
            e.last_at_or_before(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 1, 10, 7, 0))
        );
    }

    #[test]
    fn nicknames_and_every() {
        let h = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            h.next_after(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 1, 11, 0, 0))
        );
        let d = Schedule::parse("@daily").unwrap();
        assert_eq!(
            d.next_after(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 2, 0, 0, 0))
        );
        let e = Schedule::parse("@every 5m").unwrap();
        assert_eq!(
            e.next_after(at(2026, 3, 1, 10, 7, 3)),
            Some(at(2026, 3, 1, 10, 10, 0))
        );
        assert_eq!(e.period(at(2026, 3, 1, 0, 0, 0)), TimeDelta::minutes(5));
    }

    #[test]
    fn bad_schedules_say_why() {
        let e = Schedule::parse("*/15 * * * *").unwrap_err().0;
        assert!(
            e.contains("5 fields") && e.contains("0 */15 * * * *"),
            "{e}"
        );
        assert!(Schedule::parse("0 61 * * * *").is_err());
        assert!(Schedule::parse("@every").is_err());
        assert!(
            Schedule::parse("@every 5x")
                .unwrap_err()
                .0
                .contains("unknown unit")
        );
        assert!(Schedule::parse("@sometimes").is_err());
        assert!(Schedule::parse("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5").is_err());
        for d in ["90s", "5m", "2h", "3d", "250ms"] {
            assert_eq!(format_duration(parse_duration(d).unwrap()), d);
        }
    }

    #[test]
    fn job_names_round_trip() {
        for j in JobName::ALL {
            assert_eq!(j.as_str().parse::<JobName>().unwrap(), j);
        }
        assert!("push_to_lingxin".parse::<JobName>().is_err());
    }
}
