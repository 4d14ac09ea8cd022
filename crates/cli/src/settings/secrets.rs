//! Secret settings: the value (the workspace's one [`Secret`] type, redacted in Debug and
//! Display) and the `*_file` it was read from, which an export shows instead of the value.

use std::fmt;
use std::path::{Path, PathBuf};

use secret::{REDACTED, Secret};

/// A secret setting. Not a second secret type: the value is a [`Secret`]; this adds where it
/// came from. Debug and Display print `<redacted>`; [`SecretSetting::expose`] is the one way to
/// read it, so every use is greppable.
#[derive(Clone)]
pub struct SecretSetting {
    value: Secret,
    /// The file it was read from, if any: not secret, and what an export shows instead.
    file: Option<PathBuf>,
}

impl SecretSetting {
    pub fn new(value: impl Into<String>) -> SecretSetting {
        SecretSetting {
            value: Secret::new(value),
            file: None,
        }
    }

    /// A value read from `file`.
    pub(super) fn from_file(value: String, file: PathBuf) -> SecretSetting {
        SecretSetting {
            value: Secret::new(value),
            file: Some(file),
        }
    }

    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// The value, for a client's configuration.
    pub fn secret(&self) -> &Secret {
        &self.value
    }

    /// The `*_file` it came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl fmt::Display for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

/// Whether `value` holds the `<redacted>` placeholder of an export (refused on load, so an
/// exported file is never deployed with placeholders by mistake).
pub(super) fn is_placeholder(value: &str) -> bool {
    value.contains(REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_setting_never_prints_its_value_nor_hides_its_file() {
        let s = SecretSetting::from_file("S3CRET".into(), PathBuf::from("/run/secrets/x"));
        for text in [format!("{s}"), format!("{s:?}"), format!("{s:#?}")] {
            assert_eq!(text, REDACTED);
        }
        assert_eq!(s.expose(), "S3CRET");
        assert_eq!(s.file(), Some(Path::new("/run/secrets/x")));
    }
}
