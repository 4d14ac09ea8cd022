//! `dsco-lingxing import legacy --pg URL [--dry-run]`: switching over from the Go service.
//!
//! The runtime config goes in as `config import --merge` would; the orders and the stock-sync
//! log through `engine::legacy` (which decides every stage and writes). This file only prints:
//! each corrected order and bad row as found, then the counts per stage before and after.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use clock::Clock;
use engine::legacy::{ImportLine, import_legacy};
use store::{LegacySource, redact_url};

use crate::app::BadInput;
use crate::settings::Settings;
use crate::startup::open_store;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Bring in the Go service's PostgreSQL: its runtime config (as `config import --merge`),
    /// every order (DSCO payload, stage corrected from DSCO's state and what it sent, its sent
    /// writes recorded so that none is made again) and its stock-sync log. Idempotent and
    /// resumable: run it again after a crash. Stop the old service's cron first.
    Legacy {
        /// The Go service's database, `postgres://USER:PASSWORD@HOST/DB` (read only).
        #[arg(long, value_name = "URL")]
        pg: String,
        /// Read and decide everything, print the same report, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn import(settings: &Settings, command: ImportCommand) -> Result<ExitCode> {
    let ImportCommand::Legacy { pg, dry_run } = command;
    let origin = redact_url(&pg);
    let source = match LegacySource::connect(&pg).await {
        Ok(s) => s,
        Err(e) => {
            return Err(BadInput(format!("--pg {origin}: {e}")).into());
        }
    };
    let store = open_store(settings).await?;
    let actor = crate::config_cmd::cli_actor();
    let mut code = ExitCode::SUCCESS;
    match source.runtime_config().await? {
        Some(text) => {
            let c = crate::config_cmd::import_legacy_config(
                &*store,
                &text,
                &format!("{origin} runtime_config"),
                &actor,
                dry_run,
            )
            .await?;
            if c != ExitCode::SUCCESS {
                println!("runtime config NOT imported (see above); the orders are imported anyway");
                code = c;
            }
        }
        None => println!("runtime config: the Go service's table is empty, nothing to import"),
    }
    println!();
    let mut print = |l: ImportLine| match l {
        ImportLine::Corrected { po, from, to, why } => {
            println!(
                "corrected {po}: status {from} → {} {} ({})",
                to,
                to.label_zh(),
                why.join("; ")
            );
        }
        ImportLine::Bad { row, why } => println!("bad row {row}: {why}"),
    };
    let report = import_legacy(&store, &source, &Clock::real(), dry_run, &mut print).await;
    source.close().await;
    let r = report?;
    println!();
    println!("orders per stage / 各阶段订单数");
    println!("  before (Go service status):");
    for (s, n) in &r.before {
        let label = s
            .parse::<i64>()
            .ok()
            .and_then(domain::Stage::from_number)
            .map_or_else(
                || format!("{s} (unknown)"),
                |st| format!("{st} {}", st.label_zh()),
            );
        println!("    {label}: {n}");
    }
    println!("  after (this service):");
    for (s, n) in &r.after {
        println!("    {s} {}: {n}", s.label_zh());
    }
    println!(
        "orders: {} rows, {} new, {} updated, {} unchanged, {} corrected, {} bad (kept as unreadable orders)",
        r.rows, r.inserted, r.updated, r.unchanged, r.corrected, r.bad
    );
    println!(
        "writes the Go service made, recorded as confirmed: {}",
        r.intents
    );
    println!(
        "stock-sync log: {} rows read, {} added (table legacy_stock_log)",
        r.stock_rows, r.stock_added
    );
    if r.dry_run {
        println!("dry run: nothing written / 试运行：未写入");
    } else if !r.changed() {
        println!("nothing changed: everything was imported before / 无变化：此前已全部导入");
    } else {
        println!("imported / 导入完成");
    }
    Ok(code)
}
