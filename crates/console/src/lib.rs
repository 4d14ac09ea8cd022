//! Web console and JSON API: read models and operator actions. No business rules here.
