//! Readiness: whether the service does its work, not only whether it is alive. The console's
//! `/readyz` renders these checks; the rules that decide them live here.

use chrono::{DateTime, TimeDelta, Utc};
use domain::{JobConfig, JobName, RunOutcome};
use serde::Serialize;
use store::{RunRecord, Store, StoreError, StoreProblem};

use crate::{AUTH_REFUSED, Engine};

/// How many runs in a row must fail before a job counts as failing.
pub const FAILED_RUNS_IN_A_ROW: usize = 3;
/// How many of a job's latest runs are read to find its last success.
const RUNS_READ: u32 = 20;
/// A job without a success for this many of its periods (and at least [`MIN_QUIET`]) is failing.
const PERIODS_WITHOUT_SUCCESS: i32 = 4;
const MIN_QUIET: TimeDelta = TimeDelta::hours(1);

/// One named check, with a short message in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `store`, `store_writable`, `store_disk`, `job:<job>`, `credentials:<job>`.
    pub name: String,
    pub ok: bool,
    pub message: String,
    pub message_zh: String,
}

/// Every check; ready when all pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

impl Check {
    fn ok(name: impl Into<String>, message: impl Into<String>, zh: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            message: message.into(),
            message_zh: zh.into(),
        }
    }
    fn failing(
        name: impl Into<String>,
        message: impl Into<String>,
        zh: impl Into<String>,
    ) -> Check {
        Check {
            ok: false,
            ..Check::ok(name, message, zh)
        }
    }
}

impl Engine {
    /// The readiness checks: the store answers, takes writes and has space; every enabled job's
    /// recent runs do not all fail, it succeeded lately, and its last run was not refused by a
    /// far side's credentials.
    pub async fn readiness(&self) -> Readiness {
        let now = self.clock.now();
        let mut checks = Vec::new();
        let config = match self.store.runtime_config().await {
            Ok(c) => {
                checks.push(Check::ok("store", "the store answers", "存储可访问"));
                c.map(|c| c.config).unwrap_or_default()
            }
            Err(e) => {
                checks.push(Check::failing(
                    "store",
                    format!("the store does not answer: {e}"),
                    format!("存储无法访问：{e}"),
                ));
                return Readiness::of(checks);
            }
        };
        let problem = self.store_problem();
        checks.push(match (&self.store.check_writable().await, &problem) {
            (Err(StoreError::ReadOnly(d)), _) | (Ok(()), Some((StoreProblem::ReadOnly(d), _))) => {
                Check::failing(
                    "store_writable",
                    StoreError::ReadOnly(d.clone()).to_string(),
                    format!("存储为只读（{d}）：请使数据库可写后重新启动"),
                )
            }
            (Err(e), _) => Check::failing(
                "store_writable",
                format!("the store's write check failed: {e}"),
                format!("存储写入检查失败：{e}"),
            ),
            (Ok(()), _) => Check::ok("store_writable", "the store takes writes", "存储可写入"),
        });
        checks.push(match &problem {
            Some((StoreProblem::DiskFull(d), since)) => Check::failing(
                "store_disk",
                format!(
                    "{} (writes failing since {})",
                    StoreError::DiskFull(d.clone()),
                    fmt(*since)
                ),
                format!(
                    "存储磁盘已满（{d}）：请释放空间，服务会自动恢复（自 {} 起写入失败）",
                    fmt(*since)
                ),
            ),
            _ => Check::ok("store_disk", "the store has room to write", "存储空间充足"),
        });
        for (job, jc) in config.jobs.iter().filter(|(_, j)| j.enable) {
            match self.job_checks(*job, jc, now).await {
                Ok(c) => checks.extend(c),
                Err(e) => checks.push(Check::failing(
                    format!("job:{job}"),
                    format!("the runs of {job} cannot be read: {e}"),
                    format!("无法读取 {job} 的运行记录：{e}"),
                )),
            }
        }
        Readiness::of(checks)
    }

