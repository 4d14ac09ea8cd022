//! The rules of the operator actions (issue 16): what an operator may do to an order by hand,
//! and what the jobs do after. Pure functions; the engine's `ops` module applies them, the
//! console and the CLI only show their answers.

use crate::reason::{Lang, ReasonCode};
use crate::stage::Stage;

/// The longest reason text kept with an action.
pub const REASON_MAX_CHARS: usize = 500;

/// The reason every operator action carries, trimmed; refused when empty or too long.
pub fn check_reason(reason: &str) -> Result<&str, String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(
            "reason: say why (every operator action is kept in the audit log with its reason)"
                .into(),
        );
    }
    if r.chars().count() > REASON_MAX_CHARS {
        return Err(format!(
            "reason: at most {REASON_MAX_CHARS} characters, got {}",
            r.chars().count()
        ));
    }
    Ok(r)
}

/// Whether an operator may force an order from `from` to `to`; `reason_code` is the order's
/// current reason. Refusals name the rule.
///
/// - `force.forward_only`: forward through 1 → 5, or to 6 cancelled from below 5.
/// - `force.recreate_missing`: the one way back: 2 → 1 when the LingXing order is missing
///   (`lingxing_order_missing`), so that the next push creates it again (the fix that reason's
///   message names).
pub fn force_guard(from: Stage, to: Stage, reason_code: Option<&str>) -> Result<(), String> {
    if from == to {
        return Err(format!(
            "rule force.forward_only: the order is already at stage {to}"
        ));
    }
    if from.can_advance_to(to) {
        return Ok(());
    }
    if from == Stage::Pushed
        && to == Stage::Pulled
        && reason_code == Some(ReasonCode::LingxingOrderMissing.as_str())
    {
        return Ok(());
    }
    let why = if from.is_terminal() {
        format!("stage {from} is final")
    } else {
        format!("{from} → {to} is a backward move")
    };
    Err(format!(
        "rule force.forward_only: {why}; an operator may force an order only forward (1 → 5) or to 6 cancelled (the one way back: 2 → 1 when the LingXing order is missing, rule force.recreate_missing)"
    ))
}

/// What the jobs will and will not do once an order is forced from `from` to `to`: the
/// confirmation page and the CLI show it before the move.
pub fn force_consequences(from: Stage, to: Stage, lang: Lang) -> Vec<String> {
    let zh = lang == Lang::Zh;
    let mut out = Vec::new();
    let t = |en: &str, zh_text: &str| {
        if zh {
            zh_text.to_owned()
        } else {
            en.to_owned()
        }
    };
    if to == Stage::Cancelled {
        out.push(t(
            "Nothing more is done for this order: no job pushes, acknowledges, ships or invoices it.",
            "此订单不再处理：任何任务都不会再推单、确认、回传发货或发票。",
        ));
        if from >= Stage::Pushed {
            out.push(t(
                "The LingXing order is not cancelled by this service: cancel or intercept it in LingXing yourself.",
                "本服务不会取消领星订单：请在领星自行取消或拦截。",
            ));
        }
        return out;
    }
    if to == Stage::Pulled {
        out.push(t(
            "push_to_lingxing creates the LingXing order again (it first checks that none exists).",
            "push_to_lingxing 将重新创建领星订单（先确认领星中不存在）。",
        ));
        return out;
    }
    let skipped: &[(Stage, &str, &str)] = &[
        (
            Stage::Pushed,
            "The order is not pushed to LingXing by this service (it must exist there already).",
            "本服务不会把订单推送到领星（领星中须已有此单）。",
        ),
        (
            Stage::Acknowledged,
            "The ACK is not sent to DSCO by this service.",
            "本服务不会向 DSCO 发送 ACK。",
        ),
        (
            Stage::Shipped,
            "No shipment is sent to DSCO by this service.",
            "本服务不会向 DSCO 回传发货。",
        ),
        (
            Stage::Done,
            "No invoice is sent to DSCO by this service.",
            "本服务不会向 DSCO 回传发票。",
        ),
    ];
    // Stage s is left by the job that writes `skipped[s]`: every stage passed over skips it.
    for (next, en, z) in skipped {
        if *next > from && *next <= to {
            out.push(t(en, z));
        }
    }
    let then: Option<(&str, &str)> = match to {
        Stage::Pushed => Some((
            "Then ack_to_dsco reads the LingXing order and sends the ACK when it is audited.",
            "之后 ack_to_dsco 读取领星订单，审核后发送 ACK。",
        )),
        Stage::Acknowledged => Some((
            "Then ship_to_dsco sends the shipments LingXing shows.",
            "之后 ship_to_dsco 回传领星显示的发货。",
        )),
        Stage::Shipped => Some((
            "Then invoice_to_dsco sends the invoice.",
            "之后 invoice_to_dsco 回传发票。",
        )),
        Stage::Done => Some((
            "Nothing more is done for this order: it is complete.",
            "此订单不再处理：已完成。",
        )),
        _ => None,
    };
    if let Some((en, z)) = then {
        out.push(t(en, z));
    }
    out
}

