//! [`LeaseStore`]: job leases and their fencing tokens.

use super::*;

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl LeaseStore for SqlStore {
    async fn try_acquire_lease(
        &self,
        job: JobName,
        holder: &str,
        run_id: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let expires = now + clock::to_delta(ttl);
        let row = with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO job_leases (job, holder, run_id, token, acquired_at, heartbeat_at, expires_at) \
                 VALUES ($1, $2, $3, 1, $4, $4, $5) \
                 ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id, \
                   token = job_leases.token + 1, acquired_at = excluded.acquired_at, \
                   heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at \
                 WHERE job_leases.holder IS NULL OR job_leases.expires_at <= excluded.acquired_at \
                 RETURNING token",
            )
            .bind(job.as_str())
            .bind(holder)
            .bind(run_id)
            .bind(ms(now))
            .bind(ms(expires))
            .fetch_optional(p)
            .await?
            .map(|r| r.i64("token"))
            .transpose()?
        });
        Ok(row.map(|token| Lease {
            job,
            token,
            holder: holder.to_owned(),
            run_id: run_id.to_owned(),
            expires_at: expires,
        }))
    }

    async fn renew_lease(&self, lease: &Lease, now: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        let expires = now + clock::to_delta(ttl);
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE job_leases SET heartbeat_at = $1, expires_at = $2 WHERE job = $3 AND token = $4 AND holder IS NOT NULL",
        )
        .bind(ms(now))
        .bind(ms(expires))
        .bind(lease.job.as_str())
        .bind(lease.token)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "UPDATE job_leases SET holder = NULL, run_id = NULL, expires_at = 0 WHERE job = $1 AND token = $2",
        )
        .bind(lease.job.as_str())
        .bind(lease.token)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn lease_info(&self, job: JobName) -> Result<Option<LeaseInfo>> {
        const T: &str = "job_leases";
        with_pool!(self, p => {
            let row = sqlx::query("SELECT holder, run_id, token, expires_at FROM job_leases WHERE job = $1")
                .bind(job.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(LeaseInfo {
                    job,
                    holder: r.os("holder")?,
                    run_id: r.os("run_id")?,
                    token: r.i64("token")?,
                    expires_at: at(T, r.i64("expires_at")?)?,
                })),
            }
        })
    }
}
