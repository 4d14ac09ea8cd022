//! Deployment settings: one TOML file, overridable per key from the environment.
//!
//! - Every key can be set by `DSCO_LINGXING__<SECTION>__<KEY>` (case-insensitive, deeper levels
//!   nested with `__`). The value is read as a TOML value when it parses as one (`8080`, `true`,
//!   `["a"]`), else as a plain string; a string key always takes the raw text, so a numeric
//!   password stays a string. A segment matches an existing key case-insensitively and keeps the
//!   file's spelling; a key the file lacks is created lower-case (so a new, case-sensitive
//!   mapping key such as a warehouse code must be added in the file, not by env).
//! - Secrets come inline (best from env) or from `<key>_file` (Docker/Kubernetes secrets), never
//!   both, and live in [`Secret`], whose Debug and Display print `<redacted>`.
//! - Validation collects every problem as `key.path: problem`; nothing stops at the first.
//! - The optional `[runtime_config]` section is the predecessor's jobs + mapping shape, checked by
//!   [`domain::RuntimeConfig::from_value`]. Mapping gaps are not errors here (SPEC §6).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use domain::{ImportedConfig, RuntimeConfig};
use secrecy::{ExposeSecret, SecretString};
use toml::{Table, Value};
use url::Url;

use store::redact_url;

use crate::logging::{self, LogFormat};

/// The env var prefix of overrides; the rest is `SECTION__KEY[__KEY…]`.
pub const ENV_PREFIX: &str = "DSCO_LINGXING__";

/// What secrets are shown as. Loading refuses it as a value, so an exported file is never
/// deployed with placeholders by mistake.
pub const REDACTED: &str = "<redacted>";

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
    "runtime_config",
];

// ---------------------------------------------------------------------------------------------
// Secrets

/// A secret value. Debug and Display print `<redacted>`; [`Secret::expose`] is the one way to
/// read it, so every use is greppable.
#[derive(Clone)]
pub struct Secret {
    value: SecretString,
    /// The file it was read from, if any: not secret, and what an export shows instead.
    file: Option<PathBuf>,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret {
            value: SecretString::from(value.into()),
            file: None,
        }
    }

    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// The `*_file` it came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

// ---------------------------------------------------------------------------------------------
// Typed settings

/// The whole deployment file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dsco: DscoSettings,
    pub lingxing: LingxingSettings,
    pub store: StoreSettings,
    pub console: ConsoleSettings,
    pub exports: ExportSettings,
    pub logging: LoggingSettings,
    /// `None` when the file has no `[alerts]` section: alerts are only logged.
    pub alerts: Option<AlertSettings>,
    /// The `[runtime_config]` section, validated; `None` when absent (the store's copy rules).
    pub runtime_config: Option<ImportedConfig>,
}

#[derive(Clone)]
pub struct DscoSettings {
    /// API root including `/api/v3`; production by default.
    pub base_url: Url,
    pub auth: DscoAuth,
}

/// How the DSCO client authenticates (api/dsco.md §auth).
#[derive(Debug, Clone)]
pub enum DscoAuth {
    /// OAuth2 client credentials (`POST {base}/oauth2/token`), required of new accounts.
    OAuth {
        client_id: String,
        client_secret: Secret,
    },
    /// The legacy long-lived API token.
    Token(Secret),
}

#[derive(Clone)]
pub struct LingxingSettings {
    pub base_url: Url,
    /// `appId`: sent as `app_key` on every request, so not a secret.
    pub app_id: String,
    pub app_secret: Secret,
    pub platform_code: u32,
    /// The zone LingXing's zone-less `Y-m-d H:i:s` times are read in.
    pub timezone: Tz,
}

// Debug by hand: a base URL may carry a password.
impl fmt::Debug for DscoSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DscoSettings")
            .field("base_url", &redact_url(self.base_url.as_str()))
            .field("auth", &self.auth)
            .finish()
    }
}

impl fmt::Debug for LingxingSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LingxingSettings")
            .field("base_url", &redact_url(self.base_url.as_str()))
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("platform_code", &self.platform_code)
            .field("timezone", &self.timezone)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub url: StoreUrl,
}

/// Which database the store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// A store URL. A PostgreSQL URL may carry a password, so the whole URL is kept as a secret and
/// Display / Debug show it with the password replaced.
#[derive(Clone)]
pub struct StoreUrl {
    kind: StoreKind,
    url: Secret,
}

