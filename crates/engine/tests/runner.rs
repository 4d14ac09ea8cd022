//! Runner and scheduler cases.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use clock::Clock;
use domain::{JobName, RunOutcome, RuntimeConfig, Trigger};
use engine::{Engine, EngineSettings, Job, JobError, RunCtx, RunOptions, RunResult, Scheduler};
use serde_json::json;
use store::prelude::*;
use tokio::sync::watch;

use crate::{Db, drive, settle, t0};

type Starts = Arc<Mutex<Vec<DateTime<Utc>>>>;

/// A job that sleeps on the clock, then writes a cursor (a fenced write) naming its holder.
struct SlowJob {
    name: JobName,
    takes: Duration,
    holder: String,
    starts: Starts,
}

#[async_trait]
impl Job for SlowJob {
    fn name(&self) -> JobName {
        self.name
    }
    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        self.starts.lock().unwrap().push(ctx.clock.now());
        ctx.clock.sleep(self.takes).await;
        ctx.store
            .set_cursor(
                "slow",
                &format!("{} {}", self.holder, ctx.run_id),
                ctx.clock.now(),
                &ctx.fence,
            )
            .await?;
        ctx.count(|c| {
            c.processed += 1;
            c.advanced += 1;
        });
        Ok(())
    }
}

fn settings() -> EngineSettings {
    EngineSettings {
        lease_ttl: Duration::from_secs(10),
        heartbeat_every: Duration::from_secs(2),
        config_poll_every: Duration::from_secs(2),
        shutdown_grace: Duration::from_millis(200),
    }
}

fn engine_with(
    store: Arc<dyn Store>,
    clock: &Clock,
    holder: &str,
    takes: Duration,
    s: EngineSettings,
) -> (Arc<Engine>, Starts) {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut e = Engine::new(store, clock.clone(), holder, s);
    e.register(Arc::new(SlowJob {
        name: JobName::SyncStock,
        takes,
        holder: holder.into(),
        starts: starts.clone(),
    }));
    (Arc::new(e), starts)
}

async fn save_cron(store: &dyn Store, cron: &str, extra: serde_json::Value, at: DateTime<Utc>) {
    let mut job = json!({"enable": true, "cron": cron, "size": 10});
    if let Some(o) = extra.as_object() {
        for (k, v) in o {
            job[k] = v.clone();
        }
    }
    let v = json!({"domain": "dsco_lingxing", "jobs": {"sync_stock": job}, "mapping": {}});
    let cfg: RuntimeConfig = RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    let current = store.runtime_config_version().await.unwrap();
    store
        .save_runtime_config(current, &cfg, "test", "test", at)
        .await
        .unwrap();
}

