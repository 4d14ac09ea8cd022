//! The predecessor's (the Go service's) order rows, and the stage an imported order takes.
//!
//! Its pull overwrote `status`, `shipped_tracking_no` and `dsco_invoice_id` on every re-pull, so
//! its stored stage can be lower than what DSCO shows or what it sent. An imported order's stage
//! is the highest of: the stage its DSCO payload implies, its stored stage, and what it sent
//! (a tracking number sent: at least shipped; an invoice id: done). Cancelled wins over every
//! stage below done (as a pull's cancel does); done wins over cancelled (done is final).

use crate::order::{DscoLifecycle, DscoOrderView, DscoStatus};
use crate::stage::Stage;

/// What the predecessor knew of one order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyFacts {
    /// Its `status` column as stored (`None`: NULL).
    pub stored: Option<i64>,
    /// The DSCO state of its payload (`None`: no readable payload).
    pub dsco_status: Option<DscoStatus>,
    pub dsco_lifecycle: Option<DscoLifecycle>,
    /// Tracking numbers it sent (`shipped_tracking_no`, split, blanks dropped).
    pub trackings_sent: Vec<String>,
    /// The invoice id it sent (`dsco_invoice_id`, blank: none).
    pub invoice_id: Option<String>,
}

impl LegacyFacts {
    /// The DSCO state of a payload read as a view.
    pub fn with_view(mut self, view: &DscoOrderView) -> LegacyFacts {
        self.dsco_status = view.status.clone();
        self.dsco_lifecycle = view.lifecycle.clone();
        self
    }
}

/// Splits the predecessor's comma-joined `shipped_tracking_no` (blank and repeated numbers
/// dropped, order kept).
pub fn split_trackings(text: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in text.unwrap_or("").split(',').map(str::trim) {
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// Why an imported order's stage differs from the stored one, or what of its data was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correction {
    /// DSCO's payload shows a later stage (its status or lifecycle named).
    DscoState { stage: Stage, state: String },
    /// Tracking numbers were sent: at least shipped.
    TrackingSent { count: usize },
    /// An invoice was sent: done.
    InvoiceSent { id: String },
    /// DSCO cancelled it after it reached a stage below done.
    Cancelled,
    /// Its stored status is not 1 to 6 (or NULL): not used.
    UnknownStored(Option<i64>),
    /// DSCO's state in its payload is a value this service does not know: not used.
    UnknownDscoState(String),
}

impl Correction {
    /// One line, English then Chinese.
    pub fn text(&self) -> String {
        match self {
            Correction::DscoState { stage, state } => format!(
                "DSCO shows {state}: at least {stage} / DSCO 状态为 {state}：至少 {} {}",
                stage.number(),
                stage.label_zh()
            ),
            Correction::TrackingSent { count } => format!(
                "{count} tracking number(s) were sent: at least 4 shipped / 已回传 {count} 个运单号：至少 4 待回传发票"
            ),
            Correction::InvoiceSent { id } => {
                format!("invoice {id} was sent: 5 done / 已回传发票 {id}：5 完成")
            }
            Correction::Cancelled => {
                "DSCO cancelled it: 6 cancelled / DSCO 已取消：6 已取消".to_owned()
            }
            Correction::UnknownStored(Some(n)) => {
                format!("stored status {n} is not 1 to 6: not used / 原状态 {n} 不在 1–6：未采用")
            }
            Correction::UnknownStored(None) => {
                "stored status is NULL: not used / 原状态为空：未采用".to_owned()
            }
            Correction::UnknownDscoState(s) => {
                format!("DSCO state `{s}` is not known: not used / DSCO 状态 `{s}` 未知：未采用")
            }
        }
    }
}

/// The stage an imported order takes, and why it differs from the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub stage: Stage,
    /// The stored stage when it is 1 to 6.
    pub stored: Option<Stage>,
    /// What raised the stage above the stored one (empty: the stored stage stands), and what
    /// was not used.
    pub why: Vec<Correction>,
}

impl Derived {
    /// Whether the stage differs from the stored one (an unusable stored stage counts).
    pub fn corrected(&self) -> bool {
        self.stored != Some(self.stage)
    }

