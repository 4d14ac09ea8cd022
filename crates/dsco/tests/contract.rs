//! wiremock contract tests: each call's path, query, auth header and body.
