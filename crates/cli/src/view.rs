//! What the read commands show: [`ReadView`] (the store, and the language and zone to show it
//! in, from the config file or from a `--store` URL), times in the display zone, reasons in both
//! languages.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::Lang;
use store::Store;

use crate::app::BadInput;
use crate::settings::{self, ReadSettings, StoreUrl};

/// A store to read, and how to show what it holds.
pub(crate) struct ReadView {
    pub store: Arc<dyn Store>,
    /// The language shown first (the other follows).
    pub language: Lang,
    pub timezone: Tz,
}

impl ReadView {
    /// The deployment file's store (it must exist), language and zone.
    pub async fn from_settings(settings: &ReadSettings) -> Result<ReadView> {
        Ok(ReadView {
            store: crate::startup::open_existing(&settings.store.url).await?,
            language: settings.console.language.lang(),
            timezone: settings.console.timezone,
        })
    }

    /// The store at `url` (`--store`; it must exist), shown in the default language and zone. A
    /// bad URL is [`BadInput`]; messages show the URL with its password redacted.
    pub async fn from_url(url: &str) -> Result<ReadView> {
        let url = StoreUrl::parse(url).map_err(|e| BadInput(format!("--store: {e}")))?;
        Ok(ReadView {
            store: crate::startup::open_existing(&url).await?,
            language: settings::DEFAULT_LANGUAGE.lang(),
            timezone: settings::DEFAULT_DISPLAY_TIMEZONE,
        })
    }

    /// The text in the display language: `en` or `zh`.
    pub fn t<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        match self.language {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// A stage's label in the display language.
    pub fn stage_label(&self, stage: domain::Stage) -> &'static str {
        self.t(stage.label_en(), stage.label_zh())
    }

    /// A reason kind's label in the display language.
    pub fn kind_label(&self, kind: domain::ReasonKind) -> &'static str {
        self.t(kind.as_str(), kind.label_zh())
    }

    /// `t` in the display zone.
    pub fn at(&self, t: DateTime<Utc>) -> String {
        in_zone(t, self.timezone)
    }

    /// A stored reason's message in the display language.
    pub fn print_reason(&self, code: domain::ReasonCode, detail: &str) {
        println!(
            "    {}",
            domain::Reason::new(code, detail).message(self.language)
        );
    }
}

/// `s` padded with spaces to `width` terminal columns (CJK characters take two).
pub(crate) fn pad(s: &str, width: usize) -> String {
    let cols: usize = s
        .chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(cols)))
}

pub(crate) fn in_zone(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}
