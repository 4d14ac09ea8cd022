//! Runtime config: `jobs.<job>.*` and `mapping.{shop,warehouse,shipment,carrier}`, in the
//! predecessor's JSON shape, validated with errors that name the key path and the problem.
//!
//! `mapping.sku` is parsed here too but lives apart (the SKU table in the store), so it is returned
//! beside the config rather than inside it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::ids::{
    CarrierName, DscoSku, EmptyId, LingxingSku, LogisticsTypeId, RetailerId, ServiceLevel,
    ShipmentKey, StoreId, WarehouseCode, Wid,
};
use crate::job::{JobName, Schedule, format_duration, parse_duration};

mod edit;
pub use edit::{Change, ChangeKind, ConfigDiff, ROOT, SettingEdit};

/// One problem in a config, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Every problem found in one config (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    pub fn one(path: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError {
            path: path.into(),
            problem: problem.into(),
        }])
    }
}

/// A DSCO order price field a price list can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PriceField {
    ConsumerPriceWithTax,
    ConsumerPrice,
    RetailPrice,
    ExpectedCost,
}

impl PriceField {
    pub const ALL: [PriceField; 4] = [
        PriceField::ConsumerPriceWithTax,
        PriceField::ConsumerPrice,
        PriceField::RetailPrice,
        PriceField::ExpectedCost,
    ];
    /// The DSCO line item field name.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceField::ConsumerPriceWithTax => "consumerPriceWithTax",
            PriceField::ConsumerPrice => "consumerPrice",
            PriceField::RetailPrice => "retailPrice",
            PriceField::ExpectedCost => "expectedCost",
        }
    }
    fn parse(s: &str) -> Option<PriceField> {
        PriceField::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The push price list when none is configured (SPEC R1).
pub const DEFAULT_PUSH_PRICES: [PriceField; 4] = [
    PriceField::ConsumerPriceWithTax,
    PriceField::ConsumerPrice,
    PriceField::RetailPrice,
    PriceField::ExpectedCost,
];
/// The invoice price list when none is configured (SPEC R5: dropship invoices bill item cost).
pub const DEFAULT_INVOICE_PRICES: [PriceField; 3] = [
    PriceField::ExpectedCost,
    PriceField::ConsumerPrice,
    PriceField::RetailPrice,
];

/// Declares every job setting once: its field and doc, the jobs it applies to (`every` job or a
/// list), how it is read (a `want_*` function: value, key path, errors → the value) and how it
/// is exported. [`JobSettings`], the check that a setting applies to a job, the reading and the
/// export all come from this one list.
macro_rules! job_settings {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ty, jobs: $jobs:tt, read: $read:path, write: $write:path;
    )*) => {
        /// Settings beyond `enable`, `cron` and `size`. `None` means "not set": the default
        /// applies and an export leaves the key out, so an import followed by an export loses
        /// nothing.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct JobSettings {
            $($(#[$doc])* pub $field: Option<$ty>,)*
        }

        /// Which jobs a setting applies to (`None`: every job); `None` outside: no such setting.
        fn setting_jobs(key: &str) -> Option<Option<&'static [JobName]>> {
            match key {
                $(stringify!($field) => Some(job_settings!(@jobs $jobs)),)*
                _ => None,
            }
        }

        /// Reads setting `key` (one [`setting_jobs`] knows) into `s`.
        fn parse_setting(
            key: &str,
            v: &Value,
            p: &str,
            s: &mut JobSettings,
            errs: &mut Vec<ConfigError>,
        ) {
            match key {
                $(stringify!($field) => s.$field = $read(v, p, errs),)*
                other => unreachable!("setting_jobs lists {other} but parse_setting does not"),
            }
        }

        fn settings_to_json(s: &JobSettings, o: &mut Map<String, Value>) {
            $(if let Some(x) = &s.$field {
                o.insert(stringify!($field).to_owned(), $write(x));
            })*
        }
    };
    (@jobs every) => { None };
    (@jobs [$($job:ident),* $(,)?]) => { Some(&[$(JobName::$job),*]) };
    (@jobs $list:ident) => { Some($list) };
}

