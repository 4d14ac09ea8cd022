//! The alerts page: open and resolved alerts, deliveries per channel with the bot's answer.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use domain::alert::{Alert, AlertKind, Severity, Transition};
use store::DeliveryState;

use super::World;

pub(super) async fn alerts_page_shows_open_resolved_and_answers(w: &World) {
    let t = |s| Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, s).unwrap();
    let mk = |key: &str, kind, facts: &[(&str, &str)], tr| Alert {
        key: key.into(),
        kind,
        severity: Severity::Critical,
        subject: "push_to_lingxing".into(),
        transition: tr,
        facts: facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        path: "/runs/r-1".into(),
    };
    let failing = mk(
        "job_failing:push_to_lingxing",
        AlertKind::JobFailing,
        &[("failures", "3"), ("error", "LingXing <down>")],
        Transition::Open,
    );
    let creds = mk(
        "credentials_refused:ack_to_dsco",
        AlertKind::CredentialsRefused,
        &[],
        Transition::Open,
    );
    let s = &w.store;
    s.apply_alerts(&[failing.clone(), creds.clone()], t(0))
        .await
        .unwrap();
    let mut r = creds.clone();
    r.transition = Transition::Resolved;
    s.apply_alerts(&[r], t(30)).await.unwrap();
    let claim = std::time::Duration::from_secs(60);
    let e = s.claim_outbox("ding", t(0), t(1), claim, 10).await.unwrap();
    s.record_delivery(
        e[0].id,
        "ding",
        DeliveryState::Failed,
        "310000 keywords not in content",
        t(1),
        t(1),
    )
    .await
    .unwrap();

    let html = w.page("/alerts", "en").await;
    assert!(html.contains("Open alerts (1)"), "{html}");
    assert!(
        html.contains("<a href=\"/runs/r-1\">job push_to_lingxing failed 3 runs in a row</a>"),
        "{html}"
    );
    assert!(html.contains("LingXing &#60;down&#62;"), "escaped: {html}");
    assert!(
        html.contains("credentials refused (job push_to_lingxing)"),
        "{html}"
    );
    assert!(html.contains("<td>ding</td>"), "{html}");
    assert!(
        html.contains("<code>310000 keywords not in content</code>"),
        "{html}"
    );
    assert!(html.contains("failed"), "{html}");
    let zh = w.page("/alerts", "zh-CN").await;
    assert!(
        zh.contains("任务 push_to_lingxing 连续 3 次运行失败"),
        "{zh}"
    );
    assert!(zh.contains("未恢复的告警 (1)"), "{zh}");

    // The overview counts the open alerts, linking to this page.
    let overview = w.page("/", "en").await;
    assert!(
        overview.contains(
            "<a class=\"card k-alerts\" href=\"/alerts\"><span class=\"num\">1</span><span class=\"lbl\">Open alerts</span></a>"
        ),
        "{overview}"
    );
}
