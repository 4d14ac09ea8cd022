//! Request signing, §3 of the reference.
//!
//! The canonical string is `k=v&…` over the three public parameters (`access_token`, `app_key`,
//! `timestamp`), any query business parameters and the top-level keys of the JSON body, sorted by
//! byte order; empty-string values are skipped, `null` takes part as `null` (the documented rule),
//! booleans are `true`/`false`, arrays and objects are compact JSON. Then MD5 → upper-case hex →
//! AES-128-ECB/PKCS7 keyed by the appId → standard base64. The caller URL-encodes it once.
//!
//! The body the client sends is built by [`normalize_body`]: keys sorted at every depth (serde_json
//! without `preserve_order` keeps objects in a `BTreeMap`), no nulls, no empty strings, strings
//! trimmed. Sending exactly the signed text satisfies every server hypothesis (nested keys sorted or
//! taken as received).

use aes::Aes128;
use aes::cipher::{BlockModeEncrypt, KeyInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use serde_json::{Map, Value};

/// Length the appId must have: it is the AES-128 key.
pub const APP_ID_LEN: usize = 16;

/// The value text of one parameter in the canonical string, or `None` when it does not take part
/// (an empty string).
pub fn canonical_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => Some(v.to_string()),
    }
}

/// The canonical string of the public parameters plus the top-level body entries.
/// `params` holds the public (and any query business) parameters as text.
pub fn canonical_string(params: &[(&str, &str)], body: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(body) = body {
        for (k, v) in body {
            if let Some(text) = canonical_value(v) {
                pairs.push((k.clone(), text));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// MD5 of the canonical string as 32 upper-case hex characters.
pub fn md5_upper(canonical: &str) -> String {
    let digest = Md5::digest(canonical.as_bytes());
    let mut s = String::with_capacity(32);
    for b in digest.iter() {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Errors of [`sign_canonical`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("appId must be {APP_ID_LEN} bytes (it is the AES-128 key), got {0}")]
    BadAppIdLength(usize),
}

/// Signs a canonical string: MD5 upper hex → AES-128-ECB/PKCS7 (key = appId) → base64.
/// The result is not URL-encoded.
pub fn sign_canonical(app_id: &str, canonical: &str) -> Result<String, SignError> {
    let key = app_id.as_bytes();
    if key.len() != APP_ID_LEN {
        return Err(SignError::BadAppIdLength(key.len()));
    }
    let md5 = md5_upper(canonical);
    // 32 bytes of hex plus one full block of PKCS7 padding.
    let mut buf = [0u8; 48];
    buf[..32].copy_from_slice(md5.as_bytes());
    let cipher = ecb::Encryptor::<Aes128>::new_from_slice(key)
        .map_err(|_| SignError::BadAppIdLength(key.len()))?;
    let ct = cipher
        .encrypt_padded::<Pkcs7>(&mut buf, 32)
        .expect("48-byte buffer fits 32 bytes plus one padding block");
    Ok(STANDARD.encode(ct))
}

/// Signs a request: public parameters plus the body's top-level entries.
pub fn sign_request(
    app_id: &str,
    access_token: &str,
    timestamp: i64,
    body: Option<&Map<String, Value>>,
) -> Result<String, SignError> {
    let ts = timestamp.to_string();
    let canonical = canonical_string(
        &[
            ("access_token", access_token),
            ("app_key", app_id),
            ("timestamp", &ts),
        ],
        body,
    );
    sign_canonical(app_id, &canonical)
}

/// The body as the client sends it: nulls and empty strings dropped at every depth, strings
/// trimmed (the Java SDK trims), keys sorted (by construction of `serde_json::Map`).
pub fn normalize_body(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| keep(normalize_body(v)).map(|v| (k, v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter_map(|v| keep(normalize_body(v)))
                .collect(),
        ),
        Value::String(s) => Value::String(s.trim().to_owned()),
        other => other,
    }
}

fn keep(v: Value) -> Option<Value> {
    match &v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        _ => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const APP: &str = "ak_TestAppId0001";
    const TOKEN: &str = "00000000-1111-2222-3333-444444444444";
    const TS: i64 = 1720429074;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn canon(b: Option<&Map<String, Value>>) -> String {
        canonical_string(
            &[
                ("access_token", TOKEN),
                ("app_key", APP),
                ("timestamp", "1720429074"),
            ],
            b,
        )
    }

    #[test]
    fn v1_public_params_only() {
        let c = canon(None);
        assert_eq!(
            c,
            "access_token=00000000-1111-2222-3333-444444444444&app_key=ak_TestAppId0001&timestamp=1720429074"
        );
        assert_eq!(md5_upper(&c), "C473A085007C473D6139087A7F547353");
        assert_eq!(
            sign_request(APP, TOKEN, TS, None).unwrap(),
            "n/kujALSi1/9PoeBIraTVLihv1mhhxqW3hIDOHuf3CE3xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v2_flat_body_zero_and_empty_string() {
        let b = body(json!({"wid":"1,578","offset":0,"length":200,"sku":""}));
        let c = canon(Some(&b));
        assert_eq!(
            c,
            "access_token=00000000-1111-2222-3333-444444444444&app_key=ak_TestAppId0001&length=200&offset=0&timestamp=1720429074&wid=1,578"
        );
        assert_eq!(md5_upper(&c), "9A166293C3CC4C5431991AFF238397C3");
        assert_eq!(
            sign_request(APP, TOKEN, TS, Some(&b)).unwrap(),
            "yNgpRHfVRZOZqISHwAsC0oqnEl9LOF4m9PyHUC/3tFE3xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v3_nested_non_ascii() {
        let text = r#"{"orders":[{"address_line1":"1 Main St","amount_currency":"USD","city":"São Paulo","items":[{"msku":"DSCO-SKU-1","quantity":2,"unit_price":19.99}],"logistics_type_id":"101","platform_order_no":"PO-10001","receiver_country_code":"US","receiver_name":"张三 O'Neil","wid":"1300"}],"platform_code":10009,"store_id":"110283406273996288"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        // The body as sent is byte-identical to the signed text.
        assert_eq!(normalize_body(v.clone()).to_string(), text);
        let b = body(v);
        let c = canon(Some(&b));
        assert_eq!(
            c,
            r#"access_token=00000000-1111-2222-3333-444444444444&app_key=ak_TestAppId0001&orders=[{"address_line1":"1 Main St","amount_currency":"USD","city":"São Paulo","items":[{"msku":"DSCO-SKU-1","quantity":2,"unit_price":19.99}],"logistics_type_id":"101","platform_order_no":"PO-10001","receiver_country_code":"US","receiver_name":"张三 O'Neil","wid":"1300"}]&platform_code=10009&store_id=110283406273996288&timestamp=1720429074"#
        );
        assert_eq!(md5_upper(&c), "E5C0C2A6B667CCD8D8844F8D3D43CD08");
        assert_eq!(
            sign_request(APP, TOKEN, TS, Some(&b)).unwrap(),
            "PPnMxuKmJoUc9ZRdluvmSQN+71AH8RfQ3fe76bYlT/o3xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v3_struct_body_signs_like_map_body() {
        #[derive(serde::Serialize)]
        struct Item {
            quantity: u32,
            msku: &'static str,
            unit_price: f64,
        }
        #[derive(serde::Serialize)]
        struct Order {
            platform_order_no: &'static str,
            receiver_country_code: &'static str,
            receiver_name: &'static str,
            city: &'static str,
            address_line1: &'static str,
            amount_currency: &'static str,
            wid: &'static str,
            logistics_type_id: &'static str,
            items: Vec<Item>,
        }
        #[derive(serde::Serialize)]
        struct Req {
            store_id: &'static str,
            platform_code: u32,
            orders: Vec<Order>,
        }
        let req = Req {
            store_id: "110283406273996288",
            platform_code: 10009,
            orders: vec![Order {
                platform_order_no: "PO-10001",
                receiver_country_code: "US",
                receiver_name: "张三 O'Neil",
                city: "São Paulo",
                address_line1: "1 Main St",
                amount_currency: "USD",
                wid: "1300",
                logistics_type_id: "101",
                items: vec![Item {
                    quantity: 2,
                    msku: "DSCO-SKU-1",
                    unit_price: 19.99,
                }],
            }],
        };
        let v = normalize_body(serde_json::to_value(&req).unwrap());
        assert_eq!(
            sign_request(APP, TOKEN, TS, v.as_object()).unwrap(),
            "PPnMxuKmJoUc9ZRdluvmSQN+71AH8RfQ3fe76bYlT/o3xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v4_list_of_strings() {
        let b = body(json!({"length":50,"offset":0,"platform_order_nos":["PO-10001","PO-10002"]}));
        let c = canon(Some(&b));
        assert_eq!(
            c,
            r#"access_token=00000000-1111-2222-3333-444444444444&app_key=ak_TestAppId0001&length=50&offset=0&platform_order_nos=["PO-10001","PO-10002"]&timestamp=1720429074"#
        );
        assert_eq!(md5_upper(&c), "D449DEBE533F1810EA791EE0A1D6B951");
        assert_eq!(
            sign_request(APP, TOKEN, TS, Some(&b)).unwrap(),
            "EyWkCnKAK28JVL4ds9C86E06T2PM+546SENs2kMagQ83xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v5_top_level_bool() {
        let b = body(
            json!({"include_delete":true,"length":50,"offset":0,"platform_order_nos":["PO-10001","PO-10002"]}),
        );
        assert!(canon(Some(&b)).contains("&include_delete=true&length=50&"));
        assert_eq!(
            sign_request(APP, TOKEN, TS, Some(&b)).unwrap(),
            "RRISffxUgwomXQmETB2U+0EU6qbLdA82KUtm3ebEQEM3xdLwpg9GveFCOIuycSfy"
        );
    }

    #[test]
    fn v6_null_takes_part_as_null() {
        let b = body(json!({"offset":0,"length":50,"sku":null}));
        assert!(canon(Some(&b)).ends_with("&length=50&offset=0&sku=null&timestamp=1720429074"));
        assert_eq!(
            sign_request(APP, TOKEN, TS, Some(&b)).unwrap(),
            "eIILtI+Zb/WRqJ1Qaic00y6LgymbRG93o+z3Ijm7qAE3xdLwpg9GveFCOIuycSfy"
        );
        // The client never sends that null, so the question does not arise on the wire.
        assert_eq!(
            normalize_body(Value::Object(b)).to_string(),
            r#"{"length":50,"offset":0}"#
        );
    }

    #[test]
    fn bad_app_id_length_is_refused() {
        assert_eq!(
            sign_request("short", TOKEN, TS, None),
            Err(SignError::BadAppIdLength(5))
        );
    }

    #[test]
    fn normalize_drops_nested_nulls_and_empties_and_trims() {
        let v = normalize_body(json!({"b":{"z":" x ","a":null,"e":""},"a":[null,"", " y"]}));
        assert_eq!(v.to_string(), r#"{"a":["y"],"b":{"z":"x"}}"#);
    }
}
