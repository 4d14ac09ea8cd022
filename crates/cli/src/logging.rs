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
pub enum LoggingError {
    #[error("invalid log level or filter `{directive}`: {source}")]
    Parse {
        directive: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A word that is no level: the filter would take it as a target's name and log nothing
    /// else (`verbose`).
    #[error(
        "unknown log level `{0}` (levels are: {levels}; or TARGET=LEVEL, such as `warn,engine=debug`)",
        levels = LEVELS.join(", ")
    )]
    UnknownLevel(String),
}

/// The levels a filter directive may name.
pub const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses a level or an env-filter directive list (`info`, `warn,engine=debug`). Each directive
/// must end in a level: a bare word such as `verbose` would parse as a target and silence
/// everything else.
pub fn filter(level: &str) -> Result<EnvFilter, LoggingError> {
    let directives: Vec<&str> = level
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    for directive in &directives {
        let lvl = directive.rsplit('=').next().unwrap_or(directive).trim();
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(lvl)) {
            return Err(LoggingError::UnknownLevel(lvl.to_owned()));
        }
    }
    EnvFilter::try_new(directives.join(",")).map_err(|source| LoggingError::Parse {
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

/// The benchmarks' subscriber: plain logs at `level` on standard error, and the SQL statement
/// counter ([`crate::bench_report::Statements`]), each layer with its own filter.
pub fn init_bench(level: &str) -> Result<bool, LoggingError> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = filter(level)?;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    let counter = crate::bench_report::Statements;
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(counter.with_filter(counter))
        .try_init()
        .is_ok();
    if installed {
        crate::bench_report::Statements::installed();
    }
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
        for bad in ["verbose", "info,engine=loud", "warn,engine"] {
            let e = filter(bad).unwrap_err().to_string();
            assert!(
                e.contains("unknown log level") && e.contains("trace, debug"),
                "{e}"
            );
        }
        for good in [
            "info",
            "WARN",
            "warn,engine=debug",
            " error , sqlx::query=off ",
        ] {
            assert!(filter(good).is_ok(), "{good}");
        }
        let first = init(LogFormat::Pretty, "warn,engine=debug").unwrap();
        let second = init(LogFormat::Json, "info").unwrap();
        // Whatever installed first (this call or another test), a second call never installs.
        let _ = first;
        assert!(!second);
    }
}
