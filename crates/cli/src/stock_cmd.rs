//! `dsco-lingxing stock release|runs|export` and `dsco-lingxing sku conflicts`: thin wrappers
//! over the store (and the engine's CSV writer). No business rule lives here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use domain::JobName;

use crate::settings::Settings;
use crate::view::ReadView;

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Release every held sync_stock run: the next run sends even if the zero-drop guard trips.
    Release {
        /// Why the drop is genuine (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Who releases (default: the OS user, else `cli`).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Recent sync_stock runs: state, counts and why a run was held.
    Runs {
        /// How many runs to list, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Write the stock items recorded since a time as CSV (stdout, or a file).
    Export {
        /// `YYYY-MM-DD` (UTC midnight) or an RFC 3339 time.
        #[arg(long)]
        since: String,
        /// Output file; `-` or absent: stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// At most this many items.
        #[arg(long, default_value_t = 1_000_000)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkuCommand {
    /// The conflicts found by the latest pull_sku_pair run (or by `--run`).
    Conflicts {
        /// The pull_sku_pair run (default: the latest).
        #[arg(long)]
        run: Option<String>,
    },
}

pub async fn stock(settings: &Settings, command: StockCommand) -> Result<ExitCode> {
    let store = crate::startup::open_store(settings).await?;
    match command {
        StockCommand::Release { reason, actor } => {
            if reason.trim().is_empty() {
                eprintln!("--reason must say why the drop to 0 is genuine");
                return Ok(ExitCode::from(2));
            }
            let actor = actor.unwrap_or_else(engine::ops::cli_actor);
            let who = engine::ops::Who {
                actor: &actor,
                reason: &reason,
                now: Utc::now(),
            };
            let ids = match engine::ops::release_stock(&*store, &who).await {
                Ok(ids) => ids,
                Err(e) if e.is_input() => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            };
            if ids.is_empty() {
                println!("no held sync_stock run: nothing to release");
            } else {
                println!(
                    "released {} held run(s): {}; the next sync_stock run sends without the zero-drop guard",
                    ids.len(),
                    ids.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StockCommand::Runs { .. } => unreachable!("a read command: `runs`"),
        StockCommand::Export { since, out, limit } => {
            let Some(since) = parse_since(&since) else {
                eprintln!("--since must be YYYY-MM-DD or an RFC 3339 time, got `{since}`");
                return Ok(ExitCode::from(2));
            };
            let items = store.stock_items_since(since, limit).await?;
            match out.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    let mut buf = Vec::new();
                    engine::stock::write_stock_csv(&items, &mut buf)?;
                    engine::stock::write_atomically(&path, &buf)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} item(s) written to {}", items.len(), path.display());
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    engine::stock::write_stock_csv(&items, &mut lock)?;
                    lock.flush()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn sku(settings: &Settings, command: SkuCommand) -> Result<ExitCode> {
    let store = crate::startup::open_store(settings).await?;
    match command {
        SkuCommand::Conflicts { run } => {
            let run_id = match run {
                Some(r) => r,
                None => match store
                    .list_runs(Some(JobName::PullSkuPair), 1)
                    .await?
                    .into_iter()
                    .next()
                {
                    Some(r) => r.id,
                    None => {
                        println!("pull_sku_pair has not run yet");
                        return Ok(ExitCode::SUCCESS);
                    }
                },
            };
            let conflicts = store.sku_conflicts(&run_id).await?;
            if conflicts.is_empty() {
                println!("run {run_id}: no conflicts");
                return Ok(ExitCode::SUCCESS);
            }
            println!("run {run_id}: {} conflict(s)", conflicts.len());
            for c in &conflicts {
                println!(
                    "  {:<18} store {:<20} msku {:<20} sku {:<20} {}",
                    c.kind.as_str(),
                    c.store_id,
                    c.msku,
                    c.sku,
                    c.detail
                );
            }
            // Manual clashes alone do not stop a pull; anything else does.
            let blocking = conflicts.iter().any(|c| c.kind.blocks());
            Ok(if blocking {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `stock runs`: recent sync_stock runs, newest first.
pub(crate) async fn runs(view: &ReadView, limit: u32) -> Result<ExitCode> {
    for r in view.store.stock_runs(false, limit).await? {
        println!(
            "{}  {}  {:<9} {}read {} changed {} sent {} drops {}/{}{}",
            view.at(r.at),
            r.run_id,
            r.state.as_str(),
            if r.full_push { "full " } else { "" },
            r.skus_read,
            r.skus_changed,
            r.skus_sent,
            r.drops_to_zero,
            r.above_zero,
            if r.note.is_empty() {
                String::new()
            } else {
                format!("\n    {}", r.note)
            }
        );
        if let (Some(by), Some(why)) = (&r.released_by, &r.release_reason) {
            println!("    released by {by}: {why}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_since(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(
            parse_since("2026-03-01").unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-03-01T08:00:00+08:00")
                .unwrap()
                .to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert!(parse_since("yesterday").is_none());
    }
}
