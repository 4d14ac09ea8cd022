//! The console's reads ([`ConsoleRead`]): the summaries and lists the operator pages show. Read
//! only; the same SQL on both backends (`with_pool!`). Kept in one group so the `Store` trait can
//! be split into role traits without touching it.

use super::*;

/// Orders at one stage, and when the oldest of them entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSummary {
    pub stage: Stage,
    pub count: i64,
    pub oldest_entered_at: Option<DateTime<Utc>>,
}

/// One cause of needs-attention orders: a reason code and its subject (the key, field or
/// far-side message), with how many orders it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CauseRow {
    pub code: String,
    pub subject: String,
    pub count: i64,
    pub oldest_entered_at: DateTime<Utc>,
}

/// The order list's filter; every field narrows (all `None`: every order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub stage: Option<Stage>,
    pub reason_kind: Option<ReasonKind>,
    pub reason_code: Option<String>,
    /// The reason's subject, exactly (a cause row of the overview).
    pub subject: Option<String>,
    pub retailer: Option<String>,
    pub warehouse: Option<String>,
    /// One DSCO SKU, exactly, on any line.
    pub sku: Option<String>,
    /// One tracking number, exactly.
    pub tracking: Option<String>,
    /// One LingXing order number, exactly.
    pub lingxing_order_no: Option<String>,
    /// Part of the PO number.
    pub po_contains: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// `Some(true)`: only the orders an operator ignored; `Some(false)`: none of them.
    pub ignored: Option<bool>,
}

/// Where a page of the order list ends: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    pub stage_entered_at: DateTime<Utc>,
    pub po: String,
}

/// One line of the order list (no payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub po: PoNumber,
    pub stage: Stage,
    pub retailer_id: Option<String>,
    pub warehouse_code: Option<String>,
    pub service_level: Option<String>,
    pub dsco_status: Option<String>,
    pub skus: String,
    pub tracking: Vec<String>,
    pub lingxing_order_nos: Vec<String>,
    pub invoice_id: Option<String>,
    pub reason: Option<OrderReason>,
    pub stage_entered_at: DateTime<Utc>,
    pub dsco_created_at: Option<DateTime<Utc>>,
    pub dsco_updated_at: Option<DateTime<Utc>>,
    /// When an operator ignored it (out of needs attention).
    pub ignored_at: Option<DateTime<Utc>>,
}

impl OrderRow {
    pub fn cursor(&self) -> OrderCursor {
        OrderCursor {
            stage_entered_at: self.stage_entered_at,
            po: self.po.as_str().to_owned(),
        }
    }
}

/// Where a page of stock items ends: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockItemCursor {
    pub at: DateTime<Utc>,
    pub run_id: String,
    pub dsco_sku: String,
}

impl StockItem {
    pub fn cursor(&self) -> StockItemCursor {
        StockItemCursor {
            at: self.at,
            run_id: self.run_id.clone(),
            dsco_sku: self.dsco_sku.clone(),
        }
    }
}

