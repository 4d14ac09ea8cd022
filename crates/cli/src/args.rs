//! The command line: every subcommand and its arguments (clap). The command groups with many
//! arguments keep theirs beside their code: `config_cmd::ConfigCommand`,
//! `stock_cmd::{StockCommand, SkuCommand}`, `bench_stock::BenchCommand`, `demo::DemoArgs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps DSCO and LingXing ERP (领星) in sync by scheduled batch jobs.
#[derive(Debug, Parser)]
#[command(name = "dsco-lingxing", version, about)]
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
    /// Jobs: list their schedules, or run one now.
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
    /// Benchmarks against the in-process simulators on the simulated clock.
    Bench {
        #[command(subcommand)]
        command: crate::bench_stock::BenchCommand,
    },
    /// Both simulators in-process, a fresh SQLite store, ~200 seeded orders through every rule.
    Demo(crate::demo::DemoArgs),
    /// Alerts: send a test message to the channels, list alerts and deliveries.
    Alert {
        #[command(subcommand)]
        command: crate::alert_cmd::AlertCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The LingXing OpenAPI simulator. Default credentials: appId `ak_SimulatorApp1`,
    /// appSecret `U2ltdWxhdG9yU2VjcmV0MQ==`.
    Lingxing {
        #[arg(long, default_value = "127.0.0.1:18081")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        app_id: Option<String>,
        #[arg(long)]
        app_secret: Option<String>,
        /// A JSON seed file (world, delays, rates); see the simulator's documentation.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// The DSCO v3 simulator. Default OAuth2 credentials: client id `dsco-sim-client`, secret
    /// `dsco-sim-secret`.
    Dsco {
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        client_secret: Option<String>,
        /// Also accept this static bearer token.
        #[arg(long)]
        static_token: Option<String>,
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
    /// Run one job now (refused if it is already running, here or in another replica).
    Run {
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
    },
}
