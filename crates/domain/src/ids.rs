//! Identifier newtypes. Each can only be built non-blank, so a blank id never reaches a far side or
//! the store. Most are trimmed; a PO number is kept exactly as DSCO sent it (every DSCO call names
//! the order by it, so an altered PO would name an order that does not exist).

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must not be empty")]
pub struct EmptyId {
    pub what: &'static str,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        id_type!($(#[$doc])* $name, $what, str::trim);
    };
    ($(#[$doc:meta])* $name:ident, $what:literal, $keep:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl AsRef<str>) -> Result<Self, EmptyId> {
                let raw = s.as_ref();
                if raw.trim().is_empty() {
                    Err(EmptyId { what: $what })
                } else {
                    let keep: fn(&str) -> &str = $keep;
                    Ok(Self(keep(raw).to_owned()))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        /// Maps keyed by the id are looked up by text (`map.get("1000012345")`).
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = EmptyId;
            fn try_from(s: String) -> Result<Self, EmptyId> {
                Self::parse(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

id_type!(
    /// DSCO `poNumber`, exactly as DSCO sent it (never trimmed); also LingXing's
    /// `platform_order_no`, the idempotency key of a push (a PO LingXing cannot take as it is is
    /// held at the push, see `rules::po_defect`).
    PoNumber,
    "poNumber",
    |s| s
);
id_type!(
    /// A SKU as DSCO knows it (`lineItems.sku`, LingXing's MSKU).
    DscoSku,
    "DSCO SKU"
);
id_type!(
    /// A LingXing local SKU.
    LingxingSku,
    "LingXing SKU"
);
id_type!(
    /// A LingXing multi-platform store id (`store_id`).
    StoreId,
    "LingXing store_id"
);
id_type!(
    /// A LingXing warehouse id (`wid`).
    Wid,
    "LingXing wid"
);
id_type!(
    /// DSCO `dscoRetailerId`.
    RetailerId,
    "dscoRetailerId"
);
id_type!(
    /// A DSCO warehouse code (`shipWarehouseCode` / `requestedWarehouseCode`).
    WarehouseCode,
    "DSCO warehouse code"
);
id_type!(
    /// A DSCO `shippingServiceLevelCode` (the key of `mapping.carrier`).
    ServiceLevel,
    "DSCO shippingServiceLevelCode"
);
id_type!(
    /// The key of `mapping.shipment`: `"<DSCO warehouse code>-<shippingServiceLevelCode>"`.
    ShipmentKey,
    "mapping.shipment key"
);
id_type!(
    /// A LingXing logistics type id (`logistics_type_id`).
    LogisticsTypeId,
    "LingXing logistics_type_id"
);
id_type!(
    /// The carrier name sent on DSCO shipments (a value of `mapping.carrier`).
    CarrierName,
    "carrier name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_never_empty() {
        assert_eq!(Wid::parse("  1300 ").unwrap().as_str(), "1300");
        // A PO is never altered: spaces DSCO sent are part of it.
        assert_eq!(PoNumber::parse("  PO-1 ").unwrap().as_str(), "  PO-1 ");
        let p: PoNumber = serde_json::from_str("\" PO-1\"").unwrap();
        assert_eq!(p.as_str(), " PO-1");
        assert_eq!(
            PoNumber::parse("   ").unwrap_err().to_string(),
            "poNumber must not be empty"
        );
        let j: Result<Wid, _> = serde_json::from_str("\"\"");
        assert!(j.is_err());
        let w: Wid = serde_json::from_str("\"1300\"").unwrap();
        assert_eq!(w.to_string(), "1300");
    }
}
