//! Reconciliation: for one order, what we recorded (stage, writes made) against what DSCO and
//! LingXing show, as findings of three kinds. Pure: the engine gathers the three sides in
//! batches and calls [`reconcile`] per order.
//!
//! - **behind**: a far side is past our stage. Nothing is written anywhere from here: the order
//!   is marked for its normal job, which advances it by the normal rules.
//! - **ahead**: we recorded a write the far side does not show.
//! - **diverged**: the sides disagree in a way no job resolves by itself (cancelled on one side
//!   only, quantities or trackings differ, the LingXing order missing or duplicated).

use std::collections::BTreeSet;
use std::fmt;

use crate::order::LxOutboundStatus;
use crate::order::{DscoLifecycle, DscoOrderView, DscoStatus, LxOrderStatus, LxOutbound};
use crate::reason::Lang;
use crate::stage::Stage;

/// The three kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    Behind,
    Ahead,
    Diverged,
}

impl FindingKind {
    pub const ALL: [FindingKind; 3] = [
        FindingKind::Behind,
        FindingKind::Ahead,
        FindingKind::Diverged,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Behind => "behind",
            FindingKind::Ahead => "ahead",
            FindingKind::Diverged => "diverged",
        }
    }
    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (FindingKind::Behind, Lang::En) => "behind",
            (FindingKind::Ahead, Lang::En) => "ahead",
            (FindingKind::Diverged, Lang::En) => "diverged",
            (FindingKind::Behind, Lang::Zh) => "落后",
            (FindingKind::Ahead, Lang::Zh) => "超前",
            (FindingKind::Diverged, Lang::Zh) => "不一致",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a finding was raised. The codes are stable (stored, shown, alert keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingCode {
    // --- behind ---
    /// DSCO has the order; we do not.
    NotPulled,
    /// DSCO cancelled it; we have not (and LingXing has nothing active for it).
    DscoCancelled,
    /// DSCO shows it acknowledged; we are before stage 3.
    DscoAcknowledged,
    /// DSCO shows it shipped; we are before stage 4.
    DscoShipped,
    /// At stage 1, but LingXing already has an order for the PO.
    LxOrderExists,
    /// At stage 2, and LingXing has audited the order.
    LxAudited,
    /// At stage 3, and LingXing shipped a package with a tracking number.
    LxShipped,
    // --- ahead ---
    /// We are at stage 3 or later (acknowledged), DSCO does not show the acknowledgement.
    AckNotShown,
    /// A tracking number we sent is not among DSCO's packages.
    TrackingNotShown,
    /// The invoice we sent is not found in DSCO.
    InvoiceNotShown,
    // --- diverged ---
    /// We have the order; DSCO does not return it.
    DscoMissing,
    /// DSCO cancelled it while LingXing still has an active order.
    CancelledDscoOnly,
    /// Every LingXing order of the PO is cancelled; DSCO's is not.
    CancelledLxOnly,
    /// We marked it cancelled; DSCO did not cancel it.
    CancelledHereOnly,
    /// We pushed it, LingXing lists no order for the PO.
    LxOrderMissing,
    /// LingXing has more than one active order (not split parts) for the PO.
    LxOrderDuplicated,
    /// LingXing's outbound quantities differ from DSCO's open quantities.
    QuantityDiffers,
    /// A tracking number on one side only.
    TrackingDiffers,
}

impl FindingCode {
    pub const ALL: [FindingCode; 18] = [
        FindingCode::NotPulled,
        FindingCode::DscoCancelled,
        FindingCode::DscoAcknowledged,
        FindingCode::DscoShipped,
        FindingCode::LxOrderExists,
        FindingCode::LxAudited,
        FindingCode::LxShipped,
        FindingCode::AckNotShown,
        FindingCode::TrackingNotShown,
        FindingCode::InvoiceNotShown,
        FindingCode::DscoMissing,
        FindingCode::CancelledDscoOnly,
        FindingCode::CancelledLxOnly,
        FindingCode::CancelledHereOnly,
        FindingCode::LxOrderMissing,
        FindingCode::LxOrderDuplicated,
        FindingCode::QuantityDiffers,
        FindingCode::TrackingDiffers,
    ];

    pub fn as_str(self) -> &'static str {
        use FindingCode::*;
        match self {
            NotPulled => "not_pulled",
            DscoCancelled => "dsco_cancelled",
            DscoAcknowledged => "dsco_acknowledged",
            DscoShipped => "dsco_shipped",
            LxOrderExists => "lx_order_exists",
            LxAudited => "lx_audited",
            LxShipped => "lx_shipped",
            AckNotShown => "ack_not_shown",
            TrackingNotShown => "tracking_not_shown",
            InvoiceNotShown => "invoice_not_shown",
            DscoMissing => "dsco_missing",
            CancelledDscoOnly => "cancelled_dsco_only",
            CancelledLxOnly => "cancelled_lx_only",
            CancelledHereOnly => "cancelled_here_only",
            LxOrderMissing => "lx_order_missing",
            LxOrderDuplicated => "lx_order_duplicated",
            QuantityDiffers => "quantity_differs",
            TrackingDiffers => "tracking_differs",
        }
    }

    pub fn parse(s: &str) -> Option<FindingCode> {
        FindingCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn kind(self) -> FindingKind {
        use FindingCode::*;
        match self {
            NotPulled | DscoCancelled | DscoAcknowledged | DscoShipped | LxOrderExists
            | LxAudited | LxShipped => FindingKind::Behind,
            AckNotShown | TrackingNotShown | InvoiceNotShown => FindingKind::Ahead,
            DscoMissing | CancelledDscoOnly | CancelledLxOnly | CancelledHereOnly
            | LxOrderMissing | LxOrderDuplicated | QuantityDiffers | TrackingDiffers => {
                FindingKind::Diverged
            }
        }
    }

    /// What the finding means, in `lang`.
    pub fn message(self, lang: Lang) -> &'static str {
        use FindingCode::*;
        match lang {
            Lang::En => match self {
                NotPulled => "DSCO has this order but the service has not pulled it",
                DscoCancelled => {
                    "DSCO cancelled this order; the service has not recorded the cancellation"
                }
                DscoAcknowledged => {
                    "DSCO shows the order acknowledged; the service is at an earlier stage"
                }
                DscoShipped => "DSCO shows the order shipped; the service is at an earlier stage",
                LxOrderExists => {
                    "LingXing already has an order for this PO; the service has not recorded the push"
                }
                LxAudited => {
                    "LingXing has audited the order; the service has not acknowledged it yet"
                }
                LxShipped => {
                    "LingXing shipped a package with a tracking number; the service has not sent the shipment yet"
                }
                AckNotShown => {
                    "the service recorded the acknowledgement but DSCO does not show the order acknowledged"
                }
                TrackingNotShown => {
                    "a tracking number the service sent is not among DSCO's packages"
                }
                InvoiceNotShown => "the invoice the service sent is not found in DSCO",
                DscoMissing => "the service has this order but DSCO does not return it",
                CancelledDscoOnly => {
                    "DSCO cancelled the order but LingXing still has an active order for it"
                }
                CancelledLxOnly => {
                    "every LingXing order of the PO is cancelled but DSCO's order is not"
                }
                CancelledHereOnly => {
                    "the service marked the order cancelled but DSCO did not cancel it"
                }
                LxOrderMissing => {
                    "the service pushed the order but LingXing lists no order for the PO"
                }
                LxOrderDuplicated => {
                    "LingXing has more than one active order (not split parts) for the PO"
                }
                QuantityDiffers => {
                    "LingXing's outbound quantities differ from DSCO's open quantities"
                }
                TrackingDiffers => {
                    "a tracking number is on one side only (DSCO packages vs LingXing outbound orders)"
                }
            },
            Lang::Zh => match self {
                NotPulled => "DSCO 有此订单，但本服务尚未拉取",
                DscoCancelled => "DSCO 已取消此订单，本服务尚未记录取消",
                DscoAcknowledged => "DSCO 显示订单已 ACK，本服务仍在较早阶段",
                DscoShipped => "DSCO 显示订单已发货，本服务仍在较早阶段",
                LxOrderExists => "领星已有此 PO 的订单，本服务尚未记录推单",
                LxAudited => "领星已审核此订单，本服务尚未回传 ACK",
                LxShipped => "领星已发出带运单号的包裹，本服务尚未回传发货",
                AckNotShown => "本服务记录已回传 ACK，但 DSCO 未显示订单已确认",
                TrackingNotShown => "本服务已回传的运单号不在 DSCO 的包裹中",
                InvoiceNotShown => "本服务已回传的发票在 DSCO 中查不到",
                DscoMissing => "本服务有此订单，但 DSCO 查不到",
                CancelledDscoOnly => "DSCO 已取消订单，但领星仍有有效订单",
                CancelledLxOnly => "此 PO 的领星订单均已取消，但 DSCO 订单未取消",
                CancelledHereOnly => "本服务已标记订单取消，但 DSCO 未取消",
                LxOrderMissing => "本服务已推单，但领星查不到此 PO 的订单",
                LxOrderDuplicated => "领星有此 PO 的多个有效订单（非拆单）",
                QuantityDiffers => "领星出库数量与 DSCO 未取消数量不一致",
                TrackingDiffers => "运单号只在一侧存在（DSCO 包裹与领星出库单不一致）",
            },
        }
    }

    /// What to do about it, in `lang`.
    pub fn action(self, lang: Lang) -> &'static str {
        use FindingCode::*;
        match (self.kind(), self, lang) {
            (_, NotPulled, Lang::En) => {
                "nothing if pull_dsco_orders is on (its next run pulls it); otherwise run it"
            }
            (_, NotPulled, Lang::Zh) => {
                "若 pull_dsco_orders 已开启则无需处理（下次运行会拉取）；否则手动运行它"
            }
            (FindingKind::Behind, _, Lang::En) => {
                "nothing: the order is marked for its job, which advances it by the normal rules on its next run"
            }
            (FindingKind::Behind, _, Lang::Zh) => {
                "无需处理：订单已标记，其任务下次运行时按正常规则推进"
            }
            (_, AckNotShown, Lang::En) => {
                "check the ACK intent on the order page; if DSCO refused it, force the order back to stage 2 so the ACK is sent again"
            }
            (_, AckNotShown, Lang::Zh) => {
                "在订单页查看 ACK 记录；若 DSCO 拒绝，强制退回阶段 2 以重新回传 ACK"
            }
            (_, TrackingNotShown, Lang::En) => {
                "check the shipment intent on the order page and DSCO's shipment log; re-send the shipment if DSCO never took it"
            }
            (_, TrackingNotShown, Lang::Zh) => {
                "在订单页查看发货记录和 DSCO 发货日志；若 DSCO 未接收则重新回传发货"
            }
            (_, InvoiceNotShown, Lang::En) => {
                "check the invoice intent and DSCO's invoice log; re-send the invoice if DSCO never took it"
            }
            (_, InvoiceNotShown, Lang::Zh) => {
                "查看发票记录和 DSCO 发票日志；若 DSCO 未接收则重新回传发票"
            }
            (_, DscoMissing, Lang::En) => {
                "look the PO up in DSCO's portal; if it was removed there, ignore or force the order"
            }
            (_, DscoMissing, Lang::Zh) => "在 DSCO 后台查询此 PO；若已被删除，忽略或强制处理此订单",
            (_, CancelledDscoOnly, Lang::En) => {
                "cancel the LingXing order (or enable auto_cancel_in_lingxing) before it ships"
            }
            (_, CancelledDscoOnly, Lang::Zh) => {
                "在发货前取消领星订单（或开启 auto_cancel_in_lingxing）"
            }
            (_, CancelledLxOnly, Lang::En) => {
                "either cancel the order in DSCO or restore the LingXing order so it ships"
            }
            (_, CancelledLxOnly, Lang::Zh) => "在 DSCO 取消订单，或恢复领星订单使其发货",
            (_, CancelledHereOnly, Lang::En) => {
                "check DSCO: if the order is still wanted, force it back to the right stage"
            }
            (_, CancelledHereOnly, Lang::Zh) => "检查 DSCO：若订单仍需履行，强制退回到正确阶段",
            (_, LxOrderMissing, Lang::En) => {
                "look the PO up in LingXing (deleted?); force the order back to stage 1 to push it again if it is gone"
            }
            (_, LxOrderMissing, Lang::Zh) => {
                "在领星查询此 PO（是否被删除）；若已不存在，强制退回阶段 1 重新推单"
            }
            (_, LxOrderDuplicated, Lang::En) => {
                "cancel the extra LingXing order before it ships twice"
            }
            (_, LxOrderDuplicated, Lang::Zh) => "取消多余的领星订单，避免重复发货",
            (_, QuantityDiffers, Lang::En) => {
                "compare the lines in DSCO and LingXing; fix the LingXing order or cancel the extra units in DSCO"
            }
            (_, QuantityDiffers, Lang::Zh) => {
                "对比 DSCO 与领星的行项目；修正领星订单或在 DSCO 取消多余数量"
            }
            (_, TrackingDiffers, Lang::En) => {
                "compare the packages in DSCO with LingXing's outbound orders; send the missing shipment or correct it in DSCO"
            }
            (_, TrackingDiffers, Lang::Zh) => {
                "对比 DSCO 包裹与领星出库单；补发缺失的发货或在 DSCO 更正"
            }
            (_, _, Lang::En) => "check the order on both sides",
            (_, _, Lang::Zh) => "在两侧核对此订单",
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: its code (which gives its kind and texts) and the facts behind it (English,
/// names and numbers only, shown beside the texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: FindingCode,
    pub detail: String,
}

impl Finding {
    fn new(code: FindingCode, detail: impl Into<String>) -> Finding {
        Finding {
            code,
            detail: detail.into(),
        }
    }
    pub fn kind(&self) -> FindingKind {
        self.code.kind()
    }
}

/// What we recorded for the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ours {
    pub stage: Option<Stage>,
    /// LingXing order numbers we stored.
    pub lingxing_order_nos: Vec<String>,
    /// Tracking numbers we sent to DSCO (confirmed or submitted).
    pub trackings_sent: Vec<String>,
    /// The invoice id we sent, if any.
    pub invoice_id: Option<String>,
}

/// DSCO's side of the order.
#[derive(Debug, Clone, Copy)]
pub enum DscoSide<'a> {
    /// Not read (nothing about DSCO is concluded).
    NotRead,
    /// Read, and DSCO has no such order.
    Missing,
    Order(&'a DscoOrderView),
}

/// One LingXing order of the PO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxEntry {
    pub no: String,
    pub status: LxOrderStatus,
    /// A part of a split order (several parts of one PO are normal).
    pub split: bool,
}