/// The jobs that move orders.
const ORDER_JOBS: &[JobName] = &[
    JobName::PullDscoOrders,
    JobName::PushToLingxing,
    JobName::AckToDsco,
    JobName::ShipToDsco,
    JobName::InvoiceToDsco,
];

job_settings! {
    /// ack/ship/invoice: hold orders with several lines or a quantity above 1.
    multi_ban: bool, jobs: [AckToDsco, ShipToDsco, InvoiceToDsco], read: want_bool, write: plain;
    /// sync_stock: `false` reads and records only.
    sync: bool, jobs: [SyncStock], read: want_bool, write: plain;
    /// sync_stock (predecessor): read DSCO stock through Stream. Accepted, not used.
    use_stream: bool, jobs: [SyncStock], read: want_bool, write: plain;
    /// pull_dsco_orders: fixed start of the first run.
    start_from: DateTime<Utc>, jobs: [PullDscoOrders], read: want_time, write: time_json;
    /// Any job: decide and record, write nothing.
    dry_run: bool, jobs: every, read: want_bool, write: plain;
    /// Any job: the run is stopped after this long (default 30m).
    timeout: Duration, jobs: every, read: want_duration, write: duration_json;
    /// Order jobs: an order is stuck after this many periods of the job that moves it (default 4).
    stuck_after_periods: u32, jobs: ORDER_JOBS, read: want_positive, write: plain;
    /// push/invoice: which DSCO price fields to use, first present wins.
    price_source: Vec<PriceField>, jobs: [PushToLingxing, InvoiceToDsco],
        read: want_price_list, write: price_list_json;
    /// push: an order with no warehouse mapping needs attention instead of going without `wid`.
    require_warehouse: bool, jobs: [PushToLingxing], read: want_bool, write: plain;
    /// ship: hold shipments until every SKU is out.
    require_full_shipment: bool, jobs: [ShipToDsco], read: want_bool, write: plain;
    /// Items per external call where the API allows batching.
    batch_size: u32,
        jobs: [PushToLingxing, AckToDsco, ShipToDsco, InvoiceToDsco, SyncStock, PullSkuPair],
        read: want_positive, write: plain;
    /// pull: cancel the LingXing order when DSCO cancels after the push.
    auto_cancel_in_lingxing: bool, jobs: [PullDscoOrders], read: want_bool, write: plain;
    /// sync_stock: a full push at least this often (default 24h).
    full_push_every: Duration, jobs: [SyncStock], read: want_duration, write: duration_json;
    /// sync_stock: hold the run when more than this share of in-stock SKUs would drop to 0.
    zero_drop_share: Decimal, jobs: [SyncStock], read: want_share, write: decimal_json;
    /// sync_stock: per-warehouse safety reserve, keyed by DSCO warehouse code.
    reserve: BTreeMap<String, u64>, jobs: [SyncStock], read: want_reserve, write: reserve_json;
    /// cleanup_exports: keep the export folder under this many bytes (default 100 MB).
    max_bytes: u64, jobs: [CleanupExports], read: want_u64, write: plain;
    /// cleanup_exports: delete files older than this many days.
    max_age_days: u32, jobs: [CleanupExports], read: want_positive, write: plain;
}

/// One job's runtime config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    pub enable: bool,
    pub schedule: Schedule,
    pub size: u32,
    pub settings: JobSettings,
}

impl JobConfig {
    pub fn dry_run(&self) -> bool {
        self.settings.dry_run.unwrap_or(false)
    }
    pub fn timeout(&self) -> Duration {
        self.settings
            .timeout
            .unwrap_or(Duration::from_secs(30 * 60))
    }
    pub fn multi_ban(&self) -> bool {
        self.settings.multi_ban.unwrap_or(false)
    }
}

