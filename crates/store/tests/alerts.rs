//! The alert cases: one transition per key, deliveries claimed once per channel.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::alert::{Alert, AlertKind, Severity, Transition};
use store::*;

use crate::Backend;
use crate::cases::t;

fn alert(key: &str, tr: Transition) -> Alert {
    Alert {
        key: key.into(),
        kind: AlertKind::NeedsAttention,
        severity: Severity::Warning,
        subject: "sku_unmatched ABC-1".into(),
        transition: tr,
        facts: BTreeMap::from([("count".into(), "12".into())]),
        path: "/attention".into(),
    }
}

pub async fn alerts_transition_once_per_key_and_deliver_once_per_channel(b: &Backend) {
    let s = &b.store;
    let open = alert("na:a", Transition::Open);
    // Two evaluations (two replicas) raise the same open: it is written once.
    assert_eq!(
        s.apply_alerts(std::slice::from_ref(&open), t(0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.apply_alerts(std::slice::from_ref(&open), t(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.open_alerts().await.unwrap().keys().collect::<Vec<_>>(),
        ["na:a"]
    );

    // One claim per channel: a second sender finds nothing while the claim holds.
    let claim = Duration::from_secs(60);
    let got = s
        .claim_outbox("wecom", t(0), t(2), claim, 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].alert, open);
    assert!(
        s.claim_outbox("wecom", t(0), t(3), claim, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Another channel has its own delivery.
    assert_eq!(
        s.claim_outbox("feishu", t(0), t(3), claim, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A transient failure: retried when due, not before.
    s.record_delivery(
        got[0].id,
        "wecom",
        DeliveryState::Pending,
        "HTTP 502",
        t(30),
        t(4),
    )
    .await
    .unwrap();
    assert!(
        s.claim_outbox("wecom", t(0), t(10), claim, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s
        .claim_outbox("wecom", t(0), t(31), claim, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    s.record_delivery(
        got[0].id,
        "wecom",
        DeliveryState::Delivered,
        "{\"errcode\":0}",
        t(31),
        t(31),
    )
    .await
    .unwrap();
    assert!(
        s.claim_outbox("wecom", t(0), t(500), claim, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Resolved once; resolving again writes nothing.
    let res = alert("na:a", Transition::Resolved);
    assert_eq!(
        s.apply_alerts(std::slice::from_ref(&res), t(40))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.apply_alerts(std::slice::from_ref(&res), t(41))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.open_alerts().await.unwrap().is_empty());
    let list = s.alert_list(10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].alert.transition, Transition::Resolved);
    assert_eq!(list[0].resolved_at, Some(t(40)));
    // It opens again later as a new transition.
    assert_eq!(
        s.apply_alerts(std::slice::from_ref(&open), t(50))
            .await
            .unwrap()
            .len(),
        1
    );

    let d = s.recent_deliveries(10).await.unwrap();
    let w = d.iter().find(|d| d.channel == "wecom").unwrap();
    assert_eq!((w.state, w.attempts), (DeliveryState::Delivered, 2));
    assert_eq!(w.delivered_at, Some(t(31)));
}
