//! A dry run for one PO builds the exact requests the run would send (issue 16 action 5, issue
//! 17 item 7), sends none of them and leaves the order where it was.

use std::time::Duration;

use domain::{JobName, PoNumber, Stage, Trigger};
use engine::{FarSide, RunOptions, RunReport, RunResult, Verdict};
use serde_json::json;
use store::EventOutcome;
use tokio::sync::watch;

use crate::Db;
use crate::orders::{World, world};

/// Runs `job` for `po` (dry or not) and returns its report.
async fn run_po(w: &World, job: JobName, po: &str, dry_run: bool) -> RunReport {
    let (_tx, rx) = watch::channel(false);
    let engine = w.engine.clone();
    let opts = RunOptions {
        only_po: Some(PoNumber::parse(po).unwrap()),
        dry_run,
        ..RunOptions::default()
    };
    let run = tokio::spawn(async move { engine.run_job(job, Trigger::Cli, opts, rx).await });
    let sim = w.clock.sim().unwrap();
    while !run.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if sim.sleepers() >= 3
            && let Some(d) = sim.next_deadline()
        {
            sim.advance_to(d);
        }
    }
    match run.await.unwrap().unwrap() {
        RunResult::Ran { report, run_id, .. } => {
            // Kept as the run's detail too, for the run page.
            let detail = w.store.run_detail(&run_id).await.unwrap().unwrap();
            assert_eq!(RunReport::from_detail(&detail).as_ref(), Some(&report));
            report
        }
        other => panic!("{job}: {other:?}"),
    }
}

/// The one request the dry run of `po` would send: its decision is a write, the request is
/// built but not sent, names the PO in its body, and goes to `path`.
fn the_request(r: &RunReport, po: &str, far: FarSide, path: &str) -> serde_json::Value {
    assert!(r.dry_run);
    let d: Vec<_> = r.of(po).collect();
    let Some(Verdict::Write { request }) = d.last().map(|d| &d.verdict) else {
        panic!("{po}: a write expected, got {d:?}")
    };
    let req = &r.requests[*request];
    assert_eq!(req.far_side, far);
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, path);
    assert!(!req.sent);
    assert_eq!(req.pos, vec![po.to_owned()]);
    assert!(req.body.to_string().contains(po), "{}", req.body);
    // No credential in what is shown.
    let text = req.body.to_string();
    assert!(
        !text.contains("access_token") && !text.contains("sign"),
        "{text}"
    );
    req.body.clone()
}

async fn dry_events(w: &World, po: &str) -> usize {
    let o = w
        .store
        .order_events(&PoNumber::parse(po).unwrap())
        .await
        .unwrap();
    o.iter()
        .filter(|e| e.event.outcome == EventOutcome::DryRun)
        .count()
}

pub async fn a_dry_run_shows_each_request_and_writes_nothing(db: &Db) {
    let w = world(db, json!({})).await;
    let po = w.dsco.generate_orders(1, 7)[0].clone();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;

    // Push: the LingXing create, built and not sent.
    let reason_before = w.reason(&po).await;
    let r = run_po(&w, JobName::PushToLingxing, &po, true).await;
    let body = the_request(&r, &po, FarSide::Lingxing, "/pb/mp/order/v2/create");
    assert_eq!(body["orders"][0]["platform_order_no"], json!(po));
    assert!(w.lx.orders_for(&po).is_empty(), "nothing created");
    assert_eq!(w.lx.calls("/pb/mp/order/v2/create"), 0);
    assert_eq!(w.stage(&po).await, Stage::Pulled, "not moved");
    assert_eq!(w.reason(&po).await, reason_before, "its reason unchanged");
    assert!(dry_events(&w, &po).await >= 1, "marked on the timeline");
    // For real: exactly one create.
    let r = run_po(&w, JobName::PushToLingxing, &po, false).await;
    assert!(!r.dry_run);
    assert!(r.requests.iter().all(|q| q.sent));
    assert_eq!(w.stage(&po).await, Stage::Pushed);
    assert_eq!(w.lx.orders_for(&po).len(), 1);

    // ACK.
    w.lx.audit(&po);
    w.advance(60);
    let r = run_po(&w, JobName::AckToDsco, &po, true).await;
    let body = the_request(&r, &po, FarSide::Dsco, "/order/acknowledge");
    assert_eq!(body[0]["id"], json!(po));
    assert!(w.dsco.acks_for(&po).is_empty(), "no ACK sent");
    assert_eq!(w.stage(&po).await, Stage::Pushed);
    w.run(JobName::AckToDsco).await;
    w.advance(120);
    w.run(JobName::AckToDsco).await;
    assert_eq!(w.stage(&po).await, Stage::Acknowledged);
    assert_eq!(w.dsco.acks_for(&po).len(), 1);

    // Shipments.
    w.lx.ship(&po, None);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let r = run_po(&w, JobName::ShipToDsco, &po, true).await;
    let body = the_request(&r, &po, FarSide::Dsco, "/order/shipment/batch/small");
    assert!(body[0]["shipments"].is_array(), "{body}");
    assert!(w.dsco.shipments_for(&po).is_empty(), "no shipment sent");
    assert_eq!(w.stage(&po).await, Stage::Acknowledged);
    w.run(JobName::ShipToDsco).await;
    w.advance(120);
    w.run(JobName::ShipToDsco).await;
    assert_eq!(w.stage(&po).await, Stage::Shipped);

    // Invoice.
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let r = run_po(&w, JobName::InvoiceToDsco, &po, true).await;
    let body = the_request(&r, &po, FarSide::Dsco, "/invoice/batch/small");
    assert_eq!(body[0]["invoiceId"], json!(po));
    assert!(w.dsco.invoices_for(&po).is_empty(), "no invoice sent");
    assert_eq!(w.stage(&po).await, Stage::Shipped);
    w.run(JobName::InvoiceToDsco).await;
    w.advance(120);
    w.run(JobName::InvoiceToDsco).await;
    assert_eq!(w.stage(&po).await, Stage::Done);
    assert_eq!(w.dsco.invoices_for(&po).len(), 1, "the real run sent one");
}
