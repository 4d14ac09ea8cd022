//! The response envelopes and lenient field readers.
//!
//! Business answers: `{code:0, message, error_details, request_id, response_time, data, total}`;
//! `/erp/sc/*` carry `data` as an array with a top-level `total`, `/pb/mp/*` carry
//! `data:{total, list}`. Gateway and token answers: `{code:"…", msg, data}`. `code` is an int or a
//! string. A `code 0` answer with `data:null` and a message is a soft error.
//!
//! Field readers: ids as string or number, money as `Decimal` from string or number, counts from
//! int or string, LingXing local times (`Y-m-d H:i:s`, no zone) read in the zone set by
//! [`with_zone`]; `0000-00-00 00:00:00` and empty strings are absent.

use std::cell::Cell;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Code, LingxingError};

/// A parsed envelope. `data` stays JSON text until a caller decodes it into its own type, so a
/// list of a thousand orders is read once, straight into the typed rows.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub code: Code,
    pub message: String,
    /// `data`; `None` when absent or null.
    pub data: Option<Box<RawValue>>,
    pub total: Option<u64>,
    /// `response_time`: the server's clock, LingXing local time (`Y-m-d H:i:s`).
    pub response_time: Option<String>,
}

/// The envelope's fields as they arrive; `data` is kept as text.
/// A present key is `Some`, even when null (as `Map::get` reads it).
#[derive(Deserialize)]
struct Wire {
    #[serde(default, deserialize_with = "present")]
    code: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    message: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    msg: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    total: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    response_time: Option<Value>,
    data: Option<Box<RawValue>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Envelope {
    pub fn parse(bytes: &[u8]) -> Result<Envelope, String> {
        // An answer that is not a well-formed object (or repeats a key) takes the slow path, which
        // says what is wrong with it.
        if !bytes.trim_ascii_start().starts_with(b"{") {
            return Self::parse_value(bytes);
        }
        let Ok(w) = serde_json::from_slice::<Wire>(bytes) else {
            return Self::parse_value(bytes);
        };
        let code = match &w.code {
            Some(c) => value_text(c).ok_or_else(|| "response code is not a scalar".to_owned())?,
            None => return Err(format!("response has no code: {}", preview(bytes))),
        };
        let message = w
            .message
            .as_ref()
            .or(w.msg.as_ref())
            .and_then(value_text)
            .unwrap_or_default();
        Ok(Envelope {
            code: Code(code),
            message,
            data: w.data,
            total: w.total.as_ref().and_then(value_u64),
            response_time: w.response_time.as_ref().and_then(value_text),
        })
    }

    /// The same reading through a `Value`: for answers the typed reading refuses.
    fn parse_value(bytes: &[u8]) -> Result<Envelope, String> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("response is not JSON ({e}): {}", preview(bytes)))?;
        let Value::Object(mut m) = v else {
            return Err(format!("response is not a JSON object: {}", preview(bytes)));
        };
        let code = match m.get("code") {
            Some(c) => value_text(c).ok_or_else(|| "response code is not a scalar".to_owned())?,
            None => return Err(format!("response has no code: {}", preview(bytes))),
        };
        let message = m
            .get("message")
            .or_else(|| m.get("msg"))
            .and_then(value_text)
            .unwrap_or_default();
        let total = m.get("total").and_then(value_u64);
        let response_time = m.get("response_time").and_then(value_text);
        let data = match m.remove("data") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                serde_json::value::to_raw_value(&d)
                    .map_err(|e| format!("response data unreadable ({e})"))?,
            ),
        };
        Ok(Envelope {
            code: Code(code),
            message,
            data,
            total,
            response_time,
        })
    }

    pub fn is_business_success(&self) -> bool {
        self.code.is("0")
    }

    pub fn data_is_null(&self) -> bool {
        self.data.is_none()
    }

    /// `data` as a `Value` (null when absent).
    #[cfg(test)]
    pub fn data_value(&self) -> Value {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .unwrap_or(Value::Null)
    }
}

fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.chars().take(200).collect()
}

/// Scalar JSON as text (`"12"`, `12`, `true`); `None` for null, arrays and objects.
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Decodes `data` (JSON text) into `T`, classifying a mismatch as a malformed answer.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    v: &RawValue,
    zone: Tz,
    what: &str,
) -> Result<T, LingxingError> {
    with_zone(zone, || serde_json::from_str(v.get()))
        .map_err(|e| LingxingError::transient(format!("malformed {what} answer: {e}")))
}

thread_local! {
    static ZONE: Cell<Tz> = const { Cell::new(chrono_tz::Asia::Shanghai) };
}

/// Runs a (synchronous) decode with `zone` as the zone of LingXing local times. Deserialization
/// has no context parameter; a thread-local set around a synchronous call is safe because nothing
/// awaits in between.
pub fn with_zone<R>(zone: Tz, f: impl FnOnce() -> R) -> R {
    let prev = ZONE.with(|z| z.replace(zone));
    let out = f();
    ZONE.with(|z| z.set(prev));
    out
}