/// LingXing's side: `None` where not read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LxSide<'a> {
    pub orders: Option<&'a [LxEntry]>,
    pub outbounds: Option<&'a [LxOutbound]>,
}

/// Compares the three sides of one order. `ours` is `None` when we do not have the order;
/// `invoice_found` is `None` when DSCO's invoices were not looked up.
pub fn reconcile(
    ours: &Ours,
    dsco: DscoSide<'_>,
    invoice_found: Option<bool>,
    lx: LxSide<'_>,
) -> Vec<Finding> {
    use FindingCode::*;
    let mut out = Vec::new();
    let Some(stage) = ours.stage else {
        if let DscoSide::Order(d) = dsco {
            out.push(Finding::new(
                NotPulled,
                format!("DSCO dscoStatus={}", d.status_text()),
            ));
        }
        return out;
    };
    let dsco_order = match dsco {
        DscoSide::Missing => {
            out.push(Finding::new(
                DscoMissing,
                format!("our stage {}", stage.number()),
            ));
            None
        }
        DscoSide::Order(d) => Some(d),
        DscoSide::NotRead => None,
    };
    let active: Vec<&LxEntry> = lx
        .orders
        .unwrap_or_default()
        .iter()
        .filter(|e| !e.status.is_cancelled())
        .collect();
    let listed = lx.orders.map(<[LxEntry]>::len).unwrap_or(0);
    let dsco_cancelled = dsco_order.is_some_and(DscoOrderView::is_cancelled);

    // Cancellation first: on any side, it decides what else is worth comparing.
    if dsco_cancelled || stage == Stage::Cancelled {
        if dsco_cancelled && lx.orders.is_some() && !active.is_empty() {
            out.push(Finding::new(
                CancelledDscoOnly,
                format!("active LingXing orders: {}", nos(&active)),
            ));
        } else if dsco_cancelled && stage != Stage::Cancelled && stage != Stage::Done {
            out.push(Finding::new(
                DscoCancelled,
                format!("our stage {}", stage.number()),
            ));
        }
        if stage == Stage::Cancelled
            && let Some(d) = dsco_order
            && !d.is_cancelled()
        {
            out.push(Finding::new(
                CancelledHereOnly,
                format!("DSCO dscoStatus={}", d.status_text()),
            ));
        }
        return out;
    }
    if lx.orders.is_some() && listed > 0 && active.is_empty() {
        let shipped = dsco_order.is_some_and(DscoOrderView::is_shipped);
        if !shipped {
            out.push(Finding::new(
                CancelledLxOnly,
                format!("cancelled LingXing orders: {listed}"),
            ));
        }
    }

    // Behind: a far side past our stage.
    if let Some(d) = dsco_order {
        if d.is_shipped() && stage < Stage::Shipped {
            out.push(Finding::new(
                DscoShipped,
                format!("DSCO dscoStatus=shipped, our stage {}", stage.number()),
            ));
        } else if matches!(
            d.lifecycle,
            Some(DscoLifecycle::Acknowledged | DscoLifecycle::Completed)
        ) && stage < Stage::Acknowledged
        {
            out.push(Finding::new(
                DscoAcknowledged,
                format!(
                    "DSCO dscoLifecycle={}, our stage {}",
                    d.lifecycle_text(),
                    stage.number()
                ),
            ));
        }
    }
    if lx.orders.is_some() {
        match stage {
            Stage::Pulled if !active.is_empty() => out.push(Finding::new(
                LxOrderExists,
                format!("LingXing orders: {}", nos(&active)),
            )),
            Stage::Pushed if active.iter().any(|e| e.status.is_audited()) => out.push(
                Finding::new(LxAudited, format!("LingXing orders: {}", statuses(&active))),
            ),
            _ => {}
        }
    }
    let shipped_trackings: BTreeSet<&str> = lx
        .outbounds
        .unwrap_or_default()
        .iter()
        .filter(|w| w.status == LxOutboundStatus::Shipped)
        .filter_map(|w| w.tracking_no.as_deref())
        .filter(|t| !t.is_empty())
        .collect();
    if stage == Stage::Acknowledged && !shipped_trackings.is_empty() {
        out.push(Finding::new(
            LxShipped,
            format!("LingXing tracking: {}", join(&shipped_trackings)),
        ));
    }

    // Ahead: a write we recorded that the far side does not show.
    if let Some(d) = dsco_order {
        let acked = matches!(
            d.lifecycle,
            Some(DscoLifecycle::Acknowledged | DscoLifecycle::Completed)
        ) || matches!(
            d.status,
            Some(DscoStatus::Shipped | DscoStatus::ShipmentPending)
        );
        if stage >= Stage::Acknowledged && !acked {
            out.push(Finding::new(
                AckNotShown,
                format!(
                    "our stage {}, DSCO dscoStatus={} dscoLifecycle={}",
                    stage.number(),
                    d.status_text(),
                    d.lifecycle_text()
                ),
            ));
        }
        let in_dsco: BTreeSet<&str> = d.packages.iter().map(String::as_str).collect();
        let missing: BTreeSet<&str> = ours
            .trackings_sent
            .iter()
            .map(String::as_str)
            .filter(|t| !in_dsco.contains(t))
            .collect();
        if !missing.is_empty() {
            out.push(Finding::new(
                TrackingNotShown,
                format!("sent but not in DSCO: {}", join(&missing)),
            ));
        }
        // Diverged trackings: DSCO has a package LingXing never shipped, or LingXing shipped
        // a package DSCO does not have after we moved past shipping.
        if let Some(outbounds) = lx.outbounds.filter(|w| !w.is_empty()) {
            let lx_all: BTreeSet<&str> = outbounds
                .iter()
                .filter_map(|w| w.tracking_no.as_deref())
                .collect();
            let dsco_only: BTreeSet<&str> = in_dsco
                .iter()
                .copied()
                .filter(|t| !lx_all.contains(t))
                .collect();
            let sent: BTreeSet<&str> = ours.trackings_sent.iter().map(String::as_str).collect();
            let lx_only: BTreeSet<&str> = if stage >= Stage::Shipped {
                shipped_trackings
                    .iter()
                    .copied()
                    .filter(|t| !in_dsco.contains(t) && !sent.contains(t))
                    .collect()
            } else {
                BTreeSet::new()
            };
            if !dsco_only.is_empty() || !lx_only.is_empty() {
                let mut parts = Vec::new();
                if !dsco_only.is_empty() {
                    parts.push(format!("DSCO only: {}", join(&dsco_only)));
                }
                if !lx_only.is_empty() {
                    parts.push(format!("LingXing only: {}", join(&lx_only)));
                }
                out.push(Finding::new(TrackingDiffers, parts.join("; ")));
            }
            let lx_units: i64 = outbounds
                .iter()
                .filter(|w| w.status != LxOutboundStatus::Intercepted)
                .flat_map(|w| w.counted_items())
                .map(|i| i.count)
                .sum();
            let dsco_units: i64 = d.lines.iter().map(|l| l.expected()).sum();
            let any_live = outbounds
                .iter()
                .any(|w| w.status != LxOutboundStatus::Intercepted);
            if any_live && lx_units != dsco_units {
                out.push(Finding::new(
                    QuantityDiffers,
                    format!("DSCO units {dsco_units}, LingXing outbound units {lx_units}"),
                ));
            }
        }
    }
    if let (Some(id), Some(false)) = (ours.invoice_id.as_deref(), invoice_found) {
        out.push(Finding::new(InvoiceNotShown, format!("invoice id {id}")));
    }

    // LingXing order missing or duplicated.
    if let Some(orders) = lx.orders
        && stage >= Stage::Pushed
    {
        if orders.is_empty() {
            let ours_nos = if ours.lingxing_order_nos.is_empty() {
                "-".to_owned()
            } else {
                ours.lingxing_order_nos.join(",")
            };
            out.push(Finding::new(
                LxOrderMissing,
                format!(
                    "our stage {}, our LingXing orders: {ours_nos}",
                    stage.number()
                ),
            ));
        }
        let whole: Vec<&LxEntry> = active.iter().copied().filter(|e| !e.split).collect();
        if whole.len() > 1 {
            out.push(Finding::new(
                LxOrderDuplicated,
                format!("active LingXing orders: {}", nos(&whole)),
            ));
        }
    }
    out
}

