//! The reader: problems and the error that lists them all, the validation context, and
//! [`Sec`], which reads one section key by key (strings, parsed values, secrets inline or from
//! `*_file`) and reports the keys it did not ask for as unknown.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use secret::REDACTED;
use toml::{Table, Value};

use super::ENV_PREFIX;
use super::env::EnvSet;
use super::secrets::{SecretSetting, is_placeholder};

/// One problem, at a dotted key path (`console.listen`), or at `file:line:column` for a TOML
/// syntax error, or at the env var's name when the variable itself is malformed: the runtime
/// config's problem type, so both read alike.
pub use domain::ConfigError as Problem;

/// Every problem found in a settings file, one `path: problem` line each after a header line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SettingsError {
    /// The file (or label) the settings came from.
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid settings in {} ({n} problem{}):",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

impl SettingsError {
    pub(super) fn one(
        origin: &str,
        path: impl Into<String>,
        problem: impl Into<String>,
    ) -> SettingsError {
        SettingsError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                path: path.into(),
                problem: problem.into(),
            }],
        }
    }

    /// The problem at exactly `path`, if any (for tests and for pointing at a form field).
    pub fn at(&self, path: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.path == path)
    }
}

/// The validation context: every problem so far, and which key paths env vars set.
#[derive(Default)]
pub(super) struct Cx {
    pub problems: Vec<Problem>,
    pub env: BTreeMap<String, EnvSet>,
}

impl Cx {
    pub(super) fn bad(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            problem: problem.into(),
        });
    }

    /// Names the variable behind any problem at (or below) a key an env var set.
    pub(super) fn annotate_env(&mut self) {
        for p in &mut self.problems {
            let var = self.env.iter().find_map(|(path, e)| {
                let hit = *path == p.path
                    || path
                        .strip_prefix(p.path.as_str())
                        .is_some_and(|r| r.starts_with('.'));
                hit.then_some(&e.var)
            });
            if let Some(var) = var {
                p.problem = format!("{} (set by env {var})", p.problem);
            }
        }
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// One section being read. Every key a reader asks for is a known key; whatever else the
/// table holds is reported as unknown when the reader finishes.
pub(super) struct Sec<'t> {
    pub name: String,
    table: Option<&'t Table>,
    known: Vec<&'static str>,
}