impl StoreUrl {
    /// Checks a `sqlite:…` or `postgres://…` URL (for settings built in code, such as the demo's).
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        let kind = store_url(url.trim())?;
        Ok(StoreUrl {
            kind,
            url: Secret::new(url.trim()),
        })
    }
    pub fn kind(&self) -> StoreKind {
        self.kind
    }
    /// The URL with its password, for the database driver only.
    pub fn expose(&self) -> &str {
        self.url.expose()
    }
    /// The URL with any password replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        redact_url(self.url.expose())
    }
    pub fn file(&self) -> Option<&Path> {
        self.url.file()
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({:?}, {:?})", self.kind, self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub listen: SocketAddr,
    /// Required when `listen` is not a loopback address.
    pub password: Option<Secret>,
    pub language: Language,
    /// The zone times are displayed in (stored times are UTC).
    pub timezone: Tz,
}

/// The console / CLI display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    ZhCn,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }
    /// The domain's language (reasons, console pages).
    pub fn lang(self) -> domain::Lang {
        match self {
            Language::ZhCn => domain::Lang::Zh,
            Language::En => domain::Lang::En,
        }
    }
    fn parse(s: &str) -> Option<Language> {
        match s.to_ascii_lowercase().as_str() {
            "zh-cn" => Some(Language::ZhCn),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Where CSV exports and `pull_sku_pair` audit files go; `cleanup_exports` keeps it bounded.
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct LoggingSettings {
    pub format: LogFormat,
    /// A level or env-filter directive list (`info`, `warn,engine=debug`), already checked.
    pub level: String,
}

/// The bot format alerts are posted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A plain JSON object.
    Generic,
    WeCom,
    DingTalk,
    Feishu,
}

impl AlertKind {
    pub const ALL: [AlertKind; 4] = [
        AlertKind::Generic,
        AlertKind::WeCom,
        AlertKind::DingTalk,
        AlertKind::Feishu,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Generic => "generic",
            AlertKind::WeCom => "wecom",
            AlertKind::DingTalk => "dingtalk",
            AlertKind::Feishu => "feishu",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub kind: AlertKind,
    /// A secret: bot webhook URLs carry their access key in the query. Checked to parse as an
    /// http(s) URL.
    pub webhook_url: Secret,
    /// The signing secret ("加签") of a DingTalk or Feishu bot, when the bot has one.
    pub sign_secret: Option<Secret>,
}

// ---------------------------------------------------------------------------------------------
// Errors

/// One problem, at a dotted key path (`console.listen`), or at `file:line:column` for a TOML
/// syntax error, or at the env var's name when the variable itself is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Every problem found in a settings file, one `path: problem` line each after a header line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SettingsError {
    /// The file (or label) the settings came from.
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid settings in {} ({n} problem{}):",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

impl SettingsError {
    fn one(origin: &str, path: impl Into<String>, problem: impl Into<String>) -> SettingsError {
        SettingsError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                path: path.into(),
                problem: problem.into(),
            }],
        }
    }

    /// The problem at exactly `path`, if any (for tests and for pointing at a form field).
    pub fn at(&self, path: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.path == path)
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

