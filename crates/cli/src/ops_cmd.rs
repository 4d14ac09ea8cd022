//! The operator actions on the command line: `order retry|ignore|unignore|force` and
//! `mapping set`. Each calls the same code as the console (`engine::ops`), with the OS user as
//! the actor and a required `--reason`, and prints what it did. No business rule lives here.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use domain::{PoNumber, ReasonCode, Stage, Trigger};
use engine::RunResult;
use engine::ops::{self, OpsError, Who};
use store::OrderFilter;

use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Add or change one mapping entry (validated as `config check` does), save a new
    /// runtime-config version (for `sku`: a `manual` entry of mapping.sku), and retry the
    /// orders that waited on it.
    Set {
        /// shop, warehouse, shipment, carrier or sku.
        #[arg(value_parser = ["shop", "warehouse", "shipment", "carrier", "sku"])]
        mapping: String,
        /// The DSCO side: retailer id, warehouse code, `WAREHOUSE-LEVEL`, service level, SKU.
        key: String,
        /// The LingXing side: store_id, wid, logistics_type_id, carrier name, LingXing SKU.
        value: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

/// Prints an action's refusal; 2 for bad input, else the error goes up (exit 1).
fn refused(e: OpsError) -> Result<ExitCode> {
    if e.is_input() {
        eprintln!("{e}");
        eprintln!("nothing was done");
        Ok(ExitCode::from(2))
    } else {
        Err(e.into())
    }
}

fn parse_po(po: &str) -> Result<PoNumber, ExitCode> {
    PoNumber::parse(po).map_err(|e| {
        eprintln!("PO: {e}");
        ExitCode::from(2)
    })
}

/// `order retry PO [--run-now]` or `order retry --reason-code CODE [--key KEY] [--stage N]`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn retry(
    settings: &Settings,
    po: Option<String>,
    run_now: bool,
    reason_code: Option<String>,
    key: Option<String>,
    stage: Option<i64>,
    reason: &str,
) -> Result<ExitCode> {
    let actor = ops::cli_actor();
    let who = Who {
        actor: &actor,
        reason,
        now: Utc::now(),
    };
    let store = crate::startup::open_store(settings).await?;
    match (po, reason_code) {
        (Some(po), None) => {
            if key.is_some() || stage.is_some() {
                eprintln!("--key and --stage go with --reason-code (a bulk retry), not with a PO");
                return Ok(ExitCode::from(2));
            }
            let po = match parse_po(&po) {
                Ok(p) => p,
                Err(c) => return Ok(c),
            };
            if !run_now {
                return match ops::retry_order(&*store, &po, &who).await {
                    Ok(job) => {
                        println!("{po}: retried; decided at the next run of {job}");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => refused(e),
                };
            }
            let engine = crate::startup::build_engine(store, settings)?;
            match ops::retry_order_now(&engine, &po, &who, true, Trigger::Cli).await {
                Ok(r) => {
                    let job = r.job.map(|j| j.to_string()).unwrap_or_default();
                    match r.run {
                        Some(RunResult::Ran {
                            run_id,
                            outcome,
                            counts,
                            error,
                            ..
                        }) => {
                            println!(
                                "{po}: retried; {job} run {run_id}: {outcome} (advanced {}, skipped {}, failed {})",
                                counts.advanced,
                                counts.skipped(),
                                counts.failed
                            );
                            if let Some(e) = error {
                                println!("  {e}");
                            }
                        }
                        Some(RunResult::Rejected { blocking_run_id }) => println!(
                            "{po}: retried; {job} is running already (run {}): decided by that run or the next",
                            blocking_run_id.as_deref().unwrap_or("unknown")
                        ),
                        None => println!("{po}: retried"),
                    }
                    println!("  now: {}", order_line(&**engine.store(), &po).await?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
        (None, Some(code)) => {
            if run_now {
                eprintln!("--run-now goes with one PO");
                return Ok(ExitCode::from(2));
            }
            if ReasonCode::parse(code.trim()).is_none() {
                eprintln!(
                    "--reason-code: `{code}` is not a reason code (see the reason catalogue, e.g. shop_unmapped)"
                );
                return Ok(ExitCode::from(2));
            }
            let stage = match stage.map(Stage::try_from).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("--stage: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let filter = OrderFilter {
                stage,
                reason_code: Some(code.trim().to_owned()),
                subject: key.map(|k| k.trim().to_owned()),
                ignored: Some(false),
                ..OrderFilter::default()
            };
            let m = ops::matching(&*store, &filter).await?;
            println!(
                "{} order(s) match {}{}",
                m.count(),
                ops::describe_filter(&filter),
                if m.first().is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}{}",
                        m.first()
                            .iter()
                            .map(PoNumber::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        if m.count() > m.first().len() {
                            ", …"
                        } else {
                            ""
                        }
                    )
                }
            );
            match ops::retry_matching(&*store, &filter, &who).await {
                Ok(n) => {
                    println!(
                        "{n} order(s) retried; each is decided at the next run of its stage's job"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
        (Some(_), Some(_)) => {
            eprintln!("give either a PO or --reason-code (a bulk retry), not both");
            Ok(ExitCode::from(2))
        }
        (None, None) => {
            eprintln!("give a PO, or --reason-code CODE [--key KEY] [--stage N] for a bulk retry");
            Ok(ExitCode::from(2))
        }
    }
}

async fn order_line(store: &dyn store::Store, po: &PoNumber) -> Result<String> {
    Ok(match store.get_order(po).await? {
        Some(o) => format!(
            "stage {}{}",
            o.stage,
            o.reason
                .map(|r| format!(", reason {} ({})", r.code, r.detail))
                .unwrap_or_default()
        ),
        None => "gone".into(),
    })
}

/// `order ignore PO` / `order unignore PO`.
pub(crate) async fn ignore(
    settings: &Settings,
    po: &str,
    ignored: bool,
    reason: &str,
) -> Result<ExitCode> {
    let po = match parse_po(po) {
        Ok(p) => p,
        Err(c) => return Ok(c),
    };
    let actor = ops::cli_actor();
    let who = Who {
        actor: &actor,
        reason,
        now: Utc::now(),
    };
    let store = crate::startup::open_store(settings).await?;
    match ops::set_ignored(&*store, &po, ignored, &who).await {
        Ok(true) if ignored => {
            println!(
                "{po}: ignored (out of needs attention; its stage is unchanged; `order unignore` brings it back)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(true) => {
            println!("{po}: un-ignored (back in needs attention when it has such a reason)");
            Ok(ExitCode::SUCCESS)
        }
        Ok(false) => {
            println!(
                "{po}: already {}; nothing written",
                if ignored { "ignored" } else { "not ignored" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

/// `order force PO --to N`: prints what the jobs will and will not do, then moves it.
pub(crate) async fn force(
    settings: &Settings,
    po: &str,
    to: i64,
    reason: &str,
) -> Result<ExitCode> {
    let po = match parse_po(po) {
        Ok(p) => p,
        Err(c) => return Ok(c),
    };
    let to = match Stage::try_from(to) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("--to: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let actor = ops::cli_actor();
    let who = Who {
        actor: &actor,
        reason,
        now: Utc::now(),
    };
    let store = crate::startup::open_store(settings).await?;
    if let Err(e) = domain::ops::check_reason(reason) {
        return refused(OpsError::Refused(e));
    }
    let plan = match ops::force_plan(&*store, &po, to).await {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    println!("{po}: stage {} → {}", plan.from, plan.to);
    let first = settings.console.language.lang();
    for lang in [first, other(first)] {
        for line in plan.consequences(lang) {
            println!("  {line}");
        }
    }
    match ops::force(&*store, &po, to, &who).await {
        Ok(from) => {
            println!("{po}: forced from {from} to {to} by {actor}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

fn other(l: domain::Lang) -> domain::Lang {
    match l {
        domain::Lang::Zh => domain::Lang::En,
        domain::Lang::En => domain::Lang::Zh,
    }
}

/// `mapping set NAME KEY VALUE`.
pub async fn mapping(settings: &Settings, command: MappingCommand) -> Result<ExitCode> {
    let MappingCommand::Set {
        mapping,
        key,
        value,
        reason,
    } = command;
    let actor = ops::cli_actor();
    let who = Who {
        actor: &actor,
        reason: &reason,
        now: Utc::now(),
    };
    let store = crate::startup::open_store(settings).await?;
    match ops::set_mapping(&*store, &mapping, &key, &value, &who).await {
        Ok(set) => {
            match set.version {
                Some(v) if mapping == "sku" => {
                    println!(
                        "{} = {} saved as `manual` (mapping.sku v{v})",
                        set.path,
                        value.trim()
                    )
                }
                Some(v) => println!(
                    "{} = {} saved (runtime config v{v})",
                    set.path,
                    value.trim()
                ),
                None => println!("{} is {} already: nothing written", set.path, value.trim()),
            }
            println!(
                "{} order(s) that waited on it retried; each is decided at the next run of its stage's job",
                set.retried
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}
