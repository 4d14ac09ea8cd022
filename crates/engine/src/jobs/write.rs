//! The one DSCO write pipeline of the ACK, ship and invoice jobs.
//!
//! Every run: settle the requests earlier runs submitted (pulled order state, else the change
//! log), gather the candidates, decide each order, verify the writes whose outcome is unknown
//! (after the decisions, not inside them), record the decisions, and send what is left: hold
//! (writes disabled, dry run) → intents → one batch call → each chunk's outcome on its intents
//! and orders. A kind whose decisions wait on slow far-side reads (the ship job's outbound
//! orders) gathers them in parts: each part is decided and sent while the next is read. What
//! differs per write kind is in the hooks of [`DscoWrite`]; whether a write may go is
//! [`domain::intent::gate`] for all of them.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use domain::intent::{Gate, PendingIs, Stored, gate};
use domain::order::DscoOrderView;
use domain::{JobName, PoNumber, ReasonCode, Stage};
use dsco::{ChunkResult, DscoError, RequestKind};
use store::{Intent, IntentKind, NewIntent, OrderRecord};

use super::common::{
    Outcomes, Settled, StateCheck, chunk_outcome, close_settled, dry, dsco_view, failed_write,
    keeps_requests, read_settled, record_intents, report_request, settle_intents, skip_many,
    write_hold,
};
use crate::{Job, JobError, RunCtx};

/// The gate of a DSCO write whose stored intent is `i`: a refusal is sent again once DSCO's own
/// copy of the order changed after it (`dscoLastUpdate`: the retailer corrected the order); a
/// pending intent is verified like an unclear one (a crash between the intent and the call
/// leaves it pending too).
pub(crate) fn dsco_gate(o: &OrderRecord, i: Option<&Intent>, verified: Option<bool>) -> Gate {
    gate(
        i.map(|i| Stored {
            state: i.state,
            updated_at: i.updated_at,
        }),
        PendingIs::Unclear,
        o.pulled.dsco_updated_at,
        verified,
    )
}

/// What deciding one order came to.
pub(crate) enum Step<W> {
    /// Decided: its outcome is in the run's [`Outcomes`] (or nothing is recorded).
    Done,
    /// Some of its writes' outcomes are unknown: verify these intent keys on DSCO, then decide
    /// again with what was found.
    Verify(Vec<String>),
    /// Write this.
    Write(W),
}

/// One kind of DSCO write: what the pipeline ([`run`]) asks of it.
#[async_trait]
pub(crate) trait DscoWrite: Send + Sync {
    /// What a run gathered to decide its orders (LingXing views, maps, settings, …).
    type Batch: Send;
    /// The write decided for one order.
    type Write: Send + Sync;
    /// One item of the batch request.
    type Item: Send + Sync;

    /// The job that makes these writes.
    const JOB: JobName;
    /// The intents this kind records.
    const KIND: IntentKind;
    /// The intents read for each candidate (this kind's, and others deciding needs).
    const READS: &'static [IntentKind];
    /// The change log DSCO reports this kind's requests in.
    const LOG: RequestKind;
    /// How the pulled order state confirms a request without reading the log.
    const CHECK: StateCheck;
    /// Whether recording an intent again restarts it from pending (see `put_intents`).
    const RESTART: bool;
    /// The stage the orders are written from: a chunk's outcome is recorded on those only.
    const FROM: Stage;

    fn dsco(&self) -> &dsco::DscoClient;

    /// Applies what DSCO settled of one earlier request (intents, stage moves, refusals).
    async fn confirm(&self, ctx: &RunCtx, settled: &Settled) -> Result<(), JobError>;

    /// The run's orders and what deciding them needs; `None` when there is nothing to decide.
    async fn gather(
        &self,
        ctx: &RunCtx,
    ) -> Result<Option<(Vec<OrderRecord>, Self::Batch)>, JobError>;

