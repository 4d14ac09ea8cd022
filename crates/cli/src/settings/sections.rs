//! The sections of the deployment file as types, each with its reader: `[dsco]`, `[lingxing]`,
//! `[store]`, `[console]`, `[exports]`, `[logging]`, `[alerts]` and `[runtime_config]` (checked by
//! [`domain::RuntimeConfig::from_value`]; mapping gaps are not errors here).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use chrono_tz::Tz;
use domain::alert::{AlertKind as DomainAlertKind, Severity};
use domain::{ImportedConfig, RuntimeConfig};
use secret::REDACTED;
use store::redact_url;
use toml::{Table, Value};
use url::Url;

use super::reader::{Cx, Sec, kind};
use super::secrets::{SecretSetting, is_placeholder};
use super::*;
use crate::logging::{self, LogFormat};

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
        client_secret: SecretSetting,
    },
    /// The legacy long-lived API token.
    Token(SecretSetting),
}

#[derive(Clone)]
pub struct LingxingSettings {
    pub base_url: Url,
    /// `appId`: sent as `app_key` on every request, so not a secret.
    pub app_id: String,
    pub app_secret: SecretSetting,
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
    url: SecretSetting,
}

impl StoreUrl {
    /// Checks a `sqlite:…` or `postgres://…` URL (for settings built in code, such as the demo's).
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        let kind = store_url(url.trim())?;
        Ok(StoreUrl {
            kind,
            url: SecretSetting::new(url.trim()),
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
    /// The database file of a SQLite URL (`sqlite://data/x.db?mode=rwc` → `data/x.db`); `None`
    /// for PostgreSQL and in-memory SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.kind != StoreKind::Sqlite {
            return None;
        }
        let url = self.expose().trim();
        let rest = &url[url.find(':')? + 1..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
            return None;
        }
        Some(PathBuf::from(path))
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
    /// The predecessor's single admin password (`console.password`): the user `admin`.
    pub password: Option<SecretSetting>,
    /// `[[console.users]]`.
    pub users: Vec<ConsoleUser>,
    pub login: LoginMode,
    /// Mark the session cookie `Secure` (the console is reached over TLS, at a proxy).
    pub secure_cookie: bool,
    pub session_idle_minutes: u32,
    pub language: Language,
    /// The zone times are displayed in (stored times are UTC).
    pub timezone: Tz,
    /// The console's address as the team reaches it (alert links); `None`: links are paths.
    pub public_url: Option<Url>,
}

/// One `[[console.users]]` entry.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub name: String,
    pub role: console::Role,
    /// An argon2id PHC string, checked on load; a secret (never exported, logged or shown).
    pub password_hash: SecretSetting,
}

/// `console.login`: when operators log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    /// Whenever users are configured (required off loopback; on loopback too once any user is
    /// set, since a reverse proxy on the same host makes every client look local).
    Auto,
    /// Always: at least one user must be configured, even on loopback.
    Always,
}

impl LoginMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMode::Auto => "auto",
            LoginMode::Always => "always",
        }
    }
}

/// The user name the predecessor's `console.password` logs in as.
pub const PASSWORD_USER: &str = "admin";

impl ConsoleSettings {
    /// Everyone who may log in: `[[console.users]]`, and `admin` for `console.password`.
    /// Empty: nobody logs in (loopback only, the operator is `local`).
    pub fn login_users(&self) -> Vec<console::User> {
        let mut users: Vec<console::User> = self
            .users
            .iter()
            .map(|u| console::User {
                name: u.name.clone(),
                role: u.role,
                password: console::Password::Hash(u.password_hash.secret().clone()),
            })
            .collect();
        if let Some(p) = &self.password {
            users.push(console::User {
                name: PASSWORD_USER.to_owned(),
                role: console::Role::Admin,
                password: console::Password::Plain(p.secret().clone()),
            });
        }
        users
    }
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

/// When alerts are raised: `[alerting]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertingSettings {
    /// A job alerts after this many failed runs in a row (default 3).
    pub failing_runs: u32,
    /// The write switch alerts after it has been off this many minutes (default 60).
    pub writes_off_minutes: u32,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        AlertingSettings {
            failing_runs: 3,
            writes_off_minutes: 60,
        }
    }
}

