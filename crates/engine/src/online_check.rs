//! The online configuration check (`config check --online`): sign in to DSCO and LingXing with
//! the configured credentials and check every mapping value against what the far side lists.
//! Only reads: `GET /hello` at DSCO; LingXing's store list (`getSellerList`), warehouse list,
//! enabled logistics types (`listUsedLogisticsType`) and local products (`productList`).
//!
//! - `mapping.shop`: each `store_id` is in the store list of the configured `platform_code`;
//! - `mapping.warehouse`: each `wid` is a warehouse (local or overseas) and not deleted;
//! - `mapping.shipment`: each value is the `type_id` of an enabled logistics type;
//! - `mapping.carrier`: each value is the provider name or the name of one of those types
//!   (case ignored): the carrier LingXing ships with;
//! - `mapping.sku`: each LingXing SKU is a local product (at most [`OnlineOptions::sku_sample`]
//!   of them, spread evenly over the map, and the report says so);
//! - the clock: this machine's against DSCO's (HTTP `Date`) and LingXing's (`response_time`);
//!   LingXing refuses a signature whose timestamp is 2 min old, so a skew over
//!   [`OnlineOptions::max_skew`] is a problem.
//!
//! Credentials refused are one finding naming the side (never the secret), and that side's
//! mapping checks are skipped.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::TimeDelta;
use clock::Clock;
use domain::RuntimeConfig;
use store::Store;

use crate::FarFailure;
use crate::startup::{FarSides, StartupError};
use crate::token_cache::StoreTokenCache;

/// How much the check reads and tolerates.
#[derive(Debug, Clone, Copy)]
pub struct OnlineOptions {
    /// At most this many `mapping.sku` entries are looked up.
    pub sku_sample: usize,
    /// A clock further off than this from a far side's is a problem.
    pub max_skew: TimeDelta,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            sku_sample: 200,
            max_skew: TimeDelta::seconds(60),
        }
    }
}

/// One line of the report: the key it is about and what is wrong, in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `mapping.warehouse."WH-1"`, `credentials.lingxing`, `clock.dsco`, …
    pub key: String,
    pub en: String,
    pub zh: String,
}

