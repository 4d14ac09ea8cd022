//! Deployment settings: one TOML file, overridable per key from the environment.
//!
//! - Every key can be set by `DSCO_LINGXING__<SECTION>__<KEY>` (case-insensitive, deeper levels
//!   nested with `__`). The value is read as a TOML value when it parses as one (`8080`, `true`,
//!   `["a"]`), else as a plain string; a string key always takes the raw text, so a numeric
//!   password stays a string. A segment matches an existing key case-insensitively and keeps the
//!   file's spelling; a key the file lacks is created lower-case (so a new, case-sensitive
//!   mapping key such as a warehouse code must be added in the file, not by env).
//! - Secrets come inline (best from env) or from `<key>_file` (Docker/Kubernetes secrets), never
//!   both, and live in [`SecretSetting`]s (the workspace's one `secret::Secret` and the file it
//!   came from), whose Debug and Display print `<redacted>`.
//! - Validation collects every problem as `key.path: problem`; nothing stops at the first.
//! - The optional `[runtime_config]` section is the predecessor's jobs + mapping shape, checked by
//!   [`domain::RuntimeConfig::from_value`]. Mapping gaps are not errors here (SPEC §6).
//!
//! # Layout
//! - this file: the defaults, [`Settings`] and its loading ([`Settings::load`],
//!   [`Settings::load_from`]), the example file (`examples/dsco-lingxing.toml`, compiled in).
//! - `secrets`: [`SecretSetting`]; `env`: the env overlay; `reader`: problems, [`SettingsError`]
//!   and the section reader; `sections`: the section types and their readers; `export`:
//!   [`Settings::to_redacted_toml`].

mod env;
mod export;
mod reader;
mod secrets;
mod sections;

use std::path::Path;

use chrono_tz::Tz;
use domain::ImportedConfig;

pub use reader::{Problem, SettingsError};
pub use secrets::SecretSetting;
pub use sections::{
    AlertKind, AlertSettings, AlertingSettings, ConsoleSettings, ConsoleUser, DscoAuth,
    DscoSettings, ExportSettings, Language, LingxingSettings, LoggingSettings, LoginMode,
    PASSWORD_USER, StoreKind, StoreSettings, StoreUrl,
};

use env::{apply_env, has_env_prefix};
use reader::{Cx, parse_table};
use sections::parse_root;

/// The env var prefix of overrides; the rest is `SECTION__KEY[__KEY…]`.
pub const ENV_PREFIX: &str = "DSCO_LINGXING__";

/// What secrets are shown as. Loading refuses it as a value, so an exported file is never
/// deployed with placeholders by mistake.
pub use secret::REDACTED;

pub const DEFAULT_DSCO_BASE_URL: &str = "https://api.dsco.io/api/v3";
pub const DEFAULT_LINGXING_BASE_URL: &str = "https://openapi.lingxing.com";
/// LingXing's custom platform (自定义平台), under which DSCO orders are created (api/lingxing.md).
pub const DEFAULT_PLATFORM_CODE: u32 = 10009;
/// LingXing's zone-less times are Beijing time (SPEC §4 "Times").
pub const DEFAULT_LINGXING_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
pub const DEFAULT_STORE_URL: &str = "sqlite://data/dsco-lingxing.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The operators are in China; an English-speaking team sets `console.language = "en"`.
pub const DEFAULT_LANGUAGE: Language = Language::ZhCn;
/// `console.session_idle_minutes`: a console session idle this long ends.
pub const DEFAULT_SESSION_IDLE_MINUTES: u32 = 30;
pub const DEFAULT_DISPLAY_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
pub const DEFAULT_EXPORT_DIR: &str = "data/exports";
pub const DEFAULT_LOG_LEVEL: &str = "info";

const SECTIONS: &[&str] = &[
    "dsco",
    "lingxing",
    "store",
    "console",
    "exports",
    "logging",
    "alerts",
    "alerting",
    "runtime_config",
];

/// The whole deployment file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dsco: DscoSettings,
    pub lingxing: LingxingSettings,
    pub store: StoreSettings,
    pub console: ConsoleSettings,
    pub exports: ExportSettings,
    pub logging: LoggingSettings,
    /// The `[[alerts]]` channels; empty when there is none (alerts are then only logged).
    pub alerts: Vec<AlertSettings>,
    /// When alerts are raised (`[alerting]`).
    pub alerting: AlertingSettings,
    /// The `[runtime_config]` section, validated; `None` when absent (the store's copy rules).
    pub runtime_config: Option<ImportedConfig>,
}

