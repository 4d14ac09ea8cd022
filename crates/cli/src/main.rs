//! The `dsco-lingxing` binary.
fn main() {}
