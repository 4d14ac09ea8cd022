//! The one integration-test binary of the `console` crate.

mod actions;
mod login;
mod ops;
mod pages;
