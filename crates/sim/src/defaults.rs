//! The default world both simulators start with, so that `sim dsco` and `sim lingxing` started
//! with no seed file work together (and with `examples/simulators.toml`).
//!
//! This is business data, not wire types: each simulator renders it in its own wire format.
//! Retailers map to LingXing stores, DSCO warehouse codes to LingXing `wid`s, DSCO service levels
//! (per warehouse) to LingXing logistics types, DSCO SKUs to LingXing local SKUs through pairs.

/// LingXing `platform_code` of the custom platform (自定义平台) the orders are created under.
pub const PLATFORM_CODE: u32 = 10009;

/// The DSCO supplier account the simulated orders belong to.
pub const DSCO_SUPPLIER_ID: &str = "1000067890";
pub const DSCO_SUPPLIER_NAME: &str = "Example Supplier Inc";

#[derive(Debug, Clone, Copy)]
pub struct Retailer {
    pub dsco_retailer_id: &'static str,
    pub name: &'static str,
    /// LingXing multi-platform store id (`store_id`, a 64-bit id sent as a string).
    pub lingxing_store_id: &'static str,
    /// LingXing seller id (`sid`) of the same store, used by `/erp/sc/*` endpoints (`sid_arr`).
    pub lingxing_sid: u64,
    pub lingxing_store_name: &'static str,
    /// Service level codes DSCO accepts on this retailer's shipments.
    pub allowed_service_levels: &'static [&'static str],
}

pub const RETAILERS: &[Retailer] = &[
    Retailer {
        dsco_retailer_id: "1000012345",
        name: "Acme Home",
        lingxing_store_id: "110283406273996288",
        lingxing_sid: 2001,
        lingxing_store_name: "DSCO-Acme Home",
        allowed_service_levels: &["UPCG", "FECG", "USPR"],
    },
    Retailer {
        dsco_retailer_id: "1000023456",
        name: "Bright Living",
        lingxing_store_id: "110283406273996289",
        lingxing_sid: 2002,
        lingxing_store_name: "DSCO-Bright Living",
        allowed_service_levels: &["UPCG", "FECG", "USPR"],
    },
    Retailer {
        dsco_retailer_id: "1000034567",
        name: "Cedar Outdoors",
        lingxing_store_id: "110283406273996290",
        lingxing_sid: 2003,
        lingxing_store_name: "DSCO-Cedar Outdoors",
        // Cedar does not take USPS Priority: a shipment with it fails DSCO validation.
        allowed_service_levels: &["UPCG", "FECG"],
    },
];

#[derive(Debug, Clone, Copy)]
pub struct Warehouse {
    pub dsco_code: &'static str,
    pub wid: u64,
    pub name: &'static str,
}

pub const WAREHOUSES: &[Warehouse] = &[
    Warehouse {
        dsco_code: "US-CA-01",
        wid: 1300,
        name: "US West (Ontario, CA)",
    },
    Warehouse {
        dsco_code: "US-NJ-01",
        wid: 1301,
        name: "US East (Edison, NJ)",
    },
    Warehouse {
        dsco_code: "US-TX-01",
        wid: 1302,
        name: "US South (Dallas, TX)",
    },
];

#[derive(Debug, Clone, Copy)]
pub struct ServiceLevel {
    /// DSCO `shippingServiceLevelCode`.
    pub code: &'static str,
    pub carrier: &'static str,
    pub method: &'static str,
    /// Tracking number prefix the LingXing simulator uses for this carrier.
    pub tracking_prefix: &'static str,
}

pub const SERVICE_LEVELS: &[ServiceLevel] = &[
    ServiceLevel {
        code: "UPCG",
        carrier: "UPS",
        method: "Ground",
        tracking_prefix: "1Z",
    },
    ServiceLevel {
        code: "FECG",
        carrier: "FedEx",
        method: "Ground",
        tracking_prefix: "7",
    },
    ServiceLevel {
        code: "USPR",
        carrier: "USPS",
        method: "Priority Mail",
        tracking_prefix: "94",
    },
];

/// LingXing logistics type id for a (DSCO warehouse code, service level) pair: the
/// `mapping.shipment` key is `"<warehouse code>-<service level>"`. Ids are the warehouse's
/// position × 100 + the level's position + 1: US-CA-01-UPCG → 101, US-NJ-01-FECG → 202, …
pub fn logistics_type_id(dsco_warehouse: &str, service_level: &str) -> Option<u64> {
    let w = WAREHOUSES
        .iter()
        .position(|w| w.dsco_code == dsco_warehouse)?;
    let s = SERVICE_LEVELS
        .iter()
        .position(|s| s.code == service_level)?;
    Some(((w + 1) * 100 + s + 1) as u64)
}