/// One alert channel: an `[[alerts]]` entry.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Unique among the channels (`alert test --to NAME`); the kind's name by default.
    pub name: String,
    pub kind: AlertKind,
    /// A secret: bot webhook URLs carry their access key in the query. Checked to parse as an
    /// http(s) URL.
    pub webhook_url: SecretSetting,
    /// The signing secret ("加签") of a DingTalk or Feishu bot, when the bot has one; for a
    /// generic webhook the HMAC-SHA256 key of the `X-Signature` header.
    pub sign_secret: Option<SecretSetting>,
    /// Alerts below it are not sent here (default warning).
    pub min_severity: Severity,
    /// Only these kinds of alert (empty: every kind).
    pub kinds: Vec<DomainAlertKind>,
    /// Starts every message (a DingTalk or Feishu robot with the keyword setting drops others).
    pub keyword: Option<String>,
    /// Non-critical alerts wait until this window (display time zone) ends.
    pub quiet_hours: Option<(NaiveTime, NaiveTime)>,
}

pub(super) fn parse_root(root: &Table, cx: &mut Cx) -> Option<Settings> {
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
    let alerting = parse_alerting(root, cx);
    let runtime_config = parse_runtime_config(root, cx);
    Some(Settings {
        dsco: dsco?,
        lingxing: lingxing?,
        store: store?,
        console: console?,
        exports: exports?,
        logging: logging?,
        alerts: alerts?,
        alerting: alerting?,
        runtime_config: runtime_config?,
    })
}

/// The sections a read-only command needs (see [`ReadSettings`]); the others are not looked at.
pub(super) fn parse_read(root: &Table, cx: &mut Cx) -> Option<ReadSettings> {
    let store = parse_store(root, cx);
    let console = parse_console(root, cx);
    let logging = parse_logging(root, cx);
    Some(ReadSettings {
        store: store?,
        console: console?,
        logging: logging?,
    })
}

