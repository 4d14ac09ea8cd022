//! Persistence: the `Store` trait in domain types, with SQLite and PostgreSQL implementations,
//! each with its own migrations. The backend is chosen once at start-up from the URL scheme.