/// The runtime config's `mapping` (shop, warehouse, shipment) that matches this world, in the
/// predecessor's JSON shape.
pub fn mapping_json() -> serde_json::Value {
    let mut shop = serde_json::Map::new();
    for r in RETAILERS {
        shop.insert(r.dsco_retailer_id.into(), r.lingxing_store_id.into());
    }
    let mut warehouse = serde_json::Map::new();
    let mut shipment = serde_json::Map::new();
    for w in WAREHOUSES {
        warehouse.insert(w.dsco_code.into(), w.wid.to_string().into());
        for l in SERVICE_LEVELS {
            if let Some(id) = logistics_type_id(w.dsco_code, l.code) {
                shipment.insert(format!("{}-{}", w.dsco_code, l.code), id.to_string().into());
            }
        }
    }
    serde_json::json!({"shop": shop, "warehouse": warehouse, "shipment": shipment})
}

#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// DSCO `sku` (= LingXing MSKU on the pair).
    pub dsco_sku: &'static str,
    /// DSCO `partnerSku`.
    pub partner_sku: &'static str,
    /// DSCO `dscoItemId`.
    pub dsco_item_id: &'static str,
    /// LingXing local SKU. Equal to `dsco_sku` for products with no pair (the same-name fallback).
    pub lingxing_sku: &'static str,
    /// Whether LingXing lists a pair (msku → sku) for it in every default store.
    pub paired: bool,
    pub title: &'static str,
    /// Decimal strings: the supplier's cost, the consumer's price, the retail price.
    pub expected_cost: &'static str,
    pub consumer_price: &'static str,
    pub retail_price: &'static str,
}

macro_rules! product {
    ($d:literal, $item:literal, $lx:literal, $paired:literal, $title:literal, $cost:literal, $price:literal, $retail:literal) => {
        Product {
            dsco_sku: $d,
            partner_sku: $d,
            dsco_item_id: $item,
            lingxing_sku: $lx,
            paired: $paired,
            title: $title,
            expected_cost: $cost,
            consumer_price: $price,
            retail_price: $retail,
        }
    };
}

pub const PRODUCTS: &[Product] = &[
    product!(
        "SKU-1001",
        "1290001001",
        "LX-1001",
        true,
        "Ceramic Mug 12oz",
        "4.20",
        "12.99",
        "14.99"
    ),
    product!(
        "SKU-1002",
        "1290001002",
        "LX-1002",
        true,
        "Linen Napkins (4)",
        "6.75",
        "18.00",
        "19.99"
    ),
    product!(
        "SKU-1003",
        "1290001003",
        "LX-1003",
        true,
        "Bamboo Cutting Board",
        "9.10",
        "24.50",
        "27.00"
    ),
    product!(
        "SKU-1004",
        "1290001004",
        "LX-1004",
        true,
        "Glass Pitcher 1.5L",
        "7.70",
        "21.00",
        "22.00"
    ),
    product!(
        "SKU-1005",
        "1290001005",
        "LX-1005",
        true,
        "Throw Pillow Cover",
        "3.35",
        "9.99",
        "11.99"
    ),
    product!(
        "SKU-1006",
        "1290001006",
        "LX-1006",
        true,
        "Wool Blanket",
        "22.40",
        "59.00",
        "65.00"
    ),
    product!(
        "SKU-1007",
        "1290001007",
        "LX-1007",
        true,
        "Camping Lantern",
        "11.05",
        "29.95",
        "34.95"
    ),
    product!(
        "SKU-1008",
        "1290001008",
        "LX-1008",
        true,
        "Trail Water Bottle",
        "5.60",
        "15.49",
        "16.99"
    ),
    product!(
        "SKU-1009",
        "1290001009",
        "LX-1009",
        true,
        "Folding Stool",
        "13.80",
        "36.00",
        "39.00"
    ),
    product!(
        "SKU-1010",
        "1290001010",
        "LX-1010",
        true,
        "Picnic Blanket",
        "10.25",
        "27.50",
        "29.50"
    ),
    product!(
        "SKU-2001",
        "1290002001",
        "SKU-2001",
        false,
        "Scented Candle",
        "2.90",
        "8.99",
        "9.99"
    ),
    product!(
        "SKU-2002",
        "1290002002",
        "SKU-2002",
        false,
        "Desk Organizer",
        "8.15",
        "22.00",
        "24.00"
    ),
];