/// The reads of the operator console.
#[async_trait]
pub trait ConsoleRead: Send + Sync {
    /// Every stage with its count and oldest entry (stages without orders: count 0).
    async fn stage_summary(&self) -> Result<Vec<StageSummary>>;
    /// Orders at stages 1–4 per kind of their current reason.
    async fn reason_kind_counts(&self) -> Result<BTreeMap<ReasonKind, i64>>;
    /// Needs-attention orders grouped by (reason code, subject), most orders first.
    async fn attention_causes(&self, limit: u32) -> Result<Vec<CauseRow>>;
    /// Orders an operator ignored (out of the two reads above), at stages 1–4.
    async fn ignored_count(&self) -> Result<i64>;
    /// One page of the filtered order list, by age (oldest first, or newest with `newest_first`),
    /// starting after `after`.
    async fn order_page(
        &self,
        filter: &OrderFilter,
        newest_first: bool,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<OrderRow>>;
    /// The DSCO async requests that carried any of these intents, most recent first.
    async fn dsco_requests_for(&self, intents: &[(IntentKind, String)])
    -> Result<Vec<DscoRequest>>;
    /// What one run did to orders: its events, oldest first.
    async fn run_events(&self, run_id: &str, limit: u32) -> Result<Vec<OrderEvent>>;
    /// One page of the stock sync items recorded at or after `since` (of one run with `run_id`),
    /// by (time, run, DSCO SKU), starting after `after`: the stock page and its CSV read a page at
    /// a time.
    async fn stock_item_page(
        &self,
        run_id: Option<&str>,
        since: DateTime<Utc>,
        after: Option<&StockItemCursor>,
        limit: u32,
    ) -> Result<Vec<StockItem>>;
}

/// `text` for use inside a `LIKE … ESCAPE '\'` pattern, matching itself only.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The filter's conditions, `$1` … `$14` and `$18`, then the keyset bounds `$15`, `$16` and the
/// limit `$17`.
macro_rules! order_filter_sql {
    ($cmp:literal, $dir:literal) => {
        concat!(
            "SELECT po, stage, retailer_id, warehouse_code, service_level, dsco_status, skus, tracking, \
               lingxing_order_nos, invoice_id, reason_code, reason_kind, reason_detail, stage_entered_at, \
               dsco_created_at, dsco_updated_at, ignored_at FROM orders WHERE \
               ($1 IS NULL OR stage = $1) \
               AND ($2 IS NULL OR reason_kind = $2) \
               AND ($3 IS NULL OR reason_code = $3) \
               AND ($4 IS NULL OR reason_detail = $4) \
               AND ($5 IS NULL OR retailer_id = $5) \
               AND ($6 IS NULL OR warehouse_code = $6) \
               AND ($7 IS NULL OR ',' || skus LIKE $7 ESCAPE '\\') \
               AND ($8 IS NULL OR ',' || tracking || ',' LIKE $8 ESCAPE '\\') \
               AND ($9 IS NULL OR ',' || lingxing_order_nos || ',' LIKE $9 ESCAPE '\\') \
               AND ($10 IS NULL OR po LIKE $10 ESCAPE '\\') \
               AND ($11 IS NULL OR dsco_created_at >= $11) \
               AND ($12 IS NULL OR dsco_created_at < $12) \
               AND ($13 IS NULL OR dsco_updated_at >= $13) \
               AND ($14 IS NULL OR dsco_updated_at < $14) \
               AND ($18 IS NULL OR ($18 = 1 AND ignored_at IS NOT NULL) OR ($18 = 0 AND ignored_at IS NULL)) \
               AND ($15 IS NULL OR stage_entered_at ", $cmp, " $15 OR (stage_entered_at = $15 AND po ", $cmp, " $16)) \
             ORDER BY stage_entered_at ", $dir, ", po ", $dir, " LIMIT $17"
        )
    };
}

const ORDERS_OLDEST_FIRST: &str = order_filter_sql!(">", "ASC");
const ORDERS_NEWEST_FIRST: &str = order_filter_sql!("<", "DESC");

fn order_row_from(r: &impl Cols) -> Result<OrderRow> {
    const T: &str = "orders";
    Ok(OrderRow {
        po: po_in(r, T)?,
        stage: stage_of(T, r.i64("stage")?)?,
        retailer_id: r.os("retailer_id")?,
        warehouse_code: r.os("warehouse_code")?,
        service_level: r.os("service_level")?,
        dsco_status: r.os("dsco_status")?,
        skus: r.s("skus")?,
        tracking: split_list(&r.s("tracking")?),
        lingxing_order_nos: split_list(&r.s("lingxing_order_nos")?),
        invoice_id: r.os("invoice_id")?,
        reason: reason_in(r)?,
        stage_entered_at: at(T, r.i64("stage_entered_at")?)?,
        dsco_created_at: oat(T, r.oi64("dsco_created_at")?)?,
        dsco_updated_at: oat(T, r.oi64("dsco_updated_at")?)?,
        ignored_at: oat(T, r.oi64("ignored_at")?)?,
    })
}

fn stock_item_from(r: &impl Cols) -> Result<StockItem> {
    let outcome = r.s("outcome")?;
    Ok(StockItem {
        run_id: r.s("run_id")?,
        dsco_sku: r.s("dsco_sku")?,
        lingxing_sku: r.s("lingxing_sku")?,
        read: wh_from("stock_sync_items", &r.s("read_wh")?)?,
        warehouses: wh_from("stock_sync_items", &r.s("sent_wh")?)?,
        qty: r.i64("qty")?,
        previous_qty: r.oi64("previous_qty")?,
        sent: r.i64("sent")? != 0,
        request_id: r.os("request_id")?,
        outcome: StockOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
            table: "stock_sync_items",
            detail: format!("outcome {outcome}"),
        })?,
        message: r.s("message")?,
        at: at("stock_sync_items", r.i64("at")?)?,
        updated_at: at("stock_sync_items", r.i64("updated_at")?)?,
    })
}

