//! `sim dsco|lingxing`: a simulator of one far side on a local address, for trying the service
//! out.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clock::Clock;
use tokio::sync::watch;

use crate::app::BadInput;
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
            app_secret_file,
            realistic,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::lingxing::LingxingSimConfig::from_seed_file(&p)
                    .map_err(|e| BadInput(format!("{}: {e}", p.display())))?,
                None if realistic => sim::lingxing::LingxingSimConfig::default(),
                // Quick enough that orders reach stage 5 within a couple of minutes.
                None => sim::lingxing::LingxingSimConfig {
                    audit_delay: sim::lingxing::DelayRange {
                        min_secs: 5,
                        max_secs: 30,
                    },
                    ship_delay: sim::lingxing::DelayRange {
                        min_secs: 10,
                        max_secs: 60,
                    },
                    ..Default::default()
                },
            };
            if let Some(a) = app_id {
                cfg.app_id = a;
            }
            if let Some(s) = secret(app_secret, app_secret_file)? {
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
            client_secret_file,
            static_token,
            static_token_file,
            orders,
            seed,
        } => {
            let mut cfg = match seed {
                Some(p) => sim::dsco::DscoSimConfig::from_seed_file(&p)
                    .map_err(|e| BadInput(format!("{}: {e}", p.display())))?,
                // DSCO confirms async writes in seconds here (30 s in the simulator's own
                // default), so the README's example finishes within a couple of minutes.
                None => sim::dsco::DscoSimConfig {
                    async_delay: std::time::Duration::from_secs(5),
                    ..Default::default()
                },
            };
            if let Some(v) = client_id {
                cfg.client_id = v;
            }
            if let Some(v) = secret(client_secret, client_secret_file)? {
                cfg.client_secret = v;
            }
            if let Some(v) = secret(static_token, static_token_file)? {
                cfg.static_token = Some(v);
            }
            if let Some(n) = orders {
                cfg.initial_orders = n;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            // Generated here rather than at start, to name them.
            let (id, n, gen_seed) = (
                cfg.client_id.clone(),
                cfg.initial_orders,
                cfg.generator_seed,
            );
            cfg.initial_orders = 0;
            let sim = sim::dsco::DscoSim::start(cfg, Clock::real(), listener)
                .await
                .map_err(|e| anyhow!("DSCO simulator: {e}"))?;
            let pos = sim.generate_orders(n, gen_seed);
            let named = match (pos.first(), pos.last()) {
                (Some(a), Some(b)) if pos.len() > 1 => format!(": {a} … {b}"),
                (Some(a), _) => format!(": {a}"),
                _ => String::new(),
            };
            println!(
                "DSCO simulator on {} (client id {id}, {} orders{named}); admin API at {}. Ctrl-C stops it.",
                sim.base_url(),
                pos.len(),
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

/// A secret from its option (or env var), or from a file with its trailing newline dropped.
fn secret(value: Option<String>, file: Option<std::path::PathBuf>) -> Result<Option<String>> {
    match file {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| BadInput(format!("cannot read {}: {e}", p.display())))?;
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
        }
        None => Ok(value),
    }
}
