//! The subcommands' dispatch. Each command is thin: load settings, open the store, call the
//! engine or the store, print. No business rule lives here; the commands are in one module per
//! group (`run_cmd`, `job_cmd`, `order_cmd`, `config_cmd`, `stock_cmd`, `sim_cmd`, `demo`,
//! `bench*`), the wiring in `startup`.

use std::process::ExitCode;

use anyhow::Result;

pub use crate::args::{Args, Command, JobCommand, OrderCommand, SimCommand};
use crate::config_cmd::ConfigCommand;
use crate::logging;
use crate::settings::Settings;
use crate::view::ReadView;
use crate::{config_cmd, job_cmd, order_cmd, run_cmd, sim_cmd, startup};

/// Exit codes: 0 ok, 1 failure, 2 bad input (config, arguments).
pub async fn main(args: Args) -> ExitCode {
    match dispatch(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(args: Args) -> Result<ExitCode> {
    if let Command::Config {
        command: ConfigCommand::Check { file },
    } = &args.command
    {
        return Ok(config_cmd::check(file.as_deref().unwrap_or(&args.config)));
    }
    if let Command::Bench { command } = args.command {
        // Benchmarks print figures, not logs; `DSCO_LINGXING_BENCH_LOG=<filter>` opts in (for
        // profiling, e.g. `sqlx::query=debug` to see every statement).
        if let Ok(f) = std::env::var("DSCO_LINGXING_BENCH_LOG") {
            logging::init(logging::LogFormat::Json, &f)?;
        }
        return crate::bench_stock::bench(command).await;
    }
    if let Command::Sim { command } = args.command {
        let _ = logging::init(logging::LogFormat::Pretty, "info");
        return sim_cmd::sim(command).await;
    }
    if let Command::Demo(a) = args.command {
        let _ = logging::init(logging::LogFormat::Pretty, "warn");
        return crate::demo::run(a).await;
    }
    // `--store URL`: a store instead of the config file, for the read commands that take it.
    let url = match &args.command {
        Command::Job {
            command: JobCommand::List { store },
        }
        | Command::Order {
            command: OrderCommand::Show { store, .. },
        } => store.as_deref(),
        _ => None,
    };
    if let Some(url) = url {
        let view = match ReadView::from_url(url).await? {
            Ok(v) => v,
            Err(e) => {
                eprintln!("--store: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        return match args.command {
            Command::Order {
                command: OrderCommand::Show { po, .. },
            } => order_cmd::show(&view, &po).await,
            _ => job_cmd::list(&view).await,
        };
    }
    let settings = match Settings::load(&args.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let _ = logging::init(settings.logging.format, &settings.logging.level);
    match args.command {
        Command::Run => run_cmd::run(settings).await,
        Command::Migrate => {
            let store = startup::open_store(&settings).await?;
            println!(
                "store ready ({:?}, {})",
                store.backend(),
                settings.store.url.redacted()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Job { command } => match command {
            JobCommand::List { .. } => {
                job_cmd::list(&ReadView::from_settings(&settings).await?).await
            }
            JobCommand::Run { job, po, dry_run } => {
                job_cmd::run(&settings, &job, po, dry_run).await
            }
        },
        Command::Config { command } => config_cmd::config(settings, command).await,
        Command::Order { command } => {
            let view = ReadView::from_settings(&settings).await?;
            match command {
                OrderCommand::Show { po, .. } => order_cmd::show(&view, &po).await,
                OrderCommand::Stuck { limit } => order_cmd::stuck(&view, limit).await,
            }
        }
        Command::Stock { command } => crate::stock_cmd::stock(&settings, command).await,
        Command::Sku { command } => crate::stock_cmd::sku(&settings, command).await,
        Command::Alert { command } => crate::alert_cmd::alert(&settings, command).await,
        Command::Sim { .. } | Command::Demo(_) | Command::Bench { .. } => {
            unreachable!("handled above")
        }
    }
}
