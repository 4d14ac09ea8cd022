//! `engine::online_check` against in-process simulators: a LingXing whose clock runs ahead is a
//! clock problem naming LingXing, and the mappings are still checked.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use clock::Clock;
use engine::online_check::{OnlineOptions, check, clients};
use sim::dsco::{DscoSim, DscoSimConfig};
use sim::lingxing::{LingxingSim, LingxingSimConfig};

use crate::orders::sim_far_sides;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingxing_clock_90_s_ahead_is_a_clock_problem() {
    let listener = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let dsco = DscoSim::start(DscoSimConfig::default(), Clock::real(), listener().await)
        .await
        .unwrap();
    // Frozen 90 s ahead: signatures are still young enough (2 min), the skew shows.
    let lx = LingxingSim::start(
        LingxingSimConfig::manual(),
        Clock::simulated(Utc::now() + TimeDelta::seconds(90)),
        listener().await,
    )
    .await
    .unwrap();
    let far = sim_far_sides(&dsco, &lx);
    let platform_code = far.platform_code;
    let (d, l) = clients(far, None, Clock::real()).unwrap();
    let mut config = domain::RuntimeConfig::default();
    config.mapping.warehouse.insert(
        domain::WarehouseCode::parse("US-CA-01").unwrap(),
        domain::Wid::parse("1300").unwrap(),
    );
    let sku: BTreeMap<String, String> = (1001..=1010)
        .map(|n| (format!("SKU-{n}"), format!("LX-{n}")))
        .collect();
    let opts = OnlineOptions {
        sku_sample: 4,
        ..OnlineOptions::default()
    };
    let r = check(&d, &l, platform_code, &config, &sku, opts).await;
    let lines: Vec<String> = r.problems.iter().map(|f| f.line(false)).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("clock.lingxing: this machine's clock is")
            && lines[0].contains("s behind LingXing's (more than 60 s"),
        "{lines:?}"
    );
    let zh = r.problems[0].line(true);
    assert!(zh.contains("本机时钟比 LingXing 慢"), "{zh}");
    // DSCO's clock (the real one) is in step; the SKU map was sampled and says so.
    let notes: Vec<String> = r.notes.iter().map(|f| f.line(false)).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("clock.dsco: DSCO accepted the credentials")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n
                == "mapping.sku: 4 of 10 entries checked (sampled, evenly spread over the map)"),
        "{notes:?}"
    );
    assert_eq!(
        (r.warehouses_checked, r.skus_checked, r.skus_total),
        (1, 4, 10)
    );
    assert!(
        r.summary(false)
            .contains("4 of 10 SKU(s) (sampled) checked; 1 problem(s)"),
        "{}",
        r.summary(false)
    );
}
