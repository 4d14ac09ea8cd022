//! dsco client tests: contract (wiremock) and client-simulator over HTTP.
mod common;
mod contract;
mod fixtures_doc;
mod openapi;
mod with_sim;
