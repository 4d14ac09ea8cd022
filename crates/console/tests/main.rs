//! The one integration-test binary of the `console` crate.

mod pages;
