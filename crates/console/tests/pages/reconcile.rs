//! The reconciliation page and an order's findings on its page, in both languages.

use chrono::{TimeZone, Utc};
use domain::PoNumber;
use domain::reconcile::{Finding, FindingCode};

use super::World;

pub(super) async fn reconcile_page_lists_findings_by_kind_and_the_order_shows_its_own(w: &World) {
    super::seed(&*w.store).await;
    let t = |s| Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, s).unwrap();
    let po = |s: &str| PoNumber::parse(s).unwrap();
    let f = |code, detail: &str| Finding {
        code,
        detail: detail.into(),
    };
    let s = &w.store;
    s.record_findings(
        "run-r1",
        &[po("PO-W"), po("PO-D")],
        &[
            (po("PO-W"), f(FindingCode::LxAudited, "LX-W1(status 5)")),
            (
                po("PO-D"),
                f(FindingCode::TrackingDiffers, "DSCO only: <T9>"),
            ),
            (po("PO-D"), f(FindingCode::AckNotShown, "our stage 3")),
        ],
        t(0),
    )
    .await
    .unwrap();
    // A later check of PO-D no longer finds the ACK problem: resolved.
    s.record_findings(
        "run-r2",
        &[po("PO-D")],
        &[(
            po("PO-D"),
            f(FindingCode::TrackingDiffers, "DSCO only: <T9>"),
        )],
        t(30),
    )
    .await
    .unwrap();

    let html = w.page("/reconcile", "en").await;
    assert!(html.contains("<a href=\"/orders/PO-W\">PO-W</a>"), "{html}");
    assert!(
        html.contains("LingXing has audited the order; the service has not acknowledged it yet"),
        "{html}"
    );
    assert!(html.contains("DSCO only: &#60;T9&#62;"), "escaped: {html}");
    assert!(
        html.contains("cancel the extra") || html.contains("compare the packages"),
        "{html}"
    );
    assert!(html.contains("behind</span> open 1"), "{html}");
    assert!(html.contains("diverged</span> open 1"), "{html}");
    assert!(html.contains("ahead</span> open 0"), "{html}");
    assert!(
        html.contains("ack_not_shown"),
        "the resolved one is listed too: {html}"
    );
    assert!(html.contains("href=\"/reconcile\" class=\"on\""), "{html}");

    let diverged = w.page("/reconcile?kind=diverged", "en").await;
    assert!(diverged.contains("tracking_differs"), "{diverged}");
    assert!(!diverged.contains("lx_audited"), "{diverged}");
    let bad = w.page("/reconcile?kind=sideways", "en").await;
    assert!(bad.contains("kind: unknown `sideways`"), "{bad}");

    let zh = w.page("/reconcile", "zh-CN").await;
    assert!(zh.contains("领星已审核此订单，本服务尚未回传 ACK"), "{zh}");
    assert!(zh.contains("落后"), "{zh}");

    // The order page shows its open findings only.
    let order = w.page("/orders/PO-D", "en").await;
    assert!(order.contains("Reconciliation findings (1)"), "{order}");
    assert!(order.contains("tracking_differs"), "{order}");
    assert!(!order.contains("ack_not_shown"), "resolved: {order}");
    let quiet = w.page("/orders/PO-H", "en").await;
    assert!(!quiet.contains("Reconciliation findings ("), "{quiet}");
}