impl Settings {
    /// Reads the file at `path` with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
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
        match Settings::load_from(&text, &origin, &env) {
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

    /// Parses `text` (labelled `origin` in messages) with the env overrides in `env` (name,
    /// value); names without the `DSCO_LINGXING__` prefix are ignored. `*_file` secrets are read
    /// from disk, relative paths from the working directory.
    pub fn load_from(
        text: &str,
        origin: &str,
        env: &[(String, String)],
    ) -> Result<Settings, SettingsError> {
        let mut root: Table = text.parse().map_err(|e: toml::de::Error| {
            let span = e.span().unwrap_or(0..0);
            let (line, col) = line_col(text, span.start);
            let mut problem = format!("invalid TOML: {}", e.message().trim());
            // Name the repeated key. Only for this message: other spans may cover a value,
            // and the value may be a secret.
            if problem.ends_with("duplicate key")
                && let Some(key) = text.get(span)
                && !key.contains('\n')
            {
                problem = format!("{problem} `{}`", key.trim());
            }
            SettingsError::one(origin, format!("{origin}:{line}:{col}"), problem)
        })?;
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

    /// The effective settings as TOML for `config export`: every default filled in, secrets as
    /// `<redacted>` (or as their `*_file` path), the store URL without its password.
    pub fn to_redacted_toml(&self) -> String {
        let mut root = Table::new();

        let mut t = Table::new();
        t.insert(
            "base_url".into(),
            redact_url(self.dsco.base_url.as_str()).into(),
        );
        match &self.dsco.auth {
            DscoAuth::OAuth {
                client_id,
                client_secret,
            } => {
                t.insert("client_id".into(), client_id.as_str().into());
                put_secret(&mut t, "client_secret", client_secret);
            }
            DscoAuth::Token(token) => put_secret(&mut t, "token", token),
        }
        root.insert("dsco".into(), t.into());

        let l = &self.lingxing;
        let mut t = Table::new();
        t.insert("base_url".into(), redact_url(l.base_url.as_str()).into());
        t.insert("app_id".into(), l.app_id.as_str().into());
        put_secret(&mut t, "app_secret", &l.app_secret);
        t.insert("platform_code".into(), i64::from(l.platform_code).into());
        t.insert("timezone".into(), l.timezone.name().into());
        root.insert("lingxing".into(), t.into());

        let mut t = Table::new();
        match self.store.url.file() {
            Some(f) => t.insert("url_file".into(), f.display().to_string().into()),
            None => t.insert("url".into(), self.store.url.redacted().into()),
        };
        root.insert("store".into(), t.into());

        let c = &self.console;
        let mut t = Table::new();
        t.insert("listen".into(), c.listen.to_string().into());
        if let Some(p) = &c.password {
            put_secret(&mut t, "password", p);
        }
        t.insert("language".into(), c.language.as_str().into());
        t.insert("timezone".into(), c.timezone.name().into());
        root.insert("console".into(), t.into());

        let mut t = Table::new();
        t.insert("dir".into(), self.exports.dir.display().to_string().into());
        root.insert("exports".into(), t.into());

        let mut t = Table::new();
        t.insert("format".into(), self.logging.format.as_str().into());
        t.insert("level".into(), self.logging.level.as_str().into());
        root.insert("logging".into(), t.into());

        if let Some(a) = &self.alerts {
            let mut t = Table::new();
            t.insert("kind".into(), a.kind.as_str().into());
            put_secret(&mut t, "webhook_url", &a.webhook_url);
            if let Some(s) = &a.sign_secret {
                put_secret(&mut t, "sign_secret", s);
            }
            root.insert("alerts".into(), t.into());
        }

        if let Some(rc) = &self.runtime_config
            && let Some(v) = json_to_toml(&rc.config.to_value(&rc.sku))
        {
            root.insert("runtime_config".into(), v);
        }

        let body = toml::to_string(&root)
            .unwrap_or_else(|e| format!("# the settings could not be rendered: {e}\n"));
        format!("# dsco-lingxing effective settings; secrets are redacted.\n\n{body}")
    }

    /// A commented, complete example that loads as it is (with placeholder credentials).
    pub fn example_toml() -> &'static str {
        EXAMPLE
    }
}

fn put_secret(t: &mut Table, key: &str, s: &Secret) {
    match s.file() {
        Some(f) => t.insert(format!("{key}_file"), f.display().to_string().into()),
        None => t.insert(key.to_owned(), REDACTED.into()),
    };
}

fn has_env_prefix(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where an env override put a value.
struct EnvSet {
    var: String,
    raw: String,
}

/// The validation context: every problem so far, and which key paths env vars set.
#[derive(Default)]
struct Cx {
    problems: Vec<Problem>,
    env: BTreeMap<String, EnvSet>,
}

impl Cx {
    fn bad(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            problem: problem.into(),
        });
    }

    /// Names the variable behind any problem at (or below) a key an env var set.
    fn annotate_env(&mut self) {
        for p in &mut self.problems {
            let var = self.env.iter().find_map(|(path, e)| {
                let hit = *path == p.path
                    || path
                        .strip_prefix(p.path.as_str())
                        .is_some_and(|r| r.starts_with('.'));
                hit.then_some(&e.var)
            });
            if let Some(var) = var {
                p.problem = format!("{} (set by env {var})", p.problem);
            }
        }
    }
}

fn apply_env(root: &mut Table, env: &[(String, String)], cx: &mut Cx) {
    for (name, raw) in env {
        if !has_env_prefix(name) {
            continue;
        }
        let segs: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
        if segs.len() < 2 || segs.iter().any(|s| s.is_empty()) {
            cx.bad(
                name.as_str(),
                format!("must name a section and a key, such as {ENV_PREFIX}STORE__URL"),
            );
            continue;
        }
        let section = segs[0].to_ascii_lowercase();
        if !SECTIONS.contains(&section.as_str()) {
            cx.bad(
                name.as_str(),
                format!(
                    "unknown section `{section}` (sections are: {})",
                    SECTIONS.join(", ")
                ),
            );
            continue;
        }
        let mut table = &mut *root;
        let mut path: Vec<String> = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            // Case-insensitive: reuse the file's spelling of an existing key (mapping keys such
            // as warehouse codes are case-sensitive), else the lower-case one.
            let key = table
                .keys()
                .find(|k| k.eq_ignore_ascii_case(seg))
                .cloned()
                .unwrap_or_else(|| seg.to_ascii_lowercase());
            path.push(key.clone());
            if i + 1 == segs.len() {
                table.insert(key, env_value(raw));
                cx.env.insert(
                    path.join("."),
                    EnvSet {
                        var: name.clone(),
                        raw: raw.clone(),
                    },
                );
                break;
            }
            let next = table.entry(key).or_insert_with(|| Table::new().into());
            match next {
                Value::Table(t) => table = t,
                other => {
                    let what = kind(other);
                    cx.bad(
                        name.as_str(),
                        format!("`{}` is {what} in the file, not a table", path.join(".")),
                    );
                    break;
                }
            }
        }
    }
}

