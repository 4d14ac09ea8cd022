//! Seed data: what the world starts with, and the default world from `crate::defaults`.

use serde::{Deserialize, Serialize};

use crate::defaults;

/// Seed data: what the world starts with. Every list defaults to the shared default world.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SeedWorld {
    pub stores: Vec<SeedStore>,
    pub warehouses: Vec<SeedWarehouse>,
    pub logistics_types: Vec<SeedLogisticsType>,
    pub products: Vec<SeedProduct>,
    pub pairs: Vec<SeedPair>,
    pub inventory: Vec<SeedInventory>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedStore {
    pub store_id: String,
    pub sid: u64,
    pub store_name: String,
    #[serde(default = "default_platform")]
    pub platform_code: u32,
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_platform() -> u32 {
    defaults::PLATFORM_CODE
}
fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedWarehouse {
    pub wid: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLogisticsType {
    pub type_id: u64,
    pub name: String,
    pub code: String,
    pub provider_name: String,
    /// Carrier name reported as `actual_carrier`.
    pub carrier: String,
    pub tracking_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    pub sku: String,
    pub name: String,
    /// Components (sku, quantity) when this SKU is a bundle.
    #[serde(default)]
    pub bundle: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPair {
    pub store_id: String,
    pub msku: String,
    pub sku: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedInventory {
    pub wid: u64,
    pub sku: String,
    #[serde(default = "zero_seller")]
    pub seller_id: String,
    pub valid: i64,
}

fn zero_seller() -> String {
    "0".into()
}

/// The default world, from the shared `defaults` module plus one bundle SKU.
pub fn default_seed() -> SeedWorld {
    let stores = defaults::RETAILERS
        .iter()
        .map(|r| SeedStore {
            store_id: r.lingxing_store_id.into(),
            sid: r.lingxing_sid,
            store_name: r.lingxing_store_name.into(),
            platform_code: defaults::PLATFORM_CODE,
            currency: "USD".into(),
        })
        .collect();
    let warehouses = defaults::WAREHOUSES
        .iter()
        .map(|w| SeedWarehouse {
            wid: w.wid,
            name: w.name.into(),
        })
        .collect();
    let mut logistics_types = Vec::new();
    for w in defaults::WAREHOUSES {
        for s in defaults::SERVICE_LEVELS {
            if let Some(id) = defaults::logistics_type_id(w.dsco_code, s.code) {
                logistics_types.push(SeedLogisticsType {
                    type_id: id,
                    name: format!("{} {} ({})", s.carrier, s.method, w.dsco_code),
                    code: s.code.into(),
                    provider_name: s.carrier.into(),
                    carrier: s.carrier.into(),
                    tracking_prefix: s.tracking_prefix.into(),
                });
            }
        }
    }
    let mut products: Vec<SeedProduct> = defaults::PRODUCTS
        .iter()
        .map(|p| SeedProduct {
            sku: p.lingxing_sku.into(),
            name: p.title.into(),
            bundle: vec![],
        })
        .collect();
    products.push(SeedProduct {
        sku: "LX-BUNDLE-01".into(),
        name: "Mug and Napkin Set".into(),
        bundle: vec![("LX-1001".into(), 2), ("LX-1002".into(), 1)],
    });
    let mut pairs = Vec::new();
    for r in defaults::RETAILERS {
        for p in defaults::PRODUCTS.iter().filter(|p| p.paired) {
            pairs.push(SeedPair {
                store_id: r.lingxing_store_id.into(),
                msku: p.dsco_sku.into(),
                sku: p.lingxing_sku.into(),
            });
        }
        pairs.push(SeedPair {
            store_id: r.lingxing_store_id.into(),
            msku: "SKU-BUNDLE-01".into(),
            sku: "LX-BUNDLE-01".into(),
        });
    }
    let mut inventory = Vec::new();
    for (wi, w) in defaults::WAREHOUSES.iter().enumerate() {
        for (pi, p) in defaults::PRODUCTS.iter().enumerate() {
            inventory.push(SeedInventory {
                wid: w.wid,
                sku: p.lingxing_sku.into(),
                seller_id: "0".into(),
                valid: 40 + ((pi * 37 + wi * 11) % 160) as i64,
            });
        }
    }
    // One SKU stocked under a store as well, so one (wid, sku) has two rows to add up.
    inventory.push(SeedInventory {
        wid: defaults::WAREHOUSES[0].wid,
        sku: defaults::PRODUCTS[0].lingxing_sku.into(),
        seller_id: defaults::RETAILERS[0].lingxing_sid.to_string(),
        valid: 5,
    });
    SeedWorld {
        stores,
        warehouses,
        logistics_types,
        products,
        pairs,
        inventory,
    }
}
