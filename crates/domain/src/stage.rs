//! The order stage machine. The numbers are the ones operators already read (1 … 6).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an order is. Numbers are fixed: users and the predecessor's data use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum Stage {
    /// 1 待推单: pulled, waiting to be pushed to LingXing.
    Pulled = 1,
    /// 2 待 ACK: in LingXing, waiting for the acknowledgement to DSCO.
    Pushed = 2,
    /// 3 待回传发货: acknowledged, waiting for shipments to be sent to DSCO.
    Acknowledged = 3,
    /// 4 待回传发票: shipped, waiting for the invoice.
    Shipped = 4,
    /// 5 完成: done.
    Done = 5,
    /// 6 已取消: cancelled.
    Cancelled = 6,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Pulled,
        Stage::Pushed,
        Stage::Acknowledged,
        Stage::Shipped,
        Stage::Done,
        Stage::Cancelled,
    ];

    pub fn number(self) -> i64 {
        self as i64
    }

    pub fn from_number(n: i64) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.number() == n)
    }

    /// Terminal stages never move again without an operator.
    pub fn is_terminal(self) -> bool {
        matches!(self, Stage::Done | Stage::Cancelled)
    }

    /// Whether a job may move an order from `self` to `to`: forward through 1 → 5, or to
    /// cancelled from any stage below done. Everything else is an operator's action.
    pub fn can_advance_to(self, to: Stage) -> bool {
        match (self, to) {
            (from, Stage::Cancelled) => from < Stage::Done,
            (Stage::Cancelled, _) => false,
            (from, to) => to > from,
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Stage::Pulled => "pulled",
            Stage::Pushed => "pushed",
            Stage::Acknowledged => "acknowledged",
            Stage::Shipped => "shipped",
            Stage::Done => "done",
            Stage::Cancelled => "cancelled",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::Pulled => "待推单",
            Stage::Pushed => "待 ACK",
            Stage::Acknowledged => "待回传发货",
            Stage::Shipped => "待回传发票",
            Stage::Done => "完成",
            Stage::Cancelled => "已取消",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.label_en())
    }
}

impl TryFrom<i64> for Stage {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Stage::from_number(n).ok_or_else(|| format!("stage must be 1 to 6, got {n}"))
    }
}

impl From<Stage> for i64 {
    fn from(s: Stage) -> i64 {
        s.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_only() {
        for a in Stage::ALL {
            for b in Stage::ALL {
                let ok = a.can_advance_to(b);
                let expected = match (a, b) {
                    (x, Stage::Cancelled) => x < Stage::Done,
                    (Stage::Cancelled, _) => false,
                    (x, y) => y > x,
                };
                assert_eq!(ok, expected, "{a} -> {b}");
            }
        }
        assert!(!Stage::Done.can_advance_to(Stage::Cancelled));
        assert!(Stage::Pulled.can_advance_to(Stage::Done));
        assert!(!Stage::Shipped.can_advance_to(Stage::Pushed));
    }

    #[test]
    fn numbers_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_number(s.number()), Some(s));
        }
        assert_eq!(Stage::from_number(0), None);
        assert_eq!(Stage::from_number(7), None);
    }
}
