//! The `dsco-lingxing` binary.

// Wired by the lead; kept imported so the binary builds against the library half.
#[allow(unused_imports)]
use cli::{logging, settings};

fn main() {}
