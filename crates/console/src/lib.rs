//! Web console and JSON API: read models and operator actions. No business rules here.
//!
//! # Layout
//! - [`ops_router`]: `/healthz` (liveness: the store answers), `/readyz` (readiness: the
//!   engine's checks — failing jobs, a full or read-only store, refused credentials) and
//!   `/metrics` (Prometheus text), served by `dsco-lingxing run` on the console's listen address.
//! - [`pages_router`] (`web`): the operator pages (overview, orders, order, runs, stock,
//!   mappings, config, audit), read through the read models of `model` and labelled from the
//!   catalogues of `i18n`; loopback only ([`check_listen`]) unless operators log in
//!   ([`Login`]: `[[console.users]]`, server-side sessions, a CSRF token per session, rate-limited
//!   attempts; [`console_router_with_login`]).
//! - The operator actions (POST forms through `web::session::Act`), such as the global write
//!   switch (`/writes`, `engine::ops::set_writes`).

pub mod i18n;
pub mod model;
mod web;

pub use web::{
    ConsoleConfig, DEFAULT_IDLE, FAILURE_WINDOW, Login, MAX_FAILURES, Operator, Password, Role,
    User, check_hash, check_listen, console_router, console_router_with_login, hash_password,
    pages_router, pages_router_with_login,
};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use engine::Engine;

/// Renders the metrics registry as Prometheus text.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct Ops {
    engine: Arc<Engine>,
    metrics: Option<MetricsRender>,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn ops_router(engine: Arc<Engine>, metrics: Option<MetricsRender>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Ops { engine, metrics })
}

fn json(status: StatusCode, body: serde_json::Value) -> impl IntoResponse {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// Liveness: 200 while the store answers (a full disk is reported in the body: restarting
/// would not help, the service resumes by itself when space returns).
async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    match ops.engine.store().runtime_config_version().await {
        Ok(v) => {
            let mut body = serde_json::json!({"status": "ok", "runtime_config_version": v});
            if let Some((p, since)) = ops.engine.store_problem() {
                body["store_problem"] = serde_json::json!({
                    "error": store::StoreError::from(p).to_string(),
                    "since": since,
                });
            }
            json(StatusCode::OK, body)
        }
        Err(e) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "store unavailable", "error": e.to_string()}),
        ),
    }
}

/// Readiness: 200 with every check when all pass, else 503 with the failing checks first.
async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    let r = ops.engine.readiness().await;
    let (status, word) = if r.ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    let failing: Vec<_> = r.checks.iter().filter(|c| !c.ok).collect();
    json(
        status,
        serde_json::json!({"status": word, "failing": failing, "checks": r.checks}),
    )
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
