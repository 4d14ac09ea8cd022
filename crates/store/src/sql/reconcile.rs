//! [`ReconcileStore`]: reconciliation findings, one open row per (PO, code).
//!
//! The open findings are few (a healthy system has none), so a record reads them all in the
//! write transaction and decides in Rust which to open, refresh or resolve: the same statements
//! on both backends, no list binding.

use std::collections::{BTreeMap, BTreeSet};

use domain::reconcile::{Finding, FindingCode, FindingKind};

use super::*;

const T: &str = "reconcile_findings";

fn finding_from<R: Cols>(r: &R) -> Result<FindingRecord> {
    let code = r.s("code")?;
    Ok(FindingRecord {
        id: r.i64("id")?,
        run_id: r.s("run_id")?,
        po: PoNumber::parse(&r.s("po")?).map_err(|e| StoreError::Corrupt {
            table: T,
            detail: format!("po: {e}"),
        })?,
        code: FindingCode::parse(&code).ok_or_else(|| StoreError::Corrupt {
            table: T,
            detail: format!("unknown finding code `{code}`"),
        })?,
        detail: r.s("detail")?,
        found_at: at(T, r.i64("found_at")?)?,
        seen_at: at(T, r.i64("seen_at")?)?,
        resolved_at: oat(T, r.oi64("resolved_at")?)?,
    })
}

const COLS: &str = "id, run_id, po, kind, code, detail, found_at, seen_at, resolved_at";

#[async_trait]
impl ReconcileStore for SqlStore {
    async fn record_findings(
        &self,
        run_id: &str,
        checked: &[PoNumber],
        found: &[(PoNumber, Finding)],
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let checked: BTreeSet<&str> = checked.iter().map(PoNumber::as_str).collect();
        let mut wanted: BTreeMap<(&str, FindingCode), &str> = BTreeMap::new();
        for (po, f) in found {
            wanted.insert((po.as_str(), f.code), f.detail.as_str());
        }
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let rows = sqlx::query("SELECT id, po, code FROM reconcile_findings WHERE resolved_at IS NULL")
                .fetch_all(&mut *tx)
                .await?;
            let mut open: BTreeMap<(String, String), i64> = BTreeMap::new();
            for r in &rows {
                open.insert((r.s("po")?, r.s("code")?), r.i64("id")?);
            }
            let (mut opened, mut resolved) = (0u64, 0u64);
            for ((po, code), id) in &open {
                let again = FindingCode::parse(code)
                    .and_then(|c| wanted.get(&(po.as_str(), c)));
                match again {
                    Some(detail) => {
                        sqlx::query(
                            "UPDATE reconcile_findings SET run_id = $1, detail = $2, seen_at = $3 WHERE id = $4",
                        )
                        .bind(run_id)
                        .bind(*detail)
                        .bind(ms(now))
                        .bind(*id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    None if checked.contains(po.as_str()) => {
                        sqlx::query("UPDATE reconcile_findings SET resolved_at = $1 WHERE id = $2")
                            .bind(ms(now))
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                        resolved += 1;
                    }
                    None => {}
                }
            }
            for ((po, code), detail) in &wanted {
                if open.contains_key(&((*po).to_owned(), code.as_str().to_owned())) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO reconcile_findings (run_id, po, kind, code, detail, found_at, seen_at, resolved_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, NULL)",
                )
                .bind(run_id)
                .bind(*po)
                .bind(code.kind().as_str())
                .bind(code.as_str())
                .bind(*detail)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
                opened += 1;
            }
            tx.commit().await?;
            Ok((opened, resolved))
        })
    }

    async fn open_findings_of(&self, po: &PoNumber) -> Result<Vec<FindingRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLS} FROM reconcile_findings WHERE po = $1 AND resolved_at IS NULL ORDER BY found_at, id"
            )))
            .bind(po.as_str())
            .fetch_all(p)
            .await?;
            rows.iter().map(finding_from).collect()
        })
    }

    async fn findings(
        &self,
        kind: Option<FindingKind>,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<FindingRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLS} FROM reconcile_findings \
                 WHERE ($1 IS NULL OR kind = $1) AND ($2 = 0 OR resolved_at IS NULL) \
                 ORDER BY CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END, \
                   COALESCE(resolved_at, seen_at) DESC, id DESC LIMIT $3"
            )))
            .bind(kind.map(FindingKind::as_str))
            .bind(i64::from(open_only))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(finding_from).collect()
        })
    }

    async fn open_finding_counts(&self) -> Result<BTreeMap<FindingCode, i64>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT code, COUNT(*) AS n FROM reconcile_findings WHERE resolved_at IS NULL GROUP BY code",
            )
            .fetch_all(p)
            .await?;
            let mut out = BTreeMap::new();
            for r in &rows {
                if let Some(c) = FindingCode::parse(&r.s("code")?) {
                    out.insert(c, r.i64("n")?);
                }
            }
            Ok(out)
        })
    }
}
