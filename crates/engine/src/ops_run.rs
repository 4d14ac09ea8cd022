//! Running a job by hand (the CLI's `job run`, the console's "Run a job"): whether a run may be
//! limited to a PO, checked before the run, and the words for what the run decided.

use domain::{JobName, Lang, PoNumber, Reason, ReasonCode, Stage};
use store::{Store, StoreError};

use crate::{OrderDecision, Verdict};

/// Why a run limited to one PO is refused before it starts.
#[derive(Debug, thiserror::Error)]
pub enum PoRefusal {
    /// The job handles no orders one by one (stock, pairs, exports).
    #[error(
        "{job} does not take a PO (only the order jobs do) / {job} 不能指定 PO（只有订单任务可以）"
    )]
    NotAnOrderJob { job: JobName },
    /// The store holds no such order.
    #[error(
        "PO {po} is not in the store (pull_dsco_orders --po {po} reads it from DSCO) / 库中没有订单 {po}（可用 pull_dsco_orders --po {po} 从 DSCO 拉取）"
    )]
    UnknownPo { po: PoNumber },
    /// The order is at a stage this job does not decide.
    #[error("PO {po} is at stage {} ({}), which {job} does not handle; {} / 订单 {po} 处于阶段 {} （{}），{job} 不处理该阶段；{}", stage.number(), stage.label_en(), handled_by_en(*stage), stage.number(), stage.label_zh(), handled_by_zh(*stage))]
    WrongStage {
        po: PoNumber,
        stage: Stage,
        job: JobName,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn handled_by_en(stage: Stage) -> String {
    match JobName::for_stage(stage) {
        Some(j) => format!("{j} handles it"),
        None => "no job moves it further (final stage)".into(),
    }
}

fn handled_by_zh(stage: Stage) -> String {
    match JobName::for_stage(stage) {
        Some(j) => format!("由 {j} 处理"),
        None => "已是最终阶段，没有任务再处理".into(),
    }
}

/// Checks that `job` may run for `po`: the job takes a PO, and (but for the pull, which reads
/// the PO from DSCO) the order is in the store at the stage the job decides.
pub async fn check_run_po(store: &dyn Store, job: JobName, po: &PoNumber) -> Result<(), PoRefusal> {
    if !job.takes_po() {
        return Err(PoRefusal::NotAnOrderJob { job });
    }
    let Some(want) = job.order_stage() else {
        return Ok(());
    };
    match store.get_order(po).await? {
        None => Err(PoRefusal::UnknownPo { po: po.clone() }),
        Some(o) if o.stage != want => Err(PoRefusal::WrongStage {
            po: po.clone(),
            stage: o.stage,
            job,
        }),
        Some(_) => Ok(()),
    }
}

fn stage_text(n: i64, lang: Lang) -> String {
    match Stage::from_number(n) {
        Some(s) => match lang {
            Lang::En => format!("{n} {}", s.label_en()),
            Lang::Zh => format!("{n} {}", s.label_zh()),
        },
        None => n.to_string(),
    }
}

impl OrderDecision {
    /// One line saying what was decided, in `lang` (the request of a write is told apart).
    pub fn describe(&self, dry_run: bool, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match &self.verdict {
            Verdict::Advance { to, note } => {
                let (verb, sep) = match (dry_run, zh) {
                    (true, false) => ("would advance", ": "),
                    (false, false) => ("advance", ": "),
                    (true, true) => ("将推进", "："),
                    (false, true) => ("推进", "："),
                };
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!("{sep}{note}")
                };
                format!(
                    "{verb} {} → {}{note}",
                    stage_text(self.stage, lang),
                    stage_text(*to, lang)
                )
            }
            Verdict::Write { request } => match (dry_run, zh) {
                (true, false) => format!("would write: request #{} (not sent)", request + 1),
                (false, false) => format!("write: request #{} (sent)", request + 1),
                (true, true) => format!("将写入：请求 #{}（未发送）", request + 1),
                (false, true) => format!("写入：请求 #{}（已发送）", request + 1),
            },
            Verdict::Skip { code, detail, .. } => {
                let text = match ReasonCode::parse(code) {
                    Some(c) => Reason::new(c, detail.clone()).message(lang),
                    None => detail.clone(),
                };
                if zh {
                    format!("跳过 [{code}]：{text}")
                } else {
                    format!("skip [{code}]: {text}")
                }
            }
        }
    }
}

/// Why an operator's run did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ManualRunError {
    #[error("the reason is required: say why the job is run by hand / 必须填写原因")]
    NoReason,
    #[error("{job} is not registered in this process / 本进程未注册任务 {job}")]
    NotRegistered { job: JobName },
    #[error(transparent)]
    Po(#[from] PoRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An operator's request to run a job now.
#[derive(Debug, Clone)]
pub struct ManualRun {
    pub job: JobName,
    pub po: Option<PoNumber>,
    pub dry_run: bool,
    pub actor: String,
    pub reason: String,
}

/// Runs `req.job` now for an operator (the console's "Run a job"): the reason is required, a
/// PO must be at the job's stage ([`check_run_po`]); the run goes through the runner like any
/// other (refused while the job runs), and the request and its outcome go to the audit log
/// (`job.run`, target the job or `job PO`).
pub async fn run_for_operator(
    engine: &crate::Engine,
    req: &ManualRun,
    trigger: domain::Trigger,
) -> Result<crate::RunResult, ManualRunError> {
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(ManualRunError::NoReason);
    }
    if !engine.registered().contains(&req.job) {
        return Err(ManualRunError::NotRegistered { job: req.job });
    }
    if let Some(po) = &req.po {
        check_run_po(engine.store().as_ref(), req.job, po).await?;
    }
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let opts = crate::RunOptions {
        scheduled_for: None,
        only_po: req.po.clone(),
        dry_run: req.dry_run,
    };
    let result = engine.run_job(req.job, trigger, opts, rx).await?;
    let detail = match &result {
        crate::RunResult::Ran {
            run_id,
            outcome,
            counts,
            error,
            report,
        } => serde_json::json!({
            "po": req.po.as_ref().map(|p| p.as_str()),
            "dry_run": report.dry_run,
            "run_id": run_id,
            "outcome": outcome.as_str(),
            "processed": counts.processed,
            "advanced": counts.advanced,
            "skipped": counts.skipped(),
            "error": error,
        }),
        crate::RunResult::Rejected { blocking_run_id } => serde_json::json!({
            "po": req.po.as_ref().map(|p| p.as_str()),
            "dry_run": req.dry_run,
            "outcome": "rejected: the job is running",
            "blocking_run_id": blocking_run_id,
        }),
    };
    let target = match &req.po {
        Some(po) => format!("{} {po}", req.job),
        None => req.job.to_string(),
    };
    engine
        .store()
        .append_audit(&store::AuditEntry {
            at: engine.clock().now(),
            actor: req.actor.clone(),
            action: "job.run".into(),
            target,
            reason: reason.to_owned(),
            detail,
        })
        .await?;
    Ok(result)
}