impl Finding {
    fn new(key: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Finding {
        Finding {
            key: key.into(),
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// `key: message` in English (`zh`: Chinese).
    pub fn line(&self, zh: bool) -> String {
        format!("{}: {}", self.key, if zh { &self.zh } else { &self.en })
    }
}

/// What was checked, and what is wrong.
#[derive(Debug, Clone, Default)]
pub struct OnlineReport {
    /// One per problem; none: everything checked is known to the far sides.
    pub problems: Vec<Finding>,
    /// What went well or was measured (the clocks, the sample), for the summary.
    pub notes: Vec<Finding>,
    pub shops_checked: usize,
    pub warehouses_checked: usize,
    pub shipments_checked: usize,
    pub carriers_checked: usize,
    pub skus_checked: usize,
    pub skus_total: usize,
}

impl OnlineReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The closing summary line.
    pub fn summary(&self, zh: bool) -> String {
        let sampled = self.skus_checked < self.skus_total;
        if zh {
            format!(
                "在线检查：店铺 {}、仓库 {}、运输方式 {}、承运商 {}、SKU {}/{}{}；{}",
                self.shops_checked,
                self.warehouses_checked,
                self.shipments_checked,
                self.carriers_checked,
                self.skus_checked,
                self.skus_total,
                if sampled { "（抽样）" } else { "" },
                if self.ok() {
                    "没有问题".to_owned()
                } else {
                    format!("{} 个问题", self.problems.len())
                }
            )
        } else {
            format!(
                "online check: {} shop, {} warehouse, {} shipment, {} carrier mapping(s), {} of {} SKU(s){} checked; {}",
                self.shops_checked,
                self.warehouses_checked,
                self.shipments_checked,
                self.carriers_checked,
                self.skus_checked,
                self.skus_total,
                if sampled { " (sampled)" } else { "" },
                if self.ok() {
                    "no problems".to_owned()
                } else {
                    format!("{} problem(s)", self.problems.len())
                }
            )
        }
    }
}

/// The two clients as a service process builds them: the LingXing token shared through `store`
/// (sealed with the app secret) when there is one, else kept in memory.
pub fn clients(
    far: FarSides,
    store: Option<Arc<dyn Store>>,
    clock: Clock,
) -> Result<(dsco::DscoClient, lingxing::LingxingClient), StartupError> {
    let dsco = dsco::DscoClient::new(far.dsco, clock.clone())?;
    let cache = store.map(|s| {
        Arc::new(StoreTokenCache::new(
            s,
            clock.clone(),
            far.lingxing.app_secret.expose(),
        )) as Arc<dyn lingxing::TokenCache>
    });
    let lingxing =
        lingxing::LingxingClient::new(far.lingxing, clock, cache).map_err(|e| match e {
            lingxing::ConfigError::AppIdLength(_) => StartupError::LingxingAppId(e),
            _ => StartupError::Lingxing(e),
        })?;
    Ok((dsco, lingxing))
}

/// A map key as the report names it: `mapping.<map>."<key>"`.
fn key(map: &str, k: &str) -> String {
    format!("mapping.{map}.\"{k}\"")
}

/// Runs every check. `sku` is `mapping.sku` (DSCO SKU → LingXing SKU).
pub async fn check(
    dsco: &dsco::DscoClient,
    lx: &lingxing::LingxingClient,
    platform_code: u32,
    config: &RuntimeConfig,
    sku: &BTreeMap<String, String>,
    opts: OnlineOptions,
) -> OnlineReport {
    let mut r = OnlineReport::default();
    let m = &config.mapping;

    // DSCO: the credentials and the clock.
    match dsco.server_time().await {
        Ok(t) => skew(&mut r, "dsco", "DSCO", t, opts),
        Err(e) if e.credentials_refused() || matches!(e, dsco::DscoError::Forbidden { .. }) => {
            r.problems.push(Finding::new(
                "credentials.dsco",
                format!("DSCO refused the configured credentials (dsco.client_id / dsco.client_secret or dsco.token): {e}"),
                format!("DSCO 拒绝了配置的凭据（dsco.client_id / dsco.client_secret 或 dsco.token）：{e}"),
            ))
        }
        Err(e) => r.problems.push(Finding::new(
            "dsco",
            format!("the check against DSCO failed: {e}"),
            format!("对 DSCO 的检查失败：{e}"),
        )),
    }

    // LingXing: the credentials and the clock first; refused credentials end its checks.
    match lx.server_time().await {
        Ok(t) => skew(&mut r, "lingxing", "LingXing", t, opts),
        Err(e) if e.credentials_refused() => {
            r.problems.push(Finding::new(
                "credentials.lingxing",
                format!("LingXing refused the configured credentials (lingxing.app_id / lingxing.app_secret): {e}; the mapping checks against LingXing were skipped"),
                format!("领星拒绝了配置的凭据（lingxing.app_id / lingxing.app_secret）：{e}；已跳过对领星的映射检查"),
            ));
            return r;
        }
        Err(e) => {
            r.problems.push(Finding::new(
                "lingxing",
                format!("the check against LingXing failed: {e}; the mapping checks against LingXing were skipped"),
                format!("对领星的检查失败：{e}；已跳过对领星的映射检查"),
            ));
            return r;
        }
    }

    let unreadable =
        |r: &mut OnlineReport, map: &str, what: &str, zh: &str, e: &dyn std::fmt::Display| {
            r.problems.push(Finding::new(
                format!("mapping.{map}"),
                format!("LingXing's {what} could not be read, nothing checked: {e}"),
                format!("无法读取领星的{zh}，未检查：{e}"),
            ))
        };

    // mapping.shop: store ids of the platform code.
    if !m.shop.is_empty() {
        match lx.stores_all(&[platform_code]).await {
            Ok(stores) => {
                let known: HashSet<&str> = stores.iter().map(|s| s.store_id.as_str()).collect();
                let missing: Vec<_> = m
                    .shop
                    .iter()
                    .filter(|(_, s)| !known.contains(s.as_str()))
                    .collect();
                // Where a missing store is, if it is under another platform code.
                let elsewhere: BTreeMap<String, String> = if missing.is_empty() {
                    BTreeMap::new()
                } else {
                    lx.stores_all(&[])
                        .await
                        .map(|all| {
                            all.into_iter()
                                .map(|s| (s.store_id, s.platform_code))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for (retailer, store) in missing {
                    let (en_hint, zh_hint) = match elsewhere.get(store.as_str()) {
                        Some(p) => (
                            format!(" (it is a store of platform_code {p})"),
                            format!("（它属于 platform_code {p}）"),
                        ),
                        None => (String::new(), String::new()),
                    };
                    r.problems.push(Finding::new(
                        key("shop", retailer.as_str()),
                        format!("store_id {store} not in LingXing's store list for platform_code {platform_code}{en_hint}"),
                        format!("store_id {store} 不在领星 platform_code {platform_code} 的店铺列表中{zh_hint}"),
                    ));
                }
                r.shops_checked = m.shop.len();
            }
            Err(e) => unreadable(&mut r, "shop", "store list", "店铺列表", &e),
        }
    }

    // mapping.warehouse: local warehouses, then overseas ones for what is still missing.
    if !m.warehouse.is_empty() {
        let mut listed = lx.warehouses(Some(1)).await;
        if let Ok(local) = &listed {
            let known: HashSet<&str> = local.iter().map(|w| w.wid.as_str()).collect();
            if m.warehouse.values().any(|w| !known.contains(w.as_str())) {
                let overseas = lx.warehouses(Some(3)).await;
                listed = overseas.map(|o| local.iter().cloned().chain(o).collect());
            }
        }
        match listed {
            Ok(all) => {
                let by_wid: BTreeMap<&str, &lingxing::Warehouse> =
                    all.iter().map(|w| (w.wid.as_str(), w)).collect();
                for (code, wid) in &m.warehouse {
                    match by_wid.get(wid.as_str()) {
                        None => r.problems.push(Finding::new(
                            key("warehouse", code.as_str()),
                            format!("wid {wid} not in LingXing's warehouse list"),
                            format!("wid {wid} 不在领星的仓库列表中"),
                        )),
                        Some(w) if w.is_delete => r.problems.push(Finding::new(
                            key("warehouse", code.as_str()),
                            format!("wid {wid} ({}) is deleted in LingXing", w.name),
                            format!("wid {wid}（{}）在领星中已删除", w.name),
                        )),
                        Some(_) => {}
                    }
                }
                r.warehouses_checked = m.warehouse.len();
            }
            Err(e) => unreadable(&mut r, "warehouse", "warehouse list", "仓库列表", &e),
        }
    }

    // mapping.shipment and mapping.carrier: the enabled logistics types of every provider type.
    if !m.shipment.is_empty() || !m.carrier.is_empty() {
        let mut types: Vec<lingxing::LogisticsType> = Vec::new();
        let mut failed = None;
        // 0 API, 1 custom, 2 overseas warehouse, 4 platform logistics.
        for provider_type in [0u8, 1, 2, 4] {
            match lx.used_logistics_types(provider_type).await {
                Ok(t) => types.extend(t),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            Some(e) => {
                if !m.shipment.is_empty() {
                    unreadable(&mut r, "shipment", "logistics types", "物流方式", &e);
                }
                if !m.carrier.is_empty() {
                    unreadable(&mut r, "carrier", "logistics types", "物流方式", &e);
                }
            }
            None => {
                let ids: BTreeMap<&str, &lingxing::LogisticsType> =
                    types.iter().map(|t| (t.type_id.as_str(), t)).collect();
                for (k, id) in &m.shipment {
                    match ids.get(id.as_str()) {
                        None => r.problems.push(Finding::new(
                            key("shipment", k.as_str()),
                            format!(
                                "logistics type {id} not among LingXing's enabled logistics types"
                            ),
                            format!("物流方式 {id} 不在领星已启用的物流方式中"),
                        )),
                        Some(t) if !t.is_used => r.problems.push(Finding::new(
                            key("shipment", k.as_str()),
                            format!("logistics type {id} ({}) is disabled in LingXing", t.name),
                            format!("物流方式 {id}（{}）在领星中已停用", t.name),
                        )),
                        Some(_) => {}
                    }
                }
                r.shipments_checked = m.shipment.len();
                let names: BTreeSet<String> = types
                    .iter()
                    .flat_map(|t| [&t.logistics_provider_name, &t.name])
                    .map(|n| n.trim().to_lowercase())
                    .filter(|n| !n.is_empty())
                    .collect();
                for (level, carrier) in &m.carrier {
                    if !names.contains(&carrier.as_str().trim().to_lowercase()) {
                        r.problems.push(Finding::new(
                            key("carrier", level.as_str()),
                            format!("carrier \"{carrier}\" is not a logistics provider or type LingXing knows"),
                            format!("承运商 \"{carrier}\" 不是领星已知的物流商或物流方式"),
                        ));
                    }
                }
                r.carriers_checked = m.carrier.len();
            }
        }
    }

    // mapping.sku: the LingXing SKUs are local products (a sample of a large map).
    if !sku.is_empty() {
        let entries: Vec<(&String, &String)> = sku.iter().collect();
        let picked = sample(&entries, opts.sku_sample.max(1));
        let wanted: Vec<String> = picked
            .iter()
            .map(|(_, l)| (*l).clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match lx.products_by_skus(&wanted).await {
            Ok(products) => {
                let known: HashSet<&str> = products.iter().map(|p| p.sku.as_str()).collect();
                for (d, l) in &picked {
                    if !known.contains(l.as_str()) {
                        r.problems.push(Finding::new(
                            key("sku", d),
                            format!("SKU {l} not in LingXing's product list"),
                            format!("SKU {l} 不在领星的产品列表中"),
                        ));
                    }
                }
                r.skus_checked = picked.len();
                r.skus_total = entries.len();
                if picked.len() < entries.len() {
                    r.notes.push(Finding::new(
                        "mapping.sku",
                        format!(
                            "{} of {} entries checked (sampled, evenly spread over the map)",
                            picked.len(),
                            entries.len()
                        ),
                        format!(
                            "已检查 {} 条，共 {} 条（均匀抽样）",
                            picked.len(),
                            entries.len()
                        ),
                    ));
                }
            }
            Err(e) => unreadable(&mut r, "sku", "product list", "产品列表", &e),
        }
    }
    r
}

/// At most `n` items spread evenly over `items` (all of them when there are `n` or fewer).
fn sample<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n]).collect()
}

/// Records the clock measurement of one side: the server's time against the interval of this
/// side's clock around the call; only the distance outside that interval counts.
fn skew(r: &mut OnlineReport, side: &str, name: &str, t: clock::ServerTime, opts: OnlineOptions) {
    let k = format!("clock.{side}");
    // Positive: this machine is behind the server.
    let Some(off) = t.offset() else {
        r.notes.push(Finding::new(
            k,
            format!("{name} accepted the credentials; its answer did not say its time (clock not checked)"),
            format!("{name} 接受了凭据；其应答未给出时间（未检查时钟）"),
        ));
        return;
    };
    // The server's clock has whole seconds: a second of that is not skew.
    let secs = off.num_seconds();
    let shown = |zh: bool| match (secs.signum(), zh) {
        (1, false) => format!("{} s behind {name}'s", secs.abs()),
        (-1, false) => format!("{} s ahead of {name}'s", secs.abs()),
        (1, true) => format!("比 {name} 慢 {} 秒", secs.abs()),
        (-1, true) => format!("比 {name} 快 {} 秒", secs.abs()),
        (_, false) => format!("in step with {name}'s"),
        (_, true) => format!("与 {name} 一致"),
    };
    if off.abs() > opts.max_skew {
        let (why, why_zh) = if side == "lingxing" {
            (
                "LingXing refuses a signature whose timestamp is 2 min old",
                "领星拒绝时间戳超过 2 分钟的签名",
            )
        } else {
            (
                "token expiry and the time windows of order reads go by it",
                "令牌有效期和订单读取的时间窗口都依赖时钟",
            )
        };
        r.problems.push(Finding::new(
            k,
            format!(
                "this machine's clock is {} (more than {} s; {why}): synchronise it (NTP)",
                shown(false),
                opts.max_skew.num_seconds()
            ),
            format!(
                "本机时钟{}（超过 {} 秒；{why_zh}）：请同步时钟（NTP）",
                shown(true),
                opts.max_skew.num_seconds()
            ),
        ));
    } else {
        r.notes.push(Finding::new(
            k,
            format!(
                "{name} accepted the credentials; this machine's clock is {}",
                shown(false)
            ),
            format!("{name} 接受了凭据；本机时钟{}", shown(true)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_spreads_and_keeps_small_maps() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(sample(&v, 20), v);
        assert_eq!(sample(&v, 5), vec![0, 2, 4, 6, 8]);
        let big: Vec<u32> = (0..1000).collect();
        let s = sample(&big, 200);
        assert_eq!(s.len(), 200);
        assert_eq!(s[199], 995);
    }

    #[test]
    fn skew_counts_only_outside_the_call() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let opts = OnlineOptions::default();
        let mut r = OnlineReport::default();
        skew(
            &mut r,
            "dsco",
            "DSCO",
            clock::ServerTime {
                before: t0,
                server: Some(t0 + TimeDelta::seconds(2)),
                after: t0 + TimeDelta::seconds(5),
            },
            opts,
        );
        assert!(r.ok());
        assert!(
            r.notes[0].en.contains("in step with DSCO's"),
            "{:?}",
            r.notes
        );
        skew(
            &mut r,
            "lingxing",
            "LingXing",
            clock::ServerTime {
                before: t0,
                server: Some(t0 + TimeDelta::seconds(75)),
                after: t0 + TimeDelta::seconds(5),
            },
            opts,
        );
        assert_eq!(r.problems.len(), 1);
        let line = r.problems[0].line(false);
        assert!(
            line.starts_with("clock.lingxing: this machine's clock is 70 s behind LingXing's"),
            "{line}"
        );
        skew(
            &mut r,
            "dsco",
            "DSCO",
            clock::ServerTime {
                before: t0,
                server: Some(t0 - TimeDelta::seconds(90)),
                after: t0,
            },
            opts,
        );
        assert!(
            r.problems[1].en.contains("90 s ahead of DSCO's"),
            "{:?}",
            r.problems[1]
        );
    }
}
