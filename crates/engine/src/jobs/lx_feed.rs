//! What changed in LingXing since the last run, at the cost of one call when nothing did.
//!
//! Waiting for LingXing (audit, shipping) must not cost a call per waiting order per run. The
//! jobs that wait on LingXing (ACK, ship) share one cursor and ask the order list for the orders
//! whose `update_time` falls in `[cursor − 10 s, now)`, in the mapped stores, deleted orders
//! included, 500 a page. What LingXing makes visible late is caught by a sweep: at most once a
//! minute a read starts at the sweep mark instead, so that every instant is read again at least
//! two minutes after it (see [`window`]). Every local order among them gets its LingXing view
//! refreshed, which marks it dirty when the view changed; only dirty (or due) orders are
//! decided. The cursor moves only after a complete read. Orders whose view was never read (just
//! pushed, or pushed before the cursor existed) or not refreshed for a day are looked up by PO
//! number, 200 a call.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use domain::lx_view::{LxView, LxViewOrder, LxViewPart};
use domain::{PoNumber, Stage};
use lingxing::{Order, OrderListQuery};
use store::OrderRecord;

use super::Clients;
use crate::{JobError, RunCtx};

/// How late LingXing may make an update visible and still be read: every instant is in a read
/// made at least this long after it (a sweep, see [`window`]).
const OVERLAP: TimeDelta = TimeDelta::minutes(2);
/// What a read between sweeps takes again before the cursor (whole seconds, clocks apart).
const FRESH_OVERLAP: TimeDelta = TimeDelta::seconds(10);
/// A sweep is due once the sweep mark lags `now − OVERLAP` by this much.
const SWEEP_EVERY: TimeDelta = TimeDelta::minutes(1);
/// One cursor for the ACK and ship jobs: the feed is the same list, so whichever job reads it
/// first applies it to the orders of both (see [`FEED_STAGES`]) and the other reads only what
/// changed since, from 10 s before the cursor.
const FEED_CURSOR: &str = "lingxing_changes";
/// A read that ended this recently (by either job) stands for this job's read too: the ACK
/// and ship jobs run side by side, and on a backlog each read takes in the last
/// [`FRESH_OVERLAP`] again (thousands of orders after a burst), so reading it twice a second
/// would double the list's calls for nothing newer than a second.
const SHARED_READ: TimeDelta = TimeDelta::seconds(2);
/// The sweep mark: every update before it has been in a read made at least [`OVERLAP`] after
/// it. Shared by both jobs like the cursor; two sweeps at once at worst store the older
/// mark, and the next sweep comes sooner.
const SWEPT_CURSOR: &str = "lingxing_changes.swept";

/// The stages whose orders a feed read updates: waiting for the audit (ACK) or for packages (ship).
pub(crate) const FEED_STAGES: [Stage; 3] = [Stage::Pushed, Stage::Acknowledged, Stage::Shipped];
/// A view not refreshed for this long is read again by PO when its order is decided. The feed
/// shows what changed, not an order that left every listing (removed for good): without this
/// such an order would wait on its last view for ever. Waiting orders are decided weekly, so
/// this costs one call per 200 of them a week, and at most one a day for orders decided every
/// run (needs attention, held).
const STALE_VIEW: TimeDelta = TimeDelta::days(1);
/// The order list accepts windows of at most 31 days.
const MAX_WINDOW: TimeDelta = TimeDelta::days(30);

