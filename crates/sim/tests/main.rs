//! Simulator tests: one binary, a module per simulator.
mod dsco_sim;
mod lingxing_sim;
