//! The store suite: every case runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` is set (an unreachable server fails the test instead of skipping it).

mod batches;
mod cases;

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
    cases::lease_is_exclusive_until_released_or_expired,
    cases::stale_fence_writes_nothing,
    cases::runs_are_recorded_and_rejected_fires_once_per_blocking_run,
    cases::orphan_runs_are_closed,
    cases::runtime_config_is_versioned_with_compare_and_swap,
    cases::sku_map_replaces_one_source_and_manual_wins,
    cases::pull_upsert_merges_and_never_moves_the_stage,
    cases::stage_moves_only_forward_by_compare_and_swap,
    cases::identical_skips_fold_into_one_event,
    cases::operator_force_is_audited_and_needs_a_reason,
    cases::cursors_and_token_cache,
    cases::reopening_keeps_data,
    cases::candidates_follow_dirty_marks_and_back_off,
    cases::a_decision_on_older_data_never_clears_a_later_mark,
    cases::lingxing_view_marks_changes_and_tracking_dedupes,
    cases::intents_are_recorded_once_and_requests_tracked,
    cases::stock_runs_settle_into_confirmed_state_and_release_once,
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
