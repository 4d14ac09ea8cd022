//! lingxing client tests: contract (wiremock), client-simulator over HTTP, signing properties.
mod against_sim;
mod contract;
mod property;
