//! dsco client tests: contract (wiremock) and client-simulator over HTTP.
