//! The process-wide tracing subscriber.
//!
//! Logs go to stderr so that stdout stays clean for command output (`config export`, `order show`).

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (tracing-subscriber's full format; its multi-line
    /// "pretty" layout wastes a terminal and a journal alike).
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a log format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format `{0}` (formats are: pretty, json)")]
pub struct UnknownLogFormat(pub String);

impl FromStr for LogFormat {
    type Err = UnknownLogFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownLogFormat(s.to_owned())),
        }
    }
}

/// The error of an invalid level / filter directive.
#[derive(Debug, thiserror::Error)]
#[error("invalid log level or filter `{directive}`: {source}")]
pub struct LoggingError {
    directive: String,
    #[source]
    source: tracing_subscriber::filter::ParseError,
}

/// Parses a level or an env-filter directive list (`info`, `warn,engine=debug`).
pub fn filter(level: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::try_new(level).map_err(|source| LoggingError {
        directive: level.to_owned(),
        source,
    })
}

/// Installs the global subscriber. Returns `Ok(false)` when one is already installed (a second
/// call, or tests in one process): the first one stays and nothing fails.
pub fn init(format: LogFormat, level: &str) -> Result<bool, LoggingError> {
    let filter = filter(level)?;
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Pretty => builder.with_ansi(ansi).try_init().is_ok(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok(),
    };
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in [LogFormat::Pretty, LogFormat::Json] {
            assert_eq!(f.as_str().parse::<LogFormat>(), Ok(f));
        }
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn init_twice_is_harmless_and_bad_levels_fail() {
        assert!(init(LogFormat::Json, "lvl=nonsense=x").is_err());
        let first = init(LogFormat::Pretty, "warn,engine=debug").unwrap();
        let second = init(LogFormat::Json, "info").unwrap();
        // Whatever installed first (this call or another test), a second call never installs.
        let _ = first;
        assert!(!second);
    }
}
