//! The three non-order jobs of SPEC §5: `sync_stock` (LingXing stock → DSCO inventory, with a
//! zero-drop guard), `pull_sku_pair` (LingXing pairs → the pair-sourced part of `mapping.sku`)
//! and `cleanup_exports` (keeps the export folder under its size and age limits).
//!
//! # Layout
//! - `sync`: [`SyncStock`]: read, compute per DSCO SKU, guard, send, settle from `/inventory/log`.
//! - `pairs`: [`PullSkuPair`]: read per store, detect conflicts, compare-and-swap, audit files.
//! - `cleanup`: [`CleanupExports`]: age then size limits, oldest first, links never followed.
//! - `csv`: the CSV export of stock items (for `dsco-lingxing stock export`).

mod cleanup;
mod csv;
mod pairs;
mod sync;

use std::path::PathBuf;
use std::sync::Arc;

pub use cleanup::{
    CleanupExports, CleanupReport, DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_BYTES, cleanup,
};
pub use csv::{write_stock_csv, write_stock_header, write_stock_rows};
pub use pairs::{PullSkuPair, write_atomically};
pub use sync::{DEFAULT_FULL_PUSH_EVERY, DEFAULT_ZERO_DROP_SHARE, SyncStock};

use crate::Engine;

/// The far sides, as the stock and pair jobs reach them.
pub struct StockClients {
    pub dsco: dsco::DscoClient,
    pub lingxing: lingxing::LingxingClient,
}

/// Registers the stock, pair and export-cleanup jobs. `exports_dir` is the
/// deployment's export folder (audit files go under it; cleanup keeps it in bounds).
pub fn register_stock_jobs(engine: &mut Engine, clients: Arc<StockClients>, exports_dir: PathBuf) {
    engine.register(Arc::new(SyncStock(clients.clone())));
    engine.register(Arc::new(PullSkuPair {
        clients,
        exports_dir: exports_dir.clone(),
    }));
    engine.register(Arc::new(CleanupExports { exports_dir }));
}
