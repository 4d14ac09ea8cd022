//! The vocabulary and the rules of dsco-lingxing. No I/O, no async, no HTTP or SQL types.
//!
//! # Layout
//! - [`ids`]: newtypes that can only be built valid (`PoNumber`, `DscoSku`, `LingxingSku`,
//!   `StoreId`, `Wid`, …).
//! - [`stage`]: the order stage machine (1 pulled … 5 done, 6 cancelled), forward only.
//! - [`job`]: the eight job names and their schedules (6-field UTC cron, nicknames, `@every`).
//! - [`config`]: runtime config (`jobs.<job>.*`, `mapping.*`) with validation naming key paths.
//! - [`intent`]: where a far-side write stands, and the gate every write passes.
//! - [`legacy`]: the stage of an order imported from the Go service (`import legacy`).
//! - [`lx_view`]: what LingXing showed for an order, as the store keeps it (serde).
//! - `reason`, `mapping`, `rules` (with the order jobs): the reason catalogue, reverse maps,
//!   and R1–R6 as pure decision functions.

pub mod alert;
pub mod config;
pub mod ids;
pub mod intent;
pub mod job;
pub mod legacy;
pub mod lx_view;
pub mod mapping;
pub mod ops;
pub mod order;
pub mod reason;
pub mod reconcile;
pub mod rules;
pub mod run;
pub mod stage;

pub use config::{
    ConfigError, ConfigErrors, ImportedConfig, JobConfig, JobSettings, Mappings, RuntimeConfig,
};
pub use ids::*;
pub use job::{JobName, Schedule};
pub use reason::{Lang, Reason, ReasonCode, ReasonKind};
pub use run::{RunCounts, RunOutcome, Trigger};
pub use stage::Stage;
