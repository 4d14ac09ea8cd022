//! Reconciliation `/reconcile`: the latest findings of the `reconcile` job and command (open
//! first), counted and filtered by kind, each linking to its order; and the open findings one
//! order page shows ([`order_findings`]).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use domain::Lang;
use domain::reconcile::FindingKind;
use store::FindingRecord;

use super::fmt::{TimeCell, po_href, time};
use super::layout::{Cx, Layout, render, store_error};

/// One finding as the pages show it.
pub(super) struct FindingView {
    pub(super) po: String,
    pub(super) href: String,
    pub(super) kind: &'static str,
    pub(super) class: &'static str,
    pub(super) code: &'static str,
    pub(super) message: &'static str,
    pub(super) action: &'static str,
    pub(super) detail: String,
    pub(super) found: TimeCell,
    pub(super) seen: TimeCell,
    pub(super) resolved: Option<TimeCell>,
    pub(super) run_id: String,
}

/// The badge colour of a kind (the console's reason-kind colours): behind resolves by itself.
fn class_of(k: FindingKind) -> &'static str {
    match k {
        FindingKind::Behind => "k-waiting",
        FindingKind::Ahead => "k-retrying",
        FindingKind::Diverged => "k-needs_attention",
    }
}

pub(super) fn view(f: &FindingRecord, lang: Lang, tz: chrono_tz::Tz) -> FindingView {
    FindingView {
        po: f.po.to_string(),
        href: po_href(f.po.as_str()),
        kind: f.kind().label(lang),
        class: class_of(f.kind()),
        code: f.code.as_str(),
        message: f.code.message(lang),
        action: f.code.action(lang),
        detail: f.detail.clone(),
        found: time(f.found_at, tz),
        seen: time(f.seen_at, tz),
        resolved: f.resolved_at.map(|t| time(t, tz)),
        run_id: f.run_id.clone(),
    }
}

/// The open findings of one order, for its page (empty on a store error: the page still shows).
pub(super) async fn order_findings(cx: &Cx, po: &domain::PoNumber) -> Vec<FindingView> {
    match cx.store.open_findings_of(po).await {
        Ok(v) => v.iter().map(|f| view(f, cx.lang(), cx.tz)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "reconciliation findings could not be read");
            Vec::new()
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ReconcileQuery {
    #[serde(default)]
    kind: String,
}

pub(super) struct KindTab {
    pub(super) href: &'static str,
    pub(super) label: String,
    pub(super) count: i64,
    pub(super) on: bool,
    pub(super) class: &'static str,
}

#[derive(Template)]
#[template(path = "reconcile.html")]
struct ReconcilePage {
    l: Layout,
    tabs: Vec<KindTab>,
    error: String,
    findings: Vec<FindingView>,
}

pub(super) async fn reconcile(cx: Cx, Query(q): Query<ReconcileQuery>) -> Response {
    let l = cx.layout("reconcile", "reconcile.title");
    let (lang, tz) = (cx.lang(), cx.tz);
    let (kind, error) = match q.kind.as_str() {
        "" => (None, String::new()),
        k => match FindingKind::parse(k) {
            Some(k) => (Some(k), String::new()),
            None => (
                None,
                format!("kind: unknown `{k}` (behind, ahead or diverged)"),
            ),
        },
    };
    let counts = match cx.store.open_finding_counts().await {
        Ok(c) => c,
        Err(e) => return store_error(l, e),
    };
    let list = match cx.store.findings(kind, false, 300).await {
        Ok(v) => v,
        Err(e) => return store_error(l, e),
    };
    let count = |k: FindingKind| -> i64 {
        counts
            .iter()
            .filter(|(c, _)| c.kind() == k)
            .map(|(_, n)| n)
            .sum()
    };
    let mut tabs = vec![KindTab {
        href: "/reconcile",
        label: l.t.t("reconcile.all").to_owned(),
        count: counts.values().sum(),
        on: kind.is_none(),
        class: "",
    }];
    for (k, href) in [
        (FindingKind::Behind, "/reconcile?kind=behind"),
        (FindingKind::Ahead, "/reconcile?kind=ahead"),
        (FindingKind::Diverged, "/reconcile?kind=diverged"),
    ] {
        tabs.push(KindTab {
            href,
            label: k.label(lang).to_owned(),
            count: count(k),
            on: kind == Some(k),
            class: class_of(k),
        });
    }
    let findings = list.iter().map(|f| view(f, lang, tz)).collect();
    render(ReconcilePage {
        l,
        tabs,
        error,
        findings,
    })
}
