//! The store suite: every case runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` is set (an unreachable server fails the test instead of skipping it).

mod alerts;
mod batches;
mod cases;
mod reconcile;

use std::sync::Arc;

use store::Store;

pub struct Backend {
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    Backend {
        store: store::connect(&url).await.unwrap(),
        url,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<Backend> {
    let base = store::testing::postgres_base_url()?;
    let url = store::testing::fresh_postgres_database(&base).await;
    Some(Backend {
        store: store::connect(&url).await.unwrap(),
        url,
        _dir: None,
    })
}

macro_rules! suite {
    ($($m:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let b = super::sqlite().await;
                    super::$m::$case(&b).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(b) = super::postgres().await else { return };
                    super::$m::$case(&b).await;
                }
            )*
        }
    };
}

suite!(
    alerts::alerts_transition_once_per_key_and_deliver_once_per_channel,
    reconcile::findings_open_once_refresh_and_resolve,
    cases::lease_is_exclusive_until_released_or_expired,
    cases::stale_fence_writes_nothing,
    cases::runs_are_recorded_and_rejected_fires_once_per_blocking_run,
    cases::orphan_runs_are_closed,
    cases::runtime_config_is_versioned_with_compare_and_swap,
    cases::every_runtime_config_version_stays_readable,
    cases::sku_map_previews_match_the_writes,
    cases::sku_map_replaces_one_source_and_manual_wins,
    cases::pull_upsert_merges_and_never_moves_the_stage,
    cases::stage_moves_only_forward_by_compare_and_swap,
    cases::identical_skips_fold_into_one_event,
    cases::operator_force_is_audited_and_needs_a_reason,
    cases::operator_retry_and_ignore_act_once_with_events_and_audit,
    cases::cursors_and_token_cache,
    cases::reopening_keeps_data,
    cases::candidates_follow_dirty_marks_and_back_off,
    cases::a_decision_on_older_data_never_clears_a_later_mark,
    cases::lingxing_view_marks_changes_and_tracking_dedupes,
    cases::lingxing_views_stored_before_typing_decode,
    cases::lingxing_view_parts_land_on_what_is_stored,
    cases::intents_are_recorded_once_and_requests_tracked,
    cases::stock_runs_settle_into_confirmed_state_and_release_once,
    cases::stock_items_page_by_keyset,
    cases::sku_conflicts_and_run_details_are_kept,
    cases::batched_writes_apply_every_item_or_none,
    batches::batch_moves_match_one_by_one,
    batches::batch_events_match_one_by_one,
    batches::batch_views_match_one_by_one,
    batches::batch_intents_match_one_by_one,
    batches::batch_upserts_match_one_by_one,
    batches::batch_trackings_invoices_and_intent_reads_match_one_by_one,
);

/// Processes started together (`run` and `config import`) open a fresh SQLite file at once; the
/// loser of the migration race re-runs the migrator instead of failing on `CREATE TABLE`.
#[tokio::test]
async fn concurrent_first_opens_of_one_sqlite_file_all_succeed() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/store.db", dir.path().display());
        let opens = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { store::connect(&url).await.map(|_| ()) })
        });
        for r in futures_join(opens).await {
            r.unwrap_or_else(|e| panic!("a concurrent open failed: {e}"));
        }
        let s = store::connect(&url).await.unwrap();
        assert!(s.runtime_config().await.unwrap().is_none());
    }
}

async fn futures_join<T>(hs: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in hs.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

/// A SQLite write that fails with SQLITE_FULL mid-transaction (SQLite then rolls the whole
/// transaction back by itself) is reported as a full disk, and once space returns every
/// connection of the pool writes again: none is left counted inside a transaction (which made
/// every later write fail with "attempted to call begin_with at non-zero transaction depth"
/// until restart).
#[tokio::test]
async fn a_full_disk_is_reported_and_writes_resume_when_space_returns() {
    use domain::JobName;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let sql = Arc::new(store::SqlStore::connect(&url).await.unwrap());
    let s: Arc<dyn Store> = sql.clone();
    let (lease, now) = leased(&*s, JobName::PullDscoOrders).await;
    let fence = lease.fence();
    // Larger than a page: the row needs new pages, which the limit refuses.
    let big = "x".repeat(64 * 1024);
    sql.limit_sqlite_pages(Some(1)).await.unwrap();
    // The pages the migrations freed are used up first.
    let mut filled = 0;
    while s
        .set_cursor(&format!("fill{filled}"), &big, now, &fence)
        .await
        .is_ok()
    {
        filled += 1;
        assert!(filled < 1000, "the page limit never bit");
    }
    // More failures than the pool has connections, so every connection meets one.
    for i in 0..20 {
        let err = s
            .set_cursor(&format!("c{i}"), &big, now, &fence)
            .await
            .unwrap_err();
        assert!(matches!(err, store::StoreError::DiskFull(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the store's disk is full (SQLite: database or disk is full): free space; the service resumes by itself"
        );
        // Small writes that fit in the pages the file has go on meanwhile.
        s.set_cursor("small", &i.to_string(), now, &fence)
            .await
            .unwrap();
    }
    sql.limit_sqlite_pages(None).await.unwrap();
    // No restart: every connection takes fenced writes again.
    let writes = (0..32).map(|i| {
        let s = s.clone();
        let fence = fence.clone();
        let big = big.clone();
        tokio::spawn(async move { s.set_cursor(&format!("c{i}"), &big, now, &fence).await })
    });
    for r in futures_join(writes).await {
        r.unwrap_or_else(|e| panic!("a write after space returned failed: {e}"));
    }
    assert_eq!(
        s.cursor("c31").await.unwrap().as_deref(),
        Some(big.as_str())
    );
    assert_eq!(s.cursor("small").await.unwrap().as_deref(), Some("19"));
    // The lease was never taken over: the fence still holds.
    assert!(
        s.renew_lease(&lease, now, std::time::Duration::from_secs(60))
            .await
            .unwrap()
    );
}

/// A statement failing inside a fenced transaction rolls it back and leaves the pool usable:
/// the next writes on the same pool succeed.
#[tokio::test]
async fn a_failed_statement_in_a_fenced_write_leaves_the_pool_usable() {
    use domain::JobName;

    let b = sqlite().await;
    let s = b.store.clone();
    let (lease, now) = leased(&*s, JobName::SyncStock).await;
    let run = |id: &str| store::NewRun {
        id: id.into(),
        job: JobName::SyncStock,
        trigger: domain::Trigger::Cli,
        scheduled_for: None,
        started_at: now,
        holder: "a".into(),
        dry_run: false,
        only_po: None,
        config_version: None,
    };
    s.insert_run(&run("run-a"), &lease.fence()).await.unwrap();
    for _ in 0..20 {
        // The same id again: the INSERT fails inside the fenced transaction.
        let err = s
            .insert_run(&run("run-a"), &lease.fence())
            .await
            .unwrap_err();
        assert!(matches!(err, store::StoreError::Db(_)), "{err:?}");
    }
    for i in 0..20 {
        s.set_cursor("after", &i.to_string(), now, &lease.fence())
            .await
            .unwrap();
    }
    assert_eq!(s.cursor("after").await.unwrap().as_deref(), Some("19"));
}

/// The lease of `job`, taken at the suite's epoch, and that time.
async fn leased(
    s: &dyn Store,
    job: domain::JobName,
) -> (store::Lease, chrono::DateTime<chrono::Utc>) {
    use chrono::TimeZone;
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let lease = s
        .try_acquire_lease(job, "a", "run-a", now, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    (lease, now)
}
