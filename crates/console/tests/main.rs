//! The one integration-test binary of the `console` crate.

mod actions;
mod actions_run;
mod login;
mod ops;
mod pages;
