//! Records of the non-order jobs: sync_stock runs and items, the per-SKU stock state,
//! pull_sku_pair conflicts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// DSCO warehouse code → quantity.
pub type WarehouseQty = BTreeMap<String, i64>;

/// What a sync_stock run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StockRunState {
    /// Changes (or a full push) were sent to DSCO.
    Sent,
    /// Nothing differed from what DSCO last confirmed.
    Unchanged,
    /// The zero-drop guard (or an earlier held run) stopped it: nothing was sent.
    Held,
    /// A held run an operator released; the next run sends without the guard.
    Released,
    /// `sync = false`: read and recorded only.
    ReadOnly,
    /// A dry run or writes switched off: decided and recorded, nothing sent.
    DryRun,
}

impl StockRunState {
    pub const ALL: [StockRunState; 6] = [
        StockRunState::Sent,
        StockRunState::Unchanged,
        StockRunState::Held,
        StockRunState::Released,
        StockRunState::ReadOnly,
        StockRunState::DryRun,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            StockRunState::Sent => "sent",
            StockRunState::Unchanged => "unchanged",
            StockRunState::Held => "held",
            StockRunState::Released => "released",
            StockRunState::ReadOnly => "read_only",
            StockRunState::DryRun => "dry_run",
        }
    }
    pub fn parse(s: &str) -> Option<StockRunState> {
        StockRunState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRun {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub state: StockRunState,
    pub full_push: bool,
    pub skus_read: i64,
    pub skus_changed: i64,
    pub skus_sent: i64,
    /// SKUs DSCO last confirmed above 0 (the guard's denominator).
    pub above_zero: i64,
    /// Of those, how many this run would set to 0 (the guard's numerator).
    pub drops_to_zero: i64,
    /// Why it was held, or anything else worth telling the operator.
    pub note: String,
    pub released_by: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: Option<String>,
}

/// Where one item of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StockOutcome {
    /// Read and recorded, not sent (held run, `sync = false`, dry run).
    NotSent,
    /// Sent; DSCO's change log has no final word yet.
    Pending,
    /// DSCO applied it.
    Success,
    /// DSCO skipped it as an unknown SKU (`skipItemsThatDontExist`): settled.
    SkippedUnknown,
    /// DSCO refused it (message from the change log).
    Failed,
    /// The batch call itself failed; the item will be sent again.
    SendFailed,
}

impl StockOutcome {
    pub const ALL: [StockOutcome; 6] = [
        StockOutcome::NotSent,
        StockOutcome::Pending,
        StockOutcome::Success,
        StockOutcome::SkippedUnknown,
        StockOutcome::Failed,
        StockOutcome::SendFailed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            StockOutcome::NotSent => "not_sent",
            StockOutcome::Pending => "pending",
            StockOutcome::Success => "success",
            StockOutcome::SkippedUnknown => "skipped_unknown",
            StockOutcome::Failed => "failed",
            StockOutcome::SendFailed => "send_failed",
        }
    }
    pub fn parse(s: &str) -> Option<StockOutcome> {
        StockOutcome::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// DSCO has the value (applied or deliberately skipped): not resent until it changes.
    pub fn settles(self) -> bool {
        matches!(self, StockOutcome::Success | StockOutcome::SkippedUnknown)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockItem {
    pub run_id: String,
    pub dsco_sku: String,
    pub lingxing_sku: String,
    /// `product_valid_num` summed per warehouse, before the reserve.
    pub read: WarehouseQty,
    /// What is (or would be) sent, after the reserve.
    pub warehouses: WarehouseQty,
    /// `quantityAvailable`: the sum of `warehouses`.
    pub qty: i64,
    /// The quantity DSCO last confirmed, if any.
    pub previous_qty: Option<i64>,
    pub sent: bool,
    pub request_id: Option<String>,
    pub outcome: StockOutcome,
    pub message: String,
    pub at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Per DSCO SKU: the last value DSCO confirmed and the last value sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockState {
    pub confirmed: Option<WarehouseQty>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub sent: Option<WarehouseQty>,
    pub sent_request_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl StockState {
    pub fn confirmed_qty(&self) -> Option<i64> {
        self.confirmed.as_ref().map(|w| w.values().sum())
    }
}

/// DSCO's word on one item of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSettle {
    pub dsco_sku: String,
    pub outcome: StockOutcome,
    pub message: String,
}

/// What is wrong in LingXing's pair list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkuConflictKind {
    /// A pair with an empty MSKU or SKU.
    Empty,
    /// One MSKU paired with several SKUs (in one store).
    MskuToManySkus,
    /// One SKU paired with several MSKUs.
    SkuToManyMskus,
    /// A pair listed under a store other than the one asked for.
    StoreMismatch,
    /// The same MSKU paired with different SKUs in different stores.
    AcrossStores,
    /// A store that had pairs now lists none (treated as a failed read).
    StoreEmptied,
    /// A manual entry and a pair disagree (reported; the manual entry wins, the pull goes on).
    ManualClash,
}

impl SkuConflictKind {
    pub const ALL: [SkuConflictKind; 7] = [
        SkuConflictKind::Empty,
        SkuConflictKind::MskuToManySkus,
        SkuConflictKind::SkuToManyMskus,
        SkuConflictKind::StoreMismatch,
        SkuConflictKind::AcrossStores,
        SkuConflictKind::StoreEmptied,
        SkuConflictKind::ManualClash,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SkuConflictKind::Empty => "empty",
            SkuConflictKind::MskuToManySkus => "msku_to_many_skus",
            SkuConflictKind::SkuToManyMskus => "sku_to_many_mskus",
            SkuConflictKind::StoreMismatch => "store_mismatch",
            SkuConflictKind::AcrossStores => "across_stores",
            SkuConflictKind::StoreEmptied => "store_emptied",
            SkuConflictKind::ManualClash => "manual_clash",
        }
    }
    pub fn parse(s: &str) -> Option<SkuConflictKind> {
        SkuConflictKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Whether this stops the pull (a manual clash is only reported).
    pub fn blocks(self) -> bool {
        self != SkuConflictKind::ManualClash
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuConflict {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub kind: SkuConflictKind,
    pub store_id: String,
    pub msku: String,
    pub sku: String,
    pub detail: String,
}
