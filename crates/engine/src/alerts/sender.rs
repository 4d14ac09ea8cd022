//! The sender: the outbox, per channel, to the bots.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use domain::alert::{Alert, AlertKind, Condition, Severity, Transition, routes_to};
use store::{DeliveryState, OutboxEntry, Store, StoreError};
use tokio::sync::watch;

use super::format::{answer, render};
use super::{AlertConfig, Answer, Channel, Post, in_quiet_hours};

/// How far back the sender looks in the outbox (older rows are history).
const LOOK_BACK: TimeDelta = TimeDelta::hours(24);
/// How long a claim keeps another sender off a delivery.
const CLAIM: Duration = Duration::from_secs(120);
/// The most alerts one digest lists (the rest go in the next one).
const DIGEST_SIZE: usize = 25;

/// Delivers the outbox to the channels.
pub struct Sender {
    store: Arc<dyn Store>,
    clock: Clock,
    cfg: Arc<AlertConfig>,
    http: reqwest::Client,
    /// Posts per channel in the last minute (the rate limit).
    sent: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// Posts `post`; the answer, never the URL (it carries the bot's key).
async fn post(http: &reqwest::Client, ch: &Channel, p: Post) -> Answer {
    let mut req = http.post(p.url.expose()).body(p.body);
    for (k, v) in p.headers {
        req = req.header(k, v);
    }
    match req.send().await {
        Err(e) => Answer::Transient(e.without_url().to_string()),
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            answer(ch.format, status, &body)
        }
    }
}

/// Sends a test message to `ch` and returns the bot's answer (`alert test`).
pub async fn send_test(cfg: &AlertConfig, ch: &Channel, now: DateTime<Utc>) -> Answer {
    let a = Alert {
        key: "test".into(),
        kind: AlertKind::Test,
        severity: Severity::Info,
        subject: ch.name.clone(),
        transition: Transition::Open,
        facts: BTreeMap::from([("subject".into(), ch.name.clone())]),
        path: "/alerts".into(),
    };
    let p = render(ch, cfg, &[(a, now)], now);
    post(&client(cfg.timeout), ch, p).await
}

impl Sender {
    pub fn new(store: Arc<dyn Store>, clock: Clock, cfg: Arc<AlertConfig>) -> Sender {
        Sender {
            store,
            clock,
            http: client(cfg.timeout),
            cfg,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Delivers until `stop` turns true, looking at the outbox every `poll_every`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(channels = self.cfg.channels.len(), "alert sender started");
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "alert delivery could not read or write the store");
            }
            tokio::select! {
                _ = self.clock.sleep(self.cfg.poll_every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One pass over every channel; the number of posts made.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let mut posts = 0;
        for ch in &self.cfg.channels {
            posts += self.deliver(ch).await?;
        }
        Ok(posts)
    }

    /// Posts left this minute on `ch`.
    fn budget(&self, ch: &Channel, now: DateTime<Utc>) -> usize {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let q = sent.entry(ch.name.clone()).or_default();
        while q
            .front()
            .is_some_and(|t| *t <= now - TimeDelta::seconds(60))
        {
            q.pop_front();
        }
        ch.format.per_minute().saturating_sub(q.len())
    }

    fn note_sent(&self, ch: &Channel, now: DateTime<Utc>) {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.entry(ch.name.clone()).or_default().push_back(now);
    }

    async fn deliver(&self, ch: &Channel) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let budget = self.budget(ch, now);
        if budget == 0 {
            return Ok(0);
        }
        let entries = self
            .store
            .claim_outbox(&ch.name, now - LOOK_BACK, now, CLAIM, 500)
            .await?;
        let mut ready: Vec<OutboxEntry> = Vec::new();
        let local = now.with_timezone(&self.cfg.tz).time();
        let quiet = ch.quiet_hours.filter(|w| in_quiet_hours(*w, local));
        for e in entries {
            let a = &e.alert;
            let own_failure = a.kind == AlertKind::ChannelFailing && a.subject == ch.name;
            if own_failure || !routes_to(a, ch.min_severity, &ch.kinds) {
                self.record(
                    &e,
                    ch,
                    DeliveryState::Skipped,
                    "not routed to this channel",
                    now,
                )
                .await?;
            } else if let Some((_, end)) = quiet
                && a.severity < Severity::Critical
            {
                // Waits for the end of the window (the next minute at most past it).
                let wait = (end - local).num_seconds().rem_euclid(24 * 3600).max(60);
                self.store
                    .record_delivery(
                        e.id,
                        &ch.name,
                        DeliveryState::Pending,
                        "quiet hours",
                        now + TimeDelta::seconds(wait),
                        now,
                    )
                    .await?;
            } else {
                ready.push(e);
            }
        }
        if ready.is_empty() {
            return Ok(0);
        }
        // Within the limit: one post per alert. A burst past it: digests, as few as fit.
        let size = if ready.len() <= budget {
            1
        } else {
            DIGEST_SIZE.max(ready.len().div_ceil(budget))
        };
        let mut posts = 0;
        let mut groups = ready.chunks(size).peekable();
        while let Some(group) = groups.next() {
            let now = self.clock.now();
            let items: Vec<(Alert, DateTime<Utc>)> = group
                .iter()
                .map(|e| (e.alert.clone(), e.created_at))
                .collect();
            let p = render(ch, &self.cfg, &items, now);
            let ans = post(&self.http, ch, p).await;
            self.note_sent(ch, now);
            posts += 1;
            self.settle(ch, group, ans, now).await?;
            if groups.peek().is_some() && !ch.format.spacing().is_zero() {
                tokio::time::sleep(ch.format.spacing()).await;
            }
        }
        Ok(posts)
    }

