//! Alerts: what is wrong, under a stable key, and the pure rule that turns the conditions seen now
//! into open / resolved transitions against the alerts already open.
//!
//! An alert is level-triggered: an evaluation lists every condition that holds now (each with its
//! key); a key not open before opens, an open key no longer listed resolves, a key still listed
//! stays open and sends nothing. So a problem is one alert however many runs see it, and its
//! resolved message goes out once when it clears. The store applies the transitions with
//! conditional writes, so two replicas evaluating at once still raise each transition once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reason::{Lang, ReasonCode};

/// How bad an alert is; channels take alerts at or above their minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Severity::Info, Lang::Zh) => "提示",
            (Severity::Warning, Lang::Zh) => "警告",
            (Severity::Critical, Lang::Zh) => "严重",
            (Severity::Info, Lang::En) => "Info",
            (Severity::Warning, Lang::En) => "Warning",
            (Severity::Critical, Lang::En) => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of problem an alert is about (channels may take only some kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Orders in needs-attention for one cause (reason code + subject).
    NeedsAttention,
    /// A job failed N runs in a row.
    JobFailing,
    /// An enabled job has not succeeded for longer than four of its periods (at least an hour).
    NoSuccess,
    /// A run lost its job's lease (another runner took it over; its writes were refused).
    LeaseLost,
    /// DSCO or LingXing refused our credentials.
    CredentialsRefused,
    /// The stock zero-drop guard held a run.
    StockGuardHeld,
    /// `pull_sku_pair` stopped on conflicts.
    SkuPairConflicts,
    /// Orders stay at a stage past `stuck_after_periods` of the job that moves them.
    Stuck,
    /// The global write switch has been off longer than the threshold.
    WritesOff,
    /// A channel keeps failing to deliver (raised on the other channels).
    ChannelFailing,
    /// Reconciliation found orders diverged from (or ahead of) a far side, per finding code.
    ReconcileDiverged,
    /// `alert test`.
    Test,
}

impl AlertKind {
    pub const ALL: [AlertKind; 12] = [
        AlertKind::NeedsAttention,
        AlertKind::JobFailing,
        AlertKind::NoSuccess,
        AlertKind::LeaseLost,
        AlertKind::CredentialsRefused,
        AlertKind::StockGuardHeld,
        AlertKind::SkuPairConflicts,
        AlertKind::Stuck,
        AlertKind::WritesOff,
        AlertKind::ChannelFailing,
        AlertKind::ReconcileDiverged,
        AlertKind::Test,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NeedsAttention => "needs_attention",
            AlertKind::JobFailing => "job_failing",
            AlertKind::NoSuccess => "no_success",
            AlertKind::LeaseLost => "lease_lost",
            AlertKind::CredentialsRefused => "credentials_refused",
            AlertKind::StockGuardHeld => "stock_guard_held",
            AlertKind::SkuPairConflicts => "sku_pair_conflicts",
            AlertKind::Stuck => "stuck",
            AlertKind::WritesOff => "writes_off",
            AlertKind::ChannelFailing => "channel_failing",
            AlertKind::ReconcileDiverged => "reconcile_diverged",
            AlertKind::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert opened or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Open,
    Resolved,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Open => "open",
            Transition::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Transition> {
        match s {
            "open" => Some(Transition::Open),
            "resolved" => Some(Transition::Resolved),
            _ => None,
        }
    }
}

/// A condition that holds now: what an open alert says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Stable: the same problem has the same key in every run and replica.
    pub key: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// What the problem is about: a reason code + subject, a job name, a far side.
    pub subject: String,
    /// The details the message shows (counts, codes, the last error), by name.
    pub facts: BTreeMap<String, String>,
    /// The console path that explains it (`/attention?...`, `/jobs/<job>`), without the host.
    pub path: String,
}

/// An alert transition, as written to the outbox and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub key: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub subject: String,
    pub transition: Transition,
    pub facts: BTreeMap<String, String>,
    pub path: String,
}

impl Alert {
    pub fn of(c: &Condition, transition: Transition) -> Alert {
        Alert {
            key: c.key.clone(),
            kind: c.kind,
            severity: c.severity,
            subject: c.subject.clone(),
            transition,
            facts: c.facts.clone(),
            path: c.path.clone(),
        }
    }

    /// The one-line title in `lang` ("[警告] 12 个订单需要处理：…").
    pub fn title(&self, lang: Lang) -> String {
        let state = match (self.transition, lang) {
            (Transition::Open, _) => self.severity.label(lang).to_owned(),
            (Transition::Resolved, Lang::Zh) => "已恢复".to_owned(),
            (Transition::Resolved, Lang::En) => "Resolved".to_owned(),
        };
        format!("[{state}] {}", self.headline(lang))
    }