#[async_trait]
impl ConsoleRead for SqlStore {
    async fn stage_summary(&self) -> Result<Vec<StageSummary>> {
        let rows = with_pool!(self, p => {
            sqlx::query("SELECT stage, COUNT(*) AS n, MIN(stage_entered_at) AS oldest FROM orders GROUP BY stage")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok((r.i64("stage")?, r.i64("n")?, r.oi64("oldest")?)))
                .collect::<Result<Vec<_>>>()?
        });
        let mut out: Vec<StageSummary> = Stage::ALL
            .into_iter()
            .map(|stage| StageSummary {
                stage,
                count: 0,
                oldest_entered_at: None,
            })
            .collect();
        for (stage, n, oldest) in rows {
            let stage = stage_of("orders", stage)?;
            if let Some(s) = out.iter_mut().find(|s| s.stage == stage) {
                s.count = n;
                s.oldest_entered_at = oat("orders", oldest)?;
            }
        }
        Ok(out)
    }

    async fn reason_kind_counts(&self) -> Result<BTreeMap<ReasonKind, i64>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT reason_kind, COUNT(*) AS n FROM orders WHERE stage <= 4 AND reason_kind IS NOT NULL AND ignored_at IS NULL GROUP BY reason_kind",
            )
            .fetch_all(p)
            .await?;
            let mut out = BTreeMap::new();
            for r in &rows {
                out.insert(parse("orders", &r.s("reason_kind")?)?, r.i64("n")?);
            }
            Ok(out)
        })
    }

    async fn attention_causes(&self, limit: u32) -> Result<Vec<CauseRow>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT reason_code, COALESCE(reason_detail, '') AS subject, COUNT(*) AS n, MIN(stage_entered_at) AS oldest \
                 FROM orders WHERE reason_kind = 'needs_attention' AND reason_code IS NOT NULL AND ignored_at IS NULL \
                 GROUP BY reason_code, COALESCE(reason_detail, '') ORDER BY n DESC, reason_code, subject LIMIT $1",
            )
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(CauseRow {
                        code: r.s("reason_code")?,
                        subject: r.s("subject")?,
                        count: r.i64("n")?,
                        oldest_entered_at: at("orders", r.i64("oldest")?)?,
                    })
                })
                .collect()
        })
    }

    async fn ignored_count(&self) -> Result<i64> {
        with_pool!(self, p => {
            let r = sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE stage <= 4 AND ignored_at IS NOT NULL")
                .fetch_one(p)
                .await?;
            r.i64("n")
        })
    }

    async fn order_page(
        &self,
        f: &OrderFilter,
        newest_first: bool,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<OrderRow>> {
        let sql = if newest_first {
            ORDERS_NEWEST_FIRST
        } else {
            ORDERS_OLDEST_FIRST
        };
        let sku = f.sku.as_deref().map(|s| format!("%,{}(%", like_escape(s)));
        let tracking = f
            .tracking
            .as_deref()
            .map(|s| format!("%,{},%", like_escape(s)));
        let lx = f
            .lingxing_order_no
            .as_deref()
            .map(|s| format!("%,{},%", like_escape(s)));
        let po = f
            .po_contains
            .as_deref()
            .map(|s| format!("%{}%", like_escape(s)));
        with_pool!(self, p => {
            let rows = sqlx::query(sql)
                .bind(f.stage.map(|s| s.number()))
                .bind(f.reason_kind.map(|k| k.as_str()))
                .bind(f.reason_code.as_deref())
                .bind(f.subject.as_deref())
                .bind(f.retailer.as_deref())
                .bind(f.warehouse.as_deref())
                .bind(sku.as_deref())
                .bind(tracking.as_deref())
                .bind(lx.as_deref())
                .bind(po.as_deref())
                .bind(f.created_from.map(ms))
                .bind(f.created_to.map(ms))
                .bind(f.updated_from.map(ms))
                .bind(f.updated_to.map(ms))
                .bind(after.map(|c| ms(c.stage_entered_at)))
                .bind(after.map(|c| c.po.as_str()))
                .bind(limit as i64)
                .bind(f.ignored.map(i64::from))
                .fetch_all(p)
                .await?;
            rows.iter().map(order_row_from).collect()
        })
    }

    async fn dsco_requests_for(
        &self,
        intents: &[(IntentKind, String)],
    ) -> Result<Vec<DscoRequest>> {
        const T: &str = "dsco_requests";
        let mut out: Vec<DscoRequest> = Vec::new();
        for (kind, key) in intents {
            // `keys` is a JSON array of strings: look for the key as a JSON string.
            let quoted = serde_json::to_string(key).expect("a string serializes");
            let pattern = format!("%{}%", like_escape(&quoted));
            let rows = with_pool!(self, p => {
                sqlx::query(
                    "SELECT request_id, keys, state, result, run_id, submitted_at, checked_at FROM dsco_requests \
                     WHERE kind = $1 AND keys LIKE $2 ESCAPE '\\' ORDER BY submitted_at DESC",
                )
                .bind(kind.as_str())
                .bind(pattern)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    let keys: Vec<String> = serde_json::from_str(&r.s("keys")?)
                        .map_err(|e| StoreError::Corrupt { table: T, detail: e.to_string() })?;
                    Ok(DscoRequest {
                        request_id: r.s("request_id")?,
                        kind: *kind,
                        keys,
                        state: if r.s("state")? == "done" {
                            DscoRequestState::Done
                        } else {
                            DscoRequestState::Pending
                        },
                        result: r.s("result")?,
                        run_id: r.os("run_id")?,
                        submitted_at: at(T, r.i64("submitted_at")?)?,
                        checked_at: oat(T, r.oi64("checked_at")?)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
            });
            for r in rows {
                // A LIKE on JSON text can match a longer key containing this one's quotes.
                if r.keys.iter().any(|k| k == key)
                    && !out.iter().any(|o| o.request_id == r.request_id)
                {
                    out.push(r);
                }
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.submitted_at));
        Ok(out)
    }

    async fn run_events(&self, run_id: &str, limit: u32) -> Result<Vec<OrderEvent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", event_cols!(), " FROM order_events WHERE run_id = $1 ORDER BY id LIMIT $2"
            ))
            .bind(run_id)
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(event_from).collect()
        })
    }

    async fn stock_item_page(
        &self,
        run_id: Option<&str>,
        since: DateTime<Utc>,
        after: Option<&StockItemCursor>,
        limit: u32,
    ) -> Result<Vec<StockItem>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM stock_sync_items WHERE at >= $1 AND ($2 IS NULL OR run_id = $2) \
                   AND ($3 IS NULL OR at > $3 OR (at = $3 AND (run_id > $4 OR (run_id = $4 AND dsco_sku > $5)))) \
                 ORDER BY at, run_id, dsco_sku LIMIT $6",
            )
            .bind(ms(since))
            .bind(run_id)
            .bind(after.map(|c| ms(c.at)))
            .bind(after.map(|c| c.run_id.as_str()))
            .bind(after.map(|c| c.dsco_sku.as_str()))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter().map(stock_item_from).collect()
        })
    }
}