/// The DSCO → LingXing mappings that live in the runtime config (`mapping.sku` lives apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mappings {
    /// `dscoRetailerId` → LingXing `store_id`.
    pub shop: BTreeMap<RetailerId, StoreId>,
    /// DSCO warehouse code → LingXing `wid`.
    pub warehouse: BTreeMap<WarehouseCode, Wid>,
    /// `"<DSCO warehouse code>-<shippingServiceLevelCode>"` → LingXing `logistics_type_id`.
    pub shipment: BTreeMap<ShipmentKey, LogisticsTypeId>,
    /// DSCO `shippingServiceLevelCode` → carrier name sent on shipments (overrides the order's).
    pub carrier: BTreeMap<ServiceLevel, CarrierName>,
}

impl Mappings {
    /// The LingXing `store_id`s of `mapping.shop`, as text, in retailer order.
    pub fn store_ids(&self) -> Vec<String> {
        self.shop.values().map(ToString::to_string).collect()
    }
}

/// The runtime config kept in the store, versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub domain: String,
    /// The global write switch: `Some(false)` stops every write to DSCO and LingXing.
    pub writes_enabled: Option<bool>,
    pub jobs: BTreeMap<JobName, JobConfig>,
    pub mapping: Mappings,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            domain: DOMAIN.to_owned(),
            writes_enabled: None,
            jobs: BTreeMap::new(),
            mapping: Mappings::default(),
        }
    }
}

/// The predecessor's domain key.
pub const DOMAIN: &str = "dsco_lingxing";

/// A parsed runtime config and the `mapping.sku` entries that came with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportedConfig {
    pub config: RuntimeConfig,
    /// `mapping.sku`: DSCO SKU → LingXing SKU, validated as [`DscoSku`] → [`LingxingSku`] when
    /// read and kept as text, the way the store's SKU table holds it.
    pub sku: BTreeMap<String, String>,
}

impl ImportedConfig {
    /// The predecessor's JSON shape, `mapping.sku` included.
    pub fn to_value(&self) -> Value {
        self.config.to_value(&self.sku)
    }

    /// The source SKU entries take on import: `pair` when the config had `pull_sku_pair`
    /// enabled (the pairs job owned them), else `manual`.
    pub fn sku_from_pairs(&self) -> bool {
        self.config
            .jobs
            .get(&JobName::PullSkuPair)
            .is_some_and(|j| j.enable)
    }
}

impl RuntimeConfig {
    pub fn writes_enabled(&self) -> bool {
        self.writes_enabled.unwrap_or(true)
    }

    /// The settings this config sets that are accepted (the predecessor's config has them) but
    /// change nothing, by key path, with why: the service warns about them at start and on
    /// every change, so nobody believes they work.
    pub fn inert_settings(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (job, j) in &self.jobs {
            if j.settings.use_stream.is_some() {
                out.push((
                    format!("jobs.{job}.use_stream"),
                    "accepted for the predecessor's config; stock is always read the same way",
                ));
            }
            if j.settings.batch_size.is_some()
                && !matches!(job, JobName::PushToLingxing | JobName::SyncStock)
            {
                out.push((
                    format!("jobs.{job}.batch_size"),
                    "only push_to_lingxing and sync_stock batch their calls by it",
                ));
            }
        }
        out
    }

