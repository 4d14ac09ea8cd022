//! Engine tests on the simulated clock, against SQLite always and PostgreSQL when
//! `TEST_DATABASE_URL` is set (two runners share one database, as two replicas would).

mod alerts;
mod data_defects;
mod defects;
mod dry_run;
mod legacy;
mod online_check;
mod ops;
mod orders;
mod property;
mod reasons;
mod reconcile;
mod runner;
mod startup;
mod stock;
mod token;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use clock::Clock;
use store::Store;

pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            url: format!("sqlite://{}/engine.db", dir.path().display()),
            _dir: Some(dir),
        }
    }
    pub async fn postgres() -> Option<Db> {
        let base = store::testing::postgres_base_url()?;
        Some(Db {
            url: store::testing::fresh_postgres_database(&base).await,
            _dir: None,
        })
    }
    /// A new connection pool on the same database, as another process would open.
    pub async fn open(&self) -> Arc<dyn Store> {
        store::connect(&self.url).await.unwrap()
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

/// Moves the simulated clock to `until` in `step`s, letting the tasks woken by each step run
/// (including their database I/O) before the next.
pub async fn drive(clock: &Clock, until: DateTime<Utc>, step: Duration) {
    let sim = clock.sim().expect("simulated clock");
    while clock.now() < until {
        sim.advance(step);
        settle().await;
    }
}

pub async fn settle() {
    for _ in 0..3 {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

mod cases {
    pub use crate::alerts::*;
    pub use crate::data_defects::*;
    pub use crate::defects::*;
    pub use crate::dry_run::*;
    pub use crate::ops::*;
    pub use crate::orders::*;
    pub use crate::reasons::*;
    pub use crate::reconcile::*;
    pub use crate::runner::*;
    pub use crate::stock::*;
    pub use crate::token::*;
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::Db::sqlite().await;
                    crate::cases::$case(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = crate::Db::postgres().await else { return };
                    crate::cases::$case(&db).await;
                }
            )*
        }
    };
}