/// An env value as TOML when it is one whole TOML value, else as a string.
fn env_value(raw: &str) -> Value {
    if let Ok(mut t) = format!("v = {raw}").parse::<Table>()
        && t.len() == 1
        && let Some(v) = t.remove("v")
    {
        return v;
    }
    Value::String(raw.to_owned())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// One section being read. Every key a reader asks for is a known key; whatever else the
/// table holds is reported as unknown when the reader finishes.
struct Sec<'t> {
    name: &'static str,
    table: Option<&'t Table>,
    known: Vec<&'static str>,
}

impl<'t> Sec<'t> {
    /// `None` (with a problem) when the key is there but not a table; an absent section reads
    /// as empty, so every default applies.
    fn open(root: &'t Table, name: &'static str, cx: &mut Cx) -> Option<Sec<'t>> {
        let table = match root.get(name) {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                cx.bad(
                    name,
                    format!("must be a section (table), got {}", kind(other)),
                );
                return None;
            }
        };
        Some(Sec {
            name,
            table,
            known: Vec::new(),
        })
    }

    fn present(&self) -> bool {
        self.table.is_some()
    }

    /// Whether `key` is given, without marking it known.
    fn has(&self, key: &str) -> bool {
        self.table.is_some_and(|t| t.contains_key(key))
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }

    fn get(&mut self, key: &'static str) -> Option<&'t Value> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table?.get(key)
    }

    fn finish(self, cx: &mut Cx) {
        let Some(t) = self.table else { return };
        for k in t.keys() {
            if !self.known.contains(&k.as_str()) {
                cx.bad(
                    format!("{}.{k}", self.name),
                    format!("unknown key (keys are: {})", self.known.join(", ")),
                );
            }
        }
    }

    /// A non-empty string. A value an env var set is taken as its raw text whatever it parsed
    /// as, so `…__APP_ID=12345` stays a string and a password keeps any quotes it has.
    fn string(&mut self, key: &'static str, cx: &mut Cx) -> Option<String> {
        let path = self.path(key);
        let value = self.get(key)?;
        let s = match (cx.env.get(&path), value) {
            (Some(e), _) => e.raw.clone(),
            (None, Value::String(s)) => s.clone(),
            (None, other) => {
                cx.bad(path, format!("must be a string, got {}", kind(other)));
                return None;
            }
        };
        let s = s.trim();
        if s.is_empty() {
            cx.bad(path, "must not be empty");
            return None;
        }
        Some(s.to_owned())
    }

    /// A string parsed by `parse`; `default` when absent, `None` (with a problem) when bad.
    fn parsed<T>(
        &mut self,
        key: &'static str,
        default: T,
        cx: &mut Cx,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let before = cx.problems.len();
        match self.string(key, cx) {
            Some(s) => match parse(&s) {
                Ok(v) => Some(v),
                Err(e) => {
                    cx.bad(self.path(key), e);
                    None
                }
            },
            None if cx.problems.len() > before => None,
            None => Some(default),
        }
    }

    /// A secret from `key` or `<key>_file` (never both). `Ok(None)` when neither is given;
    /// `Err(())` after recording a problem. Messages never include the value.
    fn secret(
        &mut self,
        key: &'static str,
        file_key: &'static str,
        cx: &mut Cx,
    ) -> Result<Option<Secret>, ()> {
        let inline_given = self.get(key).is_some();
        let file_given = self.get(file_key).is_some();
        if inline_given && file_given {
            cx.bad(
                self.path(key),
                format!("given both inline and as {file_key}; keep one"),
            );
            return Err(());
        }
        let (value, file) = if inline_given {
            match self.string(key, cx) {
                Some(v) => (v, None),
                None => return Err(()),
            }
        } else if file_given {
            let Some(f) = self.string(file_key, cx) else {
                return Err(());
            };
            let path = PathBuf::from(&f);
            match std::fs::read_to_string(&path) {
                // A trailing newline is an artefact of `echo` and editors, never part of a key.
                Ok(text) => {
                    let v = text.trim_end_matches(['\n', '\r']).to_owned();
                    if v.trim().is_empty() {
                        cx.bad(self.path(file_key), format!("file {f} is empty"));
                        return Err(());
                    }
                    (v, Some(path))
                }
                Err(e) => {
                    cx.bad(self.path(file_key), format!("cannot read {f}: {e}"));
                    return Err(());
                }
            }
        } else {
            return Ok(None);
        };
        if value.contains(REDACTED) {
            let at = if file.is_some() { file_key } else { key };
            cx.bad(
                self.path(at),
                format!("is the {REDACTED} placeholder of an export; put the real secret"),
            );
            return Err(());
        }
        Ok(Some(Secret {
            value: SecretString::from(value),
            file,
        }))
    }

    /// A required secret.
    fn required_secret(
        &mut self,
        key: &'static str,
        file_key: &'static str,
        hint: &str,
        cx: &mut Cx,
    ) -> Option<Secret> {
        match self.secret(key, file_key, cx) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                cx.bad(
                    self.path(key),
                    format!(
                        "missing ({hint}; set it here, by env {ENV_PREFIX}{}__{}, or with {file_key})",
                        self.name.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    ),
                );
                None
            }
            Err(()) => None,
        }
    }
}

