//! DSCO simulator tests.