/// The mappings an operator can set with `mapping set` (and the console's fix-the-cause form).
pub const MAPPINGS: [&str; 5] = ["shop", "warehouse", "shipment", "carrier", "sku"];

/// The mapping entry whose absence is the cause `code` with `subject`: (mapping name, key).
/// `None` when the cause is not a missing mapping entry, or names no key (an order without a
/// retailer or warehouse: the subject is a parenthesised remark).
pub fn mapping_for_cause(code: &str, subject: &str) -> Option<(&'static str, String)> {
    let name = match ReasonCode::parse(code)? {
        ReasonCode::ShopUnmapped => "shop",
        ReasonCode::WarehouseUnmapped => "warehouse",
        ReasonCode::ShipmentUnmapped => "shipment",
        _ => return None,
    };
    let key = subject.trim();
    if key.is_empty() || key.starts_with('(') {
        return None;
    }
    Some((name, key.to_owned()))
}

/// The reason code of the orders that wait on mapping `name`'s entry (`None` for `carrier` and
/// `sku`, whose orders are found by other means).
pub fn cause_of_mapping(name: &str) -> Option<ReasonCode> {
    match name {
        "shop" => Some(ReasonCode::ShopUnmapped),
        "warehouse" => Some(ReasonCode::WarehouseUnmapped),
        "shipment" => Some(ReasonCode::ShipmentUnmapped),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_required() {
        assert!(check_reason("  ").unwrap_err().contains("reason"));
        assert_eq!(check_reason(" fixed it ").unwrap(), "fixed it");
        assert!(check_reason(&"x".repeat(501)).is_err());
    }

    #[test]
    fn force_goes_forward_or_to_cancelled() {
        assert!(force_guard(Stage::Pulled, Stage::Acknowledged, None).is_ok());
        assert!(force_guard(Stage::Shipped, Stage::Cancelled, None).is_ok());
        let e = force_guard(Stage::Shipped, Stage::Acknowledged, None).unwrap_err();
        assert!(
            e.contains("force.forward_only") && e.contains("backward"),
            "{e}"
        );
        let e = force_guard(Stage::Done, Stage::Cancelled, None).unwrap_err();
        assert!(e.contains("final"), "{e}");
        assert!(force_guard(Stage::Pushed, Stage::Pushed, None).is_err());
        assert!(force_guard(Stage::Pushed, Stage::Pulled, None).is_err());
        assert!(force_guard(Stage::Pushed, Stage::Pulled, Some("lingxing_order_missing")).is_ok());
    }

    #[test]
    fn consequences_name_what_is_skipped() {
        let c = force_consequences(Stage::Pushed, Stage::Acknowledged, Lang::En).join(" ");
        assert!(c.contains("ACK is not sent"), "{c}");
        assert!(!c.contains("shipment is sent"), "{c}");
        let c = force_consequences(Stage::Pulled, Stage::Cancelled, Lang::En).join(" ");
        assert!(c.contains("Nothing more"), "{c}");
        let zh = force_consequences(Stage::Pulled, Stage::Shipped, Lang::Zh);
        let en = force_consequences(Stage::Pulled, Stage::Shipped, Lang::En);
        assert_eq!(zh.len(), en.len());
        assert_eq!(en.len(), 4, "{en:?}");
    }

    #[test]
    fn causes_name_their_mapping() {
        assert_eq!(
            mapping_for_cause("shop_unmapped", "1000012345"),
            Some(("shop", "1000012345".into()))
        );
        assert_eq!(
            mapping_for_cause("shop_unmapped", "(the order has no dscoRetailerId)"),
            None
        );
        assert_eq!(mapping_for_cause("price_missing", "x"), None);
        assert_eq!(
            mapping_for_cause("shipment_unmapped", "WH-1-GROUND"),
            Some(("shipment", "WH-1-GROUND".into()))
        );
    }
}