    /// Whether the order is (or was, before a cancel) in LingXing: created there by the
    /// predecessor, so never created again. An order done only because DSCO shows it shipped
    /// (nothing says the predecessor handled it) is not known to be there.
    pub fn pushed(&self, facts: &LegacyFacts) -> bool {
        self.handled(facts, Stage::Pushed)
            || matches!(
                self.stage,
                Stage::Pushed | Stage::Acknowledged | Stage::Shipped
            )
    }

    /// Whether DSCO has (or had, before a cancel) its acknowledgement from the predecessor.
    pub fn acknowledged(&self, facts: &LegacyFacts) -> bool {
        self.handled(facts, Stage::Acknowledged)
            || matches!(self.stage, Stage::Acknowledged | Stage::Shipped)
    }

    /// Whether the predecessor's own data shows the order reached `at`: its stored stage, or
    /// what it sent.
    fn handled(&self, facts: &LegacyFacts, at: Stage) -> bool {
        self.stored
            .is_some_and(|s| s >= at && s != Stage::Cancelled)
            || !facts.trackings_sent.is_empty()
            || facts.invoice_id.is_some()
    }
}

/// The stage DSCO's state implies on its own, with the state named: shipped or completed → done
/// (nothing shows the predecessor handled it: DSCO shipped it itself, as a pull of an order at
/// stage 1 decides) or shipped (the predecessor pushed it: its invoice may still be due);
/// acknowledged (`shipment_pending`) → 3; cancelled → 6; created/received → 1. Also the state
/// this service does not know, if any.
fn dsco_stage(f: &LegacyFacts, handled: bool) -> (Option<(Stage, String)>, Option<String>) {
    let shipped = if handled { Stage::Shipped } else { Stage::Done };
    let by_status = match &f.dsco_status {
        Some(DscoStatus::Cancelled) => Some(Stage::Cancelled),
        Some(DscoStatus::Shipped) => Some(shipped),
        Some(DscoStatus::ShipmentPending) => Some(Stage::Acknowledged),
        Some(DscoStatus::Created) => Some(Stage::Pulled),
        Some(DscoStatus::Unknown(_)) | None => None,
    };
    let by_lifecycle = match &f.dsco_lifecycle {
        Some(DscoLifecycle::Completed) => Some(shipped),
        Some(DscoLifecycle::Acknowledged) => Some(Stage::Acknowledged),
        Some(DscoLifecycle::Created | DscoLifecycle::Received) => Some(Stage::Pulled),
        Some(DscoLifecycle::Unknown(_)) | None => None,
    };
    let unknown = match (&f.dsco_status, &f.dsco_lifecycle, by_lifecycle) {
        (Some(DscoStatus::Unknown(s)), _, None) => Some(s.clone()),
        (None, Some(DscoLifecycle::Unknown(s)), _) => Some(s.clone()),
        _ => None,
    };
    let status = |s: Stage| f.dsco_status.as_ref().map(|x| (s, x.as_str().to_owned()));
    let lifecycle = |s: Stage| {
        f.dsco_lifecycle
            .as_ref()
            .map(|x| (s, format!("lifecycle {}", x.as_str())))
    };
    let best = match (by_status, by_lifecycle) {
        (Some(Stage::Cancelled), _) | (None, None) => by_status.and_then(status),
        (Some(a), Some(b)) if b > a => lifecycle(b),
        (Some(a), _) => status(a),
        (None, Some(b)) => lifecycle(b),
    };
    (best, unknown)
}

