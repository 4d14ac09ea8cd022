//! The operator actions over real HTTP (issue 16): the console with an engine on the simulated
//! clock, both simulators behind real HTTP, a real store (SQLite; PostgreSQL too when
//! `TEST_DATABASE_URL` is set). Every POST carries the session's CSRF token (double submit);
//! the forged ones, and the ones without a reason, change nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use console::{ConsoleConfig, i18n::Lang};
use domain::{JobName, PoNumber, RuntimeConfig, Stage, Trigger};
use engine::startup::{Application, FarSides, Parts};
use engine::{Engine, EngineSettings, RunOptions};
use serde_json::json;
use sim::dsco::{DscoSim, DscoSimConfig, Gap, UNKNOWN_RETAILER_ID};
use sim::lingxing::{LingxingSim, LingxingSimConfig};
use store::Store;
use tokio::sync::watch;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const STORE_ID: &str = "110283406273996288";

struct World {
    base: String,
    http: reqwest::Client,
    clock: Clock,
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    dsco: DscoSim,
    lx: LingxingSim,
    _dir: Option<tempfile::TempDir>,
}

async fn world(url: String, dir: Option<tempfile::TempDir>) -> World {
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let store = store::connect(&url).await.unwrap();
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
    // Pull and push, no shop mapped: every order waits on its retailer's mapping.
    let v = json!({"domain": "dsco_lingxing", "jobs": {
        "pull_dsco_orders": {"enable": true, "cron": "0 * * * * *", "size": 100},
        "push_to_lingxing": {"enable": true, "cron": "0 * * * * *", "size": 100},
    }, "mapping": {}});
    let cfg = RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &cfg, "test", "test", clock.now())
        .await
        .unwrap();
    let mut far = FarSides::oauth(
        dsco.base_url(),
        sim::dsco::DEFAULT_CLIENT_ID,
        sim::dsco::DEFAULT_CLIENT_SECRET,
        lx.base_url(),
        sim::lingxing::DEFAULT_APP_ID,
        sim::lingxing::DEFAULT_APP_SECRET,
        sim::defaults::PLATFORM_CODE,
    )
    .request_timeout(Duration::from_secs(2));
    far.dsco.rate_limits = false;
    let parts = Parts {
        clock: clock.clone(),
        holder: "console-test".into(),
        engine: EngineSettings::default(),
        far,
        shared_token: true,
        order_jobs: true,
        stock_jobs: None,
    };
    let engine = Application::build(store.clone(), parts)
        .unwrap()
        .engine()
        .clone();
    let app = console::console_router(
        engine.clone(),
        ConsoleConfig {
            language: Lang::En,
            timezone: chrono_tz::Asia::Shanghai,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    World {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        store,
        engine,
        dsco,
        lx,
        _dir: dir,
    }
}

async fn sqlite() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    world(url, Some(dir)).await
}

async fn postgres() -> Option<World> {
    let base = store::testing::postgres_base_url()?;
    Some(world(store::testing::fresh_postgres_database(&base).await, None).await)
}

