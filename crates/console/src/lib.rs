//! Web console and JSON API: read models and operator actions. No business rules here.
//!
//! # Layout
//! - [`ops_router`]: `/healthz` (the store answers) and `/metrics` (Prometheus text), served by
//!   `dsco-lingxing run` on the console's listen address.
//! - [`pages_router`] (`web`): the operator pages (overview, orders, order, runs, stock,
//!   mappings, config, audit), read through
//!   the read models of `model` and labelled from the catalogues of `i18n`; loopback only
//!   ([`check_listen`]) until operators log in.
//! - The actions and login join here.

pub mod i18n;
pub mod model;
mod web;

pub use web::{ConsoleConfig, check_listen, pages_router};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use store::Store;

/// Renders the metrics registry as Prometheus text.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct Ops {
    store: Arc<dyn Store>,
    metrics: Option<MetricsRender>,
}

/// `/healthz` and `/metrics`.
pub fn ops_router(store: Arc<dyn Store>, metrics: Option<MetricsRender>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(Ops { store, metrics })
}

async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    match ops.store.runtime_config_version().await {
        Ok(v) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"status": "ok", "runtime_config_version": v}).to_string(),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"status": "store unavailable", "error": e.to_string()}).to_string(),
        ),
    }
}

async fn metrics_text(State(ops): State<Ops>) -> impl IntoResponse {
    match &ops.metrics {
        Some(render) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            "metrics are not enabled in this process\n".to_owned(),
        ),
    }
}
