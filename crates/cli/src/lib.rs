//! The library half of the `dsco-lingxing` binary, so integration tests can reach it.
//!
//! # Layout
//! - [`settings`]: the deployment TOML file, `DSCO_LINGXING__SECTION__KEY` env overrides, secrets
//!   from env or `*_file` (redacted in Debug, Display and exports), validation that names every bad
//!   key, and the optional `[runtime_config]` section checked by `domain`.
//! - [`args`]: the command line (clap); [`app`]: the dispatch (thin: settings → store → engine
//!   → print); [`startup`]: the deployment file's side of `engine::startup` (far sides, console
//!   server, shutdown signal); [`view`]: what read commands show (store, language, zone).
//! - one module per command group: [`run_cmd`], [`job_cmd`], [`order_cmd`], [`sim_cmd`], and
//!   the ones below.
//! - [`config_cmd`]: `config check|import|export|diff|history|rollback|set`: every write shows
//!   the diff (from `domain`), refuses silent removals, and is audited with its reason.
//! - [`import_cmd`]: `import legacy --pg URL [--dry-run]`, the switch from the Go service (its
//!   config through `config_cmd`, its orders and stock log through `engine::legacy`); prints.
//! - [`demo`]: `dsco-lingxing demo`, both simulators in-process and a seeded mix of orders;
//!   its `SimWorld` wiring is shared with [`bench`], the simulated day on the simulated clock.
//! - [`console_cmd`]: `console hash-password` (argon2id hash for `[[console.users]]`);
//!   [`writes_cmd`]: `writes off|on`, the global write switch (`engine::ops::set_writes`, as the
//!   console's form).
//! - [`logging`]: the tracing subscriber (human-readable or JSON, env-filter level).
//! - [`stock_cmd`]: `stock release|runs|export` and `sku conflicts` (store reads and one audited
//!   release).
//! - [`bench_stock`]: `bench stock`, sync_stock over a large catalogue against in-process
//!   simulators on the simulated clock.
//! - [`bench_faults`]: `bench faults`, the fault matrix (far-side faults per endpoint, a mixed
//!   burst, kills, two processes) with duplicates, lost orders and time to converge.
//! - [`bench_scale`]: `bench scale`, the simulated day at 10,000 and 100,000 orders with the
//!   simulators in a process of their own (`bench sims`), and the console timed on that store.

pub mod alert_cmd;
pub mod app;
pub mod args;
pub mod bench;
pub mod bench_backlog;
pub mod bench_faults;
pub mod bench_report;
pub mod bench_scale;
pub mod bench_stock;
pub mod config_cmd;
pub mod console_cmd;
pub mod demo;
pub mod import_cmd;
pub mod job_cmd;
pub mod logging;
pub mod ops_cmd;
pub mod order_cmd;
pub mod reconcile_cmd;
pub mod run_cmd;
pub mod settings;
pub mod sim_cmd;
pub mod startup;
pub mod stock_cmd;
pub mod view;
pub mod writes_cmd;
