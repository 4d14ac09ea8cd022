//! Why an order did not move: the four kinds of reason. (The catalogue of codes with their
//! Chinese and English messages lives beside the rules that produce them.)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The four kinds of reason, which the console shows apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// A normal precondition on the far side is not met yet. Nobody needs to act.
    Waiting,
    /// Data or configuration a person must fix.
    NeedsAttention,
    /// A transient failure or a write whose outcome is unknown; retried with back-off.
    Retrying,
    /// Configuration chose to hold it (`multi_ban`, the write switch, dry run).
    Held,
}

impl ReasonKind {
    pub const ALL: [ReasonKind; 4] = [
        ReasonKind::Waiting,
        ReasonKind::NeedsAttention,
        ReasonKind::Retrying,
        ReasonKind::Held,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Waiting => "waiting",
            ReasonKind::NeedsAttention => "needs_attention",
            ReasonKind::Retrying => "retrying",
            ReasonKind::Held => "held",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ReasonKind::Waiting => "等待中",
            ReasonKind::NeedsAttention => "需处理",
            ReasonKind::Retrying => "重试中",
            ReasonKind::Held => "已暂停",
        }
    }
}

impl FromStr for ReasonKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ReasonKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown reason kind `{s}`"))
    }
}

impl fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
