//! The operator pages: server-rendered HTML (askama, escaped), no script, one stylesheet served
//! from the binary. Every page reads through [`crate::model`] or the store's `ConsoleRead`; no
//! business rule here.
//!
//! One module per page (`overview`, `orders` with its CSV, `order`, `runs`, `mappings`, `stock`,
//! `config`, `audit`); the shared pieces are here (state, router, security headers), in `layout`
//! (the page frame, the language switch, rendering and error pages), `fmt` (times, ages, labels,
//! links) and `csv`.

mod actions;
mod alerts;
mod audit;
mod config;
mod config_edit;
mod csv;
mod fmt;
mod layout;
mod login;
mod mappings;
mod order;
mod orders;
mod overview;
mod reconcile;
mod run_job;
mod runs;
mod session;
mod stock;
mod writes;

pub use login::{
    DEFAULT_IDLE, FAILURE_WINDOW, Login, MAX_FAILURES, Password, User, check_hash, hash_password,
};
pub use session::{Operator, Role};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

/// The pages are served on a non-loopback address only when operators log in: anyone who
/// reaches the port would otherwise read every order and act on it.
pub fn check_listen(listen: SocketAddr, login: &Login) -> Result<(), String> {
    if listen.ip().is_loopback() || login.required() {
        Ok(())
    } else {
        Err(format!(
            "console.listen ({listen}) is not a loopback address and no console.users are configured: the console pages are served on loopback only until operators log in (add [[console.users]], or use 127.0.0.1:PORT and a tunnel)"
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
    engine: Option<Arc<Engine>>,
    /// Sessions and users when operators log in; `None`: the `local` operator.
    auth: Option<Arc<login::Auth>>,
}

/// The pages: `/`, `/orders`, `/orders.csv`, `/orders/{po}`, `/orders/{po}/payload.json`,
/// `/runs`, `/runs/{id}`, `/stock`, `/stock.csv`, `/mappings`, `/config`, `/audit`, `/lang`, `/assets/console.css`; every answer with the security headers.
pub fn pages_router(store: Arc<dyn Store>, cfg: ConsoleConfig) -> Router {
    pages_router_with_login(store, cfg, Login::none())
}

/// The pages and the operator actions, which run jobs through `engine`.
pub fn console_router(engine: Arc<Engine>, cfg: ConsoleConfig) -> Router {
    console_router_with_login(engine, cfg, Login::none())
}

/// [`pages_router`] behind `login` (nobody logs in when it has no users).
pub fn pages_router_with_login(store: Arc<dyn Store>, cfg: ConsoleConfig, login: Login) -> Router {
    router(Pages {
        store,
        cfg,
        engine: None,
        auth: auth(login),
    })
}

/// [`console_router`] behind `login` (nobody logs in when it has no users). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that login attempts are counted
/// per client address.
pub fn console_router_with_login(engine: Arc<Engine>, cfg: ConsoleConfig, login: Login) -> Router {
    router(Pages {
        store: engine.store().clone(),
        cfg,
        engine: Some(engine),
        auth: auth(login),
    })
}

fn auth(login: Login) -> Option<Arc<login::Auth>> {
    login.required().then(|| Arc::new(login::Auth::new(login)))
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
        .route("/run", get(run_job::form).post(run_job::submit))
        .route("/mappings", get(mappings::mappings))
        .route("/audit", get(audit::audit))
        .route("/alerts", get(alerts::alerts))
        .route("/reconcile", get(reconcile::reconcile))
        .route("/config", get(config::config_page))
        .route(
            "/config/edit",
            get(config_edit::form).post(config_edit::preview),
        )
        .route("/config/save", post(config_edit::save_edit))
        .route(
            "/config/rollback",
            get(config_edit::rollback_preview).post(config_edit::rollback_save),
        )
        .route("/stock", get(stock::stock))
        .route("/stock.csv", get(stock::stock_csv))
        .route("/lang", get(layout::switch_lang))
        // The operator actions (issue 16): POSTs through `session::Act`, confirmations as GETs.
        .route(
            "/orders/retry",
            get(actions::retry_all_confirm).post(actions::retry_all),
        )
        .route("/orders/{po}/retry", post(actions::retry))
        .route("/orders/{po}/ignore", post(actions::ignore))
        .route(
            "/orders/{po}/force",
            get(actions::force_confirm).post(actions::force),
        )
        .route(
            "/mappings/set",
            get(actions::mapping_form).post(actions::mapping_set),
        )
        .route("/stock/release", post(actions::stock_release))
        .route("/assets/console.css", get(css))
        .route("/login", get(login::login_form).post(login::login_post))
        .route("/logout", post(login::logout))
        .route("/writes", post(writes::set_writes))
        .layer(axum::middleware::from_fn_with_state(
            pages.clone(),
            session::session_layer,
        ))
        .with_state(pages)
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
    fn only_loopback_is_served_without_login() {
        let none = Login::none();
        assert!(check_listen("127.0.0.1:8080".parse().unwrap(), &none).is_ok());
        assert!(check_listen("[::1]:8080".parse().unwrap(), &none).is_ok());
        let e = check_listen("0.0.0.0:8080".parse().unwrap(), &none).unwrap_err();
        assert!(
            e.contains("console.listen") && e.contains("console.users"),
            "{e}"
        );
        let login = Login::new(vec![User {
            name: "ops".into(),
            role: Role::Admin,
            password: Password::Plain(secret::Secret::new("pw")),
        }]);
        assert!(check_listen("0.0.0.0:8080".parse().unwrap(), &login).is_ok());
    }
}
