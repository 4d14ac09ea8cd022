//! The one integration-test binary of the `console` crate.

mod actions_run;
mod ops;
mod pages;