    async fn record(
        &self,
        e: &OutboxEntry,
        ch: &Channel,
        state: DeliveryState,
        answer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store
            .record_delivery(e.id, &ch.name, state, answer, now, now)
            .await
    }

    async fn settle(
        &self,
        ch: &Channel,
        group: &[OutboxEntry],
        ans: Answer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let n = group.len();
        // Some(None): delivered; Some(Some(answer)): given up; None: to be retried.
        let mut failed = None;
        match &ans {
            Answer::Delivered(text) => {
                tracing::info!(channel = %ch.name, alerts = n, "alert delivered");
                for e in group {
                    self.record(e, ch, DeliveryState::Delivered, text, now)
                        .await?;
                }
                failed = Some(None);
            }
            Answer::Refused(text) => {
                tracing::warn!(channel = %ch.name, alerts = n, answer = %text, "the bot refused the alert");
                for e in group {
                    self.record(e, ch, DeliveryState::Failed, text, now).await?;
                }
                failed = Some(Some(text.clone()));
            }
            Answer::Transient(text) => {
                for e in group {
                    let attempts = e.attempts + 1;
                    if attempts >= self.cfg.max_attempts {
                        let msg = format!("gave up after {attempts} attempts: {text}");
                        self.record(e, ch, DeliveryState::Failed, &msg, now).await?;
                        failed = Some(Some(msg));
                    } else {
                        let secs = (10i64 << attempts.min(6)).min(600);
                        self.store
                            .record_delivery(
                                e.id,
                                &ch.name,
                                DeliveryState::Pending,
                                text,
                                now + TimeDelta::seconds(secs),
                                now,
                            )
                            .await?;
                    }
                }
                tracing::warn!(channel = %ch.name, alerts = n, answer = %text, "alert delivery failed; it will be retried");
            }
        }
        match failed {
            Some(f) => self.channel_state(ch, f, now).await,
            None => Ok(()),
        }
    }

    /// A channel that gave up on a delivery raises an alert on the others; its next delivery
    /// resolves it.
    async fn channel_state(
        &self,
        ch: &Channel,
        failed: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let c = Condition {
            key: format!("channel_failing:{}", ch.name),
            kind: AlertKind::ChannelFailing,
            severity: Severity::Critical,
            subject: ch.name.clone(),
            facts: BTreeMap::from([("answer".into(), failed.clone().unwrap_or_default())]),
            path: "/alerts".into(),
        };
        let t = match failed {
            Some(_) => Transition::Open,
            None => Transition::Resolved,
        };
        self.store.apply_alerts(&[Alert::of(&c, t)], now).await?;
        Ok(())
    }
}