/// An http(s) base URL. It may carry a password (`https://user:pw@host`): messages show it
/// redacted, and the `<redacted>` placeholder of an export is refused like a secret's.
pub(super) fn http_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| format!("not a valid URL ({e}): `{}`", redact_url(s)))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!(
            "must be an http(s) URL with a host, got `{}`",
            redact_url(s)
        ));
    }
    if u.password()
        .is_some_and(|p| is_placeholder(p) || p.eq_ignore_ascii_case("%3Credacted%3E"))
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
    let app_id = s.string("app_id", cx).and_then(|id| {
        // The appId is the AES-128 key of every signature: the client refuses any other length,
        // so `config check` and start-up do too, before anything is written.
        if id.len() == lingxing::APP_ID_LEN {
            return Some(id);
        }
        cx.bad(
            "lingxing.app_id",
            format!(
                "must be {} characters (it is the AES-128 key of the signature), got {}",
                lingxing::APP_ID_LEN,
                id.len()
            ),
        );
        None
    });
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
            let secret = secret.unwrap_or_else(|| SecretSetting::new(DEFAULT_STORE_URL));
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
    let users = parse_users(s.get("users"), cx);
    let login = s.parsed("login", LoginMode::Auto, cx, |t| match t {
        "auto" => Ok(LoginMode::Auto),
        "always" => Ok(LoginMode::Always),
        _ => Err(format!("must be auto or always, got `{t}`")),
    });
    let secure_cookie = match s.get("secure_cookie") {
        None => Some(false),
        Some(Value::Boolean(b)) => Some(*b),
        Some(other) => {
            cx.bad(
                "console.secure_cookie",
                format!("must be true or false, got {}", kind(other)),
            );
            None
        }
    };
    let idle = match s.get("session_idle_minutes") {
        None => Some(DEFAULT_SESSION_IDLE_MINUTES),
        Some(Value::Integer(n)) if (1..=7 * 24 * 60).contains(n) => Some(*n as u32),
        Some(other) => {
            cx.bad(
                "console.session_idle_minutes",
                format!(
                    "must be a whole number of minutes from 1 to 10080 (a week), got {}",
                    match other {
                        Value::Integer(n) => n.to_string(),
                        v => kind(v).to_owned(),
                    }
                ),
            );
            None
        }
    };
    let language = s.parsed("language", DEFAULT_LANGUAGE, cx, |t| {
        Language::parse(t)
            .ok_or_else(|| format!("unknown language `{t}` (languages are: zh-CN, en)"))
    });
    let tz = s.parsed("timezone", DEFAULT_DISPLAY_TIMEZONE, cx, timezone);
    let public_url = match s.has("public_url") {
        false => Some(None),
        true => s.parsed("public_url", None, cx, |t| http_url(t).map(Some)),
    };
    s.finish(cx);
    let password = password.ok()?;
    let users = users?;
    let listen = listen?;
    let login = login?;
    if password.is_some() && users.iter().any(|u| u.name == PASSWORD_USER) {
        cx.bad(
            "console.password",
            format!(
                "logs in as the user `{PASSWORD_USER}`, and console.users has a user of that name too; keep one"
            ),
        );
        return None;
    }
    let anyone = password.is_some() || !users.is_empty();
    if !anyone && !listen.ip().is_loopback() {
        cx.bad(
            "console.users",
            format!(
                "at least one user is required because console.listen ({listen}) is not a loopback address: anyone who reaches it could act on orders (add [[console.users]] with a hash from `dsco-lingxing console hash-password`, or listen on 127.0.0.1)"
            ),
        );
        return None;
    }
    if !anyone && login == LoginMode::Always {
        cx.bad(
            "console.users",
            "at least one user is required because console.login is `always` (add [[console.users]] with a hash from `dsco-lingxing console hash-password`)",
        );
        return None;
    }
    Some(ConsoleSettings {
        listen,
        password,
        users,
        login,
        secure_cookie: secure_cookie?,
        session_idle_minutes: idle?,
        language: language?,
        timezone: tz?,
        public_url: public_url?,
    })
}

/// `[[console.users]]`: every problem at `console.users[N].key`; the hash is checked to be an
/// argon2id PHC string and never repeated in a message.
fn parse_users(v: Option<&Value>, cx: &mut Cx) -> Option<Vec<ConsoleUser>> {
    let items = match v {
        None => return Some(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            cx.bad(
                "console.users",
                format!(
                    "must be an array of tables ([[console.users]]), got {}",
                    kind(other)
                ),
            );
            return None;
        }
    };
    let before = cx.problems.len();
    let mut users: Vec<ConsoleUser> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |k: &str| format!("console.users[{i}].{k}");
        let Value::Table(t) = item else {
            cx.bad(
                format!("console.users[{i}]"),
                format!(
                    "must be a table with name, role, password_hash, got {}",
                    kind(item)
                ),
            );
            continue;
        };
        for k in t.keys() {
            if !["name", "role", "password_hash"].contains(&k.as_str()) {
                cx.bad(at(k), "unknown key (keys are: name, role, password_hash)");
            }
        }
        let text = |k: &str, cx: &mut Cx| match t.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::String(_)) => {
                cx.bad(at(k), "must not be empty");
                None
            }
            Some(other) => {
                cx.bad(at(k), format!("must be a string, got {}", kind(other)));
                None
            }
            None => {
                cx.bad(at(k), "missing");
                None
            }
        };
        let name = text("name", cx);
        let role = text("role", cx);
        let hash = text("password_hash", cx);
        let name = name.and_then(|n| {
            if n.chars().any(|c| c.is_control() || c.is_whitespace()) || n.len() > 64 {
                cx.bad(at("name"), "must be at most 64 characters without spaces");
                None
            } else if n == "local" {
                cx.bad(
                    at("name"),
                    "`local` is the audit log's name for the operator without login; choose another",
                );
                None
            } else if users.iter().any(|u| u.name == n) {
                cx.bad(at("name"), format!("`{n}` is given twice"));
                None
            } else {
                Some(n)
            }
        });
        let role = role.and_then(|r| match r.as_str() {
            "admin" => Some(console::Role::Admin),
            "viewer" => Some(console::Role::Viewer),
            _ => {
                cx.bad(at("role"), format!("must be admin or viewer, got `{r}`"));
                None
            }
        });
        let hash = hash.and_then(|h| {
            if is_placeholder(&h) {
                cx.bad(
                    at("password_hash"),
                    format!("is the {REDACTED} placeholder of an export; put the real hash"),
                );
                return None;
            }
            match console::check_hash(&h) {
                Ok(()) => Some(SecretSetting::new(h)),
                Err(e) => {
                    cx.bad(at("password_hash"), e);
                    None
                }
            }
        });
        if let (Some(name), Some(role), Some(password_hash)) = (name, role, hash) {
            users.push(ConsoleUser {
                name,
                role,
                password_hash,
            });
        }
    }
    (cx.problems.len() == before).then_some(users)
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