both_backends!(
    reconcile_finds_orders_behind_and_marks_them_for_their_job,
    reconcile_finds_writes_the_far_side_does_not_show,
    reconcile_finds_sides_that_diverged,
    reconcile_finds_duplicates_deletions_quantities_and_lost_invoices,
    fixing_a_mapping_from_its_cause_retries_and_pushes_each_order_once,
    retry_now_runs_the_stage_job_for_that_order_only,
    ignore_bulk_retry_and_the_force_guard,
    an_unmapped_sku_lingxing_refused_is_fixed_by_a_manual_entry,
    stuck_orders_and_writes_off_for_long_alert_and_resolve,
    an_unmapped_shop_raises_one_alert_and_resolves_after_the_fix,
    a_failing_job_and_refused_credentials_alert_once_and_resolve,
    a_job_without_success_for_long_and_a_lost_lease_alert_and_resolve,
    a_lingxing_outage_and_a_refused_app_secret_alert_and_resolve,
    two_runners_never_overlap_and_rejected_fires_are_recorded,
    cron_change_in_the_store_is_picked_up_while_running,
    run_whose_lease_was_taken_over_writes_nothing,
    missed_fires_coalesce_into_one_run_at_start,
    timeout_stops_a_run,
    shutdown_stops_the_running_job_and_frees_its_lease,
    a_run_whose_runner_died_is_closed_once_its_lease_expires,
    refused_credentials_are_recorded_with_the_run_and_fail_readiness,
    a_job_failing_in_a_row_or_without_success_for_long_fails_readiness,
    a_run_dropped_mid_way_lets_its_lease_expire,
    replicas_share_one_lingxing_token,
    orders_go_from_dsco_through_lingxing_and_back,
    a_dry_run_shows_each_request_and_writes_nothing,
    apply_then_timeout_still_writes_exactly_once,
    a_ship_backlog_is_sent_part_by_part,
    an_order_read_again_by_the_ship_job_is_not_marked_by_its_own_write,
    an_order_whose_ack_dsco_confirmed_ships_before_a_pull_reads_it,
    a_feed_read_a_moment_ago_serves_both_jobs,
    a_feed_read_in_flight_serves_the_job_waiting_for_it,
    a_ship_run_reads_outbound_orders_while_another_job_reads_the_feed,
    a_ship_run_reads_outbound_orders_while_it_reads_the_feed,
    an_order_made_ready_while_the_parts_are_read_ships_in_that_run,
    a_ship_backlog_run_reads_ahead_the_orders_awaiting_their_ack,
    a_ship_run_reads_ahead_when_lingxing_shipped_a_backlog_awaiting_acks,
    an_order_acknowledged_while_a_ship_backlog_is_read_ships_in_that_run,
    a_ship_backlog_run_settles_its_earlier_parts,
    new_orders_are_created_in_overlapping_chunks_each_once,
    three_packages_over_two_days_then_one_invoice,
    waiting_a_day_costs_at_most_one_call_per_run,
    confirmations_seen_in_pulled_orders_read_no_change_log,
    outbound_orders_are_read_only_after_lingxing_moved,
    push_reasons_and_a_fixed_mapping_moves_the_order,
    holds_multi_ban_and_cancellation_after_push,
    dsco_rejects_a_shipment_with_its_message,
    a_config_change_rechecks_held_orders_at_once,
    an_order_past_four_periods_is_stuck,
    unavailable_far_sides_and_waiting_for_packages,
    pull_takes_at_most_size_orders_and_misses_none,
    an_order_changed_without_a_new_update_time_is_stored_again,
    cancelled_after_push_can_cancel_in_lingxing,
    an_order_cancelled_in_lingxing_needs_attention,
    a_shipment_dsco_did_not_take_is_sent_again,
    a_line_without_any_sku_is_not_pushed,
    an_order_deleted_in_lingxing_is_missing_until_pushed_again,
    dsco_taking_the_ack_back_holds_shipments_until_acknowledged_again,
    a_substituted_sku_in_lingxing_matches_no_dsco_line,
    an_ambiguous_reverse_mapping_holds_the_shipment,
    a_line_priced_only_with_tax_is_pushed_but_not_invoiced,
    an_order_deleted_after_it_was_read_is_noticed,
    an_order_cancelled_in_lingxing_after_the_ack_needs_attention,
    stock_sums_warehouses_applies_reserve_and_sends_only_changes,
    stock_zero_drop_guard_holds_until_released,
    stock_sync_false_reads_and_records_only,
    stock_dsco_failure_is_recorded_against_its_sku,
    pairs_clean_run_writes_mapping_and_audit_files,
    pairs_conflict_empty_msku_or_sku,
    pairs_conflict_msku_to_many_skus,
    pairs_conflict_sku_to_many_mskus,
    pairs_conflict_store_mismatch,
    pairs_conflict_across_stores,
    pairs_store_listing_none_is_a_failed_read,
    pairs_manual_entries_survive_and_win,
    pairs_concurrent_manual_edit_fails_the_swap_cleanly,
    cleanup_job_records_what_it_deleted,
    an_intercepted_outbound_needs_attention,
    a_shipment_request_dsco_partly_refuses,
    a_pull_burst_larger_than_size_drains_and_the_cursor_never_moves_back,
    the_lingxing_feed_sweeps_its_overlap_once_a_minute,
    an_order_a_pull_made_ready_during_a_slow_ship_run_ships_in_that_run,
    an_order_cancelled_during_a_slow_ship_run_is_left_to_its_cancellation,
    an_order_forced_on_during_a_slow_ship_run_gets_no_shipment,
    an_order_cancelled_while_its_create_is_in_flight_is_cancelled_in_lingxing,
    an_order_cancelled_after_an_unanswered_create_is_flagged,
    an_order_forced_to_cancelled_after_an_unanswered_create_is_flagged,
    an_order_cancelled_before_its_create_is_not_created,
    a_failed_automatic_cancel_in_lingxing_is_retried_through_its_intent,
    an_unclear_automatic_cancel_is_verified_not_sent_again,
    no_write_stays_open_on_an_order_that_moved_on,
    a_timeout_leaves_no_credential_in_stored_text,
    a_run_error_never_stores_a_credential,
    // data defects (issue 13)
    one_sku_on_two_lines_ships_and_invoices_both,
    a_line_number_twice_is_held_by_push_and_ship,
    a_po_with_spaces_is_kept_as_sent_and_held,
    prices_out_of_range_are_held,
    unreadable_orders_get_their_own_reason_once,
);

#[test]
fn a_recorded_interleaving_with_a_split_after_audit_converges() {
    property::a_recorded_interleaving_with_a_split_after_audit_converges();
}

#[test]
fn random_interleavings_keep_the_stage_machine_sound() {
    property::random_interleavings_keep_the_stage_machine_sound();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipment_dsco_rejected_stays_needing_attention() {
    let db = Db::sqlite().await;
    property::a_shipment_dsco_rejected_stays_needing_attention(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_stored_payload_stops_its_order_not_the_batch() {
    let db = Db::sqlite().await;
    reasons::a_damaged_stored_payload_stops_its_order_not_the_batch(&db).await;
}