/// Where a feed read ending at `end` starts, given the cursor (`None` before the first read)
/// and the sweep mark (`None` before the first sweep), and the sweep mark to store after the
/// read if it moves: `(start, swept)`.
///
/// Between sweeps a read starts [`FRESH_OVERLAP`] before the cursor. A sweep starts at the mark
/// and moves it to `end − OVERLAP`: the read reaches `end`, and the instants before
/// `end − OVERLAP` are read at least [`OVERLAP`] after them, so every instant is swept once, at
/// least that late. A sweep is due once the mark lags by [`SWEEP_EVERY`] more: with jobs firing
/// every few seconds (a backlog) the overlap is read once a minute, not on every run; with jobs
/// a minute or more apart every read is a sweep, one listing as wide as a plain overlap.
fn window(
    cursor: Option<DateTime<Utc>>,
    swept: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let oldest = end - MAX_WINDOW;
    let late = end - OVERLAP;
    let Some(c) = cursor else {
        // No cursor yet (first start, or the jobs never ran): read as far back as the list
        // allows. A view stored before the feed existed (by the push's existence check, say)
        // may have changed since, and nothing else would tell: such an order would otherwise
        // wait on a stale view until its weekly recheck. This costs only the first read.
        return (oldest, Some(late));
    };
    let fresh = c - FRESH_OVERLAP;
    // Without a mark (stored before sweeps existed): what a plain overlap would have read.
    let mark = swept.unwrap_or(c - OVERLAP).min(fresh);
    if mark < late - SWEEP_EVERY || fresh <= late {
        (mark.max(oldest), Some(late))
    } else {
        (fresh.max(oldest), None)
    }
}

/// Whether anything may have happened to a LingXing order since its audit: shipped, or updated
/// after the audit (a package leaving moves `update_time`, see the simulator's named
/// assumption). Unknown times count as "may have".
fn moved_since_audit(o: &Order) -> bool {
    o.global_delivery_time.is_some()
        || match (o.update_time, o.global_review_time) {
            (Some(u), Some(r)) => u > r,
            _ => true,
        }
}

/// The view entry of a listed LingXing order. Keeps `moved`: see [`moved_since_audit`].
fn entry(o: &Order) -> LxViewOrder {
    LxViewOrder {
        moved: Some(moved_since_audit(o)),
        no: o.global_order_no.clone(),
        status: o.status,
        updated: o.update_time.map(whole_seconds),
    }
}

/// `t` to the second (what the view keeps).
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `base` with the LingXing orders `lx` merged in (by order number), its outbound orders kept.
pub(crate) fn merge_orders(base: &LxView, lx: &[&Order]) -> LxView {
    let mut view = base.clone();
    view.merge_orders(lx.iter().map(|o| entry(o)));
    view
}

/// The write of what LingXing listed for `po`, with its store: `part` says whether it merges
/// into the orders stored when it lands (a feed read) or replaces them (a lookup by PO).
fn listed_view(po: &PoNumber, lx: &[&Order], part: LxViewPart) -> store::LingxingView {
    let snapshot = merge_orders(&LxView::default(), lx);
    store::LingxingView {
        po: po.clone(),
        store_id: lx
            .first()
            .map(|o| o.store_id.clone())
            .filter(|s| !s.is_empty()),
        order_nos: snapshot.order_nos(),
        snapshot,
        part,
    }
}

/// LingXing orders by the platform order number (our PO) they carry; a split has several.
fn by_platform_po(orders: &[Order]) -> BTreeMap<String, Vec<&Order>> {
    let mut by_po: BTreeMap<String, Vec<&Order>> = BTreeMap::new();
    for o in orders {
        for po in o.platform_order_nos() {
            by_po.entry(po).or_default().push(o);
        }
    }
    by_po
}

/// Stores what LingXing shows for each local order among `orders`, for orders at `stages`.
/// Returns how many of them wait for their ACK (stage 2) while LingXing shows them shipped.
pub(crate) async fn apply(
    ctx: &RunCtx,
    orders: &[Order],
    stages: &[Stage],
) -> Result<usize, JobError> {
    let by_po = by_platform_po(orders);
    let pos: Vec<PoNumber> = by_po
        .keys()
        .filter_map(|p| PoNumber::parse(p).ok())
        .collect();
    let local = ctx.store.stages_of(&pos).await?;
    let mut views = Vec::new();
    let mut shipped_before_ack = 0;
    for (po, stage) in local.iter().filter(|(_, s)| stages.contains(s)) {
        let Some(lx) = by_po.get(po.as_str()) else {
            continue;
        };
        // Merged into the view as stored when the write lands: the outbound orders the ship
        // job stores meanwhile stay.
        let view = listed_view(po, lx, LxViewPart::MergeOrders);
        shipped_before_ack += usize::from(*stage == Stage::Pushed && view.snapshot.shipped());
        views.push(view);
    }
    ctx.store
        .set_lingxing_views(&views, ctx.clock.now(), &ctx.fence)
        .await?;
    // In the feed means something about the order moved (a package may have left while the
    // order's own status stayed the same): decide it again.
    let moved: Vec<PoNumber> = views.iter().map(|v| v.po.clone()).collect();
    if !moved.is_empty() {
        ctx.store.mark_dirty(&moved, Some(&ctx.fence)).await?;
    }
    Ok(shipped_before_ack)
}

