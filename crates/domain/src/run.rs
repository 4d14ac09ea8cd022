//! Job runs: what started them, how they ended, what they counted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::reason::ReasonKind;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The scheduler, on the job's cron.
    Cron,
    /// An operator in the console.
    Manual,
    /// `dsco-lingxing job run`.
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cron => "cron",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
        }
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cron" => Ok(Trigger::Cron),
            "manual" => Ok(Trigger::Manual),
            "cli" => Ok(Trigger::Cli),
            other => Err(format!("unknown trigger `{other}`")),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended (`Running` while it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Running,
    /// Every item was handled (some may have been skipped with a reason).
    Succeeded,
    /// The run stopped on an error before handling its batch (the error says why).
    Failed,
    /// The run exceeded its timeout and was stopped.
    TimedOut,
    /// Another runner took the lease over; this run's writes were refused from then on.
    LeaseLost,
    /// Stopped by shutdown.
    Cancelled,
}

impl RunOutcome {
    pub const ALL: [RunOutcome; 6] = [
        RunOutcome::Running,
        RunOutcome::Succeeded,
        RunOutcome::Failed,
        RunOutcome::TimedOut,
        RunOutcome::LeaseLost,
        RunOutcome::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::LeaseLost => "lease_lost",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

impl FromStr for RunOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // Early builds recorded `not_implemented` for jobs registered before they were built:
        // nothing was done, and (as a cancelled run) it says nothing about the job's health.
        if s == "not_implemented" {
            return Ok(RunOutcome::Cancelled);
        }
        RunOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown run outcome `{s}`"))
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run counted. Stored as JSON on the run record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounts {
    /// Items looked at.
    pub processed: u64,
    /// Orders moved to a later stage (or, for non-order jobs, items written).
    pub advanced: u64,
    pub skipped_waiting: u64,
    pub skipped_attention: u64,
    pub skipped_retrying: u64,
    pub skipped_held: u64,
    /// Items that failed in a way not explained by a reason (should stay 0).
    pub failed: u64,
}

impl RunCounts {
    pub fn skip(&mut self, kind: ReasonKind) {
        match kind {
            ReasonKind::Waiting => self.skipped_waiting += 1,
            ReasonKind::NeedsAttention => self.skipped_attention += 1,
            ReasonKind::Retrying => self.skipped_retrying += 1,
            ReasonKind::Held => self.skipped_held += 1,
        }
    }
    pub fn skipped(&self) -> u64 {
        self.skipped_waiting + self.skipped_attention + self.skipped_retrying + self.skipped_held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_outcomes_read_back_and_a_legacy_placeholder_outcome_reads_as_cancelled() {
        for o in RunOutcome::ALL {
            assert_eq!(o.as_str().parse::<RunOutcome>(), Ok(o));
        }
        assert_eq!(
            "not_implemented".parse::<RunOutcome>(),
            Ok(RunOutcome::Cancelled)
        );
        assert!("nonsense".parse::<RunOutcome>().is_err());
    }
}
