//! The one integration-test binary of the `console` crate.

mod actions;
mod ops;
mod pages;