    /// Parses and validates a runtime config from JSON (the predecessor's shape). `root` is the
    /// path prefix used in error messages, e.g. `runtime_config`.
    pub fn from_value(v: &Value, root: &str) -> Result<ImportedConfig, ConfigErrors> {
        let mut errs = Vec::new();
        let mut out = RuntimeConfig::default();
        let mut sku = BTreeMap::new();
        let Some(obj) = v.as_object() else {
            return Err(ConfigErrors::one(
                root,
                format!("must be a table/object, got {}", kind(v)),
            ));
        };
        for (k, val) in obj {
            let path = format!("{root}.{k}");
            match k.as_str() {
                "domain" => match val.as_str() {
                    Some(s) if s == DOMAIN => out.domain = s.to_owned(),
                    Some(s) => err(
                        &mut errs,
                        &path,
                        format!("must be \"{DOMAIN}\", got \"{s}\""),
                    ),
                    None => err(
                        &mut errs,
                        &path,
                        format!("must be a string, got {}", kind(val)),
                    ),
                },
                "writes_enabled" => match val.as_bool() {
                    Some(b) => out.writes_enabled = Some(b),
                    None => err(
                        &mut errs,
                        &path,
                        format!("must be true or false, got {}", kind(val)),
                    ),
                },
                "jobs" => match val.as_object() {
                    Some(jobs) => {
                        for (name, jv) in jobs {
                            let jpath = format!("{path}.{name}");
                            match name.parse::<JobName>() {
                                Ok(job) => {
                                    if let Some(jc) = parse_job(job, jv, &jpath, &mut errs) {
                                        out.jobs.insert(job, jc);
                                    }
                                }
                                Err(e) => err(&mut errs, &jpath, e.to_string()),
                            }
                        }
                    }
                    None => err(
                        &mut errs,
                        &path,
                        format!("must be a table/object, got {}", kind(val)),
                    ),
                },
                "mapping" => match val.as_object() {
                    Some(m) => {
                        for (name, mv) in m {
                            let mpath = format!("{path}.{name}");
                            let e = &mut errs;
                            let mp = &mut out.mapping;
                            match name.as_str() {
                                "shop" => parse_id_map(mv, &mpath, &mut mp.shop, e),
                                "warehouse" => parse_id_map(mv, &mpath, &mut mp.warehouse, e),
                                "shipment" => parse_id_map(mv, &mpath, &mut mp.shipment, e),
                                "carrier" => parse_id_map(mv, &mpath, &mut mp.carrier, e),
                                "sku" => {
                                    let mut typed = BTreeMap::<DscoSku, LingxingSku>::new();
                                    parse_id_map(mv, &mpath, &mut typed, e);
                                    sku.extend(typed.into_iter().map(|(d, l)| (d.into(), l.into())));
                                }
                                _ => err(e, &mpath, "unknown mapping (mappings are: shop, warehouse, shipment, carrier, sku)".to_owned()),
                            }
                        }
                    }
                    None => err(
                        &mut errs,
                        &path,
                        format!("must be a table/object, got {}", kind(val)),
                    ),
                },
                _ => err(
                    &mut errs,
                    &path,
                    "unknown key (keys are: domain, writes_enabled, jobs, mapping)".to_owned(),
                ),
            }
        }
        if errs.is_empty() {
            Ok(ImportedConfig { config: out, sku })
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// The predecessor's JSON shape, with `mapping.sku` from the SKU table.
    pub fn to_value(&self, sku: &BTreeMap<String, String>) -> Value {
        let mut jobs = Map::new();
        for (name, j) in &self.jobs {
            let mut o = Map::new();
            o.insert("enable".into(), json!(j.enable));
            o.insert("cron".into(), json!(j.schedule.as_str()));
            o.insert("size".into(), json!(j.size));
            settings_to_json(&j.settings, &mut o);
            jobs.insert(name.as_str().into(), Value::Object(o));
        }
        let mut mapping = Map::new();
        mapping.insert("shop".into(), json!(self.mapping.shop));
        mapping.insert("warehouse".into(), json!(self.mapping.warehouse));
        mapping.insert("shipment".into(), json!(self.mapping.shipment));
        if !self.mapping.carrier.is_empty() {
            mapping.insert("carrier".into(), json!(self.mapping.carrier));
        }
        mapping.insert("sku".into(), json!(sku));
        let mut root = Map::new();
        root.insert("domain".into(), json!(self.domain));
        if let Some(w) = self.writes_enabled {
            root.insert("writes_enabled".into(), json!(w));
        }
        root.insert("jobs".into(), Value::Object(jobs));
        root.insert("mapping".into(), Value::Object(mapping));
        Value::Object(root)
    }
}

fn err(errs: &mut Vec<ConfigError>, path: &str, problem: String) {
    errs.push(ConfigError {
        path: path.to_owned(),
        problem,
    });
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table/object",
    }
}

/// Reads one `mapping.*` table: every key and value a non-blank id (trimmed; an id typed as a
/// whole number in hand-written JSON means the same id).
fn parse_id_map<K, V>(v: &Value, path: &str, out: &mut BTreeMap<K, V>, errs: &mut Vec<ConfigError>)
where
    K: Ord + TryFrom<String, Error = EmptyId>,
    V: TryFrom<String, Error = EmptyId>,
{
    let Some(obj) = v.as_object() else {
        err(
            errs,
            path,
            format!("must be a table/object of strings, got {}", kind(v)),
        );
        return;
    };
    for (k, val) in obj {
        let p = format!("{path}.\"{k}\"");
        if k.trim().is_empty() {
            err(errs, &p, "empty key".to_owned());
            continue;
        }
        let s = match val {
            Value::String(s) => s.trim().to_owned(),
            // Ids typed as numbers in hand-written JSON mean the same id.
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            other => {
                err(errs, &p, format!("must be a string, got {}", kind(other)));
                continue;
            }
        };
        if s.is_empty() {
            err(errs, &p, "empty value".to_owned());
            continue;
        }
        // Both are non-blank here, so neither conversion refuses.
        match (K::try_from(k.trim().to_owned()), V::try_from(s)) {
            (Ok(k), Ok(v)) => {
                out.insert(k, v);
            }
            (Err(e), _) | (_, Err(e)) => err(errs, &p, e.to_string()),
        }
    }
}

fn parse_job(
    job: JobName,
    v: &Value,
    path: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<JobConfig> {
    let Some(obj) = v.as_object() else {
        err(
            errs,
            path,
            format!("must be a table/object, got {}", kind(v)),
        );
        return None;
    };
    let before = errs.len();
    let mut enable = None;
    let mut schedule = None;
    let mut size = None;
    let mut s = JobSettings::default();
    for (k, val) in obj {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "enable" => enable = want_bool(val, &p, errs),
            "cron" => match val.as_str() {
                Some(text) => match Schedule::parse(text) {
                    Ok(sc) => schedule = Some(sc),
                    Err(e) => err(errs, &p, e.0),
                },
                None => err(
                    errs,
                    &p,
                    format!(
                        "must be a string such as \"0 */15 * * * *\", got {}",
                        kind(val)
                    ),
                ),
            },
            "size" => size = want_positive(val, &p, errs),
            other => match setting_jobs(other) {
                None => err(errs, &p, format!("unknown setting for {job}")),
                Some(Some(jobs)) if !jobs.contains(&job) => {
                    let names: Vec<_> = jobs.iter().map(|j| j.as_str()).collect();
                    err(
                        errs,
                        &p,
                        format!(
                            "not a setting of {job} (it applies to {})",
                            names.join(", ")
                        ),
                    );
                }
                Some(_) => parse_setting(other, val, &p, &mut s, errs),
            },
        }
    }
    if enable.is_none() && !obj.contains_key("enable") {
        err(
            errs,
            &format!("{path}.enable"),
            "missing (true or false)".to_owned(),
        );
    }
    if schedule.is_none() && !obj.contains_key("cron") {
        err(
            errs,
            &format!("{path}.cron"),
            "missing (6 fields, seconds first, UTC, e.g. \"0 */15 * * * *\")".to_owned(),
        );
    }
    if size.is_none() && !obj.contains_key("size") {
        err(
            errs,
            &format!("{path}.size"),
            "missing (a whole number above 0)".to_owned(),
        );
    }
    if errs.len() > before {
        return None;
    }
    Some(JobConfig {
        enable: enable?,
        schedule: schedule?,
        size: size?,
        settings: s,
    })
}

fn want_bool(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<bool> {
    match v.as_bool() {
        Some(b) => Some(b),
        None => {
            err(errs, p, format!("must be true or false, got {}", kind(v)));
            None
        }
    }
}

fn want_positive(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<u32> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(x) if x > 0 && x <= u32::MAX as i64 => Some(x as u32),
            _ => {
                err(errs, p, format!("must be a whole number above 0, got {n}"));
                None
            }
        },
        other => {
            err(
                errs,
                p,
                format!("must be a whole number above 0, got {}", kind(other)),
            );
            None
        }
    }
}

