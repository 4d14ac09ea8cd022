//! The official OpenAPI document validates simulator responses and client request bodies.
