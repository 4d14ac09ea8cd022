//! Action 5, "Run a job", over real HTTP: the console with an engine wired to both simulators
//! (real HTTP), a SQLite store, the simulated clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use console::ConsoleConfig;
use console::i18n::Lang;
use domain::{JobName, PoNumber, RuntimeConfig, Stage, Trigger};
use engine::startup::{Application, FarSides, Parts};
use engine::{Engine, EngineSettings, RunOptions};
use serde_json::json;
use sim::defaults;
use sim::dsco::{DscoSim, DscoSimConfig};
use sim::lingxing::{LingxingSim, LingxingSimConfig};
use store::{SkuSource, Store};

pub struct World {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    pub dsco: DscoSim,
    pub lx: LingxingSim,
    pub engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

pub async fn world() -> World {
    world_with_login(
        console::Login::none(),
        Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap(),
    )
    .await
}

/// [`world`] behind `login` (the console asks to log in when it has users), its simulated clock
/// starting at `start` (the pages measure ages against the wall clock: screenshots start now).
pub async fn world_with_login(login: console::Login, start: chrono::DateTime<Utc>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = store::connect(&url).await.unwrap();
    let clock = Clock::simulated(start);
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let dsco = DscoSim::start(
        DscoSimConfig {
            rate_limits: false,
            ..DscoSimConfig::default()
        },
        clock.clone(),
        bind().await.unwrap(),
    )
    .await
    .unwrap();
    let lx = LingxingSim::start(
        LingxingSimConfig::manual(),
        clock.clone(),
        bind().await.unwrap(),
    )
    .await
    .unwrap();
    let mut jobs = json!({});
    for j in [
        "pull_dsco_orders",
        "push_to_lingxing",
        "ack_to_dsco",
        "ship_to_dsco",
        "invoice_to_dsco",
    ] {
        jobs[j] = json!({"enable": true, "cron": "0 0 * * * *", "size": 50});
    }
    let v = json!({"domain": "dsco_lingxing", "jobs": jobs, "mapping": defaults::mapping_json()});
    let cfg = RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &cfg, "test", "test", clock.now())
        .await
        .unwrap();
    let pairs: BTreeMap<String, String> = defaults::PRODUCTS
        .iter()
        .filter(|p| p.paired)
        .map(|p| (p.dsco_sku.to_string(), p.lingxing_sku.to_string()))
        .collect();
    store
        .replace_sku_entries(
            0,
            SkuSource::Pair,
            &pairs,
            "test",
            "test",
            clock.now(),
            None,
        )
        .await
        .unwrap();
    let mut far = FarSides::oauth(
        dsco.base_url(),
        sim::dsco::DEFAULT_CLIENT_ID,
        sim::dsco::DEFAULT_CLIENT_SECRET,
        lx.base_url(),
        sim::lingxing::DEFAULT_APP_ID,
        sim::lingxing::DEFAULT_APP_SECRET,
        defaults::PLATFORM_CODE,
    )
    .request_timeout(Duration::from_secs(5));
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
    let app = console::console_router_with_login(
        engine.clone(),
        ConsoleConfig {
            language: Lang::En,
            timezone: chrono_tz::UTC,
        },
        login,
    );
    let listener = bind().await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    World {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        store,
        dsco,
        lx,
        engine,
        _dir: dir,
    }
}