    /// Decides one order from its DSCO view and its stored intents: records a skip or a move
    /// in `out`, asks for a verification, or returns the write. `verified`: after a
    /// verification, the intent keys DSCO showed applied (and confirmed by [`Self::applied`]).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        ctx: &RunCtx,
        b: &mut Self::Batch,
        o: &OrderRecord,
        view: &DscoOrderView,
        intents: &[Intent],
        verified: Option<&BTreeSet<String>>,
        out: &mut Outcomes,
    ) -> Step<Self::Write>;

    /// Which of `keys` (intents of `o` whose outcome is unknown) DSCO shows applied.
    async fn verify(&self, o: &OrderRecord, keys: &[String])
    -> Result<BTreeSet<String>, DscoError>;

    /// Confirms what verification found applied (per order, its keys), and what follows.
    async fn applied(
        &self,
        ctx: &RunCtx,
        found: Vec<(PoNumber, Vec<String>)>,
    ) -> Result<(), JobError>;

    /// A verification read failed: a reason for the order, or the run fails.
    fn unverified(
        &self,
        ctx: &RunCtx,
        o: &OrderRecord,
        e: &DscoError,
        out: &mut Outcomes,
    ) -> Result<(), JobError>;

    /// After the orders of a part are decided, before their decisions are written.
    async fn decided(&self, _ctx: &RunCtx, _b: &mut Self::Batch) -> Result<(), JobError> {
        Ok(())
    }

    /// The next part of the run's orders, when [`Self::gather`] left some undecided because
    /// what deciding them needs is still being read (read here, while the previous part's
    /// writes are sent); `None` when every gathered order has been decided.
    async fn next_part(
        &self,
        _ctx: &RunCtx,
        _b: &mut Self::Batch,
    ) -> Result<Option<Vec<OrderRecord>>, JobError> {
        Ok(None)
    }

    /// The intents of one write, recorded before the call.
    fn intents(&self, o: &OrderRecord, w: &Self::Write) -> Vec<NewIntent>;
    /// The key DSCO's chunk results name the write by.
    fn chunk_key(&self, w: &Self::Write) -> String;
    /// The write as an item of the batch request.
    fn request(&self, w: &Self::Write) -> Self::Item;
    /// The requests the batch call would send, built by the client that sends them.
    fn plan(&self, items: &[Self::Item]) -> Result<Vec<dsco::PlannedRequest>, DscoError>;
    /// The batch call.
    async fn send(&self, items: &[Self::Item]) -> Result<Vec<ChunkResult>, DscoError>;
}

/// Every DSCO write kind is a job: a run is one pass of the pipeline.
#[async_trait]
impl<K: DscoWrite + 'static> Job for K {
    fn name(&self) -> JobName {
        K::JOB
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        run(self, ctx).await
    }
}

/// Settles the requests earlier runs (or earlier parts of this one) submitted: the pulled order
/// state, else the change log. A dry run settles nothing: settling confirms intents and moves
/// orders.
async fn settle<K: DscoWrite>(
    k: &K,
    ctx: &RunCtx,
    started: std::time::Instant,
) -> Result<(), JobError> {
    if dry(ctx) {
        return Ok(());
    }
    let settled = read_settled(ctx, k.dsco(), K::KIND, K::LOG, K::CHECK).await?;
    tracing::debug!(
        job = %K::JOB,
        requests = settled.len(),
        secs = started.elapsed().as_secs_f64(),
        "settled"
    );
    for settled in settled {
        k.confirm(ctx, &settled).await?;
        close_settled(ctx, &settled).await?;
    }
    Ok(())
}

/// One run of a DSCO write job.
async fn run<K: DscoWrite>(k: &K, ctx: &RunCtx) -> Result<(), JobError> {
    let started = std::time::Instant::now();
    settle(k, ctx, started).await?;
    let Some((mut batch, mut b)) = k.gather(ctx).await? else {
        return Ok(());
    };
    let mut first = true;
    loop {
        tracing::debug!(
            job = %K::JOB,
            orders = batch.len(),
            secs = started.elapsed().as_secs_f64(),
            "gathered"
        );
        let writes = decide_part(k, ctx, &mut b, batch).await?;
        tracing::debug!(
            job = %K::JOB,
            writes = writes.len(),
            secs = started.elapsed().as_secs_f64(),
            "decided"
        );
        // This part's writes go out while the next part is read: two far sides, or two
        // endpoints of one, busy at once. From the second part on (a run reading a backlog),
        // what the earlier parts sent is settled too once this part's writes are out (a change
        // log read per pending request; not while they go out: a request settled while its
        // chunk outcomes are still being recorded would have them overwritten), so the orders
        // DSCO confirmed move on (the next job takes them) while the run still reads.
        let settling = !first;
        let (sent, next) = tokio::join!(
            async {
                send(k, ctx, &writes).await?;
                if settling {
                    settle(k, ctx, started).await?;
                }
                Ok::<(), JobError>(())
            },
            k.next_part(ctx, &mut b)
        );
        sent?;
        first = false;
        match next? {
            Some(part) => batch = part,
            None => return Ok(()),
        }
    }
}

