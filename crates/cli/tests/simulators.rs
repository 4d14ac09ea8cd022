//! The three processes of `examples/simulators.toml`: `sim dsco`, `sim lingxing` and `run`,
//! talking HTTP on loopback as they would to DSCO and LingXing, until orders reach stage 5.
//!
//! Real processes run on the real clock, so this test waits in real time (bounded by a deadline,
//! never asserting a duration). The simulators keep their default credentials and world; seed
//! files only shorten their pace (DSCO's async delay, LingXing's audit and ship delays) and the
//! ports come from env overrides so parallel runs do not collide.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::commands::free_port;

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"));
    c.env_remove("DSCO_LINGXING_CONFIG");
    c
}

fn wait_listening(port: u16, deadline: Instant) {
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/simulators.toml")
}

#[test]
fn example_config_drives_orders_to_stage_5_over_http() {
    let check = bin()
        .args(["config", "check"])
        .arg(example())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let (dsco_port, lx_port, console_port) = (free_port(), free_port(), free_port());
    let dsco_seed = dir.path().join("dsco.json");
    std::fs::write(&dsco_seed, r#"{"async_delay_secs": 1}"#).unwrap();
    let lx_seed = dir.path().join("lingxing.json");
    std::fs::write(
        &lx_seed,
        r#"{"audit_delay": {"min_secs": 1, "max_secs": 2}, "ship_delay": {"min_secs": 1, "max_secs": 2},
            "split_rate": 0.0, "partial_shipment_rate": 0.0, "interception_rate": 0.0}"#,
    )
    .unwrap();
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let mut procs = Procs(Vec::new());
    procs.0.push(
        bin()
            .args(["sim", "dsco", "--orders", "3", "--listen"])
            .arg(format!("127.0.0.1:{dsco_port}"))
            .arg("--seed")
            .arg(&dsco_seed)
            .stdout(log("dsco.log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    procs.0.push(
        bin()
            .args(["sim", "lingxing", "--listen"])
            .arg(format!("127.0.0.1:{lx_port}"))
            .arg("--seed")
            .arg(&lx_seed)
            .stdout(log("lingxing.log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    wait_listening(dsco_port, start + Duration::from_secs(30));
    wait_listening(lx_port, start + Duration::from_secs(30));

    let store_url = format!("sqlite://{}/store.db", dir.path().display());
    procs.0.push(
        bin()
            .arg("--config")
            .arg(example())
            .arg("run")
            .env(
                "DSCO_LINGXING__DSCO__BASE_URL",
                format!("http://127.0.0.1:{dsco_port}/api/v3"),
            )
            .env(
                "DSCO_LINGXING__LINGXING__BASE_URL",
                format!("http://127.0.0.1:{lx_port}"),
            )
            .env("DSCO_LINGXING__STORE__URL", &store_url)
            .env(
                "DSCO_LINGXING__CONSOLE__LISTEN",
                format!("127.0.0.1:{console_port}"),
            )
            .env(
                "DSCO_LINGXING__EXPORTS__DIR",
                dir.path().join("exports").display().to_string(),
            )
            .env("DSCO_LINGXING__LOGGING__LEVEL", "info")
            .stdout(log("run.log"))
            .stderr(log("run.err"))
            .spawn()
            .unwrap(),
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut exited = None;
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut last = Default::default();
    let reached = rt.block_on(async {
        // The store file appears once `run` has migrated it.
        let store = loop {
            if let Ok(s) = store::connect(&store_url).await
                && s.runtime_config().await.ok().flatten().is_some()
            {
                break s;
            }
            if Instant::now() > deadline {
                return false;
            }
            if let Ok(Some(status)) = procs.0[2].try_wait() {
                exited = Some(status);
                return false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        loop {
            last = store.count_by_stage().await.unwrap();
            if last.get(&domain::Stage::Done).copied().unwrap_or(0) == 3 {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            if let Ok(Some(status)) = procs.0[2].try_wait() {
                exited = Some(status);
                return false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    // Issue 17 item 11: the calls to both far sides, per endpoint, with latency histograms.
    let metrics =
        crate::commands::get(&format!("127.0.0.1:{console_port}"), "/metrics").unwrap_or_default();
    let run_log = std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("run.err")).unwrap_or_default();
    assert!(
        reached,
        "three orders did not all reach stage 5: {last:?} (run exited: {exited:?})\n{}",
        run_log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for want in [
        "# HELP dl_api_calls_total ",
        "# HELP dl_api_request_seconds ",
        "dl_api_calls_total{api=\"dsco\",endpoint=\"/order/page\"}",
        "dl_api_calls_total{api=\"lingxing\",endpoint=\"/pb/mp/order/v2/create\"}",
        "dl_api_request_seconds_bucket{api=\"lingxing\",endpoint=\"/pb/mp/order/v2/create\",le=\"1\"}",
    ] {
        assert!(metrics.contains(want), "{want} missing: {metrics}");
    }
}

/// The README's first command: both simulators in-process, every storyline, a closing summary
/// once every order is done, cancelled, needs attention or is held; exit code 0.
#[test]
fn demo_settles_every_order_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("demo")
        .arg("--dir")
        .arg(dir.path().join("demo"))
        .args(["--timeout-secs", "240", "--exit-when-done"])
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{text}");
    assert!(text.contains("console: http://127.0.0.1:"), "{text}");
    assert!(
        text.contains("every order is done, cancelled, needs attention or is held"),
        "{text}"
    );
    for storyline in [
        "unmapped shop",
        "missing price",
        "cancelled after push",
        "already shipped at first pull",
        "DSCO async failure",
    ] {
        assert!(
            text.contains(storyline),
            "summary lacks {storyline}:\n{text}"
        );
    }
    assert!(
        dir.path().join("demo").join("demo.db").exists(),
        "the store stays for `order show`"
    );
    // Issue 17 item 3: labelled stages in the progress, POs worth a look with the command that
    // shows each (and it works), what the multi_ban holds are and how to lift them.
    assert!(
        text.contains(" 1 pulled ") && text.contains(" 5 done "),
        "{text}"
    );
    assert!(text.contains("worth a look"), "{text}");
    assert!(
        text.contains("  shop_unmapped: 5 orders, e.g. 1000099999"),
        "{text}"
    );
    assert!(
        text.contains("held by multi_ban on purpose")
            && text.contains("config set jobs.invoice_to_dsco.multi_ban false"),
        "{text}"
    );
    let show = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("dsco-lingxing order show "))
        .unwrap_or_else(|| panic!("no order show command:\n{text}"));
    let out = bin()
        .arg("order")
        .arg("show")
        .args(show.split(' '))
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("阶段"),
        "{show}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_zero_latency_takes_every_order_to_stage_5() {
    let out = bin()
        .args(["bench", "day", "--zero-latency-only", "--orders", "40"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let text = stdout.clone() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{text}");
    assert!(
        stdout.contains("40 orders through all stages") && stdout.contains("5: 40, 6: 0"),
        "{stdout}"
    );
    // Three runs by default, the figures of the one with least CPU; the engine threads' counts
    // where /proc has them.
    assert!(
        stdout.contains("zero latency, run 3 of 3") && !stdout.contains("run 4 of"),
        "{stdout}"
    );
    if cfg!(target_os = "linux") {
        assert!(
            stdout.contains("engine threads: ") && stdout.contains("minor page faults"),
            "{stdout}"
        );
    }
    for job in [
        "pull_dsco_orders",
        "push_to_lingxing",
        "ack_to_dsco",
        "ship_to_dsco",
        "invoice_to_dsco",
    ] {
        assert!(stdout.contains(job), "no time for {job}:\n{stdout}");
    }
    // Issue 17 item 13: progress goes to a terminal with `\r`, to a pipe as whole lines.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !text.contains('\r'),
        "carriage returns in piped output:\n{stderr}"
    );
}

/// A raw HTTP POST of JSON on loopback; the answer's body.
fn post_json(port: u16, path: &str, body: &str) -> String {
    http(port, "POST", path, body)
}

fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(out)
}

/// Issue 17 item 7: `job run JOB --po PO --dry-run` against the simulators prints the order's
/// decision and the exact request body; nothing reaches LingXing.
#[test]
fn job_run_for_a_po_dry_run_prints_the_request_body() {
    let dir = tempfile::tempdir().unwrap();
    let (dsco_port, lx_port) = (free_port(), free_port());
    let mut procs = Procs(Vec::new());
    procs.0.push(
        bin()
            .args(["sim", "dsco", "--orders", "0", "--listen"])
            .arg(format!("127.0.0.1:{dsco_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    procs.0.push(
        bin()
            .args(["sim", "lingxing", "--listen"])
            .arg(format!("127.0.0.1:{lx_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    wait_listening(dsco_port, start + Duration::from_secs(30));
    wait_listening(lx_port, start + Duration::from_secs(30));
    let store_url = format!("sqlite://{}/store.db", dir.path().display());
    let cli = |args: &[&str]| {
        let out = bin()
            .arg("--config")
            .arg(example())
            .args(args)
            .env(
                "DSCO_LINGXING__DSCO__BASE_URL",
                format!("http://127.0.0.1:{dsco_port}/api/v3"),
            )
            .env(
                "DSCO_LINGXING__LINGXING__BASE_URL",
                format!("http://127.0.0.1:{lx_port}"),
            )
            .env("DSCO_LINGXING__STORE__URL", &store_url)
            .env(
                "DSCO_LINGXING__EXPORTS__DIR",
                dir.path().join("exports").display().to_string(),
            )
            .env("DSCO_LINGXING__LOGGING__LEVEL", "warn")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // A new deployment: `migrate` creates the store, then the runtime config goes in.
    let (code, t) = cli(&["migrate"]);
    assert_eq!(code, Some(0), "{t}");
    let (code, t) = cli(&[
        "config",
        "import",
        example().to_str().unwrap(),
        "--reason",
        "test",
    ]);
    assert_eq!(code, Some(0), "{t}");
    let answer = post_json(
        dsco_port,
        "/__admin/orders/generate",
        r#"{"count": 1, "seed": 9}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let po = v["poNumbers"][0].as_str().unwrap().to_owned();

    let (code, t) = cli(&["job", "run", "pull_dsco_orders", "--po", &po]);
    assert_eq!(code, Some(0), "{t}");
    let (code, t) = cli(&["job", "run", "push_to_lingxing", "--po", &po, "--dry-run"]);
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(dry run: nothing written)"), "{t}");
    assert!(
        t.contains(&format!("{po}: would write: request #1 (not sent)")),
        "{t}"
    );
    assert!(
        t.contains("request #1: LingXing POST /pb/mp/order/v2/create (not sent; 1 order(s))"),
        "{t}"
    );
    assert!(
        t.contains(&format!("\"platform_order_no\": \"{po}\"")),
        "the body, pretty-printed: {t}"
    );
    assert!(!t.contains("access_token") && !t.contains("sign="), "{t}");
    // Nothing was created in LingXing, and the order did not move.
    let created = http(lx_port, "GET", &format!("/__admin/orders?po={po}"), "");
    assert_eq!(created.trim(), "[]", "{created}");
    let (code, t) = cli(&["job", "run", "ack_to_dsco", "--po", &po]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("is at stage 1 (pulled)"), "{t}");
}