impl World {
    /// `f` while the simulated clock is moved past the sleepers a run parks.
    async fn driving<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let task = tokio::spawn(f);
        let sim = self.clock.sim().unwrap();
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if sim.sleepers() >= 3
                && let Some(d) = sim.next_deadline()
            {
                sim.advance_to(d);
            }
        }
        task.await.unwrap()
    }

    async fn run(&self, job: JobName) {
        let engine = self.engine.clone();
        self.driving(async move {
            let (_tx, rx) = watch::channel(false);
            engine
                .run_job(job, Trigger::Cli, RunOptions::default(), rx)
                .await
                .unwrap()
        })
        .await;
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("lang=en; dl_csrf={TOKEN}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A form POST with the session's token (`csrf: false`: a forged one, without it).
    async fn post(&self, path: &str, form: &[(&str, &str)], csrf: bool) -> (u16, String) {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if csrf {
            fields.push(("csrf", TOKEN));
        }
        let (http, url, cookie) = (
            self.http.clone(),
            format!("{}{path}", self.base),
            format!("lang=en; dl_csrf={TOKEN}"),
        );
        let body = serde_urlencoded::to_string(&fields).unwrap();
        self.driving(async move {
            let r = http
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
        .await
    }

    async fn stage(&self, po: &str) -> Stage {
        self.store
            .get_order(&PoNumber::parse(po).unwrap())
            .await
            .unwrap()
            .unwrap()
            .stage
    }

    async fn audited(&self, action: &str) -> Vec<store::AuditRecord> {
        self.store
            .audit_log(50)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.entry.action == action)
            .collect()
    }

    /// `n` orders of a retailer no mapping names, pulled and pushed: all wait on mapping.shop.
    async fn waiting_on_the_shop(&self, n: usize, seed: u64) -> Vec<String> {
        let pos = self
            .dsco
            .generate_orders_with(n, seed, &[Gap::UnknownRetailer]);
        self.clock.sim().unwrap().advance(Duration::from_secs(60));
        self.run(JobName::PullDscoOrders).await;
        self.run(JobName::PushToLingxing).await;
        for p in &pos {
            assert_eq!(self.stage(p).await, Stage::Pulled);
        }
        pos
    }
}

/// The HTML-escaped form of a link's query string.
fn amp(s: &str) -> String {
    s.replace('&', "&#38;")
}

async fn fix_the_cause_from_its_row_then_run_now(w: World) {
    let pos = w.waiting_on_the_shop(2, 51).await;
    let fix = format!("/mappings/set?mapping=shop&key={UNKNOWN_RETAILER_ID}");
    let (s, overview) = w.get("/").await;
    assert_eq!(s, 200);
    assert!(overview.contains(&amp(&fix)), "the cause row links its fix");
    assert!(overview.contains("/orders/retry?"), "and its retry all");

    // The form, prefilled with the key, says how many orders wait on it.
    let (s, page) = w.get(&fix).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("value=\"{UNKNOWN_RETAILER_ID}\"")),
        "{page}"
    );
    assert!(page.contains("2 order(s) wait on this entry"), "{page}");
    assert!(page.contains(&format!("name=\"csrf\" value=\"{TOKEN}\"")));

    let version = w.store.runtime_config_version().await.unwrap();
    let form = [
        ("mapping", "shop"),
        ("key", UNKNOWN_RETAILER_ID),
        ("value", STORE_ID),
    ];
    // Forged (no token): 403; no reason: 400. Nothing changes either way.
    let mut with_reason = form.to_vec();
    with_reason.push(("reason", "new retailer signed"));
    let (s, _) = w.post("/mappings/set", &with_reason, false).await;
    assert_eq!(s, 403);
    let mut no_reason = form.to_vec();
    no_reason.push(("reason", "   "));
    let (s, body) = w.post("/mappings/set", &no_reason, true).await;
    assert_eq!(s, 400);
    assert!(body.contains("reason"), "{body}");
    // A value `config check` refuses: its message, naming the key.
    let (s, body) = w
        .post(
            "/mappings/set",
            &[
                ("mapping", "shop"),
                ("key", UNKNOWN_RETAILER_ID),
                ("value", ""),
                ("reason", "fix"),
            ],
            true,
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        body.contains("empty value") && body.contains(UNKNOWN_RETAILER_ID),
        "{body}"
    );
    assert_eq!(w.store.runtime_config_version().await.unwrap(), version);
    assert!(w.audited("mapping.set").await.is_empty());

    let (s, body) = w.post("/mappings/set", &with_reason, true).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("2 order(s) retried"), "{body}");
    assert_eq!(
        w.store.runtime_config_version().await.unwrap(),
        version.map(|v| v + 1)
    );
    let a = w.audited("mapping.set").await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].entry.actor, "local");
    assert_eq!(a[0].entry.detail["retried"], 2);

    // Retry now with "run now": the push runs for that PO only; LingXing gets exactly one order.
    let path = format!("/orders/{}/retry", pos[0]);
    let (s, body) = w
        .post(&path, &[("reason", "push it now"), ("run_now", "1")], true)
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("push_to_lingxing"), "{body}");
    assert_eq!(w.stage(&pos[0]).await, Stage::Pushed);
    assert_eq!(w.lx.orders_for(&pos[0]).len(), 1);
    assert_eq!(w.stage(&pos[1]).await, Stage::Pulled, "only that PO ran");
    assert!(w.lx.orders_for(&pos[1]).is_empty());
    // The order page's timeline and the audit page show the actions.
    let (_, order) = w.get(&format!("/orders/{}", pos[0])).await;
    assert!(order.contains("push it now"), "the operator event");
    let (_, audit) = w.get("/audit").await;
    assert!(audit.contains("order.retry") && audit.contains("mapping.set"));
}

