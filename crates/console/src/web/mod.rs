//! The operator pages: server-rendered HTML (askama, escaped), no script, one stylesheet served
//! from the binary. Every page reads through [`crate::model`] or the store's `ConsoleRead`; no
//! business rule here.
//!
//! One module per page (`overview`, `orders` with its CSV, `order`, `runs`, `mappings`, `stock`,
//! `config`, `audit`); the shared pieces are here (state, router, security headers), in `layout`
//! (the page frame, the language switch, rendering and error pages), `fmt` (times, ages, labels,
//! links) and `csv`.

mod alerts;
mod audit;
mod config;
mod csv;
mod fmt;
mod layout;
mod mappings;
mod order;
mod orders;
mod overview;
mod runs;
mod session;
mod stock;

pub use session::{Operator, Role};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono_tz::Tz;
use engine::Engine;
use store::Store;

use crate::i18n::Lang;

/// The console's display settings (`console.language`, `console.timezone`).
#[derive(Debug, Clone, Copy)]
pub struct ConsoleConfig {
    /// The language when the browser has not chosen one (the `lang` cookie).
    pub language: Lang,
    pub timezone: Tz,
}

/// The pages refuse a non-loopback address until operators log in (the next issue): anyone who
/// reaches the port would read every order.
pub fn check_listen(listen: SocketAddr) -> Result<(), String> {
    if listen.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "console.listen ({listen}) is not a loopback address: the console pages have no login yet, so they are served on loopback only (use 127.0.0.1:PORT and a tunnel or reverse proxy)"
        ))
    }
}

const CSS: &str = include_str!("../../assets/console.css");
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct Pages {
    store: Arc<dyn Store>,
    cfg: ConsoleConfig,
    /// The engine the actions run jobs through; `None` where only the pages are served (the
    /// actions that need it answer so).
    #[allow(dead_code)] // the actions join (issue 16)
    engine: Option<Arc<Engine>>,
}

/// The pages: `/`, `/orders`, `/orders.csv`, `/orders/{po}`, `/orders/{po}/payload.json`,
/// `/runs`, `/runs/{id}`, `/stock`, `/stock.csv`, `/mappings`, `/config`, `/audit`, `/lang`, `/assets/console.css`; every answer with the security headers.
pub fn pages_router(store: Arc<dyn Store>, cfg: ConsoleConfig) -> Router {
    router(Pages {
        store,
        cfg,
        engine: None,
    })
}

/// The pages and the operator actions, which run jobs through `engine`.
pub fn console_router(engine: Arc<Engine>, cfg: ConsoleConfig) -> Router {
    router(Pages {
        store: engine.store().clone(),
        cfg,
        engine: Some(engine),
    })
}

fn router(pages: Pages) -> Router {
    Router::new()
        .route("/", get(overview::overview))
        .route("/orders", get(orders::orders))
        .route("/orders.csv", get(orders::orders_csv))
        .route("/orders/{po}", get(order::order))
        .route("/orders/{po}/payload.json", get(order::payload))
        .route("/runs", get(runs::runs))
        .route("/runs/{id}", get(runs::run))
        .route("/mappings", get(mappings::mappings))
        .route("/audit", get(audit::audit))
        .route("/alerts", get(alerts::alerts))
        .route("/config", get(config::config_page))
        .route("/stock", get(stock::stock))
        .route("/stock.csv", get(stock::stock_csv))
        .route("/lang", get(layout::switch_lang))
        .route("/assets/console.css", get(css))
        .with_state(pages)
        .layer(axum::middleware::from_fn(session::session_layer))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served() {
        assert!(check_listen("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(check_listen("[::1]:8080".parse().unwrap()).is_ok());
        let e = check_listen("0.0.0.0:8080".parse().unwrap()).unwrap_err();
        assert!(e.contains("console.listen"), "{e}");
    }
}
