//! Deployment settings: defaults, bad inputs (each naming its key path), env overrides, `*_file`
//! secrets and redaction.

use std::io::Write;

use cli::logging::LogFormat;
use cli::settings::{
    AlertKind, DscoAuth, Language, Problem, REDACTED, Settings, SettingsError, StoreKind,
};
use domain::JobName;

const ORIGIN: &str = "settings.toml";

/// The smallest file that loads: credentials for both sides, everything else defaulted.
const MINIMAL: &str = r#"
[dsco]
token = "dsco-token-S3CRET-1"

[lingxing]
app_id = "ak_TestAppId0001"
app_secret = "lx-app-secret-S3CRET-2"
"#;

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load_from(text, ORIGIN, &env(vars))
}

fn load_ok(text: &str, vars: &[(&str, &str)]) -> Settings {
    match load(text, vars) {
        Ok(s) => s,
        Err(e) => panic!("expected to load, got:\n{e}"),
    }
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<Problem> {
    match load(text, vars) {
        Ok(_) => panic!("expected errors, but it loaded:\n{text}"),
        Err(e) => e.problems,
    }
}

/// MINIMAL plus a job section, for runtime-config cases.
fn with_job(job: &str, body: &str) -> String {
    format!("{MINIMAL}\n[runtime_config.jobs.{job}]\n{body}\n")
}

const GOOD_JOB: &str = "enable = true\ncron = \"0 */5 * * * *\"\nsize = 100";

#[test]
fn minimal_file_takes_every_default() {
    let s = load_ok(MINIMAL, &[]);
    assert_eq!(s.dsco.base_url.as_str(), "https://api.dsco.io/api/v3");
    assert!(matches!(&s.dsco.auth, DscoAuth::Token(t) if t.expose() == "dsco-token-S3CRET-1"));
    assert_eq!(
        s.lingxing.base_url.as_str(),
        "https://openapi.lingxing.com/"
    );
    assert_eq!(s.lingxing.app_id, "ak_TestAppId0001");
    assert_eq!(s.lingxing.app_secret.expose(), "lx-app-secret-S3CRET-2");
    assert_eq!(s.lingxing.platform_code, 10009);
    assert_eq!(s.lingxing.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(s.store.url.kind(), StoreKind::Sqlite);
    assert_eq!(s.store.url.expose(), "sqlite://data/dsco-lingxing.db");
    assert_eq!(s.console.listen.to_string(), "127.0.0.1:8080");
    assert!(s.console.password.is_none());
    assert_eq!(s.console.language, Language::ZhCn);
    assert_eq!(s.console.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(s.exports.dir, std::path::PathBuf::from("data/exports"));
    assert_eq!(s.logging.format, LogFormat::Pretty);
    assert_eq!(s.logging.level, "info");
    assert!(s.alerts.is_empty());
    assert!(s.runtime_config.is_none());
}

#[test]
fn the_example_loads_and_configures_every_job() {
    let s = load_ok(Settings::example_toml(), &[]);
    assert!(
        matches!(&s.dsco.auth, DscoAuth::OAuth { client_id, .. } if client_id == "your-dsco-client-id")
    );
    let rc = s.runtime_config.expect("the example has a runtime_config");
    for job in JobName::ALL {
        assert!(rc.config.jobs.contains_key(&job), "{job} missing");
    }
    assert!(rc.config.writes_enabled());
    // Empty mappings are gaps, not errors.
    assert!(rc.config.mapping.shop.is_empty() && rc.sku.is_empty());
}

#[test]
fn the_example_alerts_block_loads_when_uncommented() {
    let mut out = Vec::new();
    let mut in_alerts = false;
    for line in Settings::example_toml().lines() {
        if line == "# [[alerts]]" {
            in_alerts = true;
        } else if in_alerts && !line.starts_with("# ") {
            in_alerts = false;
        }
        out.push(if in_alerts { &line[2..] } else { line });
    }
    let s = load_ok(&out.join("\n"), &[]);
    assert_eq!(s.alerts.len(), 2);
    assert_eq!(s.alerting.failing_runs, 3);
    assert_eq!(s.alerts[1].name, "oncall");
    assert_eq!(s.alerts[1].kind, AlertKind::WeCom);
    assert_eq!(s.alerts[1].min_severity, domain::alert::Severity::Critical);
    let a = s.alerts.into_iter().next().expect("alerts section");
    assert_eq!(a.name, "ops");
    assert_eq!(a.keyword.as_deref(), Some("dsco-lingxing"));
    assert!(a.quiet_hours.is_some());
    assert_eq!(a.kind, AlertKind::DingTalk);
    assert!(
        a.webhook_url
            .expose()
            .starts_with("https://oapi.dingtalk.com/")
    );
    assert_eq!(
        a.sign_secret.map(|s| s.expose().to_owned()).as_deref(),
        Some("SEC...")
    );
}

struct Case {
    name: &'static str,
    text: String,
    env: &'static [(&'static str, &'static str)],
    path: &'static str,
    problem: &'static str,
}

fn case(
    name: &'static str,
    text: impl Into<String>,
    path: &'static str,
    problem: &'static str,
) -> Case {
    Case {
        name,
        text: text.into(),
        env: &[],
        path,
        problem,
    }
}

fn bad_inputs() -> Vec<Case> {
    let dup = "[dsco]\ntoken = \"a\"\ntoken = \"b\"\n";
    vec![
        case(
            "unknown job",
            with_job("pull_orders", GOOD_JOB),
            "runtime_config.jobs.pull_orders",
            "unknown job `pull_orders`",
        ),
        case(
            "unparsable cron",
            with_job(
                "ack_to_dsco",
                "enable = true\ncron = \"0 * * * * xyz\"\nsize = 10",
            ),
            "runtime_config.jobs.ack_to_dsco.cron",
            "is not a valid cron expression",
        ),
        case(
            "5-field cron where 6 are meant",
            with_job(
                "ship_to_dsco",
                "enable = true\ncron = \"*/5 * * * *\"\nsize = 10",
            ),
            "runtime_config.jobs.ship_to_dsco.cron",
            "has 5 fields; 6 are needed",
        ),
        case(
            "size 0",
            with_job("sync_stock", "enable = true\ncron = \"@hourly\"\nsize = 0"),
            "runtime_config.jobs.sync_stock.size",
            "must be a whole number above 0, got 0",
        ),
        case(
            "negative size",
            with_job("sync_stock", "enable = true\ncron = \"@hourly\"\nsize = -3"),
            "runtime_config.jobs.sync_stock.size",
            "must be a whole number above 0, got -3",
        ),
        case(
            "enable as a string",
            with_job(
                "push_to_lingxing",
                "enable = \"yes\"\ncron = \"@hourly\"\nsize = 10",
            ),
            "runtime_config.jobs.push_to_lingxing.enable",
            "must be true or false, got a string",
        ),
        case(
            "missing size",
            with_job("push_to_lingxing", "enable = true\ncron = \"@hourly\""),
            "runtime_config.jobs.push_to_lingxing.size",
            "missing",
        ),
        case(
            "setting of another job",
            with_job("sync_stock", &format!("{GOOD_JOB}\nmulti_ban = true")),
            "runtime_config.jobs.sync_stock.multi_ban",
            "not a setting of sync_stock",
        ),
        case(
            "unknown price field",
            with_job(
                "push_to_lingxing",
                &format!("{GOOD_JOB}\nprice_source = [\"msrp\"]"),
            ),
            "runtime_config.jobs.push_to_lingxing.price_source[0]",
            "unknown price field \"msrp\"",
        ),
        case(
            "unknown runtime_config key",
            format!("{MINIMAL}\n[runtime_config]\njob = {{}}\n"),
            "runtime_config.job",
            "unknown key",
        ),
        case(
            "duplicate key",
            format!("{dup}[lingxing]\napp_id = \"x\"\napp_secret = \"y\"\n"),
            "settings.toml:3:1",
            "invalid TOML: duplicate key `token`",
        ),
        case(
            "invalid TOML with its line",
            format!("{MINIMAL}\n[console\nlisten = \"127.0.0.1:1\"\n"),
            "settings.toml:9:9",
            "invalid TOML",
        ),
        case(
            "unknown top-level section",
            format!("{MINIMAL}\n[database]\nurl = \"sqlite://x.db\"\n"),
            "database",
            "unknown section (sections are: dsco, lingxing, store",
        ),
        case(
            "section that is not a table",
            format!("logging = \"json\"\n{MINIMAL}"),
            "logging",
            "must be a section (table), got a string",
        ),
        case(
            "unknown key in a section",
            format!("{MINIMAL}\n[console]\nport = 8080\n"),
            "console.port",
            "unknown key (keys are: listen, password, password_file, users, login, secure_cookie, session_idle_minutes, language, timezone)",
        ),
        case(
            "unparsable URL",
            MINIMAL.replace("[dsco]", "[dsco]\nbase_url = \"api.dsco.io/v3\""),
            "dsco.base_url",
            "not a valid URL",
        ),
        case(
            "non-http URL",
            MINIMAL.replace(
                "[lingxing]",
                "[lingxing]\nbase_url = \"ftp://openapi.lingxing.com\"",
            ),
            "lingxing.base_url",
            "must be an http(s) URL",
        ),
        case(
            "not an IANA time zone",
            MINIMAL.replace("[lingxing]", "[lingxing]\ntimezone = \"Asia/Beijing\""),
            "lingxing.timezone",
            "unknown time zone `Asia/Beijing`",
        ),
        case(
            "platform_code as a string",
            MINIMAL.replace("[lingxing]", "[lingxing]\nplatform_code = \"10009\""),
            "lingxing.platform_code",
            "must be a whole number such as 10009, got a string",
        ),
        case(
            "platform_code 0",
            MINIMAL.replace("[lingxing]", "[lingxing]\nplatform_code = 0"),
            "lingxing.platform_code",
            "must be a whole number above 0, got 0",
        ),
        case(
            "app_id of the wrong length",
            MINIMAL.replace("ak_TestAppId0001", "ak_Short"),
            "lingxing.app_id",
            "must be 16 characters (it is the AES-128 key of the signature), got 8",
        ),
        case(
            "app_id as a number",
            MINIMAL.replace("app_id = \"ak_TestAppId0001\"", "app_id = 12345"),
            "lingxing.app_id",
            "must be a string, got an integer",
        ),
        case(
            "missing app secret",
            MINIMAL.replace("app_secret = \"lx-app-secret-S3CRET-2\"", ""),
            "lingxing.app_secret",
            "missing (the appSecret",
        ),
        case(
            "no DSCO credentials",
            MINIMAL.replace("token = \"dsco-token-S3CRET-1\"", ""),
            "dsco",
            "no DSCO credentials",
        ),
        case(
            "both OAuth and token",
            MINIMAL.replace("[dsco]", "[dsco]\nclient_id = \"c\"\nclient_secret = \"s\""),
            "dsco",
            "both OAuth (client_id/client_secret) and token are set",
        ),
        case(
            "OAuth without its secret",
            MINIMAL.replace("token = \"dsco-token-S3CRET-1\"", "client_id = \"c\""),
            "dsco.client_secret",
            "missing (OAuth needs client_id and client_secret)",
        ),
        case(
            "secret inline and as a file",
            MINIMAL.replace("[dsco]", "[dsco]\ntoken_file = \"/run/secrets/dsco\""),
            "dsco.token",
            "given both inline and as token_file",
        ),
        case(
            "secret file that does not exist",
            MINIMAL.replace(
                "token = \"dsco-token-S3CRET-1\"",
                "token_file = \"/nonexistent/dsco-token\"",
            ),
            "dsco.token_file",
            "cannot read /nonexistent/dsco-token",
        ),
        case(
            "exported placeholder deployed as a secret",
            MINIMAL.replace("lx-app-secret-S3CRET-2", REDACTED),
            "lingxing.app_secret",
            "placeholder",
        ),
        case(
            "listen is not a socket address",
            format!("{MINIMAL}\n[console]\nlisten = \"localhost:8080\"\n"),
            "console.listen",
            "must be an IP address and port",
        ),
        case(
            "public listen without a password",
            format!("{MINIMAL}\n[console]\nlisten = \"0.0.0.0:8080\"\n"),
            "console.users",
            "at least one user is required because console.listen (0.0.0.0:8080) is not a loopback address",
        ),
        case(
            "unknown language",
            format!("{MINIMAL}\n[console]\nlanguage = \"fr\"\n"),
            "console.language",
            "unknown language `fr` (languages are: zh-CN, en)",
        ),
        case(
            "unknown store scheme",
            format!("{MINIMAL}\n[store]\nurl = \"mysql://u:pw@db/x\"\n"),
            "store.url",
            "must start with sqlite:// or postgres://, got `mysql://u:<redacted>@db/x`",
        ),
        case(
            "unknown log format",
            format!("{MINIMAL}\n[logging]\nformat = \"xml\"\n"),
            "logging.format",
            "unknown log format `xml`",
        ),
        case(
            "bad log level",
            format!("{MINIMAL}\n[logging]\nlevel = \"engine=loud\"\n"),
            "logging.level",
            "unknown log level `loud`",
        ),
        case(
            "a word that is no level (would log nothing)",
            format!("{MINIMAL}\n[logging]\nlevel = \"verbose\"\n"),
            "logging.level",
            "unknown log level `verbose`",
        ),
        case(
            "bad filter syntax",
            format!("{MINIMAL}\n[logging]\nlevel = \"engine[=info\"\n"),
            "logging.level",
            "invalid log level or filter",
        ),
        case(
            "unknown alert kind",
            format!(
                "{MINIMAL}\n[alerts]\nkind = \"slack\"\nwebhook_url = \"https://h.example/x\"\n"
            ),
            "alerts.kind",
            "unknown alert kind `slack` (kinds are: generic, wecom, dingtalk, feishu)",
        ),
        case(
            "sign secret for a bot that does not sign",
            format!(
                "{MINIMAL}\n[alerts]\nkind = \"wecom\"\nwebhook_url = \"https://h.example/x\"\nsign_secret = \"s\"\n"
            ),
            "alerts.sign_secret",
            "only DingTalk, Feishu and generic webhooks sign requests, not wecom",
        ),
        case(
            "two channels with one name",
            format!(
                "{MINIMAL}\n[[alerts]]\nname = \"ops\"\nwebhook_url = \"https://h.example/x\"\n[[alerts]]\nname = \"ops\"\nkind = \"wecom\"\nwebhook_url = \"https://h.example/y\"\n"
            ),
            "alerts[1].name",
            "`ops` names two channels",
        ),
        case(
            "unknown severity in an array entry",
            format!(
                "{MINIMAL}\n[[alerts]]\nwebhook_url = \"https://h.example/x\"\nmin_severity = \"loud\"\n"
            ),
            "alerts[0].min_severity",
            "unknown severity `loud` (severities are: info, warning, critical)",
        ),
        case(
            "unknown alert kind in kinds",
            format!(
                "{MINIMAL}\n[[alerts]]\nwebhook_url = \"https://h.example/x\"\nkinds = [\"job_failing\", \"weather\"]\n"
            ),
            "alerts[0].kinds",
            "unknown alert kind \"weather\"",
        ),
        case(
            "bad quiet hours",
            format!(
                "{MINIMAL}\n[[alerts]]\nwebhook_url = \"https://h.example/x\"\nquiet_hours = \"22-8\"\n"
            ),
            "alerts[0].quiet_hours",
            "must be `HH:MM-HH:MM`",
        ),
        case(
            "zero failing runs",
            format!("{MINIMAL}\n[alerting]\nfailing_runs = 0\n"),
            "alerting.failing_runs",
            "must be a whole number of at least 1, got 0",
        ),
        case(
            "bad public url",
            format!("{MINIMAL}\n[console]\npublic_url = \"ftp://x\"\n"),
            "console.public_url",
            "must be an http(s) URL",
        ),
        Case {
            name: "env var naming an unknown key",
            text: MINIMAL.to_owned(),
            env: &[("DSCO_LINGXING__DSCO__CLIENTID", "x")],
            path: "dsco.clientid",
            problem: "unknown key (keys are: base_url, client_id, client_secret, client_secret_file, token, token_file) (set by env DSCO_LINGXING__DSCO__CLIENTID)",
        },
        Case {
            name: "env var naming an unknown section",
            text: MINIMAL.to_owned(),
            env: &[("DSCO_LINGXING__DATABASE__URL", "sqlite://x.db")],
            path: "DSCO_LINGXING__DATABASE__URL",
            problem: "unknown section `database`",
        },
        Case {
            name: "env var without a key",
            text: MINIMAL.to_owned(),
            env: &[("DSCO_LINGXING__STORE", "sqlite://x.db")],
            path: "DSCO_LINGXING__STORE",
            problem: "must name a section and a key",
        },
        Case {
            name: "env var with a bad value",
            text: MINIMAL.to_owned(),
            env: &[("dsco_lingxing__console__listen", "nowhere")],
            path: "console.listen",
            problem: "(set by env dsco_lingxing__console__listen)",
        },
        Case {
            name: "env var setting a 5-field cron",
            text: with_job("ack_to_dsco", GOOD_JOB),
            env: &[(
                "DSCO_LINGXING__RUNTIME_CONFIG__JOBS__ACK_TO_DSCO__CRON",
                "0 * * * *",
            )],
            path: "runtime_config.jobs.ack_to_dsco.cron",
            problem: "has 5 fields; 6 are needed, seconds first (did you mean `0 0 * * * *`?) (set by env DSCO_LINGXING__RUNTIME_CONFIG__JOBS__ACK_TO_DSCO__CRON)",
        },
    ]
}

#[test]
fn every_bad_input_names_its_key_and_problem() {
    let cases = bad_inputs();
    assert!(cases.len() >= 15);
    for c in cases {
        let ps = problems(&c.text, c.env);
        let Some(p) = ps.iter().find(|p| p.path == c.path) else {
            panic!("{}: no problem at `{}`; got:\n{ps:#?}", c.name, c.path);
        };
        assert!(
            p.problem.contains(c.problem),
            "{}: `{}` says {:?}, expected it to contain {:?}",
            c.name,
            c.path,
            p.problem,
            c.problem
        );
        // The secrets of MINIMAL never leak into a message.
        for p in &ps {
            assert!(!p.to_string().contains("S3CRET"), "{}: {p}", c.name);
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "{}\n[console]\nlisten = \"0.0.0.0:1\"\nlanguage = \"de\"\n[logging]\nformat = \"xml\"\n[extra]\n",
        MINIMAL.replace("app_secret = \"lx-app-secret-S3CRET-2\"", "")
    );
    let err = load(&text, &[]).unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "extra",
        "lingxing.app_secret",
        "console.language",
        "console.users",
        "logging.format",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    let shown = err.to_string();
    let mut lines = shown.lines();
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "invalid settings in settings.toml ({} problems):",
                paths.len()
            )
            .as_str()
        )
    );
    assert_eq!(lines.count(), paths.len());
    assert!(shown.contains("\nlogging.format: unknown log format `xml`"));
}

#[test]
fn a_bad_value_is_reported_once_not_again_as_missing() {
    let text = MINIMAL.replace(
        "token = \"dsco-token-S3CRET-1\"",
        "client_id = \" \"\nclient_secret = \"s\"",
    );
    let ps = problems(&text, &[]);
    assert_eq!(
        ps,
        vec![Problem {
            path: "dsco.client_id".into(),
            problem: "must not be empty".into()
        }]
    );
}

#[test]
fn env_overrides_win_over_the_file_and_keep_string_keys_raw() {
    let s = load_ok(
        MINIMAL,
        &[
            // A string key takes the raw text, quotes and all.
            ("DSCO_LINGXING__DSCO__TOKEN", "\"from-env\""),
            ("DSCO_LINGXING__CONSOLE__LISTEN", "0.0.0.0:9000"),
            // Digits only: must stay a string, not become the integer 123456.
            ("DSCO_LINGXING__CONSOLE__PASSWORD", "123456"),
            ("dsco_lingxing__logging__format", "json"),
            ("Dsco_Lingxing__Logging__Level", "warn,engine=debug"),
            ("DSCO_LINGXING__LINGXING__PLATFORM_CODE", "10010"),
            ("DSCO_LINGXING__LINGXING__APP_ID", "9876543210123456"),
            // Not ours: ignored.
            ("DSCO_LINGXING_UNRELATED", "x"),
            ("HOME", "/root"),
        ],
    );
    assert!(matches!(&s.dsco.auth, DscoAuth::Token(t) if t.expose() == "\"from-env\""));
    assert_eq!(s.console.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(
        s.console.password.as_ref().map(|p| p.expose()),
        Some("123456")
    );
    assert_eq!(s.logging.format, LogFormat::Json);
    assert_eq!(s.logging.level, "warn,engine=debug");
    assert_eq!(s.lingxing.platform_code, 10010);
    assert_eq!(s.lingxing.app_id, "9876543210123456");
}

#[test]
fn env_can_create_sections_the_file_lacks() {
    let s = load_ok(
        MINIMAL,
        &[
            ("DSCO_LINGXING__ALERTS__KIND", "feishu"),
            (
                "DSCO_LINGXING__ALERTS__WEBHOOK_URL",
                "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
            ),
            ("DSCO_LINGXING__STORE__URL", "postgres://app:pw@db:5432/dl"),
        ],
    );
    let a = s.alerts.into_iter().next().expect("alerts from env");
    assert_eq!(a.kind, AlertKind::Feishu);
    assert!(a.sign_secret.is_none());
    assert_eq!(s.store.url.kind(), StoreKind::Postgres);
    assert_eq!(
        s.store.url.to_string(),
        "postgres://app:<redacted>@db:5432/dl"
    );
}

#[test]
fn env_overrides_reach_the_runtime_config_and_keep_mapping_key_case() {
    let text = format!(
        "{}\n[runtime_config.mapping.warehouse]\nWhEast = \"1300\"\n",
        with_job("ack_to_dsco", GOOD_JOB)
    );
    let s = load_ok(
        &text,
        &[
            (
                "DSCO_LINGXING__RUNTIME_CONFIG__JOBS__ACK_TO_DSCO__SIZE",
                "50",
            ),
            (
                "DSCO_LINGXING__RUNTIME_CONFIG__JOBS__ACK_TO_DSCO__ENABLE",
                "false",
            ),
            (
                "DSCO_LINGXING__RUNTIME_CONFIG__MAPPING__WAREHOUSE__WHEAST",
                "1400",
            ),
            ("DSCO_LINGXING__RUNTIME_CONFIG__WRITES_ENABLED", "false"),
        ],
    );
    let rc = s.runtime_config.unwrap().config;
    let ack = &rc.jobs[&JobName::AckToDsco];
    assert_eq!(ack.size, 50);
    assert!(!ack.enable);
    assert_eq!(ack.schedule.as_str(), "0 */5 * * * *");
    assert_eq!(
        rc.mapping.warehouse.get("WhEast").map(|w| w.as_str()),
        Some("1400")
    );
    assert_eq!(rc.mapping.warehouse.len(), 1);
    assert!(!rc.writes_enabled());
}

#[test]
fn env_cannot_descend_into_a_scalar() {
    let ps = problems(MINIMAL, &[("DSCO_LINGXING__DSCO__TOKEN__VALUE", "x")]);
    let p = ps
        .iter()
        .find(|p| p.path == "DSCO_LINGXING__DSCO__TOKEN__VALUE")
        .unwrap_or_else(|| panic!("{ps:#?}"));
    assert!(
        p.problem
            .contains("`dsco.token` is a string in the file, not a table")
    );
}

fn secret_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f
}

#[test]
fn secrets_come_from_files_without_their_trailing_newline() {
    let token = secret_file("dsco-file-token-S3CRET\n");
    let app = secret_file("lx-file-secret-S3CRET\r\n");
    let pg = secret_file("postgres://app:pg-pass-S3CRET@db.internal:5432/dl\n");
    let text = format!(
        "[dsco]\ntoken_file = \"{}\"\n[lingxing]\napp_id = \"ak_TestAppId0001\"\n[store]\nurl_file = \"{}\"\n",
        token.path().display(),
        pg.path().display()
    );
    let app_path = app.path().display().to_string();
    let s = load_ok(
        &text,
        &[("DSCO_LINGXING__LINGXING__APP_SECRET_FILE", &app_path)],
    );
    let DscoAuth::Token(t) = &s.dsco.auth else {
        panic!("expected a token")
    };
    assert_eq!(t.expose(), "dsco-file-token-S3CRET");
    assert_eq!(t.file(), Some(token.path()));
    assert_eq!(s.lingxing.app_secret.expose(), "lx-file-secret-S3CRET");
    assert_eq!(s.store.url.kind(), StoreKind::Postgres);
    assert_eq!(
        s.store.url.expose(),
        "postgres://app:pg-pass-S3CRET@db.internal:5432/dl"
    );

    // An export names the files, never their content.
    let out = s.to_redacted_toml();
    assert!(
        out.contains(&format!("token_file = \"{}\"", token.path().display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("app_secret_file = \"{app_path}\"")),
        "{out}"
    );
    assert!(!out.contains("S3CRET"), "{out}");
}

#[test]
fn an_empty_secret_file_is_refused() {
    let empty = secret_file("\n");
    let text = MINIMAL.replace(
        "token = \"dsco-token-S3CRET-1\"",
        &format!("token_file = \"{}\"", empty.path().display()),
    );
    let ps = problems(&text, &[]);
    let p = ps.iter().find(|p| p.path == "dsco.token_file").unwrap();
    assert!(p.problem.ends_with("is empty"), "{p}");
}

/// Every secret kind set to a value that must never show up in Debug, Display or an export.
const ALL_SECRETS: &str = r#"
[dsco]
base_url = "https://dsco-user:base-S3CRET-h@api.dsco.io/api/v3"
client_id = "client-id-is-not-secret"
client_secret = "oauth-S3CRET-a"

[lingxing]
base_url = "http://lx:base-S3CRET-i@127.0.0.1:18081"
app_id = "ak_TestAppId0001"
app_secret = "app-S3CRET-b"

[store]
url = "postgres://dl:pg-S3CRET-c@db:5432/dl"

[console]
listen = "0.0.0.0:8080"
password = "console-S3CRET-d"

[alerts]
kind = "dingtalk"
webhook_url = "https://oapi.dingtalk.com/robot/send?access_token=hook-S3CRET-e"
sign_secret = "sign-S3CRET-f"
"#;

#[test]
fn debug_display_and_export_never_show_secrets() {
    let s = load_ok(
        ALL_SECRETS,
        &[("DSCO_LINGXING__CONSOLE__PASSWORD", "env-S3CRET-g")],
    );
    // The values are there for the code that needs them ...
    assert_eq!(
        s.console.password.as_ref().unwrap().expose(),
        "env-S3CRET-g"
    );
    let DscoAuth::OAuth { client_secret, .. } = &s.dsco.auth else {
        panic!("expected OAuth")
    };
    assert_eq!(client_secret.expose(), "oauth-S3CRET-a");
    // ... and nowhere else.
    let debug = format!("{s:?}");
    let pretty = format!("{s:#?}");
    let displays = format!(
        "{} {} {} {} {} {}",
        client_secret,
        s.lingxing.app_secret,
        s.store.url,
        s.console.password.as_ref().unwrap(),
        s.alerts[0].webhook_url,
        s.alerts[0].sign_secret.as_ref().unwrap(),
    );
    let export = s.to_redacted_toml();
    for (what, text) in [
        ("Debug", &debug),
        ("pretty Debug", &pretty),
        ("Display", &displays),
        ("export", &export),
    ] {
        assert!(!text.contains("S3CRET"), "{what} leaks a secret:\n{text}");
    }
    assert_eq!(
        displays,
        "<redacted> <redacted> postgres://dl:<redacted>@db:5432/dl <redacted> <redacted> <redacted>"
    );
    assert!(debug.contains("client-id-is-not-secret"));
    assert!(
        export.contains("client_secret = \"<redacted>\""),
        "{export}"
    );
    assert!(
        export.contains("url = \"postgres://dl:<redacted>@db:5432/dl\""),
        "{export}"
    );
    // A password in a base URL is a secret too (issue 13, item 12).
    assert!(
        export.contains("base_url = \"https://dsco-user:<redacted>@api.dsco.io/api/v3\""),
        "{export}"
    );
    assert!(
        export.contains("base_url = \"http://lx:<redacted>@127.0.0.1:18081/\""),
        "{export}"
    );
    assert!(
        debug.contains("dsco-user:<redacted>@api.dsco.io"),
        "{debug}"
    );
}

#[test]
fn an_exported_base_url_placeholder_is_refused_on_load() {
    let export = load_ok(ALL_SECRETS, &[]).to_redacted_toml();
    // Every secret key filled back in, the base URLs left as exported.
    let refilled = export
        .replace(
            "webhook_url = \"<redacted>\"",
            "webhook_url = \"https://hook.example/x\"",
        )
        .replace("\"<redacted>\"", "\"filled-in\"")
        .replace("dl:<redacted>@db", "dl:filled-in@db");
    let err = load(&refilled, &[]).unwrap_err();
    for key in ["dsco.base_url", "lingxing.base_url"] {
        let p = err.at(key).unwrap_or_else(|| panic!("{key}: {err}"));
        assert!(p.problem.contains("placeholder"), "{p}");
    }
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn errors_about_secrets_never_quote_them() {
    // A bad webhook URL and a bad PostgreSQL URL both hold credentials.
    let text = ALL_SECRETS
        .replace(
            "https://oapi.dingtalk.com/robot/send?",
            "oapi.dingtalk.com/robot?",
        )
        .replace("@db:5432/dl", "@:5432/dl")
        .replace("https://dsco-user:", "ftp://dsco-user:")
        .replace("@127.0.0.1:18081", "@127.0.0.1:99999");
    let err = load(&text, &[]).unwrap_err();
    assert!(err.at("alerts.webhook_url").is_some(), "{err}");
    assert!(err.at("store.url").is_some(), "{err}");
    // Bad base URLs are named and shown, their passwords redacted.
    let p = err.at("dsco.base_url").expect("dsco.base_url");
    assert!(
        p.problem.contains("ftp://dsco-user:<redacted>@api.dsco.io"),
        "{p}"
    );
    assert!(err.at("lingxing.base_url").is_some(), "{err}");
    assert!(!err.to_string().contains("S3CRET"), "{err}");
    assert!(!format!("{err:?}").contains("S3CRET"), "{err:?}");
}

#[test]
fn an_export_loads_back_to_the_same_settings() {
    let first = load_ok(Settings::example_toml(), &[]).to_redacted_toml();
    assert!(
        first.contains("[runtime_config.jobs.sync_stock]"),
        "{first}"
    );
    // The placeholder is refused on load, so fill the secrets back in first.
    let refilled = first.replace(REDACTED, "filled-in");
    let second = load_ok(&refilled, &[]).to_redacted_toml();
    assert_eq!(first, second);
    assert!(load(&first, &[]).is_err(), "placeholders must not load");
}

#[test]
fn loopback_listeners_need_no_password() {
    for listen in ["127.0.0.1:8080", "[::1]:8080", "127.0.0.2:9"] {
        let s = load_ok(
            &format!("{MINIMAL}\n[console]\nlisten = \"{listen}\"\n"),
            &[],
        );
        assert!(s.console.listen.ip().is_loopback());
    }
}

#[test]
fn load_reads_the_file_and_names_it_when_missing() {
    let f = secret_file(MINIMAL);
    let s = Settings::load(f.path()).unwrap();
    assert_eq!(s.lingxing.app_id, "ak_TestAppId0001");

    let missing = std::path::Path::new("/nonexistent/dsco-lingxing.toml");
    let err = Settings::load(missing).unwrap_err();
    assert_eq!(err.problems[0].path, "/nonexistent/dsco-lingxing.toml");
    assert!(err.problems[0].problem.starts_with("cannot read"));
}

/// A real argon2id hash of `correct horse battery` (made by `console hash-password`).
fn users_file(hash: &str, extra: &str) -> String {
    format!(
        "{MINIMAL}\n[console]\nlisten = \"0.0.0.0:8080\"\nsession_idle_minutes = 5\nsecure_cookie = true\n{extra}\n[[console.users]]\nname = \"li.lei\"\nrole = \"admin\"\npassword_hash = \"{hash}\"\n\n[[console.users]]\nname = \"han.mei\"\nrole = \"viewer\"\npassword_hash = \"{hash}\"\n"
    )
}

#[test]
fn console_users_load_and_their_hashes_never_show() {
    let hash = console::hash_password("correct horse battery").unwrap();
    let s = load_ok(&users_file(&hash, ""), &[]);
    let c = &s.console;
    assert_eq!(c.users.len(), 2);
    assert_eq!(c.users[0].name, "li.lei");
    assert_eq!(c.users[1].role, console::Role::Viewer);
    assert_eq!(c.session_idle_minutes, 5);
    assert!(c.secure_cookie);
    assert_eq!(c.login, cli::settings::LoginMode::Auto);
    assert_eq!(c.login_users().len(), 2);
    // The hash is a secret: not in Debug, not in the export (the placeholder instead).
    let phc_tail = hash.rsplit('$').next().unwrap();
    assert!(!format!("{s:?}").contains(phc_tail));
    let export = s.to_redacted_toml();
    assert!(!export.contains(phc_tail), "{export}");
    assert!(!export.contains("$argon2id$"), "{export}");
    assert!(export.contains("name = \"li.lei\""), "{export}");
    assert!(
        export.contains(&format!("password_hash = \"{REDACTED}\"")),
        "{export}"
    );
    // Loading the export is refused at the placeholder, naming the user's key.
    let err = load(&export, &[]).unwrap_err();
    assert!(err.at("console.users[0].password_hash").is_some(), "{err}");
}

#[test]
fn the_predecessors_password_is_the_user_admin() {
    let s = load_ok(
        &format!("{MINIMAL}\n[console]\nlisten = \"0.0.0.0:8080\"\npassword = \"pw-S3CRET-9\"\n"),
        &[],
    );
    let users = s.console.login_users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "admin");
    assert_eq!(users[0].role, console::Role::Admin);
    assert!(!format!("{users:?}").contains("S3CRET"));
}

#[test]
fn bad_console_users_are_named_by_index_and_key() {
    let hash = console::hash_password("correct horse battery").unwrap();
    let cases = [
        (
            users_file("hunter2", ""),
            "console.users[0].password_hash",
            "hash-password",
        ),
        (
            users_file(&hash, "").replace("role = \"viewer\"", "role = \"root\""),
            "console.users[1].role",
            "must be admin or viewer",
        ),
        (
            users_file(&hash, "").replace("han.mei", "li.lei"),
            "console.users[1].name",
            "given twice",
        ),
        (
            users_file(&hash, "login = \"sometimes\""),
            "console.login",
            "must be auto or always",
        ),
        (
            users_file(&hash, "").replace("session_idle_minutes = 5", "session_idle_minutes = 0"),
            "console.session_idle_minutes",
            "from 1 to 10080",
        ),
        (
            format!("{MINIMAL}\n[console]\nlogin = \"always\"\n"),
            "console.users",
            "console.login is `always`",
        ),
        (
            users_file(&hash, "")
                .replace("role = \"admin\"\n", "role = \"admin\"\nemail = \"x\"\n"),
            "console.users[0].email",
            "unknown key",
        ),
    ];
    for (text, path, problem) in cases {
        let err = load(&text, &[]).unwrap_err();
        let p = err
            .at(path)
            .unwrap_or_else(|| panic!("no problem at {path}: {err}"));
        assert!(p.problem.contains(problem), "{path}: {}", p.problem);
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