async fn ignore_retry_all_and_force_pages(w: World) {
    let pos = w.waiting_on_the_shop(3, 52).await;
    // Ignore: out of the overview's cause row, under the ignored filter; stage unchanged.
    let (s, body) = w
        .post(
            &format!("/orders/{}/ignore", pos[0]),
            &[("reason", "test order"), ("ignored", "true")],
            true,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(w.stage(&pos[0]).await, Stage::Pulled);
    let causes = w.store.attention_causes(10).await.unwrap();
    assert_eq!(causes[0].count, 2);
    let (_, list) = w.get("/orders?ignored=only").await;
    assert!(list.contains(&pos[0]) && !list.contains(&pos[1]), "{list}");
    let (_, list) = w.get("/orders?kind=needs_attention").await;
    assert!(!list.contains(&pos[0]) && list.contains(&pos[1]));
    let (_, order) = w.get(&format!("/orders/{}", pos[0])).await;
    assert!(order.contains("Un-ignore"), "the page offers the way back");

    // Retry all of a cause row: the count first, then the action.
    let q = format!("kind=needs_attention&code=shop_unmapped&subject={UNKNOWN_RETAILER_ID}");
    let (s, confirm) = w.get(&format!("/orders/retry?{q}")).await;
    assert_eq!(s, 200);
    assert!(confirm.contains("2 order(s) will be retried"), "{confirm}");
    assert!(confirm.contains(&pos[1]) && confirm.contains(&pos[2]));
    assert!(
        w.audited("order.retry_all").await.is_empty(),
        "a GET does nothing"
    );
    let (s, _) = w
        .post("/orders/retry", &[("filter", &q), ("reason", "")], true)
        .await;
    assert_eq!(s, 400, "no reason, nothing done");
    assert!(w.audited("order.retry_all").await.is_empty());
    let (s, body) = w
        .post(
            "/orders/retry",
            &[("filter", &q), ("reason", "mapping coming")],
            true,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("2 order(s) retried"), "{body}");
    assert_eq!(
        w.audited("order.retry_all").await[0].entry.detail["count"],
        2
    );

    // Force: the confirmation says what the jobs will not do; backward is refused.
    let force = format!("/orders/{}/force", pos[1]);
    let (s, confirm) = w.get(&format!("{force}?to=3")).await;
    assert_eq!(s, 200);
    assert!(
        confirm.contains("The ACK is not sent to DSCO by this service"),
        "{confirm}"
    );
    assert!(confirm.contains("not pushed to LingXing by this service"));
    let (s, _) = w.post(&force, &[("to", "3"), ("reason", " ")], true).await;
    assert_eq!(s, 400);
    assert_eq!(w.stage(&pos[1]).await, Stage::Pulled);
    let (s, body) = w
        .post(&force, &[("to", "3"), ("reason", "handled by hand")], true)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(w.stage(&pos[1]).await, Stage::Acknowledged);
    let (s, body) = w
        .post(&force, &[("to", "2"), ("reason", "undo")], true)
        .await;
    assert_eq!(s, 400);
    assert!(body.contains("force.forward_only"), "{body}");
    assert_eq!(w.stage(&pos[1]).await, Stage::Acknowledged);
    let (s, _) = w.get(&format!("{force}?to=1")).await;
    assert_eq!(s, 400, "the confirmation refuses it too");
    assert!(w.lx.orders_for(&pos[1]).is_empty() && w.dsco.acks_for(&pos[1]).is_empty());

    // Stock guard release: the reason is required; nothing held, nothing released.
    let (s, _) = w.post("/stock/release", &[("reason", "")], true).await;
    assert_eq!(s, 400);
    let (s, body) = w
        .post("/stock/release", &[("reason", "genuine drop")], true)
        .await;
    assert_eq!(s, 200);
    assert!(body.contains("nothing to release"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fix_the_cause_from_its_row_then_run_now() {
    fix_the_cause_from_its_row_then_run_now(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fix_the_cause_from_its_row_then_run_now() {
    if let Some(w) = postgres().await {
        fix_the_cause_from_its_row_then_run_now(w).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ignore_retry_all_and_force_pages() {
    ignore_retry_all_and_force_pages(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ignore_retry_all_and_force_pages() {
    if let Some(w) = postgres().await {
        ignore_retry_all_and_force_pages(w).await;
    }
}
