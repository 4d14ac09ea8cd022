//! The LingXing OpenAPI simulator.
