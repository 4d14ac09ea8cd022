//! The DSCO v3 simulator.
