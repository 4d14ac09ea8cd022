//! The library half of the `dsco-lingxing` binary, so integration tests can reach it.
//!
//! # Layout
//! - [`settings`]: the deployment TOML file, `DSCO_LINGXING__SECTION__KEY` env overrides, secrets
//!   from env or `*_file` (redacted in Debug, Display and exports), validation that names every bad
//!   key, and the optional `[runtime_config]` section checked by `domain`.
//! - [`app`]: the subcommands (thin: settings → store → engine → print).
//! - [`demo`]: `dsco-lingxing demo`, both simulators in-process and a seeded mix of orders;
//!   its `SimWorld` wiring is shared with [`bench`], the simulated day on the simulated clock.
//! - [`logging`]: the tracing subscriber (human-readable or JSON, env-filter level).

pub mod app;
pub mod bench;
pub mod demo;
pub mod logging;
pub mod settings;