fn nos(entries: &[&LxEntry]) -> String {
    entries
        .iter()
        .map(|e| e.no.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn statuses(entries: &[&LxEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{}(status {})", e.no, e.status))
        .collect::<Vec<_>>()
        .join(",")
}

fn join(s: &BTreeSet<&str>) -> String {
    s.iter().copied().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::LxOutboundItem;
    use serde_json::json;

    fn dsco(status: &str, lifecycle: &str, qty: i64, packages: &[&str]) -> DscoOrderView {
        let pk: Vec<_> = packages
            .iter()
            .map(|t| json!({"trackingNumber": t}))
            .collect();
        DscoOrderView::from_payload(&json!({
            "poNumber": "PO-1", "dscoStatus": status, "dscoLifecycle": lifecycle,
            "lineItems": [{"lineNumber": 1, "sku": "S1", "quantity": qty}],
            "packages": pk,
        }))
        .unwrap()
    }

    fn ours(stage: Stage) -> Ours {
        Ours {
            stage: Some(stage),
            lingxing_order_nos: vec!["LX1".into()],
            ..Ours::default()
        }
    }

    fn lx(no: &str, status: i64) -> LxEntry {
        LxEntry {
            no: no.into(),
            status: LxOrderStatus::from_code(status),
            split: false,
        }
    }

    fn outbound(status: i64, tracking: Option<&str>, count: i64) -> LxOutbound {
        LxOutbound {
            carrier: None,
            delivered_at: None,
            items: vec![LxOutboundItem {
                bundle_type: 0,
                count,
                msku: None,
                sku: "LX-S1".into(),
            }],
            order_number: None,
            platform_order_nos: vec![],
            status: crate::order::LxOutboundStatus::from_code(status),
            stock_delivered_at: None,
            tracking_no: tracking.map(str::to_owned),
            wo_number: "WO1".into(),
        }
    }

    fn codes(f: &[Finding]) -> Vec<FindingCode> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn agreeing_sides_give_no_finding() {
        let d = dsco("shipped", "completed", 1, &["T1"]);
        let orders = [lx("LX1", 6)];
        let outs = [outbound(3, Some("T1"), 1)];
        let mut o = ours(Stage::Done);
        o.trackings_sent = vec!["T1".into()];
        o.invoice_id = Some("INV-1".into());
        let f = reconcile(
            &o,
            DscoSide::Order(&d),
            Some(true),
            LxSide {
                orders: Some(&orders),
                outbounds: Some(&outs),
            },
        );
        assert_eq!(f, vec![]);
        // Just pushed and waiting for the audit: no finding either.
        let d = dsco("created", "created", 1, &[]);
        let orders = [lx("LX1", 4)];
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(f, vec![]);
    }

    #[test]
    fn behind_findings() {
        // Not pulled.
        let d = dsco("created", "created", 1, &[]);
        let f = reconcile(
            &Ours::default(),
            DscoSide::Order(&d),
            None,
            LxSide::default(),
        );
        assert_eq!(codes(&f), [FindingCode::NotPulled]);
        assert_eq!(f[0].kind(), FindingKind::Behind);
        // DSCO shipped while we wait for the audit; LingXing audited.
        let d = dsco("shipped", "acknowledged", 1, &["T1"]);
        let orders = [lx("LX1", 5)];
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(
            codes(&f),
            [FindingCode::DscoShipped, FindingCode::LxAudited]
        );
        assert!(f.iter().all(|f| f.kind() == FindingKind::Behind));
        // Acknowledged in DSCO while at stage 1 with a LingXing order already there.
        let d = dsco("shipment_pending", "acknowledged", 1, &[]);
        let orders = [lx("LX1", 4)];
        let f = reconcile(
            &ours(Stage::Pulled),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(
            codes(&f),
            [FindingCode::DscoAcknowledged, FindingCode::LxOrderExists]
        );
        // LingXing shipped while we wait at stage 3.
        let d = dsco("shipment_pending", "acknowledged", 1, &[]);
        let orders = [lx("LX1", 6)];
        let outs = [outbound(3, Some("T9"), 1)];
        let f = reconcile(
            &ours(Stage::Acknowledged),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: Some(&outs),
            },
        );
        assert_eq!(codes(&f), [FindingCode::LxShipped]);
        // DSCO cancelled, nothing active in LingXing.
        let d = dsco("cancelled", "completed", 1, &[]);
        let f = reconcile(
            &ours(Stage::Pulled),
            DscoSide::Order(&d),
            None,
            LxSide::default(),
        );
        assert_eq!(codes(&f), [FindingCode::DscoCancelled]);
    }

    #[test]
    fn ahead_findings() {
        let d = dsco("created", "created", 1, &[]);
        let orders = [lx("LX1", 6)];
        let mut o = ours(Stage::Done);
        o.trackings_sent = vec!["T1".into()];
        o.invoice_id = Some("INV-1".into());
        let f = reconcile(
            &o,
            DscoSide::Order(&d),
            Some(false),
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(
            codes(&f),
            [
                FindingCode::AckNotShown,
                FindingCode::TrackingNotShown,
                FindingCode::InvoiceNotShown
            ]
        );
        assert!(f.iter().all(|f| f.kind() == FindingKind::Ahead));
        assert!(f[1].detail.contains("T1"), "{:?}", f[1]);
        // The invoice not looked up: nothing concluded about it.
        let f = reconcile(&o, DscoSide::Order(&d), None, LxSide::default());
        assert!(!codes(&f).contains(&FindingCode::InvoiceNotShown));
    }

    #[test]
    fn diverged_findings() {
        // Cancelled in DSCO only.
        let d = dsco("cancelled", "completed", 1, &[]);
        let orders = [lx("LX1", 5)];
        let f = reconcile(
            &ours(Stage::Acknowledged),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(codes(&f), [FindingCode::CancelledDscoOnly]);
        assert_eq!(f[0].kind(), FindingKind::Diverged);
        // Cancelled in LingXing only.
        let d = dsco("shipment_pending", "acknowledged", 1, &[]);
        let orders = [lx("LX1", 7)];
        let f = reconcile(
            &ours(Stage::Acknowledged),
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: None,
            },
        );
        assert_eq!(codes(&f), [FindingCode::CancelledLxOnly]);
        // Cancelled here only.
        let f = reconcile(
            &ours(Stage::Cancelled),
            DscoSide::Order(&d),
            None,
            LxSide::default(),
        );
        assert_eq!(codes(&f), [FindingCode::CancelledHereOnly]);
        // Missing and duplicated LingXing orders; split parts are not duplicates.
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Order(&dsco("created", "created", 1, &[])),
            None,
            LxSide {
                orders: Some(&[]),
                outbounds: None,
            },
        );
        assert_eq!(codes(&f), [FindingCode::LxOrderMissing]);
        let two = [lx("LX1", 4), lx("LX2", 4)];
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Order(&dsco("created", "created", 1, &[])),
            None,
            LxSide {
                orders: Some(&two),
                outbounds: None,
            },
        );
        assert_eq!(codes(&f), [FindingCode::LxOrderDuplicated]);
        let mut split = two.clone();
        split.iter_mut().for_each(|e| e.split = true);
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Order(&dsco("created", "created", 1, &[])),
            None,
            LxSide {
                orders: Some(&split),
                outbounds: None,
            },
        );
        assert_eq!(f, vec![]);
        // Quantities and trackings differ.
        let d = dsco("shipped", "completed", 2, &["T1", "T2"]);
        let orders = [lx("LX1", 6)];
        let outs = [outbound(3, Some("T1"), 1), outbound(3, Some("T3"), 2)];
        let mut o = ours(Stage::Shipped);
        o.trackings_sent = vec!["T1".into(), "T2".into()];
        let f = reconcile(
            &o,
            DscoSide::Order(&d),
            None,
            LxSide {
                orders: Some(&orders),
                outbounds: Some(&outs),
            },
        );
        assert_eq!(
            codes(&f),
            [FindingCode::TrackingDiffers, FindingCode::QuantityDiffers]
        );
        assert_eq!(f[0].detail, "DSCO only: T2; LingXing only: T3");
        assert_eq!(f[1].detail, "DSCO units 2, LingXing outbound units 3");
        // DSCO does not have it.
        let f = reconcile(
            &ours(Stage::Pushed),
            DscoSide::Missing,
            None,
            LxSide::default(),
        );
        assert_eq!(codes(&f), [FindingCode::DscoMissing]);
    }

    #[test]
    fn catalogue_is_complete() {
        let mut seen = BTreeSet::new();
        for c in FindingCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(FindingCode::parse(c.as_str()), Some(c));
            for lang in [Lang::En, Lang::Zh] {
                assert!(!c.message(lang).is_empty());
                assert!(!c.action(lang).is_empty());
            }
            assert_ne!(c.message(Lang::En), c.message(Lang::Zh));
        }
        for k in FindingKind::ALL {
            assert_eq!(FindingKind::parse(k.as_str()), Some(k));
            assert!(FindingCode::ALL.iter().any(|c| c.kind() == k));
        }
    }
}