pub async fn two_runners_never_overlap_and_rejected_fires_are_recorded(db: &Db) {
    let clock = Clock::simulated(t0());
    let a_store = db.open().await;
    let b_store = db.open().await;
    save_cron(&*a_store, "* * * * * *", json!({}), clock.now()).await;
    let (a, _) = engine_with(
        a_store.clone(),
        &clock,
        "runner-a",
        Duration::from_secs(3),
        settings(),
    );
    let (b, _) = engine_with(
        b_store,
        &clock,
        "runner-b",
        Duration::from_secs(3),
        settings(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let ha = tokio::spawn(Scheduler::new(a).run(stop_rx.clone()));
    let hb = tokio::spawn(Scheduler::new(b).run(stop_rx));
    clock.sim().unwrap().wait_for_sleepers(4).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(20),
        Duration::from_millis(250),
    )
    .await;
    stop_tx.send(true).unwrap();
    ha.await.unwrap().unwrap();
    hb.await.unwrap().unwrap();

    let mut runs: Vec<_> = a_store
        .list_runs(Some(JobName::SyncStock), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == RunOutcome::Succeeded)
        .collect();
    runs.sort_by_key(|r| r.started_at);
    assert!(
        runs.len() >= 3,
        "at least three runs in 20 s of a 3 s job, got {}",
        runs.len()
    );
    for w in runs.windows(2) {
        let prev_end = w[0].ended_at.expect("closed");
        assert!(
            w[1].started_at >= prev_end,
            "runs overlap: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    // Both runners took part or were refused; refusals are one row per blocking run.
    let rejected = a_store
        .rejected_fires(Some(JobName::SyncStock))
        .await
        .unwrap();
    assert!(
        rejected.len() >= 2,
        "at least two rejected fires, got {rejected:?}"
    );
    let all = a_store
        .list_runs(Some(JobName::SyncStock), 100)
        .await
        .unwrap();
    let run_ids: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
    for r in &rejected {
        assert!(
            run_ids.contains(&r.blocking_run_id),
            "rejection names a real run"
        );
        assert!(r.count >= 1);
    }
    let mut blockers: Vec<_> = rejected.iter().map(|r| r.blocking_run_id.clone()).collect();
    blockers.dedup();
    assert_eq!(blockers.len(), rejected.len(), "once per blocking run");
}

pub async fn cron_change_in_the_store_is_picked_up_while_running(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(&*store, "*/10 * * * * *", json!({}), clock.now()).await;
    let (e, starts) = engine_with(store.clone(), &clock, "runner", Duration::ZERO, settings());
    let (stop_tx, stop_rx) = watch::channel(false);
    let h = tokio::spawn(Scheduler::new(e).run(stop_rx));
    clock.sim().unwrap().wait_for_sleepers(2).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(25),
        Duration::from_millis(500),
    )
    .await;
    let changed_at = clock.now();
    save_cron(&*store, "3,33 * * * * *", json!({}), changed_at).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(100),
        Duration::from_millis(500),
    )
    .await;
    stop_tx.send(true).unwrap();
    h.await.unwrap().unwrap();

    let mut runs = store
        .list_runs(Some(JobName::SyncStock), 100)
        .await
        .unwrap();
    runs.sort_by_key(|r| r.started_at);
    let fires: Vec<_> = runs.iter().filter_map(|r| r.scheduled_for).collect();
    let before: Vec<_> = fires.iter().filter(|f| **f <= changed_at).collect();
    let after: Vec<_> = fires
        .iter()
        .filter(|f| **f > changed_at + TimeDelta::seconds(2))
        .map(|f| f.second())
        .collect();
    assert_eq!(
        before.len(),
        2,
        "fires at :10 and :20 under the old cron: {fires:?}"
    );
    assert!(before.iter().all(|f| f.second() % 10 == 0));
    // 08:00:33, 08:01:03, 08:01:33 under the new one.
    assert_eq!(
        after,
        vec![33, 3, 33],
        "fires after the change follow the new cron: {fires:?}"
    );
    assert_eq!(starts.lock().unwrap().len(), fires.len());
}

pub async fn run_whose_lease_was_taken_over_writes_nothing(db: &Db) {
    let clock = Clock::simulated(t0());
    let slow_settings = EngineSettings {
        // The heartbeat is far later than the lease's life: the lease will expire mid-run, as
        // when a process stalls.
        heartbeat_every: Duration::from_secs(3600),
        ..settings()
    };
    let (a, _) = engine_with(
        db.open().await,
        &clock,
        "stalled",
        Duration::from_secs(60),
        slow_settings,
    );
    let b_store = db.open().await;
    let (b, _) = engine_with(
        b_store.clone(),
        &clock,
        "healthy",
        Duration::ZERO,
        settings(),
    );
    let (_tx, rx) = watch::channel(false);
    let rx2 = rx.clone();
    let ha = tokio::spawn(async move {
        a.run_job(JobName::SyncStock, Trigger::Cli, RunOptions::default(), rx2)
            .await
    });
    // The stalled run sleeps (job) plus its heartbeat task.
    clock.sim().unwrap().wait_for_sleepers(2).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(30),
        Duration::from_secs(1),
    )
    .await;
    // Its lease (10 s) has expired: the healthy runner takes over and writes.
    let rb = b
        .run_job(
            JobName::SyncStock,
            Trigger::Cli,
            RunOptions::default(),
            rx.clone(),
        )
        .await
        .unwrap();
    let RunResult::Ran {
        outcome,
        run_id: b_run,
        ..
    } = rb
    else {
        panic!("takeover expected, got {rb:?}")
    };
    assert_eq!(outcome, RunOutcome::Succeeded);
    let after_b = b_store.cursor("slow").await.unwrap().unwrap();
    assert!(after_b.starts_with("healthy"));
    // The stalled run wakes and tries to write with its stale token.
    drive(
        &clock,
        t0() + TimeDelta::seconds(70),
        Duration::from_secs(1),
    )
    .await;
    let ra = ha.await.unwrap().unwrap();
    let RunResult::Ran {
        outcome,
        error,
        run_id: a_run,
        ..
    } = ra
    else {
        panic!("{ra:?}")
    };
    assert_eq!(outcome, RunOutcome::LeaseLost, "{error:?}");
    assert_eq!(
        b_store.cursor("slow").await.unwrap().unwrap(),
        after_b,
        "the stale run wrote nothing"
    );
    let rec = b_store.get_run(&a_run).await.unwrap().unwrap();
    assert_eq!(rec.outcome, RunOutcome::LeaseLost);
    assert!(rec.lease_token < b_store.get_run(&b_run).await.unwrap().unwrap().lease_token);
}

