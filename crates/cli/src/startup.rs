//! The deployment file's side of `engine::startup`: the store and the far sides from the
//! settings, the console as the start-up's server, and the shutdown signal.

use std::sync::Arc;

use anyhow::Result;
use clock::Clock;
use engine::Engine;
use engine::startup::{self, Application, FarSides, Parts, Server};
use store::Store;

use crate::settings::Settings;

/// The store of the deployment file, migrated.
pub(crate) async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    Ok(startup::connect(settings.store.url.expose()).await?)
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

/// `/healthz` and `/metrics`, and the pages when `listen` is loopback (they have no login yet:
/// on another address only the two ops endpoints are served, with a warning naming
/// `console.listen`).
pub(crate) fn console_app(
    listen: std::net::SocketAddr,
    engine: Arc<Engine>,
    cfg: console::ConsoleConfig,
    metrics: Option<console::MetricsRender>,
) -> axum::Router {
    let ops = console::ops_router(engine.clone(), metrics);
    match console::check_listen(listen) {
        Ok(()) => ops.merge(console::console_router(engine, cfg)),
        Err(e) => {
            tracing::warn!("{e}; serving /healthz, /readyz and /metrics only");
            ops
        }
    }
}

/// The console as the start-up's server: `/healthz`, `/readyz`, `/metrics` and the pages (see
/// [`console_app`]) on `listen` (port 0 picks a free port).
pub(crate) fn console_server(
    listen: std::net::SocketAddr,
    cfg: console::ConsoleConfig,
    metrics: Option<console::MetricsRender>,
) -> Server {
    Server {
        listen,
        serve: Box::new(move |listener, engine, stop| {
            let app = console_app(listen, engine, cfg, metrics);
            Box::pin(async move {
                axum::serve(listener, app)
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
