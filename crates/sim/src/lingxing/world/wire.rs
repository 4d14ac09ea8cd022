//! Reading request values and rendering times the way LingXing does.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use rand::Rng;
use rand::rngs::StdRng;
use rust_decimal::Decimal;
use serde_json::Value;

pub(super) fn fmt_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub(super) fn unix_or_zero(t: Option<DateTime<Utc>>) -> i64 {
    t.map(|t| t.timestamp()).unwrap_or(0)
}

pub(crate) fn response_time(now: DateTime<Utc>) -> String {
    fmt_local(now)
}

pub(super) fn request_id(rng: &mut StdRng) -> String {
    format!("{:032x}.{}", rng.random::<u128>(), rng.random::<u32>())
}

pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn num(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn decimal(v: &Value) -> Option<Decimal> {
    text(v).and_then(|s| s.parse().ok())
}

pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

/// Start of the local (Asia/Shanghai) day `d` plus `plus_days`.
pub(super) fn local_day(d: &str, plus_days: i64) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    let t = Shanghai
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(t.with_timezone(&Utc) + TimeDelta::days(plus_days))
}

pub(super) fn local_time(s: &str) -> Option<DateTime<Utc>> {
    let n = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Shanghai
        .from_local_datetime(&n)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}
