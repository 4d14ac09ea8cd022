//! Audit log `/audit`.

use askama::Template;
use axum::response::Response;
use chrono_tz::Tz;
use serde_json::Value;

use super::fmt::{TimeCell, time};
use super::layout::{Cx, Layout, render, store_error};

pub(super) struct AuditView {
    pub(super) at: TimeCell,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) target: String,
    pub(super) reason: String,
    pub(super) detail: String,
}

pub(super) fn audit_view(a: &store::AuditRecord, tz: Tz) -> AuditView {
    let e = &a.entry;
    AuditView {
        at: time(e.at, tz),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        reason: e.reason.clone(),
        detail: match &e.detail {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        },
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    audit: Vec<AuditView>,
}

/// The audit log, most recent first.
pub(super) async fn audit(cx: Cx) -> Response {
    let l = cx.layout("audit", "audit.title");
    match cx.store.audit_log(300).await {
        Ok(rows) => render(AuditPage {
            audit: rows.iter().map(|a| audit_view(a, cx.tz)).collect(),
            l,
        }),
        Err(e) => store_error(l, e),
    }
}
