//! The reduced fault matrix (`bench faults` runs the full one): the mixed burst of issue 13, a
//! kill inside every job of the fault window, two processes on one store and a LingXing create
//! that applied but timed out, each on SQLite and, when `TEST_DATABASE_URL` is set, PostgreSQL.
//! Every row must show no duplicate, nothing lost, convergence after the faults stop, and every
//! run within its timeout.

use std::time::Duration;

use cli::bench_faults::{Backend, Options, Row, reduced_matrix, run_scenario, table};

fn options() -> Options {
    Options {
        orders: 8,
        new_orders: 8,
        // A hang costs this much real time; loopback answers take milliseconds.
        request_timeout: Duration::from_millis(800),
        bound_minutes: 120,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reduced_fault_matrix_converges_without_duplicates_or_losses() {
    let opts = options();
    let mut tasks = Vec::new();
    for backend in Backend::from_env() {
        for sc in reduced_matrix() {
            let (b, o) = (backend.clone(), opts.clone());
            tasks.push(tokio::spawn(async move { run_scenario(&sc, &b, &o).await }));
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for t in tasks {
        rows.push(t.await.unwrap().unwrap());
    }
    let shown = table(&rows);
    println!("{shown}");
    for r in &rows {
        assert!(
            r.ok(),
            "{} ({}): duplicates {:?}, lost {:?}, converged {}, {} runs stopped by their timeout, {} overran it\n{shown}",
            r.scenario,
            r.store,
            r.duplicate_detail,
            r.lost_detail,
            r.converged,
            r.timed_out,
            r.overran
        );
        assert_eq!(r.orders, 16, "{}", r.scenario);
        assert!(r.runs > 0, "{}", r.scenario);
    }
    let kill = rows
        .iter()
        .find(|r| r.scenario.starts_with("kill"))
        .unwrap();
    assert!(kill.kills > 0, "no kill landed inside a run");
}
