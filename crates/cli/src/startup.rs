//! The deployment file's side of `engine::startup`: the store and the far sides from the
//! settings, the console as the start-up's server, and the shutdown signal.

use std::sync::Arc;

use anyhow::Result;
use clock::Clock;
use engine::Engine;
use engine::startup::{self, Application, FarSides, Parts, Server};
use store::Store;

use crate::app::BadInput;
use crate::settings::{Settings, StoreUrl};

/// The store of the deployment file, migrated; it must exist (see [`open_existing`]).
pub(crate) async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    open_existing(&settings.store.url).await
}

/// The store at `url`, migrated. A SQLite file that does not exist is bad input: opening it
/// would create an empty database, and a typo in `store.url` would then read as "no stuck
/// orders". Only `migrate`, `run` and `demo` create a store.
pub(crate) async fn open_existing(url: &StoreUrl) -> Result<Arc<dyn Store>> {
    if let Some(path) = url.sqlite_path()
        && !path.exists()
    {
        return Err(BadInput(format!(
            "store {}: the file {} does not exist (check store.url or --store; `dsco-lingxing migrate` creates a new store)",
            url.redacted(),
            path.display()
        ))
        .into());
    }
    Ok(startup::connect(url.expose()).await?)
}

/// A service process of the deployment file: every job, the token shared through the store.
pub(crate) fn service_parts(settings: &Settings) -> Parts {
    Parts::service(
        Clock::real(),
        engine::default_holder(),
        far_sides(settings),
        settings.exports.dir.clone(),
    )
}

/// The engine of a service process on `store` (for `job run`: nothing started).
pub(crate) fn build_engine(store: Arc<dyn Store>, settings: &Settings) -> Result<Arc<Engine>> {
    let engine = Application::build(store, service_parts(settings))?
        .engine()
        .clone();
    engine.set_alert_thresholds(crate::alert_cmd::thresholds(settings));
    Ok(engine)
}

/// The DSCO and LingXing client settings of the deployment file.
pub fn far_sides(settings: &Settings) -> FarSides {
    use crate::settings::DscoAuth;
    let auth = match &settings.dsco.auth {
        DscoAuth::OAuth {
            client_id,
            client_secret,
        } => dsco::Auth::OAuth2 {
            client_id: client_id.clone(),
            client_secret: client_secret.secret().clone(),
        },
        DscoAuth::Token(t) => dsco::Auth::StaticToken(t.secret().clone()),
    };
    let lx = &settings.lingxing;
    let mut lingxing = lingxing::LingxingConfig::new(
        lx.base_url.as_str(),
        lx.app_id.clone(),
        lx.app_secret.expose(),
    );
    lingxing.timezone = lx.timezone;
    FarSides {
        dsco: dsco::DscoConfig::new(settings.dsco.base_url.as_str(), auth),
        lingxing,
        platform_code: lx.platform_code,
    }
}

/// The console's display settings from the deployment file.
pub(crate) fn console_config(settings: &Settings) -> console::ConsoleConfig {
    console::ConsoleConfig {
        language: settings.console.language.lang(),
        timezone: settings.console.timezone,
    }
}

/// Who logs in to the console (`[[console.users]]`, `console.password` as `admin`), with the
/// cookie and idle settings. No users: nobody logs in (loopback only).
pub(crate) fn console_login(settings: &Settings) -> console::Login {
    let c = &settings.console;
    let mut login = console::Login::new(c.login_users());
    login.secure_cookie = c.secure_cookie;
    login.idle = std::time::Duration::from_secs(u64::from(c.session_idle_minutes) * 60);
    login
}

/// `/healthz`, `/readyz` and `/metrics`, and the pages when `listen` is loopback or operators
/// log in (on another address without users only the ops endpoints are served, with a warning
/// naming `console.listen`; the settings refuse that case, so it is a second guard).
pub(crate) fn console_app(
    listen: std::net::SocketAddr,
    engine: Arc<Engine>,
    cfg: console::ConsoleConfig,
    login: console::Login,
    metrics: Option<console::MetricsRender>,
) -> axum::Router {
    let ops = console::ops_router(engine.clone(), metrics);
    match console::check_listen(listen, &login) {
        Ok(()) => ops.merge(console::console_router_with_login(engine, cfg, login)),
        Err(e) => {
            tracing::warn!("{e}; serving /healthz, /readyz and /metrics only");
            ops
        }
    }
}

/// The console as the start-up's server: `/healthz`, `/readyz`, `/metrics` and the pages (see
/// [`console_app`]) on `listen` (port 0 picks a free port). Served with the clients' addresses,
/// which the login's attempt limit counts by.
pub(crate) fn console_server(
    listen: std::net::SocketAddr,
    cfg: console::ConsoleConfig,
    login: console::Login,
    metrics: Option<console::MetricsRender>,
) -> Server {
    Server {
        listen,
        serve: Box::new(move |listener, engine, stop| {
            let app = console_app(listen, engine, cfg, login, metrics);
            Box::pin(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(stop)
                .await
            })
        }),
    }
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
