//! The reconciliation findings: one open row per (PO, code), refreshed while found again,
//! resolved when a check of the PO no longer finds it.

use domain::PoNumber;
use domain::reconcile::{Finding, FindingCode, FindingKind};

use crate::Backend;
use crate::cases::t;

fn po(s: &str) -> PoNumber {
    PoNumber::parse(s).unwrap()
}

fn f(code: FindingCode, detail: &str) -> Finding {
    Finding {
        code,
        detail: detail.into(),
    }
}

pub async fn findings_open_once_refresh_and_resolve(b: &Backend) {
    let s = &b.store;
    let (a, c) = (po("PO-A"), po("PO-C"));
    let found = [
        (a.clone(), f(FindingCode::LxAudited, "LX1")),
        (a.clone(), f(FindingCode::TrackingNotShown, "T1")),
        (c.clone(), f(FindingCode::LxOrderMissing, "-")),
    ];
    let checked = [a.clone(), c.clone()];
    assert_eq!(
        s.record_findings("run-1", &checked, &found, t(0))
            .await
            .unwrap(),
        (3, 0)
    );
    // The same observation again opens nothing and refreshes the detail.
    let again = [
        (a.clone(), f(FindingCode::LxAudited, "LX1 status 5")),
        (c.clone(), f(FindingCode::LxOrderMissing, "-")),
    ];
    // Only PO-A checked: its tracking finding resolves, PO-C's stays open untouched.
    assert_eq!(
        s.record_findings("run-2", std::slice::from_ref(&a), &again[..1], t(10))
            .await
            .unwrap(),
        (0, 1)
    );
    let open_a = s.open_findings_of(&a).await.unwrap();
    assert_eq!(open_a.len(), 1);
    assert_eq!(open_a[0].code, FindingCode::LxAudited);
    assert_eq!(open_a[0].kind(), FindingKind::Behind);
    assert_eq!(open_a[0].detail, "LX1 status 5");
    assert_eq!(open_a[0].run_id, "run-2");
    assert_eq!(open_a[0].found_at, t(0));
    assert_eq!(open_a[0].seen_at, t(10));
    assert_eq!(s.open_findings_of(&c).await.unwrap().len(), 1);

    let counts = s.open_finding_counts().await.unwrap();
    assert_eq!(counts.get(&FindingCode::LxAudited), Some(&1));
    assert_eq!(counts.get(&FindingCode::LxOrderMissing), Some(&1));
    assert_eq!(counts.get(&FindingCode::TrackingNotShown), None);

    // Lists: open first, filter by kind, resolved ones after.
    let all = s.findings(None, false, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].resolved_at.is_none() && all[1].resolved_at.is_none());
    assert_eq!(all[2].code, FindingCode::TrackingNotShown);
    assert_eq!(all[2].resolved_at, Some(t(10)));
    let open = s.findings(None, true, 10).await.unwrap();
    assert_eq!(open.len(), 2);
    let diverged = s
        .findings(Some(FindingKind::Diverged), false, 10)
        .await
        .unwrap();
    assert_eq!(diverged.len(), 1);
    assert_eq!(diverged[0].po, c);

    // Found again after it was resolved: a new open row.
    assert_eq!(
        s.record_findings("run-3", std::slice::from_ref(&a), &found[..2], t(20))
            .await
            .unwrap(),
        (1, 0)
    );
    assert_eq!(s.open_findings_of(&a).await.unwrap().len(), 2);
    assert_eq!(s.findings(None, false, 10).await.unwrap().len(), 4);
}
