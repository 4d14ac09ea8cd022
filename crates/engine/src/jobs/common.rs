//! What every order job does the same way: record a skip with its back-off, advance a stage,
//! note a fact, turn a client failure into a reason.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use domain::lx_view::LxView;
use domain::{JobName, PoNumber, Reason, ReasonCode, ReasonKind, Stage};
use store::{EventOutcome, NewEvent, OrderRecord};

use crate::{JobError, PlannedRequest, RunCtx, Verdict};

/// Whether this run's decisions are only recorded, as dry-run events that change no order. The
/// pull is the exception: it mirrors DSCO into the store (no far-side write), with the moves
/// DSCO's own state makes (cancelled, shipped before the push), which a refreshed copy would
/// otherwise hide from the next real run; only its LingXing cancel is built instead of sent.
pub(crate) fn dry(ctx: &RunCtx) -> bool {
    ctx.dry_run && ctx.job != JobName::PullDscoOrders
}

/// Whether the run keeps the requests it sends in its report: always in a dry run, and for a
/// run of one PO (a batch's bodies are too large to keep with every run).
pub(crate) fn keeps_requests(ctx: &RunCtx) -> bool {
    ctx.dry_run || ctx.only_po.is_some()
}

/// `e` as a dry-run event: on the timeline, but the order is left as it was.
fn as_dry(mut e: NewEvent) -> NewEvent {
    e.outcome = EventOutcome::DryRun;
    e
}

fn report_skip(ctx: &RunCtx, o: &OrderRecord, reason: &Reason) {
    ctx.report(|r| {
        r.decide(
            o.pulled.po.as_str(),
            o.stage,
            Verdict::Skip {
                code: reason.code.as_str().to_owned(),
                kind: reason.kind(),
                detail: scrub(&reason.subject),
            },
        )
    });
}

/// Records `req` in the run's report (when it keeps requests), with a write decision for each
/// of `orders` (at stage `at`). In a dry run, also puts "would send" on their timelines and
/// counts them processed: nothing is sent.
pub(crate) async fn report_request(
    ctx: &RunCtx,
    req: PlannedRequest,
    at: Stage,
) -> Result<(), JobError> {
    let pos: Vec<String> = req.pos.clone();
    let line = format!(
        "dry run: would send {} {} {}{}",
        req.far_side.as_str(),
        req.method,
        req.path,
        req.refused
            .as_deref()
            .map(|r| format!(" (the client would refuse it: {r})"))
            .unwrap_or_default()
    );
    if keeps_requests(ctx) {
        ctx.report(|r| {
            r.request(req, at);
        });
    }
    if !ctx.dry_run {
        return Ok(());
    }
    let now = ctx.clock.now();
    let events: Vec<_> = pos
        .iter()
        .filter_map(|p| PoNumber::parse(p).ok())
        .map(|po| {
            let mut e = event(ctx, &po, now);
            e.outcome = EventOutcome::DryRun;
            e.from_stage = Some(at);
            e.detail = line.clone();
            (e, None)
        })
        .collect();
    ctx.count(|c| c.processed += events.len() as u64);
    ctx.store.record_events(&events, &ctx.fence).await?;
    Ok(())
}

/// How long a waiting order sleeps when nothing marks it: its far side's changes wake it (dirty
/// marks), so this is only a safety net.
const WAITING_RECHECK: TimeDelta = TimeDelta::days(7);
/// The first retry delay; doubled per attempt, capped at one period of the job.
const RETRY_BASE: TimeDelta = TimeDelta::seconds(30);

/// Query keys whose values are credentials: LingXing's signed query (`access_token`, `sign`), its
/// token endpoint (`appSecret`), OAuth forms.
const SECRET_KEYS: [&str; 7] = [
    "access_token",
    "refresh_token",
    "sign",
    "appsecret",
    "app_secret",
    "client_secret",
    "secret",
];