pub async fn missed_fires_coalesce_into_one_run_at_start(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(&*store, "0 */15 * * * *", json!({}), clock.now()).await;
    let (e, _) = engine_with(store.clone(), &clock, "runner", Duration::ZERO, settings());
    // A run answered the 08:00 fire; then the service was down for an hour.
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions {
        scheduled_for: Some(t0()),
        ..RunOptions::default()
    };
    e.run_job(JobName::SyncStock, Trigger::Cron, opts, rx)
        .await
        .unwrap();
    clock
        .sim()
        .unwrap()
        .advance_to(t0() + TimeDelta::minutes(62));
    let (stop_tx, stop_rx) = watch::channel(false);
    let h = tokio::spawn(Scheduler::new(e).run(stop_rx));
    settle().await;
    clock.sim().unwrap().wait_for_sleepers(2).await;
    settle().await;
    stop_tx.send(true).unwrap();
    h.await.unwrap().unwrap();
    let runs = store.list_runs(Some(JobName::SyncStock), 10).await.unwrap();
    assert_eq!(
        runs.len(),
        2,
        "four missed fires coalesce into one run: {runs:?}"
    );
    assert_eq!(runs[0].scheduled_for, Some(t0() + TimeDelta::minutes(60)));
    assert_eq!(runs[0].outcome, RunOutcome::Succeeded);
}

pub async fn timeout_stops_a_run(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(
        &*store,
        "0 0 * * * *",
        json!({"timeout": "1m"}),
        clock.now(),
    )
    .await;
    let (e, _) = engine_with(
        store.clone(),
        &clock,
        "runner",
        Duration::from_secs(600),
        settings(),
    );
    let (_tx, rx) = watch::channel(false);

    let e2 = e.clone();
    let h = tokio::spawn(async move {
        e2.run_job(
            JobName::SyncStock,
            Trigger::Manual,
            RunOptions::default(),
            rx,
        )
        .await
    });
    clock.sim().unwrap().wait_for_sleepers(3).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(61),
        Duration::from_secs(1),
    )
    .await;
    let RunResult::Ran {
        outcome,
        error,
        run_id,
        ..
    } = h.await.unwrap().unwrap()
    else {
        panic!()
    };
    assert_eq!(outcome, RunOutcome::TimedOut);
    assert!(
        error
            .unwrap()
            .contains("runtime_config.jobs.sync_stock.timeout")
    );
    let rec = store.get_run(&run_id).await.unwrap().unwrap();
    assert_eq!(rec.trigger, Trigger::Manual);
    assert_eq!(rec.ended_at, Some(t0() + TimeDelta::seconds(60)));
    // The lease was freed: the next run starts at once.
    assert!(
        store
            .lease_info(JobName::SyncStock)
            .await
            .unwrap()
            .unwrap()
            .holder
            .is_none()
    );
}