fn parse_root(root: &Table, cx: &mut Cx) -> Option<Settings> {
    for (k, _) in root {
        if !SECTIONS.contains(&k.as_str()) {
            cx.bad(
                k.as_str(),
                format!("unknown section (sections are: {})", SECTIONS.join(", ")),
            );
        }
    }
    let dsco = parse_dsco(root, cx);
    let lingxing = parse_lingxing(root, cx);
    let store = parse_store(root, cx);
    let console = parse_console(root, cx);
    let exports = parse_exports(root, cx);
    let logging = parse_logging(root, cx);
    let alerts = parse_alerts(root, cx);
    let runtime_config = parse_runtime_config(root, cx);
    Some(Settings {
        dsco: dsco?,
        lingxing: lingxing?,
        store: store?,
        console: console?,
        exports: exports?,
        logging: logging?,
        alerts: alerts?,
        runtime_config: runtime_config?,
    })
}

/// An http(s) base URL. It may carry a password (`https://user:pw@host`): messages show it
/// redacted, and the `<redacted>` placeholder of an export is refused like a secret's.
fn http_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| format!("not a valid URL ({e}): `{}`", redact_url(s)))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!(
            "must be an http(s) URL with a host, got `{}`",
            redact_url(s)
        ));
    }
    if u.password()
        .is_some_and(|p| p.contains(REDACTED) || p.eq_ignore_ascii_case("%3Credacted%3E"))
    {
        return Err(format!(
            "the password in the URL is the {REDACTED} placeholder of an export; put the real one"
        ));
    }
    Ok(u)
}

fn timezone(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>().map_err(|_| {
        format!("unknown time zone `{s}` (an IANA name such as Asia/Shanghai or America/New_York)")
    })
}

fn parse_dsco(root: &Table, cx: &mut Cx) -> Option<DscoSettings> {
    let mut s = Sec::open(root, "dsco", cx)?;
    let base_url = s.parsed(
        "base_url",
        Url::parse(DEFAULT_DSCO_BASE_URL).ok()?,
        cx,
        http_url,
    );
    let id_given = s.has("client_id");
    let client_id = s.string("client_id", cx);
    let client_secret = s.secret("client_secret", "client_secret_file", cx);
    let token = s.secret("token", "token_file", cx);
    let auth = match (client_id, client_secret, token) {
        (_, Err(()), _) | (_, _, Err(())) => None,
        (Some(id), Ok(Some(secret)), Ok(None)) => Some(DscoAuth::OAuth {
            client_id: id,
            client_secret: secret,
        }),
        (None, Ok(None), Ok(Some(token))) => Some(DscoAuth::Token(token)),
        (_, Ok(secret), Ok(token)) => {
            // `id_given`, not `id`: an empty client_id is already reported as such.
            let oauth = id_given || secret.is_some();
            if oauth && token.is_some() {
                cx.bad(
                    "dsco",
                    "both OAuth (client_id/client_secret) and token are set; keep one",
                );
            } else if id_given && secret.is_none() {
                cx.bad(
                    "dsco.client_secret",
                    "missing (OAuth needs client_id and client_secret)",
                );
            } else if secret.is_some() && !id_given {
                cx.bad(
                    "dsco.client_id",
                    "missing (OAuth needs client_id and client_secret)",
                );
            } else if !oauth && token.is_none() {
                cx.bad(
                    "dsco",
                    "no DSCO credentials: set client_id and client_secret (OAuth2), or token (legacy API token)",
                );
            }
            // Otherwise a value given was bad, and that is already reported.
            None
        }
    };
    s.finish(cx);
    Some(DscoSettings {
        base_url: base_url?,
        auth: auth?,
    })
}