/// A session's CSRF token: the cookie set on the first page, which the forms carry.
pub async fn csrf(w: &World, path: &str) -> (String, String) {
    let res = w
        .http
        .get(format!("{}{path}", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("dl_csrf="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("dl_csrf cookie");
    let page = res.text().await.unwrap();
    assert!(page.contains(&cookie), "the form carries the token");
    (cookie, page)
}

pub async fn post(w: &World, path: &str, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = vec![("csrf", token)];
    fields.extend_from_slice(form);
    w.http
        .post(format!("{}{path}", w.base))
        .header("cookie", format!("dl_csrf={token}; lang=en"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

pub async fn page(w: &World, path: &str) -> String {
    let res = w
        .http
        .get(format!("{}{path}", w.base))
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

async fn stage(w: &World, po: &str) -> Stage {
    w.store
        .get_order(&PoNumber::parse(po).unwrap())
        .await
        .unwrap()
        .unwrap()
        .stage
}

/// Dry run first: the result page shows the LingXing create (method, path, pretty body naming
/// the PO) and nothing is written; then for real: the order advances and LingXing saw exactly
/// one create; both audited. A missing reason, a forged form and a PO at another stage are
/// refused and run nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_a_job_dry_then_for_real() {
    let w = world().await;
    let po = w.dsco.generate_orders(1, 7)[0].clone();
    w.clock.sim().unwrap().advance(Duration::from_secs(60));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    w.engine
        .run_job(
            JobName::PullDscoOrders,
            Trigger::Cli,
            RunOptions::default(),
            rx,
        )
        .await
        .unwrap();
    assert_eq!(stage(&w, &po).await, Stage::Pulled);

    // The order page links to the form for its stage's job.
    let order = page(&w, &format!("/orders/{po}")).await;
    assert!(
        order.contains(&format!("/run?job=push_to_lingxing&#38;po={po}")),
        "{order}"
    );
    let (token, form) = csrf(&w, &format!("/run?job=push_to_lingxing&po={po}")).await;
    assert!(
        form.contains(r#"<option value="push_to_lingxing" selected>"#),
        "{form}"
    );

    // Refused: no reason; a form without the session's token.
    let res = post(
        &w,
        "/run",
        &token,
        &[
            ("job", "push_to_lingxing"),
            ("po", &po),
            ("dry_run", "1"),
            ("reason", " "),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("the reason is required"));
    let res = w
        .http
        .post(format!("{}/run", w.base))
        .header("cookie", format!("dl_csrf={token}"))
        .form(&[("job", "push_to_lingxing"), ("reason", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        w.store
            .list_runs(Some(JobName::PushToLingxing), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Dry run.
    let res = post(
        &w,
        "/run",
        &token,
        &[
            ("job", "push_to_lingxing"),
            ("po", &po),
            ("dry_run", "1"),
            ("reason", "look first"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let at = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(at.starts_with("/runs/"), "{at}");
    let result = page(&w, &at).await;
    assert!(result.contains("Dry run: nothing was written"), "{result}");
    assert!(result.contains("POST /pb/mp/order/v2/create"), "{result}");
    assert!(
        result.contains(&format!("&#34;platform_order_no&#34;: &#34;{po}&#34;")),
        "the body, pretty-printed: {result}"
    );
    assert!(
        result.contains("would write: request #1 (not sent)"),
        "{result}"
    );
    assert!(!result.contains("access_token") && !result.contains("app_secret"));
    assert_eq!(w.lx.calls("/pb/mp/order/v2/create"), 0, "nothing sent");
    assert!(w.lx.orders_for(&po).is_empty());
    assert_eq!(stage(&w, &po).await, Stage::Pulled, "not moved");
    // The timeline marks the dry run.
    let order = page(&w, &format!("/orders/{po}")).await;
    assert!(order.contains("tl-dry_run"), "{order}");

    // For real.
    let res = post(
        &w,
        "/run",
        &token,
        &[
            ("job", "push_to_lingxing"),
            ("po", &po),
            ("reason", "customer waiting"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let result = page(&w, res.headers()["location"].to_str().unwrap()).await;
    assert!(result.contains("succeeded"), "{result}");
    assert!(result.contains("advance 1 pulled → 2"), "{result}");
    assert_eq!(stage(&w, &po).await, Stage::Pushed);
    assert_eq!(w.lx.calls("/pb/mp/order/v2/create"), 1, "exactly one write");
    assert_eq!(w.lx.orders_for(&po).len(), 1);

    // The same job for a PO now at stage 2: refused, naming its stage and the job that handles it.
    let res = post(
        &w,
        "/run",
        &token,
        &[
            ("job", "push_to_lingxing"),
            ("po", &po),
            ("reason", "again"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let t = res.text().await.unwrap();
    assert!(
        t.contains(&format!("PO {po} is at stage 2")) && t.contains("ack_to_dsco handles it"),
        "{t}"
    );
    assert_eq!(w.lx.calls("/pb/mp/order/v2/create"), 1);

    // Audited: who, which job and PO, dry or not, why, and the outcome.
    let audit = w.store.audit_log(20).await.unwrap();
    let runs: Vec<_> = audit
        .iter()
        .filter(|a| a.entry.action == "job.run")
        .collect();
    assert_eq!(runs.len(), 2, "{audit:?}");
    let dry = runs
        .iter()
        .find(|a| a.entry.reason == "look first")
        .unwrap();
    assert_eq!(dry.entry.actor, "local");
    assert_eq!(dry.entry.target, format!("push_to_lingxing {po}"));
    assert_eq!(dry.entry.detail["dry_run"], json!(true));
    assert_eq!(dry.entry.detail["outcome"], json!("succeeded"));
    let real = runs
        .iter()
        .find(|a| a.entry.reason == "customer waiting")
        .unwrap();
    assert_eq!(real.entry.detail["dry_run"], json!(false));
    assert_eq!(real.entry.detail["advanced"], json!(1));
}

/// The value of the hidden field `name` in a page, unescaped.
fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!(r#"name="{name}" value=""#))
        .unwrap_or_else(|| panic!("no field {name}: {page}"));
    let rest = &page[at + name.len() + 15..];
    let v = &rest[..rest.find('"').unwrap()];
    v.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

async fn version(w: &World) -> Option<i64> {
    w.store.runtime_config_version().await.unwrap()
}

/// Action 7: a bad cron is refused naming the key and the config stays; a good edit shows its
/// diff (and the cron's next fires) first, then is saved as a new version with an audit entry;
/// a mapping entry is added; rollback to an earlier version, diff first; a save planned on a
/// version that moved on is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_edit_refuses_bad_input_shows_the_diff_saves_and_rolls_back() {
    let w = world().await;
    let (token, form) = csrf(&w, "/config/edit").await;
    assert!(
        form.contains(r#"name="job" value="push_to_lingxing""#),
        "{form}"
    );
    assert_eq!(version(&w).await, Some(1));

    // A bad cron: refused, naming the key; nothing written.
    let job = |cron: &'static str, size: &'static str| {
        vec![
            ("kind", "job"),
            ("job", "push_to_lingxing"),
            ("enable", "true"),
            ("cron", cron),
            ("size", size),
        ]
    };
    let res = post(&w, "/config/edit", &token, &job("every now and then", "50")).await;
    assert_eq!(res.status(), 422);
    let t = res.text().await.unwrap();
    assert!(
        t.contains("runtime_config.jobs.push_to_lingxing.cron"),
        "{t}"
    );
    assert!(t.contains("nothing was written"), "{t}");
    assert!(
        t.contains(r#"value="every now and then""#),
        "the entry is kept: {t}"
    );
    let res = post(&w, "/config/edit", &token, &job("0 */5 * * * *", "many")).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("runtime_config.jobs.push_to_lingxing.size")
    );
    assert_eq!(version(&w).await, Some(1), "the running config stays");

    // A good edit: the diff first, nothing saved yet.
    let res = post(&w, "/config/edit", &token, &job("0 */5 * * * *", "20")).await;
    assert_eq!(res.status(), 200);
    let confirm = res.text().await.unwrap();
    assert!(
        confirm.contains("runtime_config.jobs.push_to_lingxing.cron"),
        "{confirm}"
    );
    assert!(
        confirm.contains("runtime_config.jobs.push_to_lingxing.size"),
        "{confirm}"
    );
    assert_eq!(
        confirm.matches("<li><time").count(),
        3,
        "the next three fires of the new cron: {confirm}"
    );
    assert!(confirm.contains("0 */5 * * * *"), "{confirm}");
    assert_eq!(version(&w).await, Some(1));
    let edits = hidden(&confirm, "edits");
    assert_eq!(hidden(&confirm, "from_version"), "1");
    // Saving wants a reason.
    let res = post(
        &w,
        "/config/save",
        &token,
        &[("edits", &edits), ("from_version", "1"), ("reason", "")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(version(&w).await, Some(1));
    let res = post(
        &w,
        "/config/save",
        &token,
        &[
            ("edits", &edits),
            ("from_version", "1"),
            ("reason", "faster pushes"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/config?saved=2");
    assert_eq!(version(&w).await, Some(2));
    let saved = w.store.runtime_config().await.unwrap().unwrap();
    assert_eq!(saved.config.jobs[&JobName::PushToLingxing].size, 20);
    assert_eq!(saved.reason, "faster pushes");
    let page_after = page(&w, "/config?saved=2").await;
    assert!(page_after.contains("Saved as version v2"), "{page_after}");

    // A mapping entry added.
    let res = post(
        &w,
        "/config/edit",
        &token,
        &[
            ("kind", "mapping"),
            ("mapping", "shop"),
            ("key", "1000099999"),
            ("value", "110283406273996299"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let confirm = res.text().await.unwrap();
    assert!(
        confirm.contains("runtime_config.mapping.shop.&#34;1000099999&#34;"),
        "{confirm}"
    );
    let edits = hidden(&confirm, "edits");
    let res = post(
        &w,
        "/config/save",
        &token,
        &[
            ("edits", &edits),
            ("from_version", "2"),
            ("reason", "new retailer"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(version(&w).await, Some(3));

    // A save planned on v2 while v3 runs: refused.
    let res = post(
        &w,
        "/config/save",
        &token,
        &[
            ("edits", r#"[["jobs.push_to_lingxing.size","30"]]"#),
            ("from_version", "2"),
            ("reason", "late"),
        ],
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(version(&w).await, Some(3));

    // Rollback to v1: the diff first, then a new version equal to v1.
    let rb = page(&w, "/config/rollback?version=1").await;
    assert!(
        rb.contains("runtime_config.mapping.shop.&#34;1000099999&#34;"),
        "{rb}"
    );
    assert!(rb.contains("rollback to v1"), "{rb}");
    assert_eq!(version(&w).await, Some(3));
    let res = post(
        &w,
        "/config/rollback",
        &token,
        &[("version", "1"), ("from_version", "3"), ("reason", "undo")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(version(&w).await, Some(4));
    let v1 = w.store.runtime_config_at(1).await.unwrap().unwrap();
    let v4 = w.store.runtime_config().await.unwrap().unwrap();
    assert_eq!(v4.config, v1.config);

    // Audited: who, why, the versions and the changes.
    let audit = w.store.audit_log(20).await.unwrap();
    let set: Vec<_> = audit
        .iter()
        .filter(|a| a.entry.action == "config.set")
        .collect();
    assert_eq!(set.len(), 2, "{audit:?}");
    let first = set
        .iter()
        .find(|a| a.entry.reason == "faster pushes")
        .unwrap();
    assert_eq!(first.entry.actor, "local");
    assert_eq!(first.entry.target, "runtime_config v1 → v2");
    assert!(
        first.entry.detail["changes"]
            .to_string()
            .contains("push_to_lingxing.size")
    );
    let rb: Vec<_> = audit
        .iter()
        .filter(|a| a.entry.action == "config.rollback")
        .collect();
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0].entry.detail["to_version"], json!(4));
}

/// A run asked for while the job runs elsewhere is refused, and the page says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_a_job_while_it_runs_is_refused_and_said_so() {
    let w = world().await;
    let lease = w
        .store
        .try_acquire_lease(
            JobName::PushToLingxing,
            "another-replica",
            "run-elsewhere",
            w.clock.now(),
            Duration::from_secs(600),
        )
        .await
        .unwrap()
        .expect("the lease is free");
    let (token, _) = csrf(&w, "/run").await;
    let res = post(
        &w,
        "/run",
        &token,
        &[("job", "push_to_lingxing"), ("reason", "now please")],
    )
    .await;
    assert_eq!(res.status(), 409);
    let t = res.text().await.unwrap();
    assert!(
        t.contains("The job is running") && t.contains("run-elsewhere"),
        "{t}"
    );
    let audit = w.store.audit_log(5).await.unwrap();
    assert!(
        audit.iter().any(|a| a.entry.action == "job.run"
            && a.entry.detail["blocking_run_id"] == json!("run-elsewhere")),
        "{audit:?}"
    );
    w.store.release_lease(&lease).await.unwrap();
}
