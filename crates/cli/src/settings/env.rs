//! The env overlay: `DSCO_LINGXING__<SECTION>__<KEY>[__<KEY>…]` variables written into the
//! parsed file before it is read, remembering which key each set (for messages naming the
//! variable, and so a string key takes the raw text).

use toml::{Table, Value};

use super::reader::{Cx, kind};
use super::{ENV_PREFIX, SECTIONS};

pub(super) fn has_env_prefix(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
}

/// Where an env override put a value.
pub(super) struct EnvSet {
    pub var: String,
    pub raw: String,
}

pub(super) fn apply_env(root: &mut Table, env: &[(String, String)], cx: &mut Cx) {
    for (name, raw) in env {
        if !has_env_prefix(name) {
            continue;
        }
        let segs: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
        if segs.len() < 2 || segs.iter().any(|s| s.is_empty()) {
            cx.bad(
                name.as_str(),
                format!("must name a section and a key, such as {ENV_PREFIX}STORE__URL"),
            );
            continue;
        }
        let section = segs[0].to_ascii_lowercase();
        if !SECTIONS.contains(&section.as_str()) {
            cx.bad(
                name.as_str(),
                format!(
                    "unknown section `{section}` (sections are: {})",
                    SECTIONS.join(", ")
                ),
            );
            continue;
        }
        let mut table = &mut *root;
        let mut path: Vec<String> = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            // Case-insensitive: reuse the file's spelling of an existing key (mapping keys such
            // as warehouse codes are case-sensitive), else the lower-case one.
            let key = table
                .keys()
                .find(|k| k.eq_ignore_ascii_case(seg))
                .cloned()
                .unwrap_or_else(|| seg.to_ascii_lowercase());
            path.push(key.clone());
            if i + 1 == segs.len() {
                table.insert(key, env_value(raw));
                cx.env.insert(
                    path.join("."),
                    EnvSet {
                        var: name.clone(),
                        raw: raw.clone(),
                    },
                );
                break;
            }
            let next = table.entry(key).or_insert_with(|| Table::new().into());
            match next {
                Value::Table(t) => table = t,
                other => {
                    let what = kind(other);
                    cx.bad(
                        name.as_str(),
                        format!("`{}` is {what} in the file, not a table", path.join(".")),
                    );
                    break;
                }
            }
        }
    }
}

/// An env value as TOML when it is one whole TOML value, else as a string.
fn env_value(raw: &str) -> Value {
    if let Ok(mut t) = format!("v = {raw}").parse::<Table>()
        && t.len() == 1
        && let Some(v) = t.remove("v")
    {
        return v;
    }
    Value::String(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_toml_when_whole() {
        assert_eq!(env_value("8080"), Value::Integer(8080));
        assert_eq!(env_value("true"), Value::Boolean(true));
        assert_eq!(env_value("\"x\""), Value::String("x".into()));
        assert_eq!(
            env_value("0 */5 * * * *"),
            Value::String("0 */5 * * * *".into())
        );
        // A newline cannot smuggle in a second key.
        assert_eq!(env_value("1\nb = 2"), Value::String("1\nb = 2".into()));
    }
}