fn parse_lingxing(root: &Table, cx: &mut Cx) -> Option<LingxingSettings> {
    let mut s = Sec::open(root, "lingxing", cx)?;
    let base_url = s.parsed(
        "base_url",
        Url::parse(DEFAULT_LINGXING_BASE_URL).ok()?,
        cx,
        http_url,
    );
    let app_id = s.string("app_id", cx);
    if !s.has("app_id") {
        cx.bad("lingxing.app_id", "missing (the LingXing OpenAPI appId)");
    }
    let app_secret = s.required_secret("app_secret", "app_secret_file", "the appSecret", cx);
    let platform_code = match s.get("platform_code") {
        None => Some(DEFAULT_PLATFORM_CODE),
        Some(Value::Integer(n)) => match u32::try_from(*n) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                cx.bad(
                    "lingxing.platform_code",
                    format!("must be a whole number above 0, got {n}"),
                );
                None
            }
        },
        Some(other) => {
            cx.bad(
                "lingxing.platform_code",
                format!("must be a whole number such as 10009, got {}", kind(other)),
            );
            None
        }
    };
    let tz = s.parsed("timezone", DEFAULT_LINGXING_TIMEZONE, cx, timezone);
    s.finish(cx);
    Some(LingxingSettings {
        base_url: base_url?,
        app_id: app_id?,
        app_secret: app_secret?,
        platform_code: platform_code?,
        timezone: tz?,
    })
}

fn store_url(s: &str) -> Result<StoreKind, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        if path.is_empty() || path.starts_with('?') {
            return Err(
                "an sqlite URL needs a file path, such as sqlite://data/dsco-lingxing.db"
                    .to_owned(),
            );
        }
        return Ok(StoreKind::Sqlite);
    }
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        // The URL may carry a password: never echo it.
        let u = Url::parse(s)
            .map_err(|e| format!("not a valid PostgreSQL URL ({e}): `{}`", redact_url(s)))?;
        if u.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "a PostgreSQL URL needs a host: `{}`",
                redact_url(s)
            ));
        }
        return Ok(StoreKind::Postgres);
    }
    Err(format!(
        "must start with sqlite:// or postgres://, got `{}`",
        redact_url(s)
    ))
}

fn parse_store(root: &Table, cx: &mut Cx) -> Option<StoreSettings> {
    let mut s = Sec::open(root, "store", cx)?;
    let url = match s.secret("url", "url_file", cx) {
        Err(()) => None,
        Ok(secret) => {
            let secret = secret.unwrap_or_else(|| Secret::new(DEFAULT_STORE_URL));
            let at = if secret.file().is_some() {
                "store.url_file"
            } else {
                "store.url"
            };
            match store_url(secret.expose().trim()) {
                Ok(kind) => Some(StoreUrl { kind, url: secret }),
                Err(e) => {
                    cx.bad(at, e);
                    None
                }
            }
        }
    };
    s.finish(cx);
    Some(StoreSettings { url: url? })
}

fn parse_console(root: &Table, cx: &mut Cx) -> Option<ConsoleSettings> {
    let mut s = Sec::open(root, "console", cx)?;
    let default_listen: SocketAddr = DEFAULT_LISTEN.parse().ok()?;
    let listen = s.parsed("listen", default_listen, cx, |t| {
        t.parse::<SocketAddr>().map_err(|_| {
            format!(
                "must be an IP address and port such as 127.0.0.1:8080 or 0.0.0.0:8080, got `{t}`"
            )
        })
    });
    let password = s.secret("password", "password_file", cx);
    let language = s.parsed("language", DEFAULT_LANGUAGE, cx, |t| {
        Language::parse(t)
            .ok_or_else(|| format!("unknown language `{t}` (languages are: zh-CN, en)"))
    });
    let tz = s.parsed("timezone", DEFAULT_DISPLAY_TIMEZONE, cx, timezone);
    s.finish(cx);
    let password = password.ok()?;
    let listen = listen?;
    if !listen.ip().is_loopback() && password.is_none() {
        cx.bad(
            "console.password",
            format!(
                "required because console.listen ({listen}) is not a loopback address: anyone who reaches it could act on orders"
            ),
        );
        return None;
    }
    Some(ConsoleSettings {
        listen,
        password,
        language: language?,
        timezone: tz?,
    })
}

fn parse_exports(root: &Table, cx: &mut Cx) -> Option<ExportSettings> {
    let mut s = Sec::open(root, "exports", cx)?;
    let dir = s.parsed("dir", PathBuf::from(DEFAULT_EXPORT_DIR), cx, |t| {
        Ok(PathBuf::from(t))
    });
    s.finish(cx);
    Some(ExportSettings { dir: dir? })
}

