//! The one integration-test binary of the `console` crate.

mod ops;
mod pages;
