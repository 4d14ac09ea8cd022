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

/// The reason catalogue (SPEC §3): why an order did not move, with the kind each belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // needs attention
    CancelledAfterPush,
    ShopUnmapped,
    WarehouseUnmapped,
    ShipmentUnmapped,
    AddressIncomplete,
    PriceMissing,
    SkuMissing,
    LingxingRejected,
    LingxingOrderMissing,
    LingxingCancelled,
    LingxingIntercepted,
    DscoRejected,
    SkuUnmatched,
    ReverseMapAmbiguous,
    // waiting
    LingxingNotAudited,
    DscoConfirmationPending,
    NoTrackingYet,
    DscoNotReady,
    AwaitingFullShipment,
    NotFullyShipped,
    ShipmentsUnconfirmed,
    // retrying
    DscoUnavailable,
    LingxingUnavailable,
    WriteUnconfirmed,
    // held
    WritesDisabled,
    DryRun,
    MultiBan,
    // data defects (issue 13): needs attention
    PoMissing,
    PoUnusable,
    DscoStateUnknown,
    LineItemsMissing,
    QuantityInvalid,
    LineNumberDuplicate,
    PriceOutOfRange,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 34] = [
        ReasonCode::CancelledAfterPush,
        ReasonCode::ShopUnmapped,
        ReasonCode::WarehouseUnmapped,
        ReasonCode::ShipmentUnmapped,
        ReasonCode::AddressIncomplete,
        ReasonCode::PriceMissing,
        ReasonCode::SkuMissing,
        ReasonCode::LingxingRejected,
        ReasonCode::LingxingOrderMissing,
        ReasonCode::LingxingCancelled,
        ReasonCode::LingxingIntercepted,
        ReasonCode::DscoRejected,
        ReasonCode::SkuUnmatched,
        ReasonCode::ReverseMapAmbiguous,
        ReasonCode::LingxingNotAudited,
        ReasonCode::DscoConfirmationPending,
        ReasonCode::NoTrackingYet,
        ReasonCode::DscoNotReady,
        ReasonCode::AwaitingFullShipment,
        ReasonCode::NotFullyShipped,
        ReasonCode::ShipmentsUnconfirmed,
        ReasonCode::DscoUnavailable,
        ReasonCode::LingxingUnavailable,
        ReasonCode::WriteUnconfirmed,
        ReasonCode::WritesDisabled,
        ReasonCode::DryRun,
        ReasonCode::MultiBan,
        // data defects (issue 13)
        ReasonCode::PoMissing,
        ReasonCode::PoUnusable,
        ReasonCode::DscoStateUnknown,
        ReasonCode::LineItemsMissing,
        ReasonCode::QuantityInvalid,
        ReasonCode::LineNumberDuplicate,
        ReasonCode::PriceOutOfRange,
    ];

    pub fn as_str(self) -> &'static str {
        use ReasonCode::*;
        match self {
            CancelledAfterPush => "cancelled_after_push",
            ShopUnmapped => "shop_unmapped",
            WarehouseUnmapped => "warehouse_unmapped",
            ShipmentUnmapped => "shipment_unmapped",
            AddressIncomplete => "address_incomplete",
            PriceMissing => "price_missing",
            SkuMissing => "sku_missing",
            LingxingRejected => "lingxing_rejected",
            LingxingOrderMissing => "lingxing_order_missing",
            LingxingCancelled => "lingxing_cancelled",
            LingxingIntercepted => "lingxing_intercepted",
            DscoRejected => "dsco_rejected",
            SkuUnmatched => "sku_unmatched",
            ReverseMapAmbiguous => "reverse_map_ambiguous",
            LingxingNotAudited => "lingxing_not_audited",
            DscoConfirmationPending => "dsco_confirmation_pending",
            NoTrackingYet => "no_tracking_yet",
            DscoNotReady => "dsco_not_ready",
            AwaitingFullShipment => "awaiting_full_shipment",
            NotFullyShipped => "not_fully_shipped",
            ShipmentsUnconfirmed => "shipments_unconfirmed",
            DscoUnavailable => "dsco_unavailable",
            LingxingUnavailable => "lingxing_unavailable",
            WriteUnconfirmed => "write_unconfirmed",
            WritesDisabled => "writes_disabled",
            DryRun => "dry_run",
            MultiBan => "multi_ban",
            // data defects (issue 13)
            PoMissing => "po_missing",
            PoUnusable => "po_unusable",
            DscoStateUnknown => "dsco_state_unknown",
            LineItemsMissing => "line_items_missing",
            QuantityInvalid => "quantity_invalid",
            LineNumberDuplicate => "line_number_duplicate",
            PriceOutOfRange => "price_out_of_range",
        }
    }

    pub fn kind(self) -> ReasonKind {
        use ReasonCode::*;
        match self {
            CancelledAfterPush | ShopUnmapped | WarehouseUnmapped | ShipmentUnmapped
            | AddressIncomplete | PriceMissing | SkuMissing | LingxingRejected
            | LingxingOrderMissing | LingxingCancelled | LingxingIntercepted | DscoRejected
            | SkuUnmatched | ReverseMapAmbiguous => ReasonKind::NeedsAttention,
            LingxingNotAudited
            | DscoConfirmationPending
            | NoTrackingYet
            | DscoNotReady
            | AwaitingFullShipment
            | NotFullyShipped
            | ShipmentsUnconfirmed => ReasonKind::Waiting,
            DscoUnavailable | LingxingUnavailable | WriteUnconfirmed => ReasonKind::Retrying,
            WritesDisabled | DryRun | MultiBan => ReasonKind::Held,
            // data defects (issue 13)
            PoMissing | PoUnusable | DscoStateUnknown | LineItemsMissing | QuantityInvalid
            | LineNumberDuplicate | PriceOutOfRange => ReasonKind::NeedsAttention,
        }
    }

    pub fn parse(s: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The operator's message in English: what is wrong (naming `subject`: the key, field or
    /// far-side message) and what to do.
    pub fn message_en(self, subject: &str) -> String {
        use ReasonCode::*;
        match self {
            CancelledAfterPush => format!(
                "DSCO cancelled this order after it was created in LingXing ({subject}). Cancel or intercept the LingXing order, then mark this order handled."
            ),
            ShopUnmapped => format!(
                "No LingXing store for DSCO retailer {subject}. Add runtime_config mapping.shop.\"{subject}\" = \"<LingXing store_id>\"; the order is retried at once."
            ),
            WarehouseUnmapped => format!(
                "No LingXing warehouse for DSCO warehouse {subject} (require_warehouse is on). Add mapping.warehouse.\"{subject}\" = \"<wid>\"."
            ),
            ShipmentUnmapped => format!(
                "No LingXing logistics type for {subject}. Add mapping.shipment.\"{subject}\" = \"<logistics_type_id>\"."
            ),
            AddressIncomplete => format!(
                "The DSCO ship-to address lacks {subject}. Ask the retailer to correct the order in DSCO; it is re-read on the next pull."
            ),
            PriceMissing => format!(
                "No price on {subject} in any of the configured price fields. Check the price_source list of the job or the DSCO order."
            ),
            SkuMissing => format!(
                "A DSCO line has no sku nor partnerSku ({subject}). The order cannot be created; check it in DSCO."
            ),
            LingxingRejected => format!(
                "LingXing refused the order: {subject}. Fix the data or mapping it names; the order is retried after a config change."
            ),
            LingxingOrderMissing => format!(
                "No LingXing order exists for this PO ({subject}), although it was pushed. Check LingXing (deleted?) and force the order back to stage 1 to push it again."
            ),
            LingxingCancelled => format!(
                "The LingXing order was cancelled ({subject}). Cancel the order in DSCO, or restore it in LingXing."
            ),
            LingxingIntercepted => format!(
                "Every LingXing outbound order of this PO was intercepted ({subject}) and nothing has shipped. Re-ship it in LingXing, or cancel the order in DSCO."
            ),
            DscoRejected => format!(
                "DSCO rejected the request: {subject}. Correct what DSCO names; the order is retried on the next run."
            ),
            SkuUnmatched => format!(
                "LingXing shipped SKU {subject}, which matches no line of the DSCO order. Check mapping.sku for it."
            ),
            ReverseMapAmbiguous => format!(
                "Two DSCO keys map to the same LingXing value ({subject}); the reverse lookup is ambiguous. Make the mapping one-to-one."
            ),
            LingxingNotAudited => format!("Waiting for LingXing to audit the order ({subject})."),
            DscoConfirmationPending => {
                format!("Sent to DSCO, waiting for DSCO to confirm ({subject}).")
            }
            NoTrackingYet => format!(
                "Waiting for LingXing to ship: no outbound order with a tracking number yet ({subject})."
            ),
            DscoNotReady => {
                format!("DSCO does not accept shipments for this order yet (status {subject}).")
            }
            AwaitingFullShipment => {
                format!("require_full_shipment is on: waiting until every SKU is out ({subject}).")
            }
            NotFullyShipped => {
                format!("Not every SKU is out of the warehouse yet ({subject}); the invoice waits.")
            }
            ShipmentsUnconfirmed => format!(
                "Waiting for DSCO to confirm every shipment before the invoice ({subject})."
            ),
            DscoUnavailable => {
                format!("DSCO did not answer ({subject}); retried automatically with back-off.")
            }
            LingxingUnavailable => {
                format!("LingXing did not answer ({subject}); retried automatically with back-off.")
            }
            WriteUnconfirmed => format!(
                "A write's outcome is unknown ({subject}); the next attempt checks the far side first and never writes twice."
            ),
            WritesDisabled => format!(
                "The global write switch is off (runtime_config.writes_enabled = false): nothing is sent ({subject})."
            ),
            DryRun => format!("Dry run: decided, nothing sent ({subject})."),
            MultiBan => format!(
                "Held by {subject} = true: the order has several lines or a quantity above 1. Turn it off to let such orders through."
            ),
            // data defects (issue 13)
            PoMissing => format!(
                "A DSCO order has no poNumber ({subject}), so it cannot be stored as an order or sent anywhere. It is kept by its dscoOrderId in the unreadable orders list (order stuck shows it); ask the retailer to correct the order in DSCO, it is read again on the next pull."
            ),
            PoUnusable => format!(
                "The DSCO poNumber {subject} has leading or trailing spaces or control characters: LingXing cannot take it as platform_order_no exactly as it is, and this service never alters a PO (every DSCO call names the order by it). The order is not pushed. Ask the retailer to correct the PO in DSCO, or create the LingXing order by hand and force this order to stage 2."
            ),
            DscoStateUnknown => format!(
                "DSCO reports a state this service does not know ({subject}), so no rule can say what to do with the order; it is held instead of waiting for ever. Check the order in DSCO; if DSCO introduced a new value, the service must learn it before the order can move."
            ),
            LineItemsMissing => format!(
                "The DSCO order has no usable lineItems ({subject}: absent, empty or not a list). Nothing can be pushed, shipped or invoiced; check the order in DSCO, it is re-read on the next pull."
            ),
            QuantityInvalid => format!(
                "A DSCO line has an unusable quantity ({subject}): quantity must be a whole number of at least 1, cancelledQuantity and rejectedQuantity whole numbers from 0 up to quantity. Ask the retailer to correct the order in DSCO; it is re-read on the next pull."
            ),
            LineNumberDuplicate => format!(
                "Two lines of the DSCO order carry the same lineNumber ({subject}); DSCO's line numbers are unique per order, and quantities would be pushed and shipped twice. The order is held; ask the retailer or DSCO support to correct it."
            ),
            PriceOutOfRange => format!(
                "A DSCO price is not usable ({subject}): a unit price must be above 0 and below 1,000,000. Nothing is pushed or invoiced with it; ask the retailer to correct the price in DSCO, or choose another price field in the job's price_source."
            ),
        }
    }

    /// The operator's message in Chinese.
    pub fn message_zh(self, subject: &str) -> String {
        use ReasonCode::*;
        match self {
            CancelledAfterPush => format!(
                "该订单推送到领星后在 DSCO 被取消（{subject}）。请在领星取消或截单，然后将本订单标记为已处理。"
            ),
            ShopUnmapped => format!(
                "DSCO 零售商 {subject} 没有对应的领星店铺。请添加 runtime_config mapping.shop.\"{subject}\" = \"<领星 store_id>\"，保存后立即重试。"
            ),
            WarehouseUnmapped => format!(
                "DSCO 仓库 {subject} 没有对应的领星仓库（已开启 require_warehouse）。请添加 mapping.warehouse.\"{subject}\" = \"<wid>\"。"
            ),
            ShipmentUnmapped => format!(
                "{subject} 没有对应的领星物流方式。请添加 mapping.shipment.\"{subject}\" = \"<logistics_type_id>\"。"
            ),
            AddressIncomplete => format!(
                "DSCO 收货地址缺少 {subject}。请联系零售商在 DSCO 修正订单，下次拉单会重新读取。"
            ),
            PriceMissing => format!(
                "{subject} 在配置的价格字段中都没有价格。请检查该任务的 price_source 或 DSCO 订单。"
            ),
            SkuMissing => format!(
                "DSCO 订单行缺少 sku 和 partnerSku（{subject}），无法创建订单，请在 DSCO 检查。"
            ),
            LingxingRejected => format!(
                "领星拒绝创建订单：{subject}。请修正其指出的数据或映射，配置变更后会自动重试。"
            ),
            LingxingOrderMissing => format!(
                "该 PO 已推送但领星中找不到订单（{subject}）。请在领星确认（是否被删除），然后将订单强制退回阶段 1 重新推单。"
            ),
            LingxingCancelled => {
                format!("领星订单已取消（{subject}）。请在 DSCO 取消该订单，或在领星恢复订单。")
            }
            LingxingIntercepted => format!(
                "该 PO 在领星的出库单都已截单（{subject}），没有任何包裹发出。请在领星重新发货，或在 DSCO 取消订单。"
            ),
            DscoRejected => {
                format!("DSCO 拒绝了请求：{subject}。请按 DSCO 的提示修正，下次运行会重试。")
            }
            SkuUnmatched => {
                format!("领星出库的 SKU {subject} 对不上 DSCO 订单的任何行。请检查 mapping.sku。")
            }
            ReverseMapAmbiguous => format!(
                "多个 DSCO 键映射到同一个领星值（{subject}），反向映射有歧义。请改为一对一映射。"
            ),
            LingxingNotAudited => format!("等待领星审核订单（{subject}）。"),
            DscoConfirmationPending => format!("已提交 DSCO，等待 DSCO 确认（{subject}）。"),
            NoTrackingYet => format!("等待领星发货：还没有带运单号的出库单（{subject}）。"),
            DscoNotReady => format!("DSCO 当前状态不接受发货回传（状态 {subject}）。"),
            AwaitingFullShipment => {
                format!("已开启 require_full_shipment：等待所有 SKU 出库（{subject}）。")
            }
            NotFullyShipped => format!("尚未全部出库（{subject}），发票等待中。"),
            ShipmentsUnconfirmed => format!("等待 DSCO 确认全部发货后再回传发票（{subject}）。"),
            DscoUnavailable => format!("DSCO 无响应（{subject}），将自动退避重试。"),
            LingxingUnavailable => format!("领星无响应（{subject}），将自动退避重试。"),
            WriteUnconfirmed => {
                format!("写入结果未知（{subject}），下次会先核对对方系统，绝不重复写入。")
            }
            WritesDisabled => format!(
                "全局写入开关已关闭（runtime_config.writes_enabled = false），不发送任何请求（{subject}）。"
            ),
            DryRun => format!("演练模式：只做判断，不发送（{subject}）。"),
            MultiBan => {
                format!("{subject} = true 暂停了多行或数量大于 1 的订单。关闭该开关即可放行。")
            }
            // data defects (issue 13)
            PoMissing => format!(
                "DSCO 订单没有 poNumber（{subject}），无法作为订单保存或发送。已按 dscoOrderId 记入无法读取的订单列表（order stuck 可见）；请联系零售商在 DSCO 修正订单，下次拉单会重新读取。"
            ),
            PoUnusable => format!(
                "DSCO 的 poNumber {subject} 首尾有空格或含控制字符：领星无法原样作为 platform_order_no 使用，而本服务从不修改 PO（DSCO 的每个调用都以它识别订单）。订单不推送。请联系零售商在 DSCO 修正 PO，或在领星手工建单后将本订单强制推进到阶段 2。"
            ),
            DscoStateUnknown => format!(
                "DSCO 返回了本服务不认识的状态（{subject}），没有规则知道如何处理，订单已暂停而不是无限等待。请在 DSCO 检查该订单；如果是 DSCO 新增的取值，需要先让服务支持它，订单才能继续。"
            ),
            LineItemsMissing => format!(
                "DSCO 订单没有可用的 lineItems（{subject}：缺失、为空或不是列表），无法推送、发货或开票。请在 DSCO 检查订单，下次拉单会重新读取。"
            ),
            QuantityInvalid => format!(
                "DSCO 订单行数量不可用（{subject}）：quantity 必须是不小于 1 的整数，cancelledQuantity 和 rejectedQuantity 必须是 0 到 quantity 之间的整数。请联系零售商在 DSCO 修正订单，下次拉单会重新读取。"
            ),
            LineNumberDuplicate => format!(
                "DSCO 订单有多行使用同一个 lineNumber（{subject}）；DSCO 的行号在订单内唯一，否则数量会被重复推送和发货。订单已暂停，请联系零售商或 DSCO 支持修正。"
            ),
            PriceOutOfRange => format!(
                "DSCO 价格不可用（{subject}）：单价必须大于 0 且小于 1,000,000。不会用它推送或开票；请联系零售商在 DSCO 修正价格，或在该任务的 price_source 中选择其他价格字段。"
            ),
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason with its subject (the key, field or far-side message it names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    pub subject: String,
}

impl Reason {
    pub fn new(code: ReasonCode, subject: impl Into<String>) -> Reason {
        Reason {
            code,
            subject: subject.into(),
        }
    }
    pub fn kind(&self) -> ReasonKind {
        self.code.kind()
    }
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.code.message_en(&self.subject),
            Lang::Zh => self.code.message_zh(&self.subject),
        }
    }
}

/// The two languages of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_kinds_match_the_spec_table() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ReasonCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(ReasonCode::parse(c.as_str()), Some(c));
            let en = c.message_en("SUBJECT");
            let zh = c.message_zh("SUBJECT");
            assert!(
                en.contains("SUBJECT") && zh.contains("SUBJECT"),
                "{c} names its subject"
            );
            assert!(
                zh.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "{c} has Chinese text"
            );
        }
        let kind = |s: &str| ReasonCode::parse(s).unwrap().kind();
        for s in [
            "cancelled_after_push",
            "shop_unmapped",
            "shipment_unmapped",
            "address_incomplete",
            "price_missing",
            "sku_missing",
            "lingxing_rejected",
            "lingxing_order_missing",
            "lingxing_cancelled",
            "dsco_rejected",
            "sku_unmatched",
            "warehouse_unmapped",
        ] {
            assert_eq!(kind(s), ReasonKind::NeedsAttention, "{s}");
        }
        for s in [
            "lingxing_not_audited",
            "dsco_confirmation_pending",
            "no_tracking_yet",
            "dsco_not_ready",
            "awaiting_full_shipment",
            "not_fully_shipped",
            "shipments_unconfirmed",
        ] {
            assert_eq!(kind(s), ReasonKind::Waiting, "{s}");
        }
        for s in [
            "dsco_unavailable",
            "lingxing_unavailable",
            "write_unconfirmed",
        ] {
            assert_eq!(kind(s), ReasonKind::Retrying, "{s}");
        }
        for s in ["writes_disabled", "dry_run", "multi_ban"] {
            assert_eq!(kind(s), ReasonKind::Held, "{s}");
        }
        // data defects (issue 13)
        for s in [
            "po_missing",
            "po_unusable",
            "dsco_state_unknown",
            "line_items_missing",
            "quantity_invalid",
            "line_number_duplicate",
            "price_out_of_range",
        ] {
            assert_eq!(kind(s), ReasonKind::NeedsAttention, "{s}");
        }
    }

    #[test]
    fn messages_name_the_key_to_fix() {
        let r = Reason::new(ReasonCode::ShopUnmapped, "1000099999");
        assert!(r.message(Lang::En).contains("mapping.shop.\"1000099999\""));
        assert!(r.message(Lang::Zh).contains("mapping.shop.\"1000099999\""));
        let m = Reason::new(
            ReasonCode::MultiBan,
            "runtime_config.jobs.ack_to_dsco.multi_ban",
        );
        assert!(
            m.message(Lang::En)
                .starts_with("Held by runtime_config.jobs.ack_to_dsco.multi_ban = true")
        );
    }
}
