//! The simulator's signature check, written independently of the client's signer.
//!
//! The real server's handling of nested values is unknown, so a signature is accepted if it
//! matches either style: nested keys sorted (the official Python SDK) or as received in the body
//! (ipass, mwe). A `sign` that arrives URL-encoded twice (lingxingapi) is accepted too.

use aes::Aes128;
use aes::cipher::{BlockModeEncrypt, KeyInit, block_padding::Pkcs7};
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::Value;

/// Signs `plain` the documented way: MD5 upper hex, AES-128-ECB/PKCS5 keyed by the appId, base64.
pub fn sign_plain(app_id: &str, plain: &str) -> Option<String> {
    let key = app_id.as_bytes();
    if key.len() != 16 {
        return None;
    }
    let hex: String = Md5::digest(plain.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let mut buf = [0u8; 48];
    buf[..32].copy_from_slice(hex.as_bytes());
    let enc = ecb::Encryptor::<Aes128>::new_from_slice(key).ok()?;
    let out = enc.encrypt_padded::<Pkcs7>(&mut buf, 32).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Top-level members of a JSON object in the order received, each with its raw text.
fn raw_members(body: &str) -> Option<Vec<(String, String)>> {
    let b = body.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b'}' => return Some(out),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = scan_string(b, i)?;
        let key: String = serde_json::from_str(&body[i..key_end]).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i)? != &b':' {
            return None;
        }
        i = skip_ws(b, i + 1);
        let start = i;
        i = scan_value(b, i)?;
        out.push((key, body[start..i].to_owned()));
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index after the closing quote.
fn scan_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn scan_value(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => scan_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0i32;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = scan_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Removes insignificant whitespace from JSON text, keeping string contents as they are.
fn compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn plain_text(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The candidate canonical strings of a request: nested values sorted, and as received.
pub fn canonical_candidates(public: &[(&str, &str)], body: &[u8]) -> Option<Vec<String>> {
    let base: Vec<(String, String)> = public
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let text = std::str::from_utf8(body).ok()?;
    if text.trim().is_empty() {
        return Some(vec![plain_text(base)]);
    }
    let parsed: Value = serde_json::from_str(text).ok()?;
    let obj = parsed.as_object()?;
    let mut sorted = base.clone();
    for (k, v) in obj {
        let t = match v {
            Value::Array(_) | Value::Object(_) => Some(v.to_string()),
            other => scalar_text(other),
        };
        if let Some(t) = t {
            sorted.push((k.clone(), t));
        }
    }
    let mut received = base;
    for (k, raw) in raw_members(text)? {
        let v: Value = serde_json::from_str(&raw).ok()?;
        let t = match v {
            Value::Array(_) | Value::Object(_) => Some(compact(&raw)),
            other => scalar_text(&other),
        };
        if let Some(t) = t {
            received.push((k, t));
        }
    }
    let a = plain_text(sorted);
    let b = plain_text(received);
    Some(if a == b { vec![a] } else { vec![a, b] })
}

/// Whether `sign` (already URL-decoded once) is a valid signature of the request.
pub fn verify(app_id: &str, access_token: &str, timestamp: &str, sign: &str, body: &[u8]) -> bool {
    let sign = if sign.contains('%') {
        // Encoded twice by the client: decode once more.
        percent_encoding::percent_decode_str(sign)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        sign.to_owned()
    };
    let public = [
        ("access_token", access_token),
        ("app_key", app_id),
        ("timestamp", timestamp),
    ];
    let Some(cands) = canonical_candidates(&public, body) else {
        return false;
    };
    cands
        .iter()
        .any(|c| sign_plain(app_id, c).is_some_and(|s| s == sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_v1_and_v4() {
        assert!(verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429074",
            "n/kujALSi1/9PoeBIraTVLihv1mhhxqW3hIDOHuf3CE3xdLwpg9GveFCOIuycSfy",
            b""
        ));
        assert!(verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429074",
            "EyWkCnKAK28JVL4ds9C86E06T2PM+546SENs2kMagQ83xdLwpg9GveFCOIuycSfy",
            br#"{"length":50,"offset":0,"platform_order_nos":["PO-10001","PO-10002"]}"#
        ));
    }

    #[test]
    fn received_order_style_is_accepted() {
        // The ipass style of §3.5: nested keys in struct order, signed as sent.
        let body = r#"{"platform_code":10009,"store_id":"110283406273996288","orders":[{"platform_order_no":"PO-10001","receiver_country_code":"US","receiver_name":"张三 O'Neil","city":"São Paulo","address_line1":"1 Main St","amount_currency":"USD","wid":"1300","logistics_type_id":"101","items":[{"msku":"DSCO-SKU-1","quantity":2,"unit_price":19.99}]}]}"#;
        assert!(verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429074",
            "Ajmtb7Ww0z/59QXBjsbBqqdyMCs/Bqe4AuRYpt0V2Ww3xdLwpg9GveFCOIuycSfy",
            body.as_bytes()
        ));
        // And the same body signed sorted (v3).
        assert!(verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429074",
            "PPnMxuKmJoUc9ZRdluvmSQN+71AH8RfQ3fe76bYlT/o3xdLwpg9GveFCOIuycSfy",
            body.as_bytes()
        ));
    }

    #[test]
    fn double_encoded_sign_is_accepted_and_bad_sign_is_not() {
        assert!(verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429074",
            "n%2FkujALSi1%2F9PoeBIraTVLihv1mhhxqW3hIDOHuf3CE3xdLwpg9GveFCOIuycSfy",
            b""
        ));
        assert!(!verify(
            "ak_TestAppId0001",
            "00000000-1111-2222-3333-444444444444",
            "1720429075",
            "n/kujALSi1/9PoeBIraTVLihv1mhhxqW3hIDOHuf3CE3xdLwpg9GveFCOIuycSfy",
            b""
        ));
    }
}