/// `text` with every credential masked: the value of a [`SECRET_KEYS`] query or form key (up to
/// the next `&`, space, quote or bracket) and a bearer token. The clients never put these in
/// their errors; this is the safety net where the engine stores text from elsewhere (reasons,
/// timeline details, intent outcomes), so no stored or shown text can carry one.
pub(crate) fn scrub(text: &str) -> String {
    let stop = |c: char| c.is_whitespace() || "&\"'(),;<>[]{}".contains(c);
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &lower[i..];
        // A key starts at a word boundary: `sign=` but not `design=`.
        let boundary = i == 0
            || !text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let key = SECRET_KEYS
            .iter()
            .find(|k| boundary && rest.starts_with(*k) && rest[k.len()..].starts_with('='))
            .map(|k| k.len() + 1)
            .or_else(|| rest.starts_with("bearer ").then_some("bearer ".len()));
        match key {
            Some(n) => {
                out.push_str(&text[i..i + n]);
                let value = text[i + n..].find(stop).unwrap_or(text.len() - i - n);
                if value > 0 {
                    out.push_str("***");
                }
                i += n + value;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// One period of the job (the gap between its fires), 15 minutes when unknown.
pub(crate) fn period(ctx: &RunCtx, now: DateTime<Utc>) -> TimeDelta {
    ctx.job_config
        .as_ref()
        .map(|j| j.schedule.period(now))
        .unwrap_or(TimeDelta::minutes(15))
}

/// When an order skipped for `kind` should be looked at again.
pub(crate) fn next_attempt(
    ctx: &RunCtx,
    kind: ReasonKind,
    attempts: i64,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match kind {
        ReasonKind::Waiting => now + WAITING_RECHECK,
        // Re-checked on every run (a fixed mapping or a lifted hold moves them at once).
        ReasonKind::NeedsAttention | ReasonKind::Held => now,
        ReasonKind::Retrying => {
            let shift = attempts.clamp(0, 16) as u32;
            let backoff = RETRY_BASE * 2i32.pow(shift.min(20));
            now + backoff.min(period(ctx, now))
        }
    }
}

fn event(ctx: &RunCtx, po: &PoNumber, now: DateTime<Utc>) -> NewEvent {
    NewEvent {
        po: po.clone(),
        at: now,
        job: Some(ctx.job),
        run_id: Some(ctx.run_id.clone()),
        actor: None,
        from_stage: None,
        to_stage: None,
        outcome: EventOutcome::Noted,
        reason_code: None,
        reason_kind: None,
        detail: String::new(),
    }
}

/// Leaves the order where it is, for `reason`.
pub(crate) async fn skip(ctx: &RunCtx, o: &OrderRecord, reason: &Reason) -> Result<(), JobError> {
    let (e, next) = skip_event(ctx, o, reason, None);
    report_skip(ctx, o, reason);
    if dry(ctx) {
        ctx.store
            .record_event(&as_dry(e), None, Some(&ctx.fence))
            .await?;
        count_skip(ctx, reason.kind());
        return Ok(());
    }
    ctx.store
        .record_event(&e, Some(next), Some(&ctx.fence))
        .await?;
    if reason.kind() == ReasonKind::Waiting {
        remark(ctx, &[(o.pulled.po.clone(), o.marks)]).await?;
    }
    count_skip(ctx, reason.kind());
    Ok(())
}

/// After waiting decisions are recorded (which clears their orders' marks): marks again the
/// orders marked since they were read (`seen`: each with [`OrderRecord::marks`] as read, plus the
/// marks this run made itself), so that a decision on data a concurrent pull or feed read
/// replaced is made again next run instead of sleeping for [`WAITING_RECHECK`].
async fn remark(ctx: &RunCtx, seen: &[(PoNumber, i64)]) -> Result<(), JobError> {
    let again = ctx.store.remark_changed(seen, &ctx.fence).await?;
    if !again.is_empty() {
        tracing::info!(
            orders = again.len(),
            "orders changed while they were decided: decided again next run"
        );
    }
    Ok(())
}

/// [`skip`] for many orders in one store transaction (after a batch call, for example).
pub(crate) async fn skip_many(
    ctx: &RunCtx,
    items: &[(&OrderRecord, Reason)],
) -> Result<(), JobError> {
    let mut out = Outcomes::default();
    for (o, r) in items {
        out.skip(ctx, o, r);
    }
    out.flush(ctx).await
}

/// Records on their orders DSCO's refusals of settled writes (`dsco_rejected` with DSCO's
/// messages), the orders read in one query; with `at`, only orders still at that stage.
pub(crate) async fn skip_refused(
    ctx: &RunCtx,
    refused: &BTreeMap<PoNumber, String>,
    at: Option<Stage>,
) -> Result<(), JobError> {
    if refused.is_empty() {
        return Ok(());
    }
    let pos: Vec<PoNumber> = refused.keys().cloned().collect();
    let orders = ctx.store.orders_by_po(&pos).await?;
    let mut out = Outcomes::default();
    for o in orders.iter().filter(|o| at.is_none_or(|s| o.stage == s)) {
        if let Some(text) = refused.get(&o.pulled.po) {
            out.skip(ctx, o, &Reason::new(ReasonCode::DscoRejected, text.clone()));
        }
    }
    out.flush(ctx).await
}

fn skip_event(
    ctx: &RunCtx,
    o: &OrderRecord,
    reason: &Reason,
    recheck: Option<DateTime<Utc>>,
) -> (NewEvent, DateTime<Utc>) {
    let now = ctx.clock.now();
    let kind = reason.kind();
    let mut e = event(ctx, &o.pulled.po, now);
    e.from_stage = Some(o.stage);
    e.outcome = EventOutcome::Skipped;
    e.reason_code = Some(reason.code);
    e.reason_kind = Some(kind);
    e.detail = scrub(&reason.subject);
    let next = recheck.unwrap_or_else(|| next_attempt(ctx, kind, o.attempts, now));
    (e, next)
}

fn count_skip(ctx: &RunCtx, kind: ReasonKind) {
    ctx.count(|c| {
        c.processed += 1;
        c.skip(kind);
    });
}

/// Moves the order forward; `false` when another writer moved it first.
pub(crate) async fn advance(
    ctx: &RunCtx,
    po: &PoNumber,
    from: Stage,
    to: Stage,
    detail: impl Into<String>,
) -> Result<bool, JobError> {
    let now = ctx.clock.now();
    let mut e = event(ctx, po, now);
    e.from_stage = Some(from);
    e.to_stage = Some(to);
    e.outcome = EventOutcome::Advanced;
    e.detail = scrub(&detail.into());
    ctx.report(|r| {
        r.decide(
            po.as_str(),
            from,
            Verdict::Advance {
                to: to.number(),
                note: e.detail.clone(),
            },
        )
    });
    if dry(ctx) {
        ctx.store
            .record_event(&as_dry(e), None, Some(&ctx.fence))
            .await?;
        ctx.count(|c| {
            c.processed += 1;
            c.advanced += 1;
        });
        return Ok(true);
    }
    let moved = ctx.store.cas_stage(&e, &ctx.fence).await?;
    ctx.count(|c| {
        c.processed += 1;
        if moved {
            c.advanced += 1;
        }
    });
    if moved {
        close_superseded(ctx, &[(po.clone(), from, to)]).await?;
    }
    Ok(moved)
}

/// The open intent kinds a move leaves without purpose: the ACK once the order is past
/// acknowledging, every write once it is done or cancelled.
fn superseded_kinds(from: Stage, to: Stage) -> &'static [store::IntentKind] {
    use store::IntentKind as K;
    match (from, to) {
        (_, Stage::Done | Stage::Cancelled) => &[K::Create, K::Ack, K::Shipment, K::Invoice],
        (Stage::Pushed, _) => &[K::Ack],
        _ => &[],
    }
}

/// Closes the intents still `pending` or `ambiguous` that the moves made pointless: an order
/// moved on because DSCO already shows the step done (or cancelled it), or the operator moved
/// it, while one of its writes waited to be sent again or verified. Left open they would read as
/// unfinished writes for ever. A forward move closes them `confirmed` (the far side is past
/// what they would have done), a cancellation `failed`; the outcome says which move.
pub(crate) async fn close_superseded(
    ctx: &RunCtx,
    moved: &[(PoNumber, Stage, Stage)],
) -> Result<(), JobError> {
    let mut to_of: BTreeMap<PoNumber, (Stage, &'static [store::IntentKind])> = BTreeMap::new();
    for (po, from, to) in moved {
        let kinds = superseded_kinds(*from, *to);
        if !kinds.is_empty() {
            to_of.insert(po.clone(), (*to, kinds));
        }
    }
    if to_of.is_empty() {
        return Ok(());
    }
    let pos: Vec<PoNumber> = to_of.keys().cloned().collect();
    let all = [
        store::IntentKind::Create,
        store::IntentKind::Ack,
        store::IntentKind::Shipment,
        store::IntentKind::Invoice,
    ];
    let mut updates: BTreeMap<store::IntentKind, Vec<store::IntentUpdate>> = BTreeMap::new();
    // Cancelled with a LingXing create that may have been applied (sent, about to be, or
    // unanswered): LingXing may fulfil an order DSCO cancelled, so the order is flagged as one
    // cancelled after its push (its reason is the canceller's to give).
    let mut maybe_created: Vec<PoNumber> = Vec::new();
    for (po, intents) in ctx.store.intents_of(&pos, &all).await? {
        let Some((to, kinds)) = to_of.get(&po) else {
            continue;
        };
        for i in intents {
            if !kinds.contains(&i.kind)
                || !matches!(
                    i.state,
                    store::IntentState::Pending | store::IntentState::Ambiguous
                )
            {
                continue;
            }
            if *to == Stage::Cancelled && create_may_have_landed(&i) && !maybe_created.contains(&po)
            {
                maybe_created.push(po.clone());
            }
            let state = if *to == Stage::Cancelled {
                store::IntentState::Failed
            } else {
                store::IntentState::Confirmed
            };
            updates
                .entry(i.kind)
                .or_default()
                .push(store::IntentUpdate {
                    key: i.key,
                    state,
                    outcome: format!(
                        "superseded: order moved to stage {} ({to}) by {} while this write was {}",
                        to.number(),
                        ctx.job,
                        i.state.as_str()
                    ),
                });
        }
    }
    for (kind, u) in updates {
        ctx.store
            .update_intents(kind, &u, ctx.clock.now(), &ctx.fence)
            .await?;
    }
    for po in &maybe_created {
        ctx.store
            .add_flag(po, CANCELLED_AFTER_PUSH, Some(&ctx.fence))
            .await?;
    }
    Ok(())
}

/// The flag of an order DSCO cancelled after it was (or may have been) created in LingXing.
pub(crate) const CANCELLED_AFTER_PUSH: &str = "cancelled_after_push";

/// Whether `i` is a LingXing create that may have been applied: sent or about to be (`pending`),
/// or unanswered (`ambiguous`). An order cancelled with one open is flagged
/// [`CANCELLED_AFTER_PUSH`], by a job's move (`close_superseded`) or an operator's (`ops::force`).
pub(crate) fn create_may_have_landed(i: &store::Intent) -> bool {
    i.kind == store::IntentKind::Create
        && matches!(
            i.state,
            store::IntentState::Pending | store::IntentState::Ambiguous
        )
}

/// [`advance`] for many orders in one store transaction: `(po, from, to, detail)` each.
pub(crate) async fn advance_many(
    ctx: &RunCtx,
    moves: Vec<(PoNumber, Stage, Stage, String)>,
) -> Result<(), JobError> {
    let now = ctx.clock.now();
    let events: Vec<NewEvent> = moves
        .into_iter()
        .map(|(po, from, to, detail)| {
            let mut e = event(ctx, &po, now);
            e.from_stage = Some(from);
            e.to_stage = Some(to);
            e.outcome = EventOutcome::Advanced;
            e.detail = scrub(&detail);
            e
        })
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    ctx.report(|r| {
        for e in &events {
            if let (Some(from), Some(to)) = (e.from_stage, e.to_stage) {
                r.decide(
                    e.po.as_str(),
                    from,
                    Verdict::Advance {
                        to: to.number(),
                        note: e.detail.clone(),
                    },
                );
            }
        }
    });
    if dry(ctx) {
        let n = events.len() as u64;
        let events: Vec<_> = events.into_iter().map(|e| (as_dry(e), None)).collect();
        ctx.store.record_events(&events, &ctx.fence).await?;
        ctx.count(|c| {
            c.processed += n;
            c.advanced += n;
        });
        return Ok(());
    }
    let moved = ctx.store.cas_stages(&events, &ctx.fence).await?;
    ctx.count(|c| {
        c.processed += moved.len() as u64;
        c.advanced += moved.iter().filter(|m| **m).count() as u64;
    });
    let closed: Vec<(PoNumber, Stage, Stage)> = events
        .into_iter()
        .zip(moved)
        .filter(|(_, m)| *m)
        .filter_map(|(e, _)| Some((e.po, e.from_stage?, e.to_stage?)))
        .collect();
    close_superseded(ctx, &closed).await
}

/// The decisions of one pass over a batch of orders (skips and stage moves), written together
/// when the pass ends: two transactions for the batch instead of one or two per order. Losing
/// them to a crash loses nothing: they are decided again from the same state on the next run.
/// Writes to the far side never wait in here; their intents are stored before the call.
#[derive(Default)]
pub(crate) struct Outcomes {
    skips: Vec<(NewEvent, DateTime<Utc>, ReasonKind)>,
    moves: Vec<(PoNumber, Stage, Stage, String)>,
    /// The waiting orders skipped, with the mark count their decision read.
    seen: Vec<(PoNumber, i64)>,
}

impl Outcomes {
    /// [`skip`], written at [`Outcomes::flush`].
    pub(crate) fn skip(&mut self, ctx: &RunCtx, o: &OrderRecord, reason: &Reason) {
        self.skip_until(ctx, o, reason, None);
    }

    /// [`skip`], looked at again at `recheck` whatever the reason's kind (when the job knows
    /// something that would not wake the order will have changed by then); written at
    /// [`Outcomes::flush`].
    pub(crate) fn skip_until(
        &mut self,
        ctx: &RunCtx,
        o: &OrderRecord,
        reason: &Reason,
        recheck: Option<DateTime<Utc>>,
    ) {
        let (e, next) = skip_event(ctx, o, reason, recheck);
        report_skip(ctx, o, reason);
        if reason.kind() == ReasonKind::Waiting {
            self.seen.push((o.pulled.po.clone(), o.marks));
        }
        self.skips.push((e, next, reason.kind()));
    }

    /// [`advance`], written at [`Outcomes::flush`].
    pub(crate) fn advance(
        &mut self,
        po: &PoNumber,
        from: Stage,
        to: Stage,
        detail: impl Into<String>,
    ) {
        self.moves.push((po.clone(), from, to, detail.into()));
    }

    /// Writes the stage moves, then the skips.
    pub(crate) async fn flush(self, ctx: &RunCtx) -> Result<(), JobError> {
        advance_many(ctx, self.moves).await?;
        if self.skips.is_empty() {
            return Ok(());
        }
        let dry = dry(ctx);
        let (events, kinds): (Vec<_>, Vec<_>) = self
            .skips
            .into_iter()
            .map(|(e, next, kind)| {
                if dry {
                    ((as_dry(e), None), kind)
                } else {
                    ((e, Some(next)), kind)
                }
            })
            .unzip();
        ctx.store.record_events(&events, &ctx.fence).await?;
        if !dry {
            remark(ctx, &self.seen).await?;
        }
        for kind in kinds {
            count_skip(ctx, kind);
        }
        Ok(())
    }
}

/// Records the intents of one far-side call before it is made (see `Store::put_intents`).
pub(crate) async fn record_intents(
    ctx: &RunCtx,
    kind: store::IntentKind,
    intents: &[store::NewIntent],
    restart: bool,
) -> Result<(), JobError> {
    ctx.store
        .put_intents(
            kind,
            intents,
            &ctx.run_id,
            ctx.clock.now(),
            &ctx.fence,
            restart,
        )
        .await?;
    Ok(())
}

/// Sets many intents of one kind to `state` with `outcome`, in one transaction.
pub(crate) async fn settle_intents(
    ctx: &RunCtx,
    kind: store::IntentKind,
    keys: impl IntoIterator<Item = String>,
    state: store::IntentState,
    outcome: &str,
) -> Result<(), JobError> {
    let updates: Vec<store::IntentUpdate> = keys
        .into_iter()
        .map(|key| store::IntentUpdate {
            key,
            state,
            outcome: scrub(outcome),
        })
        .collect();
    ctx.store
        .update_intents(kind, &updates, ctx.clock.now(), &ctx.fence)
        .await?;
    Ok(())
}

/// The order's stored DSCO payload, read; `None` after recording an unreadable one as a skip with
/// `code` (a bad order never stops the batch).
pub(crate) async fn dsco_view(
    ctx: &RunCtx,
    o: &OrderRecord,
    code: ReasonCode,
) -> Result<Option<domain::order::DscoOrderView>, JobError> {
    match domain::order::DscoOrderView::from_json(o.pulled.payload.get()) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let r = Reason::new(code, format!("unreadable DSCO payload: {e}"));
            skip(ctx, o, &r).await?;
            Ok(None)
        }
    }
}

/// The stored LingXing views of `orders`, read together (one query per 500).
pub(crate) async fn views_of(
    ctx: &RunCtx,
    orders: &[OrderRecord],
) -> Result<LxViews, store::StoreError> {
    let pos: Vec<PoNumber> = orders.iter().map(|o| o.pulled.po.clone()).collect();
    Ok(LxViews {
        views: ctx.store.lingxing_views(&pos).await?,
        own: BTreeMap::new(),
    })
}

/// LingXing views read ahead for a batch of orders.
pub(crate) struct LxViews {
    views: BTreeMap<PoNumber, (LxView, Option<DateTime<Utc>>)>,
    /// Per order, the marks this run made by storing a changed view of it (see [`remark`]).
    own: BTreeMap<PoNumber, i64>,
}

impl LxViews {
    /// Reads the views of `pos` again, after this run stored new ones for them.
    pub(crate) async fn reread(
        &mut self,
        ctx: &RunCtx,
        pos: &[PoNumber],
    ) -> Result<(), store::StoreError> {
        if pos.is_empty() {
            return Ok(());
        }
        let fresh = ctx.store.lingxing_views(pos).await?;
        for p in pos {
            self.views.remove(p);
        }
        self.views.extend(fresh);
        Ok(())
    }

    /// Stores `views` (see `Store::set_lingxing_views`) and reads them back, counting the marks
    /// the changed ones got as this run's own.
    pub(crate) async fn store(
        &mut self,
        ctx: &RunCtx,
        views: Vec<store::LingxingView>,
    ) -> Result<(), store::StoreError> {
        let changed = ctx
            .store
            .set_lingxing_views(&views, ctx.clock.now(), &ctx.fence)
            .await?;
        let written: Vec<PoNumber> = views.into_iter().map(|v| v.po).collect();
        for (po, c) in written.iter().zip(changed) {
            if c {
                *self.own.entry(po.clone()).or_default() += 1;
            }
        }
        self.reread(ctx, &written).await
    }

    /// Counts the marks this run made itself into the orders' read counts, so that only a
    /// mark by someone else makes [`remark`] decide them again.
    pub(crate) fn own_marks(&self, orders: &mut [OrderRecord]) {
        for o in orders {
            o.marks += self.own.get(&o.pulled.po).copied().unwrap_or(0);
        }
    }

    /// For orders read from the store after this run's own view writes to them (their marks
    /// hold those already): takes those writes out of their read counts, which [`Self::own_marks`]
    /// adds back, so that only writes after the read count on top.
    pub(crate) fn read_after_own_writes(&self, orders: &mut [OrderRecord]) {
        for o in orders {
            o.marks -= self.own.get(&o.pulled.po).copied().unwrap_or(0);
        }
    }

    /// The view of `po` (empty when none is stored) and when it was read.
    pub(crate) fn get(&self, po: &PoNumber) -> (LxView, Option<DateTime<Utc>>) {
        self.views.get(po).cloned().unwrap_or_default()
    }
}

/// Records a fact on the order's timeline without changing anything else.
pub(crate) async fn note(
    ctx: &RunCtx,
    po: &PoNumber,
    outcome: EventOutcome,
    detail: impl Into<String>,
) -> Result<(), JobError> {
    let mut e = event(ctx, po, ctx.clock.now());
    e.outcome = if dry(ctx) {
        EventOutcome::DryRun
    } else {
        outcome
    };
    e.detail = scrub(&detail.into());
    ctx.store.record_event(&e, None, Some(&ctx.fence)).await?;
    Ok(())
}

/// [`note`] for many facts, in one transaction: `(po, outcome, detail)` each.
pub(crate) async fn note_many(
    ctx: &RunCtx,
    facts: Vec<(PoNumber, EventOutcome, String)>,
) -> Result<(), JobError> {
    if facts.is_empty() {
        return Ok(());
    }
    let now = ctx.clock.now();
    let events: Vec<_> = facts
        .into_iter()
        .map(|(po, outcome, detail)| {
            let mut e = event(ctx, &po, now);
            e.outcome = if dry(ctx) {
                EventOutcome::DryRun
            } else {
                outcome
            };
            e.detail = scrub(&detail);
            (e, None)
        })
        .collect();
    ctx.store.record_events(&events, &ctx.fence).await?;
    Ok(())
}

/// The held reason when this run may not write, if any.
pub(crate) fn write_hold(ctx: &RunCtx) -> Option<Reason> {
    if !ctx.config.writes_enabled() {
        Some(Reason::new(
            ReasonCode::WritesDisabled,
            format!("{} would write now", ctx.job),
        ))
    } else if ctx.dry_run {
        Some(Reason::new(
            ReasonCode::DryRun,
            format!("dry run of {}", ctx.job),
        ))
    } else {
        None
    }
}

/// A LingXing failure as a reason: throttling, timeouts and token trouble are retried; a refusal
/// needs attention; an unknown write outcome is verified first next time.
pub(crate) fn lingxing_reason(e: &lingxing::LingxingError) -> Reason {
    use lingxing::LingxingError as E;
    match e {
        E::Ambiguous { .. } => Reason::new(ReasonCode::WriteUnconfirmed, e.to_string()),
        E::Rejected { .. } => Reason::new(ReasonCode::LingxingRejected, e.to_string()),
        _ => Reason::new(ReasonCode::LingxingUnavailable, e.to_string()),
    }
}

/// A DSCO failure as a reason.
pub(crate) fn dsco_reason(e: &dsco::DscoError) -> Reason {
    use dsco::DscoError as E;
    match e {
        E::Ambiguous { .. } => Reason::new(ReasonCode::WriteUnconfirmed, e.to_string()),
        E::Rejected { .. } | E::InvalidRequest(_) => {
            Reason::new(ReasonCode::DscoRejected, e.to_string())
        }
        _ => Reason::new(ReasonCode::DscoUnavailable, e.to_string()),
    }
}

/// The order list of the run: the one PO asked for, or the job's candidates at `stage`.
pub(crate) async fn candidates(ctx: &RunCtx, stage: Stage) -> Result<Vec<OrderRecord>, JobError> {
    match &ctx.only_po {
        Some(po) => Ok(ctx
            .store
            .get_order(po)
            .await?
            .into_iter()
            .filter(|o| o.stage == stage)
            .collect()),
        None => Ok(ctx
            .store
            .order_candidates(stage, ctx.clock.now(), ctx.size())
            .await?),
    }
}

/// Remembers a DSCO async request (its `requestId` and the keys it carries) so that later runs
/// read its change log.
pub(crate) async fn track_request(
    ctx: &RunCtx,
    kind: store::IntentKind,
    request_id: &str,
    keys: &[String],
) -> Result<(), JobError> {
    ctx.store
        .insert_dsco_request(
            &store::DscoRequest {
                request_id: request_id.to_owned(),
                kind,
                keys: keys.to_vec(),
                state: store::DscoRequestState::Pending,
                result: String::new(),
                run_id: Some(ctx.run_id.clone()),
                submitted_at: ctx.clock.now(),
                checked_at: None,
            },
            &ctx.fence,
        )
        .await?;
    Ok(())
}

/// The intent state and reason a failed DSCO write leaves: an unknown outcome is `Ambiguous`
/// (verify before re-sending), a refusal is `Failed` (DSCO's message kept, not re-sent until the
/// order changes), anything else was not applied and stays `Pending` (sent again next time).
pub(crate) fn failed_write(e: &dsco::DscoError) -> (store::IntentState, Reason) {
    let r = dsco_reason(e);
    let state = match r.code {
        ReasonCode::WriteUnconfirmed => store::IntentState::Ambiguous,
        ReasonCode::DscoRejected => store::IntentState::Failed,
        _ => store::IntentState::Pending,
    };
    (state, r)
}

/// What one chunk of a DSCO batch call leaves for its items: on acceptance the request is tracked
/// and the items are `Submitted` awaiting the change log; on failure as [`failed_write`] says.
/// Returns (intent state, intent outcome text, the order's reason).
pub(crate) async fn chunk_outcome(
    ctx: &RunCtx,
    kind: store::IntentKind,
    result: &Result<dsco::Accepted, dsco::DscoError>,
    keys: &[String],
) -> Result<(store::IntentState, String, Reason), JobError> {
    match result {
        Ok(a) => {
            track_request(ctx, kind, &a.request_id.0, keys).await?;
            Ok((
                store::IntentState::Submitted,
                a.request_id.0.clone(),
                Reason::new(
                    ReasonCode::DscoConfirmationPending,
                    format!("request {}", a.request_id),
                ),
            ))
        }
        Err(e) => {
            ctx.note_far(e);
            let (state, r) = failed_write(e);
            Ok((state, e.to_string(), r))
        }
    }
}

/// What DSCO settled of one outstanding async request: each key with `Ok(how it was seen)` on
/// success or `Err(DSCO's messages)` on failure. Keys still pending are not listed.
pub(crate) struct Settled {
    pub request_id: String,
    pub items: Vec<(String, Result<&'static str, String>)>,
    /// Per PO, the keys of this request's intents still submitted (for shipments: the tracking
    /// numbers it carried for that order).
    pub sent: BTreeMap<String, Vec<String>>,
    /// Whether nothing is left pending, so the request can be closed once the items are handled.
    done: bool,
    total: usize,
}

/// How a job recognises, in the pulled copy of the DSCO order, that DSCO applied its write.
///
/// `pull_dsco_orders` runs first in each round and re-reads every order DSCO changed, so an
/// applied ACK or shipment usually shows up in the store before the job looks at its request:
/// then the change log need not be read at all. The log is read only for a request with a key
/// the order state does not confirm (a failure, or DSCO slower than the pull), so the common case
/// costs no call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateCheck {
    /// Nothing in the order shows the write (invoices): always read the log.
    None,
    /// DSCO shows the order acknowledged (`dsco_past_ack`).
    Acknowledged,
    /// DSCO's order lists every tracking number this request carried for it.
    Tracking,
}

pub(crate) const BY_LOG: &str = "DSCO change log: success";
pub(crate) const BY_STATE: &str = "DSCO order state shows it applied";

/// The keys of request `req` that the pulled DSCO orders already show applied, read with one
/// query for the orders and (for shipments) one for the request's tracking numbers.
async fn confirmed_by_state(
    ctx: &RunCtx,
    check: StateCheck,
    req: &store::DscoRequest,
    sent: &BTreeMap<String, Vec<String>>,
) -> Result<std::collections::HashSet<String>, JobError> {
    let mut out = std::collections::HashSet::new();
    if check == StateCheck::None {
        return Ok(out);
    }
    let pos: Vec<PoNumber> = req
        .keys
        .iter()
        .filter_map(|k| PoNumber::parse(k).ok())
        .collect();
    for (po, payload) in ctx.store.payloads_of(&pos).await? {
        let Ok(view) = domain::order::DscoOrderView::from_json(payload.get()) else {
            continue;
        };
        let po = po.as_str();
        let applied = match check {
            StateCheck::None => false,
            StateCheck::Acknowledged => domain::rules::dsco_past_ack(&view),
            StateCheck::Tracking => sent
                .get(po)
                .is_some_and(|mine| mine.iter().all(|t| view.packages.contains(t))),
        };
        if applied {
            out.insert(po.to_owned());
        }
    }
    Ok(out)
}

/// Requests whose change logs a run reads at once: each log is pages read one after another
/// (a scroll), so a backlog's requests are read side by side.
const LOGS_AT_ONCE: usize = 4;

/// Settles every outstanding DSCO request of `kind`: keys the pulled order state confirms (see
/// [`StateCheck`]) without a call; the rest from the request's change log (one read per request,
/// indexed once: a batch can carry thousands of items; [`LOGS_AT_ONCE`] requests' logs read
/// together, the results in the requests' order). Per key in the log the worst state counts: a
/// failure anywhere beats pending beats success. An unreadable log is retried next run.
pub(crate) async fn read_settled(
    ctx: &RunCtx,
    dsco: &dsco::DscoClient,
    kind: store::IntentKind,
    log: dsco::RequestKind,
    check: StateCheck,
) -> Result<Vec<Settled>, JobError> {
    use dsco::ItemState;
    use futures::StreamExt;
    // What the store knows of each request, read first (one connection, in turn); then the logs
    // of those the pulled state does not settle, read together.
    let mut known = Vec::new();
    for req in ctx.store.pending_dsco_requests(kind).await? {
        let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in ctx.store.request_intents(kind, &req.request_id).await? {
            sent.entry(i.po.to_string()).or_default().push(i.key);
        }
        let by_state = confirmed_by_state(ctx, check, &req, &sent).await?;
        tracing::debug!(
            request = %req.request_id,
            keys = req.keys.len(),
            confirmed_by_state = by_state.len(),
            now = %ctx.clock.now().to_rfc3339(),
            "settling a DSCO request"
        );
        known.push((req, sent, by_state));
    }
    // Per request, its log, or `None` where the pulled state settles every key (no read).
    let reads: Vec<Option<dsco::RequestId>> = known
        .iter()
        .map(|(req, _, by_state)| {
            (by_state.len() != req.keys.len()).then(|| dsco::RequestId(req.request_id.clone()))
        })
        .collect();
    let logs: Vec<_> = futures::stream::iter(reads)
        .map(|id| async move {
            match id {
                Some(id) => Some(dsco.request_outcome(log, &id).await),
                None => None,
            }
        })
        .buffered(LOGS_AT_ONCE)
        .collect()
        .await;
    let mut out = Vec::new();
    for ((req, sent, by_state), outcome) in known.into_iter().zip(logs) {
        let outcome = match outcome {
            None => {
                out.push(Settled {
                    request_id: req.request_id.clone(),
                    items: req.keys.iter().map(|k| (k.clone(), Ok(BY_STATE))).collect(),
                    sent,
                    done: true,
                    total: req.keys.len(),
                });
                continue;
            }
            Some(Ok(o)) => o,
            Some(Err(e)) => {
                tracing::warn!(request = %req.request_id, error = %e, "change log unreadable; retried next run");
                continue;
            }
        };
        let rank = |s: &ItemState| match s {
            ItemState::Failure { .. } => 0,
            ItemState::Pending => 1,
            ItemState::Success { .. } => 2,
        };
        let mut by_key: std::collections::HashMap<&str, &ItemState> =
            std::collections::HashMap::new();
        for item in &outcome.items {
            let e = by_key.entry(item.key.as_str()).or_insert(&item.state);
            if rank(&item.state) < rank(e) {
                *e = &item.state;
            }
        }
        let mut items = Vec::new();
        let mut open = 0;
        for key in &req.keys {
            match by_key.get(key.as_str()) {
                Some(ItemState::Success { .. }) => items.push((key.clone(), Ok(BY_LOG))),
                Some(ItemState::Failure { messages }) => {
                    items.push((key.clone(), Err(messages_text(messages))))
                }
                // DSCO's order shows the write although its log entry is not final yet.
                _ if by_state.contains(key.as_str()) => items.push((key.clone(), Ok(BY_STATE))),
                Some(ItemState::Pending) | None => open += 1,
            }
        }
        out.push(Settled {
            request_id: req.request_id.clone(),
            items,
            sent,
            done: open == 0 || outcome.completed,
            total: req.keys.len(),
        });
    }
    Ok(out)
}

/// Closes a request whose items are all settled (call after handling them).
pub(crate) async fn close_settled(ctx: &RunCtx, s: &Settled) -> Result<(), JobError> {
    if s.done {
        let summary = format!("{} item(s), {} settled", s.total, s.items.len());
        ctx.store
            .finish_dsco_request(
                &s.request_id,
                store::DscoRequestState::Done,
                &summary,
                ctx.clock.now(),
                &ctx.fence,
            )
            .await?;
    }
    Ok(())
}

/// DSCO's messages as one line.
pub(crate) fn messages_text(m: &[dsco::ApiMessage]) -> String {
    if m.is_empty() {
        return "no message".into();
    }
    m.iter()
        .map(|x| match &x.code {
            Some(c) => format!("[{c}] {}", x.description),
            None => x.description.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn scrub_masks_credentials_and_keeps_the_rest() {
        let url = "timed out: error sending request for url (http://127.0.0.1:9/erp/sc/routing/wms/order/wmsOrderList?app_key=ak_1&access_token=tok-123&timestamp=17&sign=AbC%2B%3D)";
        let s = scrub(url);
        assert!(!s.contains("tok-123") && !s.contains("AbC"), "{s}");
        assert!(
            s.contains("access_token=***") && s.contains("sign=***"),
            "{s}"
        );
        assert!(
            s.contains("app_key=ak_1&") && s.contains("timestamp=17"),
            "{s}"
        );
        assert_eq!(
            scrub("token endpoint ?appId=a&appSecret=S3cr3t failed"),
            "token endpoint ?appId=a&appSecret=*** failed"
        );
        assert_eq!(
            scrub("Authorization: Bearer eyJ.x.y refused"),
            "Authorization: Bearer *** refused"
        );
        // Words that merely end in a key, and text without any, are left alone.
        assert_eq!(scrub("design=ok 签名 sign"), "design=ok 签名 sign");
        assert_eq!(scrub("无 tracking yet"), "无 tracking yet");
    }
}