/// Parses a LingXing local time in `zone`. Absent for empty, zero dates and unparsable text.
pub fn parse_local_time(s: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000-00-00") {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        })
        .ok()?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Lenient serde readers for model fields.
pub mod de {
    use super::*;

    /// Id or text from a string or a number; null → empty.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(value_text(&v).unwrap_or_default())
    }

    /// Optional id or text; null and empty → `None`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(value_text(&v).filter(|s| !s.is_empty()))
    }

    /// List of ids from strings or numbers; null → empty.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match v {
            Value::Array(items) => items.iter().filter_map(value_text).collect(),
            other => value_text(&other).into_iter().collect(),
        })
    }

    /// Integer from a number or a numeric string; null or empty → 0.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(0),
            Value::String(s) if s.trim().is_empty() => Ok(0),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.to_string().parse::<f64>().ok().map(|f| f as i64))
                .ok_or_else(|| serde::de::Error::custom(format!("not an integer: {n}"))),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("not an integer: {s:?}"))),
            Value::Bool(b) => Ok(i64::from(*b)),
            other => Err(serde::de::Error::custom(format!("not an integer: {other}"))),
        }
    }

    /// Optional integer; null or empty → `None`.
    pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match &v {
            Value::Number(n) => n.as_i64().or_else(|| n.to_string().parse().ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// Money from `"19.99"`, `19.99` or null; unparsable (e.g. with a currency symbol) → `None`.
    pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match &v {
            Value::Number(n) => Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .ok(),
            Value::String(s) => Decimal::from_str(s.trim()).ok(),
            _ => None,
        })
    }

    /// Unix seconds (number or string) → time; 0, null and empty → `None`.
    pub fn opt_unix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let secs = opt_int(d)?;
        Ok(secs
            .filter(|s| *s > 0)
            .and_then(|s| Utc.timestamp_opt(s, 0).single()))
    }

    /// LingXing local time (`Y-m-d H:i:s`) in the zone of [`with_zone`].
    pub fn opt_local_time<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let v = Value::deserialize(d)?;
        let zone = ZONE.with(|z| z.get());
        Ok(match &v {
            Value::String(s) => parse_local_time(s, zone),
            _ => None,
        })
    }

    /// Boolean from `true`, `1` or `"1"`.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match &v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
            Value::String(s) => matches!(s.trim(), "1" | "true"),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_as_int_or_string_and_msg_or_message() {
        let e = Envelope::parse(
            br#"{"code":"2001006","msg":"api sign not correct","data":{"throwable":"x"}}"#,
        )
        .unwrap();
        assert_eq!(e.code.as_str(), "2001006");
        assert_eq!(e.message, "api sign not correct");
        let e =
            Envelope::parse(br#"{"code":0,"message":"success","data":[],"total":"3"}"#).unwrap();
        assert!(e.is_business_success());
        assert_eq!(e.total, Some(3));
    }

    /// The typed reading and the `Value` reading agree on every answer, odd ones included.
    #[test]
    fn typed_reading_equals_the_value_reading() {
        let answers: [&[u8]; 12] = [
            br#"{"code":0,"message":"success","data":{"total":2,"list":[{"a":1},{"a":2}]}}"#,
            br#"{"code":"0","msg":"ok","data":[1,2],"total":"7"}"#,
            br#"{"code":0,"message":null,"msg":"from msg","data":null}"#,
            br#"{"code":null,"data":1}"#,
            br#"{"message":"no code"}"#,
            br#"{"code":0,"code":1,"data":[]}"#,
            br#"  {"code":3001008,"message":"throttled","total":null}"#,
            br#"{"code":0,"data":{"nested":{"deep":[true,false,null]}},"extra":{"x":[1]}}"#,
            br#"[{"code":0}]"#,
            br#"not json"#,
            br#"{"code":[1],"data":2}"#,
            br#"{"code":0,"message":"success","data":"text","total":-1}"#,
        ];
        for a in answers {
            let typed = Envelope::parse(a);
            let slow = Envelope::parse_value(a);
            let show = |e: &Result<Envelope, String>| match e {
                Ok(e) => format!(
                    "{}|{}|{}|{:?}",
                    e.code.as_str(),
                    e.message,
                    e.data_value(),
                    e.total
                ),
                Err(m) => format!("error {m}"),
            };
            assert_eq!(show(&typed), show(&slow), "{}", String::from_utf8_lossy(a));
        }
        let e = Envelope::parse(br#"{"code":0,"data":null}"#).unwrap();
        assert!(e.data_is_null());
        let e = Envelope::parse(br#"{"code":0}"#).unwrap();
        assert!(e.data_is_null());
    }

    #[test]
    fn local_times_in_zone() {
        let t = parse_local_time("2023-08-01 15:09:28", chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(t.to_rfc3339(), "2023-08-01T07:09:28+00:00");
        assert_eq!(
            parse_local_time("0000-00-00 00:00:00", chrono_tz::UTC),
            None
        );
        assert_eq!(parse_local_time("", chrono_tz::UTC), None);
    }
}
