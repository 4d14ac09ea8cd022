//! The one integration-test binary of the `console` crate.

mod login;
mod ops;
mod pages;
