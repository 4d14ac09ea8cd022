//! The one integration-test binary of the `cli` crate.

mod actions;
mod bench;
mod commands;
mod faults;
mod legacy;
mod online;
mod settings;
mod simulators;