    /// What happened, in `lang`, without the state.
    pub fn headline(&self, lang: Lang) -> String {
        let f = |k: &str| self.facts.get(k).cloned().unwrap_or_default();
        let s = &self.subject;
        match (self.kind, lang) {
            (AlertKind::NeedsAttention, l) => {
                let count = f("count");
                let cause = match ReasonCode::parse(&f("code")) {
                    Some(c) => match l {
                        Lang::Zh => c.message_zh(&f("subject")),
                        Lang::En => c.message_en(&f("subject")),
                    },
                    None => s.clone(),
                };
                match l {
                    Lang::Zh => format!("{count} 个订单需要处理：{cause}"),
                    Lang::En if count == "1" => format!("1 order needs attention: {cause}"),
                    Lang::En => format!("{count} orders need attention: {cause}"),
                }
            }
            (AlertKind::JobFailing, Lang::Zh) => {
                format!("任务 {s} 连续 {} 次运行失败", f("failures"))
            }
            (AlertKind::JobFailing, Lang::En) => {
                format!("job {s} failed {} runs in a row", f("failures"))
            }
            (AlertKind::NoSuccess, Lang::Zh) => {
                format!(
                    "任务 {s} 自 {} 起没有成功运行（超过 {}）",
                    f("since"),
                    f("threshold")
                )
            }
            (AlertKind::NoSuccess, Lang::En) => format!(
                "job {s} has not succeeded since {} (more than {})",
                f("since"),
                f("threshold")
            ),
            (AlertKind::LeaseLost, Lang::Zh) => {
                format!("任务 {s} 的运行失去了租约（另一个实例接管），其写入被拒绝")
            }
            (AlertKind::LeaseLost, Lang::En) => format!(
                "a run of job {s} lost its lease (another runner took over); its writes were refused"
            ),
            (AlertKind::CredentialsRefused, Lang::Zh) => format!("凭据被拒绝（任务 {s}）"),
            (AlertKind::CredentialsRefused, Lang::En) => {
                format!("credentials refused (job {s})")
            }
            (AlertKind::StockGuardHeld, Lang::Zh) => {
                format!("库存清零保护拦下了运行 {s}，等待人工放行")
            }
            (AlertKind::StockGuardHeld, Lang::En) => {
                format!("the stock zero-drop guard held run {s}; it waits for a release")
            }
            (AlertKind::SkuPairConflicts, Lang::Zh) => {
                format!("SKU 配对拉取因 {} 个冲突停止", f("conflicts"))
            }
            (AlertKind::SkuPairConflicts, Lang::En) => {
                format!("pull_sku_pair stopped on {} conflicts", f("conflicts"))
            }
            (AlertKind::Stuck, Lang::Zh) => format!(
                "{} 个订单停留在“{}”超过 {}",
                f("count"),
                f("stage_zh"),
                f("threshold")
            ),
            (AlertKind::Stuck, Lang::En) => format!(
                "{} orders stuck at {} for more than {}",
                f("count"),
                f("stage_en"),
                f("threshold")
            ),
            (AlertKind::WritesOff, Lang::Zh) => {
                format!(
                    "全局写入开关已关闭 {}（自 {} 起）",
                    f("off_for"),
                    f("since")
                )
            }
            (AlertKind::WritesOff, Lang::En) => format!(
                "writes to DSCO and LingXing have been off for {} (since {})",
                f("off_for"),
                f("since")
            ),
            (AlertKind::ChannelFailing, Lang::Zh) => format!("告警通道 {s} 投递持续失败"),
            (AlertKind::ChannelFailing, Lang::En) => {
                format!("alert channel {s} keeps failing to deliver")
            }
            (AlertKind::Test, Lang::Zh) => "dsco-lingxing 告警测试消息".to_owned(),
            (AlertKind::Test, Lang::En) => "dsco-lingxing alert test message".to_owned(),
            (AlertKind::ReconcileDiverged, l) => {
                let what = crate::reconcile::FindingCode::parse(&f("code"))
                    .map_or_else(|| f("code"), |c| c.message(l).to_owned());
                match l {
                    Lang::Zh => format!("对账：{} 个订单 {what}", f("count")),
                    Lang::En => format!("reconciliation: {} orders: {what}", f("count")),
                }
            }
        }
    }

    /// The facts as `name: value` lines, with names in `lang`.
    pub fn fact_lines(&self, lang: Lang) -> Vec<(String, String)> {
        self.facts
            .iter()
            .map(|(k, v)| (fact_label(k, lang).to_owned(), v.clone()))
            .collect()
    }
}

