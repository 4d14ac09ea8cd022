//! The command line: every subcommand and its arguments (clap). The command groups with many
//! arguments keep theirs beside their code: `config_cmd::ConfigCommand`,
//! `stock_cmd::{StockCommand, SkuCommand}`, `bench_stock::BenchCommand`, `demo::DemoArgs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `--version`: the package version and the git commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("DL_GIT_COMMIT"),
    ")"
);

/// Keeps DSCO (Rithum dropship) purchase orders and LingXing ERP (领星) in sync by scheduled
/// batch jobs: pulls orders from DSCO, creates them in LingXing, and sends acknowledgements,
/// shipments, invoices and stock back to DSCO.
///
/// Start with `config check`, `migrate` and `config import`, then `run`; `status`, `order …`
/// and `job runs` answer what happened. `demo` tries everything against built-in simulators.
#[derive(Debug, Parser)]
#[command(name = "dsco-lingxing", version = VERSION, about, long_about)]
pub struct Args {
    /// The deployment config file.
    #[arg(
        long,
        global = true,
        env = "DSCO_LINGXING_CONFIG",
        default_value = "dsco-lingxing.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler, with /healthz and /metrics on the console address.
    Run,
    /// Jobs: list their schedules and runs, or run one now. The jobs: pull_dsco_orders,
    /// push_to_lingxing, ack_to_dsco, ship_to_dsco, invoice_to_dsco, sync_stock, pull_sku_pair,
    /// cleanup_exports, reconcile.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Configuration: check, import, export, diff, history, rollback, set.
    Config {
        #[command(subcommand)]
        command: crate::config_cmd::ConfigCommand,
    },
    /// Create or upgrade the store's tables (also done by every other command).
    Migrate,
    /// Switch over from the Go service: `import legacy --pg URL [--dry-run]`.
    Import {
        #[command(subcommand)]
        command: crate::import_cmd::ImportCommand,
    },
    /// Orders in the store.
    Order {
        #[command(subcommand)]
        command: OrderCommand,
    },
    /// Run a simulator of DSCO or LingXing on a local address (for trying the service out).
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// sync_stock: release held runs, list runs, export items as CSV.
    Stock {
        #[command(subcommand)]
        command: crate::stock_cmd::StockCommand,
    },
    /// mapping.sku from LingXing pairs: the conflicts of the latest pull.
    Sku {
        #[command(subcommand)]
        command: crate::stock_cmd::SkuCommand,
    },
    /// Mappings: set one entry and retry the orders that waited on it.
    Mapping {
        #[command(subcommand)]
        command: crate::ops_cmd::MappingCommand,
    },
    /// Benchmarks against the in-process simulators on the simulated clock.
    Bench {
        #[command(subcommand)]
        command: crate::bench_stock::BenchCommand,
    },
    /// Both simulators in-process, a fresh SQLite store, ~200 seeded orders through every rule.
    Demo(crate::demo::DemoArgs),
    /// The console's operators: `hash-password` for `[[console.users]]`.
    Console {
        #[command(subcommand)]
        command: crate::console_cmd::ConsoleCommand,
    },
    /// The global write switch: stop (`off`) or resume (`on`) every write to DSCO and LingXing,
    /// with a reason (a new runtime-config version, audited).
    Writes {
        #[command(subcommand)]
        command: crate::writes_cmd::WritesCommand,
    },
    /// Orders per stage, what needs attention by cause, each job's last run, whether writes are
    /// on (the console's overview).
    Status {
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Copy a SQLite store to FILE: consistent and online (the service may keep running). A
    /// PostgreSQL store is backed up with `pg_dump`.
    Backup {
        /// The new file (must not exist).
        file: PathBuf,
        /// Back up this store (`sqlite://…`) instead of the config file's.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Alerts: send a test message to the channels, list alerts and deliveries.
    Alert {
        #[command(subcommand)]
        command: crate::alert_cmd::AlertCommand,
    },
    /// Compare orders with DSCO and LingXing (reads only) and record the findings: behind,
    /// ahead, diverged. One PO, or the orders DSCO created in a window.
    Reconcile(crate::reconcile_cmd::ReconcileArgs),
}

impl Command {
    /// Whether the command serves (HTTP) until stopped, rather than printing and exiting.
    pub fn is_server(&self) -> bool {
        matches!(self, Command::Run | Command::Sim { .. } | Command::Demo(_))
    }

    /// Whether the command keeps Rust's SIGPIPE disposition (ignored) instead of the default
    /// the printing commands get: the servers, and the commands that talk HTTP while they work.
    /// With the default, writing to a connection the other side had closed kills the process:
    /// `bench faults --orders 600` died that way (rc 141) when a simulator in it wrote a page
    /// to a client the kill scenario had dropped, and a job run from the CLI would die the same
    /// way when a far side hangs up while a request is being written.
    pub fn ignores_sigpipe(&self) -> bool {
        self.is_server()
            || matches!(
                self,
                Command::Bench { .. }
                    | Command::Reconcile(_)
                    | Command::Alert { .. }
                    | Command::Job {
                        command: JobCommand::Run { .. }
                    }
            )
    }

    /// For a read-only command, its `--store` URL if given: these need only the store (the
    /// URL, or the config file's `[store]`), no DSCO or LingXing credentials. `None` for every
    /// other command.
    pub fn read_store(&self) -> Option<Option<&str>> {
        use crate::stock_cmd::StockCommand;
        match self {
            Command::Job {
                command: JobCommand::List { store } | JobCommand::Runs { store, .. },
            }
            | Command::Order {
                command: OrderCommand::Show { store, .. } | OrderCommand::Stuck { store, .. },
            }
            | Command::Stock {
                command: StockCommand::Runs { store, .. },
            }
            | Command::Status { store }
            | Command::Backup { store, .. } => Some(store.as_deref()),
            Command::Order {
                command: OrderCommand::List(args),
            } => Some(args.store.as_deref()),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The LingXing OpenAPI simulator. Default credentials: appId `ak_SimulatorApp1`,
    /// appSecret `U2ltdWxhdG9yU2VjcmV0MQ==`.
    Lingxing {
        /// The address to serve on.
        #[arg(long, default_value = "127.0.0.1:18081")]
        listen: std::net::SocketAddr,
        /// The appId clients must use (16 characters).
        #[arg(long)]
        app_id: Option<String>,
        /// The appSecret clients must use (better from the env var or --app-secret-file: a
        /// command line is visible to every user of the machine).
        #[arg(long, env = "DSCO_LINGXING_SIM_APP_SECRET", hide_env_values = true)]
        app_secret: Option<String>,
        /// Read the appSecret from this file (trailing newline dropped).
        #[arg(long, value_name = "FILE", conflicts_with = "app_secret")]
        app_secret_file: Option<PathBuf>,
        /// LingXing's real pace (audits after 10 min–4 h, shipments 2–36 h later) instead of
        /// the default quick one (audits after 5–30 s, shipments 10–60 s later).
        #[arg(long)]
        realistic: bool,
        /// A JSON seed file (world, delays, rates); see the simulator's documentation.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// The DSCO v3 simulator. Default OAuth2 credentials: client id `dsco-sim-client`, secret
    /// `dsco-sim-secret`.
    Dsco {
        /// The address to serve on.
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: std::net::SocketAddr,
        /// The OAuth2 client id clients must use.
        #[arg(long)]
        client_id: Option<String>,
        /// The OAuth2 client secret clients must use (better from the env var or
        /// --client-secret-file).
        #[arg(long, env = "DSCO_LINGXING_SIM_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// Read the OAuth2 client secret from this file (trailing newline dropped).
        #[arg(long, value_name = "FILE", conflicts_with = "client_secret")]
        client_secret_file: Option<PathBuf>,
        /// Also accept this static bearer token.
        #[arg(long, env = "DSCO_LINGXING_SIM_STATIC_TOKEN", hide_env_values = true)]
        static_token: Option<String>,
        /// Read the static bearer token from this file (trailing newline dropped).
        #[arg(long, value_name = "FILE", conflicts_with = "static_token")]
        static_token_file: Option<PathBuf>,
        /// Generate this many realistic orders at start.
        #[arg(long)]
        orders: Option<usize>,
        /// A seed file (JSON, or TOML when it ends in .toml).
        #[arg(long)]
        seed: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Every job with its schedule and next three fire times (UTC and display time zone).
    List {
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's; no
        /// config file is needed, times are shown in the default display zone.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Recent runs, newest first: trigger, outcome, duration, counts, skips by reason code.
    Runs {
        /// Only this job's runs.
        #[arg(value_parser = parse_job)]
        job: Option<domain::JobName>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Run one job now (refused if it is already running, here or in another replica).
    Run {
        /// The job: pull_dsco_orders, push_to_lingxing, ack_to_dsco, ship_to_dsco,
        /// invoice_to_dsco, sync_stock, pull_sku_pair, cleanup_exports or reconcile.
        job: String,
        /// Only this PO.
        #[arg(long)]
        po: Option<String>,
        /// Decide and record, write nothing to DSCO or LingXing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// What the store holds for one PO: stage, reason, LingXing orders, tracking, timeline.
    Show {
        /// The PO number (or the dscoOrderId of a DSCO order without one).
        po: String,
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's; no
        /// config file is needed, reasons and times are shown in the default language and zone.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Orders stuck per stage (longer than `stuck_after_periods` periods of the job that moves
    /// them, default four), oldest first.
    Stuck {
        /// How many POs to list per stage.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Read this store (`sqlite://…`, `postgres://…`) instead of the config file's.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Retry now: clear the back-off of one PO (or of every order of a cause) so that the next
    /// run of its stage's job decides it; `--run-now` runs that job for the PO at once.
    Retry {
        /// One PO (or none, with --reason-code, for a bulk retry).
        po: Option<String>,
        /// Run the stage's job for this PO now.
        #[arg(long)]
        run_now: bool,
        /// Bulk: every order whose current reason has this code.
        #[arg(long, value_name = "CODE")]
        reason_code: Option<String>,
        /// Bulk: only the orders whose reason names this key (a cause row's subject).
        #[arg(long, requires = "reason_code")]
        key: Option<String>,
        /// Bulk: only orders at this stage (1–4).
        #[arg(long, requires = "reason_code")]
        stage: Option<i64>,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Take an order out of needs attention without moving its stage.
    Ignore {
        /// The PO to take out of needs attention.
        po: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Bring an ignored order back into needs attention.
    Unignore {
        /// The PO to bring back.
        po: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Force an order to a stage: only forward, or to 6 cancelled. Prints what the jobs will
    /// and will not do afterwards.
    Force {
        /// The PO to move.
        po: String,
        /// The stage (1–6).
        #[arg(long)]
        to: i64,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Orders matching filters (those of the console's order list), oldest first.
    List(Box<crate::order_cmd::ListArgs>),
}

/// A job name, with the list of names when it is none.
fn parse_job(s: &str) -> Result<domain::JobName, String> {
    s.parse::<domain::JobName>().map_err(|e| e.to_string())
}

/// The command line with `--config` hidden from the help of the commands that do not read the
/// deployment file (`sim`, `demo`, `bench`; it is global, so clap would list it on all).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Args::command();
    for name in ["sim", "demo", "bench"] {
        cmd = cmd.mut_subcommand(name, hide_config);
    }
    cmd
}

fn hide_config(c: clap::Command) -> clap::Command {
    let names: Vec<String> = c
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    // Defined here (hidden), the global `--config` is not propagated into this command.
    let mut c = c.arg(
        clap::Arg::new("config")
            .long("config")
            .value_parser(clap::value_parser!(PathBuf))
            .hide(true),
    );
    for n in names {
        c = c.mut_subcommand(n, hide_config);
    }
    c
}

/// Parses the process's arguments with [`command`].
pub fn parse() -> Args {
    use clap::FromArgMatches;
    Args::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `--config` is offered where it is read, not on `sim`, `demo`, `bench`.
    #[test]
    fn config_is_hidden_where_it_is_ignored() {
        let help = |path: &[&str]| {
            let mut cmd = super::command();
            cmd.build();
            let mut c = &mut cmd;
            for p in path {
                c = c.find_subcommand_mut(p).unwrap();
            }
            c.render_help().to_string()
        };
        for path in [&["sim", "dsco"][..], &["demo"][..], &["bench", "day"][..]] {
            assert!(!help(path).contains("--config"), "{path:?}: {}", help(path));
        }
        for path in [
            &["run"][..],
            &["order", "show"][..],
            &["config", "import"][..],
        ] {
            assert!(help(path).contains("--config"), "{path:?}");
        }
    }

    /// The commands that talk HTTP keep SIGPIPE ignored (a far side or a simulator's client
    /// hanging up must not kill them); the printing ones get the default back.
    #[test]
    fn the_http_commands_keep_sigpipe_ignored() {
        use clap::FromArgMatches;
        let parse = |a: &[&str]| {
            let m = super::command()
                .try_get_matches_from(std::iter::once("dsco-lingxing").chain(a.iter().copied()))
                .unwrap();
            super::Args::from_arg_matches(&m).unwrap().command
        };
        for a in [
            &["run"][..],
            &["demo"][..],
            &["bench", "faults"][..],
            &["job", "run", "pull_dsco_orders"][..],
        ] {
            assert!(parse(a).ignores_sigpipe(), "{a:?}");
        }
        for a in [
            &["job", "list"][..],
            &["config", "export"][..],
            &["status"][..],
        ] {
            assert!(!parse(a).ignores_sigpipe(), "{a:?}");
        }
    }

    /// Every subcommand has a description and every argument and option a help text (issue 17
    /// item 10).
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() && path.contains(' ') {
                missing.push(format!("{path}: no description"));
            }
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Args::command(), "dsco-lingxing", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }

    #[test]
    fn job_help_lists_the_job_names() {
        let mut cmd = super::Args::command();
        let job = cmd.find_subcommand_mut("job").unwrap();
        let run = job.find_subcommand_mut("run").unwrap();
        let help = run.render_help().to_string();
        for name in domain::JobName::ALL {
            assert!(help.contains(name.as_str()), "{name} missing from:\n{help}");
        }
    }
}
