//! Durable intents of far-side writes, and the gate every write passes: what the stored intent
//! of a write says about sending it (again).

use chrono::{DateTime, Utc};

/// Where an external write stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntentState {
    /// Recorded; the call is about to be made (or the process died before it was).
    Pending,
    /// Sent; the far side took it and its confirmation is awaited (DSCO async).
    Submitted,
    /// The outcome is unknown (timeout after the request left): verify before re-sending.
    Ambiguous,
    /// The far side confirmed it.
    Confirmed,
    /// The far side refused it, with a message.
    Failed,
}

impl IntentState {
    pub const ALL: [IntentState; 5] = [
        IntentState::Pending,
        IntentState::Submitted,
        IntentState::Ambiguous,
        IntentState::Confirmed,
        IntentState::Failed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::Pending => "pending",
            IntentState::Submitted => "submitted",
            IntentState::Ambiguous => "ambiguous",
            IntentState::Confirmed => "confirmed",
            IntentState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<IntentState> {
        IntentState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a `pending` intent means on a far side. DSCO writes are verified whatever stopped them
/// (a crash between the intent and the call looks the same as a failure before it); a LingXing
/// cancel is left pending only by a failure known not to have applied, so it is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingIs {
    Unclear,
    Unsent,
}

/// The stored intent of a write, as the gate reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub state: IntentState,
    /// When the intent was last updated (for a refusal: when it was refused).
    pub updated_at: DateTime<Utc>,
}

/// What to do about one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// No intent, or nothing stands in the way: send it.
    Send,
    /// Sent and taken; the far side's confirmation is awaited.
    Wait,
    /// The last attempt's outcome is unknown: look on the far side before sending again.
    Verify,
    /// The far side shows it applied (after a verification): confirm it, send nothing.
    Applied,
    /// Confirmed before.
    Confirmed,
    /// Refused, and the order has not changed since: not sent again (the refusal stands).
    Refused,
}

/// The gate: what the stored intent of a write (if any) says about sending it.
///
/// - `order_changed_at`: when the far side's own copy of the order last changed (DSCO's
///   `dscoLastUpdate`); a refusal is sent again only after it (the retailer corrected the
///   order). `None`: a refusal stands.
/// - `verified`: after a verification, whether the far side shows the write applied.
pub fn gate(
    stored: Option<Stored>,
    pending: PendingIs,
    order_changed_at: Option<DateTime<Utc>>,
    verified: Option<bool>,
) -> Gate {
    let Some(i) = stored else {
        return Gate::Send;
    };
    let unclear = match i.state {
        IntentState::Ambiguous => true,
        IntentState::Pending => pending == PendingIs::Unclear,
        IntentState::Submitted => return Gate::Wait,
        IntentState::Confirmed => return Gate::Confirmed,
        IntentState::Failed if order_changed_at.is_some_and(|t| t > i.updated_at) => {
            return Gate::Send;
        }
        IntentState::Failed => return Gate::Refused,
    };
    match (unclear, verified) {
        (false, _) => Gate::Send,
        (true, None) => Gate::Verify,
        (true, Some(true)) => Gate::Applied,
        (true, Some(false)) => Gate::Send,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_gate_table() {
        use Gate::*;
        use IntentState as S;
        use PendingIs::*;
        let i = |state| {
            Some(Stored {
                state,
                updated_at: at(10),
            })
        };
        // (stored, pending means, order changed at, verified) → gate
        let table = [
            (None, Unclear, None, None, Send),
            (None, Unsent, Some(at(99)), Some(true), Send),
            (i(S::Submitted), Unclear, Some(at(99)), None, Wait),
            (i(S::Confirmed), Unclear, None, None, Confirmed),
            (i(S::Ambiguous), Unclear, None, None, Verify),
            (i(S::Ambiguous), Unsent, None, None, Verify),
            (i(S::Ambiguous), Unclear, None, Some(true), Applied),
            (i(S::Ambiguous), Unclear, None, Some(false), Send),
            (i(S::Pending), Unclear, None, None, Verify),
            (i(S::Pending), Unclear, None, Some(true), Applied),
            (i(S::Pending), Unclear, None, Some(false), Send),
            (i(S::Pending), Unsent, None, None, Send),
            (i(S::Pending), Unsent, None, Some(true), Send),
            // A refusal stands until the order changes after it.
            (i(S::Failed), Unclear, None, None, Refused),
            (i(S::Failed), Unclear, Some(at(5)), None, Refused),
            (i(S::Failed), Unclear, Some(at(10)), None, Refused),
            (i(S::Failed), Unclear, Some(at(11)), None, Send),
            (i(S::Failed), Unsent, Some(at(11)), None, Send),
        ];
        for (n, (stored, pending, changed, verified, want)) in table.into_iter().enumerate() {
            assert_eq!(
                gate(stored, pending, changed, verified),
                want,
                "row {n}: {stored:?} {pending:?} {changed:?} {verified:?}"
            );
        }
    }

    #[test]
    fn states_read_back_as_written() {
        for s in IntentState::ALL {
            assert_eq!(IntentState::parse(s.as_str()), Some(s));
        }
        assert_eq!(IntentState::parse("done"), None);
    }
}