/// What a run's [`follow`] found.
pub(crate) struct Feed {
    /// Where the last read's window ended: every LingXing order updated before then has been in
    /// a feed read of the ACK or ship job.
    pub(crate) end: DateTime<Utc>,
    /// How many of our orders waiting for their ACK (stage 2) the read found shipped in
    /// LingXing (none when an earlier read of another process served it).
    pub(crate) shipped_before_ack: usize,
}

/// The last feed read of this process, behind a lock held for the length of a read: the ACK
/// and ship jobs start side by side, and two reads at once would split LingXing's list capacity
/// between the same orders; the job that waited takes the read that ended meanwhile.
#[derive(Default)]
pub(crate) struct FeedLock(tokio::sync::Mutex<Option<LastRead>>);

/// A read of this process: where its window ended, what it found, when it ended.
#[derive(Clone, Copy)]
struct LastRead {
    end: DateTime<Utc>,
    shipped_before_ack: usize,
    finished: DateTime<Utc>,
}

/// A time stored under cursor `name` (whole seconds), `None` when never stored or unreadable.
async fn stored_time(ctx: &RunCtx, name: &str) -> Option<DateTime<Utc>> {
    ctx.store
        .cursor(name)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
}

/// The shared cursor, `None` before the first read.
async fn feed_cursor(ctx: &RunCtx) -> Option<DateTime<Utc>> {
    // Before the feed was shared each job kept its own cursor: continue from it once.
    match stored_time(ctx, FEED_CURSOR).await {
        Some(c) => Some(c),
        None => stored_time(ctx, &format!("{}.lingxing_changes", ctx.job)).await,
    }
}

/// The read that serves a run at `now` without one of its own, if any: this process's last
/// read, with what it found, if it ended a moment ago and the cursor is still where it left it
/// (whole seconds; else another process read since); else any process's whose window ended that
/// recently (a cursor ahead of the clock, stored by a process whose clock ran ahead, is read
/// from).
fn served(
    last: Option<LastRead>,
    cursor: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Feed> {
    let recent = |t: DateTime<Utc>| (TimeDelta::zero()..SHARED_READ).contains(&(now - t));
    if let Some(l) = last
        .filter(|l| recent(l.finished) && cursor.map(|c| c.timestamp()) == Some(l.end.timestamp()))
    {
        return Some(Feed {
            end: l.end,
            shipped_before_ack: l.shipped_before_ack,
        });
    }
    cursor.filter(|c| recent(*c)).map(|c| Feed {
        end: c,
        shipped_before_ack: 0,
    })
}

/// [`follow`], with `meanwhile` run beside it when the run will wait for a list read (its own,
/// or another job's in flight) rather than be served by one that just ended; else `meanwhile`
/// does not run (`Ok` of the default).
pub(crate) async fn follow_while<F, T>(
    ctx: &RunCtx,
    clients: &Clients,
    meanwhile: F,
) -> (Result<Feed, lingxing::LingxingError>, Result<T, JobError>)
where
    F: std::future::Future<Output = Result<T, JobError>>,
    T: Default,
{
    // No read in flight, and one that just ended serves the run: as `follow` would answer now.
    let idle = clients.feed.0.try_lock().ok().map(|last| *last);
    if let Some(last) = idle
        && let Some(feed) = served(last, feed_cursor(ctx).await, ctx.clock.now())
    {
        return (Ok(feed), Ok(T::default()));
    }
    tokio::join!(follow(ctx, clients), meanwhile)
}

/// Reads LingXing's changes since the shared cursor and applies them: one call when idle, none
/// when a read ended less than [`SHARED_READ`] ago (by this process, or its window ended that
/// recently, by any).
pub(crate) async fn follow(
    ctx: &RunCtx,
    clients: &Clients,
) -> Result<Feed, lingxing::LingxingError> {
    let mut last = clients.feed.0.lock().await;
    let now = ctx.clock.now();
    let cursor = feed_cursor(ctx).await;
    if let Some(feed) = served(*last, cursor, now) {
        return Ok(feed);
    }
    // The list's window is open at both ends (whole seconds): ending at `now` takes in
    // everything updated before this second; what LingXing makes visible late is caught by the
    // next sweep.
    let end = now;
    let (start, swept) = window(cursor, stored_time(ctx, SWEPT_CURSOR).await, end);
    let store_ids = ctx.config.mapping.store_ids();
    let q = OrderListQuery {
        offset: 0,
        length: lingxing::ORDER_LIST_MAX_LENGTH,
        date_type: Some("update_time".into()),
        start_time: Some(start.timestamp()),
        end_time: Some(end.timestamp()),
        store_ids,
        platform_codes: vec![clients.platform_code],
        // An order deleted in LingXing is news too: without this it drops out of the feed and
        // its order waits on a stale view.
        include_delete: Some(true),
        ..OrderListQuery::default()
    };
    let started = std::time::Instant::now();
    let orders = clients.lingxing.list_orders_all(q).await?;
    tracing::debug!(
        job = %ctx.job,
        orders = orders.len(),
        window_secs = (end - start).num_seconds(),
        secs = started.elapsed().as_secs_f64(),
        "LingXing change feed read"
    );
    let shipped_before_ack = apply(ctx, &orders, &FEED_STAGES)
        .await
        .map_err(|e| lingxing::LingxingError::transient(e.to_string()))?;
    let write = |name: &'static str, at: DateTime<Utc>| async move {
        let _ = ctx
            .store
            .set_cursor(
                name,
                &at.timestamp().to_string(),
                ctx.clock.now(),
                &ctx.fence,
            )
            .await;
    };
    write(FEED_CURSOR, end).await;
    if let Some(mark) = swept {
        write(SWEPT_CURSOR, mark).await;
    }
    *last = Some(LastRead {
        end,
        shipped_before_ack,
        finished: ctx.clock.now(),
    });
    Ok(Feed {
        end,
        shipped_before_ack,
    })
}