/// The stage of an imported order (see the module's rules).
pub fn derive_stage(f: &LegacyFacts) -> Derived {
    let stored = f.stored.and_then(Stage::from_number);
    let mut why = Vec::new();
    if stored.is_none() {
        why.push(Correction::UnknownStored(f.stored));
    }
    let handled = stored.is_some_and(|s| s >= Stage::Pushed && s != Stage::Cancelled)
        || !f.trackings_sent.is_empty()
        || f.invoice_id.is_some();
    let (dsco, unknown) = dsco_stage(f, handled);
    if let Some(s) = unknown {
        why.push(Correction::UnknownDscoState(s));
    }
    // The progress (1 … 5) each source shows, with what shows it.
    let mut raised: Vec<(Stage, Correction)> = Vec::new();
    if let Some((s, state)) = &dsco
        && *s != Stage::Cancelled
    {
        let c = Correction::DscoState {
            stage: *s,
            state: state.clone(),
        };
        raised.push((*s, c));
    }
    if !f.trackings_sent.is_empty() {
        let count = f.trackings_sent.len();
        raised.push((Stage::Shipped, Correction::TrackingSent { count }));
    }
    if let Some(id) = &f.invoice_id {
        raised.push((Stage::Done, Correction::InvoiceSent { id: id.clone() }));
    }
    let base = stored
        .filter(|s| *s != Stage::Cancelled)
        .unwrap_or(Stage::Pulled);
    let progress = raised.iter().map(|(s, _)| *s).fold(base, Stage::max);
    let cancelled = stored == Some(Stage::Cancelled)
        || dsco.as_ref().is_some_and(|(s, _)| *s == Stage::Cancelled);
    let stage = if cancelled && progress < Stage::Done {
        if stored != Some(Stage::Cancelled) {
            why.push(Correction::Cancelled);
        }
        Stage::Cancelled
    } else {
        if stored != Some(progress) {
            // What reaches the stage taken explains it.
            why.extend(
                raised
                    .into_iter()
                    .filter(|(s, _)| *s == progress)
                    .map(|(_, c)| c),
            );
        }
        progress
    };
    Derived { stage, stored, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stored: Option<i64>, status: Option<&str>) -> LegacyFacts {
        LegacyFacts {
            stored,
            dsco_status: status.map(DscoStatus::parse),
            ..LegacyFacts::default()
        }
    }

    #[test]
    fn a_consistent_row_keeps_its_stage() {
        for (n, status) in [
            (1, "created"),
            (2, "created"),
            (3, "shipment_pending"),
            (4, "shipment_pending"),
            (5, "shipped"),
            (6, "cancelled"),
        ] {
            let mut f = facts(Some(n), Some(status));
            if n >= 4 && n != 6 {
                f.trackings_sent = vec!["1Z1".into()];
            }
            if n == 5 {
                f.invoice_id = Some("PO".into());
            }
            let d = derive_stage(&f);
            assert_eq!(d.stage.number(), n, "{n} {status}");
            assert!(!d.corrected(), "{n} {status}: {:?}", d.why);
            assert!(d.why.is_empty(), "{n}: {:?}", d.why);
        }
    }

    #[test]
    fn stage_1_while_dsco_says_shipped_is_done() {
        let d = derive_stage(&facts(Some(1), Some("shipped")));
        assert_eq!(d.stage, Stage::Done);
        assert!(d.corrected());
        assert!(
            matches!(&d.why[..], [Correction::DscoState { stage: Stage::Done, state }] if state == "shipped")
        );
    }

    #[test]
    fn an_order_dsco_shipped_itself_records_no_write() {
        let f = facts(Some(1), Some("shipped"));
        let d = derive_stage(&f);
        assert_eq!(d.stage, Stage::Done);
        assert!(!d.pushed(&f) && !d.acknowledged(&f));
        let f = facts(Some(2), Some("created"));
        let d = derive_stage(&f);
        assert!(d.pushed(&f) && !d.acknowledged(&f));
    }

    #[test]
    fn a_pushed_order_dsco_shows_shipped_waits_for_its_invoice() {
        // Stage 4 and DSCO shipped: the invoice is still due, not done.
        let mut f = facts(Some(4), Some("shipped"));
        f.trackings_sent = vec!["1Z1".into()];
        assert_eq!(derive_stage(&f).stage, Stage::Shipped);
        // Stage 2 (pushed) and DSCO shipped: shipped, its invoice due.
        let d = derive_stage(&facts(Some(2), Some("shipped")));
        assert_eq!(d.stage, Stage::Shipped);
        assert!(d.corrected());
    }

    #[test]
    fn blank_tracking_after_re_pull_keeps_what_dsco_shows() {
        // The re-pull set stage 1 and blanked the tracking; DSCO shows it acknowledged.
        let d = derive_stage(&facts(Some(1), Some("shipment_pending")));
        assert_eq!(d.stage, Stage::Acknowledged);
        assert!(d.pushed(&facts(Some(1), None)) || d.stage >= Stage::Pushed);
        assert_eq!(
            d.why,
            vec![Correction::DscoState {
                stage: Stage::Acknowledged,
                state: "shipment_pending".into()
            }]
        );
    }

    #[test]
    fn what_was_sent_raises_the_stage() {
        let mut f = facts(Some(1), Some("created"));
        f.trackings_sent = split_trackings(Some(" 1Z1, ,1Z2,1Z1"));
        assert_eq!(f.trackings_sent, vec!["1Z1", "1Z2"]);
        let d = derive_stage(&f);
        assert_eq!(d.stage, Stage::Shipped);
        assert_eq!(d.why, vec![Correction::TrackingSent { count: 2 }]);
        assert!(d.pushed(&f) && d.acknowledged(&f));
        f.invoice_id = Some("PO-1".into());
        let d = derive_stage(&f);
        assert_eq!(d.stage, Stage::Done);
        assert_eq!(d.why, vec![Correction::InvoiceSent { id: "PO-1".into() }]);
    }

    #[test]
    fn never_lower_than_the_stored_stage() {
        let d = derive_stage(&facts(Some(4), Some("created")));
        assert_eq!(d.stage, Stage::Shipped);
        assert!(!d.corrected());
        assert!(d.why.is_empty());
    }

    #[test]
    fn cancelled_wins_below_done_and_done_wins_over_cancelled() {
        let d = derive_stage(&facts(Some(3), Some("cancelled")));
        assert_eq!(d.stage, Stage::Cancelled);
        assert_eq!(d.why, vec![Correction::Cancelled]);
        let f = facts(Some(3), Some("cancelled"));
        assert!(d.pushed(&f) && d.acknowledged(&f), "it was in LingXing");
        let fresh = facts(Some(1), Some("cancelled"));
        let d = derive_stage(&fresh);
        assert_eq!(d.stage, Stage::Cancelled);
        assert!(!d.pushed(&fresh));
        let mut f = facts(Some(5), Some("cancelled"));
        f.invoice_id = Some("PO".into());
        assert_eq!(derive_stage(&f).stage, Stage::Done);
        // Stored cancelled, but an invoice was sent: done.
        let mut f = facts(Some(6), Some("shipped"));
        f.invoice_id = Some("PO".into());
        let d = derive_stage(&f);
        assert_eq!(d.stage, Stage::Done);
        assert!(d.corrected());
    }

    #[test]
    fn unknown_values_are_reported_not_used() {
        let d = derive_stage(&facts(Some(9), Some("created")));
        assert_eq!(d.stage, Stage::Pulled);
        assert_eq!(d.stored, None);
        assert!(d.corrected());
        assert_eq!(d.why[0], Correction::UnknownStored(Some(9)));
        assert!(
            matches!(&d.why[1..], [Correction::DscoState { stage: Stage::Pulled, state }] if state == "created"),
            "the stage taken is explained: {:?}",
            d.why
        );
        let d = derive_stage(&facts(None, None));
        assert_eq!(d.stage, Stage::Pulled);
        assert_eq!(d.why, vec![Correction::UnknownStored(None)]);
        let d = derive_stage(&facts(Some(3), Some("on_hold")));
        assert_eq!(d.stage, Stage::Acknowledged);
        assert!(!d.corrected());
        assert_eq!(d.why, vec![Correction::UnknownDscoState("on_hold".into())]);
        for c in [
            Correction::UnknownStored(None),
            Correction::Cancelled,
            Correction::TrackingSent { count: 1 },
        ] {
            let t = c.text();
            assert!(t.contains(" / "), "both languages: {t}");
        }
    }

    #[test]
    fn lifecycle_counts_when_the_status_says_nothing() {
        let f = LegacyFacts {
            stored: Some(1),
            dsco_lifecycle: Some(DscoLifecycle::Completed),
            ..LegacyFacts::default()
        };
        assert_eq!(derive_stage(&f).stage, Stage::Done);
        let f = LegacyFacts {
            stored: Some(2),
            dsco_status: Some(DscoStatus::Created),
            dsco_lifecycle: Some(DscoLifecycle::Acknowledged),
            ..LegacyFacts::default()
        };
        assert_eq!(derive_stage(&f).stage, Stage::Acknowledged);
    }
}
