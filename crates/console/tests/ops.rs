//! The ops endpoints over a real listener on 127.0.0.1:0, with an engine on the simulated clock
//! and a SQLite store in a temporary folder.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use clock::Clock;
use domain::{JobName, RuntimeConfig, Trigger};
use engine::{Engine, EngineSettings, Job, JobError, RunCtx, RunOptions};
use serde_json::{Value, json};
use store::Store;
use tokio::sync::watch;

/// A pull whose every run is refused by DSCO's credentials check, as the client classifies it.
struct Refused;

#[async_trait]
impl Job for Refused {
    fn name(&self) -> JobName {
        JobName::PullDscoOrders
    }
    async fn run(&self, _ctx: &RunCtx) -> Result<(), JobError> {
        Err(JobError::CredentialsRefused(
            "DSCO order page: DSCO authentication failed: invalid_client".into(),
        ))
    }
}

async fn serve(engine: Arc<Engine>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = console::ops_router(engine, None);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {body}"))
}

async fn enable_pull(store: &dyn Store) {
    let v = json!({"domain": "dsco_lingxing", "jobs": {
        "pull_dsco_orders": {"enable": true, "cron": "0 */5 * * * *", "size": 10}
    }, "mapping": {}});
    let cfg = RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    store
        .save_runtime_config(None, &cfg, "test", "test", t)
        .await
        .unwrap();
}

/// `/readyz` is 200 listing its checks while things work; once the enabled pull's last three
/// runs failed on refused credentials it is 503 naming the failing job and the credentials (in
/// English and Chinese), while `/healthz` stays 200: the process is alive.
#[tokio::test]
async fn readyz_reports_failing_jobs_and_refused_credentials_healthz_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = store::connect(&url).await.unwrap();
    enable_pull(&*store).await;
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let mut e = Engine::new(
        store.clone(),
        clock.clone(),
        "runner",
        EngineSettings::default(),
    );
    e.register(Arc::new(Refused));
    let e = Arc::new(e);
    let base = serve(e.clone()).await;

    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for name in [
        "store",
        "store_writable",
        "store_disk",
        "job:pull_dsco_orders",
        "credentials:pull_dsco_orders",
    ] {
        assert_eq!(check(&body, name)["ok"], true, "{name}: {body}");
    }

    let (_tx, rx) = watch::channel(false);
    for _ in 0..3 {
        e.run_job(
            JobName::PullDscoOrders,
            Trigger::Cron,
            RunOptions::default(),
            rx.clone(),
        )
        .await
        .unwrap();
        clock
            .sim()
            .unwrap()
            .advance(std::time::Duration::from_secs(300));
    }
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    let job = check(&body, "job:pull_dsco_orders");
    assert_eq!(job["ok"], false);
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("the last 3 runs of pull_dsco_orders failed"),
        "{job}"
    );
    assert!(
        job["message_zh"].as_str().unwrap().contains("均失败"),
        "{job}"
    );
    let cred = check(&body, "credentials:pull_dsco_orders");
    assert_eq!(cred["ok"], false);
    assert!(
        cred["message"].as_str().unwrap().contains("invalid_client"),
        "{cred}"
    );
    assert!(
        cred["message_zh"].as_str().unwrap().contains("凭据"),
        "{cred}"
    );
    let failing: Vec<&str> = body["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failing,
        ["job:pull_dsco_orders", "credentials:pull_dsco_orders"]
    );
    assert_eq!(check(&body, "store")["ok"], true);

    let (status, body) = get(&base, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
}

/// A store that refuses writes (SQLite opened read-only) makes `/readyz` 503 with the
/// `store_writable` check saying "read-only".
#[tokio::test]
async fn readyz_reports_a_read_only_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    drop(store::connect(&url).await.unwrap());
    let ro = store::connect(&format!("{url}?mode=ro")).await.unwrap();
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let e = Arc::new(Engine::new(ro, clock, "runner", EngineSettings::default()));
    let base = serve(e).await;
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let w = check(&body, "store_writable");
    assert_eq!(w["ok"], false);
    assert!(w["message"].as_str().unwrap().contains("read-only"), "{w}");
    assert!(w["message_zh"].as_str().unwrap().contains("只读"), "{w}");
}

/// A full disk shows on `/healthz` (still 200: restarting would not help) and fails `/readyz`;
/// both clear by themselves once a run writes again.
#[tokio::test]
async fn a_full_disk_shows_on_healthz_and_readyz_until_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let sql = Arc::new(store::SqlStore::connect(&url).await.unwrap());
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let mut e = Engine::new(sql.clone(), clock, "runner", EngineSettings::default());
    e.register(Arc::new(engine::testing::BigWrite(JobName::SyncStock)));
    let e = Arc::new(e);
    let base = serve(e.clone()).await;
    let (_tx, rx) = watch::channel(false);
    let run = || {
        e.run_job(
            JobName::SyncStock,
            Trigger::Cli,
            RunOptions::default(),
            rx.clone(),
        )
    };
    sql.limit_sqlite_pages(Some(1)).await.unwrap();
    // The pages the migrations freed go first; a few runs use them up.
    for _ in 0..50 {
        let _ = run().await;
        if e.store_problem().is_some() {
            break;
        }
    }
    let (status, body) = get(&base, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let problem = body["store_problem"]["error"].as_str().unwrap_or_default();
    assert!(
        problem.starts_with("the store's disk is full (SQLite: database or disk is full)"),
        "{body}"
    );
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(check(&body, "store_disk")["ok"], false);

    sql.limit_sqlite_pages(None).await.unwrap();
    run().await.unwrap();
    let (_, body) = get(&base, "/healthz").await;
    assert!(body.get("store_problem").is_none(), "{body}");
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 200, "{body}");
}
