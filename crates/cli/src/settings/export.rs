//! The export: the effective settings as TOML for `config export`, every default filled in,
//! secrets as `<redacted>` (or as their `*_file` path), URLs without their password.

use secret::REDACTED;
use store::redact_url;
use toml::{Table, Value};

use super::secrets::SecretSetting;
use super::{DscoAuth, Settings};

impl Settings {
    /// The effective settings as TOML for `config export`: every default filled in, secrets as
    /// `<redacted>` (or as their `*_file` path), the store URL without its password.
    pub fn to_redacted_toml(&self) -> String {
        let mut root = Table::new();

        let mut t = Table::new();
        t.insert(
            "base_url".into(),
            redact_url(self.dsco.base_url.as_str()).into(),
        );
        match &self.dsco.auth {
            DscoAuth::OAuth {
                client_id,
                client_secret,
            } => {
                t.insert("client_id".into(), client_id.as_str().into());
                put_secret(&mut t, "client_secret", client_secret);
            }
            DscoAuth::Token(token) => put_secret(&mut t, "token", token),
        }
        root.insert("dsco".into(), t.into());

        let l = &self.lingxing;
        let mut t = Table::new();
        t.insert("base_url".into(), redact_url(l.base_url.as_str()).into());
        t.insert("app_id".into(), l.app_id.as_str().into());
        put_secret(&mut t, "app_secret", &l.app_secret);
        t.insert("platform_code".into(), i64::from(l.platform_code).into());
        t.insert("timezone".into(), l.timezone.name().into());
        root.insert("lingxing".into(), t.into());

        let mut t = Table::new();
        match self.store.url.file() {
            Some(f) => t.insert("url_file".into(), f.display().to_string().into()),
            None => t.insert("url".into(), self.store.url.redacted().into()),
        };
        root.insert("store".into(), t.into());

        let c = &self.console;
        let mut t = Table::new();
        t.insert("listen".into(), c.listen.to_string().into());
        if let Some(p) = &c.password {
            put_secret(&mut t, "password", p);
        }
        t.insert("login".into(), c.login.as_str().into());
        t.insert("secure_cookie".into(), c.secure_cookie.into());
        t.insert(
            "session_idle_minutes".into(),
            i64::from(c.session_idle_minutes).into(),
        );
        t.insert("language".into(), c.language.as_str().into());
        t.insert("timezone".into(), c.timezone.name().into());
        if !c.users.is_empty() {
            // The hash is a secret too: an export shows the placeholder, never the value.
            let users: Vec<Value> = c
                .users
                .iter()
                .map(|u| {
                    let mut ut = Table::new();
                    ut.insert("name".into(), u.name.as_str().into());
                    ut.insert(
                        "role".into(),
                        match u.role {
                            console::Role::Admin => "admin",
                            console::Role::Viewer => "viewer",
                        }
                        .into(),
                    );
                    put_secret(&mut ut, "password_hash", &u.password_hash);
                    Value::Table(ut)
                })
                .collect();
            t.insert("users".into(), Value::Array(users));
        }
        if let Some(u) = &c.public_url {
            t.insert("public_url".into(), redact_url(u.as_str()).into());
        }
        root.insert("console".into(), t.into());

        let mut t = Table::new();
        t.insert("dir".into(), self.exports.dir.display().to_string().into());
        root.insert("exports".into(), t.into());

        let mut t = Table::new();
        t.insert("format".into(), self.logging.format.as_str().into());
        t.insert("level".into(), self.logging.level.as_str().into());
        root.insert("logging".into(), t.into());

        if !self.alerts.is_empty() {
            let mut channels = Vec::new();
            for a in &self.alerts {
                let mut t = Table::new();
                t.insert("name".into(), a.name.as_str().into());
                t.insert("kind".into(), a.kind.as_str().into());
                put_secret(&mut t, "webhook_url", &a.webhook_url);
                if let Some(s) = &a.sign_secret {
                    put_secret(&mut t, "sign_secret", s);
                }
                t.insert("min_severity".into(), a.min_severity.as_str().into());
                if !a.kinds.is_empty() {
                    let ks: Vec<Value> = a.kinds.iter().map(|k| k.as_str().into()).collect();
                    t.insert("kinds".into(), Value::Array(ks));
                }
                if let Some(k) = &a.keyword {
                    t.insert("keyword".into(), k.as_str().into());
                }
                if let Some((from, to)) = a.quiet_hours {
                    t.insert(
                        "quiet_hours".into(),
                        format!("{}-{}", from.format("%H:%M"), to.format("%H:%M")).into(),
                    );
                }
                channels.push(Value::Table(t));
            }
            root.insert("alerts".into(), Value::Array(channels));
        }

        let mut t = Table::new();
        t.insert(
            "failing_runs".into(),
            i64::from(self.alerting.failing_runs).into(),
        );
        t.insert(
            "writes_off_minutes".into(),
            i64::from(self.alerting.writes_off_minutes).into(),
        );
        root.insert("alerting".into(), t.into());

        if let Some(rc) = &self.runtime_config
            && let Some(v) = json_to_toml(&rc.config.to_value(&rc.sku))
        {
            root.insert("runtime_config".into(), v);
        }

        let body = toml::to_string(&root)
            .unwrap_or_else(|e| format!("# the settings could not be rendered: {e}\n"));
        format!("# dsco-lingxing effective settings; secrets are redacted.\n\n{body}")
    }
}

fn put_secret(t: &mut Table, key: &str, s: &SecretSetting) {
    match s.file() {
        Some(f) => t.insert(format!("{key}_file"), f.display().to_string().into()),
        None => t.insert(key.to_owned(), REDACTED.into()),
    };
}

/// JSON → TOML for the export; `null` has no TOML form and is left out.
fn json_to_toml(v: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64()?),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Array(a.iter().filter_map(json_to_toml).collect()),
        J::Object(o) => Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}
