//! Order specs (admin API, seed files) and the generator, built on `sim::defaults` so the
//! LingXing simulator's default world knows every retailer, warehouse, service level and SKU.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::model::Address;
use crate::defaults;

/// An order to create. Everything but the lines is optional and filled from the defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderSpec {
    pub po_number: Option<String>,
    pub retailer_id: Option<String>,
    /// DSCO warehouse code (`requestedWarehouseCode`).
    pub warehouse_code: Option<String>,
    pub service_level: Option<String>,
    pub test_flag: bool,
    pub consumer_order_number: Option<String>,
    pub currency_code: Option<String>,
    pub ship_to: Option<Address>,
    /// When DSCO created it; default: now.
    pub created_at: Option<DateTime<Utc>>,
    pub lines: Vec<LineSpec>,
    /// Where the order already is when it first appears (DSCO may hand out orders that were
    /// acknowledged by an export, or already shipped or cancelled in the portal).
    pub initial: InitialState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialState {
    #[default]
    Created,
    /// `shipment_pending` / `acknowledged`.
    Acknowledged,
    /// Every line shipped under one tracking number: `shipped` / `completed`.
    Shipped,
    /// Every line cancelled: `cancelled` / `completed`.
    Cancelled,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineSpec {
    /// DSCO `sku`. Empty: the line carries neither `sku` nor `partnerSku` (unless
    /// [`LineAmend`] adds one). Real DSCO lines may lack `sku` when the retailer identifies the
    /// item by `partnerSku` or `upc` only; the document requires none of them on a line.
    pub sku: String,
    pub quantity: u32,
    /// Overrides the product's cost; with `price_missing` no price is sent at all.
    pub expected_cost: Option<Decimal>,
    pub price_missing: bool,
}

/// Changes to one line of an existing order (admin), for line shapes [`LineSpec`] does not
/// make. Fields left `None` keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineAmend {
    /// Sets `partnerSku` (a line known by `partnerSku` only has an empty [`LineSpec::sku`]).
    pub partner_sku: Option<String>,
    /// Sets `upc`.
    pub upc: Option<String>,
    /// Sets `consumerPriceWithTax`.
    pub consumer_price_with_tax: Option<Decimal>,
    /// Removes `expectedCost`, `consumerPrice` and `retailPrice` (before the field above is
    /// applied): with only `consumerPriceWithTax` left, a line can be pushed (the push price
    /// list starts with it) but not invoiced (the invoice list leaves it out).
    pub drop_prices: bool,
}

/// Deliberate defects the demo needs, one per storyline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gap {
    /// A retailer id no mapping knows.
    UnknownRetailer,
    /// A warehouse code no mapping knows.
    UnknownWarehouse,
    /// The ship-to address lacks its postal code.
    MissingAddressField,
    /// A line without `expectedCost`/`consumerPrice`/`retailPrice`.
    MissingPrice,
    /// A line with quantity 2 or more.
    QuantityAboveOne,
    /// Two or three lines.
    SeveralLines,
    /// A service level the retailer does not accept on shipments (Cedar Outdoors + USPS).
    DisallowedServiceLevel,
    /// A test order (`testFlag: true`).
    TestOrder,
}

pub const UNKNOWN_RETAILER_ID: &str = "1000099999";
pub const UNKNOWN_WAREHOUSE_CODE: &str = "US-ZZ-99";

const NAMES: &[&str] = &[
    "Jane Doe",
    "John Roe",
    "Maria Garcia",
    "Wei Chen",
    "Aisha Khan",
    "Tom Baker",
];
const PLACES: &[(&str, &str, &str)] = &[
    ("Springfield", "NJ", "07081"),
    ("Austin", "TX", "78701"),
    ("Portland", "OR", "97201"),
    ("Columbus", "OH", "43004"),
    ("Denver", "CO", "80202"),
];

/// A deterministic generator: the same seed gives the same orders.
pub struct Generator {
    rng: StdRng,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A realistic, complete order (one line, quantity 1), plus the requested gaps.
    pub fn order(&mut self, gaps: &[Gap]) -> OrderSpec {
        let rng = &mut self.rng;
        let has = |g: Gap| gaps.contains(&g);
        let retailer = defaults::RETAILERS[rng.random_range(0..defaults::RETAILERS.len())];
        let retailer = if has(Gap::DisallowedServiceLevel) {
            // Cedar Outdoors refuses USPS Priority.
            *defaults::RETAILERS
                .iter()
                .find(|r| !r.allowed_service_levels.contains(&"USPR"))
                .unwrap_or(&retailer)
        } else {
            retailer
        };
        let warehouse = defaults::WAREHOUSES[rng.random_range(0..defaults::WAREHOUSES.len())];
        let level = if has(Gap::DisallowedServiceLevel) {
            "USPR"
        } else {
            retailer.allowed_service_levels
                [rng.random_range(0..retailer.allowed_service_levels.len())]
        };
        let (city, region, postal) = PLACES[rng.random_range(0..PLACES.len())];
        let n_lines = if has(Gap::SeveralLines) {
            rng.random_range(2..=3)
        } else {
            1
        };
        let mut skus: Vec<&defaults::Product> = Vec::new();
        while skus.len() < n_lines {
            let p = &defaults::PRODUCTS[rng.random_range(0..defaults::PRODUCTS.len())];
            if !skus.iter().any(|s| s.dsco_sku == p.dsco_sku) {
                skus.push(p);
            }
        }
        let lines = skus
            .iter()
            .enumerate()
            .map(|(i, p)| LineSpec {
                sku: p.dsco_sku.to_string(),
                quantity: if has(Gap::QuantityAboveOne) && i == 0 {
                    rng.random_range(2..=4)
                } else {
                    1
                },
                expected_cost: None,
                price_missing: has(Gap::MissingPrice) && i == 0,
            })
            .collect();
        let street = format!(
            "{} {} St",
            rng.random_range(10..9999),
            ["Oak", "Main", "Pine", "Elm"][rng.random_range(0..4)]
        );
        OrderSpec {
            po_number: None,
            retailer_id: Some(if has(Gap::UnknownRetailer) {
                UNKNOWN_RETAILER_ID.into()
            } else {
                retailer.dsco_retailer_id.into()
            }),
            warehouse_code: Some(if has(Gap::UnknownWarehouse) {
                UNKNOWN_WAREHOUSE_CODE.into()
            } else {
                warehouse.dsco_code.into()
            }),
            service_level: Some(level.into()),
            test_flag: has(Gap::TestOrder),
            consumer_order_number: Some(format!("C-{:08}", rng.random_range(0..100_000_000u32))),
            currency_code: Some("USD".into()),
            ship_to: Some(Address {
                name: Some(NAMES[rng.random_range(0..NAMES.len())].into()),
                address: if rng.random_bool(0.3) {
                    vec![street, format!("Apt {}", rng.random_range(1..400))]
                } else {
                    vec![street]
                },
                city: Some(city.into()),
                region: Some(region.into()),
                postal: (!has(Gap::MissingAddressField)).then(|| postal.into()),
                country: Some("US".into()),
                phone: Some(format!("1555555{:04}", rng.random_range(0..10_000))),
            }),
            created_at: None,
            lines,
            initial: InitialState::Created,
        }
    }
}

/// The product behind a DSCO SKU, if the default world has it.
pub(crate) fn product(sku: &str) -> Option<&'static defaults::Product> {
    defaults::PRODUCTS.iter().find(|p| p.dsco_sku == sku)
}
