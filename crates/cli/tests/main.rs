//! The one integration-test binary of the `cli` crate.

mod commands;
mod settings;
mod simulators;
