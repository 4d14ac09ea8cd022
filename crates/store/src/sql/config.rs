//! [`ConfigStore`]: runtime config, `mapping.sku`, audit log, cursors, token cache.

use super::*;

/// Inside a write transaction: moves `mapping.sku` to the next version if it is still at
/// `expected` (compare-and-swap), else fails with `VersionConflict` naming the current version.
macro_rules! bump_sku_version {
    ($tx:expr, $expected:expr, $now:expr) => {{
        let expected: i64 = $expected;
        let n = sqlx::query("UPDATE sku_map_version SET version = version + 1, updated_at = $1 WHERE id = 1 AND version = $2")
            .bind(ms($now))
            .bind(expected)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if n != 1 {
            let actual = sqlx::query("SELECT version FROM sku_map_version WHERE id = 1")
                .fetch_one(&mut *$tx)
                .await?
                .i64("version")?;
            return Err(StoreError::VersionConflict {
                what: "mapping.sku",
                expected,
                actual,
            });
        }
    }};
}

/// The stored config versions, as `stored_config` reads them.
macro_rules! config_select {
    () => {
        "SELECT version, config, actor, reason, created_at FROM runtime_config"
    };
}

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl ConfigStore for SqlStore {
    async fn runtime_config(&self) -> Result<Option<StoredConfig>> {
        Ok(self.runtime_config_history(1).await?.pop())
    }

    async fn runtime_config_history(&self, limit: u32) -> Result<Vec<StoredConfig>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(config_select!(), " ORDER BY version DESC LIMIT $1"))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(stored_config).collect()
        })
    }

    async fn runtime_config_at(&self, version: i64) -> Result<Option<StoredConfig>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!(config_select!(), " WHERE version = $1"))
                .bind(version)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(stored_config).transpose()
        })
    }

    async fn runtime_config_version(&self) -> Result<Option<i64>> {
        with_pool!(self, p => Ok(sqlx::query("SELECT MAX(version) AS v FROM runtime_config")
            .fetch_one(p)
            .await?
            .oi64("v")?))
    }

    async fn save_runtime_config(
        &self,
        expected: Option<i64>,
        config: &RuntimeConfig,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let mut v = config.to_value(&BTreeMap::new());
        if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
            m.remove("sku");
        }
        let text = v.to_string();
        let next = expected.unwrap_or(0) + 1;
        let res: Result<()> = with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let current = sqlx::query("SELECT MAX(version) AS v FROM runtime_config")
                .fetch_one(&mut *tx)
                .await?
                .oi64("v")?;
            if current != expected {
                return Err(StoreError::VersionConflict {
                    what: "runtime config",
                    expected: expected.unwrap_or(0),
                    actual: current.unwrap_or(0),
                });
            }
            sqlx::query("INSERT INTO runtime_config (version, config, actor, reason, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(next)
                .bind(&text)
                .bind(actor)
                .bind(reason)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
            audit_in!(tx, now, actor, "config.save", format!("runtime_config v{next}"), reason, &text);
            tx.commit().await?;
            Ok(())
        });
        match res {
            Ok(()) => Ok(next),
            // Two savers raced past the version check: the second insert hits the key.
            Err(StoreError::Db(e)) if is_unique_violation(&e) => Err(StoreError::VersionConflict {
                what: "runtime config",
                expected: expected.unwrap_or(0),
                actual: next,
            }),
            Err(e) => Err(e),
        }
    }

    async fn sku_map(&self) -> Result<SkuMap> {
        with_pool!(self, p => {
            let version = sqlx::query("SELECT version FROM sku_map_version WHERE id = 1")
                .fetch_one(p)
                .await?
                .i64("version")?;
            let rows = sqlx::query("SELECT dsco_sku, source, lingxing_sku FROM sku_map ORDER BY dsco_sku, source")
                .fetch_all(p)
                .await?;
            let mut entries = Vec::with_capacity(rows.len());
            for r in &rows {
                let source = match r.s("source")?.as_str() {
                    "manual" => SkuSource::Manual,
                    "pair" => SkuSource::Pair,
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "sku_map",
                            detail: format!("source {other}"),
                        });
                    }
                };
                entries.push(SkuEntry {
                    dsco_sku: r.s("dsco_sku")?,
                    lingxing_sku: r.s("lingxing_sku")?,
                    source,
                });
            }
            Ok(SkuMap { version, entries })
        })
    }

    async fn replace_sku_entries(
        &self,
        expected_version: i64,
        source: SkuSource,
        entries: &BTreeMap<String, String>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
        fence: Option<&Fence>,
    ) -> Result<i64> {
        let detail =
            serde_json::json!({ "source": source.as_str(), "entries": entries.len() }).to_string();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            bump_sku_version!(tx, expected_version, now);
            sqlx::query("DELETE FROM sku_map WHERE source = $1")
                .bind(source.as_str())
                .execute(&mut *tx)
                .await?;
            for (d, l) in entries {
                sqlx::query("INSERT INTO sku_map (dsco_sku, source, lingxing_sku, updated_at) VALUES ($1, $2, $3, $4)")
                    .bind(d)
                    .bind(source.as_str())
                    .bind(l)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
            }
            let target = format!("mapping.sku v{}", expected_version + 1);
            audit_in!(tx, now, actor, "sku.replace", target, reason, &detail);
            tx.commit().await?;
        });
        Ok(expected_version + 1)
    }

    async fn set_manual_sku(
        &self,
        expected_version: i64,
        dsco_sku: &str,
        lingxing_sku: Option<&str>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let detail =
            serde_json::json!({ "dsco_sku": dsco_sku, "lingxing_sku": lingxing_sku }).to_string();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            bump_sku_version!(tx, expected_version, now);
            sqlx::query("DELETE FROM sku_map WHERE dsco_sku = $1 AND source = 'manual'")
                .bind(dsco_sku)
                .execute(&mut *tx)
                .await?;
            if let Some(l) = lingxing_sku {
                sqlx::query("INSERT INTO sku_map (dsco_sku, source, lingxing_sku, updated_at) VALUES ($1, 'manual', $2, $3)")
                    .bind(dsco_sku)
                    .bind(l)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
            }
            audit_in!(tx, now, actor, "sku.set_manual", dsco_sku, reason, &detail);
            tx.commit().await?;
        });
        Ok(expected_version + 1)
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ms(e.at))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.reason)
        .bind(e.detail.to_string())
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        const T: &str = "audit_log";
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT id, at, actor, action, target, reason, detail FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(limit as i64)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let detail = r.s("detail")?;
                    Ok(AuditRecord {
                        id: r.i64("id")?,
                        entry: AuditEntry {
                            at: at(T, r.i64("at")?)?,
                            actor: r.s("actor")?,
                            action: r.s("action")?,
                            target: r.s("target")?,
                            reason: r.s("reason")?,
                            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                        },
                    })
                })
                .collect()
        })
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT value FROM cursors WHERE name = $1").bind(name).fetch_optional(p).await?;
            row.map(|r| r.s("value")).transpose()
        })
    }

    async fn set_cursor(
        &self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn cache_get(&self, key: &str) -> Result<Option<String>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT value FROM token_cache WHERE key = $1").bind(key).fetch_optional(p).await?;
            row.map(|r| r.s("value")).transpose()
        })
    }

    async fn cache_put(&self, key: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO token_cache (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(ms(now))
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }
}
