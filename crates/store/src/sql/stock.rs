//! [`StockStore`]: `sync_stock` state, runs and items; `pull_sku_pair` conflicts.

use super::*;

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl StockStore for SqlStore {
    // --- sync_stock ---------------------------------------------------------------------------
    async fn stock_state(&self) -> Result<BTreeMap<String, StockState>> {
        let mut out = BTreeMap::new();
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT dsco_sku, confirmed_wh, confirmed_at, sent_wh, sent_request_id, sent_at FROM stock_state")
                .fetch_all(p)
                .await?;
            for r in rows {
                out.insert(r.s("dsco_sku")?, StockState {
                    confirmed: r.os("confirmed_wh")?.map(|w| wh_from("stock_state", &w)).transpose()?,
                    confirmed_at: oat("stock_state", r.oi64("confirmed_at")?)?,
                    sent: r.os("sent_wh")?.map(|w| wh_from("stock_state", &w)).transpose()?,
                    sent_request_id: r.os("sent_request_id")?,
                    sent_at: oat("stock_state", r.oi64("sent_at")?)?,
                });
            }
        });
        Ok(out)
    }

    async fn record_stock_run(
        &self,
        run: &StockRun,
        items: &[StockItem],
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO stock_sync_runs (run_id, at, state, full_push, skus_read, skus_changed, skus_sent, \
                 above_zero, drops_to_zero, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&run.run_id)
            .bind(ms(run.at))
            .bind(run.state.as_str())
            .bind(i64::from(run.full_push))
            .bind(run.skus_read)
            .bind(run.skus_changed)
            .bind(run.skus_sent)
            .bind(run.above_zero)
            .bind(run.drops_to_zero)
            .bind(&run.note)
            .execute(&mut *tx)
            .await?;
            for i in items {
                let sent_wh = wh_to(&i.warehouses);
                sqlx::query(
                    "INSERT INTO stock_sync_items (run_id, dsco_sku, lingxing_sku, read_wh, sent_wh, qty, previous_qty, \
                     sent, request_id, outcome, message, at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&i.run_id)
                .bind(&i.dsco_sku)
                .bind(&i.lingxing_sku)
                .bind(wh_to(&i.read))
                .bind(&sent_wh)
                .bind(i.qty)
                .bind(i.previous_qty)
                .bind(i64::from(i.sent))
                .bind(i.request_id.as_deref())
                .bind(i.outcome.as_str())
                .bind(&i.message)
                .bind(ms(i.at))
                .bind(ms(i.updated_at))
                .execute(&mut *tx)
                .await?;
                if i.sent && i.outcome != StockOutcome::SendFailed {
                    sqlx::query(
                        "INSERT INTO stock_state (dsco_sku, sent_qty, sent_wh, sent_request_id, sent_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dsco_sku) DO UPDATE SET \
                         sent_qty = excluded.sent_qty, sent_wh = excluded.sent_wh, \
                         sent_request_id = excluded.sent_request_id, sent_at = excluded.sent_at",
                    )
                    .bind(&i.dsco_sku)
                    .bind(i.qty)
                    .bind(&sent_wh)
                    .bind(i.request_id.as_deref())
                    .bind(ms(i.at))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        });
        Ok(())
    }

    async fn pending_stock_requests(&self) -> Result<Vec<String>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT DISTINCT request_id FROM stock_sync_items WHERE outcome = 'pending' AND request_id IS NOT NULL \
                 ORDER BY request_id",
            )
            .fetch_all(p)
            .await?;
            rows.iter().map(|r| r.s("request_id")).collect()
        })
    }

    async fn settle_stock_items(
        &self,
        request_id: &str,
        outcomes: &[StockSettle],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            // One read of the request's pending items instead of one per outcome.
            let rows = sqlx::query(
                "SELECT run_id, dsco_sku, sent_wh, qty FROM stock_sync_items WHERE request_id = $1 AND outcome = 'pending'",
            )
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut pending: BTreeMap<String, (String, String, i64)> = BTreeMap::new();
            for r in rows {
                pending.insert(r.s("dsco_sku")?, (r.s("run_id")?, r.s("sent_wh")?, r.i64("qty")?));
            }
            for o in outcomes {
                let Some((run_id, sent_wh, qty)) = pending.get(&o.dsco_sku) else { continue };
                sqlx::query(
                    // By primary key: with an index on `outcome` too, SQLite's planner may
                    // otherwise scan every pending item per update.
                    "UPDATE stock_sync_items SET outcome = $1, message = $2, updated_at = $3 \
                     WHERE run_id = $4 AND dsco_sku = $5",
                )
                .bind(o.outcome.as_str())
                .bind(&o.message)
                .bind(ms(now))
                .bind(run_id)
                .bind(&o.dsco_sku)
                .execute(&mut *tx)
                .await?;
                if o.outcome.settles() {
                    sqlx::query(
                        "INSERT INTO stock_state (dsco_sku, confirmed_qty, confirmed_wh, confirmed_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (dsco_sku) DO UPDATE SET confirmed_qty = excluded.confirmed_qty, \
                         confirmed_wh = excluded.confirmed_wh, confirmed_at = excluded.confirmed_at",
                    )
                    .bind(&o.dsco_sku)
                    .bind(*qty)
                    .bind(sent_wh)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
                }
                // The SKU's pending value is settled (either way) when it came from this request.
                sqlx::query(
                    "UPDATE stock_state SET sent_qty = NULL, sent_wh = NULL, sent_request_id = NULL, sent_at = NULL \
                     WHERE dsco_sku = $1 AND sent_request_id = $2",
                )
                .bind(&o.dsco_sku)
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn stock_runs(&self, held_only: bool, limit: u32) -> Result<Vec<StockRun>> {
        let sql = if held_only {
            "SELECT * FROM stock_sync_runs WHERE state = 'held' ORDER BY at DESC, run_id DESC LIMIT $1"
        } else {
            "SELECT * FROM stock_sync_runs ORDER BY at DESC, run_id DESC LIMIT $1"
        };
        with_pool!(self, p => {
            let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let state = r.s("state")?;
                    Ok(StockRun {
                        run_id: r.s("run_id")?,
                        at: at("stock_sync_runs", r.i64("at")?)?,
                        state: StockRunState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                            table: "stock_sync_runs",
                            detail: format!("state {state}"),
                        })?,
                        full_push: r.i64("full_push")? != 0,
                        skus_read: r.i64("skus_read")?,
                        skus_changed: r.i64("skus_changed")?,
                        skus_sent: r.i64("skus_sent")?,
                        above_zero: r.i64("above_zero")?,
                        drops_to_zero: r.i64("drops_to_zero")?,
                        note: r.s("note")?,
                        released_by: r.os("released_by")?,
                        released_at: oat("stock_sync_runs", r.oi64("released_at")?)?,
                        release_reason: r.os("release_reason")?,
                    })
                })
                .collect()
        })
    }

    async fn release_stock_runs(
        &self,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        if reason.trim().is_empty() {
            return Err(StoreError::NotAllowed(
                "releasing a held stock run needs a reason".into(),
            ));
        }
        let mut ids = Vec::new();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let rows = sqlx::query("SELECT run_id FROM stock_sync_runs WHERE state = 'held' ORDER BY at")
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                ids.push(r.s("run_id")?);
            }
            if !ids.is_empty() {
                sqlx::query(
                    "UPDATE stock_sync_runs SET state = 'released', released_by = $1, released_at = $2, \
                     release_reason = $3 WHERE state = 'held'",
                )
                .bind(actor)
                .bind(ms(now))
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                let detail = serde_json::json!({ "runs": ids }).to_string();
                audit_in!(tx, now, actor, "stock.release", ids.join(","), reason, detail);
            }
            tx.commit().await?;
        });
        Ok(ids)
    }

    async fn take_stock_release(&self, fence: &Fence) -> Result<Option<String>> {
        let mut taken = None;
        fenced!(self, fence, tx => {
            let row = sqlx::query(
                "SELECT run_id FROM stock_sync_runs WHERE state = 'released' AND release_used = 0 ORDER BY at DESC LIMIT 1",
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                taken = Some(r.s("run_id")?);
                sqlx::query("UPDATE stock_sync_runs SET release_used = 1 WHERE state = 'released' AND release_used = 0")
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(taken)
    }

    async fn stock_items_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<StockItem>> {
        self.stock_item_page(None, since, None, limit).await
    }

    // --- pull_sku_pair, run details -------------------------------------------------------------
    async fn record_sku_conflicts(&self, conflicts: &[SkuConflict], fence: &Fence) -> Result<()> {
        fenced!(self, fence, tx => {
            for c in conflicts {
                sqlx::query(
                    "INSERT INTO sku_pair_conflicts (run_id, at, kind, store_id, msku, sku, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.run_id)
                .bind(ms(c.at))
                .bind(c.kind.as_str())
                .bind(&c.store_id)
                .bind(&c.msku)
                .bind(&c.sku)
                .bind(&c.detail)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn sku_conflicts(&self, run_id: &str) -> Result<Vec<SkuConflict>> {
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM sku_pair_conflicts WHERE run_id = $1 ORDER BY id")
                .bind(run_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let kind = r.s("kind")?;
                    Ok(SkuConflict {
                        run_id: r.s("run_id")?,
                        at: at("sku_pair_conflicts", r.i64("at")?)?,
                        kind: SkuConflictKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                            table: "sku_pair_conflicts",
                            detail: format!("kind {kind}"),
                        })?,
                        store_id: r.s("store_id")?,
                        msku: r.s("msku")?,
                        sku: r.s("sku")?,
                        detail: r.s("detail")?,
                    })
                })
                .collect()
        })
    }

    // --- the predecessor's stock-sync log --------------------------------------------------------
    async fn import_legacy_stock(
        &self,
        rows: &[LegacyStockRow],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(fenced!(self, fence, tx => {
            let mut added = 0;
            for r in rows {
                added += sqlx::query(
                    "INSERT INTO legacy_stock_log (row_key, sync_time, dsco_warehouse_id, dsco_warehouse_sku, \
                     dsco_warehouse_num, lingxing_warehouse_id, lingxing_warehouse_sku, lingxing_warehouse_num, \
                     diff, status, reason, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (row_key) DO NOTHING",
                )
                .bind(r.key())
                .bind(r.sync_time.map(|s| s.saturating_mul(1000)))
                .bind(&r.dsco_warehouse_id)
                .bind(&r.dsco_warehouse_sku)
                .bind(r.dsco_warehouse_num)
                .bind(&r.lingxing_warehouse_id)
                .bind(&r.lingxing_warehouse_sku)
                .bind(r.lingxing_warehouse_num)
                .bind(r.diff)
                .bind(r.status)
                .bind(&r.reason)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            added
        }))
    }

    async fn legacy_stock_known(&self, rows: &[LegacyStockRow]) -> Result<u64> {
        let mut known = 0u64;
        for chunk in rows.chunks(CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT COUNT(*) FROM legacy_stock_log WHERE row_key IN ({})",
                marks.join(", ")
            );
            with_pool!(self, p => {
                let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.clone()));
                for r in chunk {
                    q = q.bind(r.key());
                }
                known += u64::try_from(q.fetch_one(p).await?).unwrap_or(0);
            });
        }
        Ok(known)
    }
}
