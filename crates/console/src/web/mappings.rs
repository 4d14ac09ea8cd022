//! Mappings `/mappings`: the runtime config's maps, `mapping.sku`, the last pair pull's
//! conflicts and who changed them.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use domain::JobName;
use serde::Deserialize;

use super::audit::{AuditView, audit_view};
use super::config::ConfigMeta;
use super::fmt::{some, time};
use super::layout::{Cx, Layout, render, store_error};

struct Kv {
    k: String,
    v: String,
}

struct MapView {
    name: &'static str,
    about: String,
    from: String,
    to: String,
    rows: Vec<Kv>,
}

struct SkuRow {
    dsco: String,
    lingxing: String,
    source: &'static str,
}

struct ConflictView {
    kind: &'static str,
    store: String,
    msku: String,
    sku: String,
    detail: String,
    /// The form of a `manual` mapping.sku entry for this MSKU.
    set_href: String,
}

#[derive(Template)]
#[template(path = "mappings.html")]
struct MappingsPage {
    l: Layout,
    config: Option<ConfigMeta>,
    maps: Vec<MapView>,
    sku_version: i64,
    sku_total: usize,
    sku_query: String,
    sku_rows: Vec<SkuRow>,
    sku_more: usize,
    conflicts: Vec<ConflictView>,
    audit: Vec<AuditView>,
    mapping_names: &'static [&'static str],
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MappingsQuery {
    sku: String,
}

const SKU_ROWS: usize = 300;

/// A mapping's entries as text, in key order.
fn text_rows<K: AsRef<str>, V: AsRef<str>>(
    m: &std::collections::BTreeMap<K, V>,
) -> Vec<(String, String)> {
    m.iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect()
}

/// The runtime config's maps, `mapping.sku` with its sources, the last pair pull's conflicts and
/// who changed any of them.
pub(super) async fn mappings(cx: Cx, Query(q): Query<MappingsQuery>) -> Response {
    let l = cx.layout("mappings", "mappings.title");
    let (tr, tz) = (cx.t, cx.tz);
    let read = async {
        let last_pairs = cx.store.list_runs(Some(JobName::PullSkuPair), 1).await?;
        let conflicts = match last_pairs.first() {
            Some(r) => cx.store.sku_conflicts(&r.id).await?,
            None => Vec::new(),
        };
        Ok::<_, store::StoreError>((
            cx.store.runtime_config().await?,
            cx.store.sku_map().await?,
            conflicts,
            cx.store.audit_log(500).await?,
        ))
    };
    let (config, sku, conflicts, audit) = match read.await {
        Ok(x) => x,
        Err(e) => return store_error(l, e),
    };
    let m = config
        .as_ref()
        .map(|c| c.config.mapping.clone())
        .unwrap_or_default();
    let map = |name: &'static str, rows: &[(String, String)]| MapView {
        name,
        about: tr.t(&format!("mappings.{name}")).to_owned(),
        from: tr.t("mappings.from").to_owned(),
        to: tr.t("mappings.to").to_owned(),
        rows: rows
            .iter()
            .map(|(k, v)| Kv {
                k: k.clone(),
                v: v.clone(),
            })
            .collect(),
    };
    let wanted = some(&q.sku);
    let matching: Vec<&store::SkuEntry> = sku
        .entries
        .iter()
        .filter(|e| {
            wanted
                .as_deref()
                .is_none_or(|w| e.dsco_sku.contains(w) || e.lingxing_sku.contains(w))
        })
        .collect();
    render(MappingsPage {
        config: config.as_ref().map(|c| ConfigMeta {
            version: c.version,
            actor: c.actor.clone(),
            at: time(c.created_at, tz),
        }),
        maps: vec![
            map("shop", &text_rows(&m.shop)),
            map("warehouse", &text_rows(&m.warehouse)),
            map("shipment", &text_rows(&m.shipment)),
            map("carrier", &text_rows(&m.carrier)),
        ],
        sku_version: sku.version,
        sku_total: sku.entries.len(),
        sku_query: q.sku.clone(),
        sku_more: matching.len().saturating_sub(SKU_ROWS),
        sku_rows: matching
            .iter()
            .take(SKU_ROWS)
            .map(|e| SkuRow {
                dsco: e.dsco_sku.clone(),
                lingxing: e.lingxing_sku.clone(),
                source: e.source.as_str(),
            })
            .collect(),
        conflicts: conflicts
            .iter()
            .map(|c| ConflictView {
                kind: c.kind.as_str(),
                store: c.store_id.clone(),
                msku: c.msku.clone(),
                sku: c.sku.clone(),
                detail: c.detail.clone(),
                set_href: format!(
                    "/mappings/set?{}",
                    super::fmt::query_string(&[("mapping", "sku"), ("key", &c.msku)])
                ),
            })
            .collect(),
        audit: audit
            .iter()
            .filter(|a| {
                a.entry.action.starts_with("config.")
                    || a.entry.action.starts_with("sku.")
                    || a.entry.action.starts_with("mapping.")
            })
            .take(30)
            .map(|a| audit_view(a, tz))
            .collect(),
        mapping_names: &domain::ops::MAPPINGS,
        l,
    })
}
