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
    create_store(dir.path());
    Env { dir, config }
}

/// Only `migrate`, `run` and `demo` create a store; the other commands need it to exist. The
/// tests' stores are `store.db` in their folder.
fn create_store(dir: &Path) {
    let url = format!("sqlite://{}/store.db", dir.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { store::connect(&url).await.unwrap() });
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
    create_store(dir.path());
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
    let env = env_with("[console]\nlanguage = \"en\"\n");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let out = bin(&env, &["job", "list"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("push_to_lingxing  enabled, cron `0 */15 * * * *` (UTC)"),
        "{t}"
    );
    assert!(
        t.contains("create orders in LingXing") && !t.contains("推单到领星"),
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

/// A loopback TCP socket bound to a free port and never listening: while it lives no one else
/// can take the port, and a connection to it is refused.
fn closed_port() -> socket2::Socket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    s
}

fn port_of(s: &socket2::Socket) -> u16 {
    s.local_addr().unwrap().as_socket().unwrap().port()
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

pub fn get(addr: &str, path: &str) -> Option<String> {
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
    // Issue 17 item 11: described metrics, the store's gauges, histograms with buckets (stuck
    // counts need the jobs that move orders, which this config does not have).
    for help in [
        "# HELP dl_job_runs_total ",
        "# HELP dl_orders ",
        "# HELP dl_orders_needs_attention ",
        "# HELP dl_job_last_success_timestamp_seconds ",
        "# HELP dl_job_run_seconds ",
    ] {
        assert!(metrics.contains(help), "{help} missing: {metrics}");
    }
    for line in [
        "dl_orders{stage=\"1\",label=\"pulled\"} 0",
        "dl_orders_needs_attention 0",
        "dl_orders_held 0",
        "dl_job_last_success_timestamp_seconds{job=\"cleanup_exports\"} ",
        "dl_job_run_seconds_bucket{job=\"cleanup_exports\",le=\"0.5\"} ",
    ] {
        assert!(metrics.contains(line), "{line} missing: {metrics}");
    }
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

/// With login (the predecessor's `console.password`: the user `admin`) the pages are served on
/// a non-loopback address, behind the login form; health and metrics stay open.
#[test]
fn run_serves_pages_behind_login_on_a_non_loopback_address() {
    let port = free_port();
    let env = env_with(&format!(
        "[console]\nlisten = \"0.0.0.0:{port}\"\npassword = \"console-secret\"\n"
    ));
    let child = spawn_run(&env);
    let addr = format!("127.0.0.1:{port}");
    let health = get_when_up(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let page = get(&addr, "/orders?stage=2").unwrap();
    assert!(page.starts_with("HTTP/1.1 303"), "{page}");
    assert!(
        page.contains("location: /login?next=%2Forders%3Fstage%3D2"),
        "{page}"
    );
    let login = get(&addr, "/login").unwrap();
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    assert!(login.contains("name=\"password\""), "{login}");
    assert!(!login.contains("console-secret"));
    let out = terminate(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("console-secret"), "{err}");
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
            store::testing::upsert_pulled(
                &*s,
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
                reason_code: Some(domain::ReasonCode::ShopUnmapped),
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
    assert!(t.contains("阶段: 1 待推单"), "{t}");
    assert!(t.contains("原因: shop_unmapped (需处理)"), "{t}");
    // The display language (zh-CN) only: no English sentence beside the Chinese one.
    let zh = domain::ReasonCode::ShopUnmapped.message_zh("1000099999");
    let en = domain::ReasonCode::ShopUnmapped.message_en("1000099999");
    assert!(t.contains(&zh) && !t.contains(&en), "{t}");
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
                reason_code: domain::ReasonCode::PoMissing,
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
        t.contains("（没有 poNumber）") && t.contains("dscoOrderId 1025400077  首次读到"),
        "{t}"
    );
    // One language (zh-CN by default): no English sentence beside the Chinese one.
    assert!(
        !t.contains("A DSCO order has no poNumber (dscoOrderId 1025400077"),
        "{t}"
    );
    assert!(t.contains("DSCO 订单没有 poNumber"), "{t}");
    assert!(!t.contains("没有卡单"), "{t}");
    assert!(!t.contains("first seen") && !t.contains("last seen"), "{t}");
    let out = bin(&env, &["order", "show", "1025400077"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("dscoOrderId 1025400077: 未作为订单保存") && t.contains("读到 1 次"),
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
        t.contains("PO PO-URL-1") && t.contains("阶段: 1 待推单"),
        "{t}"
    );
    assert!(t.contains("零售商 1000012345"), "{t}");

    let out = bin(&none, &["job", "list", "--store", &url]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("push_to_lingxing  已启用, cron `0 */15 * * * *` (UTC)"),
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

/// Issue 17 item 5: a printing command whose reader went away (`order show PO | head -1`) ends
/// quietly, without a panic about "failed printing to stdout".
#[test]
fn a_closed_pipe_ends_a_printing_command_without_a_panic() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    for args in [&["job", "list"][..], &["config", "export"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
            .arg("--config")
            .arg(&env.config)
            .args(args)
            .env_remove("DSCO_LINGXING_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command prints its first line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("failed printing"),
            "{args:?}: {err}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            // Killed by SIGPIPE (13), as `ls | head` is; or done before the pipe closed.
            assert!(
                out.status.signal() == Some(13) || out.status.success(),
                "{args:?}: {:?} {err}",
                out.status
            );
        }
    }
}

/// A command that talks HTTP while it works keeps SIGPIPE ignored: a peer closing a connection
/// that is being written to must fail that call, not kill the process (`bench faults --orders
/// 600` died with rc 141 when a simulator in it wrote a page to a client already gone). Read
/// from the running process once it printed its first line, after `main` set its signals up.
#[cfg(target_os = "linux")]
#[test]
fn a_command_that_talks_http_keeps_sigpipe_ignored() {
    use std::io::BufRead;
    // Killed mid-run: its database folder goes with this one.
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args(["bench", "backlog", "--orders", "20"])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("bench backlog"), "{first}");
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .expect("SigIgn in /proc status");
    // Signal n is bit n − 1; SIGPIPE is 13.
    assert_ne!(
        ignored & (1 << 12),
        0,
        "SIGPIPE not ignored: SigIgn {ignored:x}"
    );
}

/// Issue 17 item 1: the read-only commands need only the store (a config with only `[store]`,
/// or `--store`), and a store file that does not exist is bad input for every command but
/// `migrate`/`run`/`demo`: a typo never creates an empty database that reports "no stuck
/// orders".
#[test]
fn read_commands_need_only_the_store_and_a_missing_store_is_an_error() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let store_url = format!("sqlite://{}/store.db", env.dir.path().display());
    let only_store = Env {
        config: env.dir.path().join("read.toml"),
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(
        &only_store.config,
        format!("[store]\nurl = \"{store_url}\"\n\n[console]\nlanguage = \"en\"\n"),
    )
    .unwrap();
    let reads: [&[&str]; 4] = [
        &["order", "stuck"],
        &["job", "list"],
        &["stock", "runs"],
        &["order", "show", "PO-404"],
    ];
    for args in reads {
        let out = bin(&only_store, args);
        let t = text(&out);
        assert!(!t.contains("invalid settings"), "{args:?}: {t}");
        let want = if args[1] == "show" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{args:?}: {t}");
    }
    assert!(
        text(&bin(&only_store, &["job", "list"])).contains("push_to_lingxing  enabled"),
        "the store's runtime config is read"
    );
    // A command that talks to DSCO or LingXing still needs their settings.
    let out = bin(&only_store, &["job", "run", "pull_dsco_orders"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("dsco: no DSCO credentials"),
        "{}",
        text(&out)
    );

    // A typo in the store path: an error naming it, for every command but migrate; no file made.
    let typo = env.dir.path().join("stroe.db");
    std::fs::write(
        &only_store.config,
        format!("[store]\nurl = \"sqlite://{}\"\n", typo.display()),
    )
    .unwrap();
    let typo_url = format!("sqlite://{}", typo.display());
    let full = env.dir.path().join("typo.toml");
    std::fs::write(
        &full,
        std::fs::read_to_string(&env.config)
            .unwrap()
            .replace(&store_url, &typo_url),
    )
    .unwrap();
    let full = Env {
        config: full,
        dir: tempfile::tempdir().unwrap(),
    };
    let cases: [(&Env, &[&str]); 7] = [
        (&only_store, &["order", "stuck"]),
        (&only_store, &["stock", "runs"]),
        (&env, &["job", "list", "--store", &typo_url]),
        (&full, &["config", "export"]),
        (&full, &["config", "history"]),
        (&full, &["job", "run", "pull_dsco_orders"]),
        (&full, &["sku", "conflicts"]),
    ];
    for (e, args) in cases {
        let out = bin(e, args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(
            t.contains("stroe.db") && t.contains("does not exist") && t.contains("migrate"),
            "{args:?}: {t}"
        );
        assert!(!typo.exists(), "{args:?} created the store");
    }
    let out = bin(&full, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(typo.exists(), "migrate creates the store");
    let out = bin(&only_store, &["order", "stuck"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Issue 17 item 4: `config check` refuses what `run` would (an appId of the wrong length, a log
/// level that is no level), and `run` exits 2 on them without creating or writing the store.
#[test]
fn config_check_catches_what_run_refuses_and_run_writes_nothing_first() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(env_with("").config).unwrap();
    let store = dir.path().join("fresh.db");
    let base = good
        .lines()
        .map(|l| {
            if l.starts_with("url = \"sqlite://") {
                format!("url = \"sqlite://{}\"", store.display())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cases = [
        (
            base.replace("ak_SimulatorApp1", "ak_Short"),
            "lingxing.app_id: must be 16 characters",
        ),
        (
            format!("{base}\n[logging]\nlevel = \"verbose\"\n"),
            "logging.level: unknown log level `verbose`",
        ),
        (
            format!("{base}\n[logging]\nlevel = \"warn,engine=loud\"\n"),
            "logging.level: unknown log level `loud`",
        ),
    ];
    for (file_text, want) in cases {
        let env = Env {
            config: dir.path().join("bad.toml"),
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(&env.config, &file_text).unwrap();
        for args in [&["config", "check"][..], &["run"][..], &["migrate"][..]] {
            let out = bin(&env, args);
            let t = text(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
            assert!(t.contains(want), "{args:?}: {t}");
            assert!(
                !store.exists(),
                "{args:?} created the store before refusing"
            );
        }
    }
}

/// An order to seed: PO, how long ago it entered stage 1, and the reason push_to_lingxing
/// skipped it for (code, kind, detail), if any.
type Seed<'a> = (
    &'a str,
    chrono::TimeDelta,
    Option<(&'a str, domain::ReasonKind, &'a str)>,
);

/// Orders at stage 1 written to the env's store directly (as a pull and a push would).
fn seed(env: &Env, orders: &[Seed<'_>]) {
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = store::connect(&url).await.unwrap();
        let now = chrono::Utc::now();
        let lease = s
            .try_acquire_lease(
                domain::JobName::PushToLingxing,
                "test",
                "run-seed",
                now,
                Duration::from_secs(600),
            )
            .await
            .unwrap()
            .unwrap();
        s.insert_run(
            &store::NewRun {
                id: "run-seed".into(),
                job: domain::JobName::PushToLingxing,
                trigger: domain::Trigger::Cli,
                scheduled_for: None,
                started_at: now - chrono::TimeDelta::seconds(3),
                holder: "test".into(),
                dry_run: false,
                only_po: None,
                config_version: None,
            },
            &lease.fence(),
        )
        .await
        .unwrap();
        let mut counts = domain::RunCounts::default();
        for (po, ago, reason) in orders {
            counts.processed += 1;
            let at = now - *ago;
            let po = domain::PoNumber::parse(po).unwrap();
            let pulled = store::PulledOrder {
                po: po.clone(),
                dsco_order_id: None,
                retailer_id: Some("1000012345".into()),
                dsco_status: Some("created".into()),
                dsco_lifecycle: None,
                dsco_created_at: Some(at),
                dsco_updated_at: Some(at),
                warehouse_code: Some("US-CA-01".into()),
                service_level: None,
                skus: "SKU-1(1)".into(),
                payload: json!({"poNumber": po.as_str()}).into(),
            };
            store::testing::upsert_pulled(
                &*s,
                &pulled,
                domain::Stage::Pulled,
                Some("run-seed"),
                at,
                &lease.fence(),
            )
            .await
            .unwrap();
            if let Some((code, kind, detail)) = reason {
                let e = store::NewEvent {
                    po,
                    at,
                    job: Some(domain::JobName::PushToLingxing),
                    run_id: Some("run-seed".into()),
                    actor: None,
                    from_stage: None,
                    to_stage: None,
                    outcome: store::EventOutcome::Skipped,
                    reason_code: Some(domain::ReasonCode::parse(code).unwrap()),
                    reason_kind: Some(*kind),
                    detail: (*detail).into(),
                };
                let next = match kind {
                    domain::ReasonKind::Waiting => at + chrono::TimeDelta::days(7),
                    domain::ReasonKind::Retrying => at + chrono::TimeDelta::seconds(30),
                    _ => at,
                };
                s.record_event(&e, Some(next), Some(&lease.fence()))
                    .await
                    .unwrap();
                counts.skip(*kind);
            }
        }
        s.finish_run(
            "run-seed",
            domain::RunOutcome::Succeeded,
            &counts,
            None,
            now,
        )
        .await
        .unwrap();
        s.release_lease(&lease).await.ok();
    });
}

/// Issue 17 item 6: `order stuck` says how many more it did not list, and a fast cron does not
/// make a threshold of seconds; `order show` gives the true next check, not the safety value.
#[test]
fn order_stuck_says_how_many_more_and_order_show_the_true_next_check() {
    use domain::ReasonKind::*;
    let env = env_with("[console]\nlanguage = \"en\"\n");
    let mut rc = legacy(false);
    // push_to_lingxing every 5 seconds: four periods are 20 s; the threshold stays an hour.
    rc["jobs"]["push_to_lingxing"]["cron"] = json!("*/5 * * * * *");
    let file = write(env.dir.path(), "rc.json", &rc);
    assert!(import(&env, &file, "fast", &[]).status.success());
    let h = chrono::TimeDelta::hours;
    let m = chrono::TimeDelta::minutes;
    seed(
        &env,
        &[
            ("PO-OLD-1", h(5), None),
            ("PO-OLD-2", h(4), None),
            (
                "PO-OLD-3",
                h(3),
                Some(("shop_unmapped", NeedsAttention, "1000099999")),
            ),
            ("PO-OLD-4", h(2), None),
            (
                "PO-NEW-1",
                m(10),
                Some(("lingxing_not_audited", Waiting, "")),
            ),
        ],
    );
    let out = bin(&env, &["order", "stuck", "--limit", "2"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("stage 1 pulled: 4 stuck (threshold 1 h)"), "{t}");
    assert!(
        t.contains("PO-OLD-1") && t.contains("PO-OLD-2"),
        "oldest first: {t}"
    );
    assert!(!t.contains("PO-OLD-3") && !t.contains("PO-NEW-1"), "{t}");
    assert!(t.contains("… and 2 more (--limit N lists more)"), "{t}");

    // A waiting order's next_attempt_at is a week away (a safety net); it is looked at when
    // its far side changes.
    let out = bin(&env, &["order", "show", "PO-NEW-1"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(
            "next check: when DSCO or LingXing reports a change, seen by a push_to_lingxing run"
        ),
        "{t}"
    );
    assert!(!t.contains("STUCK"), "ten minutes is no stuck order: {t}");
    // Needs attention: re-checked at the job's next fire, within its 5 s period.
    let out = bin(&env, &["order", "show", "PO-OLD-3"]);
    let t = text(&out);
    assert!(t.contains("STUCK: longer than 1 h"), "{t}");
    let line = t
        .lines()
        .find(|l| l.contains("next check: "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(line.ends_with("(push_to_lingxing) (attempts 1)"), "{line}");
    let when = line
        .trim()
        .trim_start_matches("next check: ")
        .get(..19)
        .unwrap();
    let when = chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S").unwrap();
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    assert!(
        when > now - m(1) && when <= now + chrono::TimeDelta::seconds(10),
        "{when} vs {now}"
    );
}

/// Issue 17 item 2: `order list` with the console's filters, `status` (the overview), `job runs`
/// with counts by reason code; all read the store only, in the display language.
#[test]
fn order_list_status_and_job_runs() {
    use domain::ReasonKind::*;
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first", &[]).status.success());
    let h = chrono::TimeDelta::hours;
    seed(
        &env,
        &[
            (
                "PO-L-1",
                h(5),
                Some(("shop_unmapped", NeedsAttention, "1000099999")),
            ),
            (
                "PO-L-2",
                h(4),
                Some(("shop_unmapped", NeedsAttention, "1000099999")),
            ),
            (
                "PO-L-3",
                h(3),
                Some(("sku_missing", NeedsAttention, "SKU-9")),
            ),
            ("PO-L-4", h(2), Some(("lingxing_not_audited", Waiting, ""))),
            ("PO-L-5", h(1), None),
        ],
    );
    let out = bin(&env, &["order", "list", "--kind", "needs_attention"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.lines().count(), 3, "{t}");
    assert!(
        t.lines().next().unwrap().starts_with("PO-L-1 "),
        "oldest first: {t}"
    );
    assert!(
        t.contains("需处理 shop_unmapped 1000099999"),
        "zh-CN by default: {t}"
    );
    let out = bin(
        &env,
        &[
            "order",
            "list",
            "--code",
            "shop_unmapped",
            "--newest",
            "--limit",
            "1",
        ],
    );
    let t = text(&out);
    assert!(t.lines().next().unwrap().starts_with("PO-L-2 "), "{t}");
    assert!(t.contains("--limit 2"), "says more match: {t}");
    let out = bin(&env, &["order", "list", "--po", "L-5", "--stage", "1"]);
    assert_eq!(text(&out).lines().count(), 1, "{}", text(&out));
    let out = bin(&env, &["order", "list", "--stage", "2"]);
    assert!(text(&out).contains("没有符合条件的订单"), "{}", text(&out));
    // Bad filters are bad input.
    for bad in [
        &["--stage", "9"][..],
        &["--kind", "stuck"][..],
        &["--created-from", "May 1"][..],
    ] {
        let mut args = vec!["order", "list"];
        args.extend_from_slice(bad);
        let out = bin(&env, &args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
    }

    // status, in English by --store (the default language is zh-CN; a config says en).
    let en = Env {
        config: env.dir.path().join("en.toml"),
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(
        &en.config,
        format!(
            "[store]\nurl = \"sqlite://{}/store.db\"\n[console]\nlanguage = \"en\"\n",
            env.dir.path().display()
        ),
    )
    .unwrap();
    let out = bin(&en, &["status"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("writes to DSCO and LingXing: on"), "{t}");
    assert!(t.contains("1 pulled"), "{t}");
    assert!(
        t.contains("needs_attention 3, held 0, retrying 0, waiting 1"),
        "{t}"
    );
    let causes = t.find("needs attention by cause:").expect("causes");
    let shop = t.find("2  shop_unmapped 1000099999").expect("shop cause");
    let sku = t.find("1  sku_missing SKU-9").expect("sku cause");
    assert!(causes < shop && shop < sku, "most orders first: {t}");
    assert!(
        t.contains("order list --code shop_unmapped --subject 1000099999"),
        "{t}"
    );
    assert!(
        t.contains("push_to_lingxing") && t.contains("succeeded (processed 5"),
        "{t}"
    );
    assert!(t.contains("ack_to_dsco       never ran"), "{t}");
    assert!(!t.contains("需处理"), "one language: {t}");
    let out = bin(&env, &["status"]);
    assert!(
        text(&out).contains("写入 DSCO 和领星：开启")
            || text(&out).contains("写入 DSCO 和领星: 开启"),
        "{}",
        text(&out)
    );

    // job runs: counts and skips by reason code.
    let out = bin(&en, &["job", "runs", "push_to_lingxing"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("push_to_lingxing  cli        succeeded"), "{t}");
    assert!(t.contains("processed 5, advanced 0, skipped 4"), "{t}");
    assert!(
        t.contains("by reason: shop_unmapped 2, lingxing_not_audited 1, sku_missing 1"),
        "{t}"
    );
    let out = bin(&en, &["job", "runs", "ack_to_dsco"]);
    assert!(text(&out).contains("no runs yet"), "{}", text(&out));
    let out = bin(&en, &["job", "runs", "ack_to_dsc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("jobs are: pull_dsco_orders"),
        "{}",
        text(&out)
    );
}

/// Issue 17 item 8: a far side nobody listens on fails the run at once, and the error names its
/// host, port and the cause.
#[test]
fn connection_errors_name_host_port_and_cause() {
    // Ports bound for the whole test and never listening: a free port picked and let go could be
    // taken by another test's simulator meanwhile (it was once: the run met a DSCO that refused
    // its credentials instead of no DSCO at all).
    let (dsco_port, lx_port) = (closed_port(), closed_port());
    let (dp, lp) = (port_of(&dsco_port), port_of(&lx_port));
    let env = env_with("");
    let text_cfg = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(
            "[dsco]\n",
            &format!("[dsco]\nbase_url = \"http://127.0.0.1:{dp}/api/v3\"\n"),
        )
        .replace(
            "[lingxing]\n",
            &format!("[lingxing]\nbase_url = \"http://127.0.0.1:{lp}\"\n"),
        );
    std::fs::write(&env.config, text_cfg).unwrap();
    let file = write(env.dir.path(), "rc.json", &legacy(true));
    assert!(import(&env, &file, "first", &[]).status.success());
    for (job, port) in [("pull_dsco_orders", dp), ("pull_sku_pair", lp)] {
        let started = Instant::now();
        let out = bin(&env, &["job", "run", job]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(
            t.contains(&format!(
                "cannot connect to 127.0.0.1:{port}: connection refused"
            )),
            "{job}: {t}"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{job}: {t}");
    }
}

/// Issue 17 item 9: JSON logs carry numbers as numbers and times in RFC 3339, never Debug text;
/// an idle run logs nothing at info; `run` warns when writes are disabled, when the file's
/// runtime config is ignored, and about settings that have no effect.
#[test]
fn json_logs_are_typed_and_run_warns_about_what_it_ignores() {
    let port = free_port();
    let env = env_with(&format!(
        "[console]\nlisten = \"127.0.0.1:{port}\"\n\n[logging]\nformat = \"json\"\nlevel = \"debug,sqlx=warn,hyper=info,reqwest=info\"\n\n[runtime_config.jobs.cleanup_exports]\nenable = true\ncron = \"* * * * * *\"\nsize = 1\n"
    ));
    let mut rc = legacy(false);
    rc["writes_enabled"] = json!(false);
    rc["jobs"]["cleanup_exports"]["cron"] = json!("* * * * * *");
    for job in [
        "pull_dsco_orders",
        "push_to_lingxing",
        "ack_to_dsco",
        "ship_to_dsco",
        "sync_stock",
    ] {
        rc["jobs"][job]["enable"] = json!(false);
    }
    rc["jobs"]["ack_to_dsco"]["batch_size"] = json!(10);
    let file = write(env.dir.path(), "rc.json", &rc);
    let out = import(&env, &file, "first", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let child = spawn_run(&env);
    let addr = format!("127.0.0.1:{port}");
    let _ = get_when_up(&addr, "/healthz");
    std::thread::sleep(Duration::from_millis(2500));
    let out = terminate(child);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        !err.contains("RunCounts") && !err.contains("Some("),
        "{err}"
    );
    for l in &lines {
        let ts = l["timestamp"].as_str().unwrap_or_else(|| panic!("{l}"));
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }
    let warn = |needle: &str| {
        lines.iter().any(|l| {
            l["level"] == "WARN"
                && l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needle))
        })
    };
    assert!(warn("writes_enabled = false"), "{err}");
    assert!(warn("the file's [runtime_config] is ignored"), "{err}");
    assert!(
        warn("runtime_config.jobs.sync_stock.use_stream has no effect"),
        "{err}"
    );
    assert!(
        warn("runtime_config.jobs.ack_to_dsco.batch_size has no effect"),
        "{err}"
    );
    let ended: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("run ended"))
        })
        .collect();
    assert!(!ended.is_empty(), "cleanup_exports ran: {err}");
    for l in ended {
        let f = &l["fields"];
        assert!(f["processed"].is_u64() && f["secs"].is_f64(), "{l}");
        assert_eq!(f["outcome"], "succeeded", "{l}");
        if f["processed"] == 0 && f["advanced"] == 0 {
            assert_eq!(l["level"], "DEBUG", "an idle run is quiet at info: {l}");
        }
    }
    assert!(
        !lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "run started"),
        "{err}"
    );
}

/// Issue 17 item 13: `backup FILE` copies a SQLite store while `run` serves on it; the copy
/// holds every order and passes SQLite's integrity check; an existing FILE is refused.
#[test]
fn backup_copies_a_running_sqlite_store() {
    let port = free_port();
    let env = env_with(&format!("[console]\nlisten = \"127.0.0.1:{port}\"\n"));
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first", &[]).status.success());
    let h = chrono::TimeDelta::hours;
    seed(&env, &[("PO-B-1", h(2), None), ("PO-B-2", h(1), None)]);
    let child = spawn_run(&env);
    let _ = get_when_up(&format!("127.0.0.1:{port}"), "/healthz");
    let copy = env.dir.path().join("backup.db");
    let out = bin(&env, &["backup", copy.to_str().unwrap()]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        copy.exists() && !env.dir.path().join("backup.db.partial").exists(),
        "{t}"
    );
    let out = bin(&env, &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("exists"), "{}", text(&out));
    let _ = terminate(child);

    let url = format!("sqlite://{}", copy.display());
    let out = bin(&env, &["order", "list", "--store", &url]);
    let t = text(&out);
    assert!(t.contains("PO-B-1") && t.contains("PO-B-2"), "{t}");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = store::connect(&url).await.unwrap();
        let v = s
            .runtime_config()
            .await
            .unwrap()
            .expect("the runtime config is in the copy");
        assert_eq!(v.version, 1);
    });
    let check = Command::new("sqlite3")
        .arg(&copy)
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(o) = check {
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
    }
}

/// Issue 17 item 13: `--version` names the git commit the binary was built from.
#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--version")
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "{t}");
    let commit = t
        .strip_prefix(concat!(
            "dsco-lingxing ",
            env!("CARGO_PKG_VERSION"),
            " (commit "
        ))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{t}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        Some(h) => assert!(commit.starts_with(&h), "{commit} vs HEAD {h}"),
        None => assert_eq!(commit, "unknown"),
    }
}

/// Issue 17 item 13: the sample predecessor row in examples/ checks, imports as it is, and
/// exports back to the same runtime config.
#[test]
fn the_example_predecessor_row_imports() {
    let env = env_with("");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/runtime_config.json");
    let out = bin(&env, &["config", "check", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = import(&env, &file, "from the predecessor", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let row: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(export_json(&env), row["config"]);
}

/// Issue 17 item 12: the LingXing simulator refuses unknown seed keys (exit 2, the key named)
/// and takes its secret from a file; a client with that secret is served, another refused.
#[test]
fn sim_lingxing_refuses_unknown_seed_keys_and_reads_its_secret_from_a_file() {
    let env = env_with("");
    let seed = env.dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"audit_delay": {"min_secs": 1, "max_secs": 2}, "audit_delya": 1}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args(["sim", "lingxing", "--listen", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("unknown field `audit_delya`"),
        "{}",
        text(&out)
    );

    let port = free_port();
    let secret = env.dir.path().join("app_secret");
    std::fs::write(&secret, "file-secret-1\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args(["sim", "lingxing", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--app-secret-file")
        .arg(&secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the simulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let file = write(env.dir.path(), "rc.json", &legacy(true));
    assert!(import(&env, &file, "first", &[]).status.success());
    let config = std::fs::read_to_string(&env.config).unwrap();
    for (app_secret, ok) in [("file-secret-1", true), ("lingxing-secret-value", false)] {
        std::fs::write(
            &env.config,
            config
                .replace(
                    "[lingxing]\n",
                    &format!("[lingxing]\nbase_url = \"http://127.0.0.1:{port}\"\n"),
                )
                .replace("lingxing-secret-value", app_secret),
        )
        .unwrap();
        let out = bin(&env, &["job", "run", "pull_sku_pair"]);
        assert_eq!(out.status.success(), ok, "{app_secret}: {}", text(&out));
    }
    let _ = terminate(child);
}

/// `console hash-password` reads the password from standard input when it is not a terminal
/// and prints only its argon2id hash; a short password is refused.
#[test]
fn console_hash_password_prints_an_argon2id_hash_of_stdin() {
    let hash = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
            .args(["console", "hash-password"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = hash("correct horse battery\n");
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8(out.stdout.clone()).unwrap();
    let phc = printed.trim();
    assert!(phc.starts_with("$argon2id$v=19$"), "{printed}");
    assert_eq!(printed.lines().count(), 1);
    assert!(!text(&out).contains("correct horse"));
    console::check_hash(phc).unwrap();
    // A fresh salt every time.
    let again = hash("correct horse battery\n");
    assert_ne!(String::from_utf8(again.stdout).unwrap().trim(), phc);
    // The hash goes into [[console.users]] as it is printed.
    let env = env_with(&format!(
        "[console]\n[[console.users]]\nname = \"ops\"\nrole = \"admin\"\npassword_hash = \"{phc}\"\n"
    ));
    let out = bin(&env, &["config", "export"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(phc), "{}", text(&out));
    assert!(text(&out).contains("name = \"ops\""), "{}", text(&out));

    let short = hash("short\n");
    assert_eq!(short.status.code(), Some(2), "{}", text(&short));
    assert!(short.stdout.is_empty());
}

/// `writes off|on --reason`: a new runtime-config version with `writes_enabled` changed and an
/// audit entry naming the actor; the same switch again writes nothing; no reason, no change.
#[test]
fn writes_off_and_on_save_a_version_and_audit_the_actor() {
    let env = env_with("");
    let out = bin(&env, &["writes", "off", "--reason", "carrier outage"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("writes off: saved runtime config v1"),
        "{}",
        text(&out)
    );
    assert_eq!(export_json(&env)["writes_enabled"], json!(false));
    let off = audit(&env);
    let entry = off.iter().find(|r| r.entry.action == "writes.off").unwrap();
    assert_eq!(entry.entry.actor, "cli:tester");
    assert_eq!(entry.entry.reason, "carrier outage");
    assert_eq!(entry.entry.detail["to_version"], json!(1));

    let out = bin(&env, &["writes", "off", "--reason", "again"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already off"), "{}", text(&out));
    let out = bin(&env, &["writes", "on", "--reason", "  "]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--reason"), "{}", text(&out));
    assert_eq!(export_json(&env)["writes_enabled"], json!(false));
    assert_eq!(audit(&env).len(), off.len());

    let out = bin(
        &env,
        &[
            "writes",
            "on",
            "--reason",
            "carrier back",
            "--actor",
            "li.lei",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(export_json(&env)["writes_enabled"], json!(true));
    let on = audit(&env);
    let entry = on.iter().find(|r| r.entry.action == "writes.on").unwrap();
    assert_eq!(entry.entry.actor, "li.lei");
    assert_eq!(entry.entry.detail["from_version"], json!(1));
    assert_eq!(entry.entry.detail["to_version"], json!(2));
}

/// A raw `POST path` of a form with `cookie`; the raw response.
fn post_form(addr: &str, path: &str, cookie: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The service's logs name logins (failed and not) but never the password or its hash.
#[test]
fn logs_never_show_a_password_or_its_hash() {
    let password = "correct horse battery";
    let hash = console::hash_password(password).unwrap();
    let port = free_port();
    let env = env_with(&format!(
        "[console]\nlisten = \"0.0.0.0:{port}\"\n[[console.users]]\nname = \"ops\"\nrole = \"admin\"\npassword_hash = \"{hash}\"\n[logging]\nlevel = \"debug\"\n"
    ));
    let child = spawn_run(&env);
    let addr = format!("127.0.0.1:{port}");
    let form = get_when_up(&addr, "/login");
    assert!(form.starts_with("HTTP/1.1 200"), "{form}");
    let csrf = form
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: dl_csrf="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let cookie = format!("dl_csrf={csrf}");
    let wrong = post_form(
        &addr,
        "/login",
        &cookie,
        &format!("csrf={csrf}&name=ops&password=wrong-guess-123"),
    );
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let right = post_form(
        &addr,
        "/login",
        &cookie,
        &format!("csrf={csrf}&name=ops&password=correct+horse+battery&next=%2Faudit"),
    );
    assert!(right.starts_with("HTTP/1.1 303"), "{right}");
    assert!(right.contains("location: /audit"), "{right}");
    assert!(right.contains("set-cookie: dl_session="), "{right}");
    let out = terminate(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("console login failed"), "{err}");
    assert!(err.contains("console login"), "{err}");
    let tail = hash.rsplit('$').next().unwrap();
    for secret in [
        password,
        "wrong-guess-123",
        hash.as_str(),
        tail,
        "$argon2id$",
    ] {
        assert!(!err.contains(secret), "{secret} in the logs:\n{err}");
    }
}

/// Issue 17 item 7: `job run JOB --po PO` refuses (exit 2) a PO the store does not hold, or one
/// at a stage the job does not decide (naming its stage and the job that does), instead of
/// running and reporting "processed 0".
#[test]
fn job_run_for_a_po_refuses_an_unknown_po_or_the_wrong_stage() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let url = format!("sqlite://{}/store.db", env.dir.path().display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (s, lease) = pull_lease(&url).await;
        let now = chrono::Utc::now();
        let pulled = store::PulledOrder {
            po: domain::PoNumber::parse("PO-RUN-1").unwrap(),
            dsco_order_id: None,
            retailer_id: Some("1000012345".into()),
            dsco_status: Some("created".into()),
            dsco_lifecycle: None,
            dsco_created_at: Some(now),
            dsco_updated_at: Some(now),
            warehouse_code: Some("US-CA-01".into()),
            service_level: None,
            skus: "SKU-1(1)".into(),
            payload: json!({"poNumber": "PO-RUN-1"}).into(),
        };
        s.upsert_pulled_many(
            &[(pulled, domain::Stage::Pulled)],
            Some("run-1"),
            now,
            &lease.fence(),
        )
        .await
        .unwrap();
        s.release_lease(&lease).await.unwrap();
    });
    let out = bin(&env, &["job", "run", "push_to_lingxing", "--po", "PO-404"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("PO PO-404 is not in the store"), "{t}");
    assert!(!t.contains("processed"), "no run: {t}");

    let out = bin(
        &env,
        &["job", "run", "ack_to_dsco", "--po", "PO-RUN-1", "--dry-run"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("PO PO-RUN-1 is at stage 1 (pulled), which ack_to_dsco does not handle; push_to_lingxing handles it"),
        "{t}"
    );
    assert!(t.contains("订单 PO-RUN-1 处于阶段 1"), "{t}");

    let out = bin(&env, &["job", "run", "sync_stock", "--po", "PO-RUN-1"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("sync_stock does not take a PO"), "{t}");
    // Nothing ran.
    let runs = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = store::connect(&url).await.unwrap();
        s.list_runs(None, 10).await.unwrap()
    });
    assert!(runs.is_empty(), "{runs:?}");
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

/// `job run` prints its summary in the display language (zh-CN by default).
#[test]
fn job_run_summary_is_in_the_display_language() {
    let env = env_with("");
    let file = write(env.dir.path(), "rc.json", &legacy(false));
    assert!(import(&env, &file, "first import", &[]).status.success());
    let out = bin(&env, &["job", "run", "push_to_lingxing", "--dry-run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("（试运行：未写入任何数据）"), "{t}");
    assert!(
        t.contains("处理 0，推进 0，跳过 0（等待 0，需处理 0，重试中 0，暂停 0），失败 0"),
        "{t}"
    );
    assert!(!t.contains("processed"), "{t}");
}
