//! What one run decided, per order, and the far-side writes it sent or, in a dry run, would
//! have sent: returned with [`crate::RunResult`] and, for a run an operator asked for or a dry
//! run, stored as the run's detail, for `job run --po` and the console's run pages.
//!
//! The requests are built by the clients' own builders (`dsco::DscoClient::plan_*`,
//! `lingxing::LingxingClient::plan_*`), so the body shown is the body sent. They never carry a
//! credential: DSCO's token travels in a header, LingXing's token and signature in the query
//! string, and neither is part of a plan.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use domain::{ReasonKind, Stage};

/// At most this many decisions are kept per run (a run handles `size` orders; the pull can
/// read more): the rest are counted in [`RunReport::left_out`].
pub const MAX_DECISIONS: usize = 2000;
/// At most this many requests are kept per run.
pub const MAX_REQUESTS: usize = 200;

/// The decisions and requests of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Nothing was written to DSCO or LingXing, nor any order moved.
    pub dry_run: bool,
    pub decisions: Vec<OrderDecision>,
    pub requests: Vec<PlannedRequest>,
    /// Decisions and requests past the caps, not kept.
    #[serde(default)]
    pub left_out: u64,
}

/// What the run decided for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDecision {
    pub po: String,
    /// The stage the order was at (its number).
    pub stage: i64,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Verdict {
    /// Moves (or, in a dry run, would move) to stage `to`.
    Advance { to: i64, note: String },
    /// Writes (or would write) to a far side: the request at index `request` of
    /// [`RunReport::requests`].
    Write { request: usize },
    /// Left where it is, for a reason.
    Skip {
        code: String,
        kind: ReasonKind,
        detail: String,
    },
}

/// Which far side a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FarSide {
    Dsco,
    Lingxing,
}

impl FarSide {
    pub fn as_str(self) -> &'static str {
        match self {
            FarSide::Dsco => "DSCO",
            FarSide::Lingxing => "LingXing",
        }
    }
}

/// One request to a far side, as built by its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRequest {
    pub far_side: FarSide,
    pub method: String,
    /// The path under the far side's base URL (with its query string, credentials excluded).
    pub path: String,
    pub body: Value,
    /// The POs it carries.
    pub pos: Vec<String>,
    /// Sent (a real run) or only built (a dry run).
    pub sent: bool,
    /// Why the client would refuse to send it (an item over the body limit), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl PlannedRequest {
    pub fn from_dsco(p: dsco::PlannedRequest, pos: Vec<String>, sent: bool) -> PlannedRequest {
        PlannedRequest {
            far_side: FarSide::Dsco,
            method: p.method.to_owned(),
            path: p.path,
            body: p.body,
            pos,
            sent,
            refused: p.refused,
        }
    }

    pub fn from_lingxing(p: lingxing::PlannedCall, pos: Vec<String>, sent: bool) -> PlannedRequest {
        PlannedRequest {
            far_side: FarSide::Lingxing,
            method: p.method.to_owned(),
            path: p.path.to_owned(),
            body: p.body,
            pos,
            sent,
            refused: None,
        }
    }

    /// The body pretty-printed.
    pub fn pretty_body(&self) -> String {
        serde_json::to_string_pretty(&self.body).unwrap_or_default()
    }
}

impl RunReport {
    /// Adds a decision (dropped past [`MAX_DECISIONS`]).
    pub fn decide(&mut self, po: &str, stage: Stage, verdict: Verdict) {
        if self.decisions.len() >= MAX_DECISIONS {
            self.left_out += 1;
            return;
        }
        self.decisions.push(OrderDecision {
            po: po.to_owned(),
            stage: stage.number(),
            verdict,
        });
    }

    /// Adds a request and a `Write` decision for each of its POs; returns its index, `None`
    /// past [`MAX_REQUESTS`].
    pub fn request(&mut self, r: PlannedRequest, stage: Stage) -> Option<usize> {
        if self.requests.len() >= MAX_REQUESTS {
            self.left_out += 1;
            return None;
        }
        let n = self.requests.len();
        for po in &r.pos {
            self.decide(po, stage, Verdict::Write { request: n });
        }
        self.requests.push(r);
        Some(n)
    }

    /// The decisions of one order, in the order they were made.
    pub fn of<'a>(&'a self, po: &'a str) -> impl Iterator<Item = &'a OrderDecision> + 'a {
        self.decisions.iter().filter(move |d| d.po == po)
    }

    /// Read back from a run's stored detail (`None` when the detail is something else).
    pub fn from_detail(v: &Value) -> Option<RunReport> {
        let r = v.get("report")?;
        serde_json::from_value(r.clone()).ok()
    }
}