impl<'t> Sec<'t> {
    /// `None` (with a problem) when the key is there but not a table; an absent section reads
    /// as empty, so every default applies.
    pub(super) fn open(root: &'t Table, name: &'static str, cx: &mut Cx) -> Option<Sec<'t>> {
        let table = match root.get(name) {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                cx.bad(
                    name,
                    format!("must be a section (table), got {}", kind(other)),
                );
                return None;
            }
        };
        Some(Sec {
            name: name.to_owned(),
            table,
            known: Vec::new(),
        })
    }

    /// A table found elsewhere (an element of an array of tables), named `name` in messages.
    pub(super) fn of(table: &'t Table, name: String) -> Sec<'t> {
        Sec {
            name,
            table: Some(table),
            known: Vec::new(),
        }
    }

    /// Whether `key` is given, without marking it known.
    pub(super) fn has(&self, key: &str) -> bool {
        self.table.is_some_and(|t| t.contains_key(key))
    }

    pub(super) fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }

    pub(super) fn get(&mut self, key: &'static str) -> Option<&'t Value> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table?.get(key)
    }

    pub(super) fn finish(self, cx: &mut Cx) {
        let Some(t) = self.table else { return };
        for k in t.keys() {
            if !self.known.contains(&k.as_str()) {
                cx.bad(
                    format!("{}.{k}", self.name),
                    format!("unknown key (keys are: {})", self.known.join(", ")),
                );
            }
        }
    }

    /// A non-empty string. A value an env var set is taken as its raw text whatever it parsed
    /// as, so `…__APP_ID=12345` stays a string and a password keeps any quotes it has.
    pub(super) fn string(&mut self, key: &'static str, cx: &mut Cx) -> Option<String> {
        let path = self.path(key);
        let value = self.get(key)?;
        let s = match (cx.env.get(&path), value) {
            (Some(e), _) => e.raw.clone(),
            (None, Value::String(s)) => s.clone(),
            (None, other) => {
                cx.bad(path, format!("must be a string, got {}", kind(other)));
                return None;
            }
        };
        let s = s.trim();
        if s.is_empty() {
            cx.bad(path, "must not be empty");
            return None;
        }
        Some(s.to_owned())
    }

    /// A string parsed by `parse`; `default` when absent, `None` (with a problem) when bad.
    pub(super) fn parsed<T>(
        &mut self,
        key: &'static str,
        default: T,
        cx: &mut Cx,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let before = cx.problems.len();
        match self.string(key, cx) {
            Some(s) => match parse(&s) {
                Ok(v) => Some(v),
                Err(e) => {
                    cx.bad(self.path(key), e);
                    None
                }
            },
            None if cx.problems.len() > before => None,
            None => Some(default),
        }
    }

    /// A secret from `key` or `<key>_file` (never both). `Ok(None)` when neither is given;
    /// `Err(())` after recording a problem. Messages never include the value.
    pub(super) fn secret(
        &mut self,
        key: &'static str,
        file_key: &'static str,
        cx: &mut Cx,
    ) -> Result<Option<SecretSetting>, ()> {
        let inline_given = self.get(key).is_some();
        let file_given = self.get(file_key).is_some();
        if inline_given && file_given {
            cx.bad(
                self.path(key),
                format!("given both inline and as {file_key}; keep one"),
            );
            return Err(());
        }
        let (value, file) = if inline_given {
            match self.string(key, cx) {
                Some(v) => (v, None),
                None => return Err(()),
            }
        } else if file_given {
            let Some(f) = self.string(file_key, cx) else {
                return Err(());
            };
            let path = PathBuf::from(&f);
            match std::fs::read_to_string(&path) {
                // A trailing newline is an artefact of `echo` and editors, never part of a key.
                Ok(text) => {
                    let v = text.trim_end_matches(['\n', '\r']).to_owned();
                    if v.trim().is_empty() {
                        cx.bad(self.path(file_key), format!("file {f} is empty"));
                        return Err(());
                    }
                    (v, Some(path))
                }
                Err(e) => {
                    cx.bad(self.path(file_key), format!("cannot read {f}: {e}"));
                    return Err(());
                }
            }
        } else {
            return Ok(None);
        };
        if is_placeholder(&value) {
            let at = if file.is_some() { file_key } else { key };
            cx.bad(
                self.path(at),
                format!("is the {REDACTED} placeholder of an export; put the real secret"),
            );
            return Err(());
        }
        Ok(Some(match file {
            Some(f) => SecretSetting::from_file(value, f),
            None => SecretSetting::new(value),
        }))
    }

    /// A required secret.
    pub(super) fn required_secret(
        &mut self,
        key: &'static str,
        file_key: &'static str,
        hint: &str,
        cx: &mut Cx,
    ) -> Option<SecretSetting> {
        match self.secret(key, file_key, cx) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                cx.bad(
                    self.path(key),
                    format!(
                        "missing ({hint}; set it here, by env {ENV_PREFIX}{}__{}, or with {file_key})",
                        self.name.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    ),
                );
                None
            }
            Err(()) => None,
        }
    }
}

/// `text` as a TOML table; a syntax error is one problem at `origin:line:column`.
pub(super) fn parse_table(text: &str, origin: &str) -> Result<Table, SettingsError> {
    text.parse().map_err(|e: toml::de::Error| {
        let span = e.span().unwrap_or(0..0);
        let (line, col) = line_col(text, span.start);
        let mut problem = format!("invalid TOML: {}", e.message().trim());
        // Name the repeated key. Only for this message: other spans may cover a value,
        // and the value may be a secret.
        if problem.ends_with("duplicate key")
            && let Some(key) = text.get(span)
            && !key.contains('\n')
        {
            problem = format!("{problem} `{}`", key.trim());
        }
        SettingsError::one(origin, format!("{origin}:{line}:{col}"), problem)
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("a\nbé c", 6), (2, 4));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