/// Decides one part of the run's orders and records the decisions; the writes left to send,
/// in the part's order.
async fn decide_part<K: DscoWrite>(
    k: &K,
    ctx: &RunCtx,
    b: &mut K::Batch,
    batch: Vec<OrderRecord>,
) -> Result<Vec<(OrderRecord, K::Write)>, JobError> {
    let pos: Vec<PoNumber> = batch.iter().map(|o| o.pulled.po.clone()).collect();
    let mut intents = ctx.store.intents_of(&pos, K::READS).await?;
    let mut out = Outcomes::default();
    // Each write with its order's place in the batch, so the request lists them in batch order
    // whether or not they were verified first.
    let mut writes: Vec<(usize, OrderRecord, K::Write)> = Vec::new();
    let mut unclear = Vec::new();
    for (n, o) in batch.into_iter().enumerate() {
        let Some(view) = dsco_view(ctx, &o, ReasonCode::DscoRejected).await? else {
            continue;
        };
        let mine = intents.remove(&o.pulled.po).unwrap_or_default();
        match k.decide(ctx, b, &o, &view, &mine, None, &mut out) {
            Step::Done => {}
            Step::Write(w) => writes.push((n, o, w)),
            Step::Verify(keys) => unclear.push((n, o, view, mine, keys)),
        }
    }
    // Only after a write whose outcome is unknown: read DSCO back before sending again.
    let mut found = Vec::new();
    let mut verified = Vec::new();
    for (n, o, view, mine, keys) in unclear {
        match k.verify(&o, &keys).await {
            Ok(applied) => {
                if !applied.is_empty() {
                    found.push((o.pulled.po.clone(), applied.iter().cloned().collect()));
                }
                verified.push((n, o, view, mine, applied));
            }
            Err(e) => k.unverified(ctx, &o, &e, &mut out)?,
        }
    }
    if !dry(ctx) {
        k.applied(ctx, found).await?;
    }
    for (n, o, view, mine, applied) in verified {
        if let Step::Write(w) = k.decide(ctx, b, &o, &view, &mine, Some(&applied), &mut out) {
            writes.push((n, o, w));
        }
    }
    if !dry(ctx) {
        k.decided(ctx, b).await?;
    }
    out.flush(ctx).await?;
    writes.sort_by_key(|(n, _, _)| *n);
    Ok(writes.into_iter().map(|(_, o, w)| (o, w)).collect())
}

/// Sends the writes: held when this run may not write; else their intents first, then one batch
/// call, and each chunk's outcome on its intents and orders. No change-log read right after:
/// DSCO applies batches asynchronously, so the next run settles them.
async fn send<K: DscoWrite>(
    k: &K,
    ctx: &RunCtx,
    writes: &[(OrderRecord, K::Write)],
) -> Result<(), JobError> {
    if writes.is_empty() {
        return Ok(());
    }
    if keeps_requests(ctx) && (ctx.dry_run || write_hold(ctx).is_none()) {
        let body: Vec<K::Item> = writes.iter().map(|(_, w)| k.request(w)).collect();
        let po_of: BTreeMap<String, String> = writes
            .iter()
            .map(|(o, w)| (k.chunk_key(w), o.pulled.po.to_string()))
            .collect();
        match k.plan(&body) {
            Ok(plans) => {
                for p in plans {
                    let pos = p
                        .keys
                        .iter()
                        .filter_map(|key| po_of.get(key).cloned())
                        .collect();
                    let req = crate::PlannedRequest::from_dsco(p, pos, !ctx.dry_run);
                    report_request(ctx, req, K::FROM).await?;
                }
            }
            Err(e) => tracing::warn!(error = %e, "the requests could not be built for the report"),
        }
    }
    if ctx.dry_run {
        return Ok(());
    }
    if let Some(hold) = write_hold(ctx) {
        let held: Vec<_> = writes.iter().map(|(o, _)| (o, hold.clone())).collect();
        return skip_many(ctx, &held).await;
    }
    let intents: Vec<Vec<NewIntent>> = writes.iter().map(|(o, w)| k.intents(o, w)).collect();
    let all: Vec<NewIntent> = intents.iter().flatten().cloned().collect();
    record_intents(ctx, K::KIND, &all, K::RESTART).await?;
    let body: Vec<K::Item> = writes.iter().map(|(_, w)| k.request(w)).collect();
    // Per chunk key, the order and the keys of its intents.
    let by_key: BTreeMap<String, (&OrderRecord, Vec<String>)> = writes
        .iter()
        .zip(&intents)
        .map(|((o, w), i)| {
            let keys = i.iter().map(|i| i.key.clone()).collect();
            (k.chunk_key(w), (o, keys))
        })
        .collect();
    let chunks = match k.send(&body).await {
        Ok(c) => c,
        Err(e) => {
            let (state, r) = failed_write(&e);
            let keys = all.into_iter().map(|i| i.key);
            settle_intents(ctx, K::KIND, keys, state, &e.to_string()).await?;
            let skips: Vec<_> = writes.iter().map(|(o, _)| (o, r.clone())).collect();
            return skip_many(ctx, &skips).await;
        }
    };
    for chunk in chunks {
        let (state, outcome, reason) =
            chunk_outcome(ctx, K::KIND, &chunk.result, &chunk.keys).await?;
        let mine: Vec<&(&OrderRecord, Vec<String>)> =
            chunk.keys.iter().filter_map(|c| by_key.get(c)).collect();
        let keys = mine.iter().flat_map(|(_, keys)| keys.iter().cloned());
        settle_intents(ctx, K::KIND, keys, state, &outcome).await?;
        let skips: Vec<_> = mine
            .iter()
            .filter(|(o, _)| o.stage == K::FROM)
            .map(|(o, _)| (*o, reason.clone()))
            .collect();
        skip_many(ctx, &skips).await?;
    }
    Ok(())
}
