//! The eight jobs, the runner that alone starts them, and the scheduler that triggers the runner.
