//! The one integration-test binary of the `cli` crate.

mod actions;
mod commands;
mod faults;
mod online;
mod legacy;
mod settings;
mod simulators;
