//! [`IntentStore`]: intents and DSCO async requests.

use super::*;

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl IntentStore for SqlStore {
    async fn update_intents(
        &self,
        kind: IntentKind,
        updates: &[IntentUpdate],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in updates.chunks(CHUNK) {
                // Per key, the updates in sequence: the last state and outcome, and one attempt
                // per submission or unclear outcome.
                let mut finals: Vec<(&IntentUpdate, i64)> = Vec::new();
                let mut final_of: HashMap<&str, usize> = HashMap::new();
                for u in chunk {
                    let inc = i64::from(matches!(u.state, IntentState::Submitted | IntentState::Ambiguous));
                    match final_of.get(u.key.as_str()) {
                        Some(&k) => {
                            finals[k].0 = u;
                            finals[k].1 += inc;
                        }
                        None => {
                            final_of.insert(&u.key, finals.len());
                            finals.push((u, inc));
                        }
                    }
                }
                let items = finals
                    .iter()
                    .map(|(u, inc)| {
                        item!({
                            "kind": kind.as_str(),
                            "k": u.key,
                            "state": u.state.as_str(),
                            "outcome": u.outcome,
                            "inc": inc,
                        })
                    })
                    .collect();
                batch_exec!(tx, sql.intents_update, items, ms(now));
            }
        });
        Ok(())
    }

    async fn put_intents(
        &self,
        kind: IntentKind,
        items: &[NewIntent],
        run_id: &str,
        now: DateTime<Utc>,
        fence: &Fence,
        restart: bool,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                // A key repeated in the chunk: its first item is the one recorded.
                let mut seen = HashSet::new();
                let rows: Vec<Item> = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| seen.insert(i.key.as_str()))
                    .map(|(idx, i)| {
                        item!({ "idx": idx, "k": i.key, "po": i.po.as_str(), "payload": i.payload.to_string() })
                    })
                    .collect();
                batch_exec!(tx, sql.intents_insert, rows, kind.as_str(), run_id, ms(now));
                if restart {
                    sqlx::query(AssertSqlSafe(sql.intents_restart.clone()))
                        .bind(json_strings(seen.iter().copied()))
                        .bind(ms(now))
                        .bind(kind.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        });
        Ok(())
    }

    async fn intents(&self, kind: IntentKind, keys: &[String]) -> Result<BTreeMap<String, Intent>> {
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(String::as_str));
            with_pool!(self, p => {
                let rows = collect_rows(
                    sqlx::query(AssertSqlSafe(self.batch.intents_read.clone()))
                        .bind(list)
                        .bind(kind.as_str())
                        .fetch(p),
                )
                .await?;
                for r in &rows {
                    let i = intent_from(r)?;
                    out.insert(i.key.clone(), i);
                }
            });
        }
        Ok(out)
    }

    async fn request_intents(&self, kind: IntentKind, request_id: &str) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", intent_cols_bare!(),
                " FROM intents WHERE kind = $1 AND state = 'submitted' AND outcome = $2 ORDER BY id"
            ))
            .bind(kind.as_str())
            .bind(request_id)
            .fetch_all(p)
            .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn intents_for(&self, po: &PoNumber) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!("SELECT ", intent_cols!(), " FROM intents WHERE po = $1 ORDER BY id"))
                .bind(po.as_str())
                .fetch_all(p)
                .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn open_intents(&self, kind: IntentKind, limit: u32) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", intent_cols!(),
                " FROM intents WHERE kind = $1 AND state IN ('pending', 'ambiguous') ORDER BY id LIMIT $2"
            ))
                .bind(kind.as_str())
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn intents_of(
        &self,
        pos: &[PoNumber],
        kinds: &[IntentKind],
    ) -> Result<BTreeMap<PoNumber, Vec<Intent>>> {
        let mut out: BTreeMap<PoNumber, Vec<Intent>> = BTreeMap::new();
        let kinds = json_strings(kinds.iter().map(|k| k.as_str()));
        read_by_po!(self, self.batch.intents_of_read, pos, &kinds, |r| {
            let i = intent_from(r)?;
            out.entry(i.po.clone()).or_default().push(i);
        });
        Ok(out)
    }

    async fn insert_dsco_request(&self, req: &DscoRequest, fence: &Fence) -> Result<()> {
        let keys = serde_json::to_string(&req.keys).expect("json");
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO dsco_requests (request_id, kind, keys, state, result, run_id, submitted_at, checked_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $7)",
            )
            .bind(&req.request_id)
            .bind(req.kind.as_str())
            .bind(keys)
            .bind(req.state.as_str())
            .bind(&req.result)
            .bind(req.run_id.as_deref())
            .bind(ms(req.submitted_at))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn pending_dsco_requests(&self, kind: IntentKind) -> Result<Vec<DscoRequest>> {
        const T: &str = "dsco_requests";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT request_id, kind, keys, state, result, run_id, submitted_at, checked_at FROM dsco_requests \
                 WHERE kind = $1 AND state = 'pending' ORDER BY submitted_at",
            )
            .bind(kind.as_str())
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DscoRequest {
                        request_id: r.s("request_id")?,
                        kind,
                        keys: serde_json::from_str(&r.s("keys")?).map_err(|e| StoreError::Corrupt { table: T, detail: e.to_string() })?,
                        state: DscoRequestState::Pending,
                        result: r.s("result")?,
                        run_id: r.os("run_id")?,
                        submitted_at: at(T, r.i64("submitted_at")?)?,
                        checked_at: oat(T, r.oi64("checked_at")?)?,
                    })
                })
                .collect()
        })
    }

    async fn finish_dsco_request(
        &self,
        request_id: &str,
        state: DscoRequestState,
        result: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query("UPDATE dsco_requests SET state = $1, result = $2, checked_at = $3, updated_at = $3 WHERE request_id = $4")
                .bind(state.as_str())
                .bind(result)
                .bind(ms(now))
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}
