//! Alerts `/alerts`: the open alerts, the resolved ones, and each delivery per channel with its
//! attempts and the bot's answer (a refusal shows the bot's message).

use askama::Template;
use axum::response::Response;
use domain::alert::{Severity, Transition};
use store::DeliveryState;

use super::fmt::{TimeCell, time};
use super::layout::{Cx, Layout, render, store_error};

pub(super) struct AlertView {
    pub(super) severity: &'static str,
    /// The badge class: the console's reason-kind colours.
    pub(super) class: &'static str,
    pub(super) headline: String,
    pub(super) key: String,
    pub(super) facts: Vec<(String, String)>,
    pub(super) href: String,
    pub(super) opened: TimeCell,
    pub(super) resolved: Option<TimeCell>,
}

pub(super) struct DeliveryView {
    pub(super) id: i64,
    pub(super) key: String,
    pub(super) transition: String,
    pub(super) channel: String,
    pub(super) state: String,
    pub(super) class: &'static str,
    pub(super) attempts: i64,
    pub(super) answer: String,
    pub(super) at: TimeCell,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    l: Layout,
    open: Vec<AlertView>,
    resolved: Vec<AlertView>,
    deliveries: Vec<DeliveryView>,
}

/// The alerts page.
pub(super) async fn alerts(cx: Cx) -> Response {
    let l = cx.layout("alerts", "alerts.title");
    let (lang, tz) = (cx.lang(), cx.tz);
    let list = match cx.store.alert_list(200).await {
        Ok(v) => v,
        Err(e) => return store_error(l, e),
    };
    let deliveries = match cx.store.recent_deliveries(200).await {
        Ok(v) => v,
        Err(e) => return store_error(l, e),
    };
    let (mut open, mut resolved) = (Vec::new(), Vec::new());
    for r in &list {
        let a = &r.alert;
        let v = AlertView {
            severity: a.severity.label(lang),
            class: match a.severity {
                Severity::Critical => "k-needs_attention",
                Severity::Warning => "k-retrying",
                Severity::Info => "k-waiting",
            },
            headline: a.headline(lang),
            key: a.key.clone(),
            facts: a.fact_lines(lang),
            href: a.path.clone(),
            opened: time(r.opened_at, tz),
            resolved: r.resolved_at.map(|t| time(t, tz)),
        };
        if a.transition == Transition::Open {
            open.push(v);
        } else {
            resolved.push(v);
        }
    }
    let tr = |k: &str| l.t.t(k).to_owned();
    let deliveries = deliveries
        .iter()
        .filter(|d| d.state != DeliveryState::Skipped)
        .map(|d| DeliveryView {
            id: d.outbox_id,
            key: d.alert_key.clone(),
            transition: tr(match d.transition {
                Transition::Open => "alerts.open",
                Transition::Resolved => "alerts.resolved",
            }),
            channel: d.channel.clone(),
            state: tr(match d.state {
                DeliveryState::Pending => "alerts.pending",
                DeliveryState::Delivered => "alerts.delivered",
                DeliveryState::Failed => "alerts.failed",
                DeliveryState::Skipped => "alerts.skipped",
            }),
            class: match d.state {
                DeliveryState::Failed => "k-needs_attention",
                DeliveryState::Pending => "k-retrying",
                _ => "k-waiting",
            },
            attempts: d.attempts,
            answer: d.answer.clone(),
            at: time(d.delivered_at.unwrap_or(d.created_at), tz),
        })
        .collect();
    render(AlertsPage {
        l,
        open,
        resolved,
        deliveries,
    })
}