fn fact_label(k: &str, lang: Lang) -> &str {
    match (k, lang) {
        ("count", Lang::Zh) => "订单数",
        ("count", Lang::En) => "orders",
        ("code", Lang::Zh) => "原因代码",
        ("code", Lang::En) => "reason code",
        ("subject", Lang::Zh) => "对象",
        ("subject", Lang::En) => "subject",
        ("failures", Lang::Zh) => "连续失败",
        ("failures", Lang::En) => "failures in a row",
        ("error", Lang::Zh) => "最近错误",
        ("error", Lang::En) => "last error",
        ("run_id", Lang::Zh) => "运行",
        ("run_id", Lang::En) => "run",
        ("conflicts", Lang::Zh) => "冲突数",
        ("conflicts", Lang::En) => "conflicts",
        ("threshold", Lang::Zh) => "阈值",
        ("threshold", Lang::En) => "threshold",
        ("oldest", Lang::Zh) => "最久的订单",
        ("oldest", Lang::En) => "oldest order",
        ("stage_zh", Lang::Zh) => "阶段",
        ("stage_en", Lang::En) => "stage",
        ("stage_zh", Lang::En) => "stage (zh)",
        ("stage_en", Lang::Zh) => "阶段（英文）",
        ("since", Lang::Zh) => "关闭时间",
        ("since", Lang::En) => "off since",
        ("off_for", Lang::Zh) => "已关闭",
        ("off_for", Lang::En) => "off for",
        ("answer", Lang::Zh) => "回复",
        ("answer", Lang::En) => "answer",
        (k, _) => k,
    }
}

/// The transitions that take the alerts open now (`open`: key → the alert as last raised) to the
/// conditions that hold now. Only keys whose kinds the evaluation covers (`scope`) may resolve: a
/// condition of a kind not evaluated this time stays as it is.
pub fn transitions(
    open: &BTreeMap<String, Alert>,
    now: &[Condition],
    scope: &BTreeSet<AlertKind>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for c in now {
        if !seen.insert(c.key.as_str()) {
            continue;
        }
        if !open.contains_key(&c.key) {
            out.push(Alert::of(c, Transition::Open));
        }
    }
    for (key, a) in open {
        if scope.contains(&a.kind) && !seen.contains(key.as_str()) {
            let mut r = a.clone();
            r.transition = Transition::Resolved;
            out.push(r);
        }
    }
    out
}

/// Whether a channel with `min` and `kinds` (empty: all) takes `alert`.
pub fn routes_to(alert: &Alert, min: Severity, kinds: &[AlertKind]) -> bool {
    alert.kind == AlertKind::Test
        || (alert.severity >= min && (kinds.is_empty() || kinds.contains(&alert.kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(key: &str, kind: AlertKind) -> Condition {
        Condition {
            key: key.into(),
            kind,
            severity: Severity::Warning,
            subject: key.into(),
            facts: BTreeMap::from([("count".into(), "3".into())]),
            path: "/".into(),
        }
    }

    #[test]
    fn a_condition_opens_once_and_resolves_once_when_it_clears() {
        let scope = BTreeSet::from([AlertKind::NeedsAttention]);
        let c = cond("na:x", AlertKind::NeedsAttention);
        let t = transitions(&BTreeMap::new(), std::slice::from_ref(&c), &scope);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].transition, Transition::Open);
        let open = BTreeMap::from([(c.key.clone(), t[0].clone())]);
        // Still there: nothing.
        assert!(transitions(&open, &[c.clone(), c.clone()], &scope).is_empty());
        // Gone: resolved.
        let t = transitions(&open, &[], &scope);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].transition, Transition::Resolved);
        // Gone but not evaluated: stays open.
        assert!(transitions(&open, &[], &BTreeSet::new()).is_empty());
    }

    #[test]
    fn messages_in_both_languages_name_the_cause() {
        let mut c = cond("na:x", AlertKind::NeedsAttention);
        c.facts.insert("code".into(), "sku_unmatched".into());
        c.facts.insert("subject".into(), "ABC-1".into());
        c.facts.insert("count".into(), "12".into());
        let a = Alert::of(&c, Transition::Open);
        assert!(
            a.title(Lang::En).contains("12 orders"),
            "{}",
            a.title(Lang::En)
        );
        assert!(a.title(Lang::En).contains("ABC-1"));
        assert!(a.title(Lang::Zh).contains("12 个订单"));
        assert!(a.title(Lang::Zh).contains("ABC-1"));
        let mut r = a.clone();
        r.transition = Transition::Resolved;
        assert!(r.title(Lang::Zh).starts_with("[已恢复]"));
    }

    #[test]
    fn routing_by_severity_and_kind() {
        let a = Alert::of(&cond("k", AlertKind::JobFailing), Transition::Open);
        assert!(routes_to(&a, Severity::Warning, &[]));
        assert!(!routes_to(&a, Severity::Critical, &[]));
        assert!(!routes_to(&a, Severity::Info, &[AlertKind::NeedsAttention]));
        assert!(routes_to(&a, Severity::Info, &[AlertKind::JobFailing]));
    }
}
