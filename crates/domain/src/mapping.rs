//! Mapping directions. Every `mapping.*` is keyed DSCO → LingXing; the reverse maps (LingXing →
//! DSCO) are built here, and an ambiguous reverse (two DSCO keys on one LingXing value) is
//! reported by the lookups that need it, naming the keys, instead of guessing.

use std::collections::BTreeMap;

/// `mapping.sku` both ways. A SKU with no entry passes through under the same name (the business
/// document's fallback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuMaps {
    forward: BTreeMap<String, String>,
    reverse: BTreeMap<String, Vec<String>>,
}

impl SkuMaps {
    pub fn new(forward: BTreeMap<String, String>) -> SkuMaps {
        let mut reverse: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (d, l) in &forward {
            reverse.entry(l.clone()).or_default().push(d.clone());
        }
        SkuMaps { forward, reverse }
    }

    /// The LingXing SKU of a DSCO SKU, when mapped.
    pub fn to_lingxing(&self, dsco: &str) -> Option<&str> {
        self.forward.get(dsco).map(String::as_str)
    }

    /// The DSCO SKU of a LingXing SKU: the mapped one, the same name when unmapped, or an error
    /// naming the DSCO keys that share it.
    pub fn to_dsco<'a>(&'a self, lingxing: &'a str) -> Result<&'a str, String> {
        match self.reverse.get(lingxing).map(Vec::as_slice) {
            None => Ok(lingxing),
            Some([one]) => Ok(one),
            Some(many) => Err(format!(
                "mapping.sku {} all map to {lingxing}",
                many.join(", ")
            )),
        }
    }

    /// Every ambiguous reverse: LingXing value → the DSCO keys on it.
    pub fn ambiguous(&self) -> BTreeMap<&str, &[String]> {
        self.reverse
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect()
    }
}

/// The reverse of a map of ids (for `mapping.warehouse`: wid → DSCO code), as text, or the
/// ambiguities.
pub fn reverse_strict<K: AsRef<str>, V: AsRef<str>>(
    map: &BTreeMap<K, V>,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (k, v) in map {
        let (k, v) = (k.as_ref(), v.as_ref());
        if let Some(prev) = out.insert(v.to_owned(), k.to_owned()) {
            clashes.push(format!("mapping.{name} {prev} and {k} both map to {v}"));
        }
    }
    if clashes.is_empty() {
        Ok(out)
    } else {
        Err(clashes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn sku_reverse_and_fallback() {
        let s = SkuMaps::new(m(&[
            ("SKU-1", "LX-1"),
            ("SKU-2", "LX-2"),
            ("SKU-2B", "LX-2"),
        ]));
        assert_eq!(s.to_lingxing("SKU-1"), Some("LX-1"));
        assert_eq!(s.to_lingxing("SKU-9"), None);
        assert_eq!(s.to_dsco("LX-1"), Ok("SKU-1"));
        assert_eq!(s.to_dsco("SKU-9"), Ok("SKU-9"), "same-name fallback");
        let e = s.to_dsco("LX-2").unwrap_err();
        assert!(e.contains("SKU-2") && e.contains("SKU-2B"), "{e}");
        assert_eq!(s.ambiguous().len(), 1);
    }

    #[test]
    fn warehouse_reverse_is_strict() {
        assert_eq!(
            reverse_strict(&m(&[("US-CA-01", "1300")]), "warehouse").unwrap()["1300"],
            "US-CA-01"
        );
        let e = reverse_strict(
            &m(&[("US-CA-01", "1300"), ("US-CA-02", "1300")]),
            "warehouse",
        )
        .unwrap_err();
        assert!(e.contains("US-CA-01 and US-CA-02 both map to 1300"), "{e}");
    }
}
