//! `sim dsco|lingxing`: a simulator of one far side on a local address, for trying the service
//! out.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clock::Clock;
use tokio::sync::watch;

use crate::args::SimCommand;
use crate::startup::shutdown_signal;

/// `sim dsco|lingxing`: one simulator on the real clock until SIGTERM or Ctrl-C.
pub(crate) async fn sim(command: SimCommand) -> Result<ExitCode> {
    let (_stop_tx, mut stop) = watch::channel(false);
    match command {
        SimCommand::Lingxing {
            listen,
            app_id,
            app_secret,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::lingxing::LingxingSimConfig::from_seed_file(&p)
                    .map_err(|e| anyhow!("{}: {e}", p.display()))?,
                None => sim::lingxing::LingxingSimConfig::default(),
            };
            if let Some(a) = app_id {
                cfg.app_id = a;
            }
            if let Some(s) = app_secret {
                cfg.app_secret = s;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let app_id = cfg.app_id.clone();
            let sim = sim::lingxing::LingxingSim::start(cfg, Clock::real(), listener)
                .await
                .map_err(|e| anyhow!("LingXing simulator: {e}"))?;
            println!(
                "LingXing simulator on {} (appId {app_id}); admin API under /__admin/. Ctrl-C stops it.",
                sim.base_url()
            );
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            sim.shutdown().await;
        }
        SimCommand::Dsco {
            listen,
            client_id,
            client_secret,
            static_token,
            orders,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::dsco::DscoSimConfig::from_seed_file(&p)
                    .map_err(|e| anyhow!("{}: {e}", p.display()))?,
                None => sim::dsco::DscoSimConfig::default(),
            };
            if let Some(v) = client_id {
                cfg.client_id = v;
            }
            if let Some(v) = client_secret {
                cfg.client_secret = v;
            }
            if static_token.is_some() {
                cfg.static_token = static_token;
            }
            if let Some(n) = orders {
                cfg.initial_orders = n;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let (id, n) = (cfg.client_id.clone(), cfg.initial_orders);
            let sim = sim::dsco::DscoSim::start(cfg, Clock::real(), listener)
                .await
                .map_err(|e| anyhow!("DSCO simulator: {e}"))?;
            println!(
                "DSCO simulator on {} (client id {id}, {n} orders); admin API at {}. Ctrl-C stops it.",
                sim.base_url(),
                sim.admin_url()
            );
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            drop(sim);
        }
    }
    Ok(ExitCode::SUCCESS)
}
