//! `bench`: the smallest configurations run, their tables are written as JSON, the counts agree
//! (calls counted by the simulators equal the clients' own count) and two tables compare.
//! Nothing here asserts on time.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn figure(report: &Value, name: &str) -> f64 {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no figure {name:?} in {report:#}"))["value"]
        .as_f64()
        .unwrap()
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_day_smallest_counts_agree_and_compare_shows_both() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let mut args = vec![
        "day".to_string(),
        "--orders".into(),
        "10".into(),
        "--arrival-hours".into(),
        "1".into(),
        "--hours".into(),
        "40".into(),
        "--json".into(),
        a.to_str().unwrap().into(),
    ];
    // With a PostgreSQL server (as in CI) the same day runs on it too.
    let pg = store::testing::postgres_base_url();
    if let Some(url) = &pg {
        args.extend(["--postgres".to_string(), url.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bench(&args);
    assert!(
        out.contains("| figure | value | unit | target | met |"),
        "{out}"
    );
    let r = read(&a);
    assert!(r["machine"]["cores"].as_u64().unwrap() >= 1, "{r:#}");
    assert!(!r["machine"]["cpu_model"].as_str().unwrap().is_empty());
    for api in ["DSCO", "LingXing"] {
        let sim = figure(&r, &format!("{api} calls counted by the simulator"));
        let client = figure(&r, &format!("{api} calls counted by the client"));
        assert!(sim > 0.0, "{api}: no calls");
        assert_eq!(sim, client, "{api}: simulator and client disagree");
    }
    for w in ["ACKs", "shipments", "invoices"] {
        let name = format!("{w} submitted in the first run after their precondition");
        assert_eq!(figure(&r, &name), 100.0, "{name}");
    }
    // The ship job sent in exactly the runs that had a package to send: no fewer is possible
    // with every shipment in the first run after it left, and no more were used.
    let due = figure(
        &r,
        "runs with a package to send, each the first after it left LingXing",
    );
    assert!(due > 0.0, "{out}");
    assert_eq!(figure(&r, "ship runs that sent a shipment"), due, "{out}");
    // Every order went through at zero latency, and the engine's CPU was measured.
    assert!(figure(&r, "zero latency: engine CPU") > 0.0);
    // The store's statements were counted: ten orders cost more than none.
    assert!(
        figure(&r, "SQL statements per order (marginal)") > 0.0,
        "{out}"
    );
    if pg.is_some() {
        let calls = r["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "PostgreSQL: far-side calls over the day")
            .unwrap_or_else(|| panic!("no PostgreSQL calls figure: {out}"));
        assert_eq!(
            calls["met"], true,
            "PostgreSQL's day made other calls: {out}"
        );
        assert!(figure(&r, "PostgreSQL: SQL statements per order (marginal)") > 0.0);
        assert!(figure(&r, "PostgreSQL: zero latency: engine CPU") > 0.0);
    }

    let table = bench(&["compare", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert!(
        table.contains("| DSCO calls counted by the client | calls |"),
        "{table}"
    );
    assert!(table.contains("+0 (+0.0 %)"), "{table}");
}

#[test]
fn bench_compare_names_a_file_that_is_not_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .args(["bench", "compare"])
        .arg(&bad)
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json"), "{err}");
}

#[test]
fn bench_backlog_smallest_drains_and_counts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.json");
    let out = bench(&[
        "backlog",
        "--orders",
        "5",
        "--dsco-latency-ms",
        "1-5",
        "--lingxing-latency-ms",
        "1-5",
        "--max-minutes",
        "5",
        "--downtime-seconds",
        "1",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(out.contains("Go service, as a model"), "{out}");
    let r = read(&path);
    for api in ["DSCO", "LingXing"] {
        let sim = figure(&r, &format!("{api} calls counted by the simulator"));
        let client = figure(&r, &format!("{api} calls counted by the client"));
        assert!(sim > 0.0, "{api}: no calls");
        assert_eq!(sim, client, "{api}: simulator and client disagree");
    }
    assert!(figure(&r, "wall time ÷ the limit") > 0.0);
    // The drain took CPU, and its floor is that CPU shared over the cores.
    let cpu = figure(&r, "CPU during the drain (engine and simulators)");
    let cores = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(cpu > 0.0, "{out}");
    assert!((figure(&r, "the CPU floor: that CPU ÷ the cores") - cpu / cores).abs() < 0.01);
    assert_eq!(figure(&r, "Go service (model): LingXing calls"), 30.0);
    // The backlog waits at every stage at once: one of the five orders at each of stages 1–4,
    // one never pulled.
    for stage in 1..=4 {
        assert_eq!(
            figure(&r, &format!("backlog at the start: stage {stage}")),
            1.0,
            "{out}"
        );
    }
    assert_eq!(
        figure(&r, "backlog at the start: not pulled yet"),
        1.0,
        "{out}"
    );
    assert_eq!(
        figure(&r, "backlog at the start: pulled or further"),
        4.0,
        "{out}"
    );
}

#[test]
fn bench_scale_smallest_runs_with_simulators_in_their_own_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let out = bench(&[
        "scale",
        "--orders",
        "30",
        "--base",
        "10",
        "--arrival-hours",
        "1",
        "--hours",
        "40",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(out.contains("console on the 30-order store"), "{out}");
    let r = read(&path);
    for n in [10, 30] {
        for api in ["DSCO", "LingXing"] {
            let sim = figure(
                &r,
                &format!("{n} orders: {api} calls counted by the simulator"),
            );
            let client = figure(
                &r,
                &format!("{n} orders: {api} calls counted by the client"),
            );
            assert!(sim > 0.0, "{n} orders, {api}: no calls");
            assert_eq!(
                sim, client,
                "{n} orders, {api}: simulator and client disagree"
            );
        }
        // The simulators answered from another process: LingXing audited and shipped there.
        assert!(
            figure(&r, &format!("{n} orders: orders done at the end")) > 0.0,
            "{out}"
        );
        assert!(
            figure(
                &r,
                &format!("{n} orders: engine peak RSS (its own process)")
            ) > 0.0
        );
        assert!(
            figure(
                &r,
                &format!("{n} orders: simulators' peak RSS (their process)")
            ) > 0.0
        );
    }
    assert!(figure(&r, "engine CPU growth, 10 → 30 orders") > 0.0);
    for page in ["overview", "order list filtered by SKU", "order page"] {
        assert!(
            figure(&r, &format!("30 orders: console {page}")) > 0.0,
            "{page}"
        );
    }
}
