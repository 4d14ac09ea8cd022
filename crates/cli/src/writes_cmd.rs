//! `dsco-lingxing writes off|on --reason TEXT`: the global write switch, through
//! `engine::ops::set_writes`, the function the console's `/writes` form calls (the same
//! runtime-config version, the same audit entry).

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use engine::ops::{WritesError, set_writes};

use crate::settings::Settings;
use crate::startup::open_store;

#[derive(Debug, Subcommand)]
pub enum WritesCommand {
    /// Stop every write to DSCO and LingXing (the jobs still read and decide).
    Off(SwitchArgs),
    /// Resume writes.
    On(SwitchArgs),
}

#[derive(Debug, clap::Args)]
pub struct SwitchArgs {
    /// Why (kept in the audit log and the config history).
    #[arg(long)]
    reason: String,
    /// Recorded in the audit log (default `cli:$USER`).
    #[arg(long)]
    actor: Option<String>,
}

pub async fn writes(settings: &Settings, command: WritesCommand) -> Result<ExitCode> {
    let (enabled, args) = match command {
        WritesCommand::Off(a) => (false, a),
        WritesCommand::On(a) => (true, a),
    };
    let actor = args.actor.unwrap_or_else(crate::config_cmd::cli_actor);
    let store = open_store(settings).await?;
    let word = if enabled { "on" } else { "off" };
    match set_writes(&*store, enabled, &actor, &args.reason, Utc::now()).await {
        Ok(c) => {
            match c.to_version {
                Some(v) => println!(
                    "writes {word}: saved runtime config v{v} (was {}); audited as {actor}",
                    c.from_version
                        .map_or_else(|| "none".to_owned(), |v| format!("v{v}"))
                ),
                None => println!("writes are already {word}; nothing written"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(WritesError::NoReason) => {
            eprintln!("--reason must say why (it is kept in the audit log); nothing was changed");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
