//! Comparing and editing runtime configs: the diff `config import|diff|history|rollback|set`
//! show (by key path, such as `runtime_config.jobs.sync_stock.cron`), the merge of a partial
//! file onto the running config, and one setting changed by its key path.
//!
//! Everything works on the predecessor's JSON shape ([`RuntimeConfig::to_value`]) and ends in
//! [`RuntimeConfig::from_value`], so an edit is validated exactly as `config check` validates a
//! file, with the same messages.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::{ConfigErrors, ImportedConfig, RuntimeConfig};

/// The root every key path starts with, as in validation messages.
pub const ROOT: &str = "runtime_config";
const MAPPINGS: [&str; 5] = ["shop", "warehouse", "shipment", "carrier", "sku"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

/// One difference, at a key path: a whole job or a mapping entry when one side lacks it, else
/// one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
        match self.kind {
            ChangeKind::Added => write!(f, "+ {}: {}", self.path, show(&self.new)),
            ChangeKind::Removed => write!(f, "- {}: {}", self.path, show(&self.old)),
            ChangeKind::Changed => write!(
                f,
                "~ {}: {} → {}",
                self.path,
                show(&self.old),
                show(&self.new)
            ),
        }
    }
}

/// What changes from one runtime config (with its `mapping.sku`) to another, in key-path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub changes: Vec<Change>,
}

impl ConfigDiff {
    pub fn between(old: &ImportedConfig, new: &ImportedConfig) -> ConfigDiff {
        let mut changes = Vec::new();
        walk(&normalized(old), &normalized(new), ROOT, &mut changes);
        ConfigDiff { changes }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// What the change would remove: jobs, mapping entries (`mapping.sku` too) and settings.
    pub fn removals(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Removed)
            .collect()
    }

    /// One line: per job or mapping, what changes (`+jobs.sync_stock`, `mapping.shop +2 -1`,
    /// `jobs.push_to_lingxing ~1`); `no changes` when there are none.
    pub fn summary(&self) -> String {
        if self.changes.is_empty() {
            return "no changes".to_owned();
        }
        // (area, whole-area change, added, changed, removed), in order of first appearance.
        let mut areas: Vec<(String, Option<ChangeKind>, [usize; 3])> = Vec::new();
        for c in &self.changes {
            let rel = c.path.strip_prefix(ROOT).unwrap_or(&c.path);
            let rel = rel.strip_prefix('.').unwrap_or(rel);
            let mut parts = rel.splitn(3, '.');
            let first = parts.next().unwrap_or_default();
            let area = match (first, parts.next()) {
                ("jobs" | "mapping", Some(name)) => format!("{first}.{name}"),
                _ => first.to_owned(),
            };
            let whole = (area == rel).then_some(c.kind);
            let i = match areas.iter().position(|(a, ..)| *a == area) {
                Some(i) => i,
                None => {
                    areas.push((area, whole, [0; 3]));
                    areas.len() - 1
                }
            };
            let slot = match c.kind {
                ChangeKind::Added => 0,
                ChangeKind::Changed => 1,
                ChangeKind::Removed => 2,
            };
            areas[i].2[slot] += 1;
        }
        let parts: Vec<String> = areas
            .into_iter()
            .map(|(area, whole, counts)| match whole {
                Some(ChangeKind::Added) if counts == [1, 0, 0] => format!("+{area}"),
                Some(ChangeKind::Removed) if counts == [0, 0, 1] => format!("-{area}"),
                _ => {
                    let mut s = area;
                    for (sign, n) in ["+", "~", "-"].iter().zip(counts) {
                        if n > 0 {
                            s.push_str(&format!(" {sign}{n}"));
                        }
                    }
                    s
                }
            })
            .collect();
        parts.join(", ")
    }
}