/// Looks up by PO number the candidates whose LingXing view was never read, or not refreshed
/// for [`STALE_VIEW`]. 200 POs a call.
///
/// An order this service created is stored with a status-0 placeholder. Its creation moved the
/// LingXing order's `update_time`, so the change feed brings its real status. A placeholder
/// stored in a second before `feed_end` (the open end of this run's feed window) that is still
/// there was missed by the feed: only those are looked up. A fresher one waits for the next feed read, at no call.
pub(crate) async fn lookup_unknown(
    ctx: &RunCtx,
    clients: &Clients,
    candidates: &[OrderRecord],
    feed_end: DateTime<Utc>,
    stored: &mut super::common::LxViews,
) -> Result<BTreeSet<PoNumber>, lingxing::LingxingError> {
    let store_err = |e: store::StoreError| lingxing::LingxingError::transient(e.to_string());
    let now = ctx.clock.now();
    let mut unknown = Vec::new();
    // Fresh placeholders left to the feed: decided again next run, when either the feed has
    // replaced them or they predate its window and are looked up.
    let mut deferred = BTreeSet::new();
    for c in candidates {
        let (view, checked) = stored.get(&c.pulled.po);
        // Status 0: created by this service, not read back yet.
        let placeholder = view.has_placeholder();
        let placeholder_missed =
            placeholder && checked.is_some_and(|t| t.timestamp() < feed_end.timestamp());
        if placeholder && !placeholder_missed {
            deferred.insert(c.pulled.po.clone());
        }
        if checked.is_none_or(|t| now - t >= STALE_VIEW) || placeholder_missed {
            unknown.push(c.pulled.po.to_string());
        }
    }
    if unknown.is_empty() {
        return Ok(deferred);
    }
    let started = std::time::Instant::now();
    let fresh = clients
        .lingxing
        .orders_by_platform_order_nos(&unknown, true)
        .await?;
    tracing::debug!(
        job = %ctx.job,
        pos = unknown.len(),
        secs = started.elapsed().as_secs_f64(),
        "LingXing orders looked up by PO"
    );
    let by_po = by_platform_po(&fresh);
    // Replace, not merge: a status-0 placeholder must not survive the real answer. The outbound
    // orders stay.
    let views: Vec<store::LingxingView> = unknown
        .iter()
        .filter_map(|po| {
            let p = PoNumber::parse(po).ok()?;
            let mine = by_po
                .get(po.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            Some(listed_view(&p, mine, LxViewPart::ReplaceOrders))
        })
        .collect();
    stored.store(ctx, views).await.map_err(store_err)?;
    Ok(deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_read_that_just_ended_serves_the_run() {
        let mine = |end, finished| LastRead {
            end,
            shipped_before_ack: 7,
            finished,
        };
        // This process's read, a second ago, the cursor where it left it: with what it found.
        let f = served(Some(mine(at(100), at(100))), Some(at(100)), at(101)).unwrap();
        assert_eq!((f.end, f.shipped_before_ack), (at(100), 7));
        // Another process read since (the cursor moved), a moment ago: served, nothing known.
        let f = served(Some(mine(at(100), at(100))), Some(at(101)), at(102)).unwrap();
        assert_eq!((f.end, f.shipped_before_ack), (at(101), 0));
        // Two seconds or more since either: a read of its own (so a ship run reads early).
        assert!(served(Some(mine(at(100), at(100))), Some(at(100)), at(102)).is_none());
        assert!(served(None, Some(at(100)), at(102)).is_none());
        assert!(served(None, None, at(102)).is_none());
    }

    #[test]
    fn reads_between_sweeps_start_just_before_the_cursor() {
        // Jobs firing every few seconds: the mark is recent, no sweep is due.
        let (start, swept) = window(Some(at(100)), Some(at(-10)), at(105));
        assert_eq!(start, at(90));
        assert_eq!(swept, None);
    }

    #[test]
    fn a_sweep_reads_from_the_mark_and_moves_it_to_end_less_the_overlap() {
        // The mark lags `end − OVERLAP` by more than a minute: the read starts at the mark.
        let (start, swept) = window(Some(at(300)), Some(at(100)), at(305));
        assert_eq!(start, at(100));
        assert_eq!(swept, Some(at(305 - 120)));
        // Jobs a few minutes apart: every read is a sweep, as wide as the old overlap.
        let (start, swept) = window(Some(at(0)), Some(at(-120)), at(600));
        assert_eq!(start, at(-120));
        assert_eq!(swept, Some(at(480)));
    }

    #[test]
    fn every_instant_is_read_again_at_least_the_overlap_after_it() {
        // A run every 3 s for ten minutes, cursor and mark carried as `follow` stores them:
        // for each second `t`, some read made at `end ≥ t + OVERLAP` covered it.
        let (mut cursor, mut swept) = (None, None);
        let mut late_read = std::collections::BTreeSet::new();
        let mut sweeps = 0;
        for run in 0..200 {
            let end = at(run * 3);
            let (start, moved) = window(cursor, swept, end);
            assert!(
                start <= cursor.unwrap_or(end),
                "a read leaves no gap after the cursor"
            );
            for t in start.timestamp()..end.timestamp() {
                if end.timestamp() - t >= OVERLAP.num_seconds() {
                    late_read.insert(t);
                }
            }
            if let Some(m) = moved {
                sweeps += 1;
                swept = Some(m);
            }
            cursor = Some(end);
        }
        // Up to the last sweep's mark, no second was missed.
        let mark = swept.unwrap().timestamp();
        let from = at(0).timestamp() - OVERLAP.num_seconds();
        assert!((from..mark).all(|t| late_read.contains(&t)));
        // And the overlap was read about once a minute, not on every run.
        assert!((9..=12).contains(&sweeps), "{sweeps} sweeps in ten minutes");
    }

    #[test]
    fn the_first_read_reaches_as_far_back_as_the_list_allows() {
        let (start, swept) = window(None, None, at(0));
        assert_eq!(start, at(0) - MAX_WINDOW);
        assert_eq!(swept, Some(at(-120)));
        // A cursor without a mark (stored before sweeps existed) sweeps from cursor − OVERLAP.
        let (start, _) = window(Some(at(0)), None, at(200));
        assert_eq!(start, at(-120));
    }
}