/// The `[[alerts]]` channels (an array of tables), or the older single `[alerts]` table read as
/// one channel named after its kind. Empty when there is none. `None`: a problem was recorded.
fn parse_alerts(root: &Table, cx: &mut Cx) -> Option<Vec<AlertSettings>> {
    let tables: Vec<(&Table, String)> = match root.get("alerts") {
        None => return Some(Vec::new()),
        Some(Value::Table(t)) => vec![(t, "alerts".to_owned())],
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                match v {
                    Value::Table(t) => out.push((t, format!("alerts[{i}]"))),
                    other => cx.bad(
                        format!("alerts[{i}]"),
                        format!("must be a table ([[alerts]]), got {}", kind(other)),
                    ),
                }
            }
            out
        }
        Some(other) => {
            cx.bad(
                "alerts",
                format!(
                    "must be [[alerts]] tables (one per channel), got {}",
                    kind(other)
                ),
            );
            return None;
        }
    };
    let single = matches!(root.get("alerts"), Some(Value::Table(_)));
    let before = cx.problems.len();
    let mut out: Vec<AlertSettings> = Vec::new();
    for (t, path) in tables {
        if let Some(a) = parse_alert(Sec::of(t, path.clone()), single, cx) {
            if out.iter().any(|o| o.name == a.name) {
                cx.bad(
                    format!("{path}.name"),
                    format!("`{}` names two channels; names must differ", a.name),
                );
            }
            out.push(a);
        }
    }
    (cx.problems.len() == before).then_some(out)
}