impl fmt::Display for ConfigDiff {
    /// One change per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The JSON shape with every mapping present (empty when unset), so a mapping that appears or
/// disappears compares entry by entry.
fn normalized(c: &ImportedConfig) -> Value {
    let mut v = c.to_value();
    if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
        for name in MAPPINGS {
            m.entry(name).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    v
}

/// Keys below these paths are user data (retailer ids, warehouse codes, SKUs): quoted, as the
/// validation messages quote them.
fn quotes_keys(path: &str) -> bool {
    let mapping = path
        .strip_prefix(ROOT)
        .and_then(|r| r.strip_prefix(".mapping."))
        .is_some_and(|name| !name.contains('.'));
    mapping || (path.starts_with(ROOT) && path.ends_with(".reserve"))
}

fn child_path(path: &str, key: &str) -> String {
    if quotes_keys(path) {
        format!("{path}.\"{key}\"")
    } else {
        format!("{path}.{key}")
    }
}

fn walk(old: &Value, new: &Value, path: &str, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = child_path(path, k);
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => walk(x, y, &p, out),
                    (Some(x), None) => out.push(Change {
                        path: p,
                        kind: ChangeKind::Removed,
                        old: Some(x.clone()),
                        new: None,
                    }),
                    (None, Some(y)) => out.push(Change {
                        path: p,
                        kind: ChangeKind::Added,
                        old: None,
                        new: Some(y.clone()),
                    }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(Change {
            path: path.to_owned(),
            kind: ChangeKind::Changed,
            old: Some(a.clone()),
            new: Some(b.clone()),
        }),
        _ => {}
    }
}

/// `overlay` laid over `base`: tables merge key by key, anything else in `overlay` wins.
fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => deep_merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The runtime config's JSON without `mapping.sku` (which lives apart).
fn without_sku(c: &RuntimeConfig) -> Value {
    let mut v = c.to_value(&BTreeMap::new());
    if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
        m.remove("sku");
    }
    v
}

impl RuntimeConfig {
    /// `partial` (a file naming some jobs, settings or mapping entries) laid over `self`: every
    /// key the file names takes the file's value, everything it does not name stays. Nothing is
    /// removed. `mapping.sku` is not part of it (it lives apart).
    pub fn merged_with(&self, partial: &RuntimeConfig) -> Result<RuntimeConfig, ConfigErrors> {
        let mut v = without_sku(self);
        deep_merge(&mut v, &without_sku(partial));
        RuntimeConfig::from_value(&v, ROOT).map(|i| i.config)
    }
}

/// The result of [`ImportedConfig::with_setting`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingEdit {
    /// The whole config after the edit, validated.
    pub config: ImportedConfig,
    /// The key path edited, as messages name it (`runtime_config.jobs.sync_stock.enable`).
    pub path: String,
    /// For `mapping.sku.KEY`: the DSCO SKU and its new LingXing SKU (`None`: removed).
    pub sku: Option<(String, Option<String>)>,
}

