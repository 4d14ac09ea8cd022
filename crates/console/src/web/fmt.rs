//! Times in the display zone, ages, labels in the chosen language, links and query strings.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use domain::{JobName, ReasonKind, Stage};

use crate::i18n::{Lang, Tr};

/// A time in the display zone, with UTC for the hover.
#[derive(Debug, Clone)]
pub(super) struct TimeCell {
    pub(super) local: String,
    pub(super) utc: String,
}

pub(super) fn time(t: DateTime<Utc>, tz: Tz) -> TimeCell {
    TimeCell {
        local: t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        utc: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

/// A duration as operators read it: `2d 3h`, `3h 12m`, `5m 2s`, `40s`.
pub(super) fn age(d: TimeDelta, lang: Lang) -> String {
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

pub(super) fn stage_label(s: Stage, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.label_en(),
    }
}

pub(super) fn kind_label(tr: &Tr, k: ReasonKind) -> String {
    tr.t(&format!("kind.{}", k.as_str())).to_owned()
}

pub(super) fn job_describe(j: JobName, lang: Lang) -> &'static str {
    let (en, zh) = j.describe();
    if lang == Lang::Zh { zh } else { en }
}

/// `application/x-www-form-urlencoded` of `pairs`, empty values left out.
pub(super) fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

pub(super) fn po_href(po: &str) -> String {
    format!(
        "/orders/{}",
        url::form_urlencoded::byte_serialize(po.as_bytes()).collect::<String>()
    )
}

pub(super) fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The start of day `v` (`YYYY-MM-DD`, empty: `None`) in `tz`, or of the day after with `next`
/// (an inclusive "to" date); a bad date names `field`.
pub(super) fn day_start(
    field: &str,
    v: &str,
    tz: Tz,
    next: bool,
) -> Result<Option<DateTime<Utc>>, String> {
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

pub(super) fn dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("–").to_owned()
}

pub(super) struct SelectOption {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
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
}