fn parse_logging(root: &Table, cx: &mut Cx) -> Option<LoggingSettings> {
    let mut s = Sec::open(root, "logging", cx)?;
    let format = s.parsed("format", LogFormat::default(), cx, |t| {
        t.parse::<LogFormat>().map_err(|e| e.to_string())
    });
    let level = s.parsed("level", DEFAULT_LOG_LEVEL.to_owned(), cx, |t| {
        logging::filter(t)
            .map(|_| t.to_owned())
            .map_err(|e| e.to_string())
    });
    s.finish(cx);
    Some(LoggingSettings {
        format: format?,
        level: level?,
    })
}

/// `Some(None)`: no section; `None`: a problem was recorded.
fn parse_alerts(root: &Table, cx: &mut Cx) -> Option<Option<AlertSettings>> {
    let mut s = Sec::open(root, "alerts", cx)?;
    if !s.present() {
        return Some(None);
    }
    let kinds: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = s.parsed("kind", AlertKind::Generic, cx, |t| {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("unknown alert kind `{t}` (kinds are: {})", kinds.join(", ")))
    });
    let url = s.required_secret(
        "webhook_url",
        "webhook_url_file",
        "the bot or webhook URL",
        cx,
    );
    let url = url.and_then(|u| match http_url(u.expose().trim()) {
        Ok(_) => Some(u),
        Err(_) => {
            // The URL holds the bot's key: say what is wrong without echoing it.
            let at = if u.file().is_some() {
                "alerts.webhook_url_file"
            } else {
                "alerts.webhook_url"
            };
            cx.bad(at, "must be an http(s) URL with a host");
            None
        }
    });
    let sign = s.secret("sign_secret", "sign_secret_file", cx);
    s.finish(cx);
    let kind = kind?;
    let sign = sign.ok()?;
    if sign.is_some() && !matches!(kind, AlertKind::DingTalk | AlertKind::Feishu) {
        cx.bad(
            "alerts.sign_secret",
            format!("only DingTalk and Feishu bots sign requests, not {kind}"),
        );
        return None;
    }
    Some(Some(AlertSettings {
        kind,
        webhook_url: url?,
        sign_secret: sign,
    }))
}

/// `Some(None)`: no section; `None`: a problem was recorded.
fn parse_runtime_config(root: &Table, cx: &mut Cx) -> Option<Option<ImportedConfig>> {
    let Some(v) = root.get("runtime_config") else {
        return Some(None);
    };
    match RuntimeConfig::from_value(&toml_to_json(v), "runtime_config") {
        Ok(c) => Some(Some(c)),
        Err(errs) => {
            for e in errs.0 {
                cx.bad(e.path, e.problem);
            }
            None
        }
    }
}

fn toml_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::String(s) => J::String(s.clone()),
        Value::Integer(n) => J::from(*n),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Boolean(b) => J::Bool(*b),
        // The runtime config takes times as RFC 3339 strings; TOML's own date-times mean the same.
        Value::Datetime(d) => J::String(d.to_string()),
        Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// JSON → TOML for the export; `null` has no TOML form and is left out.
fn json_to_toml(v: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64()?),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Array(a.iter().filter_map(json_to_toml).collect()),
        J::Object(o) => Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}

const EXAMPLE: &str = r##"# dsco-lingxing deployment settings.
#
# Every key can be overridden from the environment: DSCO_LINGXING__<SECTION>__<KEY>, for example
# DSCO_LINGXING__CONSOLE__LISTEN=0.0.0.0:8080 or DSCO_LINGXING__LINGXING__APP_SECRET=....
# Secrets (client_secret, token, app_secret, password, store url, webhook_url) are best given by
# env or as <key>_file = "/run/secrets/..." (the file's content, trailing newline removed); never
# both inline and as a file. They are never printed: `config export` shows <redacted>.

[dsco]
# API root. Staging: https://staging-api.dsco.io/api/v3
base_url = "https://api.dsco.io/api/v3"
# OAuth2 client credentials (what new DSCO accounts get) ...
client_id = "your-dsco-client-id"
client_secret = "change-me"           # or client_secret_file = "/run/secrets/dsco_client_secret"
# ... or instead the legacy static API token:
# token = "..."                       # or token_file = "..."

[lingxing]
base_url = "https://openapi.lingxing.com"
app_id = "ak_your_app_id"             # 设置 › 业务配置 › 全局 › 开放接口
app_secret = "change-me"              # or app_secret_file = "/run/secrets/lingxing_app_secret"
# The multi-platform store's platform: 10009 is the custom platform (自定义平台).
platform_code = 10009
# The zone LingXing's zone-less times are in (IANA name).
timezone = "Asia/Shanghai"

