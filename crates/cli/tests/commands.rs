//! The real binary, run as a user would, against a SQLite file in a temporary folder.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn env_with(extra: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dsco-lingxing.toml");
    let text = format!(
        r#"
[dsco]
client_id = "client-1"
client_secret = "dsco-secret-value"

[lingxing]
app_id = "ak_SimulatorApp1"
app_secret = "lingxing-secret-value"

[store]
url = "sqlite://{}/store.db"

[exports]
dir = "{}/exports"
{extra}
"#,
        dir.path().display(),
        dir.path().display()
    );
    std::fs::write(&config, text).unwrap();
    Env { dir, config }
}

fn bin(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("DSCO_LINGXING_CONFIG")
        .env("USER", "tester")
        .output()
        .unwrap()
}

/// `config import FILE --reason REASON EXTRA…`.
fn import(env: &Env, file: &Path, reason: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "config",
        "import",
        file.to_str().unwrap(),
        "--reason",
        reason,
    ];
    args.extend_from_slice(extra);
    bin(env, &args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The predecessor's runtime_config row: every job, non-empty mappings.
fn legacy(pairs_enabled: bool) -> Value {
    json!({
        "domain": "dsco_lingxing",
        "jobs": {
            "pull_dsco_orders": {"enable": true, "cron": "0 */5 * * * *", "size": 500},
            "push_to_lingxing": {"enable": true, "cron": "0 */15 * * * *", "size": 50},
            "ack_to_dsco": {"enable": true, "cron": "0 */15 * * * *", "size": 100, "multi_ban": false},
            "ship_to_dsco": {"enable": true, "cron": "0 */15 * * * *", "size": 100, "multi_ban": true},
            "invoice_to_dsco": {"enable": false, "cron": "0 0 * * * *", "size": 100, "multi_ban": false},
            "sync_stock": {"enable": true, "cron": "0 0 */2 * * *", "size": 1000, "sync": false, "use_stream": false},
            "pull_sku_pair": {"enable": pairs_enabled, "cron": "0 30 3 * * *", "size": 200},
            "cleanup_exports": {"enable": true, "cron": "0 0 4 * * 0", "size": 1}
        },
        "mapping": {
            "shop": {"1000012345": "110283406273996288", "1000023456": "110283406273996289"},
            "warehouse": {"US-CA-01": "1300", "US-NJ-01": "1301"},
            "shipment": {"US-CA-01-UPCG": "101", "US-NJ-01-FECG": "202"},
            "sku": {"SKU-1": "LX-SKU-1", "SKU-1001": "LX-1001"}
        }
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn predecessor_json_imports_and_exports_unchanged() {
    let env = env_with("");
    let file = write(env.dir.path(), "runtime_config.json", &legacy(true));
    let out = import(&env, &file, "first import", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("mapping.sku: 2 entries as `pair`"),
        "{}",
        text(&out)
    );
    let out = bin(&env, &["config", "export", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported, legacy(true), "round trip loses nothing");

    // Importing the same row wrapped as the whole DB row, with pairs off: SKUs become manual.
    let row = json!({"id": 1, "domain": "dsco_lingxing", "config": legacy(false), "updated_at": 1767225600});
    let file = write(env.dir.path(), "row.json", &row);
    let out = import(&env, &file, "first import", &[]);
    assert!(text(&out).contains("as `manual`"), "{}", text(&out));
}

#[test]
fn export_never_shows_secrets() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let out = bin(&env, &["config", "export"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        !t.contains("dsco-secret-value") && !t.contains("lingxing-secret-value"),
        "{t}"
    );
    assert!(t.contains("<redacted>"));
    assert!(
        t.contains("[runtime_config.mapping.shop]") || t.contains("[runtime_config.mapping]"),
        "{t}"
    );
    assert!(
        t.contains("110283406273996289"),
        "store's runtime config exported: {t}"
    );
}

/// The store's audit log, newest first (the CLI has no audit command).
fn audit(env: &Env) -> Vec<store::AuditRecord> {
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            store::connect(&url)
                .await
                .unwrap()
                .audit_log(100)
                .await
                .unwrap()
        })
}

fn export_json(env: &Env) -> Value {
    let out = bin(env, &["config", "export", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Issue 13 item 1: a file with one job's settings replaced the whole runtime config.
#[test]
fn a_partial_import_never_drops_jobs_or_mappings_silently() {
    let env = env_with("");
    let full = write(env.dir.path(), "rc.json", &legacy(false));
    let out = import(&env, &full, "first", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let partial = env.dir.path().join("sync_stock.toml");
    std::fs::write(
        &partial,
        "[runtime_config.jobs.sync_stock]\nenable = true\ncron = \"0 */5 * * * *\"\nsize = 1000\nsync = false\nuse_stream = false\n",
    )
    .unwrap();

    for extra in [&[][..], &["--dry-run"][..]] {
        let out = import(&env, &partial, "faster stock", extra);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        for dropped in [
            "- runtime_config.jobs.push_to_lingxing: {",
            "- runtime_config.mapping.shop.\"1000012345\": \"110283406273996288\"",
            "- runtime_config.mapping.warehouse.\"US-CA-01\"",
            "- runtime_config.mapping.shipment.\"US-NJ-01-FECG\"",
            "- runtime_config.mapping.sku.\"SKU-1\": \"LX-SKU-1\"",
        ] {
            assert!(t.contains(dropped), "{dropped} missing from:\n{t}");
        }
        assert!(
            t.contains(
                "~ runtime_config.jobs.sync_stock.cron: \"0 0 */2 * * *\" → \"0 */5 * * * *\""
            ),
            "{t}"
        );
        assert!(
            t.contains("refused") && t.contains("--replace") && t.contains("--merge"),
            "{t}"
        );
        assert!(
            t.contains("-jobs.push_to_lingxing") && t.contains("mapping.shop -2, mapping.sku -2"),
            "{t}"
        );
        assert_eq!(export_json(&env), legacy(false), "nothing written");
    }

    // --merge keeps everything the file does not name.
    let out = import(&env, &partial, "faster stock", &["--merge"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut expected = legacy(false);
    expected["jobs"]["sync_stock"]["cron"] = json!("0 */5 * * * *");
    expected["jobs"]["sync_stock"]["size"] = json!(1000);
    assert_eq!(export_json(&env), expected);
    let a = &audit(&env)[0].entry;
    assert_eq!(a.action, "config.import");
    assert_eq!(a.actor, "cli:tester");
    assert_eq!(a.reason, "faster stock");
    assert_eq!(a.detail["from_version"], 1);
    assert_eq!(a.detail["to_version"], 2);
    assert_eq!(a.detail["summary"], "jobs.sync_stock ~1");
    // The same merge again changes nothing and writes nothing.
    let out = import(&env, &partial, "again", &["--merge"]);
    assert!(text(&out).contains("nothing to write"), "{}", text(&out));

    // --replace drops, on purpose, and says what.
    let out = import(&env, &partial, "only stock now", &["--replace"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("- runtime_config.jobs.push_to_lingxing"), "{t}");
    let v = export_json(&env);
    assert_eq!(v["jobs"].as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["mapping"]["sku"], json!({}), "{v}");
    // A reason is required, and may not be blank.
    let out = bin(&env, &["config", "import", partial.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--reason"), "{}", text(&out));
    let out = import(&env, &partial, " ", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn config_set_diff_history_and_rollback() {
    let env = env_with("");
    let full = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &full, "first", &[]).status.success());
    let set = |k: &str, v: &str, why: &str| bin(&env, &["config", "set", k, v, "--reason", why]);

    let out = set("jobs.push_to_lingxing.size", "100", "bigger batches");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("~ runtime_config.jobs.push_to_lingxing.size: 50 → 100"),
        "{}",
        text(&out)
    );
    // A bad value: config check's message, exit 2, nothing written.
    let out = set("jobs.push_to_lingxing.size", "0", "oops");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "runtime_config.jobs.push_to_lingxing.size: must be a whole number above 0, got 0"
        ),
        "{}",
        text(&out)
    );
    let out = set("jobs.sync_stock.cron", "*/5 * * * *", "oops");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("runtime_config.jobs.sync_stock.cron")
            && text(&out).contains("5 fields"),
        "{}",
        text(&out)
    );
    assert_eq!(export_json(&env)["jobs"]["push_to_lingxing"]["size"], 100);
    let out = bin(&env, &["config", "set", "writes_enabled", "false"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a reason is required: {}",
        text(&out)
    );

    assert!(
        set("jobs.sync_stock.enable", "false", "stock paused")
            .status
            .success()
    );
    assert!(
        set(
            "mapping.shop.1000034567",
            "110283406273996290",
            "new retailer"
        )
        .status
        .success()
    );
    assert!(set("writes_enabled", "false", "freeze").status.success());
    let out = set("mapping.sku.SKU-9", "LX-9", "hand mapping");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("+ runtime_config.mapping.sku.\"SKU-9\": \"LX-9\""),
        "{}",
        text(&out)
    );
    let v = export_json(&env);
    assert_eq!(v["writes_enabled"], false);
    assert_eq!(v["jobs"]["sync_stock"]["enable"], false);
    assert_eq!(v["mapping"]["shop"]["1000034567"], "110283406273996290");
    assert_eq!(v["mapping"]["sku"]["SKU-9"], "LX-9");
    let a = audit(&env);
    assert!(
        a.iter()
            .any(|r| r.entry.action == "sku.set_manual" && r.entry.reason == "hand mapping")
    );
    let set_entry = a
        .iter()
        .find(|r| r.entry.action == "config.set" && r.entry.reason == "freeze")
        .unwrap();
    assert_eq!(set_entry.entry.actor, "cli:tester");
    assert_eq!(set_entry.entry.detail["from_version"], 4);
    assert_eq!(set_entry.entry.detail["to_version"], 5);
    assert_eq!(set_entry.entry.detail["summary"], "+writes_enabled");

    // diff: previous vs running; one version vs running; two versions.
    let out = bin(&env, &["config", "diff"]);
    assert!(
        text(&out).contains("v4 → v5:\n  + runtime_config.writes_enabled: false"),
        "{}",
        text(&out)
    );
    let out = bin(&env, &["config", "diff", "1", "2"]);
    assert!(
        text(&out).contains("~ runtime_config.jobs.push_to_lingxing.size: 50 → 100"),
        "{}",
        text(&out)
    );
    let out = bin(&env, &["config", "diff", "9"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = bin(&env, &["config", "diff", "--file", full.to_str().unwrap()]);
    let t = text(&out);
    assert!(
        t.contains("- runtime_config.mapping.shop.\"1000034567\""),
        "{t}"
    );
    assert!(t.contains("- runtime_config.mapping.sku.\"SKU-9\""), "{t}");

    let out = bin(&env, &["config", "history"]);
    let t = text(&out);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 5, "{t}");
    assert!(
        lines[0].starts_with("v5 ")
            && lines[0].contains("cli:tester")
            && lines[0].contains("freeze"),
        "{t}"
    );
    assert!(lines[0].ends_with("| +writes_enabled"), "{t}");
    assert!(
        lines[3].contains("bigger batches") && lines[3].ends_with("| jobs.push_to_lingxing ~1"),
        "{t}"
    );
    assert!(
        lines[4].starts_with("v1 ") && lines[4].contains("+jobs.ack_to_dsco"),
        "{t}"
    );

    // Rollback saves a new version equal to v1; mapping.sku (versioned apart) stays.
    let out = bin(&env, &["config", "rollback", "1", "--reason", "undo today"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("- runtime_config.writes_enabled: false"),
        "{}",
        text(&out)
    );
    let mut expected = legacy(false);
    expected["mapping"]["sku"]["SKU-9"] = json!("LX-9");
    assert_eq!(export_json(&env), expected);
    let out = bin(&env, &["config", "history", "--limit", "1"]);
    assert!(
        text(&out).starts_with("v6 ") && text(&out).contains("rollback to v1: undo today"),
        "{}",
        text(&out)
    );
    let out = bin(&env, &["config", "rollback", "7", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = bin(&env, &["config", "rollback", "6", "--reason", "x"]);
    assert!(text(&out).contains("nothing to write"), "{}", text(&out));
}

/// Issue 13 item 12: `config export` printed a password embedded in a base URL.
#[test]
fn export_and_check_never_show_any_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dsco-lingxing.toml");
    let root = dir.path().to_path_buf();
    let body = |store: &str| {
        format!(
            r#"
[dsco]
base_url = "http://dsco-user:url-S3CRET-1@127.0.0.1:18080/api/v3"
client_id = "client-1"
client_secret = "client-S3CRET-2"

[lingxing]
base_url = "http://lx-user:url-S3CRET-3@127.0.0.1:18081"
app_id = "ak_SimulatorApp1"
app_secret = "app-S3CRET-4"

[store]
url = "{store}"

[console]
listen = "0.0.0.0:18090"
password = "console-S3CRET-5"

[alerts]
kind = "dingtalk"
webhook_url = "https://oapi.dingtalk.com/robot/send?access_token=hook-S3CRET-6"
sign_secret = "sign-S3CRET-7"

[exports]
dir = "{}/exports"
"#,
            root.display()
        )
    };
    std::fs::write(
        &config,
        body(&format!("sqlite://{}/store.db", root.display())),
    )
    .unwrap();
    let env = Env { dir, config };
    let out = bin(&env, &["config", "export"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("S3CRET"), "export leaks a secret:\n{t}");
    assert!(
        t.contains("http://dsco-user:<redacted>@127.0.0.1:18080/api/v3"),
        "{t}"
    );
    let out = bin(&env, &["config", "check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("S3CRET"), "{}", text(&out));
    // A PostgreSQL password, and bad URLs that hold passwords: named, never quoted.
    let pg = env.dir.path().join("pg.toml");
    std::fs::write(&pg, body("postgres://dl:pg-S3CRET-8@db:5432/dl")).unwrap();
    let out = bin(&env, &["config", "check", pg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("S3CRET"), "{}", text(&out));
    let bad = env.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        body("postgres://dl:pg-S3CRET-8@:5432/dl")
            .replace("http://dsco-user", "ftp://dsco-user")
            .replace("https://oapi", "oapi"),
    )
    .unwrap();
    let out = bin(&env, &["config", "check", bad.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("dsco.base_url") && t.contains("store.url") && t.contains("alerts.webhook_url"),
        "{t}"
    );
    assert!(!t.contains("S3CRET"), "check leaks a secret:\n{t}");
}

#[test]
fn bad_config_names_the_key_and_exits_2() {
    let env = env_with(
        "[runtime_config.jobs.push_to_lingxing]\nenable = true\ncron = \"*/15 * * * *\"\nsize = 0\n",
    );
    let out = bin(&env, &["config", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("runtime_config.jobs.push_to_lingxing.cron"),
        "{t}"
    );
    assert!(t.contains("5 fields"), "{t}");
    assert!(
        t.contains("runtime_config.jobs.push_to_lingxing.size"),
        "{t}"
    );
    // A bad JSON import is refused and nothing is stored.
    let good = env_with("");
    let mut bad = legacy(false);
    bad["jobs"]["push_to_lingxin"] = json!({"enable": true, "cron": "0 * * * * *", "size": 1});
    let file = write(good.dir.path(), "bad.json", &bad);
    let out = import(&good, &file, "bad", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("runtime_config.jobs.push_to_lingxin: unknown job"),
        "{}",
        text(&out)
    );
    let out = bin(&good, &["config", "export", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jobs"], json!({}), "nothing was imported");
    // Duplicate keys in JSON are refused, not silently merged.
    let dup = good.dir.path().join("dup.json");
    std::fs::write(
        &dup,
        r#"{"domain":"dsco_lingxing","jobs":{},"mapping":{"shop":{"1":"a","1":"b"}}}"#,
    )
    .unwrap();
    let out = bin(&good, &["config", "check", dup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("duplicate key \"1\""), "{}", text(&out));
}

#[test]
fn job_list_run_and_order_show() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let out = bin(&env, &["job", "list"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("push_to_lingxing  enabled, cron `0 */15 * * * *` (UTC)"),
        "{t}"
    );
    assert!(t.contains("invoice_to_dsco  disabled"), "{t}");
    assert_eq!(
        t.matches("next: ").count(),
        6 * 3,
        "three fires for each of the 6 enabled jobs: {t}"
    );
    assert!(t.contains("CST"), "display time zone shown: {t}");

    let out = bin(&env, &["job", "run", "push_to_lingxing", "--dry-run"]);
    let t = text(&out);
    // Nothing pulled yet: the push has nothing to do and calls nobody.
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("succeeded") && t.contains("processed 0"), "{t}");
    let out = bin(&env, &["job", "run", "push_to_lingxin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unknown job `push_to_lingxin`"));

    let out = bin(&env, &["order", "show", "PO-404"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no order PO-404"));
    assert!(bin(&env, &["migrate"]).status.success());
}

/// A loopback port nobody listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` until something answers (30 s at most); the raw response.
fn get_when_up(addr: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = get(addr, path) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered {path} on {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGTERM to `child` and waits for it to exit.
fn terminate(child: std::process::Child) -> Output {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `run` in the background, its stderr kept for the end.
fn spawn_run(env: &Env) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--config")
        .arg(&env.config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn run_serves_health_and_metrics_and_stops_on_sigterm() {
    let port = free_port();
    let env = env_with(&format!(
        "[console]\nlisten = \"127.0.0.1:{port}\"\n\n[runtime_config.jobs.cleanup_exports]\nenable = true\ncron = \"* * * * * *\"\nsize = 1\n"
    ));
    let child = spawn_run(&env);
    let addr = format!("127.0.0.1:{port}");
    let health = get_when_up(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.contains("\"runtime_config_version\":1"),
        "first start imported the file's runtime config: {health}"
    );
    // Let the one-second cron fire at least once, then read the metrics.
    std::thread::sleep(Duration::from_millis(2500));
    let ready = get(&addr, "/readyz").unwrap();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(
        ready.contains("\"status\":\"ready\"")
            && ready.contains("\"name\":\"job:cleanup_exports\""),
        "{ready}"
    );
    // The console's pages beside them (loopback), with their security headers.
    let page = get(&addr, "/").unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("content-security-policy") && page.contains("<!doctype html>"),
        "{page}"
    );
    let metrics = get(&addr, "/metrics").unwrap();
    assert!(metrics.contains("dl_job_runs_total"), "{metrics}");
    assert!(
        metrics.contains("job=\"cleanup_exports\"") && metrics.contains("outcome=\"succeeded\""),
        "{metrics}"
    );
    let out = terminate(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing left running: the lease was freed and every run closed.
    let out = bin(&env, &["job", "run", "cleanup_exports"]);
    assert!(text(&out).contains("succeeded"), "{}", text(&out));
}

/// Without login the pages are not served on a non-loopback address; health and metrics are.
#[test]
fn run_serves_no_pages_on_a_non_loopback_address() {
    let port = free_port();
    let env = env_with(&format!(
        "[console]\nlisten = \"0.0.0.0:{port}\"\npassword = \"console-secret\"\n"
    ));
    let child = spawn_run(&env);
    let addr = format!("127.0.0.1:{port}");
    let health = get_when_up(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let page = get(&addr, "/").unwrap();
    assert!(page.starts_with("HTTP/1.1 404"), "{page}");
    let out = terminate(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("console.listen (0.0.0.0:") && err.contains("loopback"),
        "{err}"
    );
    assert!(!err.contains("console-secret"));
}

/// `order show` reads the same read model as the console's order page.
#[test]
fn order_show_explains_a_stored_order() {
    let env = env_with("");
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let s = store::connect(&url).await.unwrap();
            let now = chrono::Utc::now();
            let lease = s
                .try_acquire_lease(
                    domain::JobName::PushToLingxing,
                    "t",
                    "run-1",
                    now,
                    Duration::from_secs(600),
                )
                .await
                .unwrap()
                .unwrap();
            let po = domain::PoNumber::parse("PO-SHOW-1").unwrap();
            let pulled = store::PulledOrder {
                po: po.clone(),
                dsco_order_id: None,
                retailer_id: Some("1000099999".into()),
                dsco_status: Some("created".into()),
                dsco_lifecycle: None,
                dsco_created_at: Some(now),
                dsco_updated_at: Some(now),
                warehouse_code: Some("US-CA-01".into()),
                service_level: None,
                skus: "SKU-1(1)".into(),
                payload: json!({"poNumber": "PO-SHOW-1"}).into(),
            };
            s.upsert_pulled(
                &pulled,
                domain::Stage::Pulled,
                Some("run-1"),
                now,
                &lease.fence(),
            )
            .await
            .unwrap();
            let e = store::NewEvent {
                po,
                at: now,
                job: Some(domain::JobName::PushToLingxing),
                run_id: Some("run-1".into()),
                actor: None,
                from_stage: None,
                to_stage: None,
                outcome: store::EventOutcome::Skipped,
                reason_code: Some("shop_unmapped".into()),
                reason_kind: Some(domain::ReasonKind::NeedsAttention),
                detail: "1000099999".into(),
            };
            s.record_event(&e, None, Some(&lease.fence()))
                .await
                .unwrap();
        });
    let out = bin(&env, &["order", "show", "PO-SHOW-1"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("stage: 1 待推单 / pulled"), "{t}");
    assert!(
        t.contains("reason: shop_unmapped (needs_attention / 需处理)"),
        "{t}"
    );
    let zh = domain::ReasonCode::ShopUnmapped.message_zh("1000099999");
    let en = domain::ReasonCode::ShopUnmapped.message_en("1000099999");
    let (zi, ei) = (t.find(&zh).expect("zh"), t.find(&en).expect("en"));
    assert!(zi < ei, "the display language (zh-CN) first: {t}");
    assert!(
        t.contains("push_to_lingxing skipped [shop_unmapped] 1000099999"),
        "{t}"
    );
}

#[test]
fn sim_lingxing_serves_until_sigterm() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args(["sim", "lingxing", "--listen", &format!("127.0.0.1:{port}")])
        .env("DSCO_LINGXING_CONFIG", "/nonexistent/needs-no-config.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let stats = get_when_up(&addr, "/__admin/stats");
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
    let out = terminate(child);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ak_SimulatorApp1"));
}

#[test]
fn sim_dsco_serves_generated_orders() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args([
            "sim",
            "dsco",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--orders",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let calls = get_when_up(&addr, "/__admin/calls");
    assert!(calls.starts_with("HTTP/1.1 200"), "{calls}");
    let out = terminate(child);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 orders"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `run` on a store that refuses writes says "read-only", names the store and exits non-zero
/// before it serves anything.
#[test]
fn run_refuses_a_read_only_store_before_serving() {
    let port = free_port();
    let env = env_with(&format!("[console]\nlisten = \"127.0.0.1:{port}\"\n"));
    assert!(bin(&env, &["migrate"]).status.success());
    // The same file, opened read-only.
    let db = format!("{}/store.db", env.dir.path().display());
    let config = std::fs::read_to_string(&env.config).unwrap().replace(
        &format!("url = \"sqlite://{db}\""),
        &format!("url = \"sqlite://{db}?mode=ro\""),
    );
    assert!(config.contains("?mode=ro"));
    std::fs::write(&env.config, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--config")
        .arg(&env.config)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "`run` on a read-only store kept running: {}",
                text(&child.wait_with_output().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("read-only") && t.contains(&db), "{t}");
    assert!(!t.contains("serving"), "{t}");
    assert!(get(&format!("127.0.0.1:{port}"), "/healthz").is_none());
}

/// The store at `url` and pull_dsco_orders' lease on it (run `run-1`), as a run holds it, for
/// writing to the store directly.
async fn pull_lease(url: &str) -> (std::sync::Arc<dyn store::Store>, store::Lease) {
    let s = store::connect(url).await.unwrap();
    let lease = s
        .try_acquire_lease(
            domain::JobName::PullDscoOrders,
            "test",
            "run-1",
            chrono::Utc::now(),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
        .unwrap();
    (s, lease)
}

/// data defects (issue 13): a DSCO order without a poNumber never becomes an order; `order
/// stuck` lists it by dscoOrderId and `order show <dscoOrderId>` shows why, in both languages.
#[test]
fn an_order_without_a_po_is_listed_and_shown() {
    let env = env_with("");
    assert!(bin(&env, &["migrate"]).status.success());
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (s, lease) = pull_lease(&url).await;
        let now = chrono::Utc::now();
        let payload = json!({"dscoOrderId": "1025400077", "lineItems": []});
        s.record_unreadable_orders(
            &[store::UnreadableOrder {
                dsco_order_id: "1025400077".into(),
                reason_code: "po_missing".into(),
                detail: "dscoOrderId 1025400077: poNumber must not be empty".into(),
                payload: domain::order::RawJson::from_value(&payload),
            }],
            now,
            &lease.fence(),
        )
        .await
        .unwrap();
    });
    let out = bin(&env, &["order", "stuck"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("(no poNumber)") && t.contains("dscoOrderId 1025400077  first seen"),
        "{t}"
    );
    assert!(
        t.contains("A DSCO order has no poNumber (dscoOrderId 1025400077"),
        "{t}"
    );
    assert!(t.contains("DSCO 订单没有 poNumber"), "{t}");
    assert!(!t.contains("no stuck orders"), "{t}");
    let out = bin(&env, &["order", "show", "1025400077"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("dscoOrderId 1025400077: not stored as an order") && t.contains("read 1 times"),
        "{t}"
    );
}

/// `order show` and `job list` read the store named by `--store URL`, with no config file
/// (issue 15); a URL that is bad or does not open is named with its password redacted.
#[test]
fn order_show_and_job_list_take_a_store_url_instead_of_a_config_file() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (s, lease) = pull_lease(&url).await;
        let now = chrono::Utc::now();
        let pulled = store::PulledOrder {
            po: domain::PoNumber::parse("PO-URL-1").unwrap(),
            dsco_order_id: None,
            retailer_id: Some("1000012345".into()),
            dsco_status: Some("created".into()),
            dsco_lifecycle: None,
            dsco_created_at: Some(now),
            dsco_updated_at: Some(now),
            warehouse_code: Some("US-CA-01".into()),
            service_level: None,
            skus: "SKU-1(1)".into(),
            payload: json!({"poNumber": "PO-URL-1"}).into(),
        };
        s.upsert_pulled_many(
            &[(pulled, domain::Stage::Pulled)],
            Some("run-1"),
            now,
            &lease.fence(),
        )
        .await
        .unwrap();
    });
    // No config file here: without --store the commands refuse (bad input).
    let none = Env {
        config: env.dir.path().join("missing.toml"),
        dir: tempfile::tempdir().unwrap(),
    };
    let out = bin(&none, &["order", "show", "PO-URL-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let out = bin(&none, &["order", "show", "PO-URL-1", "--store", &url]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("PO PO-URL-1") && t.contains("stage: 1 待推单 / pulled"),
        "{t}"
    );
    assert!(t.contains("retailer 1000012345"), "{t}");

    let out = bin(&none, &["job", "list", "--store", &url]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("push_to_lingxing  enabled, cron `0 */15 * * * *` (UTC)"),
        "{t}"
    );
    assert!(t.contains("CST"), "the default display zone: {t}");

    // A URL that is not a store's, for each command: bad input, password redacted.
    let bad = "mysql://app:hunter2-secret@db/x";
    let commands: [&[&str]; 2] = [
        &["order", "show", "PO-URL-1", "--store", bad],
        &["job", "list", "--store", bad],
    ];
    for args in commands {
        let out = bin(&none, args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("--store") && t.contains("<redacted>"), "{t}");
        assert!(!t.contains("hunter2-secret"), "{t}");
    }
    // A store that does not open: the error names it, password redacted.
    let out = bin(
        &none,
        &[
            "job",
            "list",
            "--store",
            "postgres://app:hunter2-secret@127.0.0.1:1/none",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cannot open the store postgres://app:<redacted>@127.0.0.1:1/none"),
        "{t}"
    );
    assert!(!t.contains("hunter2-secret"), "{t}");
}

/// A local bot answering every POST with `answer`; returns its base URL and what it got.
fn bot(
    rt: &tokio::runtime::Runtime,
    answer: Value,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::Uri;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let g = got.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, body: String| {
        let g = g.clone();
        let answer = answer.to_string();
        async move {
            g.lock().unwrap().push(format!("{uri} {body}"));
            ([("content-type", "application/json")], answer)
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[test]
fn alert_test_sends_to_each_channel_and_reports_the_answer() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (wecom, wecom_got) = bot(&rt, json!({"errcode": 0, "errmsg": "ok"}));
    let (ding, _) = bot(&rt, json!({"errcode": 310000, "errmsg": "sign not match"}));
    let env = env_with(&format!(
        r#"
[[alerts]]
name = "ops"
kind = "wecom"
webhook_url = "{wecom}/cgi-bin/webhook/send?key=hook-S3CRET-1"
keyword = "DL"

[[alerts]]
name = "ding"
kind = "dingtalk"
webhook_url = "{ding}/robot/send?access_token=hook-S3CRET-2"
sign_secret = "SECsign-S3CRET-3"
"#
    ));
    let out = bin(&env, &["alert", "test"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("ops (wecom): delivered"), "{t}");
    assert!(
        t.contains("ding (dingtalk): REFUSED: 310000 sign not match"),
        "{t}"
    );
    assert!(!t.contains("S3CRET"), "a secret in the output:\n{t}");
    let got = wecom_got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("key=hook-S3CRET-1"), "{got:?}");
    assert!(
        got[0].contains("DL [提示] dsco-lingxing 告警测试消息"),
        "{got:?}"
    );

    let out = bin(&env, &["alert", "test", "--to", "ops"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("ding"), "{}", text(&out));
    assert_eq!(wecom_got.lock().unwrap().len(), 2);

    let out = bin(&env, &["alert", "test", "--to", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("channels: ops, ding"), "{}", text(&out));

    // The export names the channels with their secrets redacted.
    let out = bin(&env, &["config", "export"]);
    let t = text(&out);
    assert!(
        t.contains("[[alerts]]") && t.contains("name = \"ding\""),
        "{t}"
    );
    assert!(!t.contains("S3CRET"), "{t}");
}
