//! `dsco-lingxing config check|import|export|diff|history|rollback|set`.
//!
//! Every command that writes the runtime config shows the diff against the running version
//! (computed by `domain`), takes a `--reason`, and records actor, versions and the diff in the
//! audit log. An import never removes a job, a setting or a mapping entry (`mapping.sku` too)
//! unless `--replace` is given; `--merge` keeps everything the file does not name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use domain::config::{ConfigDiff, parse_json_strict};
use domain::{ImportedConfig, RuntimeConfig};
use serde_json::json;
use store::{AuditEntry, SkuMap, SkuSource, Store};

use crate::settings::Settings;
use crate::startup::open_store;
use crate::view::in_zone;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a deployment TOML file (default: --config) or a runtime-config JSON file.
    /// With --online, also sign in to DSCO and LingXing and check every mapping value against
    /// what LingXing lists, and both clocks (reads only; exit 1 on any problem).
    Check {
        /// The file to check (`.json`: a runtime config only).
        file: Option<PathBuf>,
        /// Also sign in to DSCO and LingXing with the configured credentials (of the file, or of
        /// --config for a JSON file) and check the mappings (the file's runtime config, else the
        /// store's running one) against the far sides.
        #[arg(long)]
        online: bool,
    },
    /// Load a runtime config into the store: a TOML file (a `[runtime_config]` section, or
    /// top-level `jobs`/`mapping`) or the predecessor's JSON row, unchanged. Shows the diff
    /// against the running version and refuses to remove anything unless --replace is given.
    Import {
        /// A TOML file or the predecessor's runtime_config JSON.
        file: PathBuf,
        /// Keep every job, setting and mapping entry the file does not name (for a partial file).
        #[arg(long, conflicts_with = "replace")]
        merge: bool,
        /// The file becomes the whole runtime config: what it lacks is removed.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Print the effective configuration, secrets redacted, runtime config from the store.
    Export {
        /// What to print.
        #[arg(long, value_enum, default_value_t = ExportFormat::Toml)]
        format: ExportFormat,
    },
    /// Compare two stored versions (default: the previous and the running one; one version:
    /// that one and the running one), or with --file what importing a file would change.
    Diff {
        /// The older version (default: the one before the running one).
        from: Option<i64>,
        /// The newer version (default: the running one).
        to: Option<i64>,
        /// Compare the running version with what importing this file would make.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        file: Option<PathBuf>,
        /// With --file: as `config import --merge` would.
        #[arg(long, requires = "file")]
        merge: bool,
    },
    /// The stored versions, newest first: when, who, why, and what changed.
    History {
        /// How many versions to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Save a new version equal to an older one (history is never rewritten). `mapping.sku` is
    /// versioned apart and stays as it is.
    Rollback {
        /// The version to restore (see `config history`).
        version: i64,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Change one setting by key path: `jobs.push_to_lingxing.size 100`,
    /// `jobs.sync_stock.enable false`, `writes_enabled false`, `mapping.shop.<dscoRetailerId>
    /// <store_id>`, `mapping.sku.<DSCO SKU> <LingXing SKU>` (a manual entry). `null` removes the
    /// key. Validated as `config check` validates a file.
    Set {
        /// The key path, such as `jobs.push_to_lingxing.size` or `mapping.shop.1000012345`.
        key: String,
        /// The new value (TOML syntax: `100`, `false`, `"0 */5 * * * *"`), or `null` to remove.
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// What every command that writes the runtime config takes.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Why (kept in the audit log and the config history).
    #[arg(long)]
    reason: String,
    /// Show the diff only; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Recorded in the audit log (default `cli:$USER`).
    #[arg(long)]
    actor: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// The whole deployment file.
    Toml,
    /// The runtime config only, in the predecessor's JSON shape (with mapping.sku).
    Json,
}

pub async fn config(settings: Settings, command: ConfigCommand) -> Result<ExitCode> {
    match run(settings, command).await {
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

async fn run(settings: Settings, command: ConfigCommand) -> Result<ExitCode> {
    match command {
        ConfigCommand::Check { .. } => unreachable!("checked before the settings load"),
        ConfigCommand::Export { format } => export(settings, format).await,
        ConfigCommand::History { limit } => history(&settings, limit).await,
        ConfigCommand::Diff {
            from,
            to,
            file,
            merge,
        } => diff(&settings, from, to, file, merge).await,
        ConfigCommand::Import {
            file,
            merge,
            replace,
            write,
        } => {
            let mode = match (merge, replace) {
                (true, _) => Mode::Merge,
                (_, true) => Mode::Replace,
                _ => Mode::Safe,
            };
            import(&settings, &file, mode, Write::new(write)?).await
        }
        ConfigCommand::Rollback { version, write } => {
            rollback(&settings, version, Write::new(write)?).await
        }
        ConfigCommand::Set { key, value, write } => {
            set(&settings, &key, &value, Write::new(write)?).await
        }
    }
}

/// `config check --online`: the offline check of `file`, then (when it passes) the online check
/// of `engine::online_check` with the credentials of the deployment file (`file`, or `config`
/// when `file` is a runtime-config JSON). Exit 0 when nothing is wrong, 1 on any problem.
pub async fn check_online(file: &Path, config: &Path) -> Result<ExitCode> {
    let offline = check(file);
    if offline != ExitCode::SUCCESS {
        return Ok(offline);
    }
    let is_json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let deployment = if is_json { config } else { file };
    let settings = match Settings::load(deployment) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let _ = crate::logging::init(settings.logging.format, &settings.logging.level);
    let from_file = if is_json {
        Some(read_runtime_config(file)?)
    } else {
        settings.runtime_config.clone()
    };
    // The store keeps the shared LingXing token (and the running config when the file has
    // none); a file's config is checked without one (the token then lives in memory).
    let store = match (&from_file, open_store(&settings).await) {
        (_, Ok(s)) => Some(s),
        (Some(_), Err(_)) => None,
        (None, Err(e)) => return Err(e),
    };
    let (imported, origin) = match (from_file, &store) {
        (Some(i), _) => (i, file.display().to_string()),
        (None, Some(store)) => {
            let running = Running::read(&**store).await?;
            (
                running.imported(),
                format!(
                    "the store's running config ({})",
                    version_name(running.version)
                ),
            )
        }
        (None, None) => unreachable!("a missing store returned above"),
    };
    let zh = settings.console.language.lang() == domain::Lang::Zh;
    let (dsco_url, lx_url) = (
        store::redact_url(settings.dsco.base_url.as_str()),
        store::redact_url(settings.lingxing.base_url.as_str()),
    );
    println!(
        "{}",
        if zh {
            format!("在线检查 {origin} 的映射（DSCO {dsco_url}，领星 {lx_url}）：")
        } else {
            format!(
                "online check of the mappings of {origin} (DSCO {dsco_url}, LingXing {lx_url}):"
            )
        }
    );
    let far = crate::startup::far_sides(&settings);
    let platform_code = far.platform_code;
    let (dsco, lingxing) = engine::online_check::clients(far, store, clock::Clock::real())?;
    let report = engine::online_check::check(
        &dsco,
        &lingxing,
        platform_code,
        &imported.config,
        &imported.sku,
        engine::online_check::OnlineOptions::default(),
    )
    .await;
    for n in &report.notes {
        println!("  {}", n.line(zh));
    }
    for p in &report.problems {
        println!("{}", p.line(zh));
    }
    println!("{}", report.summary(zh));
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `config check` (before the settings are loaded: the file checked may be the broken one).
pub fn check(path: &Path) -> ExitCode {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        return match read_runtime_config(path) {
            Ok(imported) => {
                println!("{}: ok (runtime config)", path.display());
                print_summary(&imported.config, &imported.sku);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::from(2)
            }
        };
    }
    match Settings::load(path) {
        Ok(s) => {
            println!("{}: ok", path.display());
            println!("  store: {}", s.store.url.redacted());
            println!(
                "  console: {} ({}, {})",
                s.console.listen,
                s.console.language.as_str(),
                s.console.timezone
            );
            match &s.runtime_config {
                Some(rc) => print_summary(&rc.config, &rc.sku),
                None => println!("  runtime config: none in this file (the store's copy is used)"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn print_summary(c: &RuntimeConfig, sku: &BTreeMap<String, String>) {
    let enabled: Vec<_> = c
        .jobs
        .iter()
        .filter(|(_, j)| j.enable)
        .map(|(n, _)| n.as_str())
        .collect();
    println!(
        "  jobs: {} configured, enabled: {}",
        c.jobs.len(),
        enabled.join(", ")
    );
    println!(
        "  mappings: shop {}, warehouse {}, shipment {}, carrier {}, sku {}",
        c.mapping.shop.len(),
        c.mapping.warehouse.len(),
        c.mapping.shipment.len(),
        c.mapping.carrier.len(),
        sku.len()
    );
}

/// Reads a runtime config from a predecessor JSON row (the `config` column, or the whole row
/// with a `config` key) or from TOML (a `[runtime_config]` table, or `jobs`/`mapping` at the top).
fn read_runtime_config(path: &Path) -> Result<ImportedConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let origin = path.display().to_string();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    let (value, root) = if is_json {
        let v = parse_json_strict(&text).map_err(|e| anyhow!("{origin}: invalid JSON: {e}"))?;
        match v.get("config") {
            Some(inner) if v.get("jobs").is_none() => (inner.clone(), "config"),
            _ => (v, "runtime_config"),
        }
    } else {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(0);
            anyhow!("{origin}:{line}: invalid TOML: {}", e.message().trim())
        })?;
        let v = serde_json::to_value(&table)?;
        match v.get("runtime_config") {
            Some(rc) => (rc.clone(), "runtime_config"),
            None => (v, "runtime_config"),
        }
    };
    RuntimeConfig::from_value(&value, root)
        .map_err(|e| anyhow!("{origin}: invalid runtime config:\n{e}"))
}

/// Who writes, why, and whether to write at all.
struct Write {
    actor: String,
    reason: String,
    dry_run: bool,
}

impl Write {
    fn new(args: WriteArgs) -> Result<Write> {
        let WriteArgs {
            reason,
            dry_run,
            actor,
        } = args;
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            return Err(anyhow!(BadInput(
                "--reason must say why (it is kept in the audit log)".into()
            )));
        }
        let actor = actor.unwrap_or_else(cli_actor);
        Ok(Write {
            actor,
            reason,
            dry_run,
        })
    }
}

/// Who the audit log names for a CLI command without `--actor`: `cli:$USER`.
pub(crate) fn cli_actor() -> String {
    engine::ops::cli_actor()
}

/// Bad input found after the arguments parsed: exit 2 (the one type of the binary).
pub use crate::app::BadInput;

/// The runtime config and `mapping.sku` as the store has them now.
struct Running {
    version: Option<i64>,
    config: RuntimeConfig,
    sku: SkuMap,
}

impl Running {
    async fn read(store: &dyn Store) -> Result<Running> {
        let stored = store.runtime_config().await?;
        Ok(Running {
            version: stored.as_ref().map(|s| s.version),
            config: stored.map(|s| s.config).unwrap_or_default(),
            sku: store.sku_map().await?,
        })
    }

    fn imported(&self) -> ImportedConfig {
        ImportedConfig {
            config: self.config.clone(),
            sku: self.sku.effective(),
        }
    }
}

/// What a command would write.
struct Plan {
    /// The new runtime config (`None`: unchanged).
    config: Option<RuntimeConfig>,
    sku: Option<SkuWrite>,
    /// Running → after, `mapping.sku` as the effective map.
    diff: ConfigDiff,
}

enum SkuWrite {
    Replace(SkuSource, BTreeMap<String, String>),
    Manual(String, Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The file is the whole config, but nothing may be removed.
    Safe,
    Merge,
    Replace,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Safe => "import",
            Mode::Merge => "import --merge",
            Mode::Replace => "import --replace",
        }
    }
}

/// What importing `file` would change, and the writes that do it.
fn plan_import(running: &Running, file: &ImportedConfig, mode: Mode) -> Result<Plan> {
    let config = match mode {
        Mode::Merge => running
            .config
            .merged_with(&file.config)
            .map_err(|e| anyhow!(BadInput(format!("the merged config is invalid:\n{e}"))))?,
        Mode::Safe | Mode::Replace => file.config.clone(),
    };
    // Imported SKU entries belong to the pairs job when the config enables it (as on first
    // start); the other source's entries stay.
    let next = ImportedConfig {
        config,
        sku: file.sku.clone(),
    };
    let source = if next.sku_from_pairs() {
        SkuSource::Pair
    } else {
        SkuSource::Manual
    };
    let mut entries = match mode {
        Mode::Merge => running.sku.entries_of(source),
        Mode::Safe | Mode::Replace => BTreeMap::new(),
    };
    entries.extend(next.sku);
    let config = next.config;
    let after = ImportedConfig {
        config: config.clone(),
        sku: running.sku.with_entries(source, &entries).effective(),
    };
    let diff = ConfigDiff::between(&running.imported(), &after);
    Ok(Plan {
        config: (running.version.is_none() || config != running.config).then_some(config),
        sku: (entries != running.sku.entries_of(source))
            .then_some(SkuWrite::Replace(source, entries)),
        diff,
    })
}

fn print_diff(header: &str, diff: &ConfigDiff) {
    println!("{header}");
    if diff.is_empty() {
        println!("  no changes");
    }
    for c in &diff.changes {
        println!("  {c}");
    }
}

/// Refuses a plan that removes anything (exit 2), saying what (the lines are in the diff above).
fn refuse_drops(diff: &ConfigDiff, file: &Path) -> Option<ExitCode> {
    let removed = ConfigDiff {
        changes: diff.removals().into_iter().cloned().collect(),
    };
    if removed.is_empty() {
        return None;
    }
    eprintln!(
        "refused: importing {} would remove {} job(s), setting(s) or mapping entries the file does not have ({}).\n\
         Nothing was written. Use --merge to keep everything the file does not name, or --replace to remove them.",
        file.display(),
        removed.changes.len(),
        removed.summary()
    );
    Some(ExitCode::from(2))
}

async fn import(settings: &Settings, file: &Path, mode: Mode, w: Write) -> Result<ExitCode> {
    let imported = match read_runtime_config(file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = open_store(settings).await?;
    let running = Running::read(&*store).await?;
    let plan = plan_import(&running, &imported, mode)?;
    print_diff(
        &format!(
            "{} {} (running: {}):",
            mode.as_str(),
            file.display(),
            version_name(running.version)
        ),
        &plan.diff,
    );
    if mode != Mode::Replace
        && let Some(code) = refuse_drops(&plan.diff, file)
    {
        return Ok(code);
    }
    let what = format!("{} {}", mode.as_str(), file.display());
    apply(&*store, &running, plan, "config.import", &what, &w).await
}

/// `import legacy`'s runtime config: the predecessor's `runtime_config.config` JSON (`origin`
/// names where it came from), imported as `config import --merge` would (nothing the store has
/// is removed), with the diff printed; `dry_run` writes nothing.
pub(crate) async fn import_legacy_config(
    store: &dyn Store,
    json_text: &str,
    origin: &str,
    actor: &str,
    dry_run: bool,
) -> Result<ExitCode> {
    let imported = parse_json_strict(json_text)
        .map_err(|e| anyhow!("{origin}: invalid JSON: {e}"))
        .and_then(|v| {
            RuntimeConfig::from_value(&v, "runtime_config.config")
                .map_err(|e| anyhow!("{origin}: invalid runtime config:\n{e}"))
        });
    let imported = match imported {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let running = Running::read(store).await?;
    let plan = plan_import(&running, &imported, Mode::Merge)?;
    print_diff(
        &format!(
            "runtime config from {origin} (as import --merge; running: {}):",
            version_name(running.version)
        ),
        &plan.diff,
    );
    let w = Write {
        actor: actor.to_owned(),
        reason: "import legacy: the Go service's runtime_config".to_owned(),
        dry_run,
    };
    let what = format!("import legacy {origin}");
    apply(store, &running, plan, "config.import", &what, &w).await
}

/// At most this many changes are copied into one audit entry (its summary counts them all).
const AUDITED_CHANGES: usize = 500;

/// Writes a plan (unless a dry run or nothing changes) and audits it.
async fn apply(
    store: &dyn Store,
    running: &Running,
    plan: Plan,
    action: &str,
    what: &str,
    w: &Write,
) -> Result<ExitCode> {
    if w.dry_run {
        println!("dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    if plan.config.is_none() && plan.sku.is_none() {
        println!("nothing to write");
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let reason = &w.reason;
    let mut config_version = running.version;
    if let Some(c) = &plan.config {
        config_version = Some(
            store
                .save_runtime_config(running.version, c, &w.actor, reason, now)
                .await?,
        );
    }
    let mut sku_version = running.sku.version;
    if let Some(s) = &plan.sku {
        let expected = running.sku.version;
        sku_version = match s {
            SkuWrite::Replace(source, entries) => {
                store
                    .replace_sku_entries(expected, *source, entries, &w.actor, reason, now, None)
                    .await?
            }
            SkuWrite::Manual(dsco, lx) => {
                store
                    .set_manual_sku(expected, dsco, lx.as_deref(), &w.actor, reason, now)
                    .await?
            }
        };
        if let SkuWrite::Replace(source, entries) = s {
            println!(
                "mapping.sku: {} entries as `{}`",
                entries.len(),
                source.as_str()
            );
        }
    }
    // The changes themselves, up to a bound (a SKU map can have thousands of entries).
    let changes: Vec<_> = plan
        .diff
        .changes
        .iter()
        .take(AUDITED_CHANGES)
        .map(|c| json!({"path": c.path, "old": c.old, "new": c.new}))
        .collect();
    store
        .append_audit(&AuditEntry {
            at: now,
            actor: w.actor.clone(),
            action: action.to_owned(),
            target: format!(
                "runtime_config {} → {}",
                version_name(running.version),
                version_name(config_version)
            ),
            reason: reason.clone(),
            detail: json!({
                "what": what,
                "from_version": running.version,
                "to_version": config_version,
                "sku_from_version": running.sku.version,
                "sku_to_version": sku_version,
                "summary": plan.diff.summary(),
                "changes": changes,
                "changes_total": plan.diff.changes.len(),
            }),
        })
        .await?;
    let moved = |from: String, to: String| {
        if from == to {
            format!("{to} (unchanged)")
        } else {
            format!("{from} → {to}")
        }
    };
    println!(
        "saved: runtime config {}, mapping.sku {} ({})",
        moved(version_name(running.version), version_name(config_version)),
        moved(
            format!("v{}", running.sku.version),
            format!("v{sku_version}")
        ),
        plan.diff.summary()
    );
    Ok(ExitCode::SUCCESS)
}

fn version_name(v: Option<i64>) -> String {
    match v {
        Some(v) => format!("v{v}"),
        None => "none".to_owned(),
    }
}

async fn set(settings: &Settings, key: &str, value: &str, w: Write) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let running = Running::read(&*store).await?;
    let before = running.imported();
    let edit = match before.with_setting(key, value) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("nothing was written");
            return Ok(ExitCode::from(2));
        }
    };
    let plan = match edit.sku {
        Some((dsco, lx)) => {
            let after = ImportedConfig {
                config: running.config.clone(),
                sku: running.sku.with_manual(&dsco, lx.as_deref()).effective(),
            };
            let manual = running.sku.entries_of(SkuSource::Manual);
            let unchanged = manual.get(&dsco) == lx.as_ref();
            Plan {
                config: None,
                sku: (!unchanged).then_some(SkuWrite::Manual(dsco, lx)),
                diff: ConfigDiff::between(&before, &after),
            }
        }
        None => {
            let config = edit.config.config;
            Plan {
                diff: ConfigDiff::between(
                    &before,
                    &ImportedConfig {
                        config: config.clone(),
                        sku: before.sku.clone(),
                    },
                ),
                config: (running.version.is_none() || config != running.config).then_some(config),
                sku: None,
            }
        }
    };
    print_diff(
        &format!(
            "set {} (running: {}):",
            edit.path,
            version_name(running.version)
        ),
        &plan.diff,
    );
    let what = format!("set {} {}", edit.path, value.trim());
    apply(&*store, &running, plan, "config.set", &what, &w).await
}

async fn rollback(settings: &Settings, version: i64, w: Write) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let running = Running::read(&*store).await?;
    // The plan (the target version, the diff) is the console's too.
    let planned = match engine::ops_config::plan_rollback(&*store, version).await {
        Ok(p) => p,
        Err(engine::ops_config::ConfigOpError::NoVersion(_)) => {
            eprintln!(
                "no runtime config version {version} (the latest is {}); see `config history`",
                version_name(running.version)
            );
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    print_diff(
        &format!(
            "rollback to v{version} (running: {}):",
            version_name(running.version)
        ),
        &planned.diff,
    );
    let plan = Plan {
        config: (planned.config != running.config).then_some(planned.config),
        sku: None,
        diff: planned.diff,
    };
    let w = Write {
        reason: format!("rollback to v{version}: {}", w.reason),
        ..w
    };
    let what = format!("rollback to v{version}");
    apply(&*store, &running, plan, "config.rollback", &what, &w).await
}

async fn diff(
    settings: &Settings,
    from: Option<i64>,
    to: Option<i64>,
    file: Option<PathBuf>,
    merge: bool,
) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    if let Some(file) = file {
        let imported = match read_runtime_config(&file) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{e:#}");
                return Ok(ExitCode::from(2));
            }
        };
        let running = Running::read(&*store).await?;
        let mode = if merge { Mode::Merge } else { Mode::Replace };
        let plan = plan_import(&running, &imported, mode)?;
        print_diff(
            &format!(
                "running ({}) → {}{}:",
                version_name(running.version),
                file.display(),
                if merge { " merged" } else { "" }
            ),
            &plan.diff,
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(latest) = store.runtime_config_version().await? else {
        println!("no runtime config in the store yet");
        return Ok(ExitCode::SUCCESS);
    };
    let (a, b) = match (from, to) {
        (None, _) => (latest - 1, latest),
        (Some(a), None) => (a, latest),
        (Some(a), Some(b)) => (a, b),
    };
    let (Some(old), Some(new)) = (config_at(&*store, a).await?, config_at(&*store, b).await?)
    else {
        eprintln!("no such runtime config version (versions are v1 to v{latest})");
        return Ok(ExitCode::from(2));
    };
    let d = ConfigDiff::between(&as_imported(old), &as_imported(new));
    print_diff(&format!("v{a} → v{b}:"), &d);
    Ok(ExitCode::SUCCESS)
}

/// Version `v` of the runtime config; version 0 is the empty config before the first.
async fn config_at(store: &dyn Store, v: i64) -> Result<Option<RuntimeConfig>> {
    if v == 0 {
        return Ok(Some(RuntimeConfig::default()));
    }
    Ok(store.runtime_config_at(v).await?.map(|s| s.config))
}

/// A stored version for comparison: `mapping.sku` is versioned apart, so not part of it.
fn as_imported(config: RuntimeConfig) -> ImportedConfig {
    ImportedConfig {
        config,
        sku: BTreeMap::new(),
    }
}

async fn history(settings: &Settings, limit: u32) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let rows = store
        .runtime_config_history(limit.saturating_add(1))
        .await?;
    if rows.is_empty() {
        println!("no runtime config in the store yet");
        return Ok(ExitCode::SUCCESS);
    }
    let tz = settings.console.timezone;
    for (i, r) in rows.iter().take(limit as usize).enumerate() {
        let older = match rows.get(i + 1) {
            Some(o) if o.version == r.version - 1 => Some(o.config.clone()),
            _ if r.version == 1 => Some(RuntimeConfig::default()),
            _ => None,
        };
        let summary = match older {
            Some(o) => {
                ConfigDiff::between(&as_imported(o), &as_imported(r.config.clone())).summary()
            }
            None => "(older versions not listed)".to_owned(),
        };
        println!(
            "v{}  {}  {}  {}  | {}",
            r.version,
            in_zone(r.created_at, tz),
            r.actor,
            if r.reason.is_empty() {
                "-"
            } else {
                r.reason.as_str()
            },
            summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(mut settings: Settings, format: ExportFormat) -> Result<ExitCode> {
    let store = open_store(&settings).await?;
    let stored = store.runtime_config().await?;
    let sku = store.sku_map().await?.effective();
    match format {
        ExportFormat::Json => {
            let config = stored.map(|s| s.config).unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&config.to_value(&sku))?);
        }
        ExportFormat::Toml => {
            if let Some(s) = stored {
                settings.runtime_config = Some(ImportedConfig {
                    config: s.config,
                    sku,
                });
            }
            print!("{}", settings.to_redacted_toml());
        }
    }
    Ok(ExitCode::SUCCESS)
}