fn want_u64(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<u64> {
    match v.as_u64() {
        Some(x) => Some(x),
        None => {
            err(
                errs,
                p,
                format!("must be a whole number, 0 or more, got {}", show(v)),
            );
            None
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

fn want_duration(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<Duration> {
    match v.as_str().map(parse_duration) {
        Some(Ok(d)) if !d.is_zero() => Some(d),
        Some(Ok(_)) => {
            err(errs, p, "must be longer than 0".to_owned());
            None
        }
        Some(Err(e)) => {
            err(errs, p, e);
            None
        }
        None => {
            err(
                errs,
                p,
                format!("must be a duration string such as \"30m\", got {}", kind(v)),
            );
            None
        }
    }
}

fn want_time(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<DateTime<Utc>> {
    match v.as_str().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        _ => {
            err(
                errs,
                p,
                format!(
                    "must be an RFC 3339 time such as \"2026-01-01T00:00:00Z\", got {}",
                    show_str(v)
                ),
            );
            None
        }
    }
}

fn want_share(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<Decimal> {
    let d = match v {
        Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
        Value::String(t) => t.parse::<Decimal>().ok(),
        _ => None,
    };
    match d {
        Some(d) if d > Decimal::ZERO && d <= Decimal::ONE => Some(d.normalize()),
        _ => {
            err(
                errs,
                p,
                format!(
                    "must be a share above 0 and at most 1, such as 0.2, got {}",
                    show_str(v)
                ),
            );
            None
        }
    }
}

fn want_price_list(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<Vec<PriceField>> {
    match v.as_array() {
        Some(items) if !items.is_empty() => {
            let mut list = Vec::new();
            for (i, it) in items.iter().enumerate() {
                match it.as_str().and_then(PriceField::parse) {
                    Some(f) if !list.contains(&f) => list.push(f),
                    Some(_) => err(errs, &format!("{p}[{i}]"), "listed twice".to_owned()),
                    None => err(
                        errs,
                        &format!("{p}[{i}]"),
                        format!(
                            "unknown price field {} (fields are: consumerPriceWithTax, consumerPrice, retailPrice, expectedCost)",
                            show_str(it)
                        ),
                    ),
                }
            }
            Some(list)
        }
        _ => {
            err(
                errs,
                p,
                "must be a non-empty list of DSCO price fields".to_owned(),
            );
            None
        }
    }
}

fn want_reserve(v: &Value, p: &str, errs: &mut Vec<ConfigError>) -> Option<BTreeMap<String, u64>> {
    match v.as_object() {
        Some(m) => {
            let mut r = BTreeMap::new();
            for (code, q) in m {
                if let Some(x) = want_u64(q, &format!("{p}.\"{code}\""), errs) {
                    r.insert(code.clone(), x);
                }
            }
            Some(r)
        }
        None => {
            err(
                errs,
                p,
                format!(
                    "must be a table of DSCO warehouse code → quantity, got {}",
                    kind(v)
                ),
            );
            None
        }
    }
}

fn show_str(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => show(other),
    }
}

fn plain<T: Clone + Into<Value>>(x: &T) -> Value {
    x.clone().into()
}

fn time_json(t: &DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn duration_json(d: &Duration) -> Value {
    json!(format_duration(*d))
}

#[allow(clippy::ptr_arg)] // the macro writes every setting as `fn(&T) -> Value`
fn price_list_json(l: &Vec<PriceField>) -> Value {
    json!(l.iter().map(|f| f.as_str()).collect::<Vec<_>>())
}

fn decimal_json(d: &Decimal) -> Value {
    json!(d.to_string())
}

fn reserve_json(r: &BTreeMap<String, u64>) -> Value {
    json!(r)
}

/// Parses JSON text, refusing duplicate keys (serde_json keeps the last one silently, which would
/// hide a mistake in a hand-edited mapping).
pub fn parse_json_strict(text: &str) -> Result<Value, String> {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_str(text);
    let v = StrictValue::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v.0)
}

struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|v: StrictValue| v.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = a.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = a.next_key::<String>()? {
            let StrictValue(v) = a.next_value()?;
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format!("duplicate key \"{k}\"")));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Result<ImportedConfig, ConfigErrors> {
        RuntimeConfig::from_value(&v, "runtime_config")
    }

    #[test]
    fn mappings_read_as_typed_ids_and_export_the_same_text() {
        let c = read(json!({
            "domain": "dsco_lingxing",
            "mapping": {
                "shop": {" 1000012345 ": " 110283406273996288 "},
                "warehouse": {"US-CA-01": 1300},
                "shipment": {"US-CA-01-UPCG": "101"},
                "carrier": {"UPCG": "UPS"},
                "sku": {"SKU-1": " LX-1"}
            }
        }))
        .unwrap();
        let m = &c.config.mapping;
        assert_eq!(
            m.shop.get("1000012345").map(StoreId::as_str),
            Some("110283406273996288")
        );
        assert_eq!(m.warehouse["US-CA-01"], "1300");
        assert_eq!(m.shipment["US-CA-01-UPCG"], "101");
        assert_eq!(m.carrier["UPCG"], "UPS");
        assert_eq!(c.sku["SKU-1"], "LX-1");
        let out = c.to_value();
        assert_eq!(
            out["mapping"],
            json!({
                "shop": {"1000012345": "110283406273996288"},
                "warehouse": {"US-CA-01": "1300"},
                "shipment": {"US-CA-01-UPCG": "101"},
                "carrier": {"UPCG": "UPS"},
                "sku": {"SKU-1": "LX-1"}
            })
        );
        // Blank ids are refused with the key path, as before.
        let e = read(json!({"mapping": {"shop": {" ": "x", "1": " "}, "sku": {"S": 1.5}}}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "runtime_config.mapping.shop.\" \": empty key\n\
             runtime_config.mapping.shop.\"1\": empty value\n\
             runtime_config.mapping.sku.\"S\": must be a string, got a number"
        );
    }

    #[test]
    fn every_job_setting_reads_back_what_it_exports() {
        let job = |extra: Value| {
            let mut j = json!({"enable": true, "cron": "0 * * * * *", "size": 5});
            for (k, v) in extra.as_object().unwrap() {
                j[k] = v.clone();
            }
            j
        };
        let v = json!({
            "domain": "dsco_lingxing",
            "jobs": {
                "pull_dsco_orders": job(json!({"start_from": "2026-01-01T00:00:00Z",
                    "auto_cancel_in_lingxing": true, "stuck_after_periods": 3,
                    "dry_run": true, "timeout": "5m"})),
                "push_to_lingxing": job(json!({"price_source": ["expectedCost", "retailPrice"],
                    "require_warehouse": true, "batch_size": 20})),
                "ship_to_dsco": job(json!({"multi_ban": true, "require_full_shipment": true})),
                "sync_stock": job(json!({"sync": false, "use_stream": true,
                    "full_push_every": "12h", "zero_drop_share": "0.25", "reserve": {"WH-A": 2}})),
                "cleanup_exports": job(json!({"max_bytes": 1000, "max_age_days": 7}))
            },
            "mapping": {}
        });
        let c = read(v.clone()).unwrap();
        let out = c.to_value();
        let mut names = std::collections::BTreeSet::new();
        for (name, j) in v["jobs"].as_object().unwrap() {
            for (k, val) in j.as_object().unwrap() {
                assert_eq!(&out["jobs"][name][k], val, "{name}.{k}");
                names.insert(k.as_str());
            }
        }
        assert_eq!(names.len(), 3 + 17, "every setting is covered: {names:?}");
        assert_eq!(read(out).unwrap(), c);
        // A setting read on a job it does not apply to names the jobs it does.
        let e = read(json!({"jobs": {"sync_stock": job(json!({"multi_ban": true}))}}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "runtime_config.jobs.sync_stock.multi_ban: not a setting of sync_stock (it applies to \
             ack_to_dsco, ship_to_dsco, invoice_to_dsco)"
        );
    }
}
