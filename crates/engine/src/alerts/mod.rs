//! Alerts: raised from the store's state after every run, delivered to chat bots by a sender.
//!
//! - `evaluate`: the conditions that hold now (needs-attention causes, failing jobs, refused
//!   credentials, a held stock guard, pair conflicts), turned into open / resolved transitions by
//!   [`domain::alert::transitions`] and written with the alert state and the outbox in one store
//!   transaction ([`store::AlertStore::apply_alerts`]). It runs after each run record is closed.
//! - `format`: one message (or a digest of many) per bot format: generic JSON with an
//!   HMAC-SHA256 `X-Signature`, WeCom markdown, DingTalk markdown with the signed URL, Feishu
//!   interactive card with the signed body (api/alerts.md), and how each bot answers.
//! - `sender`: reads the outbox per channel, honours each bot's rate limit by batching a burst
//!   into a digest, retries transient failures with back-off, records refusals with the bot's
//!   message. The webhook URL and signing secret never reach a log line or an error text.

mod evaluate;
mod format;
mod sender;

use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use domain::Lang;
use domain::alert::{AlertKind, Severity};
use secret::Secret;

pub use evaluate::{DEFAULT_FAILING_RUNS, Thresholds, conditions, evaluate};
pub use format::{Answer, Post, render};
pub use sender::{Sender, send_test};

/// A bot's message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Generic,
    WeCom,
    DingTalk,
    Feishu,
}

impl Format {
    /// Messages per minute the bot takes (api/alerts.md); a burst past it becomes a digest.
    pub fn per_minute(self) -> usize {
        match self {
            Format::WeCom | Format::DingTalk => 20,
            Format::Feishu => 100,
            Format::Generic => 60,
        }
    }
    /// The least time between two posts (Feishu: 5 per second).
    pub fn spacing(self) -> Duration {
        match self {
            Format::Feishu => Duration::from_millis(250),
            _ => Duration::ZERO,
        }
    }
    /// The most bytes a message body may carry.
    pub fn max_bytes(self) -> usize {
        match self {
            Format::WeCom => 4000,
            Format::Feishu => 18_000,
            Format::DingTalk => 18_000,
            Format::Generic => 256_000,
        }
    }
}

/// One alert channel (an `[[alerts]]` entry).
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub format: Format,
    /// The bot URL, key included: a secret.
    pub url: Secret,
    pub sign_secret: Option<Secret>,
    pub min_severity: Severity,
    /// Only these kinds (empty: all).
    pub kinds: Vec<AlertKind>,
    /// Starts every message.
    pub keyword: Option<String>,
    /// Non-critical alerts wait until it ends (display time zone).
    pub quiet_hours: Option<(NaiveTime, NaiveTime)>,
}

/// What the sender needs: the channels, the message language and time zone, the console link.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub channels: Vec<Channel>,
    pub lang: Lang,
    pub tz: Tz,
    /// The console as the team reaches it (`https://console.example.com`); links are paths
    /// without it.
    pub public_url: Option<String>,
    /// How often the sender looks at the outbox.
    pub poll_every: Duration,
    /// One post's timeout.
    pub timeout: Duration,
    /// Transient failures are retried this many times before the delivery is given up.
    pub max_attempts: i64,
}

impl AlertConfig {
    pub fn new(channels: Vec<Channel>, lang: Lang, tz: Tz, public_url: Option<String>) -> Self {
        AlertConfig {
            channels,
            lang,
            tz,
            public_url,
            poll_every: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_attempts: 8,
        }
    }

    /// The console link of a path.
    pub fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(u) => format!("{}{path}", u.trim_end_matches('/')),
            None => path.to_owned(),
        }
    }
}

/// Whether `t` (a time of day in the display zone) is inside the window `[from, to)`, which may
/// wrap past midnight.
pub fn in_quiet_hours(window: (NaiveTime, NaiveTime), t: NaiveTime) -> bool {
    let (from, to) = window;
    if from < to {
        from <= t && t < to
    } else {
        t >= from || t < to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let h = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        assert!(in_quiet_hours((h(22), h(7)), h(23)));
        assert!(in_quiet_hours((h(22), h(7)), h(3)));
        assert!(!in_quiet_hours((h(22), h(7)), h(7)));
        assert!(!in_quiet_hours((h(22), h(7)), h(12)));
        assert!(in_quiet_hours((h(12), h(14)), h(13)));
        assert!(!in_quiet_hours((h(12), h(14)), h(15)));
    }
}
