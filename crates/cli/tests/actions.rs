//! The operator actions on the command line (issue 16), the real binary against both
//! simulators served in-process on loopback (real HTTP, the real clock) and a SQLite file:
//! `mapping set`, `order retry [--run-now]`, bulk `order retry --reason-code`, `order
//! ignore|unignore`, `order force`. Each needs `--reason`; each is audited with the OS user.

use std::path::Path;
use std::process::{Command, Output};

use clock::Clock;
use serde_json::json;
use sim::dsco::{DscoSim, DscoSimConfig, Gap, UNKNOWN_RETAILER_ID};
use sim::lingxing::{LingxingSim, LingxingSimConfig};

const STORE_ID: &str = "110283406273996288";

fn config(dir: &Path, dsco: &str, lx: &str) -> std::path::PathBuf {
    let path = dir.join("dsco-lingxing.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[dsco]
base_url = "{dsco}"
client_id = "{}"
client_secret = "{}"

[lingxing]
base_url = "{lx}"
app_id = "{}"
app_secret = "{}"

[store]
url = "sqlite://{}/store.db"

[exports]
dir = "{}/exports"
"#,
            sim::dsco::DEFAULT_CLIENT_ID,
            sim::dsco::DEFAULT_CLIENT_SECRET,
            sim::lingxing::DEFAULT_APP_ID,
            sim::lingxing::DEFAULT_APP_SECRET,
            dir.display(),
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("DSCO_LINGXING_CONFIG")
        .env("USER", "tester")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_and_mapping_actions_go_through_the_same_code_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::real();
    let dsco = DscoSim::start(
        DscoSimConfig {
            rate_limits: false,
            ..DscoSimConfig::default()
        },
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let lx = LingxingSim::start(
        LingxingSimConfig::manual(),
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let cfg = config(dir.path(), &dsco.base_url(), &lx.base_url());
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = store::connect(&url).await.unwrap();
    let v = json!({"domain": "dsco_lingxing", "jobs": {
        "pull_dsco_orders": {"enable": true, "cron": "0 * * * * *", "size": 100},
        "push_to_lingxing": {"enable": true, "cron": "0 * * * * *", "size": 100},
    }, "mapping": {}});
    let rc = domain::RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &rc, "test", "test", chrono::Utc::now())
        .await
        .unwrap();
    let pos = dsco.generate_orders_with(3, 61, &[Gap::UnknownRetailer]);
    // The pull reads DSCO up to ten seconds ago (orders still settling are left to the next).
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    // The binary blocks this thread; the simulators answer on the runtime's other worker.
    let cli = |args: Vec<String>| {
        let cfg = cfg.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&cfg, &a)
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for job in ["pull_dsco_orders", "push_to_lingxing"] {
        let out = cli(args(&["job", "run", job])).await;
        assert!(out.status.success(), "{}", text(&out));
    }
    let stage = |po: String| {
        let store = store.clone();
        async move {
            store
                .get_order(&domain::PoNumber::parse(&po).unwrap())
                .await
                .unwrap()
                .unwrap()
                .stage
        }
    };
    assert_eq!(stage(pos[0].clone()).await, domain::Stage::Pulled);

    // Every action needs --reason: clap names it, nothing is done.
    let out = cli(args(&["order", "ignore", &pos[0]])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--reason"), "{}", text(&out));
    let out = cli(args(&[
        "mapping",
        "set",
        "shop",
        UNKNOWN_RETAILER_ID,
        STORE_ID,
        "--reason",
        "  ",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("reason"), "{}", text(&out));
    assert!(
        store
            .audit_log(50)
            .await
            .unwrap()
            .iter()
            .all(|a| a.entry.actor != "tester")
    );

    // Ignore and un-ignore.
    let out = cli(args(&[
        "order",
        "ignore",
        &pos[2],
        "--reason",
        "duplicate of another PO",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store.attention_causes(10).await.unwrap()[0].count, 2);
    let out = cli(args(&[
        "order",
        "unignore",
        &pos[2],
        "--reason",
        "not a duplicate",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store.attention_causes(10).await.unwrap()[0].count, 3);

    // Bulk retry of a cause.
    let out = cli(args(&[
        "order",
        "retry",
        "--reason-code",
        "shop_unmapped",
        "--key",
        UNKNOWN_RETAILER_ID,
        "--reason",
        "checking",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 order(s) retried"), "{}", text(&out));
    let out = cli(args(&[
        "order",
        "retry",
        "--reason-code",
        "shop_unmaped",
        "--reason",
        "x",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--reason-code"), "{}", text(&out));

    // Fix the cause: a new config version, the waiting orders retried.
    let out = cli(args(&[
        "mapping",
        "set",
        "shop",
        UNKNOWN_RETAILER_ID,
        STORE_ID,
        "--reason",
        "retailer signed",
    ]))
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("3 order(s) that waited on it retried"), "{t}");
    // Then run now for one PO: LingXing gets exactly that one order.
    let out = cli(args(&[
        "order",
        "retry",
        &pos[0],
        "--run-now",
        "--reason",
        "push now",
    ]))
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("push_to_lingxing run") && t.contains("stage 2 pushed"),
        "{t}"
    );
    assert_eq!(lx.orders_for(&pos[0]).len(), 1);
    assert!(lx.orders_for(&pos[1]).is_empty(), "only that PO ran");

    // Force: forward with what the jobs will not do; backward refused naming the rule.
    let out = cli(args(&[
        "order",
        "force",
        &pos[1],
        "--to",
        "3",
        "--reason",
        "done by hand",
    ]))
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("The ACK is not sent to DSCO by this service"),
        "{t}"
    );
    assert!(
        t.contains("本服务不会向 DSCO 发送 ACK"),
        "both languages: {t}"
    );
    let out = cli(args(&[
        "order", "force", &pos[1], "--to", "1", "--reason", "undo",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("force.forward_only"), "{}", text(&out));
    assert_eq!(stage(pos[1].clone()).await, domain::Stage::Acknowledged);

    let audit = store.audit_log(50).await.unwrap();
    let by_tester: Vec<&str> = audit
        .iter()
        .filter(|a| a.entry.actor == "cli:tester")
        .map(|a| a.entry.action.as_str())
        .collect();
    for action in [
        "order.ignore",
        "order.unignore",
        "order.retry_all",
        "mapping.set",
        "order.retry",
        "order.force_stage",
    ] {
        assert!(
            by_tester.contains(&action),
            "{action} audited as the OS user: {by_tester:?}"
        );
    }
}

/// `reconcile`: the estimate first, then the findings (zh and en texts come from the domain),
/// stored; a bad window exits 2 naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_prints_the_estimate_then_the_findings_and_stores_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::real();
    let dsco = DscoSim::start(
        DscoSimConfig {
            rate_limits: false,
            ..DscoSimConfig::default()
        },
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let lx = LingxingSim::start(
        LingxingSimConfig::manual(),
        clock.clone(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let cfg = config(dir.path(), &dsco.base_url(), &lx.base_url());
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = store::connect(&url).await.unwrap();
    let v = json!({"domain": "dsco_lingxing", "jobs": {
        "pull_dsco_orders": {"enable": true, "cron": "0 * * * * *", "size": 100},
    }, "mapping": {}});
    let rc = domain::RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &rc, "test", "test", chrono::Utc::now())
        .await
        .unwrap();
    let pos = dsco.generate_orders(2, 71);
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let cli = |args: Vec<String>| {
        let cfg = cfg.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&cfg, &a)
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = cli(args(&["job", "run", "pull_dsco_orders"])).await;
    assert!(out.status.success(), "{}", text(&out));
    // DSCO cancels one; a new order arrives the pull has not seen.
    assert!(dsco.cancel_order(&pos[0]));
    let late = dsco.generate_orders(1, 72);
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;

    let out = cli(args(&["reconcile", "--since", "2026-13-01"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--since:"), "{}", text(&out));

    let since = (chrono::Utc::now() - chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let out = cli(args(&["reconcile", "--since", &since])).await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("订单 2 个；预计调用"), "{t}");
    assert!(t.contains("合计"), "{t}");
    assert!(
        t.contains(&format!("{}  落后  dsco_cancelled", pos[0])),
        "{t}"
    );
    assert!(t.contains(&format!("{}  落后  not_pulled", late[0])), "{t}");
    let open = store
        .open_findings_of(&domain::PoNumber::parse(&pos[0]).unwrap())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].code.as_str(), "dsco_cancelled");

    let out = cli(args(&["reconcile", "--po", &pos[1]])).await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("核对 1 个订单：落后 0，超前 0，不一致 0"), "{t}");
}
