//! `run`: the service. The store (refused when it takes no writes), the runtime config imported
//! from the deployment file on a first start, the metrics recorder, then the scheduler and the
//! console until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use chrono::Utc;
use engine::startup::{self, Application};
use store::SkuSource;

use crate::app::BadInput;
use crate::settings::Settings;
use crate::startup::{
    console_config, console_login, console_server, service_parts, shutdown_signal,
};

pub(crate) async fn run(settings: Settings) -> Result<ExitCode> {
    // Nothing is written before the whole configuration is known good: the settings are
    // validated already, and the far sides' clients are built once here, so a setting they
    // refuse stops the start (exit 2) before the store is created or the runtime config saved.
    let far = crate::startup::far_sides(&settings);
    dsco::DscoClient::new(far.dsco, clock::Clock::real())
        .map_err(|e| BadInput(format!("dsco: {e}")))?;
    lingxing::LingxingClient::new(far.lingxing, clock::Clock::real(), None)
        .map_err(|e| BadInput(format!("lingxing: {e}")))?;
    // A store that refuses writes would fail every run: say so now, before serving.
    let store = startup::connect_writable(settings.store.url.expose()).await?;
    if store.runtime_config().await?.is_none() {
        match &settings.runtime_config {
            Some(rc) => {
                let now = Utc::now();
                let v = store
                    .save_runtime_config(
                        None,
                        &rc.config,
                        "run",
                        "first start: [runtime_config] of the deployment file",
                        now,
                    )
                    .await?;
                let source = if rc.sku_from_pairs() {
                    SkuSource::Pair
                } else {
                    SkuSource::Manual
                };
                store
                    .replace_sku_entries(0, source, &rc.sku, "run", "first start", now, None)
                    .await?;
                tracing::info!(
                    version = v,
                    "runtime config imported from the deployment file"
                );
            }
            None => tracing::warn!(
                "no runtime config: import one with `dsco-lingxing config import FILE --reason \"…\"`"
            ),
        }
    } else if settings.runtime_config.is_some() {
        tracing::warn!(
            "the store already has a runtime config; the file's [runtime_config] is ignored (change it with `config import`, `config set` or `config rollback`)"
        );
    }

    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(engine::metrics::SECONDS_BUCKETS)
        .map_err(|e| anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow!("cannot install the metrics recorder: {e}"))?;
    engine::metrics::describe();
    // The store's gauges (orders per stage, needs attention, held, stuck, last successes),
    // refreshed every 30 s; a failed refresh keeps the last values and says why.
    let gauges = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine::metrics::refresh_gauges(&*store, Utc::now()).await {
                    tracing::warn!(error = %e, "could not refresh the order gauges of /metrics");
                }
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        })
    };
    let render: console::MetricsRender = Arc::new(move || prometheus.render());
    let parts = service_parts(&settings);
    let console = console_server(
        settings.console.listen,
        console_config(&settings),
        console_login(&settings),
        Some(render),
    );
    let app =
        Application::build(store, parts)?.with_alerts(crate::alert_cmd::alert_config(&settings));
    app.engine()
        .set_alert_thresholds(crate::alert_cmd::thresholds(&settings));
    if settings.alerts.is_empty() {
        tracing::info!(
            "no [[alerts]] channel: alerts are kept in the store (console: Alerts) and logged"
        );
    }
    let running = app.start(Some(console)).await?;
    let stopper = running.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            "shutting down: no new runs; running jobs get a grace period, then stop and free their leases"
        );
        stopper.stop();
    });
    let joined = running.join().await;
    gauges.abort();
    joined?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
