//! [`RunStore`]: run records, refused fires, failure kinds, run details.

use super::*;

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl RunStore for SqlStore {
    async fn insert_run(&self, run: &NewRun, fence: &Fence) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(concat!(
                "INSERT INTO job_runs (", run_cols!(), ") VALUES ($1, $2, $3, $4, $5, NULL, $6, '{}', NULL, $7, $8, $9, $10, $11)"
            ))
            .bind(&run.id)
            .bind(run.job.as_str())
            .bind(run.trigger.as_str())
            .bind(run.scheduled_for.map(ms))
            .bind(ms(run.started_at))
            .bind(RunOutcome::Running.as_str())
            .bind(&run.holder)
            .bind(fence.token)
            .bind(run.dry_run as i64)
            .bind(run.only_po.as_deref())
            .bind(run.config_version)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn finish_run(
        &self,
        run_id: &str,
        outcome: RunOutcome,
        counts: &RunCounts,
        error: Option<&str>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        let counts = serde_json::to_string(counts).expect("counts serialize");
        with_pool!(self, p => sqlx::query(
            "UPDATE job_runs SET outcome = $1, counts = $2, error = $3, ended_at = $4 WHERE id = $5",
        )
        .bind(outcome.as_str())
        .bind(counts)
        .bind(error)
        .bind(ms(ended_at))
        .bind(run_id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn record_rejected_fire(
        &self,
        job: JobName,
        blocking_run_id: &str,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let count = with_pool!(self, p => sqlx::query(
            "INSERT INTO rejected_fires (job, blocking_run_id, trigger_kind, first_at, last_at, count) \
             VALUES ($1, $2, $3, $4, $4, 1) \
             ON CONFLICT (job, blocking_run_id) DO UPDATE SET last_at = excluded.last_at, count = rejected_fires.count + 1 \
             RETURNING count",
        )
        .bind(job.as_str())
        .bind(blocking_run_id)
        .bind(trigger.as_str())
        .bind(ms(now))
        .fetch_one(p)
        .await?
        .i64("count")?);
        Ok(count == 1)
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!("SELECT ", run_cols!(), " FROM job_runs WHERE id = $1"))
                .bind(run_id)
                .fetch_optional(p)
                .await?;
            row.map(|r| run_from(&r)).transpose()
        })
    }

    async fn list_runs(&self, job: Option<JobName>, limit: u32) -> Result<Vec<RunRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", run_cols!(), " FROM job_runs WHERE ($1 IS NULL OR job = $1) ORDER BY started_at DESC, id DESC LIMIT $2"
            ))
            .bind(job.map(|j| j.as_str()))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(run_from).collect()
        })
    }

    async fn rejected_fires(&self, job: Option<JobName>) -> Result<Vec<RejectedFire>> {
        const T: &str = "rejected_fires";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT job, blocking_run_id, trigger_kind, first_at, last_at, count FROM rejected_fires \
                 WHERE ($1 IS NULL OR job = $1) ORDER BY first_at",
            )
            .bind(job.map(|j| j.as_str()))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RejectedFire {
                        job: parse(T, &r.s("job")?)?,
                        blocking_run_id: r.s("blocking_run_id")?,
                        trigger: parse(T, &r.s("trigger_kind")?)?,
                        first_at: at(T, r.i64("first_at")?)?,
                        last_at: at(T, r.i64("last_at")?)?,
                        count: r.i64("count")?,
                    })
                })
                .collect()
        })
    }

    async fn last_scheduled_fire(&self, job: JobName) -> Result<Option<DateTime<Utc>>> {
        with_pool!(self, p => {
            let v = sqlx::query("SELECT MAX(scheduled_for) AS m FROM job_runs WHERE job = $1")
                .bind(job.as_str())
                .fetch_one(p)
                .await?
                .oi64("m")?;
            oat("job_runs", v)
        })
    }

    async fn close_orphan_runs(&self, now: DateTime<Utc>) -> Result<u64> {
        const T: &str = "job_runs";
        // A run is an orphan when it is still "running" but no live lease carries its id. The
        // literal 'running' lets both databases use the partial index `job_runs_open`.
        let orphans = with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT r.id, r.holder, r.started_at, \
                   (SELECT l.heartbeat_at FROM job_leases l WHERE l.run_id = r.id) AS beat \
                 FROM job_runs r WHERE r.outcome = 'running' AND NOT EXISTS ( \
                   SELECT 1 FROM job_leases l WHERE l.run_id = r.id AND l.holder IS NOT NULL AND l.expires_at > $1)",
            )
            .bind(ms(now))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let since = r.oi64("beat")?.unwrap_or(r.i64("started_at")?);
                    Ok((r.s("id")?, r.s("holder")?, at(T, since)?))
                })
                .collect::<Result<Vec<_>>>()?
        });
        let mut closed = 0;
        for (id, holder, since) in orphans {
            let error = format!(
                "the runner {holder} died (no heartbeat since {}): the process stopped mid-run \
                 (crash or kill) or could not record the end; closed once its lease expired",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            );
            closed += with_pool!(self, p => sqlx::query(
                "UPDATE job_runs SET outcome = $1, ended_at = $2, error = $3 WHERE id = $4 AND outcome = 'running'",
            )
            .bind(RunOutcome::Failed.as_str())
            .bind(ms(now))
            .bind(&error)
            .bind(&id)
            .execute(p)
            .await?
            .rows_affected());
        }
        Ok(closed)
    }

    async fn set_run_failure(&self, run_id: &str, failure: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query("UPDATE job_runs SET failure = $1 WHERE id = $2")
            .bind(failure)
            .bind(run_id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn run_failures(&self, job: JobName, limit: u32) -> Result<BTreeMap<String, String>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT id, failure FROM job_runs WHERE failure IS NOT NULL AND id IN ( \
                   SELECT id FROM job_runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT $2)",
            )
            .bind(job.as_str())
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| Ok((r.s("id")?, r.s("failure")?)))
                .collect()
        })
    }

    async fn set_run_detail(
        &self,
        run_id: &str,
        job: JobName,
        detail: &Value,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO run_details (run_id, job, at, detail) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id) DO UPDATE SET detail = excluded.detail, at = excluded.at",
            )
            .bind(run_id)
            .bind(job.as_str())
            .bind(ms(now))
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn run_detail(&self, run_id: &str) -> Result<Option<Value>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT detail FROM run_details WHERE run_id = $1")
                .bind(run_id)
                .fetch_optional(p)
                .await?;
            row.map(|r| {
                let text = r.s("detail")?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    table: "run_details",
                    detail: e.to_string(),
                })
            })
            .transpose()
        })
    }
}
