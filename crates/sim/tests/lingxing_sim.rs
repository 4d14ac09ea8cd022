//! LingXing simulator tests.