/// What the read-only commands (`order show|stuck|list`, `job list|runs`, `stock runs`,
/// `status`) need of the deployment file: the store, the display language and zone, logging.
/// The other sections are not read, so a file with only `[store]` serves, and no DSCO or
/// LingXing credential is needed.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    pub store: StoreSettings,
    pub console: ConsoleSettings,
    pub logging: LoggingSettings,
}

impl ReadSettings {
    /// Reads the file at `path` with overrides from the process environment.
    pub fn load(path: &Path) -> Result<ReadSettings, SettingsError> {
        load_file(path, ReadSettings::load_from)
    }

    /// [`Settings::load_from`] for the sections a read needs.
    pub fn load_from(
        text: &str,
        origin: &str,
        env: &[(String, String)],
    ) -> Result<ReadSettings, SettingsError> {
        let mut root = parse_table(text, origin)?;
        let mut cx = Cx::default();
        apply_env(&mut root, env, &mut cx);
        let settings = sections::parse_read(&root, &mut cx);
        cx.annotate_env();
        match settings {
            Some(s) if cx.problems.is_empty() => Ok(s),
            _ => Err(SettingsError {
                origin: origin.to_owned(),
                problems: cx.problems,
            }),
        }
    }
}

impl From<&Settings> for ReadSettings {
    fn from(s: &Settings) -> ReadSettings {
        ReadSettings {
            store: s.store.clone(),
            console: s.console.clone(),
            logging: s.logging.clone(),
        }
    }
}

/// Reads `path` and the `DSCO_LINGXING__…` variables of the process, then `parse`s them.
fn load_file<T>(
    path: &Path,
    parse: impl FnOnce(&str, &str, &[(String, String)]) -> Result<T, SettingsError>,
) -> Result<T, SettingsError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::one(&origin, &origin, format!("cannot read: {e}")))?;
    let mut env = Vec::new();
    let mut bad_vars = Vec::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if !has_env_prefix(k) {
            continue;
        }
        match v.into_string() {
            Ok(v) => env.push((k.to_owned(), v)),
            Err(_) => bad_vars.push(Problem {
                path: k.to_owned(),
                problem: "value is not valid UTF-8".to_owned(),
            }),
        }
    }
    match parse(&text, &origin, &env) {
        Ok(s) if bad_vars.is_empty() => Ok(s),
        Ok(_) => Err(SettingsError {
            origin,
            problems: bad_vars,
        }),
        Err(mut e) => {
            e.problems.extend(bad_vars);
            Err(e)
        }
    }
}

impl Settings {
    /// Reads the file at `path` with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        load_file(path, Settings::load_from)
    }

    /// Parses `text` (labelled `origin` in messages) with the env overrides in `env` (name,
    /// value); names without the `DSCO_LINGXING__` prefix are ignored. `*_file` secrets are read
    /// from disk, relative paths from the working directory.
    pub fn load_from(
        text: &str,
        origin: &str,
        env: &[(String, String)],
    ) -> Result<Settings, SettingsError> {
        let mut root = parse_table(text, origin)?;
        let mut cx = Cx::default();
        apply_env(&mut root, env, &mut cx);
        let settings = parse_root(&root, &mut cx);
        cx.annotate_env();
        match settings {
            Some(s) if cx.problems.is_empty() => Ok(s),
            _ => Err(SettingsError {
                origin: origin.to_owned(),
                problems: cx.problems,
            }),
        }
    }

    /// A commented, complete example that loads as it is (with placeholder credentials).
    pub fn example_toml() -> &'static str {
        EXAMPLE
    }
}

/// The example deployment file: complete, commented, loads as it is.
const EXAMPLE: &str = include_str!("../../../../examples/dsco-lingxing.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_validates() {
        let s = Settings::load_from(EXAMPLE, "examples/dsco-lingxing.toml", &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.runtime_config.is_some());
        assert_eq!(s.console.listen.to_string(), DEFAULT_LISTEN);
    }
}