[store]
# sqlite://path (created if missing) or postgres://user:password@host:5432/db (several replicas).
url = "sqlite://data/dsco-lingxing.db"   # or url_file = "..."

[console]
# Loopback by default; any other address requires a password.
listen = "127.0.0.1:8080"
# password = "..."                    # or password_file = "..."
language = "zh-CN"                    # zh-CN or en
timezone = "Asia/Shanghai"            # the zone times are shown in (stored in UTC)

[exports]
# CSV exports and pull_sku_pair audit files; cleanup_exports keeps it bounded.
dir = "data/exports"

[logging]
format = "pretty"                     # pretty or json (one object per line)
level = "info"                        # or an env-filter list such as "info,engine=debug"

# Alerts (stuck orders, needs attention, failing jobs, pair conflicts, stock guard).
# Without this section alerts are only logged.
# [alerts]
# kind = "dingtalk"                   # generic (JSON), wecom, dingtalk or feishu
# webhook_url = "https://oapi.dingtalk.com/robot/send?access_token=..."   # or webhook_url_file
# sign_secret = "SEC..."              # DingTalk / Feishu signing secret (加签), if the bot has one

# Runtime config, imported into the store by `config import` (the store's copy is what runs;
# it is versioned and edited from the CLI or the console). Crons have 6 fields, seconds first,
# UTC; `@every 5m` and `@hourly` work too.
[runtime_config]
domain = "dsco_lingxing"
writes_enabled = true                 # false stops every write to DSCO and LingXing

[runtime_config.jobs.pull_dsco_orders]
enable = true
cron = "0 */10 * * * *"
size = 1000
auto_cancel_in_lingxing = false
# start_from = "2026-01-01T00:00:00Z" # the first run's start

[runtime_config.jobs.push_to_lingxing]
enable = true
cron = "30 */10 * * * *"
size = 200
price_source = ["consumerPriceWithTax", "consumerPrice", "retailPrice", "expectedCost"]
require_warehouse = false

[runtime_config.jobs.ack_to_dsco]
enable = true
cron = "0 */15 * * * *"
size = 500
multi_ban = false

[runtime_config.jobs.ship_to_dsco]
enable = true
cron = "0 */30 * * * *"
size = 200
multi_ban = false
require_full_shipment = false

[runtime_config.jobs.invoice_to_dsco]
enable = true
cron = "0 0 * * * *"
size = 200
price_source = ["expectedCost", "consumerPrice", "retailPrice"]

[runtime_config.jobs.sync_stock]
enable = true
cron = "0 0 */2 * * *"
size = 800
sync = true                           # false: read and record only
full_push_every = "24h"
zero_drop_share = 0.2                 # hold the run if more than 20% of in-stock SKUs drop to 0
# reserve = { "WH-EAST" = 2 }         # per DSCO warehouse safety stock

[runtime_config.jobs.pull_sku_pair]
enable = false
cron = "0 0 3 * * *"
size = 200

[runtime_config.jobs.cleanup_exports]
enable = true
cron = "0 30 4 * * *"
size = 1
max_bytes = 104857600                 # 100 MB
max_age_days = 30

# Every mapping is keyed DSCO → LingXing.
[runtime_config.mapping.shop]         # dscoRetailerId → LingXing store_id
# "1000012345" = "110283406273996288"

[runtime_config.mapping.warehouse]    # DSCO warehouse code → LingXing wid
# "WH-EAST" = "1300"

[runtime_config.mapping.shipment]     # "<warehouse code>-<service level>" → logistics_type_id
# "WH-EAST-UPCG" = "101"

[runtime_config.mapping.carrier]      # service level → carrier name sent on shipments
# "UPCG" = "UPS"

[runtime_config.mapping.sku]          # DSCO SKU → LingXing SKU (unmapped SKUs pass unchanged)
# "DSCO-SKU-1" = "LX-SKU-1"
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("a\nbé c", 6), (2, 4));
        assert_eq!(line_col("abc", 0), (1, 1));
    }

    #[test]
    fn env_values_are_toml_when_whole() {
        assert_eq!(env_value("8080"), Value::Integer(8080));
        assert_eq!(env_value("true"), Value::Boolean(true));
        assert_eq!(env_value("\"x\""), Value::String("x".into()));
        assert_eq!(
            env_value("0 */5 * * * *"),
            Value::String("0 */5 * * * *".into())
        );
        // A newline cannot smuggle in a second key.
        assert_eq!(env_value("1\nb = 2"), Value::String("1\nb = 2".into()));
    }
}
