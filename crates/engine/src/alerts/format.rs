//! One post per bot format, and how each bot answers (api/alerts.md).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use domain::Lang;
use domain::alert::{Alert, Severity, Transition};
use ring::hmac;
use secret::Secret;
use serde_json::{Value, json};

use super::{AlertConfig, Channel, Format};

/// An HTTP POST ready to go. The URL carries the bot's key: Debug shows it redacted.
pub struct Post {
    pub url: Secret,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for Post {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Post")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|h| h.0).collect::<Vec<_>>(),
            )
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// How a post went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The bot took it; its answer.
    Delivered(String),
    /// The bot refused it (a non-zero code, a 4xx): retrying will not help. The bot's message.
    Refused(String),
    /// Try again later (a timeout, a 5xx, a 429, a throttling code).
    Transient(String),
}

/// Texts in the configured language.
fn t(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    B64.encode(hmac::sign(&k, msg).as_ref())
}

/// DingTalk's `sign` for `timestamp_ms` (before URL encoding): HMAC-SHA256 with the secret as key
/// over `timestamp + "\n" + secret`, base64.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_b64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// Feishu's `sign` for `timestamp_s`: HMAC-SHA256 with `timestamp + "\n" + secret` as key over
/// nothing, base64.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    hmac_b64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The generic webhook's `X-Signature`: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn generic_signature(secret: &str, body: &[u8]) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&k, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

struct Item<'a> {
    alert: &'a Alert,
    title: String,
    link: String,
    at: String,
}

fn prefix(ch: &Channel) -> String {
    match &ch.keyword {
        Some(k) => format!("{k} "),
        None => String::new(),
    }
}

