//! `pull_sku_pair`: LingXing's pair list (`getPairList`, per store of `mapping.shop`) → the
//! pair-sourced entries of `mapping.sku`, replaced in one compare-and-swap on the mapping
//! version read before the pairs were. Any conflict in the list, or a store that had pairs and
//! now lists none, changes nothing. Manual entries are never touched and win; a clash between a
//! manual entry and a pair is reported.
//!
//! Audit files per run under `<exports>/sku-mapping-pull/YYYY-MM-DD/`: `old_<run>.json`,
//! `new_<run>.json`, `diff_<run>.json` and `meta_<run>.json`, each written atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::JobName;
use lingxing::{Pair, PairQuery};
use serde_json::{Value, json};
use store::{SkuConflict, SkuConflictKind, SkuSource, StoreError};

use super::StockClients;
use crate::{Job, JobError, RunCtx};

/// Cursor holding the stores that listed pairs on the last applied run (JSON array).
const STORES_CURSOR: &str = "pull_sku_pair.stores_with_pairs";

pub struct PullSkuPair {
    pub clients: Arc<StockClients>,
    pub exports_dir: PathBuf,
}

#[async_trait]
impl Job for PullSkuPair {
    fn name(&self) -> JobName {
        JobName::PullSkuPair
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        let stores: BTreeSet<String> = ctx.config.mapping.store_ids().into_iter().collect();
        if stores.is_empty() {
            return Err(JobError::Failed(
                "mapping.shop is empty: there is no store to read pairs from".into(),
            ));
        }
        // The version the compare-and-swap will expect: read before the pairs, so an operator's
        // edit made while the pull runs makes the swap fail instead of being overwritten.
        let before = ctx.store.sku_map().await?;
        let had_pairs: BTreeSet<String> = ctx
            .store
            .cursor(STORES_CURSOR)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();

        let mut listed: BTreeMap<String, Vec<Pair>> = BTreeMap::new();
        for store in &stores {
            let rows = self
                .clients
                .lingxing
                .pairs_all(&PairQuery {
                    store_ids: vec![store.clone()],
                    ..Default::default()
                })
                .await
                .map_err(|e| JobError::Failed(format!("reading pairs of store {store}: {e}")))?;
            listed.insert(store.clone(), rows);
        }
        let now = ctx.clock.now();
        let pairs_read: usize = listed.values().map(Vec::len).sum();
        let (new, mut conflicts) = detect(&listed, &had_pairs);
        let mk = |c: Found| SkuConflict {
            run_id: ctx.run_id.clone(),
            at: now,
            kind: c.0,
            store_id: c.1,
            msku: c.2,
            sku: c.3,
            detail: c.4,
        };
        if !conflicts.is_empty() {
            let records: Vec<SkuConflict> = conflicts.drain(..).map(mk).collect();
            ctx.store.record_sku_conflicts(&records, &ctx.fence).await?;
            let kinds: BTreeSet<&str> = records.iter().map(|c| c.kind.as_str()).collect();
            let detail = json!({
                "outcome": "conflicts",
                "pairs_read": pairs_read,
                "conflicts": records.len(),
                "kinds": kinds,
                "mapping_version": before.version,
            });
            ctx.store
                .set_run_detail(&ctx.run_id, JobName::PullSkuPair, &detail, now, &ctx.fence)
                .await?;
            ctx.count(|c| c.failed += records.len() as u64);
            let msg = format!(
                "{} conflict(s) in LingXing's pair list ({}): mapping.sku unchanged; see `dsco-lingxing sku conflicts`",
                records.len(),
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            );
            tracing::warn!(alert = true, job = "pull_sku_pair", "{msg}");
            return Err(JobError::Failed(msg));
        }

        let old: BTreeMap<String, String> = before
            .entries
            .iter()
            .filter(|e| e.source == SkuSource::Pair)
            .map(|e| (e.dsco_sku.clone(), e.lingxing_sku.clone()))
            .collect();
        let manual: BTreeMap<String, String> = before
            .entries
            .iter()
            .filter(|e| e.source == SkuSource::Manual)
            .map(|e| (e.dsco_sku.clone(), e.lingxing_sku.clone()))
            .collect();
        let clashes: Vec<SkuConflict> = new
            .iter()
            .filter_map(|(d, l)| {
                let m = manual.get(d).filter(|m| *m != l)?;
                Some(mk((
                    SkuConflictKind::ManualClash,
                    String::new(),
                    d.clone(),
                    l.clone(),
                    format!("manual entry {d} → {m} wins over the pair {d} → {l}"),
                )))
            })
            .collect();
        if !clashes.is_empty() {
            ctx.store.record_sku_conflicts(&clashes, &ctx.fence).await?;
            tracing::warn!(
                job = "pull_sku_pair",
                clashes = clashes.len(),
                "manual mapping.sku entries differ from LingXing's pairs; the manual ones win"
            );
        }
        let diff = diff(&old, &new);
        let day_dir = self
            .exports_dir
            .join("sku-mapping-pull")
            .join(now.format("%Y-%m-%d").to_string());
        let run = ctx.run_id.clone();
        let files = [
            (format!("old_{run}.json"), json!(old)),
            (format!("new_{run}.json"), json!(new)),
            (format!("diff_{run}.json"), diff.clone()),
        ];
        write_files(&day_dir, &files).await?;

        let unchanged = old == new;
        let (outcome, version_after, error) = if unchanged {
            ("unchanged", Some(before.version), None)
        } else if !ctx.writes_allowed() {
            ("dry_run", None, None)
        } else {
            match ctx
                .store
                .replace_sku_entries(
                    before.version,
                    SkuSource::Pair,
                    &new,
                    "pull_sku_pair",
                    &format!("LingXing pairs, run {run}"),
                    now,
                    Some(&ctx.fence),
                )
                .await
            {
                Ok(v) => ("applied", Some(v), None),
                Err(StoreError::VersionConflict {
                    expected, actual, ..
                }) => (
                    "version_conflict",
                    None,
                    Some(format!(
                        "mapping.sku changed while the pull ran (version {expected} → {actual}): nothing written; the next run tries again"
                    )),
                ),
                Err(e) => return Err(e.into()),
            }
        };
        let meta = meta(
            ctx,
            now,
            outcome,
            before.version,
            version_after,
            pairs_read,
            &diff,
            clashes.len(),
            error.as_deref(),
        );
        write_files(&day_dir, &[(format!("meta_{run}.json"), meta.clone())]).await?;
        ctx.store
            .set_run_detail(&ctx.run_id, JobName::PullSkuPair, &meta, now, &ctx.fence)
            .await?;
        if let Some(e) = error {
            ctx.count(|c| c.failed += 1);
            return Err(JobError::Failed(e));
        }
        if outcome != "dry_run" {
            let with_pairs: Vec<&String> = listed
                .iter()
                .filter(|(_, rows)| !rows.is_empty())
                .map(|(s, _)| s)
                .collect();
            ctx.store
                .set_cursor(
                    STORES_CURSOR,
                    &json!(with_pairs).to_string(),
                    now,
                    &ctx.fence,
                )
                .await?;
        }
        ctx.count(|c| {
            c.processed += pairs_read as u64;
            if outcome == "applied" {
                c.advanced += diff_len(&diff);
            }
        });
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn meta(
    ctx: &RunCtx,
    now: DateTime<Utc>,
    outcome: &str,
    version_before: i64,
    version_after: Option<i64>,
    pairs_read: usize,
    diff: &Value,
    clashes: usize,
    error: Option<&str>,
) -> Value {
    json!({
        "run_id": ctx.run_id,
        "at": now.to_rfc3339(),
        "outcome": outcome,
        "mapping_version_before": version_before,
        "mapping_version_after": version_after,
        "pairs_read": pairs_read,
        "added": diff["added"].as_object().map_or(0, |o| o.len()),
        "deleted": diff["deleted"].as_object().map_or(0, |o| o.len()),
        "changed": diff["changed"].as_object().map_or(0, |o| o.len()),
        "manual_clashes": clashes,
        "error": error,
    })
}

fn diff_len(diff: &Value) -> u64 {
    ["added", "deleted", "changed"]
        .iter()
        .map(|k| diff[*k].as_object().map_or(0, |o| o.len() as u64))
        .sum()
}

/// Added, deleted and changed pair entries (`changed`: DSCO SKU → {old, new}).
fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Value {
    let added: BTreeMap<&String, &String> =
        new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
    let deleted: BTreeMap<&String, &String> =
        old.iter().filter(|(k, _)| !new.contains_key(*k)).collect();
    let changed: BTreeMap<&String, Value> = new
        .iter()
        .filter_map(|(k, v)| {
            let o = old.get(k).filter(|o| *o != v)?;
            Some((k, json!({"old": o, "new": v})))
        })
        .collect();
    json!({"added": added, "deleted": deleted, "changed": changed})
}

/// (kind, store, msku, sku, detail)
type Found = (SkuConflictKind, String, String, String, String);

/// The pair map (MSKU = DSCO SKU → LingXing SKU) and every conflict in the listing.
fn detect(
    listed: &BTreeMap<String, Vec<Pair>>,
    had_pairs: &BTreeSet<String>,
) -> (BTreeMap<String, String>, Vec<Found>) {
    let mut out = Vec::new();
    // msku → sku → stores, over every store.
    let mut global: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for (store, rows) in listed {
        if rows.is_empty() && had_pairs.contains(store) {
            out.push((
                SkuConflictKind::StoreEmptied,
                store.clone(),
                String::new(),
                String::new(),
                format!("store {store} had pairs and now lists none: treated as a failed read"),
            ));
        }
        let mut by_msku: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut by_sku: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for p in rows {
            if p.store_id != *store {
                out.push((
                    SkuConflictKind::StoreMismatch,
                    store.clone(),
                    p.msku.clone(),
                    p.sku.clone(),
                    format!("listed for store {store} but shows store {}", p.store_id),
                ));
                continue;
            }
            let (msku, sku) = (p.msku.trim(), p.sku.trim());
            if msku.is_empty() || sku.is_empty() {
                out.push((
                    SkuConflictKind::Empty,
                    store.clone(),
                    p.msku.clone(),
                    p.sku.clone(),
                    "empty MSKU or SKU".into(),
                ));
                continue;
            }
            by_msku.entry(msku).or_default().insert(sku);
            by_sku.entry(sku).or_default().insert(msku);
            global
                .entry(msku)
                .or_default()
                .entry(sku)
                .or_default()
                .insert(store.as_str());
        }
        for (msku, skus) in by_msku.iter().filter(|(_, s)| s.len() > 1) {
            out.push((
                SkuConflictKind::MskuToManySkus,
                store.clone(),
                (*msku).to_owned(),
                join(skus),
                format!("MSKU {msku} is paired with {} SKUs", skus.len()),
            ));
        }
        for (sku, mskus) in by_sku.iter().filter(|(_, s)| s.len() > 1) {
            out.push((
                SkuConflictKind::SkuToManyMskus,
                store.clone(),
                join(mskus),
                (*sku).to_owned(),
                format!("SKU {sku} is paired with {} MSKUs", mskus.len()),
            ));
        }
    }
    let mut map = BTreeMap::new();
    for (msku, skus) in &global {
        if skus.len() > 1 {
            // Reported per store already when one store alone lists several SKUs.
            let stores: BTreeSet<&str> = skus.values().flatten().copied().collect();
            if stores.len() > 1 {
                let detail = skus
                    .iter()
                    .map(|(s, st)| format!("{s} in {}", join(st)))
                    .collect::<Vec<_>>()
                    .join("; ");
                out.push((
                    SkuConflictKind::AcrossStores,
                    join(&stores),
                    (*msku).to_owned(),
                    join(&skus.keys().copied().collect()),
                    format!("MSKU {msku} has different SKUs across stores: {detail}"),
                ));
            }
        } else if let Some(sku) = skus.keys().next() {
            map.insert((*msku).to_owned(), (*sku).to_owned());
        }
    }
    (map, out)
}

fn join(s: &BTreeSet<&str>) -> String {
    s.iter().copied().collect::<Vec<_>>().join(",")
}

async fn write_files(dir: &Path, files: &[(String, Value)]) -> Result<(), JobError> {
    let dir = dir.to_owned();
    let files = files.to_vec();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        for (name, v) in files {
            let text = serde_json::to_vec_pretty(&v).map_err(std::io::Error::other)?;
            write_atomically(&dir.join(name), &text)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| JobError::Failed(format!("audit file task: {e}")))?
    .map_err(|e| JobError::Failed(format!("writing audit files: {e}")))
}

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and renamed
/// over the target, so a reader sees the old file or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
