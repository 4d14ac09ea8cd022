//! The one integration-test binary of the `cli` crate.

mod settings;
