//! The predecessor's (the Go service's) PostgreSQL, read by `import legacy`: its runtime config,
//! its orders (`dsco_order_sync`, a page at a time by PO number: bounded memory, and a rerun
//! after a crash reads the same pages in the same order), and its stock-sync log
//! (`dsco_warehouse_sync`, a page at a time by row position). Every column is read as text and
//! parsed here, so a bad value is a bad row for the report, never a failed read.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{Result, StoreError};

/// A connection to the predecessor's database (read only: nothing here writes).
pub struct LegacySource {
    pool: PgPool,
}

/// One `dsco_order_sync` row, every column as stored (`None`: NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyOrderRow {
    pub po_number: Option<String>,
    pub dsco_status: Option<String>,
    /// `status` as text (the schema says smallint 1–6; anything else is reported).
    pub status: Option<String>,
    /// The payload as JSON text.
    pub payload: Option<String>,
    pub shipped_tracking_no: Option<String>,
    pub dsco_invoice_id: Option<String>,
}

/// One `dsco_warehouse_sync` row (numbers that do not read as integers are kept as `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyStockRow {
    /// UTC Unix seconds, as the predecessor kept it.
    pub sync_time: Option<i64>,
    pub dsco_warehouse_id: Option<String>,
    pub dsco_warehouse_sku: Option<String>,
    pub dsco_warehouse_num: Option<i64>,
    pub lingxing_warehouse_id: Option<String>,
    pub lingxing_warehouse_sku: Option<String>,
    pub lingxing_warehouse_num: Option<i64>,
    pub diff: Option<i64>,
    pub status: Option<i64>,
    pub reason: Option<String>,
}

impl LegacyStockRow {
    /// What identifies the row on a second import: a 64-bit FNV-1a hash of all its columns.
    pub fn key(&self) -> String {
        let text = format!("{self:?}");
        let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("{h:016x}")
    }
}

/// Where the next page of the stock log starts (a row position, `ctid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLogCursor(String);

impl Default for StockLogCursor {
    fn default() -> Self {
        StockLogCursor("(0,0)".to_owned())
    }
}

const TABLES: [&str; 3] = ["runtime_config", "dsco_order_sync", "dsco_warehouse_sync"];

fn int(s: Option<String>) -> Option<i64> {
    let s = s?;
    let t = s.trim();
    t.parse::<i64>()
        .ok()
        .or_else(|| t.parse::<f64>().ok().map(|f| f.round() as i64))
}

impl LegacySource {
    /// Connects to the predecessor's database at `url` and checks its three tables are there
    /// (an error names the one missing).
    pub async fn connect(url: &str) -> Result<LegacySource> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::BadUrl(crate::redact_url(url)));
        }
        let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
        for t in TABLES {
            let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(t)
                .fetch_one(&pool)
                .await?;
            if found.is_none() {
                return Err(StoreError::NotAllowed(format!(
                    "the database at {} has no table `{t}`: is it the Go service's database?",
                    crate::redact_url(url)
                )));
            }
        }
        Ok(LegacySource { pool })
    }

    /// The `config` of the `dsco_lingxing` runtime_config row (else the first row), as JSON text.
    pub async fn runtime_config(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT config::text FROM runtime_config ORDER BY (domain = 'dsco_lingxing') DESC, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Rows per `status` value as text (`None`: NULL), for the report's "before".
    pub async fn count_by_status(&self) -> Result<Vec<(Option<String>, i64)>> {
        let rows = sqlx::query(
            "SELECT status::text AS s, COUNT(*) AS n FROM dsco_order_sync GROUP BY status::text ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("s")?, r.try_get("n")?)))
            .collect()
    }

    /// Up to `limit` orders with a PO number after `after`, by PO number.
    pub async fn order_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<LegacyOrderRow>> {
        let rows = sqlx::query(
            "SELECT po_number, dsco_status, status::text AS status, payload::text AS payload, \
             shipped_tracking_no, dsco_invoice_id FROM dsco_order_sync \
             WHERE po_number IS NOT NULL AND ($1::text IS NULL OR po_number > $1) \
             ORDER BY po_number LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_row).collect()
    }

    /// The orders without a PO number (NULL in a unique column: each is its own row).
    pub async fn orders_without_po(&self, limit: u32) -> Result<Vec<LegacyOrderRow>> {
        let rows = sqlx::query(
            "SELECT po_number, dsco_status, status::text AS status, payload::text AS payload, \
             shipped_tracking_no, dsco_invoice_id FROM dsco_order_sync \
             WHERE po_number IS NULL ORDER BY ctid LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_row).collect()
    }

    /// Up to `limit` rows of the stock-sync log after `cursor`, and where the next page starts.
    pub async fn stock_page(
        &self,
        cursor: &StockLogCursor,
        limit: u32,
    ) -> Result<(Vec<LegacyStockRow>, StockLogCursor)> {
        let rows = sqlx::query(
            "SELECT ctid::text AS rid, sync_time::text AS sync_time, dsco_warehouse_id::text AS dwi, \
             dsco_warehouse_sku::text AS dws, dsco_warehouse_num::text AS dwn, \
             lingxing_warehouse_id::text AS lwi, lingxing_warehouse_sku::text AS lws, \
             lingxing_warehouse_num::text AS lwn, diff::text AS diff, status::text AS status, \
             reason::text AS reason FROM dsco_warehouse_sync WHERE ctid > $1::tid ORDER BY ctid LIMIT $2",
        )
        .bind(&cursor.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut next = cursor.clone();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            next = StockLogCursor(r.try_get("rid")?);
            out.push(LegacyStockRow {
                sync_time: int(r.try_get("sync_time")?),
                dsco_warehouse_id: r.try_get("dwi")?,
                dsco_warehouse_sku: r.try_get("dws")?,
                dsco_warehouse_num: int(r.try_get("dwn")?),
                lingxing_warehouse_id: r.try_get("lwi")?,
                lingxing_warehouse_sku: r.try_get("lws")?,
                lingxing_warehouse_num: int(r.try_get("lwn")?),
                diff: int(r.try_get("diff")?),
                status: int(r.try_get("status")?),
                reason: r.try_get("reason")?,
            });
        }
        Ok((out, next))
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

fn order_row(r: &sqlx::postgres::PgRow) -> Result<LegacyOrderRow> {
    Ok(LegacyOrderRow {
        po_number: r.try_get("po_number")?,
        dsco_status: r.try_get("dsco_status")?,
        status: r.try_get("status")?,
        payload: r.try_get("payload")?,
        shipped_tracking_no: r.try_get("shipped_tracking_no")?,
        dsco_invoice_id: r.try_get("dsco_invoice_id")?,
    })
}