/// The post of `alerts` (raised at the times given) to `ch`: one alert, or a digest of several.
pub fn render(
    ch: &Channel,
    cfg: &AlertConfig,
    alerts: &[(Alert, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Post {
    let lang = cfg.lang;
    let items: Vec<Item> = alerts
        .iter()
        .map(|(a, at)| Item {
            alert: a,
            title: a.title(lang),
            link: cfg.link(&a.path),
            at: format!(
                "{} ({})",
                at.with_timezone(&cfg.tz).format("%Y-%m-%d %H:%M:%S"),
                cfg.tz.name()
            ),
        })
        .collect();
    let digest = items.len() > 1;
    let kw = prefix(ch);
    let title = if digest {
        match lang {
            Lang::Zh => format!("{kw}告警汇总：{} 条", items.len()),
            Lang::En => format!("{kw}Alert digest: {} alerts", items.len()),
        }
    } else {
        format!("{kw}{}", items.first().map_or("", |i| i.title.as_str()))
    };
    let budget = ch.format.max_bytes().saturating_sub(title.len() + 600);
    let url = ch.url.expose().to_owned();
    match ch.format {
        Format::Generic => {
            let list: Vec<Value> = items
                .iter()
                .zip(alerts)
                .map(|(i, (_, at))| {
                    json!({
                        "key": i.alert.key,
                        "kind": i.alert.kind.as_str(),
                        "severity": i.alert.severity.as_str(),
                        "transition": i.alert.transition.as_str(),
                        "subject": i.alert.subject,
                        "title": i.title,
                        "facts": i.alert.facts,
                        "link": i.link,
                        "raised_at": at.to_rfc3339(),
                    })
                })
                .collect();
            let body = serde_json::to_vec(&json!({
                "source": "dsco-lingxing",
                "sent_at": now.to_rfc3339(),
                "digest": digest,
                "title": title,
                "alerts": list,
            }))
            .expect("JSON serializes");
            let mut headers = vec![("content-type", "application/json".to_owned())];
            if let Some(s) = &ch.sign_secret {
                headers.push(("x-signature", generic_signature(s.expose(), &body)));
            }
            Post {
                url: Secret::new(url),
                headers,
                body,
            }
        }
        Format::WeCom | Format::DingTalk => {
            let text = markdown(&title, &items, lang, budget, ch.format == Format::WeCom);
            let body = if ch.format == Format::WeCom {
                json!({"msgtype": "markdown", "markdown": {"content": text}})
            } else {
                json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
            };
            let url = match (&ch.sign_secret, ch.format) {
                (Some(s), Format::DingTalk) => {
                    let ts = now.timestamp_millis();
                    let sign = dingtalk_sign(s.expose(), ts);
                    match reqwest::Url::parse(&url) {
                        Ok(mut u) => {
                            u.query_pairs_mut()
                                .append_pair("timestamp", &ts.to_string())
                                .append_pair("sign", &sign);
                            u.to_string()
                        }
                        Err(_) => url,
                    }
                }
                _ => url,
            };
            Post {
                url: Secret::new(url),
                headers: vec![("content-type", "application/json".to_owned())],
                body: serde_json::to_vec(&body).expect("JSON serializes"),
            }
        }
        Format::Feishu => {
            let mut md = String::new();
            if digest {
                list_lines(&mut md, &items, lang, budget, true);
            } else if let Some(i) = items.first() {
                for (k, v) in i.alert.fact_lines(lang) {
                    md.push_str(&format!("**{k}**: {}\n", md_escape(&v)));
                }
                md.push_str(&format!("**{}**: {}\n", t(lang, "时间", "time"), i.at));
            }
            let template = match items.first().map(|i| i.alert) {
                Some(a) if !digest && a.transition == Transition::Resolved => "green",
                Some(a) if !digest && a.severity == Severity::Critical => "red",
                _ => "orange",
            };
            let link = items
                .first()
                .map(|i| {
                    if digest {
                        cfg.link("/alerts")
                    } else {
                        i.link.clone()
                    }
                })
                .unwrap_or_default();
            let mut body = json!({
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {"title": {"tag": "plain_text", "content": title}, "template": template},
                    "elements": [
                        {"tag": "div", "text": {"tag": "lark_md", "content": md}},
                        {"tag": "action", "actions": [{
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": t(lang, "在控制台查看", "Open in the console")},
                            "type": "primary",
                            "url": link,
                        }]},
                    ],
                },
            });
            if let Some(s) = &ch.sign_secret {
                let ts = now.timestamp();
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(s.expose(), ts));
            }
            Post {
                url: Secret::new(url),
                headers: vec![("content-type", "application/json".to_owned())],
                body: serde_json::to_vec(&body).expect("JSON serializes"),
            }
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn markdown(title: &str, items: &[Item], lang: Lang, budget: usize, wecom: bool) -> String {
    let mut out = String::new();
    if items.len() > 1 {
        out.push_str(&format!("### {title}\n"));
        list_lines(&mut out, items, lang, budget, false);
        return out;
    }
    let Some(i) = items.first() else {
        return title.to_owned();
    };
    let head = if wecom {
        let color = match (i.alert.transition, i.alert.severity) {
            (Transition::Resolved, _) => "info",
            (_, Severity::Critical) => "warning",
            _ => "comment",
        };
        format!("### <font color=\"{color}\">{title}</font>\n")
    } else {
        format!("### {title}\n")
    };
    out.push_str(&head);
    for (k, v) in i.alert.fact_lines(lang) {
        let line = format!("> {k}: {}\n", md_escape(&v));
        if out.len() + line.len() > budget {
            break;
        }
        out.push_str(&line);
    }
    out.push_str(&format!("> {}: {}\n\n", t(lang, "时间", "time"), i.at));
    out.push_str(&format!(
        "[{}]({})",
        t(lang, "在控制台查看", "Open in the console"),
        i.link
    ));
    out
}

/// `- title ([link])` per alert while they fit in `budget` bytes, then "and N more".
fn list_lines(out: &mut String, items: &[Item], lang: Lang, budget: usize, _feishu: bool) {
    let start = out.len();
    for (n, i) in items.iter().enumerate() {
        let line = format!(
            "- {} [{}]({})\n",
            md_escape(&i.title),
            t(lang, "查看", "view"),
            i.link
        );
        if out.len() - start + line.len() > budget {
            let rest = items.len() - n;
            out.push_str(&match lang {
                Lang::Zh => format!("- …另有 {rest} 条，见控制台告警页\n"),
                Lang::En => format!("- … and {rest} more on the console's alerts page\n"),
            });
            return;
        }
        out.push_str(&line);
    }
}

/// The bot's answer to a post: HTTP `status` and `body`.
pub fn answer(format: Format, status: u16, body: &str) -> Answer {
    let short: String = body.chars().take(500).collect();
    if status == 429 || status >= 500 {
        return Answer::Transient(format!("HTTP {status}: {short}"));
    }
    if !(200..300).contains(&status) {
        return Answer::Refused(format!("HTTP {status}: {short}"));
    }
    if format == Format::Generic {
        return Answer::Delivered(format!("HTTP {status}"));
    }
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return Answer::Refused(format!("HTTP {status}, not the bot's JSON: {short}")),
    };
    let code = ["errcode", "code", "StatusCode"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_i64));
    let msg = ["errmsg", "msg", "StatusMessage"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or("");
    match code {
        Some(0) => Answer::Delivered(short),
        // Throttled: WeCom 45009, DingTalk 130101 (send too fast), Feishu 9499 / 11232.
        Some(c @ (45009 | 130101 | 9499 | 11232)) => Answer::Transient(format!("{c} {msg}")),
        Some(c) => Answer::Refused(format!("{c} {msg}")),
        None => Answer::Refused(format!("no code in the answer: {short}")),
    }
}
