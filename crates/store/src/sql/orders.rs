//! [`OrderStore`]: orders, their stages, events, marks, LingXing views, tracking, invoices, flags
//! and unreadable DSCO orders.

use super::*;

/// Inserts one order event inside a transaction.
macro_rules! insert_event {
    ($tx:expr, $e:expr) => {{
        let e: &NewEvent = $e;
        sqlx::query(
            "INSERT INTO order_events (po, at, last_at, count, job, run_id, actor, from_stage, to_stage, outcome, \
               reason_code, reason_kind, detail) VALUES ($1, $2, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.po.as_str())
        .bind(ms(e.at))
        .bind(e.job.map(|j| j.as_str()))
        .bind(e.run_id.as_deref())
        .bind(e.actor.as_deref())
        .bind(e.from_stage.map(|s| s.number()))
        .bind(e.to_stage.map(|s| s.number()))
        .bind(e.outcome.as_str())
        .bind(e.reason_code.map(|c| c.as_str()))
        .bind(e.reason_kind.map(|k| k.as_str()))
        .bind(&e.detail)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Inside a write transaction: records one event (see `OrderStore::record_event`).
macro_rules! record_event_in {
    ($tx:expr, $stages_lock:expr, $e:expr, $next:expr) => {{
        let e: &NewEvent = $e;
        let next_attempt_at: Option<DateTime<Utc>> = $next;
        // A skip decided at a stage the order has left since lands nowhere (see `skip_stage`).
        if let Some(from) = skip_stage(e) {
            let now = sqlx::query(AssertSqlSafe($stages_lock.clone()))
                .bind(json_strings([e.po.as_str()]))
                .fetch_optional(&mut *$tx)
                .await?
                .map(|r| r.i64("stage"))
                .transpose()?;
            if now.is_some_and(|n| n != from.number()) {
                return Ok(());
            }
        }
        // Only a skip can fold into the previous event, so only a skip needs to read it.
        let last = if e.outcome == EventOutcome::Skipped {
            sqlx::query(concat!(
                "SELECT ", event_cols!(), " FROM order_events WHERE po = $1 ORDER BY id DESC LIMIT 1"
            ))
            .bind(e.po.as_str())
            .fetch_optional(&mut *$tx)
            .await?
            .map(|r| event_from(&r))
            .transpose()?
        } else {
            None
        };
        match last.filter(|l| folds_into(&l.event, e)) {
            Some(l) => {
                sqlx::query("UPDATE order_events SET count = count + 1, last_at = $1, run_id = $2 WHERE id = $3")
                    .bind(ms(e.at))
                    .bind(e.run_id.as_deref())
                    .bind(l.id)
                    .execute(&mut *$tx)
                    .await?;
            }
            None => insert_event!($tx, e),
        }
        if e.outcome == EventOutcome::Skipped {
            sqlx::query(
                "UPDATE orders SET reason_code = $1, reason_kind = $2, reason_detail = $3, attempts = attempts + 1, \
                   next_attempt_at = $4, updated_at = $5, dirty = 0 WHERE po = $6",
            )
            .bind(e.reason_code.map(|c| c.as_str()))
            .bind(e.reason_kind.map(|k| k.as_str()))
            .bind(&e.detail)
            .bind(next_attempt_at.map(ms).unwrap_or(0))
            .bind(ms(e.at))
            .bind(e.po.as_str())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Stores the DSCO payloads of `n` orders at once (the first PO and payload, and so on),
/// writing each only when it changed; answers the POs whose payload it wrote (new or changed).
/// SQLite gets anonymous parameters (`?`): sqlx looks up the name of every numbered one, a linear
/// scan each, which made a statement of 1,000 parameters cost a quadratic number of steps.
fn payloads_upsert(n: usize, backend: BackendKind) -> String {
    let mut sql = String::with_capacity(160 + n * 16);
    sql.push_str("INSERT INTO order_payloads (po, payload) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        match backend {
            BackendKind::Sqlite => sql.push_str("(?, ?)"),
            BackendKind::Postgres => sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2)),
        }
    }
    sql.push_str(
        " ON CONFLICT (po) DO UPDATE SET payload = excluded.payload \
         WHERE order_payloads.payload <> excluded.payload RETURNING po",
    );
    sql
}

/// Whether a new event `e` folds into `prev`, the order's latest event, instead of being
/// inserted: an identical repeated skip (see [`NewEvent`]).
fn folds_into(prev: &NewEvent, e: &NewEvent) -> bool {
    e.outcome == EventOutcome::Skipped
        && prev.outcome == e.outcome
        && prev.job == e.job
        && prev.reason_code == e.reason_code
        && prev.detail == e.detail
}

/// The stage a skip was decided at: a skip records the order's reason for staying where the job
/// read it, so it lands only while the order is still there. A job that read the order before a
/// concurrent pull moved it (DSCO cancelled it, say) would otherwise put its own reason over the
/// one of the order's new stage. Other events (moves, notes) are not held to a stage here: a move
/// is its own compare-and-set on the stage.
/// (An order the store does not have keeps its skip events: there is no stage to compare.)
fn skip_stage(e: &NewEvent) -> Option<Stage> {
    (e.outcome == EventOutcome::Skipped)
        .then_some(e.from_stage)
        .flatten()
}

/// One row for `BatchSql::events_insert`.
fn event_item(idx: usize, e: &NewEvent, count: i64, last_at: i64, run_id: Option<&str>) -> Item {
    item!({
        "idx": idx,
        "po": e.po.as_str(),
        "at": ms(e.at),
        "last_at": last_at,
        "count": count,
        "job": e.job.map(|j| j.as_str()),
        "run_id": run_id,
        "actor": e.actor.as_deref(),
        "from_stage": e.from_stage.map(|s| s.number()),
        "to_stage": e.to_stage.map(|s| s.number()),
        "outcome": e.outcome.as_str(),
        "reason_code": e.reason_code.map(|c| c.as_str()),
        "reason_kind": e.reason_kind.map(|k| k.as_str()),
        "detail": e.detail,
    })
}

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl OrderStore for SqlStore {
    async fn upsert_pulled_many(
        &self,
        orders: &[(PulledOrder, Stage)],
        run_id: Option<&str>,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<Upserted>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        /// What the items of one PO in a chunk amount to: their merges applied in sequence (a
        /// field takes the last value that is not `None`; skus and payload the last), and
        /// whether a payload changed between two of them.
        /// Borrowed from the input until a second item of the PO has to be merged in.
        struct Merged<'a> {
            first: usize,
            stage: Stage,
            o: Cow<'a, PulledOrder>,
            payload: &'a str,
            changed: bool,
            status_at_insert: Option<&'a str>,
        }
        fn merge<'a>(into: &mut Merged<'a>, o: &'a PulledOrder) {
            fn keep<T: Clone>(old: &mut Option<T>, new: &Option<T>) {
                if new.is_some() {
                    old.clone_from(new);
                }
            }
            let m = into.o.to_mut();
            keep(&mut m.dsco_order_id, &o.dsco_order_id);
            keep(&mut m.retailer_id, &o.retailer_id);
            keep(&mut m.dsco_status, &o.dsco_status);
            keep(&mut m.dsco_lifecycle, &o.dsco_lifecycle);
            keep(&mut m.dsco_created_at, &o.dsco_created_at);
            keep(&mut m.dsco_updated_at, &o.dsco_updated_at);
            keep(&mut m.warehouse_code, &o.warehouse_code);
            keep(&mut m.service_level, &o.service_level);
            m.skus.clone_from(&o.skus);
            let payload = o.payload.get();
            into.changed |= payload != into.payload;
            into.payload = payload;
        }
        fn order_item(idx: usize, m: &Merged<'_>) -> Item {
            let o = &m.o;
            item!({
                "idx": idx,
                "po": o.po.as_str(),
                "dsco_order_id": o.dsco_order_id,
                "retailer_id": o.retailer_id,
                "stage": m.stage.number(),
                "dsco_status": o.dsco_status,
                "dsco_lifecycle": o.dsco_lifecycle,
                "dsco_created_at": o.dsco_created_at.map(ms),
                "dsco_updated_at": o.dsco_updated_at.map(ms),
                "warehouse_code": o.warehouse_code,
                "service_level": o.service_level,
                "skus": o.skus,
                "changed": i64::from(m.changed),
            })
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::with_capacity(orders.len());
            for (c, chunk) in orders.chunks(CHUNK).enumerate() {
                let base = c * CHUNK;
                let list = json_strings(chunk.iter().map(|(o, _)| o.po.as_str()));
                let rows = sqlx::query(AssertSqlSafe(sql.order_stages.clone()))
                    .bind(list)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut stored: HashMap<String, Stage> = HashMap::with_capacity(rows.len());
                for r in &rows {
                    stored.insert(r.s("po")?, stage_of("orders", r.i64("stage")?)?);
                }
                // Per PO: new (inserted by its first item) or known (refreshed by every item).
                let mut inserted: Vec<Merged> = Vec::new();
                let mut refreshed: Vec<Merged> = Vec::new();
                let mut slot: HashMap<&str, (bool, usize)> = HashMap::new();
                for (i, (o, initial)) in chunk.iter().enumerate() {
                    let po = o.po.as_str();
                    match slot.get(po).copied() {
                        Some((true, k)) => {
                            merge(&mut inserted[k], o);
                            out.push(Upserted::Refreshed(inserted[k].stage));
                        }
                        Some((false, k)) => {
                            merge(&mut refreshed[k], o);
                            out.push(Upserted::Refreshed(refreshed[k].stage));
                        }
                        None => match stored.get(po) {
                            Some(&stage) => {
                                // `changed` starts false: the stored payload is compared in SQL.
                                let m = Merged {
                                    first: base + i,
                                    stage,
                                    o: Cow::Borrowed(o),
                                    payload: o.payload.get(),
                                    changed: false,
                                    status_at_insert: None,
                                };
                                slot.insert(po, (false, refreshed.len()));
                                refreshed.push(m);
                                out.push(Upserted::Refreshed(stage));
                            }
                            None => {
                                let m = Merged {
                                    first: base + i,
                                    stage: *initial,
                                    o: Cow::Borrowed(o),
                                    payload: o.payload.get(),
                                    changed: false,
                                    status_at_insert: o.dsco_status.as_deref(),
                                };
                                slot.insert(po, (true, inserted.len()));
                                inserted.push(m);
                                out.push(Upserted::Inserted(*initial));
                            }
                        },
                    }
                }
                // The payloads first: the refreshed orders whose payload changed are marked dirty.
                // They are bound as parameters, not carried in a JSON list: a payload is
                // kilobytes of JSON, which would be escaped into the list and parsed out again.
                let mut rows: Vec<&Merged> = inserted.iter().chain(refreshed.iter()).collect();
                rows.sort_by_key(|m| m.first);
                let mut written: HashSet<String> = HashSet::new();
                if !rows.is_empty() {
                    let mut q = sqlx::query(AssertSqlSafe(payloads_upsert(rows.len(), self.backend())));
                    for m in &rows {
                        q = q.bind(m.o.po.as_str()).bind(m.payload);
                    }
                    for r in q.fetch_all(&mut *tx).await? {
                        written.insert(r.s("po")?);
                    }
                }
                for m in &mut refreshed {
                    m.changed |= written.contains(m.o.po.as_str());
                }
                // A payload that did not change leaves the order as it was (its DSCO fields are
                // read from the payload).
                refreshed.retain(|m| m.changed);
                if !inserted.is_empty() {
                    batch_exec!(tx, sql.orders_insert, inserted.iter().map(|m| order_item(m.first, m)).collect(), ms(now));
                    let events = inserted
                        .iter()
                        .map(|m| {
                            let e = NewEvent {
                                po: m.o.po.clone(),
                                at: now,
                                job: Some(fence.job),
                                run_id: run_id.map(str::to_owned),
                                actor: None,
                                from_stage: None,
                                to_stage: Some(m.stage),
                                outcome: EventOutcome::Pulled,
                                reason_code: None,
                                reason_kind: None,
                                detail: format!("DSCO status {}", m.status_at_insert.unwrap_or("unknown")),
                            };
                            event_item(m.first, &e, 1, ms(now), run_id)
                        })
                        .collect();
                    batch_exec!(tx, sql.events_insert, events);
                }
                if !refreshed.is_empty() {
                    batch_exec!(tx, sql.orders_refresh, refreshed.iter().map(|m| order_item(m.first, m)).collect(), ms(now));
                }
            }
            Ok(out)
        })
    }

    async fn get_order(&self, po: &PoNumber) -> Result<Option<OrderRecord>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!("SELECT ", order_cols!(), " FROM orders WHERE po = $1"))
                .bind(po.as_str())
                .fetch_optional(p)
                .await?;
            row.map(|r| order_from(&r)).transpose()
        })
    }

    async fn cas_stage(&self, e: &NewEvent, fence: &Fence) -> Result<bool> {
        let moved = self.cas_stages(std::slice::from_ref(e), fence).await?;
        Ok(moved.first().copied().unwrap_or(false))
    }

    async fn cas_stages(&self, events: &[NewEvent], fence: &Fence) -> Result<Vec<bool>> {
        for e in events {
            let (Some(from), Some(to)) = (e.from_stage, e.to_stage) else {
                return Err(StoreError::NotAllowed(
                    "a stage change needs from and to".into(),
                ));
            };
            if !from.can_advance_to(to) {
                return Err(StoreError::NotAllowed(format!(
                    "{from} → {to} is not a forward move; only an operator may do that"
                )));
            }
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = vec![false; events.len()];
            // A PO moved twice in one call (2→3, then 3→4) needs the first move applied before
            // the second compares: such items land in successive runs.
            for run in distinct_runs(events, |e| e.po.as_str()) {
                let items = &events[run.clone()];
                let moves: Vec<Item> = items
                    .iter()
                    .map(|e| {
                        item!({
                            "po": e.po.as_str(),
                            "at": ms(e.at),
                            "from_stage": e.from_stage.map(|s| s.number()),
                            "to_stage": e.to_stage.map(|s| s.number()),
                        })
                    })
                    .collect();
                let rows = batch_query!(sql.cas_update, moves)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut moved = HashSet::with_capacity(rows.len());
                for r in &rows {
                    moved.insert(r.s("po")?);
                }
                let mut inserts = Vec::with_capacity(moved.len());
                for (i, e) in items.iter().enumerate() {
                    if moved.contains(e.po.as_str()) {
                        out[run.start + i] = true;
                        inserts.push(event_item(i, e, 1, ms(e.at), e.run_id.as_deref()));
                    }
                }
                if !inserts.is_empty() {
                    batch_exec!(tx, sql.events_insert, inserts);
                }
            }
            Ok(out)
        })
    }

    async fn act_on_orders(
        &self,
        act: OrderAct,
        pos: &[PoNumber],
        actor: &str,
        detail: &str,
        now: DateTime<Utc>,
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<PoNumber>> {
        let list = match self.backend() {
            BackendKind::Sqlite => "SELECT value FROM json_each($2)",
            BackendKind::Postgres => "SELECT jsonb_array_elements_text($2::jsonb)",
        };
        let sql = match act {
            // Not final: decided again at the next run of its stage's job, back-off reset.
            OrderAct::Retry => format!(
                "UPDATE orders SET dirty = 1, marks = marks + 1, next_attempt_at = $1, attempts = 0, updated_at = $1 \
                 WHERE po IN ({list}) AND stage < 5 RETURNING po"
            ),
            OrderAct::Ignore => format!(
                "UPDATE orders SET ignored_at = $1, updated_at = $1 WHERE po IN ({list}) AND ignored_at IS NULL RETURNING po"
            ),
            OrderAct::Unignore => format!(
                "UPDATE orders SET ignored_at = NULL, updated_at = $1 WHERE po IN ({list}) AND ignored_at IS NOT NULL RETURNING po"
            ),
        };
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let mut done = Vec::new();
            for chunk in pos.chunks(CHUNK) {
                let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(ms(now))
                    .bind(json_strings(chunk.iter().map(PoNumber::as_str)))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut acted = Vec::with_capacity(rows.len());
                for r in &rows {
                    acted.push(po_in(r, "orders")?);
                }
                acted.sort();
                for po in acted {
                    let e = NewEvent {
                        po: po.clone(),
                        at: now,
                        job: None,
                        run_id: None,
                        actor: Some(actor.to_owned()),
                        from_stage: None,
                        to_stage: None,
                        outcome: EventOutcome::Operator,
                        reason_code: None,
                        reason_kind: None,
                        detail: detail.to_owned(),
                    };
                    insert_event!(tx, &e);
                    done.push(po);
                }
            }
            if let Some(a) = audit {
                sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(ms(a.at))
                    .bind(&a.actor)
                    .bind(&a.action)
                    .bind(&a.target)
                    .bind(&a.reason)
                    .bind(a.detail.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(done)
        })
    }

    async fn force_stage(
        &self,
        po: &PoNumber,
        to: Stage,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Stage> {
        if reason.trim().is_empty() {
            return Err(StoreError::NotAllowed(
                "an operator action needs a reason".into(),
            ));
        }
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let (from, code) = match sqlx::query("SELECT stage, reason_code FROM orders WHERE po = $1")
                .bind(po.as_str())
                .fetch_optional(&mut *tx)
                .await?
            {
                Some(r) => (r.i64("stage")?, r.os("reason_code")?),
                None => return Err(StoreError::NotAllowed(format!("no order {po}"))),
            };
            let from = stage_of("orders", from)?;
            domain::ops::force_guard(from, to, code.as_deref()).map_err(StoreError::NotAllowed)?;
            sqlx::query(
                "UPDATE orders SET stage = $1, stage_entered_at = $2, updated_at = $2, reason_code = NULL, \
                   reason_kind = NULL, reason_detail = NULL, attempts = 0, next_attempt_at = 0, ignored_at = NULL WHERE po = $3",
            )
            .bind(to.number())
            .bind(ms(now))
            .bind(po.as_str())
            .execute(&mut *tx)
            .await?;
            let e = NewEvent {
                po: po.clone(),
                at: now,
                job: None,
                run_id: None,
                actor: Some(actor.to_owned()),
                from_stage: Some(from),
                to_stage: Some(to),
                outcome: EventOutcome::Operator,
                reason_code: None,
                reason_kind: None,
                detail: format!("stage forced by {actor}: {reason}"),
            };
            insert_event!(tx, &e);
            let detail = serde_json::json!({ "from": from.number(), "to": to.number() }).to_string();
            audit_in!(tx, now, actor, "order.force_stage", po.as_str(), reason, detail);
            tx.commit().await?;
            Ok(from)
        })
    }

    async fn record_event(
        &self,
        e: &NewEvent,
        next_attempt_at: Option<DateTime<Utc>>,
        fence: Option<&Fence>,
    ) -> Result<()> {
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            record_event_in!(tx, self.batch.stages_lock, e, next_attempt_at);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn record_events(
        &self,
        events: &[(NewEvent, Option<DateTime<Utc>>)],
        fence: &Fence,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        /// An order's latest event as the items so far leave it.
        enum Latest {
            /// Stored before this chunk (id, event).
            Stored(i64, NewEvent),
            /// Inserted by this chunk: its index in `inserts`.
            New(usize),
        }
        /// An event this chunk inserts, with the skips folded into it.
        struct Insert<'a> {
            e: &'a NewEvent,
            count: i64,
            last_at: i64,
            run_id: Option<&'a str>,
        }
        /// A stored event this chunk bumps.
        struct Bump<'a> {
            inc: i64,
            last_at: i64,
            run_id: Option<&'a str>,
        }
        /// An order's latest reason after this chunk's skips of it.
        struct Reason<'a> {
            e: &'a NewEvent,
            next: Option<DateTime<Utc>>,
            inc: i64,
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            // Chunks in sequence: each reads what the previous one wrote.
            for chunk in events.chunks(CHUNK) {
                // One read for the chunk's skipped orders: their stages (a skip lands only on
                // an order still at the stage it was decided at, see `skip_stage`) and their
                // latest events (only a skip can fold into the previous event).
                let skipped: HashSet<&str> = chunk
                    .iter()
                    .filter(|(e, _)| e.outcome == EventOutcome::Skipped)
                    .map(|(e, _)| e.po.as_str())
                    .collect();
                let mut stage_now: HashMap<String, i64> = HashMap::with_capacity(skipped.len());
                let mut stored: Vec<OrderEvent> = Vec::new();
                if !skipped.is_empty() {
                    let rows = sqlx::query(AssertSqlSafe(sql.last_events.clone()))
                        .bind(json_strings(skipped.iter().copied()))
                        .fetch_all(&mut *tx)
                        .await?;
                    for r in &rows {
                        stage_now.insert(r.s("order_po")?, r.i64("order_stage")?);
                        if r.oi64("id")?.is_some() {
                            stored.push(event_from(r)?);
                        }
                    }
                }
                let chunk: Vec<&(NewEvent, Option<DateTime<Utc>>)> = chunk
                    .iter()
                    .filter(|(e, _)| {
                        // An order the store does not have keeps its event, as before: there
                        // is no stage to have left, and no reason to set.
                        skip_stage(e).is_none_or(|s| {
                            stage_now.get(e.po.as_str()).is_none_or(|now| *now == s.number())
                        })
                    })
                    .collect();
                let mut latest: HashMap<&str, Latest> = HashMap::new();
                for l in stored {
                    if let Some(&p) = skipped.get(l.event.po.as_str()) {
                        latest.insert(p, Latest::Stored(l.id, l.event));
                    }
                }
                let mut inserts: Vec<Insert> = Vec::new();
                let mut bumps: BTreeMap<i64, Bump> = BTreeMap::new();
                let mut reasons: Vec<Reason> = Vec::new();
                let mut reason_of: HashMap<&str, usize> = HashMap::new();
                for (e, next) in chunk {
                    let po = e.po.as_str();
                    let folds = match latest.get(po) {
                        Some(Latest::Stored(_, prev)) => folds_into(prev, e),
                        Some(Latest::New(k)) => folds_into(inserts[*k].e, e),
                        None => false,
                    };
                    match latest.get(po) {
                        Some(Latest::Stored(id, _)) if folds => {
                            let b = bumps.entry(*id).or_insert(Bump { inc: 0, last_at: 0, run_id: None });
                            b.inc += 1;
                            b.last_at = ms(e.at);
                            b.run_id = e.run_id.as_deref();
                        }
                        Some(Latest::New(k)) if folds => {
                            let i = &mut inserts[*k];
                            i.count += 1;
                            i.last_at = ms(e.at);
                            i.run_id = e.run_id.as_deref();
                        }
                        _ => {
                            latest.insert(po, Latest::New(inserts.len()));
                            inserts.push(Insert { e, count: 1, last_at: ms(e.at), run_id: e.run_id.as_deref() });
                        }
                    }
                    if e.outcome == EventOutcome::Skipped {
                        match reason_of.get(po) {
                            Some(&k) => {
                                let r = &mut reasons[k];
                                r.e = e;
                                r.next = *next;
                                r.inc += 1;
                            }
                            None => {
                                reason_of.insert(po, reasons.len());
                                reasons.push(Reason { e, next: *next, inc: 1 });
                            }
                        }
                    }
                }
                if !bumps.is_empty() {
                    let items = bumps
                        .iter()
                        .map(|(id, b)| item!({ "id": id, "inc": b.inc, "last_at": b.last_at, "run_id": b.run_id }))
                        .collect();
                    batch_exec!(tx, sql.events_bump, items);
                }
                if !inserts.is_empty() {
                    let items = inserts
                        .iter()
                        .enumerate()
                        .map(|(k, i)| event_item(k, i.e, i.count, i.last_at, i.run_id))
                        .collect();
                    batch_exec!(tx, sql.events_insert, items);
                }
                if !reasons.is_empty() {
                    let items = reasons
                        .iter()
                        .map(|r| {
                            item!({
                                "po": r.e.po.as_str(),
                                "reason_code": r.e.reason_code.map(|c| c.as_str()),
                                "reason_kind": r.e.reason_kind.map(|k| k.as_str()),
                                "detail": r.e.detail,
                                "inc": r.inc,
                                "next_at": r.next.map(ms).unwrap_or(0),
                                "at": ms(r.e.at),
                            })
                        })
                        .collect();
                    batch_exec!(tx, sql.reasons_update, items);
                }
            }
        });
        Ok(())
    }

    async fn order_events(&self, po: &PoNumber) -> Result<Vec<OrderEvent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!("SELECT ", event_cols!(), " FROM order_events WHERE po = $1 ORDER BY id"))
                .bind(po.as_str())
                .fetch_all(p)
                .await?;
            rows.iter().map(event_from).collect()
        })
    }

    async fn count_by_stage(&self) -> Result<BTreeMap<Stage, i64>> {
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT stage, COUNT(*) AS n FROM orders GROUP BY stage")
                .fetch_all(p)
                .await?;
            let mut out = BTreeMap::new();
            for r in &rows {
                out.insert(stage_of("orders", r.i64("stage")?)?, r.i64("n")?);
            }
            Ok(out)
        })
    }

    async fn entered_before(
        &self,
        stage: Stage,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<(i64, Vec<OrderRecord>)> {
        with_pool!(self, p => {
            let n = sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE stage = $1 AND stage_entered_at < $2")
                .bind(stage.number())
                .bind(ms(before))
                .fetch_one(p)
                .await?
                .i64("n")?;
            let rows = sqlx::query(concat!(
                "SELECT ", order_cols!(), " FROM orders WHERE stage = $1 AND stage_entered_at < $2 ORDER BY stage_entered_at, po LIMIT $3"
            ))
            .bind(stage.number())
            .bind(ms(before))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            Ok((n, rows.iter().map(order_from).collect::<Result<Vec<_>>>()?))
        })
    }

    async fn order_candidates(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>> {
        with_pool!(self, p => {
            let rows = collect_rows(
                sqlx::query(CANDIDATES)
                    .bind(stage.number())
                    .bind(ms(now))
                    .bind(limit as i64)
                    .fetch(p),
            )
            .await?;
            rows.iter().map(order_from).collect()
        })
    }

    async fn candidate_pos(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PoNumber>> {
        with_pool!(self, p => {
            let rows = collect_rows(
                sqlx::query(CANDIDATE_POS)
                    .bind(stage.number())
                    .bind(ms(now))
                    .bind(limit as i64)
                    .fetch(p),
            )
            .await?;
            rows.iter().map(|r| po_in(r, "orders")).collect()
        })
    }

    async fn orders_by_po(&self, pos: &[PoNumber]) -> Result<Vec<OrderRecord>> {
        let mut out = Vec::with_capacity(pos.len());
        read_by_po!(self, self.batch.orders_read, pos, |r| out
            .push(order_from(r)?));
        Ok(out)
    }

    async fn stages_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, Stage>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.order_stages, pos, |r| {
            out.insert(po_in(r, "orders")?, stage_of("orders", r.i64("stage")?)?);
        });
        Ok(out)
    }

    async fn dsco_updated_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, Option<i64>>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.dsco_updated_read, pos, |r| {
            out.insert(po_in(r, "orders")?, r.oi64("dsco_updated_at")?);
        });
        Ok(out)
    }

    async fn payloads_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, RawJson>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.payloads_read, pos, |r| {
            out.insert(
                po_in(r, "order_payloads")?,
                RawJson::from_store(r.s("payload")?),
            );
        });
        Ok(out)
    }

    async fn mark_dirty(&self, pos: &[PoNumber], fence: Option<&Fence>) -> Result<u64> {
        let mut n = 0;
        for chunk in pos.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(PoNumber::as_str));
            n += with_pool!(self, p => {
                let mut tx = p.begin_write().await?;
                if let Some(f) = fence {
                    check_fence!(tx, f);
                }
                let k = sqlx::query(AssertSqlSafe(self.batch.dirty_mark.clone()))
                    .bind(list)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                k
            });
        }
        Ok(n)
    }

    async fn remark_changed(
        &self,
        seen: &[(PoNumber, i64)],
        fence: &Fence,
    ) -> Result<Vec<PoNumber>> {
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::new();
            for chunk in seen.chunks(CHUNK) {
                let items: Vec<Item> = chunk
                    .iter()
                    .map(|(po, n)| item!({"po": po.as_str(), "seen": n}))
                    .collect();
                let rows = batch_query!(sql.remark, items)
                    .fetch_all(&mut *tx)
                    .await?;
                for r in &rows {
                    out.push(po_in(r, "orders")?);
                }
            }
            Ok(out)
        })
    }

    async fn set_lingxing_views(
        &self,
        views: &[LingxingView],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<bool>> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        /// What the views of one PO in a chunk amount to, applied in sequence.
        struct Final<'a> {
            snap: String,
            /// `None`: the order numbers stay as stored (a write of the outbound orders only).
            order_nos: Option<String>,
            store_id: Option<&'a str>,
            changed: bool,
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::with_capacity(views.len());
            for chunk in views.chunks(CHUNK) {
                // Each write lands on the view as stored now, inside this transaction: what
                // another job stored since the writer read its views stays (see `LxViewPart`).
                let list = json_strings(chunk.iter().map(|v| v.po.as_str()));
                let rows = sqlx::query(AssertSqlSafe(sql.views_lock.clone()))
                    .bind(list)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut current: HashMap<String, (String, LxView)> = HashMap::with_capacity(rows.len());
                for r in &rows {
                    let text = r.s("lx_snapshot")?;
                    let view = LxView::from_json(&text);
                    current.insert(r.s("po")?, (text, view));
                }
                let mut finals: Vec<(&str, Final)> = Vec::new();
                let mut final_of: HashMap<&str, usize> = HashMap::new();
                for v in chunk {
                    let po = v.po.as_str();
                    let Some((text, view)) = current.get_mut(po) else {
                        // Not a known order: nothing to store.
                        out.push(false);
                        continue;
                    };
                    let next = v.part.onto(&v.snapshot, view);
                    let snap = next.to_json();
                    // A later view of the same PO compares with the one before it.
                    let changed = snap != *text;
                    out.push(changed);
                    let order_nos = match v.part {
                        LxViewPart::Whole => Some(v.order_nos.join(",")),
                        p if p.has_orders() => Some(next.order_nos().join(",")),
                        _ => None,
                    };
                    match final_of.get(po) {
                        Some(&k) => {
                            let f = &mut finals[k].1;
                            f.changed |= changed;
                            f.snap = snap.clone();
                            f.order_nos = order_nos.or(f.order_nos.take());
                            f.store_id = v.store_id.as_deref().or(f.store_id);
                        }
                        None => {
                            final_of.insert(po, finals.len());
                            finals.push((po, Final { snap: snap.clone(), order_nos, store_id: v.store_id.as_deref(), changed }));
                        }
                    }
                    *text = snap;
                    *view = next;
                }
                if !finals.is_empty() {
                    let items = finals
                        .iter()
                        .map(|(po, f)| {
                            item!({
                                "po": po,
                                "snap": f.snap,
                                "order_nos": f.order_nos,
                                "store_id": f.store_id,
                                "changed": i64::from(f.changed),
                            })
                        })
                        .collect();
                    batch_exec!(tx, sql.views_update, items, ms(now));
                }
            }
            Ok(out)
        })
    }

    async fn lingxing_views(
        &self,
        pos: &[PoNumber],
    ) -> Result<BTreeMap<PoNumber, (LxView, Option<DateTime<Utc>>)>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.views_read, pos, |r| {
            let view = LxView::from_json(&r.s("lx_snapshot")?);
            out.insert(
                po_in(r, "orders")?,
                (view, oat("orders", r.oi64("lx_checked_at")?)?),
            );
        });
        Ok(out)
    }

    async fn add_trackings(&self, items: &[(PoNumber, Vec<String>)], fence: &Fence) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                let rows = sqlx::query(AssertSqlSafe(sql.tracking_read.clone()))
                    .bind(json_strings(chunk.iter().map(|(p, _)| p.as_str())))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for r in &rows {
                    lists.insert(r.s("po")?, split_list(&r.s("tracking")?));
                }
                for (po, tracking) in chunk {
                    // A PO twice in one call adds up; an unknown PO is left alone.
                    let Some(list) = lists.get_mut(po.as_str()) else { continue };
                    for t in tracking {
                        if !t.is_empty() && !list.contains(t) {
                            list.push(t.clone());
                        }
                    }
                }
                let values = lists
                    .iter()
                    .map(|(po, list)| item!({"po": po, "v": list.join(",")}))
                    .collect();
                batch_exec!(tx, sql.tracking_update, values);
            }
        });
        Ok(())
    }

    async fn set_invoice_ids(&self, items: &[(PoNumber, String)], fence: &Fence) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                // The last one wins for a PO named twice, as one call after another would.
                let last: BTreeMap<&str, &str> =
                    chunk.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
                let values = last
                    .iter()
                    .map(|(po, v)| item!({"po": po, "v": v}))
                    .collect();
                batch_exec!(tx, sql.invoice_update, values);
            }
        });
        Ok(())
    }

    async fn add_flag(&self, po: &PoNumber, flag: &str, fence: Option<&Fence>) -> Result<()> {
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            let current = sqlx::query("SELECT flags FROM orders WHERE po = $1")
                .bind(po.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.s("flags"))
                .transpose()?
                .unwrap_or_default();
            let mut list = split_list(&current);
            if !list.iter().any(|f| f == flag) {
                list.push(flag.to_owned());
                sqlx::query("UPDATE orders SET flags = $1 WHERE po = $2")
                    .bind(list.join(","))
                    .bind(po.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    // --- data defects (issue 13): DSCO orders without a PO ------------------------------------
    async fn record_unreadable_orders(
        &self,
        items: &[UnreadableOrder],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        fenced!(self, fence, tx => {
            for u in items {
                sqlx::query(
                    "INSERT INTO unreadable_orders (dsco_order_id, first_seen, last_seen, seen, reason_code, detail, payload) \
                     VALUES ($1, $2, $2, 1, $3, $4, $5) \
                     ON CONFLICT (dsco_order_id) DO UPDATE SET last_seen = excluded.last_seen, \
                     seen = unreadable_orders.seen + 1, reason_code = excluded.reason_code, \
                     detail = excluded.detail, payload = excluded.payload, resolved_at = NULL",
                )
                .bind(&u.dsco_order_id)
                .bind(ms(now))
                .bind(u.reason_code.as_str())
                .bind(&u.detail)
                .bind(u.payload.get())
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn resolve_unreadable_orders(
        &self,
        dsco_order_ids: &[String],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<u64> {
        if dsco_order_ids.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        fenced!(self, fence, tx => {
            for id in dsco_order_ids {
                n += sqlx::query(
                    "UPDATE unreadable_orders SET resolved_at = $1 \
                     WHERE dsco_order_id = $2 AND resolved_at IS NULL",
                )
                .bind(ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        });
        Ok(n)
    }

    async fn unreadable_orders(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<UnreadableOrderRecord>> {
        const T: &str = "unreadable_orders";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM unreadable_orders WHERE resolved_at IS NULL OR $1 = 0 \
                 ORDER BY first_seen, dsco_order_id LIMIT $2",
            )
            .bind(i64::from(open_only))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(UnreadableOrderRecord {
                        order: UnreadableOrder {
                            dsco_order_id: r.s("dsco_order_id")?,
                            reason_code: reason_code_of(T, &r.s("reason_code")?)?,
                            detail: r.s("detail")?,
                            payload: RawJson::from_store(r.s("payload")?),
                        },
                        first_seen: at(T, r.i64("first_seen")?)?,
                        last_seen: at(T, r.i64("last_seen")?)?,
                        seen: r.i64("seen")?,
                        resolved_at: oat(T, r.oi64("resolved_at")?)?,
                    })
                })
                .collect()
        })
    }
}
