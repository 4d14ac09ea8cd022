//! The one secret type of the workspace: a credential, a token, a URL with a password.
//!
//! [`Secret`]'s `Debug` and `Display` print [`REDACTED`], whatever the format flags;
//! [`Secret::expose`] is the one way to read the value, so every use is greppable. The value is
//! zeroed when dropped (`secrecy`). The DSCO and LingXing clients, the engine's token cache and
//! the deployment settings all use it; it depends on no crate of ours, so every crate can.

use std::fmt;

#[cfg(feature = "http")]
mod transport;
#[cfg(feature = "http")]
pub use transport::transport_text;

use secrecy::{ExposeSecret, SecretString};

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// A secret value. Equal when the values are.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    /// The secret text, for the wire, a driver or a key derivation only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Holder {
        name: &'static str,
        secret: Secret,
        list: Vec<Secret>,
        maybe: Option<Secret>,
    }

    #[test]
    fn never_prints_its_value_in_any_format() {
        let s = Secret::new("hunter2-S3CRET");
        let h = Holder {
            name: "not secret",
            secret: s.clone(),
            list: vec![s.clone(), Secret::from("other-S3CRET")],
            maybe: Some("third-S3CRET".into()),
        };
        let shown = [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{s:>40}"),
            format!("{s:.3}"),
            format!("{h:?}"),
            format!("{h:#?}"),
            s.to_string(),
        ];
        for text in &shown {
            assert!(!text.contains("S3CRET"), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
        assert!(shown[5].contains("not secret"));
        assert_eq!(s.expose(), "hunter2-S3CRET");
    }

    #[test]
    fn equal_when_the_values_are() {
        assert_eq!(Secret::new("a"), Secret::from("a".to_owned()));
        assert_ne!(Secret::new("a"), Secret::new("b"));
    }
}