pub async fn shutdown_stops_the_running_job_and_frees_its_lease(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(&*store, "* * * * * *", json!({}), clock.now()).await;
    let (e, starts) = engine_with(
        store.clone(),
        &clock,
        "runner",
        Duration::from_secs(3600),
        settings(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let h = tokio::spawn(Scheduler::new(e).run(stop_rx));
    clock.sim().unwrap().wait_for_sleepers(2).await;
    drive(
        &clock,
        t0() + TimeDelta::seconds(2),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(starts.lock().unwrap().len(), 1);
    stop_tx.send(true).unwrap();
    h.await.unwrap().unwrap();
    let runs = store.list_runs(Some(JobName::SyncStock), 10).await.unwrap();
    let ran: Vec<_> = runs
        .iter()
        .filter(|r| r.outcome != RunOutcome::Running)
        .collect();
    assert_eq!(ran.len(), runs.len(), "no run left open");
    assert!(runs.iter().any(|r| r.outcome == RunOutcome::Cancelled));
    assert!(
        store
            .lease_info(JobName::SyncStock)
            .await
            .unwrap()
            .unwrap()
            .holder
            .is_none()
    );
}

/// A runner killed (-9) mid-run while another process runs on the same store: the other's
/// start finds the lease still alive and leaves the run alone, but once the lease expires the
/// run is closed as failed, naming the dead runner and its last heartbeat, without waiting for
/// another restart.
pub async fn a_run_whose_runner_died_is_closed_once_its_lease_expires(db: &Db) {
    let clock = Clock::simulated(t0());
    let (a, _) = engine_with(
        db.open().await,
        &clock,
        "killed",
        Duration::from_secs(3600),
        settings(),
    );
    let b_store = db.open().await;
    let (b, _) = engine_with(b_store.clone(), &clock, "next", Duration::ZERO, settings());
    let (_tx, rx) = watch::channel(false);
    let ha = tokio::spawn(async move {
        a.run_job(JobName::SyncStock, Trigger::Cli, RunOptions::default(), rx)
            .await
    });
    // The job sleeps and its heartbeat beats once.
    clock.sim().unwrap().wait_for_sleepers(2).await;
    drive(&clock, t0() + TimeDelta::seconds(3), Duration::from_secs(1)).await;
    // kill -9: the process and all its tasks vanish; nothing closes the run or frees the lease.
    ha.abort();
    let _ = ha.await;
    let open = b_store
        .list_runs(Some(JobName::SyncStock), 1)
        .await
        .unwrap();
    assert_eq!(open[0].outcome, RunOutcome::Running);
    let killed_run = open[0].id.clone();

    // The next process starts within the lease time: the run still looks alive.
    let (stop_tx, stop_rx) = watch::channel(false);
    let h = tokio::spawn(Scheduler::new(b).run(stop_rx));
    settle().await;
    let rec = b_store.get_run(&killed_run).await.unwrap().unwrap();
    assert_eq!(rec.outcome, RunOutcome::Running, "the lease is still alive");
    // The lease (10 s from the last heartbeat at 08:00:02) expires while the process runs.
    drive(
        &clock,
        t0() + TimeDelta::seconds(20),
        Duration::from_secs(1),
    )
    .await;
    let rec = b_store.get_run(&killed_run).await.unwrap().unwrap();
    assert_eq!(rec.outcome, RunOutcome::Failed, "{rec:?}");
    let error = rec.error.unwrap_or_default();
    // Its last heartbeat: at 08:00:02, or a step later when the beat's task ran late.
    assert!(
        error.contains("the runner killed died (no heartbeat since 2026-03-01 08:00:02 UTC)")
            || error
                .contains("the runner killed died (no heartbeat since 2026-03-01 08:00:03 UTC)"),
        "{error}"
    );
    let ended = rec.ended_at.unwrap();
    assert!(
        ended >= t0() + TimeDelta::seconds(12) && ended <= t0() + TimeDelta::seconds(16),
        "{ended}"
    );
    stop_tx.send(true).unwrap();
    h.await.unwrap().unwrap();
}

/// On a full disk (SQLite's SQLITE_FULL), every run fails saying so — never "lease taken over",
/// never a transaction-depth error — and the store's condition shows in readiness; once space
/// returns, the next run succeeds without a restart and readiness clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_runs_clearly_and_they_resume_when_space_returns() {
    let db = Db::sqlite().await;
    let sql = Arc::new(store::SqlStore::connect(&db.url).await.unwrap());
    let clock = Clock::simulated(t0());
    let mut e = Engine::new(sql.clone(), clock.clone(), "runner", settings());
    e.register(Arc::new(engine::testing::BigWrite(JobName::PullDscoOrders)));
    let (_tx, rx) = watch::channel(false);
    let run = || {
        e.run_job(
            JobName::PullDscoOrders,
            Trigger::Cli,
            RunOptions::default(),
            rx.clone(),
        )
    };
    sql.limit_sqlite_pages(Some(0)).await.unwrap();
    for _ in 0..12 {
        // The run fails, or (when even its run record finds no room) cannot be recorded: both
        // say the disk is full.
        let error = match run().await {
            Ok(RunResult::Ran { outcome, error, .. }) => {
                assert_eq!(outcome, RunOutcome::Failed, "{error:?}");
                error.unwrap()
            }
            Ok(r) => panic!("{r:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.starts_with("the store's disk is full (SQLite: database or disk is full): free space; the service resumes by itself"),
            "{error}"
        );
        clock.sim().unwrap().advance(Duration::from_secs(1));
    }
    assert!(matches!(
        e.store_problem(),
        Some((store::StoreProblem::DiskFull(_), _))
    ));
    let r = e.readiness().await;
    assert!(!r.ready);
    let disk = r.checks.iter().find(|c| c.name == "store_disk").unwrap();
    assert!(
        !disk.ok && disk.message.contains("disk is full") && disk.message_zh.contains("磁盘已满"),
        "{disk:?}"
    );

    sql.limit_sqlite_pages(None).await.unwrap();
    let RunResult::Ran { outcome, error, .. } = run().await.unwrap() else {
        panic!("ran expected")
    };
    assert_eq!(outcome, RunOutcome::Succeeded, "{error:?}");
    assert!(e.store_problem().is_none());
    let r = e.readiness().await;
    assert!(
        r.checks.iter().find(|c| c.name == "store_disk").unwrap().ok,
        "{r:?}"
    );
    let runs = sql
        .list_runs(Some(JobName::PullDscoOrders), 20)
        .await
        .unwrap();
    assert!(
        runs.iter().all(|r| r.outcome != RunOutcome::LeaseLost),
        "{runs:?}"
    );
}

/// Credentials the far sides refuse, as their clients classify it, are recorded with the run
/// and fail readiness by name: LingXing refusing the app secret (the push skips its orders and
/// the run goes on) and DSCO refusing the client credentials (the pull fails).
pub async fn refused_credentials_are_recorded_with_the_run_and_fail_readiness(db: &Db) {
    use sim::dsco::{Endpoint, Fault};
    let lx_cfg = sim::lingxing::LingxingSimConfig {
        app_secret: "a-rotated-secret".into(),
        ..sim::lingxing::LingxingSimConfig::manual()
    };
    let w = crate::orders::world_with(db, json!({}), lx_cfg).await;
    w.dsco.generate_orders(2, 11);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let r = w.engine.readiness().await;
    assert!(r.ready, "{r:?}");

    w.run(JobName::PushToLingxing).await;
    w.dsco.expire_tokens();
    w.dsco
        .inject_fault(Endpoint::Token, Fault::HttpStatus { status: 401 });
    w.advance(60);
    let (_tx, rx) = watch::channel(false);
    let RunResult::Ran { outcome, error, .. } = w
        .engine
        .run_job(
            JobName::PullDscoOrders,
            Trigger::Cli,
            RunOptions::default(),
            rx,
        )
        .await
        .unwrap()
    else {
        panic!("ran expected")
    };
    assert_eq!(outcome, RunOutcome::Failed);
    let error = error.unwrap();
    assert!(error.contains("DSCO authentication failed"), "{error}");

    let r = w.engine.readiness().await;
    assert!(!r.ready, "{r:?}");
    let check = |name: &str| r.checks.iter().find(|c| c.name == name).unwrap().clone();
    let dsco = check("credentials:pull_dsco_orders");
    assert!(
        !dsco.ok && dsco.message.contains("DSCO authentication failed"),
        "{dsco:?}"
    );
    assert!(dsco.message_zh.contains("凭据被对方拒绝"), "{dsco:?}");
    let lx = check("credentials:push_to_lingxing");
    assert!(!lx.ok, "{lx:?}");
    assert!(check("credentials:ack_to_dsco").ok);
    let runs = w
        .store
        .list_runs(Some(JobName::PushToLingxing), 1)
        .await
        .unwrap();
    assert_eq!(
        runs[0].outcome,
        RunOutcome::Succeeded,
        "the push went on, skipping its orders"
    );
    assert_eq!(
        w.store
            .run_failures(JobName::PushToLingxing, 1)
            .await
            .unwrap()
            .get(&runs[0].id)
            .map(String::as_str),
        Some(engine::AUTH_REFUSED)
    );
}

/// A job that fails while its switch is on.
struct Flaky(Arc<std::sync::atomic::AtomicBool>);

#[async_trait]
impl Job for Flaky {
    fn name(&self) -> JobName {
        JobName::SyncStock
    }
    async fn run(&self, _ctx: &RunCtx) -> Result<(), JobError> {
        if self.0.load(std::sync::atomic::Ordering::Relaxed) {
            Err(JobError::Failed(
                "DSCO temporarily unavailable: connection refused".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// An enabled job fails readiness after three failed runs in a row, and also when its runs
/// fail now and then but none succeeded for four periods (at least an hour); one success
/// clears it.
pub async fn a_job_failing_in_a_row_or_without_success_for_long_fails_readiness(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(&*store, "0 */5 * * * *", json!({}), clock.now()).await;
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut e = Engine::new(store.clone(), clock.clone(), "runner", settings());
    e.register(Arc::new(Flaky(failing.clone())));
    let (_tx, rx) = watch::channel(false);
    let run = |fail: bool| {
        failing.store(fail, std::sync::atomic::Ordering::Relaxed);
        e.run_job(
            JobName::SyncStock,
            Trigger::Cron,
            RunOptions::default(),
            rx.clone(),
        )
    };
    let job_check = |r: &engine::Readiness| {
        r.checks
            .iter()
            .find(|c| c.name == "job:sync_stock")
            .unwrap()
            .clone()
    };
    run(false).await.unwrap();
    for _ in 0..2 {
        clock.sim().unwrap().advance(Duration::from_secs(300));
        run(true).await.unwrap();
    }
    assert!(
        job_check(&e.readiness().await).ok,
        "two failures are not yet failing"
    );
    clock.sim().unwrap().advance(Duration::from_secs(300));
    run(true).await.unwrap();
    let r = e.readiness().await;
    let c = job_check(&r);
    assert!(!r.ready && !c.ok, "{r:?}");
    assert!(
        c.message.contains(
            "the last 3 runs of sync_stock failed; the last: DSCO temporarily unavailable"
        ),
        "{c:?}"
    );
    assert!(c.message_zh.contains("最近 3 次运行均失败"), "{c:?}");

    // A success clears it; then failures spread thin, but no success for over an hour.
    clock.sim().unwrap().advance(Duration::from_secs(300));
    run(false).await.unwrap();
    assert!(e.readiness().await.ready);
    let last_success = clock.now();
    // Two failures, forty minutes apart: not three in a row, but no success for 80 minutes.
    for _ in 0..2 {
        clock.sim().unwrap().advance(Duration::from_secs(2400));
        run(true).await.unwrap();
    }
    let c = job_check(&e.readiness().await);
    assert!(!c.ok, "{c:?}");
    assert!(
        c.message.contains(&format!(
            "sync_stock has not succeeded since {}",
            last_success.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        "{c:?}"
    );
}

/// A job whose error quotes a credentialed request.
struct Leaky;

#[async_trait]
impl Job for Leaky {
    fn name(&self) -> JobName {
        JobName::SyncStock
    }
    async fn run(&self, _ctx: &RunCtx) -> Result<(), JobError> {
        Err(JobError::Failed(
            "GET https://openapi.example/erp/sc/routing/data/local_inventory/inventoryDetails?access_token=tok-123&sign=SIG456&app_key=k: timed out (Authorization: Bearer eyJabc)".into(),
        ))
    }
}

/// A run's error is stored and shown like a reason, so the same safety net masks any token,
/// signature or bearer credential it quotes (issue 13.12).
pub async fn a_run_error_never_stores_a_credential(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    let mut e = Engine::new(store.clone(), clock.clone(), "runner", settings());
    e.register(Arc::new(Leaky));
    let (_tx, rx) = watch::channel(false);
    let RunResult::Ran { run_id, .. } = e
        .run_job(JobName::SyncStock, Trigger::Cli, RunOptions::default(), rx)
        .await
        .unwrap()
    else {
        panic!("the run was rejected")
    };
    let stored = store.get_run(&run_id).await.unwrap().unwrap();
    let text = stored.error.unwrap();
    assert!(text.contains("inventoryDetails"), "{text}");
    for secret in ["tok-123", "SIG456", "eyJabc"] {
        assert!(!text.contains(secret), "{secret} stored in {text}");
    }
}

/// A run whose task is aborted mid-run (the in-process analogue of `kill -9`) leaves its lease to
/// expire: its heartbeat stops with it, so another runner takes the job over after the lease's
/// time to live instead of never.
pub async fn a_run_dropped_mid_way_lets_its_lease_expire(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    save_cron(&*store, "0 0 * * * *", json!({}), clock.now()).await;
    let (a, _) = engine_with(
        store.clone(),
        &clock,
        "runner-a",
        Duration::from_secs(3600),
        settings(),
    );
    let (_tx, rx) = watch::channel(false);
    let h = tokio::spawn(async move {
        a.run_job(JobName::SyncStock, Trigger::Cli, RunOptions::default(), rx)
            .await
    });
    // Parked: the job's sleep, the run timeout and the heartbeat.
    clock.sim().unwrap().wait_for_sleepers(3).await;
    h.abort();
    assert!(h.await.unwrap_err().is_cancelled());
    // Well past the lease's time to live (10 s) in heartbeat-sized steps: a heartbeat that
    // outlived its run would renew the lease at every step.
    drive(
        &clock,
        t0() + TimeDelta::seconds(30),
        Duration::from_secs(1),
    )
    .await;
    let info = store.lease_info(JobName::SyncStock).await.unwrap().unwrap();
    assert!(
        info.expires_at <= clock.now(),
        "the dropped run's lease was still being renewed: {info:?}"
    );
    let (b, starts) = engine_with(
        db.open().await,
        &clock,
        "runner-b",
        Duration::from_secs(1),
        settings(),
    );
    let (_tx, rx) = watch::channel(false);
    let h = tokio::spawn(async move {
        b.run_job(JobName::SyncStock, Trigger::Cli, RunOptions::default(), rx)
            .await
    });
    clock.sim().unwrap().wait_for_sleepers(3).await;
    clock.sim().unwrap().advance(Duration::from_secs(1));
    let r = h.await.unwrap().unwrap();
    assert!(
        matches!(
            r,
            RunResult::Ran {
                outcome: RunOutcome::Succeeded,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(starts.lock().unwrap().len(), 1);
}
