//! The subcommands' dispatch. Each command is thin: load settings, open the store, call the
//! engine or the store, print. No business rule lives here; the commands are in one module per
//! group (`run_cmd`, `job_cmd`, `order_cmd`, `config_cmd`, `stock_cmd`, `sim_cmd`, `demo`,
//! `bench*`), the wiring in `startup`.

use std::process::ExitCode;

use anyhow::Result;

pub use crate::args::{Args, Command, JobCommand, OrderCommand, SimCommand};
use crate::config_cmd::ConfigCommand;
use crate::logging;
use crate::settings::{ReadSettings, Settings};
use crate::view::ReadView;
use crate::{config_cmd, job_cmd, ops_cmd, order_cmd, run_cmd, sim_cmd};

/// Exit codes: 0 ok, 1 failure, 2 bad input (config, arguments).
pub async fn main(args: Args) -> ExitCode {
    match dispatch(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// An error that is the user's input (a config value, an argument, a store path that does not
/// exist): the command exits with 2, not 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

async fn dispatch(args: Args) -> Result<ExitCode> {
    if let Command::Config {
        command: ConfigCommand::Check { file, online },
    } = &args.command
    {
        let file = file.as_deref().unwrap_or(&args.config);
        if *online {
            return config_cmd::check_online(file, &args.config).await;
        }
        return Ok(config_cmd::check(file));
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
    if let Command::Console { command } = args.command {
        return crate::console_cmd::console(command);
    }
    if let Command::Demo(a) = args.command {
        let _ = logging::init(logging::LogFormat::Pretty, "warn");
        return crate::demo::run(a).await;
    }
    // The read-only commands need only the store: `--store URL`, or the config file's `[store]`
    // (and its display language and zone); no DSCO or LingXing credentials.
    if let Some(url) = args.command.read_store() {
        let view = match url {
            Some(url) => ReadView::from_url(url).await?,
            None => {
                let settings = match ReadSettings::load(&args.config) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("{e}");
                        return Ok(ExitCode::from(2));
                    }
                };
                let _ = logging::init(settings.logging.format, &settings.logging.level);
                ReadView::from_settings(&settings).await?
            }
        };
        return read(&view, args.command).await;
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
            // The one command besides `run` and `demo` that creates a store.
            let store = engine::startup::connect(settings.store.url.expose()).await?;
            println!(
                "store ready ({:?}, {})",
                store.backend(),
                settings.store.url.redacted()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Job {
            command: JobCommand::Run { job, po, dry_run },
        } => job_cmd::run(&settings, &job, po, dry_run).await,
        Command::Config { command } => config_cmd::config(settings, command).await,
        Command::Import { command } => crate::import_cmd::import(&settings, command).await,
        Command::Order { command } => match command {
            OrderCommand::Retry {
                po,
                run_now,
                reason_code,
                key,
                stage,
                reason,
            } => ops_cmd::retry(&settings, po, run_now, reason_code, key, stage, &reason).await,
            OrderCommand::Ignore { po, reason } => {
                ops_cmd::ignore(&settings, &po, true, &reason).await
            }
            OrderCommand::Unignore { po, reason } => {
                ops_cmd::ignore(&settings, &po, false, &reason).await
            }
            OrderCommand::Force { po, to, reason } => {
                ops_cmd::force(&settings, &po, to, &reason).await
            }
            OrderCommand::Show { .. } | OrderCommand::Stuck { .. } | OrderCommand::List(_) => {
                unreachable!("read commands are handled above")
            }
        },
        Command::Stock { command } => crate::stock_cmd::stock(&settings, command).await,
        Command::Sku { command } => crate::stock_cmd::sku(&settings, command).await,
        Command::Alert { command } => crate::alert_cmd::alert(&settings, command).await,
        Command::Reconcile(a) => crate::reconcile_cmd::reconcile(&settings, a).await,
        Command::Writes { command } => crate::writes_cmd::writes(&settings, command).await,
        Command::Mapping { command } => ops_cmd::mapping(&settings, command).await,
        Command::Job { .. }
        | Command::Status { .. }
        | Command::Backup { .. }
        | Command::Sim { .. }
        | Command::Demo(_)
        | Command::Bench { .. }
        | Command::Console { .. } => {
            unreachable!("handled above")
        }
    }
}

/// The read-only commands (see [`Command::read_store`]) on `view`.
async fn read(view: &ReadView, command: Command) -> Result<ExitCode> {
    use crate::stock_cmd::StockCommand;
    match command {
        Command::Job {
            command: JobCommand::List { .. },
        } => job_cmd::list(view).await,
        Command::Job {
            command: JobCommand::Runs { job, limit, .. },
        } => job_cmd::runs(view, job, limit).await,
        Command::Order { command } => match command {
            OrderCommand::Show { po, .. } => order_cmd::show(view, &po).await,
            OrderCommand::Stuck { limit, .. } => order_cmd::stuck(view, limit).await,
            OrderCommand::List(args) => order_cmd::list(view, &args).await,
            OrderCommand::Retry { .. }
            | OrderCommand::Ignore { .. }
            | OrderCommand::Unignore { .. }
            | OrderCommand::Force { .. } => unreachable!("not a read command"),
        },
        Command::Status { .. } => order_cmd::status(view).await,
        Command::Backup { file, .. } => backup(view, &file).await,
        Command::Stock {
            command: StockCommand::Runs { limit, .. },
        } => crate::stock_cmd::runs(view, limit).await,
        _ => unreachable!("not a read command: {command:?}"),
    }
}

/// `backup FILE`: a consistent copy of a SQLite store, taken while the service runs. Written
/// beside FILE under a temporary name and renamed, so FILE is whole or absent.
async fn backup(view: &ReadView, file: &std::path::Path) -> Result<ExitCode> {
    if file.exists() {
        return Err(BadInput(format!("{} exists: back up to a new file", file.display())).into());
    }
    if view.store.backend() == store::BackendKind::Postgres {
        return Err(BadInput(
            "a PostgreSQL store is backed up with pg_dump: pg_dump -Fc -f FILE 'postgres://…' (restore with pg_restore)".into(),
        )
        .into());
    }
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    view.store
        .backup_to(&partial)
        .await
        .map_err(|e| anyhow::anyhow!("backup to {}: {e}", partial.display()))?;
    std::fs::rename(&partial, file).map_err(|e| {
        anyhow::anyhow!("renaming {} to {}: {e}", partial.display(), file.display())
    })?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} ({bytes} bytes); {}",
        file.display(),
        view.t(
            "restore by stopping the service and putting this file in place of the store",
            "恢复：停止服务，用此文件替换存储文件"
        )
    );
    Ok(ExitCode::SUCCESS)
}
