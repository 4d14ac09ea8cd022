//! What the read commands show: [`ReadView`] (the store, and the language and zone to show it
//! in, from the config file or from a `--store` URL), times in the display zone, reasons in both
//! languages.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::Lang;
use store::Store;

use crate::settings::{self, Settings, StoreUrl};

/// A store to read, and how to show what it holds.
pub(crate) struct ReadView {
    pub store: Arc<dyn Store>,
    /// The language shown first (the other follows).
    pub language: Lang,
    pub timezone: Tz,
}

impl ReadView {
    /// The deployment file's store, language and zone.
    pub async fn from_settings(settings: &Settings) -> Result<ReadView> {
        Ok(ReadView {
            store: crate::startup::open_store(settings).await?,
            language: crate::startup::console_config(settings).language,
            timezone: settings.console.timezone,
        })
    }

    /// The store at `url` (`--store`), shown in the default language and zone. The inner error
    /// is a bad URL (bad input); the outer one a store that does not open. Both show the URL
    /// with its password redacted.
    pub async fn from_url(url: &str) -> Result<Result<ReadView, String>> {
        let url = match StoreUrl::parse(url) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let store = engine::startup::connect(url.expose()).await?;
        Ok(Ok(ReadView {
            store,
            language: settings::DEFAULT_LANGUAGE.lang(),
            timezone: settings::DEFAULT_DISPLAY_TIMEZONE,
        }))
    }

    /// The display language first, then the other.
    pub fn languages(&self) -> [Lang; 2] {
        match self.language {
            Lang::En => [Lang::En, Lang::Zh],
            Lang::Zh => [Lang::Zh, Lang::En],
        }
    }

    /// `t` in the display zone.
    pub fn at(&self, t: DateTime<Utc>) -> String {
        in_zone(t, self.timezone)
    }

    /// A stored reason's messages, in the display language first.
    pub fn print_reason(&self, code: domain::ReasonCode, detail: &str) {
        let reason = domain::Reason::new(code, detail);
        for lang in self.languages() {
            println!("    {}", reason.message(lang));
        }
    }
}

pub(crate) fn in_zone(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}