    async fn job_checks(
        &self,
        job: JobName,
        jc: &JobConfig,
        now: DateTime<Utc>,
    ) -> Result<Vec<Check>, StoreError> {
        let ended = ended_runs(&*self.store, job, RUNS_READ).await?;
        let mut checks = Vec::new();
        let name = format!("job:{job}");
        let quiet = quiet_limit(jc, now);
        let last_error = ended
            .first()
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        if failed_in_a_row(&ended) >= FAILED_RUNS_IN_A_ROW {
            checks.push(Check::failing(
                &name,
                format!(
                    "the last {FAILED_RUNS_IN_A_ROW} runs of {job} failed; the last: {last_error}"
                ),
                format!("{job} 最近 {FAILED_RUNS_IN_A_ROW} 次运行均失败；最近一次：{last_error}"),
            ));
        } else if let Some(since) = no_success_since(&ended, quiet, now) {
            checks.push(Check::failing(
                &name,
                format!(
                    "{job} has not succeeded since {}; the last run: {last_error}",
                    fmt(since)
                ),
                format!(
                    "{job} 自 {} 起没有成功运行；最近一次：{last_error}",
                    fmt(since)
                ),
            ));
        } else {
            checks.push(Check::ok(
                &name,
                format!("{job} runs"),
                format!("{job} 运行正常"),
            ));
        }
        let refused = match ended.first() {
            Some(last) => self
                .store
                .run_failures(job, 1)
                .await?
                .get(&last.id)
                .is_some_and(|f| f == AUTH_REFUSED),
            None => false,
        };
        let name = format!("credentials:{job}");
        checks.push(if refused {
            Check::failing(
                &name,
                format!("the last run of {job} was refused by the far side's credentials check: {last_error}; check the credentials in the deployment settings"),
                format!("{job} 最近一次运行的凭据被对方拒绝：{last_error}；请检查部署配置中的凭据"),
            )
        } else {
            Check::ok(&name, format!("{job}'s credentials are accepted"), format!("{job} 的凭据有效"))
        });
        Ok(checks)
    }
}

impl Readiness {
    fn of(checks: Vec<Check>) -> Readiness {
        Readiness {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

/// How long a job may go without a success: four of its periods, at least an hour.
/// The latest `limit` runs of `job` that ended and say something about its health (neither
/// running nor stopped by shutdown), newest first. Readiness and alerts judge a job by them.
pub(crate) async fn ended_runs(
    store: &dyn Store,
    job: JobName,
    limit: u32,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut runs = store.list_runs(Some(job), limit).await?;
    runs.retain(|r| !matches!(r.outcome, RunOutcome::Running | RunOutcome::Cancelled));
    Ok(runs)
}

/// How many of `ended` (newest first) did not succeed, in a row from the newest.
pub(crate) fn failed_in_a_row(ended: &[RunRecord]) -> usize {
    ended
        .iter()
        .take_while(|r| r.outcome != RunOutcome::Succeeded)
        .count()
}

/// Since when a job has not succeeded, if that is longer than `quiet` and its latest run failed:
/// the end of its last success, or (none among `ended`, newest first) the start of its oldest
/// run read.
pub(crate) fn no_success_since(
    ended: &[RunRecord],
    quiet: TimeDelta,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match ended.iter().find(|r| r.outcome == RunOutcome::Succeeded) {
        Some(s) => s.ended_at.filter(|e| {
            now - *e > quiet
                && ended
                    .first()
                    .is_some_and(|r| r.outcome != RunOutcome::Succeeded)
        }),
        None => ended
            .last()
            .map(|r| r.started_at)
            .filter(|s| now - *s > quiet),
    }
}

/// How long a job may go without a success: [`PERIODS_WITHOUT_SUCCESS`] of its periods, at
/// least [`MIN_QUIET`].
pub(crate) fn quiet_limit(jc: &JobConfig, now: DateTime<Utc>) -> TimeDelta {
    let period = jc
        .schedule
        .next_after(now)
        .and_then(|a| Some(jc.schedule.next_after(a)? - a))
        .unwrap_or(MIN_QUIET);
    (period * PERIODS_WITHOUT_SUCCESS).max(MIN_QUIET)
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
