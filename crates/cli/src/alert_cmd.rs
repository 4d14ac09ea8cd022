//! `dsco-lingxing alert test [--to NAME]` and `alert list`: thin wrappers over the engine's
//! sender and the store. No business rule lives here.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use engine::alerts::{AlertConfig, Answer, send_test};

use crate::settings::{AlertKind, Settings};

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a test message to each configured channel (or only `--to NAME`) and show the answer.
    Test {
        /// Only the channel with this `name` (default: every channel).
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// The alerts in the store, open first, and the latest deliveries per channel.
    List {
        /// How many alerts and deliveries to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// The engine's alert configuration from the deployment file.
pub fn alert_config(settings: &Settings) -> AlertConfig {
    let channels = settings
        .alerts
        .iter()
        .map(|a| engine::alerts::Channel {
            name: a.name.clone(),
            format: match a.kind {
                AlertKind::Generic => engine::alerts::Format::Generic,
                AlertKind::WeCom => engine::alerts::Format::WeCom,
                AlertKind::DingTalk => engine::alerts::Format::DingTalk,
                AlertKind::Feishu => engine::alerts::Format::Feishu,
            },
            url: a.webhook_url.secret().clone(),
            sign_secret: a.sign_secret.as_ref().map(|s| s.secret().clone()),
            min_severity: a.min_severity,
            kinds: a.kinds.clone(),
            keyword: a.keyword.clone(),
            quiet_hours: a.quiet_hours,
        })
        .collect();
    AlertConfig::new(
        channels,
        settings.console.language.lang(),
        settings.console.timezone,
        settings
            .console
            .public_url
            .as_ref()
            .map(|u| u.as_str().to_owned()),
    )
}

/// When alerts are raised, from `[alerting]`.
pub fn thresholds(settings: &Settings) -> engine::alerts::Thresholds {
    engine::alerts::Thresholds {
        failing_runs: settings.alerting.failing_runs as usize,
        writes_off_after: chrono::TimeDelta::minutes(i64::from(
            settings.alerting.writes_off_minutes,
        )),
    }
}

pub async fn alert(settings: &Settings, command: AlertCommand) -> Result<ExitCode> {
    match command {
        AlertCommand::Test { to } => {
            let cfg = alert_config(settings);
            if cfg.channels.is_empty() {
                eprintln!("no alert channel: add an [[alerts]] table to the deployment file");
                return Ok(ExitCode::from(2));
            }
            let chosen: Vec<_> = cfg
                .channels
                .iter()
                .filter(|c| to.as_deref().is_none_or(|n| n == c.name))
                .collect();
            if chosen.is_empty() {
                let names: Vec<&str> = cfg.channels.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "--to: no channel named `{}` (channels: {})",
                    to.unwrap_or_default(),
                    names.join(", ")
                );
                return Ok(ExitCode::from(2));
            }
            let mut ok = true;
            for ch in chosen {
                let answer = send_test(&cfg, ch, chrono::Utc::now()).await;
                let (word, text) = match &answer {
                    Answer::Delivered(t) => ("delivered", t),
                    Answer::Refused(t) => ("REFUSED", t),
                    Answer::Transient(t) => ("FAILED", t),
                };
                ok &= matches!(answer, Answer::Delivered(_));
                println!("{} ({}): {word}: {text}", ch.name, format_name(ch.format));
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AlertCommand::List { limit } => {
            let store = crate::startup::open_store(settings).await?;
            let tz = settings.console.timezone;
            let lang = settings.console.language.lang();
            for r in store.alert_list(limit).await? {
                let state = match r.resolved_at {
                    Some(at) => format!("resolved {}", at.with_timezone(&tz).format("%F %T")),
                    None => "OPEN".to_owned(),
                };
                println!(
                    "{:<8} {:<60} {state}  (opened {})  {}",
                    r.alert.severity.as_str(),
                    r.alert.key,
                    r.opened_at.with_timezone(&tz).format("%F %T"),
                    r.alert.headline(lang)
                );
            }
            for d in store.recent_deliveries(limit).await? {
                println!(
                    "delivery #{} {} → {}: {} after {} attempt(s): {}",
                    d.outbox_id,
                    d.alert_key,
                    d.channel,
                    d.state.as_str(),
                    d.attempts,
                    d.answer
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn format_name(f: engine::alerts::Format) -> &'static str {
    match f {
        engine::alerts::Format::Generic => "generic",
        engine::alerts::Format::WeCom => "wecom",
        engine::alerts::Format::DingTalk => "dingtalk",
        engine::alerts::Format::Feishu => "feishu",
    }
}