fn parse_alert(mut s: Sec<'_>, single: bool, cx: &mut Cx) -> Option<AlertSettings> {
    let at = s.name.clone();
    let kinds: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = s.parsed("kind", AlertKind::Generic, cx, |t| {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("unknown alert kind `{t}` (kinds are: {})", kinds.join(", ")))
    });
    let name = if single || !s.has("name") {
        // The single table is named after its kind; so is an array entry without a name.
        let n = s.string("name", cx);
        n.or_else(|| kind.map(|k| k.as_str().to_owned()))
    } else {
        s.string("name", cx)
    };
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
            let key = if u.file().is_some() {
                "webhook_url_file"
            } else {
                "webhook_url"
            };
            cx.bad(format!("{at}.{key}"), "must be an http(s) URL with a host");
            None
        }
    });
    let sign = s.secret("sign_secret", "sign_secret_file", cx);
    let severities: Vec<&str> = Severity::ALL.iter().map(|k| k.as_str()).collect();
    let min_severity = s.parsed("min_severity", Severity::Warning, cx, |t| {
        Severity::parse(t).ok_or_else(|| {
            format!(
                "unknown severity `{t}` (severities are: {})",
                severities.join(", ")
            )
        })
    });
    let alert_kinds = match s.get("kinds") {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => {
            let names: Vec<&str> = DomainAlertKind::ALL.iter().map(|k| k.as_str()).collect();
            let mut ks = Vec::new();
            let mut ok = true;
            for v in a {
                match v.as_str().and_then(DomainAlertKind::parse) {
                    Some(k) => ks.push(k),
                    None => {
                        ok = false;
                        cx.bad(
                            format!("{at}.kinds"),
                            format!("unknown alert kind {v} (kinds are: {})", names.join(", ")),
                        );
                    }
                }
            }
            ok.then_some(ks)
        }
        Some(other) => {
            cx.bad(
                format!("{at}.kinds"),
                format!(
                    "must be a list of alert kinds, got {}",
                    super::reader::kind(other)
                ),
            );
            None
        }
    };
    let keyword = s.string("keyword", cx);
    let quiet = match s.has("quiet_hours") {
        false => Some(None),
        true => s
            .parsed("quiet_hours", None, cx, |t| quiet_hours(t).map(Some))
            .or(None),
    };
    s.finish(cx);
    let kind = kind?;
    let sign = sign.ok()?;
    if sign.is_some()
        && !matches!(
            kind,
            AlertKind::DingTalk | AlertKind::Feishu | AlertKind::Generic
        )
    {
        cx.bad(
            format!("{at}.sign_secret"),
            format!("only DingTalk, Feishu and generic webhooks sign requests, not {kind}"),
        );
        return None;
    }
    Some(AlertSettings {
        name: name?,
        kind,
        webhook_url: url?,
        sign_secret: sign,
        min_severity: min_severity?,
        kinds: alert_kinds?,
        keyword,
        quiet_hours: quiet?,
    })
}

fn parse_alerting(root: &Table, cx: &mut Cx) -> Option<AlertingSettings> {
    let mut s = Sec::open(root, "alerting", cx)?;
    let d = AlertingSettings::default();
    let whole = |s: &mut Sec<'_>, key: &'static str, default: u32, cx: &mut Cx| match s.get(key) {
        None => Some(default),
        Some(Value::Integer(n)) if *n >= 1 && *n <= 100_000 => Some(*n as u32),
        Some(other) => {
            cx.bad(
                s.path(key),
                format!("must be a whole number of at least 1, got {other}"),
            );
            None
        }
    };
    let failing_runs = whole(&mut s, "failing_runs", d.failing_runs, cx);
    let writes_off_minutes = whole(&mut s, "writes_off_minutes", d.writes_off_minutes, cx);
    s.finish(cx);
    Some(AlertingSettings {
        failing_runs: failing_runs?,
        writes_off_minutes: writes_off_minutes?,
    })
}

/// `HH:MM-HH:MM` in the display time zone (may wrap past midnight).
fn quiet_hours(t: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || format!("must be `HH:MM-HH:MM` such as 22:00-08:00, got `{t}`");
    let (a, b) = t.split_once('-').ok_or_else(bad)?;
    let p = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    let (a, b) = (p(a)?, p(b)?);
    if a == b {
        return Err(format!("`{t}` starts and ends at the same time"));
    }
    Ok((a, b))
}

/// `Some(None)`: no section; `None`: a problem was recorded.
fn parse_runtime_config(root: &Table, cx: &mut Cx) -> Option<Option<ImportedConfig>> {
    let Some(v) = root.get("runtime_config") else {
        return Some(None);
    };
    match RuntimeConfig::from_value(&toml_to_json(v), "runtime_config") {
        Ok(c) => Some(Some(c)),
        Err(errs) => {
            cx.problems.extend(errs.0);
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