impl ImportedConfig {
    /// Sets one setting by key path, as `config set KEY VALUE` takes it: `writes_enabled false`,
    /// `jobs.push_to_lingxing.size 100`, `jobs.sync_stock.reserve.WH-EAST 2`,
    /// `mapping.shop.1000012345 110283406273996288` (the `runtime_config.` prefix is optional;
    /// everything after the mapping name is the entry's key, dots included, quotes optional).
    ///
    /// The value is read as JSON when it is one (`100`, `false`, `["expectedCost"]`), else as
    /// text; a mapping value is always text. `null` removes the key. The whole result is then
    /// validated by [`RuntimeConfig::from_value`], so a bad value gets `config check`'s message.
    pub fn with_setting(&self, key: &str, raw: &str) -> Result<SettingEdit, ConfigErrors> {
        let rel = key.trim();
        let rel = rel
            .strip_prefix(ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(rel);
        let mut segs: Vec<String> = Vec::new();
        let mut rest = rel;
        // `mapping.<name>.<key>` and `jobs.<job>.reserve.<code>`: the last part is one key.
        let whole_key_at = match rel.split('.').next() {
            Some("mapping") => Some(2),
            Some("jobs") if rel.split('.').nth(2) == Some("reserve") => Some(3),
            _ => None,
        };
        while !rest.is_empty() {
            if whole_key_at == Some(segs.len()) {
                segs.push(unquote(rest).to_owned());
                break;
            }
            let (head, tail) = rest.split_once('.').unwrap_or((rest, ""));
            segs.push(head.to_owned());
            rest = tail;
        }
        let display = segs.iter().fold(ROOT.to_owned(), |p, s| child_path(&p, s));
        if segs.is_empty() || segs.iter().any(|s| s.is_empty()) {
            return Err(ConfigErrors::one(
                display,
                "name one setting, such as jobs.sync_stock.enable or mapping.shop.<dscoRetailerId>",
            ));
        }
        let is_mapping_entry = segs[0] == "mapping" && segs.len() == 3;
        if segs[0] == "mapping" && segs.len() < 3 {
            return Err(ConfigErrors::one(
                display,
                "name one entry, such as mapping.shop.<dscoRetailerId> <LingXing store_id>",
            ));
        }
        let raw = raw.trim();
        let value = if raw == "null" {
            None
        } else if is_mapping_entry {
            Some(Value::String(raw.to_owned()))
        } else {
            Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())))
        };

        let mut root = self.to_value();
        let mut node = &mut root;
        let mut at = ROOT.to_owned();
        let (last, parents) = segs.split_last().expect("not empty");
        for s in parents {
            at = child_path(&at, s);
            let obj = node
                .as_object_mut()
                .expect("only tables are descended into");
            let next = obj
                .entry(s.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !next.is_object() {
                return Err(ConfigErrors::one(
                    at,
                    format!("is {next}, not a table: set it as a whole"),
                ));
            }
            node = next;
        }
        let obj = node.as_object_mut().expect("checked above");
        match &value {
            Some(v) => {
                obj.insert(last.clone(), v.clone());
            }
            None => {
                obj.remove(last);
            }
        }
        let config = RuntimeConfig::from_value(&root, ROOT)?;
        let sku = (is_mapping_entry && segs[1] == "sku").then(|| {
            (
                segs[2].clone(),
                value.and_then(|v| v.as_str().map(str::to_owned)),
            )
        });
        Ok(SettingEdit {
            config,
            path: display,
            sku,
        })
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use crate::{CarrierName, ServiceLevel};

    use serde_json::json;

    use super::*;

    fn cfg(v: Value) -> ImportedConfig {
        RuntimeConfig::from_value(&v, ROOT).unwrap()
    }

    fn running() -> ImportedConfig {
        cfg(json!({
            "domain": "dsco_lingxing",
            "jobs": {
                "sync_stock": {"enable": true, "cron": "0 0 * * * *", "size": 800, "reserve": {"WH-A": 2}},
                "push_to_lingxing": {"enable": true, "cron": "0 */15 * * * *", "size": 50, "require_warehouse": true}
            },
            "mapping": {
                "shop": {"1000012345": "110283406273996288", "1000023456": "110283406273996289"},
                "warehouse": {"WH-A": "1300"},
                "shipment": {},
                "sku": {"SKU.1": "LX-1"}
            }
        }))
    }

    /// One job's settings, as a user would write a partial file.
    fn partial() -> ImportedConfig {
        cfg(json!({"jobs": {"sync_stock": {"enable": true, "cron": "0 */5 * * * *", "size": 800}}}))
    }

    fn lines(d: &ConfigDiff) -> Vec<String> {
        d.changes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_partial_file_shows_every_job_and_mapping_it_would_drop() {
        let d = ConfigDiff::between(&running(), &partial());
        let removed: Vec<&str> = d.removals().iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            removed,
            [
                "runtime_config.jobs.push_to_lingxing",
                "runtime_config.jobs.sync_stock.reserve",
                "runtime_config.mapping.shop.\"1000012345\"",
                "runtime_config.mapping.shop.\"1000023456\"",
                "runtime_config.mapping.sku.\"SKU.1\"",
                "runtime_config.mapping.warehouse.\"WH-A\"",
            ]
        );
        assert!(
            lines(&d).contains(
                &"~ runtime_config.jobs.sync_stock.cron: \"0 0 * * * *\" → \"0 */5 * * * *\""
                    .to_owned()
            ),
            "{d}"
        );
        assert_eq!(
            d.summary(),
            "-jobs.push_to_lingxing, jobs.sync_stock ~1 -1, mapping.shop -2, mapping.sku -1, mapping.warehouse -1"
        );
    }

    #[test]
    fn same_config_has_no_changes_and_additions_are_not_removals() {
        assert!(ConfigDiff::between(&running(), &running()).is_empty());
        assert_eq!(
            ConfigDiff::between(&running(), &running()).summary(),
            "no changes"
        );
        let d = ConfigDiff::between(&ImportedConfig::default(), &running());
        assert!(d.removals().is_empty());
        assert!(
            d.summary()
                .starts_with("+jobs.push_to_lingxing, +jobs.sync_stock, mapping.shop +2"),
            "{}",
            d.summary()
        );
        // A mapping that appears compares entry by entry.
        let mut with_carrier = running();
        with_carrier.config.mapping.carrier.insert(
            ServiceLevel::parse("UPCG").unwrap(),
            CarrierName::parse("UPS").unwrap(),
        );
        assert_eq!(
            lines(&ConfigDiff::between(&running(), &with_carrier)),
            ["+ runtime_config.mapping.carrier.\"UPCG\": \"UPS\""]
        );
    }

    #[test]
    fn merge_keeps_everything_the_file_does_not_name() {
        let merged = running().config.merged_with(&partial().config).unwrap();
        let after = ImportedConfig {
            config: merged,
            sku: running().sku,
        };
        let d = ConfigDiff::between(&running(), &after);
        assert_eq!(
            lines(&d),
            ["~ runtime_config.jobs.sync_stock.cron: \"0 0 * * * *\" → \"0 */5 * * * *\""]
        );
        // A named setting wins; a named reserve entry joins the others.
        let p = cfg(
            json!({"writes_enabled": false, "jobs": {"sync_stock": {"enable": false, "cron": "0 0 * * * *", "size": 800, "reserve": {"WH-B": 1}}},
                           "mapping": {"shop": {"1000012345": "999"}}}),
        );
        let m = running().config.merged_with(&p.config).unwrap();
        assert_eq!(m.writes_enabled, Some(false));
        let stock = &m.jobs[&crate::JobName::SyncStock];
        assert!(!stock.enable);
        assert_eq!(
            stock.settings.reserve,
            Some(BTreeMap::from([("WH-A".into(), 2), ("WH-B".into(), 1)]))
        );
        assert_eq!(m.mapping.shop["1000012345"], "999");
        assert_eq!(m.mapping.shop.len(), 2);
        assert_eq!(m.jobs.len(), 2);
    }

    #[test]
    fn set_changes_one_setting_by_key_path() {
        let r = running();
        let e = r.with_setting("jobs.push_to_lingxing.size", "100").unwrap();
        assert_eq!(e.path, "runtime_config.jobs.push_to_lingxing.size");
        assert_eq!(
            lines(&ConfigDiff::between(&r, &e.config)),
            ["~ runtime_config.jobs.push_to_lingxing.size: 50 → 100"]
        );
        let e = r
            .with_setting("runtime_config.jobs.sync_stock.enable", "false")
            .unwrap();
        assert!(!e.config.config.jobs[&crate::JobName::SyncStock].enable);
        let e = r.with_setting("writes_enabled", "false").unwrap();
        assert_eq!(e.config.config.writes_enabled, Some(false));
        // A mapping value stays text (a long id is not a number), keys may hold dots.
        let e = r
            .with_setting("mapping.shop.1000034567", "110283406273996290")
            .unwrap();
        assert_eq!(
            e.config.config.mapping.shop["1000034567"],
            "110283406273996290"
        );
        assert_eq!(e.sku, None);
        let e = r.with_setting("mapping.sku.\"SKU.2\"", "LX-2").unwrap();
        assert_eq!(e.sku, Some(("SKU.2".into(), Some("LX-2".into()))));
        assert_eq!(e.path, "runtime_config.mapping.sku.\"SKU.2\"");
        let e = r.with_setting("mapping.sku.SKU.1", "null").unwrap();
        assert_eq!(e.sku, Some(("SKU.1".into(), None)));
        assert!(e.config.sku.is_empty());
        let e = r.with_setting("jobs.sync_stock.reserve.WH.B", "3").unwrap();
        assert_eq!(
            e.config.config.jobs[&crate::JobName::SyncStock]
                .settings
                .reserve
                .as_ref()
                .unwrap()["WH.B"],
            3
        );
        let e = r
            .with_setting("jobs.sync_stock.cron", "0 */5 * * * *")
            .unwrap();
        assert_eq!(
            e.config.config.jobs[&crate::JobName::SyncStock]
                .schedule
                .as_str(),
            "0 */5 * * * *"
        );
        let e = r
            .with_setting("jobs.push_to_lingxing.require_warehouse", "null")
            .unwrap();
        assert_eq!(
            lines(&ConfigDiff::between(&r, &e.config)),
            ["- runtime_config.jobs.push_to_lingxing.require_warehouse: true"]
        );
    }

    #[test]
    fn a_bad_setting_gets_the_validation_message_of_config_check() {
        let r = running();
        let err = |k: &str, v: &str| r.with_setting(k, v).unwrap_err().to_string();
        assert_eq!(
            err("jobs.push_to_lingxing.size", "0"),
            "runtime_config.jobs.push_to_lingxing.size: must be a whole number above 0, got 0"
        );
        assert_eq!(
            err("jobs.sync_stock.enable", "maybe"),
            "runtime_config.jobs.sync_stock.enable: must be true or false, got a string"
        );
        assert!(
            err("jobs.push_to_lingxin.size", "1")
                .starts_with("runtime_config.jobs.push_to_lingxin: unknown job")
        );
        assert!(
            err("writes_enable", "false").starts_with("runtime_config.writes_enable: unknown key")
        );
        assert!(err("jobs.sync_stock.cron", "*/5 * * * *").contains("5 fields"));
        // A new job needs its required keys: each one named.
        let e = err("jobs.ack_to_dsco.size", "10");
        assert!(
            e.contains("runtime_config.jobs.ack_to_dsco.enable: missing"),
            "{e}"
        );
        assert!(
            e.contains("runtime_config.jobs.ack_to_dsco.cron: missing"),
            "{e}"
        );
        assert!(err("mapping.shop", "1").contains("name one entry"));
        assert!(
            err("mapping.shop.1", "").contains("runtime_config.mapping.shop.\"1\": empty value")
        );
        assert!(
            err("writes_enabled.x", "1")
                .starts_with("runtime_config.writes_enabled: must be true or false")
        );
        assert!(err("", "1").contains("name one setting"));
        assert_eq!(
            err("jobs.push_to_lingxing.size.x", "1"),
            "runtime_config.jobs.push_to_lingxing.size: is 50, not a table: set it as a whole"
        );
    }
}
