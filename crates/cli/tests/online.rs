//! Issue 19 item 3: `config check --online` against the two simulator processes over HTTP: the
//! example's mappings all exist; a bad shop id, wid, carrier and SKU are exactly four lines
//! naming their keys; refused credentials are one line per side, without the secret.

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

/// Both simulators with their default credentials and world, on free ports.
fn simulators() -> (Procs, u16, u16) {
    let (dsco_port, lx_port) = (free_port(), free_port());
    let mut procs = Procs(Vec::new());
    for (side, port) in [("dsco", dsco_port), ("lingxing", lx_port)] {
        let mut c = bin();
        c.args(["sim", side]);
        if side == "dsco" {
            c.args(["--orders", "0"]);
        }
        procs.0.push(
            c.arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let start = Instant::now();
    wait_listening(dsco_port, start + Duration::from_secs(30));
    wait_listening(lx_port, start + Duration::from_secs(30));
    (procs, dsco_port, lx_port)
}

/// The problem lines of a check's output (notes are indented, the header and summary are not
/// keyed).
fn problems(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            l.starts_with("mapping.")
                || l.starts_with("credentials.")
                || l.starts_with("clock.")
                || l.starts_with("dsco:")
                || l.starts_with("lingxing:")
        })
        .collect()
}

#[test]
fn config_check_online_against_the_simulators() {
    let dir = tempfile::tempdir().unwrap();
    let (_procs, dsco_port, lx_port) = simulators();
    let store_url = format!("sqlite://{}/store.db", dir.path().display());
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = bin();
        c.arg("--config")
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
            .env("DSCO_LINGXING__LOGGING__LEVEL", "warn");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };

    // 1. The example file's own mappings (no store yet: the token stays in memory).
    let (code, t) = cli(&["config", "check", "--online"], &[]);
    assert_eq!(code, Some(0), "{t}");
    assert!(problems(&t).is_empty(), "{t}");
    assert!(
        t.contains("online check: 3 shop, 3 warehouse, 9 shipment, 0 carrier mapping(s), 10 of 10 SKU(s) checked; no problems"),
        "{t}"
    );
    assert!(
        t.contains(
            "clock.dsco: DSCO accepted the credentials; this machine's clock is in step with DSCO's"
        ),
        "{t}"
    );
    assert!(
        t.contains("clock.lingxing: LingXing accepted the credentials; this machine's clock is in step with LingXing's"),
        "{t}"
    );

    // 2. A runtime config with one bad value of each kind (and good ones beside them).
    let bad = serde_json::json!({
        "domain": "dsco_lingxing",
        "jobs": {},
        "mapping": {
            "shop": {"1000012345": "110283406273996288", "1000099999": "999"},
            "warehouse": {"US-CA-01": "1300", "WH-1": "999"},
            "shipment": {"US-CA-01-UPCG": "101", "US-NJ-01-FECG": "202"},
            "carrier": {"UPCG": "UPS", "FECG": "fedex", "ZZZZ": "Pony Express"},
            "sku": {"SKU-1001": "LX-1001", "SKU-1002": "LX-1002", "SKU-404": "LX-404"}
        }
    });
    let file = dir.path().join("bad.json");
    std::fs::write(&file, serde_json::to_string_pretty(&bad).unwrap()).unwrap();
    let (code, t) = cli(
        &["config", "check", file.to_str().unwrap(), "--online"],
        &[],
    );
    assert_eq!(code, Some(1), "{t}");
    assert_eq!(
        problems(&t),
        [
            "mapping.shop.\"1000099999\": store_id 999 not in LingXing's store list for platform_code 10009",
            "mapping.warehouse.\"WH-1\": wid 999 not in LingXing's warehouse list",
            "mapping.carrier.\"ZZZZ\": carrier \"Pony Express\" is not a logistics provider or type LingXing knows",
            "mapping.sku.\"SKU-404\": SKU LX-404 not in LingXing's product list",
        ],
        "{t}"
    );
    assert!(t.contains("; 4 problem(s)"), "{t}");

    // 3. The store's running config (a deployment file without one), then wrong credentials.
    let text = std::fs::read_to_string(example()).unwrap();
    let deployment = text.split("[runtime_config]").next().unwrap();
    let bare = dir.path().join("deployment.toml");
    std::fs::write(&bare, deployment).unwrap();
    let bare = bare.to_str().unwrap();
    let (code, t) = cli(&["migrate"], &[]);
    assert_eq!(code, Some(0), "{t}");
    let (code, t) = cli(
        &[
            "config",
            "import",
            example().to_str().unwrap(),
            "--reason",
            "test",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{t}");
    let (code, t) = cli(&["config", "check", bare, "--online"], &[]);
    assert_eq!(code, Some(0), "{t}");
    assert!(
        t.contains("online check of the mappings of the store's running config (v1)"),
        "{t}"
    );
    assert!(t.contains("10 of 10 SKU(s) checked; no problems"), "{t}");

    let (dsco_secret, lx_secret) = ("dsco-Wrong-Secret-7731", "bHhXcm9uZ1NlY3JldDk5MQ==");
    let (code, t) = cli(
        &["config", "check", bare, "--online"],
        &[
            ("DSCO_LINGXING__DSCO__CLIENT_SECRET", dsco_secret),
            ("DSCO_LINGXING__LINGXING__APP_SECRET", lx_secret),
        ],
    );
    assert_eq!(code, Some(1), "{t}");
    let lines = problems(&t);
    assert_eq!(lines.len(), 2, "{t}");
    assert!(
        lines[0].starts_with("credentials.dsco: DSCO refused the configured credentials"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("credentials.lingxing: LingXing refused the configured credentials"),
        "{t}"
    );
    assert!(!t.contains(dsco_secret) && !t.contains(lx_secret), "{t}");
    assert!(!t.contains("U2ltdWxhdG9yU2VjcmV0MQ=="), "{t}");
}
